//! Final accuracy against the target training size.

use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, size_label, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::series::{aggregate_series, final_acc_rows, final_acc_sql, mean_at, no_data};
use crate::report::stats::rises;
use anyhow::Result;

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
            if rises(&vals, 0.0) { "yes" } else { "no" },
            means
                .iter()
                .map(|(n, a)| format!("{} {a:.3}", size_label(*n)))
                .collect::<Vec<_>>()
                .join(", ")
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
