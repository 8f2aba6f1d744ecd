//! Final accuracy against the target training size.

use crate::metrics::names::TEST_ACC;
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, final_label, size_label, Ctx};
use crate::report::page::{Cell, Output};
use crate::report::series::{aggregate_series, chart_cell, final_acc_cell, mean_at};
use crate::report::stats::rise_finding;
use anyhow::Result;

/// [6] Data efficiency: final test accuracy against target size (log axis), fine-tuned
/// by frozen depth vs from scratch.
pub fn data_efficiency(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Data efficiency: accuracy vs target training size";
    final_acc_cell(ctx, "train_per_class", title, |rows, inputs| {
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
            size_finding(&rows, &sizes),
        ))
    })
}

/// "Accuracy grows with the examples per class: yes (10/class 0.60, 100/class 0.80)."
pub(crate) fn size_finding(rows: &[(String, String, f64)], sizes: &[i64]) -> Option<Output> {
    let means: Vec<(String, f64)> = sizes
        .iter()
        .filter_map(|n| Some((size_label(*n), mean_at(rows, &n.to_string())?)))
        .collect();
    if means.len() < 2 {
        return None;
    }
    Some(Output::Text {
        text: format!(
            "Finding: {}",
            rise_finding(
                "accuracy grows with the examples per class",
                &means,
                "; mean over models"
            )
        ),
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_finding_without_the_effect() {
        let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
        match size_finding(&[r("10", 0.8), r("100", 0.7)], &[10, 100]) {
            Some(Output::Text { text }) => {
                assert!(
                    text.contains("per class: no (10/class 0.800, 100/class 0.700"),
                    "{text}"
                )
            }
            o => panic!("{o:?}"),
        }
    }
}
