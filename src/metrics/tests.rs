//! Known-answer tests for every metric. Reference values marked "scipy" were computed once with
//! numpy 2 / scipy 1.x in a throwaway venv from the same formula-generated inputs (the formulas
//! are repeated here), then hard-coded.

use super::cka::{centre, cka_centred};
use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

fn close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "got {got}, want {want} (tolerance {tol})"
    );
}

/// `[rows, cols]` f64 tensor from a formula of (row, col).
fn from_fn(rows: usize, cols: usize, f: impl Fn(f64, f64) -> f64) -> Tensor {
    let v: Vec<f64> = (0..rows * cols)
        .map(|k| f((k / cols) as f64, (k % cols) as f64))
        .collect();
    Tensor::from_slice(&v).view([rows as i64, cols as i64])
}

/// `[rows, cols]` f64 standard normal sample (Box–Muller on ChaCha8), independent of tch's RNG.
fn gaussian(rows: usize, cols: usize, seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f64> = (0..rows * cols)
        .map(|_| {
            let (u, w): (f64, f64) = (1.0 - rng.gen::<f64>(), rng.gen());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * w).cos()
        })
        .collect();
    Tensor::from_slice(&v).view([rows as i64, cols as i64])
}

fn labels(v: &[i64]) -> Tensor {
    Tensor::from_slice(v)
}

// ---- calibration ----

#[test]
fn ece_matches_hand_computation() {
    // 15 bins of width 1/15. Confidences (correct?): 0.90 (yes) and 0.92 (no) share bin 13,
    // 0.85 (no) is in bin 12, 0.55 (yes) in bin 8, 0.45 (yes) in bin 6.
    // ECE = 2/5·|0.5 − 0.91| + 1/5·0.85 + 1/5·0.45 + 1/5·0.55 = 0.164 + 0.17 + 0.09 + 0.11 = 0.534.
    let probs = Tensor::from_slice(&[
        0.90f32, 0.05, 0.05, //
        0.10, 0.85, 0.05, //
        0.04, 0.04, 0.92, //
        0.55, 0.25, 0.20, //
        0.20, 0.35, 0.45,
    ])
    .view([5, 3]);
    let y = labels(&[0, 0, 1, 0, 2]);
    close(ece(&probs, &y, ECE_BINS), 0.534, 1e-6);
    // One bin: |mean accuracy − mean confidence| = |0.6 − 0.734|.
    close(ece(&probs, &y, 1), 0.134, 1e-6);
}

#[test]
fn ece_bins_are_closed_on_the_right() {
    // With 2 bins, confidence 0.5 belongs to (0, 0.5] and 1.0 to (0.5, 1]; ties predict the lowest
    // class. Bin 0: acc 1, conf 0.5; bin 1: acc 0, conf 1. ECE = 0.5·0.5 + 0.5·1 = 0.75.
    let probs = Tensor::from_slice(&[0.5f64, 0.5, 1.0, 0.0]).view([2, 2]);
    close(ece(&probs, &labels(&[0, 1]), 2), 0.75, 1e-15);
}

#[test]
fn ece_is_zero_when_calibrated() {
    // Ten predictions at confidence 0.7 with 7 right, four at 0.75 with 3 right.
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for i in 0..10 {
        rows.extend([0.7f32, 0.3]);
        y.push(if i < 7 { 0 } else { 1 });
    }
    for i in 0..4 {
        rows.extend([0.25f32, 0.75]);
        y.push(if i < 3 { 1 } else { 0 });
    }
    let probs = Tensor::from_slice(&rows).view([14, 2]);
    assert!(ece(&probs, &labels(&y), ECE_BINS) < 1e-6);
}

/// The over-confident example: logits 3·sin(1.3 i + 2.1 c), 12 rows × 3 classes, labels the
/// argmax except on every fourth row (accuracy 0.75).
fn overconfident() -> (Tensor, Tensor) {
    let logits = from_fn(12, 3, |i, c| 3.0 * (1.3 * i + 2.1 * c).sin());
    (logits, labels(&[2, 0, 0, 2, 2, 1, 0, 2, 0, 1, 1, 0]))
}

#[test]
fn temperature_fixes_overconfidence() {
    let (logits, y) = overconfident();
    let t = fit_temperature(&logits, &y);
    // scipy: brentq on d NLL/dβ = 0 gives β = 1/2.8020492503711036; NLL(T=1) = 1.2405651699748856,
    // NLL(T*) = 0.8616307367107573.
    close(t, 2.8020492503711036, 1e-9);
    close(nll(&logits, &y, 1.0), 1.2405651699748856, 1e-6);
    close(nll(&logits, &y, t), 0.8616307367107573, 1e-6);
    assert!(nll(&logits, &y, t) <= nll(&logits, &y, 1.0));
    assert_eq!(t, fit_temperature(&logits, &y), "deterministic");
}

#[test]
fn temperature_of_a_calibrated_model_is_one() {
    // Binary logits [ln 3, 0] (p = 0.75) with 3 of 4 labels 0, and [0, ln 4] (p = 0.8) with 4 of
    // 5 labels 1: at T = 1 the NLL gradient is exactly zero.
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for i in 0..4 {
        rows.extend([3f64.ln(), 0.0]);
        y.push(if i < 3 { 0 } else { 1 });
    }
    for i in 0..5 {
        rows.extend([0.0, 4f64.ln()]);
        y.push(if i < 4 { 1 } else { 0 });
    }
    let logits = Tensor::from_slice(&rows).view([9, 2]);
    close(fit_temperature(&logits, &labels(&y)), 1.0, 1e-10);
}

#[test]
fn temperature_stops_at_its_bound_for_separated_data() {
    let logits = Tensor::from_slice(&[2.0f32, -1.0, -0.5, 1.5]).view([2, 2]);
    close(
        fit_temperature(&logits, &labels(&[0, 1])),
        (-3f64).exp(),
        1e-12,
    );
}

#[test]
fn ece_after_temperature_one_is_plain_ece() {
    let (logits, y) = overconfident();
    let probs = logits.softmax(-1, Kind::Float);
    close(
        ece_after_temperature(&logits, &y, 1.0, ECE_BINS),
        ece(&probs, &y, ECE_BINS),
        1e-6,
    );
}

// ---- CKA ----

#[test]
fn cka_is_one_for_identical_inputs() {
    let x = gaussian(40, 6, 1);
    close(linear_cka(&x, &x), 1.0, 1e-12);
    close(
        linear_cka(&x.to_kind(Kind::Float), &x.to_kind(Kind::Float)),
        1.0,
        1e-12,
    );
}

#[test]
fn cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling() {
    let x = gaussian(40, 6, 2);
    let y = gaussian(40, 9, 3);
    let (q, _) = Tensor::linalg_qr(&gaussian(6, 6, 4), "reduced");
    let (r, _) = Tensor::linalg_qr(&gaussian(9, 9, 5), "reduced");
    close(linear_cka(&x, &x.mm(&q)), 1.0, 1e-12);
    close(linear_cka(&x, &(&x * 3.7)), 1.0, 1e-12);
    let base = linear_cka(&x, &y);
    assert!(base > 0.0 && base < 1.0);
    close(
        linear_cka(&(x.mm(&q) * 0.2), &(y.mm(&r) * 5.0)),
        base,
        1e-12,
    );
}

#[test]
fn cka_matches_numpy_reference() {
    // X[i, j] = sin(0.9 i + 1.7 j + 0.3) + 0.1 i (j + 1)/8 (8×3), Y[i, k] = cos(1.1 i + 0.5 k²)
    // (8×4). numpy: centre columns, ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) = 0.7370792733312544.
    let x = from_fn(8, 3, |i, j| {
        (0.9 * i + 1.7 * j + 0.3).sin() + 0.1 * i * (j + 1.0) / 8.0
    });
    let y = from_fn(8, 4, |i, k| (1.1 * i + 0.5 * k * k).cos());
    close(linear_cka(&x, &y), 0.7370792733312544, 1e-12);
    close(
        cka_centred(&centre(&x), &centre(&y), true),
        0.7370792733312544,
        1e-12,
    );
    close(
        cka_centred(&centre(&x), &centre(&y), false),
        0.7370792733312544,
        1e-12,
    );
    close(
        linear_cka(&x.to_kind(Kind::Float), &y.to_kind(Kind::Float)),
        0.7370792733312544,
        1e-6,
    );
}

#[test]
fn cka_flattens_feature_maps_and_is_symmetric() {
    let x = gaussian(6, 2 * 3 * 3, 6);
    let y = gaussian(6, 40, 7);
    let maps = x.view([6, 2, 3, 3]);
    close(linear_cka(&maps, &y), linear_cka(&x, &y), 1e-15);
    close(linear_cka(&x, &y), linear_cka(&y, &x), 1e-12);
    // N = 6 < D: the Gram form is used; it agrees with the feature form.
    close(
        cka_centred(&centre(&x), &centre(&y), true),
        cka_centred(&centre(&x), &centre(&y), false),
        1e-12,
    );
}

#[test]
fn weight_distance_is_l2_of_concatenation() {
    let a = [
        Tensor::from_slice(&[1.0f32, 2.0]),
        Tensor::from_slice(&[3.0f32]).view([1, 1]),
    ];
    let b = [
        Tensor::from_slice(&[1.0f32, 0.0]),
        Tensor::from_slice(&[-1.0f32]).view([1, 1]),
    ];
    close(weight_distance(&a, &b), 20f64.sqrt(), 1e-15);
    assert_eq!(weight_distance(&a, &a), 0.0);
    assert_eq!(weight_distance(&[], &[]), 0.0);
}

// ---- domain ----

/// Unbiased RBF MMD² by explicit loops, with the same median-heuristic convention.
fn mmd2_brute_force(s: &[Vec<f64>], t: &[Vec<f64>]) -> f64 {
    let dist = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    };
    let pooled: Vec<&Vec<f64>> = s.iter().chain(t).collect();
    let mut pairs = Vec::new();
    for i in 0..pooled.len() {
        for j in i + 1..pooled.len() {
            pairs.push(dist(pooled[i], pooled[j]));
        }
    }
    pairs.sort_by(f64::total_cmp);
    let half = pairs.len() / 2;
    let sigma = if pairs.len() % 2 == 1 {
        pairs[half]
    } else {
        (pairs[half - 1] + pairs[half]) / 2.0
    };
    let k = |a: &[f64], b: &[f64]| {
        let d = dist(a, b);
        if sigma > 0.0 {
            (-d * d / (2.0 * sigma * sigma)).exp()
        } else if d == 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let within = |x: &[Vec<f64>]| {
        let mut sum = 0.0;
        for i in 0..x.len() {
            for j in 0..x.len() {
                if i != j {
                    sum += k(&x[i], &x[j]);
                }
            }
        }
        sum / (x.len() * (x.len() - 1)) as f64
    };
    let mut cross = 0.0;
    for a in s {
        for b in t {
            cross += k(a, b);
        }
    }
    within(s) + within(t) - 2.0 * cross / (s.len() * t.len()) as f64
}

fn rows(t: &Tensor) -> Vec<Vec<f64>> {
    Vec::<Vec<f64>>::try_from(t).unwrap()
}

#[test]
fn mmd_matches_brute_force() {
    // 5 + 4 points: 36 pairs (even count, so σ averages the middle two).
    let s = gaussian(5, 3, 8);
    let t = gaussian(4, 3, 9) + 0.7;
    close(
        mmd2_unbiased_rbf(&s, &t),
        mmd2_brute_force(&rows(&s), &rows(&t)),
        1e-12,
    );
    // 4 + 2 points: 15 pairs (odd count).
    let (s, t) = (gaussian(4, 2, 10), gaussian(2, 2, 11));
    close(
        mmd2_unbiased_rbf(&s, &t),
        mmd2_brute_force(&rows(&s), &rows(&t)),
        1e-12,
    );
}

#[test]
fn mmd_with_zero_median_uses_the_indicator_kernel() {
    // S = 4 × a, T = [a, b, b]: 11 of 21 pooled pairs coincide, so σ = 0 and k(x, y) = [x = y]:
    // MMD² = 1 + 2/6 − 2·4/12 = 2/3.
    let s = Tensor::from_slice(&[1.0f64, 2.0])
        .view([1, 2])
        .repeat([4, 1]);
    let t = Tensor::from_slice(&[1.0f64, 2.0, 0.0, 5.0, 0.0, 5.0]).view([3, 2]);
    close(mmd2_unbiased_rbf(&s, &t), 2.0 / 3.0, 1e-15);
    close(mmd2_brute_force(&rows(&s), &rows(&t)), 2.0 / 3.0, 1e-15);
}

#[test]
fn mmd_separates_shifted_samples() {
    let s = gaussian(200, 8, 12).to_kind(Kind::Float);
    let same = gaussian(200, 8, 13).to_kind(Kind::Float);
    let shifted = &same + 1.0;
    let null = mmd2_unbiased_rbf(&s, &same);
    let alt = mmd2_unbiased_rbf(&s, &shifted);
    assert!(null.abs() < 0.01, "same distribution: {null}");
    assert!(alt > 0.2, "shifted: {alt}");
}

#[test]
fn proxy_a_distance_extremes() {
    let x = gaussian(600, 5, 14).to_kind(Kind::Float);
    // Two halves of one sample: indistinguishable.
    let (a, b) = (x.narrow(0, 0, 300), x.narrow(0, 300, 300));
    let same = proxy_a_distance(&a, &b, 0);
    assert!(same < 0.3, "same distribution: {same}");
    // Shifted by 10 standard deviations along one axis: linearly separable.
    let shift = Tensor::from_slice(&[10.0f32, 0.0, 0.0, 0.0, 0.0]);
    close(proxy_a_distance(&a, &(&b + shift), 0), 2.0, 0.0);
    // Unequal sizes use the balanced error: still ≈ 0 for one distribution.
    let uneven = proxy_a_distance(&a, &x.narrow(0, 300, 80), 1);
    assert!(uneven < 0.4, "uneven sizes: {uneven}");
}

#[test]
fn proxy_a_distance_grows_with_shift_and_is_seeded() {
    let (s, t) = (gaussian(400, 4, 15), gaussian(400, 4, 16));
    let pad = |shift: f64| proxy_a_distance(&s, &(&t + shift), 7);
    let (small, large) = (pad(0.3), pad(1.5));
    assert!(small < large && large < 2.0, "{small} {large}");
    assert_eq!(pad(0.3), small, "same seed, same value");
}

#[test]
fn frechet_distance_matches_closed_form_for_diagonal_gaussians() {
    // The points μ ± c_k e_k (k < D) have sample mean μ and unbiased sample covariance
    // diag(2 c_k² / (2D − 1)); for diagonal covariances the distance is
    // ‖μs − μt‖² + Σ_k (σs_k − σt_k)².
    let axes = |mu: &[f64], c: &[f64]| {
        let d = mu.len();
        let mut v = Vec::new();
        for (k, &ck) in c.iter().enumerate() {
            for sign in [1.0, -1.0] {
                v.extend(
                    mu.iter()
                        .enumerate()
                        .map(|(j, m)| m + if j == k { sign * ck } else { 0.0 }),
                );
            }
        }
        Tensor::from_slice(&v).view([2 * d as i64, d as i64])
    };
    let (mu_s, c_s) = ([0.5, -1.0, 2.0], [1.0, 2.0, 0.5]);
    let (mu_t, c_t) = ([1.5, 0.0, 2.0], [3.0, 0.5, 0.5]);
    let sd = |c: f64| (2.0 * c * c / 5.0f64).sqrt();
    let want = 1.0
        + 1.0
        + (0..3)
            .map(|k| (sd(c_s[k]) - sd(c_t[k])).powi(2))
            .sum::<f64>();
    close(
        frechet_distance(&axes(&mu_s, &c_s), &axes(&mu_t, &c_t)),
        want,
        1e-12,
    );
}

#[test]
fn frechet_distance_of_identical_and_translated_samples() {
    let x = gaussian(50, 4, 17);
    assert!(frechet_distance(&x, &x) < 1e-10);
    let shift = Tensor::from_slice(&[1.0f64, -2.0, 0.0, 0.5]);
    close(frechet_distance(&x, &(&x + shift)), 1.0 + 4.0 + 0.25, 1e-10);
}

#[test]
fn frechet_distance_matches_scipy_reference() {
    // S[i, j] = sin(0.37 i (j + 1) + j) (12×3), T[i, j] = cos(0.53 i + 0.29 j i) + 0.5 j (10×3).
    // scipy (pytorch-fid formula: np.cov, scipy.linalg.sqrtm(Σs Σt)): 1.6815800569563226.
    let s = from_fn(12, 3, |i, j| (0.37 * i * (j + 1.0) + j).sin());
    let t = from_fn(10, 3, |i, j| (0.53 * i + 0.29 * j * i).cos() + 0.5 * j);
    close(frechet_distance(&s, &t), 1.6815800569563226, 1e-10);
    close(frechet_distance(&t, &s), 1.6815800569563226, 1e-10);
}

#[test]
fn domain_metrics_accept_feature_maps_and_f32() {
    let s = gaussian(20, 12, 18);
    let t = gaussian(20, 12, 19) + 0.5;
    let (s4, t4) = (
        s.view([20, 3, 2, 2]).to_kind(Kind::Float),
        t.view([20, 3, 2, 2]).to_kind(Kind::Float),
    );
    close(mmd2_unbiased_rbf(&s4, &t4), mmd2_unbiased_rbf(&s, &t), 1e-6);
    close(frechet_distance(&s4, &t4), frechet_distance(&s, &t), 1e-5);
    assert_eq!(s4.device(), Device::Cpu);
}

#[test]
fn metrics_agree_between_cpu_and_cuda() {
    if !tch::Cuda::is_available() {
        return;
    }
    let gpu = Device::Cuda(0);
    let f32s = |t: &Tensor| t.to_kind(Kind::Float);
    let (s, t) = (
        f32s(&gaussian(300, 16, 20)),
        f32s(&(gaussian(250, 16, 21) + 0.4)),
    );
    let (sg, tg) = (s.to_device(gpu), t.to_device(gpu));
    close(
        mmd2_unbiased_rbf(&sg, &tg),
        mmd2_unbiased_rbf(&s, &t),
        1e-10,
    );
    close(frechet_distance(&sg, &tg), frechet_distance(&s, &t), 1e-8);
    close(
        proxy_a_distance(&sg, &tg, 3),
        proxy_a_distance(&s, &t, 3),
        0.02,
    );
    let (x, y) = (s.narrow(0, 0, 100), f32s(&gaussian(100, 40, 22)));
    let (xg, yg) = (x.to_device(gpu), y.to_device(gpu));
    close(linear_cka(&xg, &yg), linear_cka(&x, &y), 1e-10);
    close(linear_cka(&xg, &xg), 1.0, 1e-12);
    close(
        weight_distance(&[xg.shallow_clone()], &[x.zeros_like()]),
        weight_distance(&[x.shallow_clone()], &[x.zeros_like()]),
        1e-9,
    );
    let (logits, y) = overconfident();
    let (lg, yg) = (logits.to_device(gpu), y.to_device(gpu));
    close(fit_temperature(&lg, &yg), fit_temperature(&logits, &y), 0.0);
    close(
        ece_after_temperature(&lg, &yg, 2.0, ECE_BINS),
        ece_after_temperature(&logits, &y, 2.0, ECE_BINS),
        1e-12,
    );
}

// ---- aggregate ----

#[test]
fn student_t_quantiles_match_scipy() {
    // scipy.stats.t.ppf(p, df).
    for (p, df, want) in [
        (0.975, 1.0, 12.706204736174694),
        (0.975, 2.0, 4.302652729749462),
        (0.975, 3.0, 3.1824463052837078),
        (0.975, 4.0, 2.7764451051977934),
        (0.975, 9.0, 2.262157162798205),
        (0.975, 29.0, 2.045229642132703),
        (0.975, 1000.0, 1.9623390808264083),
        (0.975, 2.5, 3.5746548420036817),
        (0.995, 5.0, 4.032142983555228),
        (0.6, 7.0, 0.2631668613520229),
        (0.025, 4.0, -2.7764451051977943),
    ] {
        let got = student_t_quantile(p, df);
        assert!(
            (got - want).abs() <= 1e-10 * want.abs(),
            "t({p}, {df}) = {got}, want {want}"
        );
    }
    close(student_t_quantile(0.5, 3.0), 0.0, 1e-15);
}

#[test]
fn mean_ci95_matches_scipy() {
    // scipy: mean ± t.ppf(0.975, 4) · std(ddof=1)/√5.
    let ci = mean_ci95(&[0.81, 0.78, 0.84, 0.80, 0.79]);
    assert_eq!(ci.n, 5);
    close(ci.mean, 0.804, 1e-15);
    close(ci.lo, 0.7754147480901299, 1e-12);
    close(ci.hi, 0.8325852519098702, 1e-12);
    let one = mean_ci95(&[0.5]);
    assert_eq!((one.mean, one.n), (0.5, 1));
    assert!(one.lo.is_nan() && one.hi.is_nan());
    assert!(mean_ci95(&[]).mean.is_nan());
    let flat = mean_ci95(&[0.3, 0.3, 0.3]);
    assert_eq!((flat.lo, flat.hi), (0.3, 0.3));
}

#[test]
fn logit_mean_matches_scipy() {
    // scipy: expit(mean(logit(a))), with a clipped to [1e-4, 1 − 1e-4] in the second case.
    close(logit_mean(&[0.9, 0.5, 0.99]), 0.9058611151200352, 1e-14);
    close(logit_mean(&[1.0, 0.0, 0.7]), 0.5701425119992405, 1e-14);
    close(logit_mean(&[0.3, 0.3]), 0.3, 1e-15);
    assert!(logit_mean(&[]).is_nan());
}
