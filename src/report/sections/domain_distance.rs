//! The measured domain distance against the accuracy lost to the shift.

use crate::metrics::names::TEST_ACC;
use crate::report::charts::{LineChart, Point, Series, XAxis};
use crate::report::context::{distinct, final_label, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{fmt_real, num, query, text};
use crate::report::series::nice_ticks;
use crate::report::stats::{ci, ci_table, findings_output, mean, pearson, rises, yes_no};
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

/// Findings: whether each distance grows with the shift magnitude (within each kind of shift,
/// `none` counting as magnitude 0), and whether accuracy falls as the proxy A-distance grows.
pub(crate) fn distance_findings(
    dist: &[DistRow],
    acc: &[(String, String, f64, f64)],
) -> Vec<String> {
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
        let mut parts = Vec::new();
        let mut all = true;
        for (name, pick) in measures {
            let mut ok = true;
            let mut listed = Vec::new();
            for kind in &kinds {
                let seq: Vec<(String, f64)> = shifts
                    .iter()
                    .filter(|s| s.1 == "none" || &s.1 == kind)
                    .map(|s| {
                        let v: Vec<f64> = dist
                            .iter()
                            .filter(|r| r.0 == s.0)
                            .filter_map(pick)
                            .collect();
                        (s.0.clone(), mean(&v))
                    })
                    .filter(|s| s.1.is_finite())
                    .collect();
                let vals: Vec<f64> = seq.iter().map(|s| s.1).collect();
                ok &= rises(&vals, 0.0);
                for item in seq {
                    if !listed.contains(&item) {
                        listed.push(item);
                    }
                }
            }
            all &= ok;
            parts.push(format!(
                "{name} {} ({})",
                yes_no(ok),
                listed
                    .iter()
                    .map(|(k, v)| format!("{k} {}", fmt_real(*v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "Measured domain distance grows with the shift magnitude: {} \u{2014} {}.",
            yes_no(all),
            parts.join("; ")
        ));
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
            let r = pearson(&x, &y);
            let falls =
                y[y.len() - 1] < y[0] && r.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater);
            let who = if l == "freeze all" {
                "Linear-probe (freeze all)".to_string()
            } else {
                format!("Target ({l})")
            };
            out.push(format!(
                "{who} accuracy falls as the measured distance grows: {} ({}; Pearson r = \
                 {}).",
                yes_no(falls),
                pts.iter()
                    .map(|p| format!("{} A={:.2} acc {:.3}", p.0, p.1, p.2))
                    .collect::<Vec<_>>()
                    .join(", "),
                if r.is_finite() {
                    format!("{r:.2}")
                } else {
                    "n/a".to_string()
                }
            ));
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
WHERE s.name = {}
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
    outputs.extend(findings_output(distance_findings(&dist, &acc)));
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
        // Distance: falls at 90 degrees (not monotone); accuracy rises with distance.
        let dist = vec![
            (
                "none".to_string(),
                "none".to_string(),
                0.0,
                Some(0.1),
                Some(0.01),
                Some(1.0),
            ),
            (
                "rotate 45".to_string(),
                "rotate".to_string(),
                45.0,
                Some(1.0),
                Some(0.1),
                Some(3.0),
            ),
            (
                "rotate 90".to_string(),
                "rotate".to_string(),
                90.0,
                Some(0.8),
                Some(0.2),
                Some(4.0),
            ),
        ];
        let acc = vec![
            ("freeze all".to_string(), "none".to_string(), 0.1, 0.5),
            ("freeze all".to_string(), "rotate 45".to_string(), 1.0, 0.9),
            ("freeze all".to_string(), "rotate 90".to_string(), 0.8, 0.7),
        ];
        let f = distance_findings(&dist, &acc).join("\n");
        assert!(f.contains("grows with the shift magnitude: no \u{2014} proxy A-distance no (none 0.1000, rotate 45 1.0000, rotate 90 0.8000); MMD\u{b2} yes"), "{f}");
        assert!(
            f.contains(
                "Linear-probe (freeze all) accuracy falls as the measured distance grows: no"
            ),
            "{f}"
        );
    }
}
