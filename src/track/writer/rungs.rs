//! Early stopping's records: each rung decision of a trial (`rung_decisions`), taken and
//! written under one write lock so that runners on one database never decide from the same
//! stale view, and read back when a trial reaches a rung it already decided.

use super::{now_rfc3339, Db};
use crate::spec::early_stop::EarlyStop;
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Transaction};

/// A trial's decision at one rung, as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct RungDecision {
    /// The rung's epoch.
    pub rung: i64,
    /// The epoch its value was measured at (after the rung when the rung epoch had no
    /// evaluation).
    pub epoch: i64,
    pub metric: String,
    /// The trial's value (`None`: not finite).
    pub value: Option<f64>,
    /// Values compared, the trial's own included.
    pub compared: i64,
    /// The worst value that continued.
    pub cutoff: Option<f64>,
    /// Whether the trial goes on training.
    pub continues: bool,
    /// Read back from an earlier decision of the same trial (resumed or requeued), not taken
    /// now.
    pub reused: bool,
}

impl Db {
    /// The decision of trial `trial_id` at `rung`, measured at `epoch` with `value` of
    /// `early_stop`'s metric: the recorded one when the trial already decided this rung,
    /// otherwise taken now by [`EarlyStop::verdict`] against the values the sweep's other
    /// prunable trials of the current grid recorded at the same rung, and recorded, in one
    /// `BEGIN IMMEDIATE` transaction.
    pub fn decide_rung(
        &self,
        trial_id: i64,
        rung: i64,
        epoch: i64,
        value: f64,
        early_stop: &EarlyStop,
    ) -> Result<RungDecision> {
        let tx = self.write_tx()?;
        if let Some(mut recorded) = recorded(&tx, trial_id, rung)? {
            recorded.reused = true;
            return Ok(recorded);
        }
        let metric = early_stop.metric.name();
        let others = rung_values(&tx, trial_id, rung, metric, early_stop.baselines)?;
        let verdict = early_stop.verdict(value, &others);
        let decision = match verdict.continues {
            true => "continue",
            false => "stop",
        };
        let finite = |x: f64| x.is_finite().then_some(x);
        tx.execute(
            "INSERT INTO rung_decisions (trial_id, rung, epoch, metric, value, compared, cutoff,
                 decision, decided_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                trial_id,
                rung,
                epoch,
                metric,
                finite(value),
                verdict.compared as i64,
                finite(verdict.cutoff),
                decision,
                now_rfc3339()
            ],
        )?;
        tx.commit().with_context(|| {
            format!(
                "recording the rung-{rung} decision of trial {trial_id} in {}",
                self.path.display()
            )
        })?;
        Ok(RungDecision {
            rung,
            epoch,
            metric: metric.to_string(),
            value: finite(value),
            compared: verdict.compared as i64,
            cutoff: finite(verdict.cutoff),
            continues: verdict.continues,
            reused: false,
        })
    }

    /// The first recorded `stop` of trial `trial_id` at a rung at or before epoch `through`
    /// (a trial resumed past the rung that stopped it).
    pub fn recorded_stop(&self, trial_id: i64, through: i64) -> Result<Option<RungDecision>> {
        let rung: Option<i64> = self
            .conn
            .query_row(
                "SELECT min(rung) FROM rung_decisions
                 WHERE trial_id = ?1 AND rung <= ?2 AND decision = 'stop'",
                params![trial_id, through],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let Some(rung) = rung else {
            return Ok(None);
        };
        let stop = recorded(&self.conn, trial_id, rung)?;
        Ok(stop.map(|s| RungDecision { reused: true, ..s }))
    }
}

/// The recorded decision of a trial at a rung.
fn recorded(conn: &rusqlite::Connection, trial_id: i64, rung: i64) -> Result<Option<RungDecision>> {
    Ok(conn
        .query_row(
            "SELECT rung, epoch, metric, value, compared, cutoff, decision FROM rung_decisions
             WHERE trial_id = ?1 AND rung = ?2",
            params![trial_id, rung],
            |r| {
                Ok(RungDecision {
                    rung: r.get(0)?,
                    epoch: r.get(1)?,
                    metric: r.get(2)?,
                    value: r.get(3)?,
                    compared: r.get(4)?,
                    cutoff: r.get(5)?,
                    continues: r.get::<_, String>(6)? == "continue",
                    reused: false,
                })
            },
        )
        .optional()?)
}

/// The values of `metric` the other trials of `trial_id`'s sweep, in its current grid,
/// recorded at `rung` (a non-finite value as NaN); baselines (from scratch or linear probes)
/// only when `baselines`.
fn rung_values(
    tx: &Transaction<'_>,
    trial_id: i64,
    rung: i64,
    metric: &str,
    baselines: bool,
) -> Result<Vec<f64>> {
    let mut stmt = tx.prepare(
        "SELECT r.value FROM rung_decisions r
         JOIN trials t ON t.id = r.trial_id
         JOIN trials me ON me.id = ?1 AND me.sweep_id = t.sweep_id
         WHERE r.rung = ?2 AND r.metric = ?3 AND r.trial_id <> ?1
           AND t.superseded_in IS NULL
           AND (?4 OR NOT (t.pretrained = 0 OR t.freeze = 'all'))",
    )?;
    let rows = stmt.query_map(params![trial_id, rung, metric, baselines], |r| {
        r.get::<_, Option<f64>>(0)
    })?;
    let values = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}
