//! Living with a sweep: editing its grid and rerunning it runs only the new trials and hides
//! the removed ones (kept in the database) from the views, the report and `thaw ls`; `thaw rm`
//! deletes them only when confirmed; `--on-finish` is told how the run ended.

mod common;

use common::*;

fn grid(sizes: &str) -> String {
    format!(
        r#"
name: versions
seeds: [0]
source: {{dataset: digits8x8, classes: [0, 1, 2], epochs: 1, train_per_class: 20}}
target: {{dataset: digits8x8, classes: [3, 4, 5], train_per_class: {sizes}}}
backbone: cnn4
freeze: [0, all]
schedule: {{kind: constant, lr: 0.01}}
optimizer: {{kind: sgd, momentum: 0.9}}
epochs: 2
batch_size: 8
image_size: 8
"#
    )
}

#[test]
fn an_edited_grid_runs_only_its_new_trials_and_hides_the_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_grid(dir.path(), "versions.yaml", &grid("[5, 10]"));
    let grid_arg = path.to_str().unwrap();
    let finish = "env | grep '^THAW_' | sort > finished.txt";
    let out = thaw(
        dir.path(),
        &["run", grid_arg, "--device", "cpu", "--on-finish", finish],
    );
    assert!(out.status.success(), "{}", text(&out));
    let told = std::fs::read_to_string(dir.path().join("finished.txt")).unwrap();
    for line in [
        "THAW_SWEEPS=versions",
        "THAW_TRIALS=4",
        "THAW_COMPLETED=4",
        "THAW_FAILED=0",
        "THAW_EXIT_STATUS=0",
    ] {
        assert!(told.lines().any(|l| l == line), "{line} in\n{told}");
    }
    let report = dir.path().join("reports/versions/index.html");
    assert!(
        told.contains(&format!("THAW_REPORT={}", report.display())),
        "{told}"
    );
    let db = dir.path().join("thaw.sqlite");
    let removed_keys = "SELECT group_concat(key, ' ') FROM trials WHERE train_per_class = 5";
    let removed = scalar(&db, removed_keys);

    // One size removed (5), one added (15).
    write_grid(dir.path(), "versions.yaml", &grid("[10, 15]"));
    let out = thaw(dir.path(), &["run", grid_arg, "--device", "cpu"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("grid version 2: 4 trials in the grid, 2 new, 2 superseded"),
        "{said}"
    );
    assert!(
        said.contains("2 of 4 trials already completed; running the other 2"),
        "{said}"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM trials"), "6", "kept");
    assert_eq!(
        scalar(&db, "SELECT group_concat(DISTINCT train_per_class) FROM (SELECT train_per_class FROM trial_summary ORDER BY 1)"),
        "10,15"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM trials WHERE superseded_in = 2 AND status = 'completed'"
        ),
        "2"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    for key in removed.split(' ') {
        assert!(!html.contains(key), "superseded trial {key} in the report");
    }
    let kept = scalar(
        &db,
        "SELECT key FROM trial_summary WHERE train_per_class = 10 LIMIT 1",
    );
    assert!(html.contains(&kept), "a kept trial is in the report");

    let ls = text(&thaw(dir.path(), &["ls"]));
    assert!(
        ls.contains("2 trials that left their grids are kept but not listed"),
        "{ls}"
    );
    let all = text(&thaw(dir.path(), &["ls", "--all"]));
    assert!(all.lines().next().unwrap().ends_with("superseded"), "{all}");

    // No terminal, no --yes: nothing is deleted.
    let refused = thaw(dir.path(), &["rm", "versions", "--superseded"]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains("add --yes"), "{}", text(&refused));
    assert_eq!(scalar(&db, "SELECT count(*) FROM trials"), "6");
    let rm = thaw(dir.path(), &["rm", "versions", "--superseded", "--yes"]);
    let said = text(&rm);
    assert!(rm.status.success(), "{said}");
    assert!(said.contains("2 trials (2 completed)"), "{said}");
    assert_eq!(scalar(&db, "SELECT count(*) FROM trials"), "4");
    assert_eq!(scalar(&db, "SELECT count(*) FROM trial_summary"), "4");
}
