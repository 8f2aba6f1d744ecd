//! The sweep report: queries → charts → cells → one self-contained HTML page.
//!
//! `reports/<sweep>/index.html` reads like a notebook: numbered cells, each showing what
//! produced it (the grid file, or the SQL behind a chart or table, runnable with
//! `thaw query`) and its output. The page has inline CSS and inline SVG only: no scripts,
//! no fonts, no external requests. It is cheap to render, so the executor re-renders it
//! after every trial and it can be read mid-sweep.
//!
//! - [`cells`]: the [`Cell`] type and the built-in sections, one function each.
//! - [`charts`]: plotters line charts rendered to SVG strings.
//! - [`html`]: the embedded minijinja template (auto-escaping) and a small markdown renderer.

pub mod cells;
pub mod charts;
pub mod html;

pub use cells::{mean_ci95, Cell, MeanCi};

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Renders reports/<sweep>/index.html (out_dir = reports root) from the database, read-only.
/// Returns the path of index.html. Cheap enough to call after every trial (mid-sweep reading).
///
/// All queries run in one read transaction, so the page shows a consistent snapshot even
/// while trials are being written. The file is written to a temporary name and renamed,
/// so a reader never sees a half-written page. Characters of the sweep name outside
/// `[A-Za-z0-9._-]` become `_` in the directory name.
pub fn render_sweep(db_path: &Path, sweep: &str, out_dir: &Path) -> Result<PathBuf> {
    let conn = Connection::open_with_flags(
        db_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} read-only", db_path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;

    let generated_at = chrono::Utc::now()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string();
    conn.execute_batch("BEGIN DEFERRED")?;
    let ctx = cells::Ctx::load(&conn, sweep, generated_at.clone())?;
    let cells = cells::build(&ctx)?;
    let status_line = ctx.status_line();
    drop(ctx);
    conn.execute_batch("COMMIT")?;

    let page = html::render_page(&html::Page {
        sweep,
        status_line: &status_line,
        generated_at: &generated_at,
        cells: &cells,
    })?;

    let dir = out_dir.join(dir_name(sweep)?);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("index.html");
    let tmp = dir.join(format!(".index.html.{}.tmp", std::process::id()));
    std::fs::write(&tmp, page).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The report directory's name for a sweep.
fn dir_name(sweep: &str) -> Result<String> {
    let name: String = sweep
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        bail!("sweep name \"{sweep}\" cannot be used as a report directory name");
    }
    Ok(name)
}

#[cfg(test)]
mod tests;
