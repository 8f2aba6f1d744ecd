//! Statistical statements: every finding of the report is a claim with the test behind it and a
//! three-way verdict decided by the test's 95% interval (see [`verdict::decide`]).
//!
//! - [`difference`]: a mean of paired per-seed differences (Student t interval of
//!   [`crate::metrics::mean_ci95`]) or a difference of two group means (Welch t interval).
//! - [`trend`]: a monotone trend over an ordered axis (Kendall τ, bootstrap over seeds).
//! - [`correlation`]: a correlation between two quantities (Pearson r, bootstrap over points).
//! - [`every_group`]: an effect in every group, decided by the weakest group.
//!
//! A verdict is never "supported" from fewer than 2 seeds, from a correlation of fewer than
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
pub use difference::{paired, two_sample};
pub use every_group::every_group;
pub use resample::{kendall_levels, pearson, MIN_POINTS};
pub use trend::trend;
pub use verdict::{decide, Direction, Verdict};

use serde::Serialize;

/// A claim, the test behind it, and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

    /// The finding as one line, the same conventions everywhere:
    /// "claim: verdict (measure +0.100, 95% CI [+0.080, +0.120], n = 6; needs…; detail)
    /// [test: …]."
    pub fn sentence(&self) -> String {
        let mut parts = vec![if self.estimate.is_finite() {
            format!("{} {:+.3}", self.measure, self.estimate)
        } else {
            format!("{} undefined", self.measure)
        }];
        if self.has_interval() {
            parts[0].push_str(&format!(", 95% CI [{:+.3}, {:+.3}]", self.low, self.high));
        } else {
            parts[0].push_str(", no interval");
        }
        parts[0].push_str(&format!(", n = {}", self.n));
        parts.extend(self.needs.clone());
        parts.extend(self.detail.clone());
        format!(
            "{}: {} ({}) [test: {}].",
            self.claim,
            self.verdict.as_str(),
            parts.join("; "),
            self.test
        )
    }
}

/// The verdict of a line written by [`Statement::sentence`] and the line without its
/// "[test: …]" part; `None` for any other line.
pub fn read_sentence(line: &str) -> Option<(Verdict, &str)> {
    let at = line.rfind(" [test: ").filter(|_| line.ends_with("]."))?;
    let body = &line[..at];
    [
        Verdict::Supported,
        Verdict::Contradicted,
        Verdict::Inconclusive,
    ]
    .into_iter()
    .find(|v| body.contains(&format!(": {} (", v.as_str())))
    .map(|v| (v, body))
}
