//! Claims: which runner holds which trial, its heartbeat, and the end of its run.

use super::{now_rfc3339, Db};
use crate::track::TrialStatus;
use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};

/// Which trials a runner may take, and how it tells a dead runner from a live one.
pub struct ClaimRules<'a> {
    /// The claiming runner's id (`host:pid:nonce`).
    pub runner: &'a str,
    /// The claiming runner's environment (`environments.key`, see [`Db::record_environment`]),
    /// linked from each trial it claims.
    pub environment: Option<&'a str>,
    /// Also take failed and diverged trials (`thaw run --retry-failed`).
    pub retry_failed: bool,
    /// A running trial whose heartbeat is older than this belongs to a dead runner.
    pub stale_after: std::time::Duration,
    /// Whether a runner id names a process known to be gone (same host, no such pid).
    pub runner_is_dead: &'a dyn Fn(&str) -> bool,
}

impl ClaimRules<'_> {
    /// Whether a trial in `status`, held by `runner` with heartbeat `heartbeat`, may be taken.
    pub fn allows(
        &self,
        status: TrialStatus,
        runner: Option<&str>,
        heartbeat: Option<&str>,
    ) -> bool {
        match status {
            TrialStatus::Pending | TrialStatus::Interrupted => true,
            TrialStatus::Failed | TrialStatus::Diverged => self.retry_failed,
            TrialStatus::Completed | TrialStatus::Pruned => false,
            TrialStatus::Running => {
                let dead = runner.is_some_and(|r| (self.runner_is_dead)(r));
                let stale = heartbeat
                    .and_then(|h| chrono::DateTime::parse_from_rfc3339(h).ok())
                    .is_none_or(|h| {
                        let age = chrono::Utc::now().signed_duration_since(h);
                        age.to_std().is_ok_and(|a| a > self.stale_after)
                    });
                dead || stale
            }
        }
    }
}

/// A trial a runner now holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub trial_id: i64,
    /// Its status before the claim (interrupted or running: resume from a checkpoint).
    pub previous: TrialStatus,
}

impl Db {
    /// Claims the trial `key` of the sweep for `runner` if `rules` allow it, checked and
    /// changed under one write lock: of several runners claiming the same trial, exactly one
    /// gets it. The claimed trial is `running` with a fresh heartbeat and linked to the runner's
    /// environment; its metrics are kept (see [`Db::truncate_metrics`]). Fails if the key is
    /// not registered.
    pub fn claim(
        &self,
        sweep_id: i64,
        key: &str,
        device: &str,
        rules: &ClaimRules<'_>,
    ) -> Result<Option<Claimed>> {
        let tx = self.write_tx()?;
        let row: Option<(i64, String, Option<String>, Option<String>)> = tx
            .query_row(
                "SELECT id, status, runner, heartbeat_at FROM trials WHERE sweep_id = ?1 AND key = ?2",
                params![sweep_id, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, status, runner, heartbeat)) = row else {
            bail!(
                "trial {key} of sweep {sweep_id} is not registered in {}",
                self.path.display()
            );
        };
        let status: TrialStatus = status.parse()?;
        if !rules.allows(status, runner.as_deref(), heartbeat.as_deref()) {
            return Ok(None);
        }
        let now = now_rfc3339();
        let fresh_start = matches!(
            status,
            TrialStatus::Pending | TrialStatus::Failed | TrialStatus::Diverged
        );
        tx.execute(
            "UPDATE trials SET status = 'running', runner = ?2, heartbeat_at = ?3,
                 started_at = CASE WHEN ?4 OR started_at IS NULL THEN ?3 ELSE started_at END,
                 finished_at = NULL, device = ?5, error = NULL, attempts = attempts + 1,
                 environment_key = ?6
             WHERE id = ?1",
            params![
                id,
                rules.runner,
                now,
                fresh_start,
                device,
                rules.environment
            ],
        )?;
        tx.commit()?;
        Ok(Some(Claimed {
            trial_id: id,
            previous: status,
        }))
    }

    /// Refreshes the heartbeat of a trial `runner` holds.
    pub fn heartbeat(&self, trial_id: i64, runner: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE trials SET heartbeat_at = ?3 WHERE id = ?1 AND runner = ?2 AND status = 'running'",
            params![trial_id, runner, now_rfc3339()],
        )?;
        Ok(())
    }

    /// Sets the trial's final status, finished_at = now, and its error text (None clears it).
    pub fn finish_trial(
        &self,
        trial_id: i64,
        status: TrialStatus,
        error: Option<&str>,
    ) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE trials SET status = ?2, finished_at = ?3, error = ?4, heartbeat_at = NULL
             WHERE id = ?1",
            params![trial_id, status.as_str(), now_rfc3339(), error],
        )?;
        if n == 0 {
            bail!("no trial with id {trial_id} in {}", self.path.display());
        }
        Ok(())
    }

    /// Marks every `running` trial of the sweep `interrupted` (resumable from its checkpoint);
    /// returns how many. For a database only this process uses (a Slurm shard), where a
    /// running trial can only be left over from a killed earlier attempt.
    pub fn interrupt_running(&self, sweep_id: i64) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE trials SET status = 'interrupted', heartbeat_at = NULL
             WHERE sweep_id = ?1 AND status = 'running'",
            [sweep_id],
        )?)
    }
}
