//! Best so far against compute: after each finished trial (in the order trials finished), the
//! best final validation accuracy of a completed trial so far and that trial's test accuracy,
//! against the training seconds spent by every finished trial (pruned ones included).

use crate::report::charts::{LineChart, Point, Series, XAxis, PALETTE};
use crate::report::context::Ctx;
use crate::report::page::{Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::nice_ticks;
use anyhow::Result;

/// A finished trial in finishing order: (status, training seconds, final val acc, test acc).
pub(crate) type Finished = (String, f64, Option<f64>, Option<f64>);

/// One point per finished trial from the first completed one on: (seconds spent so far, best
/// validation accuracy so far, the test accuracy of that trial).
pub(crate) fn best_so_far(trials: &[Finished]) -> Vec<(f64, f64, f64)> {
    let mut spent = 0.0;
    let mut best: Option<(f64, f64)> = None;
    let mut out = Vec::new();
    for (status, seconds, val, test) in trials {
        spent += seconds;
        if let (true, Some(v), Some(t)) = (status == "completed", val, test) {
            if best.is_none_or(|(bv, _)| *v > bv) {
                best = Some((*v, *t));
            }
        }
        if let Some((v, t)) = best {
            out.push((spent, v, t));
        }
    }
    out
}

/// The chart of [`best_so_far`] with its SQL; `None` before any trial completed.
pub(crate) fn progress(ctx: &Ctx) -> Result<Option<(Input, Output)>> {
    let sql = format!(
        "SELECT t.status, ts.train_seconds, ts.final_val_acc, ts.final_test_acc, t.finished_at
FROM trial_summary ts JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND t.status IN ('completed', 'pruned') AND t.finished_at IS NOT NULL
ORDER BY t.finished_at, t.id;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    let trials: Vec<Finished> = raw
        .iter()
        .map(|r| {
            (
                text(&r[0]),
                num(&r[1]).unwrap_or(0.0),
                num(&r[2]),
                num(&r[3]),
            )
        })
        .collect();
    let points = best_so_far(&trials);
    let Some(&(total, _, _)) = points.last() else {
        return Ok(None);
    };
    let line = |label: &str, color, pick: fn(&(f64, f64, f64)) -> f64| Series {
        label: label.to_string(),
        color,
        dashed: false,
        points: (points.iter())
            .map(|p| Point {
                x: p.0,
                y: pick(p),
                err: None,
            })
            .collect(),
    };
    let chart = LineChart {
        y_bounds: Some((0.0, 1.0)),
        legend_title: String::new(),
        ..LineChart::new(
            "Best so far against training time".to_string(),
            "training seconds spent by the finished trials (cumulative)".to_string(),
            "accuracy".to_string(),
            XAxis::Linear {
                ticks: nice_ticks(0.0, total),
            },
            vec![
                line("best validation acc. so far", PALETTE[0], |p| p.1),
                line("its test acc.", PALETTE[1], |p| p.2),
            ],
        )
    };
    let caption = format!(
        "One point per finished trial ({} rows), in the order the trials finished: the highest \
         final validation accuracy of a completed trial so far (one trial, one seed: the choice \
         a search makes as it goes) and that trial's final test accuracy, against the training \
         seconds (training and evaluation, every epoch) of every finished trial so far, pruned \
         ones included. Wall-clock seconds of the machines that ran them.",
        raw.len()
    );
    Ok(Some((
        Input::sql(sql),
        Output::Chart {
            svg: chart.to_svg()?,
            caption,
            rows: raw.len(),
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(status: &str, s: f64, val: f64, test: f64) -> Finished {
        (status.to_string(), s, Some(val), Some(test))
    }

    #[test]
    fn the_best_so_far_counts_every_trials_seconds_and_only_completed_trials_values() {
        let trials = vec![
            t("pruned", 1.0, 0.99, 0.99),
            t("completed", 2.0, 0.50, 0.40),
            t("completed", 3.0, 0.70, 0.65),
            t("pruned", 1.0, 0.95, 0.95),
            t("completed", 2.0, 0.60, 0.90),
            ("completed".to_string(), 1.0, None, None),
        ];
        assert_eq!(
            best_so_far(&trials),
            vec![
                (3.0, 0.50, 0.40),
                (6.0, 0.70, 0.65),
                (7.0, 0.70, 0.65),
                (9.0, 0.70, 0.65),
                (10.0, 0.70, 0.65),
            ]
        );
        assert!(best_so_far(&trials[..1]).is_empty());
    }
}
