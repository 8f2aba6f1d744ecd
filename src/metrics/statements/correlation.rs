//! A correlation between two measured quantities over a set of points (settings, shifts):
//! Pearson's r with a bootstrap interval over the points.

use super::resample::{bootstrap, pearson, points_needed, MIN_POINTS};
use super::verdict::Direction;
use super::Statement;
use rand::Rng;

/// The claim that `y` rises (`Up`) or falls (`Down`) with `x`: Pearson's r over the pairs
/// with both values finite, with a 95% percentile bootstrap interval resampling the pairs.
/// With fewer than [`MIN_POINTS`] pairs there is no interval (with 2 points any correlation
/// is ±1).
pub fn correlation(claim: &str, x: &[f64], y: &[f64], dir: Direction) -> Statement {
    let (x, y): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .unzip();
    let n = x.len();
    let r = pearson(&x, &y);
    let (lo, hi) = if n < MIN_POINTS {
        (f64::NAN, f64::NAN)
    } else {
        bootstrap(|rng| {
            let idx: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let xs: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            pearson(&xs, &ys)
        })
    };
    let needs = if n < MIN_POINTS {
        Some(format!("needs at least {MIN_POINTS} points"))
    } else if r.is_nan() {
        Some("a quantity does not vary".to_string())
    } else {
        points_needed(r).map(|p| format!("needs about {p} points"))
    };
    Statement::new(
        claim,
        "Pearson r",
        (r, lo, hi),
        n,
        "correlation: Pearson r, 95% bootstrap interval over the points".to_string(),
        dir,
    )
    .with_needs(needs)
}
