//! The parsed grid before expansion: axes, zip groups, exclude rules.

use super::super::error::Seg;
use super::super::search::SearchSpace;
use super::super::trial::*;
use super::super::EvalSettings;

/// A value of an axis together with where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Av<T> {
    pub value: T,
    pub path: Vec<Seg>,
}

/// The grid's axes, in the order of the cartesian product (seed innermost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AxisId {
    Backbone,
    Freeze,
    TrainPerClass,
    Shift,
    Schedule,
    Optimizer,
    Epochs,
    BatchSize,
    Precision,
    MaxLength,
    Seed,
}

impl AxisId {
    pub const ALL: [AxisId; 11] = [
        AxisId::Backbone,
        AxisId::Freeze,
        AxisId::TrainPerClass,
        AxisId::Shift,
        AxisId::Schedule,
        AxisId::Optimizer,
        AxisId::Epochs,
        AxisId::BatchSize,
        AxisId::Precision,
        AxisId::MaxLength,
        AxisId::Seed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AxisId::Backbone => "backbone",
            AxisId::Freeze => "freeze",
            AxisId::TrainPerClass => "train_per_class",
            AxisId::Shift => "shift",
            AxisId::Schedule => "schedule",
            AxisId::Optimizer => "optimizer",
            AxisId::Epochs => "epochs",
            AxisId::BatchSize => "batch_size",
            AxisId::Precision => "precision",
            AxisId::MaxLength => "max_length",
            AxisId::Seed => "seed",
        }
    }

    pub fn index(self) -> usize {
        AxisId::ALL.iter().position(|a| *a == self).unwrap()
    }

    pub(crate) fn from_name(s: &str) -> Option<AxisId> {
        AxisId::ALL.iter().copied().find(|a| a.name() == s)
    }

    pub(crate) fn names() -> Vec<&'static str> {
        AxisId::ALL.iter().map(|a| a.name()).collect()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Axes {
    pub backbone: Vec<Av<BackboneKind>>,
    pub freeze: Vec<Av<Freeze>>,
    pub train_per_class: Vec<Av<usize>>,
    pub shift: Vec<Av<Shift>>,
    pub schedule: Vec<Av<Schedule>>,
    pub optimizer: Vec<Av<Optimizer>>,
    pub epochs: Vec<Av<usize>>,
    pub batch_size: Vec<Av<usize>>,
    pub precision: Vec<Av<Precision>>,
    /// `None` where the grid sets no `max_length`.
    pub max_length: Vec<Av<Option<usize>>>,
    pub seed: Vec<Av<u64>>,
}

impl Axes {
    pub fn len(&self, a: AxisId) -> usize {
        match a {
            AxisId::Backbone => self.backbone.len(),
            AxisId::Freeze => self.freeze.len(),
            AxisId::TrainPerClass => self.train_per_class.len(),
            AxisId::Shift => self.shift.len(),
            AxisId::Schedule => self.schedule.len(),
            AxisId::Optimizer => self.optimizer.len(),
            AxisId::Epochs => self.epochs.len(),
            AxisId::BatchSize => self.batch_size.len(),
            AxisId::Precision => self.precision.len(),
            AxisId::MaxLength => self.max_length.len(),
            AxisId::Seed => self.seed.len(),
        }
    }
}

/// A `zip:` group: axes iterated together.
#[derive(Clone, Debug)]
pub(crate) struct ZipGroup {
    pub axes: Vec<AxisId>,
    pub path: Vec<Seg>,
}

/// An `exclude:` rule: a combination is dropped when, for every listed axis, its value index
/// is one of the given indices.
#[derive(Clone, Debug)]
pub(crate) struct Exclude {
    pub conds: Vec<(AxisId, Vec<usize>)>,
}

#[derive(Clone, Debug)]
pub(crate) struct Parsed {
    pub name: String,
    pub description: String,
    pub source: SourceTask,
    pub target_dataset: DatasetSource,
    pub target_classes: Vec<u32>,
    pub axes: Axes,
    /// `baselines: [scratch]`: add every trial trained from scratch.
    pub scratch: bool,
    /// `baselines: [linear_probe]`: add every pretrained trial as a linear probe.
    pub linear_probe: bool,
    pub image_size: usize,
    /// `weights:` (then `source` is [`SourceTask::unused`]).
    pub weights: Option<Weights>,
    /// `input_size:`.
    pub input_size: Option<usize>,
    /// `pooling:`.
    pub pooling: Option<Pooling>,
    pub zips: Vec<ZipGroup>,
    pub excludes: Vec<Exclude>,
    pub excludes_path: Vec<Seg>,
    /// `search:`: samples combined with every crossed trial.
    pub search: Option<SearchSpace>,
    /// `early_stop:`.
    pub early_stop: Option<super::super::early_stop::EarlyStop>,
    /// `eval:`.
    pub eval: EvalSettings,
}
