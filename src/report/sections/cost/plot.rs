//! The cost section's charts (test accuracy against each cost, one point per configuration,
//! the Pareto front dashed on the training-time chart) and its table of the front.

use super::configs::Config;
use crate::metrics::names::TEST_ACC;
use crate::report::charts::{LineChart, Point, Series, XAxis, PALETTE};
use crate::report::context::{distinct, final_label, model_order, Ctx};
use crate::report::page::{Table, TableCell};
use crate::report::rows::fmt_real;
use crate::report::series::nice_ticks;

/// A measure of compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cost {
    /// Wall-clock seconds spent training (the epochs' time minus their evaluation).
    Seconds,
    /// Parameters trained in the final epoch.
    Params,
    /// Training examples times epochs.
    Images,
}

impl Cost {
    /// The cost of a configuration (its mean over seeds).
    pub(crate) fn of(self, c: &Config) -> f64 {
        match self {
            Cost::Seconds => c.seconds,
            Cost::Params => c.params,
            Cost::Images => c.images,
        }
    }

    /// A value of it as the section prints it: seconds as reals, counts whole.
    pub(crate) fn format(self, v: f64) -> String {
        match self {
            Cost::Seconds => fmt_real(v),
            Cost::Params | Cost::Images => format!("{v:.0}"),
        }
    }

    /// What it counts, in words.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cost::Seconds => "training seconds",
            Cost::Params => "trainable parameters",
            Cost::Images => "images seen",
        }
    }

    /// The axis description, without the scale.
    fn axis(self) -> &'static str {
        match self {
            Cost::Seconds => "training seconds (train_seconds \u{2212} eval_seconds)",
            Cost::Params => "trainable parameters (final epoch)",
            Cost::Images => "images seen (training examples \u{d7} epochs)",
        }
    }

    /// The chart title.
    fn title(self) -> &'static str {
        match self {
            Cost::Seconds => "Test accuracy against training time",
            Cost::Params => "Test accuracy against trainable parameters",
            Cost::Images => "Test accuracy against images seen",
        }
    }
}

/// The colour of the Pareto front lines of the first group (then the palette from its end).
const FRONT_COLOR: (u8, u8, u8) = (0x33, 0x33, 0x33);

/// A log axis when the values are positive and span at least a decade (ticks at 1, 2 and 5
/// times the powers of ten within them when they span at most three decades, else at the
/// powers alone), a linear one otherwise. Returns the axis and whether it is logarithmic.
pub(crate) fn x_axis(values: &[f64]) -> (XAxis, bool) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(lo > 0.0 && hi.is_finite() && hi / lo >= 10.0) {
        let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
        return (
            XAxis::Linear {
                ticks: nice_ticks(lo, hi),
            },
            false,
        );
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps: &[f64] = if hi / lo <= 1e3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let ticks = (k0..=k1)
        .flat_map(|k| steps.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|t| *t >= lo * (1.0 - 1e-9) && *t <= hi * (1.0 + 1e-9))
        .collect();
    (XAxis::Log { ticks }, true)
}

/// Test accuracy against `cost`: one point per configuration (its mean test accuracy, with the
/// 95% interval over seeds as error bar), coloured by model; on the training-time chart, the
/// Pareto front of each group (`front`, by configuration) as a dashed line.
pub(crate) fn cost_chart(ctx: &Ctx, configs: &[Config], cost: Cost, front: &[bool]) -> LineChart {
    let (x_axis, log) = x_axis(&configs.iter().map(|c| cost.of(c)).collect::<Vec<_>>());
    let mut order: Vec<&Config> = configs.iter().collect();
    order.sort_by_key(|c| model_order(&c.model));
    // One series per configuration, so that no line joins them; the legend shows each model once.
    let mut series: Vec<Series> = order
        .iter()
        .map(|c| Series {
            label: c.model.clone(),
            color: ctx.color(&c.model),
            dashed: false,
            points: vec![Point {
                x: cost.of(c),
                y: c.mean,
                err: c.half,
            }],
        })
        .collect();
    if cost == Cost::Seconds {
        series.extend(front_series(configs, front));
    }
    let scale = if log { " (log scale)" } else { "" };
    LineChart {
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            cost.title().to_string(),
            format!("{}{scale}", cost.axis()),
            final_label(TEST_ACC),
            x_axis,
            series,
        )
    }
}

/// The dashed Pareto front of each group, its configurations by training seconds.
fn front_series(configs: &[Config], front: &[bool]) -> Vec<Series> {
    let groups = distinct(configs.iter().map(|c| c.group.as_str()));
    groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let mut on: Vec<&Config> = configs
                .iter()
                .zip(front)
                .filter(|(c, f)| **f && c.group == *group)
                .map(|(c, _)| c)
                .collect();
            on.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            Series {
                label: if groups.len() > 1 {
                    format!("Pareto front, {group}")
                } else {
                    "Pareto front".to_string()
                },
                color: match i {
                    0 => FRONT_COLOR,
                    _ => PALETTE[PALETTE.len() - 1 - (i - 1) % PALETTE.len()],
                },
                dashed: true,
                points: on
                    .iter()
                    .map(|c| Point {
                        x: c.seconds,
                        y: c.mean,
                        err: None,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The configurations on the Pareto front, by group and training seconds: label, mean test
/// accuracy and its interval, n, and the three costs.
pub(crate) fn front_table(configs: &[Config], front: &[bool]) -> Table {
    let grouped = configs.iter().any(|c| !c.group.is_empty());
    let mut on: Vec<(usize, &Config)> = configs
        .iter()
        .zip(front)
        .filter(|(_, f)| **f)
        .map(|(c, _)| c)
        .enumerate()
        .collect();
    let groups = distinct(configs.iter().map(|c| c.group.as_str()));
    let group_at = |c: &Config| groups.iter().position(|g| *g == c.group);
    on.sort_by(|a, b| {
        (group_at(a.1).cmp(&group_at(b.1)))
            .then(a.1.seconds.total_cmp(&b.1.seconds))
            .then(a.0.cmp(&b.0))
    });
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let mut headers: Vec<&str> = Vec::new();
    if grouped {
        headers.push("group");
    }
    headers.extend([
        "configuration",
        "final_test_acc (mean)",
        "\u{b1} 95% CI",
        "n",
        "training seconds",
        "trainable params",
        "images seen",
    ]);
    let rows = on
        .iter()
        .map(|(_, c)| {
            let mut row = Vec::new();
            if grouped {
                row.push(cell(c.group.clone(), ""));
            }
            row.extend([
                cell(c.label.clone(), ""),
                cell(format!("{:.3}", c.mean), "num"),
                cell(c.half.map(|h| format!("{h:.3}")).unwrap_or_default(), "num"),
                cell(c.n.to_string(), "num"),
                cell(Cost::Seconds.format(c.seconds), "num"),
                cell(Cost::Params.format(c.params), "num"),
                cell(Cost::Images.format(c.images), "num"),
            ]);
            row
        })
        .collect::<Vec<_>>();
    Table {
        headers: headers.into_iter().map(String::from).collect(),
        sortable: rows.len() > 1,
        rows,
        note: Some(
            "The Pareto front of training time against accuracy: the configurations no other \
             configuration of their group beats in both (lower mean training seconds and higher \
             mean test accuracy). \u{b1}: half-width of the 95% interval of the mean over seeds \
             (blank where n = 1); costs are means over seeds."
                .to_string(),
        ),
    }
}
