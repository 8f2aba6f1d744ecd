//! `thaw note`, `thaw tag` and `thaw report --compare` through the binary, on a database built
//! by hand (no training): what they print, what they store, and their errors.

mod common;

use common::{scalar, text, thaw};
use rusqlite::{params, Connection};
use std::path::Path;

/// Sweeps `alpha` (freeze 0) and `beta` (freeze all), each with completed trials at 10 and 100
/// examples per class, seeds 0 and 1; keys `<sweep>-<n>-<seed>`.
fn database(dir: &Path) {
    let path = dir.join("thaw.sqlite");
    drop(thaw::track::Db::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let now = "2026-01-01T00:00:00.000Z";
    for (sid, sweep, freeze, base) in [(1, "alpha", "0", 0.6), (2, "beta", "all", 0.7)] {
        conn.execute(
            "INSERT INTO sweeps (id, name, spec_path, spec_yaml, created_at, updated_at)
             VALUES (?1, ?2, 'g.yaml', '', ?3, ?3)",
            params![sid, sweep, now],
        )
        .unwrap();
        let mut position = 0;
        for n in [10, 100] {
            for seed in 0..2 {
                conn.execute(
                    "INSERT INTO trials (sweep_id, key, status, config_json, backbone, pretrained,
                         freeze, frozen_blocks, source_dataset, target_dataset, train_per_class,
                         shift, shift_kind, shift_magnitude, schedule, lr, optimizer, seed,
                         epochs, batch_size, position)
                     VALUES (?1, ?2, 'completed', '{}', 'cnn4', 1, ?3, 0, 'mnist10k', 'mnist10k',
                         ?4, 'none', 'none', 0, 'constant lr=0.01', 0.01, 'sgd', ?5, 1, 32, ?6)",
                    params![
                        sid,
                        format!("{sweep}-{n}-{seed}"),
                        freeze,
                        n,
                        seed,
                        position
                    ],
                )
                .unwrap();
                let id = conn.last_insert_rowid();
                let acc = base + 0.001 * n as f64 + 0.01 * seed as f64;
                for (name, value) in [("train_loss", 0.5), ("test_acc", acc)] {
                    conn.execute(
                        "INSERT INTO metrics (trial_id, epoch, name, value) VALUES (?1, 1, ?2, ?3)",
                        params![id, name, value],
                    )
                    .unwrap();
                }
                position += 1;
            }
        }
    }
}

/// `thaw ARGS`, which must succeed; its output.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = thaw(dir, args);
    assert!(out.status.success(), "thaw {args:?}: {}", text(&out));
    text(&out)
}

/// `thaw ARGS`, which must fail with `code`; its output.
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = thaw(dir, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "thaw {args:?}: {}",
        text(&out)
    );
    text(&out)
}

#[test]
fn notes_and_tags_are_added_listed_removed_and_queryable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = fails(d, &["note", "alpha", "x"], 1);
    assert!(e.contains("no database at"), "{e}");
    assert!(!d.join("thaw.sqlite").exists(), "no database was created");
    database(d);

    assert!(ok(d, &["note", "alpha", "first note"]).contains("note added to sweep alpha"));
    let out = ok(
        d,
        &["note", "alpha", "--trial", "alpha-10-0", "loss", "spikes"],
    );
    assert!(
        out.contains("note added to trial alpha-10-0 of sweep alpha"),
        "{out}"
    );
    let list = ok(d, &["note", "alpha", "--list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[0].contains("  sweep             first note"),
        "{list}"
    );
    assert!(
        lines[1].contains("  trial alpha-10-0  loss spikes"),
        "{list}"
    );
    assert!(ok(d, &["note", "beta", "--list"]).contains("no notes on sweep beta"));

    let e = fails(d, &["note", "nope", "x"], 1);
    assert!(
        e.contains("no sweep named \"nope\"") && e.contains("alpha, beta"),
        "{e}"
    );
    let e = fails(d, &["tag", "alpha", "--trial", "k9", "x"], 1);
    assert!(
        e.contains("sweep \"alpha\" has no trial \"k9\"; its trials are: alpha-10-0, alpha-10-1"),
        "{e}"
    );
    fails(d, &["note", "alpha"], 2);

    assert!(ok(d, &["tag", "alpha", "v2", "baseline"]).contains("(2 new)"));
    ok(
        d,
        &["tag", "alpha", "--trial", "alpha-10-0", "odd", "check"],
    );
    let list = ok(d, &["tag", "alpha", "--list"]);
    assert!(list.contains("sweep alpha: baseline, v2\n"), "{list}");
    assert!(
        list.contains("trial alpha-10-0 of sweep alpha: check, odd\n"),
        "{list}"
    );
    ok(d, &["tag", "alpha", "--remove", "v2"]);
    let e = fails(d, &["tag", "alpha", "--remove", "v2"], 1);
    assert!(
        e.contains("sweep \"alpha\" has no tag \"v2\"; its tags are: baseline"),
        "{e}"
    );
    let e = fails(d, &["tag", "alpha", "two words"], 1);
    assert!(e.contains("a tag is one word"), "{e}");

    let db = d.join("thaw.sqlite");
    let tags = |key: &str| {
        scalar(
            &db,
            &format!("SELECT tags FROM trial_summary WHERE key = '{key}'"),
        )
    };
    assert_eq!(tags("alpha-10-0"), "check,odd");
    assert_eq!(tags("alpha-10-1"), "Null");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM tags WHERE trial_id IS NULL"),
        "1"
    );
}

#[test]
fn report_compare_renders_one_page_and_the_index_links_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    database(d);
    let e = fails(d, &["report", "--compare", "alpha"], 1);
    assert!(
        e.contains("--compare needs at least two sweeps, got 1"),
        "{e}"
    );
    let e = fails(d, &["report", "--compare", "alpha", "nope"], 1);
    assert!(
        e.contains("no sweep named \"nope\"") && e.contains("alpha, beta"),
        "{e}"
    );
    fails(d, &["report"], 2);
    fails(d, &["report", "alpha", "--compare", "alpha", "beta"], 2);
    assert!(!d.join("reports").exists(), "nothing written");

    let out = ok(d, &["report", "--compare", "alpha", "beta"]);
    let page = d.join("reports/compare/alpha--beta/index.html");
    assert!(
        out.contains(&format!("comparison: {}", page.display())),
        "{out}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Matched configurations"));
    assert_eq!(html.matches("<svg").count(), 1);
    let index = std::fs::read_to_string(d.join("reports/index.html")).unwrap();
    assert!(index.contains("alpha vs beta</a>"), "{index}");
}
