//! Final target accuracy against the shift of the target images.

use crate::metrics::names::TEST_ACC;
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, final_label, Ctx};
use crate::report::page::{Cell, Output};
use crate::report::series::{aggregate_series, chart_cell, final_acc_cell, mean_at};
use anyhow::Result;

/// [5] Domain gap: final target test accuracy against the shift, by frozen depth.
pub fn domain_gap(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Domain gap: target accuracy vs shift";
    final_acc_cell(ctx, "shift", title, |rows, inputs| {
        let shifts: Vec<String> = distinct(ctx.trials.iter().map(|t| t.shift.clone()));
        let chart = LineChart::with_error_bars(
            "Final target test accuracy by shift",
            "shift of the target images",
            &final_label(TEST_ACC),
            XAxis::Categorical(shifts.clone()),
            aggregate_series(ctx, &rows, &shifts, |i, _| i as f64),
            (0.0, 1.0),
        );
        Ok(chart_cell(
            title,
            inputs,
            chart.to_svg()?,
            ctx.caption(&["shift", "freeze", "pretrained"], true),
            rows.len(),
            shift_finding(&rows, &shifts),
        ))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_finding_without_the_effect() {
        // Shift and size findings without the effect.
        let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
        match shift_finding(
            &[r("none", 0.6), r("rotate 45", 0.7)],
            &["none".to_string(), "rotate 45".to_string()],
        ) {
            Some(Output::Text { text }) => {
                assert!(
                    text.contains("without: no (none 0.600, rotate 45 0.700"),
                    "{text}"
                )
            }
            o => panic!("{o:?}"),
        }
    }
}
