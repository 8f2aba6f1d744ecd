//! The measured domain distance against the accuracy lost to the shift.

use crate::metrics::names::TEST_ACC;
use crate::metrics::statements::{correlation, every_group, trend, Direction, Statement};
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, final_label, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{fmt_real, num, query, text};
use crate::report::series::nice_ticks;
use crate::report::stats::{ci, ci_table, findings_output, mean};
use anyhow::Result;

/// A measured distance: (shift, kind, magnitude, proxy A, MMD², Fréchet), one per checkpoint.
pub(crate) type DistRow = (String, String, f64, Option<f64>, Option<f64>, Option<f64>);

/// Picks one distance out of a [`DistRow`].
type DistPick = fn(&DistRow) -> Option<f64>;

/// Shifts in order of (kind, magnitude), `none` first.
fn shift_order(rows: &[DistRow]) -> Vec<(String, String, f64)> {
    let mut shifts = distinct(rows.iter().map(|r| (r.0.clone(), r.1.clone(), r.2)));
    shifts.sort_by(|a, b| {
        let ka = (a.1 != "none", a.1.clone());
        let kb = (b.1 != "none", b.1.clone());
        ka.cmp(&kb).then(a.2.total_cmp(&b.2))
    });
    shifts
}

/// Findings: whether each distance grows with the shift magnitude (a [`trend`] within each
/// kind of shift, `none` counting as magnitude 0, for every kind), and whether accuracy falls
/// as the proxy A-distance grows (a [`correlation`] over the shifts).
pub(crate) fn distance_findings(
    dist: &[DistRow],
    acc: &[(String, String, f64, f64)],
) -> Vec<Statement> {
    let mut out = Vec::new();
    let shifts = shift_order(dist);
    let kinds: Vec<String> = distinct(shifts.iter().map(|s| s.1.clone()))
        .into_iter()
        .filter(|k| k != "none")
        .collect();
    let measures: [(&str, DistPick); 3] = [
        ("proxy A-distance", |r| r.3),
        ("MMD\u{b2}", |r| r.4),
        ("Fr\u{e9}chet distance", |r| r.5),
    ];
    if !kinds.is_empty() && shifts.len() > 1 {
        for (name, pick) in measures {
            let at = |shift: &str| -> Vec<f64> {
                dist.iter()
                    .filter(|r| r.0 == shift)
                    .filter_map(pick)
                    .collect()
            };
            let groups: Vec<(String, Statement)> = kinds
                .iter()
                .map(|kind| {
                    let levels: Vec<(String, Vec<f64>)> = shifts
                        .iter()
                        .filter(|s| s.1 == "none" || &s.1 == kind)
                        .map(|s| (s.0.clone(), at(&s.0)))
                        .collect();
                    (kind.clone(), trend(name, &levels, Direction::Up))
                })
                .collect();
            if groups.iter().all(|g| g.1.n == 0) {
                continue;
            }
            let listed = shifts
                .iter()
                .filter_map(|s| {
                    let v = at(&s.0);
                    (!v.is_empty()).then(|| format!("{} {}", s.0, fmt_real(mean(&v))))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let claim = format!("{name} grows with the shift magnitude");
            out.push(every_group(&claim, &groups, Direction::Up).with_detail(listed));
        }
    }
    // Accuracy against the proxy A-distance: the linear probe (freeze all) if present, else
    // the most frozen setting.
    let mut labels = distinct(acc.iter().map(|a| a.0.clone()));
    labels.sort_by_key(|l| model_order(l));
    let probe = labels
        .iter()
        .find(|l| l.as_str() == "freeze all")
        .or(labels.last());
    if let Some(l) = probe {
        let mut pts: Vec<(String, f64, f64)> =
            distinct(acc.iter().filter(|a| &a.0 == l).map(|a| a.1.clone()))
                .into_iter()
                .map(|s| {
                    let g: Vec<&(String, String, f64, f64)> =
                        acc.iter().filter(|a| &a.0 == l && a.1 == s).collect();
                    (
                        s,
                        mean(&g.iter().map(|a| a.2).collect::<Vec<_>>()),
                        mean(&g.iter().map(|a| a.3).collect::<Vec<_>>()),
                    )
                })
                .collect();
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
        if pts.len() > 1 {
            let x: Vec<f64> = pts.iter().map(|p| p.1).collect();
            let y: Vec<f64> = pts.iter().map(|p| p.2).collect();
            let who = if l == "freeze all" {
                "Linear-probe (freeze all)".to_string()
            } else {
                format!("Target ({l})")
            };
            let claim = format!("{who} accuracy falls as the measured distance grows");
            let listed = pts
                .iter()
                .map(|p| format!("{} A={:.2} acc {:.3}", p.0, p.1, p.2))
                .collect::<Vec<_>>()
                .join(", ");
            out.push(
                correlation(&claim, &x, &y, Direction::Down)
                    .with_detail(format!("one point per shift: {listed}")),
            );
        }
    }
    out
}

/// Target accuracy against the measured domain distance (proxy A-distance on the pretrained
/// backbone's features), one point per shift, one series per frozen depth; and the three
/// distances per shift.
pub fn domain_distance(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    let sql = format!(
        "SELECT ts.key, 'freeze ' || ts.freeze AS series, ts.shift, ts.seed,
       ts.proxy_a_distance, ts.final_test_acc
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.proxy_a_distance IS NOT NULL AND ts.final_test_acc IS NOT NULL
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let dist_sql = format!(
        "SELECT d.shift, MIN(t.shift_kind) AS shift_kind, MIN(t.shift_magnitude) AS magnitude,
       d.pretrained_key, d.proxy_a, d.mmd2, d.frechet, d.n_source, d.n_target
FROM domain_distance d
JOIN trials t ON t.domain_key = d.key
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.superseded_in IS NULL
GROUP BY d.key
ORDER BY shift_kind <> 'none', shift_kind, magnitude, d.pretrained_key;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    let draw = query(ctx.conn, &dist_sql)?;
    if raw.is_empty() && draw.is_empty() {
        return Ok(None);
    }
    let acc: Vec<(String, String, f64, f64)> = raw
        .iter()
        .filter_map(|r| Some((text(&r[1]), text(&r[2]), num(&r[4])?, num(&r[5])?)))
        .collect();
    let dist: Vec<DistRow> = draw
        .iter()
        .map(|r| {
            (
                text(&r[0]),
                text(&r[1]),
                num(&r[2]).unwrap_or(0.0),
                num(&r[4]),
                num(&r[5]),
                num(&r[6]),
            )
        })
        .collect();
    let mut outputs = Vec::new();
    if !acc.is_empty() {
        outputs.push(distance_chart(ctx, &acc, raw.len())?);
    }
    outputs.extend(findings_output(Vec::new(), distance_findings(&dist, &acc)));
    if !dist.is_empty() {
        outputs.push(Output::Text {
            text: "Distances on the pretrained backbone's features, one measurement per \
                   (checkpoint, shift), aggregated over checkpoints (seeds):"
                .to_string(),
        });
        let table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = shift_order(&dist)
            .iter()
            .flat_map(|s| {
                dist.iter()
                    .filter(move |r| r.0 == s.0)
                    .map(|r| (vec![r.0.clone()], vec![r.3, r.4, r.5]))
            })
            .collect();
        outputs.push(Output::Table(ci_table(
            &["shift"],
            &["proxy_a", "mmd2", "frechet"],
            &table_rows,
        )));
    }
    Ok(Some(Cell {
        title: "Target accuracy vs measured domain distance".to_string(),
        inputs: vec![Input::sql(sql), Input::sql(dist_sql)],
        outputs,
    }))
}

/// Final test accuracy against the mean proxy A-distance, one point per (model, shift);
/// `rows`: the rows of the query it is drawn from.
fn distance_chart(ctx: &Ctx, acc: &[(String, String, f64, f64)], rows: usize) -> Result<Output> {
    let mut labels = distinct(acc.iter().map(|a| a.0.clone()));
    labels.sort_by_key(|l| model_order(l));
    let mut xs = Vec::new();
    let series: Vec<Series> = labels
        .iter()
        .map(|l| {
            let mut points: Vec<Point> =
                distinct(acc.iter().filter(|a| &a.0 == l).map(|a| a.1.clone()))
                    .into_iter()
                    .filter_map(|s| {
                        let g: Vec<&(String, String, f64, f64)> =
                            acc.iter().filter(|a| &a.0 == l && a.1 == s).collect();
                        let x = mean(&g.iter().map(|a| a.2).collect::<Vec<_>>());
                        let y = ci(&g.iter().map(|a| a.3).collect::<Vec<_>>())?;
                        xs.push(x);
                        Some(Point {
                            x,
                            y: y.0,
                            err: y.1,
                        })
                    })
                    .collect();
            points.sort_by(|a, b| a.x.total_cmp(&b.x));
            Series {
                label: l.clone(),
                color: ctx.color(l),
                dashed: false,
                points,
            }
        })
        .collect();
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let chart = LineChart::with_error_bars(
        "Target test accuracy vs proxy A-distance",
        "proxy A-distance, source vs shifted target",
        &final_label(TEST_ACC),
        XAxis::Linear {
            ticks: nice_ticks(lo, hi),
        },
        series,
        (0.0, 1.0),
    );
    Ok(Output::Chart {
        svg: chart.to_svg()?,
        caption: format!(
            "{} One point per shift: x = mean proxy A-distance 2(1 \u{2212} 2\u{3b5}) of \
             the trials' source vs shifted-target features on the pretrained backbone, y = \
             mean final test accuracy. Pretrained trials only.",
            ctx.caption(&["shift", "freeze", "pretrained"], true)
        ),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_findings_detect_an_effect_and_its_absence() {
        // Two checkpoints per shift. Proxy A-distance falls at 90 degrees below `none`: a
        // negative rank correlation with the magnitude; MMD² and Fréchet grow.
        let row = |shift: &str, kind: &str, mag: f64, a: f64, m: f64, f: f64| {
            (
                shift.to_string(),
                kind.to_string(),
                mag,
                Some(a),
                Some(m),
                Some(f),
            )
        };
        let mut dist = Vec::new();
        for e in [0.0, 0.01] {
            dist.push(row("none", "none", 0.0, 0.1 + e, 0.01 + e / 10.0, 1.0 + e));
            dist.push(row(
                "rotate 45",
                "rotate",
                45.0,
                1.0 + 2.0 * e,
                0.1 + e,
                3.0 + e,
            ));
            dist.push(row("rotate 90", "rotate", 90.0, 0.05 + e, 0.2 + e, 4.0 + e));
        }
        let acc = vec![
            ("freeze all".to_string(), "none".to_string(), 0.1, 0.5),
            ("freeze all".to_string(), "rotate 45".to_string(), 1.0, 0.9),
            ("freeze all".to_string(), "rotate 90".to_string(), 0.8, 0.7),
        ];
        let f = crate::report::stats::lines(Vec::new(), &distance_findings(&dist, &acc));
        assert_eq!(f.len(), 4, "{f:#?}");
        assert!(
            f[0].starts_with(
                "proxy A-distance grows with the shift magnitude: contradicted (Kendall \
                 \u{3c4} at rotate -0.333, 95% CI [-0."
            ),
            "{f:#?}"
        );
        assert!(
            f[0].contains(
                "n = 6; reversed at rotate; none 0.1050, rotate 45 1.0100, rotate 90 0.0550)"
            ),
            "{f:#?}"
        );
        assert!(
            f[1].starts_with(
                "MMD\u{b2} grows with the shift magnitude: supported (Kendall \u{3c4} at \
                 rotate +1.000, 95% CI [+1.000"
            ),
            "{f:#?}"
        );
        assert!(
            f[2].starts_with("Fr\u{e9}chet distance grows with the shift magnitude: supported"),
            "{f:#?}"
        );
        // Three shifts are too few points for a correlation.
        assert!(
            f[3].starts_with(
                "Linear-probe (freeze all) accuracy falls as the measured distance grows: \
                 inconclusive (Pearson r +0."
            ),
            "{f:#?}"
        );
        assert!(f[3].contains("no interval, n = 3; needs at least 5 points; one point per shift: none A=0.10 acc 0.500"), "{f:#?}");
        // The case: two shifts give r = -1, and no verdict.
        let f = distance_findings(
            &dist[..0],
            &acc[..2]
                .iter()
                .map(|a| (a.0.clone(), a.1.clone(), a.2, 1.0 - a.3))
                .collect::<Vec<_>>(),
        );
        assert!(f[0].sentence().contains("grows: inconclusive (Pearson r -1.000, no interval, n = 2; needs at least 5 points"), "{f:#?}");
    }
}
