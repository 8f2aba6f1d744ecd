//! `thaw run --confirm-best K`: after a sweep has run, its best configuration (chosen on mean
//! final validation accuracy, [`track::best`]) is trained again with K seeds the sweep never
//! used, as the sweep `NAME.confirm`. The selection's own test accuracies are biased upward by
//! the choice (the best of many looks better than it is); the fresh seeds give an unbiased
//! estimate of the chosen configuration with its interval over K seeds, which the report's
//! search section shows next to the selection.

use super::plan::{keyed, PlannedSweep};
use super::RunOptions;
use crate::spec::{Grid, TrialSpec};
use crate::track::best::{best_configuration, fresh_seeds, seeds_used, CONFIRM_SUFFIX};
use crate::track::query::open_readonly;
use anyhow::{Context, Result};

/// The confirmation sweep of `planned`'s sweep with `k` fresh seeds, and a line saying what it
/// confirms; `None` (with the reason) when the sweep has no completed trial yet.
pub(super) fn confirmation(
    opts: &RunOptions,
    planned: &PlannedSweep,
    k: usize,
) -> Result<(Option<PlannedSweep>, String)> {
    let name = &planned.grid.name;
    let conn = open_readonly(&opts.db_path)?;
    let Some(best) = best_configuration(&conn, name)? else {
        return Ok((
            None,
            format!("--confirm-best: sweep {name} has no completed trial to confirm"),
        ));
    };
    let chosen: TrialSpec = serde_json::from_str(&best.config_json)
        .context("the best trial's recorded configuration is not one this thaw reads")?;
    let seeds = fresh_seeds(&seeds_used(&conn, name)?, k);
    let label = chosen.config_label();
    let trials = (seeds.iter())
        .map(|&seed| TrialSpec {
            seed,
            ..chosen.clone()
        })
        .collect();
    let what = format!(
        "{label} (the best of {} configurations by mean final validation accuracy, {:.4} over \
         {} seeds)",
        best.among,
        best.mean_val(),
        best.seeds.len()
    );
    let grid = Grid {
        name: format!("{name}{CONFIRM_SUFFIX}"),
        description: format!(
            "Confirmation of sweep {name}'s best configuration: {what}, with fresh seeds {seeds:?}"
        ),
        spec_yaml: format!(
            "# thaw run --confirm-best {k}: sweep {name}'s best configuration, {what},\n\
             # trained with seeds {seeds:?}. The grid it was chosen from:\n{}",
            planned.grid.spec_yaml
        ),
        trials,
        // Every trial of a confirmation runs to its last epoch: it is the estimate.
        early_stop: None,
        search: None,
        ..planned.grid.clone()
    };
    let line = format!(
        "confirming sweep {name}'s best configuration, {what}, with {k} fresh seeds {seeds:?} \
         as sweep {}",
        grid.name
    );
    let sweep = keyed(grid, &opts.data_dir, &opts.cache_dir)?;
    Ok((Some(sweep), line))
}
