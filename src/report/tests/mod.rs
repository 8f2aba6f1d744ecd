//! End-to-end tests: a fixture database written through `track`'s writer, rendered and inspected.

use super::context::Ctx;
use super::page::{Cell, Output, Table};
use super::sections;
use super::{export_sweep, render_index, render_sweep, render_sweep_with, ExportFormat};
use crate::spec::{
    BackboneKind, DatasetSource, Freeze, Optimizer, Schedule, ScheduleKind, Shift, SourceTask,
    TargetTask, TrialSpec,
};
use crate::track::{ClaimRules, Db, DomainRow, Environment, TrialStatus};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

mod cost;
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

/// The fixture database, opened (created, migrated) through the writer as `thaw run` opens it.
pub(super) fn create_db(path: &Path) -> Db {
    Db::open(path).unwrap()
}

/// Raw SQL on the writer's connection, for a test that plays a second writer holding a write
/// transaction open while a report renders (files.rs); fixtures themselves write through [`Db`].
/// Records the sweep `name` with grid text `yaml` and a description with markdown and HTML in it.
pub(super) fn insert_sweep(db: &Db, name: &str, yaml: &str) -> i64 {
    db.upsert_sweep(
        name,
        "Which frozen depth is best when the target set is **small**? <b>not bold</b>",
        &format!("experiments/{name}.yaml"),
        yaml,
    )
    .unwrap()
}

/// `none`, or a shift kind and its magnitude as the report prints them (`rotate 45`).
fn shift(s: &str) -> Shift {
    let Some((kind, m)) = s.split_once(' ') else {
        assert_eq!(s, "none");
        return Shift::None;
    };
    let m: f64 = m.parse().unwrap();
    match kind {
        "rotate" => Shift::Rotate { degrees: m },
        "noise" => Shift::Noise { sigma: m },
        "invert" => Shift::Invert { amount: m },
        "blur" => Shift::Blur { sigma: m },
        "contrast" => Shift::Contrast { factor: m },
        _ => panic!("unknown shift {s}"),
    }
}

/// The fixture trial's resolved config: cnn4 on mnist10k, SGD, [`EPOCHS`] epochs. The source's
/// label file is named `<script>alert('cfg')</script>`, to check that trial pages escape the
/// config.
fn spec(t: &TrialFixture) -> TrialSpec {
    let (kind, lr) = if t.cosine {
        (ScheduleKind::Cosine { warmup_epochs: 0.0 }, 0.1)
    } else {
        (ScheduleKind::Constant, 0.01)
    };
    let classes: Vec<u32> = (0..10).collect();
    TrialSpec {
        seed: t.seed as u64,
        backbone: BackboneKind::Cnn4,
        pretrained: t.pretrained,
        freeze: match t.freeze {
            "all" => Freeze::All,
            k => Freeze::Blocks(k.parse().unwrap()),
        },
        source: SourceTask {
            task: Default::default(),
            dataset: DatasetSource::Idx {
                images: "idx/mnist10k".into(),
                labels: "idx/<script>alert('cfg')</script>".into(),
            },
            classes: classes.clone(),
            train_per_class: None,
            epochs: 2,
            lr: 0.05,
        },
        target: TargetTask {
            dataset: DatasetSource::Bundled {
                name: "mnist10k".into(),
            },
            classes,
            train_per_class: t.train_per_class as usize,
            shift: shift(t.shift),
        },
        schedule: Schedule {
            kind,
            lr,
            layer_decay: 1.0,
            gradual_unfreeze: false,
            probe_epochs: 0,
        },
        optimizer: Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
        },
        epochs: EPOCHS as usize,
        batch_size: 64,
        image_size: 28,
        weights: None,
        input_size: None,
        precision: Default::default(),
        max_length: None,
        pooling: None,
    }
}

/// The environment of the fixture's runners: `host-a` runs the trials at even positions,
/// `host-b`, built from changed sources, those at odd ones.
pub(super) fn fixture_environment(position: i64) -> Environment {
    Environment {
        thaw_version: "0.1.0".into(),
        thaw_build: format!(
            "git 0123abcd{}, release",
            ["", " (dirty)"][position as usize % 2]
        ),
        semantics: crate::spec::SEMANTICS.into(),
        grid_path: Some("/grids/digits.yaml".into()),
        grid_commit: Some("4567ef".into()),
        grid_dirty: Some(false),
        libtorch: Some("2.11.0".into()),
        cuda: None,
        cudnn: None,
        device: Some("cpu".into()),
        gpu_name: None,
        gpu_memory_mib: None,
        cpu_model: Some("Fixture CPU".into()),
        cpu_cores: Some(4),
        host: if position % 2 == 0 {
            "host-a"
        } else {
            "host-b"
        }
        .into(),
        os: "Linux".into(),
        command_line: "thaw run digits.yaml".into(),
    }
}

/// Registers a trial, and unless it is pending runs it as a runner would: claims it on the
/// CPU in [`fixture_environment`], logs deterministic metrics for its epochs and, unless it is
/// running, finishes it with its status and error.
pub(super) fn insert_trial(db: &Db, sweep_id: i64, position: i64, t: &TrialFixture) {
    let key = format!("k{sweep_id}-{position:03}");
    let status: TrialStatus = t.status.parse().unwrap();
    let spec = spec(t);
    db.register_trials(sweep_id, &[(position as usize, &key, &spec)])
        .unwrap();
    if status == TrialStatus::Pending {
        return;
    }
    let environment = db
        .record_environment(&fixture_environment(position))
        .unwrap();
    let rules = ClaimRules {
        runner: "fixture",
        environment: Some(&environment),
        retry_failed: false,
        stale_after: std::time::Duration::from_secs(3600),
        runner_is_dead: &|_| false,
    };
    let id = db
        .claim(sweep_id, &key, "cpu", &rules)
        .unwrap()
        .expect("a new trial is claimable")
        .trial_id;
    let last_epoch = if status == TrialStatus::Completed {
        EPOCHS
    } else {
        1
    };
    let frozen = spec.frozen_blocks();
    let lr = spec.schedule.lr;
    let size = (t.train_per_class as f64).log10() / 3.0; // 10 -> 0.33, 100 -> 0.67
    let shift_pen = if t.shift == "none" { 0.0 } else { 0.15 };
    let base = 0.4 + 0.3 * size - shift_pen + if t.pretrained { 0.1 } else { 0.0 };
    let noise = 0.01 * t.seed as f64;
    for e in 0..=last_epoch {
        let p = e as f64 / EPOCHS as f64;
        let val = base + 0.15 * p + noise;
        let train = (val + 0.2 * p * (1.0 - size)).min(1.0);
        let mut m = vec![
            ("train_loss".to_string(), 1.5 - p),
            ("val_loss".to_string(), 1.6 - 0.8 * p),
            ("train_acc".to_string(), train),
            ("val_acc".to_string(), val),
            ("test_acc".to_string(), val - 0.01),
        ];
        if e > 0 {
            m.push(("epoch_seconds".to_string(), 2.0));
            let decay = if t.cosine { 1.0 - 0.3 * p } else { 1.0 };
            for (b, name) in BLOCKS.iter().enumerate() {
                let v = if b < frozen && *name != "lr/head" {
                    0.0
                } else {
                    lr * decay * 0.5f64.powi(3 - b as i32)
                };
                m.push((name.to_string(), v));
            }
        }
        if t.pretrained {
            let forget = if t.freeze == "all" { 0.0 } else { 0.2 * p };
            m.push(("source_acc".to_string(), 0.95 - forget));
        }
        db.log_epoch(id, e, &m).unwrap();
    }
    if status != TrialStatus::Running {
        db.finish_trial(id, status, t.error).unwrap();
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
    db: &Db,
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
                        db,
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
    let path = dir.join("thaw.sqlite");
    let db = create_db(&path);
    let sid = insert_sweep(&db, "digits-test", YAML);
    let models = [(true, "0"), (true, "all"), (false, "0")];
    let completed = insert_completed(&db, sid, &models, &[10, 100], &["none", "rotate 45"], 2);
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
            &db,
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

    add_science(&db, sid);

    let flat = insert_sweep(&db, "flat", "name: flat\n");
    for (i, n) in [10, 100, 10, 100].into_iter().enumerate() {
        insert_trial(
            &db,
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
    path
}

/// Final-epoch calibration and drift metrics for the sweep's completed trials, and a domain
/// distance per (seed, shift) linked to its pretrained trials. Known effects: temperature
/// scaling lowers ECE everywhere; under freeze 0 CKA falls with depth (0.9 … 0.6), frozen
/// blocks keep CKA 1 and weight distance 0; distance grows from none to rotate 45.
pub(super) fn add_science(db: &Db, sweep_id: i64) {
    for seed in [0, 1] {
        for (shift, pa, mmd, fr) in [("none", 0.1, 0.01, 1.0), ("rotate 45", 1.2, 0.2, 5.0)] {
            let noise = 0.01 * seed as f64;
            db.record_domain_distance(&DomainRow {
                key: &format!("d{seed}-{shift}"),
                pretrained_key: &format!("p{seed}"),
                target_dataset: "mnist10k",
                shift,
                proxy_a: pa + noise,
                mmd2: mmd + noise,
                frechet: fr + noise,
                n_source: 500,
                n_target: 500,
            })
            .unwrap();
        }
    }
    type Row = (i64, String, bool, String, i64, String);
    let trials: Vec<Row> = db
        .connection()
        .prepare(
            "SELECT id, status, pretrained, freeze, seed, shift FROM trials WHERE sweep_id = ?1",
        )
        .unwrap()
        .query_map([sweep_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (id, status, pretrained, freeze, seed, shift) in trials {
        let all = freeze == "all";
        if pretrained && (0..2).contains(&seed) {
            db.link_domain_distance(id, &format!("d{seed}-{shift}"))
                .unwrap();
        }
        if status != "completed" {
            continue;
        }
        let mut m = Vec::new();
        for (name, scratch, frozen, zero) in [
            ("ece", 0.10, 0.06, 0.08),
            ("ece_ts", 0.04, 0.02, 0.03),
            ("temperature", 1.3, 1.2, 1.5),
        ] {
            let v = match (pretrained, all) {
                (false, _) => scratch,
                (true, true) => frozen,
                (true, false) => zero,
            };
            m.push((name.to_string(), v));
        }
        if pretrained {
            for b in 0..4 {
                let cka = if all {
                    1.0
                } else {
                    1.0 - 0.1 * (b as f64 + 1.0)
                };
                let dist = if all { 0.0 } else { 0.5 * (b as f64 + 1.0) };
                m.push((format!("cka/block{b}"), cka));
                m.push((format!("weight_dist/block{b}"), dist));
            }
        }
        db.log_epoch(id, EPOCHS, &m).unwrap();
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
pub(super) const SECTIONS: [&str; 17] = [
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
    "Provenance",
];

mod compare;
mod notes;
