//! The shared numerics of trends and correlations: Pearson and Kendall coefficients, a
//! deterministic percentile bootstrap, and the rough number of points a correlation needs.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Fewest points from which a correlation (or a trend over single values) gets an interval: a
/// perfectly monotone set of 4 points is still not significant at 5% by permutation.
pub const MIN_POINTS: usize = 5;

/// Bootstrap resamples per interval.
const RESAMPLES: usize = 1000;

/// Fixed seed of every bootstrap, so that reports are deterministic.
const SEED: u64 = 14;

/// The 95% percentile interval of `stat` over [`RESAMPLES`] draws of a [`ChaCha8Rng`] seeded
/// with [`SEED`]; non-finite draws (degenerate resamples) are skipped, and fewer than half
/// finite draws give (NaN, NaN).
pub(crate) fn bootstrap(mut stat: impl FnMut(&mut ChaCha8Rng) -> f64) -> (f64, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut draws: Vec<f64> = (0..RESAMPLES)
        .map(|_| stat(&mut rng))
        .filter(|v| v.is_finite())
        .collect();
    if draws.len() < RESAMPLES / 2 {
        return (f64::NAN, f64::NAN);
    }
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((draws.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

/// Pearson correlation; NaN with fewer than 2 points or no spread.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    if n < 2 {
        return f64::NAN;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx).powi(2);
        syy += (y[i] - my).powi(2);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        f64::NAN
    } else {
        (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
    }
}

/// Kendall's rank correlation between an ordered level and a value, over the pairs of
/// points in different levels: (concordant − discordant) / pairs, ties in the value counting
/// as neither (Somers' D of the value on the level; the Jonckheere–Terpstra trend statistic
/// scaled to [−1, 1]). Pairs within a level are ignored, so the seeds' spread inside a level
/// does not move it. NaN without a pair across levels. Points are (level, value).
pub fn kendall_levels(level: &[usize], value: &[f64]) -> f64 {
    // Each level's values, sorted: pairs across two levels are counted by binary search.
    let k = level.iter().max().map_or(0, |m| m + 1);
    let mut by_level: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (&l, &v) in level.iter().zip(value) {
        by_level[l].push(v);
    }
    by_level.iter_mut().for_each(|l| l.sort_by(f64::total_cmp));
    let (mut score, mut pairs) = (0i64, 0i64);
    for (i, low) in by_level.iter().enumerate() {
        for high in &by_level[i + 1..] {
            pairs += (low.len() * high.len()) as i64;
            for &y in high {
                let below = low.partition_point(|&x| x < y) as i64;
                let above = (low.len() - low.partition_point(|&x| x <= y)) as i64;
                score += below - above;
            }
        }
    }
    if pairs == 0 {
        f64::NAN
    } else {
        score as f64 / pairs as f64
    }
}

/// Roughly how many points a correlation of size |`r`| needs for its 95% interval to exclude
/// 0 (Fisher z: n ≈ (1.96 / atanh|r|)² + 3); `None` for r = 0, NaN, or beyond 1000 points.
pub(crate) fn points_needed(r: f64) -> Option<usize> {
    if !r.is_finite() || r == 0.0 {
        return None;
    }
    let z = r.abs().min(0.999_999).atanh();
    let n = ((1.96 / z).powi(2) + 3.0).ceil();
    (n <= 1000.0).then_some((n as usize).max(MIN_POINTS))
}
