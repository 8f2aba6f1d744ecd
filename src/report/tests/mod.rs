//! End-to-end tests: a fixture database built from the real schema, rendered and inspected.

use super::context::Ctx;
use super::page::{Cell, Output, Table};
use super::sections;
use super::{export_sweep, render_index, render_sweep, render_sweep_with, ExportFormat};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

mod exports;
mod files;
mod page;
mod science;

pub(super) const EPOCHS: i64 = 3;

pub(super) struct TrialFixture<'a> {
    pub(super) status: &'a str,
    pub(super) pretrained: bool,
    pub(super) freeze: &'a str,
    pub(super) train_per_class: i64,
    pub(super) shift: &'a str,
    pub(super) seed: i64,
    pub(super) error: Option<&'a str>,
    /// `cosine lr=0.1` instead of `constant lr=0.01`.
    pub(super) cosine: bool,
}

/// Learning-rate metrics: four blocks and the head.
pub(super) const BLOCKS: [&str; 5] = [
    "lr/block0",
    "lr/block1",
    "lr/block2",
    "lr/block3",
    "lr/head",
];

pub(super) fn create_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for (_, sql) in crate::track::schema::MIGRATIONS {
        conn.execute_batch(sql).unwrap();
    }
    conn
}

pub(super) fn insert_sweep(conn: &Connection, name: &str, yaml: &str) -> i64 {
    conn.execute(
        "INSERT INTO sweeps (name, description, spec_path, spec_yaml, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z')",
        params![
            name,
            "Which frozen depth is best when the target set is **small**? <b>not bold</b>",
            format!("experiments/{name}.yaml"),
            yaml
        ],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// Inserts a trial and, unless it is pending, deterministic metrics for its epochs.
pub(super) fn insert_trial(conn: &Connection, sweep_id: i64, position: i64, t: &TrialFixture) {
    let key = format!("k{sweep_id}-{position:03}");
    let (schedule, lr) = if t.cosine {
        ("cosine lr=0.1", 0.1)
    } else {
        ("constant lr=0.01", 0.01)
    };
    let frozen = if t.freeze == "all" {
        4
    } else {
        t.freeze.parse::<i64>().unwrap()
    };
    let config = serde_json::json!({
        "key": key, "freeze": t.freeze, "seed": t.seed, "schedule": schedule,
        "note": "<script>alert('cfg')</script>"
    })
    .to_string();
    conn.execute(
        "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained, freeze,
            frozen_blocks, source_dataset, target_dataset, train_per_class, shift, shift_kind,
            shift_magnitude, schedule, lr, optimizer, seed, epochs, batch_size, position, error)
         VALUES (?1, ?2, ?3, ?15, 'cnn4', ?4, ?5, ?6, 'mnist10k', 'mnist10k', ?7, ?8, ?9, ?10,
            ?16, ?17, 'sgd', ?11, ?12, 64, ?13, ?14)",
        params![
            sweep_id,
            key,
            t.status,
            t.pretrained as i64,
            t.freeze,
            frozen,
            t.train_per_class,
            t.shift,
            t.shift.split(' ').next().unwrap(),
            t.shift
                .split(' ')
                .nth(1)
                .map_or(0.0, |m| m.parse::<f64>().unwrap()),
            t.seed,
            EPOCHS,
            position,
            t.error,
            config,
            schedule,
            lr,
        ],
    )
    .unwrap();
    let id = conn.last_insert_rowid();
    let last_epoch = match t.status {
        "pending" => return,
        "completed" => EPOCHS,
        _ => 1,
    };
    let size = (t.train_per_class as f64).log10() / 3.0; // 10 -> 0.33, 100 -> 0.67
    let shift_pen = if t.shift == "none" { 0.0 } else { 0.15 };
    let base = 0.4 + 0.3 * size - shift_pen + if t.pretrained { 0.1 } else { 0.0 };
    let noise = 0.01 * t.seed as f64;
    for e in 0..=last_epoch {
        let p = e as f64 / EPOCHS as f64;
        let val = base + 0.15 * p + noise;
        let train = (val + 0.2 * p * (1.0 - size)).min(1.0);
        let mut m = vec![
            ("train_loss", 1.5 - p),
            ("val_loss", 1.6 - 0.8 * p),
            ("train_acc", train),
            ("val_acc", val),
            ("test_acc", val - 0.01),
        ];
        if e > 0 {
            m.push(("epoch_seconds", 2.0));
            let decay = if t.cosine { 1.0 - 0.3 * p } else { 1.0 };
            for (b, name) in BLOCKS.iter().enumerate() {
                let v = if (b as i64) < frozen && *name != "lr/head" {
                    0.0
                } else {
                    lr * decay * 0.5f64.powi(3 - b as i32)
                };
                m.push((name, v));
            }
        }
        if t.pretrained {
            let forget = if t.freeze == "all" { 0.0 } else { 0.2 * p };
            m.push(("source_acc", 0.95 - forget));
        }
        for (name, v) in m {
            conn.execute(
                "INSERT INTO metrics (trial_id, epoch, name, value) VALUES (?1, ?2, ?3, ?4)",
                params![id, e, name, v],
            )
            .unwrap();
        }
    }
}

pub(super) const YAML: &str = r###"name: digits-test
seeds: [0, 1]
freeze: [0, all]
# <script>alert('yaml')</script>
report:
  - markdown: "## Notes <script>alert('md')</script>\n\nFreezing **helps** at 10/class."
  - title: Accuracy by size
    sql: SELECT train_per_class, freeze, AVG(final_test_acc) AS acc FROM trial_summary WHERE sweep = 'digits-test' AND status = 'completed' GROUP BY train_per_class, freeze ORDER BY train_per_class
    chart: line
    x: train_per_class
    y: acc
    series: freeze
  - title: Trials per status
    sql: SELECT status, COUNT(*) AS n FROM trials GROUP BY status ORDER BY status
    chart: bar
    x: status
    y: n
  - title: Shift by size
    sql: SELECT shift, train_per_class, AVG(final_test_acc) AS acc FROM trial_summary WHERE sweep = 'digits-test' AND status = 'completed' GROUP BY shift, train_per_class
    chart: heatmap
    x: train_per_class
    y: shift
  - title: Slowest trials
    sql: SELECT key, train_seconds FROM trial_summary WHERE sweep = 'digits-test' ORDER BY train_seconds DESC, key LIMIT 5
    chart: table
  - title: Broken <query>
    sql: SELECT no_such_column FROM trial_summary
    chart: line
    x: a
    y: b
  - title: Sneaky
    sql: DELETE FROM trials
    chart: table
"###;

/// Titles of the user cells of [`YAML`], in order (the markdown cell has none).
pub(super) const USER_CHARTS: usize = 3;

pub(super) const USER_CELLS: usize = 7;

/// Inserts a completed trial at positions 0, 1, ... for every (pretrained, freeze) model ×
/// size × shift × seed `0..seeds` (odd seeds on the cosine schedule); returns the count.
pub(super) fn insert_completed(
    conn: &Connection,
    sweep_id: i64,
    models: &[(bool, &str)],
    sizes: &[i64],
    shifts: &[&str],
    seeds: i64,
) -> i64 {
    let mut pos = 0;
    for &(pretrained, freeze) in models {
        for &n in sizes {
            for &shift in shifts {
                for seed in 0..seeds {
                    insert_trial(
                        conn,
                        sweep_id,
                        pos,
                        &TrialFixture {
                            status: "completed",
                            pretrained,
                            freeze,
                            train_per_class: n,
                            shift,
                            seed,
                            error: None,
                            cosine: seed == 1,
                        },
                    );
                    pos += 1;
                }
            }
        }
    }
    pos
}

/// Sweep `digits-test`: freeze {0, all} + scratch × size {10, 100} × shift {none, rotate 45}
/// × seed {0 (constant lr=0.01), 1 (cosine lr=0.1)} completed (24), plus one failed, one
/// running, one pending trial.
/// Sweep `flat`: shift does not vary.
pub(super) fn fixture(dir: &Path) -> PathBuf {
    let db = dir.join("thaw.sqlite");
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "digits-test", YAML);
    let models = [(true, "0"), (true, "all"), (false, "0")];
    let completed = insert_completed(&conn, sid, &models, &[10, 100], &["none", "rotate 45"], 2);
    let unfinished = [
        (
            "failed",
            Some("CUDA error: <script>alert('x')</script> & more"),
        ),
        ("running", None),
        ("pending", None),
    ];
    for (pos, (status, error)) in (completed..).zip(unfinished) {
        insert_trial(
            &conn,
            sid,
            pos,
            &TrialFixture {
                status,
                pretrained: true,
                freeze: "0",
                train_per_class: 10,
                shift: "none",
                seed: 2,
                error,
                cosine: false,
            },
        );
    }

    add_science(&conn, sid);

    let flat = insert_sweep(&conn, "flat", "name: flat\n");
    for (i, n) in [10, 100, 10, 100].into_iter().enumerate() {
        insert_trial(
            &conn,
            flat,
            i as i64,
            &TrialFixture {
                status: "completed",
                pretrained: true,
                freeze: "all",
                train_per_class: n,
                shift: "none",
                seed: i as i64 / 2,
                error: None,
                cosine: false,
            },
        );
    }
    db
}

/// Final-epoch calibration and drift metrics for the sweep's completed trials, and a domain
/// distance per (seed, shift) linked to its pretrained trials. Known effects: temperature
/// scaling lowers ECE everywhere; under freeze 0 CKA falls with depth (0.9 … 0.6), frozen
/// blocks keep CKA 1 and weight distance 0; distance grows from none to rotate 45.
pub(super) fn add_science(conn: &Connection, sweep_id: i64) {
    let done = "FROM trials WHERE sweep_id = ?1 AND status = 'completed'";
    for (name, scratch, all, zero) in [
        ("ece", 0.10, 0.06, 0.08),
        ("ece_ts", 0.04, 0.02, 0.03),
        ("temperature", 1.3, 1.2, 1.5),
    ] {
        conn.execute(
            &format!(
                "INSERT INTO metrics (trial_id, epoch, name, value)
                 SELECT id, epochs, '{name}', CASE WHEN pretrained = 0 THEN {scratch}
                     WHEN freeze = 'all' THEN {all} ELSE {zero} END {done}"
            ),
            [sweep_id],
        )
        .unwrap();
    }
    for b in 0..4 {
        conn.execute(
            &format!(
                "INSERT INTO metrics (trial_id, epoch, name, value)
                 SELECT id, epochs, 'cka/block{b}',
                        CASE WHEN freeze = 'all' THEN 1.0 ELSE {} END {done} AND pretrained = 1",
                1.0 - 0.1 * (b as f64 + 1.0)
            ),
            [sweep_id],
        )
        .unwrap();
        conn.execute(
            &format!(
                "INSERT INTO metrics (trial_id, epoch, name, value)
                 SELECT id, epochs, 'weight_dist/block{b}',
                        CASE WHEN freeze = 'all' THEN 0.0 ELSE {} END {done} AND pretrained = 1",
                0.5 * (b as f64 + 1.0)
            ),
            [sweep_id],
        )
        .unwrap();
    }
    for seed in [0, 1] {
        for (shift, pa, mmd, fr) in [("none", 0.1, 0.01, 1.0), ("rotate 45", 1.2, 0.2, 5.0)] {
            let key = format!("d{seed}-{shift}");
            let noise = 0.01 * seed as f64;
            conn.execute(
                "INSERT INTO domain_distance (key, pretrained_key, target_dataset, shift, proxy_a,
                    mmd2, frechet, n_source, n_target, created_at)
                 VALUES (?1, ?2, 'mnist10k', ?3, ?4, ?5, ?6, 500, 500, 't')",
                params![
                    key,
                    format!("p{seed}"),
                    shift,
                    pa + noise,
                    mmd + noise,
                    fr + noise
                ],
            )
            .unwrap();
            conn.execute(
                "UPDATE trials SET domain_key = ?1
                 WHERE sweep_id = ?2 AND pretrained = 1 AND seed = ?3 AND shift = ?4",
                params![key, sweep_id, seed, shift],
            )
            .unwrap();
        }
    }
}

pub(super) fn build_cells(db: &Path, sweep: &str) -> Vec<Cell> {
    let conn = Connection::open(db).unwrap();
    let ctx = Ctx::load(&conn, sweep, "now".into()).unwrap();
    sections::build(&ctx).unwrap()
}

pub(super) fn escaped(s: &str) -> String {
    minijinja::HtmlEscape(s).to_string()
}

pub(super) fn count_rows(db: &Path, sql: &str) -> usize {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut n = 0;
    while rows.next().unwrap().is_some() {
        n += 1;
    }
    n
}

/// Built-in section titles (prefixes) expected for `digits-test`, in page order.
pub(super) const SECTIONS: [&str; 16] = [
    "Sweep",
    "Grid",
    "Overfitting",
    "Forgetting: source-task",
    "Forgetting by schedule",
    "Forgetting vs learning rate",
    "Forgetting vs transfer gain",
    "Domain gap",
    "Target accuracy vs measured domain distance",
    "Data efficiency",
    "Transfer gain vs examples per class",
    "Representation drift",
    "Calibration",
    "Schedules",
    "Heatmap",
    "Trials",
];
