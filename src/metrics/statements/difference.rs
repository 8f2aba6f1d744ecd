//! Differences: the mean of paired differences with its Student t interval (Bonferroni-adjusted
//! when the difference was picked among several), and the difference of two group means with
//! Welch's t interval.

use super::verdict::Direction;
use super::Statement;
use crate::metrics::{mean_ci95, student_t_quantile};

/// Seeds beyond which an effect is called out of sight rather than "needs about N seeds".
const MAX_HINT: usize = 1000;

/// Fewest paired differences that give an interval, and so a verdict.
pub const MIN_PAIRS: usize = 3;

/// The claim that the mean of `values` (per-seed paired differences, e.g. fine-tuned minus
/// from-scratch accuracy at the same seed) lies on side `dir` of 0, with the 95% interval of
/// [`mean_ci95`]. Non-finite values are dropped; fewer than [`MIN_PAIRS`] values give no
/// interval (no verdict from two seeds, however close).
pub fn paired(claim: &str, values: &[f64], dir: Direction) -> Statement {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let m = mean_ci95(&v);
    let (lo, hi) = if m.n < MIN_PAIRS {
        (f64::NAN, f64::NAN)
    } else {
        (m.lo, m.hi)
    };
    let needs = if m.n < MIN_PAIRS {
        Some(format!("needs at least {MIN_PAIRS} seeds"))
    } else {
        let sd =
            (m.hi - m.mean) / student_t_quantile(0.975, (m.n - 1) as f64) * (m.n as f64).sqrt();
        seeds_needed(m.mean, sd, m.n, 0.975).map(|n| format!("needs about {n} seeds"))
    };
    Statement::new(
        claim,
        "mean",
        (m.mean, lo, hi),
        m.n,
        "paired differences across seeds, Student t 95% interval".to_string(),
        dir,
    )
    .with_needs(needs)
}

/// [`paired`] for a difference picked after looking at the data among `comparisons` possible
/// ones (e.g. the two classes whose drops lie farthest apart, among every pair of classes): the
/// interval uses the t quantile at 1 − 0.025/`comparisons` (Bonferroni), so that the intervals
/// of all the comparisons hold together with 95% confidence and picking one cannot overstate
/// it. One comparison gives [`paired`]'s interval.
pub fn paired_among(claim: &str, values: &[f64], dir: Direction, comparisons: usize) -> Statement {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let p = 1.0 - 0.025 / comparisons.max(1) as f64;
    let test = format!(
        "paired differences across seeds, Student t interval Bonferroni-adjusted over the \
         {} comparisons it was picked from (simultaneous 95%)",
        comparisons.max(1)
    );
    if n < MIN_PAIRS {
        return Statement::new(claim, "mean", (mean, f64::NAN, f64::NAN), n, test, dir)
            .with_needs(Some(format!("needs at least {MIN_PAIRS} seeds")));
    }
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let half = student_t_quantile(p, (n - 1) as f64) * sd / (n as f64).sqrt();
    let needs = seeds_needed(mean, sd, n, p).map(|k| format!("needs about {k} seeds"));
    Statement::new(
        claim,
        "mean",
        (mean, mean - half, mean + half),
        n,
        test,
        dir,
    )
    .with_needs(needs)
}

/// The smallest n ≤ [`MAX_HINT`] whose t interval half-width t(p, n−1)·sd/√n is below |mean|;
/// `None` when the current `n` already suffices or no n up to the bound does.
fn seeds_needed(mean: f64, sd: f64, n: usize, p: f64) -> Option<usize> {
    if !(mean.is_finite() && sd.is_finite()) || mean == 0.0 {
        return None;
    }
    let half = |k: usize| student_t_quantile(p, (k - 1) as f64) * sd / (k as f64).sqrt();
    if half(n) < mean.abs() {
        return None;
    }
    (n + 1..=MAX_HINT).find(|&k| half(k) < mean.abs())
}

/// The claim that mean(`b`) − mean(`a`) lies on side `dir` of 0 (two independent groups, e.g.
/// accuracy under a shift minus accuracy without), with Welch's 95% interval: the Student t
/// quantile of [`student_t_quantile`] at the Welch–Satterthwaite degrees of freedom. Fewer
/// than 2 finite values in either group give no interval.
pub fn two_sample(claim: &str, a: &[f64], b: &[f64], dir: Direction) -> Statement {
    let a: Vec<f64> = a.iter().copied().filter(|x| x.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|x| x.is_finite()).collect();
    let (ma, mb) = (mean_ci95(&a), mean_ci95(&b));
    let d = mb.mean - ma.mean;
    let n = a.len() + b.len();
    let test = "difference of two group means, Welch t 95% interval".to_string();
    if a.len() < 2 || b.len() < 2 {
        return Statement::new(claim, "difference", (d, f64::NAN, f64::NAN), n, test, dir)
            .with_needs(Some("needs at least 2 seeds in each group".to_string()));
    }
    let var = |v: &[f64], m: f64| {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64 / v.len() as f64
    };
    let (va, vb) = (var(&a, ma.mean), var(&b, mb.mean));
    let se = (va + vb).sqrt();
    let df = if se > 0.0 {
        (va + vb).powi(2) / (va.powi(2) / (a.len() - 1) as f64 + vb.powi(2) / (b.len() - 1) as f64)
    } else {
        (n - 2) as f64
    };
    let half = student_t_quantile(0.975, df) * se;
    let per_group = a.len().max(b.len());
    let needs = (half >= d.abs() && d != 0.0)
        .then(|| (per_group as f64 * (half / d.abs()).powi(2)).ceil() as usize)
        .filter(|&k| k <= MAX_HINT)
        .map(|k| format!("needs about {} seeds per group", k.max(per_group + 1)));
    Statement::new(claim, "difference", (d, d - half, d + half), n, test, dir).with_needs(needs)
}
