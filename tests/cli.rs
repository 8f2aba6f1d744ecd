//! End-to-end tests of the real `thaw` binary on a tiny sweep (CPU, seconds).

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Runs `thaw` with the database, reports and cache inside `dir`.
fn thaw(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(args)
        .current_dir(dir)
        .env("THAW_DB", dir.join("thaw.sqlite"))
        .env("THAW_REPORTS", dir.join("reports"))
        .env("THAW_DATA", data_dir())
        .env_remove("THAW_CACHE")
        .output()
        .expect("the thaw binary runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const TINY: &str = r#"
name: tiny
description: A tiny sweep for the integration test.
seeds: [0]
source:
  dataset: mnist10k
  classes: [0, 1, 2]
  train_per_class: 40
  epochs: 1
target:
  dataset: mnist10k
  classes: [5, 6, 7]
  train_per_class: [5, 20]
  shift: [none, {rotate: 90}]
backbone: cnn4
freeze: [0, all]
baselines: [scratch]
schedule: {kind: constant, lr: 0.01}
epochs: 2
batch_size: 16
image_size: 12
"#;

fn write_grid(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_tiny_sweep_fills_every_table_renders_the_report_and_a_rerun_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "tiny.yaml", TINY);
    let out = thaw(
        dir.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    assert!(out.status.success(), "thaw run failed:\n{}", text(&out));

    // 2 freeze x 2 sizes x 2 shifts + 2 sizes x 2 shifts scratch = 12 trials.
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM sweeps"), 1);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        12
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM trials WHERE pretrained = 0"),
        4
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM pretrained"), 1);
    // Every trial logged epochs 0..=2; the per-epoch names are all there.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(DISTINCT trial_id || '-' || epoch) FROM metrics"
        ),
        36
    );
    for name in [
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "test_acc",
        "epoch_seconds",
        "lr/block1",
        "lr/head",
    ] {
        assert_eq!(
            count(
                &conn,
                &format!("SELECT COUNT(DISTINCT trial_id) FROM metrics WHERE name = '{name}' AND epoch = 2")
            ),
            12,
            "metric {name}"
        );
    }
    // Source accuracy (forgetting) is logged for pretrained trials only, from epoch 0.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(DISTINCT trial_id) FROM metrics WHERE name = 'source_acc' AND epoch = 0"
        ),
        8
    );
    // A linear probe cannot forget: the backbone and source head are untouched.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM trial_summary WHERE freeze = 'all' AND source_acc_final = source_acc_pretrained"
        ),
        4
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM trial_summary WHERE final_test_acc BETWEEN 0 AND 1"
        ),
        12
    );
    // Frozen blocks get learning rate 0.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.freeze = 'all' AND m.name = 'lr/block4' AND m.value = 0"
        ),
        8
    );

    // Each trial's split is recorded in the order its tensors hold (what its seeded shuffles
    // permute): train, validation and test files at positions 0.., as split_manifest lists them.
    let ds = thaw::data::load_dataset(
        &thaw::spec::DatasetSource::Bundled {
            name: "mnist10k".into(),
        },
        &data_dir(),
    )
    .unwrap();
    for per_class in [5, 20] {
        let expected = thaw::data::split_manifest(&ds, &[5, 6, 7], Some(per_class), 0).unwrap();
        let recorded: Vec<(String, String, u32)> = conn
            .prepare(
                "SELECT f.split, f.path, f.label FROM split_files f
                 WHERE f.split_key = (SELECT split_key FROM trials
                                      WHERE train_per_class = ?1 LIMIT 1)
                 ORDER BY CASE f.split WHEN 'train' THEN 0 WHEN 'val' THEN 1 ELSE 2 END, f.position",
            )
            .unwrap()
            .query_map([per_class], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(recorded, expected, "{per_class} per class");
        assert_eq!(
            expected.iter().filter(|r| r.0 == "train").count(),
            3 * per_class
        );
    }
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM split_files WHERE position IS NULL"
        ),
        0
    );

    let report = dir.path().join("reports/tiny/index.html");
    let html = std::fs::read_to_string(&report).expect("report written");
    assert!(html.contains("<svg"), "report has charts");
    assert!(html.contains("SELECT"), "chart cells show their SQL");
    assert!(html.contains("[1]"), "cells are numbered");
    assert!(!html.contains("src=\"http"), "no external resources");

    let started: Vec<String> = conn
        .prepare("SELECT started_at FROM trials ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    drop(conn);

    let again = thaw(
        dir.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("12 already done, 0 completed now"),
        "{}",
        text(&again)
    );
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    let started_again: Vec<String> = conn
        .prepare("SELECT started_at FROM trials ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(started, started_again, "a rerun must not restart any trial");

    let ls = thaw(dir.path(), &["ls"]);
    assert!(ls.status.success());
    assert!(text(&ls).contains("tiny"), "{}", text(&ls));

    let q = thaw(
        dir.path(),
        &[
            "query",
            "SELECT freeze, COUNT(*) AS n FROM trials GROUP BY freeze ORDER BY freeze",
            "--format",
            "csv",
        ],
    );
    assert!(q.status.success(), "{}", text(&q));
    assert_eq!(
        String::from_utf8_lossy(&q.stdout).trim(),
        "freeze,n\n0,8\nall,4"
    );

    let write = thaw(dir.path(), &["query", "DELETE FROM trials"]);
    assert!(!write.status.success(), "query must refuse writes");
    assert_eq!(
        count(
            &Connection::open(dir.path().join("thaw.sqlite")).unwrap(),
            "SELECT COUNT(*) FROM trials"
        ),
        12
    );
}

#[test]
fn dry_run_lists_the_trials_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "tiny.yaml", TINY);
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap(), "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("12 trials"), "{}", text(&out));
    assert!(!dir.path().join("thaw.sqlite").exists());
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn a_bad_grid_is_rejected_with_file_line_and_suggestion_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = TINY.replace("  shift: [none", "  shfit: [none");
    let grid = write_grid(dir.path(), "bad.yaml", &bad);
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap()]);
    assert!(!out.status.success());
    let msg = text(&out);
    assert!(msg.contains("bad.yaml:14"), "names file and line: {msg}");
    assert!(msg.contains("shift"), "suggests the valid key: {msg}");
    assert!(!dir.path().join("thaw.sqlite").exists());

    let deep = TINY.replace("freeze: [0, all]", "freeze: [0, 7]");
    let grid = write_grid(dir.path(), "deep.yaml", &deep);
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("freeze"), "{}", text(&out));
    assert!(!dir.path().join("thaw.sqlite").exists());

    let many = TINY.replace("train_per_class: [5, 20]", "train_per_class: [5, 5000]");
    let grid = write_grid(dir.path(), "many.yaml", &many);
    let out = thaw(dir.path(), &["run", grid.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("5000"), "{}", text(&out));
    assert!(!dir.path().join("thaw.sqlite").exists());
}

#[test]
fn a_folder_of_grids_runs_each_grid_once_as_its_own_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let grids = dir.path().join("grids");
    std::fs::create_dir(&grids).unwrap();
    let small = TINY
        .replace("train_per_class: [5, 20]", "train_per_class: 5")
        .replace("shift: [none, {rotate: 90}]", "shift: none")
        .replace("freeze: [0, all]", "freeze: all")
        .replace("baselines: [scratch]\n", "");
    write_grid(
        &grids,
        "b.yaml",
        &small.replace("name: tiny", "name: second"),
    );
    write_grid(&grids, "a.yml", &small.replace("name: tiny", "name: first"));
    write_grid(&grids, "notes.txt", "not a grid");
    let out = thaw(
        dir.path(),
        &["run", grids.to_str().unwrap(), "--device", "cpu"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let msg = text(&out);
    let (first, second) = (
        msg.find("sweep first").unwrap(),
        msg.find("sweep second").unwrap(),
    );
    assert!(first < second, "grids run in name order: {msg}");
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM sweeps"), 2);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed' AND attempts = 1"
        ),
        2
    );
    assert!(dir.path().join("reports/index.html").exists());
}

#[test]
fn jobs_run_worker_processes_that_share_the_grid_without_running_a_trial_twice() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "tiny.yaml", TINY);
    let out = thaw(
        dir.path(),
        // `--devices` (the alias of `--device`) must not reach the workers, which get their own.
        &[
            "run",
            grid.to_str().unwrap(),
            "--devices",
            "cpu",
            "--jobs",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("sweep tiny after all 2 processes: 12 completed"),
        "{}",
        text(&out)
    );
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed' AND attempts = 1"
        ),
        12
    );
}
