//! Never lose a run: the real binary killed at random points, two runners on one database,
//! Ctrl-C. Every check compares against an uninterrupted run of the same grid (CPU, exact).

mod common;

use common::{small_grid, thaw_cmd, SMALL_GRID_TRIALS};
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Trials in the grid: 2 freeze × 2 sizes × 2 seeds + 2 sizes × 2 seeds scratch.
const TRIALS: i64 = SMALL_GRID_TRIALS;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("crashy.yaml");
    std::fs::write(&grid, small_grid("crashy")).unwrap();
    (dir, grid)
}

fn run_to_end(dir: &Path, grid: &Path) -> Output {
    run_to_end_with(dir, grid, &[])
}

/// [`run_to_end`] with more `thaw run` arguments.
fn run_to_end_with(dir: &Path, grid: &Path, more: &[&str]) -> Output {
    let mut args = vec!["run", grid.to_str().unwrap(), "--device", "cpu"];
    args.extend_from_slice(more);
    let out = thaw_cmd(dir, &args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn spawn(dir: &Path, grid: &Path) -> Child {
    thaw_cmd(dir, &["run", grid.to_str().unwrap(), "--device", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every trial's metrics by trial key, epoch and name (timings left out).
fn metrics(dir: &Path) -> BTreeMap<(String, i64, String), Option<f64>> {
    common::metrics(&dir.join("thaw.sqlite"))
}

fn scalar(dir: &Path, sql: &str) -> String {
    common::scalar(&dir.join("thaw.sqlite"), sql)
}

/// Metrics of an uninterrupted run of the grid, computed once for all tests of this file.
fn reference() -> &'static BTreeMap<(String, i64, String), Option<f64>> {
    static REFERENCE: OnceLock<BTreeMap<(String, i64, String), Option<f64>>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let (dir, grid) = setup();
        run_to_end(dir.path(), &grid);
        metrics(dir.path())
    })
}

/// A small seeded generator for kill times (xorshift).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn killed_at_random_points_twenty_times_the_sweep_still_ends_exactly_like_an_uninterrupted_one() {
    let expected = reference();
    // Epoch 0: val_loss, val_acc, test_acc, trainable_params; epochs 1-4: train_loss,
    // train_acc, trainable_params, the three evaluations, four block rates and the head rate;
    // pretrained trials add source_acc to each. The last epoch adds ece, ece_ts, temperature,
    // and for pretrained trials cka/<block> and weight_dist/<block>. (Timings are left out.)
    // Epochs 1-3 are evaluated on at most 50 examples per class (the default `eval:`) and
    // marked eval_subset, except the best of them, evaluated again on the full splits.
    let subset_epochs: Vec<(&String, i64)> = (expected.keys())
        .filter(|(_, _, name)| name == "eval_subset")
        .map(|(key, epoch, _)| (key, *epoch))
        .collect();
    assert!(subset_epochs.iter().all(|(_, e)| (1..=3).contains(e)));
    let per_trial = |k: &String| subset_epochs.iter().filter(|(key, _)| *key == k).count();
    let keys: std::collections::BTreeSet<&String> = expected.keys().map(|(k, _, _)| k).collect();
    assert!(keys.iter().all(|k| (2..=3).contains(&per_trial(k))));
    assert_eq!(
        expected.len(),
        4 * (4 + 4 * 11 + 3) + 8 * (5 + 4 * 12 + 3 + 2 * 4) + subset_epochs.len()
    );

    let (dir, grid) = setup();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut kills = 0;
    while kills < 20 {
        let mut child = spawn(dir.path(), &grid);
        std::thread::sleep(Duration::from_millis(80 + rng.below(700)));
        if child.try_wait().unwrap().is_some() {
            break; // the sweep finished before this kill
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert!(
        kills >= 20,
        "only {kills} kills landed before the sweep finished"
    );
    run_to_end(dir.path(), &grid);

    assert_eq!(scalar(dir.path(), "PRAGMA integrity_check"), "ok");
    assert_eq!(
        scalar(
            dir.path(),
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        TRIALS.to_string()
    );
    assert!(
        metrics(dir.path()) == *expected,
        "metrics differ from the uninterrupted run"
    );
    // Pruned: no epoch checkpoint of a completed trial is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".thaw-cache/trials"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn two_runners_on_one_database_share_the_grid_and_run_every_trial_once() {
    let (dir, grid) = setup();
    let a = spawn(dir.path(), &grid);
    let b = spawn(dir.path(), &grid);
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        scalar(
            dir.path(),
            "SELECT COUNT(*) FROM trials WHERE status = 'completed' AND attempts = 1"
        ),
        TRIALS.to_string()
    );
    assert_eq!(
        scalar(dir.path(), "SELECT COUNT(DISTINCT runner) > 1 FROM trials"),
        "1",
        "both runners took trials"
    );
    assert!(
        metrics(dir.path()) == *reference(),
        "metrics differ from the uninterrupted run"
    );
}

#[test]
fn ctrl_c_records_the_epoch_marks_the_trial_interrupted_and_a_rerun_resumes() {
    let (dir, grid) = setup();
    let child = spawn(dir.path(), &grid);
    // Interrupt in the middle of a trial: once some trial has finished an epoch.
    let db = dir.path().join("thaw.sqlite");
    common::wait_until("a trial mid-way", Duration::from_secs(120), || {
        common::mid_trial(&db)
    });
    // SAFETY: sends SIGINT to the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("again to resume"), "{stderr}");
    assert_eq!(
        scalar(
            dir.path(),
            "SELECT COUNT(*) FROM trials WHERE status = 'running'"
        ),
        "0"
    );
    assert!(dir.path().join("reports/crashy/index.html").exists());
    let again = run_to_end(dir.path(), &grid);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 failed"));
    assert!(
        metrics(dir.path()) == *reference(),
        "metrics differ from the uninterrupted run"
    );
}

#[test]
fn a_checkpoint_ahead_of_the_recorded_metrics_is_not_resumed_and_one_level_with_them_is() {
    let (dir, grid) = setup();
    // Finish the sweep keeping every trial's final checkpoint (epoch 4).
    run_to_end_with(dir.path(), &grid, &["--keep-checkpoints"]);
    let conn = Connection::open(dir.path().join("thaw.sqlite")).unwrap();
    // As after a power loss: trial 1 lost the commits of its epochs 2-4 (the checkpoint of
    // epoch 4 survived); trial 2 lost only its final status, its metrics are all there.
    conn.execute_batch(
        "UPDATE trials SET status = 'interrupted' WHERE id IN (1, 2);
         DELETE FROM metrics WHERE trial_id = 1 AND epoch > 1;",
    )
    .unwrap();
    drop(conn);
    run_to_end(dir.path(), &grid);
    assert_eq!(
        scalar(
            dir.path(),
            "SELECT resumed_from_epoch FROM trials WHERE id = 1"
        ),
        "Null",
        "trial 1 must restart: its checkpoint is ahead of its metrics"
    );
    assert_eq!(
        scalar(
            dir.path(),
            "SELECT resumed_from_epoch FROM trials WHERE id = 2"
        ),
        "4",
        "trial 2 resumes after its last epoch"
    );
    // Either way every trial ends exactly as in the uninterrupted run (trial 2's calibration
    // computed by a fresh pass instead of from the last epoch's logits).
    let got = metrics(dir.path());
    for (k, v) in reference() {
        let w = got.get(k).unwrap_or_else(|| panic!("missing {k:?}"));
        match (v, w) {
            (Some(a), Some(b)) => {
                assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "{k:?}: {a} vs {b}")
            }
            _ => assert_eq!(v, w, "{k:?}"),
        }
    }
    assert_eq!(got.len(), reference().len());
}
