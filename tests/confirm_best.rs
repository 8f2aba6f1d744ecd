//! A searched sweep end to end on the real binary (CPU, seconds): `thaw run --confirm-best 2`
//! trains the configuration with the best mean final validation accuracy again with the two
//! smallest seeds the sweep never used, as sweep `NAME.confirm`, and the sweep's report shows
//! the search, the best so far, the choice and its confirmation.

mod common;

use common::{scalar, thaw, write_grid};
use rusqlite::Connection;

/// 4 random samples of the learning rate and the frozen blocks, 2 seeds each.
const GRID: &str = r#"
name: searched
seeds: [0, 1]
source:
  dataset: mnist10k
  classes: [0, 1, 2]
  train_per_class: 40
  epochs: 1
target:
  dataset: mnist10k
  classes: [5, 6, 7]
  train_per_class: 8
backbone: cnn4
freeze: 0
schedule: {kind: cosine, lr: 0.02}
optimizer: {kind: adamw, weight_decay: 0.01}
epochs: 2
batch_size: 8
image_size: 12
search:
  method: random
  trials: 4
  space:
    lr: {log_uniform: [1.0e-3, 1.0e-1]}
    freeze: {int: [0, 3]}
"#;

/// `(config without seed, mean final_val_acc)` of every configuration of `sweep`.
fn configurations(db: &std::path::Path, sweep: &str) -> Vec<(String, f64, Vec<i64>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT json_remove(t.config_json, '$.seed'), AVG(s.final_val_acc),
                    group_concat(t.seed)
             FROM trial_summary s JOIN trials t ON t.id = s.trial_id
             WHERE s.sweep = ?1 AND s.status = 'completed'
             GROUP BY 1 ORDER BY MIN(t.position)",
        )
        .unwrap();
    let rows = stmt
        .query_map([sweep], |r| {
            let seeds: String = r.get(2)?;
            Ok((
                r.get(0)?,
                r.get(1)?,
                seeds.split(',').map(|s| s.parse().unwrap()).collect(),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn confirm_best_reruns_the_validation_winner_with_fresh_seeds_and_the_report_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "searched.yaml", GRID);
    let grid = grid.to_str().unwrap();
    let out = thaw(
        dir.path(),
        &["run", grid, "--device", "cpu", "--confirm-best", "2"],
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let said = common::text(&out);
    assert!(
        said.contains("confirming sweep searched's best configuration"),
        "{said}"
    );
    let db = dir.path().join("thaw.sqlite");

    let searched = configurations(&db, "searched");
    assert_eq!(searched.len(), 4, "4 sampled configurations");
    // The highest mean; on a tie, the earlier configuration.
    let best = (searched.iter())
        .fold(None, |top: Option<&(String, f64, Vec<i64>)>, c| match top {
            Some(t) if t.1 >= c.1 => Some(t),
            _ => Some(c),
        })
        .unwrap();
    let confirmed = configurations(&db, "searched.confirm");
    assert_eq!(confirmed.len(), 1, "one configuration confirmed");
    assert_eq!(confirmed[0].0, best.0, "the validation winner");
    assert_eq!(confirmed[0].2, vec![2, 3], "the two smallest unused seeds");

    // Asking again trains nothing new: the same seeds, already completed.
    let again = thaw(
        dir.path(),
        &["run", grid, "--device", "cpu", "--confirm-best", "2"],
    );
    assert!(again.status.success(), "{}", common::text(&again));
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = 'searched.confirm'"),
        "2"
    );
    assert!(common::text(&again).contains("2 already done, 0 completed now"));

    let page = std::fs::read_to_string(dir.path().join("reports/searched/index.html")).unwrap();
    for text in [
        ">Search<",
        "random search, 4 samples, seed 0",
        "lr ~ log_uniform [0.001, 0.1]",
        "Best so far against training time",
        "among 4 configurations",
        "fresh seeds (searched.confirm)",
        "lower on fresh seeds than on the seeds it was chosen on",
    ] {
        assert!(page.contains(text), "the report lacks {text:?}");
    }
    // The confirmation sweep has its own report, without a Search cell of its own.
    let own =
        std::fs::read_to_string(dir.path().join("reports/searched.confirm/index.html")).unwrap();
    assert!(!own.contains(">Search<"));
}
