//! Statistical statements: every finding of the report is a claim with the test behind it and a
//! three-way verdict decided by the test's 95% interval (see [`verdict::decide`]).
//!
//! - [`difference`]: a mean of paired per-seed differences (Student t interval of
//!   [`crate::metrics::mean_ci95`], Bonferroni-adjusted when picked among several comparisons)
//!   or a difference of two group means (Welch t interval).
//! - [`trend`]: a monotone trend over an ordered axis (Kendall τ, bootstrap over seeds).
//! - [`correlation`]: a correlation between two quantities (Pearson r, bootstrap over points).
//! - [`every_group`]: an effect in every group, decided by the weakest group.
//!
//! A verdict is never "supported" from fewer than 3 paired seeds (2 per group for a difference of
//! two groups), from a correlation of fewer than
//! [`MIN_POINTS`] points, or from a trend over fewer than 3 levels: those statements have no
//! interval and are inconclusive, with a rough hint of what would be needed. Bootstraps use a
//! fixed seed, so a report is deterministic.

pub mod correlation;
pub mod difference;
pub mod every_group;
mod resample;
pub mod trend;
pub mod verdict;

#[cfg(test)]
mod tests;

pub use correlation::correlation;
pub use difference::{paired, paired_among, two_sample};
pub use every_group::every_group;
pub use resample::{kendall_levels, pearson, MIN_POINTS};
pub use trend::trend;
pub use verdict::{decide, Direction, Verdict};

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The test of [`Statement::exact`].
const EXACT_TEST: &str =
    "exact check on every trial (no sampling: the software either keeps the property or not)";

/// A claim, the test behind it, and its verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// What is claimed, e.g. "freeze 0: pretraining helps at every size (gain > 0)".
    pub claim: String,
    pub verdict: Verdict,
    /// What the estimate is: "mean", "difference", "Kendall τ", "Pearson r".
    pub measure: String,
    pub estimate: f64,
    /// The 95% interval; NaN when there is none (too few seeds or points).
    pub low: f64,
    pub high: f64,
    /// Points (trials, seeds or settings) the test used.
    pub n: usize,
    /// The test, in words.
    pub test: String,
    /// For an inconclusive verdict, roughly what would decide it ("needs about 6 seeds").
    pub needs: Option<String>,
    /// Context added by the section (the values listed, the settings that show an effect).
    pub detail: Option<String>,
}

impl Statement {
    /// A statement whose verdict is [`decide`]d from (estimate, low, high) against 0.
    pub fn new(
        claim: &str,
        measure: &str,
        (estimate, low, high): (f64, f64, f64),
        n: usize,
        test: String,
        dir: Direction,
    ) -> Self {
        Statement {
            claim: claim.to_string(),
            verdict: decide(low, high, 0.0, dir),
            measure: measure.to_string(),
            estimate,
            low,
            high,
            n,
            test,
            needs: None,
            detail: None,
        }
    }

    /// An exact check rather than an estimate (e.g. "a frozen backbone forgets nothing"):
    /// `value` is measured on every one of `n` trials without sampling error, so its interval
    /// is the point itself; supported when `holds`, contradicted otherwise.
    pub fn exact(claim: &str, measure: &str, value: f64, n: usize, holds: bool) -> Self {
        Statement {
            claim: claim.to_string(),
            verdict: if holds {
                Verdict::Supported
            } else {
                Verdict::Contradicted
            },
            measure: measure.to_string(),
            estimate: value,
            low: value,
            high: value,
            n,
            test: EXACT_TEST.to_string(),
            needs: None,
            detail: None,
        }
    }

    /// Keeps `needs` only when the verdict is inconclusive.
    pub fn with_needs(mut self, needs: Option<String>) -> Self {
        self.needs = needs.filter(|_| self.verdict == Verdict::Inconclusive);
        self
    }

    /// Adds the section's context (listed after the numbers, after any detail already there).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        self.detail = Some(match self.detail.take() {
            Some(d) => format!("{d}; {detail}"),
            None => detail,
        });
        self
    }

    /// Whether there is a 95% interval.
    pub fn has_interval(&self) -> bool {
        self.low.is_finite() && self.high.is_finite()
    }

    /// The numbers behind the verdict, the same conventions everywhere:
    /// "mean +0.100, 95% CI [+0.080, +0.120], n = 6; needs…; detail".
    pub fn numbers(&self) -> String {
        let mut parts = vec![if self.estimate.is_finite() {
            format!("{} {:+.3}", self.measure, self.estimate)
        } else {
            format!("{} undefined", self.measure)
        }];
        if self.test == EXACT_TEST {
            parts[0].push_str(", exact");
        } else if self.has_interval() {
            parts[0].push_str(&format!(", 95% CI [{:+.3}, {:+.3}]", self.low, self.high));
        } else {
            parts[0].push_str(", no interval");
        }
        parts[0].push_str(&format!(", n = {}", self.n));
        parts.extend(self.needs.clone());
        parts.extend(self.detail.clone());
        parts.join("; ")
    }

    /// The finding as one line: "claim: verdict (numbers) [test: …]."
    pub fn sentence(&self) -> String {
        format!(
            "{}: {} ({}) [test: {}].",
            self.claim,
            self.verdict.as_str(),
            self.numbers(),
            self.test
        )
    }
}

/// Every field, plus `numbers` ([`Statement::numbers`]) for templates; a NaN bound is `null`.
impl Serialize for Statement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let finite = |x: f64| x.is_finite().then_some(x);
        let mut s = serializer.serialize_struct("Statement", 11)?;
        s.serialize_field("claim", &self.claim)?;
        s.serialize_field("verdict", &self.verdict)?;
        s.serialize_field("measure", &self.measure)?;
        s.serialize_field("estimate", &finite(self.estimate))?;
        s.serialize_field("low", &finite(self.low))?;
        s.serialize_field("high", &finite(self.high))?;
        s.serialize_field("n", &self.n)?;
        s.serialize_field("test", &self.test)?;
        s.serialize_field("needs", &self.needs)?;
        s.serialize_field("detail", &self.detail)?;
        s.serialize_field("numbers", &self.numbers())?;
        s.end()
    }
}
