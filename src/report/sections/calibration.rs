//! Expected calibration error of fine-tuned against from-scratch models.

use crate::metrics::names::{ECE, ECE_TS, TEMPERATURE};
use crate::metrics::statements::{every_group, paired, Direction, Statement};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::MODEL_SQL;
use crate::report::stats::{ci, ci_table, findings_output, mean};
use anyhow::Result;

/// A calibration row: (setting, ece, ece after temperature scaling, temperature).
pub(crate) type CalRow = (String, f64, f64, Option<f64>);

/// Findings: whether temperature scaling lowers the ECE in every setting (per trial, ECE after
/// minus before, [`paired`]; all settings, [`every_group`]), and whether the fitted temperature
/// is above 1 in every setting.
pub(crate) fn calibration_findings(rows: &[CalRow]) -> Vec<Statement> {
    let mut settings = distinct(rows.iter().map(|r| r.0.clone()));
    settings.sort_by_key(|s| model_order(s));
    if settings.is_empty() {
        return vec![];
    }
    let of = |s: &str| -> Vec<&CalRow> { rows.iter().filter(|r| r.0 == s).collect() };
    let lowered: Vec<(String, Statement)> = settings
        .iter()
        .map(|s| {
            let d: Vec<f64> = of(s).iter().map(|r| r.2 - r.1).collect();
            (
                s.clone(),
                paired("ECE after \u{2212} before", &d, Direction::Down),
            )
        })
        .collect();
    let detail: Vec<String> = settings
        .iter()
        .map(|s| {
            let before = mean(&of(s).iter().map(|r| r.1).collect::<Vec<_>>());
            let after = mean(&of(s).iter().map(|r| r.2).collect::<Vec<_>>());
            format!("{s} {before:.3} \u{2192} {after:.3}")
        })
        .collect();
    let mut out = vec![every_group(
        "Temperature scaling lowers the expected calibration error in every setting",
        &lowered,
        Direction::Down,
    )
    .with_detail(detail.join(", "))];
    let temps: Vec<(String, Vec<f64>)> = settings
        .iter()
        .map(|s| {
            (
                s.clone(),
                of(s).iter().filter_map(|r| r.3).collect::<Vec<f64>>(),
            )
        })
        .filter(|t| !t.1.is_empty())
        .collect();
    if !temps.is_empty() {
        let over: Vec<(String, Statement)> = temps
            .iter()
            .map(|(s, t)| {
                let d: Vec<f64> = t.iter().map(|t| t - 1.0).collect();
                (s.clone(), paired("T \u{2212} 1", &d, Direction::Up))
            })
            .collect();
        let listed: Vec<String> = temps
            .iter()
            .map(|(s, t)| format!("{s} T = {:.2}", mean(t)))
            .collect();
        out.push(
            every_group(
                "Networks are over-confident before scaling (fitted temperature above 1 in every \
                 setting)",
                &over,
                Direction::Up,
            )
            .with_detail(listed.join(", ")),
        );
    }
    out
}

/// Calibration: ECE (15 equal-width bins) before and after temperature scaling fitted on the
/// validation set, by setting, with the fitted temperatures.
pub fn calibration(ctx: &Ctx) -> Result<Option<Cell>> {
    // trial_summary has a column per metric, named after it.
    let (ece, ece_ts, temperature) = (ECE.name, ECE_TS.name, TEMPERATURE.name);
    let sql = format!(
        "SELECT ts.key, {MODEL_SQL} AS setting, ts.seed, ts.{ece}, ts.{ece_ts}, ts.{temperature}
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.{ece} IS NOT NULL AND ts.{ece_ts} IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<CalRow> = raw
        .iter()
        .filter_map(|r| Some((text(&r[1]), num(&r[3])?, num(&r[4])?, num(&r[5]))))
        .collect();
    let mut settings = distinct(rows.iter().map(|r| r.0.clone()));
    settings.sort_by_key(|s| model_order(s));
    let bar = |label: &str, color, dashed, pick: fn(&CalRow) -> f64| Series {
        label: label.to_string(),
        color,
        dashed,
        points: settings
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let v: Vec<f64> = rows.iter().filter(|r| &r.0 == s).map(pick).collect();
                ci(&v).map(|c| Point {
                    x: i as f64,
                    y: c.0,
                    err: c.1,
                })
            })
            .collect(),
    };
    let chart = LineChart {
        legend_title: "ECE".to_string(),
        y_bounds: Some((0.0, 1.0)),
        dodge: true,
        bars: true,
        ..LineChart::new(
            "ECE before and after temperature scaling".to_string(),
            "model".to_string(),
            "expected calibration error (15 bins)".to_string(),
            XAxis::Categorical(settings.clone()),
            vec![
                bar("before", (0xd6, 0x27, 0x28), false, |r| r.1),
                bar(
                    "after temperature scaling",
                    (0x1f, 0x77, 0xb4),
                    false,
                    |r| r.2,
                ),
            ],
        )
    };
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = rows
        .iter()
        .map(|r| (vec![r.0.clone()], vec![Some(r.1), Some(r.2), r.3]))
        .collect();
    table_rows.sort_by_key(|r| model_order(&r.0[0]));
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} ECE with 15 equal-width confidence bins on the target test set (Guo et al. \
             2017), before and after dividing the logits by the temperature fitted on the \
             validation set, at the final epoch.",
            ctx.caption(&["freeze", "pretrained"], true)
        ),
        rows: raw.len(),
    }];
    outputs.extend(findings_output(Vec::new(), calibration_findings(&rows)));
    outputs.push(Output::Table(ci_table(
        &["model"],
        &[ece, ece_ts, temperature],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Calibration: ECE before and after temperature scaling".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_findings_detect_an_effect_and_its_absence() {
        // Scaling helps freeze 0 at all three seeds and hurts scratch at all three.
        let row =
            |s: &str, before: f64, after: f64, t: f64| (s.to_string(), before, after, Some(t));
        let cal = vec![
            row("freeze 0", 0.1, 0.05, 1.4),
            row("freeze 0", 0.11, 0.05, 1.5),
            row("freeze 0", 0.1, 0.05, 1.45),
            row("scratch", 0.1, 0.12, 0.9),
            row("scratch", 0.1, 0.13, 1.2),
            row("scratch", 0.1, 0.125, 1.05),
        ];
        let f = crate::report::stats::lines(Vec::new(), &calibration_findings(&cal));
        assert!(
            f[0].starts_with(
                "Temperature scaling lowers the expected calibration error in every setting: \
                 contradicted (mean at scratch +0.025, 95% CI [+0.0"
            ),
            "{f:#?}"
        );
        assert!(
            f[0].contains(
                "n = 3; reversed at scratch; freeze 0 0.103 \u{2192} 0.050, scratch 0.100 \
                 \u{2192} 0.125)"
            ),
            "{f:#?}"
        );
        // Scratch's temperatures straddle 1: not shown either way.
        assert!(
            f[1].starts_with(
                "Networks are over-confident before scaling (fitted temperature above 1 in every \
                 setting): inconclusive (mean at scratch +0.050, 95% CI [-"
            ),
            "{f:#?}"
        );
        assert!(
            f[1].contains("freeze 0 T = 1.45, scratch T = 1.05)"),
            "{f:#?}"
        );
    }
}
