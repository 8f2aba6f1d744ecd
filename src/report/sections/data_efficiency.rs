//! Final accuracy against the target training size.

use crate::metrics::names::TEST_ACC;
use crate::metrics::statements::{trend, Direction, Statement};
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, final_label, size_label, Ctx};
use crate::report::page::Cell;
use crate::report::series::{aggregate_series, chart_cell, final_acc_cell};
use crate::report::stats::{findings_output, listing, means};
use anyhow::Result;

/// [6] Data efficiency: final test accuracy against target size (log axis), fine-tuned
/// by frozen depth vs from scratch.
pub fn data_efficiency(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Data efficiency: accuracy vs target training size";
    final_acc_cell(ctx, "train_per_class", title, |rows, _alike, inputs| {
        let mut sizes: Vec<i64> = distinct(ctx.trials.iter().map(|t| t.train_per_class));
        sizes.sort();
        let keys: Vec<String> = sizes.iter().map(|n| n.to_string()).collect();
        let chart = LineChart::with_error_bars(
            "Final test accuracy by training examples per class",
            "training examples per class (log scale)",
            &final_label(TEST_ACC),
            XAxis::Log {
                ticks: sizes.iter().map(|&n| n as f64).collect(),
            },
            aggregate_series(ctx, &rows, &keys, |i, _| sizes[i] as f64),
            (0.0, 1.0),
        );
        Ok(chart_cell(
            title,
            inputs,
            chart.to_svg()?,
            ctx.caption(&["train_per_class", "freeze", "pretrained"], true),
            rows.len(),
            findings_output(
                Vec::new(),
                size_finding(&rows, &sizes).into_iter().collect(),
            ),
        ))
    })
}

/// Whether accuracy grows with the examples per class: a [`trend`] over the sizes of the
/// per-trial accuracies, pooled over models.
pub(crate) fn size_finding(rows: &[(String, String, f64)], sizes: &[i64]) -> Option<Statement> {
    let levels: Vec<(String, Vec<f64>)> = sizes
        .iter()
        .map(|n| {
            let key = n.to_string();
            let v: Vec<f64> = rows.iter().filter(|r| r.1 == key).map(|r| r.2).collect();
            (size_label(*n), v)
        })
        .filter(|l| !l.1.is_empty())
        .collect();
    if levels.len() < 2 {
        return None;
    }
    let s = trend(
        "Accuracy grows with the examples per class",
        &levels,
        Direction::Up,
    )
    .with_detail(format!(
        "{}; pooled over models",
        listing(&means(&levels), false)
    ));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_finding_without_the_effect() {
        let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
        let rows = [r("10", 0.8), r("10", 0.78), r("100", 0.7), r("100", 0.69)];
        match size_finding(&rows, &[10, 100]).map(|s| s.sentence()) {
            Some(text) => assert!(
                text.starts_with(
                    "Accuracy grows with the examples per class: contradicted \
                     (difference -0.095, 95% CI [-0.1"
                ) && text.contains("n = 4; 10/class 0.790, 100/class 0.695; pooled over models)"),
                "{text}"
            ),
            o => panic!("{o:?}"),
        }
        // One trial per size: no verdict.
        match size_finding(&[r("10", 0.6), r("100", 0.8)], &[10, 100]).map(|s| s.sentence()) {
            Some(text) => {
                assert!(
                    text.contains(": inconclusive (difference +0.200, no interval"),
                    "{text}"
                )
            }
            o => panic!("{o:?}"),
        }
    }
}
