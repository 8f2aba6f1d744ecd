//! Domain distance between source features `S` `[n, D]` and target features `T` `[m, D]`:
//! unbiased MMD² (Gretton et al. 2012), proxy A-distance (Ben-David et al. 2007; Ganin et al.
//! 2016) and the Fréchet distance of Gaussian fits (Dowson & Landau 1982; Heusel et al. 2017).

use super::{matrix_f64, scalar, to_vec_f64};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

/// L2 penalty of the proxy A-distance classifier, on standardised features, relative to its
/// class-balanced mean logistic loss.
const PAD_L2: f64 = 1e-3;

/// Unbiased MMD² between `s` and `t` with the RBF kernel k(x, y) = exp(−‖x − y‖² / (2σ²)).
///
/// σ is the median heuristic: the median of the Euclidean distances ‖z_i − z_j‖ over all pairs
/// i < j of the pooled sample z = S ∪ T (the mean of the two middle values when the number of
/// pairs is even). If that median is 0 the kernel is its σ → 0 limit, k(x, y) = [x = y].
/// MMD²_u = Σ_{i≠j} k(s_i, s_j)/(n(n−1)) + Σ_{i≠j} k(t_i, t_j)/(m(m−1))
/// − 2 Σ_{i,j} k(s_i, t_j)/(nm) (Gretton et al. 2012, eq. 3): diagonal terms are excluded, so the value is unbiased and can be
/// slightly negative when both samples come from one distribution. Memory is O((n + m)²).
///
/// # Panics
/// If n < 2, m < 2 or the feature dimensions differ.
pub fn mmd2_unbiased_rbf(s: &Tensor, t: &Tensor) -> f64 {
    let (s, t) = pair(s, t, "mmd2_unbiased_rbf");
    let n = s.size()[0];
    let m = t.size()[0];
    let z = Tensor::cat(&[&s, &t], 0);
    let norms = z.square().sum_dim_intlist(1, false, Kind::Double);
    let mut d2 = (norms.unsqueeze(1) + norms.unsqueeze(0) - z.mm(&z.tr()) * 2.0).clamp_min(0.0);
    let _ = d2.fill_diagonal_(0.0, false);
    let sigma = median_pair_distance(&d2);
    let mut k = if sigma > 0.0 {
        (d2 / (-2.0 * sigma * sigma)).exp()
    } else {
        d2.eq(0.0).to_kind(Kind::Double)
    };
    let _ = k.fill_diagonal_(0.0, false);
    let block = |rows: i64, rlen: i64, cols: i64, clen: i64| {
        scalar(
            &k.narrow(0, rows, rlen)
                .narrow(1, cols, clen)
                .sum(Kind::Double),
        )
    };
    let (nf, mf) = (n as f64, m as f64);
    block(0, n, 0, n) / (nf * (nf - 1.0)) + block(n, m, n, m) / (mf * (mf - 1.0))
        - 2.0 * block(0, n, n, m) / (nf * mf)
}

/// Median of sqrt(d2[i][j]) over i < j of a symmetric squared-distance matrix.
fn median_pair_distance(d2: &Tensor) -> f64 {
    let size = d2.size()[0] as usize;
    let all = to_vec_f64(d2);
    let mut dist: Vec<f64> = (0..size)
        .flat_map(|i| {
            all[i * size + i + 1..(i + 1) * size]
                .iter()
                .map(|v| v.sqrt())
        })
        .collect();
    let (count, mid) = (dist.len(), dist.len() / 2);
    let (below, &mut upper, _) = dist.select_nth_unstable_by(mid, f64::total_cmp);
    if count % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// Proxy A-distance 2(1 − 2ε), clamped to [0, 2], where ε is the test error of a linear
/// source-vs-target classifier.
///
/// Each sample is split by a permutation seeded with `seed` (ChaCha8): the first ⌊n/2⌋ (⌊m/2⌋)
/// rows train, the rest test. The classifier is L2-regularised logistic regression (penalty
/// 10⁻³ on the weights, none on the bias) on features standardised with the training half's mean
/// and standard deviation, each domain weighted to half the training loss, fitted to convergence
/// by Newton's method with backtracking. ε is the balanced test error, the mean of the two
/// domains' error rates (the plain error rate when the halves are equal in size), so a classifier
/// that cannot tell the domains apart gives ε ≈ 0.5 and a distance ≈ 0 whatever n and m.
///
/// # Panics
/// If n < 2, m < 2 or the feature dimensions differ.
pub fn proxy_a_distance(s: &Tensor, t: &Tensor, seed: u64) -> f64 {
    let (s, t) = pair(s, t, "proxy_a_distance");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut halves = |x: &Tensor| {
        let rows = x.size()[0];
        let mut order: Vec<i64> = (0..rows).collect();
        order.shuffle(&mut rng);
        let pick = |idx: &[i64]| x.index_select(0, &Tensor::from_slice(idx).to_device(x.device()));
        let (train, test) = order.split_at(rows as usize / 2);
        (pick(train), pick(test))
    };
    let (s_train, s_test) = halves(&s);
    let (t_train, t_test) = halves(&t);

    let x = Tensor::cat(&[&s_train, &t_train], 0);
    let mean = x.mean_dim(0, true, Kind::Double);
    let std = x.std_correction(0, 0, true);
    let std = std.where_self(&std.gt(0.0), &std.ones_like());
    let design = |x: &Tensor| Tensor::cat(&[(x - &mean) / &std, x.ones_like().narrow(1, 0, 1)], 1);
    let a = design(&x);
    let (ns, nt) = (s_train.size()[0], t_train.size()[0]);
    let opts = (Kind::Double, a.device());
    let y = Tensor::cat(&[Tensor::zeros([ns], opts), Tensor::ones([nt], opts)], 0);
    let weight = Tensor::cat(
        &[
            Tensor::full([ns], 0.5 / ns as f64, opts),
            Tensor::full([nt], 0.5 / nt as f64, opts),
        ],
        0,
    );
    let theta = fit_logistic(&a, &y, &weight);

    let positive = |x: &Tensor| {
        scalar(
            &design(x)
                .mv(&theta)
                .gt(0.0)
                .to_kind(Kind::Double)
                .mean(Kind::Double),
        )
    };
    let eps = (positive(&s_test) + 1.0 - positive(&t_test)) / 2.0;
    (2.0 * (1.0 - 2.0 * eps)).clamp(0.0, 2.0)
}

/// Minimises Σ_i w_i (softplus(a_i·θ) − y_i a_i·θ) + (λ/2) Σ_{k<last} θ_k² (the last column of `a`
/// is the unpenalised bias) by damped Newton steps.
fn fit_logistic(a: &Tensor, y: &Tensor, weight: &Tensor) -> Tensor {
    let cols = a.size()[1];
    let opts = (Kind::Double, a.device());
    let penalty = Tensor::cat(
        &[
            Tensor::full([cols - 1], PAD_L2, opts),
            Tensor::zeros([1], opts),
        ],
        0,
    );
    let objective = |theta: &Tensor| {
        let z = a.mv(theta);
        let softplus = z.clamp_min(0.0) + (-z.abs()).exp().log1p();
        scalar(&((softplus - y * &z) * weight).sum(Kind::Double))
            + 0.5 * scalar(&(&penalty * theta.square()).sum(Kind::Double))
    };
    let mut theta = Tensor::zeros([cols], opts);
    let mut value = objective(&theta);
    for _ in 0..100 {
        let p = a.mv(&theta).sigmoid();
        let grad = a.tr().mv(&((&p - y) * weight)) + &penalty * &theta;
        if scalar(&grad.abs().max()) < 1e-12 {
            break;
        }
        let curvature: Tensor = weight * &p * (1.0 - &p);
        let hessian = a.tr().mm(&(a * curvature.unsqueeze(1))) + penalty.diag(0);
        let step = Tensor::linalg_solve(&hessian, &grad, true);
        let mut scale = 1.0;
        let improved = loop {
            let next = &theta - &step * scale;
            let v = objective(&next);
            if v < value {
                break Some((next, v));
            }
            scale /= 2.0;
            if scale < 1e-10 {
                break None;
            }
        };
        match improved {
            Some((next, v)) => (theta, value) = (next, v),
            None => break,
        }
    }
    theta
}

/// Fréchet distance between Gaussian fits of `s` and `t`:
/// ‖μs − μt‖² + Tr(Σs + Σt − 2(Σs Σt)^{1/2}), with unbiased (n − 1) sample covariances.
///
/// Tr (Σs Σt)^{1/2} is computed symmetrically as Σ_i sqrt(λ_i) over the eigenvalues λ_i of
/// Σs^{1/2} Σt Σs^{1/2} (Σs^{1/2} from the eigendecomposition of Σs), all in f64, with tiny
/// negative eigenvalues of either clamped to 0; the result is clamped to ≥ 0.
///
/// # Panics
/// If n < 2, m < 2 or the feature dimensions differ.
pub fn frechet_distance(s: &Tensor, t: &Tensor) -> f64 {
    let (s, t) = pair(s, t, "frechet_distance");
    let moments = |x: &Tensor| {
        let mean = x.mean_dim(0, true, Kind::Double);
        let centred = x - &mean;
        let cov = centred.tr().mm(&centred) / (x.size()[0] - 1) as f64;
        (mean, cov)
    };
    let ((mu_s, cov_s), (mu_t, cov_t)) = (moments(&s), moments(&t));
    let (values, vectors) = cov_s.linalg_eigh("L");
    let root_s = (&vectors * values.clamp_min(0.0).sqrt().unsqueeze(0)).mm(&vectors.tr());
    let inner = root_s.mm(&cov_t).mm(&root_s);
    let inner = (&inner + inner.tr()) / 2.0;
    let trace_root = scalar(
        &inner
            .linalg_eigvalsh("L")
            .clamp_min(0.0)
            .sqrt()
            .sum(Kind::Double),
    );
    let mean_term = scalar(&(mu_s - mu_t).square().sum(Kind::Double));
    let trace = scalar(&cov_s.trace()) + scalar(&cov_t.trace());
    (mean_term + trace - 2.0 * trace_root).max(0.0)
}

/// Both feature matrices in f64 on `s`'s device, checked to have ≥ 2 rows and equal widths.
fn pair(s: &Tensor, t: &Tensor, what: &str) -> (Tensor, Tensor) {
    let s = matrix_f64(s, what);
    let t = matrix_f64(t, what).to_device(s.device());
    let (n, m) = (s.size()[0], t.size()[0]);
    assert!(
        n >= 2 && m >= 2,
        "{what}: need at least 2 rows in each sample, got {n} and {m}"
    );
    assert_eq!(s.size()[1], t.size()[1], "{what}: feature widths differ");
    (s, t)
}
