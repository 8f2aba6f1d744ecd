//! Training one trial in this process: its datasets (cached across trials), its source
//! checkpoint (pretrained when missing), the fit with a line per epoch and a checkpoint after
//! each, the domain distance between its source and target data, and its per-class results.

use super::plan::load;
use super::progress::Progress;
use super::pruning::{self, TrialRungs};
use super::sweep::RunOptions;
use super::{interrupt, keep};
use crate::data::{self, TaskData, TensorSet};
use crate::metrics::Confusion;
use crate::model::{Network, TextTokenizer};
use crate::spec::early_stop::EarlyStop;
use crate::spec::{DatasetSource, EvalSettings, Shift, SourceObjective, TrialSpec};
use crate::track::{Db, DomainRow};
use crate::train::features::FeatureCache;
use crate::train::{
    self, analysis, checkpoint as saved, pretrain, EpochControl, FinalLogits, FitOutcome,
};
use anyhow::{Context, Result};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a trial's results go and how its epochs are evaluated.
pub(crate) struct TrialAt<'a> {
    /// The trial's row in the database.
    pub trial_id: i64,
    /// Its epoch checkpoint (resumed from when it holds a position).
    pub checkpoint: &'a Path,
    /// The sweep's `eval:` setting.
    pub eval: EvalSettings,
    /// The sweep's `early_stop:` setting, if any.
    pub early_stop: Option<&'a EarlyStop>,
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
        let tokenizer = tokenizer_of(trial)?;
        // A language model without `classes` reads every text of its corpus.
        let every_label = || {
            let mut labels = ds.labels.clone();
            labels.sort_unstable();
            labels.dedup();
            labels
        };
        let classes = match src.classes.is_empty() {
            true => every_label(),
            false => src.classes.clone(),
        };
        data::prepare(
            &ds,
            &classes,
            src.train_per_class,
            trial.seed,
            &Shift::None,
            &encoding(trial, tokenizer.as_deref()),
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
        let what = match (trial.source.task, trial.source.classes.is_empty()) {
            (SourceObjective::LanguageModel, true) => "as a language model on every text of",
            (SourceObjective::LanguageModel, false) => "as a language model on",
            (SourceObjective::Classification, _) => "on",
        };
        let classes = match trial.source.classes.is_empty() {
            true => String::new(),
            false => format!(" classes {:?}", trial.source.classes),
        };
        progress.println(&format!(
            "pretraining {} {what} {}{classes} for {} epochs (seed {}); cached as {}",
            trial.backbone,
            trial.source.dataset.label(),
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
        let measure = match trial.source.task {
            SourceObjective::LanguageModel => "next-token accuracy on the held-out texts",
            SourceObjective::Classification => "source test accuracy",
        };
        progress.println(&format!(
            "pretrained {}: {measure} {acc:.3} in {seconds:.1}s",
            trial.backbone
        ));
        Ok((key, path))
    }

    /// The source test set (for forgetting), shared by every trial with the same source task.
    fn source_test(&mut self, trial: &TrialSpec) -> Result<&TensorSet> {
        let id = format!(
            "{}|{}",
            serde_json::to_string(&trial.source)?,
            trial.input_extent()
        );
        if !self.source_tests.contains_key(&id) {
            let task = self.source_task(trial)?;
            self.source_tests.insert(id.clone(), task.test);
        }
        Ok(&self.source_tests[&id])
    }

    /// Trains trial `key` to its end (or interruption, or a stop by `early_stop`); with
    /// `--keep best`, a completed trial's final network is saved as a candidate for the kept
    /// models.
    pub(super) fn run_trial(
        &mut self,
        key: &str,
        trial: &TrialSpec,
        at: &TrialAt<'_>,
        progress: &mut Progress,
    ) -> Result<FitOutcome> {
        let (trial_id, checkpoint) = (at.trial_id, at.checkpoint);
        // Resumed past a rung that stopped it (stopped, then killed before settling).
        let resumed_after = saved::saved_position(checkpoint).map_or(0, |at| at.epoch);
        let mut rungs = TrialRungs::new(at.early_stop, self.db, trial_id, trial, resumed_after);
        if let Some(stop) = (rungs.as_ref())
            .map(|_| self.db.recorded_stop(trial_id, resumed_after as i64))
            .transpose()?
            .flatten()
        {
            progress.println(&pruning::describe_stop(&stop));
            return Ok(FitOutcome::Pruned {
                epoch: resumed_after,
            });
        }
        // Rung epochs are always evaluated, whatever `eval.every` says.
        let rung_epochs = (at.early_stop).map_or_else(Vec::new, |e| e.trial_rungs(trial));
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
        let tokenizer = tokenizer_of(trial)?;
        let target = data::prepare(
            &target_ds,
            &trial.target.classes,
            Some(trial.target.train_per_class),
            trial.seed,
            &trial.target.shift,
            &encoding(trial, tokenizer.as_deref()),
            device,
        )?;
        // A network pretrained on the source takes the source's channels; the target's are
        // converted to them (`Network::prepare_input`).
        let source_channels = match &pretrained {
            Some(_) => self.load(&trial.source.dataset)?.channels,
            None => target_ds.channels,
        };
        if source_channels != target_ds.channels {
            progress.println(&channel_note(source_channels, target_ds.channels));
        }
        tch::manual_seed(trial.seed as i64);
        let net = match (&trial.weights, &pretrained) {
            // Trained by thaw on the source (from scratch or from weights).
            (_, Some((_, path))) => {
                let mut net = Network::for_trial(
                    trial,
                    device,
                    Some(pretrain::source_outputs(trial)),
                    Some(target.num_classes),
                    source_channels,
                );
                net.load_pretrained(path)?;
                net
            }
            // Backbone weights from a file: new target head, no source head.
            (Some(w), None) if trial.pretrained => {
                let mut net = Network::for_trial(
                    trial,
                    device,
                    None,
                    Some(target.num_classes),
                    target_ds.channels,
                );
                net.load_weights(&w.file(trial.backbone)?)?;
                net
            }
            _ => Network::for_trial(
                trial,
                device,
                None,
                Some(target.num_classes),
                target_ds.channels,
            ),
        };
        // The pretrained model as it was, for domain distance and representation drift.
        let reference = match &pretrained {
            Some((key, path)) => {
                let mut r = Network::for_trial(
                    trial,
                    device,
                    Some(pretrain::source_outputs(trial)),
                    None,
                    source_channels,
                );
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
        let best_epoch: RefCell<Option<(usize, train::EpochMetrics)>> = RefCell::new(None);
        let on_epoch = &mut |epoch: usize, metrics: &train::EpochMetrics| {
            let writing = Instant::now();
            // Left with the last epoch: the best epoch's full evaluation, recorded first so
            // that a trial stopped in between redoes the last epoch and records both again.
            if let Some((best, values)) = best_epoch.take() {
                db.replace_subset_evaluation(trial_id, best as i64, &values)
                    .context("cannot record the best epoch's full evaluation")?;
            }
            db.log_epoch(trial_id, epoch as i64, metrics)
                .context("cannot record the epoch's metrics")?;
            bookkeeping.set(bookkeeping.get() + writing.elapsed());
            let val_acc = metrics.iter().find(|(n, _)| n == "val_acc").map(|m| m.1);
            if epoch > 0 {
                progress.epoch(epoch, epochs, val_acc);
            }
            let stop = match rungs.as_mut() {
                Some(r) => r.after_epoch(epoch, metrics)?,
                None => None,
            };
            if let Some(stop) = stop {
                progress.println(&pruning::describe_stop(&stop));
                return Ok(EpochControl::Prune);
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
            eval: at.eval,
            must_evaluate: &rung_epochs,
            best_epoch: Some(&best_epoch),
        };
        let outcome = train::fine_tune(trial, &net, &target, &options, on_epoch)?;
        if outcome == FitOutcome::Completed {
            // The last epoch's logits, unless no epoch ran here (resumed after the last one).
            let logits = final_logits
                .take()
                .unwrap_or_else(|| analysis::final_logits(&net, &target));
            let mut last = analysis::calibration_of(&logits, &target);
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
            record_classes(db, trial_id, trial, &target_ds, &target, &logits)?;
            if opts.keep.is_some() {
                keep::save_candidate(&opts.cache_dir, key, trial, &target_ds, &net)?;
            }
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
                trial.input_extent()
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

/// Records the trial's class names and the confusion counts of its final validation and test
/// logits (`class_accuracy` in the database).
fn record_classes(
    db: &Db,
    trial_id: i64,
    trial: &TrialSpec,
    ds: &data::Dataset,
    target: &TaskData,
    logits: &FinalLogits,
) -> Result<()> {
    let names: Vec<String> = trial
        .target
        .classes
        .iter()
        .map(|&label| ds.class_name(label))
        .collect();
    let splits: Vec<(&str, Confusion)> = [
        ("val", &logits.val, &target.val),
        ("test", &logits.test, &target.test),
    ]
    .into_iter()
    .filter_map(|(split, logits, set)| Some((split, Confusion::of_logits(logits, &set.labels)?)))
    .collect();
    let splits: Vec<(&str, &Confusion)> = splits.iter().map(|(s, c)| (*s, c)).collect();
    db.record_classes(trial_id, &names, &splits)
}

/// The tokenizer of a text trial's backbone (`None` for images).
fn tokenizer_of(trial: &TrialSpec) -> Result<Option<Arc<dyn data::Tokenize + Send + Sync>>> {
    trial
        .is_text()
        .then(|| TextTokenizer::for_backbone(trial.backbone))
        .transpose()
}

/// How `trial` encodes its examples: images at its `image_size`, or texts through `tokenizer`.
fn encoding<'t>(
    trial: &TrialSpec,
    tokenizer: Option<&'t (dyn data::Tokenize + Send + Sync)>,
) -> data::Encoding<'t> {
    match tokenizer {
        Some(t) => data::Encoding::Tokens {
            tokenizer: t,
            max_length: trial.text_max_length(),
        },
        None => data::Encoding::Pixels {
            side: trial.image_size,
        },
    }
}

/// What a trial whose network and target differ in channels does with the target.
fn channel_note(network: usize, target: usize) -> String {
    let how = if network == 1 {
        "its RGB images are turned into luma (Rec. 709) on the device"
    } else {
        "its grayscale images are repeated to 3 channels"
    };
    format!(
        "    note: the network was pretrained on {network}-channel images and the target has \
         {target}: {how}"
    )
}
