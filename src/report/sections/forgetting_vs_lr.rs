//! Final forgetting against the learning rate.

use crate::metrics::statements::{trend, Direction, Statement};
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, Ctx};
use crate::report::page::{Cell, Input};
use crate::report::rows::{query, text};
use crate::report::sections::forgetting_by_schedule::is_ulmfit;
use crate::report::series::{aggregate_series, chart_cell, final_acc_rows, no_data, per_trial_sql};
use crate::report::stats::{findings_output, listing, means};
use anyhow::Result;

/// [6] Forgetting vs learning rate: final forgetting per trial against lr (log axis), one
/// series per frozen depth.
pub fn forgetting_vs_lr(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.varies("lr") {
        return Ok(None);
    }
    let title = "Forgetting vs learning rate";
    let sql = per_trial_sql(
        ctx,
        "lr",
        "ts.source_acc_pretrained - ts.source_acc_final",
        "forgetting",
    )
    .replace(" AS forgetting\n", " AS forgetting, ts.schedule\n");
    let (rows, _alike) = final_acc_rows(ctx, &sql)?;
    let schedules: Vec<String> = query(ctx.conn, &sql)?.iter().map(|r| text(&r[5])).collect();
    let inputs = vec![Input::sql(sql)];
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut lrs: Vec<f64> = distinct(ctx.trials.iter().map(|t| t.lr))
        .into_iter()
        .filter(|l| *l > 0.0)
        .collect();
    lrs.sort_by(f64::total_cmp);
    let keys: Vec<String> = lrs.iter().map(|l| l.to_string()).collect();
    let series = aggregate_series(ctx, &rows, &keys, |i, _| lrs[i]);
    let chart = LineChart::with_error_bars(
        "Final forgetting by learning rate",
        "peak learning rate (log scale)",
        "forgetting (source acc. before \u{2212} after)",
        XAxis::Log { ticks: lrs },
        series,
        (-1.0, 1.0),
    );
    Ok(Some(chart_cell(
        title,
        inputs,
        chart.to_svg()?,
        format!(
            "{} Pretrained trials only.",
            ctx.caption(&["lr", "schedule", "freeze", "pretrained"], true)
        ),
        rows.len(),
        findings_output(
            Vec::new(),
            lr_forgetting_finding(&rows, &schedules)
                .into_iter()
                .collect(),
        ),
    )))
}

/// Whether forgetting grows with the learning rate (a [`trend`] over the lrs), over the
/// trials with unfrozen blocks and uniform schedules (where the sweep also has others).
pub(crate) fn lr_forgetting_finding(
    rows: &[(String, String, f64)],
    schedules: &[String],
) -> Option<Statement> {
    let uniform_exists = schedules.iter().any(|s| !is_ulmfit(s));
    let keep: Vec<&(String, String, f64)> = rows
        .iter()
        .zip(schedules.iter().map(Some).chain(std::iter::repeat(None)))
        .filter(|(r, s)| {
            r.0 != "freeze all" && !(uniform_exists && s.is_some_and(|s| is_ulmfit(s)))
        })
        .map(|(r, _)| r)
        .collect();
    let mut lrs: Vec<f64> = distinct(keep.iter().filter_map(|r| r.1.parse::<f64>().ok()));
    lrs.sort_by(f64::total_cmp);
    let levels: Vec<(String, Vec<f64>)> = lrs
        .iter()
        .map(|lr| {
            let v: Vec<f64> = keep
                .iter()
                .filter(|r| r.1.parse::<f64>().ok() == Some(*lr))
                .map(|r| r.2)
                .collect();
            (format!("lr {lr}"), v)
        })
        .filter(|l| !l.1.is_empty())
        .collect();
    if levels.len() < 2 {
        return None;
    }
    let note = format!(
        "; trials with unfrozen blocks{}",
        if uniform_exists && schedules.iter().any(|s| is_ulmfit(s)) {
            " and uniform schedules"
        } else {
            ""
        }
    );
    Some(
        trend(
            "Forgetting grows with the learning rate",
            &levels,
            Direction::Up,
        )
        .with_detail(format!("{}{note}", listing(&means(&levels), false))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_forgetting_finding_detects_the_effect() {
        let rows = vec![
            ("freeze 0".to_string(), "0.01".to_string(), 0.02),
            ("freeze 0".to_string(), "0.1".to_string(), 0.2),
            ("freeze 0".to_string(), "0.1".to_string(), 0.0),
            ("freeze all".to_string(), "0.1".to_string(), 0.0),
        ];
        let sch = vec![
            "constant lr=0.01".to_string(),
            "constant lr=0.1".to_string(),
            "constant lr=0.1 decay=2.6 unfreeze".to_string(),
            "constant lr=0.1".to_string(),
        ];
        match lr_forgetting_finding(&rows, &sch).map(|s| s.sentence()) {
            Some(text) => assert!(
                text.contains("learning rate: inconclusive (difference +0.180, no interval, n = 2; needs at least 2 seeds in each group; lr 0.01 0.020, lr 0.1 0.200; trials with unfrozen blocks and uniform schedules) [test: trend over 2 levels: difference of two group means, Welch t 95% interval]."),
                "{text}"
            ),
            o => panic!("{o:?}"),
        }
    }
}
