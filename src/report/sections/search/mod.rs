//! The search section, for a sweep that searches (`search:` sampling, `early_stop:` pruning) or
//! whose best configuration was confirmed (`thaw run --confirm-best`): what was searched, each
//! sampled parameter against the metric ([`axes`]), the best so far against training time
//! ([`progress`]), the trials early stopping pruned at each rung ([`rungs`]), and the best
//! configuration chosen on validation with its test
//! accuracy over its seeds and over fresh ones ([`best`]).

mod axes;
mod best;
mod progress;
mod rungs;

use crate::report::context::Ctx;
use crate::report::page::{Cell, Output};
use crate::spec::search::search_space;
use crate::track::best::CONFIRM_SUFFIX;
use anyhow::Result;

/// The "Search" cell; `None` for a sweep that neither searches nor was confirmed, for a
/// confirmation sweep itself, and before any trial completed.
pub fn search(ctx: &Ctx) -> Result<Option<Cell>> {
    // A confirmation sweep is one configuration: nothing was searched there.
    if ctx.sweep.name.ends_with(CONFIRM_SUFFIX)
        || !(searches(&ctx.sweep.spec_yaml) || confirmed(ctx)?)
    {
        return Ok(None);
    }
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    if let Some(space) = search_space(&ctx.sweep.spec_yaml) {
        outputs.push(Output::Text {
            text: format!(
                "Searched: {}; every sample crossed with the grid's other axes.",
                space.summary()
            ),
        });
        if let Some((input, charts)) = axes::scatters(ctx, &space)? {
            inputs.push(input);
            outputs.extend(charts);
        }
    }
    if let Some((input, chart)) = progress::progress(ctx)? {
        inputs.push(input);
        outputs.push(chart);
    }
    if let Some((input, table)) = rungs::rungs(ctx)? {
        inputs.push(input);
        outputs.push(table);
    }
    if let Some((sql, more)) = best::best(ctx)? {
        inputs.extend(sql);
        outputs.extend(more);
    }
    if !outputs
        .iter()
        .any(|o| matches!(o, Output::Chart { .. } | Output::Table(_)))
    {
        return Ok(None);
    }
    Ok(Some(Cell {
        title: "Search".to_string(),
        inputs,
        outputs,
    }))
}

/// Whether the grid text declares a `search:` or an `early_stop:`.
fn searches(spec_yaml: &str) -> bool {
    serde_norway::from_str::<serde_norway::Value>(spec_yaml)
        .ok()
        .is_some_and(|g| g.get("search").is_some() || g.get("early_stop").is_some())
}

/// Whether `thaw run --confirm-best` recorded a confirmation of the sweep.
fn confirmed(ctx: &Ctx) -> Result<bool> {
    let n: i64 = ctx.conn.query_row(
        "SELECT COUNT(*) FROM sweeps WHERE name = ?1",
        [format!("{}{CONFIRM_SUFFIX}", ctx.sweep.name)],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}
