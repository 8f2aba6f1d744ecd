//! Read-only queries (`thaw query`) and their output formats, and the `thaw ls` table.

use super::writer::SweepOverview;
use super::TrialStatus;
use anyhow::{bail, Context, Result};
use rusqlite::types::Value;
use rusqlite::{Batch, Connection, ErrorCode, OpenFlags};
use std::path::Path;

/// A query's result: column names and rows of SQLite values.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// How `thaw query` prints a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns under a header rule.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// An array of objects keyed by column name.
    Json,
}

/// Opens `db_path` read-only (`SQLITE_OPEN_READ_ONLY` and `PRAGMA query_only`): the one
/// read-only opener of a thaw database (`thaw query`, `thaw ls`, the monitor, the report).
///
/// Says what to do on a missing file, a directory and a non-SQLite file, and reads a WAL
/// database in a folder this user cannot write.
pub fn open_readonly(db_path: &Path) -> Result<Connection> {
    let p = db_path.display();
    if !db_path.exists() {
        bail!("database {p} does not exist; run `thaw run <grid.yaml>` first (or pass the right --db)");
    }
    if db_path.is_dir() {
        bail!("{p} is a directory, not a database file; choose another --db");
    }
    match open_readonly_with(db_path, false) {
        // A WAL database in a folder this user cannot write (read-only disk, another user's
        // folder): SQLite cannot create the shared-memory file even to read. With no WAL
        // content pending, the file alone is the whole database and can be read as immutable.
        Err(e) if is_readonly_directory(&e) && !has_wal_content(db_path) => {
            open_readonly_with(db_path, true)
        }
        other => other,
    }
}

fn is_readonly_directory(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(f, _))
                if f.extended_code == rusqlite::ffi::SQLITE_READONLY_DIRECTORY
                    || f.extended_code == rusqlite::ffi::SQLITE_CANTOPEN
        )
    })
}

fn has_wal_content(db_path: &Path) -> bool {
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0)
}

fn open_readonly_with(db_path: &Path, immutable: bool) -> Result<Connection> {
    let p = db_path.display();
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if immutable {
        let mut uri = String::from("file:");
        for c in db_path.to_string_lossy().chars() {
            match c {
                '?' | '#' | '%' => uri.push_str(&format!("%{:02X}", c as u32)),
                c => uri.push(c),
            }
        }
        uri.push_str("?immutable=1");
        Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
    } else {
        Connection::open_with_flags(db_path, flags)
    }
    .with_context(|| format!("cannot open database {p}"))?;
    conn.busy_timeout(super::writer::BUSY_TIMEOUT)?;
    let reading = |what: &str, e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            anyhow::anyhow!("{p} is not a thaw database (not SQLite): {e}; choose another --db")
        }
        _ => anyhow::Error::new(e).context(format!("{what} database {p}")),
    };
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| reading("opening", e))?;
    // Touch the header so that a non-SQLite file is reported as such, not as a SQL error.
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))
        .map_err(|e| reading("reading", e))?;
    Ok(conn)
}

/// The names of the sweeps in `db_path`, read-only; fails, naming the file and saying what to
/// do, on a missing file, a file that is not a thaw database, or a newer schema.
pub fn sweep_names(db_path: &Path) -> Result<Vec<String>> {
    let p = db_path.display();
    let conn = open_readonly(db_path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > super::SCHEMA_VERSION {
        bail!(
            "{p} was written by a newer thaw (schema {version} > {}); upgrade thaw",
            super::SCHEMA_VERSION
        );
    }
    let mut stmt = conn
        .prepare("SELECT name FROM sweeps ORDER BY name")
        .map_err(|e| anyhow::anyhow!("{p} is not a thaw database ({e}); choose another --db"))?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("reading the sweeps of {p}"))?;
    Ok(names)
}

/// How many trials of sweep `sweep` have each status (statuses with none left out), read-only.
pub fn status_counts(db_path: &Path, sweep: &str) -> Result<Vec<(String, i64)>> {
    let conn = open_readonly(db_path)?;
    let mut stmt = conn.prepare(
        "SELECT t.status, COUNT(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id
         WHERE s.name = ?1 AND t.superseded_in IS NULL GROUP BY t.status ORDER BY t.status",
    )?;
    let counts = stmt
        .query_map([sweep], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .with_context(|| format!("reading the trials of sweep {sweep}"))?;
    Ok(counts)
}

/// Runs one read-only SQL statement on `db_path` and returns its rows.
///
/// Statements that could modify the database (INSERT, UPDATE, DELETE, DROP, CREATE, writing
/// PRAGMAs, ...) are refused before they run, as is more than one statement; the connection is
/// read-only besides.
pub fn query_readonly(db_path: &Path, sql: &str) -> Result<QueryResult> {
    let conn = open_readonly(db_path)?;
    let mut batch = Batch::new(&conn, sql);
    let mut stmt = match batch.next() {
        Ok(Some(stmt)) => stmt,
        Ok(None) => {
            bail!("empty query: give one SQL statement, e.g. \"SELECT * FROM trial_summary\"")
        }
        Err(e) => return Err(anyhow::Error::new(e).context("invalid SQL")),
    };
    match batch.next() {
        Ok(None) => {}
        Ok(Some(_)) | Err(_) => bail!(
            "thaw query runs exactly one SQL statement; remove everything after the first `;`"
        ),
    }
    if !stmt.readonly() {
        bail!(
            "thaw query is read-only: this statement would modify {} and was not run \
             (use SELECT over the tables and views documented in the README)",
            db_path.display()
        );
    }
    let columns: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let n = columns.len();
    let mut rows = Vec::new();
    let mut cursor = stmt.query([]).context("query failed")?;
    while let Some(row) = cursor.next().context("query failed")? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(row.get::<_, Value>(i)?);
        }
        rows.push(values);
    }
    Ok(QueryResult { columns, rows })
}

/// Renders `result` in `format`; the text ends with a newline.
pub fn format_result(result: &QueryResult, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => format_table(result),
        OutputFormat::Csv => format_csv(result),
        OutputFormat::Json => format_json(result),
    }
}

/// A float for people: at most 4 decimals, trailing zeros dropped; very small or very large
/// magnitudes in scientific notation with 4 significant digits.
pub fn human_float(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e15).contains(&a) {
        return format!("{x:.3e}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn table_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => human_float(*f),
        Value::Text(s) => s.replace(['\n', '\r', '\t'], " "),
        Value::Blob(b) => format!("x'{}'", hex(b)),
    }
}

fn render_table(columns: &[String], cells: &[Vec<String>], right: &[bool]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = columns.iter().map(|c| width(c)).collect();
    for row in cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(c));
        }
    }
    let pad = |s: &str, w: usize, right: bool| {
        let fill = " ".repeat(w - width(s));
        if right {
            format!("{fill}{s}")
        } else {
            format!("{s}{fill}")
        }
    };
    let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string() + "\n";
    let mut out = line(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| pad(c, widths[i], right[i]))
            .collect(),
    );
    out += &line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in cells {
        out += &line(
            row.iter()
                .enumerate()
                .map(|(i, c)| pad(c, widths[i], right[i]))
                .collect(),
        );
    }
    out
}

fn format_table(result: &QueryResult) -> String {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(table_cell).collect())
        .collect();
    // Right-align columns whose non-NULL values are all numbers.
    let right: Vec<bool> = (0..result.columns.len())
        .map(|i| {
            let mut any = false;
            let all = result.rows.iter().all(|r| match r.get(i) {
                Some(Value::Integer(_)) | Some(Value::Real(_)) => {
                    any = true;
                    true
                }
                Some(Value::Null) | None => true,
                _ => false,
            });
            all && any
        })
        .collect();
    let mut out = render_table(&result.columns, &cells, &right);
    let n = result.rows.len();
    out += &format!("({n} row{})\n", if n == 1 { "" } else { "s" });
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(s) => csv_field(s),
        Value::Blob(b) => hex(b),
    }
}

fn format_csv(result: &QueryResult) -> String {
    let mut out = String::new();
    let header: Vec<String> = result.columns.iter().map(|c| csv_field(c)).collect();
    out += &header.join(",");
    out += "\n";
    for row in &result.rows {
        let cells: Vec<String> = row.iter().map(csv_cell).collect();
        out += &cells.join(",");
        out += "\n";
    }
    out
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::Text(s) => s.clone().into(),
        Value::Blob(b) => hex(b).into(),
    }
}

fn format_json(result: &QueryResult) -> String {
    // Written by hand to keep the column order of the query in every object.
    if result.rows.is_empty() {
        return "[]\n".into();
    }
    let keys: Vec<String> = result
        .columns
        .iter()
        .map(|c| serde_json::to_string(c).expect("strings serialise"))
        .collect();
    let mut out = "[\n".to_string();
    for (n, row) in result.rows.iter().enumerate() {
        out += "  {";
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out += ", ";
            }
            out += &keys[i];
            out += ": ";
            out += &json_value(v).to_string();
        }
        out += if n + 1 < result.rows.len() {
            "},\n"
        } else {
            "}\n"
        };
    }
    out += "]\n";
    out
}

fn short_time(ts: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| ts.to_string())
}

/// The `thaw ls` table: one line per sweep with its grid version and the trial counts of its
/// current grid by status (times in UTC); `all` adds the trials that left the grid.
pub fn format_overview(sweeps: &[SweepOverview], all: bool) -> String {
    if sweeps.is_empty() {
        return "no sweeps yet; run `thaw run <grid.yaml>` to start one\n".into();
    }
    let mut columns: Vec<String> = ["sweep", "created (UTC)", "updated (UTC)", "grid", "trials"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    columns.extend(TrialStatus::ALL.iter().map(|s| s.as_str().to_string()));
    columns.push("outdated".into());
    if all {
        columns.push("superseded".into());
    }
    let cells: Vec<Vec<String>> = sweeps
        .iter()
        .map(|s| {
            let mut row = vec![
                s.name.clone(),
                short_time(&s.created_at),
                short_time(&s.updated_at),
                format!("v{}", s.version),
                s.total.to_string(),
            ];
            row.extend(TrialStatus::ALL.iter().map(|st| s.count(*st).to_string()));
            row.push(s.outdated.to_string());
            if all {
                row.push(s.superseded.to_string());
            }
            row
        })
        .collect();
    let right: Vec<bool> = (0..columns.len()).map(|i| i >= 3).collect();
    let mut text = render_table(&columns, &cells, &right);
    let hidden: i64 = sweeps.iter().map(|s| s.superseded).sum();
    if hidden > 0 && !all {
        text += &format!(
            "{hidden} trials that left their grids are kept but not listed (superseded): `thaw ls --all` counts them\n"
        );
    }
    if sweeps.iter().any(|s| s.outdated > 0) {
        text += "outdated: trials recorded under an older training semantics than this thaw's; `thaw run GRID --rerun-outdated` reruns them\n";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_floats() {
        assert_eq!(human_float(0.912345), "0.9123");
        assert_eq!(human_float(0.5), "0.5");
        assert_eq!(human_float(3.0), "3");
        assert_eq!(human_float(0.0), "0");
        assert_eq!(human_float(-0.00001), "-1.000e-5");
        assert_eq!(human_float(12.34567), "12.3457");
    }
}
