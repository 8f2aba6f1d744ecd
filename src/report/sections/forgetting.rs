//! Source-task accuracy during fine-tuning, by frozen depth.

use crate::metrics::names::{SOURCE_ACC, SOURCE_LM_LOSS};
use crate::metrics::statements::{paired, trend, Direction, Statement};
use crate::report::charts::{LineChart, Series, XAxis};
use crate::report::context::{distinct, freeze_label, freeze_order, Ctx, FREEZE_ORDER_SQL};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, parse_freeze, query, sql_str, text, typed_rows};
use crate::report::series::{chart_cell, epoch_ticks, no_data, points_of};
use crate::report::stats::{ci_table, findings_output, listing, means};
use crate::spec::Freeze;
use anyhow::Result;

/// [4] Forgetting: source-task accuracy over fine-tuning epochs, by frozen depth.
pub fn forgetting(ctx: &Ctx) -> Result<Option<Cell>> {
    if !ctx.trials.iter().any(|t| t.pretrained) {
        return Ok(None);
    }
    let title = "Forgetting: source-task accuracy during fine-tuning";
    let curve_sql = source_acc_sql(
        ctx,
        "freeze",
        &format!(
            "t.{}",
            FREEZE_ORDER_SQL.replace("CAST(freeze", "CAST(t.freeze")
        ),
    );
    let table_sql = format!(
        "SELECT ts.key, ts.freeze, ts.seed, ts.source_acc_pretrained AS source_acc_before,
       ts.source_acc_final AS source_acc_after, ts.forgetting
FROM trial_summary ts
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ts.pretrained = 1
  AND ts.source_acc_pretrained IS NOT NULL AND ts.source_acc_final IS NOT NULL
ORDER BY ts.{}, t.position;",
        ctx.sweep_lit(),
        FREEZE_ORDER_SQL.replace("CAST(freeze", "CAST(ts.freeze")
    );
    let inputs = vec![Input::sql(curve_sql.clone()), Input::sql(table_sql.clone())];
    let rows = source_acc_rows(ctx, &curve_sql)?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let series: Vec<Series> = distinct(rows.iter().map(|r| r.0.as_str()))
        .into_iter()
        .map(|f| {
            let label = freeze_label(f);
            Series {
                color: ctx.color(&label),
                label,
                dashed: false,
                points: points_of(&rows, f),
            }
        })
        .collect();
    let chart = LineChart {
        y_bounds: Some((0.0, 1.0)),
        ..LineChart::new(
            "Source accuracy (epoch 0 = before fine-tuning)".to_string(),
            "fine-tuning epoch".to_string(),
            "source-task accuracy".to_string(),
            XAxis::Linear {
                ticks: epoch_ticks(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
            },
            series,
        )
    };
    let caption = format!(
        "{} Pretrained trials only. Forgetting = source accuracy before \u{2212} after \
         fine-tuning (BWT = \u{2212}forgetting); a fully frozen backbone forgets nothing.",
        ctx.caption(&["freeze", "pretrained"], false)
    );
    Ok(Some(chart_cell(
        title,
        inputs,
        chart.to_svg()?,
        caption,
        rows.len(),
        forgetting_outputs(ctx, &table_sql)?,
    )))
}

/// The mean source-task accuracy per epoch of the completed pretrained trials, one curve per
/// value of the trial column `by`, curves ordered by `order` (SQL).
pub(crate) fn source_acc_sql(ctx: &Ctx, by: &str, order: &str) -> String {
    format!(
        "SELECT t.{by}, m.epoch, AVG(m.value) AS {acc}, COUNT(*) AS trials
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1 AND t.superseded_in IS NULL
  AND m.name = {} AND m.value IS NOT NULL
GROUP BY t.{by}, m.epoch
ORDER BY {order}, m.epoch;",
        ctx.sweep_lit(),
        sql_str(SOURCE_ACC.name),
        acc = SOURCE_ACC.name,
    )
}

/// Rows of [`source_acc_sql`]: (curve, epoch, mean source accuracy).
pub(crate) fn source_acc_rows(ctx: &Ctx, sql: &str) -> Result<Vec<(String, i64, f64)>> {
    typed_rows(ctx.conn, sql, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// The forgetting table (mean and 95% CI per frozen depth) and its findings.
fn forgetting_outputs(ctx: &Ctx, sql: &str) -> Result<Vec<Output>> {
    let raw = query(ctx.conn, sql)?;
    let rows: Vec<(Vec<String>, Vec<Option<f64>>)> = raw
        .iter()
        .map(|r| {
            (
                vec![freeze_label(text(&r[1]))],
                vec![num(&r[3]), num(&r[4]), num(&r[5])],
            )
        })
        .collect();
    let pairs: Vec<(Freeze, f64)> = raw
        .iter()
        .filter_map(|r| Some((parse_freeze(&text(&r[1]))?, num(&r[5])?)))
        .collect();
    let mut statements = forgetting_findings(&pairs);
    let mut notes = Vec::new();
    let lm_rises = lm_loss_rises(ctx)?;
    if !lm_rises.is_empty() {
        notes.push(
            "The source task is a language model: source accuracy is its next-token accuracy \
             on held-out source text, and forgetting also shows as the rise of its next-token \
             loss (source_lm_loss, nats per token) from before to after fine-tuning."
                .to_string(),
        );
        let rises: Vec<f64> = lm_rises.iter().map(|r| r.1).collect();
        statements.push(paired(
            "Fine-tuning raises the source language-model loss (trials with trained blocks)",
            &rises,
            Direction::Up,
        ));
    }
    let mut out = Vec::new();
    out.extend(findings_output(notes, statements));
    out.push(Output::Table(ci_table(
        &["model"],
        &["source_acc_before", "source_acc_after", "forgetting"],
        &rows,
    )));
    Ok(out)
}

/// (freeze, rise of the source language-model loss from epoch 0 to the last epoch) of every
/// completed pretrained trial that trains some block; empty unless the source is a language
/// model.
fn lm_loss_rises(ctx: &Ctx) -> Result<Vec<(String, f64)>> {
    let sql = format!(
        "SELECT t.freeze, last.value - first.value
FROM trials t
JOIN sweeps s ON s.id = t.sweep_id
JOIN metrics first ON first.trial_id = t.id AND first.name = {lm} AND first.epoch = 0
JOIN metrics last ON last.trial_id = t.id AND last.name = {lm} AND last.epoch = t.epochs
WHERE s.name = {} AND t.status = 'completed' AND t.pretrained = 1 AND t.freeze <> 'all'
  AND t.superseded_in IS NULL
ORDER BY t.position;",
        ctx.sweep_lit(),
        lm = sql_str(SOURCE_LM_LOSS.name),
    );
    typed_rows(ctx.conn, &sql, |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Findings of the forgetting table from (freeze, forgetting) per trial: a trend over the
/// number of unfrozen blocks, and the exact check that a frozen backbone forgets nothing.
pub(crate) fn forgetting_findings(rows: &[(Freeze, f64)]) -> Vec<Statement> {
    let mut freezes = distinct(rows.iter().map(|r| r.0));
    // Most frozen first: the number of unfrozen blocks grows along the list.
    freezes.sort_by_key(|f| freeze_order(*f));
    freezes.reverse();
    let levels: Vec<(String, Vec<f64>)> = freezes
        .into_iter()
        .map(|f| {
            let v: Vec<f64> = rows.iter().filter(|r| r.0 == f).map(|r| r.1).collect();
            (freeze_label(f), v)
        })
        .collect();
    let mut out = Vec::new();
    if levels.len() > 1 {
        out.push(
            trend(
                "Forgetting grows with the number of unfrozen blocks",
                &levels,
                Direction::Up,
            )
            .with_detail(listing(&means(&levels), false)),
        );
    }
    let all: Vec<f64> = rows
        .iter()
        .filter(|r| r.0 == Freeze::All)
        .map(|r| r.1)
        .collect();
    if !all.is_empty() {
        let max = all.iter().fold(0f64, |a, b| a.max(b.abs()));
        out.push(Statement::exact(
            "A frozen backbone (freeze all) forgets nothing",
            "largest |forgetting|",
            max,
            all.len(),
            max == 0.0,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(rows: &[(Freeze, f64)]) -> String {
        crate::report::stats::lines(Vec::new(), &forgetting_findings(rows)).join("\n")
    }

    #[test]
    fn forgetting_findings_detect_an_effect_and_its_absence() {
        // Forgetting and learning rate.
        let f = findings(&[
            (Freeze::All, 0.0),
            (Freeze::Blocks(2), 0.05),
            (Freeze::Blocks(0), 0.03),
        ]);
        // One trial per depth: no interval from three single values.
        assert!(
            f.contains(
                "unfrozen blocks: inconclusive (Kendall \u{3c4} +0.333, no interval, n = 3; \
                 needs at least 5 levels or repeated seeds; freeze all 0.000, freeze 2 0.050, \
                 freeze 0 0.030) [test: monotone trend"
            ),
            "{f}"
        );
        // Three seeds per depth, forgetting clearly growing: supported.
        let mut rows = Vec::new();
        for (f, v) in [
            (Freeze::All, 0.0),
            (Freeze::Blocks(2), 0.05),
            (Freeze::Blocks(0), 0.2),
        ] {
            rows.extend([v, v + 0.01, v + 0.02].map(|x| (f, x)));
        }
        let f = findings(&rows);
        assert!(
            f.contains("Forgetting grows with the number of unfrozen blocks: supported (Kendall"),
            "{f}"
        );
        // The exact check: one frozen trial that lost source accuracy contradicts it.
        assert!(
            f.contains(
                "A frozen backbone (freeze all) forgets nothing: contradicted (largest \
                 |forgetting| +0.020, exact, n = 3)"
            ),
            "{f}"
        );
        let f = findings(&[(Freeze::All, 0.0), (Freeze::All, 0.0)]);
        assert!(
            f.starts_with(
                "A frozen backbone (freeze all) forgets nothing: supported (largest \
                 |forgetting| +0.000, exact, n = 2)"
            ),
            "{f}"
        );
    }
}
