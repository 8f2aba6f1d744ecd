//! End-to-end tests: a fixture database built from the real schema, rendered and inspected.

use super::cells::{self, Cell, Output};
use super::{export_sweep, render_index, render_sweep, render_sweep_with, ExportFormat};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const EPOCHS: i64 = 3;

struct TrialFixture<'a> {
    status: &'a str,
    pretrained: bool,
    freeze: &'a str,
    train_per_class: i64,
    shift: &'a str,
    seed: i64,
    error: Option<&'a str>,
    /// `cosine lr=0.1` instead of `constant lr=0.01`.
    cosine: bool,
}

/// Learning-rate metrics: four blocks and the head.
const BLOCKS: [&str; 5] = [
    "lr/block0",
    "lr/block1",
    "lr/block2",
    "lr/block3",
    "lr/head",
];

fn create_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for (_, sql) in crate::track::schema::MIGRATIONS {
        conn.execute_batch(sql).unwrap();
    }
    conn
}

fn insert_sweep(conn: &Connection, name: &str, yaml: &str) -> i64 {
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
fn insert_trial(conn: &Connection, sweep_id: i64, position: i64, t: &TrialFixture) {
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

const YAML: &str = r###"name: digits-test
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
const USER_CHARTS: usize = 3;
const USER_CELLS: usize = 7;

/// Sweep `digits-test`: freeze {0, all} + scratch × size {10, 100} × shift {none, rotate 45}
/// × seed {0 (constant lr=0.01), 1 (cosine lr=0.1)} completed (24), plus one failed, one
/// running, one pending trial.
/// Sweep `flat`: shift does not vary.
pub(super) fn fixture(dir: &Path) -> PathBuf {
    let db = dir.join("thaw.sqlite");
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "digits-test", YAML);
    let mut pos = 0;
    for (pretrained, freeze) in [(true, "0"), (true, "all"), (false, "0")] {
        for n in [10, 100] {
            for shift in ["none", "rotate 45"] {
                for seed in [0, 1] {
                    insert_trial(
                        &conn,
                        sid,
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
    for (status, error) in [
        (
            "failed",
            Some("CUDA error: <script>alert('x')</script> & more"),
        ),
        ("running", None),
        ("pending", None),
    ] {
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
        pos += 1;
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
fn add_science(conn: &Connection, sweep_id: i64) {
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

fn build_cells(db: &Path, sweep: &str) -> Vec<Cell> {
    let conn = Connection::open(db).unwrap();
    let ctx = cells::Ctx::load(&conn, sweep, "now".into()).unwrap();
    cells::build(&ctx).unwrap()
}

fn escaped(s: &str) -> String {
    minijinja::HtmlEscape(s).to_string()
}

fn count_rows(db: &Path, sql: &str) -> usize {
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
const SECTIONS: [&str; 16] = [
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

#[test]
fn renders_a_self_contained_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let out = tmp.path().join("reports");
    let path = render_sweep(&db, "digits-test", &out).unwrap();
    assert_eq!(path, out.join("digits-test").join("index.html"));
    assert!(path.is_file());
    let html = std::fs::read_to_string(&path).unwrap();
    // For looking at the page: THAW_REPORT_DEMO=/some/dir cargo test --lib report
    if let Some(dir) = std::env::var_os("THAW_REPORT_DEMO") {
        std::fs::write(Path::new(&dir).join("demo.html"), &html).unwrap();
    }

    // Numbered cells, in order: the built-in sections, then the grid's own cells.
    let n_cells = SECTIONS.len() + USER_CELLS;
    let mut at = 0;
    for n in 1..=n_cells {
        let p = html[at..]
            .find(&format!("Out[{n}]:"))
            .unwrap_or_else(|| panic!("no output prompt {n}"));
        at += p;
    }
    assert!(!html.contains(&format!("Out[{}]:", n_cells + 1)));
    let cells = build_cells(&db, "digits-test");
    assert_eq!(cells.len(), n_cells);
    for (cell, title) in cells.iter().zip(SECTIONS) {
        assert!(cell.title.starts_with(title), "{} != {title}", cell.title);
        assert!(html.contains(&escaped(&cell.title)), "missing {title}");
    }
    // No empty chart: every chart drew rows, and no section is waiting for data.
    let mut charts = 0;
    for cell in &cells {
        for out in &cell.outputs {
            if let Output::Chart { rows, svg, .. } = out {
                charts += 1;
                assert!(*rows > 0, "{}", cell.title);
                assert!(
                    svg.contains("<circle") || svg.contains("<rect x=\"") || svg.contains("<rect"),
                    "{}",
                    cell.title
                );
            }
        }
    }
    // 11 single-chart sections, 2 schedules, the heatmap, 3 user charts.
    assert_eq!(charts, 11 + 2 + 1 + USER_CHARTS);
    assert_eq!(html.matches("<svg").count(), charts);
    assert!(!html.contains("No completed trials with these metrics yet."));

    // Overview: summed training time (24 completed × 3 epochs + failed and running × 1 epoch, 2 s each).
    assert!(html.contains("<li>training time, summed over trials: 2 min 28 s</li>"));
    // Status counts, readable mid-sweep.
    assert!(html.contains("24 of 27 trials completed, 1 running, 1 failed, 1 pending."));

    // No external resources: the only URL is the SVG namespace.
    for scheme in ["http://", "https://"] {
        for (i, _) in html.match_indices(scheme) {
            let rest = &html[i..];
            assert!(
                rest.starts_with("http://www.w3.org/2000/svg\""),
                "external reference: {}",
                &rest[..rest.len().min(80)]
            );
        }
    }
    for banned in ["<link", "@import", "url(", " src=", "<iframe", "<img"] {
        assert!(!html.contains(banned), "found {banned}");
    }
    // The only script is the table sorter.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains("table.sortable"));
    // User strings are escaped: the error, the YAML comment, the description, user cells.
    assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; more"));
    assert!(
        html.contains("&lt;b&gt;not bold&lt;&#x2f;b&gt;")
            || html.contains("&lt;b&gt;not bold&lt;/b&gt;")
    );
    assert!(html.contains("<strong>small</strong>"));
    assert!(html.contains("Broken &lt;query&gt;"));
    assert!(html.contains("&lt;script&gt;alert(&#x27;md&#x27;)"));

    // Legends.
    for label in [
        "freeze 0",
        "freeze all",
        "scratch",
        "10/class",
        "100/class",
        "validation",
        "constant lr=0.01",
        "cosine lr=0.1",
        "block0",
        "head",
    ] {
        assert!(
            html.contains(&format!(">\n{label}\n<")) || html.contains(&format!(">{label}<")),
            "legend label {label} missing"
        );
    }
    // Axis labels of the categorical and log axes; heatmap values printed in the cells.
    assert!(html.contains("rotate 45"));
    assert!(html.contains("(log scale)"));
    let conn = Connection::open(&db).unwrap();
    let v: f64 = conn
        .query_row(
            "SELECT AVG(final_test_acc) FROM trial_summary WHERE sweep = 'digits-test'
             AND status = 'completed' AND pretrained = 1 AND freeze = 'all'
             AND train_per_class = 100",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        html.contains(&format!(">{v:.3}</text>")),
        "heatmap value {v:.3}"
    );

    // Every SQL input appears verbatim (escaped) in the page.
    let sql: Vec<&str> = cells
        .iter()
        .flat_map(|c| c.inputs.iter())
        .filter(|i| i.lang == "sql")
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(sql.len(), 18 + 6);
    for q in sql {
        assert!(html.contains(&escaped(q)), "SQL not shown: {q}");
    }

    // The trial table links every trial to its page, and sorts.
    assert!(html.contains("<table class=\"sortable\">"));
    assert!(html.contains("<a href=\"trials&#x2f;k1-000.html\">k1-000</a>"));
}

#[test]
fn chart_sql_returns_the_plotted_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let mut charts = 0;
    for cell in &cells {
        let drawn: usize = cell
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Chart { rows, .. } => Some(*rows),
                _ => None,
            })
            .sum();
        let n_charts = cell
            .outputs
            .iter()
            .filter(|o| matches!(o, Output::Chart { .. }))
            .count();
        if n_charts == 0 {
            continue;
        }
        charts += n_charts;
        let sql = &cell.inputs[0].text;
        assert_eq!(count_rows(&db, sql), drawn, "{}", cell.title);
        let e = EPOCHS as usize;
        let expected = match cell.title.as_str() {
            t if t.starts_with("Overfitting") => 2 * e, // two sizes × epochs 1..=3
            t if t.starts_with("Forgetting: source") => 2 * (e + 1), // two freezes × 0..=3
            t if t.starts_with("Forgetting by schedule") => 2 * (e + 1), // two schedules
            t if t.starts_with("Forgetting vs") => 16,  // one row per pretrained trial
            t if t.starts_with("Schedules") => 2 * BLOCKS.len() * e, // 2 schedules
            t if t.starts_with("Heatmap") => 3 * 2,     // 3 models × 2 sizes
            t if t.starts_with("Representation drift") => 16 * 4, // pretrained × blocks
            t if t.starts_with("Forgetting vs transfer")
                || t.starts_with("Transfer gain")
                || t.starts_with("Target accuracy vs") =>
            {
                16 // one row per pretrained trial
            }
            "Accuracy by size" => 2 * 2,
            "Trials per status" => 4,
            "Shift by size" => 2 * 2,
            _ => 24, // one row per completed trial
        };
        assert_eq!(drawn, expected, "{}", cell.title);
    }
    assert_eq!(charts, 17);

    // The overfitting query's averages are the per-epoch means over completed trials.
    let conn = Connection::open(&db).unwrap();
    let overfit = &cells
        .iter()
        .find(|c| c.title.starts_with("Overfitting"))
        .unwrap()
        .inputs[0]
        .text;
    let (n, val): (i64, f64) = conn
        .query_row(
            &format!(
                "SELECT trials, val_acc FROM ({}) WHERE train_per_class = 10 AND epoch = 3",
                overfit.trim_end_matches(';')
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, 12);
    let direct: f64 = conn
        .query_row(
            "SELECT AVG(m.value) FROM metrics m JOIN trials t ON t.id = m.trial_id
             WHERE t.status = 'completed' AND t.sweep_id = 1 AND t.train_per_class = 10
               AND m.epoch = 3 AND m.name = 'val_acc'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!((val - direct).abs() < 1e-12);

    // The schedules chart shows the least-frozen trial's rates: block0 is not frozen.
    let sched = &cells
        .iter()
        .find(|c| c.title.starts_with("Schedules"))
        .unwrap()
        .inputs[0]
        .text;
    let zero: i64 = conn
        .query_row(
            &format!(
                "SELECT COUNT(*) FROM ({}) WHERE lr = 0",
                sched.trim_end_matches(';')
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(zero, 0);
}

#[test]
fn user_cells_render_and_failures_are_error_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let user = &cells[SECTIONS.len()..];
    assert_eq!(user.len(), USER_CELLS);
    // Markdown: rendered, escaped.
    match &user[0].outputs[0] {
        Output::Html { html } => {
            assert!(html.contains("<h2>Notes &lt;script&gt;"), "{html}");
            assert!(html.contains("<strong>helps</strong>"));
        }
        o => panic!("{o:?}"),
    }
    // Line chart with one series per freeze value, page colours.
    match &user[1].outputs[0] {
        Output::Chart { svg, rows, .. } => {
            assert_eq!(*rows, 4);
            assert!(svg.contains("Accuracy by size"));
            assert!(svg.contains(">all<") || svg.contains(">\nall\n<"), "{svg}");
        }
        o => panic!("{o:?}"),
    }
    assert!(matches!(&user[2].outputs[0], Output::Chart { rows: 4, .. }));
    assert!(matches!(&user[3].outputs[0], Output::Chart { rows: 4, .. }));
    // Table.
    match &user[4].outputs[0] {
        Output::Table(t) => {
            assert_eq!(t.headers, ["key", "train_seconds"]);
            assert_eq!(t.rows.len(), 5);
        }
        o => panic!("{o:?}"),
    }
    // A failing query and a write attempt are error cells.
    match &user[5].outputs[0] {
        Output::Error { message } => assert!(message.contains("no_such_column"), "{message}"),
        o => panic!("{o:?}"),
    }
    match &user[6].outputs[0] {
        Output::Error { message } => assert!(message.contains("read-only"), "{message}"),
        o => panic!("{o:?}"),
    }
    // The write attempt changed nothing.
    assert_eq!(count_rows(&db, "SELECT * FROM trials"), 31);
    // And the report as a whole rendered.
    let html =
        std::fs::read_to_string(render_sweep(&db, "digits-test", tmp.path()).unwrap()).unwrap();
    assert_eq!(html.matches("<pre class=\"error\">").count(), 2);
}

#[test]
fn sections_whose_axis_does_not_vary_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let path = render_sweep(&db, "flat", tmp.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    for absent in [
        "Domain gap",
        "Heatmap",
        "Forgetting by schedule",
        "Forgetting vs learning rate",
        // No scratch trials, no calibration, drift or distance metrics.
        "Forgetting vs transfer gain",
        "Transfer gain vs examples",
        "Representation drift",
        "Calibration",
        "measured domain distance",
        "Mixed precision",
    ] {
        assert!(!html.contains(absent), "{absent}");
    }
    assert!(html.contains("Data efficiency"));
    assert!(html.contains("Schedules"));
    // Overfitting, forgetting, data efficiency, the one schedule.
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("4 of 4 trials completed."));
    // Only freeze "all" and no scratch trials: no scratch series.
    assert!(!html.contains(">\nscratch\n<"));
}

#[test]
fn renders_mid_sweep_while_a_writer_holds_a_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("thaw.sqlite");
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "early", "name: early\n");
    for (i, status) in ["running", "pending", "pending"].into_iter().enumerate() {
        insert_trial(
            &conn,
            sid,
            i as i64,
            &TrialFixture {
                status,
                pretrained: true,
                freeze: "0",
                train_per_class: 10 * (i as i64 + 1),
                shift: if i == 0 { "none" } else { "rotate 45" },
                seed: 0,
                error: None,
                cosine: false,
            },
        );
    }
    conn.execute_batch(
        "BEGIN IMMEDIATE; UPDATE trials SET status = 'completed' WHERE position = 0;",
    )
    .unwrap();
    let path = render_sweep(&db, "early", tmp.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(html.contains("0 of 3 trials completed, 1 running, 2 pending."));
    assert!(html.contains("No completed trials with these metrics yet."));
    // Only the running trial's learning rates can be drawn yet.
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(html.contains("Learning rate per block: constant lr=0.01"));
}

#[test]
fn trial_pages_exist_link_back_and_skip_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let out = tmp.path().join("reports");
    render_sweep(&db, "digits-test", &out).unwrap();
    let dir = out.join("digits-test").join("trials");
    let conn = Connection::open(&db).unwrap();
    let keys: Vec<(String, String)> = conn
        .prepare("SELECT key, status FROM trials WHERE sweep_id = 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys.len(), 27);
    for (key, _) in &keys {
        let page = std::fs::read_to_string(dir.join(format!("{key}.html"))).unwrap();
        assert!(
            page.contains("<a href=\"../index.html\">"),
            "{key}: no link back"
        );
        assert!(page.trim_end().ends_with("</html>"));
        // Pretty-printed config, escaped.
        assert!(
            page.contains(&format!("&quot;key&quot;: &quot;{key}&quot;,\n")),
            "{page}"
        );
        assert!(page.contains("&lt;script&gt;alert(&#x27;cfg&#x27;)"));
        assert_eq!(page.matches("<script").count(), 0);
    }
    let completed = std::fs::read_to_string(dir.join("k1-000.html")).unwrap();
    for title in [
        "Loss",
        "Accuracy",
        "Learning rate per block",
        "Timings (seconds per epoch)",
    ] {
        assert!(completed.contains(&format!("<h2>{title}</h2>")), "{title}");
    }
    // Loss, accuracy, learning rates, and the final-epoch calibration and drift metrics.
    assert_eq!(completed.matches("<svg").count(), 4);
    assert!(completed.contains("6.0 s in total"));
    let failed = std::fs::read_to_string(dir.join("k1-024.html")).unwrap();
    assert!(failed.contains("<pre class=\"error\">CUDA error: &lt;script&gt;"));

    // The trial page's SQL returns the rows its charts drew.
    let t = super::trial::load(&conn, "digits-test", "x", &dir)
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    for cell in super::trial::build_cells("digits-test", &t).unwrap() {
        for o in &cell.outputs {
            if let Output::Chart { rows, .. } = o {
                assert_eq!(
                    count_rows(&db, &cell.inputs[0].text),
                    *rows,
                    "{}",
                    cell.title
                );
            }
        }
    }

    // Re-rendering leaves finished trials' pages alone and rewrites the running one.
    let mark = |k: &str| {
        let p = dir.join(format!("{k}.html"));
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str("<!-- marked -->");
        std::fs::write(&p, s).unwrap();
    };
    mark("k1-000");
    mark("k1-025"); // running
    render_sweep(&db, "digits-test", &out).unwrap();
    let read = |k: &str| std::fs::read_to_string(dir.join(format!("{k}.html"))).unwrap();
    assert!(read("k1-000").contains("<!-- marked -->"));
    assert!(!read("k1-025").contains("<!-- marked -->"));
    // Other templates: the stamps differ, every page is rewritten.
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(
        tpl.join("trial.html"),
        "<html>CUSTOM TRIAL {{ key }} <meta name=\"thaw-stamp\" content=\"{{ stamp }}\"></html>",
    )
    .unwrap();
    render_sweep_with(&db, "digits-test", &out, Some(&tpl)).unwrap();
    assert!(read("k1-000").starts_with("<html>CUSTOM TRIAL k1-000"));
}

#[test]
fn user_templates_override_the_embedded_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(
        tpl.join("report.html"),
        "<!DOCTYPE html><title>{{ sweep }}</title>MY REPORT {{ cells|length }} cells\n\
         {% include \"_cells.html\" %}</html>",
    )
    .unwrap();
    std::fs::write(tpl.join("index.html"), "MY INDEX {{ sweeps|length }}").unwrap();
    let out = tmp.path().join("reports");
    let path = render_sweep_with(&db, "digits-test", &out, Some(&tpl)).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert!(html.contains("MY REPORT 23 cells"), "{html}");
    assert!(html.contains("In&nbsp;[1]:"));
    assert_eq!(
        std::fs::read_to_string(out.join("index.html")).unwrap(),
        "MY INDEX 2"
    );
    // The trial pages keep the embedded template.
    let trial = std::fs::read_to_string(out.join("digits-test/trials/k1-000.html")).unwrap();
    assert!(trial.contains("thaw trial"));
    // A broken template is an error that names it.
    std::fs::write(tpl.join("report.html"), "{% if %}").unwrap();
    let err = render_sweep_with(&db, "digits-test", &out, Some(&tpl)).unwrap_err();
    assert!(format!("{err:#}").contains("report.html"), "{err:#}");
}

#[test]
fn index_lists_every_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let out = tmp.path().join("reports");
    let index = render_index(&db, &out).unwrap();
    assert_eq!(index, out.join("index.html"));
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("2 sweeps"));
    // Not rendered yet: listed without links.
    assert!(html.contains("<td>digits-test</td>") && html.contains("<td>flat</td>"));
    assert!(!html.contains("<a href=\"digits-test"));
    render_sweep(&db, "digits-test", &out).unwrap();
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("<a href=\"digits-test&#x2f;index.html\">digits-test</a>"));
    assert!(html.contains("<td>flat</td>"));
    // Counts: 27 trials, 24 completed, 1 running, 1 pending, 1 failed.
    let row = &html[html.find("digits-test</a>").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    for n in [
        "num\">27<",
        "status-completed\">24<",
        "status-running\">1<",
        "status-pending\">1<",
        "status-failed\">1<",
        "status-diverged\">0<",
    ] {
        assert!(row.contains(n), "{n} in {row}");
    }
}

#[test]
fn script_sweep_names_render_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("thaw.sqlite");
    let conn = create_db(&db);
    let name = "<script>alert(1)</script>";
    conn.execute(
        "INSERT INTO sweeps (name, description, spec_path, spec_yaml, created_at, updated_at)
         VALUES (?1, '<script>alert(2)</script> **desc**', 'x.yaml', ?2, 't', 't')",
        params![name, format!("name: x\nreport:\n  - markdown: \"<script>alert(3)</script>\"\n  - {{title: \"<script>alert(4)</script>\", sql: \"SELECT '<script>alert(5)</script>' AS s, 1 AS v\", chart: bar, x: s, y: v}}\n")],
    )
    .unwrap();
    let sid = conn.last_insert_rowid();
    for (i, n) in [10, 100].into_iter().enumerate() {
        insert_trial(
            &conn,
            sid,
            i as i64,
            &TrialFixture {
                status: "completed",
                pretrained: true,
                freeze: "0",
                train_per_class: n,
                shift: "none",
                seed: 0,
                error: None,
                cosine: false,
            },
        );
    }
    let out = tmp.path().join("reports");
    let path = render_sweep(&db, name, &out).unwrap();
    assert_eq!(
        path,
        out.join("_script_alert_1___script_").join("index.html")
    );
    let mut files = vec![path, out.join("index.html")];
    for e in std::fs::read_dir(out.join("_script_alert_1___script_/trials")).unwrap() {
        files.push(e.unwrap().path());
    }
    assert_eq!(files.len(), 4);
    for f in files {
        let html = std::fs::read_to_string(&f).unwrap();
        for i in 1..=5 {
            assert!(
                !html.contains(&format!("<script>alert({i})")),
                "{}: alert({i}) unescaped",
                f.display()
            );
        }
        assert!(html.contains("&lt;script&gt;alert(1)"), "{}", f.display());
    }
    let report = std::fs::read_to_string(out.join("_script_alert_1___script_/index.html")).unwrap();
    for i in 2..=5 {
        assert!(
            report.contains(&format!("&lt;script&gt;alert({i})")),
            "alert({i})"
        );
    }
    // Exports are not HTML, but the notebook's Python literals stay literals.
    let nb = tmp.path().join("x.ipynb");
    export_sweep(&db, name, ExportFormat::Ipynb, &nb).unwrap();
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(nb).unwrap()).unwrap();
    let setup: String = v["cells"][1]["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        setup.contains("SWEEP = \"<script>alert(1)</script>\"\n"),
        "{setup}"
    );
}

#[test]
fn rewrites_are_atomic_for_a_concurrent_reader() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let out = tmp.path().join("reports");
    let page = out.join("digits-test").join("index.html");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let page = page.clone();
        std::thread::spawn(move || {
            let (mut ok, mut missing) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                match std::fs::read_to_string(&page) {
                    Ok(s) => {
                        assert!(
                            s.trim_end().ends_with("</html>"),
                            "partial read of {} bytes",
                            s.len()
                        );
                        ok += 1;
                    }
                    Err(_) => missing += 1,
                }
            }
            (ok, missing)
        })
    };
    for _ in 0..4 {
        render_sweep(&db, "digits-test", &out).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let (ok, _missing) = reader.join().expect("the reader saw a partial page");
    assert!(ok > 0);
    // No temporary files are left behind.
    for e in walkdir::WalkDir::new(&out) {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "{name}");
    }
}

#[test]
fn exports_csv_json_and_a_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    // CSV: a header and one line per trial (the error contains a comma-free quote-free text).
    let csv = tmp.path().join("out/x.csv");
    export_sweep(&db, "digits-test", ExportFormat::Csv, &csv).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 28);
    assert!(lines[0].starts_with("trial_id,sweep,key,status,"));
    assert!(lines[1].contains(",k1-000,completed,"));
    // JSON: one object per trial with the view's columns.
    let json = tmp.path().join("x.json");
    export_sweep(&db, "digits-test", ExportFormat::Json, &json).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 27);
    assert_eq!(rows[0]["key"], "k1-000");
    assert!(rows[0]["final_test_acc"].as_f64().unwrap() > 0.0);
    assert!(rows[26]["final_test_acc"].is_null());
    // Notebook: nbformat 4 structure.
    let nb_path = tmp.path().join("x.ipynb");
    export_sweep(&db, "digits-test", ExportFormat::Ipynb, &nb_path).unwrap();
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&nb_path).unwrap()).unwrap();
    assert_eq!(nb["nbformat"], 4);
    assert!(nb["nbformat_minor"].as_u64().unwrap() >= 4);
    assert!(nb["metadata"].is_object());
    assert_eq!(nb["metadata"]["kernelspec"]["language"], "python");
    let cells = nb["cells"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    let (mut md, mut code) = (Vec::new(), Vec::new());
    for c in cells {
        let o = c.as_object().unwrap();
        assert!(o["metadata"].is_object());
        assert!(ids.insert(o["id"].as_str().unwrap().to_string()));
        let src: String = o["source"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        match o["cell_type"].as_str().unwrap() {
            "markdown" => {
                assert!(!o.contains_key("outputs"));
                md.push(src);
            }
            "code" => {
                assert!(o["outputs"].as_array().unwrap().is_empty());
                assert!(o["execution_count"].is_null());
                code.push(src);
            }
            t => panic!("cell type {t}"),
        }
    }
    for section in [
        "## Overfitting",
        "## Forgetting",
        "## Domain gap",
        "## Data efficiency",
        "## Transfer gain",
        "## Calibration",
        "## Representation drift",
        "## Domain distance",
        "## Mixed precision",
    ] {
        assert!(md.iter().any(|m| m.starts_with(section)), "{section}");
    }
    let all_code = code.join("\n");
    for needle in [
        "import sqlite3",
        "import pandas as pd",
        "matplotlib.pyplot",
        "read_sql_query",
    ] {
        assert!(all_code.contains(needle), "{needle}");
    }
    assert!(code.iter().filter(|c| c.contains("plt.show()")).count() >= 5);
    // The export of an unknown sweep is an error.
    assert!(export_sweep(&db, "nope", ExportFormat::Csv, &csv).is_err());
    assert_eq!(
        "IPYNB".parse::<ExportFormat>().unwrap(),
        ExportFormat::Ipynb
    );
}

#[test]
fn unknown_sweep_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let err = render_sweep(&db, "nope", tmp.path()).unwrap_err();
    assert!(err.to_string().contains("no sweep named \"nope\""));
}

#[test]
fn sweep_names_become_safe_directory_names() {
    assert_eq!(super::dir_name("a/b c").unwrap(), "a_b_c");
    assert_eq!(super::dir_name("x-1.2_y").unwrap(), "x-1.2_y");
    assert!(super::dir_name("..").is_err());
    assert!(super::dir_name("").is_err());
}

/// A larger sweep for looking at the charts by eye:
/// `THAW_REPORT_DEMO=/tmp/demo cargo test --lib report::tests::large_demo -- --ignored`
#[test]
#[ignore]
fn large_demo() {
    let dir = PathBuf::from(std::env::var_os("THAW_REPORT_DEMO").expect("set THAW_REPORT_DEMO"));
    let db = dir.join("large.sqlite");
    let _ = std::fs::remove_file(&db);
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "large-demo", YAML);
    let mut pos = 0;
    let models = [
        (true, "0"),
        (true, "1"),
        (true, "2"),
        (true, "3"),
        (true, "all"),
        (false, "0"),
    ];
    for (pretrained, freeze) in models {
        for n in [5, 10, 50, 250, 1000] {
            for shift in [
                "none",
                "rotate 45",
                "rotate 90",
                "contrast 0.25",
                "noise 0.3",
                "invert 1",
            ] {
                for seed in [0, 1, 2] {
                    insert_trial(
                        &conn,
                        sid,
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
    drop(conn);
    let t = std::time::Instant::now();
    let path = render_sweep(&db, "large-demo", &dir).unwrap();
    eprintln!(
        "rendered {} trials in {:?}: {}",
        pos,
        t.elapsed(),
        path.display()
    );
}

fn cell_text(cell: &Cell) -> String {
    cell.outputs
        .iter()
        .filter_map(|o| match o {
            Output::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn find_cell<'a>(cells: &'a [Cell], prefix: &str) -> &'a Cell {
    cells
        .iter()
        .find(|c| c.title.starts_with(prefix))
        .unwrap_or_else(|| panic!("no cell {prefix}"))
}

#[test]
fn science_sections_state_their_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let forgetting = cell_text(find_cell(&cells, "Forgetting: source"));
    assert!(
        forgetting.contains(
            "Forgetting grows with the number of unfrozen blocks: yes (freeze all 0.000, \
             freeze 0 0.200)."
        ),
        "{forgetting}"
    );
    assert!(forgetting.contains("A frozen backbone (freeze all) forgets nothing: yes"));
    // Pretrained is +0.1 over scratch at every size and seed: no shrinking gain.
    let gain = cell_text(find_cell(&cells, "Transfer gain"));
    assert!(
        gain.contains(
            "freeze 0: pretraining is still helping at the largest size (100/class +0.100"
        ),
        "{gain}"
    );
    assert!(
        gain.contains("Pretraining helps most when the target set is small (the gain shrinks as the target grows): no"),
        "{gain}"
    );
    let drift = cell_text(find_cell(&cells, "Representation drift"));
    assert!(
        drift.contains("Frozen blocks are left unchanged (CKA 1, weight distance 0): yes"),
        "{drift}"
    );
    assert!(
        drift.contains("CKA falls with depth) with freeze 0: yes (block0 0.900, block1 0.800, block2 0.700, block3 0.600)"),
        "{drift}"
    );
    assert!(
        drift.contains("rises with the frozen depth): yes (freeze 0 0.600, freeze all 1.000)"),
        "{drift}"
    );
    let cal = cell_text(find_cell(&cells, "Calibration"));
    assert!(
        cal.contains("Temperature scaling lowers the expected calibration error: yes (freeze 0 0.080 \u{2192} 0.030, freeze all 0.060 \u{2192} 0.020, scratch 0.100 \u{2192} 0.040)"),
        "{cal}"
    );
    assert!(cal.contains("(fitted temperature above 1): yes"), "{cal}");
    let dist = cell_text(find_cell(&cells, "Target accuracy vs measured"));
    assert!(
        dist.contains("Measured domain distance grows with the shift magnitude: yes \u{2014} proxy A-distance yes (none 0.1050, rotate 45 1.2050)"),
        "{dist}"
    );
    assert!(
        dist.contains(
            "Linear-probe (freeze all) accuracy falls as the measured distance grows: yes"
        ),
        "{dist}"
    );
    // Rotation costs 0.15 accuracy; 100/class is 0.1 above 10/class (fixture formula).
    let gap = cell_text(find_cell(&cells, "Domain gap"));
    assert!(
        gap.contains("lower under every shift than without: yes (none "),
        "{gap}"
    );
    let eff = cell_text(find_cell(&cells, "Data efficiency"));
    assert!(
        eff.contains("accuracy grows with the examples per class: yes (10/class "),
        "{eff}"
    );
    let trade = cell_text(find_cell(&cells, "Forgetting vs transfer gain"));
    assert!(trade.contains("Largest gain: "), "{trade}");
    // Summary tables carry a 95% CI column.
    for prefix in [
        "Overfitting",
        "Forgetting: source",
        "Calibration",
        "Representation drift",
    ] {
        let cell = find_cell(&cells, prefix);
        let table = cell
            .outputs
            .iter()
            .find_map(|o| match o {
                Output::Table(t) => Some(t),
                _ => None,
            })
            .unwrap();
        assert!(
            table.headers.iter().any(|h| h == "\u{b1} 95% CI"),
            "{prefix}"
        );
    }
    // The seed-aggregated gap table's CI: two seeds differ by 0.01 in val acc only at
    // a fixed size, so the half-width is t(0.975, n-1) s / sqrt(n) of the per-trial gaps.
    let gap = find_cell(&cells, "Overfitting");
    let t = gap
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table(t) => Some(t),
            _ => None,
        })
        .unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0][1].text, "12");
}

#[test]
fn findings_detect_an_effect_and_its_absence() {
    use super::science::{
        calibration_findings, distance_findings, drift_findings, transfer_gain_findings,
    };
    // Gain shrinking with size, and stopping at 100/class for freeze 0.
    let mut rows = Vec::new();
    for (n, g) in [(5, 0.30), (20, 0.10), (100, 0.0)] {
        for d in [-0.001, 0.001] {
            rows.push(("freeze 0".to_string(), n, g + d));
            rows.push(("freeze all".to_string(), n, g - 0.05 + d));
        }
    }
    let f = transfer_gain_findings(&rows).join("\n");
    assert!(
        f.contains("freeze 0: pretraining stops helping at 100/class"),
        "{f}"
    );
    assert!(
        f.contains("freeze all: pretraining stops helping at 100/class"),
        "{f}"
    );
    assert!(f.contains("the gain shrinks as the target grows): yes (5/class +0.275, 20/class +0.075, 100/class -0.025"), "{f}");
    assert!(f.contains("Freezing more of the transferred blocks lowers the gain (upper blocks are specific to the source task): yes"), "{f}");
    // No effect: negative transfer everywhere, growing with size.
    let rows: Vec<(String, i64, f64)> = [(5, -0.1), (100, 0.05)]
        .into_iter()
        .map(|(n, g)| ("freeze 0".to_string(), n, g))
        .collect();
    let f = transfer_gain_findings(&rows).join("\n");
    assert!(
        f.contains("freeze 0: pretraining does not help even at the smallest size (5/class -0.100"),
        "{f}"
    );
    assert!(f.contains("target grows): no"), "{f}");

    // Drift: CKA rising with depth is not the expected effect.
    let drift: Vec<(String, String, f64, Option<f64>)> = (0..3)
        .map(|b| {
            (
                "0".to_string(),
                format!("block{b}"),
                0.5 + 0.1 * b as f64,
                Some(1.0),
            )
        })
        .collect();
    let f = drift_findings(&drift).join("\n");
    assert!(f.contains("CKA falls with depth) with freeze 0: no"), "{f}");
    assert!(!f.contains("Frozen blocks"), "{f}");

    // Calibration: scaling helped in one of two settings.
    let cal = vec![
        ("freeze 0".to_string(), 0.1, 0.05, Some(1.4)),
        ("scratch".to_string(), 0.1, 0.12, Some(0.9)),
    ];
    let f = calibration_findings(&cal).join("\n");
    assert!(f.contains("error: in 1 of 2 settings (freeze 0 0.100 \u{2192} 0.050, scratch 0.100 \u{2192} 0.120)"), "{f}");
    assert!(f.contains("above 1): in 1 of 2 settings"), "{f}");

    // Distance: falls at 90 degrees (not monotone); accuracy rises with distance.
    let dist = vec![
        (
            "none".to_string(),
            "none".to_string(),
            0.0,
            Some(0.1),
            Some(0.01),
            Some(1.0),
        ),
        (
            "rotate 45".to_string(),
            "rotate".to_string(),
            45.0,
            Some(1.0),
            Some(0.1),
            Some(3.0),
        ),
        (
            "rotate 90".to_string(),
            "rotate".to_string(),
            90.0,
            Some(0.8),
            Some(0.2),
            Some(4.0),
        ),
    ];
    let acc = vec![
        ("freeze all".to_string(), "none".to_string(), 0.1, 0.5),
        ("freeze all".to_string(), "rotate 45".to_string(), 1.0, 0.9),
        ("freeze all".to_string(), "rotate 90".to_string(), 0.8, 0.7),
    ];
    let f = distance_findings(&dist, &acc).join("\n");
    assert!(f.contains("grows with the shift magnitude: no \u{2014} proxy A-distance no (none 0.1000, rotate 45 1.0000, rotate 90 0.8000); MMD\u{b2} yes"), "{f}");
    assert!(
        f.contains("Linear-probe (freeze all) accuracy falls as the measured distance grows: no"),
        "{f}"
    );

    // Forgetting and learning rate.
    let f = super::cells::forgetting_findings(&[
        ("all".to_string(), 0.0),
        ("2".to_string(), 0.05),
        ("0".to_string(), 0.03),
    ])
    .join("\n");
    assert!(
        f.contains("unfrozen blocks: no (freeze all 0.000, freeze 2 0.050, freeze 0 0.030)"),
        "{f}"
    );
    let rows = vec![
        ("freeze 0".to_string(), "0.01".to_string(), 0.02),
        ("freeze 0".to_string(), "0.1".to_string(), 0.2),
        ("freeze 0".to_string(), "0.1".to_string(), 0.0),
        ("freeze all".to_string(), "0.1".to_string(), 0.0),
    ];
    let sch = vec![
        "constant lr=0.01".to_string(),
        "constant lr=0.1".to_string(),
        "constant lr=0.1 decay=2.6 unfreeze".to_string(),
        "constant lr=0.1".to_string(),
    ];
    match super::cells::lr_forgetting_finding(&rows, &sch) {
        Some(Output::Text { text }) => assert!(
            text.contains("learning rate: yes (lr 0.01 0.020, lr 0.1 0.200; mean over trials with unfrozen blocks and uniform schedules)"),
            "{text}"
        ),
        o => panic!("{o:?}"),
    }
    // Shift and size findings without the effect.
    let r = |x: &str, a: f64| ("freeze 0".to_string(), x.to_string(), a);
    match super::cells::shift_finding(
        &[r("none", 0.6), r("rotate 45", 0.7)],
        &["none".to_string(), "rotate 45".to_string()],
    ) {
        Some(Output::Text { text }) => {
            assert!(
                text.contains("without: no (none 0.600, rotate 45 0.700"),
                "{text}"
            )
        }
        o => panic!("{o:?}"),
    }
    match super::cells::size_finding(&[r("10", 0.8), r("100", 0.7)], &[10, 100]) {
        Some(Output::Text { text }) => {
            assert!(
                text.contains("per class: no (10/class 0.800, 100/class 0.700"),
                "{text}"
            )
        }
        o => panic!("{o:?}"),
    }
    let u = super::cells::ulmfit_findings(&[
        ("constant lr=0.1".to_string(), 0.1, "0".to_string(), 0.2),
        (
            "constant lr=0.1 decay=2.6 unfreeze".to_string(),
            0.1,
            "0".to_string(),
            0.05,
        ),
    ])
    .join("\n");
    assert!(u.contains("Discriminative learning rates with gradual unfreezing (constant lr=0.1 decay=2.6 unfreeze) forget less than uniform fine-tuning (constant lr=0.1) with freeze 0: yes (forgetting 0.050 vs 0.200)"), "{u}");
}

#[test]
fn nice_ticks_are_round() {
    let t = super::science::nice_ticks(0.05, 1.21);
    assert_eq!(t, vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25]);
    let t = super::science::nice_ticks(-0.1, 0.3);
    assert_eq!(t.first(), Some(&-0.1));
    assert_eq!(t.last(), Some(&0.3));
}

#[test]
fn tradeoff_finding_follows_the_correlation() {
    use super::science::tradeoff_findings;
    let s = |f: &str, n: i64, g: f64, fo: f64| {
        (
            (f.to_string(), "cosine lr=0.02".to_string(), n),
            (g, None, 2),
            (fo, None, 2),
        )
    };
    // More gain, more forgetting.
    let f = tradeoff_findings(&[
        s("freeze 0", 10, 0.2, 0.3),
        s("freeze 2", 10, 0.1, 0.1),
        s("freeze all", 10, 0.05, 0.0),
    ])
    .join("\n");
    assert!(
        f.contains("(a trade-off): yes (Pearson r = 1.00 over 3 settings)"),
        "{f}"
    );
    assert!(
        f.contains(
            "Largest gain: freeze 0, cosine lr=0.02, 10/class (gain +0.200, forgetting 0.300)."
        ),
        "{f}"
    );
    assert!(
        f.contains("Least forgetting with a positive gain: freeze all, cosine lr=0.02, 10/class"),
        "{f}"
    );
    // More gain, less forgetting: no trade-off.
    let f = tradeoff_findings(&[
        s("freeze 0", 10, 0.2, 0.0),
        s("freeze 2", 10, 0.1, 0.1),
        s("freeze all", 10, -0.05, 0.3),
    ])
    .join("\n");
    assert!(f.contains("(a trade-off): no (Pearson r = -"), "{f}");
}

/// The cache venv's python (or `THAW_PYTHON`) when it has pandas and matplotlib.
fn notebook_python() -> Result<std::path::PathBuf, String> {
    let py = match std::env::var_os("THAW_PYTHON") {
        Some(p) => std::path::PathBuf::from(p),
        None => Path::new(&std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/thaw/torch-2.11.0/bin/python"),
    };
    let ok = std::process::Command::new(&py)
        .args(["-c", "import pandas, matplotlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Ok(py)
    } else {
        Err(format!(
            "{} cannot import pandas and matplotlib; run `make weights` (or set THAW_PYTHON)",
            py.display()
        ))
    }
}

#[test]
fn the_exported_notebook_runs_top_to_bottom_and_draws_every_section() {
    let py = match notebook_python() {
        Ok(py) => py,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    // Vary the precision too, so that its cell has something to compare.
    Connection::open(&db)
        .unwrap()
        .execute("UPDATE trials SET precision = 'bf16' WHERE seed = 1", [])
        .unwrap();
    let nb_path = tmp.path().join("x.ipynb");
    export_sweep(&db, "digits-test", ExportFormat::Ipynb, &nb_path).unwrap();
    let nb: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&nb_path).unwrap()).unwrap();
    // The code cells as one script, each figure saved instead of shown and counted.
    let mut script = String::from(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n\
         FIGURES = []\nplt.show = lambda: FIGURES.append(plt.gcf().number) or plt.close('all')\n",
    );
    for cell in nb["cells"].as_array().unwrap() {
        if cell["cell_type"] == "code" {
            for line in cell["source"].as_array().unwrap() {
                script.push_str(line.as_str().unwrap());
            }
            script.push('\n');
        }
    }
    script.push_str("print('figures', len(FIGURES))\n");
    let out = std::process::Command::new(&py)
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the notebook failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("figures "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(figures >= 12, "{figures} figures:\n{stdout}");
}
