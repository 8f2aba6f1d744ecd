//! End-to-end tests: a fixture database built from the real schema, rendered and inspected.

use super::cells::{self, Cell, Output};
use super::render_sweep;
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};

const SCHEMA: &str = include_str!("../track/schema_v1.sql");
const EPOCHS: i64 = 3;

struct TrialFixture<'a> {
    status: &'a str,
    pretrained: bool,
    freeze: &'a str,
    train_per_class: i64,
    shift: &'a str,
    seed: i64,
    error: Option<&'a str>,
}

fn create_db(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(SCHEMA).unwrap();
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
    conn.execute(
        "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained, freeze,
            frozen_blocks, source_dataset, target_dataset, train_per_class, shift, shift_kind,
            shift_magnitude, schedule, lr, optimizer, seed, epochs, batch_size, position, error)
         VALUES (?1, ?2, ?3, '{}', 'cnn4', ?4, ?5, ?6, 'mnist10k', 'mnist10k', ?7, ?8, ?9, ?10,
            'constant lr=0.01', 0.01, 'sgd', ?11, ?12, 64, ?13, ?14)",
        params![
            sweep_id,
            key,
            t.status,
            t.pretrained as i64,
            t.freeze,
            if t.freeze == "all" {
                4
            } else {
                t.freeze.parse::<i64>().unwrap()
            },
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

const YAML: &str =
    "name: digits-test\nseeds: [0, 1]\nfreeze: [0, all]\n# <script>alert('yaml')</script>\n";

/// Sweep `digits-test`: freeze {0, all} + scratch × size {10, 100} × shift {none, rotate 45}
/// × seed {0, 1} completed (24), plus one failed, one running, one pending trial.
/// Sweep `flat`: shift does not vary.
fn fixture(dir: &Path) -> PathBuf {
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
            },
        );
        pos += 1;
    }

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
            },
        );
    }
    db
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

    // Seven numbered cells, in order.
    let mut at = 0;
    for n in 1..=7 {
        let p = html[at..]
            .find(&format!("In&nbsp;[{n}]:"))
            .unwrap_or_else(|| panic!("no input prompt {n}"));
        at += p;
        assert!(html[at..].contains(&format!("Out[{n}]:")));
    }
    assert!(!html.contains("In&nbsp;[8]:"));
    for title in [
        "Overfitting",
        "Forgetting",
        "Domain gap",
        "Data efficiency",
        "Trials",
    ] {
        assert!(html.contains(title), "missing section {title}");
    }
    // One chart per chart section.
    assert_eq!(html.matches("<svg").count(), 4);

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
    for banned in [
        "<script", "<link", "@import", "url(", " src=", "<iframe", "<img",
    ] {
        assert!(!html.contains(banned), "found {banned}");
    }
    // User strings are escaped: the error, the YAML comment and the description.
    assert!(html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; more"));
    assert!(
        html.contains("&lt;b&gt;not bold&lt;&#x2f;b&gt;")
            || html.contains("&lt;b&gt;not bold&lt;/b&gt;")
    );
    assert!(html.contains("<strong>small</strong>"));

    // Legends.
    for label in [
        "freeze 0",
        "freeze all",
        "scratch",
        "10/class",
        "100/class",
        "validation",
    ] {
        assert!(
            html.contains(&format!(">\n{label}\n<")) || html.contains(&format!(">{label}<")),
            "legend label {label} missing"
        );
    }
    // Axis labels of the categorical and log axes.
    assert!(html.contains("rotate 45"));
    assert!(html.contains("(log scale)"));

    // Every SQL input appears verbatim (escaped) in the page.
    let cells = build_cells(&db, "digits-test");
    let sql: Vec<&str> = cells
        .iter()
        .flat_map(|c| c.inputs.iter())
        .filter(|i| i.lang == "sql")
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(sql.len(), 7);
    for q in sql {
        assert!(html.contains(&escaped(q)), "SQL not shown: {q}");
    }
}

#[test]
fn chart_sql_returns_the_plotted_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let mut charts = 0;
    for cell in &cells {
        for out in &cell.outputs {
            if let Output::Chart { rows, .. } = out {
                charts += 1;
                let sql = &cell.inputs[0].text;
                assert_eq!(count_rows(&db, sql), *rows, "{}", cell.title);
                let expected = if cell.title.starts_with("Overfitting") {
                    2 * EPOCHS as usize // two sizes × epochs 1..=3
                } else if cell.title.starts_with("Forgetting") {
                    2 * (EPOCHS as usize + 1) // two freeze values × epochs 0..=3
                } else {
                    24 // one row per completed trial
                };
                assert_eq!(*rows, expected, "{}", cell.title);
            }
        }
    }
    assert_eq!(charts, 4);

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
}

#[test]
fn sections_whose_axis_does_not_vary_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let path = render_sweep(&db, "flat", tmp.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert!(!html.contains("Domain gap"));
    assert!(html.contains("Data efficiency"));
    // Overfitting, forgetting, data efficiency.
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.contains("4 of 4 trials completed."));
    // Only freeze "all" and no scratch trials: no scratch series.
    assert!(!html.contains(">\nscratch\n<"));
}

#[test]
fn renders_mid_sweep_while_a_writer_holds_a_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("thaw.sqlite");
    let conn = create_db(&db);
    let sid = insert_sweep(&conn, "early", YAML);
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
    assert_eq!(html.matches("<svg").count(), 0);
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
