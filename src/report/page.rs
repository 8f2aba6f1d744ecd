//! The page model: a report is a list of notebook cells, each with its inputs (what produced
//! it) and its outputs (text, HTML, tables, charts). Sections build these; the templates render
//! them. This module imports nothing else of the report.

use serde::Serialize;

/// One notebook cell: its inputs (what produced it) and its outputs.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub title: String,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
}

/// What produced a cell's output, shown verbatim in a `<pre>`.
#[derive(Clone, Debug, Serialize)]
pub struct Input {
    /// `markdown`, `yaml` or `sql`.
    pub lang: &'static str,
    pub text: String,
}

impl Input {
    pub(crate) fn sql(text: String) -> Self {
        Input { lang: "sql", text }
    }
}

/// A cell output.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    /// HTML produced by [`markdown_to_html`] (which escapes its input).
    Html { html: String },
    /// Plain text, escaped by the template.
    Text { text: String },
    /// A table; every string is escaped by the template.
    Table(Table),
    /// An SVG chart produced by plotters (which escapes its text), with a caption.
    /// `rows` is the number of rows of the cell's SQL the chart was drawn from.
    Chart {
        svg: String,
        caption: String,
        rows: usize,
    },
    /// A cell that could not be produced (a failing user query), shown instead of failing
    /// the whole report.
    Error { message: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<TableCell>>,
    /// Column headers sort the rows when clicked (a few lines of inline script).
    pub sortable: bool,
    /// Shown under the table (e.g. "first 1000 of 5000 rows").
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableCell {
    pub text: String,
    /// CSS class: `num` for numbers, `status status-<s>` for the status column, `error`.
    pub class: String,
    /// Makes the cell a link (relative URL).
    pub href: Option<String>,
}
