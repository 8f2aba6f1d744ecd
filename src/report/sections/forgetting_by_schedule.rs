//! Source-task accuracy by schedule, and whether ULMFiT-style schedules forget less.

use crate::metrics::statements::{two_sample, Direction, Statement};
use crate::report::charts::{LineChart, Series, XAxis};
use crate::report::context::{
    distinct, freeze_label, freeze_order, model_order, schedule_label, Ctx,
};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, parse_freeze, query, text};
use crate::report::sections::forgetting::{source_acc_rows, source_acc_sql};
use crate::report::series::{epoch_ticks, no_data, points_of};
use crate::report::stats::{ci, ci_table, findings_output};
use crate::spec::Freeze;
use anyhow::Result;

/// [5] Forgetting by schedule: source-task accuracy over epochs, one line per schedule.
pub fn forgetting_by_schedule(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.varies("schedule") {
        return Ok(None);
    }
    let title = "Forgetting by schedule: source-task accuracy during fine-tuning";
    let sql = source_acc_sql(ctx, "schedule", "MIN(t.position)");
    let table_sql = format!(
        "SELECT ts.key, ts.schedule, ts.lr, ts.freeze, ts.seed, ts.forgetting
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.forgetting IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let inputs = vec![Input::sql(sql.clone()), Input::sql(table_sql.clone())];
    let rows = source_acc_rows(ctx, &sql)?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let table_raw = query(ctx.conn, &table_sql)?;
    let sched_rows: Vec<ScheduleRow> = table_raw
        .iter()
        .filter_map(|r| {
            Some((
                text(&r[1]),
                num(&r[2])?,
                parse_freeze(&text(&r[3]))?,
                num(&r[5])?,
            ))
        })
        .collect();
    // Page order of schedules (grid order), whatever order SQL grouped them in.
    let order = distinct(ctx.trials.iter().map(|t| t.schedule.as_str()));
    let mut names = distinct(rows.iter().map(|r| r.0.as_str()));
    names.sort_by_key(|n| order.iter().position(|o| o == n));
    let series: Vec<Series> = names
        .into_iter()
        .map(|sch| Series {
            label: sch.to_string(),
            color: ctx.color(&schedule_label(sch)),
            dashed: false,
            points: points_of(&rows, sch),
        })
        .collect();
    let chart = LineChart {
        legend_title: "schedule".to_string(),
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            "Source accuracy by schedule (epoch 0 = before fine-tuning)".to_string(),
            "fine-tuning epoch".to_string(),
            "source-task accuracy".to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            series,
        )
    };
    let mut outputs = vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} Pretrained trials only.",
            ctx.caption(&["schedule", "pretrained"], false)
        ),
        rows: rows.len(),
    }];
    let statements: Vec<Statement> = schedule_forgetting_finding(&sched_rows)
        .into_iter()
        .chain(ulmfit_findings(&sched_rows))
        .collect();
    outputs.extend(findings_output(Vec::new(), statements));
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = sched_rows
        .iter()
        .map(|r| (vec![r.0.clone(), freeze_label(r.2)], vec![Some(r.3)]))
        .collect();
    table_rows.sort_by_key(|r| {
        (
            order.iter().position(|o| *o == r.0[0]),
            model_order(&r.0[1]),
        )
    });
    outputs.push(Output::Table(ci_table(
        &["schedule", "model"],
        &["forgetting"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs,
    }))
}

/// Whether the schedule that forgot least on average forgets less than the one that forgot
/// most (their per-trial forgetting over frozen depths and seeds, [`two_sample`]); `None` with
/// fewer than two schedules.
fn schedule_forgetting_finding(rows: &[ScheduleRow]) -> Option<Statement> {
    let levels: Vec<(&str, Vec<f64>)> = distinct(rows.iter().map(|r| r.0.as_str()))
        .into_iter()
        .map(|sch| {
            (
                sch,
                rows.iter().filter(|r| r.0 == sch).map(|r| r.3).collect(),
            )
        })
        .collect();
    let mean_of = |v: &Vec<f64>| ci(v).map_or(f64::NAN, |c| c.0);
    let least = levels
        .iter()
        .min_by(|a, b| mean_of(&a.1).total_cmp(&mean_of(&b.1)))?;
    let most = levels
        .iter()
        .max_by(|a, b| mean_of(&a.1).total_cmp(&mean_of(&b.1)))?;
    if levels.len() < 2 || least.0 == most.0 {
        return None;
    }
    let claim = format!(
        "{} forgets less than {} (the least- and most-forgetting schedules by their means)",
        least.0, most.0
    );
    Some(
        two_sample(&claim, &most.1, &least.1, Direction::Down).with_detail(format!(
            "mean forgetting {:.3} vs {:.3}; pooled over frozen depths",
            mean_of(&least.1),
            mean_of(&most.1)
        )),
    )
}

/// Whether a schedule label uses discriminative rates or gradual unfreezing.
pub(crate) fn is_ulmfit(schedule: &str) -> bool {
    schedule.contains(" decay=") || schedule.contains(" unfreeze")
}

/// A schedule-comparison row: (schedule, lr, freeze, forgetting).
pub(crate) type ScheduleRow = (String, f64, Freeze, f64);

/// "Discriminative learning rates with gradual unfreezing forget less than uniform
/// fine-tuning", comparing each such schedule with the uniform one of the same peak rate at
/// the least frozen depth both have ([`two_sample`] over seeds).
pub(crate) fn ulmfit_findings(rows: &[ScheduleRow]) -> Vec<Statement> {
    let mut out = Vec::new();
    let forgetting = |sch: &str, f: Freeze| -> Vec<f64> {
        rows.iter()
            .filter(|r| r.0 == sch && r.2 == f)
            .map(|r| r.3)
            .collect()
    };
    for sch in distinct(
        rows.iter()
            .filter(|r| is_ulmfit(&r.0))
            .map(|r| (r.0.clone(), r.1)),
    ) {
        let uniform = distinct(
            rows.iter()
                .filter(|r| !is_ulmfit(&r.0) && r.1 == sch.1)
                .map(|r| r.0.clone()),
        );
        let Some(u) = uniform.first() else { continue };
        let mut freezes = distinct(
            rows.iter()
                .filter(|r| r.0 == sch.0)
                .map(|r| r.2)
                .filter(|f| rows.iter().any(|r| &r.0 == u && r.2 == *f)),
        );
        freezes.sort_by_key(|f| freeze_order(*f));
        let Some(&f) = freezes.first() else { continue };
        let what = match (sch.0.contains(" decay="), sch.0.contains(" unfreeze")) {
            (true, true) => "Discriminative learning rates with gradual unfreezing",
            (true, false) => "Discriminative learning rates",
            _ => "Gradual unfreezing",
        };
        let claim = format!(
            "{what} ({}) forget less than uniform fine-tuning ({u}) with freeze {f}",
            sch.0
        );
        out.push(two_sample(
            &claim,
            &forgetting(u, f),
            &forgetting(&sch.0, f),
            Direction::Down,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::statements::Verdict;

    #[test]
    fn schedule_findings_test_their_differences() {
        let row = |sch: &str, f: usize, v: f64| (sch.to_string(), 0.1, Freeze::Blocks(f), v);
        let rows = [
            row("constant lr=0.1", 0, 0.2),
            row("constant lr=0.1", 0, 0.21),
            row("constant lr=0.1", 0, 0.19),
            row("constant lr=0.1 decay=2.6 unfreeze", 0, 0.05),
            row("constant lr=0.1 decay=2.6 unfreeze", 0, 0.06),
            row("constant lr=0.1 decay=2.6 unfreeze", 0, 0.04),
        ];
        let u = ulmfit_findings(&rows);
        assert_eq!(u.len(), 1);
        assert!(u[0].sentence().starts_with("Discriminative learning rates with gradual unfreezing (constant lr=0.1 decay=2.6 unfreeze) forget less than uniform fine-tuning (constant lr=0.1) with freeze 0: supported (difference -0.150, 95% CI [-0.1"), "{}", u[0].sentence());
        let s = schedule_forgetting_finding(&rows).unwrap();
        assert_eq!(s.verdict, Verdict::Supported);
        assert!(
            s.claim.starts_with(
                "constant lr=0.1 decay=2.6 unfreeze forgets less than constant lr=0.1"
            ),
            "{}",
            s.claim
        );
        // One trial per schedule: no interval, no verdict.
        let u = ulmfit_findings(&[rows[0].clone(), rows[3].clone()]);
        assert_eq!(u[0].verdict, Verdict::Inconclusive);
        assert!(schedule_forgetting_finding(&rows[..3]).is_none());
    }
}
