//! Schema versions and the migration runner.
//!
//! The database's version is `PRAGMA user_version`. Each migration is applied, with the version
//! bump, in one `BEGIN IMMEDIATE` transaction, so a crash leaves the database at a whole version
//! and two processes opening a fresh database at once do not both migrate it.
//! Adding version 2 is one entry in [`MIGRATIONS`].

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 5;

/// `(version, sql)`, in order; applying `sql` to a database at `version - 1` gives `version`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("schema_v1.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
    (4, include_str!("schema_v4.sql")),
    (5, include_str!("schema_v5.sql")),
];

/// Reads `PRAGMA user_version`.
pub fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the database at `path` (open on `conn`) to [`SCHEMA_VERSION`].
///
/// Refuses a database written by a newer thaw, and a SQLite file of another program
/// (version 0 but already holding tables).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    let current = user_version(conn)?;
    check_not_newer(current, path)?;
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    for &(version, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let now = user_version(&tx)?;
        check_not_newer(now, path)?;
        if now >= version {
            continue;
        }
        if now != version - 1 {
            bail!(
                "{}: schema version {now} cannot be migrated to {version} (missing migration)",
                path.display()
            );
        }
        if now == 0 {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                bail!(
                    "{} is a SQLite database of another program, not a thaw database; \
                     choose another --db",
                    path.display()
                );
            }
        }
        tx.execute_batch(sql)
            .with_context(|| format!("{}: applying schema version {version}", path.display()))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
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
        for (i, (v, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().unwrap().0, SCHEMA_VERSION);
    }
}
