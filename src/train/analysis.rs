//! What a finished trial is measured with beyond accuracy (DESIGN.md §6): calibration before and
//! after temperature scaling, representation drift from the pretrained model, and the domain
//! distance between source and target on the pretrained backbone's features.

use super::{EpochMetrics, FinalLogits, EVAL_BATCH};
use crate::data::{TaskData, TensorSet};
use crate::metrics::{self, names};
use crate::model::{Head, Network};
use tch::Tensor;

/// Rows of the probe batch used for representation drift (the first rows of the target test set).
pub const PROBE_ROWS: i64 = 256;
/// Rows per domain used for domain distances (the first rows of each test set).
pub const DOMAIN_ROWS: i64 = 1000;

/// `head`'s logits on every row of `set`, in inference mode.
fn logits(net: &Network, set: &TensorSet, head: Head) -> Tensor {
    let n_blocks = net.n_blocks();
    tch::no_grad(|| {
        let parts: Vec<Tensor> = (0..set.len)
            .step_by(EVAL_BATCH)
            .map(|start| {
                let len = EVAL_BATCH.min(set.len - start) as i64;
                let x = net.prepare_input(&set.images.narrow(0, start as i64, len));
                net.logits(&net.features(&x, n_blocks, false), head)
            })
            .collect();
        Tensor::cat(&parts, 0)
    })
}

/// Expected calibration error (15 bins) of the target head on the test set, before (`ece`) and
/// after (`ece_ts`) temperature scaling with the temperature fitted on the validation set,
/// computing the logits (see [`calibration_of`] for logits already at hand).
pub fn calibration(net: &Network, target: &TaskData) -> EpochMetrics {
    calibration_of(&final_logits(net, target), target)
}

/// The target head's logits of `target`'s validation and test sets, computed anew (for a trial
/// resumed after its last epoch, whose evaluation logits are gone).
pub fn final_logits(net: &Network, target: &TaskData) -> FinalLogits {
    FinalLogits {
        val: logits(net, &target.val, Head::Target),
        test: logits(net, &target.test, Head::Target),
    }
}

/// [`calibration`] from the target head's float32 logits of `target`'s validation and test sets.
pub fn calibration_of(logits: &FinalLogits, target: &TaskData) -> EpochMetrics {
    let (val, test) = (&logits.val, &logits.test);
    let temperature = metrics::fit_temperature(val, &target.val.labels);
    vec![
        (
            names::ECE.name.into(),
            metrics::ece(
                &test.softmax(-1, tch::Kind::Float),
                &target.test.labels,
                metrics::ECE_BINS,
            ),
        ),
        (
            names::ECE_TS.name.into(),
            metrics::ece_after_temperature(
                test,
                &target.test.labels,
                temperature,
                metrics::ECE_BINS,
            ),
        ),
        (names::TEMPERATURE.name.into(), temperature),
    ]
}

/// Representation drift of every block between the pretrained and the fine-tuned network on
/// the probe batch: linear CKA of the block outputs (`cka/<block>`, 1 = unchanged) and the L2
/// distance of the block's parameters (`weight_dist/<block>`).
///
/// The first `frozen` blocks never trained in any schedule (gradual unfreezing and LP-FT stop
/// at them), so they and everything before them are bit-for-bit the pretrained ones: their CKA
/// is 1 and their distance 0 without computing either (the f64 CKA of a wide early block is
/// most of a small trial's analysis time).
pub fn drift(
    pretrained: &Network,
    tuned: &Network,
    probe: &Tensor,
    names: &[&str],
    frozen: usize,
) -> EpochMetrics {
    let trained = frozen < names.len();
    let (before, after) = if trained {
        let x = tuned.prepare_input(probe);
        (pretrained.block_outputs(&x), tuned.block_outputs(&x))
    } else {
        (Vec::new(), Vec::new())
    };
    let mut out = EpochMetrics::new();
    for (i, name) in names.iter().enumerate() {
        let (cka, distance) = if i < frozen {
            (1.0, 0.0)
        } else {
            (
                metrics::linear_cka(&before[i], &after[i]),
                metrics::weight_distance(pretrained.block_params(i), tuned.block_params(i)),
            )
        };
        out.push((names::CKA.name(name), cka));
        out.push((names::WEIGHT_DIST.name(name), distance));
    }
    out
}

/// Distances between the source and the (shifted) target domain on a network's pooled
/// features: proxy A-distance, unbiased MMD² (RBF, median bandwidth) and the Fréchet distance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DomainDistance {
    pub proxy_a: f64,
    pub mmd2: f64,
    pub frechet: f64,
    pub n_source: i64,
    pub n_target: i64,
}

/// Domain distance between the first [`DOMAIN_ROWS`] rows of `source` and of `target`.
pub fn domain_distance(
    net: &Network,
    source: &TensorSet,
    target: &TensorSet,
    seed: u64,
) -> DomainDistance {
    let n_blocks = net.n_blocks();
    let features = |set: &TensorSet| {
        let n = (set.len as i64).min(DOMAIN_ROWS);
        tch::no_grad(|| {
            (0..n)
                .step_by(EVAL_BATCH)
                .map(|start| {
                    let len = (EVAL_BATCH as i64).min(n - start);
                    net.features(
                        &net.prepare_input(&set.images.narrow(0, start, len)),
                        n_blocks,
                        false,
                    )
                })
                .collect::<Vec<_>>()
        })
    };
    let s = Tensor::cat(&features(source), 0);
    let t = Tensor::cat(&features(target), 0);
    DomainDistance {
        proxy_a: metrics::proxy_a_distance(&s, &t, seed),
        mmd2: metrics::mmd2_unbiased_rbf(&s, &t),
        frechet: metrics::frechet_distance(&s, &t),
        n_source: s.size()[0],
        n_target: t.size()[0],
    }
}
