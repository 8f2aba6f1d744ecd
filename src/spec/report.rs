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
use super::words::{describe, did_you_mean};
use serde_norway::{Mapping, Value};

/// Keys of a markdown item.
pub(crate) const MARKDOWN_KEYS: &[&str] = &["markdown"];
/// Keys of a query item.
pub(crate) const QUERY_KEYS: &[&str] = &["title", "sql", "chart", "x", "y", "series"];
/// Chart kinds of a query item.
pub(crate) const CHART_KINDS: &[&str] = &["line", "bar", "heatmap", "table"];

fn all_keys() -> Vec<&'static str> {
    MARKDOWN_KEYS.iter().chain(QUERY_KEYS).copied().collect()
}

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

fn check_item(diag: &mut Diag, m: &Mapping, path: &[Seg]) {
    let is_markdown = m.contains_key("markdown");
    let valid: Vec<&str> = if is_markdown {
        MARKDOWN_KEYS.to_vec()
    } else if m.contains_key("sql") || m.contains_key("chart") || m.contains_key("title") {
        QUERY_KEYS.to_vec()
    } else {
        all_keys()
    };
    for k in m.keys() {
        let Some(text) = k.as_str() else {
            diag.err(
                path,
                format!("keys must be plain names, got {}", describe(k)),
            );
            continue;
        };
        if valid.contains(&text) {
            continue;
        }
        let msg = if is_markdown && QUERY_KEYS.contains(&text) {
            format!("a markdown cell has only `markdown:`; put `{text}` in a separate query cell")
        } else {
            format!(
                "unknown key{}Valid keys: {}",
                did_you_mean(text, &valid),
                valid.join(", ")
            )
        };
        diag.key_err(&key(path, text), msg);
    }
    let text_field = |diag: &mut Diag, k: &str| -> Option<String> {
        match m.get(k) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                diag.err(&key(path, k), format!("expected text, got {}", describe(v)));
                None
            }
        }
    };
    if is_markdown {
        if text_field(diag, "markdown").is_none() && matches!(m.get("markdown"), Some(Value::Null))
        {
            diag.err(&key(path, "markdown"), "the markdown cell is empty");
        }
        return;
    }
    if !m.contains_key("sql") {
        diag.err(
            path,
            "a report cell needs `markdown: TEXT`, or `sql: QUERY` with `chart:` (line, bar, \
             heatmap or table)",
        );
    }
    text_field(diag, "title");
    let sql = text_field(diag, "sql");
    let sql_blank = matches!(m.get("sql"), Some(Value::Null))
        || sql.as_deref().is_some_and(|s| s.trim().is_empty());
    if sql_blank {
        diag.err(&key(path, "sql"), "the query is empty");
    }
    let chart = text_field(diag, "chart");
    match chart.as_deref() {
        None if !m.contains_key("chart") => {
            diag.err(path, "missing `chart:`; one of line, bar, heatmap, table")
        }
        None => {}
        Some(c) if !CHART_KINDS.contains(&c) => diag.err(
            &key(path, "chart"),
            format!(
                "unknown chart kind `{c}`{}Chart kinds: {}",
                did_you_mean(c, CHART_KINDS),
                CHART_KINDS.join(", ")
            ),
        ),
        Some(_) => {}
    }
    let x = text_field(diag, "x");
    let y = text_field(diag, "y");
    text_field(diag, "series");
    if matches!(chart.as_deref(), Some("line" | "bar" | "heatmap")) {
        let c = chart.as_deref().unwrap_or_default();
        if x.is_none() && !m.contains_key("x") {
            diag.err(
                path,
                format!("a {c} chart needs `x:` (the column for the x axis)"),
            );
        }
        if y.is_none() && !m.contains_key("y") {
            diag.err(
                path,
                format!("a {c} chart needs `y:` (the column for the y axis)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{parse_grid, SpecError};
    use std::path::Path;

    const BASE: &str = "\
name: t
source:
  dataset: mnist10k
  classes: [0, 1, 2, 3, 4]
target:
  dataset: mnist10k
  classes: [5, 6, 7, 8, 9]
  train_per_class: 10
backbone: cnn4
schedule: {kind: constant, lr: 0.01}
epochs: 2
";

    fn parse(extra: &str) -> Result<crate::spec::Grid, SpecError> {
        parse_grid(Path::new("experiments/x.yaml"), &format!("{BASE}{extra}"))
    }

    #[test]
    fn valid_report_cells_are_accepted() {
        let g = parse(
            "report:\n  - markdown: \"## Notes\"\n  - title: By seed\n    sql: SELECT seed, final_test_acc FROM trial_summary\n    chart: line\n    x: seed\n    y: final_test_acc\n    series: freeze\n  - {title: All, sql: SELECT * FROM trial_summary, chart: table}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(g.trials.len(), 1);
    }

    #[test]
    fn unknown_keys_bad_kinds_and_missing_axes_are_errors() {
        let e = parse(
            "report:\n  - markdown: hi\n  - title: T\n    sql: SELECT 1\n    chart: pie\n  - title: U\n    sql: SELECT 1 AS a\n    chart: line\n    serie: a\n",
        )
        .unwrap_err();
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
        let e = parse("report: hello\n").unwrap_err();
        assert!(
            e.problems[0].message.contains("expected a list of cells"),
            "{e}"
        );
        let e = parse("report:\n  - just text\n").unwrap_err();
        assert_eq!(e.problems[0].field, "report[0]", "{e}");
        let e = parse("report:\n  - markdown: x\n    sql: SELECT 1\n").unwrap_err();
        assert!(e.to_string().contains("separate query cell"), "{e}");
    }
}
