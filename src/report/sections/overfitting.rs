//! Train against validation accuracy per epoch, and the generalization gap.

use crate::metrics::names::{TRAIN_ACC, VAL_ACC};
use crate::metrics::statements::{trend, Direction};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, size_label, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, sql_str, text, typed_rows};
use crate::report::series::{chart_cell, epoch_ticks, no_data};
use crate::report::stats::{ci_table, findings_output, listing, means};
use anyhow::Result;

/// A row of the overfitting query: (train_per_class, epoch, train_acc, val_acc).
type CurveRow = (i64, i64, Option<f64>, Option<f64>);

/// [3] Overfitting: train vs validation accuracy per epoch, by target size; gap table.
pub fn overfitting(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Overfitting: train vs validation accuracy";
    let (train, val) = (TRAIN_ACC.name, VAL_ACC.name);
    let (train_lit, val_lit) = (sql_str(train), sql_str(val));
    let curve_sql = format!(
        "SELECT t.train_per_class, m.epoch,
       AVG(CASE WHEN m.name = {train_lit} THEN m.value END) AS {train},
       AVG(CASE WHEN m.name = {val_lit} THEN m.value END) AS {val},
       COUNT(DISTINCT t.id) AS trials
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.status = 'completed' AND t.superseded_in IS NULL
  AND m.name IN ({train_lit}, {val_lit}) AND m.epoch >= 1
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
            Series {
                label: "train".to_string(),
                color: grey,
                dashed: false,
                points: vec![],
            },
            Series {
                label: "validation".to_string(),
                color: grey,
                dashed: true,
                points: vec![],
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
    let subsets = crate::report::eval_note::sweep_note(ctx)?.map(|text| Output::Text { text });
    let gap_intro = Output::Text {
        text: "Generalization gap = final train accuracy \u{2212} final validation accuracy, \
               per completed trial, aggregated by target size:"
            .to_string(),
    };
    Ok(Some(chart_cell(
        title,
        inputs,
        chart.to_svg()?,
        ctx.caption(&["train_per_class"], false),
        rows.len(),
        subsets
            .into_iter()
            .chain(std::iter::once(gap_intro))
            .chain(gap_outputs(ctx, &gap_sql)?),
    )))
}

/// The generalization-gap table (mean and 95% CI per target size) and its finding.
fn gap_outputs(ctx: &Ctx, sql: &str) -> Result<Vec<Output>> {
    let raw = query(ctx.conn, sql)?;
    let rows: Vec<(Vec<String>, Vec<Option<f64>>)> = raw
        .iter()
        .map(|r| (vec![text(&r[1])], vec![num(&r[3]), num(&r[4]), num(&r[5])]))
        .collect();
    let mut out = Vec::new();
    let mut sizes: Vec<i64> = distinct(raw.iter().filter_map(|r| num(&r[1])))
        .into_iter()
        .map(|n| n as i64)
        .collect();
    sizes.sort();
    let levels: Vec<(String, Vec<f64>)> = sizes
        .iter()
        .map(|&n| {
            let v: Vec<f64> = raw
                .iter()
                .filter(|r| num(&r[1]) == Some(n as f64))
                .filter_map(|r| num(&r[5]))
                .collect();
            (size_label(n), v)
        })
        .filter(|l| !l.1.is_empty())
        .collect();
    if levels.len() > 1 {
        let s = trend(
            "The generalization gap shrinks as the target set grows",
            &levels,
            Direction::Down,
        )
        .with_detail(listing(&means(&levels), false));
        out.extend(findings_output(Vec::new(), vec![s]));
    }
    out.push(Output::Table(ci_table(
        &["train_per_class"],
        &["final_train_acc", "final_val_acc", "generalization_gap"],
        &rows,
    )));
    Ok(out)
}
