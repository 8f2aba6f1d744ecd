//! Drawing one sample: a point in [0, 1) per parameter, then the distribution's value there.

use super::{Distribution, Level, SearchMethod};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The point in [0, 1) of parameter `name` (dimension `dim` of the space) in sample `i`.
///
/// Random: a ChaCha8 stream seeded by a hash of (seed, `i`, `name`), so a sample never depends
/// on how many are drawn, nor on which other parameters are sampled. Sobol: point `i` of the
/// Owen-scrambled Sobol sequence (seeded by the search seed), dimension `dim`.
pub(super) fn unit_point(method: SearchMethod, seed: u64, i: usize, dim: usize, name: &str) -> f64 {
    match method {
        SearchMethod::Random => {
            let mut h = blake3::Hasher::new();
            h.update(b"thaw search random\0");
            h.update(&seed.to_le_bytes());
            h.update(&(i as u64).to_le_bytes());
            h.update(name.as_bytes());
            ChaCha8Rng::from_seed(*h.finalize().as_bytes()).gen::<f64>()
        }
        SearchMethod::Sobol => {
            // The sequence is 2^16 points long (validation caps `trials` there) and has far
            // more dimensions than there are parameters.
            let index = u32::try_from(i).expect("sobol trials are capped at 65536");
            let dim = u32::try_from(dim).expect("fewer parameters than Sobol dimensions");
            f64::from(sobol_burley::sample(index, dim, sobol_seed(seed)))
        }
    }
}

/// The Sobol scramble seed of a search seed (the crate takes 32 bits).
fn sobol_seed(seed: u64) -> u32 {
    let h = blake3::hash(&seed.to_le_bytes());
    u32::from_le_bytes(h.as_bytes()[..4].try_into().expect("4 bytes"))
}

/// The most samples a Sobol search may draw: the length of the sequence.
pub(crate) const SOBOL_MAX_TRIALS: usize = 1 << 16;

/// The distribution's value at the point `u` in [0, 1): inverse-CDF for the continuous ones
/// (rounded to 3 significant digits, kept within the bounds), equal-width bins for `int` and
/// `choice`.
pub(super) fn level_at(d: &Distribution, u: f64) -> Level {
    match d {
        Distribution::LogUniform { low, high } => {
            let x = (low.ln() + u * (high.ln() - low.ln())).exp();
            Level::Real(round3(x).clamp(*low, *high))
        }
        Distribution::Uniform { low, high } => {
            Level::Real(round3(low + u * (high - low)).clamp(*low, *high))
        }
        Distribution::Int { low, high } => {
            let n = (high - low + 1) as f64;
            Level::Whole((low + (u * n) as u64).min(*high))
        }
        Distribution::Choice(items) => {
            let i = ((u * items.len() as f64) as usize).min(items.len() - 1);
            items[i].clone()
        }
    }
}

/// `x` rounded to 3 significant digits (0.0012345 → 0.00123), as the shortest decimal.
pub(crate) fn round3(x: f64) -> f64 {
    format!("{x:.2e}")
        .parse()
        .expect("a formatted float parses")
}
