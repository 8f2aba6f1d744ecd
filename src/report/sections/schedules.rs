//! The learning rate of every block over training, per schedule.

use crate::metrics::names::LR;
use crate::report::charts::{LineChart, XAxis};
use crate::report::context::{distinct, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{family_like, typed_rows};
use crate::report::series::{epoch_ticks, lr_series, no_data};
use anyhow::Result;

/// [9] Schedules: the learning rate of every block over training, one chart per schedule
/// (from its least-frozen trial, first in grid order, so frozen blocks do not hide it).
pub fn schedules(ctx: &Ctx) -> Result<Option<Cell>> {
    if ctx.trials.is_empty() {
        return Ok(None);
    }
    let title = "Schedules: learning rate of every block";
    let sql = format!(
        "WITH rep AS (
    SELECT id, schedule, key, position FROM (
        SELECT t.id, t.schedule, t.key, t.position,
               ROW_NUMBER() OVER (PARTITION BY t.schedule
                                  ORDER BY t.pretrained DESC, t.frozen_blocks, t.position) AS r
        FROM trials t JOIN sweeps s ON s.id = t.sweep_id
        WHERE s.name = {} AND t.status <> 'pending' AND t.superseded_in IS NULL
          AND EXISTS (SELECT 1 FROM metrics m WHERE m.trial_id = t.id AND m.name LIKE {lr_like})
    ) WHERE r = 1
)
SELECT rep.schedule, rep.key, m.name AS block, m.epoch, m.value AS {lr}
FROM rep JOIN metrics m ON m.trial_id = rep.id
WHERE m.name LIKE {lr_like} AND m.value IS NOT NULL
ORDER BY rep.position, m.name, m.epoch;",
        ctx.sweep_lit(),
        lr = LR.prefix,
        lr_like = family_like(LR),
    );
    let inputs = vec![Input::sql(sql.clone())];
    let rows = typed_rows(ctx.conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, f64>(4)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let mut outputs = Vec::new();
    for sch in distinct(rows.iter().map(|r| r.0.as_str())) {
        let mine: Vec<(String, i64, f64)> = rows
            .iter()
            .filter(|r| r.0 == sch)
            .map(|r| (r.2.clone(), r.3, r.4))
            .collect();
        let key = rows.iter().find(|r| r.0 == sch).map(|r| r.1.as_str());
        let chart = LineChart {
            legend_title: "block".to_string(),
            ..LineChart::new(
                format!("Learning rate per block: {sch}"),
                "epoch".to_string(),
                LR.label.to_string(),
                XAxis::Linear {
                    ticks: epoch_ticks(&mine.iter().map(|r| r.1).collect::<Vec<_>>()),
                },
                lr_series(&mine),
            )
        };
        outputs.push(Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
                "Schedule {sch}, as applied in trial {} (the least-frozen trial with this \
                 schedule); a frozen block has learning rate 0.",
                key.unwrap_or("?")
            ),
            rows: mine.len(),
        });
    }
    Ok(Some(Cell {
        title: title.to_string(),
        inputs,
        outputs,
    }))
}
