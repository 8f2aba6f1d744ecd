//! The page model: a report is a list of notebook cells, each with its inputs (what produced
//! it) and its outputs (text, HTML, tables, charts). Sections build these; the templates render
//! them. This module imports nothing else of the report.

use crate::metrics::statements::Statement;
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
    /// A section's findings (see [`Findings`]).
    Findings(Findings),
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

/// A section's findings: `notes` (sentences that name settings, e.g. where transfer is
/// negative), then each statement with its verdict and numbers; the template shows a
/// statement's test as its tooltip and as a numbered footnote (`tests`, each test once).
#[derive(Clone, Debug, Serialize)]
pub struct Findings {
    pub notes: Vec<String>,
    pub items: Vec<Finding>,
    pub tests: Vec<String>,
}

/// A statement and the number of its test's footnote (1-based, into [`Findings::tests`]).
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub statement: Statement,
    pub footnote: usize,
}

impl Findings {
    /// The findings of `statements`, their tests numbered in order of first use.
    pub fn new(notes: Vec<String>, statements: Vec<Statement>) -> Self {
        let mut tests: Vec<String> = Vec::new();
        let items = statements
            .into_iter()
            .map(|statement| {
                let footnote = match tests.iter().position(|t| *t == statement.test) {
                    Some(i) => i + 1,
                    None => {
                        tests.push(statement.test.clone());
                        tests.len()
                    }
                };
                Finding {
                    statement,
                    footnote,
                }
            })
            .collect();
        Findings {
            notes,
            items,
            tests,
        }
    }

    /// The statements, in order.
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.items.iter().map(|f| &f.statement)
    }
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
