//! The evaluation-science sections (DESIGN.md §6–7): transfer gain against the target size,
//! the forgetting / transfer-gain trade-off, representation drift, calibration and the measured
//! domain distance, plus the helpers every summary table uses to aggregate over seeds.
//!
//! Each section returns `None` when the sweep has no data for it (no scratch baseline, no
//! pretrained trials, metrics not logged). Each chart's SQL returns one row per trial (or per
//! trial and block); the points are means over those rows with a 95% confidence interval
//! ([`crate::metrics::mean_ci95`]), computed here. Each section ends with findings: sentences
//! that say, from the numbers shown, whether the effect the literature expects appeared.

use super::cells::block_order;
use super::cells::{
    distinct, fmt_real, freeze_order, size_label, Cell, Ctx, Input, Output, Table, TableCell,
    SCRATCH,
};
use super::charts::{LineChart, Point, Series, XAxis};
use anyhow::{Context, Result};
use rusqlite::types::Value;
use rusqlite::Connection;

// ---------------------------------------------------------------------------------------
// Aggregation helpers
// ---------------------------------------------------------------------------------------

/// Mean of the finite values with the half-width of its 95% interval (`None` when n = 1),
/// via [`crate::metrics::mean_ci95`]; `None` when there are no finite values.
pub(crate) fn ci(values: &[f64]) -> Option<(f64, Option<f64>, usize)> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let m = crate::metrics::mean_ci95(&v);
    let half = (m.n > 1 && m.hi.is_finite()).then_some(m.hi - m.mean);
    Some((m.mean, half, m.n))
}

/// Mean of the finite values (NaN when there are none).
fn mean(values: &[f64]) -> f64 {
    ci(values).map_or(f64::NAN, |c| c.0)
}

/// Whether the 95% interval reaches 0 or below: the effect is not shown to be positive. With a
/// single value (no interval), whether the value itself is ≤ 0.
fn not_positive(m: f64, half: Option<f64>) -> bool {
    m - half.unwrap_or(0.0) <= 0.0
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

/// A summary table: rows grouped by their key columns (in the given order of first
/// appearance), then for every value column the mean over the group and the half-width of its
/// 95% confidence interval. `trials` counts the rows of the group.
pub(crate) fn ci_table(
    key_headers: &[&str],
    value_headers: &[&str],
    rows: &[(Vec<String>, Vec<Option<f64>>)],
) -> Table {
    let mut headers: Vec<String> = key_headers.iter().map(|h| h.to_string()).collect();
    headers.push("trials".to_string());
    for h in value_headers {
        headers.push(format!("{h} (mean)"));
        headers.push("\u{b1} 95% CI".to_string());
    }
    let keys = distinct(rows.iter().map(|r| &r.0));
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let mut out = Vec::new();
    for key in keys {
        let group: Vec<&(Vec<String>, Vec<Option<f64>>)> =
            rows.iter().filter(|r| &r.0 == key).collect();
        let mut row: Vec<TableCell> = key
            .iter()
            .map(|k| {
                let class = if k.parse::<f64>().is_ok() { "num" } else { "" };
                cell(k.clone(), class)
            })
            .collect();
        row.push(cell(group.len().to_string(), "num"));
        for j in 0..value_headers.len() {
            let v: Vec<f64> = group.iter().filter_map(|r| r.1[j]).collect();
            match ci(&v) {
                Some((m, h, _)) => {
                    row.push(cell(fmt_real(m), "num"));
                    row.push(cell(h.map(fmt_real).unwrap_or_default(), "num"));
                }
                None => {
                    row.push(cell(String::new(), "num"));
                    row.push(cell(String::new(), "num"));
                }
            }
        }
        out.push(row);
    }
    Table {
        headers,
        sortable: out.len() > 1,
        rows: out,
        note: Some(
            "Mean over the rows of the query; \u{b1}: half-width of the 95% confidence interval \
             of the mean (Student t, n\u{2212}1 degrees of freedom; blank where n = 1)."
                .to_string(),
        ),
    }
}

/// Sort key of a series label: `freeze <k>` by frozen depth, then `scratch`, then the rest.
pub(crate) fn model_order(label: &str) -> (u8, (u8, i64, String)) {
    match label.strip_prefix("freeze ") {
        Some(f) => (0, freeze_order(f)),
        None if label == SCRATCH => (1, (0, 0, String::new())),
        None => (2, (0, 0, label.to_string())),
    }
}

/// About five round tick values covering [lo, hi].
pub(crate) fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !lo.is_finite() || !hi.is_finite() {
        return vec![0.0, 1.0];
    }
    let (lo, hi) = if hi - lo < 1e-12 {
        (lo - 0.5 * lo.abs().max(0.1), hi + 0.5 * hi.abs().max(0.1))
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).floor() as i64;
    let end = (hi / step).ceil() as i64;
    (start..=end)
        .map(|i| {
            let v = i as f64 * step;
            // Trim floating-point noise such as 0.30000000000000004.
            (v / step).round() * step
        })
        .map(|v| (v * 1e9).round() / 1e9)
        .collect()
}

/// "freeze all 0.000, freeze 2 0.041, freeze 0 0.083".
fn listing(items: &[(String, f64)], signed: bool) -> String {
    items
        .iter()
        .map(|(k, v)| {
            if signed {
                format!("{k} {v:+.3}")
            } else {
                format!("{k} {v:.3}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Whether the values rise from the first to the last, never falling by more than `tol` on the
/// way (a monotone trend up to noise).
pub(crate) fn rises(values: &[f64], tol: f64) -> bool {
    values.len() > 1
        && values.last() > values.first()
        && values.windows(2).all(|w| w[1] >= w[0] - tol)
}

/// Pearson correlation; NaN with fewer than 2 points or no spread.
pub(crate) fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let (mx, my) = (mean(&x[..n]), mean(&y[..n]));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx).powi(2);
        syy += (y[i] - my).powi(2);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        f64::NAN
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

pub(crate) fn findings_output(lines: Vec<String>) -> Option<Output> {
    (!lines.is_empty()).then(|| Output::Text {
        text: format!("Findings:\n{}", lines.join("\n")),
    })
}

/// The model label of a trial in SQL (`freeze <k>` for pretrained trials, `scratch`).
pub(crate) const MODEL_SQL: &str =
    "CASE WHEN ts.pretrained = 1 THEN 'freeze ' || ts.freeze ELSE 'scratch' END";

// ---------------------------------------------------------------------------------------
// Transfer gain vs examples per class
// ---------------------------------------------------------------------------------------

/// One aggregated point of a series: (series, x key) → mean, half-width, n.
type Agg = (f64, Option<f64>, usize);

/// Per (series, size) mean gain; in series page order, sizes ascending.
fn gain_points(rows: &[(String, i64, f64)]) -> Vec<(String, Vec<(i64, Agg)>)> {
    let mut labels = distinct(rows.iter().map(|r| r.0.clone()));
    labels.sort_by_key(|l| model_order(l));
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    labels
        .into_iter()
        .map(|l| {
            let pts = sizes
                .iter()
                .filter_map(|&n| {
                    let v: Vec<f64> = rows
                        .iter()
                        .filter(|r| r.0 == l && r.1 == n)
                        .map(|r| r.2)
                        .collect();
                    ci(&v).map(|c| (n, c))
                })
                .collect();
            (l, pts)
        })
        .collect()
}

/// Findings of the transfer-gain section from per-trial rows (series, size, gain).
pub(crate) fn transfer_gain_findings(rows: &[(String, i64, f64)]) -> Vec<String> {
    let mut out = Vec::new();
    let points = gain_points(rows);
    // Where pretraining stops helping, per frozen depth.
    for (label, pts) in &points {
        let Some(last) = pts.last() else { continue };
        let stop = pts.iter().find(|(_, c)| not_positive(c.0, c.1));
        let fmt = |(n, c): &(i64, Agg)| match c.1 {
            Some(h) => format!("{} {:+.3} \u{b1} {:.3}", size_label(*n), c.0, h),
            None => format!("{} {:+.3}", size_label(*n), c.0),
        };
        out.push(match stop {
            Some(p) if p.0 == pts[0].0 => format!(
                "{label}: pretraining does not help even at the smallest size ({}; the 95% CI \
                 of the gain includes 0).",
                fmt(p)
            ),
            Some(p) => format!(
                "{label}: pretraining stops helping at {} (smallest size whose 95% CI of the \
                 gain includes 0: {}).",
                size_label(p.0),
                fmt(p)
            ),
            None => format!(
                "{label}: pretraining is still helping at the largest size ({}).",
                fmt(last)
            ),
        });
    }
    // Helps most when the target is small: mean gain over every fine-tuned setting per size.
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    if sizes.len() > 1 {
        let by_size: Vec<(String, f64)> = sizes
            .iter()
            .map(|&n| {
                let v: Vec<f64> = rows.iter().filter(|r| r.1 == n).map(|r| r.2).collect();
                (size_label(n), mean(&v))
            })
            .collect();
        let first = by_size[0].1;
        let last = by_size[by_size.len() - 1].1;
        out.push(format!(
            "Pretraining helps most when the target set is small (the gain shrinks as the \
             target grows): {} ({}; mean over frozen depths).",
            yes_no(first > 0.0 && first > last),
            listing(&by_size, true)
        ));
    }
    // Yosinski et al.: freezing more transferred blocks lowers the gain.
    if points.len() > 1 && points.iter().all(|(l, _)| l.starts_with("freeze ")) {
        let by_freeze: Vec<(String, f64)> = points
            .iter()
            .map(|(l, _)| {
                let v: Vec<f64> = rows.iter().filter(|r| &r.0 == l).map(|r| r.2).collect();
                (l.clone(), mean(&v))
            })
            .collect();
        let first = by_freeze[0].1;
        let last = by_freeze[by_freeze.len() - 1].1;
        out.push(format!(
            "Freezing more of the transferred blocks lowers the gain (upper blocks are specific \
             to the source task): {} ({}; mean over sizes).",
            yes_no(first > last),
            listing(&by_freeze, true)
        ));
    }
    out
}

/// Transfer gain (fine-tuned − from-scratch test accuracy, same data, epochs and seed) against
/// examples per class, one series per frozen depth, with a zero line.
pub fn transfer_gain(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.trials.iter().any(|t| !t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT tg.key, 'freeze ' || tg.freeze AS series, tg.train_per_class, tg.seed,
       tg.finetuned_acc, tg.scratch_acc, tg.transfer_gain
FROM transfer_gain tg
JOIN trials t ON t.id = tg.trial_id
WHERE tg.sweep = {} AND tg.transfer_gain IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<(String, i64, f64)> = raw
        .iter()
        .filter_map(|r| Some((text(&r[1]), num(&r[2])? as i64, num(&r[6])?)))
        .collect();
    let points = gain_points(&rows);
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    let series: Vec<Series> = points
        .iter()
        .map(|(l, pts)| Series {
            label: l.clone(),
            color: ctx.color(l),
            dashed: false,
            points: pts
                .iter()
                .map(|(n, c)| Point {
                    x: *n as f64,
                    y: c.0,
                    err: c.1,
                })
                .collect(),
        })
        .collect();
    let chart = LineChart {
        y_bounds: Some((-1.0, 1.0)),
        dodge: true,
        hline: Some(0.0),
        ..LineChart::new(
            "Transfer gain by training examples per class".to_string(),
            "training examples per class (log scale)".to_string(),
            "gain: fine-tuned \u{2212} scratch test acc.".to_string(),
            XAxis::Log {
                ticks: sizes.iter().map(|&n| n as f64).collect(),
            },
            series,
        )
    };
    let table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = raw
        .iter()
        .map(|r| {
            (
                vec![text(&r[1]), text(&r[2])],
                vec![num(&r[4]), num(&r[5]), num(&r[6])],
            )
        })
        .collect();
    let mut sorted = table_rows.clone();
    sorted.sort_by(|a, b| {
        (model_order(&a.0[0]), a.0[1].parse::<i64>().unwrap_or(0))
            .cmp(&(model_order(&b.0[0]), b.0[1].parse::<i64>().unwrap_or(0)))
    });
    let table = ci_table(
        &["model", "train_per_class"],
        &["finetuned_acc", "scratch_acc", "transfer_gain"],
        &sorted,
    );
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} Gain of each fine-tuned trial over the from-scratch trial with the same \
             backbone, target, size, shift, schedule, optimizer, epochs and seed (view \
             transfer_gain); dashed line: no gain. Negative = negative transfer.",
            ctx.caption(&["train_per_class", "freeze", "pretrained"], true)
        ),
        rows: raw.len(),
    }];
    outputs.extend(findings_output(transfer_gain_findings(&rows)));
    outputs.push(Output::Table(table));
    Ok(Some(Cell {
        title: "Transfer gain vs examples per class".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

// ---------------------------------------------------------------------------------------
// Forgetting vs transfer gain
// ---------------------------------------------------------------------------------------

/// A setting of the trade-off chart: (freeze label, schedule, size) with mean gain and
/// forgetting (mean, half-width).
type Setting = ((String, String, i64), Agg, Agg);

fn tradeoff_settings(rows: &[((String, String, i64), f64, f64)]) -> Vec<Setting> {
    let mut keys = distinct(rows.iter().map(|r| r.0.clone()));
    keys.sort_by_key(|k| (model_order(&k.0), k.2));
    keys.into_iter()
        .filter_map(|k| {
            let g: Vec<f64> = rows.iter().filter(|r| r.0 == k).map(|r| r.1).collect();
            let f: Vec<f64> = rows.iter().filter(|r| r.0 == k).map(|r| r.2).collect();
            Some((k, ci(&g)?, ci(&f)?))
        })
        .collect()
}

/// Findings of the trade-off: whether settings that gain more also forget more.
pub(crate) fn tradeoff_findings(settings: &[Setting]) -> Vec<String> {
    let mut out = Vec::new();
    let name = |k: &(String, String, i64)| format!("{}, {}, {}", k.0, k.1, size_label(k.2));
    if settings.len() >= 3 {
        let g: Vec<f64> = settings.iter().map(|s| s.1 .0).collect();
        let f: Vec<f64> = settings.iter().map(|s| s.2 .0).collect();
        let r = pearson(&g, &f);
        if r.is_finite() {
            out.push(format!(
                "Settings that gain more on the target also forget more of the source (a \
                 trade-off): {} (Pearson r = {r:.2} over {} settings).",
                yes_no(r > 0.0),
                settings.len()
            ));
        }
    }
    if let Some(best) = settings.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0)) {
        out.push(format!(
            "Largest gain: {} (gain {:+.3}, forgetting {:.3}).",
            name(&best.0),
            best.1 .0,
            best.2 .0
        ));
    }
    if let Some(safe) = settings
        .iter()
        .filter(|s| s.1 .0 > 0.0)
        .min_by(|a, b| a.2 .0.total_cmp(&b.2 .0))
    {
        out.push(format!(
            "Least forgetting with a positive gain: {} (gain {:+.3}, forgetting {:.3}).",
            name(&safe.0),
            safe.1 .0,
            safe.2 .0
        ));
    }
    out
}

/// Forgetting against transfer gain, one point per (frozen depth, schedule, size): the
/// price paid on the source task for what is gained on the target.
pub fn forgetting_vs_gain(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.trials.iter().any(|t| !t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT tg.key, 'freeze ' || tg.freeze AS series, tg.schedule, tg.train_per_class,
       tg.seed, tg.transfer_gain, ts.forgetting
FROM transfer_gain tg
JOIN trial_summary ts ON ts.trial_id = tg.trial_id
JOIN trials t ON t.id = tg.trial_id
WHERE tg.sweep = {} AND tg.transfer_gain IS NOT NULL AND ts.forgetting IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<((String, String, i64), f64, f64)> = raw
        .iter()
        .filter_map(|r| {
            Some((
                (text(&r[1]), text(&r[2]), num(&r[3])? as i64),
                num(&r[5])?,
                num(&r[6])?,
            ))
        })
        .collect();
    let settings = tradeoff_settings(&rows);
    let labels = distinct(settings.iter().map(|s| s.0 .0.clone()));
    let series: Vec<Series> = labels
        .iter()
        .map(|l| Series {
            label: l.clone(),
            color: ctx.color(l),
            dashed: false,
            points: settings
                .iter()
                .filter(|s| &s.0 .0 == l)
                .map(|s| Point {
                    x: s.1 .0,
                    y: s.2 .0,
                    err: s.2 .1,
                })
                .collect(),
        })
        .collect();
    let gx: Vec<f64> = settings.iter().map(|s| s.1 .0).collect();
    let lo = gx.iter().copied().fold(0f64, f64::min);
    let hi = gx.iter().copied().fold(0f64, f64::max);
    let chart = LineChart {
        y_bounds: Some((-1.0, 1.0)),
        scatter: true,
        hline: Some(0.0),
        ..LineChart::new(
            "Forgetting vs transfer gain, one point per setting".to_string(),
            "transfer gain (fine-tuned \u{2212} scratch test acc.)".to_string(),
            "forgetting (source acc. before \u{2212} after)".to_string(),
            XAxis::Linear {
                ticks: nice_ticks(lo, hi),
            },
            series,
        )
    };
    let table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = settings
        .iter()
        .flat_map(|s| {
            rows.iter().filter(move |r| r.0 == s.0).map(|r| {
                (
                    vec![r.0 .0.clone(), r.0 .1.clone(), r.0 .2.to_string()],
                    vec![Some(r.1), Some(r.2)],
                )
            })
        })
        .collect();
    let mut outputs =
        vec![Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
            "{} One point per (frozen depth, schedule, examples per class): mean over seeds of \
             the transfer gain (x) and of the forgetting (y); error bars: 95% CI of the \
             forgetting. Fine-tuned trials with a matching from-scratch trial only.",
            ctx.caption(&["train_per_class", "freeze", "pretrained", "schedule", "lr"], true)
        ),
            rows: raw.len(),
        }];
    outputs.extend(findings_output(tradeoff_findings(&settings)));
    outputs.push(Output::Table(ci_table(
        &["model", "schedule", "train_per_class"],
        &["transfer_gain", "forgetting"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Forgetting vs transfer gain: the trade-off".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

/// Sort key of a block name from the input side: `stem` (resnet8) first, then numbered blocks
/// (`block1`…, `stage1`…) by number.
pub(crate) fn input_order(name: &str) -> (u8, (u8, i64, String)) {
    if name == "stem" {
        (0, (0, 0, String::new()))
    } else {
        (1, block_order(name))
    }
}

// ---------------------------------------------------------------------------------------
// Representation drift
// ---------------------------------------------------------------------------------------

/// A drift row: (freeze value, block, cka, weight distance).
pub(crate) type DriftRow = (String, String, f64, Option<f64>);

/// Findings of the drift section.
pub(crate) fn drift_findings(rows: &[DriftRow]) -> Vec<String> {
    let mut out = Vec::new();
    let mut blocks = distinct(rows.iter().map(|r| r.1.clone()));
    blocks.sort_by_key(|b| input_order(b));
    let n_blocks = blocks.len();
    let frozen_count = |f: &str| -> usize {
        if f == "all" {
            n_blocks
        } else {
            f.parse::<usize>().unwrap_or(0).min(n_blocks)
        }
    };
    // Frozen blocks are exactly unchanged.
    let frozen: Vec<&DriftRow> = rows
        .iter()
        .filter(|r| {
            let k = frozen_count(&r.0);
            blocks.iter().position(|b| *b == r.1).is_some_and(|i| i < k)
        })
        .collect();
    if !frozen.is_empty() {
        let max_cka_dev = frozen
            .iter()
            .map(|r| (1.0 - r.2).abs())
            .fold(0f64, f64::max);
        let max_dist = frozen
            .iter()
            .filter_map(|r| r.3)
            .fold(0f64, |a, b| a.max(b.abs()));
        out.push(format!(
            "Frozen blocks are left unchanged (CKA 1, weight distance 0): {} (largest |1 \u{2212} \
             CKA| {max_cka_dev:.1e}, largest weight distance {max_dist:.1e}, over {} frozen \
             blocks).",
            yes_no(max_cka_dev < 1e-3 && max_dist < 1e-6),
            frozen.len()
        ));
    }
    let mut freezes = distinct(rows.iter().map(|r| r.0.clone()));
    freezes.sort_by_key(|f| freeze_order(f));
    let cka_of = |f: &str, b: &str| -> f64 {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == f && r.1 == b)
            .map(|r| r.2)
            .collect();
        mean(&v)
    };
    // Later blocks drift more under the least-frozen setting.
    if let Some(f) = freezes.first() {
        let k = frozen_count(f);
        let trainable: Vec<(String, f64)> = blocks[k.min(n_blocks)..]
            .iter()
            .map(|b| (b.clone(), cka_of(f, b)))
            .collect();
        if trainable.len() > 1 {
            let first = trainable[0].1;
            let last = trainable[trainable.len() - 1].1;
            out.push(format!(
                "Fine-tuned blocks drift more the higher they sit (CKA falls with depth) with \
                 freeze {f}: {} ({}).",
                yes_no(last < first),
                listing(&trainable, false)
            ));
        }
    }
    // Freezing more keeps the top block closer to the pretrained one.
    if freezes.len() > 1 {
        if let Some(top) = blocks.last() {
            let by_freeze: Vec<(String, f64)> = freezes
                .iter()
                .map(|f| (format!("freeze {f}"), cka_of(f, top)))
                .collect();
            let first = by_freeze[0].1;
            let last = by_freeze[by_freeze.len() - 1].1;
            out.push(format!(
                "Freezing more blocks keeps the representation closer to the pretrained one \
                 (CKA of the top block, {top}, rises with the frozen depth): {} ({}).",
                yes_no(last > first),
                listing(&by_freeze, false)
            ));
        }
    }
    out
}

/// Representation drift: linear CKA of every block's output between the pretrained and the
/// fine-tuned network (1 = unchanged), by frozen depth, with the weight distance per block.
pub fn representation_drift(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT t.key, 'freeze ' || t.freeze AS series, SUBSTR(c.name, 5) AS block, t.seed,
       c.value AS cka, w.value AS weight_dist
FROM metrics c
JOIN trials t ON t.id = c.trial_id
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN metrics w ON w.trial_id = c.trial_id AND w.epoch = c.epoch
                   AND w.name = 'weight_dist/' || SUBSTR(c.name, 5)
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1
  AND c.name LIKE 'cka/%' AND c.value IS NOT NULL
ORDER BY t.position, c.name;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<DriftRow> = raw
        .iter()
        .filter_map(|r| {
            let series = text(&r[1]);
            Some((
                series
                    .strip_prefix("freeze ")
                    .unwrap_or(&series)
                    .to_string(),
                text(&r[2]),
                num(&r[4])?,
                num(&r[5]),
            ))
        })
        .collect();
    let mut blocks = distinct(rows.iter().map(|r| r.1.clone()));
    blocks.sort_by_key(|b| input_order(b));
    let mut freezes = distinct(rows.iter().map(|r| r.0.clone()));
    freezes.sort_by_key(|f| freeze_order(f));
    let series: Vec<Series> = freezes
        .iter()
        .map(|f| {
            let label = format!("freeze {f}");
            Series {
                color: ctx.color(&label),
                label,
                dashed: false,
                points: blocks
                    .iter()
                    .enumerate()
                    .filter_map(|(i, b)| {
                        let v: Vec<f64> = rows
                            .iter()
                            .filter(|r| &r.0 == f && &r.1 == b)
                            .map(|r| r.2)
                            .collect();
                        ci(&v).map(|c| Point {
                            x: i as f64,
                            y: c.0,
                            err: c.1,
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    let chart = LineChart {
        y_bounds: Some((0.0, 1.02)),
        dodge: true,
        ..LineChart::new(
            "Linear CKA to the pretrained network, per block".to_string(),
            "block (input \u{2192} output)".to_string(),
            "linear CKA (1 = unchanged)".to_string(),
            XAxis::Categorical(blocks.clone()),
            series,
        )
    };
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = rows
        .iter()
        .map(|r| {
            (
                vec![format!("freeze {}", r.0), r.1.clone()],
                vec![Some(r.2), r.3],
            )
        })
        .collect();
    table_rows.sort_by(|a, b| {
        (model_order(&a.0[0]), input_order(&a.0[1]))
            .cmp(&(model_order(&b.0[0]), input_order(&b.0[1])))
    });
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} Linear CKA (Kornblith et al. 2019) of each block's output on a fixed probe \
             batch of target test images, pretrained vs fine-tuned, at the final epoch. \
             Pretrained trials only.",
            ctx.caption(&["freeze", "pretrained"], true)
        ),
        rows: raw.len(),
    }];
    outputs.extend(findings_output(drift_findings(&rows)));
    outputs.push(Output::Text {
        text: "CKA and L2 distance of each block's weights from their pretrained values:"
            .to_string(),
    });
    outputs.push(Output::Table(ci_table(
        &["model", "block"],
        &["cka", "weight_dist"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Representation drift: CKA per block by frozen depth".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

// ---------------------------------------------------------------------------------------
// Calibration
// ---------------------------------------------------------------------------------------

/// A calibration row: (setting, ece, ece after temperature scaling, temperature).
pub(crate) type CalRow = (String, f64, f64, Option<f64>);

/// Findings: whether temperature scaling lowered the ECE in every setting.
pub(crate) fn calibration_findings(rows: &[CalRow]) -> Vec<String> {
    let mut settings = distinct(rows.iter().map(|r| r.0.clone()));
    settings.sort_by_key(|s| model_order(s));
    let per: Vec<(String, f64, f64, f64)> = settings
        .iter()
        .map(|s| {
            let g: Vec<&CalRow> = rows.iter().filter(|r| &r.0 == s).collect();
            let before = mean(&g.iter().map(|r| r.1).collect::<Vec<_>>());
            let after = mean(&g.iter().map(|r| r.2).collect::<Vec<_>>());
            let t = mean(&g.iter().filter_map(|r| r.3).collect::<Vec<_>>());
            (s.clone(), before, after, t)
        })
        .collect();
    if per.is_empty() {
        return vec![];
    }
    let lowered = per.iter().filter(|p| p.2 < p.1).count();
    let verdict = if lowered == per.len() {
        "yes".to_string()
    } else if lowered == 0 {
        "no".to_string()
    } else {
        format!("in {lowered} of {} settings", per.len())
    };
    let detail: Vec<String> = per
        .iter()
        .map(|p| format!("{} {:.3} \u{2192} {:.3}", p.0, p.1, p.2))
        .collect();
    let mut out = vec![format!(
        "Temperature scaling lowers the expected calibration error: {verdict} ({}).",
        detail.join(", ")
    )];
    let temps: Vec<String> = per
        .iter()
        .filter(|p| p.3.is_finite())
        .map(|p| format!("{} T = {:.2}", p.0, p.3))
        .collect();
    if !temps.is_empty() {
        let over = per.iter().filter(|p| p.3 > 1.0).count();
        out.push(format!(
            "Networks are over-confident before scaling (fitted temperature above 1): {} ({}).",
            if over == per.len() {
                "yes".to_string()
            } else if over == 0 {
                "no".to_string()
            } else {
                format!("in {over} of {} settings", per.len())
            },
            temps.join(", ")
        ));
    }
    out
}

/// Calibration: ECE (15 equal-width bins) before and after temperature scaling fitted on the
/// validation set, by setting, with the fitted temperatures.
pub fn calibration(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT ts.key, {MODEL_SQL} AS setting, ts.seed, ts.ece, ts.ece_ts, ts.temperature
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.ece IS NOT NULL AND ts.ece_ts IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<CalRow> = raw
        .iter()
        .filter_map(|r| Some((text(&r[1]), num(&r[3])?, num(&r[4])?, num(&r[5]))))
        .collect();
    let mut settings = distinct(rows.iter().map(|r| r.0.clone()));
    settings.sort_by_key(|s| model_order(s));
    let bar = |label: &str, color, dashed, pick: fn(&CalRow) -> f64| Series {
        label: label.to_string(),
        color,
        dashed,
        points: settings
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let v: Vec<f64> = rows.iter().filter(|r| &r.0 == s).map(pick).collect();
                ci(&v).map(|c| Point {
                    x: i as f64,
                    y: c.0,
                    err: c.1,
                })
            })
            .collect(),
    };
    let chart = LineChart {
        legend_title: "ECE".to_string(),
        y_bounds: Some((0.0, 1.0)),
        dodge: true,
        bars: true,
        ..LineChart::new(
            "ECE before and after temperature scaling".to_string(),
            "model".to_string(),
            "expected calibration error (15 bins)".to_string(),
            XAxis::Categorical(settings.clone()),
            vec![
                bar("before", (0xd6, 0x27, 0x28), false, |r| r.1),
                bar(
                    "after temperature scaling",
                    (0x1f, 0x77, 0xb4),
                    false,
                    |r| r.2,
                ),
            ],
        )
    };
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = rows
        .iter()
        .map(|r| (vec![r.0.clone()], vec![Some(r.1), Some(r.2), r.3]))
        .collect();
    table_rows.sort_by_key(|r| model_order(&r.0[0]));
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} ECE with 15 equal-width confidence bins on the target test set (Guo et al. \
             2017), before and after dividing the logits by the temperature fitted on the \
             validation set, at the final epoch.",
            ctx.caption(&["freeze", "pretrained"], true)
        ),
        rows: raw.len(),
    }];
    outputs.extend(findings_output(calibration_findings(&rows)));
    outputs.push(Output::Table(ci_table(
        &["model"],
        &["ece", "ece_ts", "temperature"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Calibration: ECE before and after temperature scaling".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

// ---------------------------------------------------------------------------------------
// Domain distance
// ---------------------------------------------------------------------------------------

/// A measured distance: (shift, kind, magnitude, proxy A, MMD², Fréchet), one per checkpoint.
pub(crate) type DistRow = (String, String, f64, Option<f64>, Option<f64>, Option<f64>);

/// Picks one distance out of a [`DistRow`].
type DistPick = fn(&DistRow) -> Option<f64>;

/// Shifts in order of (kind, magnitude), `none` first.
fn shift_order(rows: &[DistRow]) -> Vec<(String, String, f64)> {
    let mut shifts = distinct(rows.iter().map(|r| (r.0.clone(), r.1.clone(), r.2)));
    shifts.sort_by(|a, b| {
        let ka = (a.1 != "none", a.1.clone());
        let kb = (b.1 != "none", b.1.clone());
        ka.cmp(&kb).then(a.2.total_cmp(&b.2))
    });
    shifts
}

/// Findings: whether each distance grows with the shift magnitude (within each kind of shift,
/// `none` counting as magnitude 0), and whether accuracy falls as the proxy A-distance grows.
pub(crate) fn distance_findings(
    dist: &[DistRow],
    acc: &[(String, String, f64, f64)],
) -> Vec<String> {
    let mut out = Vec::new();
    let shifts = shift_order(dist);
    let kinds: Vec<String> = distinct(shifts.iter().map(|s| s.1.clone()))
        .into_iter()
        .filter(|k| k != "none")
        .collect();
    let measures: [(&str, DistPick); 3] = [
        ("proxy A-distance", |r| r.3),
        ("MMD\u{b2}", |r| r.4),
        ("Fr\u{e9}chet distance", |r| r.5),
    ];
    if !kinds.is_empty() && shifts.len() > 1 {
        let mut parts = Vec::new();
        let mut all = true;
        for (name, pick) in measures {
            let mut ok = true;
            let mut listed = Vec::new();
            for kind in &kinds {
                let seq: Vec<(String, f64)> = shifts
                    .iter()
                    .filter(|s| s.1 == "none" || &s.1 == kind)
                    .map(|s| {
                        let v: Vec<f64> = dist
                            .iter()
                            .filter(|r| r.0 == s.0)
                            .filter_map(pick)
                            .collect();
                        (s.0.clone(), mean(&v))
                    })
                    .filter(|s| s.1.is_finite())
                    .collect();
                let vals: Vec<f64> = seq.iter().map(|s| s.1).collect();
                ok &= rises(&vals, 0.0);
                for item in seq {
                    if !listed.contains(&item) {
                        listed.push(item);
                    }
                }
            }
            all &= ok;
            parts.push(format!(
                "{name} {} ({})",
                yes_no(ok),
                listed
                    .iter()
                    .map(|(k, v)| format!("{k} {}", fmt_real(*v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "Measured domain distance grows with the shift magnitude: {} \u{2014} {}.",
            yes_no(all),
            parts.join("; ")
        ));
    }
    // Accuracy against the proxy A-distance: the linear probe (freeze all) if present, else
    // the most frozen setting.
    let mut labels = distinct(acc.iter().map(|a| a.0.clone()));
    labels.sort_by_key(|l| model_order(l));
    let probe = labels
        .iter()
        .find(|l| l.as_str() == "freeze all")
        .or(labels.last());
    if let Some(l) = probe {
        let mut pts: Vec<(String, f64, f64)> =
            distinct(acc.iter().filter(|a| &a.0 == l).map(|a| a.1.clone()))
                .into_iter()
                .map(|s| {
                    let g: Vec<&(String, String, f64, f64)> =
                        acc.iter().filter(|a| &a.0 == l && a.1 == s).collect();
                    (
                        s,
                        mean(&g.iter().map(|a| a.2).collect::<Vec<_>>()),
                        mean(&g.iter().map(|a| a.3).collect::<Vec<_>>()),
                    )
                })
                .collect();
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
        if pts.len() > 1 {
            let x: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let y: Vec<f64> = pts.iter().map(|p| p.2).collect();
            let r = pearson(&x, &y);
            let falls =
                y[y.len() - 1] < y[0] && r.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater);
            let who = if l == "freeze all" {
                "Linear-probe (freeze all)".to_string()
            } else {
                format!("Target ({l})")
            };
            out.push(format!(
                "{who} accuracy falls as the measured distance grows: {} ({}; Pearson r = \
                 {}).",
                yes_no(falls),
                pts.iter()
                    .map(|p| format!("{} A={:.2} acc {:.3}", p.0, p.1, p.2))
                    .collect::<Vec<_>>()
                    .join(", "),
                if r.is_finite() {
                    format!("{r:.2}")
                } else {
                    "n/a".to_string()
                }
            ));
        }
    }
    out
}

/// Target accuracy against the measured domain distance (proxy A-distance on the pretrained
/// backbone's features), one point per shift, one series per frozen depth; and the three
/// distances per shift.
pub fn domain_distance(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT ts.key, 'freeze ' || ts.freeze AS series, ts.shift, ts.seed,
       ts.proxy_a_distance, ts.final_test_acc
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.proxy_a_distance IS NOT NULL AND ts.final_test_acc IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let dist_sql = format!(
        "SELECT d.shift, MIN(t.shift_kind) AS shift_kind, MIN(t.shift_magnitude) AS magnitude,
       d.pretrained_key, d.proxy_a, d.mmd2, d.frechet, d.n_source, d.n_target
FROM domain_distance d
JOIN trials t ON t.domain_key = d.key
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {}
GROUP BY d.key
ORDER BY shift_kind <> 'none', shift_kind, magnitude, d.pretrained_key;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    let draw = query(ctx.conn, &dist_sql)?;
    if raw.is_empty() && draw.is_empty() {
        return Ok(None);
    }
    let acc: Vec<(String, String, f64, f64)> = raw
        .iter()
        .filter_map(|r| Some((text(&r[1]), text(&r[2]), num(&r[4])?, num(&r[5])?)))
        .collect();
    let dist: Vec<DistRow> = draw
        .iter()
        .map(|r| {
            (
                text(&r[0]),
                text(&r[1]),
                num(&r[2]).unwrap_or(0.0),
                num(&r[4]),
                num(&r[5]),
                num(&r[6]),
            )
        })
        .collect();
    let mut outputs = Vec::new();
    if !acc.is_empty() {
        let mut labels = distinct(acc.iter().map(|a| a.0.clone()));
        labels.sort_by_key(|l| model_order(l));
        let mut xs = Vec::new();
        let series: Vec<Series> = labels
            .iter()
            .map(|l| {
                let mut points: Vec<Point> =
                    distinct(acc.iter().filter(|a| &a.0 == l).map(|a| a.1.clone()))
                        .into_iter()
                        .filter_map(|s| {
                            let g: Vec<&(String, String, f64, f64)> =
                                acc.iter().filter(|a| &a.0 == l && a.1 == s).collect();
                            let x = mean(&g.iter().map(|a| a.2).collect::<Vec<_>>());
                            let y = ci(&g.iter().map(|a| a.3).collect::<Vec<_>>())?;
                            xs.push(x);
                            Some(Point {
                                x,
                                y: y.0,
                                err: y.1,
                            })
                        })
                        .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                Series {
                    label: l.clone(),
                    color: ctx.color(l),
                    dashed: false,
                    points,
                }
            })
            .collect();
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let chart = LineChart {
            y_bounds: Some((0.0, 1.0)),
            dodge: true,
            ..LineChart::new(
                "Target test accuracy vs proxy A-distance".to_string(),
                "proxy A-distance, source vs shifted target".to_string(),
                "final test accuracy".to_string(),
                XAxis::Linear {
                    ticks: nice_ticks(lo, hi),
                },
                series,
            )
        };
        outputs.push(Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
                "{} One point per shift: x = mean proxy A-distance 2(1 \u{2212} 2\u{3b5}) of \
                 the trials' source vs shifted-target features on the pretrained backbone, y = \
                 mean final test accuracy. Pretrained trials only.",
                ctx.caption(&["shift", "freeze", "pretrained"], true)
            ),
            rows: raw.len(),
        });
    }
    outputs.extend(findings_output(distance_findings(&dist, &acc)));
    if !dist.is_empty() {
        outputs.push(Output::Text {
            text: "Distances on the pretrained backbone's features, one measurement per \
                   (checkpoint, shift), aggregated over checkpoints (seeds):"
                .to_string(),
        });
        let table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = shift_order(&dist)
            .iter()
            .flat_map(|s| {
                dist.iter()
                    .filter(move |r| r.0 == s.0)
                    .map(|r| (vec![r.0.clone()], vec![r.3, r.4, r.5]))
            })
            .collect();
        outputs.push(Output::Table(ci_table(
            &["shift"],
            &["proxy_a", "mmd2", "frechet"],
            &table_rows,
        )));
    }
    Ok(Some(Cell {
        title: "Target accuracy vs measured domain distance".to_string(),
        inputs: vec![Input::sql(sql), Input::sql(dist_sql)],
        outputs,
    }))
}
