//! Notes and tags on sweeps and trials (`thaw note`, `thaw tag`; the `notes` and `tags` tables
//! of schema version 8): reading them, checking a tag, and finding the sweep or trial they go on,
//! with errors that list what exists. Writing them is [`super::Db`]'s (`writer/notes.rs`).
//!
//! Only trials of a sweep's current grid are read or annotated (`superseded_in IS NULL`).

use anyhow::{bail, Result};
use rusqlite::{params, Connection, OptionalExtension};

/// A note on a sweep (`trial_key` `None`) or one of its trials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub trial_key: Option<String>,
    pub text: String,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// A tag on a sweep (`trial_key` `None`) or one of its trials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub trial_key: Option<String>,
    pub tag: String,
}

/// How many trial keys an error lists before pointing at `thaw query` for the rest.
const LISTED_KEYS: usize = 10;

/// The notes of `sweep` and of its current trials, oldest first.
pub fn notes(conn: &Connection, sweep: &str) -> Result<Vec<Note>> {
    let mut stmt = conn.prepare(
        "SELECT t.key, n.text, n.created_at
         FROM notes n
         JOIN sweeps s ON s.id = n.sweep_id
         LEFT JOIN trials t ON t.id = n.trial_id
         WHERE s.name = ?1 AND (n.trial_id IS NULL OR t.superseded_in IS NULL)
         ORDER BY n.created_at, n.id",
    )?;
    let rows = stmt.query_map([sweep], |r| {
        Ok(Note {
            trial_key: r.get(0)?,
            text: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The tags of `sweep` and of its current trials: the sweep's first, then by trial key; each
/// one's tags sorted.
pub fn tags(conn: &Connection, sweep: &str) -> Result<Vec<Tag>> {
    let mut stmt = conn.prepare(
        "SELECT t.key, g.tag
         FROM tags g
         JOIN sweeps s ON s.id = g.sweep_id
         LEFT JOIN trials t ON t.id = g.trial_id
         WHERE s.name = ?1 AND (g.trial_id IS NULL OR t.superseded_in IS NULL)
         ORDER BY g.trial_id IS NOT NULL, t.key, g.tag",
    )?;
    let rows = stmt.query_map([sweep], |r| {
        Ok(Tag {
            trial_key: r.get(0)?,
            tag: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `tag` without surrounding spaces; an error saying what a tag may be when it is empty or
/// holds a comma or a space (`trial_summary.tags` joins a trial's tags with commas).
pub fn check_tag(tag: &str) -> Result<&str> {
    let t = tag.trim();
    if t.is_empty() {
        bail!("empty tag: a tag is one word, e.g. `baseline` or `needs-rerun`");
    }
    if t.contains(',') || t.chars().any(char::is_whitespace) {
        bail!(
            "tag \"{t}\" holds a comma or a space: a tag is one word (use - or _ between words, \
             e.g. `needs-rerun`)"
        );
    }
    Ok(t)
}

/// The ids of `sweep` and, when `trial` is given, of that trial of its current grid. Errors
/// name what was asked and list what exists: the sweeps of the database, or the sweep's trial
/// keys (the first [`LISTED_KEYS`]), or say that the trial left the sweep's grid.
pub fn locate(conn: &Connection, sweep: &str, trial: Option<&str>) -> Result<(i64, Option<i64>)> {
    let sweep_id: Option<i64> = conn
        .query_row("SELECT id FROM sweeps WHERE name = ?1", [sweep], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(sweep_id) = sweep_id else {
        let names: Vec<String> = conn
            .prepare("SELECT name FROM sweeps ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if names.is_empty() {
            bail!("no sweep named \"{sweep}\": the database holds no sweeps yet (`thaw run GRID`)");
        }
        bail!(
            "no sweep named \"{sweep}\"; the sweeps are: {} (`thaw ls` lists them)",
            names.join(", ")
        );
    };
    let Some(key) = trial else {
        return Ok((sweep_id, None));
    };
    let found: Option<(i64, Option<i64>)> = conn
        .query_row(
            "SELECT id, superseded_in FROM trials WHERE sweep_id = ?1 AND key = ?2",
            params![sweep_id, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match found {
        Some((id, None)) => Ok((sweep_id, Some(id))),
        Some((_, Some(version))) => bail!(
            "trial \"{key}\" left the grid of sweep \"{sweep}\" in its version {version}; notes \
             and tags go on trials of the current grid ({})",
            list_hint(sweep)
        ),
        None => {
            let keys: Vec<String> = conn
                .prepare(
                    "SELECT key FROM trials WHERE sweep_id = ?1 AND superseded_in IS NULL
                     ORDER BY position, id",
                )?
                .query_map([sweep_id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if keys.is_empty() {
                bail!("sweep \"{sweep}\" has no trials, so no trial \"{key}\"");
            }
            let more = if keys.len() > LISTED_KEYS {
                format!(", ... ({} in all)", keys.len())
            } else {
                String::new()
            };
            bail!(
                "sweep \"{sweep}\" has no trial \"{key}\"; its trials are: {}{more} ({})",
                keys[..keys.len().min(LISTED_KEYS)].join(", "),
                list_hint(sweep)
            )
        }
    }
}

/// The command that lists a sweep's trial keys.
fn list_hint(sweep: &str) -> String {
    format!(
        "`thaw query \"SELECT key FROM trial_summary WHERE sweep = '{}'\"` lists them",
        sweep.replace('\'', "''")
    )
}
