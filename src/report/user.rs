//! The grid's own cells (`report:` in the grid file), read back from `sweeps.spec_yaml`.
//!
//! Each item is `{markdown: TEXT}` or `{title, sql, chart: line|bar|heatmap|table, x, y,
//! series}` (the grid parser checks the shape when the sweep runs). Queries run on the
//! report's read-only connection, one statement each, with a time limit; any problem (bad
//! SQL, a missing column, a timeout) becomes an error cell, never a failed report.

use super::charts::{LineChart, Point, Series, XAxis, PALETTE};
use super::context::{distinct, Ctx};
use super::heatmap::Heatmap;
use super::html::markdown_to_html;
use super::page::{Cell, Input, Output};
use super::rows::{fmt_real, sql_table_limit};
use super::series::epoch_ticks;
use anyhow::{anyhow, bail, Result};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Deserialize;
use serde_norway::Value;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest a user query may run before it is interrupted.
const QUERY_LIMIT: Duration = Duration::from_secs(10);
/// Most rows a user table shows.
const TABLE_ROWS: usize = 1000;

/// One `report:` item.
#[derive(Clone, Debug, PartialEq)]
pub enum UserCell {
    Markdown(String),
    Query(QueryCell),
}

/// A query cell: SQL and how to draw its rows.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryCell {
    #[serde(default)]
    pub title: Option<String>,
    pub sql: String,
    #[serde(default = "default_chart")]
    pub chart: String,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
    #[serde(default)]
    pub series: Option<String>,
}

fn default_chart() -> String {
    "table".to_string()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkdownItem {
    markdown: String,
}

/// The `report:` items of a grid's text; an item that cannot be read is an `Err` with the
/// reason. A grid that is not valid YAML, or has no `report:`, has no user cells.
pub fn parse_user_cells(spec_yaml: &str) -> Vec<Result<UserCell, String>> {
    let Ok(root) = serde_norway::from_str::<Value>(spec_yaml) else {
        return Vec::new();
    };
    let Some(items) = root.get("report") else {
        return Vec::new();
    };
    let Value::Sequence(items) = items else {
        return vec![Err("`report:` must be a list of cells".to_string())];
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let is_md = item.get("markdown").is_some();
            let res = if is_md {
                serde_norway::from_value::<MarkdownItem>(item.clone())
                    .map(|m| UserCell::Markdown(m.markdown))
            } else {
                serde_norway::from_value::<QueryCell>(item.clone()).map(UserCell::Query)
            };
            res.map_err(|e| format!("report[{i}]: {e}"))
        })
        .collect()
}

/// The user cells of the sweep's grid, rendered.
pub fn cells(ctx: &Ctx) -> Vec<Cell> {
    parse_user_cells(&ctx.sweep.spec_yaml)
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Ok(UserCell::Markdown(md)) => Cell {
                title: String::new(),
                inputs: vec![Input {
                    lang: "markdown",
                    text: md.clone(),
                }],
                outputs: vec![Output::Html {
                    html: markdown_to_html(&md),
                }],
            },
            Ok(UserCell::Query(q)) => {
                let title = q.title.clone().unwrap_or_else(|| format!("report[{i}]"));
                let outputs = match query_output(ctx, &q) {
                    Ok(o) => o,
                    Err(e) => vec![Output::Error {
                        message: format!("{e:#}"),
                    }],
                };
                Cell {
                    title,
                    inputs: vec![Input {
                        lang: "sql",
                        text: q.sql.clone(),
                    }],
                    outputs,
                }
            }
            Err(message) => Cell {
                title: format!("report[{i}]"),
                inputs: vec![],
                outputs: vec![Output::Error { message }],
            },
        })
        .collect()
}

/// A value of a result row.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Null,
    Num(f64),
    Text(String),
}

impl Val {
    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(x) if x.is_finite() => Some(*x),
            _ => None,
        }
    }
    fn label(&self) -> String {
        match self {
            Val::Null => "NULL".to_string(),
            Val::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            Val::Num(x) => fmt_real(*x),
            Val::Text(t) => t.clone(),
        }
    }
}

/// Checks the statement, and interrupts it when it runs past [`QUERY_LIMIT`].
fn check_readonly(stmt: &rusqlite::Statement, sql: &str) -> Result<()> {
    if !stmt.readonly() {
        bail!("only read-only queries (SELECT, WITH, VALUES) may be used in a report");
    }
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    if !matches!(first.as_str(), "SELECT" | "WITH" | "VALUES") {
        bail!("a report query starts with SELECT, WITH or VALUES, not {first}");
    }
    Ok(())
}

/// Runs `f`, interrupting the connection's statements if it takes longer than
/// [`QUERY_LIMIT`].
fn with_time_limit<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let handle = conn.get_interrupt_handle();
    let (done, wait) = mpsc::channel::<()>();
    let start = Instant::now();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(QUERY_LIMIT) {
            handle.interrupt();
        }
    });
    let res = f();
    drop(done);
    let _ = watchdog.join();
    match res {
        Err(e) if start.elapsed() >= QUERY_LIMIT => Err(e.context(format!(
            "the query was stopped after {} s",
            QUERY_LIMIT.as_secs()
        ))),
        r => r,
    }
}

/// Runs a user query: column names and all rows.
fn run_query(ctx: &Ctx, sql: &str) -> Result<(Vec<String>, Vec<Vec<Val>>)> {
    with_time_limit(ctx.conn, || {
        let mut stmt = ctx.conn.prepare(sql)?;
        check_readonly(&stmt, sql)?;
        let cols: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(cols.len());
            for i in 0..cols.len() {
                row.push(match r.get_ref(i)? {
                    ValueRef::Null => Val::Null,
                    ValueRef::Integer(n) => Val::Num(n as f64),
                    ValueRef::Real(x) => Val::Num(x),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::Text(format!("<{} bytes>", b.len())),
                });
            }
            out.push(row);
        }
        Ok((cols, out))
    })
}

fn column(cols: &[String], name: &Option<String>, what: &str) -> Result<usize> {
    let name = name
        .as_deref()
        .ok_or_else(|| anyhow!("the chart needs `{what}:` (a column of the query)"))?;
    cols.iter().position(|c| c == name).ok_or_else(|| {
        anyhow!(
            "`{what}: {name}` is not a column of the query; its columns are: {}",
            cols.join(", ")
        )
    })
}

fn query_output(ctx: &Ctx, q: &QueryCell) -> Result<Vec<Output>> {
    match q.chart.as_str() {
        "table" => {
            // Validate first, so a write statement is refused before anything runs.
            {
                let stmt = ctx.conn.prepare(&q.sql)?;
                check_readonly(&stmt, &q.sql)?;
            }
            let t = with_time_limit(ctx.conn, || sql_table_limit(ctx.conn, &q.sql, TABLE_ROWS))?;
            Ok(vec![Output::Table(t)])
        }
        "line" | "bar" => line_output(ctx, q),
        "heatmap" => heatmap_output(ctx, q),
        other => bail!("unknown chart kind `{other}`; use line, bar, heatmap or table"),
    }
}

/// A user cell's line or bar chart: `x` against `y`, one series per value of `series`.
fn line_output(ctx: &Ctx, q: &QueryCell) -> Result<Vec<Output>> {
    let (cols, rows) = run_query(ctx, &q.sql)?;
    let xi = column(&cols, &q.x, "x")?;
    let yi = column(&cols, &q.y, "y")?;
    let si = match &q.series {
        Some(_) => Some(column(&cols, &q.series, "series")?),
        None => None,
    };
    let used: Vec<&Vec<Val>> = rows
        .iter()
        .filter(|r| r[yi].num().is_some() && r[xi] != Val::Null)
        .collect();
    if used.is_empty() {
        return Ok(vec![Output::Text {
            text: format!(
                "The query returned {} rows, none with a number in `{}`.",
                rows.len(),
                cols[yi]
            ),
        }]);
    }
    let numeric_x = used.iter().all(|r| r[xi].num().is_some()) && q.chart == "line";
    let cats: Vec<String> = distinct(used.iter().map(|r| r[xi].label()));
    let x_of = |r: &Vec<Val>| -> f64 {
        if numeric_x {
            r[xi].num().unwrap_or(0.0)
        } else {
            let l = r[xi].label();
            cats.iter().position(|c| *c == l).unwrap_or(0) as f64
        }
    };
    let series_names: Vec<String> = match si {
        Some(si) => distinct(used.iter().map(|r| r[si].label())),
        None => vec![cols[yi].clone()],
    };
    let series: Vec<Series> = series_names
        .iter()
        .enumerate()
        .map(|(k, name)| Series {
            label: name.clone(),
            color: page_color(ctx, q.series.as_deref(), name, k),
            dashed: false,
            points: used
                .iter()
                .filter(|r| si.is_none_or(|si| r[si].label() == *name))
                .map(|r| Point {
                    x: x_of(r),
                    y: r[yi].num().unwrap_or(0.0),
                    err: None,
                })
                .collect(),
        })
        .collect();
    let x_axis = if numeric_x {
        let xs: Vec<f64> = used.iter().map(|r| x_of(r)).collect();
        if xs.iter().all(|x| x.fract() == 0.0) {
            XAxis::Linear {
                ticks: epoch_ticks(&xs.iter().map(|x| *x as i64).collect::<Vec<_>>()),
            }
        } else {
            let mut t = distinct(xs.into_iter());
            t.sort_by(f64::total_cmp);
            let step = t.len().div_ceil(10).max(1);
            XAxis::Linear {
                ticks: t.into_iter().step_by(step).collect(),
            }
        }
    } else {
        XAxis::Categorical(cats.clone())
    };
    let chart = LineChart {
        legend_title: si.map(|i| cols[i].clone()).unwrap_or_default(),
        bars: q.chart == "bar",
        ..LineChart::new(
            q.title.clone().unwrap_or_default(),
            cols[xi].clone(),
            cols[yi].clone(),
            x_axis,
            series,
        )
    };
    Ok(vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} of the query's {} rows drawn (rows without a number in `{}` are left \
             out).",
            used.len(),
            rows.len(),
            cols[yi]
        ),
        rows: used.len(),
    }])
}

/// A user cell's heatmap: `x` by `y`, coloured by `series` (or the first other numeric column).
fn heatmap_output(ctx: &Ctx, q: &QueryCell) -> Result<Vec<Output>> {
    let (cols, rows) = run_query(ctx, &q.sql)?;
    let xi = column(&cols, &q.x, "x")?;
    let yi = column(&cols, &q.y, "y")?;
    let vi = match &q.series {
        Some(_) => column(&cols, &q.series, "series")?,
        None => (0..cols.len())
            .find(|&i| i != xi && i != yi && rows.iter().any(|r| r[i].num().is_some()))
            .ok_or_else(|| {
                anyhow!(
                    "a heatmap needs a third, numeric column for the colour (or \
                     `series:` naming it)"
                )
            })?,
    };
    let used: Vec<&Vec<Val>> = rows.iter().filter(|r| r[vi].num().is_some()).collect();
    if used.is_empty() {
        return Ok(vec![Output::Text {
            text: format!("The query returned no numbers in `{}`.", cols[vi]),
        }]);
    }
    let sorted = |i: usize| -> Vec<String> {
        let mut vals: Vec<&Val> = Vec::new();
        for r in &used {
            if !vals.contains(&&r[i]) {
                vals.push(&r[i]);
            }
        }
        if vals.iter().all(|v| v.num().is_some()) {
            vals.sort_by(|a, b| a.num().unwrap_or(0.0).total_cmp(&b.num().unwrap_or(0.0)));
        }
        vals.into_iter().map(Val::label).collect()
    };
    let xs = sorted(xi);
    let ys = sorted(yi);
    let values = ys
        .iter()
        .map(|yl| {
            xs.iter()
                .map(|xl| {
                    let v: Vec<f64> = used
                        .iter()
                        .filter(|r| r[xi].label() == *xl && r[yi].label() == *yl)
                        .filter_map(|r| r[vi].num())
                        .collect();
                    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
                })
                .collect()
        })
        .collect();
    let chart = Heatmap {
        title: q.title.clone().unwrap_or_default(),
        x_desc: cols[xi].clone(),
        x_labels: xs,
        y_desc: cols[yi].clone(),
        y_labels: ys,
        values,
        value_desc: cols[vi].clone(),
    };
    Ok(vec![Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "Colour and printed value: `{}` (the mean where several rows share a cell).",
            cols[vi]
        ),
        rows: used.len(),
    }])
}

/// The page-wide colour of a series value when the series column is a grid axis the page
/// already colours (freeze, train_per_class, schedule), otherwise the palette in order.
fn page_color(ctx: &Ctx, column: Option<&str>, value: &str, k: usize) -> (u8, u8, u8) {
    let label = match column {
        Some("freeze") => Some(format!("freeze {value}")),
        Some("train_per_class") => Some(format!("{value}/class")),
        Some("schedule") => Some(format!("schedule {value}")),
        Some("series" | "model") => Some(value.to_string()),
        _ => None,
    };
    label
        .and_then(|l| ctx.known_color(&l))
        .unwrap_or(PALETTE[k % PALETTE.len()])
}
