//! Source pretraining: trains a backbone and its source head once per (backbone, source task,
//! image size, batch size, seed, data, code version); the checkpoint is shared by every trial
//! and every later run that needs it.

use super::schedule::LrPlan;
use super::{build_optimizer, evaluate, steps_per_epoch, Inputs, Trainer};
use crate::data::TaskData;
use crate::model::{Head, Network};
use crate::spec::{Optimizer, Schedule, ScheduleKind, SourceObjective, TrialSpec, SEMANTICS};
use anyhow::Result;
use serde::Serialize;
use tch::Device;

/// Optimizer of every pretraining run: SGD, momentum 0.9, weight decay 5e-4.
const PRETRAIN_OPTIMIZER: Optimizer = Optimizer::Sgd {
    momentum: 0.9,
    nesterov: false,
    weight_decay: 5e-4,
};

/// What determines a pretrained checkpoint.
#[derive(Serialize)]
struct PretrainIdentity<'a> {
    backbone: &'a str,
    source: &'a crate::spec::SourceTask,
    image_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_length: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pooling: Option<crate::spec::Pooling>,
    batch_size: usize,
    seed: u64,
    source_fingerprint: &'a str,
    /// The weights pretraining starts from (absent when from scratch, so earlier keys stay).
    #[serde(skip_serializing_if = "Option::is_none")]
    weights: Option<&'a crate::spec::Weights>,
    code_version: &'a str,
}

/// Key of the checkpoint `spec` fine-tunes from.
pub fn pretrain_key(spec: &TrialSpec, source_fingerprint: &str) -> String {
    let identity = PretrainIdentity {
        backbone: spec.backbone.name(),
        source: &spec.source,
        image_size: spec.image_size,
        input_size: spec.input_size,
        max_length: spec.max_length,
        pooling: spec.pooling,
        batch_size: spec.batch_size,
        seed: spec.seed,
        source_fingerprint,
        weights: spec.weights.as_ref(),
        code_version: SEMANTICS,
    };
    let json = serde_json::to_string(&identity).expect("identity serialises");
    blake3::hash(json.as_bytes()).to_hex()[..16].to_string()
}

/// The learning rates of source pretraining on `train_len` examples: a cosine schedule from
/// `spec.source.lr` over `spec.source.epochs`, every block at the same rate.
pub(super) fn source_plan(spec: &TrialSpec, train_len: usize) -> LrPlan {
    let schedule = Schedule {
        kind: ScheduleKind::Cosine { warmup_epochs: 0.0 },
        lr: spec.source.lr,
        layer_decay: 1.0,
        gradual_unfreeze: false,
        probe_epochs: 0,
    };
    LrPlan::new(
        &schedule,
        spec.source.epochs,
        steps_per_epoch(train_len, spec.batch_size),
    )
}

/// Outputs of the source head of `spec`'s pretrained network: the source classes, or a language
/// model's vocabulary.
pub fn source_outputs(spec: &TrialSpec) -> usize {
    match spec.source.task {
        SourceObjective::Classification => spec.source.classes.len(),
        SourceObjective::LanguageModel => super::language_model::vocabulary(spec),
    }
}

/// Trains `spec.backbone` with a source head on `source` (cosine schedule over
/// `spec.source.epochs`), seeded by the trial seed, starting from `spec.weights` if given; or,
/// for a language-model source, [`super::language_model::pretrain`]. Returns the network and its source test
/// accuracy.
pub fn pretrain(spec: &TrialSpec, source: &TaskData, device: Device) -> Result<(Network, f64)> {
    if spec.source.task == SourceObjective::LanguageModel {
        return super::language_model::pretrain(spec, source, device);
    }
    tch::manual_seed(spec.seed as i64);
    let channels = source.train.channels();
    let mut net = Network::for_trial(spec, device, Some(source.num_classes), None, channels);
    if let Some(w) = &spec.weights {
        net.load_backbone_weights(&w.file(spec.backbone)?)?;
    }
    net.set_trainable_from(0);
    net.set_source_head_trainable();
    let plan = source_plan(spec, source.train.len);
    let mut trainer = Trainer {
        net: &net,
        opt: build_optimizer(&net, &PRETRAIN_OPTIMIZER, Head::Source),
        plan,
        batch_size: spec.batch_size,
        step: 0,
        augment: spec.source.dataset.augment().map(|a| (a, spec.seed)),
    };
    let train_in = Inputs::raw(&source.train);
    for epoch in 1..=spec.source.epochs {
        super::seed_epoch(spec.seed, epoch);
        let sums = trainer.epoch(&train_in, Head::Source, 0);
        let loss = f64::try_from(&sums.loss)? / sums.seen as f64;
        anyhow::ensure!(
            loss.is_finite(),
            "source pretraining of {} diverged in epoch {epoch} (loss {loss}); lower source.lr (now {})",
            spec.backbone,
            spec.source.lr
        );
    }
    drop(trainer);
    let (_, acc) = evaluate(&net, &Inputs::raw(&source.test), Head::Source);
    Ok((net, acc))
}
