//! Rung decisions through the database: taken against the sweep's other prunable trials of
//! the current grid, recorded once, reused when the trial reaches the rung again; merged with
//! their trial.

use super::*;
use crate::spec::early_stop::{EarlyStop, RungMetric};

fn asha(baselines: bool) -> EarlyStop {
    EarlyStop {
        metric: RungMetric::ValAcc,
        min_epochs: 1,
        reduction_factor: 2,
        max_epochs: None,
        baselines,
    }
}

/// A sweep of fine-tuned trials `a`..`e` (seeds 0..5) and a from-scratch baseline `s`.
fn sweep() -> (tempfile::TempDir, Db, i64, Vec<i64>) {
    let (d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let specs: Vec<TrialSpec> = (0..5).map(spec).collect();
    let mut scratch = spec(9);
    scratch.pretrained = false;
    let keys = ["a", "b", "c", "d", "e", "s"];
    let trials: Vec<(usize, &str, &TrialSpec)> = (specs.iter().chain([&scratch]))
        .zip(keys)
        .enumerate()
        .map(|(i, (t, k))| (i, k, t))
        .collect();
    db.register_trials(sid, &trials).unwrap();
    let ids = keys
        .iter()
        .map(|k| start(&db, sid, k, "cpu").unwrap())
        .collect();
    (d, db, sid, ids)
}

#[test]
fn each_decision_compares_with_the_records_before_it_and_is_taken_once() {
    let (_d, db, _sid, ids) = sweep();
    let es = asha(false);
    // η = 2: the best ⌊n/2⌋ (at least 1) continue.
    let arrivals = [(ids[0], 0.5), (ids[1], 0.7), (ids[2], 0.6), (ids[3], 0.4)];
    let got: Vec<(bool, i64, Option<f64>)> = arrivals
        .iter()
        .map(|&(id, v)| {
            let d = db.decide_rung(id, 1, 1, v, &es).unwrap();
            assert!(!d.reused);
            (d.continues, d.compared, d.cutoff)
        })
        .collect();
    assert_eq!(
        got,
        [
            (true, 1, Some(0.5)),
            (true, 2, Some(0.7)),
            (false, 3, Some(0.7)),
            (false, 4, Some(0.6))
        ]
    );
    // Reached again (resumed, requeued): the recorded decision, whatever the value now.
    let again = db.decide_rung(ids[3], 1, 1, 0.99, &es).unwrap();
    assert!(again.reused && !again.continues);
    assert_eq!((again.value, again.compared), (Some(0.4), 4));
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM rung_decisions"),
        Value::Integer(4)
    );
    assert_eq!(
        db.recorded_stop(ids[3], 3).unwrap().map(|d| d.rung),
        Some(1)
    );
    assert_eq!(db.recorded_stop(ids[3], 0).unwrap(), None);
    assert_eq!(db.recorded_stop(ids[1], 3).unwrap(), None);
}

#[test]
fn baselines_and_superseded_trials_are_not_compared_and_a_pruned_trial_is_not_claimed() {
    let (_d, db, _sid, ids) = sweep();
    let es = asha(true);
    // The baseline decides with baselines: true, then a trial of baselines: false ignores it.
    assert!(db.decide_rung(ids[5], 1, 1, 0.9, &es).unwrap().continues);
    let d = db.decide_rung(ids[0], 1, 1, 0.5, &asha(false)).unwrap();
    assert_eq!((d.compared, d.continues), (1, true));
    db.connection()
        .execute(
            "UPDATE trials SET superseded_in = 2 WHERE id = ?1",
            [ids[0]],
        )
        .unwrap();
    let d = db.decide_rung(ids[1], 1, 1, 0.1, &asha(false)).unwrap();
    assert_eq!(
        (d.compared, d.continues),
        (1, true),
        "superseded a is left out"
    );
    db.finish_trial(ids[2], TrialStatus::Pruned, None).unwrap();
    let sid: i64 = db
        .connection()
        .query_row("SELECT sweep_id FROM trials WHERE id = ?1", [ids[2]], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(db
        .claim(sid, "c", "cpu", &rules("other"))
        .unwrap()
        .is_none());
    let overview = db.sweep_overview().unwrap();
    assert_eq!(overview[0].count(TrialStatus::Pruned), 1);
}

#[test]
fn a_merge_carries_the_rung_decisions_with_their_trial() {
    let (d, db, _sid, ids) = sweep();
    db.decide_rung(ids[0], 1, 1, 0.5, &asha(false)).unwrap();
    db.decide_rung(ids[1], 1, 1, 0.4, &asha(false)).unwrap();
    db.finish_trial(ids[1], TrialStatus::Pruned, None).unwrap();
    let shard = db.path().to_path_buf();
    drop(db);
    let dest = d.path().join("merged.db");
    merge_shards(&dest, &[shard], None).unwrap();
    let merged = Db::open(&dest).unwrap();
    let rows: Vec<(String, i64, String)> = {
        let mut stmt = merged
            .connection()
            .prepare(
                "SELECT t.key, r.rung, r.decision || ' ' || t.status FROM rung_decisions r
                 JOIN trials t ON t.id = r.trial_id ORDER BY t.key",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert_eq!(
        rows,
        [
            ("a".to_string(), 1, "continue running".to_string()),
            ("b".to_string(), 1, "stop pruned".to_string())
        ]
    );
}
