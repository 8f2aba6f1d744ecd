//! Tests of notes and tags: adding, listing and removing them, the errors that list what exists,
//! and the `tags` column of `trial_summary`.

use super::*;
use crate::track::notes::{notes, tags, Note, Tag};

/// Sweep `s` with trials `k1`, `k2` and `gone` (superseded), and an empty sweep `t`.
fn annotated() -> (tempfile::TempDir, Db) {
    let (d, db) = fresh();
    let sid = db.upsert_sweep("s", "", "g.yaml", "").unwrap();
    let (s1, s2, s3) = (spec(1), spec(2), spec(3));
    db.register_trials(sid, &[(0, "k1", &s1), (1, "k2", &s2), (2, "gone", &s3)])
        .unwrap();
    db.connection()
        .execute("UPDATE trials SET superseded_in = 2 WHERE key = 'gone'", [])
        .unwrap();
    db.upsert_sweep("t", "", "t.yaml", "").unwrap();
    (d, db)
}

fn err(r: anyhow::Result<impl std::fmt::Debug>) -> String {
    format!("{:#}", r.expect_err("an error"))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn notes_go_on_sweeps_and_current_trials_and_list_oldest_first() {
    let (_d, db) = annotated();
    db.add_note("s", None, "  lr too high  ").unwrap();
    db.add_note("s", Some("k2"), "rerun with\ntwo lines")
        .unwrap();
    db.add_note("t", None, "other sweep").unwrap();
    let listed: Vec<Note> = notes(db.connection(), "s").unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].trial_key.as_deref(), listed[0].text.as_str()),
        (None, "lr too high")
    );
    assert_eq!(
        (listed[1].trial_key.as_deref(), listed[1].text.as_str()),
        (Some("k2"), "rerun with\ntwo lines")
    );
    assert!(listed[0].created_at <= listed[1].created_at);

    // A note on a trial that later leaves the grid is no longer listed.
    db.connection()
        .execute("UPDATE trials SET superseded_in = 3 WHERE key = 'k2'", [])
        .unwrap();
    assert_eq!(notes(db.connection(), "s").unwrap().len(), 1);
}

#[test]
fn notes_and_tags_refuse_unknown_targets_listing_what_exists() {
    let (_d, db) = annotated();
    let e = err(db.add_note("nope", None, "x"));
    assert!(
        e.contains("no sweep named \"nope\"") && e.contains("s, t"),
        "{e}"
    );
    let e = err(db.add_tags("s", Some("k9"), &strings(&["a"])));
    assert!(
        e.contains("sweep \"s\" has no trial \"k9\"; its trials are: k1, k2 ("),
        "{e}"
    );
    assert!(
        e.contains("SELECT key FROM trial_summary WHERE sweep = 's'"),
        "{e}"
    );
    let e = err(db.add_note("s", Some("gone"), "x"));
    assert!(
        e.contains("left the grid of sweep \"s\" in its version 2"),
        "{e}"
    );
    let e = err(db.add_note("t", Some("k1"), "x"));
    assert!(e.contains("sweep \"t\" has no trials"), "{e}");
    let e = err(db.add_note("s", None, "   "));
    assert!(e.contains("empty note"), "{e}");
    // Nothing was written by the refused calls.
    assert_eq!(scalar(&db, "SELECT count(*) FROM notes"), Value::Integer(0));
    assert_eq!(scalar(&db, "SELECT count(*) FROM tags"), Value::Integer(0));
}

#[test]
fn tags_are_added_once_removed_and_checked() {
    let (_d, db) = annotated();
    assert_eq!(
        db.add_tags("s", None, &strings(&["baseline", "v2"]))
            .unwrap(),
        2
    );
    assert_eq!(
        db.add_tags("s", None, &strings(&["v2", " final "]))
            .unwrap(),
        1
    );
    assert_eq!(db.add_tags("s", Some("k1"), &strings(&["odd"])).unwrap(), 1);
    let tag = |k: Option<&str>, t: &str| Tag {
        trial_key: k.map(str::to_string),
        tag: t.to_string(),
    };
    assert_eq!(
        tags(db.connection(), "s").unwrap(),
        [
            tag(None, "baseline"),
            tag(None, "final"),
            tag(None, "v2"),
            tag(Some("k1"), "odd")
        ]
    );

    // Removing: all or nothing; a tag that is not there names those that are.
    let e = err(db.remove_tags("s", None, &strings(&["v2", "nope"])));
    assert!(
        e.contains("sweep \"s\" has no tag \"nope\"; its tags are: baseline, final, v2"),
        "{e}"
    );
    db.remove_tags("s", None, &strings(&["v2"])).unwrap();
    let e = err(db.remove_tags("s", Some("k2"), &strings(&["odd"])));
    assert!(
        e.contains("trial \"k2\" of sweep \"s\" has no tag \"odd\": it has no tags"),
        "{e}"
    );
    assert_eq!(tags(db.connection(), "s").unwrap().len(), 3);

    for bad in ["", "two words", "a,b"] {
        let e = err(db.add_tags("s", None, &strings(&[bad])));
        assert!(e.contains("tag") && e.contains("one word"), "{bad}: {e}");
    }
    assert!(err(db.add_tags("s", None, &[])).contains("no tags given"));
}

#[test]
fn trial_summary_lists_a_trials_tags_sorted() {
    let (_d, db) = annotated();
    db.add_tags("s", Some("k2"), &strings(&["zeta", "alpha", "mid"]))
        .unwrap();
    db.add_tags("s", None, &strings(&["sweep-only"])).unwrap();
    let tags_of = |key: &str| {
        scalar(
            &db,
            &format!("SELECT tags FROM trial_summary WHERE key = '{key}'"),
        )
    };
    assert_eq!(tags_of("k2"), Value::Text("alpha,mid,zeta".into()));
    assert_eq!(tags_of("k1"), Value::Null);
    // Among the last columns (added after the others), one row per current trial.
    let conn = db.connection();
    let stmt = conn.prepare("SELECT * FROM trial_summary").unwrap();
    let names = stmt.column_names();
    assert_eq!(
        names[names.len() - 3..],
        ["tags", "eval_seconds", "trainable_params"]
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM trial_summary"),
        Value::Integer(2)
    );
}
