//! The read-write database handle used by `thaw run`.
//!
//! One [`Db`] holds one connection. Every method that writes more than one row does so in one
//! `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two runners on one
//! database wait on the busy timeout instead of failing on a lock upgrade).
//!
//! Opening and sweeps are here; trial registration and grid versions in `registration.rs`,
//! deletion in `removal.rs`; claims and heartbeats in `claims.rs`, what a trial records
//! (metrics, splits, domain distances, pretrained checkpoints) in `record.rs`, its per-class
//! results in `classes.rs`, the report's findings in `findings.rs`, notes and tags in
//! `notes.rs`, the models `--keep best` keeps in `kept.rs`, the runners' environments in
//! `environment.rs`, early stopping's rung decisions in `rungs.rs`.

mod claims;
mod classes;
mod environment;
mod findings;
mod kept;
mod notes;
mod record;
pub(crate) mod registration;
mod removal;
mod rungs;

pub use claims::{ClaimRules, Claimed};
pub use environment::Environment;
pub use kept::{KeepCandidate, KeptModel, KEEP_METRICS};
pub use record::DomainRow;
pub use registration::{GridTrials, Registration};
pub use removal::Removal;
pub use rungs::RungDecision;

use super::schema;
use super::TrialStatus;
use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, DatabaseName, ErrorCode, Transaction, TransactionBehavior};
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
    pub pruned: i64,
    /// The current grid version.
    pub version: i64,
    /// Trials of the current grid recorded under another training semantics than this thaw's.
    pub outdated: i64,
    /// Trials no longer in the grid (kept; not counted in `total` or the statuses).
    pub superseded: i64,
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
            TrialStatus::Pruned => self.pruned,
        }
    }
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

    /// Every sweep with the trial counts of its current grid by status, oldest first.
    pub fn sweep_overview(&self) -> Result<Vec<SweepOverview>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.name, s.description, s.created_at, s.updated_at, count(t.id),
                    coalesce(sum(t.status = 'pending'), 0),
                    coalesce(sum(t.status = 'running'), 0),
                    coalesce(sum(t.status = 'completed'), 0),
                    coalesce(sum(t.status = 'failed'), 0),
                    coalesce(sum(t.status = 'diverged'), 0),
                    coalesce(sum(t.status = 'interrupted'), 0),
                    coalesce(sum(t.status = 'pruned'), 0),
                    s.version,
                    coalesce(sum(t.id IS NOT NULL AND t.semantics IS NOT ?1), 0),
                    (SELECT count(*) FROM trials o
                     WHERE o.sweep_id = s.id AND o.superseded_in IS NOT NULL)
             FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id AND t.superseded_in IS NULL
             GROUP BY s.id ORDER BY s.created_at, s.id",
        )?;
        let rows = stmt.query_map([crate::spec::SEMANTICS], |r| {
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
                pruned: r.get(11)?,
                version: r.get(12)?,
                outdated: r.get(13)?,
                superseded: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
