//! Tests of claims: which runner may take a trial, and that two never take the same one.

use super::*;

#[test]
fn claims_follow_status_liveness_and_retry_rules() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let s1 = spec(1);
    db.register_trials(sid, &[(0, "k1", &s1)]).unwrap();
    let alive = ClaimRules {
        runner: "b",
        environment: None,
        retry_failed: false,
        stale_after: std::time::Duration::from_secs(60),
        runner_is_dead: &|_| false,
    };
    let t = db
        .claim(sid, "k1", "cpu", &alive)
        .unwrap()
        .expect("pending is claimable");
    assert_eq!(t.previous, TrialStatus::Pending);
    epoch(&db, t.trial_id, 1, &[("train_loss", 1.0)]);
    // Another runner finds it running with a fresh heartbeat of a live runner: left alone.
    assert_eq!(db.claim(sid, "k1", "cuda:0", &alive).unwrap(), None);
    // A dead runner's trial is taken over, its metrics kept for the resume.
    let dead = ClaimRules {
        runner_is_dead: &|r| r == "b",
        runner: "c",
        ..alive
    };
    let again = db.claim(sid, "k1", "cuda:0", &dead).unwrap().unwrap();
    assert_eq!(again.previous, TrialStatus::Running);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(1)
    );
    assert_eq!(
        scalar(&db, "SELECT attempts || runner || device FROM trials"),
        Value::Text("2ccuda:0".into())
    );
    // A stale heartbeat is taken over too.
    db.connection()
        .execute(
            "UPDATE trials SET heartbeat_at = '2020-01-01T00:00:00Z'",
            [],
        )
        .unwrap();
    assert!(db.claim(sid, "k1", "cpu", &alive).unwrap().is_some());
    db.truncate_metrics(t.trial_id, Some(0)).unwrap();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(0)
    );
    // Failed trials are rerun only with retry_failed; completed ones never.
    db.finish_trial(t.trial_id, TrialStatus::Failed, Some("boom"))
        .unwrap();
    assert_eq!(db.claim(sid, "k1", "cpu", &alive).unwrap(), None);
    let retry = ClaimRules {
        retry_failed: true,
        ..alive
    };
    assert!(db.claim(sid, "k1", "cpu", &retry).unwrap().is_some());
    db.finish_trial(t.trial_id, TrialStatus::Completed, None)
        .unwrap();
    assert_eq!(db.claim(sid, "k1", "cpu", &retry).unwrap(), None);
    assert!(db.claim(sid, "nope", "cpu", &retry).is_err());
}

#[test]
fn two_runners_never_claim_the_same_trial() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thaw.db");
    let db = Db::open(&path).unwrap();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let specs: Vec<TrialSpec> = (0..20).map(spec).collect();
    let keys: Vec<String> = (0..specs.len()).map(|i| format!("k{i}")).collect();
    let trials: Vec<(usize, &str, &TrialSpec)> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| (i, keys[i].as_str(), s))
        .collect();
    db.register_trials(sid, &trials).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|r| {
            let (path, keys) = (path.clone(), keys.clone());
            std::thread::spawn(move || {
                let db = Db::open(&path).unwrap();
                let mut mine = Vec::new();
                for k in &keys {
                    let runner = format!("runner{r}");
                    let rules = ClaimRules {
                        runner: &runner,
                        environment: None,
                        retry_failed: false,
                        stale_after: std::time::Duration::from_secs(60),
                        runner_is_dead: &|_| false,
                    };
                    if let Some(Claimed { trial_id: t, .. }) =
                        db.claim(sid, k, "cpu", &rules).unwrap()
                    {
                        db.log_epoch(t, 1, &[("train_loss".into(), 1.0)]).unwrap();
                        db.finish_trial(t, TrialStatus::Completed, None).unwrap();
                        mine.push(k.clone());
                    }
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(all, expected);
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM trials WHERE status = 'completed'"
        ),
        Value::Integer(20)
    );
}
