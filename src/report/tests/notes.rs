//! Notes and tags in the report: the sweep's near the top, trial tags in the trial table, a
//! trial's own on its page (re-rendered when they change).

use super::*;

fn tags(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn notes_and_tags_show_on_the_sweep_page_the_trial_table_and_trial_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = fixture(tmp.path());
    let out = tmp.path().join("reports");
    let trial_page = out.join("digits-test/trials/k1-000.html");
    render_sweep(&db_path, "digits-test", &out).unwrap();
    let before = std::fs::read_to_string(&trial_page).unwrap();
    assert!(!before.contains("Notes and tags"));

    let db = Db::open(&db_path).unwrap();
    db.add_tags("digits-test", None, &tags(&["v2", "baseline"]))
        .unwrap();
    db.add_note("digits-test", None, "rerun <b>after</b> the fix & compare")
        .unwrap();
    db.add_tags("digits-test", Some("k1-000"), &tags(&["odd", "check"]))
        .unwrap();
    db.add_note("digits-test", Some("k1-000"), "loss spikes at epoch 2")
        .unwrap();
    drop(db);
    render_sweep(&db_path, "digits-test", &out).unwrap();
    let html = std::fs::read_to_string(out.join("digits-test/index.html")).unwrap();

    // Near the top: the second cell, the sweep's tags and every note (trial keys linked).
    let cells = build_cells(&db_path, "digits-test");
    assert_eq!(cells[1].title, "Notes and tags");
    let at = html.find("<h2>Notes and tags</h2>").expect("notes cell");
    assert!(at < html.find("<h2>Grid").unwrap());
    assert!(html.contains("Tags: baseline, v2."));
    assert!(html.contains(&escaped("rerun <b>after</b> the fix & compare")));
    assert!(!html.contains("<b>after</b>"));
    let link = format!("<a href=\"{}\">k1-000</a>", escaped("trials/k1-000.html"));
    assert!(
        html.contains(&format!("{link}</td><td>loss spikes")),
        "{link}"
    );

    // The trial table has a tags column with the trial's tags, sorted.
    let table = cells.iter().find(|c| c.title == "Trials").unwrap();
    assert!(table.inputs[0].text.contains("ts.error, ts.tags"));
    let Some(Output::Table(t)) = table.outputs.get(1) else {
        panic!("no trial table")
    };
    let col = t
        .headers
        .iter()
        .position(|h| h == "tags")
        .expect("tags column");
    assert_eq!(t.rows[0][col].text, "check,odd");
    assert_eq!(t.rows[1][col].text, "");

    // The trial's page was rewritten with its tags and notes.
    let page = std::fs::read_to_string(&trial_page).unwrap();
    assert!(page.contains("Tags: check, odd."));
    assert!(page.contains("loss spikes at epoch 2"));
    let other = std::fs::read_to_string(out.join("digits-test/trials/k1-001.html")).unwrap();
    assert!(!other.contains("Notes and tags"));
}

#[test]
fn a_sweep_without_notes_or_tags_has_no_notes_cell_nor_tags_column() {
    let tmp = tempfile::tempdir().unwrap();
    let db_path = fixture(tmp.path());
    let cells = build_cells(&db_path, "digits-test");
    assert!(cells.iter().all(|c| c.title != "Notes and tags"));
    let table = cells.iter().find(|c| c.title == "Trials").unwrap();
    assert!(!table.inputs[0].text.contains("ts.tags"));
}
