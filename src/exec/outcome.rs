//! How a `thaw run` ends: the status of every trial it was responsible for, read back from the
//! database once every process of the run has finished, and the exit status that tells
//! schedulers, CI and shell scripts what happened.

use super::interrupt::StopSignal;
use super::PlannedSweep;
use crate::track::{ClaimRules, TrialStatus};
use anyhow::Result;
use rusqlite::params;
use std::path::Path;

/// Exit status when every trial ran but some failed or diverged.
pub const EXIT_TRIALS_FAILED: u8 = 3;
/// Exit status when some trials are neither completed nor running elsewhere (pending or
/// interrupted: a worker died, or its runner stopped).
pub const EXIT_INCOMPLETE: u8 = 4;

/// A trial that did not complete.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfinished {
    pub sweep: String,
    pub key: String,
    pub status: TrialStatus,
    /// The recorded error (failed and diverged trials).
    pub error: Option<String>,
}

/// The state of a run's trials at its end.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Trials of the run.
    pub total: usize,
    pub completed: usize,
    /// Stopped early at a rung by `early_stop:` (finished, like completed ones).
    pub pruned: usize,
    /// Held by another live runner (another `thaw run` on the same database).
    pub running_elsewhere: usize,
    /// Failed and diverged trials, in grid order.
    pub failed: Vec<Unfinished>,
    /// Pending, interrupted, and running trials whose runner is gone.
    pub incomplete: Vec<Unfinished>,
    /// The signal that stopped the run, if one did.
    pub stopped_by: Option<StopSignal>,
}

impl RunOutcome {
    /// Reads the final status of every trial of `sweeps` from the database; `rules` tell a live
    /// runner's trial from an abandoned one.
    pub fn read(db: &Path, sweeps: &[PlannedSweep], rules: &ClaimRules<'_>) -> Result<RunOutcome> {
        let conn = crate::track::query::open_readonly(db)?;
        let mut stmt = conn.prepare(
            // The trial's own row, else the row standing in for it (an outdated record of
            // the same configuration).
            "SELECT t.status, t.runner, t.heartbeat_at, t.error FROM trials t
             JOIN sweeps s ON s.id = t.sweep_id
             WHERE s.name = ?1 AND (t.key = ?2 OR (t.config_json = ?3 AND t.superseded_in IS NULL))
             ORDER BY t.key = ?2 DESC LIMIT 1",
        )?;
        let mut out = RunOutcome {
            stopped_by: super::interrupt::stop_signal(),
            ..Default::default()
        };
        for p in sweeps {
            for t in &p.trials {
                out.total += 1;
                let config = t.spec.config_json();
                let row = stmt.query_row(params![p.grid.name, t.key, config], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                });
                let (status, runner, heartbeat, error) = match row {
                    Ok(row) => row,
                    Err(rusqlite::Error::QueryReturnedNoRows) => {
                        ("pending".to_string(), None, None, None)
                    }
                    Err(e) => return Err(e.into()),
                };
                let status: TrialStatus = status.parse()?;
                let unfinished = Unfinished {
                    sweep: p.grid.name.clone(),
                    key: t.key.clone(),
                    status,
                    error,
                };
                match status {
                    TrialStatus::Completed => out.completed += 1,
                    TrialStatus::Pruned => out.pruned += 1,
                    TrialStatus::Failed | TrialStatus::Diverged => out.failed.push(unfinished),
                    TrialStatus::Running
                        if !rules.allows(status, runner.as_deref(), heartbeat.as_deref()) =>
                    {
                        out.running_elsewhere += 1
                    }
                    _ => out.incomplete.push(unfinished),
                }
            }
        }
        Ok(out)
    }

    /// The exit status: 128 + the signal when one stopped the run (130 Ctrl-C, 143 SIGTERM,
    /// 138 SIGUSR1), [`EXIT_TRIALS_FAILED`] when any trial failed or diverged,
    /// [`EXIT_INCOMPLETE`] when any is left pending or interrupted, else 0.
    pub fn exit_code(&self) -> u8 {
        if let Some(signal) = self.stopped_by {
            signal.exit_code()
        } else if !self.failed.is_empty() {
            EXIT_TRIALS_FAILED
        } else if !self.incomplete.is_empty() {
            EXIT_INCOMPLETE
        } else {
            0
        }
    }

    /// What the user reads last: which trials did not complete and what to do about them.
    pub fn describe(&self, rerun: &str) -> String {
        let mut lines = Vec::new();
        if self.running_elsewhere > 0 {
            lines.push(format!(
                "{} trials are still running in other thaw processes on this database",
                self.running_elsewhere
            ));
        }
        if let Some(signal) = self.stopped_by {
            lines.push(format!(
                "stopped by {} after recording the current epoch; run `{rerun}` again to resume",
                signal.describe()
            ));
        }
        if !self.failed.is_empty() {
            lines.push(format!(
                "{} of {} trials failed or diverged:",
                self.failed.len(),
                self.total
            ));
            lines.extend(self.failed.iter().take(10).map(|u| {
                let error = u
                    .error
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                format!("  {} {} [{}]: {error}", u.sweep, u.key, u.status)
            }));
            if self.failed.len() > 10 {
                lines.push(format!(
                    "  ... and {} more (thaw query \"SELECT key, status, error FROM trials WHERE status IN ('failed','diverged')\")",
                    self.failed.len() - 10
                ));
            }
            lines.push(format!(
                "fix the cause, then rerun them with `{rerun} --retry-failed`"
            ));
        }
        if !self.incomplete.is_empty() && self.stopped_by.is_none() {
            lines.push(format!(
                "{} of {} trials did not finish (pending or interrupted: a process of the run stopped early); run `{rerun}` again to finish them",
                self.incomplete.len(),
                self.total
            ));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unfinished(status: TrialStatus) -> Unfinished {
        Unfinished {
            sweep: "s".into(),
            key: "k".into(),
            status,
            error: Some("loss became NaN\nmore".into()),
        }
    }

    #[test]
    fn the_exit_code_says_what_went_wrong_first() {
        let mut o = RunOutcome {
            total: 3,
            completed: 3,
            ..Default::default()
        };
        assert_eq!(o.exit_code(), 0);
        o.running_elsewhere = 1;
        assert_eq!(
            o.exit_code(),
            0,
            "another live runner's trial is not a failure"
        );
        o.incomplete.push(unfinished(TrialStatus::Interrupted));
        assert_eq!(o.exit_code(), EXIT_INCOMPLETE);
        o.failed.push(unfinished(TrialStatus::Diverged));
        assert_eq!(o.exit_code(), EXIT_TRIALS_FAILED);
        assert!(o
            .describe("thaw run g.yaml")
            .contains("s k [diverged]: loss became NaN"));
        assert!(o
            .describe("thaw run g.yaml")
            .contains("thaw run g.yaml --retry-failed"));
        o.stopped_by = Some(StopSignal::Terminate);
        assert_eq!(o.exit_code(), 143);
    }
}
