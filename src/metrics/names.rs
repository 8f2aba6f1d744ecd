//! The registry of metric names: every metric thaw records, once, as data.
//!
//! A trial's metrics are stored in the database's long `metrics` table as `(trial, epoch, name,
//! value)`. The names below are that table's vocabulary: training writes them, the views of
//! `src/track/views.sql` pivot them into columns, and the report and the exports read them.
//! Use the constants instead of string literals, so that a rename is one edit here (and a test
//! fails where SQL still uses the old name).
//!
//! - [`Metric`]: one scalar per epoch, e.g. [`VAL_LOSS`] (`val_loss`); all listed in [`ALL`].
//! - [`Family`]: one scalar per block of the backbone, named `<prefix>/<block>`, e.g.
//!   [`LR`] gives `lr/block0` … and `lr/head`; all listed in [`FAMILIES`].
//! - [`lookup`]: the [`Metric`] or [`Family`] a stored name belongs to.
//!
//! Epoch 0 holds evaluations of the model before fine-tuning (no train_*, lr/* or
//! epoch_seconds); [`ECE`], [`ECE_TS`], [`TEMPERATURE`], [`CKA`] and [`WEIGHT_DIST`] are
//! logged once, at the last epoch.

/// Which way a metric improves.
///
/// `higher_is_better` of a [`Metric`] or [`Family`]: `Some(true)` (accuracies), `Some(false)`
/// (losses, errors, time) or `None` for a diagnostic with no better direction (a learning rate,
/// a fitted temperature, representation drift).
pub type HigherIsBetter = Option<bool>;

/// One metric recorded per epoch under a fixed name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The name stored in `metrics.name`.
    pub name: &'static str,
    /// A short human label, for tables and plot axes.
    pub label: &'static str,
    /// The unit of the value: `"fraction"` (0 to 1), `"nats"`, `"s"`, or `""` (dimensionless).
    pub unit: &'static str,
    /// See [`HigherIsBetter`].
    pub higher_is_better: HigherIsBetter,
}

/// Metrics recorded once per block of the backbone (and the head), named `<prefix>/<block>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Family {
    /// The part of the name before the `/`.
    pub prefix: &'static str,
    /// A short human label; the block name follows it.
    pub label: &'static str,
    /// As [`Metric::unit`].
    pub unit: &'static str,
    /// See [`HigherIsBetter`].
    pub higher_is_better: HigherIsBetter,
}

impl Family {
    /// The stored name of this family's metric for `block`, e.g. `lr/block0`.
    pub fn name(&self, block: &str) -> String {
        format!("{}/{block}", self.prefix)
    }

    /// The block of a stored name of this family (`lr/block0` -> `block0`), or `None`.
    pub fn block_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        name.strip_prefix(self.prefix)?
            .strip_prefix('/')
            .filter(|b| !b.is_empty())
    }
}

const fn metric(
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    higher_is_better: HigherIsBetter,
) -> Metric {
    Metric {
        name,
        label,
        unit,
        higher_is_better,
    }
}

/// Mean cross-entropy over the epoch's training batches.
pub const TRAIN_LOSS: Metric = metric("train_loss", "train loss", "nats", Some(false));
/// Accuracy over the epoch's training batches.
pub const TRAIN_ACC: Metric = metric("train_acc", "train accuracy", "fraction", Some(true));
/// Cross-entropy on the target validation split.
pub const VAL_LOSS: Metric = metric("val_loss", "validation loss", "nats", Some(false));
/// Accuracy on the target validation split.
pub const VAL_ACC: Metric = metric("val_acc", "validation accuracy", "fraction", Some(true));
/// Accuracy on the target test split.
pub const TEST_ACC: Metric = metric("test_acc", "test accuracy", "fraction", Some(true));
/// Accuracy of the source head on the source test split (forgetting); for a language-model
/// source, its next-token accuracy on the held-out source texts.
pub const SOURCE_ACC: Metric = metric("source_acc", "source accuracy", "fraction", Some(true));
/// Next-token cross-entropy of a language-model source head on the held-out source texts
/// (forgetting shows as its rise).
pub const SOURCE_LM_LOSS: Metric = metric(
    "source_lm_loss",
    "source language-model loss per token",
    "nats",
    Some(false),
);
/// Wall-clock seconds of the epoch (training, evaluation, bookkeeping).
pub const EPOCH_SECONDS: Metric = metric("epoch_seconds", "epoch time", "s", Some(false));
/// Wall-clock seconds of the epoch's evaluation of every split (part of `epoch_seconds`; the
/// rest is training and bookkeeping). Epoch 0 records the evaluation before fine-tuning.
pub const EVAL_SECONDS: Metric = metric("eval_seconds", "evaluation time", "s", Some(false));
/// Parameters trained in the epoch (trainable blocks and the head; epoch 0: those of epoch 1's
/// start).
pub const TRAINABLE_PARAMS: Metric = metric("trainable_params", "trainable parameters", "", None);
/// 1 on an epoch whose validation, test and source values come from the fixed per-class
/// subsets of `eval: {max_per_class: N}` rather than the full splits; absent on fully
/// evaluated epochs (epoch 0, the last, the best) and on epochs not evaluated at all.
pub const EVAL_SUBSET: Metric = metric("eval_subset", "evaluated on subsets", "", None);
/// Expected calibration error on the test split (last epoch).
pub const ECE: Metric = metric("ece", "ECE", "fraction", Some(false));
/// ECE after temperature scaling fitted on the validation split (last epoch).
pub const ECE_TS: Metric = metric(
    "ece_ts",
    "ECE (temperature-scaled)",
    "fraction",
    Some(false),
);
/// The temperature fitted on the validation split (last epoch).
pub const TEMPERATURE: Metric = metric("temperature", "temperature", "", None);

/// Every fixed-name metric, in the order training records them.
pub const ALL: &[Metric] = &[
    TRAIN_LOSS,
    TRAIN_ACC,
    VAL_LOSS,
    VAL_ACC,
    TEST_ACC,
    SOURCE_ACC,
    SOURCE_LM_LOSS,
    EPOCH_SECONDS,
    EVAL_SECONDS,
    TRAINABLE_PARAMS,
    EVAL_SUBSET,
    ECE,
    ECE_TS,
    TEMPERATURE,
];

/// The metrics that measure wall time: they differ between two runs of the same trial.
pub const TIMINGS: &[&str] = &[EPOCH_SECONDS.name, EVAL_SECONDS.name];

/// The block name of the classification head in [`LR`].
pub const HEAD: &str = "head";

/// Learning rate of a block (or the [`HEAD`]) at the epoch's last step.
pub const LR: Family = Family {
    prefix: "lr",
    label: "learning rate",
    unit: "",
    higher_is_better: None,
};
/// Linear CKA between a block's outputs before and after fine-tuning (1 = unchanged).
pub const CKA: Family = Family {
    prefix: "cka",
    label: "CKA to pretrained",
    unit: "",
    higher_is_better: None,
};
/// L2 distance between a block's parameters before and after fine-tuning.
pub const WEIGHT_DIST: Family = Family {
    prefix: "weight_dist",
    label: "weight distance",
    unit: "",
    higher_is_better: None,
};

/// Every per-block family.
pub const FAMILIES: &[Family] = &[LR, CKA, WEIGHT_DIST];

/// What a stored metric name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known<'a> {
    /// One of [`ALL`].
    Metric(Metric),
    /// A member of one of [`FAMILIES`], for the block named.
    Block(Family, &'a str),
}

/// The registry entry of the stored name `name`, or `None` for a name thaw does not write.
pub fn lookup(name: &str) -> Option<Known<'_>> {
    if let Some(m) = ALL.iter().find(|m| m.name == name) {
        return Some(Known::Metric(*m));
    }
    FAMILIES
        .iter()
        .find_map(|f| f.block_of(name).map(|b| Known::Block(*f, b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_distinct_from_the_families() {
        for (i, m) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|o| o.name != m.name), "{}", m.name);
            assert!(!m.name.contains('/'), "{}", m.name);
            assert!(["fraction", "nats", "s", ""].contains(&m.unit));
            assert_eq!(lookup(m.name), Some(Known::Metric(*m)));
        }
    }

    #[test]
    fn family_names_round_trip() {
        for f in FAMILIES {
            let name = f.name("block2");
            assert_eq!(f.block_of(&name), Some("block2"));
            assert_eq!(lookup(&name), Some(Known::Block(*f, "block2")));
        }
        assert_eq!(LR.name(HEAD), "lr/head");
        assert_eq!(LR.block_of("lr/"), None);
        assert_eq!(LR.block_of("lrx/block0"), None);
        assert_eq!(
            lookup("weight_dist/layer1"),
            Some(Known::Block(WEIGHT_DIST, "layer1"))
        );
        assert_eq!(lookup("accuracy"), None);
    }
}
