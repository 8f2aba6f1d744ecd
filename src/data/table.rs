//! The rows of a table file (text datasets, CSV lists of image files): CSV, TSV or JSON Lines,
//! gzip-compressed or plain, UTF-8.

use crate::spec::trial::TextFormat;
use anyhow::{bail, Context, Result};
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// The bytes of `path`, decompressed when they start with the gzip magic number.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .with_context(|| format!("{}: cannot decompress (gzip)", path.display()))?;
    Ok(out)
}

/// `bytes` as UTF-8 text without a byte-order mark; the error names the line of the first
/// invalid byte.
pub(crate) fn utf8(path: &Path, bytes: &[u8]) -> Result<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').unwrap_or(s).to_string()),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            bail!(
                "{}: line {line}: not UTF-8 text; convert the file to UTF-8",
                path.display()
            )
        }
    }
}

/// The values of one row.
enum Cells {
    /// A CSV or TSV record, one field per column.
    Fields(csv::StringRecord),
    /// A JSON Lines object.
    Object(serde_json::Map<String, serde_json::Value>),
}

/// One row of a table.
pub(crate) struct Row {
    /// The line the row starts on (1-based).
    pub line: usize,
    cells: Cells,
}

impl Row {
    /// The value of column `col` (the position of `name` in [`Table::columns`]): `None` when
    /// the row lacks it (JSON: an absent key or `null`). Numbers and booleans of JSON Lines
    /// read as their JSON text; the error says which other kind of value the key holds.
    pub fn get(&self, col: usize, name: &str) -> Result<Option<Cow<'_, str>>, String> {
        use serde_json::Value;
        match &self.cells {
            Cells::Fields(r) => Ok(r.get(col).map(Cow::Borrowed)),
            Cells::Object(m) => match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                    Ok(Some(Cow::Owned(v.to_string())))
                }
                Some(Value::Array(_)) => Err("an array".into()),
                Some(Value::Object(_)) => Err("an object".into()),
            },
        }
    }
}

/// The columns and rows of a table file.
pub(crate) struct Table {
    /// The column names: the header row, the names given for a header-less file, or the keys
    /// of the JSON objects in order of first appearance.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Reads `text` (the contents of `path`) as `format`. `header` names the columns of a CSV or
/// TSV file without a header row. Blank lines are skipped; every CSV/TSV row must have as many
/// fields as there are columns.
pub(crate) fn read_table(
    path: &Path,
    text: &str,
    format: TextFormat,
    header: Option<&[String]>,
) -> Result<Table> {
    match format {
        TextFormat::Jsonl => read_jsonl(path, text),
        TextFormat::Csv | TextFormat::Tsv => read_delimited(path, text, format, header),
    }
}

fn read_delimited(
    path: &Path,
    text: &str,
    format: TextFormat,
    header: Option<&[String]>,
) -> Result<Table> {
    let tsv = format == TextFormat::Tsv;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .quoting(!tsv)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    // The line a record starts on, from its byte offset: the csv crate's own count misses the
    // lines of CRLF files, and its offset is where the reader stood (before the line breaks
    // and blank lines that precede the record).
    let bytes = text.as_bytes();
    let newlines: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter_map(|(i, &b)| (b == b'\n').then_some(i))
        .collect();
    let line_at = |p: Option<&csv::Position>| {
        let mut at = p.map_or(0, |p| p.byte() as usize);
        while matches!(bytes.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        1 + newlines.partition_point(|&n| n < at)
    };
    let mut columns: Option<Vec<String>> = header.map(<[String]>::to_vec);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = line_at(e.position());
            anyhow::anyhow!("{}: line {line}: {e}", path.display())
        })?;
        let line = line_at(record.position());
        let Some(cols) = &columns else {
            columns = Some(record.iter().map(|h| h.trim().to_string()).collect());
            continue;
        };
        if record.len() != cols.len() {
            bail!(
                "{}: line {line}: {} field{}, but the file has {} columns ({}){}",
                path.display(),
                record.len(),
                if record.len() == 1 { "" } else { "s" },
                cols.len(),
                cols.join(", "),
                if tsv {
                    "; a TSV field cannot hold a tab or a line break"
                } else {
                    "; quote a field that holds a comma (\"a, b\")"
                }
            );
        }
        rows.push(Row {
            line,
            cells: Cells::Fields(record),
        });
    }
    let Some(columns) = columns else {
        bail!(
            "{}: the file is empty; it needs a header row and one row per example",
            path.display()
        );
    };
    Ok(Table { columns, rows })
}

fn read_jsonl(path: &Path, text: &str) -> Result<Table> {
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let lineno = i + 1;
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            anyhow::anyhow!(
                "{}: line {lineno}: not valid JSON ({e}); JSON Lines hold one object per line",
                path.display()
            )
        })?;
        let serde_json::Value::Object(m) = value else {
            bail!(
                "{}: line {lineno}: expected a JSON object ({{\"text\": ..., \"label\": ...}}), \
                 got {value}",
                path.display()
            );
        };
        for k in m.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        rows.push(Row {
            line: lineno,
            cells: Cells::Object(m),
        });
    }
    Ok(Table { columns, rows })
}
