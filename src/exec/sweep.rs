//! Running a planned sweep in this process: claim each trial, resume it from its checkpoint or
//! start it, pretrain what is missing, train, log every epoch, re-render the report after each
//! trial.

use super::plan::{load, trial_label, PlannedSweep, PlannedTrial};
use super::progress::Progress;
use super::{interrupt, runner};
use crate::data::{self, TaskData, TensorSet};
use crate::model::Network;
use crate::spec::{DatasetSource, Shift, TrialSpec};
use crate::track::{ClaimRules, Db, DomainRow, TrialStatus};
use crate::train::features::{self, CacheStats, FeatureCache};
use crate::train::{self, analysis, checkpoint, pretrain, EpochControl, FitOutcome};
use anyhow::{Context, Result};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// Keep the epoch checkpoints of finished trials.
    pub keep_checkpoints: bool,
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
    /// Which trials `runner` may take under these options.
    pub fn claim_rules<'a>(&self, runner: &'a str) -> ClaimRules<'a> {
        ClaimRules {
            runner,
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
    /// Trials already completed before this run.
    pub skipped: usize,
    /// Trials this run completed, failed and saw diverge.
    pub completed: usize,
    pub failed: usize,
    pub diverged: usize,
    /// Trials stopped by Ctrl-C, checkpointed for a resume.
    pub interrupted: usize,
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
    let sweep_id = planned.register(&db)?;
    let statuses = db.trial_statuses(sweep_id)?;
    let runner = runner::runner_id();
    let rules = opts.claim_rules(&runner);
    let todo: Vec<&PlannedTrial> = planned
        .trials
        .iter()
        .filter(|t| statuses.get(&t.key) != Some(&TrialStatus::Completed))
        .collect();
    let mut summary = RunSummary {
        sweep: grid.name.clone(),
        total: planned.trials.len(),
        skipped: planned.trials.len() - todo.len(),
        ..Default::default()
    };

    let started = Instant::now();
    let bookkeeping = Cell::new(Duration::ZERO);
    let mut last_render: Option<(Instant, Duration)> = None;
    let feature_cache = FeatureCache::new(
        Some(&opts.cache_dir.join("features")),
        features::MEMORY_BUDGET_BYTES,
        features::PERSIST_AFTER,
    );
    let mut trainer = TrialRunner::new(opts, &db, &bookkeeping, &feature_cache);
    let mut progress = Progress::new(todo.len());
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
        let label = trial_label(trial);
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
        // A checkpoint is resumed only when the metrics of its epochs are recorded (after a
        // power loss the database may have lost its last commits while the file survived).
        let logged = db.last_logged_epoch(claim.trial_id)?;
        let resume = match claim.previous {
            TrialStatus::Running | TrialStatus::Interrupted => {
                checkpoint::saved_position(&checkpoint)
                    .filter(|at| logged.is_some_and(|l| l >= at.epoch as i64))
            }
            _ => None,
        };
        if resume.is_none() {
            remove_checkpoint(&checkpoint)?;
        }
        db.truncate_metrics(claim.trial_id, resume.map(|p| p.epoch as i64))?;
        if let Some(at) = resume {
            progress.println(&format!("resuming {key} after epoch {}", at.epoch));
        }
        progress.start_trial(&label, trial.epochs);
        let heartbeat = runner::Heartbeat::start(&opts.db_path, claim.trial_id, &runner);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            trainer.run_trial(trial, claim.trial_id, &checkpoint, &mut progress)
        }))
        .unwrap_or_else(|panic| Err(anyhow::anyhow!("{}", panic_text(&panic))));
        drop(heartbeat);
        let (status, error, word) = match &outcome {
            Ok(FitOutcome::Completed) => {
                summary.completed += 1;
                (TrialStatus::Completed, None, "completed".to_string())
            }
            Ok(FitOutcome::Diverged { epoch }) => {
                summary.diverged += 1;
                let msg = format!(
                    "training loss became NaN or infinite in epoch {epoch}; try a lower learning rate (schedule.lr = {})",
                    trial.schedule.lr
                );
                (
                    TrialStatus::Diverged,
                    Some(msg),
                    format!("diverged in epoch {epoch}"),
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
                let msg = format!("{err:#}");
                progress.println(&format!("trial {key} failed: {msg}"));
                (TrialStatus::Failed, Some(msg), "failed".to_string())
            }
        };
        db.finish_trial(claim.trial_id, status, error.as_deref())?;
        if status != TrialStatus::Interrupted && !opts.keep_checkpoints {
            remove_checkpoint(&checkpoint)?;
        }
        progress.finish_trial(&format!("{word}: {label}"));
        // Re-render so the report can be read mid-sweep, at most every RENDER_EVERY and
        // RENDER_WAIT_FACTOR times the last render's time.
        if opts.render
            && last_render.is_none_or(|(at, took)| {
                at.elapsed() >= RENDER_EVERY.max(took * RENDER_WAIT_FACTOR)
            })
        {
            let rendering = Instant::now();
            summary.report = Some(render(opts, &grid.name)?);
            let took = rendering.elapsed();
            bookkeeping.set(bookkeeping.get() + took);
            last_render = Some((Instant::now(), took));
        }
    }
    progress.finish();
    if opts.render {
        let rendering = Instant::now();
        summary.report = Some(render(opts, &grid.name)?);
        bookkeeping.set(bookkeeping.get() + rendering.elapsed());
    }
    summary.bookkeeping = bookkeeping.get();
    summary.wall = started.elapsed();
    summary.features = feature_cache.stats();
    Ok(summary)
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

fn remove_checkpoint(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove checkpoint {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the trial panicked".to_string())
}

/// Trains trials, reusing pretrained checkpoints and source test sets across them.
pub(crate) struct TrialRunner<'a> {
    opts: &'a RunOptions,
    db: &'a Db,
    /// Time spent on database writes of epochs, checkpoints and report renders.
    bookkeeping: &'a Cell<Duration>,
    source_tests: HashMap<String, TensorSet>,
    /// Source checkpoints this runner pretrained (the others were cached).
    pub(super) pretrained_now: usize,
    /// Frozen-prefix outputs shared by the trials of this process (and, on disk, of others).
    features: &'a FeatureCache,
}

impl<'a> TrialRunner<'a> {
    pub(super) fn new(
        opts: &'a RunOptions,
        db: &'a Db,
        bookkeeping: &'a Cell<Duration>,
        features: &'a FeatureCache,
    ) -> Self {
        TrialRunner {
            opts,
            db,
            bookkeeping,
            source_tests: HashMap::new(),
            pretrained_now: 0,
            features,
        }
    }

    fn load(&self, src: &DatasetSource) -> Result<Arc<data::Dataset>> {
        load(src, &self.opts.data_dir, &self.opts.cache_dir)
    }

    /// Records which files the trial's target splits hold (shared by trials with the same
    /// data, classes, size and seed).
    fn record_split(&self, trial: &TrialSpec, trial_id: i64, ds: &data::Dataset) -> Result<()> {
        let t = &trial.target;
        let split_key = blake3::hash(
            format!(
                "{}|{:?}|{}|{}",
                ds.fingerprint, t.classes, t.train_per_class, trial.seed
            )
            .as_bytes(),
        )
        .to_hex()[..16]
            .to_string();
        let rows = data::split_manifest(ds, &t.classes, Some(t.train_per_class), trial.seed)?;
        self.db.record_split(trial_id, &split_key, &rows)
    }

    /// The source task of `trial` prepared with the trial's seed (the training sample depends on
    /// it; validation and test do not).
    fn source_task(&self, trial: &TrialSpec) -> Result<TaskData> {
        let src = &trial.source;
        let ds = self.load(&src.dataset)?;
        data::prepare_task(
            &ds,
            &src.classes,
            src.train_per_class,
            trial.seed,
            &Shift::None,
            trial.image_size,
            self.opts.device,
        )
    }

    /// The key and path of the pretrained checkpoint `trial` needs, training it first if it is
    /// missing.
    pub(super) fn pretrained_checkpoint(
        &mut self,
        trial: &TrialSpec,
        progress: &Progress,
    ) -> Result<(String, PathBuf)> {
        let fingerprint = self.load(&trial.source.dataset)?.fingerprint.clone();
        let key = pretrain::pretrain_key(trial, &fingerprint);
        let path = self
            .opts
            .cache_dir
            .join("pretrained")
            .join(format!("{key}.safetensors"));
        if path.exists() {
            return Ok((key, path));
        }
        progress.println(&format!(
            "pretraining {} on {} classes {:?} for {} epochs (seed {}); cached as {}",
            trial.backbone,
            trial.source.dataset.label(),
            trial.source.classes,
            trial.source.epochs,
            trial.seed,
            path.display()
        ));
        let started = Instant::now();
        let source = self.source_task(trial)?;
        let (net, acc) = pretrain::pretrain(trial, &source, self.opts.device)?;
        net.save(&path)?;
        self.pretrained_now += 1;
        let seconds = started.elapsed().as_secs_f64();
        self.db.record_pretrained(
            &key,
            trial.backbone.name(),
            &trial.source.dataset.label(),
            trial.seed,
            &path,
            acc,
            seconds,
        )?;
        progress.println(&format!(
            "pretrained {}: source test accuracy {acc:.3} in {seconds:.1}s",
            trial.backbone
        ));
        Ok((key, path))
    }

    /// The source test set (for forgetting), shared by every trial with the same source task.
    fn source_test(&mut self, trial: &TrialSpec) -> Result<&TensorSet> {
        let id = format!(
            "{}|{}",
            serde_json::to_string(&trial.source)?,
            trial.image_size
        );
        if !self.source_tests.contains_key(&id) {
            let task = self.source_task(trial)?;
            self.source_tests.insert(id.clone(), task.test);
        }
        Ok(&self.source_tests[&id])
    }

    fn run_trial(
        &mut self,
        trial: &TrialSpec,
        trial_id: i64,
        checkpoint: &Path,
        progress: &mut Progress,
    ) -> Result<FitOutcome> {
        let opts = self.opts;
        let device = opts.device;
        let db = self.db;
        let bookkeeping = self.bookkeeping;
        let feature_cache = self.features;
        let pretrained = if trial.pretrains_on_source() {
            Some(self.pretrained_checkpoint(trial, progress)?)
        } else {
            None
        };
        let target_ds = self.load(&trial.target.dataset)?;
        self.record_split(trial, trial_id, &target_ds)?;
        let target = data::prepare_task(
            &target_ds,
            &trial.target.classes,
            Some(trial.target.train_per_class),
            trial.seed,
            &trial.target.shift,
            trial.image_size,
            device,
        )?;
        tch::manual_seed(trial.seed as i64);
        let net = match (&trial.weights, &pretrained) {
            // Backbone weights from a file (issue 5): new target head, no source head.
            (Some(w), _) if trial.pretrained => {
                let mut net = Network::for_trial(trial, device, None, Some(target.num_classes));
                net.load_weights(&crate::paths::resolve_weights(trial.backbone, w)?)?;
                net
            }
            (_, Some((_, path))) => {
                let mut net = Network::for_trial(
                    trial,
                    device,
                    Some(trial.source.classes.len()),
                    Some(target.num_classes),
                );
                net.load_pretrained(path)?;
                net
            }
            _ => Network::for_trial(trial, device, None, Some(target.num_classes)),
        };
        // The pretrained model as it was, for domain distance and representation drift.
        let reference = match &pretrained {
            Some((key, path)) => {
                let mut r =
                    Network::for_trial(trial, device, Some(trial.source.classes.len()), None);
                r.load_pretrained(path)?;
                self.domain_distance(trial, trial_id, key, &r, &target_ds, &target)?;
                Some(r)
            }
            None => None,
        };
        let source_test = if trial.pretrains_on_source() {
            Some(self.source_test(trial)?)
        } else {
            None
        };
        let epochs = trial.epochs;
        let on_epoch = &mut |epoch: usize, metrics: &train::EpochMetrics| {
            let writing = Instant::now();
            db.log_epoch(trial_id, epoch as i64, metrics)
                .context("cannot record the epoch's metrics")?;
            bookkeeping.set(bookkeeping.get() + writing.elapsed());
            let val_acc = metrics.iter().find(|(n, _)| n == "val_acc").map(|m| m.1);
            if epoch > 0 {
                progress.epoch(epoch, epochs, val_acc);
            }
            Ok(if interrupt::requested() {
                EpochControl::Stop
            } else {
                EpochControl::Continue
            })
        };
        let final_logits = RefCell::new(None);
        let options = train::FitOptions {
            source_test,
            checkpoint: Some(checkpoint),
            checkpoint_every: opts.checkpoint_every,
            reuse_frozen_features: opts.feature_reuse,
            feature_cache: Some(feature_cache),
            bookkeeping: Some(bookkeeping),
            final_logits: Some(&final_logits),
        };
        let outcome = train::fine_tune(trial, &net, &target, &options, on_epoch)?;
        if outcome == FitOutcome::Completed {
            // The last epoch's logits, unless no epoch ran here (resumed after the last one).
            let mut last = match final_logits.take() {
                Some(logits) => analysis::calibration_of(&logits, &target),
                None => analysis::calibration(&net, &target),
            };
            if let Some(reference) = &reference {
                let rows = (target.test.len as i64).min(analysis::PROBE_ROWS);
                let probe = target.test.images.narrow(0, 0, rows);
                last.extend(analysis::drift(
                    reference,
                    &net,
                    &probe,
                    trial.backbone.block_names(),
                    trial.frozen_blocks(),
                ));
            }
            db.log_epoch(trial_id, trial.epochs as i64, &last)?;
        }
        Ok(outcome)
    }

    /// Links the trial to the domain distance between its source and (shifted) target on the
    /// pretrained backbone's features, computing it first if no trial has yet.
    fn domain_distance(
        &mut self,
        trial: &TrialSpec,
        trial_id: i64,
        pretrained_key: &str,
        pretrained: &Network,
        target_ds: &data::Dataset,
        target: &TaskData,
    ) -> Result<()> {
        let t = &trial.target;
        let key = blake3::hash(
            format!(
                "{pretrained_key}|{}|{:?}|{}|{}",
                target_ds.fingerprint,
                t.classes,
                serde_json::to_string(&t.shift)?,
                trial.image_size
            )
            .as_bytes(),
        )
        .to_hex()[..16]
            .to_string();
        if !self.db.has_domain_distance(&key)? {
            let source = self.source_test(trial)?;
            let d = analysis::domain_distance(pretrained, source, &target.test, trial.seed);
            self.db.record_domain_distance(&DomainRow {
                key: &key,
                pretrained_key,
                target_dataset: &t.dataset.label(),
                shift: &t.shift.to_string(),
                proxy_a: d.proxy_a,
                mmd2: d.mmd2,
                frechet: d.frechet,
                n_source: d.n_source,
                n_target: d.n_target,
            })?;
        }
        self.db.link_domain_distance(trial_id, &key)
    }
}
