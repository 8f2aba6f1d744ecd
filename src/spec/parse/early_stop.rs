//! `early_stop:`: the method, its validation metric (never a test metric), its rungs and which
//! trials it may stop.

use super::*;
use crate::spec::early_stop::{EarlyStop, RungMetric};

/// What an `early_stop:` mapping looks like, for messages.
const EXAMPLE: &str =
    "`early_stop: {method: asha, metric: val_acc, min_epochs: 1, reduction_factor: 3}`";

impl Parser<'_> {
    /// Validates `early_stop:` at `path`.
    pub(super) fn early_stop(&mut self, v: &Value, path: &[Seg]) -> Option<EarlyStop> {
        let raw: RawEarlyStop = self.section(v, path, EXAMPLE, &|_| None)?;
        let method = match raw.method.given() {
            None => Some(EarlyStopMethod::Asha),
            Some(m) => self.tag::<EarlyStopMethod>(
                m,
                &key(path, "method"),
                "an early-stopping method (asha)",
                ("unknown early-stopping method", "Methods"),
            ),
        };
        let metric = match raw.metric.given() {
            None => Some(RungMetric::ValAcc),
            Some(m) => self.rung_metric(m, &key(path, "metric")),
        };
        let min_epochs = match raw.min_epochs.given() {
            None => Some(1),
            Some(n) => self.usize(
                n,
                &key(path, "min_epochs"),
                1,
                "epochs before the first rung",
            ),
        };
        let reduction_factor = match raw.reduction_factor.given() {
            None => Some(3),
            Some(n) => self.usize(
                n,
                &key(path, "reduction_factor"),
                2,
                "η: the best 1/η of the trials at a rung continue",
            ),
        };
        let max_epochs = match raw.max_epochs.given() {
            None => Some(None),
            Some(n) => self
                .usize(
                    n,
                    &key(path, "max_epochs"),
                    1,
                    "the last epoch a rung may be at",
                )
                .map(Some),
        };
        let baselines = match raw.baselines.given() {
            None => Some(false),
            Some(b) => self.boolean(b, &key(path, "baselines")),
        };
        let (_, metric, min_epochs) = (method?, metric?, min_epochs?);
        let (reduction_factor, max_epochs) = (reduction_factor?, max_epochs?);
        if let Some(max) = max_epochs.filter(|&m| m < min_epochs) {
            self.diag.err(
                &key(path, "max_epochs"),
                format!(
                    "max_epochs {max} is below min_epochs {min_epochs}: no rung fits; raise \
                     max_epochs or lower min_epochs"
                ),
            );
            return None;
        }
        Some(EarlyStop {
            metric,
            min_epochs,
            reduction_factor,
            max_epochs,
            baselines: baselines?,
        })
    }

    /// The rung metric: a validation metric. A test metric is refused: choosing which trials
    /// go on by their test score would leak the test set into the selection.
    fn rung_metric(&mut self, v: &Value, path: &[Seg]) -> Option<RungMetric> {
        let name = self.string(v, path, "a validation metric (val_acc or val_loss)")?;
        if name.starts_with("test") {
            self.diag.err(
                path,
                format!(
                    "`{name}` is a test metric: stopping trials by their test score would select \
                     on the test set and bias every reported test result; use val_acc or \
                     val_loss"
                ),
            );
            return None;
        }
        self.tag(
            v,
            path,
            "a validation metric (val_acc or val_loss)",
            ("unknown rung metric", "Metrics"),
        )
    }

    /// Refuses an `early_stop:` under which no trial of the grid has a rung (every trial's
    /// epochs at or below `min_epochs`): it would never stop anything.
    pub(super) fn check_rungs(&mut self, es: &EarlyStop, epochs: &[Av<usize>], path: &[Seg]) {
        if epochs.iter().all(|e| es.rungs(e.value).is_empty()) {
            let most = epochs.iter().map(|e| e.value).max().unwrap_or(0);
            self.diag.err(
                &key(path, "min_epochs"),
                format!(
                    "no trial has a rung: the first rung (epoch {}) must come before a trial's \
                     last epoch ({most} at most); lower min_epochs or remove early_stop",
                    es.min_epochs
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::early_stop::RungMetric;
    use crate::spec::tests::{err, grid};

    const BASE: &str = "name: es\nsource: {dataset: digits8x8, classes: [0, 1, 2], train_per_class: 20, epochs: 1}\n\
        target: {dataset: digits8x8, classes: [5, 6, 7], train_per_class: 5}\n\
        backbone: cnn4\nfreeze: [0, 2]\nbaselines: [scratch]\nschedule: {kind: constant, lr: 0.01}\n\
        epochs: 9\nimage_size: 8\n";

    #[test]
    fn defaults_are_asha_on_val_acc_from_epoch_one_with_eta_three() {
        let g = grid(&format!("{BASE}early_stop: {{method: asha}}\n"));
        let es = g.early_stop.clone().expect("early_stop");
        assert_eq!(es.metric, RungMetric::ValAcc);
        assert_eq!(es.rungs(9), [1, 3]);
        assert!(!es.baselines);
        let pruned: Vec<bool> = g.trials.iter().map(|t| es.prunes(t)).collect();
        assert_eq!(
            pruned,
            [true, true, false],
            "the scratch baseline is never stopped"
        );
        let without = grid(BASE);
        let keys =
            |g: &crate::spec::Grid| g.trials.iter().map(|t| t.config_json()).collect::<Vec<_>>();
        assert_eq!(keys(&g), keys(&without), "early_stop changes no trial key");
    }

    #[test]
    fn a_test_metric_and_bad_numbers_are_refused_with_the_field() {
        let e = err(&format!(
            "{BASE}early_stop: {{metric: test_acc, reduction_factor: 1, method: hyperband}}\n"
        ));
        let text = e.to_string();
        assert!(
            text.contains("early_stop.metric: `test_acc` is a test metric"),
            "{text}"
        );
        assert!(
            text.contains("early_stop.reduction_factor: must be at least 2"),
            "{text}"
        );
        assert!(
            text.contains("early_stop.method: unknown early-stopping method `hyperband`"),
            "{text}"
        );
        let e = err(&format!("{BASE}early_stop: {{min_epochs: 9}}\n")).to_string();
        assert!(
            e.contains("early_stop.min_epochs: no trial has a rung"),
            "{e}"
        );
        let e = err(&format!(
            "{BASE}early_stop: {{min_epochs: 3, max_epochs: 2}}\n"
        ))
        .to_string();
        assert!(
            e.contains("early_stop.max_epochs: max_epochs 2 is below min_epochs 3"),
            "{e}"
        );
    }
}
