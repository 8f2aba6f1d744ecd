//! The forgetting / transfer-gain trade-off.

use crate::metrics::statements::{correlation, Direction, Statement};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, model_order, size_label, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::nice_ticks;
use crate::report::stats::{ci, ci_table, findings_output, Agg};
use anyhow::Result;

/// A setting of the trade-off chart: (freeze label, schedule, size) with mean gain and
/// forgetting (mean, half-width).
type Setting = ((String, String, i64), Agg, Agg);

fn tradeoff_settings(rows: &[((String, String, i64), f64, f64)]) -> Vec<Setting> {
    let mut keys = distinct(rows.iter().map(|r| r.0.clone()));
    keys.sort_by_key(|k| (model_order(&k.0), k.2));
    keys.into_iter()
        .filter_map(|k| {
            let g: Vec<f64> = rows.iter().filter(|r| r.0 == k).map(|r| r.1).collect();
            let f: Vec<f64> = rows.iter().filter(|r| r.0 == k).map(|r| r.2).collect();
            Some((k, ci(&g)?, ci(&f)?))
        })
        .collect()
}

/// "+0.200 ± 0.010 (n = 2)": a mean with the half-width of its 95% interval.
fn with_interval((mean, half, n): Agg) -> String {
    match half {
        Some(h) => format!("{mean:+.3} \u{b1} {h:.3} (n = {n})"),
        None => format!("{mean:+.3} (n = {n}, no interval)"),
    }
}

/// Findings of the trade-off: whether settings that gain more also forget more (a
/// [`correlation`] over the settings' means); notes name the largest mean gain and the least
/// forgetting among the settings whose gain is shown to be positive (95% interval above 0),
/// with their intervals. Returns (notes, statements).
pub(crate) fn tradeoff_findings(settings: &[Setting]) -> (Vec<String>, Vec<Statement>) {
    let (mut notes, mut out) = (Vec::new(), Vec::new());
    let name = |k: &(String, String, i64)| format!("{}, {}, {}", k.0, k.1, size_label(k.2));
    if settings.len() >= 2 {
        let g: Vec<f64> = settings.iter().map(|s| s.1 .0).collect();
        let f: Vec<f64> = settings.iter().map(|s| s.2 .0).collect();
        out.push(
            correlation(
                "Settings that gain more on the target also forget more of the source (a \
                 trade-off)",
                &g,
                &f,
                Direction::Up,
            )
            .with_detail("one point per setting: mean gain, mean forgetting"),
        );
    }
    if let Some(best) = settings.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0)) {
        notes.push(format!(
            "Largest mean gain: {} (gain {}, forgetting {}; the ranking itself is not tested).",
            name(&best.0),
            with_interval(best.1),
            with_interval(best.2)
        ));
    }
    if let Some(safe) = settings
        .iter()
        .filter(|s| s.1 .1.is_some_and(|h| s.1 .0 - h > 0.0))
        .min_by(|a, b| a.2 .0.total_cmp(&b.2 .0))
    {
        notes.push(format!(
            "Least mean forgetting with a gain shown to be positive (95% CI above 0): {} (gain \
             {}, forgetting {}).",
            name(&safe.0),
            with_interval(safe.1),
            with_interval(safe.2)
        ));
    }
    (notes, out)
}

/// Forgetting against transfer gain, one point per (frozen depth, schedule, size): the
/// price paid on the source task for what is gained on the target.
pub fn forgetting_vs_gain(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) || !ctx.trials.iter().any(|t| !t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT tg.key, 'freeze ' || tg.freeze AS series, tg.schedule, tg.train_per_class,
       tg.seed, tg.transfer_gain, ts.forgetting
FROM transfer_gain tg
JOIN trial_summary ts ON ts.trial_id = tg.trial_id
JOIN trials t ON t.id = tg.trial_id
WHERE tg.sweep = {} AND tg.transfer_gain IS NOT NULL AND ts.forgetting IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let rows: Vec<((String, String, i64), f64, f64)> = raw
        .iter()
        .filter_map(|r| {
            Some((
                (text(&r[1]), text(&r[2]), num(&r[3])? as i64),
                num(&r[5])?,
                num(&r[6])?,
            ))
        })
        .collect();
    let settings = tradeoff_settings(&rows);
    let labels = distinct(settings.iter().map(|s| s.0 .0.clone()));
    let series: Vec<Series> = labels
        .iter()
        .map(|l| Series {
            label: l.clone(),
            color: ctx.color(l),
            dashed: false,
            points: settings
                .iter()
                .filter(|s| &s.0 .0 == l)
                .map(|s| Point {
                    x: s.1 .0,
                    y: s.2 .0,
                    err: s.2 .1,
                })
                .collect(),
        })
        .collect();
    let gx: Vec<f64> = settings.iter().map(|s| s.1 .0).collect();
    let lo = gx.iter().copied().fold(0f64, f64::min);
    let hi = gx.iter().copied().fold(0f64, f64::max);
    let chart = LineChart {
        y_bounds: Some((-1.0, 1.0)),
        scatter: true,
        hline: Some(0.0),
        ..LineChart::new(
            "Forgetting vs transfer gain, one point per setting".to_string(),
            "transfer gain (fine-tuned \u{2212} scratch test acc.)".to_string(),
            "forgetting (source acc. before \u{2212} after)".to_string(),
            XAxis::Linear {
                ticks: nice_ticks(lo, hi),
            },
            series,
        )
    };
    let table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = settings
        .iter()
        .flat_map(|s| {
            rows.iter().filter(move |r| r.0 == s.0).map(|r| {
                (
                    vec![r.0 .0.clone(), r.0 .1.clone(), r.0 .2.to_string()],
                    vec![Some(r.1), Some(r.2)],
                )
            })
        })
        .collect();
    let mut outputs =
        vec![Output::Chart {
            svg: chart.to_svg()?,
            caption: format!(
            "{} One point per (frozen depth, schedule, examples per class): mean over seeds of \
             the transfer gain (x) and of the forgetting (y); error bars: 95% CI of the \
             forgetting. Fine-tuned trials with a matching from-scratch trial only.",
            ctx.caption(&["train_per_class", "freeze", "pretrained", "schedule", "lr"], true)
        ),
            rows: raw.len(),
        }];
    let (notes, statements) = tradeoff_findings(&settings);
    outputs.extend(findings_output(notes, statements));
    outputs.push(Output::Table(ci_table(
        &["model", "schedule", "train_per_class"],
        &["transfer_gain", "forgetting"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Forgetting vs transfer gain: the trade-off".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(settings: &[Setting]) -> String {
        let (notes, statements) = tradeoff_findings(settings);
        crate::report::stats::lines(notes, &statements).join("\n")
    }

    #[test]
    fn tradeoff_finding_follows_the_correlation() {
        let s = |f: &str, n: i64, g: f64, fo: f64| {
            (
                (f.to_string(), "cosine lr=0.02".to_string(), n),
                (g, Some(0.01), 2),
                (fo, Some(0.01), 2),
            )
        };
        // Three settings: whatever the correlation, no verdict.
        let f = findings(&[
            s("freeze 0", 10, 0.2, 0.3),
            s("freeze 2", 10, 0.1, 0.1),
            s("freeze all", 10, 0.005, 0.0),
        ]);
        assert!(
            f.contains("(a trade-off): inconclusive (Pearson r +0.9"),
            "{f}"
        );
        assert!(
            f.contains("no interval, n = 3; needs at least 5 points"),
            "{f}"
        );
        assert!(
            f.contains(
                "Largest mean gain: freeze 0, cosine lr=0.02, 10/class (gain +0.200 \u{b1} 0.010 \
                 (n = 2), forgetting +0.300 \u{b1} 0.010 (n = 2); the ranking itself is not \
                 tested)."
            ),
            "{f}"
        );
        // freeze all's gain interval reaches 0: not shown to be positive.
        assert!(
            f.contains(
                "Least mean forgetting with a gain shown to be positive (95% CI above 0): freeze 2, \
                 cosine lr=0.02, 10/class"
            ),
            "{f}"
        );
        // Six settings with r = 0.58 (the 0.57): inconclusive.
        let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let fo = [0.3, 0.1, 0.5, 0.2, 0.6, 0.48];
        let settings: Vec<Setting> = (0..6)
            .map(|i| s(&format!("freeze {i}"), 10, g[i] / 10.0, fo[i]))
            .collect();
        let f = findings(&settings);
        assert!(
            f.contains("(a trade-off): inconclusive (Pearson r +0.578, 95% CI [-"),
            "{f}"
        );
        assert!(f.contains("n = 6; needs about 12 points;"), "{f}");
        // Eight settings along a line: supported.
        let settings: Vec<Setting> = (0..8)
            .map(|i| {
                s(
                    &format!("freeze {i}"),
                    10,
                    i as f64 / 10.0,
                    i as f64 / 20.0 + 0.001 * (i % 2) as f64,
                )
            })
            .collect();
        let f = findings(&settings);
        assert!(f.contains("(a trade-off): supported (Pearson r +"), "{f}");
    }
}
