//! The read-write database handle used by `thaw run`.
//!
//! One [`Db`] holds one connection. Every method that writes more than one row does so in one
//! `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two runners on one
//! database wait on the busy timeout instead of failing on a lock upgrade).

use super::schema;
use super::TrialStatus;
use crate::spec::{Optimizer, TrialSpec};
use anyhow::{bail, Context, Result};
use rusqlite::{
    params, Connection, DatabaseName, ErrorCode, OptionalExtension, Transaction,
    TransactionBehavior,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a write waits for another process's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The current time as RFC 3339 UTC, as stored in every timestamp column.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One sweep and how many of its trials are in each status, for `thaw ls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepOverview {
    pub name: String,
    pub description: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: the latest `thaw run` of this sweep.
    pub updated_at: String,
    pub total: i64,
    pub pending: i64,
    pub running: i64,
    pub completed: i64,
    pub failed: i64,
    pub diverged: i64,
    pub interrupted: i64,
}

impl SweepOverview {
    /// Number of trials in `status`.
    pub fn count(&self, status: TrialStatus) -> i64 {
        match status {
            TrialStatus::Pending => self.pending,
            TrialStatus::Running => self.running,
            TrialStatus::Completed => self.completed,
            TrialStatus::Failed => self.failed,
            TrialStatus::Diverged => self.diverged,
            TrialStatus::Interrupted => self.interrupted,
        }
    }
}

/// Which trials a runner may take, and how it tells a dead runner from a live one.
pub struct ClaimRules<'a> {
    /// The claiming runner's id (`host:pid:nonce`).
    pub runner: &'a str,
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
            TrialStatus::Completed => false,
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

/// One row of `domain_distance`.
pub struct DomainRow<'a> {
    pub key: &'a str,
    pub pretrained_key: &'a str,
    pub target_dataset: &'a str,
    pub shift: &'a str,
    pub proxy_a: f64,
    pub mmd2: f64,
    pub frechet: f64,
    pub n_source: i64,
    pub n_target: i64,
}

/// `Some(x)` for finite values, `None` (stored as NULL) otherwise.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A trial a runner now holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub trial_id: i64,
    /// Its status before the claim (interrupted or running: resume from a checkpoint).
    pub previous: TrialStatus,
}

/// A read-write connection to a thaw database.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

/// Turns an error met while opening `path` into a message that names it and says what to do.
fn open_error(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    let p = path.display();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => {
            anyhow::anyhow!("{p} is not a thaw database (not SQLite): {e}; choose another --db")
        }
        Some(ErrorCode::CannotOpen) => anyhow::anyhow!(
            "cannot open or create database {p}: {e} (check that the path is a writable file \
             in a writable directory, or choose another --db)"
        ),
        Some(ErrorCode::ReadOnly) | Some(ErrorCode::PermissionDenied) => anyhow::anyhow!(
            "database {p} is not writable: {e}; fix its permissions or choose another --db"
        ),
        _ => anyhow::Error::new(e).context(format!("opening database {p}")),
    }
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).with_context(|| {
        format!(
            "{what} {v} is too large for the database (max {})",
            i64::MAX
        )
    })
}

impl Db {
    /// Opens or creates the database at `path` (creating missing parent directories): WAL
    /// journal (a rollback journal on network filesystems, see [`super::journal`]), 30 s busy
    /// timeout, foreign keys on, migrations applied.
    ///
    /// Fails, naming the path, on a file that is not SQLite, a SQLite file of another
    /// program, a database of a newer schema version, and a path that cannot be written.
    pub fn open(path: &Path) -> Result<Db> {
        let p = path.display();
        if path.is_dir() {
            bail!("{p} is a directory, not a database file; choose another --db");
        }
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!(
                        "cannot create directory {} for database {p}",
                        parent.display()
                    )
                })?;
            }
        }
        let mut conn = Connection::open(path).map_err(|e| open_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| open_error(path, e))?;
        // The first statement reads the header: this is where a non-SQLite file is caught.
        let journal = super::journal::journal_mode(path);
        let pragma = format!("PRAGMA journal_mode={journal}");
        let _mode: String = conn
            .query_row(&pragma, [], |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        if conn
            .is_readonly(DatabaseName::Main)
            .map_err(|e| open_error(path, e))?
        {
            bail!("database {p} is not writable (read-only file); fix its permissions or choose another --db");
        }
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| open_error(path, e))?;
        // WAL with synchronous=NORMAL: a commit survives any crash of thaw itself and the
        // database is never corrupted; only a power loss or OS crash can drop the last commits
        // (a checkpoint then ahead of its trial's metrics is ignored on resume). It saves an
        // fsync per epoch, most of an epoch's bookkeeping. A rollback journal needs FULL for
        // the same guarantee.
        let sync = if journal == "WAL" { "NORMAL" } else { "FULL" };
        conn.pragma_update(None, "synchronous", sync)
            .map_err(|e| open_error(path, e))?;
        schema::migrate(&mut conn, path).map_err(|e| match e.downcast::<rusqlite::Error>() {
            Ok(sql) => open_error(path, sql),
            Err(other) => other,
        })?;
        Ok(Db {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying connection, for reads this type has no method for.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn write_tx(&self) -> Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .with_context(|| format!("starting a write transaction on {}", self.path.display()))
    }

    /// Inserts or updates the sweep `name` with its grid file's path and text; returns its id.
    pub fn upsert_sweep(
        &self,
        name: &str,
        description: &str,
        spec_path: &str,
        spec_yaml: &str,
    ) -> Result<i64> {
        let now = now_rfc3339();
        let id = self
            .conn
            .query_row(
                "INSERT INTO sweeps (name, description, spec_path, spec_yaml, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (name) DO UPDATE SET
                     description = excluded.description,
                     spec_path = excluded.spec_path,
                     spec_yaml = excluded.spec_yaml,
                     updated_at = excluded.updated_at
                 RETURNING id",
                params![name, description, spec_path, spec_yaml, now],
                |r| r.get(0),
            )
            .with_context(|| format!("recording sweep \"{name}\" in {}", self.path.display()))?;
        Ok(id)
    }

    /// Registers the sweep's trials `(position, key, spec)` in one transaction: missing ones
    /// are inserted as pending; existing ones only get their position updated (their status,
    /// timestamps and metrics are left alone).
    pub fn register_trials(
        &self,
        sweep_id: i64,
        trials: &[(usize, &str, &TrialSpec)],
    ) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained,
                     freeze, frozen_blocks, source_dataset, target_dataset, train_per_class,
                     shift, shift_kind, shift_magnitude, schedule, lr, optimizer, seed, epochs,
                     batch_size, precision, position)
                 VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                     ?15, ?16, ?17, ?18, ?19, ?20, ?21)
                 ON CONFLICT (sweep_id, key) DO UPDATE SET position = excluded.position",
            )?;
            for &(position, key, spec) in trials {
                let optimizer = match spec.optimizer {
                    Optimizer::Sgd { .. } => "sgd",
                    Optimizer::Adamw { .. } => "adamw",
                };
                stmt.execute(params![
                    sweep_id,
                    key,
                    spec.config_json(),
                    spec.backbone.name(),
                    spec.pretrained,
                    spec.freeze.to_string(),
                    spec.frozen_blocks() as i64,
                    spec.source.dataset.label(),
                    spec.target.dataset.label(),
                    spec.target.train_per_class as i64,
                    spec.target.shift.to_string(),
                    spec.target.shift.kind_name(),
                    spec.target.shift.magnitude(),
                    spec.schedule.label(),
                    spec.schedule.lr,
                    optimizer,
                    to_i64(spec.seed, "seed")?,
                    spec.epochs as i64,
                    spec.batch_size as i64,
                    spec.precision.name(),
                    position as i64,
                ])
                .with_context(|| {
                    format!(
                        "registering trial {key} of sweep {sweep_id} in {}",
                        self.path.display()
                    )
                })?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Status of every trial of the sweep, by key.
    pub fn trial_statuses(&self, sweep_id: i64) -> Result<HashMap<String, TrialStatus>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, status FROM trials WHERE sweep_id = ?1")?;
        let rows = stmt.query_map([sweep_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let (key, status) = row?;
            let status = status
                .parse()
                .with_context(|| format!("trial {key} in {}", self.path.display()))?;
            out.insert(key, status);
        }
        Ok(out)
    }

    /// Claims the trial `key` of the sweep for `runner` if `rules` allow it, checked and
    /// changed under one write lock: of several runners claiming the same trial, exactly one
    /// gets it. The claimed trial is `running` with a fresh heartbeat; its metrics are kept
    /// (see [`Db::truncate_metrics`]). Fails if the key is not registered.
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
                 finished_at = NULL, device = ?5, error = NULL, attempts = attempts + 1
             WHERE id = ?1",
            params![id, rules.runner, now, fresh_start, device],
        )?;
        tx.commit()?;
        Ok(Some(Claimed {
            trial_id: id,
            previous: status,
        }))
    }

    /// The last epoch with recorded metrics of a trial (`None`: nothing recorded).
    pub fn last_logged_epoch(&self, trial_id: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(epoch) FROM metrics WHERE trial_id = ?1",
            [trial_id],
            |r| r.get(0),
        )?)
    }

    /// Deletes the trial's metrics after epoch `keep_through` (all of them for `None`) and
    /// records the resume point.
    pub fn truncate_metrics(&self, trial_id: i64, keep_through: Option<i64>) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            "DELETE FROM metrics WHERE trial_id = ?1 AND epoch > ?2",
            params![trial_id, keep_through.unwrap_or(-1)],
        )?;
        tx.execute(
            "UPDATE trials SET resumed_from_epoch = ?2 WHERE id = ?1",
            params![trial_id, keep_through],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records the files of a trial's target splits under `split_key` (once per key) and links
    /// the trial to them.
    pub fn record_split(
        &self,
        trial_id: i64,
        split_key: &str,
        rows: &[(String, String, u32)],
    ) -> Result<()> {
        let tx = self.write_tx()?;
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM split_files WHERE split_key = ?1)",
            [split_key],
            |r| r.get(0),
        )?;
        if !known {
            let mut stmt = tx.prepare(
                "INSERT OR IGNORE INTO split_files (split_key, split, path, label, position)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut position: HashMap<&str, i64> = HashMap::new();
            for (split, path, label) in rows {
                let at = position.entry(split.as_str()).or_default();
                stmt.execute(params![split_key, split, path, label, *at])?;
                *at += 1;
            }
        }
        tx.execute(
            "UPDATE trials SET split_key = ?2 WHERE id = ?1",
            params![trial_id, split_key],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Whether the domain distance `key` is already computed.
    pub fn has_domain_distance(&self, key: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM domain_distance WHERE key = ?1)",
            [key],
            |r| r.get(0),
        )?)
    }

    /// Stores a domain distance (computed once per key).
    pub fn record_domain_distance(&self, row: &DomainRow<'_>) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO domain_distance
                 (key, pretrained_key, target_dataset, shift, proxy_a, mmd2, frechet,
                  n_source, n_target, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                row.key,
                row.pretrained_key,
                row.target_dataset,
                row.shift,
                finite(row.proxy_a),
                finite(row.mmd2),
                finite(row.frechet),
                row.n_source,
                row.n_target,
                now_rfc3339()
            ],
        )?;
        Ok(())
    }

    /// Links a trial to the domain distance of its source and target.
    pub fn link_domain_distance(&self, trial_id: i64, key: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE trials SET domain_key = ?2 WHERE id = ?1",
            params![trial_id, key],
        )?;
        Ok(())
    }

    /// Refreshes the heartbeat of a trial `runner` holds.
    pub fn heartbeat(&self, trial_id: i64, runner: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE trials SET heartbeat_at = ?3 WHERE id = ?1 AND runner = ?2 AND status = 'running'",
            params![trial_id, runner, now_rfc3339()],
        )?;
        Ok(())
    }

    /// Writes one epoch's metrics in one transaction, replacing values already logged for that
    /// epoch. Non-finite values are stored as NULL.
    pub fn log_epoch(&self, trial_id: i64, epoch: i64, values: &[(String, f64)]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO metrics (trial_id, epoch, name, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (name, value) in values {
                let value = value.is_finite().then_some(*value);
                stmt.execute(params![trial_id, epoch, name, value])
                    .with_context(|| {
                        format!(
                            "logging {name} of epoch {epoch} for trial {trial_id} in {}",
                            self.path.display()
                        )
                    })?;
            }
        }
        tx.commit()?;
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

    /// Records (or replaces) the checkpoint of pretraining `key`.
    #[allow(clippy::too_many_arguments)]
    pub fn record_pretrained(
        &self,
        key: &str,
        backbone: &str,
        source_dataset: &str,
        seed: u64,
        path: &Path,
        source_test_acc: f64,
        seconds: f64,
    ) -> Result<()> {
        let path_str = path
            .to_str()
            .with_context(|| format!("checkpoint path {} is not valid UTF-8", path.display()))?;
        self.conn.execute(
            "INSERT OR REPLACE INTO pretrained
                 (key, backbone, source_dataset, seed, path, source_test_acc, seconds, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                key,
                backbone,
                source_dataset,
                to_i64(seed, "seed")?,
                path_str,
                source_test_acc.is_finite().then_some(source_test_acc),
                seconds.is_finite().then_some(seconds),
                now_rfc3339(),
            ],
        )?;
        Ok(())
    }

    /// Every sweep with its trial counts by status, oldest first.
    pub fn sweep_overview(&self) -> Result<Vec<SweepOverview>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.name, s.description, s.created_at, s.updated_at, count(t.id),
                    coalesce(sum(t.status = 'pending'), 0),
                    coalesce(sum(t.status = 'running'), 0),
                    coalesce(sum(t.status = 'completed'), 0),
                    coalesce(sum(t.status = 'failed'), 0),
                    coalesce(sum(t.status = 'diverged'), 0),
                    coalesce(sum(t.status = 'interrupted'), 0)
             FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id
             GROUP BY s.id ORDER BY s.created_at, s.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SweepOverview {
                name: r.get(0)?,
                description: r.get(1)?,
                created_at: r.get(2)?,
                updated_at: r.get(3)?,
                total: r.get(4)?,
                pending: r.get(5)?,
                running: r.get(6)?,
                completed: r.get(7)?,
                failed: r.get(8)?,
                diverged: r.get(9)?,
                interrupted: r.get(10)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
