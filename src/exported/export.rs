//! `thaw export-model SWEEP|TRIAL_KEY`: a kept model's files copied into a folder with its
//! config and a model card written from the database.

use super::card::{self, CardFacts};
use super::config::ModelConfig;
use super::{CARD_FILE, CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::exec::plan::config_group;
use crate::metrics::aggregate::mean_ci95;
use crate::spec::BackboneKind;
use crate::track::query::{open_readonly, sweep_names};
use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OptionalExtension, Row};
use std::path::{Path, PathBuf};

/// The metrics the model card reports, from `trial_summary`.
const CARD_METRICS: [&str; 8] = [
    "final_test_acc",
    "final_val_acc",
    "final_val_loss",
    "final_train_acc",
    "best_val_acc",
    "best_test_acc",
    "ece",
    "forgetting",
];

/// One `kept_models` row with its trial and sweep.
struct Kept {
    trial_id: i64,
    sweep_id: i64,
    sweep: String,
    key: String,
    path: PathBuf,
    metric: String,
    value: Option<f64>,
    scope: String,
    kept_at: String,
}

const KEPT_SELECT: &str =
    "SELECT k.trial_id, t.sweep_id, s.name, t.key, k.path, k.metric, k.value, k.scope, k.kept_at
     FROM kept_models k JOIN trials t ON t.id = k.trial_id JOIN sweeps s ON s.id = t.sweep_id";

fn kept_row(r: &Row) -> rusqlite::Result<Kept> {
    Ok(Kept {
        trial_id: r.get(0)?,
        sweep_id: r.get(1)?,
        sweep: r.get(2)?,
        key: r.get(3)?,
        path: PathBuf::from(r.get::<_, String>(4)?),
        metric: r.get(5)?,
        value: r.get(6)?,
        scope: r.get(7)?,
        kept_at: r.get(8)?,
    })
}

/// Exports the kept models of sweep `what` (or the kept trial whose key is `what`) into `out`
/// (default `models/<what>`; one sub-folder per trial key when there are several). Returns the
/// folders written, with their trial keys.
pub fn export_model(db: &Path, what: &str, out: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    let sweeps = sweep_names(db)?;
    let conn = open_readonly(db)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 8 {
        bail!(
            "{} predates kept models (schema {version}); open it once with this thaw (`thaw ls \
             --db {}`) to upgrade it, then run the grid with --keep best",
            db.display(),
            db.display()
        );
    }
    let kept = find_kept(&conn, db, what, &sweeps)?;
    let out = out.map_or_else(|| Path::new("models").join(what), Path::to_path_buf);
    let mut written = Vec::new();
    for k in &kept {
        let dir = match kept.len() {
            1 => out.clone(),
            _ => out.join(&k.key),
        };
        write_model(&conn, k, &dir)?;
        written.push((k.key.clone(), dir));
    }
    Ok(written)
}

/// The kept models `what` names: a sweep's, or one trial's by key.
fn find_kept(conn: &Connection, db: &Path, what: &str, sweeps: &[String]) -> Result<Vec<Kept>> {
    let query = |cond: &str| -> Result<Vec<Kept>> {
        let mut stmt = conn.prepare(&format!("{KEPT_SELECT} WHERE {cond} ORDER BY t.position"))?;
        let rows = stmt.query_map([what], kept_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    if sweeps.iter().any(|s| s == what) {
        let kept = query("s.name = ?1")?;
        if kept.is_empty() {
            bail!(
                "sweep {what} has no kept model in {}: run its grid with `thaw run GRID \
                 --keep best` (only trials that complete under --keep best keep their network)",
                db.display()
            );
        }
        return Ok(kept);
    }
    let is_trial: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM trials WHERE key = ?1)",
        [what],
        |r| r.get(0),
    )?;
    let kept = query("t.key = ?1")?;
    match (kept.is_empty(), is_trial) {
        (false, _) => Ok(kept.into_iter().take(1).collect()),
        (true, true) => bail!(
            "trial {what} is not a kept model: only the winners of `thaw run --keep best` keep \
             their network (`thaw query \"SELECT * FROM kept_models\"` lists them)"
        ),
        (true, false) => bail!(
            "no sweep and no trial key {what} in {}; {}",
            db.display(),
            match sweeps {
                [] => "it holds no sweeps yet: run a grid with `thaw run GRID --keep best`".into(),
                _ => format!("its sweeps: {}", sweeps.join(", ")),
            }
        ),
    }
}

/// Writes one kept model's folder: weights, config, card (and a text model's tokenizer).
fn write_model(conn: &Connection, k: &Kept, dir: &Path) -> Result<()> {
    let sidecar = k.path.with_extension("json");
    if !k.path.is_file() || !sidecar.is_file() {
        bail!(
            "the kept model of trial {} is gone from {} (or its config {}); rerun the grid \
             with --keep best to keep it again",
            k.key,
            k.path.display(),
            sidecar.display()
        );
    }
    let config = ModelConfig::read_file(&sidecar)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    std::fs::copy(&k.path, dir.join(WEIGHTS_FILE))
        .with_context(|| format!("cannot copy {} into {}", k.path.display(), dir.display()))?;
    config.write(&dir.join(CONFIG_FILE))?;
    if config.trial.backbone == BackboneKind::MinilmL6 {
        let tokenizer = crate::paths::minilm_dir().join(TOKENIZER_FILE);
        if tokenizer.is_file() {
            std::fs::copy(&tokenizer, dir.join(TOKENIZER_FILE))
                .with_context(|| format!("cannot copy {}", tokenizer.display()))?;
        }
    }
    let facts = card_facts(conn, k, &config)?;
    let card = dir.join(CARD_FILE);
    std::fs::write(&card, card::render(&config, &facts))
        .with_context(|| format!("cannot write {}", card.display()))
}

/// What the model card needs from the database.
fn card_facts(conn: &Connection, k: &Kept, config: &ModelConfig) -> Result<CardFacts> {
    let (description, grid_yaml): (String, String) = conn.query_row(
        "SELECT description, spec_yaml FROM sweeps WHERE id = ?1",
        [k.sweep_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    // The completed trials of the same configuration (every axis but the seed).
    let group = config_group(&config.trial.config_json())?;
    let columns = CARD_METRICS.join(", ");
    let mut stmt = conn.prepare(&format!(
        "SELECT s.trial_id, t.config_json, {columns} FROM trial_summary s
         JOIN trials t ON t.id = s.trial_id WHERE t.sweep_id = ?1 AND s.status = 'completed'"
    ))?;
    let mut seeds: Vec<Vec<Option<f64>>> = Vec::new();
    let mut mine = vec![None; CARD_METRICS.len()];
    let rows = stmt.query_map([k.sweep_id], |r| {
        let values = (0..CARD_METRICS.len())
            .map(|i| r.get::<_, Option<f64>>(i + 2))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, values))
    })?;
    for row in rows {
        let (id, json, values) = row?;
        if id == k.trial_id {
            mine = values.clone();
        }
        if config_group(&json)? == group {
            seeds.push(values);
        }
    }
    let metrics = CARD_METRICS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let xs: Vec<f64> = seeds.iter().filter_map(|v| v[i]).collect();
            (name.to_string(), mine[i], mean_ci95(&xs))
        })
        .filter(|(_, value, ci)| value.is_some() || ci.n > 0)
        .collect();
    Ok(CardFacts {
        sweep: k.sweep.clone(),
        description,
        grid_yaml,
        metric: k.metric.clone(),
        value: k.value,
        scope: k.scope.clone(),
        kept_at: k.kept_at.clone(),
        metrics,
        class_counts: class_counts(conn, k.trial_id, config)?,
        environment: environment(conn, k.trial_id)?,
        trained: trained(conn, k.trial_id)?,
    })
}

/// Examples per output class in the trial's train, val and test splits.
fn class_counts(conn: &Connection, trial_id: i64, config: &ModelConfig) -> Result<Vec<[usize; 3]>> {
    let labels = &config.trial.target.classes;
    let mut counts = vec![[0usize; 3]; labels.len()];
    let mut stmt = conn.prepare(
        "SELECT f.split, f.label, count(*) FROM split_files f
         JOIN trials t ON t.split_key = f.split_key WHERE t.id = ?1 GROUP BY f.split, f.label",
    )?;
    let rows = stmt.query_map([trial_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, u32>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (split, label, n) = row?;
        let at = ["train", "val", "test"].iter().position(|s| *s == split);
        if let (Some(at), Some(class)) = (at, labels.iter().position(|&l| l == label)) {
            counts[class][at] = n as usize;
        }
    }
    Ok(counts)
}

/// The trial's recorded environment, when the database has one: every non-empty column but
/// the whole record.
fn environment(conn: &Connection, trial_id: i64) -> Result<Vec<(String, String)>> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'environments')",
        [],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(Vec::new());
    }
    let key: Option<String> = conn
        .query_row(
            "SELECT environment_key FROM trials WHERE id = ?1",
            [trial_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(key) = key else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare("SELECT * FROM environments WHERE key = ?1")?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut rows = stmt.query([&key])?;
    let Some(row) = rows.next()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let text = match row.get_ref(i)? {
            rusqlite::types::ValueRef::Null => continue,
            rusqlite::types::ValueRef::Integer(n) => n.to_string(),
            rusqlite::types::ValueRef::Real(x) => x.to_string(),
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            rusqlite::types::ValueRef::Blob(_) => continue,
        };
        if name != "record_json" && !text.is_empty() {
            out.push((name.clone(), text));
        }
    }
    Ok(out)
}

/// Where and when the trial trained.
fn trained(conn: &Connection, trial_id: i64) -> Result<Vec<(String, String)>> {
    let row: (Option<String>, Option<String>, Option<String>, Option<f64>) = conn.query_row(
        "SELECT device, started_at, finished_at, train_seconds FROM trial_summary WHERE trial_id = ?1",
        [trial_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let (device, started, finished, seconds) = row;
    Ok([
        ("device", device),
        ("started", started),
        ("finished", finished),
        ("training seconds", seconds.map(|s| format!("{s:.1}"))),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect())
}
