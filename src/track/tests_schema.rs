//! Upgrades: a database as each released version of thaw left it (its tables, and its views as
//! released, verbatim in `tests/fixtures/released_views/`) opens at the latest version with its rows kept and the
//! views of `views.sql`, giving the same results as a database created at the latest version.

use super::*;
use crate::track::Db;
use rusqlite::types::Value;

/// The views a released thaw created at `version`.
fn released_views(version: i64) -> &'static str {
    match version {
        1 | 2 => include_str!("../../tests/fixtures/released_views/released_views_v1.sql"),
        3 => include_str!("../../tests/fixtures/released_views/released_views_v3.sql"),
        4 => include_str!("../../tests/fixtures/released_views/released_views_v4.sql"),
        5 => include_str!("../../tests/fixtures/released_views/released_views_v5.sql"),
        6 => include_str!("../../tests/fixtures/released_views/released_views_v6.sql"),
        7 => include_str!("../../tests/fixtures/released_views/released_views_v7.sql"),
        8 => include_str!("../../tests/fixtures/released_views/released_views_v8.sql"),
        9 => VIEWS,
        _ => unreachable!("no release at version {version}"),
    }
}

/// Creates `path` as thaw at `version` did: its tables and its views, at that user_version.
fn create_released(path: &Path, version: i64) -> Connection {
    let conn = Connection::open(path).unwrap();
    for (_, sql) in &TABLE_MIGRATIONS[..version as usize] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(released_views(version)).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
    conn
}

/// A sweep with a from-scratch and a fine-tuned trial, each with three epochs of metrics,
/// written with the columns of version 1 only.
fn insert_rows(conn: &Connection) {
    conn.execute_batch(
        "INSERT INTO sweeps (id, name, spec_path, spec_yaml, created_at, updated_at)
         VALUES (1, 'old', 'g.yaml', 'name: old', 'x', 'x');",
    )
    .unwrap();
    for (id, pretrained) in [(1, 0), (2, 1)] {
        conn.execute(
            "INSERT INTO trials (id, sweep_id, key, status, config_json, backbone, pretrained,
               freeze, frozen_blocks, source_dataset, target_dataset, train_per_class, shift,
               shift_kind, shift_magnitude, schedule, lr, optimizer, seed, epochs, batch_size,
               position)
             VALUES (?1, 1, ?1, 'completed', '{}', 'resnet', ?2, '0', 0, 'a', 'b', 10, 'none',
               'none', 0, 'constant', 0.1, 'sgd', 0, 2, 8, ?1)",
            [id, pretrained],
        )
        .unwrap();
        for epoch in 0..3_i64 {
            let x = (id * 10 + epoch) as f64 / 100.0;
            for (name, value) in [
                ("train_loss", 2.0 - x),
                ("val_loss", 1.0 + (epoch as f64 - 1.0).abs()),
                ("train_acc", x),
                ("val_acc", x / 2.0),
                ("test_acc", x / 3.0),
                ("source_acc", 0.9 - x),
                ("epoch_seconds", 1.5),
            ] {
                conn.execute(
                    "INSERT INTO metrics (trial_id, epoch, name, value) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![id, epoch, name, value],
                )
                .unwrap();
            }
        }
    }
}

fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Every row of every view, and the table rows, of `conn`.
fn contents(conn: &Connection) -> Vec<Vec<Vec<Value>>> {
    [
        "SELECT * FROM trial_summary ORDER BY trial_id",
        "SELECT * FROM trial_metrics ORDER BY trial_id",
        "SELECT * FROM transfer_gain ORDER BY trial_id",
        "SELECT * FROM sweeps",
        "SELECT * FROM trials ORDER BY id",
        "SELECT * FROM metrics ORDER BY trial_id, name, epoch",
    ]
    .iter()
    .map(|sql| rows(conn, sql))
    .collect()
}

fn schema_version(conn: &Connection) -> i64 {
    conn.query_row("PRAGMA schema_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn every_released_version_upgrades_keeping_rows_and_gets_the_latest_views() {
    let dir = tempfile::tempdir().unwrap();
    let latest = dir.path().join("latest.db");
    drop(Db::open(&latest).unwrap());
    let conn = Connection::open(&latest).unwrap();
    insert_rows(&conn);
    let want = contents(&conn);
    assert_eq!(want[2].len(), 1, "the fixture has one transfer_gain row");

    for version in 1..SCHEMA_VERSION {
        let path = dir.path().join(format!("v{version}.db"));
        {
            let old = create_released(&path, version);
            insert_rows(&old);
            // The released views work on the fixture before the upgrade.
            assert_eq!(rows(&old, "SELECT trial_id FROM trial_summary").len(), 2);
        }
        let db = Db::open(&path).unwrap();
        let conn = db.connection();
        assert_eq!(
            user_version(conn).unwrap(),
            SCHEMA_VERSION,
            "from v{version}"
        );
        assert!(views_are_current(conn).unwrap(), "from v{version}");
        assert_eq!(contents(conn), want, "from v{version}");
        // Rows written before the upgrade ran in fp32.
        let precision: String = conn
            .query_row("SELECT DISTINCT precision FROM trial_summary", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(precision, "fp32");
    }
}

#[test]
fn a_current_database_is_opened_without_rewriting_its_views() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v5.db");
    let before = {
        let conn = create_released(&path, SCHEMA_VERSION);
        insert_rows(&conn);
        schema_version(&conn)
    };
    let db = Db::open(&path).unwrap();
    assert_eq!(schema_version(db.connection()), before);
    drop(db);
    let db = Db::open(&path).unwrap();
    assert_eq!(schema_version(db.connection()), before);
}

#[test]
fn changed_or_missing_views_are_recreated_and_a_users_own_view_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thaw.db");
    {
        let conn = create_released(&path, SCHEMA_VERSION);
        insert_rows(&conn);
        conn.execute_batch(
            "DROP VIEW transfer_gain;
             DROP VIEW trial_metrics;
             CREATE VIEW trial_metrics AS SELECT trial_id FROM trial_summary;
             CREATE VIEW my_view AS SELECT count(*) AS n FROM trials;",
        )
        .unwrap();
        assert!(!views_are_current(&conn).unwrap());
    }
    let db = Db::open(&path).unwrap();
    let conn = db.connection();
    assert!(views_are_current(conn).unwrap());
    assert_eq!(rows(conn, "SELECT * FROM transfer_gain").len(), 1);
    assert_eq!(rows(conn, "SELECT * FROM my_view"), [[Value::Integer(2)]]);
}

#[test]
fn every_metric_name_the_views_read_is_in_the_registry() {
    use crate::metrics::names::{self, Known};
    let code: String = VIEWS
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect();
    let metrics: Vec<&str> = code
        .split('\'')
        .skip(1)
        .step_by(2)
        .filter(|l| *l != "completed")
        .collect();
    assert!(metrics.len() > 10, "{metrics:?}");
    for name in metrics {
        assert!(
            matches!(names::lookup(name), Some(Known::Metric(_))),
            "views.sql reads `{name}`, which the metric registry does not know"
        );
    }
}

/// Version 9 widens the CHECK of `trials.status` to `pruned` by editing the table's schema
/// text: every trial and metric of a version-8 database stays, foreign keys and integrity hold,
/// and a connection opened before the upgrade sees the new constraint.
#[test]
fn version_9_accepts_pruned_and_keeps_every_trial_and_metric() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v8.db");
    let old = create_released(&path, 8);
    insert_rows(&old);
    let before = contents(&old);
    let count = |c: &Connection, sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count(&old, "SELECT count(*) FROM metrics"), 42);
    let refused = old.execute("UPDATE trials SET status = 'pruned' WHERE id = 1", []);
    assert!(refused.is_err(), "version 8 refuses pruned");
    let db = Db::open(&path).unwrap();
    let conn = db.connection();
    assert_eq!(user_version(conn).unwrap(), 9);
    let after = contents(conn);
    assert_eq!(
        after[3..],
        before[3..],
        "sweeps, trials and metrics unchanged"
    );
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(
        count(conn, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    conn.execute("UPDATE trials SET status = 'pruned' WHERE id = 1", [])
        .unwrap();
    assert!(conn
        .execute("UPDATE trials SET status = 'stopped' WHERE id = 2", [])
        .is_err());
    // The connection opened before the upgrade reloads the schema too.
    old.execute("UPDATE trials SET status = 'pruned' WHERE id = 2", [])
        .unwrap();
    assert_eq!(
        count(conn, "SELECT count(*) FROM trials WHERE status = 'pruned'"),
        2
    );
    assert_eq!(count(conn, "SELECT count(*) FROM metrics"), 42);
    drop(db);
    // Reopening applies nothing twice.
    let again = Db::open(&path).unwrap();
    let sql: String = again
        .connection()
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'trials'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sql.matches("'pruned'").count(), 1, "{sql}");
}
