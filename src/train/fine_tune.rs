//! Fine-tuning on the target task: the epoch loop with its evaluations, learning rates, frozen
//! prefix computed once, checkpoints and resume.

use super::evaluation::{Evaluation, HeldOut};
use super::features::{FeatureCache, PrefixKey};
use super::schedule::LrPlan;
use super::{
    build_optimizer, checkpoint, seed_epoch, steps_per_epoch, EpochControl, EpochMetrics,
    FinalLogits, FitOutcome, Inputs, Trainer,
};
use crate::data::{TaskData, TensorSet};
use crate::metrics::names;
use crate::model::{Head, Network};
use crate::spec::{EvalSettings, SourceObjective, TrialSpec};
use anyhow::Result;
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::time::{Duration, Instant};

/// How a fine-tuning run is carried out (not what it computes).
#[derive(Clone, Copy, Debug)]
pub struct FitOptions<'a> {
    /// The source task's test set, for source accuracy (forgetting) with the source head.
    pub source_test: Option<&'a TensorSet>,
    /// Resume from this checkpoint when it holds a saved position (epochs already reported are
    /// not reported again), and save it after an epoch when `checkpoint_every` has passed since
    /// the last save, after the last epoch, and when stopping.
    pub checkpoint: Option<&'a Path>,
    /// Least time between two checkpoints (zero: after every epoch). Saving takes about a
    /// millisecond for a small network, a real share of an epoch that itself takes milliseconds.
    pub checkpoint_every: Duration,
    /// Compute a frozen prefix's outputs once instead of every epoch (when the run allows it:
    /// no augmentation, no gradual unfreezing, no LP-FT). The metrics are the same either way.
    pub reuse_frozen_features: bool,
    /// Share those outputs with other trials through this cache.
    pub feature_cache: Option<&'a FeatureCache>,
    /// Time spent writing checkpoints is added here (the run's bookkeeping overhead).
    pub bookkeeping: Option<&'a Cell<Duration>>,
    /// The last epoch's validation and test logits are left here (for calibration without a
    /// second pass over the data).
    pub final_logits: Option<&'a RefCell<Option<FinalLogits>>>,
    /// Which epochs are evaluated, and on how much of each split (`eval:`).
    pub eval: EvalSettings,
    /// Epochs evaluated whatever `eval.every` says (say, the rungs of early stopping); on the
    /// subsets like any intermediate epoch.
    pub must_evaluate: &'a [usize],
    /// When the run reaches its last epoch and its best epoch (lowest subset validation loss)
    /// was evaluated on subsets, that epoch and its full-split metrics are left here just
    /// before the last epoch is reported, to replace its subset values (and its `eval_subset`
    /// mark). Without a slot the best epoch is not re-evaluated.
    pub best_epoch: Option<&'a RefCell<Option<(usize, EpochMetrics)>>>,
}

/// The splits as the trainable part of the network consumes them (see [`Inputs`]).
struct TargetInputs {
    train: Inputs,
    held_out: HeldOut,
}

impl TargetInputs {
    /// The splits after the first `prefix` blocks, shared through `cache` when given.
    fn new(
        net: &Network,
        spec: &TrialSpec,
        target: &TaskData,
        source_test: Option<&TensorSet>,
        prefix: usize,
        cache: Option<&FeatureCache>,
    ) -> TargetInputs {
        let shared = cache
            .filter(|_| prefix > 0)
            .map(|c| (c, PrefixKey::new(net, prefix, spec.precision)));
        let inputs = |set: &TensorSet| {
            let cache = shared.as_ref().map(|(c, key)| (*c, key));
            Inputs::after_prefix(net, set, prefix, spec.precision, cache)
        };
        // A language model's held-out text is measured through the whole network, from its
        // token ids.
        let lm = spec.source.task == SourceObjective::LanguageModel;
        let source_inputs = |set: &TensorSet| {
            if lm {
                Inputs::raw_in(set, spec.precision)
            } else {
                inputs(set)
            }
        };
        TargetInputs {
            train: inputs(&target.train),
            held_out: HeldOut {
                val: inputs(&target.val),
                test: inputs(&target.test),
                source: source_test
                    .filter(|_| net.has_source_head())
                    .map(source_inputs),
                language_model: lm,
            },
        }
    }
}

/// Fine-tunes `net` on the target task as `spec` says, calling `on_epoch` with the metrics of
/// epoch 0 (the model before fine-tuning) and of every epoch after it.
pub fn fine_tune(
    spec: &TrialSpec,
    net: &Network,
    target: &TaskData,
    options: &FitOptions<'_>,
    on_epoch: &mut dyn FnMut(usize, &EpochMetrics) -> Result<EpochControl>,
) -> Result<FitOutcome> {
    let n_blocks = net.n_blocks();
    let frozen = spec.frozen_blocks();
    let plan = LrPlan::new(
        &spec.schedule,
        spec.epochs,
        steps_per_epoch(target.train.len, spec.batch_size),
    );
    let mut trainer = Trainer {
        net,
        opt: build_optimizer(net, &spec.optimizer, Head::Target),
        plan,
        batch_size: spec.batch_size,
        step: 0,
        augment: spec.target.dataset.augment().map(|a| (a, spec.seed)),
    };
    let resumed = match options.checkpoint.filter(|p| p.exists()) {
        Some(path) => Some(checkpoint::load(path, net, &mut trainer.opt)?),
        None => None,
    };
    // A frozen prefix without augmentation computes the same outputs in every epoch: compute
    // them once for every split and train and evaluate only the blocks after it.
    let reuse = options.reuse_frozen_features
        && !spec.schedule.gradual_unfreeze
        && spec.schedule.probe_epochs == 0
        && trainer.augment.is_none();
    let prefix = if reuse { frozen } else { 0 };
    // Computing the prefix's outputs is work the epochs would otherwise do: it is counted in
    // the first epoch's time.
    let preparing = Instant::now();
    let inputs = TargetInputs::new(
        net,
        spec,
        target,
        options.source_test,
        prefix,
        options.feature_cache,
    );
    let mut prepared = preparing.elapsed();
    let mut evaluation = Evaluation::new(
        inputs.held_out,
        options.eval,
        spec.seed,
        options.must_evaluate,
        spec.epochs,
    );
    let first_epoch = match resumed {
        Some(at) => {
            trainer.step = at.step;
            let best = options
                .checkpoint
                .and_then(|p| checkpoint::load_best(p, at.epoch));
            if let Some(best) = best {
                evaluation.resume_best(best);
            }
            at.epoch + 1
        }
        None => {
            let mut before = EpochMetrics::new();
            let from = trainer.plan.trainable_from(0, frozen, n_blocks);
            before.push(trainable_params(net, from));
            evaluation.evaluate(net, 0, &mut before, options.final_logits);
            match on_epoch(0, &before)? {
                EpochControl::Stop => return Ok(FitOutcome::Interrupted { epoch: 0 }),
                EpochControl::Prune => return Ok(FitOutcome::Pruned { epoch: 0 }),
                EpochControl::Continue => {}
            }
            1
        }
    };
    let mut last_saved = Instant::now();
    for epoch in first_epoch..=spec.epochs {
        let started = Instant::now();
        let setup = std::mem::take(&mut prepared);
        seed_epoch(spec.seed, epoch);
        let from = trainer.plan.trainable_from(epoch - 1, frozen, n_blocks);
        net.set_trainable_from(from);
        let sums = trainer.epoch(&inputs.train, Head::Target, from);
        let train_loss = f64::try_from(&sums.loss)? / sums.seen as f64;
        let train_acc = i64::try_from(&sums.correct)? as f64 / sums.seen as f64;
        let mut m: EpochMetrics = vec![
            (names::TRAIN_LOSS.name.into(), train_loss),
            (names::TRAIN_ACC.name.into(), train_acc),
            trainable_params(net, from),
        ];
        let seconds = |started: Instant| {
            (
                names::EPOCH_SECONDS.name.to_string(),
                (started.elapsed() + setup).as_secs_f64(),
            )
        };
        if !train_loss.is_finite() {
            m.push(seconds(started));
            on_epoch(epoch, &m)?;
            return Ok(FitOutcome::Diverged { epoch });
        }
        if evaluation.due(epoch) {
            evaluation.evaluate(net, epoch, &mut m, options.final_logits);
        }
        push_learning_rates(&trainer, spec, n_blocks, from, &mut m);
        m.push(seconds(started));
        if let Some(slot) = options.best_epoch.filter(|_| epoch == spec.epochs) {
            slot.replace(evaluation.best_on_full_splits(net, &mut m));
        }
        let control = on_epoch(epoch, &m)?;
        let due = last_saved.elapsed() >= options.checkpoint_every
            || epoch == spec.epochs
            || control != EpochControl::Continue;
        if let Some(path) = options.checkpoint.filter(|_| due) {
            let saving = Instant::now();
            let at = checkpoint::Position {
                epoch,
                step: trainer.step,
            };
            if let Some(best) = evaluation.best_to_save() {
                checkpoint::save_best(path, best)?;
            }
            checkpoint::save(path, net, &trainer.opt, at)?;
            last_saved = Instant::now();
            if let Some(total) = options.bookkeeping {
                total.set(total.get() + saving.elapsed());
            }
        }
        match control {
            _ if epoch == spec.epochs => {}
            EpochControl::Stop => return Ok(FitOutcome::Interrupted { epoch }),
            EpochControl::Prune => return Ok(FitOutcome::Pruned { epoch }),
            EpochControl::Continue => {}
        }
    }
    Ok(FitOutcome::Completed)
}

/// The `trainable_params` metric: parameters trained when blocks from `from` on train, with the
/// target head.
fn trainable_params(net: &Network, from: usize) -> (String, f64) {
    let n = net.trainable_parameters(from, Head::Target);
    (names::TRAINABLE_PARAMS.name.into(), n as f64)
}

/// Adds the learning rates of the epoch's last step to `m`: one per block (0 for frozen
/// blocks, trainable from block `from`) and the head's.
fn push_learning_rates(
    trainer: &Trainer<'_>,
    spec: &TrialSpec,
    n_blocks: usize,
    from: usize,
    m: &mut EpochMetrics,
) {
    let last_step = trainer.step.saturating_sub(1);
    let lrs = trainer.block_lrs(n_blocks, from, last_step);
    for (name, lr) in spec.backbone.block_names().iter().zip(lrs) {
        m.push((names::LR.name(name), lr));
    }
    m.push((names::LR.name(names::HEAD), trainer.plan.head_lr(last_step)));
}
