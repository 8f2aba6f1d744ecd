//! Recording a trial's per-class results at its final epoch: its class names (`trial_classes`)
//! and the confusion counts of its evaluation splits (`confusion`), read through the
//! `class_accuracy` view.

use super::{to_i64, Db};
use crate::metrics::Confusion;
use anyhow::{bail, Context, Result};
use rusqlite::params;

impl Db {
    /// Replaces the trial's class names (in the order of its classifier's outputs) and the
    /// confusion counts of each (`val` or `test`) split, in one transaction. Only non-zero cells
    /// are stored. Fails when a confusion has another number of classes than `names`.
    pub fn record_classes(
        &self,
        trial_id: i64,
        names: &[String],
        splits: &[(&str, &Confusion)],
    ) -> Result<()> {
        for (split, c) in splits {
            if c.classes() != names.len() {
                bail!(
                    "the {split} confusion of trial {trial_id} has {} classes, its names {}",
                    c.classes(),
                    names.len()
                );
            }
        }
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM trial_classes WHERE trial_id = ?1", [trial_id])?;
        tx.execute("DELETE FROM confusion WHERE trial_id = ?1", [trial_id])?;
        {
            let mut name = tx
                .prepare("INSERT INTO trial_classes (trial_id, class, name) VALUES (?1, ?2, ?3)")?;
            for (class, n) in names.iter().enumerate() {
                name.execute(params![trial_id, to_i64(class as u64, "class")?, n])?;
            }
            let mut cell = tx.prepare(
                "INSERT INTO confusion (trial_id, split, actual, predicted, count)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (split, c) in splits {
                for (actual, predicted, count) in c.cells() {
                    cell.execute(params![
                        trial_id,
                        split,
                        to_i64(actual as u64, "class")?,
                        to_i64(predicted as u64, "class")?,
                        to_i64(count, "count")?
                    ])?;
                }
            }
        }
        tx.commit().with_context(|| {
            format!(
                "recording the per-class results of trial {trial_id} in {}",
                self.path.display()
            )
        })
    }
}
