//! Tests of [`merge_shards`] on real shard databases built through [`Db`].

use super::*;
use crate::spec::TrialSpec;
use crate::track::{ClaimRules, DomainRow, Environment, TrialStatus};
use rusqlite::types::Value;

/// How far a fixture trial got.
#[derive(Clone, Copy)]
enum State {
    Pending,
    /// Claimed, epochs 0..=n logged, still running.
    Running(i64),
    /// Claimed, epochs 0..=n logged, then finished with this status.
    Done(TrialStatus, i64),
}

/// Two trial specs of a tiny grid (any spec does: the merge copies columns, not meanings).
fn specs() -> Vec<TrialSpec> {
    let yaml = "name: g\nsource: {dataset: mnist10k, classes: [0, 1]}\n\
                target: {dataset: mnist10k, classes: [2, 3], train_per_class: 5}\n\
                backbone: cnn4\nschedule: {kind: constant, lr: 0.1}\nepochs: 3\nseeds: [1, 2]\n";
    crate::spec::parse_grid(Path::new("g.yaml"), yaml, &crate::data::Files)
        .unwrap()
        .trials
}

/// The environment of the runner of shard `name` (its host is the shard's name).
fn environment(name: &str) -> Environment {
    Environment {
        thaw_version: "0.1.0".into(),
        thaw_build: "git unknown, release, features: train".into(),
        semantics: crate::spec::SEMANTICS.into(),
        grid_path: Some("/grids/g.yaml".into()),
        grid_commit: None,
        grid_dirty: None,
        libtorch: Some("2.11.0".into()),
        cuda: None,
        cudnn: None,
        device: Some("cpu".into()),
        gpu_name: None,
        gpu_memory_mib: None,
        cpu_model: None,
        cpu_cores: Some(2),
        host: name.into(),
        os: "Linux".into(),
        command_line: format!("thaw run g.yaml --db {name}"),
    }
}

/// Creates the shard `dir/name` holding `trials` `(key, state)` of sweep `sweep`, claimed by a
/// runner of [`environment`]`(name)`; every metric value is `tag + epoch`, so tests can tell
/// which shard a trial's metrics came from.
fn shard(dir: &Path, name: &str, sweep: &str, trials: &[(&str, State)], tag: f64) -> PathBuf {
    let path = dir.join(name);
    let db = Db::open(&path).unwrap();
    let env = db.record_environment(&environment(name)).unwrap();
    let sid = db.upsert_sweep(sweep, "", "g.yaml", "name: g").unwrap();
    let specs = specs();
    let rows: Vec<(usize, &str, &TrialSpec)> = (trials.iter().enumerate())
        .map(|(i, (key, _))| (i, *key, &specs[i % specs.len()]))
        .collect();
    // As a real shard does: the whole grid (here k1..k4 and the shard's own keys) makes the
    // sweep's grid version, the shard registers rows for its share.
    let mut grid: Vec<(String, String)> = ["k1", "k2", "k3", "k4"]
        .iter()
        .map(|k| (k.to_string(), format!("{{\"trial\": \"{k}\"}}")))
        .collect();
    for &(key, _) in trials {
        if !grid.iter().any(|g| g.0 == key) {
            grid.push((key.to_string(), format!("{{\"trial\": \"{key}\"}}")));
        }
    }
    let grid: Vec<(&str, &str)> = grid.iter().map(|(k, c)| (k.as_str(), c.as_str())).collect();
    let trials_of_grid = crate::track::GridTrials {
        grid: &grid,
        share: &rows,
        semantics: crate::spec::SEMANTICS,
        rerun_outdated: false,
    };
    db.register_grid(sid, &trials_of_grid).unwrap();
    let rules = ClaimRules {
        runner: "host:1:x",
        environment: Some(&env),
        retry_failed: true,
        stale_after: std::time::Duration::from_secs(60),
        runner_is_dead: &|_| true,
    };
    for &(key, state) in trials {
        let (last, status) = match state {
            State::Pending => continue,
            State::Running(n) => (n, None),
            State::Done(status, n) => (n, Some(status)),
        };
        let id = db.claim(sid, key, "cpu", &rules).unwrap().unwrap().trial_id;
        for e in 0..=last {
            let x = tag + e as f64;
            let values = [("train_loss", x), ("val_loss", x), ("test_acc", x)];
            let values: Vec<(String, f64)> =
                values.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            db.log_epoch(id, e, &values).unwrap();
        }
        if let Some(status) = status {
            db.finish_trial(id, status, None).unwrap();
        }
    }
    path
}

fn open(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

fn scalar(path: &Path, sql: &str) -> Value {
    open(path).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The rows of `sql` on the database at `path`.
fn rows_of(path: &Path, sql: &str) -> Vec<Vec<Value>> {
    let conn = open(path);
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Every row of every table, in a fixed order: equal dumps, equal databases.
fn dump(path: &Path) -> Vec<Vec<Value>> {
    let tables = [
        "sweeps",
        "trials",
        "metrics",
        "pretrained",
        "split_files",
        "domain_distance",
        "environments",
    ];
    (tables.iter())
        .flat_map(|t| rows_of(path, &format!("SELECT * FROM {t} ORDER BY 1, 2, 3")))
        .collect()
}

/// `status/train_loss at the trial's last epoch/metric rows` of trial `key`.
fn trial(path: &Path, key: &str) -> String {
    let sql = format!(
        "SELECT t.status || '/' || coalesce(s.final_train_loss, '-') || '/' ||
                (SELECT count(*) FROM metrics m WHERE m.trial_id = t.id)
         FROM trials t JOIN trial_summary s ON s.trial_id = t.id WHERE t.key = '{key}'"
    );
    match scalar(path, &sql) {
        Value::Text(s) => s,
        other => panic!("{other:?}"),
    }
}

fn assert_sound(path: &Path) {
    let conn = open(path);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let fk: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
}

/// Trials added, updated, unchanged.
fn counts(s: &MergeSummary) -> (usize, usize, usize) {
    (s.trials_added, s.trials_updated, s.trials_unchanged)
}

fn message(result: Result<MergeSummary>) -> String {
    format!("{:#}", result.expect_err("must be refused"))
}

const COMPLETED: State = State::Done(TrialStatus::Completed, 3);

/// Shard `a.db` of sweep `s`: `k1` completed, `k2` running at epoch 1.
fn shard_a(d: &Path) -> PathBuf {
    shard(
        d,
        "a.db",
        "s",
        &[("k1", COMPLETED), ("k2", State::Running(1))],
        10.0,
    )
}

#[test]
fn disjoint_shards_merge_to_their_union_with_metrics_and_shared_rows() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = shard_a(d);
    let b = shard(
        d,
        "b.db",
        "s",
        &[("k3", COMPLETED), ("k4", State::Pending)],
        20.0,
    );
    let db = Db::open(&a).unwrap();
    db.record_pretrained("p1", "cnn4", "mnist10k", 1, Path::new("p1.st"), 0.9, 1.0)
        .unwrap();
    let split = [("train".to_string(), "x/1.png".to_string(), 2u32)];
    db.record_split(1, "sk", &split).unwrap();
    let row = DomainRow {
        key: "dk",
        pretrained_key: "p1",
        target_dataset: "t",
        shift: "none",
        proxy_a: 1.0,
        mmd2: 0.5,
        frechet: 2.0,
        n_source: 10,
        n_target: 10,
    };
    db.record_domain_distance(&row).unwrap();
    drop(db);
    let db = Db::open(&b).unwrap();
    db.record_pretrained("p1", "cnn4", "mnist10k", 1, Path::new("p1.st"), 0.9, 1.0)
        .unwrap();
    db.record_pretrained("p2", "cnn4", "mnist10k", 2, Path::new("p2.st"), 0.8, 1.0)
        .unwrap();
    drop(db);

    let dest = d.join("out/sweep.db");
    let names = ["s".to_string()];
    let summary = merge_shards(&dest, &[a, b], Some(&names)).unwrap();
    assert_eq!((summary.shards, counts(&summary)), (2, (4, 0, 0)));
    assert_eq!(
        summary.shared_rows_added, 6,
        "p1, p2, one split file, one distance, two environments"
    );
    let [s] = &summary.sweeps[..] else {
        panic!("{:?}", summary.sweeps)
    };
    assert_eq!(
        (s.name.as_str(), s.total, s.completed, s.running, s.pending),
        ("s", 4, 2, 1, 1)
    );

    assert_eq!(trial(&dest, "k1"), "completed/13.0/12");
    assert_eq!(trial(&dest, "k2"), "running/11.0/6");
    assert_eq!(trial(&dest, "k3"), "completed/23.0/12");
    assert_eq!(trial(&dest, "k4"), "pending/-/0");
    assert_eq!(
        scalar(
            &dest,
            "SELECT count(*) FROM trial_summary WHERE sweep = 's'"
        ),
        Value::Integer(4)
    );
    assert_eq!(
        scalar(&dest, "SELECT count(*) FROM sweeps"),
        Value::Integer(1)
    );
    let sql = "SELECT group_concat(key) FROM (SELECT key FROM pretrained ORDER BY key)";
    assert_eq!(scalar(&dest, sql), Value::Text("p1,p2".into()));
    let sql = "SELECT path || label || position FROM split_files WHERE split_key = 'sk'";
    assert_eq!(scalar(&dest, sql), Value::Text("x/1.png20".into()));
    assert_eq!(
        scalar(&dest, "SELECT mmd2 FROM domain_distance"),
        Value::Real(0.5)
    );
    assert_sound(&dest);
}

#[test]
fn the_environments_of_every_shard_are_merged_with_their_trials_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = shard_a(d);
    let b = shard(d, "b.db", "s", &[("k3", COMPLETED)], 20.0);
    let dest = d.join("sweep.db");
    merge_shards(&dest, &[a, b], None).unwrap();
    let sql = "SELECT t.key, e.host, e.record_json FROM trials t
               JOIN environments e ON e.key = t.environment_key ORDER BY t.key";
    let rows = rows_of(&dest, sql);
    let hosts: Vec<(Value, Value)> = (rows.iter())
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    let pair = |k: &str, h: &str| (Value::Text(k.into()), Value::Text(h.into()));
    assert_eq!(
        hosts,
        [pair("k1", "a.db"), pair("k2", "a.db"), pair("k3", "b.db")]
    );
    let Value::Text(json) = &rows[2][2] else {
        panic!("{:?}", rows[2])
    };
    let record: Environment = serde_json::from_str(json).unwrap();
    assert_eq!(record, environment("b.db"));
    assert_eq!(
        scalar(&dest, "SELECT count(*) FROM environments"),
        Value::Integer(2)
    );
}

#[test]
fn merging_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = shard_a(d);
    let b = shard(
        d,
        "b.db",
        "t",
        &[("k3", State::Done(TrialStatus::Failed, 0))],
        20.0,
    );
    Db::open(&b)
        .unwrap()
        .record_pretrained("p", "cnn4", "m", 1, Path::new("p"), 0.9, 1.0)
        .unwrap();
    let dest = d.join("sweep.db");
    let shards = [a.clone(), b.clone()];
    merge_shards(&dest, &shards, None).unwrap();
    let before = dump(&dest);
    assert_eq!(before.len(), 2 + 3 + 12 + 6 + 3 + 1 + 2);
    // Again, and with a shard listed twice.
    let again = merge_shards(&dest, &[a.clone(), b, a], None).unwrap();
    assert_eq!(again.shards, 3);
    assert_eq!(counts(&again), (0, 0, 3));
    assert_eq!(again.shared_rows_added, 0);
    assert_eq!(dump(&dest), before);
    assert_sound(&dest);
}

#[test]
fn the_most_advanced_record_wins_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let interrupted = State::Done(TrialStatus::Interrupted, 2);
    let a = shard(
        d,
        "a.db",
        "s",
        &[("k1", interrupted), ("k2", State::Running(1))],
        10.0,
    );
    let b = shard(
        d,
        "b.db",
        "s",
        &[("k1", COMPLETED), ("k2", State::Running(2))],
        20.0,
    );
    let c = shard(
        d,
        "c.db",
        "s",
        &[("k1", State::Pending), ("k2", State::Pending)],
        30.0,
    );
    for (name, order) in [
        ("abc", [&a, &b, &c]),
        ("cba", [&c, &b, &a]),
        ("bac", [&b, &a, &c]),
    ] {
        let dest = d.join(format!("{name}.db"));
        let shards: Vec<PathBuf> = order.iter().map(|p| p.to_path_buf()).collect();
        let summary = merge_shards(&dest, &shards, None).unwrap();
        assert_eq!(summary.trials_added, 2, "{name}");
        assert_eq!(trial(&dest, "k1"), "completed/23.0/12", "{name}");
        assert_eq!(
            trial(&dest, "k2"),
            "running/22.0/9",
            "{name}: the later epoch"
        );
        let sql = "SELECT count(*) FROM metrics WHERE value < 20 OR value >= 30";
        assert_eq!(
            scalar(&dest, sql),
            Value::Integer(0),
            "{name}: only b's metrics"
        );
        assert_sound(&dest);
    }
    // One at a time: the interrupted record, then the completed one replaces it.
    let dest = d.join("steps.db");
    merge_shards(&dest, &[a], None).unwrap();
    assert_eq!(trial(&dest, "k1"), "interrupted/12.0/9");
    let summary = merge_shards(&dest, std::slice::from_ref(&b), None).unwrap();
    assert_eq!(counts(&summary), (0, 2, 0));
    assert_eq!(trial(&dest, "k1"), "completed/23.0/12");
    let cols =
        "SELECT runner || attempts || started_at || finished_at FROM trials WHERE key = 'k1'";
    assert_eq!(scalar(&dest, cols), scalar(&b, cols), "every column copied");
    assert_sound(&dest);
}

#[test]
fn a_completed_destination_trial_is_not_overwritten_by_a_lesser_copy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The destination ran k1 itself.
    let dest = shard(d, "sweep.db", "s", &[("k1", COMPLETED)], 10.0);
    let k1 = "SELECT t.*, m.* FROM trials t JOIN metrics m ON m.trial_id = t.id
              WHERE t.key = 'k1' ORDER BY m.name, m.epoch";
    let before = rows_of(&dest, k1);
    let running = shard(
        d,
        "r.db",
        "s",
        &[("k1", State::Running(3)), ("k2", State::Pending)],
        20.0,
    );
    let pending = shard(d, "p.db", "s", &[("k1", State::Pending)], 30.0);
    let summary = merge_shards(&dest, &[running, pending], None).unwrap();
    assert_eq!(counts(&summary), (1, 0, 1));
    assert_eq!(rows_of(&dest, k1), before, "k1 and its metrics untouched");
    assert_eq!(trial(&dest, "k1"), "completed/13.0/12");
    assert_eq!(trial(&dest, "k2"), "pending/-/0");
    assert_sound(&dest);
}

#[path = "tests_merge_checks.rs"]
mod checks;
