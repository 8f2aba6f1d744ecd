//! The one row reader: SQL results as typed tuples, as SQLite values, or as a page table, and
//! the formatting of numbers and SQL literals they share.

use crate::metrics::names::Family;
use crate::report::page::{Table, TableCell};
use crate::spec::{BackboneKind, Freeze, Precision};
use crate::track::TrialStatus;
use anyhow::Context;
use anyhow::Result;
use rusqlite::params;
use rusqlite::types::Value;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// The sweep row.
#[derive(Clone, Debug)]
pub struct SweepInfo {
    pub name: String,
    pub description: String,
    pub spec_path: String,
    pub spec_yaml: String,
}

/// The grid axes of one trial (every status).
#[derive(Clone, Debug)]
pub struct TrialInfo {
    pub status: TrialStatus,
    pub backbone: BackboneKind,
    pub pretrained: bool,
    pub freeze: Freeze,
    pub train_per_class: i64,
    pub shift: String,
    pub schedule: String,
    pub lr: f64,
    pub seed: i64,
    pub precision: Precision,
}

/// The sweep row of `sweep`; an error naming it when there is none.
pub(crate) fn read_sweep(conn: &Connection, sweep: &str) -> Result<SweepInfo> {
    conn.query_row(
        "SELECT name, description, spec_path, spec_yaml FROM sweeps WHERE name = ?1",
        params![sweep],
        |r| {
            Ok(SweepInfo {
                name: r.get(0)?,
                description: r.get(1)?,
                spec_path: r.get(2)?,
                spec_yaml: r.get(3)?,
            })
        },
    )
    .map_err(|e| match e {
        rusqlite::Error::QueryReturnedNoRows => {
            anyhow::anyhow!("no sweep named \"{sweep}\" in the database")
        }
        e => anyhow::Error::new(e).context("reading the sweep"),
    })
}

/// Every trial of `sweep`'s current grid (every status), by position, with its axes as the spec's enums.
pub(crate) fn read_trials(conn: &Connection, sweep: &str) -> Result<Vec<TrialInfo>> {
    let mut stmt = conn.prepare(
        "SELECT t.status, t.backbone, t.pretrained, t.freeze, t.train_per_class, t.shift,
                t.schedule, t.seed, t.lr, t.precision
         FROM trials t JOIN sweeps s ON s.id = t.sweep_id
         WHERE s.name = ?1 AND t.superseded_in IS NULL ORDER BY t.position, t.id",
    )?;
    let trials = stmt
        .query_map(params![sweep], |r| {
            Ok(TrialInfo {
                status: parsed(r, 0, |s| s.parse::<TrialStatus>().ok())?,
                backbone: parsed(r, 1, |s| {
                    BackboneKind::ALL.into_iter().find(|b| b.name() == s)
                })?,
                pretrained: r.get::<_, i64>(2)? != 0,
                freeze: parsed(r, 3, parse_freeze)?,
                train_per_class: r.get(4)?,
                shift: r.get(5)?,
                schedule: r.get(6)?,
                seed: r.get(7)?,
                lr: r.get(8)?,
                precision: parsed(r, 9, |s| Precision::ALL.into_iter().find(|p| p.name() == s))?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("reading the sweep's trials")?;
    Ok(trials)
}

/// A freeze value as the database stores it (`2`, `all`; [`Freeze`]'s `Display`).
pub(crate) fn parse_freeze(s: &str) -> Option<Freeze> {
    match s {
        "all" => Some(Freeze::All),
        n => n.parse().ok().map(Freeze::Blocks),
    }
}

/// Column `i` as text, parsed by `parse`; a conversion error naming the text otherwise.
pub(crate) fn parsed<T>(
    r: &rusqlite::Row<'_>,
    i: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unexpected value \"{s}\"").into(),
        )
    })
}

/// An SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL `LIKE` pattern of every stored name of a metric family: `'lr/%'`.
pub(crate) fn family_like(family: Family) -> String {
    sql_str(&family.name("%"))
}

pub(crate) fn fmt_real(v: f64) -> String {
    if !v.is_finite() {
        v.to_string()
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else if v.abs() >= 1.5 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// Runs `sql` (no parameters) and maps every row with `f`.
pub(crate) fn typed_rows<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map([], f)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Runs `sql` and renders every row as a table row.
pub(crate) fn sql_table(conn: &Connection, sql: &str) -> Result<Table> {
    sql_table_limit(conn, sql, usize::MAX)
}

/// [`sql_table`] showing at most `limit` rows (the note says how many there were).
pub(crate) fn sql_table_limit(conn: &Connection, sql: &str, limit: usize) -> Result<Table> {
    let mut stmt = conn
        .prepare(sql)
        .with_context(|| format!("preparing {sql}"))?;
    let headers: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = Vec::new();
    let mut total = 0usize;
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        total += 1;
        if rows.len() >= limit {
            continue;
        }
        let mut row = Vec::with_capacity(headers.len());
        for (i, h) in headers.iter().enumerate() {
            let (text, num) = match r.get_ref(i)? {
                ValueRef::Null => (String::new(), false),
                ValueRef::Integer(n) => (n.to_string(), true),
                ValueRef::Real(x) => (fmt_real(x), true),
                ValueRef::Text(t) => (String::from_utf8_lossy(t).into_owned(), false),
                ValueRef::Blob(b) => (format!("<{} bytes>", b.len()), false),
            };
            let class = match h.as_str() {
                "status" => format!(
                    "status status-{}",
                    text.chars()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .collect::<String>()
                ),
                "error" => "error".to_string(),
                "key" => "key".to_string(),
                _ if num => "num".to_string(),
                _ => String::new(),
            };
            row.push(TableCell {
                text,
                class,
                href: None,
            });
        }
        rows.push(row);
    }
    let note = (total > rows.len()).then(|| format!("First {} of {total} rows.", rows.len()));
    Ok(Table {
        headers,
        rows,
        sortable: total > 1,
        note,
    })
}

/// Every row of `sql` as SQLite values.
pub(crate) fn query(conn: &Connection, sql: &str) -> Result<Vec<Vec<Value>>> {
    let mut stmt = conn
        .prepare(sql)
        .with_context(|| format!("preparing {sql}"))?;
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())?
        .collect::<rusqlite::Result<Vec<Vec<Value>>>>()?;
    Ok(rows)
}

/// A value as text (numbers printed as SQLite would).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(n) => n.to_string(),
        Value::Real(x) => x.to_string(),
        Value::Text(t) => t.clone(),
        Value::Blob(b) => format!("<{} bytes>", b.len()),
    }
}

/// A value as a number, if it is one.
pub(crate) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Real(x) => Some(*x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_literals_are_quoted() {
        assert_eq!(sql_str("it's"), "'it''s'");
    }
}
