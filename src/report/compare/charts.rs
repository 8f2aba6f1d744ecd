//! The comparison's charts: final test accuracy against each common axis of the main charts
//! (training examples per class, frozen blocks, shift), one series per sweep, drawn with the
//! sweep report's chart code from the matched trials only.

use super::axes::{cmp_values, Axis};
use super::matched::matched_where;
use crate::metrics::names::TEST_ACC;
use crate::report::charts::{LineChart, Series, XAxis, PALETTE};
use crate::report::context::final_label;
use crate::report::page::{Cell, Input};
use crate::report::rows::{num, query, text};
use crate::report::series::{aggregate_points, chart_cell};
use anyhow::Result;
use rusqlite::Connection;

/// A chart of the comparison: the axis, its description, whether its x axis is logarithmic
/// (else categorical), and whether only fine-tuned trials are drawn.
struct Spec {
    axis: &'static str,
    title: &'static str,
    x_desc: &'static str,
    log: bool,
    fine_tuned_only: bool,
}

const CHARTS: [Spec; 3] = [
    Spec {
        axis: "train_per_class",
        title: "Final test accuracy by training examples per class",
        x_desc: "training examples per class (log scale)",
        log: true,
        fine_tuned_only: false,
    },
    Spec {
        axis: "freeze",
        title: "Final test accuracy by frozen blocks (fine-tuned trials)",
        x_desc: "frozen blocks (freeze)",
        log: false,
        fine_tuned_only: true,
    },
    Spec {
        axis: "shift",
        title: "Final test accuracy by shift of the target data",
        x_desc: "shift of the target data",
        log: false,
        fine_tuned_only: false,
    },
];

/// One cell per chart whose axis tells matched configurations apart (and has two values or
/// more in the drawn trials).
pub(crate) fn cells(conn: &Connection, sweeps: &[String], axes: &[Axis]) -> Result<Vec<Cell>> {
    let mut out = Vec::new();
    for spec in &CHARTS {
        let Some(axis) = axes.iter().find(|a| a.name == spec.axis && a.keys()) else {
            continue;
        };
        if let Some(cell) = chart(conn, sweeps, axes, axis, spec)? {
            out.push(cell);
        }
    }
    Ok(out)
}

fn chart(
    conn: &Connection,
    sweeps: &[String],
    axes: &[Axis],
    axis: &Axis,
    spec: &Spec,
) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT ts.sweep, ts.{a}, ts.final_test_acc
FROM trial_summary ts
WHERE {}{}
ORDER BY ts.sweep, ts.{a};",
        matched_where(sweeps, axes),
        if spec.fine_tuned_only {
            "\n  AND ts.pretrained = 1"
        } else {
            ""
        },
        a = axis.name
    );
    let rows: Vec<(String, String, f64)> = query(conn, &sql)?
        .iter()
        .filter_map(|r| Some((text(&r[0]), text(&r[1]), num(&r[2])?)))
        .collect();
    let mut present: Vec<_> = axis
        .shared
        .iter()
        .filter(|v| rows.iter().any(|r| r.1 == text(v)))
        .cloned()
        .collect();
    present.sort_by(cmp_values);
    if present.len() < 2 {
        return Ok(None);
    }
    let xs: Vec<String> = present.iter().map(text).collect();
    let positions: Vec<f64> = if spec.log {
        present.iter().filter_map(num).collect()
    } else {
        (0..xs.len()).map(|i| i as f64).collect()
    };
    if positions.len() != xs.len() || (spec.log && positions.iter().any(|&x| x <= 0.0)) {
        return Ok(None);
    }
    let series: Vec<Series> = sweeps
        .iter()
        .enumerate()
        .map(|(i, s)| Series {
            label: s.clone(),
            color: PALETTE[i % PALETTE.len()],
            dashed: false,
            points: aggregate_points(&rows, s, &xs, |i, _| positions[i]),
        })
        .collect();
    let x_axis = if spec.log {
        XAxis::Log {
            ticks: positions.clone(),
        }
    } else {
        XAxis::Categorical(xs.clone())
    };
    let chart = LineChart {
        legend_title: "sweep".to_string(),
        ..LineChart::with_error_bars(
            spec.title,
            spec.x_desc,
            &final_label(TEST_ACC),
            x_axis,
            series,
            (0.0, 1.0),
        )
    };
    Ok(Some(chart_cell(
        spec.title,
        vec![Input::sql(sql)],
        chart.to_svg()?,
        caption(axes, axis.name, spec.fine_tuned_only),
        rows.len(),
        Vec::new(),
    )))
}

/// What the points are and what they pool over.
fn caption(axes: &[Axis], drawn: &str, fine_tuned_only: bool) -> String {
    let mut s = format!(
        "Completed trials of the matched configurations{} (values shared by every sweep on \
         the common axes), one series per sweep. Points: mean over trials; error bars: 95% \
         confidence interval of the mean, Student t with n\u{2212}1 degrees of freedom (none \
         where n = 1).",
        if fine_tuned_only {
            ", fine-tuned trials only"
        } else {
            ""
        }
    );
    let pooled: Vec<&str> = axes
        .iter()
        .filter(|a| a.keys() && a.name != drawn)
        .map(|a| a.name)
        .collect();
    if !pooled.is_empty() {
        s.push_str(&format!(" Pooled over: {}.", pooled.join(", ")));
    }
    let own: Vec<&str> = axes
        .iter()
        .filter(|a| a.kind == super::axes::Kind::Differs)
        .map(|a| a.name)
        .collect();
    if !own.is_empty() {
        s.push_str(&format!(
            " Each sweep pools over its own values of the axes that differ: {}.",
            own.join(", ")
        ));
    }
    s
}
