//! Grid versions, outdated trials and `thaw rm`: registering edited grids and a new training
//! semantics against a real database.

use super::*;
use crate::track::writer::GridTrials;
use rusqlite::types::Value;

/// Registers `keys` (with their specs) as the whole grid under `semantics`.
fn register(
    db: &Db,
    sid: i64,
    trials: &[(&str, &TrialSpec)],
    semantics: &str,
    rerun_outdated: bool,
) -> Registration {
    let configs: Vec<String> = trials.iter().map(|t| t.1.config_json()).collect();
    let grid: Vec<(&str, &str)> = (trials.iter().zip(&configs))
        .map(|(t, c)| (t.0, c.as_str()))
        .collect();
    let share: Vec<(usize, &str, &TrialSpec)> = (trials.iter().enumerate())
        .map(|(i, t)| (i, t.0, t.1))
        .collect();
    db.register_grid(
        sid,
        &GridTrials {
            grid: &grid,
            share: &share,
            semantics,
            rerun_outdated,
        },
    )
    .unwrap()
}

fn complete(db: &Db, sid: i64, key: &str) {
    let id = start(db, sid, key, "cpu").unwrap();
    db.log_epoch(
        id,
        1,
        &[("train_loss".into(), 0.5), ("test_acc".into(), 0.75)],
    )
    .unwrap();
    db.finish_trial(id, TrialStatus::Completed, None).unwrap();
}

fn keys(db: &Db, sql: &str) -> Vec<String> {
    let mut stmt = db.connection().prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn an_edited_grid_keeps_its_trials_supersedes_the_removed_ones_and_restores_them() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "v1").unwrap();
    let (s1, s2, s3) = (spec(1), spec(2), spec(3));
    let first = register(&db, sid, &[("k1", &s1), ("k2", &s2)], "sem", false);
    assert_eq!(
        (first.version, first.new_version, first.added),
        (1, true, 2)
    );
    complete(&db, sid, "k1");
    complete(&db, sid, "k2");
    // The same grid again: nothing changes.
    let again = register(&db, sid, &[("k1", &s1), ("k2", &s2)], "sem", false);
    assert_eq!(
        (again.version, again.new_version, again.added),
        (1, false, 0)
    );

    // Seed 2 removed, seed 3 added.
    db.upsert_sweep("s", "", "g.yaml", "v2").unwrap();
    let edited = register(&db, sid, &[("k1", &s1), ("k3", &s3)], "sem", false);
    assert_eq!(
        (
            edited.version,
            edited.new_version,
            edited.added,
            edited.superseded
        ),
        (2, true, 1, 1)
    );
    let all = "SELECT key FROM trials ORDER BY key";
    assert_eq!(keys(&db, all), ["k1", "k2", "k3"], "kept in the database");
    assert_eq!(
        keys(&db, "SELECT key FROM trial_summary ORDER BY key"),
        ["k1", "k3"],
        "hidden from the views"
    );
    assert_eq!(
        scalar(&db, "SELECT superseded_in FROM trials WHERE key = 'k2'"),
        Value::Integer(2)
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT status || grid_version FROM trials WHERE key = 'k3'"
        ),
        Value::Text("pending2".into())
    );
    let versions = "SELECT group_concat(version || ':' || trials || '+' || added || '-' || superseded || ':' || spec_yaml, ' ') FROM sweep_versions";
    assert_eq!(
        scalar(&db, versions),
        Value::Text("1:2+2-0:v1 2:2+1-1:v2".into())
    );
    let ov = db.sweep_overview().unwrap();
    assert_eq!(
        (
            ov[0].version,
            ov[0].total,
            ov[0].completed,
            ov[0].superseded
        ),
        (2, 2, 1, 1)
    );
    assert!(!format_overview(&ov, false).contains("superseded\n"));
    assert!(format_overview(&ov, true).contains("superseded"));

    // Seed 2 back: its completed record returns, nothing is rerun.
    let restored = register(
        &db,
        sid,
        &[("k1", &s1), ("k2", &s2), ("k3", &s3)],
        "sem",
        false,
    );
    assert_eq!(
        (restored.version, restored.added, restored.restored),
        (3, 0, 1)
    );
    assert_eq!(
        keys(&db, "SELECT key || status FROM trial_summary ORDER BY key"),
        ["k1completed", "k2completed", "k3pending"]
    );
}

#[test]
fn a_new_semantics_marks_trials_outdated_without_deleting_or_rerunning_them() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "v1").unwrap();
    let (s1, s2) = (spec(1), spec(2));
    let (old1, old2) = (s1.key_under("fp", "old"), s2.key_under("fp", "old"));
    register(&db, sid, &[(&old1, &s1), (&old2, &s2)], "old", false);
    complete(&db, sid, &old1);
    // Seed 2 never finished under the old semantics.

    let new = crate::spec::SEMANTICS;
    let (new1, new2) = (s1.key("fp"), s2.key("fp"));
    assert_ne!(old1, new1, "the semantics is part of the key");
    let bumped = register(&db, sid, &[(&new1, &s1), (&new2, &s2)], new, false);
    assert_eq!(
        bumped.outdated,
        [(new1.clone(), old1.clone())].into_iter().collect(),
        "the finished trial stands in; the unfinished one is run anew"
    );
    assert_eq!((bumped.added, bumped.superseded), (1, 1));
    let summary =
        "SELECT key || ':' || semantics || ':' || status FROM trial_summary ORDER BY seed";
    assert_eq!(
        keys(&db, summary),
        [
            format!("{old1}:old:completed"),
            format!("{new2}:{new}:pending")
        ]
    );
    assert_eq!(db.sweep_overview().unwrap()[0].outdated, 1);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM trials"),
        Value::Integer(3),
        "nothing deleted"
    );

    let rerun = register(&db, sid, &[(&new1, &s1), (&new2, &s2)], new, true);
    assert!(rerun.outdated.is_empty());
    assert_eq!((rerun.added, rerun.superseded), (1, 1));
    assert_eq!(
        keys(&db, summary),
        [
            format!("{new1}:{new}:pending"),
            format!("{new2}:{new}:pending")
        ]
    );
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT status FROM trials WHERE key = '{old1}'")
        ),
        Value::Text("completed".into()),
        "the old record is kept, superseded"
    );
}

#[test]
fn rm_deletes_superseded_trials_or_the_whole_sweep_and_names_what_exists() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "v1").unwrap();
    let other = db.upsert_sweep("t", "", "t.yaml", "t").unwrap();
    let (s1, s2) = (spec(1), spec(2));
    register(&db, sid, &[("k1", &s1), ("k2", &s2)], "sem", false);
    register(&db, other, &[("k1", &s1)], "sem", false);
    complete(&db, sid, "k2");
    register(&db, sid, &[("k1", &s1)], "sem", false);

    let plan = db.removal("s", true).unwrap();
    assert_eq!((plan.trials, plan.completed, plan.metrics), (1, 1, 2));
    assert_eq!(db.remove("s", true).unwrap(), plan);
    assert_eq!(
        keys(
            &db,
            "SELECT s.name || t.key FROM trials t JOIN sweeps s ON s.id = t.sweep_id ORDER BY 1"
        ),
        ["sk1", "tk1"]
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(0)
    );

    let whole = db.remove("s", false).unwrap();
    assert_eq!(whole.trials, 1);
    assert_eq!(keys(&db, "SELECT name FROM sweeps"), ["t"]);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM sweep_versions"),
        Value::Integer(1)
    );
    let err = format!("{:#}", db.removal("nope", false).unwrap_err());
    assert!(
        err.contains("no sweep named \"nope\"") && err.contains("its sweeps: t"),
        "{err}"
    );
}
