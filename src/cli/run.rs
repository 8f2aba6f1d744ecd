//! `thaw run`: from its arguments to a run configuration and an exit status. A build without the
//! `train` feature validates and lists the trials (`--dry-run`) and refuses to train.

use super::RunArgs;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use thaw::exec::{self, shard::Shard};

/// The cache folder when none is given: `.thaw-cache` beside the database.
pub fn default_cache_dir(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".thaw-cache")
}

/// Runs `thaw run`.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let shard: Option<Shard> = args.shard.as_deref().map(str::parse).transpose()?;
    if args.dry_run {
        let cache_dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(|| default_cache_dir(&args.db.db));
        let mut planned = exec::grid_files(&args.grids)?
            .iter()
            .map(|g| exec::plan(g, &args.data_dir, &cache_dir, args.max_trials))
            .collect::<Result<Vec<_>>>()?;
        if let Some(shard) = shard {
            exec::PlannedSweep::keep_shard(&mut planned, shard);
        }
        exec::plan::print_dry_run(&planned, shard);
        return Ok(ExitCode::SUCCESS);
    }
    train(args, shard)
}

#[cfg(not(feature = "train"))]
fn train(_args: RunArgs, _shard: Option<Shard>) -> Result<ExitCode> {
    bail!(
        "this thaw was built without training (cargo build --no-default-features): it reads \
         results (report, query, ls, export, merge) and validates grids (run --dry-run); build it \
         with the default features, and libtorch, to train"
    )
}

#[cfg(feature = "train")]
fn train(args: RunArgs, shard: Option<Shard>) -> Result<ExitCode> {
    use exec::launch::RunConfig;
    let cache_dir = args
        .cache_dir
        .unwrap_or_else(|| default_cache_dir(&args.db.db));
    let devices = args
        .device
        .split(',')
        .map(super::training::parse_device)
        .collect::<Result<Vec<_>>>()?;
    let render = shard.is_none();
    if render {
        check_reports_dir(&args.reports.reports_dir)?;
    }
    if !(args.checkpoint_every.is_finite() && args.checkpoint_every >= 0.0) {
        bail!(
            "--checkpoint-every {}: give a number of seconds, 0 or more (0 = every epoch)",
            args.checkpoint_every
        );
    }
    let keep = match args.keep {
        Some(super::Keep::Best) if shard.is_some() => bail!(
            "--keep best chooses among all the trials of a sweep, and a shard runs only part of \
             them; run the grid without --shard to keep its best model"
        ),
        Some(super::Keep::Best) => Some(exec::keep::KeepPolicy::new(
            &args.keep_metric,
            args.keep_scope.parse()?,
        )?),
        None => None,
    };
    if args.confirm_best.is_some() && shard.is_some() {
        bail!(
            "--confirm-best chooses among all the trials of a sweep, and a shard runs only part \
             of them; run it after `thaw merge`, on the merged database, without --shard"
        );
    }
    let config = RunConfig {
        grids: exec::grid_files(&args.grids)?,
        jobs: args.jobs,
        threads: args.threads,
        shard,
        worker: args.worker,
        max_trials: args.max_trials,
        on_finish: args.on_finish,
        confirm_best: args.confirm_best.map(usize::from),
        options: exec::RunOptions {
            db_path: args.db.db,
            data_dir: args.data_dir,
            cache_dir,
            reports_dir: args.reports.reports_dir,
            templates: args.reports.templates,
            device: devices[0],
            retry_failed: args.retry_failed,
            rerun_outdated: args.rerun_outdated,
            keep_checkpoints: args.keep_checkpoints,
            keep,
            feature_reuse: !args.no_feature_reuse,
            checkpoint_every: std::time::Duration::from_secs_f64(args.checkpoint_every),
            stale_after: std::time::Duration::from_secs(args.stale_after),
            render,
        },
        devices,
    };
    let code = exec::launch::launch(&config).map_err(|e| {
        super::results::disk_hint(
            e,
            &format!(
                "the database {} or the reports under {}",
                config.options.db_path.display(),
                config.options.reports_dir.display()
            ),
        )
    })?;
    Ok(ExitCode::from(code))
}

/// Fails when the reports folder cannot be created or written, before anything is trained.
#[cfg(feature = "train")]
fn check_reports_dir(dir: &Path) -> Result<()> {
    use anyhow::Context;
    let hint = "fix its permissions or choose another with --reports-dir (or THAW_REPORTS)";
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the reports folder {}; {hint}", dir.display()))?;
    let probe = dir.join(format!(".thaw-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "the reports folder {} is not writable; {hint}",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
