//! Writing notes and tags (`thaw note`, `thaw tag`) on a sweep or a trial of its current grid;
//! reading them and the checks are in [`crate::track::notes`].

use super::{now_rfc3339, Db};
use crate::track::notes::{check_tag, locate};
use anyhow::{bail, Context, Result};
use rusqlite::params;

impl Db {
    /// Adds a note to `sweep`, or to its trial `trial`; returns the note's id. Fails on an
    /// empty text and on an unknown sweep or trial (listing those that exist).
    pub fn add_note(&self, sweep: &str, trial: Option<&str>, text: &str) -> Result<i64> {
        let text = text.trim();
        if text.is_empty() {
            bail!("empty note: give its text, e.g. thaw note {sweep} \"lr too high at 10/class\"");
        }
        let tx = self.write_tx()?;
        let (sweep_id, trial_id) = locate(&tx, sweep, trial)?;
        tx.execute(
            "INSERT INTO notes (sweep_id, trial_id, text, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![sweep_id, trial_id, text, now_rfc3339()],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()
            .with_context(|| format!("storing the note in {}", self.path.display()))?;
        Ok(id)
    }

    /// Adds `tags` to `sweep`, or to its trial `trial`, in one transaction; returns how many
    /// were new (a tag already there is kept once). Fails, adding none, on an invalid tag (see
    /// [`check_tag`]) or an unknown sweep or trial.
    pub fn add_tags(&self, sweep: &str, trial: Option<&str>, tags: &[String]) -> Result<usize> {
        let tags = checked(tags)?;
        let tx = self.write_tx()?;
        let (sweep_id, trial_id) = locate(&tx, sweep, trial)?;
        let now = now_rfc3339();
        let mut added = 0;
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO tags (sweep_id, trial_id, tag, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for tag in tags {
                added += insert.execute(params![sweep_id, trial_id, tag, now])?;
            }
        }
        tx.commit()
            .with_context(|| format!("storing the tags in {}", self.path.display()))?;
        Ok(added)
    }

    /// Removes `tags` from `sweep`, or from its trial `trial`, in one transaction. Fails,
    /// removing none, when one of them is not there (naming the tags that are).
    pub fn remove_tags(&self, sweep: &str, trial: Option<&str>, tags: &[String]) -> Result<()> {
        let tags = checked(tags)?;
        let tx = self.write_tx()?;
        let (sweep_id, trial_id) = locate(&tx, sweep, trial)?;
        let present: Vec<String> = tx
            .prepare("SELECT tag FROM tags WHERE sweep_id = ?1 AND trial_id IS ?2 ORDER BY tag")?
            .query_map(params![sweep_id, trial_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let on = match trial {
            Some(key) => format!("trial \"{key}\" of sweep \"{sweep}\""),
            None => format!("sweep \"{sweep}\""),
        };
        if let Some(missing) = tags.iter().find(|t| !present.iter().any(|p| p == *t)) {
            if present.is_empty() {
                bail!("{on} has no tag \"{missing}\": it has no tags");
            }
            bail!(
                "{on} has no tag \"{missing}\"; its tags are: {}",
                present.join(", ")
            );
        }
        for tag in tags {
            tx.execute(
                "DELETE FROM tags WHERE sweep_id = ?1 AND trial_id IS ?2 AND tag = ?3",
                params![sweep_id, trial_id, tag],
            )?;
        }
        tx.commit()
            .with_context(|| format!("removing the tags in {}", self.path.display()))
    }
}

/// The tags, each checked by [`check_tag`]; an error when there are none.
fn checked(tags: &[String]) -> Result<Vec<&str>> {
    if tags.is_empty() {
        bail!("no tags given: name at least one, e.g. thaw tag SWEEP baseline");
    }
    tags.iter().map(|t| check_tag(t)).collect()
}
