//! Training: optimizers with one parameter group per block, learning-rate schedules, the epoch
//! loop, evaluation, and source pretraining.
//!
//! The step loop never reads a value back to the host: losses and correct counts accumulate on
//! the device and are read once per epoch.

pub mod analysis;
pub mod checkpoint;
pub mod evaluation;
pub mod features;
mod fine_tune;
pub mod language_model;
pub mod optim;
pub mod precision;
pub mod pretrain;
pub mod schedule;

use crate::data::{self, TensorSet};
use crate::model::{Head, Network};
use crate::spec::{Augment, Optimizer, Precision};
use features::{FeatureCache, PrefixKey};
use optim::Optim;
use schedule::LrPlan;
use tch::{Kind, Tensor};

pub use fine_tune::{fine_tune, FitOptions};

/// How a fine-tuning run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum FitOutcome {
    /// Every epoch ran with a finite loss.
    Completed,
    /// The training loss became NaN or infinite in this epoch (1-based).
    Diverged { epoch: usize },
    /// Stopped on request after this epoch, checkpointed for a later resume.
    Interrupted { epoch: usize },
    /// Stopped for good after this epoch by early stopping (checkpointed, like an
    /// interruption, until the caller settles the trial).
    Pruned { epoch: usize },
}

/// What the caller wants after an epoch was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochControl {
    Continue,
    /// Stop after checkpointing this epoch (Ctrl-C).
    Stop,
    /// Stop for good after checkpointing this epoch: early stopping decided the trial is
    /// hopeless (before the last epoch; at the last epoch the trial completes).
    Prune,
}

/// Batch size of evaluation passes on the CPU: small enough that activations stay out of
/// mmap-sized allocations (large ones cost a page-fault storm per batch).
pub const EVAL_BATCH: usize = 128;

/// Batch size of evaluation passes on a GPU, where a larger batch means fewer kernel launches.
const GPU_EVAL_BATCH: usize = 1024;

/// Batch size of evaluation passes on `device`.
pub fn eval_batch(device: tch::Device) -> usize {
    match device {
        tch::Device::Cuda(_) => GPU_EVAL_BATCH,
        _ => EVAL_BATCH,
    }
}

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
    /// Tokens of every example (text only), on the labels' device: training batches are drawn
    /// from examples of similar length ([`length_buckets`]).
    lengths: Option<Tensor>,
}

/// Training batches drawn together: this many batches' worth of shuffled examples are sorted
/// by length before they are cut into batches, so a batch carries little padding.
const BUCKET_BATCHES: i64 = 16;

/// The batches of one epoch over a text split: the permutation `perm` cut into windows of
/// [`BUCKET_BATCHES`] batches, each window sorted by the examples' `lengths` and cut into
/// batches, and the batches shuffled (by torch's generator, seeded per epoch).
fn length_buckets(perm: &Tensor, lengths: &Tensor, batch_size: i64) -> Vec<Tensor> {
    let mut batches = Vec::new();
    for window in perm.split(batch_size * BUCKET_BATCHES, 0) {
        let (_, order) = lengths.index_select(0, &window).sort(0, false);
        batches.extend(window.index_select(0, &order).split(batch_size, 0));
    }
    let shuffle = Tensor::randperm(batches.len() as i64, (Kind::Int64, tch::Device::Cpu));
    Vec::<i64>::try_from(shuffle)
        .unwrap_or_default()
        .into_iter()
        .map(|i| batches[i as usize].shallow_clone())
        .collect()
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
            lengths: set
                .is_text()
                .then(|| crate::model::text::lengths(&set.images)),
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
        let batch = eval_batch(device);
        let batches = || {
            (0..set.len)
                .step_by(batch)
                .map(move |start| run(start, batch.min(set.len - start)))
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
            lengths: set
                .is_text()
                .then(|| crate::model::text::lengths(&set.images)),
        }
    }

    /// The rows `idx` of this split as a split of their own (indexing the computed prefix
    /// outputs, not recomputing them).
    fn subset(&self, idx: &Tensor) -> Inputs {
        let on = |t: &Tensor| t.index_select(0, &idx.to_device(t.device()));
        Inputs {
            x: on(&self.x),
            labels: on(&self.labels),
            len: idx.size()[0] as usize,
            prefix: self.prefix,
            precision: self.precision,
            lengths: self.lengths.as_ref().map(on),
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
    // Texts are evaluated shortest first, so that each batch carries little padding.
    let order = inputs.lengths.as_ref().map(|l| l.argsort(0, false));
    let batch = eval_batch(inputs.labels.device());
    tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..inputs.len)
            .step_by(batch)
            .map(|start| {
                let len = batch.min(inputs.len - start);
                let x = match &order {
                    Some(o) => inputs.rows(&o.narrow(0, start as i64, len as i64)),
                    None => inputs.slice(start, len),
                };
                inputs
                    .logits(net, &x, n_blocks, false, head)
                    .to_kind(Kind::Float)
            })
            .collect();
        let mut logits = Tensor::cat(&parts, 0);
        if let Some(o) = &order {
            logits = logits.index_select(0, &o.argsort(0, false));
        }
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
        let batch_size = self.batch_size as i64;
        let batches = match &set.lengths {
            Some(lengths) => length_buckets(&perm, lengths, batch_size),
            None => perm.split(batch_size, 0),
        };
        let mut loss = Tensor::zeros([], (Kind::Float, device));
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        for idx in batches {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_buckets_cover_every_example_once_in_batches_of_similar_length() {
        tch::manual_seed(3);
        let n = 200i64;
        // Lengths 1..=50 in a scrambled order.
        let lengths = Tensor::from_slice(&(0..n).map(|i| (i * 37) % 50 + 1).collect::<Vec<_>>());
        let perm = Tensor::randperm(n, (Kind::Int64, tch::Device::Cpu));
        let batches = length_buckets(&perm, &lengths, 4);
        assert_eq!(batches.len(), 50);
        let mut seen: Vec<i64> = batches
            .iter()
            .flat_map(|b| Vec::<i64>::try_from(b).unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // Within a window of 64 examples sorted by length, a batch of 4 spans a few lengths;
        // random batches of 4 from 1..=50 span about 30.
        let spread: f64 = batches
            .iter()
            .map(|b| {
                let l = Vec::<i64>::try_from(lengths.index_select(0, b)).unwrap();
                (l.iter().max().unwrap() - l.iter().min().unwrap()) as f64
            })
            .sum::<f64>()
            / batches.len() as f64;
        assert!(spread < 6.0, "mean spread {spread}");
    }
}
