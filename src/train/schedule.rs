//! Learning-rate schedules, discriminative (per-block) rates and gradual unfreezing.
//!
//! Steps are counted from 0 over the whole run: `t` in `0..total_steps`.

use crate::spec::{Schedule, ScheduleKind};

/// A schedule bound to a run's length.
#[derive(Clone, Debug)]
pub struct LrPlan {
    schedule: Schedule,
    steps_per_epoch: usize,
    total_steps: usize,
}

impl LrPlan {
    /// Plans `epochs` epochs of `steps_per_epoch` optimizer steps each.
    pub fn new(schedule: &Schedule, epochs: usize, steps_per_epoch: usize) -> LrPlan {
        LrPlan {
            schedule: schedule.clone(),
            steps_per_epoch: steps_per_epoch.max(1),
            total_steps: (epochs * steps_per_epoch).max(1),
        }
    }

    /// Factor applied to the peak rate at step `t`.
    pub fn multiplier(&self, t: usize) -> f64 {
        let total = self.total_steps as f64;
        match &self.schedule.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Step { step_epochs, gamma } => {
                let epoch = t / self.steps_per_epoch;
                gamma.powi((epoch / step_epochs.max(&1)) as i32)
            }
            ScheduleKind::Cosine { warmup_epochs } => {
                let warmup = (warmup_epochs * self.steps_per_epoch as f64).round();
                let t = t as f64;
                if t < warmup {
                    (t + 1.0) / warmup
                } else {
                    let progress = (t - warmup) / (total - warmup).max(1.0);
                    0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
                }
            }
            ScheduleKind::Stlr { cut_frac, ratio } => {
                stlr_multiplier(t, self.total_steps, *cut_frac, *ratio)
            }
        }
    }

    /// Learning rate of the head at step `t` (the peak rate times the schedule).
    pub fn head_lr(&self, t: usize) -> f64 {
        self.schedule.lr * self.multiplier(t)
    }

    /// Learning rate of block `block` (0 = nearest the input) of `n_blocks` at step `t`:
    /// the head's rate divided by `layer_decay` once per block between it and the head.
    pub fn block_lr(&self, block: usize, n_blocks: usize, t: usize) -> f64 {
        let depth_below_head = (n_blocks - block) as i32;
        self.head_lr(t) / self.schedule.layer_decay.powi(depth_below_head)
    }

    /// First trainable block in epoch `epoch` (0-based) for a trial that freezes `frozen`
    /// blocks of `n_blocks`. With gradual unfreezing only the head trains in epoch 0 and one
    /// more block from the top is unfrozen each epoch; with LP-FT only the head trains for the
    /// first `probe_epochs` epochs.
    pub fn trainable_from(&self, epoch: usize, frozen: usize, n_blocks: usize) -> usize {
        if epoch < self.schedule.probe_epochs {
            n_blocks
        } else if self.schedule.gradual_unfreeze {
            frozen.max(n_blocks.saturating_sub(epoch))
        } else {
            frozen
        }
    }
}

/// Slanted triangular learning rate (Howard & Ruder 2018, eq. 3) as a multiplier of `lr_max`:
/// cut = ⌊T·cut_frac⌋; p = t/cut if t < cut else 1 − (t − cut)/(cut·(1/cut_frac − 1));
/// factor = (1 + p(ratio − 1))/ratio.
pub fn stlr_multiplier(t: usize, total: usize, cut_frac: f64, ratio: f64) -> f64 {
    let cut = ((total as f64) * cut_frac).floor().max(1.0);
    let t = t as f64;
    let p = if t < cut {
        t / cut
    } else {
        1.0 - (t - cut) / (cut * (1.0 / cut_frac - 1.0))
    };
    (1.0 + p.max(0.0) * (ratio - 1.0)) / ratio
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: ScheduleKind, layer_decay: f64, gradual_unfreeze: bool) -> Schedule {
        Schedule {
            kind,
            lr: 0.1,
            layer_decay,
            gradual_unfreeze,
            probe_epochs: 0,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn stlr_matches_the_ulmfit_formula_at_known_points() {
        // T = 1000, cut_frac 0.1, ratio 32: cut = 100.
        assert!(close(stlr_multiplier(0, 1000, 0.1, 32.0), 1.0 / 32.0));
        assert!(close(
            stlr_multiplier(50, 1000, 0.1, 32.0),
            (1.0 + 0.5 * 31.0) / 32.0
        ));
        assert!(close(stlr_multiplier(100, 1000, 0.1, 32.0), 1.0));
        // After the cut: p = 1 - (t - cut) / (cut (1/cut_frac - 1)) = 1 - 450/900 = 0.5.
        assert!(close(
            stlr_multiplier(550, 1000, 0.1, 32.0),
            (1.0 + 0.5 * 31.0) / 32.0
        ));
        // The last step: p = 1 - 899/900, just above lr_max / ratio.
        assert!(close(
            stlr_multiplier(999, 1000, 0.1, 32.0),
            (1.0 + 31.0 / 900.0) / 32.0
        ));
    }

    #[test]
    fn cosine_warms_up_linearly_then_decays_to_zero() {
        let plan = LrPlan::new(
            &sched(ScheduleKind::Cosine { warmup_epochs: 1.0 }, 1.0, false),
            5,
            10,
        );
        assert!(close(plan.multiplier(0), 0.1));
        assert!(close(plan.multiplier(4), 0.5));
        assert!(close(plan.multiplier(9), 1.0));
        assert!(close(plan.multiplier(10), 1.0));
        // Halfway through the 40 decay steps: cos(pi/2) = 0, factor 0.5.
        assert!(close(plan.multiplier(30), 0.5));
        assert!(plan.multiplier(49) < 0.01);
        assert!(close(plan.head_lr(30), 0.05));
    }

    #[test]
    fn step_schedule_decays_every_step_epochs() {
        let plan = LrPlan::new(
            &sched(
                ScheduleKind::Step {
                    step_epochs: 2,
                    gamma: 0.5,
                },
                1.0,
                false,
            ),
            6,
            3,
        );
        assert!(close(plan.multiplier(0), 1.0));
        assert!(close(plan.multiplier(5), 1.0));
        assert!(close(plan.multiplier(6), 0.5));
        assert!(close(plan.multiplier(17), 0.25));
    }

    #[test]
    fn layer_decay_divides_the_rate_once_per_block_below_the_head() {
        let plan = LrPlan::new(&sched(ScheduleKind::Constant, 2.6, false), 1, 1);
        assert!(close(plan.block_lr(3, 4, 0), 0.1 / 2.6));
        assert!(close(plan.block_lr(0, 4, 0), 0.1 / 2.6f64.powi(4)));
        let flat = LrPlan::new(&sched(ScheduleKind::Constant, 1.0, false), 1, 1);
        assert!(close(flat.block_lr(0, 4, 0), 0.1));
    }

    #[test]
    fn gradual_unfreezing_adds_one_block_per_epoch_but_respects_freeze() {
        let plan = LrPlan::new(&sched(ScheduleKind::Constant, 1.0, true), 6, 1);
        let from: Vec<_> = (0..6).map(|e| plan.trainable_from(e, 0, 4)).collect();
        assert_eq!(from, vec![4, 3, 2, 1, 0, 0]);
        let from: Vec<_> = (0..6).map(|e| plan.trainable_from(e, 2, 4)).collect();
        assert_eq!(from, vec![4, 3, 2, 2, 2, 2]);
        let fixed = LrPlan::new(&sched(ScheduleKind::Constant, 1.0, false), 6, 1);
        assert_eq!(fixed.trainable_from(0, 2, 4), 2);
        let mut lp_ft = sched(ScheduleKind::Constant, 1.0, false);
        lp_ft.probe_epochs = 2;
        let lp_ft = LrPlan::new(&lp_ft, 6, 1);
        let from: Vec<_> = (0..4).map(|e| lp_ft.trainable_from(e, 1, 4)).collect();
        assert_eq!(from, vec![4, 4, 1, 1]);
    }
}
