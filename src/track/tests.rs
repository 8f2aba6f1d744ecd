//! Tests of the database module against real SQLite files in temporary directories.

use super::*;
use crate::spec::{
    BackboneKind, DatasetSource, Freeze, Optimizer, Schedule, ScheduleKind, Shift, SourceTask,
    TargetTask, TrialSpec,
};
use rusqlite::types::Value;
use std::path::Path;

/// Claim rules of a lone runner that takes any unfinished trial.
fn rules(runner: &str) -> ClaimRules<'_> {
    ClaimRules {
        runner,
        environment: None,
        retry_failed: true,
        stale_after: std::time::Duration::from_secs(60),
        runner_is_dead: &|_| true,
    }
}

/// Starts a trial afresh, as a runner does for a pending trial: claim, drop old metrics.
pub(super) fn start(db: &Db, sweep_id: i64, key: &str, device: &str) -> anyhow::Result<i64> {
    let claimed = db
        .claim(sweep_id, key, device, &rules("test"))?
        .expect("claimable");
    db.truncate_metrics(claimed.trial_id, None)?;
    Ok(claimed.trial_id)
}

pub(super) fn spec(seed: u64) -> TrialSpec {
    TrialSpec {
        seed,
        backbone: BackboneKind::Cnn4,
        pretrained: true,
        freeze: Freeze::Blocks(2),
        source: SourceTask {
            task: Default::default(),
            dataset: DatasetSource::Bundled {
                name: "mnist10k".into(),
            },
            classes: vec![0, 1, 2, 3, 4],
            train_per_class: None,
            epochs: 3,
            lr: 0.05,
        },
        target: TargetTask {
            dataset: DatasetSource::Bundled {
                name: "fashion10k".into(),
            },
            classes: vec![5, 6, 7, 8, 9],
            train_per_class: 20,
            shift: Shift::Rotate { degrees: 45.0 },
        },
        schedule: Schedule {
            kind: ScheduleKind::Cosine { warmup_epochs: 1.0 },
            lr: 0.01,
            layer_decay: 1.0,
            gradual_unfreeze: false,
            probe_epochs: 0,
        },
        optimizer: Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
        },
        epochs: 4,
        batch_size: 32,
        image_size: 28,
        weights: None,
        input_size: None,
        precision: Default::default(),
        max_length: None,
        pooling: None,
    }
}

fn scalar(db: &Db, sql: &str) -> Value {
    db.connection().query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(super) fn fresh() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("thaw.db")).unwrap();
    (dir, db)
}

/// A fresh database with sweep `s` and its one trial `k1` running on the CPU: the sweep's and
/// the trial's ids.
fn one_running_trial() -> (tempfile::TempDir, Db, i64, i64) {
    let (d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    db.register_trials(sid, &[(0, "k1", &spec(1))]).unwrap();
    let t = start(&db, sid, "k1", "cpu").unwrap();
    (d, db, sid, t)
}

fn epoch(db: &Db, trial: i64, e: i64, vals: &[(&str, f64)]) {
    let v: Vec<(String, f64)> = vals.iter().map(|(k, x)| (k.to_string(), *x)).collect();
    db.log_epoch(trial, e, &v).unwrap();
}

#[test]
fn status_round_trips() {
    for s in TrialStatus::ALL {
        assert_eq!(s.as_str().parse::<TrialStatus>().unwrap(), s);
        assert_eq!(s.to_string(), s.as_str());
    }
    assert!("done".parse::<TrialStatus>().is_err());
}

#[test]
fn open_creates_schema_and_reopen_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/thaw.db");
    {
        let db = Db::open(&path).unwrap();
        assert_eq!(
            scalar(&db, "PRAGMA user_version"),
            Value::Integer(SCHEMA_VERSION)
        );
        assert_eq!(SCHEMA_VERSION, 9);
        assert_eq!(
            scalar(&db, "PRAGMA journal_mode"),
            Value::Text("wal".into())
        );
        assert_eq!(scalar(&db, "PRAGMA foreign_keys"), Value::Integer(1));
        db.upsert_sweep("s", "", "g.yaml", "name: s").unwrap();
    }
    let db = Db::open(&path).unwrap();
    assert_eq!(
        scalar(&db, "PRAGMA user_version"),
        Value::Integer(SCHEMA_VERSION)
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM sweeps"),
        Value::Integer(1)
    );
    let objects = scalar(
        &db,
        "SELECT count(*) FROM sqlite_master WHERE name IN
         ('sweeps','trials','metrics','pretrained','trial_summary','trial_metrics')",
    );
    assert_eq!(objects, Value::Integer(6));
}

#[test]
fn non_sqlite_file_is_rejected_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.yaml");
    std::fs::write(&path, "name: not a database\n".repeat(50)).unwrap();
    let err = refusal(&path);
    assert!(err.contains("not a thaw database (not SQLite)"), "{err}");
    let err = format!("{:#}", query_readonly(&path, "SELECT 1").unwrap_err());
    assert!(err.contains("not SQLite"), "{err}");
    // The file is left alone.
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("name: not"));
}

/// Why `Db::open` refuses `path`, a message that names it.
fn refusal(path: &Path) -> String {
    let err = format!("{:#}", Db::open(path).err().expect("must fail"));
    assert!(err.contains(&path.display().to_string()), "{err}");
    err
}

#[test]
fn foreign_sqlite_database_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER)")
        .unwrap();
    let err = refusal(&path);
    assert!(err.contains("another program"), "{err}");
}

#[test]
fn newer_schema_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thaw.db");
    drop(Db::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = refusal(&path);
    assert!(
        err.contains(&format!("newer thaw (schema 99 > {SCHEMA_VERSION})")),
        "{err}"
    );
}

#[test]
fn unwritable_path_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a parent directory should be: cannot be created, even as root.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let path = blocker.join("thaw.db");
    refusal(&path);
    let err = format!("{:#}", Db::open(dir.path()).err().expect("must fail"));
    assert!(err.contains("is a directory"), "{err}");
}

#[test]
fn upsert_sweep_keeps_id_and_updates_text() {
    let (_d, db) = fresh();
    let a = db.upsert_sweep("s", "first", "g.yaml", "v1").unwrap();
    let b = db.upsert_sweep("s", "second", "g2.yaml", "v2").unwrap();
    let c = db.upsert_sweep("t", "", "t.yaml", "t").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        scalar(
            &db,
            "SELECT spec_yaml || description || spec_path FROM sweeps WHERE name = 's'"
        ),
        Value::Text("v2secondg2.yaml".into())
    );
}

#[test]
fn register_twice_keeps_one_row_and_does_not_reset_completed() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let (s1, s2) = (spec(1), spec(2));
    let trials = vec![(0, "k1", &s1), (1, "k2", &s2)];
    db.register_trials(sid, &trials).unwrap();
    let t1 = start(&db, sid, "k1", "cpu").unwrap();
    epoch(&db, t1, 1, &[("train_loss", 0.5)]);
    db.finish_trial(t1, TrialStatus::Completed, None).unwrap();
    // Second run: order changed.
    let trials = vec![(0, "k2", &s2), (1, "k1", &s1)];
    db.register_trials(sid, &trials).unwrap();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM trials"),
        Value::Integer(2)
    );
    let st = db.trial_statuses(sid).unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st["k1"], TrialStatus::Completed);
    assert_eq!(st["k2"], TrialStatus::Pending);
    assert_eq!(
        scalar(&db, "SELECT position FROM trials WHERE key='k1'"),
        Value::Integer(1)
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(1)
    );
    // Copied columns.
    let row: (
        String,
        i64,
        String,
        i64,
        String,
        String,
        String,
        f64,
        String,
        String,
        i64,
    ) = db
        .connection()
        .query_row(
            "SELECT backbone, pretrained, freeze, frozen_blocks, source_dataset, target_dataset,
                    shift, shift_magnitude, schedule, optimizer, seed FROM trials WHERE key = 'k2'",
            [],
            |r| r.try_into(),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "cnn4".into(),
            1,
            "2".into(),
            2,
            "mnist10k".into(),
            "fashion10k".into(),
            "rotate 45".into(),
            45.0,
            s2.schedule.label(),
            "sgd".into(),
            2
        )
    );
    let cfg: String = db
        .connection()
        .query_row("SELECT config_json FROM trials WHERE key='k2'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(cfg, s2.config_json());
}

#[test]
fn start_trial_clears_old_metrics_and_unknown_key_fails() {
    let (_d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let s1 = spec(1);
    db.register_trials(sid, &[(0, "k1", &s1)]).unwrap();
    let t = start(&db, sid, "k1", "cuda:0").unwrap();
    epoch(&db, t, 0, &[("source_acc", 0.9)]);
    epoch(&db, t, 1, &[("train_loss", 1.0), ("val_loss", 1.1)]);
    db.finish_trial(t, TrialStatus::Failed, Some("boom"))
        .unwrap();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(3)
    );
    let t2 = start(&db, sid, "k1", "cpu").unwrap();
    assert_eq!(t, t2);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics"),
        Value::Integer(0)
    );
    assert_eq!(
        scalar(&db, "SELECT status || device || coalesce(error, '-') || coalesce(finished_at, '-') FROM trials"),
        Value::Text("runningcpu--".into())
    );
    assert!(start(&db, sid, "nope", "cpu").is_err());
    assert!(db
        .finish_trial(12345, TrialStatus::Completed, None)
        .is_err());
}

#[test]
fn summary_and_derived_metrics() {
    let (_d, db, _, t) = one_running_trial();
    // Epoch 0: before fine-tuning. Its val_loss is the lowest but must not count as best.
    epoch(
        &db,
        t,
        0,
        &[("source_acc", 0.95), ("val_loss", 0.01), ("test_acc", 0.1)],
    );
    epoch(
        &db,
        t,
        1,
        &[
            ("train_loss", 1.0),
            ("train_acc", 0.5),
            ("val_loss", 0.9),
            ("val_acc", 0.55),
            ("test_acc", 0.5),
            ("source_acc", 0.9),
            ("epoch_seconds", 2.0),
        ],
    );
    epoch(
        &db,
        t,
        2,
        &[
            ("train_loss", 0.5),
            ("train_acc", 0.8),
            ("val_loss", 0.6),
            ("val_acc", 0.7),
            ("test_acc", 0.72),
            ("source_acc", 0.8),
            ("epoch_seconds", 2.5),
        ],
    );
    epoch(
        &db,
        t,
        3,
        &[
            ("train_loss", 0.2),
            ("train_acc", 0.95),
            ("val_loss", 0.8),
            ("val_acc", 0.68),
            ("test_acc", 0.69),
            ("source_acc", 0.75),
            ("epoch_seconds", 3.0),
        ],
    );
    db.finish_trial(t, TrialStatus::Completed, None).unwrap();
    let (final_epoch, final_test, best_epoch, best_test, src0, src_final, secs, status): (
        i64,
        f64,
        i64,
        f64,
        f64,
        f64,
        f64,
        String,
    ) = db
        .connection()
        .query_row(
            "SELECT final_epoch, final_test_acc, best_epoch, best_test_acc, source_acc_pretrained,
                    source_acc_final, train_seconds, status FROM trial_summary WHERE trial_id = ?1",
            [t],
            |r| r.try_into(),
        )
        .unwrap();
    assert_eq!(final_epoch, 3);
    assert_eq!(final_test, 0.69);
    assert_eq!(best_epoch, 2);
    assert_eq!(best_test, 0.72);
    assert_eq!(src0, 0.95);
    assert_eq!(src_final, 0.75);
    assert_eq!(secs, 7.5);
    assert_eq!(status, "completed");
    let (forgetting, bwt, gap, late): (f64, f64, f64, f64) = db
        .connection()
        .query_row(
            "SELECT forgetting, bwt, generalization_gap, late_overfit FROM trial_metrics WHERE trial_id = ?1",
            [t],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert!((forgetting - 0.20).abs() < 1e-12);
    assert!((bwt + 0.20).abs() < 1e-12);
    assert!((gap - (0.95 - 0.68)).abs() < 1e-12);
    assert!((late - (0.72 - 0.69)).abs() < 1e-12);
}

#[test]
fn non_finite_values_are_stored_as_null_and_replaced_on_relog() {
    let (_d, db, sid, t) = one_running_trial();
    epoch(
        &db,
        t,
        1,
        &[
            ("train_loss", f64::NAN),
            ("val_loss", f64::INFINITY),
            ("val_acc", 0.3),
        ],
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM metrics WHERE value IS NULL"),
        Value::Integer(2)
    );
    epoch(&db, t, 1, &[("val_acc", 0.4)]);
    assert_eq!(
        scalar(&db, "SELECT value FROM metrics WHERE name = 'val_acc'"),
        Value::Real(0.4)
    );
    db.finish_trial(t, TrialStatus::Diverged, Some("loss is NaN"))
        .unwrap();
    assert_eq!(
        scalar(
            &db,
            "SELECT best_epoch IS NULL AND final_epoch = 1 FROM trial_summary"
        ),
        Value::Integer(1)
    );
    assert_eq!(db.trial_statuses(sid).unwrap()["k1"], TrialStatus::Diverged);
}

#[test]
fn pretrained_registry() {
    let (dir, db) = fresh();
    let ckpt = dir.path().join("p1.safetensors");
    std::fs::write(&ckpt, b"x").unwrap();
    db.record_pretrained("p1", "cnn4", "mnist10k", 3, &ckpt, 0.97, 12.5)
        .unwrap();
    db.record_pretrained("p1", "cnn4", "mnist10k", 3, &ckpt, 0.98, 12.0)
        .unwrap();
    assert_eq!(
        scalar(&db, "SELECT source_test_acc FROM pretrained"),
        Value::Real(0.98)
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM pretrained"),
        Value::Integer(1)
    );
}

#[test]
fn sweep_overview_counts() {
    let (_d, db) = fresh();
    let a = db.upsert_sweep("alpha", "", "a.yaml", "").unwrap();
    db.upsert_sweep("empty", "", "e.yaml", "").unwrap();
    let (s1, s2, s3) = (spec(1), spec(2), spec(3));
    db.register_trials(a, &[(0, "k1", &s1), (1, "k2", &s2), (2, "k3", &s3)])
        .unwrap();
    let t = start(&db, a, "k1", "cpu").unwrap();
    db.finish_trial(t, TrialStatus::Completed, None).unwrap();
    start(&db, a, "k2", "cpu").unwrap();
    let ov = db.sweep_overview().unwrap();
    assert_eq!(ov.len(), 2);
    assert_eq!(ov[0].name, "alpha");
    assert_eq!(
        (ov[0].total, ov[0].completed, ov[0].running, ov[0].pending),
        (3, 1, 1, 1)
    );
    assert_eq!((ov[1].total, ov[1].pending), (0, 0));
    let text = format_overview(&ov, false);
    assert!(text.starts_with("sweep"), "{text}");
    assert!(text.lines().nth(2).unwrap().starts_with("alpha"), "{text}");
    assert_eq!(text.lines().count(), 4);
    assert!(format_overview(&[], false).contains("no sweeps"));
}

#[path = "tests_query.rs"]
mod query;

#[path = "tests_claims.rs"]
mod claims;

#[path = "tests_versions.rs"]
mod versions;

#[path = "tests_classes.rs"]
mod classes;

#[path = "tests_notes.rs"]
mod notes;

#[path = "tests_rungs.rs"]
mod rungs;
