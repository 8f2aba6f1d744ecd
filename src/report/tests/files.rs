//! Trial pages, the index, user templates, and files written while a sweep runs.

use super::*;

#[test]
fn renders_mid_sweep_while_a_writer_holds_a_transaction() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("thaw.sqlite");
    let writer = create_db(&db);
    let sid = insert_sweep(&writer, "early", "name: early\n");
    for (i, status) in ["running", "pending", "pending"].into_iter().enumerate() {
        insert_trial(
            &writer,
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
    // A second writer holds an uncommitted change while the report renders.
    let conn = writer.connection();
    conn.execute_batch(
        "BEGIN IMMEDIATE; UPDATE trials SET status = 'completed' WHERE position = 0;",
    )
    .unwrap();
    let path = render_sweep(&db, "early", tmp.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    conn.execute_batch("ROLLBACK").unwrap();
    // The findings waited for the lock briefly, then were left to the next render.
    let stored = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT COUNT(*) FROM findings", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(stored(conn), 0);
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
    let keys: Vec<(String, String, i64)> = conn
        .prepare("SELECT key, status, seed FROM trials WHERE sweep_id = 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys.len(), 27);
    for (key, _, seed) in &keys {
        let page = std::fs::read_to_string(dir.join(format!("{key}.html"))).unwrap();
        assert!(
            page.contains("<a href=\"../index.html\">"),
            "{key}: no link back"
        );
        assert!(page.trim_end().ends_with("</html>"));
        // The trial's own config, pretty-printed and escaped.
        assert!(
            page.contains(&format!("&quot;seed&quot;: {seed},\n")),
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
        "Environment (provenance)",
    ] {
        assert!(completed.contains(&format!("<h2>{title}</h2>")), "{title}");
    }
    // The environment its runner recorded (position 0: host-a), and none for a pending trial.
    assert!(completed.contains("<td class=\"key\">host</td><td>host-a</td>"));
    let pending = std::fs::read_to_string(dir.join("k1-026.html")).unwrap();
    assert!(pending.contains("No environment recorded"));
    // Loss, accuracy, learning rates, and the final-epoch calibration and drift metrics.
    assert_eq!(completed.matches("<svg").count(), 4);
    assert!(completed.contains("6.0 s in total"));
    let failed = std::fs::read_to_string(dir.join("k1-024.html")).unwrap();
    assert!(failed.contains("<pre class=\"error\">CUDA error: &lt;script&gt;"));

    // The trial page's SQL returns the rows its charts drew.
    let t = crate::report::trial::load(&conn, "digits-test", "x", &dir)
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    for cell in crate::report::trial_cells::build_cells("digits-test", &t).unwrap() {
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
    assert!(html.contains("MY REPORT 24 cells"), "{html}");
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
fn sweep_names_become_safe_directory_names() {
    assert_eq!(crate::report::dir_name("a/b c").unwrap(), "a_b_c");
    assert_eq!(crate::report::dir_name("x-1.2_y").unwrap(), "x-1.2_y");
    assert!(crate::report::dir_name("..").is_err());
    assert!(crate::report::dir_name("").is_err());
}
