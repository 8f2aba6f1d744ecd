//! The matched configurations: trials of the compared sweeps with the same values on the common
//! axes, each sweep's mean final test accuracy there, and each sweep's difference from the first
//! (the reference) with its Welch 95% interval; then, per sweep, the difference over all
//! matched configurations.

use super::axes::{cmp_values, sweeps_in, Axis};
use crate::metrics::statements::difference::MIN_PAIRS;
use crate::metrics::statements::{paired, two_sample, Direction, Statement, Verdict};
use crate::report::page::{Cell, Input, Output, Table, TableCell};
use crate::report::rows::{fmt_real, query, text};
use crate::report::stats::{ci, findings_output};
use anyhow::Result;
use rusqlite::types::Value;
use rusqlite::Connection;

pub(crate) const TITLE: &str = "Matched configurations: final test accuracy";

/// The condition every compared trial meets: one of the sweeps, completed, with a final test
/// accuracy, and only the shared values of the common axes.
pub(crate) fn matched_where(sweeps: &[String], axes: &[Axis]) -> String {
    let mut conds = vec![
        sweeps_in(sweeps),
        "ts.status = 'completed'".to_string(),
        "ts.final_test_acc IS NOT NULL".to_string(),
    ];
    conds.extend(axes.iter().filter_map(Axis::filter));
    conds.join("\n  AND ")
}

/// The SQL of the matched trials: sweep, the axes that tell configurations apart, seed and
/// final test accuracy.
fn matched_sql(sweeps: &[String], axes: &[Axis]) -> String {
    let keys: String = axes
        .iter()
        .filter(|a| a.keys())
        .map(|a| format!("ts.{}, ", a.name))
        .collect();
    format!(
        "SELECT ts.sweep, {keys}ts.seed, ts.final_test_acc
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE {}
ORDER BY ts.sweep, t.position;",
        matched_where(sweeps, axes)
    )
}

/// One matched configuration: its key values and, per sweep, the trials' accuracies.
pub(crate) struct Config {
    pub key: Vec<Value>,
    pub values: Vec<Vec<f64>>,
}

/// The configurations of rows (sweep, key values..., seed, accuracy), in key order.
pub(crate) fn configs(sweeps: &[String], rows: &[Vec<Value>], n_keys: usize) -> Vec<Config> {
    let mut out: Vec<Config> = Vec::new();
    for r in rows {
        let Some(s) = sweeps.iter().position(|s| *s == text(&r[0])) else {
            continue;
        };
        let Some(acc) = crate::report::rows::num(&r[n_keys + 2]) else {
            continue;
        };
        let key = &r[1..=n_keys];
        let i = match out.iter().position(|c| c.key == key) {
            Some(i) => i,
            None => {
                out.push(Config {
                    key: key.to_vec(),
                    values: vec![Vec::new(); sweeps.len()],
                });
                out.len() - 1
            }
        };
        out[i].values[s].push(acc);
    }
    out.sort_by(|a, b| {
        a.key
            .iter()
            .zip(&b.key)
            .map(|(x, y)| cmp_values(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Sweep `other` against the reference at one configuration: mean(other) − mean(reference),
/// Welch 95% interval; the claim takes the side of the estimate, so the verdict is supported
/// (the interval excludes 0) or inconclusive.
pub(crate) fn config_statement(
    reference: (&str, &[f64]),
    other: (&str, &[f64]),
    at: &str,
) -> Statement {
    let d = mean(other.1) - mean(reference.1);
    let (dir, word) = side(d);
    let claim = format!("{} {word} than {} at {at}", other.0, reference.0);
    two_sample(&claim, reference.1, other.1, dir)
}

/// Sweep `other` against the reference over all matched configurations: the per-configuration
/// differences of means, Student t 95% interval over configurations (one configuration: its
/// own statement).
pub(crate) fn overall_statement(
    reference: &str,
    other: &str,
    diffs: &[f64],
    single: Option<Statement>,
) -> Statement {
    let d = mean(diffs);
    let (dir, word) = side(d);
    let claim = format!(
        "{other} has {word} test accuracy than {reference} over the matched configurations"
    );
    if let Some(mut s) = single {
        s.claim = claim;
        return s;
    }
    let mut s = paired(&claim, diffs, dir);
    s.measure = "mean difference".to_string();
    s.test = "differences of the two sweeps' mean final test accuracies at each matched \
              configuration, Student t 95% interval over configurations"
        .to_string();
    s.needs = s
        .needs
        .map(|n| n.replace("seeds", "matched configurations"));
    if diffs.len() < MIN_PAIRS {
        s.needs = Some(format!("needs at least {MIN_PAIRS} matched configurations"));
    }
    s
}

fn side(d: f64) -> (Direction, &'static str) {
    if d >= 0.0 {
        (Direction::Up, "higher")
    } else {
        (Direction::Down, "lower")
    }
}

fn mean(v: &[f64]) -> f64 {
    ci(v).map_or(f64::NAN, |c| c.0)
}

/// The cell: the matched table, then one finding per sweep against the reference.
pub(crate) fn cell(conn: &Connection, sweeps: &[String], axes: &[Axis]) -> Result<Cell> {
    let sql = matched_sql(sweeps, axes);
    let key_axes: Vec<&Axis> = axes.iter().filter(|a| a.keys()).collect();
    let configs = configs(sweeps, &query(conn, &sql)?, key_axes.len());
    let reference = &sweeps[0];
    let cell_of = |t: String, class: &str| TableCell {
        text: t,
        class: class.to_string(),
        href: None,
    };

    let mut headers: Vec<String> = if key_axes.is_empty() {
        vec!["configuration".to_string()]
    } else {
        key_axes.iter().map(|a| a.name.to_string()).collect()
    };
    for s in sweeps {
        headers.push(format!("{s}: mean"));
        headers.push(format!("{s}: n"));
    }
    for s in &sweeps[1..] {
        headers.push(format!("{s} \u{2212} {reference}"));
        headers.push("95% CI".to_string());
        headers.push("verdict".to_string());
    }

    let mut rows = Vec::new();
    let mut diffs: Vec<Vec<f64>> = vec![Vec::new(); sweeps.len()];
    let mut singles: Vec<Option<Statement>> = vec![None; sweeps.len()];
    let mut one_sided = 0;
    for c in &configs {
        if c.values.iter().filter(|v| !v.is_empty()).count() < 2 {
            one_sided += 1;
            continue;
        }
        let at = describe(&key_axes, &c.key);
        let mut row: Vec<TableCell> = if key_axes.is_empty() {
            vec![cell_of(at.clone(), "")]
        } else {
            c.key.iter().map(|v| cell_of(text(v), "")).collect()
        };
        for v in &c.values {
            row.push(cell_of(
                ci(v).map(|m| fmt_real(m.0)).unwrap_or_default(),
                "num",
            ));
            row.push(cell_of(v.len().to_string(), "num"));
        }
        for (j, s) in sweeps.iter().enumerate().skip(1) {
            if c.values[0].is_empty() || c.values[j].is_empty() {
                row.extend(["", "", "no counterpart"].map(|t| cell_of(t.to_string(), "")));
                continue;
            }
            let st = config_statement((reference, &c.values[0]), (s, &c.values[j]), &at);
            diffs[j].push(st.estimate);
            row.push(cell_of(format!("{:+.4}", st.estimate), "num"));
            row.push(cell_of(interval(&st), "num"));
            row.push(cell_of(
                verdict_text(&st, s),
                &format!("verdict-{}", st.verdict.as_str()),
            ));
            singles[j] = Some(st);
        }
        rows.push(row);
    }

    let statements: Vec<Statement> = sweeps
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(j, _)| !diffs[*j].is_empty())
        .map(|(j, s)| {
            let single = if diffs[j].len() == 1 {
                singles[j].take()
            } else {
                None
            };
            overall_statement(reference, s, &diffs[j], single)
        })
        .collect();

    let mut note = "Mean: mean final test accuracy of the sweep's completed trials at the \
                    configuration (its seeds, and its own values of the axes that differ); \
                    difference: mean of the sweep minus mean of the first sweep, with Welch's 95% \
                    interval (none with fewer than 2 trials in either sweep); a verdict names a \
                    sweep higher or lower only when the interval excludes 0."
        .to_string();
    if one_sided > 0 {
        note.push_str(&format!(
            " {one_sided} configuration{} with completed trials in one sweep only left out.",
            if one_sided == 1 { "" } else { "s" }
        ));
    }
    let mut outputs = Vec::new();
    if rows.is_empty() {
        outputs.push(Output::Text {
            text: "No matched configurations: no configuration has completed trials in two of \
                   the sweeps."
                .to_string(),
        });
    } else {
        outputs.push(Output::Table(Table {
            headers,
            sortable: rows.len() > 1,
            rows,
            note: Some(note),
        }));
    }
    outputs.extend(findings_output(Vec::new(), statements));
    Ok(Cell {
        title: TITLE.to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    })
}

/// `train_per_class 10, shift none`, or `all matched trials` without key axes.
fn describe(key_axes: &[&Axis], key: &[Value]) -> String {
    if key_axes.is_empty() {
        return "all matched trials".to_string();
    }
    key_axes
        .iter()
        .zip(key)
        .map(|(a, v)| format!("{} {}", a.name, text(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[-0.0123, +0.0456]`, or `no interval`.
fn interval(s: &Statement) -> String {
    if s.has_interval() {
        format!("[{:+.4}, {:+.4}]", s.low, s.high)
    } else {
        "no interval".to_string()
    }
}

/// `b higher` / `b lower` when supported, else `inconclusive`.
fn verdict_text(s: &Statement, sweep: &str) -> String {
    match s.verdict {
        Verdict::Supported if s.estimate >= 0.0 => format!("{sweep} higher"),
        Verdict::Supported => format!("{sweep} lower"),
        _ => "inconclusive".to_string(),
    }
}
