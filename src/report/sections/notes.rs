//! Notes and tags (`thaw note`, `thaw tag`): the sweep's tags and every note on the sweep or
//! its current trials, near the top of the sweep page; a trial's own on its trial page.

use crate::report::context::Ctx;
use crate::report::files::safe_name;
use crate::report::page::{Cell, Input, Output, Table, TableCell};
use crate::report::rows::{sql_str, sql_table};
use anyhow::Result;

const TITLE: &str = "Notes and tags";

/// The SQL of the sweep's own tags, sorted.
fn sweep_tags_sql(sweep: &str) -> String {
    format!(
        "SELECT g.tag
FROM tags g
JOIN sweeps s ON s.id = g.sweep_id
WHERE s.name = {} AND g.trial_id IS NULL
ORDER BY g.tag;",
        sql_str(sweep)
    )
}

/// The SQL of the notes on the sweep (`trial` NULL) and on its current trials, oldest first.
fn notes_sql(sweep: &str, key: Option<&str>) -> String {
    let which = match key {
        Some(k) => format!("t.key = {}", sql_str(k)),
        None => "(n.trial_id IS NULL OR t.superseded_in IS NULL)".to_string(),
    };
    format!(
        "SELECT n.created_at, t.key AS trial, n.text AS note
FROM notes n
JOIN sweeps s ON s.id = n.sweep_id
LEFT JOIN trials t ON t.id = n.trial_id
WHERE s.name = {} AND {which}
ORDER BY n.created_at, n.id;",
        sql_str(sweep)
    )
}

/// [2] The sweep's tags and the notes on it and its trials (each trial key links to its page);
/// `None` when there are none.
pub fn notes(ctx: &Ctx) -> Result<Option<Cell>> {
    let tags_sql = sweep_tags_sql(&ctx.sweep.name);
    let tags: Vec<String> = ctx
        .conn
        .prepare(&tags_sql)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let sql = notes_sql(&ctx.sweep.name, None);
    let mut table = sql_table(ctx.conn, &sql)?;
    if tags.is_empty() && table.rows.is_empty() {
        return Ok(None);
    }
    if let Some(k) = table.headers.iter().position(|h| h == "trial") {
        for row in table.rows.iter_mut().filter(|r| !r[k].text.is_empty()) {
            row[k].href = Some(format!("trials/{}.html", safe_name(&row[k].text)));
        }
    }
    Ok(Some(cell(tags, table, vec![tags_sql, sql], "the sweep")))
}

/// A trial page's cell of its tags and notes ((created_at, text), oldest first); `None` when
/// it has neither.
pub(crate) fn trial_cell(
    sweep: &str,
    key: &str,
    tags: &[String],
    notes: &[(String, String)],
) -> Option<Cell> {
    if tags.is_empty() && notes.is_empty() {
        return None;
    }
    let text = |s: &str| TableCell {
        text: s.to_string(),
        class: String::new(),
        href: None,
    };
    let table = Table {
        headers: vec!["created_at".into(), "trial".into(), "note".into()],
        rows: notes
            .iter()
            .map(|(at, note)| vec![text(at), text(key), text(note)])
            .collect(),
        sortable: false,
        note: None,
    };
    let tags_sql = format!(
        "SELECT tags FROM trial_summary WHERE sweep = {} AND key = {};",
        sql_str(sweep),
        sql_str(key)
    );
    let sql = notes_sql(sweep, Some(key));
    Some(cell(
        tags.to_vec(),
        table,
        vec![tags_sql, sql],
        "this trial",
    ))
}

/// The cell: a line of tags, then the notes' table (or a line saying there are none).
fn cell(tags: Vec<String>, table: Table, sql: Vec<String>, on: &str) -> Cell {
    let mut outputs = vec![Output::Text {
        text: if tags.is_empty() {
            format!("No tags on {on}.")
        } else {
            format!("Tags: {}.", tags.join(", "))
        },
    }];
    if table.rows.is_empty() {
        outputs.push(Output::Text {
            text: format!("No notes on {on}."),
        });
    } else {
        outputs.push(Output::Table(table));
    }
    Cell {
        title: TITLE.to_string(),
        inputs: sql.into_iter().map(Input::sql).collect(),
        outputs,
    }
}
