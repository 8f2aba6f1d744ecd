//! Per-epoch evaluation of a fine-tuning run as `eval:` asks: which epochs are evaluated, on
//! the full held-out splits or on fixed stratified subsets of them, and the best epoch so far
//! (lowest subset validation loss) with a snapshot of the network, evaluated on the full
//! splits after the last epoch.

use super::{evaluate, evaluate_logits, language_model, EpochMetrics, FinalLogits, Inputs};
use crate::metrics::names;
use crate::model::{Head, Network};
use crate::spec::EvalSettings;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Instant;
use tch::{Kind, Tensor};

/// The held-out splits one evaluation reads, as the trainable part of the network consumes
/// them.
pub(super) struct HeldOut {
    pub val: Inputs,
    pub test: Inputs,
    /// The source task's test set, when the network still has its source head.
    pub source: Option<Inputs>,
    /// Whether the source task is a language model (its test texts are raw token ids).
    pub language_model: bool,
}

impl HeldOut {
    /// Adds the validation and test metrics (and source accuracy) to `m`, leaving the logits in
    /// `final_logits` when given; returns the validation logits.
    fn evaluate(
        &self,
        net: &Network,
        m: &mut EpochMetrics,
        final_logits: Option<&RefCell<Option<FinalLogits>>>,
    ) -> Tensor {
        let (val_loss, val_acc, val) = evaluate_logits(net, &self.val, Head::Target);
        let (_, test_acc, test) = evaluate_logits(net, &self.test, Head::Target);
        let val_logits = val.shallow_clone();
        if let Some(slot) = final_logits {
            slot.replace(Some(FinalLogits { val, test }));
        }
        m.push((names::VAL_LOSS.name.into(), val_loss));
        m.push((names::VAL_ACC.name.into(), val_acc));
        m.push((names::TEST_ACC.name.into(), test_acc));
        match &self.source {
            Some(src) if self.language_model => {
                let (loss, acc) = language_model::evaluate(net, src);
                m.push((names::SOURCE_ACC.name.into(), acc));
                m.push((names::SOURCE_LM_LOSS.name.into(), loss));
            }
            Some(src) => {
                let (_, source_acc) = evaluate(net, src, Head::Source);
                m.push((names::SOURCE_ACC.name.into(), source_acc));
            }
            None => {}
        }
        val_logits
    }

    /// At most `max_per_class` examples per class of every split, chosen by `seed`, and the
    /// validation rows chosen; `None` when no class of any split has more.
    fn subset(&self, max_per_class: usize, seed: u64) -> Option<(HeldOut, Tensor)> {
        let val = stratified(&self.val.labels, max_per_class, seed, 1);
        let test = stratified(&self.test.labels, max_per_class, seed, 2);
        let source = (self.source.as_ref()).map(|s| stratified(&s.labels, max_per_class, seed, 3));
        if val.is_none() && test.is_none() && source.as_ref().is_none_or(Option::is_none) {
            return None;
        }
        let pick = |inputs: &Inputs, rows: &Option<Tensor>| match rows {
            Some(rows) => inputs.subset(rows),
            None => inputs.subset(&all_rows(inputs)),
        };
        let val_rows = (val.as_ref()).map_or_else(|| all_rows(&self.val), Tensor::shallow_clone);
        let held_out = HeldOut {
            val: pick(&self.val, &val),
            test: pick(&self.test, &test),
            source: (self.source.as_ref()).zip(source).map(|(s, r)| pick(s, &r)),
            language_model: self.language_model,
        };
        Some((held_out, val_rows))
    }
}

fn all_rows(inputs: &Inputs) -> Tensor {
    Tensor::arange(inputs.len as i64, (Kind::Int64, inputs.labels.device()))
}

/// Rows of `labels` (ascending, on their device) keeping at most `max_per_class` of each
/// class, drawn by a generator seeded from `seed` and `stream` (independent of torch's);
/// `None` when no class has more than `max_per_class` rows.
fn stratified(labels: &Tensor, max_per_class: usize, seed: u64, stream: u64) -> Option<Tensor> {
    let values = Vec::<i64>::try_from(labels.to_device(tch::Device::Cpu)).unwrap_or_default();
    let mut by_class: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (row, label) in values.iter().enumerate() {
        by_class.entry(*label).or_default().push(row as i64);
    }
    if by_class.values().all(|rows| rows.len() <= max_per_class) {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream);
    let mut kept = Vec::new();
    for rows in by_class.values_mut() {
        let n = rows.len().min(max_per_class);
        // A partial Fisher-Yates shuffle: the first n rows are a uniform sample.
        for i in 0..n {
            let j = rng.gen_range(i..rows.len());
            rows.swap(i, j);
        }
        kept.extend_from_slice(&rows[..n]);
    }
    kept.sort_unstable();
    Some(Tensor::from_slice(&kept).to_device(labels.device()))
}

/// The epoch with the lowest subset validation loss so far, and the network as it was then
/// (`None` when that epoch was evaluated on the full splits and needs no second evaluation).
pub struct BestSoFar {
    pub epoch: usize,
    pub val_loss: f64,
    pub weights: Option<Vec<(String, Tensor)>>,
}

/// A copy of every variable of `net`.
fn snapshot(net: &Network) -> Vec<(String, Tensor)> {
    let mut vars: Vec<(String, Tensor)> = (net.vs.variables().into_iter())
        .map(|(name, t)| (name, t.detach().copy()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// Copies `weights` into `net`'s variables of the same names.
fn restore(net: &Network, weights: &[(String, Tensor)]) {
    let vars = net.vs.variables();
    tch::no_grad(|| {
        for (name, saved) in weights {
            if let Some(var) = vars.get(name) {
                var.shallow_clone().copy_(saved);
            }
        }
    });
}

/// The evaluations of one fine-tuning run.
pub(super) struct Evaluation<'a> {
    full: HeldOut,
    /// The subsets and the validation rows they keep, when `eval:` caps the splits below
    /// their size.
    subset: Option<(HeldOut, Tensor)>,
    settings: EvalSettings,
    must: &'a [usize],
    epochs: usize,
    best: Option<BestSoFar>,
    /// Whether `best` changed since it was last saved.
    best_unsaved: bool,
}

impl<'a> Evaluation<'a> {
    /// The evaluations of a run of `epochs` epochs on `full`, capped by `settings` with
    /// subsets drawn by `seed`; `must` are epochs always evaluated.
    pub fn new(
        full: HeldOut,
        settings: EvalSettings,
        seed: u64,
        must: &'a [usize],
        epochs: usize,
    ) -> Evaluation<'a> {
        let subset = (settings.max_per_class).and_then(|n| full.subset(n, seed));
        Evaluation {
            full,
            subset,
            settings,
            must,
            epochs,
            best: None,
            best_unsaved: false,
        }
    }

    /// Whether epoch `epoch` is evaluated.
    pub fn due(&self, epoch: usize) -> bool {
        self.settings.evaluates(epoch, self.epochs, self.must)
    }

    /// Evaluates epoch `epoch` into `m` (epoch 0 and the last on the full splits, leaving
    /// their logits in `final_logits`; the others on the subsets, marked `eval_subset`), with
    /// the seconds it took as `eval_seconds`, and keeps a snapshot of `net` when its subset
    /// validation loss is the lowest so far.
    pub fn evaluate(
        &mut self,
        net: &Network,
        epoch: usize,
        m: &mut EpochMetrics,
        final_logits: Option<&RefCell<Option<FinalLogits>>>,
    ) {
        let started = Instant::now();
        let full = epoch == 0 || epoch >= self.epochs;
        let val_loss = match &self.subset {
            Some((_, rows)) if full => {
                let logits = self.full.evaluate(net, m, final_logits);
                loss_on_rows(&logits, &self.full.val.labels, rows)
            }
            Some((subset, _)) => {
                let logits = subset.evaluate(net, m, None);
                m.push((names::EVAL_SUBSET.name.into(), 1.0));
                loss_on_rows(&logits, &subset.val.labels, &all_rows(&subset.val))
            }
            None => {
                let _ = self.full.evaluate(net, m, final_logits);
                f64::NAN
            }
        };
        if self.subset.is_some() && val_loss.is_finite() {
            let better = self.best.as_ref().is_none_or(|b| val_loss < b.val_loss);
            if better {
                self.best = Some(BestSoFar {
                    epoch,
                    val_loss,
                    weights: (!full).then(|| snapshot(net)),
                });
                self.best_unsaved = true;
            }
        }
        m.push((
            names::EVAL_SECONDS.name.into(),
            started.elapsed().as_secs_f64(),
        ));
    }

    /// After the last epoch: the best epoch's full-split metrics when it was evaluated on
    /// subsets (its snapshot evaluated, `net` left as it was), the seconds this took added to
    /// the last epoch's `m`.
    pub fn best_on_full_splits(
        &self,
        net: &Network,
        m: &mut EpochMetrics,
    ) -> Option<(usize, EpochMetrics)> {
        let best = self.best.as_ref()?;
        let weights = best.weights.as_ref()?;
        let started = Instant::now();
        let last = snapshot(net);
        restore(net, weights);
        let mut row = EpochMetrics::new();
        let _ = self.full.evaluate(net, &mut row, None);
        restore(net, &last);
        let seconds = started.elapsed().as_secs_f64();
        for name in [names::EVAL_SECONDS.name, names::EPOCH_SECONDS.name] {
            if let Some(entry) = m.iter_mut().find(|(n, _)| n == name) {
                entry.1 += seconds;
            }
        }
        Some((best.epoch, row))
    }

    /// The best epoch so far when it changed since the last call (to be saved beside the
    /// checkpoint).
    pub fn best_to_save(&mut self) -> Option<&BestSoFar> {
        if !std::mem::take(&mut self.best_unsaved) {
            return None;
        }
        self.best.as_ref()
    }

    /// Continues from `best` (read back from beside a checkpoint).
    pub fn resume_best(&mut self, best: BestSoFar) {
        self.best = Some(best);
    }
}

/// Mean cross-entropy of `logits` on rows `rows` of `labels`.
fn loss_on_rows(logits: &Tensor, labels: &Tensor, rows: &Tensor) -> f64 {
    if rows.numel() == 0 {
        return f64::NAN;
    }
    let rows = rows.to_device(logits.device());
    let picked = logits.index_select(0, &rows);
    let y = labels.to_device(logits.device()).index_select(0, &rows);
    f64::try_from(picked.cross_entropy_for_logits(&y)).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_subsets_keep_at_most_n_per_class_and_depend_only_on_the_seed() {
        // 10 rows of class 0, 3 of class 1, 7 of class 2, interleaved.
        let labels: Vec<i64> = (0..20).map(|i| [0, 2, 0, 1, 2, 0][i % 6]).collect();
        let t = Tensor::from_slice(&labels);
        let rows = Vec::<i64>::try_from(stratified(&t, 4, 7, 1).unwrap()).unwrap();
        let count = |c: i64| rows.iter().filter(|&&r| labels[r as usize] == c).count();
        assert_eq!((count(0), count(1), count(2)), (4, 3, 4));
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{rows:?}");
        tch::manual_seed(99);
        let again = Vec::<i64>::try_from(stratified(&t, 4, 7, 1).unwrap()).unwrap();
        assert_eq!(rows, again);
        let other = Vec::<i64>::try_from(stratified(&t, 4, 8, 1).unwrap()).unwrap();
        assert_ne!(rows, other);
        assert!(stratified(&t, 10, 7, 1).is_none());
    }

    #[test]
    fn loss_on_rows_is_the_cross_entropy_of_those_rows() {
        let logits = Tensor::from_slice(&[2.0f32, 0.0, 0.0, 2.0, 1.0, 1.0]).view([3, 2]);
        let labels = Tensor::from_slice(&[0i64, 0, 1]);
        let rows = Tensor::from_slice(&[0i64, 2]);
        let expected = ((1.0 + (-2.0f64).exp()).ln() + 2f64.ln()) / 2.0;
        assert!((loss_on_rows(&logits, &labels, &rows) - expected).abs() < 1e-6);
    }
}
