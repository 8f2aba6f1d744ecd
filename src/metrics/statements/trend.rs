//! A monotone trend over an ordered axis: Kendall's rank correlation between the position on
//! the axis and the per-seed values, with a bootstrap interval that resamples seeds within each
//! level. Two levels reduce to a difference of means.

use super::difference::two_sample;
use super::resample::{bootstrap, kendall_levels, MIN_POINTS};
use super::verdict::Direction;
use super::Statement;
use rand::Rng;

/// The claim that the values rise (`Up`) or fall (`Down`) along `levels`, given in axis order
/// with their per-seed values (non-finite ones dropped, empty levels skipped).
///
/// - 3 levels or more: Kendall's τ between level position and value over the pairs of points
///   in different levels ([`kendall_levels`]), with a 95% percentile bootstrap interval that resamples the values within each level (the levels
///   are the design; the seeds are the noise). Without repeated values (one per level) the
///   bootstrap resamples the levels themselves and needs [`MIN_POINTS`] of them.
/// - 2 levels: the difference last − first, [`two_sample`].
/// - fewer: no interval.
pub fn trend(claim: &str, levels: &[(String, Vec<f64>)], dir: Direction) -> Statement {
    let levels: Vec<Vec<f64>> = levels
        .iter()
        .map(|l| {
            l.1.iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect::<Vec<f64>>()
        })
        .filter(|v| !v.is_empty())
        .collect();
    let k = levels.len();
    if k == 2 {
        let mut s = two_sample(claim, &levels[0], &levels[1], dir);
        s.test = format!("trend over 2 levels: {}", s.test);
        return s;
    }
    let (x, y) = flatten(&levels);
    let n = y.len();
    let tau = kendall_levels(&x, &y);
    let seeded = levels.iter().any(|l| l.len() > 1);
    let test = if seeded {
        "monotone trend: Kendall rank correlation of value and level, 95% bootstrap interval \
         over seeds within each level"
    } else {
        "monotone trend: Kendall rank correlation of value and level, 95% bootstrap interval \
         over levels"
    };
    let (lo, hi) = if k < 3 || (!seeded && k < MIN_POINTS) {
        (f64::NAN, f64::NAN)
    } else if seeded {
        bootstrap(|rng| {
            let resampled: Vec<Vec<f64>> = levels
                .iter()
                .map(|l| (0..l.len()).map(|_| l[rng.gen_range(0..l.len())]).collect())
                .collect();
            let (x, y) = flatten(&resampled);
            kendall_levels(&x, &y)
        })
    } else {
        bootstrap(|rng| {
            let idx: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
            let xs: Vec<usize> = idx.iter().map(|&i| x[i]).collect();
            let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
            kendall_levels(&xs, &ys)
        })
    };
    let needs = if k < 3 {
        Some("needs at least 3 levels".to_string())
    } else if !seeded && k < MIN_POINTS {
        Some(format!(
            "needs at least {MIN_POINTS} levels or repeated seeds"
        ))
    } else if seeded {
        points_needed(tau).map(|p| format!("needs about {} seeds per level", p.div_ceil(k)))
    } else {
        points_needed(tau).map(|p| format!("needs about {p} levels"))
    };
    Statement::new(
        claim,
        "Kendall \u{3c4}",
        (tau, lo, hi),
        n,
        test.to_string(),
        dir,
    )
    .with_needs(needs)
}

/// The points of `levels` as (level position, value).
fn flatten(levels: &[Vec<f64>]) -> (Vec<usize>, Vec<f64>) {
    levels
        .iter()
        .enumerate()
        .flat_map(|(i, l)| l.iter().map(move |&v| (i, v)))
        .unzip()
}

/// Roughly how many points a trend of Kendall τ needs for its interval to exclude 0
/// (var τ ≈ 4 / 9n under no trend: n ≈ 4 · 1.96² / 9τ²); `None` for τ = 0, NaN, or beyond
/// 1000 points.
fn points_needed(tau: f64) -> Option<usize> {
    if !tau.is_finite() || tau == 0.0 {
        return None;
    }
    let n = (4.0 * 1.96f64.powi(2) / (9.0 * tau * tau)).ceil();
    (n <= 1000.0).then_some((n as usize).max(MIN_POINTS))
}
