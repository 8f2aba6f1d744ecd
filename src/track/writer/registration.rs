//! Registering a grid's trials: each `thaw run` of a grid records the sweep's current grid
//! version. Trials whose keys are still in the grid are kept; new ones are inserted pending;
//! trials no longer in the grid are kept but superseded (`superseded_in` = the version they
//! left in). A grid trial with no row of its own but a finished row of the same configuration
//! recorded under another training semantics is stood in for by that row (shown as outdated)
//! unless `rerun_outdated`, which supersedes the old row and runs the trial anew.

use super::{now_rfc3339, to_i64, Db};
use crate::spec::{Optimizer, TrialSpec};
use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::collections::{BTreeSet, HashMap};

/// The trials of one run of a grid.
pub struct GridTrials<'a> {
    /// Every trial of the grid as `(key, config_json)`: they define the sweep's grid version.
    pub grid: &'a [(&'a str, &'a str)],
    /// The trials this runner registers rows for, as `(position, key, spec)`: all of the grid,
    /// or a shard's share of it.
    pub share: &'a [(usize, &'a str, &'a TrialSpec)],
    /// The training semantics the keys were computed under ([`crate::spec::SEMANTICS`]).
    pub semantics: &'a str,
    /// Run trials recorded under another semantics anew instead of keeping them.
    pub rerun_outdated: bool,
}

/// What registering a grid did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// The sweep's grid version after registering.
    pub version: i64,
    /// Whether this registration began that version (the grid's trials changed).
    pub new_version: bool,
    /// Trial rows inserted.
    pub added: usize,
    /// Trials that left the grid now (kept, hidden from the views and the report).
    pub superseded: usize,
    /// Superseded trials back in the grid (an axis value restored).
    pub restored: usize,
    /// Grid keys stood in for by a trial recorded under another semantics: grid key -> the
    /// key of that trial.
    pub outdated: HashMap<String, String>,
}

/// A trial row of the sweep, as registration needs it.
struct Row {
    key: String,
    config_json: String,
    semantics: Option<String>,
    finished: bool,
}

impl Db {
    /// Registers the grid's trials in one transaction; see the module documentation.
    pub fn register_grid(&self, sweep_id: i64, trials: &GridTrials<'_>) -> Result<Registration> {
        let tx = self.write_tx()?;
        let rows = sweep_rows(&tx, sweep_id)?;
        let by_key: HashMap<&str, &Row> = rows.iter().map(|r| (r.key.as_str(), r)).collect();
        let mut outdated = HashMap::new();
        let mut current: BTreeSet<String> = BTreeSet::new();
        for &(key, config) in trials.grid {
            if by_key.contains_key(key) || trials.rerun_outdated {
                current.insert(key.to_string());
                continue;
            }
            // The latest finished row of this configuration under another semantics.
            let stand_in = rows.iter().rev().find(|r| {
                r.config_json == config
                    && r.finished
                    && r.semantics.as_deref() != Some(trials.semantics)
            });
            match stand_in {
                Some(r) => {
                    outdated.insert(key.to_string(), r.key.clone());
                    current.insert(r.key.clone());
                }
                None => {
                    current.insert(key.to_string());
                }
            }
        }
        let settled = settle_version(&tx, sweep_id, &current)?;
        let share: Vec<_> = (trials.share.iter())
            .filter(|(_, key, _)| !outdated.contains_key(*key))
            .copied()
            .collect();
        let added = share.iter().filter(|t| !by_key.contains_key(t.1)).count();
        insert_trials(&tx, sweep_id, &share, settled.version, trials.semantics)
            .with_context(|| format!("registering the trials in {}", self.path.display()))?;
        tx.commit()?;
        Ok(Registration {
            version: settled.version,
            new_version: settled.new_version,
            added,
            superseded: settled.superseded,
            restored: settled.restored,
            outdated,
        })
    }

    /// Adds `trials` to the sweep's current grid (superseding nothing), under the current
    /// semantics: for tests that build a sweep trial by trial.
    #[cfg(test)]
    pub fn register_trials(
        &self,
        sweep_id: i64,
        trials: &[(usize, &str, &TrialSpec)],
    ) -> Result<Registration> {
        let mut stmt = self.conn.prepare(
            "SELECT key, config_json FROM trials WHERE sweep_id = ?1 AND superseded_in IS NULL",
        )?;
        let mut grid: Vec<(String, String)> = stmt
            .query_map([sweep_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        grid.extend(trials.iter().map(|t| (t.1.to_string(), t.2.config_json())));
        let grid: Vec<(&str, &str)> = grid.iter().map(|(k, c)| (k.as_str(), c.as_str())).collect();
        self.register_grid(
            sweep_id,
            &GridTrials {
                grid: &grid,
                share: trials,
                semantics: crate::spec::SEMANTICS,
                rerun_outdated: false,
            },
        )
    }
}

/// The sweep's trial rows, oldest first.
fn sweep_rows(tx: &Transaction<'_>, sweep_id: i64) -> Result<Vec<Row>> {
    let mut stmt = tx.prepare(
        "SELECT key, config_json, semantics, status IN ('completed', 'diverged', 'pruned')
         FROM trials WHERE sweep_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([sweep_id], |r| {
        Ok(Row {
            key: r.get(0)?,
            config_json: r.get(1)?,
            semantics: r.get(2)?,
            finished: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What [`settle_version`] did.
pub(crate) struct Settled {
    pub version: i64,
    pub new_version: bool,
    pub superseded: usize,
    pub restored: usize,
}

/// Makes `current` the trial keys of the sweep's grid: a new grid version (recorded with the
/// sweep's grid text) when they differ from the latest version's, rows not among them
/// superseded, superseded rows among them restored.
pub(crate) fn settle_version(
    tx: &Connection,
    sweep_id: i64,
    current: &BTreeSet<String>,
) -> Result<Settled> {
    let mut stmt =
        tx.prepare("SELECT key, superseded_in IS NOT NULL FROM trials WHERE sweep_id = ?1")?;
    let rows: Vec<(String, bool)> = stmt
        .query_map([sweep_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let (latest, latest_keys) = latest_version(tx, sweep_id)?;
    let previous: BTreeSet<String> = match latest_keys.as_deref() {
        // Recorded before grid versions: the trials not superseded were the grid.
        Some("") | None => (rows.iter().filter(|r| !r.1))
            .map(|r| r.0.clone())
            .collect(),
        Some(keys) => keys.lines().map(str::to_string).collect(),
    };
    let new_version = latest.is_none() || previous != *current;
    let version = match latest {
        Some(v) if new_version => v + 1,
        Some(v) => v,
        None => 1,
    };
    let mut settled = Settled {
        version,
        new_version,
        superseded: 0,
        restored: 0,
    };
    for (key, superseded) in &rows {
        let in_grid = current.contains(key);
        if *superseded && in_grid {
            settled.restored += tx.execute(
                "UPDATE trials SET superseded_in = NULL WHERE sweep_id = ?1 AND key = ?2",
                params![sweep_id, key],
            )?;
        } else if !superseded && !in_grid {
            settled.superseded += tx.execute(
                "UPDATE trials SET superseded_in = ?3 WHERE sweep_id = ?1 AND key = ?2",
                params![sweep_id, key, version],
            )?;
        }
    }
    if new_version || latest_keys.as_deref() == Some("") {
        let keys: Vec<&str> = current.iter().map(String::as_str).collect();
        let added = current.difference(&previous).count();
        tx.execute(
            "INSERT INTO sweep_versions (sweep_id, version, spec_yaml, keys, trials, added,
                 superseded, created_at)
             SELECT ?1, ?2, spec_yaml, ?3, ?4, ?5, ?6, ?7 FROM sweeps WHERE id = ?1
             ON CONFLICT (sweep_id, version) DO UPDATE SET keys = excluded.keys",
            params![
                sweep_id,
                version,
                keys.join("\n"),
                keys.len() as i64,
                (if latest.is_none() { keys.len() } else { added }) as i64,
                settled.superseded as i64,
                now_rfc3339()
            ],
        )?;
        tx.execute(
            "UPDATE sweeps SET version = ?2 WHERE id = ?1",
            params![sweep_id, version],
        )?;
    }
    Ok(settled)
}

/// The latest grid version's trial keys of the sweep (`None` when it has none, or it was
/// recorded before grid versions).
pub(crate) fn latest_keys(tx: &Connection, sweep_id: i64) -> Result<Option<BTreeSet<String>>> {
    Ok(match latest_version(tx, sweep_id)?.1.as_deref() {
        None | Some("") => None,
        Some(keys) => Some(keys.lines().map(str::to_string).collect()),
    })
}

/// The sweep's latest grid version and its keys (`None` when it has none yet).
fn latest_version(tx: &Connection, sweep_id: i64) -> Result<(Option<i64>, Option<String>)> {
    let row = tx
        .query_row(
            "SELECT version, keys FROM sweep_versions WHERE sweep_id = ?1
             ORDER BY version DESC LIMIT 1",
            [sweep_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.map_or((None, None), |(v, k)| (Some(v), Some(k))))
}

/// Inserts the trials that have no row yet (pending, added in `version`); existing rows only
/// get their position, and their semantics when recorded before semantics were (their key
/// is a grid key, so they ran under `semantics`).
fn insert_trials(
    tx: &Transaction<'_>,
    sweep_id: i64,
    trials: &[(usize, &str, &TrialSpec)],
    version: i64,
    semantics: &str,
) -> Result<()> {
    let mut stmt = tx.prepare(
        "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained,
             freeze, frozen_blocks, source_dataset, target_dataset, train_per_class,
             shift, shift_kind, shift_magnitude, schedule, lr, optimizer, seed, epochs,
             batch_size, precision, position, max_length, grid_version, semantics)
         VALUES (?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)
         ON CONFLICT (sweep_id, key) DO UPDATE SET position = excluded.position,
             semantics = coalesce(trials.semantics, excluded.semantics)",
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
            spec.is_text().then(|| spec.text_max_length() as i64),
            version,
            semantics,
        ])
        .with_context(|| format!("registering trial {key} of sweep {sweep_id}"))?;
    }
    Ok(())
}
