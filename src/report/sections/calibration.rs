//! Expected calibration error of fine-tuned against from-scratch models.

use crate::metrics::names::{ECE, ECE_TS, TEMPERATURE};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::MODEL_SQL;
use crate::report::stats::{ci, ci_table, findings_output, mean};
use anyhow::Result;

/// A calibration row: (setting, ece, ece after temperature scaling, temperature).
pub(crate) type CalRow = (String, f64, f64, Option<f64>);

/// Findings: whether temperature scaling lowered the ECE in every setting.
pub(crate) fn calibration_findings(rows: &[CalRow]) -> Vec<String> {
    let mut settings = distinct(rows.iter().map(|r| r.0.clone()));
    settings.sort_by_key(|s| model_order(s));
    let per: Vec<(String, f64, f64, f64)> = settings
        .iter()
        .map(|s| {
            let g: Vec<&CalRow> = rows.iter().filter(|r| &r.0 == s).collect();
            let before = mean(&g.iter().map(|r| r.1).collect::<Vec<_>>());
            let after = mean(&g.iter().map(|r| r.2).collect::<Vec<_>>());
            let t = mean(&g.iter().filter_map(|r| r.3).collect::<Vec<_>>());
            (s.clone(), before, after, t)
        })
        .collect();
    if per.is_empty() {
        return vec![];
    }
    let lowered = per.iter().filter(|p| p.2 < p.1).count();
    let verdict = if lowered == per.len() {
        "yes".to_string()
    } else if lowered == 0 {
        "no".to_string()
    } else {
        format!("in {lowered} of {} settings", per.len())
    };
    let detail: Vec<String> = per
        .iter()
        .map(|p| format!("{} {:.3} \u{2192} {:.3}", p.0, p.1, p.2))
        .collect();
    let mut out = vec![format!(
        "Temperature scaling lowers the expected calibration error: {verdict} ({}).",
        detail.join(", ")
    )];
    let temps: Vec<String> = per
        .iter()
        .filter(|p| p.3.is_finite())
        .map(|p| format!("{} T = {:.2}", p.0, p.3))
        .collect();
    if !temps.is_empty() {
        let over = per.iter().filter(|p| p.3 > 1.0).count();
        out.push(format!(
            "Networks are over-confident before scaling (fitted temperature above 1): {} ({}).",
            if over == per.len() {
                "yes".to_string()
            } else if over == 0 {
                "no".to_string()
            } else {
                format!("in {over} of {} settings", per.len())
            },
            temps.join(", ")
        ));
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
    outputs.extend(findings_output(calibration_findings(&rows)));
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
        // Calibration: scaling helped in one of two settings.
        let cal = vec![
            ("freeze 0".to_string(), 0.1, 0.05, Some(1.4)),
            ("scratch".to_string(), 0.1, 0.12, Some(0.9)),
        ];
        let f = calibration_findings(&cal).join("\n");
        assert!(f.contains("error: in 1 of 2 settings (freeze 0 0.100 \u{2192} 0.050, scratch 0.100 \u{2192} 0.120)"), "{f}");
        assert!(f.contains("above 1): in 1 of 2 settings"), "{f}");
    }
}
