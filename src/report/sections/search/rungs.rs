//! Which trials early stopping pruned, at which rung: per rung, the trials that reached it,
//! how many continued and how many stopped, and the range of the cutoffs they were held to.

use crate::report::context::Ctx;
use crate::report::page::{Input, Output, Table, TableCell};
use crate::report::rows::{fmt_real, num, query, text};
use anyhow::Result;

/// The rung table with its SQL; `None` when no trial of the sweep decided at a rung.
pub(crate) fn rungs(ctx: &Ctx) -> Result<Option<(Input, Output)>> {
    let sql = format!(
        "SELECT r.rung, r.metric, COUNT(*) AS reached,
       SUM(r.decision = 'continue') AS continued, SUM(r.decision = 'stop') AS stopped,
       MIN(r.cutoff) AS lowest_cutoff, MAX(r.cutoff) AS highest_cutoff
FROM rung_decisions r JOIN trials t ON t.id = r.trial_id JOIN sweeps s ON s.id = t.sweep_id
WHERE s.name = {} AND t.superseded_in IS NULL
GROUP BY r.rung, r.metric ORDER BY r.rung;",
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    if raw.is_empty() {
        return Ok(None);
    }
    let cell = |text: String, class: &str| TableCell {
        text,
        class: class.to_string(),
        href: None,
    };
    let whole = |v| num(v).map_or(String::new(), |x| format!("{x:.0}"));
    let real = |v| num(v).map_or(String::new(), fmt_real);
    let rows = (raw.iter())
        .map(|r| {
            vec![
                cell(whole(&r[0]), "num"),
                cell(text(&r[1]), ""),
                cell(whole(&r[2]), "num"),
                cell(whole(&r[3]), "num"),
                cell(whole(&r[4]), "num"),
                cell(real(&r[5]), "num"),
                cell(real(&r[6]), "num"),
            ]
        })
        .collect();
    let headers = [
        "rung (epoch)",
        "metric",
        "trials reaching it",
        "continued",
        "pruned",
        "lowest cutoff",
        "highest cutoff",
    ];
    Ok(Some((
        Input::sql(sql),
        Output::Table(Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            sortable: false,
            rows,
            note: Some(
                "Asynchronous successive halving: a trial reaching a rung continued when its \
                 value was among the best 1/\u{3b7} of the values recorded at that rung so far \
                 (its own included; the best one when fewer than \u{3b7}); the cutoff is the \
                 worst value that would have continued when it decided. Pruned trials keep \
                 their epochs; the trial table and pages list them."
                    .to_string(),
            ),
        }),
    )))
}
