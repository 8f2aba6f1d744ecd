//! `early_stop:` end to end on the real binary (CPU, seconds): two `thaw run` processes on one
//! database stop trials at rungs exactly as ASHA's rule says given the records before each
//! decision; baselines are never stopped; a trial resumed or restarted after its decision
//! decides the same from its record.

mod common;

use common::{thaw_cmd, write_grid};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use thaw::spec::early_stop::rung_verdict;

/// 8 fine-tuned trials (2 freeze × 2 sizes × 2 seeds) and 4 from-scratch baselines, 4 epochs,
/// rungs at epochs 1 and 2 (η = 2) on the validation loss.
const GRID: &str = r#"
name: asha
seeds: [0, 1]
source:
  dataset: mnist10k
  classes: [0, 1, 2]
  train_per_class: 40
  epochs: 1
target:
  dataset: mnist10k
  classes: [5, 6, 7]
  train_per_class: [8, 24]
backbone: cnn4
freeze: [0, 2]
baselines: [scratch]
schedule: {kind: cosine, lr: 0.02, warmup_epochs: 1}
optimizer: {kind: adamw, weight_decay: 0.01}
epochs: 4
batch_size: 8
image_size: 12
early_stop: {method: asha, metric: val_loss, min_epochs: 1, reduction_factor: 2}
"#;

/// A recorded decision: (trial id, rung, epoch, value, compared, cutoff, decision).
type Record = (i64, i64, i64, Option<f64>, i64, Option<f64>, String);

fn records(db: &Path) -> Vec<Record> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT trial_id, rung, epoch, value, compared, cutoff, decision
             FROM rung_decisions ORDER BY rowid",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// `(status, pretrained, last epoch with metrics)` by trial id.
fn trials(db: &Path) -> BTreeMap<i64, (String, i64, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT t.id, t.status, t.pretrained, (SELECT max(epoch) FROM metrics m
             WHERE m.trial_id = t.id) FROM trials t",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?))))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn run(dir: &Path, grid: &Path, more: &[&str]) -> String {
    let mut args = vec!["run", grid.to_str().unwrap(), "--device", "cpu"];
    args.extend_from_slice(more);
    let out = thaw_cmd(dir, &args).output().unwrap();
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    text
}

/// Every record is the rule applied to the values recorded at its rung before it; pruned
/// trials stopped at their stop's epoch, completed ones ran every epoch and continued at every
/// rung, baselines never decided.
fn check_sweep(db: &Path) {
    let recs = records(db);
    let trials = trials(db);
    for (i, (trial, rung, _, value, compared, cutoff, decision)) in recs.iter().enumerate() {
        let before: Vec<f64> = recs[..i]
            .iter()
            .filter(|r| r.1 == *rung)
            .map(|r| r.3.unwrap_or(f64::NAN))
            .collect();
        let v = rung_verdict(value.unwrap_or(f64::NAN), &before, 2, false);
        assert_eq!(v.compared as i64, *compared, "record {i}");
        assert_eq!(Some(v.cutoff), *cutoff, "record {i}");
        let want = if v.continues { "continue" } else { "stop" };
        assert_eq!(want, decision, "trial {trial} at rung {rung}");
    }
    let mut pruned = 0;
    for (id, (status, pretrained, last)) in &trials {
        let mine: Vec<&Record> = recs.iter().filter(|r| r.0 == *id).collect();
        match status.as_str() {
            "pruned" => {
                pruned += 1;
                let stop = mine.last().expect("a pruned trial has its stop recorded");
                assert_eq!(stop.6, "stop");
                assert_eq!(*last, stop.2, "trial {id} keeps its epochs up to its stop");
                assert!(mine[..mine.len() - 1].iter().all(|r| r.6 == "continue"));
            }
            "completed" => {
                assert_eq!(*last, 4, "trial {id} ran every epoch");
                if *pretrained == 1 {
                    let rungs: Vec<(i64, &str)> =
                        mine.iter().map(|r| (r.1, r.6.as_str())).collect();
                    assert_eq!(rungs, [(1, "continue"), (2, "continue")], "trial {id}");
                }
            }
            other => panic!("trial {id} ended {other}"),
        }
        if *pretrained == 0 {
            assert_eq!(status, "completed", "a baseline is never stopped");
            assert!(mine.is_empty(), "a baseline never decides");
        }
    }
    assert!(pruned > 0, "some trial was stopped: {recs:?}");
}

#[test]
fn two_runners_stop_trials_exactly_as_the_rule_says_on_the_records_before_each_decision() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "asha.yaml", GRID);
    let spawn = || {
        thaw_cmd(
            dir.path(),
            &["run", grid.to_str().unwrap(), "--device", "cpu"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut said = String::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        said.push_str(&common::text(&out));
    }
    let db = dir.path().join("thaw.sqlite");
    check_sweep(&db);
    let at_first_rung = records(&db).iter().filter(|r| r.1 == 1).count();
    assert_eq!(at_first_rung, 8, "every fine-tuned trial decided at rung 1");
    assert!(said.contains(" pruned, "), "{said}");
    assert!(said.contains("early stop at rung epoch"), "{said}");
    // Pruned trials leave no checkpoint, appear in `thaw ls`, and are not rerun.
    let left: Vec<_> = std::fs::read_dir(dir.path().join(".thaw-cache/trials"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let ls = common::text(&common::thaw(dir.path(), &["ls"]));
    assert!(ls.contains("pruned"), "{ls}");
    let before = records(&db);
    let again = run(dir.path(), &grid, &["--retry-failed"]);
    assert!(
        again.contains("12 already done, 0 completed now"),
        "{again}"
    );
    assert_eq!(records(&db), before);
}

#[test]
fn a_trial_resumed_or_restarted_after_its_rung_decision_decides_the_same_without_a_new_record() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "asha.yaml", GRID);
    run(dir.path(), &grid, &["--keep-checkpoints"]);
    let db = dir.path().join("thaw.sqlite");
    check_sweep(&db);
    let recs = records(&db);
    let ended = trials(&db);
    let metrics = common::metrics(&db);
    let pruned: Vec<i64> = (ended.iter())
        .filter(|(_, t)| t.0 == "pruned")
        .map(|(id, _)| *id)
        .collect();
    let completed = (ended.iter())
        .find(|(_, t)| t.0 == "completed" && t.1 == 1)
        .map(|(id, _)| *id)
        .expect("a fine-tuned trial completed");
    let key = |id: i64| common::scalar(&db, &format!("SELECT key FROM trials WHERE id = {id}"));
    // As if killed after deciding: the first pruned trial resumes from its checkpoint at the
    // stop; the second and a completed one start over (their checkpoints gone) and reach their
    // rungs again, whatever the other trials recorded since.
    let restart = [pruned.get(1).copied(), Some(completed)];
    for id in restart.into_iter().flatten() {
        let file = format!(".thaw-cache/trials/{}.safetensors", key(id));
        std::fs::remove_file(dir.path().join(file)).unwrap();
    }
    let conn = Connection::open(&db).unwrap();
    let mut ids: Vec<i64> = restart.into_iter().flatten().collect();
    ids.push(pruned[0]);
    for id in &ids {
        conn.execute(
            "UPDATE trials SET status = 'interrupted' WHERE id = ?1",
            [id],
        )
        .unwrap();
    }
    drop(conn);
    let out = run(dir.path(), &grid, &[]);
    assert!(out.contains("(as recorded before)"), "{out}");
    assert_eq!(records(&db), recs, "no decision taken or recorded twice");
    assert_eq!(trials(&db), ended, "every trial ends as before");
    assert_eq!(
        common::scalar(
            &db,
            &format!(
                "SELECT resumed_from_epoch FROM trials WHERE id = {}",
                pruned[0]
            )
        ),
        recs.iter()
            .find(|r| r.0 == pruned[0] && r.6 == "stop")
            .unwrap()
            .2
            .to_string()
    );
    assert!(
        common::metrics(&db) == metrics,
        "the same epochs, recorded again"
    );
    // The report's trial table and the trial's page say so.
    let reports = dir.path().join("reports/asha");
    let page = std::fs::read_to_string(reports.join("index.html")).unwrap();
    assert!(
        page.contains("status-pruned"),
        "the trial table shows pruned trials"
    );
    let trial_page = reports.join(format!("trials/{}.html", key(pruned[0])));
    let trial_page = std::fs::read_to_string(trial_page).unwrap();
    assert!(
        trial_page.contains("status pruned: stopped at rung epoch"),
        "{trial_page}"
    );
}
