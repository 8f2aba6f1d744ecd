//! One page per trial: `reports/<sweep>/trials/<key>.html`.
//!
//! This module reads what the pages show and writes them; their cells (config, curves,
//! timings, confusion matrix, environment) are built in `trial_cells.rs`.
//!
//! Pages of finished trials are rewritten only when something they show changed: each page
//! carries a stamp (a hash of the trial row, its tags and notes, the templates and the thaw
//! version) and a page whose stamp matches is left alone, so re-rendering after every trial
//! stays cheap.

use super::confusion::{self, TestConfusion};
use super::html::{Templates, TrialPage};
use super::rows::parsed;
use crate::track::TrialStatus;
use anyhow::{Context, Result};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

/// Everything one trial page shows, read inside the report's snapshot.
pub(crate) struct TrialData {
    pub key: String,
    pub status: TrialStatus,
    pub config_json: String,
    pub device: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// The grid version that added it, and the training semantics it ran under (`None`:
    /// recorded before thaw tracked it).
    pub grid_version: i64,
    pub semantics: Option<String>,
    /// `trials.environment_key`: the environment of the runner that ran it last.
    pub environment_key: Option<String>,
    /// That environment's columns (but the whole record's JSON) and values, in table order.
    pub environment: Vec<(String, String)>,
    pub stamp: String,
    /// (name, epoch, value) ordered by name, epoch; NULL values left out.
    pub metrics: Vec<(String, i64, f64)>,
    /// The test split's confusion at the final epoch (empty until the trial completes).
    pub confusion: TestConfusion,
    /// Its tags, sorted, and its notes (created_at, text), oldest first.
    pub tags: Vec<String>,
    pub notes: Vec<(String, String)>,
    /// For a pruned trial, the rung decision that stopped it, in words.
    pub stop: Option<String>,
}

/// The file name of a trial's page.
pub(crate) fn page_name(key: &str) -> String {
    format!("{}.html", super::files::safe_name(key))
}

/// Reads the trials whose page must be (re)written into `dir`.
pub(crate) fn load(
    conn: &Connection,
    sweep: &str,
    fingerprint: &str,
    dir: &Path,
) -> Result<Vec<TrialData>> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.key, t.status, t.config_json, t.device, t.started_at, t.finished_at,
                t.error, t.environment_key, t.grid_version, t.semantics
         FROM trials t JOIN sweeps s ON s.id = t.sweep_id
         WHERE s.name = ?1 AND t.superseded_in IS NULL ORDER BY t.position, t.id",
    )?;
    let rows: Vec<(i64, TrialData)> = stmt
        .query_map(params![sweep], |r| {
            let t = TrialData {
                key: r.get(1)?,
                status: parsed(r, 2, |s| s.parse::<TrialStatus>().ok())?,
                config_json: r.get(3)?,
                device: r.get(4)?,
                started_at: r.get(5)?,
                finished_at: r.get(6)?,
                error: r.get(7)?,
                environment_key: r.get(8)?,
                grid_version: r.get(9)?,
                semantics: r.get(10)?,
                environment: Vec::new(),
                stamp: String::new(),
                metrics: Vec::new(),
                confusion: TestConfusion::default(),
                tags: Vec::new(),
                notes: Vec::new(),
                stop: None,
            };
            Ok((r.get(0)?, t))
        })?
        .collect::<rusqlite::Result<_>>()
        .context("reading the trials")?;
    let mut metrics = conn.prepare_cached(
        "SELECT name, epoch, value FROM metrics
         WHERE trial_id = ?1 AND value IS NOT NULL ORDER BY name, epoch",
    )?;
    let tags = crate::track::notes::tags(conn, sweep)?;
    let notes = crate::track::notes::notes(conn, sweep)?;
    let mut out = Vec::new();
    for (id, mut t) in rows {
        if t.status == TrialStatus::Pruned {
            t.stop = stop_of(conn, id)?;
        }
        let own = |k: &Option<String>| k.as_deref() == Some(t.key.as_str());
        t.tags = tags
            .iter()
            .filter(|g| own(&g.trial_key))
            .map(|g| g.tag.clone())
            .collect();
        t.notes = notes
            .iter()
            .filter(|n| own(&n.trial_key))
            .map(|n| (n.created_at.clone(), n.text.clone()))
            .collect();
        t.stamp = blake3::hash(
            format!(
                "{fingerprint}\0{sweep}\0{}\0{}\0{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{}\0{:?}\0{}",
                t.key,
                t.status,
                t.config_json,
                t.device,
                t.started_at,
                t.finished_at,
                t.error,
                t.tags,
                t.notes,
                t.environment_key,
                t.grid_version,
                t.semantics,
                crate::spec::SEMANTICS
            )
            .as_bytes(),
        )
        .to_hex()[..24]
            .to_string();
        let finished = !matches!(t.status, TrialStatus::Pending | TrialStatus::Running);
        if finished
            && existing_stamp(&dir.join(page_name(&t.key))).as_deref() == Some(t.stamp.as_str())
        {
            continue;
        }
        t.metrics = metrics
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        t.confusion = confusion::load(conn, id)?;
        if let Some(key) = &t.environment_key {
            t.environment = environment_of(conn, key)?;
        }
        out.push(t);
    }
    Ok(out)
}

/// The columns and values of the environment `key` but its `record_json` (which repeats them),
/// as text; empty when there is no such row.
fn environment_of(conn: &Connection, key: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT * FROM environments WHERE key = ?1")?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt.query(params![key])?;
    let Some(row) = rows.next()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        if name != "record_json" {
            out.push((name, super::rows::text(&row.get(i)?)));
        }
    }
    Ok(out)
}

/// The stamp in an existing page's `<meta name="thaw-stamp">`, if any.
fn existing_stamp(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = vec![0u8; 1024];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    let marker = "name=\"thaw-stamp\" content=\"";
    let at = head.find(marker)? + marker.len();
    let end = head[at..].find('"')?;
    Some(head[at..at + end].to_string())
}

/// Renders and writes the pages, on all cores.
pub(crate) fn render_all(
    tpl: &Templates,
    sweep: &str,
    generated_at: &str,
    dir: &Path,
    trials: Vec<TrialData>,
) -> Result<usize> {
    if trials.is_empty() {
        return Ok(0);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(trials.len())
        .max(1);
    let chunk = trials.len().div_ceil(workers);
    let n = trials.len();
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = trials
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || -> Result<()> {
                    for t in part {
                        let path: PathBuf = dir.join(page_name(&t.key));
                        let page = render_one(tpl, sweep, generated_at, t)
                            .with_context(|| format!("rendering the page of trial {}", t.key))?;
                        super::files::write_atomic(&path, page.as_bytes())?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a trial page renderer panicked"))??;
        }
        Ok(())
    })?;
    Ok(n)
}

fn render_one(tpl: &Templates, sweep: &str, generated_at: &str, t: &TrialData) -> Result<String> {
    let cells = super::trial_cells::build_cells(sweep, t)?;
    let status_line = match &t.stop {
        Some(stop) => format!("status {}: {stop}", t.status),
        None => format!("status {}", t.status),
    };
    tpl.trial(&TrialPage {
        sweep,
        key: &t.key,
        status_line: &status_line,
        generated_at,
        stamp: &t.stamp,
        cells: &cells,
    })
}

/// The rung decision that stopped trial `id` (`early_stop:`), in words.
fn stop_of(conn: &Connection, id: i64) -> Result<Option<String>> {
    let stop = conn.query_row(
        "SELECT rung, epoch, metric, value, compared, cutoff FROM rung_decisions
         WHERE trial_id = ?1 AND decision = 'stop' ORDER BY rung LIMIT 1",
        [id],
        |r| {
            let number = |i: usize| -> rusqlite::Result<String> {
                let v: Option<f64> = r.get(i)?;
                Ok(v.map_or("not finite".into(), |v| format!("{v:.4}")))
            };
            Ok(format!(
                "stopped at rung epoch {} (measured at epoch {}): {} {} against the cutoff {} of {} trials",
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                number(3)?,
                number(5)?,
                r.get::<_, i64>(4)?
            ))
        },
    );
    match stop {
        Ok(s) => Ok(Some(s)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e).context("reading the rung decision that stopped a trial"),
    }
}
