//! Recording what a trial produced: its metrics per epoch, its splits, its domain distance,
//! and the pretrained checkpoints trials share.

use super::{now_rfc3339, to_i64, Db};
use anyhow::{Context, Result};
use rusqlite::params;
use std::collections::HashMap;
use std::path::Path;

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

impl Db {
    /// The last epoch with recorded metrics of a trial (`None`: nothing recorded).
    pub fn last_logged_epoch(&self, trial_id: i64) -> Result<Option<i64>> {
        Ok(self.conn.query_row(
            "SELECT MAX(epoch) FROM metrics WHERE trial_id = ?1",
            [trial_id],
            |r| r.get(0),
        )?)
    }

    /// Deletes the trial's metrics after epoch `keep_through` (all of them for `None`) and its
    /// per-class results (they belong to the final epoch, recorded again when it is reached),
    /// and records the resume point.
    pub fn truncate_metrics(&self, trial_id: i64, keep_through: Option<i64>) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            "DELETE FROM metrics WHERE trial_id = ?1 AND epoch > ?2",
            params![trial_id, keep_through.unwrap_or(-1)],
        )?;
        tx.execute("DELETE FROM confusion WHERE trial_id = ?1", [trial_id])?;
        tx.execute("DELETE FROM trial_classes WHERE trial_id = ?1", [trial_id])?;
        tx.execute(
            "UPDATE trials SET resumed_from_epoch = ?2 WHERE id = ?1",
            params![trial_id, keep_through],
        )?;
        tx.commit()?;
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
                let value = finite(*value);
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

    /// Replaces epoch `epoch`'s subset evaluation (`eval_subset`) by its full-split `values`,
    /// in one transaction.
    pub fn replace_subset_evaluation(
        &self,
        trial_id: i64,
        epoch: i64,
        values: &[(String, f64)],
    ) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            "DELETE FROM metrics WHERE trial_id = ?1 AND epoch = ?2 AND name = ?3",
            params![trial_id, epoch, crate::metrics::names::EVAL_SUBSET.name],
        )?;
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO metrics (trial_id, epoch, name, value) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (name, value) in values {
                stmt.execute(params![trial_id, epoch, name, finite(*value)])?;
            }
        }
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
                finite(source_test_acc),
                finite(seconds),
                now_rfc3339(),
            ],
        )?;
        Ok(())
    }
}
