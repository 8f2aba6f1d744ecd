//! Series building: chart series and axes from query rows, each point aggregated over seeds
//! with [`super::stats::ci`], and the per-trial SQL the aggregated charts are drawn from.

use crate::metrics::names::LR;
use crate::report::charts::{Point, Series, PALETTE};
use crate::report::context::{block_order, distinct, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::typed_rows;
use crate::report::stats::ci;
use anyhow::Result;
use rusqlite::types::ValueRef;

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

/// A cell of one chart (its SVG, caption and the number of query rows drawn), then `more`
/// outputs (findings, tables).
pub(crate) fn chart_cell(
    title: &str,
    inputs: Vec<Input>,
    svg: String,
    caption: String,
    rows: usize,
    more: impl IntoIterator<Item = Output>,
) -> Cell {
    Cell {
        title: title.to_string(),
        inputs,
        outputs: std::iter::once(Output::Chart { svg, caption, rows })
            .chain(more)
            .collect(),
    }
}

/// Final test accuracy per trial against one axis, with a series per freeze value
/// (pretrained) plus `scratch`. Rows: (key, series, x value, seed, final_test_acc).
fn final_acc_sql(ctx: &Ctx, axis: &str) -> String {
    per_trial_sql(ctx, axis, "ts.final_test_acc", "final_test_acc")
}

/// The settings that make a trial (the grid's axes and the seed), as `trial_summary` columns.
pub(crate) const SETTINGS: [&str; 15] = [
    "backbone",
    "pretrained",
    "freeze",
    "source_dataset",
    "target_dataset",
    "train_per_class",
    "shift",
    "schedule",
    "lr",
    "optimizer",
    "seed",
    "epochs",
    "batch_size",
    "precision",
    "max_length",
];

/// One row per completed trial: (key, series, axis value, seed, value AS name, alike), where
/// `alike` joins every setting but `axis`: two trials with the same `alike` differ only in the
/// axis, so their values can be paired.
pub(crate) fn per_trial_sql(ctx: &Ctx, axis: &str, value: &str, name: &str) -> String {
    let alike = alike_sql(axis);
    format!(
        "SELECT ts.key,
       CASE WHEN ts.pretrained = 1 THEN 'freeze ' || ts.freeze ELSE 'scratch' END AS series,
       ts.{axis}, ts.seed, {value} AS {name},
       {alike} AS alike
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND {value} IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    )
}

/// SQL joining every setting of `trial_summary ts` but `axis` (the seed included): two trials
/// with the same value differ only in the axis.
pub(crate) fn alike_sql(axis: &str) -> String {
    SETTINGS
        .iter()
        .filter(|s| **s != axis)
        .map(|s| format!("IFNULL(ts.{s}, '')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ")
}

/// The cell of final test accuracy per trial against `axis` (see [`final_acc_sql`]): `None`
/// when the axis does not vary, the "no data" cell without rows, else
/// `cell(rows, alike, inputs)` with the rows of [`final_acc_rows`].
pub(crate) fn final_acc_cell(
    ctx: &Ctx,
    axis: &str,
    title: &str,
    cell: impl FnOnce(Vec<TrialValue>, Vec<String>, Vec<Input>) -> Result<Cell>,
) -> Result<Option<Cell>> {
    if !ctx.varies(axis) {
        return Ok(None);
    }
    let sql = final_acc_sql(ctx, axis);
    let (rows, alike) = final_acc_rows(ctx, &sql)?;
    let inputs = vec![Input::sql(sql)];
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    cell(rows, alike, inputs).map(Some)
}

/// A completed trial's value against an axis: (series, axis value as text, value).
pub(crate) type TrialValue = (String, String, f64);

/// Rows of [`per_trial_sql`] as (series, x, value), x read as text, and each row's `alike`
/// (in the same order).
pub(crate) fn final_acc_rows(ctx: &Ctx, sql: &str) -> Result<(Vec<TrialValue>, Vec<String>)> {
    let rows = typed_rows(ctx.conn, sql, |r| {
        let x = match r.get_ref(2)? {
            ValueRef::Integer(n) => n.to_string(),
            ValueRef::Real(x) => x.to_string(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            _ => String::new(),
        };
        Ok((
            (r.get::<_, String>(1)?, x, r.get::<_, f64>(4)?),
            r.get::<_, String>(5)?,
        ))
    })?;
    Ok(rows.into_iter().unzip())
}

/// Series in page order (freeze values, then scratch), each point the mean and CI of the
/// rows sharing (series, x). `xpos` maps an x value to its plot position.
pub(crate) fn aggregate_series(
    ctx: &Ctx,
    rows: &[(String, String, f64)],
    xs: &[String],
    xpos: impl Fn(usize, &str) -> f64,
) -> Vec<Series> {
    let mut labels = distinct(rows.iter().map(|r| r.0.as_str()));
    labels.sort_by_key(|l| model_order(l));
    labels
        .into_iter()
        .map(|label| Series {
            label: label.to_string(),
            color: ctx.color(label),
            dashed: false,
            points: aggregate_points(rows, label, xs, &xpos),
        })
        .collect()
}

/// The points of series `label`: at each x of `xs` with rows, the mean of the rows
/// (series, x, value) and the half-width of its 95% interval ([`ci`]); `xpos` maps an x value
/// to its plot position.
pub(crate) fn aggregate_points(
    rows: &[(String, String, f64)],
    label: &str,
    xs: &[String],
    xpos: impl Fn(usize, &str) -> f64,
) -> Vec<Point> {
    xs.iter()
        .enumerate()
        .filter_map(|(i, x)| {
            let v: Vec<f64> = rows
                .iter()
                .filter(|r| r.0 == label && &r.1 == x)
                .map(|r| r.2)
                .collect();
            ci(&v).map(|(mean, half_width, _)| Point {
                x: xpos(i, x),
                y: mean,
                err: half_width,
            })
        })
        .collect()
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

/// The model label of a trial in SQL (`freeze <k>` for pretrained trials, `scratch`).
pub(crate) const MODEL_SQL: &str =
    "CASE WHEN ts.pretrained = 1 THEN 'freeze ' || ts.freeze ELSE 'scratch' END";

/// The points of the `(label, x, y)` rows labelled `label`, in row order, without error bars.
pub(crate) fn points_of<'a>(
    rows: impl IntoIterator<Item = &'a (String, i64, f64)>,
    label: &str,
) -> Vec<Point> {
    rows.into_iter()
        .filter(|r| r.0 == label)
        .map(|r| Point {
            x: r.1 as f64,
            y: r.2,
            err: None,
        })
        .collect()
}

/// One line per block: the learning rate of `lr/<block>` ([`LR`]) over epochs.
pub(crate) fn lr_series(rows: &[(String, i64, f64)]) -> Vec<Series> {
    let mut blocks = distinct(rows.iter().map(|r| r.0.as_str()));
    blocks.sort_by_key(|b| block_order(b));
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| Series {
            label: LR.block_of(b).unwrap_or(b).to_string(),
            color: PALETTE[i % PALETTE.len()],
            dashed: false,
            points: points_of(rows, b),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round() {
        let t = nice_ticks(0.05, 1.21);
        assert_eq!(t, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
        let t = nice_ticks(-0.1, 0.3);
        assert_eq!(t.first(), Some(&-0.1));
        assert_eq!(t.last(), Some(&0.3));
    }
}
