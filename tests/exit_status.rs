//! What `thaw run` tells schedulers, CI and shell scripts: exit 0 only when every trial
//! completed, 3 when some failed or diverged (naming them and how to retry), and 128 + the
//! signal when SIGINT, SIGTERM or Slurm's SIGUSR1 warning stopped it after recording the epoch.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

/// Two trials; the second's learning rate makes its loss infinite at once.
const ONE_DIVERGES: &str = r#"
name: twolr
source: {dataset: digits8x8, classes: [0, 1], epochs: 1, train_per_class: 20}
target: {dataset: digits8x8, classes: [2, 3], train_per_class: 5}
backbone: cnn4
freeze: [0]
schedule: [{kind: constant, lr: 0.01}, {kind: constant, lr: 1.0e38}]
optimizer: {kind: sgd, momentum: 0.9}
epochs: 2
batch_size: 4
image_size: 8
"#;

#[test]
fn a_run_whose_trials_all_complete_exits_0_and_one_with_a_diverged_trial_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "twolr.yaml", ONE_DIVERGES);
    let grid = grid.to_str().unwrap();
    let out = thaw(dir.path(), &["run", grid, "--device", "cpu"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("1 of 2 trials failed or diverged"), "{said}");
    assert!(
        said.contains("[diverged]: training loss became NaN or infinite"),
        "{said}"
    );
    assert!(
        said.contains(&format!("thaw run {grid} --retry-failed")),
        "{said}"
    );
    // Rerunning without --retry-failed changes nothing and still fails.
    assert_eq!(
        thaw(dir.path(), &["run", grid, "--device", "cpu"])
            .status
            .code(),
        Some(3)
    );

    // A grid of only the healthy trial: exit 0.
    let healthy = ONE_DIVERGES
        .replace("name: twolr", "name: healthy")
        .replace(", {kind: constant, lr: 1.0e38}", "");
    let grid = write_grid(dir.path(), "healthy.yaml", &healthy);
    let out = thaw(
        dir.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Starts the small grid, sends `signal` once a trial is mid-way, and returns the exit status
/// and stderr.
fn stopped_by(signal: i32, dir: &std::path::Path) -> (Option<i32>, String) {
    let grid = write_grid(dir, "small.yaml", &small_grid("small"));
    let child = thaw_cmd(dir, &["run", grid.to_str().unwrap(), "--device", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db = dir.join("thaw.sqlite");
    wait_until("a trial mid-way", Duration::from_secs(120), || {
        mid_trial(&db)
    });
    // SAFETY: signals the child we spawned.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sigterm_stops_after_the_epoch_marks_the_trial_interrupted_exits_143_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = stopped_by(libc::SIGTERM, dir.path());
    assert_eq!(code, Some(143), "{stderr}");
    assert!(
        stderr.contains("SIGTERM: finishing the current epoch"),
        "{stderr}"
    );
    assert!(stderr.contains("again to resume"), "{stderr}");
    let db = dir.path().join("thaw.sqlite");
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM trials WHERE status = 'running'"),
        "0"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE status = 'interrupted'"
        ),
        "1"
    );
    let grid = dir.path().join("small.yaml");
    let out = thaw(
        dir.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        SMALL_GRID_TRIALS.to_string()
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE resumed_from_epoch >= 1"
        ),
        "1",
        "the interrupted trial resumed from its checkpoint"
    );
}

#[test]
fn slurms_time_limit_warning_sigusr1_stops_like_sigterm_with_status_138() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = stopped_by(libc::SIGUSR1, dir.path());
    assert_eq!(code, Some(138), "{stderr}");
    assert!(stderr.contains("time-limit warning"), "{stderr}");
    let db = dir.path().join("thaw.sqlite");
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM trials WHERE status = 'interrupted'"
        ),
        "1"
    );
}
