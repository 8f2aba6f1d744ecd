//! Tests of choosing a sweep's best configuration on validation (`best.rs`).

use super::best::{best_configuration, fresh_seeds, seeds_used, without_seed};
use super::tests::{fresh, spec, start};
use super::TrialStatus;

/// Sweep `s` with configurations A (lr 0.01) and B (lr 0.02), seeds 0..3 each, completed with
/// the given (val, test) accuracies; B's seed 2 failed.
fn sweep(a: [(f64, f64); 3], b: [(f64, f64); 2]) -> (tempfile::TempDir, super::Db) {
    let (dir, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let mut position = 0;
    let mut add = |lr: f64, seed: u64, result: Option<(f64, f64)>| {
        let mut t = spec(seed);
        t.schedule.lr = lr;
        let key = format!("k{position}");
        db.register_trials(sid, &[(position, &key, &t)]).unwrap();
        position += 1;
        let id = start(&db, sid, &key, "cpu").unwrap();
        let status = match result {
            Some((val, test)) => {
                let m = vec![
                    ("train_loss".to_string(), 0.1),
                    ("val_acc".to_string(), val),
                    ("test_acc".to_string(), test),
                ];
                db.log_epoch(id, 4, &m).unwrap();
                TrialStatus::Completed
            }
            None => TrialStatus::Failed,
        };
        db.finish_trial(id, status, None).unwrap();
    };
    for (seed, r) in a.iter().enumerate() {
        add(0.01, seed as u64, Some(*r));
    }
    for (seed, r) in b.iter().enumerate() {
        add(0.02, seed as u64, Some(*r));
    }
    add(0.02, 2, None);
    (dir, db)
}

#[test]
fn the_best_configuration_is_chosen_by_mean_validation_accuracy_not_test() {
    // A: val 0.80 on average, test 0.90; B: val 0.85, test 0.70. B wins on validation.
    let (_d, db) = sweep(
        [(0.79, 0.90), (0.80, 0.91), (0.81, 0.89)],
        [(0.84, 0.70), (0.86, 0.70)],
    );
    let best = best_configuration(db.connection(), "s").unwrap().unwrap();
    assert_eq!(best.among, 2);
    assert_eq!(best.seeds, vec![(0, 0.84, 0.70), (1, 0.86, 0.70)]);
    assert!((best.mean_val() - 0.85).abs() < 1e-12);
    assert_eq!(best.test(), vec![0.70, 0.70]);
    let chosen: serde_json::Value = serde_json::from_str(&best.config_json).unwrap();
    assert_eq!(chosen["schedule"]["lr"], 0.02);
    assert_eq!(best.group, without_seed(&best.config_json).unwrap());
    assert!(!best.group.contains("\"seed\""));
    assert!(best_configuration(db.connection(), "other")
        .unwrap()
        .is_none());
}

#[test]
fn the_mean_decides_and_ties_go_to_more_seeds() {
    let (_d, db) = sweep(
        [(0.80, 0.1), (0.80, 0.2), (0.80, 0.3)],
        [(0.80, 0.4), (0.80, 0.5)],
    );
    let best = best_configuration(db.connection(), "s").unwrap().unwrap();
    assert_eq!(best.seeds.len(), 3, "A has more seeds at the same mean");
    let (_d, db) = sweep(
        [(0.80, 0.1), (0.80, 0.2), (0.60, 0.3)],
        [(0.75, 0.4), (0.75, 0.5)],
    );
    let best = best_configuration(db.connection(), "s").unwrap().unwrap();
    assert_eq!(
        best.seeds.len(),
        2,
        "B's mean 0.75 beats A's 0.733 despite fewer seeds"
    );
}

#[test]
fn fresh_seeds_skip_every_seed_the_sweep_used() {
    let (_d, db) = sweep([(0.5, 0.5); 3], [(0.5, 0.5); 2]);
    let used = seeds_used(db.connection(), "s").unwrap();
    assert_eq!(used, vec![0, 1, 2], "the failed trial's seed 2 counts too");
    assert_eq!(fresh_seeds(&used, 3), vec![3, 4, 5]);
    assert_eq!(fresh_seeds(&[0, 2, 5], 4), vec![1, 3, 4, 6]);
    assert!(fresh_seeds(&used, 0).is_empty());
}
