//! A sweep's best configuration, chosen on validation: the completed trials of its current grid
//! grouped by configuration (every axis but the seed), the group with the highest mean final
//! validation accuracy. Its test accuracies, never used to choose, stay an estimate. Shared by
//! `thaw run --confirm-best` (which reruns it with fresh seeds) and the report's search section.

use anyhow::{Context, Result};
use rusqlite::Connection;

/// The suffix of the sweep that `thaw run --confirm-best` records a sweep's confirmation in.
pub const CONFIRM_SUFFIX: &str = ".confirm";

/// The best configuration of a sweep and its completed seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct BestConfig {
    /// The recorded configuration of its first trial (`trials.config_json`, seed included).
    pub config_json: String,
    /// The configuration without its seed, canonical JSON (keys sorted): what groups trials.
    pub group: String,
    /// Per completed seed, in grid order: `(seed, final_val_acc, final_test_acc)`.
    pub seeds: Vec<(i64, f64, f64)>,
    /// How many configurations it was chosen among.
    pub among: usize,
}

impl BestConfig {
    /// Mean final validation accuracy over its seeds (what it was chosen by).
    pub fn mean_val(&self) -> f64 {
        mean(self.seeds.iter().map(|s| s.1))
    }

    /// Its final test accuracies, one per seed.
    pub fn test(&self) -> Vec<f64> {
        self.seeds.iter().map(|s| s.2).collect()
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n.max(1) as f64
}

/// `config_json` without its `seed`, with sorted keys.
pub fn without_seed(config_json: &str) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(config_json)
        .context("a trial's recorded configuration is not JSON")?;
    if let Some(fields) = value.as_object_mut() {
        fields.remove("seed");
    }
    Ok(serde_json::to_string(&value)?)
}

/// The best configuration of `sweep` by mean final validation accuracy over its completed seeds
/// (ties: more seeds, then the earlier in the grid); `None` without a completed trial.
pub fn best_configuration(conn: &Connection, sweep: &str) -> Result<Option<BestConfig>> {
    let mut stmt = conn.prepare(
        "SELECT t.config_json, t.seed, s.final_val_acc, s.final_test_acc
         FROM trial_summary s JOIN trials t ON t.id = s.trial_id
         WHERE s.sweep = ?1 AND s.status = 'completed'
           AND s.final_val_acc IS NOT NULL AND s.final_test_acc IS NOT NULL
         ORDER BY t.position, t.id",
    )?;
    let rows = stmt.query_map([sweep], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, f64>(3)?,
        ))
    })?;
    let mut groups: Vec<BestConfig> = Vec::new();
    for row in rows {
        let (config_json, seed, val, test) = row?;
        let group = without_seed(&config_json)?;
        match groups.iter_mut().find(|g| g.group == group) {
            Some(g) => g.seeds.push((seed, val, test)),
            None => groups.push(BestConfig {
                config_json,
                group,
                seeds: vec![(seed, val, test)],
                among: 0,
            }),
        }
    }
    let among = groups.len();
    // Earlier groups win ties: `max_by` keeps the last maximum, so search from the end.
    let best = groups.into_iter().rev().max_by(|a, b| {
        (a.mean_val(), a.seeds.len())
            .partial_cmp(&(b.mean_val(), b.seeds.len()))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(best.map(|b| BestConfig { among, ..b }))
}

/// Every seed that trials of `sweep` use, in any status (also superseded ones), ascending.
pub fn seeds_used(conn: &Connection, sweep: &str) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT t.seed FROM trials t JOIN sweeps s ON s.id = t.sweep_id
         WHERE s.name = ?1 ORDER BY t.seed",
    )?;
    let seeds = stmt.query_map([sweep], |r| r.get(0))?;
    Ok(seeds.collect::<rusqlite::Result<_>>()?)
}

/// The `k` smallest seeds (0 and up) that `used` does not hold, ascending: the seeds of a
/// confirmation, fresh to the selection, and the same ones again when it is rerun.
pub fn fresh_seeds(used: &[i64], k: usize) -> Vec<u64> {
    (0u64..)
        .filter(|s| !used.contains(&(*s as i64)))
        .take(k)
        .collect()
}
