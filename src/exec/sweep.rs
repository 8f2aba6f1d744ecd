//! Running a planned sweep in this process: record the runner's environment, claim each trial
//! (linking it to that environment), resume it from its checkpoint or start it, pretrain what
//! is missing, train, log every epoch, re-render the report after each trial.

use super::keep::KeepPolicy;
use super::plan::{PlannedSweep, PlannedTrial};
use super::progress::Progress;
use super::trainer::{TrialAt, TrialRunner};
use super::{interrupt, runner};
use crate::track::{ClaimRules, Claimed, Db, TrialStatus};
use crate::train::features::{self, CacheStats, FeatureCache};
use crate::train::{checkpoint, FitOutcome};
use anyhow::{Context, Result};
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tch::Device;

/// Least time between two renders of a sweep's report while it runs.
const RENDER_EVERY: Duration = Duration::from_secs(5);

/// A re-render waits at least this many times as long as the previous render took, so that
/// re-rendering takes at most 1/200 = 0.5% of a sweep however large its report grows.
const RENDER_WAIT_FACTOR: u32 = 200;

/// Where a run reads and writes, and on what it trains.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The SQLite results database.
    pub db_path: PathBuf,
    /// Folder holding the bundled datasets.
    pub data_dir: PathBuf,
    /// Folder for pretrained checkpoints.
    pub cache_dir: PathBuf,
    /// Folder reports are written under (`<reports>/<sweep>/index.html`).
    pub reports_dir: PathBuf,
    /// Templates overriding the built-in report templates.
    pub templates: Option<PathBuf>,
    /// Device trials train on (a `--jobs` run's workers each get their own).
    pub device: Device,
    /// Also rerun failed and diverged trials.
    pub retry_failed: bool,
    /// Rerun trials recorded under an older training semantics instead of keeping them.
    pub rerun_outdated: bool,
    /// Keep the epoch checkpoints of finished trials.
    pub keep_checkpoints: bool,
    /// `--keep best`: save completed trials' networks as candidates; the process that started
    /// the run keeps the winners ([`super::keep`]).
    pub keep: Option<KeepPolicy>,
    /// Least training time between two checkpoints of a trial.
    pub checkpoint_every: Duration,
    /// Reuse frozen-prefix outputs across epochs and trials (off only to measure the saving).
    pub feature_reuse: bool,
    /// A running trial whose heartbeat is older than this is taken over.
    pub stale_after: Duration,
    /// Re-render the sweep's report while it runs and at its end (off for a shard, which
    /// holds only part of the sweep: the merge renders it).
    pub render: bool,
}

impl RunOptions {
    /// Which trials `runner` may take under these options (linking them to no environment).
    pub fn claim_rules<'a>(&self, runner: &'a str) -> ClaimRules<'a> {
        ClaimRules {
            runner,
            environment: None,
            retry_failed: self.retry_failed,
            stale_after: self.stale_after,
            runner_is_dead: &runner::is_dead,
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Sweep name.
    pub sweep: String,
    /// Trials in the grid.
    pub total: usize,
    /// Trials already completed (or pruned) before this run.
    pub skipped: usize,
    /// Trials this run completed, failed and saw diverge.
    pub completed: usize,
    pub failed: usize,
    pub diverged: usize,
    /// Trials stopped by Ctrl-C, checkpointed for a resume.
    pub interrupted: usize,
    /// Trials this run stopped early at a rung (`early_stop:`).
    pub pruned: usize,
    /// Trials another runner holds (or failed ones not retried).
    pub left_to_others: usize,
    /// Time spent on bookkeeping: database writes, epoch checkpoints and report renders.
    pub bookkeeping: Duration,
    /// Wall time of the run.
    pub wall: Duration,
    /// The rendered report.
    pub report: Option<PathBuf>,
    /// How the frozen-prefix outputs of the run's trials were obtained.
    pub features: CacheStats,
}

/// A device as written on the command line and in the database (`cpu`, `cuda:0`).
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
        Device::Cpu => "cpu".into(),
    }
}

/// Runs every trial of the planned sweep that this runner may claim: pending and interrupted
/// ones, running ones whose runner died, and with `retry_failed` failed and diverged ones.
pub fn run(planned: &PlannedSweep, opts: &RunOptions) -> Result<RunSummary> {
    let grid = &planned.grid;
    let db = Db::open(&opts.db_path)?;
    let (sweep_id, registration) = planned.register(&db, opts.rerun_outdated)?;
    let statuses = db.trial_statuses(sweep_id)?;
    let runner = runner::runner_id();
    let todo: Vec<&PlannedTrial> = planned
        .trials
        .iter()
        .filter(|t| {
            !matches!(
                statuses.get(&t.key),
                Some(TrialStatus::Completed | TrialStatus::Pruned)
            )
        })
        .filter(|t| !registration.outdated.contains_key(&t.key))
        .collect();
    let environment = if todo.is_empty() {
        None
    } else {
        let env = crate::provenance::gather(opts.device, Some(&grid.spec_path));
        Some(db.record_environment(&env)?)
    };
    let rules = ClaimRules {
        environment: environment.as_deref(),
        ..opts.claim_rules(&runner)
    };
    let mut summary = RunSummary {
        sweep: grid.name.clone(),
        total: planned.trials.len(),
        skipped: planned.trials.len() - todo.len(),
        ..Default::default()
    };

    let started = Instant::now();
    let bookkeeping = Cell::new(Duration::ZERO);
    let mut renders = Renders::default();
    let feature_cache = FeatureCache::new(
        Some(&opts.cache_dir.join("features")),
        features::MEMORY_BUDGET_BYTES,
        features::PERSIST_AFTER,
    );
    let mut trainer = TrialRunner::new(opts, &db, &bookkeeping, &feature_cache);
    let mut progress = Progress::new(todo.len());
    for line in planned.describe(&registration) {
        progress.println(&line);
    }
    if summary.skipped > 0 {
        progress.println(&format!(
            "{} of {} trials already completed; running the other {}",
            summary.skipped,
            summary.total,
            todo.len()
        ));
    }
    for PlannedTrial {
        key, spec: trial, ..
    } in todo
    {
        if interrupt::requested() {
            break;
        }
        let label = trial.label();
        let Some(claim) = db.claim(sweep_id, key, &device_name(opts.device), &rules)? else {
            summary.left_to_others += 1;
            progress.finish_trial(&format!(
                "skipped (held by another runner or not to retry): {label}"
            ));
            continue;
        };
        let checkpoint = opts
            .cache_dir
            .join("trials")
            .join(format!("{key}.safetensors"));
        let resume = resume_point(&db, &claim, &checkpoint)?;
        if let Some(at) = resume {
            progress.println(&format!("resuming {key} after epoch {}", at.epoch));
        }
        progress.start_trial(&label, trial.epochs);
        let heartbeat = runner::Heartbeat::start(&opts.db_path, claim.trial_id, &runner);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let at = TrialAt {
                trial_id: claim.trial_id,
                checkpoint: &checkpoint,
                eval: grid.eval,
                early_stop: grid.early_stop.as_ref(),
            };
            trainer.run_trial(key, trial, &at, &mut progress)
        }))
        .unwrap_or_else(|panic| Err(anyhow::anyhow!("{}", panic_text(&panic))));
        drop(heartbeat);
        if let Err(err) = &outcome {
            progress.println(&format!("trial {key} failed: {err:#}"));
        }
        let (status, error, word) = settle(&outcome, trial.schedule.lr, &mut summary);
        db.finish_trial(claim.trial_id, status, error.as_deref())?;
        if status != TrialStatus::Interrupted && !opts.keep_checkpoints {
            remove_checkpoint(&checkpoint)?;
        }
        progress.finish_trial(&format!("{word}: {label}"));
        if opts.render && renders.due() {
            summary.report = Some(renders.render(opts, &grid.name, &bookkeeping)?);
        }
    }
    progress.finish();
    if opts.render {
        summary.report = Some(renders.render(opts, &grid.name, &bookkeeping)?);
    }
    summary.bookkeeping = bookkeeping.get();
    summary.wall = started.elapsed();
    summary.features = feature_cache.stats();
    Ok(summary)
}

/// Where a claimed trial resumes: its checkpoint's position, when the trial was running or
/// interrupted and the metrics of the checkpoint's epochs are recorded (after a power loss the
/// database may have lost its last commits while the file survived). Otherwise the trial starts
/// over: its checkpoint is removed. Metrics past the resume point are deleted either way.
fn resume_point(
    db: &Db,
    claim: &Claimed,
    checkpoint: &Path,
) -> Result<Option<checkpoint::Position>> {
    let logged = db.last_logged_epoch(claim.trial_id)?;
    let resume = match claim.previous {
        TrialStatus::Running | TrialStatus::Interrupted => checkpoint::saved_position(checkpoint)
            .filter(|at| logged.is_some_and(|l| l >= at.epoch as i64)),
        _ => None,
    };
    if resume.is_none() {
        remove_checkpoint(checkpoint)?;
    }
    db.truncate_metrics(claim.trial_id, resume.map(|p| p.epoch as i64))?;
    Ok(resume)
}

/// A trial's status, error message and the word the progress line ends it with, counted in
/// `summary`. `lr` is the trial's learning rate, which a diverged trial's message names.
fn settle(
    outcome: &Result<FitOutcome>,
    lr: f64,
    summary: &mut RunSummary,
) -> (TrialStatus, Option<String>, String) {
    match outcome {
        Ok(FitOutcome::Completed) => {
            summary.completed += 1;
            (TrialStatus::Completed, None, "completed".to_string())
        }
        Ok(FitOutcome::Diverged { epoch }) => {
            summary.diverged += 1;
            let msg = format!(
                "training loss became NaN or infinite in epoch {epoch}; try a lower learning rate (schedule.lr = {lr})"
            );
            (
                TrialStatus::Diverged,
                Some(msg),
                format!("diverged in epoch {epoch}"),
            )
        }
        Ok(FitOutcome::Pruned { epoch }) => {
            summary.pruned += 1;
            (
                TrialStatus::Pruned,
                None,
                format!("pruned after epoch {epoch}"),
            )
        }
        Ok(FitOutcome::Interrupted { epoch }) => {
            summary.interrupted += 1;
            (
                TrialStatus::Interrupted,
                None,
                format!("interrupted after epoch {epoch}"),
            )
        }
        Err(err) => {
            summary.failed += 1;
            (
                TrialStatus::Failed,
                Some(format!("{err:#}")),
                "failed".to_string(),
            )
        }
    }
}

/// Re-renders of the report during a sweep, so that it can be read mid-sweep: at most every
/// [`RENDER_EVERY`] and [`RENDER_WAIT_FACTOR`] times the last render's time.
#[derive(Default)]
struct Renders {
    /// When the last render ended and how long it took.
    last: Option<(Instant, Duration)>,
}

impl Renders {
    fn due(&self) -> bool {
        self.last
            .is_none_or(|(at, took)| at.elapsed() >= RENDER_EVERY.max(took * RENDER_WAIT_FACTOR))
    }

    /// Renders now, adding the time taken to `bookkeeping`.
    fn render(
        &mut self,
        opts: &RunOptions,
        sweep: &str,
        bookkeeping: &Cell<Duration>,
    ) -> Result<PathBuf> {
        let rendering = Instant::now();
        let path = render(opts, sweep)?;
        let took = rendering.elapsed();
        bookkeeping.set(bookkeeping.get() + took);
        self.last = Some((Instant::now(), took));
        Ok(path)
    }
}

/// Renders a sweep's report as `opts` say.
pub fn render(opts: &RunOptions, sweep: &str) -> Result<PathBuf> {
    crate::report::render_sweep_with(
        &opts.db_path,
        sweep,
        &opts.reports_dir,
        opts.templates.as_deref(),
    )
}

/// Removes a trial's checkpoint and the best-epoch snapshot beside it.
fn remove_checkpoint(path: &Path) -> Result<()> {
    for file in [path.to_path_buf(), checkpoint::best_path(path)] {
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e)
                    .with_context(|| format!("cannot remove checkpoint {}", file.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the trial panicked".to_string())
}
