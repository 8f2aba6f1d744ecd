//! The cost section: test accuracy against compute (training seconds, trainable parameters,
//! images seen), one point per configuration aggregated over its seeds, the Pareto front of
//! training time against accuracy, and the cheapest configuration within one standard error
//! of the most accurate.

pub(crate) mod choice;
pub(crate) mod configs;
pub(crate) mod plot;

use crate::report::context::{distinct, Ctx};
use crate::report::page::{Cell, Findings, Input, Output};
use crate::report::rows::query;
use crate::report::series::SETTINGS;
use anyhow::Result;
use choice::{cost_findings, fronts, timing_caveats};
use configs::{configurations, TrialCost};
use plot::{cost_chart, front_table, Cost};

/// The number of target classes of a trial, from its resolved configuration.
const CLASSES_SQL: &str = "json_array_length(t.config_json, '$.target.classes')";

/// One row per completed trial that recorded its evaluation time and trainable parameters:
/// its settings, final test accuracy, training seconds, trainable parameters, images seen
/// (examples per class × classes × epochs), device and environment.
fn cost_sql(ctx: &Ctx) -> String {
    let settings = SETTINGS
        .iter()
        .map(|s| format!("ts.{s}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT ts.key, {settings},
       ts.final_test_acc,
       ts.train_seconds - ts.eval_seconds AS training_seconds,
       ts.trainable_params,
       ts.train_per_class * {CLASSES_SQL} * ts.epochs AS images_seen,
       ts.device, e.host, e.cpu_model, e.gpu_name
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
LEFT JOIN environments e ON e.key = ts.environment_key
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.final_test_acc IS NOT NULL
  AND ts.train_seconds IS NOT NULL AND ts.eval_seconds IS NOT NULL
  AND ts.trainable_params IS NOT NULL AND {CLASSES_SQL} > 0
ORDER BY t.position;",
        ctx.sweep_lit()
    )
}

/// "Cost: accuracy against compute": charts of test accuracy against training seconds (with
/// the Pareto front), trainable parameters and images seen (a line instead where every
/// configuration has the same cost), the front's table and the one-standard-error findings
/// per group of comparable configurations. `None` with fewer than 2 configurations.
pub fn cost(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = cost_sql(ctx);
    let trials: Vec<TrialCost> = query(ctx.conn, &sql)?
        .iter()
        .filter_map(|r| TrialCost::from_row(r))
        .collect();
    let configs = configurations(&trials);
    if configs.len() < 2 {
        return Ok(None);
    }
    let front = fronts(&configs);
    let (mut notes, statements) = cost_findings(&configs);
    notes.extend(timing_caveats(&trials));
    // A cost every configuration shares (the same images seen, say) gets a line, not a chart.
    let chart = |cost: Cost, about: &str| -> Result<Output> {
        let values = distinct(configs.iter().map(|c| cost.format(cost.of(c))));
        if let [value] = values.as_slice() {
            return Ok(Output::Text {
                text: format!(
                    "Every configuration has the same {} ({value}): no chart against it.",
                    cost.name()
                ),
            });
        }
        Ok(Output::Chart {
            svg: cost_chart(ctx, &configs, cost, &front).to_svg()?,
            caption: format!("{} {about}", caption(ctx, trials.len())),
            rows: trials.len(),
        })
    };
    let mut outputs = vec![chart(
        Cost::Seconds,
        "Training seconds: each trial's fine-tuning epochs' wall-clock time minus the time they \
         spent evaluating the splits, on the machine that ran it; bookkeeping and the preparation \
         counted in the first epoch (a frozen prefix's features computed once) are included. \
         Dashed: the Pareto front of each group of comparable configurations (same target, size \
         and shift).",
    )?];
    if !notes.is_empty() || !statements.is_empty() {
        outputs.push(Output::Findings(Findings::new(notes, statements)));
    }
    outputs.push(Output::Table(front_table(&configs, &front)));
    outputs.push(chart(
        Cost::Params,
        "Trainable parameters: those of the trainable blocks and the head in the final epoch.",
    )?);
    outputs.push(chart(
        Cost::Images,
        "Images seen: examples per class \u{d7} target classes \u{d7} epochs.",
    )?);
    Ok(Some(Cell {
        title: "Cost: accuracy against compute".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

/// The caption shared by the three charts.
fn caption(ctx: &Ctx, rows: usize) -> String {
    format!(
        "Completed trials that recorded their evaluation time and trainable parameters ({rows} \
         of {} completed). One point per configuration (every setting but the seed): mean final \
         test accuracy over its seeds, error bars the 95% confidence interval of the mean \
         (Student t, n\u{2212}1 degrees of freedom; none where n = 1); x: the configuration's \
         mean cost over its seeds.",
        ctx.completed()
    )
}
