//! Storing the report's findings (`report_findings`, read through the `findings` view), so that
//! every statement of every sweep can be listed with one query.

use super::{now_rfc3339, Db};
use crate::metrics::statements::Statement;
use anyhow::{Context, Result};
use rusqlite::params;

impl Db {
    /// Replaces the findings of `sweep` with `findings` (section title, statement), in page
    /// order, in one transaction: a reader sees the previous render's findings or these, never
    /// a mix. Fails when there is no such sweep.
    pub fn replace_findings(&self, sweep: &str, findings: &[(&str, &Statement)]) -> Result<()> {
        let finite = |x: f64| x.is_finite().then_some(x);
        let tx = self.write_tx()?;
        let sweep_id: i64 = tx
            .query_row("SELECT id FROM sweeps WHERE name = ?1", [sweep], |r| {
                r.get(0)
            })
            .with_context(|| format!("no sweep named \"{sweep}\" to store findings for"))?;
        tx.execute(
            "DELETE FROM report_findings WHERE sweep_id = ?1",
            [sweep_id],
        )?;
        let now = now_rfc3339();
        {
            let mut insert = tx.prepare(
                "INSERT INTO report_findings (sweep_id, position, section, claim, verdict,
                     measure, estimate, low, high, n, test, needs, detail, rendered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            for (position, (section, s)) in findings.iter().enumerate() {
                insert.execute(params![
                    sweep_id,
                    i64::try_from(position)?,
                    section,
                    s.claim,
                    s.verdict.as_str(),
                    s.measure,
                    finite(s.estimate),
                    finite(s.low),
                    finite(s.high),
                    i64::try_from(s.n)?,
                    s.test,
                    s.needs,
                    s.detail,
                    now,
                ])?;
            }
        }
        tx.commit()
            .with_context(|| format!("storing the findings of sweep {sweep}"))
    }
}
