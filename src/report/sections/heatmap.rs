//! Mean final accuracy by model and examples per class.

use crate::metrics::names::TEST_ACC;
use crate::report::context::{distinct, final_label, Ctx, FREEZE_ORDER_SQL};
use crate::report::heatmap::Heatmap;
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::typed_rows;
use crate::report::series::{chart_cell, no_data};
use anyhow::Result;

/// [10] Heatmap: model (frozen depth, or scratch) × examples per class, coloured by the
/// mean final test accuracy.
pub fn heatmap(ctx: &Ctx) -> Result<Option<Cell>> {
    let models = distinct(ctx.trials.iter().map(|t| (t.pretrained, t.freeze)));
    if models.len() < 2 || !ctx.varies("train_per_class") {
        return Ok(None);
    }
    let title = "Heatmap: frozen depth \u{d7} examples per class";
    let sql = format!(
        "SELECT CASE WHEN pretrained = 1 THEN 'freeze ' || freeze ELSE 'scratch' END AS model,
       train_per_class, AVG(final_test_acc) AS mean_test_acc, COUNT(*) AS trials
FROM trial_summary
WHERE sweep = {} AND status = 'completed' AND final_test_acc IS NOT NULL
GROUP BY model, train_per_class
ORDER BY pretrained DESC, {}, train_per_class;",
        ctx.sweep_lit(),
        FREEZE_ORDER_SQL
    );
    let inputs = vec![Input::sql(sql.clone())];
    let rows = typed_rows(ctx.conn, &sql, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, f64>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    if rows.is_empty() {
        return Ok(Some(no_data(title, inputs)));
    }
    let row_labels = distinct(rows.iter().map(|r| r.0.clone()));
    let mut sizes = distinct(rows.iter().map(|r| r.1));
    sizes.sort();
    let values: Vec<Vec<Option<f64>>> = row_labels
        .iter()
        .map(|m| {
            sizes
                .iter()
                .map(|n| rows.iter().find(|r| &r.0 == m && r.1 == *n).map(|r| r.2))
                .collect()
        })
        .collect();
    let chart = Heatmap {
        title: "Mean final test accuracy".to_string(),
        x_desc: "training examples per class".to_string(),
        x_labels: sizes.iter().map(|n| n.to_string()).collect(),
        y_desc: "model".to_string(),
        y_labels: row_labels.clone(),
        values,
        value_desc: format!("mean {}", final_label(TEST_ACC)),
    };
    // The highest mean at each size.
    let mut best = Vec::new();
    for n in &sizes {
        if let Some(r) = rows
            .iter()
            .filter(|r| r.1 == *n)
            .max_by(|a, b| a.2.total_cmp(&b.2))
        {
            best.push(format!("{} at {n}/class ({:.3}, n = {})", r.0, r.2, r.3));
        }
    }
    Ok(Some(chart_cell(
        title,
        inputs,
        chart.to_svg()?,
        ctx.caption(&["freeze", "pretrained", "train_per_class"], false),
        rows.len(),
        [Output::Text {
            text: format!(
                "Highest mean per size (means of the trials above; differences between models \
                 are not tested here): {}.",
                best.join("; ")
            ),
        }],
    )))
}
