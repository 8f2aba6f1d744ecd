//! Provenance: the environments the sweep's current trials ran in, with their trial counts,
//! thaw builds and training semantics.

use crate::report::context::Ctx;
use crate::report::html::markdown_to_html;
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::sql_table;
use anyhow::Result;
use rusqlite::params;

/// The environments of the current trials (`environments` joined on `trial_summary`), one row
/// each with its trial count; `None` when no trial records one.
pub fn provenance(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT e.key AS environment, count(*) AS trials, e.thaw_version, e.thaw_build,
       e.semantics, e.grid_commit, e.grid_dirty, e.host, e.device, e.gpu_name,
       e.gpu_memory_mib, e.cpu_model, e.cpu_cores, e.libtorch, e.cuda, e.cudnn, e.os,
       e.command_line
FROM trial_summary ts
JOIN environments e ON e.key = ts.environment_key
WHERE ts.sweep = {}
GROUP BY e.key
ORDER BY min(ts.started_at), e.key;",
        ctx.sweep_lit()
    );
    let table = sql_table(ctx.conn, &sql)?;
    if table.rows.is_empty() {
        return Ok(None);
    }
    let (linked, unlinked): (i64, i64) = ctx.conn.query_row(
        "SELECT count(environment_key), count(*) - count(environment_key) FROM trial_summary
         WHERE sweep = ?1 AND status != 'pending'",
        params![ctx.sweep.name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let envs = table.rows.len();
    let mut md = format!(
        "**{linked} trial{}** of the current grid ran in **{envs} environment{}**.",
        plural(linked),
        plural(envs as i64)
    );
    for (column, what) in [
        ("thaw_build", "thaw builds"),
        ("semantics", "training semantics"),
    ] {
        let counts = distinct_counts(ctx, column)?;
        if counts.len() > 1 {
            let list: Vec<String> = (counts.iter())
                .map(|(v, n)| format!("`{v}` ({n} trial{})", plural(*n)))
                .collect();
            md.push_str(&format!("\n\n- {what}: {}", list.join(", ")));
        }
    }
    if unlinked > 0 {
        md.push_str(&format!(
            "\n\n{unlinked} started trial{} no environment record (run before thaw recorded \
             provenance).",
            if unlinked == 1 { " has" } else { "s have" }
        ));
    }
    Ok(Some(Cell {
        title: "Provenance".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs: vec![
            Output::Html {
                html: markdown_to_html(&md),
            },
            Output::Table(table),
        ],
    }))
}

/// The values of `environments.<column>` over the sweep's current trials, with trial counts.
fn distinct_counts(ctx: &Ctx, column: &str) -> Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT e.{column}, count(*) FROM trial_summary ts
         JOIN environments e ON e.key = ts.environment_key
         WHERE ts.sweep = ?1 GROUP BY e.{column} ORDER BY count(*) DESC, e.{column}"
    );
    let mut stmt = ctx.conn.prepare(&sql)?;
    let rows = stmt.query_map(params![ctx.sweep.name], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
