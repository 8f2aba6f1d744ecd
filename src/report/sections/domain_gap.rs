//! Final target accuracy against the shift of the target images.

use crate::metrics::names::TEST_ACC;
use crate::metrics::statements::{every_group, two_sample, Direction, Statement};
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, final_label, Ctx};
use crate::report::page::Cell;
use crate::report::series::{aggregate_series, chart_cell, final_acc_cell};
use crate::report::stats::findings_output;
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
            findings_output(
                Vec::new(),
                shift_finding(&rows, &shifts).into_iter().collect(),
            ),
        ))
    })
}

/// Whether target accuracy is lower under every shift than without: per shift the difference
/// of its per-trial accuracies from those without a shift ([`two_sample`]), all of them
/// ([`every_group`]), pooled over models.
pub(crate) fn shift_finding(
    rows: &[(String, String, f64)],
    shifts: &[String],
) -> Option<Statement> {
    let at = |x: &str| -> Vec<f64> { rows.iter().filter(|r| r.1 == x).map(|r| r.2).collect() };
    let none = at("none");
    if none.is_empty() {
        return None;
    }
    let groups: Vec<(String, Statement)> = shifts
        .iter()
        .filter(|s| s.as_str() != "none")
        .map(|s| (s.clone(), at(s)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| {
            let st = two_sample("lower", &none, &v, Direction::Down);
            (s, st)
        })
        .collect();
    if groups.is_empty() {
        return None;
    }
    let listed = groups
        .iter()
        .map(|(s, st)| format!("{s} {:+.3} {}", st.estimate, st.verdict.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let s = every_group(
        "Target accuracy is lower under every shift than without",
        &groups,
        Direction::Down,
    )
    .with_detail(format!(
        "difference from none: {listed}; pooled over models"
    ));
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_finding_without_the_effect() {
        // Shift and size findings without the effect.
        let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
        let shifts = [
            "none".to_string(),
            "rotate 45".to_string(),
            "invert 1".to_string(),
        ];
        let rows = [
            r("none", 0.6),
            r("none", 0.62),
            r("rotate 45", 0.7),
            r("rotate 45", 0.71),
            r("invert 1", 0.3),
            r("invert 1", 0.2),
        ];
        match shift_finding(&rows, &shifts).map(|s| s.sentence()) {
            Some(text) => assert!(
                text.starts_with(
                    "Target accuracy is lower under every shift than without: \
                     contradicted (difference at rotate 45 +0.095, 95% CI [+0.0"
                ) && text.contains(
                    "n = 4; reversed at rotate 45; difference from none: rotate 45 +0.095 \
                     contradicted, invert 1 -0.360 inconclusive; pooled over models)"
                ),
                "{text}"
            ),
            o => panic!("{o:?}"),
        }
    }
}
