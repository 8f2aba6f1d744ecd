//! `thaw rm`: what deleting a sweep, or its superseded trials, would remove, and the deletion.

use super::Db;
use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};
use std::path::PathBuf;

/// What a removal deletes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    /// Trials deleted, and of them completed ones.
    pub trials: usize,
    pub completed: usize,
    /// Metric rows deleted with them.
    pub metrics: usize,
    /// Files of models kept by `--keep best` for these trials.
    pub kept_models: Vec<PathBuf>,
}

impl Db {
    /// What [`Db::remove`] would delete: the whole sweep, or only its trials no longer in the
    /// grid. Fails, listing the sweeps, when there is no sweep `name`.
    pub fn removal(&self, name: &str, superseded_only: bool) -> Result<Removal> {
        let sweep_id = self.sweep_id(name)?;
        let only = if superseded_only {
            "AND t.superseded_in IS NOT NULL"
        } else {
            ""
        };
        let (trials, completed, metrics): (i64, i64, i64) = self.conn.query_row(
            &format!(
                "SELECT count(*), coalesce(sum(t.status = 'completed'), 0),
                        coalesce(sum((SELECT count(*) FROM metrics m WHERE m.trial_id = t.id)), 0)
                 FROM trials t WHERE t.sweep_id = ?1 {only}"
            ),
            [sweep_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT k.path FROM kept_models k JOIN trials t ON t.id = k.trial_id
             WHERE t.sweep_id = ?1 {only} ORDER BY k.path"
        ))?;
        let kept_models = stmt
            .query_map([sweep_id], |r| r.get::<_, String>(0))?
            .map(|p| p.map(PathBuf::from))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Removal {
            trials: trials as usize,
            completed: completed as usize,
            metrics: metrics as usize,
            kept_models,
        })
    }

    /// Deletes the sweep `name` with everything recorded about it, or with `superseded_only`
    /// its trials no longer in the grid (with their metrics and per-trial rows), in one
    /// transaction; returns what it deleted. Files of kept models are left to the caller.
    pub fn remove(&self, name: &str, superseded_only: bool) -> Result<Removal> {
        let tx = self.write_tx()?;
        let removal = self.removal(name, superseded_only)?;
        let sweep_id = self.sweep_id(name)?;
        if superseded_only {
            tx.execute(
                "DELETE FROM trials WHERE sweep_id = ?1 AND superseded_in IS NOT NULL",
                [sweep_id],
            )?;
        } else {
            tx.execute("DELETE FROM trials WHERE sweep_id = ?1", [sweep_id])?;
            tx.execute("DELETE FROM sweeps WHERE id = ?1", params![sweep_id])?;
        }
        tx.commit()?;
        Ok(removal)
    }

    /// The id of the sweep `name`; fails listing the sweeps when there is none.
    fn sweep_id(&self, name: &str) -> Result<i64> {
        let id = (self.conn)
            .query_row("SELECT id FROM sweeps WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = id {
            return Ok(id);
        }
        let mut stmt = self.conn.prepare("SELECT name FROM sweeps ORDER BY name")?;
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        bail!(
            "no sweep named \"{name}\" in {}; its sweeps: {}",
            self.path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )
    }
}
