//! The mixed-precision section: for a sweep that varies `precision`, bf16 against fp32 per
//! backbone and model, in final test accuracy (paired by seed) and training time.

use crate::metrics::statements::{paired, Direction, Statement};
use crate::report::context::{distinct, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::MODEL_SQL;
use crate::report::stats::{ci_table, findings_output};
use anyhow::Result;

/// A completed trial: (backbone, model, precision, seed, final test accuracy, train seconds).
type Row = (String, String, String, i64, f64, f64);

/// "bf16 against fp32": a table of test accuracy and training time per (backbone, model,
/// precision), and a finding per (backbone, model) from the seeds run in both precisions.
pub fn precision(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.varies("precision") {
        return Ok(None);
    }
    let sql = format!(
        "SELECT ts.backbone, {MODEL_SQL} AS model, ts.precision, ts.seed, ts.final_test_acc,
       ts.train_seconds
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed'
ORDER BY t.position;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    let rows: Vec<Row> = raw
        .iter()
        .filter_map(|r| {
            let seed = num(&r[3])? as i64;
            Some((
                text(&r[0]),
                text(&r[1]),
                text(&r[2]),
                seed,
                num(&r[4])?,
                num(&r[5])?,
            ))
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let mut table_rows: Vec<(Vec<String>, Vec<Option<f64>>)> = rows
        .iter()
        .map(|r| {
            (
                vec![r.0.clone(), r.1.clone(), r.2.clone()],
                vec![Some(r.4), Some(r.5)],
            )
        })
        .collect();
    table_rows.sort_by_key(|r| (r.0[0].clone(), model_order(&r.0[1]), r.0[2].clone()));
    let mut outputs = Vec::new();
    outputs.extend(findings_output(Vec::new(), precision_findings(&rows)));
    outputs.push(Output::Table(ci_table(
        &["backbone", "model", "precision"],
        &["final_test_acc", "train_seconds"],
        &table_rows,
    )));
    Ok(Some(Cell {
        title: "Mixed precision: bf16 against fp32".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

/// One sentence per (backbone, model) run in both precisions: the mean bf16 − fp32 test
/// accuracy over the seeds run in both, with its 95% interval, and fp32 / bf16 training time.
pub(crate) fn precision_findings(rows: &[Row]) -> Vec<Statement> {
    let mut settings = distinct(rows.iter().map(|r| (r.0.clone(), r.1.clone())));
    settings.sort_by_key(|s| (s.0.clone(), model_order(&s.1)));
    let mut out = Vec::new();
    for (backbone, model) in settings {
        let of = |precision: &str, seed: i64| {
            rows.iter()
                .find(|r| r.0 == backbone && r.1 == model && r.2 == precision && r.3 == seed)
        };
        let seeds = distinct(rows.iter().map(|r| r.3));
        let pairs: Vec<(&Row, &Row)> = seeds
            .into_iter()
            .filter_map(|s| Some((of("fp32", s)?, of("bf16", s)?)))
            .collect();
        let deltas: Vec<f64> = pairs.iter().map(|(a, b)| b.4 - a.4).collect();
        if deltas.is_empty() {
            continue;
        }
        let fp32_s: f64 = pairs.iter().map(|p| p.0 .5).sum();
        let bf16_s: f64 = pairs.iter().map(|p| p.1 .5).sum();
        let claim = format!(
            "{backbone} {model}: bf16 loses test accuracy against fp32 (bf16 \u{2212} fp32 < 0)"
        );
        out.push(
            paired(&claim, &deltas, Direction::Down).with_detail(format!(
                "training took {:.2}\u{d7} the time of fp32 (measured)",
                bf16_s / fp32_s.max(1e-9)
            )),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::statements::Verdict;

    fn row(model: &str, precision: &str, seed: i64, acc: f64, secs: f64) -> Row {
        let (b, m, p) = ("cnn4".to_string(), model.to_string(), precision.to_string());
        (b, m, p, seed, acc, secs)
    }

    #[test]
    fn findings_pair_seeds_and_say_whether_bf16_differs_beyond_noise() {
        let rows = vec![
            row("freeze 2", "fp32", 0, 0.80, 2.0),
            row("freeze 2", "fp32", 1, 0.82, 2.0),
            row("freeze 2", "fp32", 2, 0.78, 2.0),
            row("freeze 2", "bf16", 0, 0.81, 1.0),
            row("freeze 2", "bf16", 1, 0.81, 1.0),
            row("freeze 2", "bf16", 2, 0.79, 1.0),
            row("scratch", "fp32", 0, 0.70, 4.0),
            row("scratch", "fp32", 1, 0.72, 4.0),
            row("scratch", "bf16", 0, 0.60, 5.0),
            row("scratch", "bf16", 1, 0.61, 5.0),
            row("scratch", "fp32", 2, 0.71, 4.0),
            row("scratch", "bf16", 2, 0.605, 5.0),
            // A seed run in one precision only is not paired.
            row("scratch", "bf16", 7, 0.99, 5.0),
        ];
        let st = precision_findings(&rows);
        let f: Vec<String> = st.iter().map(Statement::sentence).collect();
        assert_eq!(f.len(), 2, "{f:?}");
        // Deltas +0.01, -0.01, +0.01: mean +0.003, well inside its interval.
        assert_eq!(st[0].verdict, Verdict::Inconclusive);
        assert!(
            f[0].starts_with(
                "cnn4 freeze 2: bf16 loses test accuracy against fp32 (bf16 \u{2212} fp32 < 0): \
                 inconclusive (mean +0.003, 95% CI [-0.0"
            ),
            "{}",
            f[0]
        );
        assert!(f[0].contains("n = 3;"), "{}", f[0]);
        assert!(f[0].contains("took 0.50\u{d7} the time"), "{}", f[0]);
        // Deltas -0.10, -0.11, -0.105: consistently worse.
        assert_eq!(st[1].verdict, Verdict::Supported);
        assert!(f[1].contains("mean -0.105"), "{}", f[1]);
        assert!(f[1].contains("n = 3;"), "{}", f[1]);
        assert!(f[1].contains("took 1.25\u{d7} the time"), "{}", f[1]);
    }
}
