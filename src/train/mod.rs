//! Training: optimizers with one parameter group per block, learning-rate schedules, the epoch
//! loop, evaluation, and source pretraining.
//!
//! The step loop never reads a value back to the host: losses and correct counts accumulate on
//! the device and are read once per epoch.

pub mod analysis;
pub mod checkpoint;
pub mod features;
pub mod optim;
pub mod precision;
pub mod pretrain;
pub mod schedule;

use crate::data::{self, TaskData, TensorSet};
use crate::metrics::names;
use crate::model::{Head, Network};
use crate::spec::{Augment, Optimizer, Precision, TrialSpec};
use anyhow::Result;
use features::{FeatureCache, PrefixKey};
use optim::Optim;
use schedule::LrPlan;
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

/// How a fine-tuning run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitOutcome {
    /// Every epoch ran with a finite loss.
    Completed,
    /// The training loss became NaN or infinite in this epoch (1-based).
    Diverged { epoch: usize },
    /// Stopped on request after this epoch, checkpointed for a later resume.
    Interrupted { epoch: usize },
}

/// What the caller wants after an epoch was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochControl {
    Continue,
    /// Stop after checkpointing this epoch (Ctrl-C).
    Stop,
}

/// Batch size of evaluation passes: small enough that activations stay out of mmap-sized
/// allocations on the CPU (large ones cost a page-fault storm per batch).
pub const EVAL_BATCH: usize = 128;

/// Metrics of one epoch as `(name, value)` pairs, in the names the database documents.
pub type EpochMetrics = Vec<(String, f64)>;

/// Builds the optimizer for training `head`: one parameter group per block, then the head.
pub fn build_optimizer(net: &Network, optimizer: &Optimizer, head: Head) -> Optim {
    Optim::new(optimizer, net.param_groups(head))
}

/// Seeds torch's generator for epoch `epoch` of a run seeded `seed`, so that the data order of
/// every epoch depends only on (seed, epoch) and a resumed run repeats an uninterrupted one.
pub fn seed_epoch(seed: u64, epoch: usize) {
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64)
        .rotate_left(17);
    tch::manual_seed((mixed >> 1) as i64);
}

/// Largest frozen-prefix output kept in memory per split without a [`FeatureCache`]; above it
/// the prefix is recomputed per batch (a cache maps larger ones from disk instead).
const REUSE_BUDGET_BYTES: usize = 1 << 30;

/// A split as the trainable part of the network consumes it: the raw u8 images, or the outputs
/// of the first `prefix` (frozen) blocks, computed once instead of in every epoch (in memory on
/// the trial's device, or memory-mapped from disk on the CPU when large); and the precision its
/// forward passes run in.
pub struct Inputs {
    /// One row per example; on the labels' device unless mapped from disk.
    x: Tensor,
    labels: Tensor,
    len: usize,
    prefix: usize,
    precision: Precision,
}

impl Inputs {
    /// The raw images of `set`, in float32.
    pub fn raw(set: &TensorSet) -> Inputs {
        Inputs::raw_in(set, Precision::Fp32)
    }

    fn raw_in(set: &TensorSet, precision: Precision) -> Inputs {
        Inputs {
            x: set.images.shallow_clone(),
            labels: set.labels.shallow_clone(),
            len: set.len,
            prefix: 0,
            precision,
        }
    }

    /// The outputs of `net`'s first `prefix` blocks on `set` in `precision`: with a `cache`,
    /// shared under the prefix's key with other trials, and mapped from disk when larger than
    /// its memory budget; without one, kept when they fit [`REUSE_BUDGET_BYTES`]. The raw
    /// images otherwise.
    pub fn after_prefix(
        net: &Network,
        set: &TensorSet,
        prefix: usize,
        precision: Precision,
        cache: Option<(&FeatureCache, &PrefixKey)>,
    ) -> Inputs {
        if prefix == 0 || set.len == 0 {
            return Inputs::raw_in(set, precision);
        }
        let device = set.images.device();
        let run = |start: usize, len: usize| {
            let x = set.images.narrow(0, start as i64, len as i64);
            precision::autocast(precision, device, || {
                net.prefix(&net.prepare_input(&x), prefix)
            })
        };
        let batches = || {
            (0..set.len)
                .step_by(EVAL_BATCH)
                .map(move |start| run(start, EVAL_BATCH.min(set.len - start)))
        };
        let all = || Tensor::cat(&batches().collect::<Vec<_>>(), 0);
        let one = run(0, 1);
        let bytes = one.numel() * one.kind().elt_size_in_bytes() * set.len;
        let outputs = match cache {
            Some((cache, key)) if bytes > cache.memory_budget() => {
                cache.mapped_outputs(key, &set.images, &one, set.len, batches())
            }
            Some((cache, key)) => Some(cache.prefix_outputs(key, &set.images, &one, set.len, all)),
            None if bytes <= REUSE_BUDGET_BYTES => Some(all()),
            None => None,
        };
        let Some(x) = outputs else {
            return Inputs::raw_in(set, precision);
        };
        Inputs {
            x,
            labels: set.labels.shallow_clone(),
            len: set.len,
            prefix,
            precision,
        }
    }

    /// Rows `idx` (on the trial's device) of this split's inputs, on that device.
    fn rows(&self, idx: &Tensor) -> Tensor {
        let device = idx.device();
        self.x
            .index_select(0, &idx.to_device(self.x.device()))
            .to_device(device)
    }

    /// Rows `start..start + len` of this split's inputs, on the trial's device.
    fn slice(&self, start: usize, len: usize) -> Tensor {
        self.x
            .narrow(0, start as i64, len as i64)
            .to_device(self.labels.device())
    }

    /// Logits of `head` on the rows `x` (a batch of this split's inputs), in this split's
    /// precision.
    fn logits(
        &self,
        net: &Network,
        x: &Tensor,
        trainable_from: usize,
        train: bool,
        head: Head,
    ) -> Tensor {
        precision::autocast(self.precision, x.device(), || {
            let features = if self.prefix == 0 {
                net.features(&net.prepare_input(x), trainable_from, train)
            } else {
                net.features_from(x, self.prefix, trainable_from, train)
            };
            net.logits(&features, head)
        })
    }
}

/// Mean loss and accuracy of `head` on `inputs`, every block in inference mode, no gradient.
pub fn evaluate(net: &Network, inputs: &Inputs, head: Head) -> (f64, f64) {
    let (loss, acc, _) = evaluate_logits(net, inputs, head);
    (loss, acc)
}

/// [`evaluate`], also returning the float32 logits of every row (`[0]` when `inputs` is empty).
fn evaluate_logits(net: &Network, inputs: &Inputs, head: Head) -> (f64, f64, Tensor) {
    if inputs.len == 0 {
        return (
            f64::NAN,
            f64::NAN,
            Tensor::zeros([0], (Kind::Float, inputs.labels.device())),
        );
    }
    let n_blocks = net.n_blocks();
    tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..inputs.len)
            .step_by(EVAL_BATCH)
            .map(|start| {
                let x = inputs.slice(start, EVAL_BATCH.min(inputs.len - start));
                inputs
                    .logits(net, &x, n_blocks, false, head)
                    .to_kind(Kind::Float)
            })
            .collect();
        let logits = Tensor::cat(&parts, 0);
        let loss = logits.cross_entropy_for_logits(&inputs.labels);
        let correct = logits
            .argmax(-1, false)
            .eq_tensor(&inputs.labels)
            .sum(Kind::Int64);
        (
            f64::try_from(loss).unwrap_or(f64::NAN),
            i64::try_from(correct).unwrap_or(0) as f64 / inputs.len as f64,
            logits,
        )
    })
}

/// Target-head logits of the validation and test sets after the last epoch, float32.
#[derive(Debug)]
pub struct FinalLogits {
    pub val: Tensor,
    pub test: Tensor,
}

/// Sums of one training epoch, still on the device.
struct EpochSums {
    loss: Tensor,
    correct: Tensor,
    seen: usize,
}

/// The optimizer state of a run: the network, its optimizer, the learning-rate plan and the
/// number of steps taken so far.
struct Trainer<'a> {
    net: &'a Network,
    opt: Optim,
    plan: LrPlan,
    batch_size: usize,
    step: usize,
    /// Random augmentation of training batches, seeded by (seed, step).
    augment: Option<(&'a Augment, u64)>,
}

impl Trainer<'_> {
    /// One epoch over `set` in a seeded random order, training blocks `trainable_from..` and
    /// `head`, setting every group's learning rate from the plan at each step.
    fn epoch(&mut self, set: &Inputs, head: Head, trainable_from: usize) -> EpochSums {
        let net = self.net;
        let device = set.labels.device();
        let n_blocks = net.n_blocks();
        let perm = Tensor::randperm(set.len as i64, (Kind::Int64, device));
        let mut loss = Tensor::zeros([], (Kind::Float, device));
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        for idx in perm.split(self.batch_size as i64, 0) {
            self.opt.zero_grad();
            for (block, lr) in self
                .block_lrs(n_blocks, trainable_from, self.step)
                .into_iter()
                .enumerate()
            {
                self.opt.set_lr(block, lr);
            }
            self.opt.set_lr(n_blocks, self.plan.head_lr(self.step));
            let batch = set.rows(&idx);
            let x = match self.augment {
                Some((aug, seed)) => data::augment(&batch, aug, seed, self.step as u64),
                None => batch,
            };
            let y = set.labels.index_select(0, &idx);
            let logits = set.logits(net, &x, trainable_from, true, head);
            // Softmax cross-entropy in float32 whatever the logits' precision.
            let batch_loss = logits.to_kind(Kind::Float).cross_entropy_for_logits(&y);
            batch_loss.backward();
            self.opt.step();
            let n = idx.size()[0];
            loss += batch_loss.detach() * n as f64;
            correct += logits
                .detach()
                .argmax(-1, false)
                .eq_tensor(&y)
                .sum(Kind::Int64);
            self.step += 1;
        }
        EpochSums {
            loss,
            correct,
            seen: set.len,
        }
    }

    /// Learning rate of every block at step `step`; 0 for frozen blocks.
    fn block_lrs(&self, n_blocks: usize, trainable_from: usize, step: usize) -> Vec<f64> {
        (0..n_blocks)
            .map(|block| {
                if block >= trainable_from {
                    self.plan.block_lr(block, n_blocks, step)
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// Steps per epoch for `len` examples in batches of `batch_size` (the last batch may be short).
pub fn steps_per_epoch(len: usize, batch_size: usize) -> usize {
    len.div_ceil(batch_size.max(1))
}

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
    let FitOptions {
        source_test,
        checkpoint,
        checkpoint_every,
        reuse_frozen_features,
        feature_cache,
        bookkeeping,
        final_logits,
    } = *options;
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
    let resumed = match checkpoint.filter(|p| p.exists()) {
        Some(path) => Some(checkpoint::load(path, net, &mut trainer.opt)?),
        None => None,
    };
    // A frozen prefix without augmentation computes the same outputs in every epoch: compute
    // them once for every split and train and evaluate only the blocks after it.
    let reuse = reuse_frozen_features
        && !spec.schedule.gradual_unfreeze
        && spec.schedule.probe_epochs == 0
        && trainer.augment.is_none();
    let prefix = if reuse { frozen } else { 0 };
    // Computing the prefix's outputs is work the epochs would otherwise do: it is counted in
    // the first epoch's time.
    let preparing = Instant::now();
    let shared = feature_cache
        .filter(|_| prefix > 0)
        .map(|c| (c, PrefixKey::new(net, prefix, spec.precision)));
    let inputs = |set: &TensorSet| {
        let cache = shared.as_ref().map(|(c, key)| (*c, key));
        Inputs::after_prefix(net, set, prefix, spec.precision, cache)
    };
    let train_in = inputs(&target.train);
    let val_in = inputs(&target.val);
    let test_in = inputs(&target.test);
    let source_in = source_test.filter(|_| net.has_source_head()).map(inputs);
    let mut prepared = preparing.elapsed();
    let evaluate_all = |m: &mut EpochMetrics| {
        let (val_loss, val_acc, val) = evaluate_logits(net, &val_in, Head::Target);
        let (_, test_acc, test) = evaluate_logits(net, &test_in, Head::Target);
        if let Some(slot) = final_logits {
            slot.replace(Some(FinalLogits { val, test }));
        }
        m.push((names::VAL_LOSS.name.into(), val_loss));
        m.push((names::VAL_ACC.name.into(), val_acc));
        m.push((names::TEST_ACC.name.into(), test_acc));
        if let Some(src) = &source_in {
            let (_, source_acc) = evaluate(net, src, Head::Source);
            m.push((names::SOURCE_ACC.name.into(), source_acc));
        }
    };
    let first_epoch = match resumed {
        Some(at) => {
            trainer.step = at.step;
            at.epoch + 1
        }
        None => {
            let mut before = EpochMetrics::new();
            evaluate_all(&mut before);
            if on_epoch(0, &before)? == EpochControl::Stop {
                return Ok(FitOutcome::Interrupted { epoch: 0 });
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
        let sums = trainer.epoch(&train_in, Head::Target, from);
        let train_loss = f64::try_from(&sums.loss)? / sums.seen as f64;
        let train_acc = i64::try_from(&sums.correct)? as f64 / sums.seen as f64;
        let mut m: EpochMetrics = vec![
            (names::TRAIN_LOSS.name.into(), train_loss),
            (names::TRAIN_ACC.name.into(), train_acc),
        ];
        if !train_loss.is_finite() {
            m.push((
                names::EPOCH_SECONDS.name.into(),
                (started.elapsed() + setup).as_secs_f64(),
            ));
            on_epoch(epoch, &m)?;
            return Ok(FitOutcome::Diverged { epoch });
        }
        evaluate_all(&mut m);
        // The rates of the epoch's last step.
        let last_step = trainer.step.saturating_sub(1);
        let lrs = trainer.block_lrs(n_blocks, from, last_step);
        let head_lr = trainer.plan.head_lr(last_step);
        for (name, lr) in spec.backbone.block_names().iter().zip(lrs) {
            m.push((names::LR.name(name), lr));
        }
        m.push((names::LR.name(names::HEAD), head_lr));
        m.push((
            names::EPOCH_SECONDS.name.into(),
            (started.elapsed() + setup).as_secs_f64(),
        ));
        let control = on_epoch(epoch, &m)?;
        let due = last_saved.elapsed() >= checkpoint_every
            || epoch == spec.epochs
            || control == EpochControl::Stop;
        if let Some(path) = checkpoint.filter(|_| due) {
            let at = checkpoint::Position {
                epoch,
                step: trainer.step,
            };
            let saving = Instant::now();
            checkpoint::save(path, net, &trainer.opt, at)?;
            last_saved = Instant::now();
            if let Some(total) = bookkeeping {
                total.set(total.get() + saving.elapsed());
            }
        }
        if control == EpochControl::Stop && epoch < spec.epochs {
            return Ok(FitOutcome::Interrupted { epoch });
        }
    }
    Ok(FitOutcome::Completed)
}
