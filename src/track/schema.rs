//! Schema versions, the migration runner and the views.
//!
//! The database's version is `PRAGMA user_version`. The migrations (`schema_vN.sql`) hold table
//! changes only; the views live in one file, `views.sql`. Opening a database applies, in one
//! `BEGIN IMMEDIATE` transaction, the missing migrations with the version bump and then
//! recreates the views if they differ from `views.sql`'s, so a crash leaves the database at a
//! whole version with its views, and two processes opening a database at once do not both
//! migrate it. A database already current is only read (no write lock).
//! Adding version 10 is one entry in [`TABLE_MIGRATIONS`]; changing a view is an edit of
//! `views.sql` alone (no new version: older binaries of the same version keep working).

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::OnceLock;

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 9;

/// `(version, sql)`, in order; applying `sql` to the tables of a database at `version - 1`
/// gives the tables of `version`. No views: see [`VIEWS`].
pub const TABLE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("schema_v1.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
    (4, include_str!("schema_v4.sql")),
    (5, include_str!("schema_v5.sql")),
    (6, include_str!("schema_v6.sql")),
    (7, include_str!("schema_v7.sql")),
    (8, include_str!("schema_v8.sql")),
    (9, include_str!("schema_v9.sql")),
];

/// Every view, as `CREATE VIEW` statements over the tables of [`SCHEMA_VERSION`].
pub const VIEWS: &str = include_str!("views.sql");

/// [`TABLE_MIGRATIONS`] followed by `(SCHEMA_VERSION, VIEWS)`: running each `sql` in order on
/// an empty connection gives the latest schema, for tests that build a database by hand (they
/// then set `user_version` themselves, or never open it with [`migrate`]).
pub const MIGRATIONS: &[(i64, &str)] = &with_views();

const fn with_views() -> [(i64, &'static str); TABLE_MIGRATIONS.len() + 1] {
    let mut all = [(SCHEMA_VERSION, VIEWS); TABLE_MIGRATIONS.len() + 1];
    let mut i = 0;
    while i < TABLE_MIGRATIONS.len() {
        all[i] = TABLE_MIGRATIONS[i];
        i += 1;
    }
    all
}

/// Reads `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database at `path` (open on `conn`) to [`SCHEMA_VERSION`] with the views of
/// [`VIEWS`].
///
/// Refuses a database written by a newer thaw, and a SQLite file of another program
/// (version 0 but already holding tables).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let current = user_version(conn)?;
    check_not_newer(current, path)?;
    if current == SCHEMA_VERSION && views_are_current(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have migrated meanwhile.
    let now = user_version(&tx)?;
    check_not_newer(now, path)?;
    if now == 0 && object_count(&tx)? > 0 {
        bail!(
            "{} is a SQLite database of another program, not a thaw database; \
             choose another --db",
            path.display()
        );
    }
    if now < SCHEMA_VERSION {
        // Old views may name columns a migration changes; they are recreated below.
        drop_views(&tx)?;
        for &(version, sql) in &TABLE_MIGRATIONS[now as usize..] {
            tx.execute_batch(sql).with_context(|| {
                format!("{}: applying schema version {version}", path.display())
            })?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    if !views_are_current(&tx)? {
        drop_views(&tx)?;
        tx.execute_batch(VIEWS)
            .with_context(|| format!("{}: creating the views", path.display()))?;
    }
    tx.commit()?;
    Ok(())
}

fn object_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )
}

/// `(name, sql)` of thaw's views in the database (those [`VIEWS`] creates; a user's own views
/// are left alone), by name.
fn views(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    let names = view_names();
    rows.filter(|r| match r {
        Ok((name, _)) => names.contains(&name.as_str()),
        Err(_) => true,
    })
    .collect()
}

/// The views [`VIEWS`] gives, as SQLite stores them, by name (built once, in memory).
fn expected_views() -> &'static [(String, String)] {
    static EXPECTED: OnceLock<Vec<(String, String)>> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        for (_, sql) in MIGRATIONS {
            conn.execute_batch(sql)
                .expect("the built-in schema applies");
        }
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY name")
            .expect("sqlite_master");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("the built-in views");
        rows.collect::<rusqlite::Result<_>>()
            .expect("the built-in views")
    })
}

/// The names of thaw's views, by name.
pub fn view_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| expected_views().iter().map(|(n, _)| n.as_str()).collect())
}

/// Whether the database's views are exactly those of [`VIEWS`].
pub fn views_are_current(conn: &Connection) -> rusqlite::Result<bool> {
    Ok(views(conn)? == expected_views())
}

/// Drops thaw's views (views.sql has kept every name it ever used; a view it stops creating
/// must stay listed for removal here).
fn drop_views(conn: &Connection) -> rusqlite::Result<()> {
    for name in view_names() {
        conn.execute_batch(&format!("DROP VIEW IF EXISTS \"{name}\""))?;
    }
    Ok(())
}

fn check_not_newer(version: i64, path: &Path) -> Result<()> {
    if version > SCHEMA_VERSION {
        bail!(
            "{} was written by a newer thaw (schema {version} > {SCHEMA_VERSION}); upgrade thaw",
            path.display()
        );
    }
    if version < 0 {
        bail!(
            "{} is not a thaw database (user_version {version}); choose another --db",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_contiguous_and_end_at_schema_version() {
        for (i, (v, _)) in TABLE_MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        assert_eq!(TABLE_MIGRATIONS.last().unwrap().0, SCHEMA_VERSION);
        assert_eq!(MIGRATIONS.len(), TABLE_MIGRATIONS.len() + 1);
        assert_eq!(MIGRATIONS.last().unwrap(), &(SCHEMA_VERSION, VIEWS));
    }

    #[test]
    fn views_live_only_in_views_sql() {
        for (v, sql) in TABLE_MIGRATIONS {
            let sql = sql.to_uppercase();
            assert!(
                !sql.contains("CREATE VIEW") && !sql.contains("DROP VIEW"),
                "schema_v{v}.sql declares a view"
            );
        }
        assert_eq!(
            view_names(),
            [
                "class_accuracy",
                "findings",
                "transfer_gain",
                "trial_metrics",
                "trial_summary"
            ]
        );
    }
}

#[cfg(test)]
#[path = "tests_schema.rs"]
mod tests_schema;
