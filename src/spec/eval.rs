//! The `eval:` setting: how often, and on how many examples, the epochs of a fine-tuning run
//! are evaluated. It changes what the intermediate epochs record, never the training nor the
//! final metrics, so it is not part of a trial's configuration or key.

/// Examples per class of each held-out split that an intermediate epoch is evaluated on,
/// unless the grid says otherwise (see the README's *Evaluation cost* for the measurement
/// behind it).
pub const DEFAULT_MAX_PER_CLASS: usize = 50;

/// `eval: {every: K, max_per_class: N}`.
///
/// Epoch 0 (before fine-tuning) and the last epoch are always evaluated, on the full splits;
/// so is the best epoch (lowest validation loss), after the run. The other epochs are
/// evaluated every `every`-th epoch, on a fixed stratified subset of at most `max_per_class`
/// examples per class of each split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EvalSettings {
    /// Evaluate every `every`-th epoch (at least 1).
    pub every: usize,
    /// At most this many examples per class of each split in an intermediate epoch's
    /// evaluation; `None` (`all`): the full splits every epoch.
    pub max_per_class: Option<usize>,
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            every: 1,
            max_per_class: Some(DEFAULT_MAX_PER_CLASS),
        }
    }
}

impl EvalSettings {
    /// Every epoch on the full splits (`eval: {every: 1, max_per_class: all}`).
    pub fn full() -> Self {
        EvalSettings {
            every: 1,
            max_per_class: None,
        }
    }

    /// Whether epoch `epoch` (0 = before fine-tuning) of a run of `epochs` epochs is
    /// evaluated: epoch 0, the last, every `every`-th, and those in `must`.
    pub fn evaluates(&self, epoch: usize, epochs: usize, must: &[usize]) -> bool {
        epoch == 0
            || epoch >= epochs
            || epoch.is_multiple_of(self.every.max(1))
            || must.contains(&epoch)
    }

    /// The settings in words, for reports: "at most 50 examples per class of each split,
    /// every 2nd epoch".
    pub fn describe(&self) -> String {
        let cap = match self.max_per_class {
            Some(n) => format!("at most {n} examples per class of each split"),
            None => "the full splits".to_string(),
        };
        let every = match self.every {
            1 => "every epoch".to_string(),
            2 => "every 2nd epoch".to_string(),
            3 => "every 3rd epoch".to_string(),
            k => format!("every {k}th epoch"),
        };
        format!("{cap}, {every}")
    }

    /// The `eval:` setting of a grid file's text (a sweep's recorded grid); the defaults where
    /// it has none.
    pub fn of_grid_yaml(yaml: &str) -> Self {
        super::parse::eval_of_yaml(yaml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_zero_the_last_every_kth_and_forced_epochs_are_evaluated() {
        let e = EvalSettings {
            every: 3,
            max_per_class: Some(5),
        };
        let evaluated: Vec<usize> = (0..=8).filter(|&i| e.evaluates(i, 8, &[4])).collect();
        assert_eq!(evaluated, vec![0, 3, 4, 6, 8]);
        assert!((0..=8).all(|i| EvalSettings::default().evaluates(i, 8, &[])));
    }

    #[test]
    fn describes_the_cap_and_the_period() {
        let e = EvalSettings {
            every: 2,
            max_per_class: Some(50),
        };
        assert_eq!(
            e.describe(),
            "at most 50 examples per class of each split, every 2nd epoch"
        );
        assert_eq!(
            EvalSettings::full().describe(),
            "the full splits, every epoch"
        );
    }

    #[test]
    fn grid_key_reads_caps_and_period_and_stays_out_of_trial_keys() {
        use crate::spec::tests::{err, find, grid, with, BASE};
        assert_eq!(grid(BASE).eval, EvalSettings::default());
        let capped = grid(&with("eval: {every: 2, max_per_class: 3}\n"));
        let expected = EvalSettings {
            every: 2,
            max_per_class: Some(3),
        };
        assert_eq!(capped.eval, expected);
        assert_eq!(
            EvalSettings::of_grid_yaml(&with("eval: {every: 2, max_per_class: 3}\n")),
            expected
        );
        let all = grid(&with("eval: {max_per_class: all}\n"));
        assert_eq!(all.eval, EvalSettings::full());
        // The same trials, configurations and keys as without `eval:`.
        let plain = grid(BASE);
        assert_eq!(
            plain.trials[0].config_json(),
            capped.trials[0].config_json()
        );
        assert_eq!(plain.trials[0].key("f"), all.trials[0].key("f"));

        let e = err(&with("eval: {every: 0, max_per_class: some}\n"));
        let every = find(&e, "eval.every");
        assert_eq!(every.line, Some(12), "{e}");
        assert!(every.message.contains("at least 1"), "{e}");
        let cap = find(&e, "eval.max_per_class");
        assert!(cap.message.contains("`all`"), "{e}");
        let e = err(&with("eval: {evry: 2}\n"));
        assert!(find(&e, "eval.evry").message.contains("every"), "{e}");
    }
}
