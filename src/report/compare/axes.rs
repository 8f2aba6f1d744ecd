//! The axes of the compared sweeps: each setting's values per sweep, the values every sweep
//! shares, and so which axes are common (the sweeps can be matched on them) and which differ.

use crate::report::rows::{query, sql_str, text};
use crate::report::series::SETTINGS;
use anyhow::Result;
use rusqlite::types::Value;
use rusqlite::Connection;
use std::cmp::Ordering;

/// How an axis relates the sweeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One value, the same in every sweep.
    Same,
    /// Every sweep has some of the shared values: trials are matched on it.
    Common,
    /// No value is in every sweep: each sweep is pooled over its own values.
    Differs,
    /// The seed: trials of a matched configuration are its replicates.
    Replicate,
}

impl Kind {
    /// How the axes table names the kind.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Same => "same",
            Kind::Common => "common",
            Kind::Differs => "differs",
            Kind::Replicate => "replicates",
        }
    }
}

/// One setting (a `trial_summary` column) across the sweeps.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub name: &'static str,
    /// Per sweep (in the order compared), its distinct values, sorted by [`cmp_values`].
    pub values: Vec<Vec<Value>>,
    /// The values in every sweep, sorted.
    pub shared: Vec<Value>,
    pub kind: Kind,
}

impl Axis {
    /// Whether matched configurations are told apart by this axis: common, with more than one
    /// shared value.
    pub(crate) fn keys(&self) -> bool {
        self.kind == Kind::Common && self.shared.len() > 1
    }

    /// The SQL condition keeping the shared values of a common axis, or `None` when no sweep
    /// has other values (or the axis is not common).
    pub(crate) fn filter(&self) -> Option<String> {
        if self.kind != Kind::Common || self.values.iter().all(|v| *v == self.shared) {
            return None;
        }
        let col = format!("ts.{}", self.name);
        let lits: Vec<String> = self.shared.iter().filter_map(literal).collect();
        let null = self.shared.contains(&Value::Null);
        Some(match (lits.is_empty(), null) {
            (true, _) => format!("{col} IS NULL"),
            (false, false) => format!("{col} IN ({})", lits.join(", ")),
            (false, true) => format!("({col} IN ({}) OR {col} IS NULL)", lits.join(", ")),
        })
    }
}

/// The SQL that lists the distinct settings of the sweeps' current trials.
pub(crate) fn axes_sql(sweeps: &[String]) -> String {
    format!(
        "SELECT DISTINCT ts.sweep, {}
FROM trial_summary ts
WHERE {}
ORDER BY ts.sweep;",
        SETTINGS
            .iter()
            .map(|s| format!("ts.{s}"))
            .collect::<Vec<_>>()
            .join(", "),
        sweeps_in(sweeps)
    )
}

/// `ts.sweep IN ('a', 'b')`.
pub(crate) fn sweeps_in(sweeps: &[String]) -> String {
    let names: Vec<String> = sweeps.iter().map(|s| sql_str(s)).collect();
    format!("ts.sweep IN ({})", names.join(", "))
}

/// Every setting across `sweeps`, read with [`axes_sql`].
pub(crate) fn load(conn: &Connection, sweeps: &[String]) -> Result<Vec<Axis>> {
    let rows = query(conn, &axes_sql(sweeps))?;
    Ok(SETTINGS
        .iter()
        .enumerate()
        .map(|(i, &name)| {
            let values: Vec<Vec<Value>> = sweeps
                .iter()
                .map(|s| {
                    let mine = rows.iter().filter(|r| text(&r[0]) == *s);
                    distinct_sorted(mine.map(|r| r[i + 1].clone()))
                })
                .collect();
            classify(name, values)
        })
        .collect())
}

/// The axis of `values` (per sweep, distinct and sorted): its shared values and kind.
pub(crate) fn classify(name: &'static str, values: Vec<Vec<Value>>) -> Axis {
    let shared: Vec<Value> = match values.split_first() {
        Some((first, rest)) => first
            .iter()
            .filter(|v| rest.iter().all(|o| o.contains(v)))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let kind = if name == "seed" {
        Kind::Replicate
    } else if shared.is_empty() {
        Kind::Differs
    } else if shared.len() == 1 && values.iter().all(|v| *v == shared) {
        Kind::Same
    } else {
        Kind::Common
    };
    Axis {
        name,
        values,
        shared,
        kind,
    }
}

/// The distinct values, sorted by [`cmp_values`].
fn distinct_sorted(values: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort_by(cmp_values);
    out
}

/// A value as an SQL literal (`None` for NULL): numbers as SQLite reads them back exactly.
fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Integer(n) => Some(n.to_string()),
        Value::Real(x) => Some(format!("{x:?}")),
        v => Some(sql_str(&text(v))),
    }
}

/// The sort key of a value: NULL, numbers (also numbers held as text, such as a freeze depth),
/// `none`, then text by its words with a trailing number compared as a number (`rotate 5`
/// before `rotate 45`; `all` after the depths).
fn sort_key(v: &Value) -> (u8, String, f64) {
    let t = text(v);
    if matches!(v, Value::Null) {
        return (0, String::new(), 0.0);
    }
    if let Ok(x) = t.parse::<f64>() {
        return (1, String::new(), x);
    }
    if t == "none" {
        return (2, String::new(), 0.0);
    }
    match t.rsplit_once(' ').map(|(a, b)| (a, b.parse::<f64>())) {
        Some((word, Ok(x))) => (3, word.to_string(), x),
        _ => (3, t, f64::NEG_INFINITY),
    }
}

/// The order of values in the axes table, the matched configurations and the charts.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    let (ka, kb) = (sort_key(a), sort_key(b));
    (ka.0, &ka.1)
        .cmp(&(kb.0, &kb.1))
        .then(ka.2.total_cmp(&kb.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Vec<Value> {
        v.iter().map(|&n| Value::Integer(n)).collect()
    }

    fn texts(v: &[&str]) -> Vec<Value> {
        v.iter().map(|s| Value::Text(s.to_string())).collect()
    }

    #[test]
    fn axes_are_same_common_or_different() {
        let a = classify("epochs", vec![ints(&[3]), ints(&[3])]);
        assert_eq!((a.kind, a.filter()), (Kind::Same, None));
        let a = classify(
            "train_per_class",
            vec![ints(&[10, 100]), ints(&[10, 100, 1000])],
        );
        assert_eq!(a.kind, Kind::Common);
        assert!(a.keys());
        assert_eq!(
            a.filter().as_deref(),
            Some("ts.train_per_class IN (10, 100)")
        );
        let a = classify("lr", vec![vec![Value::Real(0.01)], vec![Value::Real(1e-5)]]);
        assert_eq!((a.kind, a.shared.len()), (Kind::Differs, 0));
        let a = classify(
            "max_length",
            vec![vec![Value::Null, Value::Integer(64)], vec![Value::Null]],
        );
        assert_eq!(a.kind, Kind::Common);
        assert!(!a.keys());
        assert_eq!(a.filter().as_deref(), Some("ts.max_length IS NULL"));
        let a = classify("seed", vec![ints(&[0, 1]), ints(&[0, 1])]);
        assert_eq!(a.kind, Kind::Replicate);
        assert!(!a.keys());
    }

    #[test]
    fn values_sort_naturally() {
        let mut v = texts(&["rotate 45", "all", "none", "10", "2", "rotate 5"]);
        v.sort_by(cmp_values);
        let t: Vec<String> = v.iter().map(text).collect();
        assert_eq!(t, ["2", "10", "none", "all", "rotate 5", "rotate 45"]);
        assert_eq!(literal(&Value::Real(1e-5)).as_deref(), Some("1e-5"));
        assert_eq!(
            literal(&Value::Text("it's".into())).as_deref(),
            Some("'it''s'")
        );
    }
}
