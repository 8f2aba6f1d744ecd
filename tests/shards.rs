//! A sweep split into shards (`thaw run --shard i/N`, each into its own database, as the tasks
//! of a Slurm array run it) and merged (`thaw merge`) ends exactly like one run on one machine:
//! every trial once, the same metrics, a report; merging again changes nothing.

mod common;

use common::*;

fn run_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let out = thaw(dir, args);
    assert_eq!(out.status.code(), Some(0), "thaw {args:?}:\n{}", text(&out));
    text(&out)
}

#[test]
fn four_shards_merged_equal_one_run_and_a_second_merge_changes_nothing() {
    let whole = tempfile::tempdir().unwrap();
    let grid = write_grid(whole.path(), "g.yaml", &small_grid("sharded"));
    run_ok(
        whole.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    );
    let reference = metrics(&whole.path().join("thaw.sqlite"));

    let split = tempfile::tempdir().unwrap();
    let d = split.path();
    let grid = write_grid(d, "g.yaml", &small_grid("sharded"));
    let grid = grid.to_str().unwrap();
    let shards = d.join("shards");
    let mut owned = 0;
    for i in 0..4 {
        let db = shards.join(format!("task-{i}.sqlite"));
        let said = run_ok(
            d,
            &[
                "run",
                grid,
                "--device",
                "cpu",
                "--shard",
                &format!("{i}/4"),
                "--db",
                db.to_str().unwrap(),
                "--cache-dir",
                d.join("cache").to_str().unwrap(),
            ],
        );
        assert!(
            !said.contains("report:"),
            "a shard renders no report: {said}"
        );
        let n: i64 = scalar(&db, "SELECT COUNT(*) FROM trials").parse().unwrap();
        assert!((2..=4).contains(&n), "shard {i} holds {n} trials");
        owned += n;
    }
    assert_eq!(owned, SMALL_GRID_TRIALS, "every trial in exactly one shard");

    let merged = d.join("thaw.sqlite");
    let merge = |expect: &str| {
        let said = run_ok(
            d,
            &[
                "merge",
                shards.to_str().unwrap(),
                "--db",
                merged.to_str().unwrap(),
                "--sweep",
                "sharded",
            ],
        );
        assert!(said.contains(expect), "{said}");
        assert!(said.contains("report: "), "{said}");
    };
    merge(&format!("{SMALL_GRID_TRIALS} trials added"));
    assert_eq!(
        scalar(
            &merged,
            "SELECT COUNT(*) FROM trials WHERE status = 'completed'"
        ),
        SMALL_GRID_TRIALS.to_string()
    );
    assert_eq!(
        scalar(&merged, "SELECT COUNT(DISTINCT key) FROM trials"),
        SMALL_GRID_TRIALS.to_string()
    );
    assert_eq!(scalar(&merged, "PRAGMA integrity_check"), "ok");
    // Grid order survives the split.
    assert_eq!(
        scalar(&merged, "SELECT group_concat(position, ',') FROM (SELECT position FROM trials ORDER BY position)"),
        (0..SMALL_GRID_TRIALS).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    assert!(
        metrics(&merged) == reference,
        "merged metrics differ from the one-machine run"
    );
    assert!(d.join("reports/sharded/index.html").exists());
    // Each shard's runner recorded its environment, and the merge carried them with the links.
    let linked = "SELECT COUNT(*) FROM trials t JOIN environments e ON e.key = t.environment_key
                  WHERE e.command_line LIKE '%--shard%'";
    assert_eq!(scalar(&merged, linked), SMALL_GRID_TRIALS.to_string());
    assert_eq!(scalar(&merged, "SELECT COUNT(*) FROM environments"), "4");

    merge(&format!(
        "0 trials added, 0 updated, {SMALL_GRID_TRIALS} unchanged"
    ));
    assert!(metrics(&merged) == reference);
}

#[test]
fn a_shard_of_another_sweep_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let grid = write_grid(d.path(), "g.yaml", &small_grid("mine"));
    let shard = d.path().join("shards/task-0.sqlite");
    run_ok(
        d.path(),
        &[
            "run",
            grid.to_str().unwrap(),
            "--device",
            "cpu",
            "--shard",
            "0/6",
            "--db",
            shard.to_str().unwrap(),
        ],
    );
    let out = thaw(
        d.path(),
        &[
            "merge",
            shard.to_str().unwrap(),
            "--db",
            "merged.sqlite",
            "--sweep",
            "theirs",
        ],
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out).contains("\"mine\""), "{}", text(&out));
}
