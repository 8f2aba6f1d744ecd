//! Tests of [`merge_shards`]'s refusals, of older-schema shards, and of its table coverage.

use super::*;

#[test]
fn refusals_name_the_shard_and_leave_the_destination_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = shard(d, "good.db", "a", &[("k1", COMPLETED)], 10.0);
    let other = shard(d, "other.db", "other", &[("k9", COMPLETED)], 20.0);
    let dest = d.join("sweep.db");
    let sweeps = ["a".to_string(), "b".to_string()];
    let err = message(merge_shards(
        &dest,
        &[good.clone(), other.clone()],
        Some(&sweeps),
    ));
    let expected = format!(
        "refusing {}: it holds sweep \"other\", not one of this merge's sweeps (a, b); \
         did you point at another sweep's shard folder?",
        other.display()
    );
    assert_eq!(err, expected);
    assert!(!dest.exists(), "checked before the destination is created");

    let newer = d.join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    open(&newer)
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = message(merge_shards(&dest, &[good.clone(), newer.clone()], None));
    let v = SCHEMA_VERSION;
    let expected = format!(
        "refusing shard {}: written by a newer thaw (schema {} > {v}); merge with that thaw or upgrade",
        newer.display(),
        v + 1
    );
    assert_eq!(err, expected);

    let text = d.join("notes.db");
    std::fs::write(&text, "not a database\n".repeat(100)).unwrap();
    let err = message(merge_shards(&dest, std::slice::from_ref(&text), None));
    assert!(
        err.starts_with(&format!(
            "refusing shard {}: it is not a SQLite database",
            text.display()
        )),
        "{err}"
    );
    let foreign = d.join("foreign.db");
    open(&foreign)
        .execute_batch("CREATE TABLE users (id INTEGER)")
        .unwrap();
    let err = message(merge_shards(&dest, std::slice::from_ref(&foreign), None));
    assert!(
        err.contains(&format!(
            "refusing shard {}: it is a SQLite",
            foreign.display()
        )),
        "{err}"
    );
    assert!(err.contains("not a thaw database"), "{err}");

    let missing = d.join("gone.db");
    let err = message(merge_shards(
        &dest,
        &[good.clone(), missing.clone(), d.join("x.db")],
        None,
    ));
    assert!(
        err.contains(&format!(
            "not found: {}, {}",
            missing.display(),
            d.join("x.db").display()
        )),
        "{err}"
    );
    assert!(!dest.exists());

    let err = message(merge_shards(
        &good,
        &[other.clone(), d.join("./good.db")],
        None,
    ));
    assert!(err.contains("it is the destination database"), "{err}");

    // A shard that passes the checks but fails half-way: nothing of the merge is kept.
    merge_shards(&dest, std::slice::from_ref(&good), None).unwrap();
    let before = dump(&dest);
    let broken = shard(d, "broken.db", "b", &[("k5", COMPLETED)], 30.0);
    let sql = "PRAGMA foreign_keys = OFF; UPDATE trials SET sweep_id = 99";
    open(&broken).execute_batch(sql).unwrap();
    let violations = "SELECT count(*) FROM pragma_foreign_key_check";
    assert_eq!(
        scalar(&broken, violations),
        Value::Integer(1),
        "what assert_sound sees"
    );
    let err = message(merge_shards(&dest, &[other, broken.clone()], None));
    assert!(
        err.contains(&format!("merging shard {}", broken.display())),
        "{err}"
    );
    assert!(err.contains("trial k5 refers to no sweep"), "{err}");
    assert_eq!(
        dump(&dest),
        before,
        "the other shard's trial was rolled back too"
    );
    assert_sound(&dest);
}

#[test]
fn an_older_shard_is_read_as_it_is_and_lacking_columns_get_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A running copy (runner, heartbeat, 1 attempt), then a version-1 shard completed it.
    let dest = d.join("sweep.db");
    let running = shard(d, "r.db", "s", &[("k1", State::Running(0))], 20.0);
    merge_shards(&dest, std::slice::from_ref(&running), None).unwrap();
    let created = scalar(&dest, "SELECT created_at FROM sweeps");
    let old = d.join("old.db");
    let conn = open(&old);
    conn.execute_batch(include_str!("schema_v1.sql")).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute_batch(
        "INSERT INTO sweeps VALUES (7, 's', '', 'g.yaml', 'name: s', 'x', 'y');
         INSERT INTO trials (id, sweep_id, key, status, config_json, backbone, pretrained, freeze,
             frozen_blocks, source_dataset, target_dataset, train_per_class, shift, shift_kind,
             shift_magnitude, schedule, lr, optimizer, seed, epochs, batch_size, position,
             finished_at)
         VALUES (3, 7, 'k1', 'completed', '{}', 'cnn4', 1, '0', 0, 'm', 'f', 5, 'none', 'none',
             0, 'constant lr=0.1', 0.1, 'sgd', 1, 1, 32, 0, 'z');
         INSERT INTO metrics VALUES (3, 1, 'train_loss', 0.25);",
    )
    .unwrap();
    drop(conn);
    let summary = merge_shards(&dest, std::slice::from_ref(&old), None).unwrap();
    assert_eq!(summary.trials_updated, 1);
    assert_eq!(
        scalar(&old, "PRAGMA user_version"),
        Value::Integer(1),
        "not migrated"
    );
    assert_eq!(trial(&dest, "k1"), "completed/0.25/1");
    let sql = "SELECT coalesce(runner, '-') || coalesce(heartbeat_at, '-') || attempts || precision
               FROM trials";
    assert_eq!(scalar(&dest, sql), Value::Text("--0fp32".into()));
    // The sweep takes the text of its latest update (the old shard's 'y'), keeps its creation.
    let sweep = "SELECT spec_yaml || '/' || updated_at FROM sweeps";
    assert_eq!(scalar(&dest, sweep), Value::Text("name: s/y".into()));
    assert_eq!(scalar(&dest, "SELECT created_at FROM sweeps"), created);
    merge_shards(&dest, &[running], None).unwrap();
    assert_eq!(scalar(&dest, sweep), Value::Text("name: s/y".into()));
    assert_sound(&dest);
}

#[test]
fn the_merge_copies_every_table_of_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    drop(Db::open(&path).unwrap());
    let conn = open(&path);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut merged: Vec<&str> = vec!["sweeps", "trials"];
    merged.extend(TRIAL_TABLES);
    merged.extend(SWEEP_TABLES);
    merged.extend(SHARED_TABLES);
    merged.extend(UNMERGED_TABLES);
    merged.sort_unstable();
    assert_eq!(tables, merged, "a new table needs a rule in merge.rs");
}
