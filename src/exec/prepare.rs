//! `thaw prepare`: what every trial of a sweep needs, done once before an array of shard tasks
//! starts (so that they do not all pretrain the same checkpoint at once): the datasets are
//! decoded into the cache, every source checkpoint is pretrained, and weights files are checked.

use super::progress::Progress;
use super::trainer::TrialRunner;
use super::{PlannedSweep, RunOptions};
use crate::track::Db;
use crate::train::features::{self, FeatureCache};
use anyhow::{Context, Result};
use std::cell::Cell;
use std::path::Path;
use std::time::Duration;
use tch::Device;

/// Pretrains every source checkpoint the trials of `planned` need that `cache_dir` lacks,
/// recording them in the database at `db`; returns how many it trained. (Planning already
/// decoded the datasets into `cache_dir`.)
pub fn prepare(
    planned: &[PlannedSweep],
    db: &Path,
    data_dir: &Path,
    cache_dir: &Path,
    device: Device,
) -> Result<usize> {
    let opts = RunOptions {
        db_path: db.to_path_buf(),
        data_dir: data_dir.to_path_buf(),
        cache_dir: cache_dir.to_path_buf(),
        reports_dir: cache_dir.join("reports"),
        templates: None,
        device,
        retry_failed: false,
        rerun_outdated: false,
        keep_checkpoints: false,
        keep: None,
        checkpoint_every: Duration::ZERO,
        feature_reuse: true,
        stale_after: Duration::from_secs(60),
        render: false,
    };
    let db = Db::open(db)?;
    let bookkeeping = Cell::new(Duration::ZERO);
    let cache = FeatureCache::new(None, features::MEMORY_BUDGET_BYTES, features::PERSIST_AFTER);
    let mut runner = TrialRunner::new(&opts, &db, &bookkeeping, &cache);
    let progress = Progress::new(0);
    for p in planned {
        for t in &p.trials {
            let spec = &t.spec;
            if let (Some(weights), true) = (&spec.weights, spec.pretrained) {
                let file = weights.file(spec.backbone)?;
                anyhow::ensure!(
                    file.exists(),
                    "{}: the weights file {} of backbone {} does not exist",
                    p.grid.spec_path.display(),
                    file.display(),
                    spec.backbone
                );
            }
            if spec.pretrains_on_source() {
                runner
                    .pretrained_checkpoint(spec, &progress)
                    .with_context(|| format!("pretraining for trial {}", t.key))?;
            }
        }
    }
    Ok(runner.pretrained_now)
}
