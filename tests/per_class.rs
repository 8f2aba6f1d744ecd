//! Per-class results recorded by a real run: for every trial, the confusion counts of its final
//! epoch agree with its recorded accuracies and with the files of its splits, and the report
//! and trial pages show them.

mod common;

use common::*;
use rusqlite::Connection;

/// Four trials on three digits: two frozen depths, each with and without a rotation.
const GRID: &str = r#"
name: classes
seeds: [0]
source: {dataset: digits8x8, classes: [0, 1, 2], epochs: 1, train_per_class: 20}
target:
  dataset: digits8x8
  classes: [7, 3, 5]
  train_per_class: 6
  shift: [none, {rotate: 90}]
backbone: cnn4
freeze: [0, all]
schedule: {kind: constant, lr: 0.01}
epochs: 2
batch_size: 8
image_size: 8
"#;

/// (trial id, split key, final test accuracy, final validation accuracy) of every trial.
fn trials(conn: &Connection) -> Vec<(i64, String, f64, f64)> {
    conn.prepare(
        "SELECT ts.trial_id, t.split_key, ts.final_test_acc, ts.final_val_acc
         FROM trial_summary ts JOIN trials t ON t.id = ts.trial_id WHERE ts.status = 'completed'",
    )
    .unwrap()
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// (class, name, n, correct) of a trial's split, by class.
fn class_rows(conn: &Connection, id: i64, split: &str) -> Vec<(i64, String, i64, i64)> {
    conn.prepare(
        "SELECT class, name, n, correct FROM class_accuracy
         WHERE trial_id = ?1 AND split = ?2 ORDER BY class",
    )
    .unwrap()
    .query_map(rusqlite::params![id, split], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn per_class_results_add_up_to_each_trials_accuracy_and_its_split_files() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "classes.yaml", GRID);
    let out = thaw(
        dir.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let db = dir.path().join("thaw.sqlite");
    let conn = Connection::open(&db).unwrap();
    let trials = trials(&conn);
    assert_eq!(trials.len(), 4);
    let labels = [7, 3, 5];
    for (id, split_key, test_acc, val_acc) in trials {
        for (split, acc) in [("test", test_acc), ("val", val_acc)] {
            let rows = class_rows(&conn, id, split);
            let names: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            assert_eq!(names, ["7", "3", "5"], "trial {id} {split}");
            let n: i64 = rows.iter().map(|r| r.2).sum();
            let correct: i64 = rows.iter().map(|r| r.3).sum();
            assert!(
                (correct as f64 / n as f64 - acc).abs() < 1e-9,
                "trial {id} {split}: {correct}/{n} against accuracy {acc}"
            );
            // Each class's examples are the split's files of its label.
            for (class, _, n_class, _) in &rows {
                let files: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM split_files
                         WHERE split_key = ?1 AND split = ?2 AND label = ?3",
                        rusqlite::params![split_key, split, labels[*class as usize]],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(*n_class, files, "trial {id} {split} class {class}");
            }
            // The matrix's rows add up to the split.
            let (cells, size): (i64, i64) = conn
                .query_row(
                    "SELECT (SELECT SUM(count) FROM confusion WHERE trial_id = ?1 AND split = ?2),
                            (SELECT COUNT(*) FROM split_files WHERE split_key = ?3 AND split = ?2)",
                    rusqlite::params![id, split, split_key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((cells, n), (size, size), "trial {id} {split}");
        }
    }

    // The report's per-class cell and every trial page's confusion matrix.
    let report = std::fs::read_to_string(dir.path().join("reports/classes/index.html")).unwrap();
    assert!(report.contains("Per-class results"), "no per-class cell");
    assert!(report.contains("Worst class by configuration"));
    assert!(report.contains("Shift rotate 90 (against none) costs some classes"));
    assert!(report.contains("freeze all (against freeze 0) costs some classes"));
    let pages = std::fs::read_dir(dir.path().join("reports/classes/trials")).unwrap();
    let mut seen = 0;
    for page in pages {
        let html = std::fs::read_to_string(page.unwrap().path()).unwrap();
        assert!(html.contains("Confusion matrix (test split)"));
        seen += 1;
    }
    assert_eq!(seen, 4);
    let findings = scalar(
        &db,
        "SELECT COUNT(*) FROM findings WHERE section = 'Per-class results'",
    );
    assert_eq!(findings, "2");
}

/// Every confusion cell of the database, in order.
fn confusion(db: &std::path::Path) -> Vec<(i64, String, i64, i64, i64)> {
    Connection::open(db)
        .unwrap()
        .prepare(
            "SELECT trial_id, split, actual, predicted, count FROM confusion ORDER BY 1, 2, 3, 4",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_trial_resumed_after_its_last_epoch_counts_its_classes_by_a_fresh_pass() {
    let dir = tempfile::tempdir().unwrap();
    let one = GRID
        .replace("name: classes", "name: resumed")
        .replace("shift: [none, {rotate: 90}]", "shift: none")
        .replace("freeze: [0, all]", "freeze: [0]");
    let grid = write_grid(dir.path(), "resumed.yaml", &one);
    let grid = grid.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", grid, "--device", "cpu"];
        args.extend(extra);
        let out = thaw(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    };
    run(&["--keep-checkpoints"]);
    let db = dir.path().join("thaw.sqlite");
    let before = confusion(&db);
    assert!(!before.is_empty());
    // As after a crash between the last epoch and the per-class results: the run resumes from
    // the last epoch's checkpoint, runs no epoch and counts them by evaluating the network anew.
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "UPDATE trials SET status = 'interrupted';
             DELETE FROM confusion; DELETE FROM trial_classes;",
        )
        .unwrap();
    run(&[]);
    assert_eq!(
        scalar(&db, "SELECT resumed_from_epoch FROM trials"),
        "2",
        "the trial resumes after its last epoch"
    );
    assert_eq!(confusion(&db), before);
    let consistent = scalar(
        &db,
        "SELECT ABS(SUM(ca.correct) * 1.0 / SUM(ca.n) - ts.final_test_acc) < 1e-9
         FROM class_accuracy ca JOIN trial_summary ts ON ts.trial_id = ca.trial_id
         WHERE ca.split = 'test'",
    );
    assert_eq!(consistent, "1");
}
