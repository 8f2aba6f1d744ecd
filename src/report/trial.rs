//! One page per trial: `reports/<sweep>/trials/<key>.html`.
//!
//! A page shows the trial's resolved config (`trials.config_json`, pretty-printed), its
//! status, times and error, its tags and notes, every curve it recorded (losses, accuracies,
//! the learning rate of every block, epoch timings and any other metric), the test split's
//! confusion matrix and the environment it ran in. Each chart and table shows the SQL that
//! returns exactly its rows.
//!
//! Pages of finished trials are rewritten only when something they show changed: each page
//! carries a stamp (a hash of the trial row, its tags and notes, the templates and the thaw
//! version) and a page whose stamp matches is left alone, so re-rendering after every trial
//! stays cheap.

use super::charts::{LineChart, Series, XAxis, PALETTE};
use super::confusion::{self, TestConfusion};
use super::html::{markdown_to_html, Templates, TrialPage};
use super::page::{Cell, Input, Output, Table, TableCell};
use super::rows::{family_like, fmt_real, parsed, sql_str};
use super::series::{epoch_ticks, lr_series, points_of};
use crate::metrics::names::{
    EPOCH_SECONDS, LR, SOURCE_ACC, TEST_ACC, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS,
};
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
                t.error, t.environment_key
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
                environment: Vec::new(),
                stamp: String::new(),
                metrics: Vec::new(),
                confusion: TestConfusion::default(),
                tags: Vec::new(),
                notes: Vec::new(),
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
                "{fingerprint}\0{sweep}\0{}\0{}\0{}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
                t.key,
                t.status,
                t.config_json,
                t.device,
                t.started_at,
                t.finished_at,
                t.error,
                t.tags,
                t.notes,
                t.environment_key
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
    let cells = build_cells(sweep, t)?;
    let status_line = format!("status {}", t.status);
    tpl.trial(&TrialPage {
        sweep,
        key: &t.key,
        status_line: &status_line,
        generated_at,
        stamp: &t.stamp,
        cells: &cells,
    })
}

/// SQL returning one trial's rows of the given metrics (`lr/%` patterns allowed).
pub(crate) fn metric_sql(sweep: &str, key: &str, filter: &str) -> String {
    format!(
        "SELECT m.name, m.epoch, m.value
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.key = {}
  AND {filter} AND m.value IS NOT NULL
ORDER BY m.name, m.epoch;",
        sql_str(sweep),
        sql_str(key)
    )
}

fn names_in(names: &[&str]) -> String {
    let list: Vec<String> = names.iter().map(|n| sql_str(n)).collect();
    format!("m.name IN ({})", list.join(", "))
}

const LOSSES: &[&str] = &[TRAIN_LOSS.name, VAL_LOSS.name];
const ACCURACIES: &[&str] = &[TRAIN_ACC.name, VAL_ACC.name, TEST_ACC.name, SOURCE_ACC.name];
/// The validation curves, drawn dashed.
const VALIDATION: &[&str] = &[VAL_LOSS.name, VAL_ACC.name];

/// The colour of a loss or accuracy curve: one per split (train, validation, test, source).
fn metric_color(name: &str) -> (u8, u8, u8) {
    let splits: [&[&str]; 4] = [
        &[TRAIN_LOSS.name, TRAIN_ACC.name],
        VALIDATION,
        &[TEST_ACC.name],
        &[SOURCE_ACC.name],
    ];
    PALETTE[splits.iter().position(|s| s.contains(&name)).unwrap_or(7)]
}

fn curve_chart(
    title: &str,
    y_desc: &str,
    rows: &[&(String, i64, f64)],
    y_bounds: Option<(f64, f64)>,
    palette_by_order: bool,
) -> LineChart {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.0.as_str()) {
            names.push(&r.0);
        }
    }
    let series = names
        .iter()
        .enumerate()
        .map(|(i, n)| Series {
            label: n.to_string(),
            color: if palette_by_order {
                PALETTE[i % PALETTE.len()]
            } else {
                metric_color(n)
            },
            dashed: VALIDATION.contains(n),
            points: points_of(rows.iter().copied(), n),
        })
        .collect();
    LineChart {
        title: title.to_string(),
        x_desc: "epoch".to_string(),
        y_desc: y_desc.to_string(),
        x_axis: XAxis::Linear {
            ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        },
        series,
        legend_title: "metric".to_string(),
        legend_extra: vec![],
        y_bounds,
        dodge: false,
        bars: false,
        scatter: false,
        hline: None,
    }
}

/// The cells of one trial page.
pub(crate) fn build_cells(sweep: &str, t: &TrialData) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();

    let train_seconds: f64 = t
        .metrics
        .iter()
        .filter(|m| m.0 == EPOCH_SECONDS.name)
        .map(|m| m.2)
        .sum();
    cells.push(config_cell(t, train_seconds));
    cells.extend(super::sections::notes::trial_cell(
        sweep, &t.key, &t.tags, &t.notes,
    ));

    let mut chart_cell =
        |title: &str, filter: String, rows: Vec<&(String, i64, f64)>, chart: LineChart| {
            let sql = metric_sql(sweep, &t.key, &filter);
            let outputs = if rows.is_empty() {
                vec![Output::Text {
                    text: "No values recorded yet.".to_string(),
                }]
            } else {
                match chart.to_svg() {
                    Ok(svg) => vec![Output::Chart {
                        svg,
                        caption: String::new(),
                        rows: rows.len(),
                    }],
                    Err(e) => vec![Output::Error {
                        message: format!("{e:#}"),
                    }],
                }
            };
            cells.push(Cell {
                title: title.to_string(),
                inputs: vec![Input::sql(sql)],
                outputs,
            });
        };

    let is =
        |set: &'static [&'static str]| move |m: &&(String, i64, f64)| set.contains(&m.0.as_str());
    let loss: Vec<_> = t.metrics.iter().filter(is(LOSSES)).collect();
    let chart = curve_chart("Loss", "cross-entropy loss", &loss, None, false);
    chart_cell("Loss", names_in(LOSSES), loss, chart);

    let acc: Vec<_> = t.metrics.iter().filter(is(ACCURACIES)).collect();
    let chart = curve_chart("Accuracy", "accuracy", &acc, Some((0.0, 1.0)), false);
    chart_cell("Accuracy", names_in(ACCURACIES), acc, chart);

    let lr: Vec<&(String, i64, f64)> = t
        .metrics
        .iter()
        .filter(|m| LR.block_of(&m.0).is_some())
        .collect();
    let owned: Vec<(String, i64, f64)> = lr.iter().map(|r| (*r).clone()).collect();
    let chart = LineChart {
        legend_title: "block".to_string(),
        ..LineChart::new(
            "Learning rate per block".to_string(),
            "epoch".to_string(),
            LR.label.to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&lr.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            lr_series(&owned),
        )
    };
    chart_cell(
        "Learning rate per block",
        format!("m.name LIKE {}", family_like(LR)),
        lr,
        chart,
    );

    let known = |n: &str| {
        LOSSES.contains(&n)
            || ACCURACIES.contains(&n)
            || LR.block_of(n).is_some()
            || n == EPOCH_SECONDS.name
    };
    let other: Vec<&(String, i64, f64)> = t.metrics.iter().filter(|m| !known(&m.0)).collect();
    if !other.is_empty() {
        let mut names: Vec<&str> = other.iter().map(|m| m.0.as_str()).collect();
        names.dedup();
        let chart = curve_chart("Other metrics", "value", &other, None, true);
        chart_cell("Other metrics", names_in(&names), other, chart);
    }

    cells.extend(confusion::matrix_cell(sweep, &t.key, &t.confusion));
    cells.push(timings_cell(sweep, t, train_seconds));
    cells.push(environment_cell(sweep, t));
    Ok(cells)
}

/// The environment the trial ran in, one row shown as a field/value table.
fn environment_cell(sweep: &str, t: &TrialData) -> Cell {
    let sql = format!(
        "SELECT e.*
FROM environments e
JOIN trials t ON t.environment_key = e.key
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.key = {};",
        sql_str(sweep),
        sql_str(&t.key)
    );
    let cell = |text: &str, class: &str| TableCell {
        text: text.to_string(),
        class: class.to_string(),
        href: None,
    };
    let outputs = if t.environment.is_empty() {
        vec![Output::Text {
            text: "No environment recorded: the trial has not started, or it ran before thaw \
                   recorded provenance."
                .to_string(),
        }]
    } else {
        vec![Output::Table(Table {
            headers: vec!["field".into(), "value".into()],
            rows: (t.environment.iter())
                .map(|(name, value)| vec![cell(name, "key"), cell(value, "")])
                .collect(),
            sortable: false,
            note: Some("The query's one row, a field per line.".to_string()),
        })]
    };
    Cell {
        title: "Environment (provenance)".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }
}

/// The trial's resolved config, status, device, times and error.
fn config_cell(t: &TrialData, train_seconds: f64) -> Cell {
    let pretty = serde_json::from_str::<serde_json::Value>(&t.config_json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| t.config_json.clone());
    let mut md = format!("**Status:** {}", t.status);
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "\u{2014}".to_string());
    md.push_str(&format!(
        "\n\n- device: `{}`\n- started: {}\n- finished: {}\n- training time: {}",
        opt(&t.device),
        opt(&t.started_at),
        opt(&t.finished_at),
        if train_seconds > 0.0 {
            format!("{train_seconds:.1} {}", EPOCH_SECONDS.unit)
        } else {
            "\u{2014}".to_string()
        }
    ));
    let mut outputs = vec![Output::Html {
        html: markdown_to_html(&md),
    }];
    if let Some(e) = t.error.as_deref().filter(|e| !e.is_empty()) {
        outputs.push(Output::Error {
            message: e.to_string(),
        });
    }
    Cell {
        title: format!("Trial {}: resolved config", t.key),
        inputs: vec![Input {
            lang: "json",
            text: pretty,
        }],
        outputs,
    }
}

/// Seconds per epoch, as a table, and their total and mean.
fn timings_cell(sweep: &str, t: &TrialData, train_seconds: f64) -> Cell {
    let secs: Vec<&(String, i64, f64)> = t
        .metrics
        .iter()
        .filter(|m| m.0 == EPOCH_SECONDS.name)
        .collect();
    let filter = format!("m.name = {}", sql_str(EPOCH_SECONDS.name));
    let sql = metric_sql(sweep, &t.key, &filter);
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let outputs = if secs.is_empty() {
        vec![Output::Text {
            text: "No epochs timed yet.".to_string(),
        }]
    } else {
        vec![
            Output::Table(Table {
                headers: vec!["name".into(), "epoch".into(), "value".into()],
                rows: secs
                    .iter()
                    .map(|r| {
                        vec![
                            cell(r.0.clone(), ""),
                            cell(r.1.to_string(), "num"),
                            cell(fmt_real(r.2), "num"),
                        ]
                    })
                    .collect(),
                sortable: false,
                note: None,
            }),
            Output::Text {
                text: format!(
                    "{} epochs, {train_seconds:.1} {unit} in total, {:.2} {unit} per epoch on \
                     average.",
                    secs.len(),
                    train_seconds / secs.len() as f64,
                    unit = EPOCH_SECONDS.unit,
                ),
            },
        ]
    };
    Cell {
        title: "Timings (seconds per epoch)".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }
}
