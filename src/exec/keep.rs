//! `thaw run --keep best`: every trial that completes saves its final network as a candidate
//! (`<cache>/kept/<key>.safetensors`, its config beside it as `<key>.json`); when the run ends,
//! the process that started it chooses the winners by a validation metric, one per sweep or one
//! per configuration group (trials equal on every axis but the seed), records them in
//! `kept_models` and deletes the other candidates' files.

use super::plan::config_group;
use crate::data::Dataset;
use crate::exported::network;
use crate::model::Network;
use crate::spec::TrialSpec;
use crate::track::{Db, KeptModel, KEEP_METRICS};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Which trials win: one per sweep, or one per configuration group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepScope {
    /// The best trial of the sweep.
    Sweep,
    /// The best trial (seed) of every configuration.
    Config,
}

impl std::str::FromStr for KeepScope {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sweep" => Ok(KeepScope::Sweep),
            "config" => Ok(KeepScope::Config),
            other => bail!("--keep-scope {other}: expected sweep or config"),
        }
    }
}

/// What `--keep best` keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepPolicy {
    /// The `trial_summary` column winners are chosen by (a validation metric).
    pub metric: String,
    pub scope: KeepScope,
}

impl KeepPolicy {
    /// The policy, refusing metrics not in [`KEEP_METRICS`] (test metrics above all).
    pub fn new(metric: &str, scope: KeepScope) -> Result<KeepPolicy> {
        if !KEEP_METRICS.contains(&metric) {
            bail!(
                "--keep-metric {metric}: choose one of {} (models are chosen on validation \
                 metrics, never on test ones, so that the test accuracy of a kept model stays \
                 an unbiased estimate)",
                KEEP_METRICS.join(", ")
            );
        }
        Ok(KeepPolicy {
            metric: metric.to_string(),
            scope,
        })
    }

    /// Whether a lower value of the metric is better (losses).
    pub fn lower_is_better(&self) -> bool {
        self.metric.ends_with("_loss")
    }
}

/// The candidate weights file of trial `key` (its config is the same path ending in `.json`).
pub fn candidate_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join("kept").join(format!("{key}.safetensors"))
}

/// Saves the final network of the completed trial `key` as a candidate.
pub fn save_candidate(
    cache_dir: &Path,
    key: &str,
    trial: &TrialSpec,
    target: &Dataset,
    net: &Network,
) -> Result<()> {
    let config = network::config_of(key, trial, target, net);
    network::save(net, &config, &candidate_path(cache_dir, key))
}

/// A trial that may win: its configuration group and its value of the metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Contender {
    pub group: String,
    pub value: f64,
}

/// The winners among `contenders`, as (index, scope label) in index order: per scope the best
/// value (the lowest when `lower_is_better`), the earliest contender on a tie. The label is
/// `sweep`, or the contender's group.
pub fn winners(
    contenders: &[Contender],
    scope: KeepScope,
    lower_is_better: bool,
) -> Vec<(usize, String)> {
    let mut best: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in contenders.iter().enumerate() {
        let group = match scope {
            KeepScope::Sweep => "sweep",
            KeepScope::Config => c.group.as_str(),
        };
        let beats = |held: usize| {
            let held = contenders[held].value;
            if lower_is_better {
                c.value < held
            } else {
                c.value > held
            }
        };
        match best.get(group) {
            Some(&held) if !beats(held) => {}
            _ => {
                best.insert(group, i);
            }
        }
    }
    let mut out: Vec<(usize, String)> = best.into_iter().map(|(g, i)| (i, g.into())).collect();
    out.sort();
    out
}

/// What [`settle`] did for one sweep.
#[derive(Debug, Default)]
pub struct Settled {
    /// The kept models, with their trial keys.
    pub kept: Vec<(String, KeptModel)>,
    /// Completed trials with a value but no saved weights (completed without `--keep best`).
    pub without_weights: usize,
    /// Files of losing candidates deleted.
    pub deleted: usize,
}

/// Chooses the kept models of `sweep` as `policy` says among its completed trials that have
/// weights (a candidate file or an earlier kept file), records them and deletes the losers'
/// files.
pub fn settle(
    db_path: &Path,
    sweep: &str,
    policy: &KeepPolicy,
    cache_dir: &Path,
) -> Result<Settled> {
    let db = Db::open(db_path)?;
    let sweep_id: i64 = db
        .connection()
        .query_row("SELECT id FROM sweeps WHERE name = ?1", [sweep], |r| {
            r.get(0)
        })
        .with_context(|| format!("no sweep named {sweep} in {}", db_path.display()))?;
    let kept_before = db.kept_files(sweep_id)?;
    let mut settled = Settled::default();
    let mut entries = Vec::new();
    for c in db.keep_candidates(sweep_id, &policy.metric)? {
        let Some(value) = c.value.filter(|v| v.is_finite()) else {
            continue;
        };
        let file = kept_before
            .get(&c.trial_id)
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .or_else(|| Some(candidate_path(cache_dir, &c.key)).filter(|p| p.is_file()));
        match file {
            Some(file) => entries.push((c, value, file)),
            None => settled.without_weights += 1,
        }
    }
    let contenders = entries
        .iter()
        .map(|(c, value, _)| {
            Ok(Contender {
                group: config_group(&c.config_json)?,
                value: *value,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let won: HashMap<usize, String> = winners(&contenders, policy.scope, policy.lower_is_better())
        .into_iter()
        .collect();
    for (i, (c, value, file)) in entries.iter().enumerate() {
        match won.get(&i) {
            Some(scope) => {
                let file = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
                let row = KeptModel {
                    trial_id: c.trial_id,
                    path: file.display().to_string(),
                    metric: policy.metric.clone(),
                    value: Some(*value),
                    scope: scope.clone(),
                };
                settled.kept.push((c.key.clone(), row));
            }
            None => settled.deleted += remove_model_files(file)?,
        }
    }
    let rows: Vec<KeptModel> = settled.kept.iter().map(|(_, r)| r.clone()).collect();
    db.replace_kept(sweep_id, &rows)?;
    // Files kept earlier whose trial lost now, or left the grid.
    for (trial_id, path) in &kept_before {
        if !rows.iter().any(|r| r.trial_id == *trial_id) {
            settled.deleted += remove_model_files(Path::new(path))?;
        }
    }
    Ok(settled)
}

/// Deletes a weights file and its config; returns 1 when the weights file was there.
fn remove_model_files(weights: &Path) -> Result<usize> {
    let mut removed = 0;
    for (path, counts) in [
        (weights.to_path_buf(), 1),
        (weights.with_extension("json"), 0),
    ] {
        match std::fs::remove_file(&path) {
            Ok(()) => removed += counts,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot delete {}", path.display())),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(group: &str, value: f64) -> Contender {
        Contender {
            group: group.into(),
            value,
        }
    }

    #[test]
    fn one_winner_per_sweep_the_highest_accuracy_first_on_ties() {
        let all = [c("a", 0.7), c("b", 0.9), c("a", 0.9), c("b", 0.5)];
        assert_eq!(
            winners(&all, KeepScope::Sweep, false),
            [(1, "sweep".into())]
        );
    }

    #[test]
    fn one_winner_per_configuration_group() {
        let all = [
            c("a", 0.7),
            c("b", 0.6),
            c("a", 0.8),
            c("b", 0.9),
            c("c", 0.1),
        ];
        assert_eq!(
            winners(&all, KeepScope::Config, false),
            [(2, "a".into()), (3, "b".into()), (4, "c".into())]
        );
    }

    #[test]
    fn losses_are_kept_at_their_lowest() {
        let all = [c("a", 0.7), c("a", 0.2), c("b", 0.3), c("b", 0.3)];
        assert_eq!(winners(&all, KeepScope::Sweep, true), [(1, "sweep".into())]);
        assert_eq!(
            winners(&all, KeepScope::Config, true),
            [(1, "a".into()), (2, "b".into())]
        );
        assert!(winners(&[], KeepScope::Sweep, true).is_empty());
    }

    #[test]
    fn groups_differ_by_every_axis_but_the_seed() {
        let grid = crate::spec::parse_grid(
            Path::new("x.yaml"),
            "name: g\nseeds: [0, 1]\nsource: {dataset: mnist10k, classes: [0, 1]}\n\
             target: {dataset: mnist10k, classes: [2, 3], train_per_class: 5}\n\
             backbone: cnn4\nschedule: [{kind: constant, lr: 0.1}, {kind: constant, lr: 0.2}]\nepochs: 1\n",
            &crate::data::Files,
        )
        .unwrap();
        let group = |lr: f64, seed: u64| {
            let t = grid
                .trials
                .iter()
                .find(|t| t.schedule.lr == lr && t.seed == seed);
            config_group(&t.unwrap().config_json()).unwrap()
        };
        assert_eq!(group(0.1, 0), group(0.1, 1));
        assert_ne!(group(0.1, 0), group(0.2, 0));
        let label = group(0.2, 1);
        assert!(
            label.starts_with("config ") && label.contains("lr=0.2"),
            "{label}"
        );
        assert!(!label.contains("seed="), "{label}");
    }

    #[test]
    fn test_metrics_are_refused() {
        let err = KeepPolicy::new("final_test_acc", KeepScope::Sweep).unwrap_err();
        assert!(format!("{err}").contains("never on test"), "{err}");
        assert!(KeepPolicy::new("final_val_loss", KeepScope::Config)
            .unwrap()
            .lower_is_better());
    }
}
