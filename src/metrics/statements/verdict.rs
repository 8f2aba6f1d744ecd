//! The three-way verdict of a statement, decided by where its 95% interval lies.

use serde::Serialize;

/// The outcome of testing a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval lies entirely on the claimed side of the null.
    Supported,
    /// The interval lies entirely on the other side: the opposite is supported.
    Contradicted,
    /// The interval covers the null, or there is no interval (too few points or seeds).
    Inconclusive,
}

impl Verdict {
    /// "supported", "contradicted" or "inconclusive".
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// Which side of the null the claim puts the estimate on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The claim is "estimate > null" (a gain, a rise, a positive correlation).
    Up,
    /// The claim is "estimate < null" (a loss, a fall, a negative correlation).
    Down,
}

impl Direction {
    /// +1 for [`Direction::Up`], −1 for [`Direction::Down`].
    pub fn sign(self) -> f64 {
        match self {
            Direction::Up => 1.0,
            Direction::Down => -1.0,
        }
    }
}

/// The verdict of a claim in direction `dir` against `null` from the interval [`low`, `high`]:
/// supported when the interval lies strictly on the claimed side, contradicted when it lies
/// strictly on the other side, inconclusive otherwise (including a missing, NaN, interval).
pub fn decide(low: f64, high: f64, null: f64, dir: Direction) -> Verdict {
    if !(low.is_finite() && high.is_finite()) {
        return Verdict::Inconclusive;
    }
    let (above, below) = (low > null, high < null);
    match (dir, above, below) {
        (Direction::Up, true, _) | (Direction::Down, _, true) => Verdict::Supported,
        (Direction::Up, _, true) | (Direction::Down, true, _) => Verdict::Contradicted,
        _ => Verdict::Inconclusive,
    }
}
