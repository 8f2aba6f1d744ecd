//! Aggregation over seeds and datasets: mean with a Student-t 95% confidence interval, and the
//! log-odds mean of accuracies (Kornblith et al. 2019).

use serde::Serialize;

/// Accuracies are clamped to [`LOGIT_CLAMP`, 1 − `LOGIT_CLAMP`] before taking log-odds.
pub const LOGIT_CLAMP: f64 = 1e-4;

/// A sample mean with its two-sided 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanCi {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

/// Mean of `values` with the 95% interval mean ± t_{0.975, n−1} · s/√n, s the sample standard
/// deviation (n − 1 denominator). With n = 1 the interval is undefined and `lo`, `hi` are NaN;
/// with n = 0 the mean is NaN too.
pub fn mean_ci95(values: &[f64]) -> MeanCi {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return MeanCi {
            mean,
            lo: f64::NAN,
            hi: f64::NAN,
            n,
        };
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    let half = student_t_quantile(0.975, (n - 1) as f64) * (var / n as f64).sqrt();
    MeanCi {
        mean,
        lo: mean - half,
        hi: mean + half,
        n,
    }
}

/// The accuracy whose log-odds is the mean log-odds of `accs`: σ(mean_i logit(clamp(a_i))), with
/// each accuracy clamped to [10⁻⁴, 1 − 10⁻⁴] ([`LOGIT_CLAMP`]) so that 0 and 1 stay finite. NaN
/// for an empty slice.
///
/// # Panics
/// If an accuracy is outside [0, 1] (or NaN).
pub fn logit_mean(accs: &[f64]) -> f64 {
    let total: f64 = accs
        .iter()
        .map(|&a| {
            assert!(
                (0.0..=1.0).contains(&a),
                "logit_mean: accuracy {a} outside [0, 1]"
            );
            let a = a.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP);
            (a / (1.0 - a)).ln()
        })
        .sum();
    let mean = total / accs.len() as f64;
    1.0 / (1.0 + (-mean).exp())
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom (`df` > 0 need not
/// be an integer), to about 1e-12 relative: bisection on the upper tail
/// P(T > t) = I_{df/(df+t²)}(df/2, 1/2) / 2 with the regularised incomplete beta function.
///
/// # Panics
/// If `p` is not in (0, 1) or `df` is not positive.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    assert!(
        p > 0.0 && p < 1.0,
        "student_t_quantile: p = {p} outside (0, 1)"
    );
    assert!(df > 0.0, "student_t_quantile: df = {df} not positive");
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let tail = 1.0 - p;
    let upper = |t: f64| 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while upper(hi) > tail {
        (lo, hi) = (hi, hi * 2.0);
    }
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        if upper(mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Regularised incomplete beta function I_x(a, b) by its continued fraction (modified Lentz),
/// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of I_x(a, b) (Numerical Recipes `betacf`).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=1000 {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0: Lanczos approximation (g = 7, 9 terms), reflection below 1/2.
fn ln_gamma(x: f64) -> f64 {
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let series = COEF[1..]
        .iter()
        .enumerate()
        .fold(COEF[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}
