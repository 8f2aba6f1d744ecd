//! Early stopping of one trial as it trains: after each epoch, the rungs it has reached are
//! decided through the database ([`Db::decide_rung`]), so that every `--jobs` worker and every
//! `thaw run` on the database compares against the same records.

use crate::spec::early_stop::EarlyStop;
use crate::spec::TrialSpec;
use crate::track::{Db, RungDecision};
use anyhow::Result;
use std::collections::VecDeque;

/// The rungs of one trial still to decide in this process.
pub(super) struct TrialRungs<'a> {
    early_stop: &'a EarlyStop,
    db: &'a Db,
    trial_id: i64,
    /// The trial's last epoch (never a decision there: the trial is then complete).
    epochs: usize,
    /// Rung epochs not yet decided here, in order.
    pending: VecDeque<usize>,
}

impl<'a> TrialRungs<'a> {
    /// The rungs of `trial` after epoch `resumed_after` (0 when it starts over); `None` when
    /// early stopping is off or never stops this trial (a baseline).
    pub(super) fn new(
        early_stop: Option<&'a EarlyStop>,
        db: &'a Db,
        trial_id: i64,
        trial: &TrialSpec,
        resumed_after: usize,
    ) -> Option<Self> {
        let early_stop = early_stop.filter(|es| es.prunes(trial))?;
        let pending = (early_stop.trial_rungs(trial).into_iter())
            .filter(|&rung| rung > resumed_after)
            .collect();
        Some(TrialRungs {
            early_stop,
            db,
            trial_id,
            epochs: trial.epochs,
            pending,
        })
    }

    /// After `epoch` with `metrics`: decides each pending rung at or before it when the rung
    /// metric was evaluated (a rung epoch without an evaluation is decided at the next epoch
    /// with one), in order, up to the first stop, which is returned.
    pub(super) fn after_epoch(
        &mut self,
        epoch: usize,
        metrics: &[(String, f64)],
    ) -> Result<Option<RungDecision>> {
        let name = self.early_stop.metric.name();
        let Some(value) = metrics.iter().find(|(n, _)| n == name).map(|m| m.1) else {
            return Ok(None);
        };
        while let Some(&rung) = self.pending.front().filter(|&&r| r <= epoch) {
            if epoch >= self.epochs {
                break;
            }
            self.pending.pop_front();
            let decision = self.db.decide_rung(
                self.trial_id,
                rung as i64,
                epoch as i64,
                value,
                self.early_stop,
            )?;
            if !decision.continues {
                return Ok(Some(decision));
            }
        }
        Ok(None)
    }
}

/// The line a stopped trial's progress shows.
pub(super) fn describe_stop(d: &RungDecision) -> String {
    let value = d
        .value
        .map_or("not finite".to_string(), |v| format!("{v:.4}"));
    let cutoff = d.cutoff.map_or("-".to_string(), |v| format!("{v:.4}"));
    let again = match d.reused {
        true => " (as recorded before)",
        false => "",
    };
    format!(
        "    early stop at rung epoch {}: {} {value} is not among the best of {} trials (cutoff {cutoff}){again}",
        d.rung, d.metric, d.compared
    )
}
