//! Fine-tuned minus from-scratch accuracy against the target size.

use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, model_order, size_label, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::stats::{
    ci, ci_table, findings_output, listing, mean, not_positive, yes_no, Agg,
};
use anyhow::Result;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_gain_findings_detect_an_effect_and_its_absence() {
        // Gain shrinking with size, and stopping at 100/class for freeze 0.
        let mut rows = Vec::new();
        for (n, g) in [(5, 0.30), (20, 0.10), (100, 0.0)] {
            for d in [-0.001, 0.001] {
                rows.push(("freeze 0".to_string(), n, g + d));
                rows.push(("freeze all".to_string(), n, g - 0.05 + d));
            }
        }
        let f = transfer_gain_findings(&rows).join("\n");
        assert!(
            f.contains("freeze 0: pretraining stops helping at 100/class"),
            "{f}"
        );
        assert!(
            f.contains("freeze all: pretraining stops helping at 100/class"),
            "{f}"
        );
        assert!(f.contains("the gain shrinks as the target grows): yes (5/class +0.275, 20/class +0.075, 100/class -0.025"), "{f}");
        assert!(f.contains("Freezing more of the transferred blocks lowers the gain (upper blocks are specific to the source task): yes"), "{f}");
        // No effect: negative transfer everywhere, growing with size.
        let rows: Vec<(String, i64, f64)> = [(5, -0.1), (100, 0.05)]
            .into_iter()
            .map(|(n, g)| ("freeze 0".to_string(), n, g))
            .collect();
        let f = transfer_gain_findings(&rows).join("\n");
        assert!(
            f.contains(
                "freeze 0: pretraining does not help even at the smallest size (5/class -0.100"
            ),
            "{f}"
        );
        assert!(f.contains("target grows): no"), "{f}");
    }
}
