//! `thaw export`: a sweep's results as CSV, JSON or a Jupyter notebook.
//!
//! CSV and JSON hold the sweep's rows of the `trial_summary` view (one per trial, in grid
//! order). The notebook (nbformat 4.5) loads the SQLite file with Python's `sqlite3` and
//! pandas and redraws the report's main charts with matplotlib, one markdown cell per section,
//! so the analysis can go on in Jupyter.

use super::rows::{read_sweep, sql_str};
use crate::metrics::names::{CKA, ECE, ECE_TS, LR, SOURCE_ACC, TEMPERATURE, TRAIN_ACC, VAL_ACC};
use crate::track::query::open_readonly;
use anyhow::{bail, Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::str::FromStr;

/// The formats of `thaw export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
    Ipynb,
}

impl ExportFormat {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ipynb => "ipynb",
        }
    }
}

impl FromStr for ExportFormat {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "ipynb" | "jupyter" | "notebook" => Ok(ExportFormat::Ipynb),
            other => bail!("unknown export format `{other}`; use csv, json or ipynb"),
        }
    }
}

/// Writes the sweep in `format` to `out` (atomically: a temporary file, then a rename).
pub fn export_sweep(db_path: &Path, sweep: &str, format: ExportFormat, out: &Path) -> Result<()> {
    let conn = open_readonly(db_path)?;
    let description = read_sweep(&conn, sweep)?.description;
    // One consistent snapshot.
    conn.execute_batch("BEGIN DEFERRED")?;
    let text = match format {
        ExportFormat::Csv => summary_csv(&conn, sweep)?,
        ExportFormat::Json => {
            let rows = summary_json(&conn, sweep)?;
            serde_json::to_string_pretty(&rows)? + "\n"
        }
        ExportFormat::Ipynb => {
            let db = std::fs::canonicalize(db_path).unwrap_or_else(|_| db_path.to_path_buf());
            let (cells, _) = super::sweep_cells(&conn, sweep, String::new())?;
            let findings = super::sections::summary::written(&cells);
            serde_json::to_string_pretty(&notebook(&db, sweep, &description, findings))? + "\n"
        }
    };
    conn.execute_batch("COMMIT")?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    super::files::write_atomic(out, text.as_bytes())
}

/// The SQL of the exported rows.
pub fn summary_sql(sweep: &str) -> String {
    format!(
        "SELECT ts.* FROM trial_summary ts JOIN trials t ON t.id = ts.trial_id \
         WHERE ts.sweep = {} ORDER BY t.position, t.id",
        sql_str(sweep)
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn summary_csv(conn: &Connection, sweep: &str) -> Result<String> {
    let mut stmt = conn.prepare(&summary_sql(sweep))?;
    let cols: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = cols
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let fields: Vec<String> = (0..cols.len())
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => String::new(),
                    ValueRef::Integer(n) => n.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Text(t) => csv_field(&String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
                })
            })
            .collect::<rusqlite::Result<_>>()?;
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    Ok(out)
}

fn summary_json(conn: &Connection, sweep: &str) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare(&summary_sql(sweep))?;
    let cols: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let mut obj = Map::new();
        for (i, c) in cols.iter().enumerate() {
            let v = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => json!(n),
                // Non-finite numbers have no JSON form: null.
                ValueRef::Real(x) => serde_json::Number::from_f64(x)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::String(format!("<{} bytes>", b.len())),
            };
            obj.insert(c.clone(), v);
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

/// Notebook `source`: the text split into lines, each keeping its newline.
fn source(text: &str) -> Value {
    let text = text.trim_matches('\n');
    let lines: Vec<Value> = text
        .split_inclusive('\n')
        .map(|l| Value::String(l.to_string()))
        .collect();
    Value::Array(lines)
}

fn md(text: &str) -> Value {
    json!({"cell_type": "markdown", "metadata": {}, "source": source(text)})
}

fn code(text: &str) -> Value {
    json!({
        "cell_type": "code",
        "execution_count": null,
        "metadata": {},
        "outputs": [],
        "source": source(text),
    })
}

/// A Python string literal (JSON string syntax is valid Python for these).
fn py_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The notebook's `t975` and `ci95`: the report's 95% interval (exact Student t), in Python.
const NOTEBOOK_STATS: &str = include_str!("../../templates/notebook/stats.py");

/// The notebook's cells, in order: markdown after a `# %% [markdown]` line, code after a `# %%`
/// line; each cell is rendered by minijinja on its own.
const NOTEBOOK: &str = include_str!("../../templates/notebook/cells.py");

/// The notebook: setup, the report's findings (when it has any), then one markdown and one
/// code cell per section.
pub fn notebook(db: &Path, sweep: &str, description: &str, findings: Option<&str>) -> Value {
    let env = minijinja::Environment::new();
    let vars = minijinja::context! {
        title => sweep.replace('\n', " "),
        description => description.trim(),
        db_path => db.display().to_string(),
        stats => NOTEBOOK_STATS,
        db => py_str(&db.display().to_string()),
        sweep => py_str(sweep),
        train_acc => TRAIN_ACC.name,
        val_acc => VAL_ACC.name,
        source_acc => SOURCE_ACC.name,
        ece => ECE.name,
        ece_ts => ECE_TS.name,
        temperature => TEMPERATURE.name,
        lr => LR.prefix,
        cka => CKA.prefix,
    };
    let mut cells: Vec<Value> = template_cells(NOTEBOOK)
        .into_iter()
        .map(|(markdown, text)| {
            let text = env
                .render_str(&text, &vars)
                .expect("the embedded notebook template renders");
            if markdown {
                md(&text)
            } else {
                code(&text)
            }
        })
        .collect();
    if let Some(text) = findings {
        // After the title cell, as the report shows them in its first cell.
        cells.insert(1.min(cells.len()), md(&findings_markdown(text)));
    }
    json!({
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
            "thaw": {"sweep": sweep},
        },
        "cells": with_ids(cells),
    })
}

/// The report's summary of findings as markdown: its headline, then a bold heading and a list
/// per verdict.
fn findings_markdown(summary: &str) -> String {
    let mut out = String::from("## Findings, as the report decided them\n");
    for line in summary.lines() {
        if line.starts_with("- ") {
            out.push_str(line);
            out.push('\n');
        } else if let Some(heading) = line.strip_suffix(':') {
            out.push_str(&format!("\n**{heading}:**\n\n"));
        } else {
            out.push_str(&format!("\n{line}\n"));
        }
    }
    out
}

/// The cells of a notebook template: (is markdown, source).
fn template_cells(src: &str) -> Vec<(bool, String)> {
    let mut cells: Vec<(bool, String)> = Vec::new();
    for line in src.lines() {
        match line {
            "# %% [markdown]" => cells.push((true, String::new())),
            "# %%" => cells.push((false, String::new())),
            _ => {
                if let Some((_, text)) = cells.last_mut() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
    }
    cells
}

/// nbformat 4.5 wants a unique `id` on every cell.
fn with_ids(cells: Vec<Value>) -> Vec<Value> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            if let Value::Object(o) = &mut c {
                o.insert("id".to_string(), Value::String(format!("thaw-{i:03}")));
            }
            c
        })
        .collect()
}
