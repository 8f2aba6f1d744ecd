//! The sweep page: sections, the SQL behind every chart, user cells, escaping.

use super::*;

/// The fixture's database and its rendered `digits-test` page.
fn rendered_page(dir: &Path) -> (PathBuf, String) {
    let db = fixture(dir);
    let out = dir.join("reports");
    let path = render_sweep(&db, "digits-test", &out).unwrap();
    assert_eq!(path, out.join("digits-test").join("index.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    // For looking at the page: THAW_REPORT_DEMO=/some/dir cargo test --lib report
    if let Some(dir) = std::env::var_os("THAW_REPORT_DEMO") {
        std::fs::write(Path::new(&dir).join("demo.html"), &html).unwrap();
    }
    (db, html)
}

#[test]
fn renders_a_self_contained_notebook() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, html) = rendered_page(tmp.path());

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
}

#[test]
fn the_page_loads_nothing_and_escapes_user_strings() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, html) = rendered_page(tmp.path());
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
}

#[test]
fn the_page_shows_legends_values_sql_and_trial_links() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, html) = rendered_page(tmp.path());
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
    let cells = build_cells(&db, "digits-test");
    let sql: Vec<&str> = cells
        .iter()
        .flat_map(|c| c.inputs.iter())
        .filter(|i| i.lang == "sql")
        .map(|i| i.text.as_str())
        .collect();
    assert_eq!(sql.len(), 19 + 6);
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
fn script_sweep_names_render_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("thaw.sqlite");
    let writer = create_db(&db);
    let name = "<script>alert(1)</script>";
    let sid = writer
        .upsert_sweep(
            name,
            "<script>alert(2)</script> **desc**",
            "x.yaml",
            "name: x\nreport:\n  - markdown: \"<script>alert(3)</script>\"\n  - {title: \"<script>alert(4)</script>\", sql: \"SELECT '<script>alert(5)</script>' AS s, 1 AS v\", chart: bar, x: s, y: v}\n",
        )
        .unwrap();
    for (i, n) in [10, 100].into_iter().enumerate() {
        insert_trial(
            &writer,
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
    let setup_cell = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cell_type"] == "code")
        .unwrap();
    let setup: String = setup_cell["source"]
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
fn unknown_sweep_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let err = render_sweep(&db, "nope", tmp.path()).unwrap_err();
    assert!(err.to_string().contains("no sweep named \"nope\""));
}

#[test]
fn the_provenance_cell_counts_the_trials_of_each_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let db = fixture(tmp.path());
    let cells = build_cells(&db, "digits-test");
    let cell = cells.iter().find(|c| c.title == "Provenance").unwrap();
    let Some(Output::Table(table)) = cell.outputs.iter().find(|o| matches!(o, Output::Table(_)))
    else {
        panic!("no table in {cell:?}")
    };
    assert_eq!(count_rows(&db, &cell.inputs[0].text), table.rows.len());
    let column = |name: &str| table.headers.iter().position(|h| h == name).unwrap();
    let (host, trials) = (column("host"), column("trials"));
    let mut counts: Vec<(&str, usize)> = (table.rows.iter())
        .map(|r| (r[host].text.as_str(), r[trials].text.parse().unwrap()))
        .collect();
    counts.sort_unstable();
    // 24 completed, one failed and one running trial at positions 0..=25: half on each host.
    assert_eq!(counts, [("host-a", 13), ("host-b", 13)]);
    let Output::Html { html } = &cell.outputs[0] else {
        panic!("{cell:?}")
    };
    assert!(html.contains("26 trials"), "{html}");
    assert!(html.contains("2 environments"), "{html}");
    assert!(!html.contains("no environment record"), "{html}");
    let builds = "thaw builds: <code>git 0123abcd (dirty), release</code> (13 trials), \
                  <code>git 0123abcd, release</code> (13 trials)";
    assert!(html.contains(builds), "{html}");
    assert!(
        !html.contains("training semantics:"),
        "one semantics: {html}"
    );
}
