//! Fine-tuned minus from-scratch accuracy against the target size.

use crate::metrics::statements::{every_group, paired, trend, Direction, Statement, Verdict};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, model_order, size_label, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::stats::{ci, ci_table, findings_output, listing, means, Agg};
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

/// Findings of the transfer-gain section from per-trial rows (series, size, gain): per frozen
/// depth whether the gain is positive at every size (naming negative transfer where the
/// gain's interval lies below 0, in a note and in the statement's detail), whether it shrinks
/// as the target grows, and whether freezing more lowers it. Returns (notes, statements).
pub(crate) fn transfer_gain_findings(rows: &[(String, i64, f64)]) -> (Vec<String>, Vec<Statement>) {
    let mut out = Vec::new();
    let mut labels = distinct(rows.iter().map(|r| r.0.clone()));
    labels.sort_by_key(|l| model_order(l));
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    let gains = |keep: &dyn Fn(&(String, i64, f64)) -> bool| -> Vec<f64> {
        rows.iter().filter(|r| keep(r)).map(|r| r.2).collect()
    };
    let mut negative = Vec::new();
    for label in &labels {
        let groups: Vec<(String, Statement)> = sizes
            .iter()
            .filter_map(|&n| {
                let v = gains(&|r| &r.0 == label && r.1 == n);
                (!v.is_empty()).then(|| (size_label(n), paired("gain > 0", &v, Direction::Up)))
            })
            .collect();
        let below: Vec<&str> = groups
            .iter()
            .filter(|g| g.1.verdict == Verdict::Contradicted)
            .map(|g| g.0.as_str())
            .collect();
        for (size, s) in groups
            .iter()
            .filter(|g| g.1.verdict == Verdict::Contradicted)
        {
            negative.push(format!(
                "{label} at {size} (mean {:+.3}, 95% CI [{:+.3}, {:+.3}], n = {})",
                s.estimate, s.low, s.high, s.n
            ));
        }
        let by_size = groups
            .iter()
            .map(|(size, s)| format!("{size} {:+.3} {}", s.estimate, s.verdict.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let claim = format!("{label}: pretraining helps at every size (gain > 0)");
        let detail = if below.is_empty() {
            format!("by size: {by_size}")
        } else {
            format!(
                "negative transfer at {}; by size: {by_size}",
                below.join(", ")
            )
        };
        // The section's own wording replaces every_group's "reversed at".
        let mut s = every_group(&claim, &groups, Direction::Up);
        s.detail = Some(detail);
        out.push(s);
    }
    // Helps most when the target is small: the gain over every fine-tuned setting per size.
    if sizes.len() > 1 {
        let levels: Vec<(String, Vec<f64>)> = sizes
            .iter()
            .map(|&n| (size_label(n), gains(&|r| r.1 == n)))
            .collect();
        out.push(
            trend(
                "Pretraining helps most when the target set is small (the gain shrinks as the \
                 target grows)",
                &levels,
                Direction::Down,
            )
            .with_detail(format!(
                "{}; pooled over frozen depths",
                listing(&means(&levels), true)
            )),
        );
    }
    // Yosinski et al.: freezing more transferred blocks lowers the gain.
    if labels.len() > 1 && labels.iter().all(|l| l.starts_with("freeze ")) {
        let levels: Vec<(String, Vec<f64>)> = labels
            .iter()
            .map(|l| (l.clone(), gains(&|r| &r.0 == l)))
            .collect();
        out.push(
            trend(
                "Freezing more of the transferred blocks lowers the gain (upper blocks are \
                 specific to the source task)",
                &levels,
                Direction::Down,
            )
            .with_detail(format!(
                "{}; pooled over sizes",
                listing(&means(&levels), true)
            )),
        );
    }
    let notes = (!negative.is_empty())
        .then(|| {
            format!(
                "Negative transfer (the 95% CI of the gain lies entirely below 0): {}.",
                negative.join("; ")
            )
        })
        .into_iter()
        .collect();
    (notes, out)
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
    let (notes, statements) = transfer_gain_findings(&rows);
    outputs.extend(findings_output(notes, statements));
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
    use crate::report::stats::lines;

    fn findings(rows: &[(String, i64, f64)]) -> Vec<String> {
        let (notes, statements) = transfer_gain_findings(rows);
        lines(notes, &statements)
    }

    #[test]
    fn transfer_gain_findings_name_negative_transfer() {
        // Gain shrinking with size; at 100/class no gain for freeze 0 and a loss for
        // freeze all, three seeds each.
        let mut rows = Vec::new();
        for (n, g) in [(5, 0.30), (20, 0.10), (100, 0.0)] {
            for d in [-0.001, 0.0, 0.001] {
                rows.push(("freeze 0".to_string(), n, g + d));
                rows.push(("freeze all".to_string(), n, g - 0.05 + d));
            }
        }
        let f = findings(&rows);
        assert!(
            f[0].starts_with(
                "Negative transfer (the 95% CI of the gain lies entirely below 0): freeze all \
                 at 100/class (mean -0.050, 95% CI [-0.0"
            ),
            "{f:#?}"
        );
        assert!(
            f[1].starts_with(
                "freeze 0: pretraining helps at every size (gain > 0): inconclusive (mean at \
                 100/class +0.000, 95% CI [-0.0"
            ),
            "{f:#?}"
        );
        assert!(f[1].ends_with("by size: 5/class +0.300 supported, 20/class +0.100 supported, 100/class +0.000 inconclusive) [test: effect in every group (3 groups, 9 points), decided by the weakest; per group: paired differences across seeds, Student t 95% interval]."), "{f:#?}");
        assert!(
            f[2].starts_with(
                "freeze all: pretraining helps at every size (gain > 0): contradicted (mean at \
                 100/class -0.050, 95% CI [-0.0"
            ),
            "{f:#?}"
        );
        assert!(
            f[2].contains(
                "n = 3; negative transfer at 100/class; by size: 5/class +0.250 supported"
            ),
            "{f:#?}"
        );
        // Three sizes, six trials each: a supported fall (Kendall, bootstrap over seeds).
        assert!(f[3].starts_with("Pretraining helps most when the target set is small (the gain shrinks as the target grows): supported (Kendall \u{3c4} -1.000, 95% CI [-1.000, -1.000]"), "{f:#?}");
        assert!(f[3].contains("n = 18; 5/class +0.275, 20/class +0.075, 100/class -0.025; pooled over frozen depths) [test: monotone trend"), "{f:#?}");
        // Two frozen depths whose gains spread over the sizes: inconclusive, with a hint.
        assert!(f[4].starts_with("Freezing more of the transferred blocks lowers the gain (upper blocks are specific to the source task): inconclusive (difference -0.050, 95% CI [-0."), "{f:#?}");
        assert!(f[4].contains("needs about "), "{f:#?}");
        assert_eq!(f.len(), 5);
    }

    #[test]
    fn the_quickstart_linear_probe_shows_negative_transfer() {
        // freeze all at 10/class: -0.305 ± 0.148 over 2 seeds x 2 shifts, as in the issue.
        let mut rows: Vec<(String, i64, f64)> = [-0.40, -0.22, -0.35, -0.255]
            .into_iter()
            .map(|g| ("freeze all".to_string(), 10, g))
            .collect();
        rows.extend([0.02, -0.01, 0.03, 0.0].map(|g| ("freeze all".to_string(), 100, g)));
        let f = findings(&rows);
        assert!(
            f[0].starts_with(
                "Negative transfer (the 95% CI of the gain lies entirely below 0): freeze all \
                 at 10/class (mean -0.306, 95% CI [-0.4"
            ),
            "{f:#?}"
        );
        assert!(
            f[1].starts_with(
                "freeze all: pretraining helps at every size (gain > 0): contradicted (mean at \
                 10/class -0.306, 95% CI [-0.4"
            ),
            "{f:#?}"
        );
        assert!(f[1].contains("negative transfer at 10/class; by size: 10/class -0.306 contradicted, 100/class +0.010 inconclusive"), "{f:#?}");
        // A single seed decides nothing.
        let f = findings(&[("freeze 0".to_string(), 5, -0.1)]);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].contains(
                "inconclusive (mean at 5/class -0.100, no interval, n = 1; needs at least 3 seeds"
            ),
            "{f:#?}"
        );
    }
}
