//! Calibration: expected calibration error and temperature scaling (Guo et al. 2017).

use super::{to_vec_f64, to_vec_i64};
use tch::{Kind, Tensor};

/// The number of equal-width confidence bins DESIGN.md §6 fixes for ECE.
pub const ECE_BINS: usize = 15;

/// Fitted temperatures are confined to `[e^-LOG_T_BOUND, e^LOG_T_BOUND]`.
const LOG_T_BOUND: f64 = 3.0;

/// Expected calibration error of class probabilities `probs` `[N, C]` against `labels` `[N]`.
///
/// Confidence is the largest probability of a row and the prediction its class (the lowest index
/// on ties). Bin `i` of `bins` holds the confidences in `(i/bins, (i+1)/bins]` (a confidence of 0
/// falls in the first bin), and ECE = Σ_B |B|/N · |acc(B) − conf(B)|, skipping empty bins. Bin
/// membership is decided on the f64 value of each input element.
///
/// # Panics
/// If `probs` is not `[N, C]` with N, C ≥ 1, `labels` does not hold N values, or `bins` is 0.
pub fn ece(probs: &Tensor, labels: &Tensor, bins: usize) -> f64 {
    assert!(bins > 0, "ece: bins must be positive");
    let (rows, classes) = shape2(probs, labels, "ece");
    let p = to_vec_f64(probs);
    let y = to_vec_i64(labels);
    let mut count = vec![0usize; bins];
    let mut correct = vec![0.0f64; bins];
    let mut confidence = vec![0.0f64; bins];
    for (row, &label) in p.chunks_exact(classes).zip(&y) {
        let (pred, conf) = row
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
                if v > best.1 {
                    (k, v)
                } else {
                    best
                }
            });
        let bin = ((conf * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[bin] += 1;
        confidence[bin] += conf;
        if pred as i64 == label {
            correct[bin] += 1.0;
        }
    }
    let gap: f64 = (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (correct[b] - confidence[b]).abs())
        .sum();
    gap / rows as f64
}

/// Mean negative log-likelihood of `labels` under `softmax(logits / temperature)`.
///
/// # Panics
/// If `logits` is not `[N, C]` with N, C ≥ 1 or `labels` does not hold N values in `0..C`.
pub fn nll(logits: &Tensor, labels: &Tensor, temperature: f64) -> f64 {
    Scaled::new(logits, labels, "nll").at(1.0 / temperature).0
}

/// The temperature T > 0 minimising the mean NLL of `softmax(logits / T)` on validation `logits`
/// `[N, C]` with `labels` `[N]` (Guo et al. 2017).
///
/// Deterministic: a golden-section search over log T in [−3, 3] (the NLL is convex in 1/T, hence
/// unimodal in log T), polished by Newton steps on 1/T with analytic derivatives, kept only while
/// they shrink the gradient. The result lies in [e^−3, e^3]; it sits on a bound when the optimum
/// lies beyond it (e.g. T → 0 for a perfectly separated validation set).
///
/// # Panics
/// As [`nll`].
pub fn fit_temperature(logits: &Tensor, labels: &Tensor) -> f64 {
    let scaled = Scaled::new(logits, labels, "fit_temperature");
    let f = |log_t: f64| scaled.at((-log_t).exp()).0;
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (-LOG_T_BOUND, LOG_T_BOUND);
    let (mut c, mut d) = (b - ratio * (b - a), a + ratio * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if fc <= fd {
            (b, d, fd) = (d, c, fc);
            c = b - ratio * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + ratio * (b - a);
            fd = f(d);
        }
    }
    let (lo, hi) = ((-LOG_T_BOUND).exp(), LOG_T_BOUND.exp());
    let mut beta = (-(a + b) / 2.0).exp();
    let (_, mut grad, mut curv) = scaled.at(beta);
    for _ in 0..50 {
        if curv <= 0.0 {
            break;
        }
        let next = (beta - grad / curv).clamp(lo, hi);
        let (_, g, h) = scaled.at(next);
        if g.abs() >= grad.abs() || next == beta {
            break;
        }
        (beta, grad, curv) = (next, g, h);
    }
    1.0 / beta
}

/// ECE ([`ece`], `bins` bins) of `softmax(logits / temperature)`, e.g. test logits with a
/// temperature from [`fit_temperature`] on the validation set.
pub fn ece_after_temperature(
    logits: &Tensor,
    labels: &Tensor,
    temperature: f64,
    bins: usize,
) -> f64 {
    let probs = (logits.to_kind(Kind::Double) / temperature).softmax(-1, Kind::Double);
    ece(&probs, labels, bins)
}

/// `(rows, classes)` of a `[N, C]` score matrix, checked against `[N]` labels.
fn shape2(scores: &Tensor, labels: &Tensor, what: &str) -> (usize, usize) {
    let size = scores.size();
    assert!(
        size.len() == 2 && size[0] > 0 && size[1] > 0,
        "{what}: expected [N, C] scores with N, C >= 1, got {size:?}"
    );
    assert_eq!(
        labels.numel() as i64,
        size[0],
        "{what}: {} labels for {} rows",
        labels.numel(),
        size[0]
    );
    (size[0] as usize, size[1] as usize)
}

/// Validation logits and labels, in f64 on the CPU, for evaluating the NLL at any inverse
/// temperature.
struct Scaled {
    logits: Vec<f64>,
    labels: Vec<usize>,
    classes: usize,
}

impl Scaled {
    fn new(logits: &Tensor, labels: &Tensor, what: &str) -> Self {
        let (_, classes) = shape2(logits, labels, what);
        let labels = to_vec_i64(labels)
            .into_iter()
            .map(|y| {
                assert!(
                    (0..classes as i64).contains(&y),
                    "{what}: label {y} outside 0..{classes}"
                );
                y as usize
            })
            .collect();
        Scaled {
            logits: to_vec_f64(logits),
            labels,
            classes,
        }
    }

    /// Mean NLL at inverse temperature `beta`, with its first and second derivatives in `beta`:
    /// per row, d/dβ = E_p[z] − z_y and d²/dβ² = Var_p[z] with p = softmax(β z).
    fn at(&self, beta: f64) -> (f64, f64, f64) {
        let (mut value, mut grad, mut curv) = (0.0, 0.0, 0.0);
        for (z, &y) in self.logits.chunks_exact(self.classes).zip(&self.labels) {
            let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(beta * v));
            let weight = |v: f64| (beta * v - max).exp();
            let total: f64 = z.iter().map(|&v| weight(v)).sum();
            let mean = z.iter().map(|&v| weight(v) * v).sum::<f64>() / total;
            let var = z
                .iter()
                .map(|&v| weight(v) * (v - mean) * (v - mean))
                .sum::<f64>()
                / total;
            value += max + total.ln() - beta * z[y];
            grad += mean - z[y];
            curv += var;
        }
        let n = self.labels.len() as f64;
        (value / n, grad / n, curv / n)
    }
}
