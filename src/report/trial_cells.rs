//! The cells of a trial page: its resolved config with status and times (and its grid
//! version and training semantics), its notes and tags, its curves (losses, accuracies, the
//! learning rate of every block, any other metric), epoch timings, the test split's confusion
//! matrix and the environment it ran in.

use super::charts::{LineChart, Series, XAxis, PALETTE};
use super::confusion;
use super::html::markdown_to_html;
use super::page::{Cell, Input, Output, Table, TableCell};
use super::rows::{family_like, fmt_real, sql_str};
use super::series::{epoch_ticks, lr_series, points_of};
use super::trial::TrialData;
use crate::metrics::names::{
    EPOCH_SECONDS, EVAL_SECONDS, LR, SOURCE_ACC, TEST_ACC, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS,
};
use crate::spec::SEMANTICS;
use anyhow::Result;

/// SQL returning one trial's rows of the given metrics (`lr/%` patterns allowed).
pub(crate) fn metric_sql(sweep: &str, key: &str, filter: &str) -> String {
    format!(
        "SELECT m.name, m.epoch, m.value
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.key = {}
  AND {filter} AND m.value IS NOT NULL
ORDER BY m.name, m.epoch;",
        sql_str(sweep),
        sql_str(key)
    )
}

fn names_in(names: &[&str]) -> String {
    let list: Vec<String> = names.iter().map(|n| sql_str(n)).collect();
    format!("m.name IN ({})", list.join(", "))
}

const LOSSES: &[&str] = &[TRAIN_LOSS.name, VAL_LOSS.name];
const ACCURACIES: &[&str] = &[TRAIN_ACC.name, VAL_ACC.name, TEST_ACC.name, SOURCE_ACC.name];
/// The validation curves, drawn dashed.
const VALIDATION: &[&str] = &[VAL_LOSS.name, VAL_ACC.name];

/// The colour of a loss or accuracy curve: one per split (train, validation, test, source).
fn metric_color(name: &str) -> (u8, u8, u8) {
    let splits: [&[&str]; 4] = [
        &[TRAIN_LOSS.name, TRAIN_ACC.name],
        VALIDATION,
        &[TEST_ACC.name],
        &[SOURCE_ACC.name],
    ];
    PALETTE[splits.iter().position(|s| s.contains(&name)).unwrap_or(7)]
}

fn curve_chart(
    title: &str,
    y_desc: &str,
    rows: &[&(String, i64, f64)],
    y_bounds: Option<(f64, f64)>,
    palette_by_order: bool,
) -> LineChart {
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.0.as_str()) {
            names.push(&r.0);
        }
    }
    let series = names
        .iter()
        .enumerate()
        .map(|(i, n)| Series {
            label: n.to_string(),
            color: if palette_by_order {
                PALETTE[i % PALETTE.len()]
            } else {
                metric_color(n)
            },
            dashed: VALIDATION.contains(n),
            points: points_of(rows.iter().copied(), n),
        })
        .collect();
    LineChart {
        title: title.to_string(),
        x_desc: "epoch".to_string(),
        y_desc: y_desc.to_string(),
        x_axis: XAxis::Linear {
            ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        },
        series,
        legend_title: "metric".to_string(),
        legend_extra: vec![],
        y_bounds,
        dodge: false,
        bars: false,
        scatter: false,
        hline: None,
    }
}

/// The cells of one trial page.
pub(crate) fn build_cells(sweep: &str, t: &TrialData) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();

    let train_seconds: f64 = t
        .metrics
        .iter()
        .filter(|m| m.0 == EPOCH_SECONDS.name)
        .map(|m| m.2)
        .sum();
    cells.push(config_cell(t, train_seconds));
    cells.extend(super::sections::notes::trial_cell(
        sweep, &t.key, &t.tags, &t.notes,
    ));

    let mut chart_cell =
        |title: &str, filter: String, rows: Vec<&(String, i64, f64)>, chart: LineChart| {
            let sql = metric_sql(sweep, &t.key, &filter);
            let outputs = if rows.is_empty() {
                vec![Output::Text {
                    text: "No values recorded yet.".to_string(),
                }]
            } else {
                match chart.to_svg() {
                    Ok(svg) => vec![Output::Chart {
                        svg,
                        caption: String::new(),
                        rows: rows.len(),
                    }],
                    Err(e) => vec![Output::Error {
                        message: format!("{e:#}"),
                    }],
                }
            };
            cells.push(Cell {
                title: title.to_string(),
                inputs: vec![Input::sql(sql)],
                outputs,
            });
        };

    let is =
        |set: &'static [&'static str]| move |m: &&(String, i64, f64)| set.contains(&m.0.as_str());
    let loss: Vec<_> = t.metrics.iter().filter(is(LOSSES)).collect();
    let chart = curve_chart("Loss", "cross-entropy loss", &loss, None, false);
    chart_cell("Loss", names_in(LOSSES), loss, chart);

    let acc: Vec<_> = t.metrics.iter().filter(is(ACCURACIES)).collect();
    let chart = curve_chart("Accuracy", "accuracy", &acc, Some((0.0, 1.0)), false);
    chart_cell("Accuracy", names_in(ACCURACIES), acc, chart);

    let lr: Vec<&(String, i64, f64)> = t
        .metrics
        .iter()
        .filter(|m| LR.block_of(&m.0).is_some())
        .collect();
    let owned: Vec<(String, i64, f64)> = lr.iter().map(|r| (*r).clone()).collect();
    let chart = LineChart {
        legend_title: "block".to_string(),
        ..LineChart::new(
            "Learning rate per block".to_string(),
            "epoch".to_string(),
            LR.label.to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&lr.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            lr_series(&owned),
        )
    };
    chart_cell(
        "Learning rate per block",
        format!("m.name LIKE {}", family_like(LR)),
        lr,
        chart,
    );

    let known = |n: &str| {
        LOSSES.contains(&n)
            || ACCURACIES.contains(&n)
            || LR.block_of(n).is_some()
            || n == EPOCH_SECONDS.name
    };
    let other: Vec<&(String, i64, f64)> = t.metrics.iter().filter(|m| !known(&m.0)).collect();
    if !other.is_empty() {
        let mut names: Vec<&str> = other.iter().map(|m| m.0.as_str()).collect();
        names.dedup();
        let chart = curve_chart("Other metrics", "value", &other, None, true);
        chart_cell("Other metrics", names_in(&names), other, chart);
    }

    if let Some(text) = super::eval_note::trial_note(&t.metrics) {
        if let Some(accuracy) = cells.iter_mut().find(|c| c.title == "Accuracy") {
            accuracy.outputs.push(Output::Text { text });
        }
    }
    cells.extend(confusion::matrix_cell(sweep, &t.key, &t.confusion));
    cells.push(timings_cell(sweep, t, train_seconds));
    cells.push(environment_cell(sweep, t));
    Ok(cells)
}

/// The environment the trial ran in, one row shown as a field/value table.
fn environment_cell(sweep: &str, t: &TrialData) -> Cell {
    let sql = format!(
        "SELECT e.*
FROM environments e
JOIN trials t ON t.environment_key = e.key
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.key = {};",
        sql_str(sweep),
        sql_str(&t.key)
    );
    let cell = |text: &str, class: &str| TableCell {
        text: text.to_string(),
        class: class.to_string(),
        href: None,
    };
    let outputs = if t.environment.is_empty() {
        vec![Output::Text {
            text: "No environment recorded: the trial has not started, or it ran before thaw \
                   recorded provenance."
                .to_string(),
        }]
    } else {
        vec![Output::Table(Table {
            headers: vec!["field".into(), "value".into()],
            rows: (t.environment.iter())
                .map(|(name, value)| vec![cell(name, "key"), cell(value, "")])
                .collect(),
            sortable: false,
            note: Some("The query's one row, a field per line.".to_string()),
        })]
    };
    Cell {
        title: "Environment (provenance)".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }
}

/// The trial's resolved config, status, device, times and error.
fn config_cell(t: &TrialData, train_seconds: f64) -> Cell {
    let pretty = serde_json::from_str::<serde_json::Value>(&t.config_json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| t.config_json.clone());
    let mut md = format!("**Status:** {}", t.status);
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "\u{2014}".to_string());
    md.push_str(&format!(
        "\n\n- device: `{}`\n- started: {}\n- finished: {}\n- training time: {}",
        opt(&t.device),
        opt(&t.started_at),
        opt(&t.finished_at),
        if train_seconds > 0.0 {
            format!("{train_seconds:.1} {}", EPOCH_SECONDS.unit)
        } else {
            "\u{2014}".to_string()
        }
    ));
    let semantics = t.semantics.as_deref().unwrap_or("not recorded");
    md.push_str(&format!(
        "\n- grid version: {}\n- training semantics: `{semantics}`",
        t.grid_version
    ));
    if t.semantics.as_deref() != Some(SEMANTICS) {
        md.push_str(&format!(
            " (**outdated**: this thaw's is `{SEMANTICS}`; `thaw run --rerun-outdated` reruns it)"
        ));
    }
    let mut outputs = vec![Output::Html {
        html: markdown_to_html(&md),
    }];
    if let Some(e) = t.error.as_deref().filter(|e| !e.is_empty()) {
        outputs.push(Output::Error {
            message: e.to_string(),
        });
    }
    Cell {
        title: format!("Trial {}: resolved config", t.key),
        inputs: vec![Input {
            lang: "json",
            text: pretty,
        }],
        outputs,
    }
}

/// Seconds per epoch, as a table, and their total and mean.
fn timings_cell(sweep: &str, t: &TrialData, train_seconds: f64) -> Cell {
    let secs: Vec<&(String, i64, f64)> = t
        .metrics
        .iter()
        .filter(|m| m.0 == EPOCH_SECONDS.name || m.0 == EVAL_SECONDS.name)
        .collect();
    let filter = format!(
        "m.name IN ({}, {})",
        sql_str(EPOCH_SECONDS.name),
        sql_str(EVAL_SECONDS.name)
    );
    // Evaluation inside the fine-tuning epochs (epoch 0's is before training, not in them).
    let evaluating: f64 = (secs.iter())
        .filter(|m| m.0 == EVAL_SECONDS.name && m.1 > 0)
        .map(|m| m.2)
        .sum();
    let epochs = secs.iter().filter(|m| m.0 == EPOCH_SECONDS.name).count();
    let sql = metric_sql(sweep, &t.key, &filter);
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let outputs = if secs.is_empty() {
        vec![Output::Text {
            text: "No epochs timed yet.".to_string(),
        }]
    } else {
        vec![
            Output::Table(Table {
                headers: vec!["name".into(), "epoch".into(), "value".into()],
                rows: secs
                    .iter()
                    .map(|r| {
                        vec![
                            cell(r.0.clone(), ""),
                            cell(r.1.to_string(), "num"),
                            cell(fmt_real(r.2), "num"),
                        ]
                    })
                    .collect(),
                sortable: false,
                note: None,
            }),
            Output::Text {
                text: format!(
                    "{epochs} epochs, {train_seconds:.1} {unit} in total, {:.2} {unit} per epoch \
                     on average: {:.1} {unit} evaluating the splits ({:.0}%), {:.1} {unit} \
                     training and bookkeeping.",
                    train_seconds / epochs.max(1) as f64,
                    evaluating,
                    100.0 * evaluating / train_seconds.max(1e-12),
                    train_seconds - evaluating,
                    unit = EPOCH_SECONDS.unit,
                ),
            },
        ]
    };
    Cell {
        title: "Timings (seconds per epoch)".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }
}
