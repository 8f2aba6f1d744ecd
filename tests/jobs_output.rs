//! `thaw run --jobs 2` whose workers print far more than a pipe holds (64 KiB): their output
//! goes to log files, never to a pipe nobody reads, so every worker keeps completing trials
//! until the grid is done.

mod common;

use common::*;

/// 16 linear-probe trials of 2,500 tiny epochs: about 40,000 epoch lines, over 1 MiB of output.
const CHATTY: &str = r#"
name: chatty
seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
source: {dataset: digits8x8, classes: [0, 1], epochs: 1, train_per_class: 10}
target: {dataset: digits8x8, classes: [2, 3], train_per_class: 2}
backbone: cnn4
freeze: [all]
schedule: {kind: constant, lr: 0.01}
optimizer: {kind: sgd, momentum: 0.9}
epochs: 2500
batch_size: 4
image_size: 8
"#;

#[test]
fn workers_printing_over_a_mebibyte_each_keep_completing_trials_until_the_grid_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let grid = write_grid(dir.path(), "chatty.yaml", CHATTY);
    let out = thaw_cmd(
        dir.path(),
        &[
            "run",
            grid.to_str().unwrap(),
            "--device",
            "cpu",
            "--jobs",
            "2",
        ],
    )
    // As in a batch job or under nohup: no terminal, so workers log a line per epoch.
    .env("THAW_CHECKPOINT_EVERY", "10")
    .output()
    .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("sweep chatty after all 2 processes: 16 completed"),
        "{said}"
    );

    // Each worker's output is in its own log file under the cache folder.
    let logs: Vec<std::path::PathBuf> = walkdir::WalkDir::new(dir.path().join(".thaw-cache/logs"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let sizes: Vec<u64> = logs.iter().map(|l| l.metadata().unwrap().len()).collect();
    assert!(sizes.iter().sum::<u64>() > 1 << 20, "{sizes:?}");
    assert!(sizes.iter().all(|&s| s > 256 << 10), "{sizes:?}");
    assert!(
        said.contains(&logs[0].parent().unwrap().display().to_string()),
        "{said}"
    );

    // Both workers completed their share: a worker blocked on a full pipe would have stopped
    // after its first trial and left the rest to the other.
    let db = dir.path().join("thaw.sqlite");
    let fewest = scalar(
        &db,
        "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM trials WHERE status = 'completed' GROUP BY runner)",
    );
    let runners = scalar(&db, "SELECT COUNT(DISTINCT runner) FROM trials");
    assert_eq!(runners, "2");
    assert!(
        fewest.parse::<i64>().unwrap() >= 5,
        "fewest trials by one worker: {fewest}"
    );
}
