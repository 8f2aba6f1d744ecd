//! Language-model pretraining of a causal text backbone (`source: {task: language_model}`):
//! next-token prediction on the source corpus with the source head as the output layer (one
//! output per token of the vocabulary), and the same measure on held-out source text while the
//! network is fine-tuned, where forgetting shows as a rising next-token loss.

use super::{eval_batch, length_buckets, seed_epoch, Inputs};
use crate::data::TaskData;
use crate::model::zoo::gpt::GPT_TINY;
use crate::model::{text, Head, Network};
use crate::spec::{BackboneKind, Optimizer, TrialSpec};
use anyhow::{ensure, Result};
use tch::{Device, Kind, Reduction, Tensor};

/// Optimizer of language-model pretraining: AdamW, β = (0.9, 0.999), weight decay 0.01.
const LM_OPTIMIZER: Optimizer = Optimizer::Adamw {
    beta1: 0.9,
    beta2: 0.999,
    weight_decay: 0.01,
};

/// Size of the source head of a language model: the backbone's vocabulary. Panics for a
/// backbone that is not a causal decoder (grids with such a language-model source are refused).
pub fn vocabulary(spec: &TrialSpec) -> usize {
    match spec.backbone {
        BackboneKind::GptTiny => GPT_TINY.vocab as usize,
        other => unreachable!("{other} is not a causal decoder; the grid check refuses it"),
    }
}

/// Summed next-token loss, hits and count of predicted tokens of `net` (blocks from
/// `trainable_from` in training mode when `train`) on token ids `ids` `[N, L]`: every token
/// after the first is predicted from those before it; padding is never a target.
fn next_token(net: &Network, ids: &Tensor, trainable_from: usize, train: bool) -> [Tensor; 3] {
    let ids = text::trim(ids);
    let len = ids.size()[1];
    let states = net.last_block_output(&ids, 0, trainable_from, train);
    let (states, _) = text::split(&states);
    let logits = net
        .logits(&states.narrow(1, 0, len - 1), Head::Source)
        .to_kind(Kind::Float);
    let vocab = logits.size()[2];
    let targets = ids.narrow(1, 1, len - 1).reshape([-1]);
    let loss = logits.reshape([-1, vocab]).cross_entropy_loss::<Tensor>(
        &targets,
        None,
        Reduction::Sum,
        0,
        0.0,
    );
    let real = targets.ne(0);
    let hits = logits
        .reshape([-1, vocab])
        .argmax(-1, false)
        .eq_tensor(&targets)
        .logical_and(&real)
        .sum(Kind::Int64);
    [loss, hits, real.sum(Kind::Int64)]
}

/// Mean next-token loss (nats per token) and next-token accuracy of `net`'s source head on
/// `inputs` (raw token ids), every block in inference mode, shortest texts batched together.
pub fn evaluate(net: &Network, inputs: &Inputs) -> (f64, f64) {
    let device = inputs.labels.device();
    let order = text::lengths(&inputs.x).argsort(0, false);
    let totals = tch::no_grad(|| {
        let mut sums = [0, 1, 2].map(|_| Tensor::zeros([], (Kind::Double, device)));
        let batch = eval_batch(device);
        for start in (0..inputs.len).step_by(batch) {
            let n = batch.min(inputs.len - start) as i64;
            let ids = inputs.rows(&order.narrow(0, start as i64, n));
            let parts = super::precision::autocast(inputs.precision, device, || {
                next_token(net, &ids, net.n_blocks(), false)
            });
            for (s, p) in sums.iter_mut().zip(parts) {
                *s += p.to_kind(Kind::Double);
            }
        }
        sums.map(|s| f64::try_from(s).unwrap_or(f64::NAN))
    });
    let [loss, hits, count] = totals;
    (loss / count, hits / count)
}

/// Pretrains `spec.backbone` as a language model on the texts of `corpus` (cosine schedule
/// over `spec.source.epochs` at peak `spec.source.lr`, AdamW, batches of `spec.batch_size`
/// texts of similar length), seeded by the trial seed. Returns the network (its source head
/// is the output layer) and its next-token accuracy on the held-out test texts.
pub fn pretrain(spec: &TrialSpec, corpus: &TaskData, device: Device) -> Result<(Network, f64)> {
    tch::manual_seed(spec.seed as i64);
    let net = Network::for_trial(spec, device, Some(vocabulary(spec)), None, 0);
    net.set_trainable_from(0);
    net.set_source_head_trainable();
    let plan = super::pretrain::source_plan(spec, corpus.train.len);
    let mut opt = super::build_optimizer(&net, &LM_OPTIMIZER, Head::Source);
    let groups = net.n_blocks() + 1;
    let train = Inputs::raw(&corpus.train);
    let lengths = text::lengths(&train.x);
    let mut step = 0;
    for epoch in 1..=spec.source.epochs {
        seed_epoch(spec.seed, epoch);
        let perm = Tensor::randperm(train.len as i64, (Kind::Int64, device));
        let mut total = Tensor::zeros([], (Kind::Float, device));
        let mut count = Tensor::zeros([], (Kind::Int64, device));
        for idx in length_buckets(&perm, &lengths, spec.batch_size as i64) {
            opt.zero_grad();
            for g in 0..groups {
                opt.set_lr(g, plan.head_lr(step));
            }
            let [loss, _, n] = next_token(&net, &train.rows(&idx), 0, true);
            (&loss / n.clamp_min(1)).backward();
            opt.step();
            total += loss.detach();
            count += n;
            step += 1;
        }
        let loss = f64::try_from(&total)? / (i64::try_from(&count)?.max(1) as f64);
        ensure!(
            loss.is_finite(),
            "language-model pretraining of {} diverged in epoch {epoch} (loss {loss}); lower \
             source.lr (now {})",
            spec.backbone,
            spec.source.lr
        );
    }
    drop(opt);
    let (_, acc) = evaluate(&net, &Inputs::raw(&corpus.test));
    Ok((net, acc))
}
