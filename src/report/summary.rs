//! A fast, connection-local copy of the `trial_summary` view.
//!
//! The view joins every trial to its best epoch through a window-function subquery that
//! SQLite scans once per trial (no index), so reading it is quadratic in the number of trials
//! in the database: about 1.5 s per read at 1,000 trials, and a report reads it about ten
//! times. [`materialize`] builds `temp.trial_summary` once per render, inside the render's
//! read transaction, from the view's own stored SQL with that subquery replaced by an indexed
//! temporary table. Unqualified names resolve to the `temp` schema first, so every query of
//! the report (shown unchanged, and still valid against the view with `thaw query`) reads the
//! copy, which holds exactly the view's rows. Only this connection sees it; the database file
//! is not written.
//!
//! When the stored view does not have the expected shape (a future schema), nothing is
//! created and the queries read the view itself: slower, same results.

use anyhow::Result;
use rusqlite::Connection;

/// The view's join to its per-trial best epoch, replaced by the indexed table.
const BEST_JOIN: &str = "LEFT JOIN best ON best.trial_id = t.id";
const VIEW_HEAD: &str = "CREATE VIEW trial_summary AS";

/// The best epoch of each trial, as the view's `best` defines it: lowest validation loss
/// after epoch 0, ties to the earliest epoch.
const BEST_TABLE: &str = "
CREATE TEMP TABLE thaw_best AS
SELECT trial_id, epoch FROM (
    SELECT trial_id, epoch,
           ROW_NUMBER() OVER (PARTITION BY trial_id ORDER BY value ASC, epoch ASC) AS r
    FROM metrics WHERE name = 'val_loss' AND epoch > 0 AND value IS NOT NULL
) WHERE r = 1;
CREATE UNIQUE INDEX temp.thaw_best_trial ON thaw_best(trial_id);";

/// Creates `temp.trial_summary` on `conn` (call inside the read transaction). Returns
/// whether the copy was made; `false` means queries read the (slower) view.
pub(crate) fn materialize(conn: &Connection) -> Result<bool> {
    let exists: i64 = conn.query_row(
        "SELECT COUNT(*) FROM temp.sqlite_master WHERE name = 'trial_summary'",
        [],
        |r| r.get(0),
    )?;
    if exists > 0 {
        conn.execute_batch("DROP TABLE temp.trial_summary; DROP TABLE IF EXISTS temp.thaw_best;")?;
    }
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM main.sqlite_master WHERE type = 'view' AND name = 'trial_summary'",
            [],
            |r| r.get(0),
        )
        .ok();
    let Some(sql) = sql else {
        return Ok(false);
    };
    if !sql.starts_with(VIEW_HEAD) || sql.matches(BEST_JOIN).count() != 1 {
        return Ok(false);
    }
    let copy = sql
        .replacen(VIEW_HEAD, "CREATE TEMP TABLE trial_summary AS", 1)
        .replacen(
            BEST_JOIN,
            "LEFT JOIN temp.thaw_best best ON best.trial_id = t.id",
            1,
        );
    conn.execute_batch(BEST_TABLE)?;
    conn.execute_batch(&copy)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_equals_the_view() {
        let tmp = tempfile::tempdir().unwrap();
        let db = super::super::tests::fixture(tmp.path());
        let conn = Connection::open(&db).unwrap();
        let all = |sql: &str| -> Vec<String> {
            let mut stmt = conn.prepare(sql).unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    Ok((0..n)
                        .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            rows
        };
        let view = all("SELECT * FROM main.trial_summary ORDER BY trial_id");
        assert_eq!(view.len(), 31);
        // The fixture's stored view has the expected shape: the fast path is taken.
        assert!(materialize(&conn).unwrap());
        let copy = all("SELECT * FROM temp.trial_summary ORDER BY trial_id");
        assert_eq!(copy, view);
        // Unqualified names read the copy.
        let plain = all("SELECT * FROM trial_summary ORDER BY trial_id");
        assert_eq!(plain, view);
        // Twice on one connection is fine.
        assert!(materialize(&conn).unwrap());
        // The copy has the view's columns, in order.
        let cols = |sql: &str| {
            conn.prepare(sql)
                .unwrap()
                .column_names()
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            cols("SELECT * FROM temp.trial_summary"),
            cols("SELECT * FROM main.trial_summary")
        );
        // trial_metrics, a view over trial_summary, still works.
        assert_eq!(all("SELECT * FROM trial_metrics").len(), 31);
    }
}
