//! Merging shard databases into one: each task of a Slurm job array records its trials in its
//! own thaw database (a *shard*), and [`merge_shards`] combines them into the sweep's database.
//!
//! A merge is idempotent and can run at any time, also while tasks still write their shards
//! (each shard is only read, in one read transaction, so from one consistent snapshot).
//! A trial, identified by (sweep name, trial key), keeps its most advanced record among the
//! destination and every shard (see `Rank`); when a shard's record wins, the destination's
//! row takes all its columns and its metrics replace the destination's. Sweeps are matched by
//! name (the most recently updated text wins); `pretrained`, `split_files`, `domain_distance`,
//! `environments` and `sweep_versions` rows are keyed by their content and inserted when
//! missing. Columns are
//! copied by name, so a shard of an older schema version is read as it is (never migrated or
//! written; columns it lacks get the destination's defaults). All writes to the destination
//! happen in one transaction: a merge that fails or is killed leaves it as it was.

use super::writer::registration;
use super::{Db, SweepOverview, SCHEMA_VERSION};
use anyhow::{bail, Context, Result};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OpenFlags, OptionalExtension};
use rusqlite::{Transaction, TransactionBehavior};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Tables whose rows are identified by their content: a shard's row is inserted unless the
/// destination already holds its key.
const SHARED_TABLES: [&str; 4] = [
    "pretrained",
    "split_files",
    "domain_distance",
    "environments",
];

/// Tables of rows belonging to one trial (`trial_id` first): a trial whose shard record wins
/// takes that shard's rows of each, replacing its own.
const TRIAL_TABLES: [&str; 4] = ["metrics", "trial_classes", "confusion", "rung_decisions"];

/// Tables of rows belonging to one sweep (`sweep_id` first), identified by their content: a
/// shard's row is inserted, its sweep id mapped, unless the destination holds its key.
const SWEEP_TABLES: [&str; 1] = ["sweep_versions"];

/// Tables a merge leaves alone: `report_findings` is derived from the trials by the report,
/// and `thaw merge` renders the merged sweeps' reports, which store their findings anew;
/// notes and tags are written on the merged database by its users; `kept_models` names files
/// of the runner's own cache, chosen at the end of its run.
pub const UNMERGED_TABLES: [&str; 4] = ["report_findings", "notes", "tags", "kept_models"];

/// What a merge did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MergeSummary {
    /// Shards read.
    pub shards: usize,
    /// Distinct trials of the shards the destination did not hold before the merge.
    pub trials_added: usize,
    /// Trials the destination held whose record was replaced by a more advanced shard record.
    pub trials_updated: usize,
    /// Trials of the shards the destination held and kept as they were.
    pub trials_unchanged: usize,
    /// Rows added to `pretrained`, `split_files`, `domain_distance` and `environments`.
    pub shared_rows_added: usize,
    /// The sweeps found in the shards, with their trial counts after the merge, oldest first.
    pub sweeps: Vec<SweepOverview>,
}

/// Merges `shards` into the database at `dest` (created if missing). `sweeps`: when Some, every
/// sweep in every shard must be one of these names.
///
/// Every shard is checked before the destination is touched: it must exist, be a thaw database
/// of this schema version or an older one, hold only the expected sweeps, and not be `dest`.
pub fn merge_shards(
    dest: &Path,
    shards: &[PathBuf],
    sweeps: Option<&[String]>,
) -> Result<MergeSummary> {
    check_paths(dest, shards)?;
    for shard in shards {
        open_shard(shard, sweeps)?;
    }
    let db = Db::open(dest)?;
    let tx = Transaction::new_unchecked(db.connection(), TransactionBehavior::Immediate)
        .with_context(|| format!("starting a write transaction on {}", dest.display()))?;
    let mut merge = Merge {
        tx: &tx,
        outcomes: HashMap::new(),
        shared_rows_added: 0,
        sweep_names: HashSet::new(),
    };
    for shard in shards {
        let src = open_shard(shard, sweeps)?;
        let snapshot = src.unchecked_transaction()?;
        merge.shard(&snapshot).with_context(|| {
            format!("merging shard {} into {}", shard.display(), dest.display())
        })?;
    }
    let count = |o: Outcome| merge.outcomes.values().filter(|x| **x == o).count();
    let mut summary = MergeSummary {
        shards: shards.len(),
        trials_added: count(Outcome::Added),
        trials_updated: count(Outcome::Updated),
        trials_unchanged: count(Outcome::Unchanged),
        shared_rows_added: merge.shared_rows_added,
        sweeps: Vec::new(),
    };
    let names = merge.sweep_names;
    tx.commit()
        .with_context(|| format!("committing the merge into {}", dest.display()))?;
    summary.sweeps = db.sweep_overview()?;
    summary.sweeps.retain(|s| names.contains(&s.name));
    Ok(summary)
}

/// Fails on missing shards (naming all of them) and on a destination listed as a shard.
fn check_paths(dest: &Path, shards: &[PathBuf]) -> Result<()> {
    let missing: Vec<String> = shards
        .iter()
        .filter(|s| !s.exists())
        .map(|s| s.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard database(s) not found: {}; pass only existing shard files",
            missing.join(", ")
        );
    }
    // The destination may not exist yet: then compare through its (existing) folder.
    let dest_real = dest.canonicalize().ok().or_else(|| {
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty());
        let parent = parent.unwrap_or(Path::new(".")).canonicalize().ok()?;
        Some(parent.join(dest.file_name()?))
    });
    for shard in shards {
        let p = shard.display();
        if shard.is_dir() {
            bail!("refusing shard {p}: it is a directory, not a database file; pass the shard files in it");
        }
        let shard_real = shard
            .canonicalize()
            .with_context(|| format!("resolving shard path {p}"))?;
        if Some(&shard_real) == dest_real.as_ref() {
            bail!(
                "refusing shard {p}: it is the destination database {}; merge into another \
                 file or leave it out of the shards",
                dest.display()
            );
        }
    }
    Ok(())
}

/// Opens the shard `path` for reading and checks that it is a thaw database this binary can
/// read, holding only the `expected` sweeps (when given).
///
/// The connection may write (`query_only` forbids statements to) so that SQLite can roll back
/// the hot journal a task killed mid-commit leaves on a rollback-journal database.
fn open_shard(path: &Path, expected: Option<&[String]>) -> Result<Connection> {
    let p = path.display();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("cannot open shard {p}"))?;
    conn.busy_timeout(super::writer::BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => anyhow::anyhow!(
                "refusing shard {p}: it is not a SQLite database ({e}); remove it from the \
                 shards to merge"
            ),
            _ => anyhow::Error::new(e).context(format!("reading shard {p}")),
        })?;
    if version > SCHEMA_VERSION {
        bail!(
            "refusing shard {p}: written by a newer thaw (schema {version} > {SCHEMA_VERSION}); \
             merge with that thaw or upgrade"
        );
    }
    let core_tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('sweeps', 'trials', 'metrics')",
        [],
        |r| r.get(0),
    )?;
    if version < 1 || core_tables < 3 {
        bail!(
            "refusing shard {p}: it is a SQLite database but not a thaw database; remove it \
             from the shards to merge"
        );
    }
    if let Some(expected) = expected {
        let mut stmt = conn.prepare("SELECT name FROM sweeps ORDER BY name")?;
        let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for name in names {
            let name = name?;
            if !expected.contains(&name) {
                bail!(
                    "refusing {p}: it holds sweep \"{name}\", not one of this merge's sweeps \
                     ({}); did you point at another sweep's shard folder?",
                    expected.join(", ")
                );
            }
        }
    }
    Ok(conn)
}

/// How advanced a trial's record is, compared in order (the greater wins a merge): its status
/// (completed = pruned 4 > failed = diverged 3 > interrupted 2 > running 1 > pending 0), its last epoch
/// with metrics (-1: none), its number of metric rows, and the later of `finished_at` and
/// `heartbeat_at` (RFC 3339 UTC, ordered as text; '' when neither is set).
type Rank = (i64, i64, i64, String);

/// `SELECT` terms giving the id and the [`Rank`] of trial `t`, whose heartbeat is `heartbeat`.
fn rank_sql(heartbeat: &str) -> String {
    format!(
        "t.id, CASE t.status WHEN 'completed' THEN 4 WHEN 'pruned' THEN 4 WHEN 'failed' THEN 3 WHEN 'diverged' THEN 3
             WHEN 'interrupted' THEN 2 WHEN 'running' THEN 1 ELSE 0 END,
         (SELECT coalesce(MAX(epoch), -1) FROM metrics m WHERE m.trial_id = t.id),
         (SELECT count(*) FROM metrics m WHERE m.trial_id = t.id),
         max(coalesce(t.finished_at, ''), coalesce({heartbeat}, ''))"
    )
}

/// The id and [`Rank`] of a row of [`rank_sql`]'s terms.
fn ranked(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Rank)> {
    Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
}

/// What the merge did to one destination trial, weakest first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Unchanged,
    Updated,
    Added,
}

/// The columns of `table` (none: no such table): their names and defaults as SQL text.
fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, Option<String>)>> {
    let mut stmt = conn.prepare("SELECT name, dflt_value FROM pragma_table_info(?1)")?;
    let cols = stmt.query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(cols.collect::<rusqlite::Result<_>>()?)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

/// `verb (cols) VALUES (?, ...)`, verb being `INSERT [OR IGNORE] INTO table`.
fn insert_sql(verb: &str, cols: &[String]) -> String {
    let marks = vec!["?"; cols.len()].join(", ");
    format!("{verb} ({}) VALUES ({marks})", column_list(cols))
}

/// The values of `r` from column `from` on.
fn values(r: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<Vec<Value>> {
    (from..r.as_ref().column_count())
        .map(|i| r.get(i))
        .collect()
}

/// The state of one merge: the destination (in its transaction) and what was done so far.
struct Merge<'a> {
    tx: &'a Connection,
    /// By destination trial id; the strongest outcome over all shards.
    outcomes: HashMap<i64, Outcome>,
    shared_rows_added: usize,
    sweep_names: HashSet<String>,
}

impl Merge<'_> {
    /// The destination's columns of `table` that the shard has too, but `skip` (none: the
    /// shard lacks the table).
    fn common(&self, src: &Connection, table: &str, skip: &[&str]) -> Result<Vec<String>> {
        let theirs: HashSet<_> = table_columns(src, table)?
            .into_iter()
            .map(|c| c.0)
            .collect();
        let ours = table_columns(self.tx, table)?.into_iter().map(|c| c.0);
        let keep = |c: &String| theirs.contains(c) && !skip.contains(&c.as_str());
        Ok(ours.filter(keep).collect())
    }

    /// Merges one shard, read through `src`.
    fn shard(&mut self, src: &Connection) -> Result<()> {
        let sweep_ids = self.sweeps(src)?;
        for table in SWEEP_TABLES {
            let cols = [
                &["sweep_id".into()],
                &self.common(src, table, &["sweep_id"])?[..],
            ]
            .concat();
            if cols.len() > 1 {
                let select = format!("SELECT {} FROM {table}", column_list(&cols));
                let insert = insert_sql(&format!("INSERT OR IGNORE INTO {table}"), &cols);
                self.copy_mapped(src, &select, &sweep_ids, &insert)?;
            }
        }
        for table in SHARED_TABLES {
            let cols = self.common(src, table, &[])?;
            if !cols.is_empty() {
                let select = format!("SELECT {} FROM {table}", column_list(&cols));
                let insert = insert_sql(&format!("INSERT OR IGNORE INTO {table}"), &cols);
                self.shared_rows_added += self.copy_rows(src, &select, None, &insert)?;
            }
        }
        self.trials(src, &sweep_ids)?;
        self.grid_versions(src, &sweep_ids)
    }

    /// Brings each merged sweep to its latest grid: the shard's, when the shard's sweep record
    /// is the newest and holds grid versions, else the destination's own. Trials not in that
    /// grid are superseded (a new grid version when the shard's differs), superseded trials in
    /// it restored.
    fn grid_versions(&self, src: &Connection, sweep_ids: &HashMap<i64, i64>) -> Result<()> {
        let has_versions = !table_columns(src, "sweep_versions")?.is_empty();
        for (&shard_id, &id) in sweep_ids {
            let theirs: Option<(String, String)> = match has_versions {
                true => src
                    .query_row(
                        "SELECT s.updated_at, v.keys FROM sweeps s
                         JOIN sweep_versions v ON v.sweep_id = s.id
                         WHERE s.id = ?1 ORDER BY v.version DESC LIMIT 1",
                        [shard_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?,
                false => None,
            };
            let ours_updated: String =
                (self.tx).query_row("SELECT updated_at FROM sweeps WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
            let keys = match theirs {
                Some((updated, keys)) if updated >= ours_updated && !keys.is_empty() => {
                    Some(keys.lines().map(str::to_string).collect())
                }
                _ => registration::latest_keys(self.tx, id)?,
            };
            if let Some(keys) = keys {
                registration::settle_version(self.tx, id, &keys)?;
            }
        }
        Ok(())
    }

    /// Copies the rows of `select` on `src` into the destination with `insert`; with
    /// `trial = Some((shard id, destination id))`, only that trial's rows, their first column
    /// (`trial_id`) mapped. Returns the rows inserted.
    fn copy_rows(
        &self,
        src: &Connection,
        select: &str,
        trial: Option<(i64, i64)>,
        insert: &str,
    ) -> Result<usize> {
        let mut from = src.prepare_cached(select)?;
        let mut rows = match trial {
            Some((shard_id, _)) => from.query([shard_id])?,
            None => from.query([])?,
        };
        let mut to = self.tx.prepare_cached(insert)?;
        let mut inserted = 0;
        while let Some(r) = rows.next()? {
            let mut values = values(r, 0)?;
            if let Some((_, id)) = trial {
                values[0] = Value::Integer(id);
            }
            inserted += to.execute(params_from_iter(values))?;
        }
        Ok(inserted)
    }

    /// Copies the rows of `select` on `src` into the destination with `insert`, their first
    /// column (`sweep_id`) mapped through `sweep_ids`.
    fn copy_mapped(
        &self,
        src: &Connection,
        select: &str,
        sweep_ids: &HashMap<i64, i64>,
        insert: &str,
    ) -> Result<()> {
        let mut from = src.prepare(select)?;
        let mut rows = from.query([])?;
        let mut to = self.tx.prepare(insert)?;
        while let Some(r) = rows.next()? {
            let mut values = values(r, 0)?;
            if let Value::Integer(shard_id) = values[0] {
                let id = sweep_ids.get(&shard_id).copied();
                values[0] = Value::Integer(id.context("a sweep row refers to no sweep")?);
            }
            to.execute(params_from_iter(values))?;
        }
        Ok(())
    }

    /// Merges the shard's sweeps by name (the later `updated_at`'s columns win, `created_at`
    /// stays); returns shard sweep id -> destination sweep id.
    fn sweeps(&mut self, src: &Connection) -> Result<HashMap<i64, i64>> {
        let cols = self.common(src, "sweeps", &["id"])?;
        let newer: Vec<String> = (cols.iter())
            .filter(|c| !["name", "created_at"].contains(&c.as_str()))
            .map(|c| format!("{0} = excluded.{0}", quote(c)))
            .collect();
        let upsert = format!(
            "{} ON CONFLICT (name) DO UPDATE SET {} WHERE excluded.updated_at > sweeps.updated_at",
            insert_sql("INSERT INTO sweeps", &cols),
            newer.join(", ")
        );
        let select = format!("SELECT id, name, {} FROM sweeps", column_list(&cols));
        let mut stmt = src.prepare(&select)?;
        let mut rows = stmt.query([])?;
        let mut ids = HashMap::new();
        while let Some(r) = rows.next()? {
            let (shard_id, name): (i64, String) = (r.get(0)?, r.get(1)?);
            self.tx.execute(&upsert, params_from_iter(values(r, 2)?))?;
            let find = "SELECT id FROM sweeps WHERE name = ?1";
            ids.insert(shard_id, self.tx.query_row(find, [&name], |r| r.get(0))?);
            self.sweep_names.insert(name);
        }
        Ok(ids)
    }

    /// Merges the shard's trials and their rows in [`TRIAL_TABLES`].
    fn trials(&mut self, src: &Connection, sweep_ids: &HashMap<i64, i64>) -> Result<()> {
        let common = self.common(src, "trials", &[])?;
        let data = self.common(src, "trials", &["id", "sweep_id", "key"])?;
        let heartbeat = match common.iter().any(|c| c == "heartbeat_at") {
            true => "t.heartbeat_at",
            false => "NULL",
        };
        let select = format!(
            "SELECT {}, t.sweep_id, t.key, {} FROM trials t",
            rank_sql(heartbeat),
            column_list(&data)
        );
        let find = format!(
            "SELECT {} FROM trials t WHERE t.sweep_id = ?1 AND t.key = ?2",
            rank_sql("t.heartbeat_at")
        );
        let keyed = [&["sweep_id".into(), "key".into()], &data[..]].concat();
        let insert = insert_sql("INSERT INTO trials", &keyed) + " RETURNING id";
        // A shard record replaces the whole row: columns it lacks (older schema) get defaults.
        let mut sets: Vec<String> = data.iter().map(|c| format!("{} = ?", quote(c))).collect();
        for (name, default) in table_columns(self.tx, "trials")? {
            if !common.contains(&name) {
                let default = default.unwrap_or_else(|| "NULL".into());
                sets.push(format!("{} = {default}", quote(&name)));
            }
        }
        let update = format!("UPDATE trials SET {} WHERE id = ?", sets.join(", "));
        // trial_id first: `copy_rows` maps it. `(select, insert)` per table the shard has.
        let mut per_trial = Vec::new();
        for table in TRIAL_TABLES {
            let cols = self.common(src, table, &["trial_id"])?;
            if !cols.is_empty() {
                let cols = [&["trial_id".into()], &cols[..]].concat();
                let select = format!(
                    "SELECT {} FROM {table} WHERE trial_id = ?",
                    column_list(&cols)
                );
                per_trial.push((
                    table,
                    select,
                    insert_sql(&format!("INSERT INTO {table}"), &cols),
                ));
            }
        }

        let mut stmt = src.prepare(&select)?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (shard_id, theirs) = ranked(r)?;
            let (shard_sweep, key): (i64, String) = (r.get(5)?, r.get(6)?);
            let sweep = (sweep_ids.get(&shard_sweep).copied())
                .with_context(|| format!("trial {key} refers to no sweep"))?;
            let ours = self
                .tx
                .query_row(&find, params![sweep, key], ranked)
                .optional()?;
            let (id, outcome) = match ours {
                None => {
                    let keyed =
                        [vec![Value::Integer(sweep), Value::Text(key)], values(r, 7)?].concat();
                    let id = self
                        .tx
                        .query_row(&insert, params_from_iter(keyed), |r| r.get(0))?;
                    (id, Outcome::Added)
                }
                Some((id, ours)) if theirs > ours => {
                    let mut v = values(r, 7)?;
                    v.push(Value::Integer(id));
                    self.tx.execute(&update, params_from_iter(v))?;
                    for table in TRIAL_TABLES {
                        let delete = format!("DELETE FROM {table} WHERE trial_id = ?1");
                        self.tx.execute(&delete, [id])?;
                    }
                    (id, Outcome::Updated)
                }
                Some((id, _)) => (id, Outcome::Unchanged),
            };
            let o = self.outcomes.entry(id).or_insert(outcome);
            *o = outcome.max(*o);
            if outcome != Outcome::Unchanged {
                for (_, select, insert) in &per_trial {
                    self.copy_rows(src, select, Some((shard_id, id)), insert)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests_merge.rs"]
mod tests_merge;
