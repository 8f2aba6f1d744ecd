//! The models `thaw run --keep best` keeps: the completed trials they are chosen from, and the
//! `kept_models` rows of a sweep's winners.

use super::{now_rfc3339, Db};
use anyhow::{bail, Result};
use rusqlite::params;
use std::collections::HashMap;

/// A completed trial of a sweep's current grid, as the choice of the kept models sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeepCandidate {
    pub trial_id: i64,
    pub key: String,
    /// The trial's resolved configuration (`trials.config_json`).
    pub config_json: String,
    /// The value of the selection metric (`None` when not recorded).
    pub value: Option<f64>,
}

/// One `kept_models` row to write.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptModel {
    pub trial_id: i64,
    /// The safetensors file of the network.
    pub path: String,
    /// The `trial_summary` column the trial won by.
    pub metric: String,
    pub value: Option<f64>,
    /// `sweep`, or the configuration group it won.
    pub scope: String,
}

/// The `trial_summary` columns a model may be kept by: validation metrics of the final epoch,
/// the epoch whose network is kept.
pub const KEEP_METRICS: [&str; 2] = ["final_val_acc", "final_val_loss"];

impl Db {
    /// The completed trials of the sweep's current grid with their value of `metric` (one of
    /// [`KEEP_METRICS`]), in trial id order.
    pub fn keep_candidates(&self, sweep_id: i64, metric: &str) -> Result<Vec<KeepCandidate>> {
        if !KEEP_METRICS.contains(&metric) {
            bail!(
                "cannot keep models by {metric}: choose one of {}",
                KEEP_METRICS.join(", ")
            );
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT s.trial_id, s.key, t.config_json, s.{metric}
             FROM trial_summary s JOIN trials t ON t.id = s.trial_id
             WHERE t.sweep_id = ?1 AND s.status = 'completed' ORDER BY s.trial_id"
        ))?;
        let rows = stmt.query_map([sweep_id], |r| {
            Ok(KeepCandidate {
                trial_id: r.get(0)?,
                key: r.get(1)?,
                config_json: r.get(2)?,
                value: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The kept models of the sweep: file by trial id.
    pub fn kept_files(&self, sweep_id: i64) -> Result<HashMap<i64, String>> {
        let mut stmt = self.conn.prepare(
            "SELECT k.trial_id, k.path FROM kept_models k JOIN trials t ON t.id = k.trial_id
             WHERE t.sweep_id = ?1",
        )?;
        let rows = stmt.query_map([sweep_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Makes `kept` the sweep's kept models, in one transaction (rows of its other trials go).
    pub fn replace_kept(&self, sweep_id: i64, kept: &[KeptModel]) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            "DELETE FROM kept_models WHERE trial_id IN (SELECT id FROM trials WHERE sweep_id = ?1)",
            [sweep_id],
        )?;
        let now = now_rfc3339();
        for k in kept {
            tx.execute(
                "INSERT INTO kept_models (trial_id, path, metric, value, scope, kept_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.trial_id, k.path, k.metric, k.value, k.scope, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
