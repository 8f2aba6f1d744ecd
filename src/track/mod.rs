//! The experiment database: schema and migrations ([`schema`]), the read-write handle the
//! executor records trials through ([`Db`]), and read-only queries with their output formats
//! for `thaw query` and `thaw ls` ([`query_readonly`], [`format_result`], [`format_overview`]),
//! and the notes and tags on sweeps and trials ([`notes`]).
//!
//! Tables are documented in `schema_v1.sql` and the migrations after it, views in `views.sql`,
//! metric names in [`crate::metrics::names`]; their names are a public contract.

pub mod best;
pub mod journal;
pub mod merge;
pub mod notes;
pub mod query;
pub mod schema;
pub mod writer;

pub use merge::{merge_shards, MergeSummary};
pub use query::{
    format_overview, format_result, query_readonly, status_counts, sweep_names, OutputFormat,
    QueryResult,
};
pub use schema::SCHEMA_VERSION;
pub use writer::{
    ClaimRules, Claimed, Db, DomainRow, Environment, GridTrials, KeepCandidate, KeptModel,
    Registration, Removal, RungDecision, SweepOverview, KEEP_METRICS,
};

use std::fmt;
use std::str::FromStr;

/// Life cycle of a trial, stored in `trials.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrialStatus {
    /// Registered, not yet started.
    Pending,
    /// Started by a runner and not finished (or the runner died).
    Running,
    /// Trained every epoch.
    Completed,
    /// Stopped by an error.
    Failed,
    /// Stopped because the loss became non-finite.
    Diverged,
    /// Stopped by the user (Ctrl-C) or a runner shutdown.
    Interrupted,
    /// Stopped early at a rung by `early_stop:` (its epochs up to there are kept); finished,
    /// never rerun.
    Pruned,
}

impl TrialStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [TrialStatus; 7] = [
        TrialStatus::Pending,
        TrialStatus::Running,
        TrialStatus::Completed,
        TrialStatus::Failed,
        TrialStatus::Diverged,
        TrialStatus::Interrupted,
        TrialStatus::Pruned,
    ];

    /// The name stored in the database.
    pub fn as_str(&self) -> &'static str {
        match self {
            TrialStatus::Pending => "pending",
            TrialStatus::Running => "running",
            TrialStatus::Completed => "completed",
            TrialStatus::Failed => "failed",
            TrialStatus::Diverged => "diverged",
            TrialStatus::Interrupted => "interrupted",
            TrialStatus::Pruned => "pruned",
        }
    }
}

impl fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a status name the database should never hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trial status \"{0}\" (expected pending, running, completed, failed, diverged, interrupted or pruned)")]
pub struct UnknownStatus(pub String);

impl FromStr for TrialStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TrialStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_best;
