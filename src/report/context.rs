//! What every section reads: the sweep, its trials as typed rows, the page-wide colours, and
//! the labels and orders shared by every chart (`freeze 2`, `scratch`, `100/class`).

use crate::metrics::names::{Metric, HEAD, LR};
use crate::report::charts::PALETTE;
use crate::report::rows::{parse_freeze, read_sweep, read_trials, sql_str};
pub use crate::report::rows::{SweepInfo, TrialInfo};
use crate::spec::Freeze;
use crate::track::TrialStatus;
use anyhow::Result;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::fmt;

/// What every section may read: the connection, the sweep, its trials, the page's colours.
pub struct Ctx<'a> {
    pub conn: &'a Connection,
    pub sweep: SweepInfo,
    /// All trials of the sweep, by position.
    pub trials: Vec<TrialInfo>,
    pub generated_at: String,
    /// Series label -> colour, fixed for the whole page.
    colors: BTreeMap<String, (u8, u8, u8)>,
}

impl<'a> Ctx<'a> {
    pub fn load(conn: &'a Connection, sweep: &str, generated_at: String) -> Result<Self> {
        let sweep_info = read_sweep(conn, sweep)?;
        let trials = read_trials(conn, sweep)?;

        // Colours: one per series label, assigned in a fixed order so that a value has the
        // same colour in every chart of the page.
        let mut colors = BTreeMap::new();
        let mut freeze_values = distinct(trials.iter().map(|t| t.freeze));
        freeze_values.sort_by_key(|f| freeze_order(*f));
        let mut labels: Vec<String> = freeze_values.into_iter().map(freeze_label).collect();
        labels.push(SCRATCH.to_string());
        for (i, l) in labels.into_iter().enumerate() {
            colors.insert(l, PALETTE[i % PALETTE.len()]);
        }
        let mut sizes = distinct(trials.iter().map(|t| t.train_per_class));
        sizes.sort();
        for (i, n) in sizes.into_iter().enumerate() {
            colors.insert(size_label(n), PALETTE[i % PALETTE.len()]);
        }
        for (i, sch) in distinct(trials.iter().map(|t| t.schedule.as_str()))
            .into_iter()
            .enumerate()
        {
            colors.insert(schedule_label(sch), PALETTE[i % PALETTE.len()]);
        }
        Ok(Ctx {
            conn,
            sweep: sweep_info,
            trials,
            generated_at,
            colors,
        })
    }

    /// The page-wide colour of a series label, if the page assigns one.
    pub(crate) fn known_color(&self, label: &str) -> Option<(u8, u8, u8)> {
        self.colors.get(label).copied()
    }

    pub(crate) fn color(&self, label: &str) -> (u8, u8, u8) {
        self.colors.get(label).copied().unwrap_or(PALETTE[7])
    }

    /// The sweep name as an SQL string literal.
    pub(crate) fn sweep_lit(&self) -> String {
        sql_str(&self.sweep.name)
    }

    pub(crate) fn completed(&self) -> usize {
        self.trials
            .iter()
            .filter(|t| t.status == TrialStatus::Completed)
            .count()
    }

    /// "12 of 20 trials completed, 1 running, 2 failed, 5 pending".
    pub fn status_line(&self) -> String {
        let total = self.trials.len();
        if total == 0 {
            return "No trials recorded yet.".to_string();
        }
        let mut s = format!(
            "{} of {} trial{} completed",
            self.completed(),
            total,
            if total == 1 { "" } else { "s" }
        );
        for status in [
            TrialStatus::Pruned,
            TrialStatus::Running,
            TrialStatus::Failed,
            TrialStatus::Diverged,
            TrialStatus::Interrupted,
            TrialStatus::Pending,
        ] {
            let n = self.trials.iter().filter(|t| t.status == status).count();
            if n > 0 {
                s.push_str(&format!(", {n} {status}"));
            }
        }
        s.push('.');
        s
    }

    /// Axes with more than one value in the sweep, with their value counts.
    pub(crate) fn varying_axes(&self) -> Vec<(&'static str, usize)> {
        let t = &self.trials;
        let axes = [
            ("backbone", distinct(t.iter().map(|t| t.backbone)).len()),
            ("pretrained", distinct(t.iter().map(|t| t.pretrained)).len()),
            ("freeze", distinct(t.iter().map(|t| t.freeze)).len()),
            (
                "train_per_class",
                distinct(t.iter().map(|t| t.train_per_class)).len(),
            ),
            ("shift", distinct(t.iter().map(|t| t.shift.as_str())).len()),
            (
                "schedule",
                distinct(t.iter().map(|t| t.schedule.as_str())).len(),
            ),
            ("lr", distinct(t.iter().map(|t| t.lr)).len()),
            ("precision", distinct(t.iter().map(|t| t.precision)).len()),
            ("seed", distinct(t.iter().map(|t| t.seed)).len()),
        ];
        axes.into_iter().filter(|(_, n)| *n > 1).collect()
    }

    pub(crate) fn varies(&self, axis: &str) -> bool {
        self.varying_axes().iter().any(|(a, _)| *a == axis)
    }

    /// Caption shared by the aggregated charts.
    pub(crate) fn caption(&self, plotted: &[&str], error_bars: bool) -> String {
        let mut s = format!(
            "Completed trials only ({} of {}); failed, diverged and unfinished trials are listed \
             in the trial table.",
            self.completed(),
            self.trials.len()
        );
        if error_bars {
            s.push_str(
                " Points: mean over trials; error bars: 95% confidence interval of the mean, \
                 Student t with n\u{2212}1 degrees of freedom (none where n = 1).",
            );
        } else {
            s.push_str(" Lines: mean over trials.");
        }
        let others: Vec<&str> = self
            .varying_axes()
            .into_iter()
            .map(|(a, _)| a)
            .filter(|a| *a != "seed" && !plotted.contains(a))
            .collect();
        if !others.is_empty() {
            s.push_str(&format!(" Pooled over: {}.", others.join(", ")));
        }
        s
    }
}

pub(crate) const SCRATCH: &str = "scratch";

/// The label of a metric's value at the last epoch: `final test accuracy`.
pub(crate) fn final_label(metric: Metric) -> String {
    format!("final {}", metric.label)
}

/// The series label of a fine-tuned model: `freeze 2`, `freeze all`.
pub(crate) fn freeze_label(freeze: impl fmt::Display) -> String {
    format!("freeze {freeze}")
}

pub(crate) fn schedule_label(s: &str) -> String {
    format!("schedule {s}")
}

pub(crate) fn size_label(n: i64) -> String {
    format!("{n}/class")
}

/// Sort key of a freeze value: block counts numerically, then `all`.
pub(crate) fn freeze_order(f: Freeze) -> (u8, usize) {
    match f {
        Freeze::Blocks(k) => (0, k),
        Freeze::All => (1, 0),
    }
}

/// SQL that orders by freeze the same way as [`freeze_order`].
pub(crate) const FREEZE_ORDER_SQL: &str = "freeze = 'all', CAST(freeze AS INTEGER)";

/// Distinct values in order of first appearance.
pub(crate) fn distinct<T: PartialEq>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for v in it {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Sort key of a series label: `freeze <k>` by frozen depth, then `scratch`, then the rest.
pub(crate) fn model_order(label: &str) -> (u8, (u8, usize), String) {
    match label.strip_prefix("freeze ").and_then(parse_freeze) {
        Some(f) => (0, freeze_order(f), String::new()),
        None if label == SCRATCH => (1, (0, 0), String::new()),
        None => (2, (0, 0), label.to_string()),
    }
}

/// Sort key of a block, or of its learning-rate metric: blocks by their number, then the head.
pub(crate) fn block_order(name: &str) -> (u8, i64, String) {
    let b = LR.block_of(name).unwrap_or(name);
    if b == HEAD {
        return (2, 0, String::new());
    }
    let digits: String = b.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.parse::<i64>() {
        Ok(n) => (0, n, b.to_string()),
        Err(_) => (1, 0, b.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freeze_values_sort_numerically_then_all() {
        let mut v = vec![Freeze::All, Freeze::Blocks(10), Freeze::Blocks(2)];
        v.sort_by_key(|f| freeze_order(*f));
        assert_eq!(v, [Freeze::Blocks(2), Freeze::Blocks(10), Freeze::All]);
        let mut labels = vec!["scratch", "freeze all", "freeze 10", "freeze 2"];
        labels.sort_by_key(|l| model_order(l));
        assert_eq!(labels, ["freeze 2", "freeze 10", "freeze all", "scratch"]);
    }
}
