//! The searchable parameters, declared once: each one's name in `search.space`, the values it
//! takes, where the grid writes it, and how it is read from and written into a [`TrialSpec`].

use super::Level;
use crate::spec::trial::*;

/// What values a parameter takes, and so which distributions fit it.
#[derive(Clone, Copy, Debug)]
pub enum ValueKind {
    /// A real number for which `ok` holds (`range` says which, for messages): sampled with
    /// `uniform`, `log_uniform`, `int` or `choice`.
    Real {
        ok: fn(f64) -> bool,
        range: &'static str,
    },
    /// A whole number `>= min`: sampled with `int` or `choice`.
    Whole { min: u64, what: &'static str },
    /// A number of frozen blocks, or `all`: sampled with `int` or `choice`.
    Freeze,
}

/// One searchable parameter.
#[derive(Debug)]
pub struct ParamDef {
    /// Its key in `search.space` (and in `--dry-run` columns).
    pub name: &'static str,
    /// Where the grid writes the value the sample replaces (for messages).
    pub grid_key: &'static str,
    pub kind: ValueKind,
    /// The setting the trial must have for the parameter to apply, e.g. `a cosine schedule`
    /// (`None`: it always applies).
    pub needs: Option<&'static str>,
    get: fn(&TrialSpec) -> Option<Level>,
    set: fn(&mut TrialSpec, &Level),
}

impl ParamDef {
    /// The parameter's value in a trial; `None` where it does not apply (warm-up of a schedule
    /// that is not cosine, momentum of AdamW).
    pub fn value(&self, trial: &TrialSpec) -> Option<Level> {
        (self.get)(trial)
    }

    /// The parameter's value in a trial's stored configuration (`trials.config_json`); `None`
    /// when the JSON is not a trial configuration or the parameter does not apply.
    pub fn value_in_config(&self, config_json: &str) -> Option<Level> {
        let trial: TrialSpec = serde_json::from_str(config_json).ok()?;
        self.value(&trial)
    }

    /// Writes `level` into the trial (a no-op where the parameter does not apply, which
    /// expansion rules out beforehand).
    pub(crate) fn apply(&self, trial: &mut TrialSpec, level: &Level) {
        (self.set)(trial, level)
    }
}

/// Parameters are one per name.
impl PartialEq for ParamDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The parameter named `name`.
pub fn param(name: &str) -> Option<&'static ParamDef> {
    PARAMS.iter().find(|p| p.name == name)
}

/// Every parameter's name, in registry order.
pub(crate) fn param_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| PARAMS.iter().map(|p| p.name).collect())
}

fn real(l: &Level) -> f64 {
    match l {
        Level::Real(x) => *x,
        Level::Whole(n) => *n as f64,
        Level::All => f64::NAN,
    }
}

fn whole(l: &Level) -> usize {
    match l {
        Level::Whole(n) => *n as usize,
        Level::Real(x) => *x as usize,
        Level::All => usize::MAX,
    }
}

fn count(n: usize) -> Option<Level> {
    Some(Level::Whole(n as u64))
}

/// Every searchable parameter, in the order `--dry-run` shows them and Sobol dimensions are
/// assigned.
pub static PARAMS: [ParamDef; 10] = [
    ParamDef {
        name: "lr",
        grid_key: "schedule.lr",
        kind: ValueKind::Real {
            ok: |x| x > 0.0,
            range: "> 0",
        },
        needs: None,
        get: |t| Some(Level::Real(t.schedule.lr)),
        set: |t, l| t.schedule.lr = real(l),
    },
    ParamDef {
        name: "layer_decay",
        grid_key: "schedule.layer_decay",
        kind: ValueKind::Real {
            ok: |x| x >= 1.0,
            range: ">= 1 (1 = same rate for every block)",
        },
        needs: None,
        get: |t| Some(Level::Real(t.schedule.layer_decay)),
        set: |t, l| t.schedule.layer_decay = real(l),
    },
    ParamDef {
        name: "warmup_epochs",
        grid_key: "schedule.warmup_epochs",
        kind: ValueKind::Real {
            ok: |x| x >= 0.0,
            range: ">= 0",
        },
        needs: Some("a cosine schedule (`schedule: {kind: cosine, ...}`)"),
        get: |t| match t.schedule.kind {
            ScheduleKind::Cosine { warmup_epochs } => Some(Level::Real(warmup_epochs)),
            _ => None,
        },
        set: |t, l| {
            if let ScheduleKind::Cosine { warmup_epochs } = &mut t.schedule.kind {
                *warmup_epochs = real(l);
            }
        },
    },
    ParamDef {
        name: "weight_decay",
        grid_key: "optimizer.weight_decay",
        kind: ValueKind::Real {
            ok: |x| x >= 0.0,
            range: ">= 0",
        },
        needs: None,
        get: |t| match t.optimizer {
            Optimizer::Sgd { weight_decay, .. } | Optimizer::Adamw { weight_decay, .. } => {
                Some(Level::Real(weight_decay))
            }
        },
        set: |t, l| match &mut t.optimizer {
            Optimizer::Sgd { weight_decay, .. } | Optimizer::Adamw { weight_decay, .. } => {
                *weight_decay = real(l)
            }
        },
    },
    ParamDef {
        name: "momentum",
        grid_key: "optimizer.momentum",
        kind: ValueKind::Real {
            ok: |x| (0.0..1.0).contains(&x),
            range: "in [0, 1)",
        },
        needs: Some("the sgd optimizer (`optimizer: {kind: sgd, ...}`)"),
        get: |t| match t.optimizer {
            Optimizer::Sgd { momentum, .. } => Some(Level::Real(momentum)),
            Optimizer::Adamw { .. } => None,
        },
        set: |t, l| {
            if let Optimizer::Sgd { momentum, .. } = &mut t.optimizer {
                *momentum = real(l);
            }
        },
    },
    ParamDef {
        name: "probe_epochs",
        grid_key: "schedule.probe_epochs",
        kind: ValueKind::Whole {
            min: 0,
            what: "epochs of linear probing before fine-tuning (LP-FT)",
        },
        needs: None,
        get: |t| count(t.schedule.probe_epochs),
        set: |t, l| t.schedule.probe_epochs = whole(l),
    },
    ParamDef {
        name: "freeze",
        grid_key: "freeze",
        kind: ValueKind::Freeze,
        needs: None,
        get: |t| {
            Some(match t.freeze {
                Freeze::Blocks(k) => Level::Whole(k as u64),
                Freeze::All => Level::All,
            })
        },
        set: |t, l| {
            t.freeze = match l {
                Level::All => Freeze::All,
                other => Freeze::Blocks(whole(other)),
            }
        },
    },
    ParamDef {
        name: "train_per_class",
        grid_key: "target.train_per_class",
        kind: ValueKind::Whole {
            min: 1,
            what: "training examples per class",
        },
        needs: None,
        get: |t| count(t.target.train_per_class),
        set: |t, l| t.target.train_per_class = whole(l),
    },
    ParamDef {
        name: "epochs",
        grid_key: "epochs",
        kind: ValueKind::Whole {
            min: 1,
            what: "number of training epochs",
        },
        needs: None,
        get: |t| count(t.epochs),
        set: |t, l| t.epochs = whole(l),
    },
    ParamDef {
        name: "batch_size",
        grid_key: "batch_size",
        kind: ValueKind::Whole {
            min: 1,
            what: "examples per batch",
        },
        needs: None,
        get: |t| count(t.batch_size),
        set: |t, l| t.batch_size = whole(l),
    },
];
