//! The report's cells: what each section queries, plots and says.
//!
//! Every section is one function `fn(&Ctx) -> Result<Option<Cell>>` listed in [`SECTIONS`];
//! it returns `None` when its axis does not vary in the sweep. Adding a cell means writing
//! one such function and adding it to the list. Every chart shows the SQL it was drawn
//! from, and that query returns exactly the rows the chart plots (aggregation over seeds,
//! where needed, is done here in Rust over those rows).

use super::charts::{points_of, Heatmap, LegendEntry, LineChart, Point, Series, XAxis, PALETTE};
use super::html::markdown_to_html;
use super::science;
use anyhow::{Context, Result};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection};
use serde::Serialize;
use std::collections::BTreeMap;

/// One notebook cell: its inputs (what produced it) and its outputs.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub title: String,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
}

/// What produced a cell's output, shown verbatim in a `<pre>`.
#[derive(Clone, Debug, Serialize)]
pub struct Input {
    /// `markdown`, `yaml` or `sql`.
    pub lang: &'static str,
    pub text: String,
}

impl Input {
    pub(crate) fn sql(text: String) -> Self {
        Input { lang: "sql", text }
    }
}

/// A cell output.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// HTML produced by [`markdown_to_html`] (which escapes its input).
    Html { html: String },
    /// Plain text, escaped by the template.
    Text { text: String },
    /// A table; every string is escaped by the template.
    Table(Table),
    /// An SVG chart produced by plotters (which escapes its text), with a caption.
    /// `rows` is the number of rows of the cell's SQL the chart was drawn from.
    Chart {
        svg: String,
        caption: String,
        rows: usize,
    },
    /// A cell that could not be produced (a failing user query), shown instead of failing
    /// the whole report.
    Error { message: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<TableCell>>,
    /// Column headers sort the rows when clicked (a few lines of inline script).
    pub sortable: bool,
    /// Shown under the table (e.g. "first 1000 of 5000 rows").
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableCell {
    pub text: String,
    /// CSS class: `num` for numbers, `status status-<s>` for the status column, `error`.
    pub class: String,
    /// Makes the cell a link (relative URL).
    pub href: Option<String>,
}

/// A report section: builds its cell, or `None` when it does not apply to the sweep.
pub type Section = fn(&Ctx) -> Result<Option<Cell>>;

/// The built-in sections, in page order.
pub const SECTIONS: &[Section] = &[
    intro,
    grid,
    overfitting,
    forgetting,
    forgetting_by_schedule,
    forgetting_vs_lr,
    super::science::forgetting_vs_gain,
    domain_gap,
    super::science::domain_distance,
    data_efficiency,
    super::science::transfer_gain,
    super::science::representation_drift,
    super::science::calibration,
    super::precision::precision,
    schedules,
    heatmap,
    trial_table,
];

/// Builds every built-in cell that applies to the sweep, then the grid's own `report:`
/// cells.
pub fn build(ctx: &Ctx) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for section in SECTIONS {
        if let Some(cell) = section(ctx)? {
            cells.push(cell);
        }
    }
    cells.extend(super::user::cells(ctx));
    Ok(cells)
}

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
    pub status: String,
    pub backbone: String,
    pub pretrained: bool,
    pub freeze: String,
    pub train_per_class: i64,
    pub shift: String,
    pub schedule: String,
    pub lr: f64,
    pub seed: i64,
    pub precision: String,
}

/// What every section may read: the connection, the sweep, its trials, the page's colours.
pub struct Ctx<'a> {
    pub conn: &'a Connection,
    pub sweep: SweepInfo,
    /// All trials of the sweep, by position.
    pub trials: Vec<TrialInfo>,
    pub generated_at: String,
    /// Series label -> colour, fixed for the whole page.
    colors: BTreeMap<String, (u8, u8, u8)>,
}

impl<'a> Ctx<'a> {
    pub fn load(conn: &'a Connection, sweep: &str, generated_at: String) -> Result<Self> {
        let sweep_info = conn
            .query_row(
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
            })?;
        let mut stmt = conn.prepare(
            "SELECT t.status, t.backbone, t.pretrained, t.freeze, t.train_per_class, t.shift,
                    t.schedule, t.seed, t.lr, t.precision
             FROM trials t JOIN sweeps s ON s.id = t.sweep_id
             WHERE s.name = ?1 ORDER BY t.position, t.id",
        )?;
        let trials = stmt
            .query_map(params![sweep], |r| {
                Ok(TrialInfo {
                    status: r.get(0)?,
                    backbone: r.get(1)?,
                    pretrained: r.get::<_, i64>(2)? != 0,
                    freeze: r.get(3)?,
                    train_per_class: r.get(4)?,
                    shift: r.get(5)?,
                    schedule: r.get(6)?,
                    seed: r.get(7)?,
                    lr: r.get(8)?,
                    precision: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading the sweep's trials")?;

        // Colours: one per series label, assigned in a fixed order so that a value has the
        // same colour in every chart of the page.
        let mut colors = BTreeMap::new();
        let mut freeze_values: Vec<&str> = distinct(trials.iter().map(|t| t.freeze.as_str()));
        freeze_values.sort_by_key(|f| freeze_order(f));
        let mut labels: Vec<String> = freeze_values.iter().map(|f| freeze_label(f)).collect();
        labels.push(SCRATCH.to_string());
        for (i, l) in labels.into_iter().enumerate() {
            colors.insert(l, PALETTE[i % PALETTE.len()]);
        }
        let mut sizes = distinct(trials.iter().map(|t| t.train_per_class));
        sizes.sort();
        for (i, n) in sizes.into_iter().enumerate() {
            colors.insert(size_label(n), PALETTE[i % PALETTE.len()]);
        }
        for (i, sch) in distinct(trials.iter().map(|t| t.schedule.as_str()))
            .into_iter()
            .enumerate()
        {
            colors.insert(schedule_label(sch), PALETTE[i % PALETTE.len()]);
        }
        Ok(Ctx {
            conn,
            sweep: sweep_info,
            trials,
            generated_at,
            colors,
        })
    }

    /// The page-wide colour of a series label, if the page assigns one.
    pub(crate) fn known_color(&self, label: &str) -> Option<(u8, u8, u8)> {
        self.colors.get(label).copied()
    }

    pub(crate) fn color(&self, label: &str) -> (u8, u8, u8) {
        self.colors.get(label).copied().unwrap_or(PALETTE[7])
    }

    /// The sweep name as an SQL string literal.
    pub(crate) fn sweep_lit(&self) -> String {
        sql_str(&self.sweep.name)
    }

    fn completed(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.status == "completed")
            .count()
    }

    /// "12 of 20 trials completed, 1 running, 2 failed, 5 pending".
    pub fn status_line(&self) -> String {
        let total = self.trials.len();
        if total == 0 {
            return "No trials recorded yet.".to_string();
        }
        let mut s = format!(
            "{} of {} trial{} completed",
            self.completed(),
            total,
            if total == 1 { "" } else { "s" }
        );
        for status in ["running", "failed", "diverged", "interrupted", "pending"] {
            let n = self.trials.iter().filter(|t| t.status == status).count();
            if n > 0 {
                s.push_str(&format!(", {n} {status}"));
            }
        }
        s.push('.');
        s
    }

    /// Axes with more than one value in the sweep, with their value counts.
    fn varying_axes(&self) -> Vec<(&'static str, usize)> {
        let t = &self.trials;
        let axes = [
            (
                "backbone",
                distinct(t.iter().map(|t| t.backbone.as_str())).len(),
            ),
            ("pretrained", distinct(t.iter().map(|t| t.pretrained)).len()),
            (
                "freeze",
                distinct(t.iter().map(|t| t.freeze.as_str())).len(),
            ),
            (
                "train_per_class",
                distinct(t.iter().map(|t| t.train_per_class)).len(),
            ),
            ("shift", distinct(t.iter().map(|t| t.shift.as_str())).len()),
            (
                "schedule",
                distinct(t.iter().map(|t| t.schedule.as_str())).len(),
            ),
            ("lr", distinct(t.iter().map(|t| t.lr)).len()),
            (
                "precision",
                distinct(t.iter().map(|t| t.precision.as_str())).len(),
            ),
            ("seed", distinct(t.iter().map(|t| t.seed)).len()),
        ];
        axes.into_iter().filter(|(_, n)| *n > 1).collect()
    }

    pub(crate) fn varies(&self, axis: &str) -> bool {
        self.varying_axes().iter().any(|(a, _)| *a == axis)
    }

    /// Caption shared by the aggregated charts.
    pub(crate) fn caption(&self, plotted: &[&str], error_bars: bool) -> String {
        let mut s = format!(
            "Completed trials only ({} of {}); failed, diverged and unfinished trials are listed \
             in the trial table.",
            self.completed(),
            self.trials.len()
        );
        if error_bars {
            s.push_str(
                " Points: mean over trials; error bars: 95% confidence interval of the mean, \
                 Student t with n\u{2212}1 degrees of freedom (none where n = 1).",
            );
        } else {
            s.push_str(" Lines: mean over trials.");
        }
        let others: Vec<&str> = self
            .varying_axes()
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| *a != "seed" && !plotted.contains(a))
            .collect();
        if !others.is_empty() {
            s.push_str(&format!(" Pooled over: {}.", others.join(", ")));
        }
        s
    }
}

pub(crate) const SCRATCH: &str = "scratch";

pub(crate) fn freeze_label(freeze: &str) -> String {
    format!("freeze {freeze}")
}

fn schedule_label(s: &str) -> String {
    format!("schedule {s}")
}

pub(crate) fn size_label(n: i64) -> String {
    format!("{n}/class")
}

/// Sort key of a freeze value: block counts numerically, then `all`.
pub(crate) fn freeze_order(f: &str) -> (u8, i64, String) {
    match f.parse::<i64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, f.to_string()),
    }
}

/// SQL that orders by freeze the same way as [`freeze_order`].
pub(crate) const FREEZE_ORDER_SQL: &str = "freeze = 'all', CAST(freeze AS INTEGER)";

/// Distinct values in order of first appearance.
pub(crate) fn distinct<T: PartialEq>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in it {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// An SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
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
fn typed_rows<T>(
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

/// Epoch ticks: every epoch, thinned to at most about 12 ticks.
pub(crate) fn epoch_ticks(epochs: &[i64]) -> Vec<f64> {
    let mut e: Vec<i64> = distinct(epochs.iter().copied());
    e.sort();
    let step = e.len().div_ceil(12).max(1);
    e.iter().step_by(step).map(|&x| x as f64).collect()
}

pub(crate) fn no_data(title: &str, inputs: Vec<Input>) -> Cell {
    Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![Output::Text {
            text: "No completed trials with these metrics yet.".to_string(),
        }],
    }
}

// ---------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------

/// [1] Title, description, status counts, generation time.
pub fn intro(ctx: &Ctx) -> Result<Option<Cell>> {
    let mut md = format!("# {}\n\n", ctx.sweep.name);
    if !ctx.sweep.description.trim().is_empty() {
        md.push_str(ctx.sweep.description.trim());
        md.push_str("\n\n");
    }
    md.push_str(&format!("**Status:** {}\n\n", ctx.status_line()));
    md.push_str(&format!(
        "Generated {} from the results database. Charts use completed trials only; \
         every chart shows the SQL it was drawn from, runnable with `thaw query`.",
        ctx.generated_at
    ));
    Ok(Some(Cell {
        title: "Sweep".to_string(),
        outputs: vec![Output::Html {
            html: markdown_to_html(&md),
        }],
        inputs: vec![Input {
            lang: "markdown",
            text: md,
        }],
    }))
}

/// [2] The grid file and the number of trials it expands to.
pub fn grid(ctx: &Ctx) -> Result<Option<Cell>> {
    let n = ctx.trials.len();
    let mut md = format!(
        "**{n} trial{}** from `{}`.",
        if n == 1 { "" } else { "s" },
        ctx.sweep.spec_path
    );
    let axes = ctx.varying_axes();
    if !axes.is_empty() {
        let list: Vec<String> = axes.iter().map(|(a, k)| format!("{a} ({k})")).collect();
        md.push_str(&format!(" Axes that vary: {}.", list.join(", ")));
    }
    // Devices, wall time and summed training time.
    let (devices, start, end, train): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<f64>,
    ) = ctx.conn.query_row(
        "SELECT GROUP_CONCAT(DISTINCT t.device), MIN(t.started_at), MAX(t.finished_at),
                    (SELECT SUM(m.value) FROM metrics m JOIN trials t2 ON t2.id = m.trial_id
                     WHERE t2.sweep_id = s.id AND m.name = 'epoch_seconds')
             FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id
             WHERE s.name = ?1",
        params![ctx.sweep.name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let mut facts = Vec::new();
    if let Some(d) = devices.filter(|d| !d.is_empty()) {
        facts.push(format!("- device: {}", d.replace(',', ", ")));
    }
    if let (Some(a), Some(b)) = (&start, &end) {
        let span = chrono::DateTime::parse_from_rfc3339(b)
            .ok()
            .zip(chrono::DateTime::parse_from_rfc3339(a).ok())
            .map(|(b, a)| (b - a).num_seconds());
        facts.push(match span {
            Some(sec) if sec >= 0 => format!(
                "- wall time: {} (first start {a}, last finish {b})",
                fmt_duration(sec as f64)
            ),
            _ => format!("- first start {a}, last finish {b}"),
        });
    }
    if let Some(t) = train.filter(|t| *t > 0.0) {
        facts.push(format!(
            "- training time, summed over trials: {}",
            fmt_duration(t)
        ));
    }
    if !facts.is_empty() {
        md.push_str("\n\n");
        md.push_str(&facts.join("\n"));
    }
    Ok(Some(Cell {
        title: "Grid".to_string(),
        inputs: vec![Input {
            lang: "yaml",
            text: ctx.sweep.spec_yaml.clone(),
        }],
        outputs: vec![Output::Html {
            html: markdown_to_html(&md),
        }],
    }))
}

/// "2 h 05 min", "3 min 20 s", "12.5 s".
fn fmt_duration(sec: f64) -> String {
    let s = sec.round() as i64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{sec:.1} s")
    }
}

/// A row of the overfitting query: (train_per_class, epoch, train_acc, val_acc).
type CurveRow = (i64, i64, Option<f64>, Option<f64>);

/// [3] Overfitting: train vs validation accuracy per epoch, by target size; gap table.
pub fn overfitting(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Overfitting: train vs validation accuracy";
    let curve_sql = format!(
        "SELECT t.train_per_class, m.epoch,
       AVG(CASE WHEN m.name = 'train_acc' THEN m.value END) AS train_acc,
       AVG(CASE WHEN m.name = 'val_acc' THEN m.value END) AS val_acc,
       COUNT(DISTINCT t.id) AS trials
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.status = 'completed'
  AND m.name IN ('train_acc', 'val_acc') AND m.epoch >= 1
GROUP BY t.train_per_class, m.epoch
ORDER BY t.train_per_class, m.epoch;",
        ctx.sweep_lit()
    );
    let gap_sql = format!(
        "SELECT ts.key, ts.train_per_class, ts.seed, ts.final_train_acc, ts.final_val_acc,
       ts.generalization_gap
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed'
  AND ts.final_train_acc IS NOT NULL AND ts.final_val_acc IS NOT NULL
ORDER BY ts.train_per_class, t.position;",
        ctx.sweep_lit()
    );
    let inputs = vec![Input::sql(curve_sql.clone()), Input::sql(gap_sql.clone())];

    let rows = typed_rows(ctx.conn, &curve_sql, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<f64>>(2)?,
            r.get::<_, Option<f64>>(3)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut series = Vec::new();
    for n in distinct(rows.iter().map(|r| r.0)) {
        let label = size_label(n);
        let color = ctx.color(&label);
        let pick = |f: fn(&CurveRow) -> Option<f64>| -> Vec<Point> {
            rows.iter()
                .filter(|r| r.0 == n)
                .filter_map(|r| {
                    f(r).map(|y| Point {
                        x: r.1 as f64,
                        y,
                        err: None,
                    })
                })
                .collect()
        };
        series.push(Series {
            label: label.clone(),
            color,
            dashed: false,
            points: pick(|r| r.2),
        });
        series.push(Series {
            label,
            color,
            dashed: true,
            points: pick(|r| r.3),
        });
    }
    let grey = (0x44, 0x44, 0x44);
    let chart = LineChart {
        legend_title: "train per class".to_string(),
        legend_extra: vec![
            LegendEntry {
                label: "train".to_string(),
                color: grey,
                dashed: false,
            },
            LegendEntry {
                label: "validation".to_string(),
                color: grey,
                dashed: true,
            },
        ],
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            "Train (solid) vs validation (dashed) accuracy".to_string(),
            "epoch".to_string(),
            "accuracy".to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            series,
        )
    };
    let caption = ctx.caption(&["train_per_class"], false);
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![
            Output::Chart {
                svg: chart.to_svg()?,
                caption,
                rows: rows.len(),
            },
            Output::Text {
                text: "Generalization gap = final train accuracy \u{2212} final validation \
                       accuracy, per completed trial, aggregated by target size:"
                    .to_string(),
            },
        ]
        .into_iter()
        .chain(gap_outputs(ctx, &gap_sql)?)
        .collect(),
    }))
}

/// [4] Forgetting: source-task accuracy over fine-tuning epochs, by frozen depth.
pub fn forgetting(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    let title = "Forgetting: source-task accuracy during fine-tuning";
    let curve_sql = format!(
        "SELECT t.freeze, m.epoch, AVG(m.value) AS source_acc, COUNT(*) AS trials
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1
  AND m.name = 'source_acc' AND m.value IS NOT NULL
GROUP BY t.freeze, m.epoch
ORDER BY t.{}, m.epoch;",
        ctx.sweep_lit(),
        FREEZE_ORDER_SQL.replace("CAST(freeze", "CAST(t.freeze")
    );
    let table_sql = format!(
        "SELECT ts.key, ts.freeze, ts.seed, ts.source_acc_pretrained AS source_acc_before,
       ts.source_acc_final AS source_acc_after, ts.forgetting
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.source_acc_pretrained IS NOT NULL AND ts.source_acc_final IS NOT NULL
ORDER BY ts.{}, t.position;",
        ctx.sweep_lit(),
        FREEZE_ORDER_SQL.replace("CAST(freeze", "CAST(ts.freeze")
    );
    let inputs = vec![Input::sql(curve_sql.clone()), Input::sql(table_sql.clone())];
    let rows = typed_rows(ctx.conn, &curve_sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let series: Vec<Series> = distinct(rows.iter().map(|r| r.0.as_str()))
        .into_iter()
        .map(|f| {
            let label = freeze_label(f);
            Series {
                color: ctx.color(&label),
                label,
                dashed: false,
                points: points_of(&rows, f),
            }
        })
        .collect();
    let chart = LineChart {
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            "Source accuracy (epoch 0 = before fine-tuning)".to_string(),
            "fine-tuning epoch".to_string(),
            "source-task accuracy".to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            series,
        )
    };
    let caption = format!(
        "{} Pretrained trials only. Forgetting = source accuracy before \u{2212} after \
         fine-tuning (BWT = \u{2212}forgetting); a fully frozen backbone forgets nothing.",
        ctx.caption(&["freeze", "pretrained"], false)
    );
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![Output::Chart {
            svg: chart.to_svg()?,
            caption,
            rows: rows.len(),
        }]
        .into_iter()
        .chain(forgetting_outputs(ctx, &table_sql)?)
        .collect(),
    }))
}

/// The generalization-gap table (mean and 95% CI per target size) and its finding.
fn gap_outputs(ctx: &Ctx, sql: &str) -> Result<Vec<Output>> {
    let raw = science::query(ctx.conn, sql)?;
    let rows: Vec<(Vec<String>, Vec<Option<f64>>)> = raw
        .iter()
        .map(|r| {
            (
                vec![science::text(&r[1])],
                vec![
                    science::num(&r[3]),
                    science::num(&r[4]),
                    science::num(&r[5]),
                ],
            )
        })
        .collect();
    let mut out = Vec::new();
    let by_size: Vec<(i64, f64)> = distinct(raw.iter().filter_map(|r| science::num(&r[1])))
        .into_iter()
        .filter_map(|n| {
            let v: Vec<f64> = raw
                .iter()
                .filter(|r| science::num(&r[1]) == Some(n))
                .filter_map(|r| science::num(&r[5]))
                .collect();
            science::ci(&v).map(|c| (n as i64, c.0))
        })
        .collect();
    if by_size.len() > 1 {
        let vals: Vec<f64> = by_size.iter().map(|b| b.1).collect();
        out.push(Output::Text {
            text: format!(
                "Finding: the generalization gap shrinks as the target set grows: {} ({}).",
                if vals[vals.len() - 1] < vals[0] {
                    "yes"
                } else {
                    "no"
                },
                by_size
                    .iter()
                    .map(|(n, g)| format!("{} {g:.3}", size_label(*n)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    out.push(Output::Table(science::ci_table(
        &["train_per_class"],
        &["final_train_acc", "final_val_acc", "generalization_gap"],
        &rows,
    )));
    Ok(out)
}

/// Findings of the forgetting table from (freeze, forgetting) per trial.
pub(crate) fn forgetting_findings(rows: &[(String, f64)]) -> Vec<String> {
    let mut freezes = distinct(rows.iter().map(|r| r.0.clone()));
    // Most frozen first: the number of unfrozen blocks grows along the list.
    freezes.sort_by_key(|f| freeze_order(f));
    freezes.reverse();
    let means: Vec<(String, f64)> = freezes
        .iter()
        .filter_map(|f| {
            let v: Vec<f64> = rows.iter().filter(|r| &r.0 == f).map(|r| r.1).collect();
            science::ci(&v).map(|c| (freeze_label(f), c.0))
        })
        .collect();
    let mut out = Vec::new();
    if means.len() > 1 {
        let vals: Vec<f64> = means.iter().map(|m| m.1).collect();
        out.push(format!(
            "Forgetting grows with the number of unfrozen blocks: {} ({}).",
            if science::rises(&vals, 0.0) {
                "yes"
            } else {
                "no"
            },
            means
                .iter()
                .map(|(f, v)| format!("{f} {v:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let all: Vec<f64> = rows.iter().filter(|r| r.0 == "all").map(|r| r.1).collect();
    if !all.is_empty() {
        let max = all.iter().fold(0f64, |a, b| a.max(b.abs()));
        out.push(format!(
            "A frozen backbone (freeze all) forgets nothing: {} (largest |forgetting| {max:.3} \
             over {} trials).",
            if max == 0.0 { "yes" } else { "no" },
            all.len()
        ));
    }
    out
}

/// The forgetting table (mean and 95% CI per frozen depth) and its findings.
fn forgetting_outputs(ctx: &Ctx, sql: &str) -> Result<Vec<Output>> {
    let raw = science::query(ctx.conn, sql)?;
    let rows: Vec<(Vec<String>, Vec<Option<f64>>)> = raw
        .iter()
        .map(|r| {
            (
                vec![freeze_label(&science::text(&r[1]))],
                vec![
                    science::num(&r[3]),
                    science::num(&r[4]),
                    science::num(&r[5]),
                ],
            )
        })
        .collect();
    let pairs: Vec<(String, f64)> = raw
        .iter()
        .filter_map(|r| Some((science::text(&r[1]), science::num(&r[5])?)))
        .collect();
    let mut out = Vec::new();
    let findings = forgetting_findings(&pairs);
    if !findings.is_empty() {
        out.push(Output::Text {
            text: format!("Findings:\n{}", findings.join("\n")),
        });
    }
    out.push(Output::Table(science::ci_table(
        &["model"],
        &["source_acc_before", "source_acc_after", "forgetting"],
        &rows,
    )));
    Ok(out)
}

/// Final test accuracy per trial against one axis, with a series per freeze value
/// (pretrained) plus `scratch`. Rows: (key, series, x value, seed, final_test_acc).
fn final_acc_sql(ctx: &Ctx, axis: &str) -> String {
    per_trial_sql(ctx, axis, "ts.final_test_acc", "final_test_acc")
}

/// One row per completed trial: (key, series, axis value, seed, value AS name).
fn per_trial_sql(ctx: &Ctx, axis: &str, value: &str, name: &str) -> String {
    format!(
        "SELECT ts.key,
       CASE WHEN ts.pretrained = 1 THEN 'freeze ' || ts.freeze ELSE 'scratch' END AS series,
       ts.{axis}, ts.seed, {value} AS {name}
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND {value} IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    )
}

/// Rows of [`final_acc_sql`] as (series, x, accuracy); x read as text.
fn final_acc_rows(ctx: &Ctx, sql: &str) -> Result<Vec<(String, String, f64)>> {
    typed_rows(ctx.conn, sql, |r| {
        let x = match r.get_ref(2)? {
            ValueRef::Integer(n) => n.to_string(),
            ValueRef::Real(x) => x.to_string(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => String::new(),
        };
        Ok((r.get::<_, String>(1)?, x, r.get::<_, f64>(4)?))
    })
}

/// Series in page order (freeze values, then scratch), each point the mean and CI of the
/// rows sharing (series, x). `xpos` maps an x value to its plot position.
fn aggregate_series(
    ctx: &Ctx,
    rows: &[(String, String, f64)],
    xs: &[String],
    xpos: impl Fn(usize, &str) -> f64,
) -> Vec<Series> {
    let mut labels = distinct(rows.iter().map(|r| r.0.as_str()));
    labels.sort_by_key(|l| {
        l.strip_prefix("freeze ")
            .map(|f| (0, freeze_order(f)))
            .unwrap_or((1, (0, 0, l.to_string())))
    });
    labels
        .into_iter()
        .map(|label| {
            let points = xs
                .iter()
                .enumerate()
                .filter_map(|(i, x)| {
                    let v: Vec<f64> = rows
                        .iter()
                        .filter(|r| r.0 == label && &r.1 == x)
                        .map(|r| r.2)
                        .collect();
                    science::ci(&v).map(|(mean, half_width, _)| Point {
                        x: xpos(i, x),
                        y: mean,
                        err: half_width,
                    })
                })
                .collect();
            Series {
                label: label.to_string(),
                color: ctx.color(label),
                dashed: false,
                points,
            }
        })
        .collect()
}

/// [5] Domain gap: final target test accuracy against the shift, by frozen depth.
pub fn domain_gap(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.varies("shift") {
        return Ok(None);
    }
    let title = "Domain gap: target accuracy vs shift";
    let sql = final_acc_sql(ctx, "shift");
    let rows = final_acc_rows(ctx, &sql)?;
    let inputs = vec![Input::sql(sql)];
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let shifts: Vec<String> = distinct(ctx.trials.iter().map(|t| t.shift.clone()));
    let series = aggregate_series(ctx, &rows, &shifts, |i, _| i as f64);
    let chart = LineChart {
        y_bounds: Some((0.0, 1.0)),
        dodge: true,
        ..LineChart::new(
            "Final target test accuracy by shift".to_string(),
            "shift of the target images".to_string(),
            "final test accuracy".to_string(),
            XAxis::Categorical(shifts.clone()),
            series,
        )
    };
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![Output::Chart {
            svg: chart.to_svg()?,
            caption: ctx.caption(&["shift", "freeze", "pretrained"], true),
            rows: rows.len(),
        }]
        .into_iter()
        .chain(shift_finding(&rows, &shifts))
        .collect(),
    }))
}

/// Mean of the third field over the rows whose second field is `x`.
fn mean_at(rows: &[(String, String, f64)], x: &str) -> Option<f64> {
    let v: Vec<f64> = rows.iter().filter(|r| r.1 == x).map(|r| r.2).collect();
    science::ci(&v).map(|c| c.0)
}

/// "Target accuracy is lower under every shift than without: yes (none 0.80, rotate 45 0.65)."
pub(crate) fn shift_finding(rows: &[(String, String, f64)], shifts: &[String]) -> Option<Output> {
    let none = mean_at(rows, "none")?;
    let others: Vec<(String, f64)> = shifts
        .iter()
        .filter(|s| s.as_str() != "none")
        .filter_map(|s| Some((s.clone(), mean_at(rows, s)?)))
        .collect();
    if others.is_empty() {
        return None;
    }
    Some(Output::Text {
        text: format!(
            "Finding: target accuracy is lower under every shift than without: {} (none {none:.3}, \
             {}; mean over models).",
            if others.iter().all(|o| o.1 < none) { "yes" } else { "no" },
            others
                .iter()
                .map(|(s, a)| format!("{s} {a:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// "Accuracy grows with the examples per class: yes (10/class 0.60, 100/class 0.80)."
pub(crate) fn size_finding(rows: &[(String, String, f64)], sizes: &[i64]) -> Option<Output> {
    let means: Vec<(i64, f64)> = sizes
        .iter()
        .filter_map(|n| Some((*n, mean_at(rows, &n.to_string())?)))
        .collect();
    if means.len() < 2 {
        return None;
    }
    let vals: Vec<f64> = means.iter().map(|m| m.1).collect();
    Some(Output::Text {
        text: format!(
            "Finding: accuracy grows with the examples per class: {} ({}; mean over models).",
            if science::rises(&vals, 0.0) {
                "yes"
            } else {
                "no"
            },
            means
                .iter()
                .map(|(n, a)| format!("{} {a:.3}", size_label(*n)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// [6] Data efficiency: final test accuracy against target size (log axis), fine-tuned
/// by frozen depth vs from scratch.
pub fn data_efficiency(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.varies("train_per_class") {
        return Ok(None);
    }
    let title = "Data efficiency: accuracy vs target training size";
    let sql = final_acc_sql(ctx, "train_per_class");
    let rows = final_acc_rows(ctx, &sql)?;
    let inputs = vec![Input::sql(sql)];
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut sizes: Vec<i64> = distinct(ctx.trials.iter().map(|t| t.train_per_class));
    sizes.sort();
    let keys: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
    let series = aggregate_series(ctx, &rows, &keys, |i, _| sizes[i] as f64);
    let chart = LineChart {
        y_bounds: Some((0.0, 1.0)),
        dodge: true,
        ..LineChart::new(
            "Final test accuracy by training examples per class".to_string(),
            "training examples per class (log scale)".to_string(),
            "final test accuracy".to_string(),
            XAxis::Log {
                ticks: sizes.iter().map(|&n| n as f64).collect(),
            },
            series,
        )
    };
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![Output::Chart {
            svg: chart.to_svg()?,
            caption: ctx.caption(&["train_per_class", "freeze", "pretrained"], true),
            rows: rows.len(),
        }]
        .into_iter()
        .chain(size_finding(&rows, &sizes))
        .collect(),
    }))
}

/// [5] Forgetting by schedule: source-task accuracy over epochs, one line per schedule.
pub fn forgetting_by_schedule(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.varies("schedule") {
        return Ok(None);
    }
    let title = "Forgetting by schedule: source-task accuracy during fine-tuning";
    let sql = format!(
        "SELECT t.schedule, m.epoch, AVG(m.value) AS source_acc, COUNT(*) AS trials
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1
  AND m.name = 'source_acc' AND m.value IS NOT NULL
GROUP BY t.schedule, m.epoch
ORDER BY MIN(t.position), m.epoch;",
        ctx.sweep_lit()
    );
    let table_sql = format!(
        "SELECT ts.key, ts.schedule, ts.lr, ts.freeze, ts.seed, ts.forgetting
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.forgetting IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let inputs = vec![Input::sql(sql.clone()), Input::sql(table_sql.clone())];
    let rows = typed_rows(ctx.conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let table_raw = science::query(ctx.conn, &table_sql)?;
    let sched_rows: Vec<ScheduleRow> = table_raw
        .iter()
        .filter_map(|r| {
            Some((
                science::text(&r[1]),
                science::num(&r[2])?,
                science::text(&r[3]),
                science::num(&r[5])?,
            ))
        })
        .collect();
    // Page order of schedules (grid order), whatever order SQL grouped them in.
    let order = distinct(ctx.trials.iter().map(|t| t.schedule.as_str()));
    let mut names = distinct(rows.iter().map(|r| r.0.as_str()));
    names.sort_by_key(|n| order.iter().position(|o| o == n));
    let series: Vec<Series> = names
        .into_iter()
        .map(|sch| Series {
            label: sch.to_string(),
            color: ctx.color(&schedule_label(sch)),
            dashed: false,
            points: points_of(&rows, sch),
        })
        .collect();
    let chart = LineChart {
        legend_title: "schedule".to_string(),
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            "Source accuracy by schedule (epoch 0 = before fine-tuning)".to_string(),
            "fine-tuning epoch".to_string(),
            "source-task accuracy".to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            series,
        )
    };
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} Pretrained trials only.",
            ctx.caption(&["schedule", "pretrained"], false)
        ),
        rows: rows.len(),
    }];
    let finding = schedule_forgetting_finding(&rows);
    if !finding.is_empty() {
        outputs.push(Output::Text { text: finding });
    }
    let findings = ulmfit_findings(&sched_rows);
    if !findings.is_empty() {
        outputs.push(Output::Text {
            text: format!("Findings:\n{}", findings.join("\n")),
        });
    }
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = sched_rows
        .iter()
        .map(|r| (vec![r.0.clone(), freeze_label(&r.2)], vec![Some(r.3)]))
        .collect();
    table_rows.sort_by_key(|r| {
        (
            order.iter().position(|o| *o == r.0[0]),
            science::model_order(&r.0[1]),
        )
    });
    outputs.push(Output::Table(science::ci_table(
        &["schedule", "model"],
        &["forgetting"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs,
    }))
}

/// "cosine lr=0.01 forgot least: source accuracy 0.93 → 0.88 (−0.05)."
fn schedule_forgetting_finding(rows: &[(String, i64, f64)]) -> String {
    let mut drops: Vec<(&str, f64, f64)> = Vec::new();
    for sch in distinct(rows.iter().map(|r| r.0.as_str())) {
        let pts: Vec<&(String, i64, f64)> = rows.iter().filter(|r| r.0 == sch).collect();
        let first = pts.iter().min_by_key(|r| r.1).map(|r| r.2);
        let last = pts.iter().max_by_key(|r| r.1).map(|r| r.2);
        if let (Some(a), Some(b)) = (first, last) {
            drops.push((sch, a, b));
        }
    }
    drops.sort_by(|x, y| (x.1 - x.2).total_cmp(&(y.1 - y.2)));
    match (drops.first(), drops.last()) {
        (Some(best), Some(worst)) if drops.len() > 1 => format!(
            "Least forgetting with {}: source accuracy {:.3} \u{2192} {:.3}; most with {}: \
             {:.3} \u{2192} {:.3} (means over frozen depths and seeds).",
            best.0, best.1, best.2, worst.0, worst.1, worst.2
        ),
        _ => String::new(),
    }
}

/// [6] Forgetting vs learning rate: final forgetting per trial against lr (log axis), one
/// series per frozen depth.
pub fn forgetting_vs_lr(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.varies("lr") {
        return Ok(None);
    }
    let title = "Forgetting vs learning rate";
    let sql = per_trial_sql(
        ctx,
        "lr",
        "ts.source_acc_pretrained - ts.source_acc_final",
        "forgetting",
    )
    .replace(" AS forgetting\n", " AS forgetting, ts.schedule\n");
    let rows = final_acc_rows(ctx, &sql)?;
    let schedules: Vec<String> = science::query(ctx.conn, &sql)?
        .iter()
        .map(|r| science::text(&r[5]))
        .collect();
    let inputs = vec![Input::sql(sql)];
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut lrs: Vec<f64> = distinct(ctx.trials.iter().map(|t| t.lr))
        .into_iter()
        .filter(|l| *l > 0.0)
        .collect();
    lrs.sort_by(f64::total_cmp);
    let keys: Vec<String> = lrs.iter().map(|l| l.to_string()).collect();
    let series = aggregate_series(ctx, &rows, &keys, |i, _| lrs[i]);
    let chart = LineChart {
        y_bounds: Some((-1.0, 1.0)),
        dodge: true,
        ..LineChart::new(
            "Final forgetting by learning rate".to_string(),
            "peak learning rate (log scale)".to_string(),
            "forgetting (source acc. before \u{2212} after)".to_string(),
            XAxis::Log { ticks: lrs },
            series,
        )
    };
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
                "{} Pretrained trials only.",
                ctx.caption(&["lr", "schedule", "freeze", "pretrained"], true)
            ),
            rows: rows.len(),
        }]
        .into_iter()
        .chain(lr_forgetting_finding(&rows, &schedules))
        .collect(),
    }))
}

/// Whether a schedule label uses discriminative rates or gradual unfreezing.
fn is_ulmfit(schedule: &str) -> bool {
    schedule.contains(" decay=") || schedule.contains(" unfreeze")
}

/// "Forgetting grows with the learning rate: yes (lr 0.01 0.020, lr 0.1 0.150)", over the
/// trials with unfrozen blocks and uniform schedules (where the sweep also has others).
pub(crate) fn lr_forgetting_finding(
    rows: &[(String, String, f64)],
    schedules: &[String],
) -> Option<Output> {
    let uniform_exists = schedules.iter().any(|s| !is_ulmfit(s));
    let keep: Vec<&(String, String, f64)> = rows
        .iter()
        .zip(schedules.iter().map(Some).chain(std::iter::repeat(None)))
        .filter(|(r, s)| {
            r.0 != "freeze all" && !(uniform_exists && s.is_some_and(|s| is_ulmfit(s)))
        })
        .map(|(r, _)| r)
        .collect();
    let mut lrs: Vec<f64> = distinct(keep.iter().filter_map(|r| r.1.parse::<f64>().ok()));
    lrs.sort_by(f64::total_cmp);
    let means: Vec<(f64, f64)> = lrs
        .iter()
        .filter_map(|lr| {
            let v: Vec<f64> = keep
                .iter()
                .filter(|r| r.1.parse::<f64>().ok() == Some(*lr))
                .map(|r| r.2)
                .collect();
            science::ci(&v).map(|c| (*lr, c.0))
        })
        .collect();
    if means.len() < 2 {
        return None;
    }
    let vals: Vec<f64> = means.iter().map(|m| m.1).collect();
    Some(Output::Text {
        text: format!(
            "Finding: forgetting grows with the learning rate: {} ({}; mean over trials with \
             unfrozen blocks{}).",
            if science::rises(&vals, 0.0) {
                "yes"
            } else {
                "no"
            },
            means
                .iter()
                .map(|(lr, v)| format!("lr {lr} {v:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            if uniform_exists && schedules.iter().any(|s| is_ulmfit(s)) {
                " and uniform schedules"
            } else {
                ""
            }
        ),
    })
}

/// A schedule-comparison row: (schedule, lr, freeze, forgetting).
pub(crate) type ScheduleRow = (String, f64, String, f64);

/// "Discriminative learning rates with gradual unfreezing forget less than uniform full
/// fine-tuning: yes (…)", comparing each such schedule with the uniform one of the same peak
/// rate at the least frozen depth both have.
pub(crate) fn ulmfit_findings(rows: &[ScheduleRow]) -> Vec<String> {
    let mut out = Vec::new();
    let forgetting = |sch: &str, f: &str| -> Option<f64> {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == sch && r.2 == f)
            .map(|r| r.3)
            .collect();
        science::ci(&v).map(|c| c.0)
    };
    for sch in distinct(
        rows.iter()
            .filter(|r| is_ulmfit(&r.0))
            .map(|r| (r.0.clone(), r.1)),
    ) {
        let uniform = distinct(
            rows.iter()
                .filter(|r| !is_ulmfit(&r.0) && r.1 == sch.1)
                .map(|r| r.0.clone()),
        );
        let Some(u) = uniform.first() else { continue };
        let mut freezes = distinct(
            rows.iter()
                .filter(|r| r.0 == sch.0)
                .map(|r| r.2.clone())
                .filter(|f| rows.iter().any(|r| &r.0 == u && &r.2 == f)),
        );
        freezes.sort_by_key(|f| freeze_order(f));
        let Some(f) = freezes.first() else { continue };
        if let (Some(a), Some(b)) = (forgetting(&sch.0, f), forgetting(u, f)) {
            let what = match (sch.0.contains(" decay="), sch.0.contains(" unfreeze")) {
                (true, true) => "Discriminative learning rates with gradual unfreezing",
                (true, false) => "Discriminative learning rates",
                _ => "Gradual unfreezing",
            };
            out.push(format!(
                "{what} ({}) forget less than uniform fine-tuning ({u}) with freeze {f}: {} \
                 (forgetting {a:.3} vs {b:.3}).",
                sch.0,
                if a < b { "yes" } else { "no" }
            ));
        }
    }
    out
}

/// Sort key of a learning-rate metric: blocks by their number, then the head.
pub(crate) fn block_order(name: &str) -> (u8, i64, String) {
    let b = name.strip_prefix("lr/").unwrap_or(name);
    if b == "head" {
        return (2, 0, String::new());
    }
    let digits: String = b.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.parse::<i64>() {
        Ok(n) => (0, n, b.to_string()),
        Err(_) => (1, 0, b.to_string()),
    }
}

/// One line per block: the learning rate of `lr/<block>` over epochs.
pub(crate) fn lr_series(rows: &[(String, i64, f64)]) -> Vec<Series> {
    let mut blocks = distinct(rows.iter().map(|r| r.0.as_str()));
    blocks.sort_by_key(|b| block_order(b));
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| Series {
            label: b.strip_prefix("lr/").unwrap_or(b).to_string(),
            color: PALETTE[i % PALETTE.len()],
            dashed: false,
            points: points_of(rows, b),
        })
        .collect()
}

/// [9] Schedules: the learning rate of every block over training, one chart per schedule
/// (from its least-frozen trial, first in grid order, so frozen blocks do not hide it).
pub fn schedules(ctx: &Ctx) -> Result<Option<Cell>> {
    if ctx.trials.is_empty() {
        return Ok(None);
    }
    let title = "Schedules: learning rate of every block";
    let sql = format!(
        "WITH rep AS (
    SELECT id, schedule, key, position FROM (
        SELECT t.id, t.schedule, t.key, t.position,
               ROW_NUMBER() OVER (PARTITION BY t.schedule
                                  ORDER BY t.pretrained DESC, t.frozen_blocks, t.position) AS r
        FROM trials t JOIN sweeps s ON s.id = t.sweep_id
        WHERE s.name = {} AND t.status <> 'pending'
          AND EXISTS (SELECT 1 FROM metrics m WHERE m.trial_id = t.id AND m.name LIKE 'lr/%')
    ) WHERE r = 1
)
SELECT rep.schedule, rep.key, m.name AS block, m.epoch, m.value AS lr
FROM rep JOIN metrics m ON m.trial_id = rep.id
WHERE m.name LIKE 'lr/%' AND m.value IS NOT NULL
ORDER BY rep.position, m.name, m.epoch;",
        ctx.sweep_lit()
    );
    let inputs = vec![Input::sql(sql.clone())];
    let rows = typed_rows(ctx.conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, f64>(4)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut outputs = Vec::new();
    for sch in distinct(rows.iter().map(|r| r.0.as_str())) {
        let mine: Vec<(String, i64, f64)> = rows
            .iter()
            .filter(|r| r.0 == sch)
            .map(|r| (r.2.clone(), r.3, r.4))
            .collect();
        let key = rows.iter().find(|r| r.0 == sch).map(|r| r.1.as_str());
        let chart = LineChart {
            legend_title: "block".to_string(),
            ..LineChart::new(
                format!("Learning rate per block: {sch}"),
                "epoch".to_string(),
                "learning rate".to_string(),
                XAxis::Linear {
                    ticks: epoch_ticks(&mine.iter().map(|r| r.1).collect::<Vec<_>>()),
                },
                lr_series(&mine),
            )
        };
        outputs.push(Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
                "Schedule {sch}, as applied in trial {} (the least-frozen trial with this \
                 schedule); a frozen block has learning rate 0.",
                key.unwrap_or("?")
            ),
            rows: mine.len(),
        });
    }
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs,
    }))
}

/// [10] Heatmap: model (frozen depth, or scratch) × examples per class, coloured by the
/// mean final test accuracy.
pub fn heatmap(ctx: &Ctx) -> Result<Option<Cell>> {
    let models = distinct(ctx.trials.iter().map(|t| (t.pretrained, t.freeze.as_str())));
    if models.len() < 2 || !ctx.varies("train_per_class") {
        return Ok(None);
    }
    let title = "Heatmap: frozen depth \u{d7} examples per class";
    let sql = format!(
        "SELECT CASE WHEN pretrained = 1 THEN 'freeze ' || freeze ELSE 'scratch' END AS model,
       train_per_class, AVG(final_test_acc) AS mean_test_acc, COUNT(*) AS trials
FROM trial_summary
WHERE sweep = {} AND status = 'completed' AND final_test_acc IS NOT NULL
GROUP BY model, train_per_class
ORDER BY pretrained DESC, {}, train_per_class;",
        ctx.sweep_lit(),
        FREEZE_ORDER_SQL
    );
    let inputs = vec![Input::sql(sql.clone())];
    let rows = typed_rows(ctx.conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let row_labels = distinct(rows.iter().map(|r| r.0.clone()));
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    let values: Vec<Vec<Option<f64>>> = row_labels
        .iter()
        .map(|m| {
            sizes
                .iter()
                .map(|n| rows.iter().find(|r| &r.0 == m && r.1 == *n).map(|r| r.2))
                .collect()
        })
        .collect();
    let chart = Heatmap {
        title: "Mean final test accuracy".to_string(),
        x_desc: "training examples per class".to_string(),
        x_labels: sizes.iter().map(|n| n.to_string()).collect(),
        y_desc: "model".to_string(),
        y_labels: row_labels.clone(),
        values,
        value_desc: "mean final test accuracy".to_string(),
    };
    // Finding: the best model at each size.
    let mut best = Vec::new();
    for n in &sizes {
        if let Some(r) = rows
            .iter()
            .filter(|r| r.1 == *n)
            .max_by(|a, b| a.2.total_cmp(&b.2))
        {
            best.push(format!("{} at {n}/class ({:.3})", r.0, r.2));
        }
    }
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs: vec![
            Output::Chart {
                svg: chart.to_svg()?,
                caption: ctx.caption(&["freeze", "pretrained", "train_per_class"], false),
                rows: rows.len(),
            },
            Output::Text {
                text: format!("Best: {}.", best.join("; ")),
            },
        ],
    }))
}

/// [7] Every trial with its parameters, final metrics and error.
pub fn trial_table(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT ts.key, ts.status, ts.backbone, ts.pretrained, ts.freeze, ts.train_per_class,
       ts.shift, ts.schedule, {}ts.seed, ts.final_test_acc, ts.best_val_acc, ts.best_epoch,
       ts.source_acc_pretrained, ts.source_acc_final, ts.train_seconds, ts.error
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {}
ORDER BY t.position;",
        if ctx.varies("precision") {
            "ts.precision, "
        } else {
            ""
        },
        ctx.sweep_lit()
    );
    let mut table = sql_table(ctx.conn, &sql)?;
    table.sortable = true;
    if let Some(k) = table.headers.iter().position(|h| h == "key") {
        for row in &mut table.rows {
            row[k].href = Some(format!("trials/{}.html", super::safe_name(&row[k].text)));
        }
    }
    Ok(Some(Cell {
        title: "Trials".to_string(),
        outputs: vec![
            Output::Text {
                text: ctx.status_line(),
            },
            Output::Table(table),
        ],
        inputs: vec![Input::sql(sql)],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ci_matches_hand_computation() {
        // mean 2, sd 1, n 3: half-width = t(0.975, 2) * 1 / sqrt(3) = 4.303 / 1.732...
        let (mean, half_width, n) = science::ci(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(n, 3);
        assert!((mean - 2.0).abs() < 1e-12);
        assert!((half_width.unwrap() - 4.302_652_729_749 / 3f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn mean_ci_single_and_empty() {
        let (mean, half_width, _) = science::ci(&[0.7]).unwrap();
        assert_eq!(mean, 0.7);
        assert_eq!(half_width, None);
        assert_eq!(science::ci(&[]), None);
        // Non-finite values are ignored.
        let (_, half_width, n) = science::ci(&[0.5, f64::NAN, 0.5]).unwrap();
        assert_eq!(n, 2);
        assert_eq!(half_width, Some(0.0));
    }

    #[test]
    fn t_quantiles() {
        // The report uses the exact quantile of `metrics` (the t-table values, to 3 decimals).
        let t975 = |df: usize| crate::metrics::student_t_quantile(0.975, df as f64);
        assert!((t975(1) - 12.706).abs() < 5e-4);
        assert!((t975(30) - 2.042).abs() < 5e-4);
        assert!((t975(60) - 2.000).abs() < 2e-3);
        assert!((t975(120) - 1.980).abs() < 2e-3);
        assert!((t975(100_000) - 1.96).abs() < 1e-3);
    }

    #[test]
    fn sql_literals_are_quoted() {
        assert_eq!(sql_str("it's"), "'it''s'");
    }

    #[test]
    fn freeze_values_sort_numerically_then_all() {
        let mut v = vec!["all", "10", "2", "0"];
        v.sort_by_key(|f| freeze_order(f));
        assert_eq!(v, ["0", "2", "10", "all"]);
    }
}
