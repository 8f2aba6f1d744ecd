//! Helpers shared by the end-to-end tests of processes: the real `thaw` binary run in a
//! temporary folder, and reads of the database it writes.
#![allow(dead_code)] // each test file uses a different subset

use rusqlite::Connection;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The bundled datasets.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// `thaw ARGS` in `dir`, with the database, reports and cache inside it and a checkpoint after
/// every epoch.
pub fn thaw_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_thaw"));
    cmd.args(args)
        .current_dir(dir)
        .env("THAW_DB", dir.join("thaw.sqlite"))
        .env("THAW_REPORTS", dir.join("reports"))
        .env("THAW_DATA", data_dir())
        .env_remove("THAW_CACHE")
        .env_remove("THAW_JOURNAL")
        .env("THAW_CHECKPOINT_EVERY", "0");
    cmd
}

/// Runs `thaw ARGS` in `dir` to its end.
pub fn thaw(dir: &Path, args: &[&str]) -> Output {
    thaw_cmd(dir, args).output().expect("the thaw binary runs")
}

/// stdout then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes a grid file into `dir`.
pub fn write_grid(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The first column of the first row of `sql` on the database at `db`, as text.
pub fn scalar(db: &Path, sql: &str) -> String {
    let conn = Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Real(x) => x.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .unwrap()
}

/// Every trial's metrics by trial key, epoch and name (timings left out).
pub fn metrics(db: &Path) -> BTreeMap<(String, i64, String), Option<f64>> {
    let conn = Connection::open(db).unwrap();
    let timings: Vec<String> = (thaw::metrics::names::TIMINGS.iter())
        .map(|t| format!("'{t}'"))
        .collect();
    let mut stmt = conn
        .prepare(&format!(
            "SELECT t.key, m.epoch, m.name, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id
             WHERE m.name NOT IN ({})",
            timings.join(", ")
        ))
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Polls `ready` every 100 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether some trial of the database at `db` is running and has finished an epoch.
pub fn mid_trial(db: &Path) -> bool {
    Connection::open(db)
        .and_then(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM metrics m JOIN trials t ON t.id = m.trial_id
                 WHERE t.status = 'running' AND m.epoch >= 1",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap_or(0)
        > 0
}

/// Whether some running trial of the database at `db` has finished at least one epoch and at
/// most `last` (so that a signal sent now still finds epochs to go).
pub fn early_in_trial(db: &Path, last: i64) -> bool {
    Connection::open(db)
        .and_then(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM (SELECT MAX(m.epoch) AS e FROM metrics m
                 JOIN trials t ON t.id = m.trial_id WHERE t.status = 'running'
                 GROUP BY t.id) WHERE e BETWEEN 1 AND ?1",
                [last],
                |r| r.get::<_, i64>(0),
            )
        })
        .unwrap_or(0)
        > 0
}

/// A small grid of 12 trials (seconds on a CPU) named `name`.
pub fn small_grid(name: &str) -> String {
    format!(
        r#"
name: {name}
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
schedule: {{kind: cosine, lr: 0.02, warmup_epochs: 1}}
optimizer: {{kind: adamw, weight_decay: 0.01}}
epochs: 4
batch_size: 8
image_size: 12
"#
    )
}

/// Trials in [`small_grid`]: 2 freeze × 2 sizes × 2 seeds + 2 sizes × 2 seeds from scratch.
pub const SMALL_GRID_TRIALS: i64 = 12;

/// `out`: a TSV file with a header `id, score, text`, holding the first `per_class` rows of the
/// bundled VADER file `gz` with a score above 0.5 and the first `per_class` below −0.5, in file
/// order (so the selection is the same on every run).
pub fn vader_subset(gz: &str, out: &Path, per_class: usize) {
    let mut raw = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data_dir().join("vader").join(gz)).unwrap())
        .read_to_string(&mut raw)
        .unwrap();
    let (mut pos, mut neg) = (0, 0);
    let mut tsv = String::from("id\tscore\ttext\n");
    for line in raw.lines() {
        let score: f64 = line.split('\t').nth(1).unwrap().trim().parse().unwrap();
        let take = if score > 0.5 && pos < per_class {
            pos += 1;
            true
        } else if score < -0.5 && neg < per_class {
            neg += 1;
            true
        } else {
            false
        };
        if take {
            tsv.push_str(line);
            tsv.push('\n');
        }
    }
    assert_eq!((pos, neg), (per_class, per_class), "{gz}");
    std::fs::write(out, tsv).unwrap();
}

/// The libtorch venv's python (`THAW_PYTHON` overrides it): the reference side of the parity
/// tests.
pub fn python() -> PathBuf {
    match std::env::var_os("THAW_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/thaw/torch-2.11.0/bin/python")
        }
    }
}

/// [`python`] when it can import `module`, or why not and what to `run` about it.
pub fn python_with(module: &str, run: &str) -> Result<PathBuf, String> {
    let py = python();
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Ok(py)
    } else {
        Err(format!(
            "{} cannot import {module}; run `{run}` (or set THAW_PYTHON)",
            py.display()
        ))
    }
}

/// The MiniLM folder `make weights` fills, or why not.
pub fn minilm_dir() -> Result<PathBuf, String> {
    let dir = thaw::paths::minilm_dir();
    if dir.join("model.safetensors").is_file() && dir.join("tokenizer.json").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "{} lacks the MiniLM files; run `make weights`",
            dir.display()
        ))
    }
}

/// The value of a `Result<_, String>`, or, on `Err(why)`, prints `SKIPPED: why` and returns
/// from the test (reference files a test needs are absent).
#[macro_export]
macro_rules! require {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
        }
    };
}
