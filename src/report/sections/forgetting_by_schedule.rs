//! Source-task accuracy by schedule, and whether ULMFiT-style schedules forget less.

use crate::report::charts::{LineChart, Series, XAxis};
use crate::report::context::{
    distinct, freeze_label, freeze_order, model_order, schedule_label, Ctx,
};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, parse_freeze, query, text};
use crate::report::sections::forgetting::{source_acc_rows, source_acc_sql};
use crate::report::series::{epoch_ticks, no_data, points_of};
use crate::report::stats::{ci, ci_table};
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
    let finding = schedule_forgetting_finding(&rows);
    if !finding.is_empty() {
        outputs.push(Output::Text { text: finding });
    }
    let findings = ulmfit_findings(&sched_rows);
    if !findings.is_empty() {
        outputs.push(Output::Text {
            text: format!("Findings:\n{}", findings.join("\n")),
        });
    }
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

/// "cosine lr=0.01 forgot least: source accuracy 0.93 → 0.88 (−0.05)."
fn schedule_forgetting_finding(rows: &[(String, i64, f64)]) -> String {
    let mut drops: Vec<(&str, f64, f64)> = Vec::new();
    for sch in distinct(rows.iter().map(|r| r.0.as_str())) {
        let pts: Vec<&(String, i64, f64)> = rows.iter().filter(|r| r.0 == sch).collect();
        let first = pts.iter().min_by_key(|r| r.1).map(|r| r.2);
        let last = pts.iter().max_by_key(|r| r.1).map(|r| r.2);
        if let (Some(a), Some(b)) = (first, last) {
            drops.push((sch, a, b));
        }
    }
    drops.sort_by(|x, y| (x.1 - x.2).total_cmp(&(y.1 - y.2)));
    match (drops.first(), drops.last()) {
        (Some(best), Some(worst)) if drops.len() > 1 => format!(
            "Least forgetting with {}: source accuracy {:.3} \u{2192} {:.3}; most with {}: \
             {:.3} \u{2192} {:.3} (means over frozen depths and seeds).",
            best.0, best.1, best.2, worst.0, worst.1, worst.2
        ),
        _ => String::new(),
    }
}

/// Whether a schedule label uses discriminative rates or gradual unfreezing.
pub(crate) fn is_ulmfit(schedule: &str) -> bool {
    schedule.contains(" decay=") || schedule.contains(" unfreeze")
}

/// A schedule-comparison row: (schedule, lr, freeze, forgetting).
pub(crate) type ScheduleRow = (String, f64, Freeze, f64);

/// "Discriminative learning rates with gradual unfreezing forget less than uniform full
/// fine-tuning: yes (…)", comparing each such schedule with the uniform one of the same peak
/// rate at the least frozen depth both have.
pub(crate) fn ulmfit_findings(rows: &[ScheduleRow]) -> Vec<String> {
    let mut out = Vec::new();
    let forgetting = |sch: &str, f: Freeze| -> Option<f64> {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == sch && r.2 == f)
            .map(|r| r.3)
            .collect();
        ci(&v).map(|c| c.0)
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
        if let (Some(a), Some(b)) = (forgetting(&sch.0, f), forgetting(u, f)) {
            let what = match (sch.0.contains(" decay="), sch.0.contains(" unfreeze")) {
                (true, true) => "Discriminative learning rates with gradual unfreezing",
                (true, false) => "Discriminative learning rates",
                _ => "Gradual unfreezing",
            };
            out.push(format!(
                "{what} ({}) forget less than uniform fine-tuning ({u}) with freeze {f}: {} \
                 (forgetting {a:.3} vs {b:.3}).",
                sch.0,
                if a < b { "yes" } else { "no" }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulmfit_findings_detect_the_effect() {
        let u = ulmfit_findings(&[
            ("constant lr=0.1".to_string(), 0.1, Freeze::Blocks(0), 0.2),
            (
                "constant lr=0.1 decay=2.6 unfreeze".to_string(),
                0.1,
                Freeze::Blocks(0),
                0.05,
            ),
        ])
        .join("\n");
        assert!(u.contains("Discriminative learning rates with gradual unfreezing (constant lr=0.1 decay=2.6 unfreeze) forget less than uniform fine-tuning (constant lr=0.1) with freeze 0: yes (forgetting 0.050 vs 0.200)"), "{u}");
    }
}
