//! Sampled values against the metric: for each parameter of the grid's `search:` space, one
//! scatter of every finished trial's final validation accuracy against the value it sampled,
//! completed and pruned trials apart (a pruned trial's accuracy is that of its last epoch).

use crate::report::charts::{LineChart, Point, Series, XAxis, PALETTE};
use crate::report::context::Ctx;
use crate::report::page::{Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::nice_ticks;
use crate::spec::search::{Distribution, SearchSpace};
use anyhow::Result;

/// The scatters of `space`'s parameters, with their one SQL; `None` without a finished trial.
pub(crate) fn scatters(ctx: &Ctx, space: &SearchSpace) -> Result<Option<(Input, Vec<Output>)>> {
    let sql = format!(
        "SELECT t.status, t.config_json, ts.final_val_acc, ts.final_epoch
FROM trial_summary ts JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND t.status IN ('completed', 'pruned') AND ts.final_val_acc IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let mut outputs = Vec::new();
    for (param, dist) in &space.params {
        // (status, sampled value, final val acc) of the trials where the value is a number.
        let points: Vec<(String, f64, f64)> = raw
            .iter()
            .filter_map(|r| {
                let value = param.value_in_config(&text(&r[1]))?.as_f64()?;
                Some((text(&r[0]), value, num(&r[2])?))
            })
            .collect();
        if points.is_empty() {
            continue;
        }
        let series = |status: &str, label: &str, color| Series {
            label: label.to_string(),
            color,
            dashed: false,
            points: (points.iter())
                .filter(|p| p.0 == status)
                .map(|p| Point {
                    x: p.1,
                    y: p.2,
                    err: None,
                })
                .collect(),
        };
        let mut lines = vec![series("completed", "completed", PALETTE[0])];
        if points.iter().any(|p| p.0 == "pruned") {
            lines.push(series("pruned", "pruned (last epoch)", PALETTE[3]));
        }
        let (lo, hi) = (points.iter().map(|p| p.1))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
        let x_axis = match dist {
            Distribution::LogUniform { .. } if lo > 0.0 => XAxis::Log {
                ticks: log_ticks(lo, hi),
            },
            _ => XAxis::Linear {
                ticks: nice_ticks(lo, hi),
            },
        };
        let chart = LineChart {
            y_bounds: Some((0.0, 1.0)),
            scatter: true,
            legend_title: "trial".to_string(),
            ..LineChart::new(
                format!("{} ~ {dist}", param.name),
                format!("{} (sampled)", param.name),
                "final validation accuracy".to_string(),
                x_axis,
                lines,
            )
        };
        let left_out = raw.len() - points.len();
        outputs.push(Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
                "One point per finished trial with a numeric {} ({} of the query's {} rows{}): \
                 its final validation accuracy against the value it sampled; a pruned trial's \
                 is that of the epoch it stopped at, not comparable with a completed one's.",
                param.name,
                points.len(),
                raw.len(),
                match left_out {
                    0 => String::new(),
                    n => format!("; {n} without one, e.g. `freeze: all`, left out"),
                }
            ),
            rows: points.len(),
        });
    }
    Ok((!outputs.is_empty()).then(|| (Input::sql(sql), outputs)))
}

/// Powers of ten covering `lo..=hi`, with the ends when fewer than three fall inside.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades: Vec<f64> = (a..=b).map(|e| 10f64.powi(e)).collect();
    let inside: Vec<f64> = (decades.iter().copied())
        .filter(|t| *t >= lo && *t <= hi)
        .collect();
    if inside.len() >= 3 {
        inside
    } else {
        let mut t = vec![lo];
        t.extend(inside);
        t.push(hi);
        t.dedup_by(|a, b| (*a / *b - 1.0).abs() < 1e-9);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::log_ticks;

    fn close(a: Vec<f64>, b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x / y - 1.0).abs() < 1e-9)
    }

    #[test]
    fn log_ticks_are_decades_or_the_ends() {
        assert!(close(log_ticks(1e-4, 1e-1), &[1e-4, 1e-3, 1e-2, 1e-1]));
        assert!(close(log_ticks(0.003, 0.1), &[0.003, 0.01, 0.1]));
        assert!(close(log_ticks(0.02, 0.05), &[0.02, 0.05]));
    }
}
