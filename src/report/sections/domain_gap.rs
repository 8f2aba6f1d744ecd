//! Final target accuracy against the shift of the target images.

use crate::metrics::names::TEST_ACC;
use crate::metrics::statements::{every_group, paired, two_sample, Direction, Statement};
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, final_label, Ctx};
use crate::report::page::Cell;
use crate::report::series::{aggregate_series, chart_cell, final_acc_cell};
use crate::report::stats::findings_output;
use anyhow::Result;

/// [5] Domain gap: final target test accuracy against the shift, by frozen depth.
pub fn domain_gap(ctx: &Ctx) -> Result<Option<Cell>> {
    let title = "Domain gap: target accuracy vs shift";
    final_acc_cell(ctx, "shift", title, |rows, alike, inputs| {
        let shifts: Vec<String> = distinct(ctx.trials.iter().map(|t| t.shift.clone()));
        let chart = LineChart::with_error_bars(
            "Final target test accuracy by shift",
            "shift of the target data",
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
                shift_finding(&rows, &alike, &shifts).into_iter().collect(),
            ),
        ))
    })
}

/// Whether target accuracy is lower under every shift than without, pooled over models: per
/// shift, the differences of each trial from the unshifted trial alike in every other setting
/// and seed ([`paired`], `alike` as [`crate::report::series::per_trial_sql`] gives it, one per
/// row), or, where fewer than 2 such pairs exist, the difference of the two groups' means
/// ([`two_sample`]); all shifts together by [`every_group`].
pub(crate) fn shift_finding(
    rows: &[(String, String, f64)],
    alike: &[String],
    shifts: &[String],
) -> Option<Statement> {
    let at = |x: &str| -> Vec<f64> { rows.iter().filter(|r| r.1 == x).map(|r| r.2).collect() };
    let none = at("none");
    if none.is_empty() {
        return None;
    }
    let unshifted = |key: &str| {
        rows.iter()
            .zip(alike)
            .find(|(r, k)| r.1 == "none" && k.as_str() == key)
            .map(|(r, _)| r.2)
    };
    let groups: Vec<(String, Statement)> = shifts
        .iter()
        .filter(|s| s.as_str() != "none")
        .map(|s| (s.clone(), at(s)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| {
            let diffs: Vec<f64> = rows
                .iter()
                .zip(alike)
                .filter(|(r, _)| r.1 == s)
                .filter_map(|(r, k)| Some(r.2 - unshifted(k)?))
                .collect();
            let st = if diffs.len() >= 2 {
                let mut st = paired("lower", &diffs, Direction::Down);
                st.measure = "difference".to_string();
                st.test = "differences from the unshifted trial of the same settings and seed, \
                           Student t 95% interval"
                    .to_string();
                st
            } else {
                two_sample("lower", &none, &v, Direction::Down)
            };
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
    use crate::metrics::statements::Verdict;

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
        // No trial has an unshifted twin: the two groups' means are compared.
        let alike: Vec<String> = (0..rows.len()).map(|i| i.to_string()).collect();
        match shift_finding(&rows, &alike, &shifts).map(|s| s.sentence()) {
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

    #[test]
    fn shift_finding_pairs_each_trial_with_its_unshifted_twin() {
        // Seeds differ a lot, the shift costs each seed about 0.05: paired, the loss is
        // supported; as two groups it would be lost in the spread between seeds.
        let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
        let rows = [
            r("none", 0.6),
            r("none", 0.9),
            r("none", 0.75),
            r("rotate 45", 0.55),
            r("rotate 45", 0.86),
            r("rotate 45", 0.70),
        ];
        let shifts = ["none".to_string(), "rotate 45".to_string()];
        let seeds: Vec<String> = ["s0", "s1", "s2", "s0", "s1", "s2"]
            .map(String::from)
            .to_vec();
        let s = shift_finding(&rows, &seeds, &shifts).unwrap();
        assert_eq!(s.verdict, Verdict::Supported, "{}", s.sentence());
        assert!(
            s.sentence().starts_with(
                "Target accuracy is lower under every shift than without: supported \
                 (difference at rotate 45 -0.047, 95% CI [-0.06"
            ),
            "{}",
            s.sentence()
        );
        assert!(s
            .test
            .contains("unshifted trial of the same settings and seed"));
        let unpaired: Vec<String> = (0..6).map(|i| i.to_string()).collect();
        let s = shift_finding(&rows, &unpaired, &shifts).unwrap();
        assert_eq!(s.verdict, Verdict::Inconclusive, "{}", s.sentence());
    }
}
