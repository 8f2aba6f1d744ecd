//! The sweep report: queries → charts → cells → one self-contained HTML page.
//!
//! `reports/<sweep>/index.html` reads like a notebook: numbered cells, each showing what
//! produced it (the grid file, or the SQL behind a chart or table, runnable with
//! `thaw query`) and its output. The page has inline CSS and inline SVG only (plus a few
//! lines of inline script that make tables sortable): no fonts, no external requests. It is cheap to render, so the executor re-renders it
//! after every trial and it can be read mid-sweep.
//!
//! The modules, in layers (each imports only those above it):
//!
//! - [`page`]: the page model ([`Cell`], inputs, outputs, tables); imports nothing else of the
//!   report.
//! - `axes` (the chart font, size, tick labels and ranges), then [`charts`] (line charts),
//!   [`heatmap`] and [`html`] (templates, markdown): rendering, which knows only the page model.
//! - `rows`: the one row reader; [`context`]: the sweep and its trials as typed rows, the
//!   page-wide colours and labels; `stats`: the one confidence interval (of
//!   [`crate::metrics`]) and summary tables; `series`: chart series built from query rows.
//! - [`sections`]: the built-in sections, one file each, listed once in page order; [`user`]:
//!   the grid's own `report:` cells.
//! - `trial`: trial pages (`reports/<sweep>/trials/<key>.html`), with `confusion`: their
//!   confusion matrix; [`compare`]: comparisons of sweeps (`reports/compare/<a>--<b>/index.html`); this module: the sweep page and
//!   `reports/index.html`; `files`: atomic writes and safe names; [`export`]: CSV, JSON and
//!   Jupyter exports (the notebook's Python is in `templates/notebook/`).

mod axes;
pub mod charts;
pub mod compare;
mod confusion;
pub mod context;
mod eval_note;
pub mod export;
mod files;
pub mod heatmap;
pub mod html;
pub mod page;
mod rows;
pub mod sections;
mod series;
mod stats;
mod trial;
mod trial_cells;
pub mod user;

pub use compare::{compare_dir_name, render_compare};
pub use export::{export_sweep, ExportFormat};
pub use files::{dir_name, write_atomic};
pub use page::Cell;
pub use sections::SECTIONS;

use crate::track::query::open_readonly;
use crate::track::TrialStatus;
use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Renders reports/<sweep>/index.html (out_dir = reports root) from the database
/// with the embedded templates. See [`render_sweep_with`].
pub fn render_sweep(db_path: &Path, sweep: &str, out_dir: &Path) -> Result<PathBuf> {
    render_sweep_with(db_path, sweep, out_dir, None)
}

/// Renders a sweep's report, its trial pages and the index of all sweeps, and stores the
/// report's findings in the database (see [`store_findings`]):
///
/// - `out_dir/<sweep>/index.html`: the notebook-style report;
/// - `out_dir/<sweep>/trials/<key>.html`: one page per trial (unchanged pages of finished
///   trials are not rewritten);
/// - `out_dir/index.html`: every sweep in the database, with links and status counts, and every
///   comparison under `out_dir/compare/` ([`render_compare`]).
///
/// `templates` is a folder whose `report.html`, `trial.html`, `index.html`, `_style.html`
/// or `_cells.html` replace the embedded template of the same name. Returns the path of the
/// sweep's index.html. Cheap enough to call after every trial (mid-sweep reading).
///
/// All queries run in one read transaction, so the pages show a consistent snapshot even
/// while trials are being written. Every file is written to a temporary name and renamed,
/// so a reader never sees a half-written page. Characters of the sweep name outside
/// `[A-Za-z0-9._-]` become `_` in the directory name.
pub fn render_sweep_with(
    db_path: &Path,
    sweep: &str,
    out_dir: &Path,
    templates: Option<&Path>,
) -> Result<PathBuf> {
    let tpl = html::Templates::load(templates)?;
    let conn = open_readonly(db_path)?;
    let generated_at = now();
    let dir = out_dir.join(dir_name(sweep)?);
    let trials_dir = dir.join("trials");

    conn.execute_batch("BEGIN DEFERRED")?;
    let (cells, status_line) = sweep_cells(&conn, sweep, generated_at.clone())?;
    let trials = trial::load(&conn, sweep, &tpl.fingerprint, &trials_dir)?;
    conn.execute_batch("COMMIT")?;

    trial::render_all(&tpl, sweep, &generated_at, &trials_dir, trials)?;
    let page = tpl.report(&html::Page {
        sweep,
        status_line: &status_line,
        generated_at: &generated_at,
        cells: &cells,
    })?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("index.html");
    write_atomic(&path, page.as_bytes())?;
    write_index(&conn, &tpl, db_path, out_dir, &generated_at)?;
    // Last, so that stored findings always belong to a page that was written.
    store_findings(db_path, sweep, &cells)?;
    Ok(path)
}

/// The cells of a sweep's page and its status line, read inside the caller's read transaction
/// on `conn` (opened with [`open_readonly`]).
fn sweep_cells(
    conn: &Connection,
    sweep: &str,
    generated_at: String,
) -> Result<(Vec<Cell>, String)> {
    // The page reads trial_summary about ten times: read it once into a connection-local
    // table of the same name (unqualified names resolve to `temp` first), so every query
    // shown stays runnable as-is against the view.
    // The opener sets `query_only`, which refuses even this connection-local table; the file
    // itself stays read-only (SQLITE_OPEN_READ_ONLY).
    conn.pragma_update(None, "query_only", false)?;
    conn.execute(
        "CREATE TEMP TABLE trial_summary AS SELECT * FROM main.trial_summary WHERE sweep = ?1",
        [sweep],
    )?;
    conn.pragma_update(None, "query_only", true)?;
    let ctx = context::Ctx::load(conn, sweep, generated_at)?;
    Ok((sections::build(&ctx)?, ctx.status_line()))
}

/// How long storing the findings waits for another writer's lock before leaving them to the
/// next render.
const FINDINGS_WAIT: Duration = Duration::from_secs(2);

/// Stores the statements of `cells` as the sweep's findings (the `findings` view), replacing
/// those of the previous render. Skipped when the database file or its folder is read-only
/// (the page alone then carries them) and when another writer holds the database for longer than
/// [`FINDINGS_WAIT`] (a mid-sweep render; the next render stores them).
fn store_findings(db_path: &Path, sweep: &str, cells: &[Cell]) -> Result<()> {
    // SQLite needs to write the file and, for its journal, the folder.
    let folder = match db_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    for path in [db_path, folder] {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading the metadata of {}", path.display()))?;
        if meta.permissions().readonly() {
            return Ok(());
        }
    }
    let db = crate::track::Db::open(db_path)?;
    db.connection().busy_timeout(FINDINGS_WAIT)?;
    match db.replace_findings(sweep, &sections::summary::statements(cells)) {
        Err(e) if is_busy(&e) => Ok(()),
        other => other.with_context(|| {
            format!(
                "storing the findings of sweep {sweep} in {}",
                db_path.display()
            )
        }),
    }
}

/// Whether `e` is SQLite's "database is locked" (another writer holds it).
fn is_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            == Some(rusqlite::ErrorCode::DatabaseBusy)
    })
}

/// Renders `out_dir/index.html`: every sweep in the database, with status counts and a link
/// to its report where one has been rendered, then every comparison rendered under
/// `out_dir/compare/`. Returns the page's path.
pub fn render_index(db_path: &Path, out_dir: &Path) -> Result<PathBuf> {
    render_index_with(db_path, out_dir, None)
}

/// [`render_index`] with a user template folder (see [`render_sweep_with`]).
pub fn render_index_with(
    db_path: &Path,
    out_dir: &Path,
    templates: Option<&Path>,
) -> Result<PathBuf> {
    let tpl = html::Templates::load(templates)?;
    let conn = open_readonly(db_path)?;
    write_index(&conn, &tpl, db_path, out_dir, &now())
}

/// The time a report says it was generated: now, or `SOURCE_DATE_EPOCH` (seconds since 1970,
/// the reproducible-builds convention) when set, so that two renders can be compared byte for
/// byte.
fn now() -> String {
    let fixed = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0));
    fixed
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

fn write_index(
    conn: &Connection,
    tpl: &html::Templates,
    db_path: &Path,
    out_dir: &Path,
    generated_at: &str,
) -> Result<PathBuf> {
    let mut stmt = conn.prepare(
        "SELECT s.name, s.description, s.updated_at, t.status, COUNT(t.id)
         FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id AND t.superseded_in IS NULL
         GROUP BY s.id, t.status
         ORDER BY s.updated_at DESC, s.id DESC",
    )?;
    let mut rows: Vec<html::IndexRow> = Vec::new();
    let mut q = stmt.query([])?;
    while let Some(r) = q.next()? {
        let name: String = r.get(0)?;
        let status: Option<TrialStatus> = r
            .get::<_, Option<String>>(3)?
            .map(|s| s.parse())
            .transpose()?;
        let n: i64 = r.get(4)?;
        if rows.last().is_none_or(|l| l.name != name) {
            let dir = dir_name(&name).unwrap_or_else(|_| "_".to_string());
            rows.push(html::IndexRow {
                has_report: out_dir.join(&dir).join("index.html").is_file(),
                href: format!("{dir}/index.html"),
                name,
                description: r.get(1)?,
                total: 0,
                counts: vec![0; html::STATUSES.len()],
                updated_at: r.get(2)?,
            });
        }
        let row = rows.last_mut().expect("pushed above");
        if let Some(st) = status {
            row.total += n;
            if let Some(i) = html::STATUSES.iter().position(|s| *s == st) {
                row.counts[i] += n;
            }
        }
    }
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let comparisons = compare::listed(out_dir, &names);
    let page = tpl.index(
        &db_path.display().to_string(),
        generated_at,
        &rows,
        &comparisons,
    )?;
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join("index.html");
    write_atomic(&path, page.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests;
