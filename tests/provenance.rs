//! Provenance: every process that runs trials records its environment and links each trial it
//! runs to it, `--jobs` workers included; the grid file's git commit and dirty flag; and
//! `thaw doctor --json`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Four trials of two tiny epochs on digits8x8; `seeds` is the YAML list of seeds.
fn grid(name: &str, seeds: &str) -> String {
    format!(
        r#"
name: {name}
seeds: {seeds}
source: {{dataset: digits8x8, classes: [0, 1], epochs: 1, train_per_class: 10}}
target: {{dataset: digits8x8, classes: [2, 3], train_per_class: [2, 4]}}
backbone: cnn4
schedule: {{kind: constant, lr: 0.01}}
optimizer: {{kind: sgd, momentum: 0.9}}
epochs: 2
batch_size: 4
image_size: 8
"#
    )
}

/// `git ARGS` in `dir`, which must succeed; its output, trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=thaw", "-c", "user.email=thaw@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `thaw run GRID --device cpu EXTRA...` in `dir` to a successful end; git never looks
/// above `dir` for a repository.
fn run(dir: &Path, grid: &Path, extra: &[&str]) {
    let mut args = vec!["run", grid.to_str().unwrap(), "--device", "cpu"];
    args.extend(extra);
    let out = thaw_cmd(dir, &args)
        .env("GIT_CEILING_DIRECTORIES", dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// One column of the environment of each trial of `sweep` that `filter` picks, distinct.
fn env_of(db: &Path, sweep: &str, column: &str, filter: &str) -> String {
    scalar(
        db,
        &format!(
            "SELECT coalesce(group_concat(DISTINCT coalesce(e.{column}, 'NULL')), '') FROM trials t
             JOIN sweeps s ON s.id = t.sweep_id JOIN environments e ON e.key = t.environment_key
             WHERE s.name = '{sweep}' AND {filter}"
        ),
    )
}

#[test]
fn every_runner_records_its_environment_with_the_grid_files_commit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("thaw.sqlite");
    let repo = d.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let versioned = write_grid(&repo, "prov.yaml", &grid("prov", "[0]"));
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "prov.yaml"]);
    git(&repo, &["commit", "-q", "-m", "grid"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);

    // `--jobs 2`: the workers run the trials, each in its own recorded environment.
    run(d, &versioned, &["--jobs", "2"]);
    let completed = "SELECT count(*) FROM trials WHERE status = 'completed'";
    assert_eq!(scalar(&db, completed), "2");
    let unlinked = "SELECT count(*) FROM trials t LEFT JOIN environments e
                    ON e.key = t.environment_key WHERE e.key IS NULL";
    assert_eq!(
        scalar(&db, unlinked),
        "0",
        "every trial links a recorded environment"
    );
    let per_runner = "SELECT count(DISTINCT runner) = count(DISTINCT environment_key) FROM trials";
    assert_eq!(scalar(&db, per_runner), "1", "each worker has its own row");
    let all = "1 = 1";
    assert_eq!(
        env_of(&db, "prov", "command_line LIKE '%--worker%'", all),
        "1"
    );
    assert_eq!(env_of(&db, "prov", "grid_commit", all), commit);
    assert_eq!(env_of(&db, "prov", "grid_dirty", all), "0");
    let path = versioned.canonicalize().unwrap();
    assert_eq!(
        env_of(&db, "prov", "grid_path", all),
        path.to_str().unwrap()
    );
    assert_eq!(env_of(&db, "prov", "semantics", all), thaw_semantics());
    assert_eq!(env_of(&db, "prov", "device", all), "cpu");
    assert_eq!(
        env_of(&db, "prov", "cuda", all),
        "NULL",
        "no CUDA on a CPU run"
    );
    assert_eq!(env_of(&db, "prov", "host", all), hostname());
    let record = scalar(&db, "SELECT record_json FROM environments LIMIT 1");
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["grid_commit"], commit.as_str());

    // The grid edited and not committed: the plain run of its new trials records it dirty.
    write_grid(&repo, "prov.yaml", &grid("prov", "[0, 1]"));
    run(d, &versioned, &[]);
    assert_eq!(scalar(&db, completed), "4");
    assert_eq!(scalar(&db, unlinked), "0");
    let new = "t.config_json LIKE '%\"seed\":1%'";
    assert_eq!(env_of(&db, "prov", "grid_dirty", new), "1");
    assert_eq!(env_of(&db, "prov", "grid_commit", new), commit);
    let plain = "command_line NOT LIKE '%--worker%'";
    assert_eq!(env_of(&db, "prov", plain, new), "1");
    assert_eq!(
        env_of(&db, "prov", "grid_dirty", &format!("NOT ({new})")),
        "0"
    );

    // A grid outside any git repository: no commit, no dirty flag.
    let loose = write_grid(d, "loose.yaml", &grid("loose", "[0]"));
    run(d, &loose, &[]);
    assert_eq!(env_of(&db, "loose", "grid_commit", all), "NULL");
    assert_eq!(env_of(&db, "loose", "grid_dirty", all), "NULL");

    // The report shows the environments with their trial counts.
    let report = std::fs::read_to_string(d.join("reports/prov/index.html")).unwrap();
    assert!(report.contains("<h2>Provenance</h2>"), "no provenance cell");
    assert!(
        report.contains(&commit),
        "the grid's commit is not in the report"
    );
}

#[test]
fn doctor_prints_the_environment_record_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = thaw(dir.path(), &["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["thaw_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(record["semantics"], thaw_semantics());
    assert_eq!(record["host"], hostname());
    assert!(record["thaw_build"].as_str().unwrap().starts_with("git "));
    assert!(record["cpu_cores"].as_i64().unwrap() >= 1);
    assert!(record["command_line"]
        .as_str()
        .unwrap()
        .ends_with("doctor --json"));
    assert!(record["grid_commit"].is_null());
}

fn thaw_semantics() -> &'static str {
    thaw::spec::SEMANTICS
}

fn hostname() -> String {
    thaw::exec::runner::hostname()
}
