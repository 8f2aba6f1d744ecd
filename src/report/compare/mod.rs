//! Comparing sweeps (`thaw report --compare A B ...`): one page,
//! `<reports>/compare/<A>--<B>/index.html`, that puts the sweeps side by side: the sweeps,
//! their axes (which are common, which differ), the main charts with one series per sweep over
//! the common axes, and the matched configurations with each sweep's difference from the first.
//!
//! Beside the page, `compare.json` names the sweeps compared and when: the reports index lists
//! every comparison from these files, so no table records them.
//!
//! - `axes`: each setting across the sweeps; `matched`: the table and its statements;
//!   `charts`: the charts (the sweep report's chart code, one series per sweep).

mod axes;
mod charts;
mod matched;

use super::files::{dir_name, write_atomic};
use super::html::{markdown_to_html, ComparePage, ComparisonRow, Templates};
use super::page::{Cell, Input, Output, Table, TableCell};
use super::rows::{sql_str, sql_table, text};
use crate::track::notes::locate;
use crate::track::query::open_readonly;
use anyhow::{bail, Context, Result};
use axes::{axes_sql, Axis, Kind};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The folder of the comparisons, under the reports folder.
pub const FOLDER: &str = "compare";

/// The file beside a comparison's page naming its sweeps.
const MANIFEST: &str = "compare.json";

/// Longest folder name of a comparison before it is shortened with a hash.
const MAX_DIR: usize = 120;

/// What `compare.json` holds.
#[derive(Serialize, Deserialize)]
struct Manifest {
    sweeps: Vec<String>,
    generated_at: String,
}

/// Renders the comparison of `sweeps` (the first is the reference of every difference) into
/// `out_dir/compare/<name>/index.html` (see [`compare_dir_name`]), with `compare.json` beside
/// it, then the reports index (`out_dir/index.html`), which links every comparison. Fails when
/// fewer than two sweeps are given, when one is named twice, and when one is not in the
/// database (listing those that are). `templates` as in [`super::render_sweep_with`]
/// (`compare.html`). Returns the page's path.
pub fn render_compare(
    db_path: &Path,
    sweeps: &[String],
    out_dir: &Path,
    templates: Option<&Path>,
) -> Result<PathBuf> {
    check(sweeps)?;
    let tpl = Templates::load(templates)?;
    let conn = open_readonly(db_path)?;
    let generated_at = super::now();
    conn.execute_batch("BEGIN DEFERRED")?;
    let cells = build(&conn, sweeps, out_dir, &generated_at)?;
    conn.execute_batch("COMMIT")?;

    let dir = out_dir.join(FOLDER).join(compare_dir_name(sweeps)?);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let page = tpl.compare(&ComparePage {
        title: &title(sweeps),
        generated_at: &generated_at,
        cells: &cells,
    })?;
    let path = dir.join("index.html");
    write_atomic(&path, page.as_bytes())?;
    let manifest = Manifest {
        sweeps: sweeps.to_vec(),
        generated_at: generated_at.clone(),
    };
    write_atomic(
        &dir.join(MANIFEST),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    super::write_index(&conn, &tpl, db_path, out_dir, &generated_at)?;
    Ok(path)
}

/// The folder name of a comparison: the sweeps' report folder names joined by `--`, in the
/// order given; past [`MAX_DIR`] characters, cut and followed by a hash of the names.
pub fn compare_dir_name(sweeps: &[String]) -> Result<String> {
    let parts = sweeps
        .iter()
        .map(|s| dir_name(s))
        .collect::<Result<Vec<_>>>()?;
    let joined = parts.join("--");
    if joined.len() <= MAX_DIR {
        return Ok(joined);
    }
    let hash = blake3::hash(sweeps.join("\0").as_bytes()).to_hex();
    // safe_name gives ASCII only, so any byte index is a character boundary.
    Ok(format!("{}-{}", &joined[..MAX_DIR - 17], &hash[..16]))
}

/// The comparisons under `out_dir` (folders with a page and a `compare.json`), by folder name,
/// each with the compared sweeps no longer in the database (`known` lists those that are).
pub(crate) fn listed(out_dir: &Path, known: &[String]) -> Vec<ComparisonRow> {
    let Ok(entries) = std::fs::read_dir(out_dir.join(FOLDER)) else {
        return Vec::new();
    };
    let mut rows: Vec<ComparisonRow> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let dir = e.path();
            if !dir.join("index.html").is_file() {
                return None;
            }
            let json = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
            let m: Manifest = serde_json::from_str(&json).ok()?;
            let name = e.file_name().to_str()?.to_string();
            Some(ComparisonRow {
                title: title(&m.sweeps),
                href: format!("{FOLDER}/{name}/index.html"),
                missing: m
                    .sweeps
                    .iter()
                    .filter(|s| !known.contains(s))
                    .cloned()
                    .collect(),
                sweeps: m.sweeps,
                generated_at: m.generated_at,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.href.cmp(&b.href));
    rows
}

/// `a vs b vs c`.
fn title(sweeps: &[String]) -> String {
    sweeps.join(" vs ")
}

/// At least two sweeps, each named once.
fn check(sweeps: &[String]) -> Result<()> {
    if sweeps.len() < 2 {
        bail!(
            "a comparison needs at least two sweeps, got {}: thaw report --compare A B [MORE...]",
            sweeps.len()
        );
    }
    for (i, s) in sweeps.iter().enumerate() {
        if sweeps[..i].contains(s) {
            bail!("sweep \"{s}\" is named twice in the comparison; name each sweep once");
        }
    }
    Ok(())
}

/// The page's cells, read inside the caller's read transaction: the sweeps, their axes, the
/// charts, the matched configurations.
fn build(
    conn: &Connection,
    sweeps: &[String],
    out_dir: &Path,
    generated_at: &str,
) -> Result<Vec<Cell>> {
    for s in sweeps {
        locate(conn, s, None)?;
    }
    let axes = axes::load(conn, sweeps)?;
    let mut cells = vec![
        intro(conn, sweeps, out_dir, generated_at)?,
        axes_cell(sweeps, &axes),
    ];
    cells.extend(charts::cells(conn, sweeps, &axes)?);
    cells.push(matched::cell(conn, sweeps, &axes)?);
    Ok(cells)
}

/// The sweeps compared: description, trials, completed trials and tags, each linking to its
/// report where one has been rendered.
fn intro(conn: &Connection, sweeps: &[String], out_dir: &Path, at: &str) -> Result<Cell> {
    let names: Vec<String> = sweeps.iter().map(|s| sql_str(s)).collect();
    let order: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!(" WHEN {n} THEN {i}"))
        .collect();
    let sql = format!(
        "SELECT s.name AS sweep, s.description, count(ts.trial_id) AS trials,
       coalesce(sum(ts.status = 'completed'), 0) AS completed,
       (SELECT group_concat(tag, ', ') FROM (SELECT g.tag FROM tags g
         WHERE g.sweep_id = s.id AND g.trial_id IS NULL ORDER BY g.tag)) AS tags
FROM sweeps s
LEFT JOIN trial_summary ts ON ts.sweep = s.name
WHERE s.name IN ({})
GROUP BY s.id
ORDER BY CASE s.name{order} END;",
        names.join(", ")
    );
    let mut table = sql_table(conn, &sql)?;
    table.sortable = false;
    for row in &mut table.rows {
        let dir = dir_name(&row[0].text)?;
        if out_dir.join(&dir).join("index.html").is_file() {
            row[0].href = Some(format!("../../{dir}/index.html"));
        }
    }
    let md = format!(
        "# {}\n\nThe sweeps side by side on their common axes. The first, **{}**, is the \
         reference: every difference is another sweep's mean minus its mean.\n\nGenerated {at} \
         from the results database. Charts and differences use completed trials only; every \
         chart and table shows the SQL it was drawn from, runnable with `thaw query`.",
        title(sweeps),
        sweeps[0]
    );
    Ok(Cell {
        title: "Comparison".to_string(),
        outputs: vec![
            Output::Html {
                html: markdown_to_html(&md),
            },
            Output::Table(table),
        ],
        inputs: vec![
            Input {
                lang: "markdown",
                text: md,
            },
            Input::sql(sql),
        ],
    })
}

/// Every setting's values per sweep, the values they share and how it relates the sweeps.
fn axes_cell(sweeps: &[String], axes: &[Axis]) -> Cell {
    let cell = |t: String| TableCell {
        text: t,
        class: String::new(),
        href: None,
    };
    let list = |v: &[rusqlite::types::Value]| {
        let t: Vec<String> = v.iter().map(text).collect();
        t.join(", ")
    };
    let mut headers = vec!["axis".to_string()];
    headers.extend(sweeps.iter().cloned());
    headers.extend(["shared".to_string(), "kind".to_string()]);
    let rows = axes
        .iter()
        .map(|a| {
            let mut row = vec![cell(a.name.to_string())];
            row.extend(a.values.iter().map(|v| cell(list(v))));
            row.push(cell(list(&a.shared)));
            row.push(cell(a.kind.as_str().to_string()));
            row
        })
        .collect();
    let named = |k: Kind| {
        let n: Vec<&str> = axes
            .iter()
            .filter(|a| a.kind == k)
            .map(|a| a.name)
            .collect();
        if n.is_empty() {
            "none".to_string()
        } else {
            n.join(", ")
        }
    };
    let summary = format!(
        "Common axes (trials are matched on the values every sweep has): {}. Axes that differ \
         (no value in every sweep; each sweep is pooled over its own): {}. The same in every \
         sweep: {}. Seeds are the replicates of a configuration.",
        named(Kind::Common),
        named(Kind::Differs),
        named(Kind::Same)
    );
    Cell {
        title: "Axes".to_string(),
        inputs: vec![Input::sql(axes_sql(sweeps))],
        outputs: vec![
            Output::Text { text: summary },
            Output::Table(Table {
                headers,
                rows,
                sortable: false,
                note: Some(
                    "Values of the sweeps' current trials, every status; common: some values \
                     are in every sweep, and trials are compared only at those."
                        .to_string(),
                ),
            }),
        ],
    }
}
