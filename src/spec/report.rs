//! The grid's optional `report:` key: user cells appended to the sweep report.
//!
//! ```yaml
//! report:
//!   - markdown: "## Notes\nFreezing helps below 50 examples per class."
//!   - title: Final accuracy by seed
//!     sql: SELECT seed, AVG(final_test_acc) AS acc FROM trial_summary GROUP BY seed
//!     chart: bar            # line | bar | heatmap | table
//!     x: seed
//!     y: acc
//!     series: freeze        # optional: one line/bar group per value; for a heatmap,
//!                           # the value column (default: the first other column)
//! ```
//!
//! Only the shape is checked here; the report module reads the cells back from the stored
//! grid text (`sweeps.spec_yaml`) and runs the SQL at render time.

use super::error::{idx, key, Diag, Seg};
use super::keys::{names, variant, Field, Keys};
use super::schema::{ChartKind, RawMarkdownCell, RawQueryCell};
use super::words::{describe, did_you_mean};
use serde_norway::{Mapping, Value};

/// Checks the value of `report:` (at `path`), recording every problem in `diag`.
pub(crate) fn check_report(diag: &mut Diag, v: &Value, path: &[Seg]) {
    let items = match v {
        Value::Null => return,
        Value::Sequence(s) => s,
        other => {
            diag.err(
                path,
                format!(
                    "expected a list of cells such as `- markdown: \"## Notes\"` or \
                     `- {{title: T, sql: SELECT ..., chart: line, x: epoch, y: acc}}`, got {}",
                    describe(other)
                ),
            );
            return;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let ip = idx(path, i);
        match item {
            Value::Mapping(m) => check_item(diag, m, &ip),
            other => diag.err(
                &ip,
                format!(
                    "expected a mapping with `markdown:` or `title:`/`sql:`/`chart:`, got {}",
                    describe(other)
                ),
            ),
        }
    }
}

/// The text of a cell's key (`None` when absent, null or not text; the last is reported).
fn text(diag: &mut Diag, f: &Field, path: &[Seg], k: &str) -> Option<String> {
    match f.given()? {
        Value::String(s) => Some(s.clone()),
        v => {
            diag.err(&key(path, k), format!("expected text, got {}", describe(v)));
            None
        }
    }
}

fn check_item(diag: &mut Diag, m: &Mapping, path: &[Seg]) {
    let mut keys = Keys::new(m);
    if keys.has("markdown") {
        let cell: RawMarkdownCell = keys.read();
        keys.check(diag, path, &|k| {
            names::<RawQueryCell>().contains(&k).then(|| {
                format!("a markdown cell has only `markdown:`; put `{k}` in a separate query cell")
            })
        });
        if text(diag, &cell.markdown, path, "markdown").is_none()
            && matches!(cell.markdown.0, Some(Value::Null))
        {
            diag.err(&key(path, "markdown"), "the markdown cell is empty");
        }
        return;
    }
    if !["sql", "chart", "title"].iter().any(|k| keys.has(k)) {
        keys.read::<RawMarkdownCell>();
    }
    let cell: RawQueryCell = keys.read();
    keys.check(diag, path, &|_| None);
    if cell.sql.0.is_none() {
        diag.err(
            path,
            "a report cell needs `markdown: TEXT`, or `sql: QUERY` with `chart:` (line, bar, \
             heatmap or table)",
        );
    }
    text(diag, &cell.title, path, "title");
    let sql = text(diag, &cell.sql, path, "sql");
    let sql_blank = matches!(cell.sql.0, Some(Value::Null))
        || sql.as_deref().is_some_and(|s| s.trim().is_empty());
    if sql_blank {
        diag.err(&key(path, "sql"), "the query is empty");
    }
    let charts = names::<ChartKind>();
    let chart = text(diag, &cell.chart, path, "chart");
    let kind = match chart.as_deref() {
        None if cell.chart.0.is_none() => {
            diag.err(
                path,
                format!("missing `chart:`; one of {}", charts.join(", ")),
            );
            None
        }
        None => None,
        Some(c) => {
            let kind = variant::<ChartKind>(c);
            if kind.is_none() {
                diag.err(
                    &key(path, "chart"),
                    format!(
                        "unknown chart kind `{c}`{}Chart kinds: {}",
                        did_you_mean(c, charts),
                        charts.join(", ")
                    ),
                );
            }
            kind
        }
    };
    let x = text(diag, &cell.x, path, "x");
    let y = text(diag, &cell.y, path, "y");
    text(diag, &cell.series, path, "series");
    if let (Some(c), Some(ChartKind::Line | ChartKind::Bar | ChartKind::Heatmap)) = (&chart, kind) {
        if x.is_none() && cell.x.0.is_none() {
            diag.err(
                path,
                format!("a {c} chart needs `x:` (the column for the x axis)"),
            );
        }
        if y.is_none() && cell.y.0.is_none() {
            diag.err(
                path,
                format!("a {c} chart needs `y:` (the column for the y axis)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::tests::{err, grid, with};

    #[test]
    fn valid_report_cells_are_accepted() {
        let g = grid(&with(
            "report:\n  - markdown: \"## Notes\"\n  - title: By seed\n    sql: SELECT seed, final_test_acc FROM trial_summary\n    chart: line\n    x: seed\n    y: final_test_acc\n    series: freeze\n  - {title: All, sql: SELECT * FROM trial_summary, chart: table}\n",
        ));
        assert_eq!(g.trials.len(), 1);
    }

    #[test]
    fn unknown_keys_bad_kinds_and_missing_axes_are_errors() {
        let e = err(&with(
            "report:\n  - markdown: hi\n  - title: T\n    sql: SELECT 1\n    chart: pie\n  - title: U\n    sql: SELECT 1 AS a\n    chart: line\n    serie: a\n",
        ));
        let text = e.to_string();
        let chart = e
            .problems
            .iter()
            .find(|p| p.field == "report[1].chart")
            .unwrap_or_else(|| panic!("{text}"));
        assert!(chart.message.contains("unknown chart kind `pie`"), "{text}");
        assert!(
            chart.message.contains("line, bar, heatmap, table"),
            "{text}"
        );
        assert_eq!(chart.line, Some(16), "{text}");
        let serie = e
            .problems
            .iter()
            .find(|p| p.field == "report[2].serie")
            .unwrap_or_else(|| panic!("{text}"));
        assert!(serie.message.contains("did you mean `series`"), "{text}");
        assert_eq!(serie.line, Some(20), "{text}");
        assert!(
            e.problems
                .iter()
                .any(|p| p.field == "report[2]" && p.message.contains("needs `x:`")),
            "{text}"
        );
        assert!(
            e.problems
                .iter()
                .any(|p| p.field == "report[2]" && p.message.contains("needs `y:`")),
            "{text}"
        );
    }

    #[test]
    fn report_must_be_a_list_of_mappings() {
        let e = err(&with("report: hello\n"));
        assert!(
            e.problems[0].message.contains("expected a list of cells"),
            "{e}"
        );
        let e = err(&with("report:\n  - just text\n"));
        assert_eq!(e.problems[0].field, "report[0]", "{e}");
        let e = err(&with("report:\n  - markdown: x\n    sql: SELECT 1\n"));
        assert!(e.to_string().contains("separate query cell"), "{e}");
    }
}
