//! The trial page's confusion matrix: the test split's counts at the final epoch, one row per
//! actual class with its examples and accuracy, cells shaded by their share of the row.

use super::page::{Cell, Input, Output, Table, TableCell};
use super::rows::{fmt_real, sql_str};
use anyhow::Result;
use rusqlite::{params, Connection};

/// Classes beyond which the page lists per-class accuracies without the matrix's columns.
const MAX_COLUMNS: usize = 30;

/// Shades of a cell's share of its row (`share-0` … `share-4` in `_style.html`).
const SHADES: f64 = 4.0;

/// A trial's recorded test confusion: class names in output order and the non-zero cells as
/// (actual, predicted, count).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TestConfusion {
    pub names: Vec<String>,
    pub cells: Vec<(usize, usize, i64)>,
}

/// The test confusion of trial `trial_id` (empty when it has none recorded).
pub(crate) fn load(conn: &Connection, trial_id: i64) -> Result<TestConfusion> {
    let names = conn
        .prepare_cached("SELECT name FROM trial_classes WHERE trial_id = ?1 ORDER BY class")?
        .query_map(params![trial_id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    let cells = conn
        .prepare_cached(
            "SELECT actual, predicted, count FROM confusion
             WHERE trial_id = ?1 AND split = 'test' ORDER BY actual, predicted",
        )?
        .query_map(params![trial_id], |r| {
            Ok((
                r.get::<_, i64>(0)? as usize,
                r.get::<_, i64>(1)? as usize,
                r.get(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(TestConfusion { names, cells })
}

/// The SQL returning exactly the cells the matrix shows.
fn confusion_sql(sweep: &str, key: &str) -> String {
    format!(
        "SELECT c.actual, a.name AS actual_name, c.predicted, p.name AS predicted_name, c.count
FROM confusion c
JOIN trials t ON t.id = c.trial_id
JOIN sweeps s ON s.id = t.sweep_id
LEFT JOIN trial_classes a ON a.trial_id = c.trial_id AND a.class = c.actual
LEFT JOIN trial_classes p ON p.trial_id = c.trial_id AND p.class = c.predicted
WHERE s.name = {} AND t.key = {} AND c.split = 'test'
ORDER BY c.actual, c.predicted;",
        sql_str(sweep),
        sql_str(key)
    )
}

fn cell(text: String, class: String) -> TableCell {
    TableCell {
        text,
        class,
        href: None,
    }
}

/// The confusion matrix cell of a trial page; `None` when the trial has no per-class results.
pub(crate) fn matrix_cell(sweep: &str, key: &str, c: &TestConfusion) -> Option<Cell> {
    if c.cells.is_empty() {
        return None;
    }
    let k = c
        .cells
        .iter()
        .map(|&(a, p, _)| a.max(p) + 1)
        .max()
        .unwrap_or(0)
        .max(c.names.len());
    let name = |i: usize| c.names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let mut counts = vec![vec![0i64; k]; k];
    for &(a, p, n) in &c.cells {
        counts[a][p] += n;
    }
    let columns = k <= MAX_COLUMNS;
    let mut headers = vec!["actual \u{2193} / predicted \u{2192}".to_string()];
    if columns {
        headers.extend((0..k).map(name));
    }
    headers.extend([
        "n".to_string(),
        "correct".to_string(),
        "accuracy".to_string(),
    ]);
    let rows: Vec<Vec<TableCell>> = (0..k)
        .map(|a| {
            let n: i64 = counts[a].iter().sum();
            let mut row = vec![cell(name(a), String::new())];
            if columns {
                row.extend(counts[a].iter().map(|&x| {
                    let shade = match (x, n) {
                        (0, _) | (_, 0) => String::new(),
                        _ => format!(" share-{}", (x as f64 / n as f64 * SHADES).round()),
                    };
                    cell(x.to_string(), format!("num{shade}"))
                }));
            }
            let accuracy = match n {
                0 => String::new(),
                _ => fmt_real(counts[a][a] as f64 / n as f64),
            };
            row.push(cell(n.to_string(), "num".into()));
            row.push(cell(counts[a][a].to_string(), "num".into()));
            row.push(cell(accuracy, "num".into()));
            row
        })
        .collect();
    let total: i64 = counts.iter().flatten().sum();
    let correct: i64 = (0..k).map(|i| counts[i][i]).sum();
    let mut note = format!(
        "Test split at the final epoch: {total} examples, {correct} classified correctly \
         (accuracy {}). Rows: actual class; n: its test examples; accuracy: the share of them \
         predicted as it (recall).",
        fmt_real(correct as f64 / total as f64)
    );
    note.push_str(if columns {
        " Cells are shaded by their share of the row."
    } else {
        " The matrix's columns are left out for more than 30 classes; the query lists its cells."
    });
    Some(Cell {
        title: "Confusion matrix (test split)".to_string(),
        inputs: vec![Input::sql(confusion_sql(sweep, key))],
        outputs: vec![Output::Table(Table {
            headers,
            rows,
            sortable: false,
            note: Some(note),
        })],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_the_counts_their_totals_and_accuracies() {
        let c = TestConfusion {
            names: vec!["cat".into(), "dog".into()],
            cells: vec![(0, 0, 3), (0, 1, 1), (1, 1, 4)],
        };
        let cell = matrix_cell("s", "k", &c).unwrap();
        let Output::Table(t) = &cell.outputs[0] else {
            panic!("{cell:?}")
        };
        assert_eq!(t.headers[1..3], ["cat", "dog"]);
        let texts: Vec<Vec<&str>> = t
            .rows
            .iter()
            .map(|r| r.iter().map(|c| c.text.as_str()).collect())
            .collect();
        assert_eq!(texts[0], ["cat", "3", "1", "4", "3", "0.7500"]);
        assert_eq!(texts[1], ["dog", "0", "4", "4", "4", "1.0000"]);
        assert_eq!(t.rows[0][1].class, "num share-3");
        assert_eq!(t.rows[1][1].class, "num");
        assert!(t.note.as_deref().unwrap().starts_with(
            "Test split at the final epoch: 8 examples, 7 classified correctly (accuracy 0.8750)"
        ));
        assert!(matrix_cell("s", "k", &TestConfusion::default()).is_none());
    }
}
