//! The grid's `early_stop:` setting: asynchronous successive halving (ASHA, Li et al. 2020),
//! its rungs and its decision rule.
//!
//! ```yaml
//! early_stop: {method: asha, metric: val_acc, min_epochs: 1, reduction_factor: 3}
//! ```
//!
//! A trial that finishes a rung epoch (`min_epochs · reduction_factorᵏ`, below its last epoch)
//! compares its validation metric there with the values the sweep's other prunable trials
//! recorded at the same rung, and stops unless it is among the best `⌊n / η⌋` (at least 1).
//! The setting is a run-level one: it never changes a trial's configuration or key.

use super::trial::{Freeze, TrialSpec};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How and when hopeless trials of a sweep are stopped.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EarlyStop {
    /// The validation metric compared at each rung.
    pub metric: RungMetric,
    /// The first rung's epoch (`r`).
    pub min_epochs: usize,
    /// The reduction factor `η`: rungs are `r·ηᵏ`, and the best `1/η` of a rung continue.
    pub reduction_factor: usize,
    /// No rung past this epoch (`None`: the trial's own epochs).
    pub max_epochs: Option<usize>,
    /// Whether baseline trials (from scratch, or linear probes) may be stopped too.
    pub baselines: bool,
}

/// The metric a rung compares: validation only, never a test metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RungMetric {
    /// Validation accuracy (higher is better).
    ValAcc,
    /// Validation loss (lower is better).
    ValLoss,
}

impl RungMetric {
    /// The metric's name in the database.
    pub fn name(self) -> &'static str {
        match self {
            RungMetric::ValAcc => crate::metrics::names::VAL_ACC.name,
            RungMetric::ValLoss => crate::metrics::names::VAL_LOSS.name,
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self == RungMetric::ValAcc
    }
}

impl fmt::Display for RungMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl EarlyStop {
    /// The rung epochs of a trial of `epochs` epochs: `r, r·η, r·η², …` strictly below
    /// `epochs` and at most `max_epochs`.
    pub fn rungs(&self, epochs: usize) -> Vec<usize> {
        let last = self.max_epochs.map_or(epochs, |m| m.min(epochs));
        let mut rungs = Vec::new();
        let mut rung = self.min_epochs;
        while rung < epochs && rung <= last {
            rungs.push(rung);
            rung = match rung.checked_mul(self.reduction_factor) {
                Some(next) => next,
                None => break,
            };
        }
        rungs
    }

    /// The rung epochs of `trial`: none when it is never stopped (see [`EarlyStop::prunes`]).
    /// Each must be evaluated for the trial to be decided there.
    pub fn trial_rungs(&self, trial: &TrialSpec) -> Vec<usize> {
        match self.prunes(trial) {
            true => self.rungs(trial.epochs),
            false => Vec::new(),
        }
    }

    /// Whether `trial` may be stopped: every trial, except baselines unless `baselines: true`.
    pub fn prunes(&self, trial: &TrialSpec) -> bool {
        self.baselines || !is_baseline(trial)
    }

    /// The decision at a rung for a trial whose value is `own`, given the values the other
    /// trials recorded at the same rung (see [`rung_verdict`]).
    pub fn verdict(&self, own: f64, others: &[f64]) -> RungVerdict {
        rung_verdict(
            own,
            others,
            self.reduction_factor,
            self.metric.higher_is_better(),
        )
    }
}

/// A baseline trial: trained from scratch, or a linear probe (every block frozen).
pub fn is_baseline(trial: &TrialSpec) -> bool {
    !trial.pretrained || trial.freeze == Freeze::All
}

/// What a rung decided for one trial.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RungVerdict {
    /// Values compared, the trial's own included (`n`).
    pub compared: usize,
    /// The worst value that still continues: the `⌊n/η⌋`-th best (at least the best).
    pub cutoff: f64,
    /// Whether the trial goes on training.
    pub continues: bool,
}

/// The stopping rule of ASHA: of the `n` values at a rung (`others` and `own`), the best
/// `max(1, ⌊n/η⌋)` continue; `own` continues iff it is at least as good as the last of them
/// (ties continue). Non-finite values (a NaN loss) rank last.
pub fn rung_verdict(own: f64, others: &[f64], eta: usize, higher_is_better: bool) -> RungVerdict {
    // Orient so that larger is better, with NaN at the very bottom.
    let score = |v: f64| match (v.is_nan(), higher_is_better) {
        (true, _) => f64::NEG_INFINITY,
        (false, true) => v,
        (false, false) => -v,
    };
    let mut scores: Vec<f64> = others.iter().copied().chain([own]).map(score).collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    let compared = scores.len();
    let keep = (compared / eta.max(1)).max(1);
    let cut = scores[keep - 1];
    RungVerdict {
        compared,
        cutoff: if higher_is_better { cut } else { -cut },
        continues: score(own) >= cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asha(min_epochs: usize, eta: usize, max_epochs: Option<usize>) -> EarlyStop {
        EarlyStop {
            metric: RungMetric::ValAcc,
            min_epochs,
            reduction_factor: eta,
            max_epochs,
            baselines: false,
        }
    }

    #[test]
    fn rungs_grow_by_eta_strictly_below_the_last_epoch_and_within_max_epochs() {
        assert_eq!(asha(1, 3, None).rungs(27), [1, 3, 9]);
        assert_eq!(asha(1, 3, None).rungs(28), [1, 3, 9, 27]);
        assert_eq!(asha(2, 2, None).rungs(16), [2, 4, 8]);
        assert_eq!(asha(1, 3, Some(5)).rungs(27), [1, 3]);
        assert_eq!(asha(1, 3, Some(3)).rungs(27), [1, 3]);
        assert_eq!(asha(1, 3, None).rungs(1), Vec::<usize>::new());
        assert_eq!(asha(4, 3, None).rungs(4), Vec::<usize>::new());
    }

    /// Nine trials reach a rung one after another (η = 3): each is compared with those before
    /// it. The k-th arrival keeps max(1, ⌊k/3⌋) places.
    #[test]
    fn nine_arrivals_continue_or_stop_as_asha_says() {
        let arrivals = [0.50, 0.40, 0.60, 0.55, 0.70, 0.30, 0.65, 0.65, 0.20];
        let mut seen: Vec<f64> = Vec::new();
        let mut pattern = Vec::new();
        let mut cutoffs = Vec::new();
        for &v in &arrivals {
            let verdict = rung_verdict(v, &seen, 3, true);
            assert_eq!(verdict.compared, seen.len() + 1);
            pattern.push(verdict.continues);
            cutoffs.push(verdict.cutoff);
            seen.push(v);
        }
        // 1: alone, best of 1. 2: 0.40 < 0.50. 3: 0.60 is the best of 3 (keep 1).
        // 4: 0.55 < 0.60 (keep 1). 5: 0.70 best. 6: keep 2 of 6 (0.70, 0.60): 0.30 stops.
        // 7: keep 2 of 7 (0.70, 0.65): 0.65 continues. 8: keep 2 of 8, 0.65 ties 0.65: continues.
        // 9: keep 3 of 9: 0.20 stops.
        assert_eq!(
            pattern,
            [true, false, true, false, true, false, true, true, false]
        );
        assert_eq!(
            cutoffs,
            [0.50, 0.50, 0.60, 0.60, 0.70, 0.60, 0.65, 0.65, 0.65]
        );
    }

    #[test]
    fn a_loss_is_better_lower_and_a_nan_ranks_last() {
        let v = rung_verdict(0.2, &[0.5, 0.9], 3, false);
        assert!(v.continues);
        assert_eq!(v.cutoff, 0.2);
        assert!(!rung_verdict(0.6, &[0.5, 0.9, 0.3], 2, false).continues);
        assert!(rung_verdict(0.5, &[0.5, 0.9, 0.3], 2, false).continues);
        assert!(!rung_verdict(f64::NAN, &[0.9], 2, false).continues);
        assert!(!rung_verdict(f64::NAN, &[0.1], 2, true).continues);
    }
}
