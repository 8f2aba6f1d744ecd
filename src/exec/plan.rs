//! Planning a run without training anything: the grid files named on the command line, every
//! grid validated against its data, every trial with its key and position, a shard's share,
//! and what `--dry-run` prints. Needs no libtorch.

use super::shard::{self, Shard};
use crate::data;
use crate::spec::{self, DatasetSource, Grid, TrialSpec};
use crate::track::{Db, GridTrials, Registration};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A grid checked against its data, every trial with its key.
pub struct PlannedSweep {
    pub grid: Grid,
    /// The trials this run is responsible for, in grid order (all of them, or a shard's share).
    pub trials: Vec<PlannedTrial>,
    /// Every trial of the grid (also outside a shard's share) as `(key, config_json)`: they
    /// make the sweep's grid version.
    pub grid_trials: Vec<(String, String)>,
}

/// One trial of a planned sweep.
pub struct PlannedTrial {
    /// Its order in the whole expanded grid (kept when a shard runs only some trials).
    pub position: usize,
    /// Hash of its configuration and data ([`TrialSpec::key`]).
    pub key: String,
    pub spec: TrialSpec,
}

impl PlannedSweep {
    /// Keeps only the trials of `shard`, dealt over the keys of every sweep in `sweeps`.
    pub fn keep_shard(sweeps: &mut [PlannedSweep], shard: shard::Shard) {
        let keys: Vec<String> = sweeps
            .iter()
            .flat_map(|p| p.trials.iter().map(|t| t.key.clone()))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let share: std::collections::HashSet<String> =
            shard.share(&refs).into_iter().map(str::to_string).collect();
        for p in sweeps {
            p.trials.retain(|t| share.contains(&t.key));
        }
    }

    /// Records the sweep and registers its trials as its current grid version (see
    /// [`Db::register_grid`]); returns the sweep's id and what registering did.
    pub fn register(&self, db: &Db, rerun_outdated: bool) -> Result<(i64, Registration)> {
        let grid = &self.grid;
        let sweep_id = db.upsert_sweep(
            &grid.name,
            &grid.description,
            &grid.spec_path.display().to_string(),
            &grid.spec_yaml,
        )?;
        let keyed: Vec<(usize, &str, &TrialSpec)> = self
            .trials
            .iter()
            .map(|t| (t.position, t.key.as_str(), &t.spec))
            .collect();
        let grid: Vec<(&str, &str)> = (self.grid_trials.iter())
            .map(|(k, c)| (k.as_str(), c.as_str()))
            .collect();
        let registration = db.register_grid(
            sweep_id,
            &GridTrials {
                grid: &grid,
                share: &keyed,
                semantics: spec::SEMANTICS,
                rerun_outdated,
            },
        )?;
        Ok((sweep_id, registration))
    }

    /// The lines telling what registering did: a new grid version, and trials kept from an
    /// older training semantics (none when neither).
    pub fn describe(&self, r: &Registration) -> Vec<String> {
        let name = &self.grid.name;
        let mut lines = Vec::new();
        if r.new_version && r.version > 1 {
            lines.push(format!(
                "{name}: grid version {}: {} trials in the grid, {} new, {} superseded (kept, hidden; `thaw ls --all` lists them, `thaw rm {name} --superseded` deletes them), {} restored",
                r.version,
                self.grid_trials.len(),
                r.added,
                r.superseded,
                r.restored
            ));
        }
        if !r.outdated.is_empty() {
            lines.push(format!(
                "{name}: {} trials were recorded under an older training semantics than this thaw's ({}); they are kept and shown as outdated; `thaw run --rerun-outdated` reruns them",
                r.outdated.len(),
                spec::SEMANTICS
            ));
        }
        lines
    }
}

/// Loads a grid, checks it against the datasets and computes every trial's key; refuses a grid
/// of more than `max_trials` trials (a mistake, most likely). Nothing is written anywhere.
pub fn plan(
    grid_path: &Path,
    data_dir: &Path,
    cache_dir: &Path,
    max_trials: usize,
) -> Result<PlannedSweep> {
    let grid =
        spec::load_grid(grid_path, &crate::data::Files).map_err(|e| anyhow::anyhow!("{e}"))?;
    if grid.trials.len() > max_trials {
        bail!(
            "{}: the grid expands to {} trials, more than the limit of {max_trials}; check the axes (or `exclude:`), or raise the limit with --max-trials {}",
            grid_path.display(),
            grid.trials.len(),
            grid.trials.len()
        );
    }
    spec::check_data(&grid, &mut |src| {
        Ok(data::train_pool_sizes(&*load(src, data_dir, cache_dir)?))
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    keyed(grid, data_dir, cache_dir)
}

/// The planned sweep of a checked `grid`: every trial keyed by its configuration and data.
pub fn keyed(grid: Grid, data_dir: &Path, cache_dir: &Path) -> Result<PlannedSweep> {
    let trials = grid
        .trials
        .iter()
        .enumerate()
        .map(|(position, t)| {
            let fingerprint = format!(
                "{}+{}",
                load(&t.source.dataset, data_dir, cache_dir)?.fingerprint,
                load(&t.target.dataset, data_dir, cache_dir)?.fingerprint
            );
            Ok(PlannedTrial {
                position,
                key: t.key(&fingerprint),
                spec: t.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let grid_trials = (trials.iter())
        .map(|t| (t.key.clone(), t.spec.config_json()))
        .collect();
    Ok(PlannedSweep {
        grid,
        trials,
        grid_trials,
    })
}

/// Loads a dataset, keeping decoded image files under `<cache_dir>/decoded`.
pub(super) fn load(
    src: &DatasetSource,
    data_dir: &Path,
    cache_dir: &Path,
) -> Result<Arc<data::Dataset>> {
    data::load_dataset_cached(src, data_dir, Some(&cache_dir.join("decoded")))
}

/// The configuration group of a trial: a hash of its configuration without the seed, and its
/// label without the seed.
pub fn config_group(config_json: &str) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(config_json)?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("seed");
    }
    let hash = blake3::hash(serde_json::to_string(&value)?.as_bytes()).to_hex();
    let spec: TrialSpec = serde_json::from_str(config_json)
        .context("a trial's recorded configuration is not one this thaw reads")?;
    Ok(format!("config {}: {}", &hash[..12], spec.config_label()))
}

/// The grid files named on the command line: files as given, folders expanded to their
/// `*.yaml` / `*.yml` files in name order.
pub fn grid_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let before = files.len();
        for entry in walkdir::WalkDir::new(arg).sort_by_file_name() {
            let entry =
                entry.with_context(|| format!("cannot read the folder {}", arg.display()))?;
            let is_grid = entry
                .path()
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml");
            if entry.file_type().is_file() && is_grid {
                files.push(entry.into_path());
            }
        }
        if files.len() == before {
            bail!("{}: no *.yaml grid files in this folder", arg.display());
        }
    }
    Ok(files)
}

pub fn print_dry_run(planned: &[PlannedSweep], shard: Option<Shard>) {
    for p in planned {
        println!("{}", crate::spec::describe_trials(&p.grid));
        for t in &p.trials {
            println!("trial {:>4}  key {}", t.position + 1, t.key);
        }
        let share = shard.map_or(String::new(), |s| format!(" in shard {s}"));
        println!(
            "{}: {} trials{share}; nothing was trained or written (--dry-run)",
            p.grid.name,
            p.trials.len()
        );
    }
}
