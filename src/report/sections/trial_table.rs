//! Every trial with its parameters, final metrics and error.

use crate::report::context::Ctx;
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::sql_table;
use anyhow::Result;

/// [7] Every trial with its parameters, final metrics, error and, when any trial has some, tags.
pub fn trial_table(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT ts.key, ts.status, ts.backbone, ts.pretrained, ts.freeze, ts.train_per_class,
       ts.shift, ts.schedule, {}ts.seed, ts.final_test_acc, ts.best_val_acc, ts.best_epoch,
       ts.source_acc_pretrained, ts.source_acc_final, ts.train_seconds, ts.error{}
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {}
ORDER BY t.position;",
        if ctx.varies("precision") {
            "ts.precision, "
        } else {
            ""
        },
        if any_trial_tagged(ctx)? {
            ", ts.tags"
        } else {
            ""
        },
        ctx.sweep_lit()
    );
    let mut table = sql_table(ctx.conn, &sql)?;
    table.sortable = true;
    if let Some(k) = table.headers.iter().position(|h| h == "key") {
        for row in &mut table.rows {
            row[k].href = Some(format!(
                "trials/{}.html",
                crate::report::files::safe_name(&row[k].text)
            ));
        }
    }
    Ok(Some(Cell {
        title: "Trials".to_string(),
        outputs: vec![
            Output::Text {
                text: ctx.status_line(),
            },
            Output::Table(table),
        ],
        inputs: vec![Input::sql(sql)],
    }))
}

/// Whether a trial of the sweep's current grid has a tag (read from the `tags` table, so that a
/// database whose views predate the `tags` column still renders).
fn any_trial_tagged(ctx: &Ctx) -> Result<bool> {
    Ok(ctx.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM tags g
             JOIN trials t ON t.id = g.trial_id
             JOIN sweeps s ON s.id = g.sweep_id
             WHERE s.name = ?1 AND t.superseded_in IS NULL)",
        [&ctx.sweep.name],
        |r| r.get(0),
    )?)
}
