//! `search:`: sampled configurations instead of (or on top of) crossed axes.
//!
//! A grid's `search:` names a method (`random` or `sobol`), a number of `trials` (samples), a
//! `seed` and a `space` of parameter distributions. Sample `i` depends only on (seed, method,
//! `i`, space), so raising `trials` keeps the samples already drawn and their trials' keys.
//! Every trial the grid's axes cross is combined with each sample ([`trials`]). Sampled reals
//! are rounded to 3 significant digits so that keys and labels stay readable.
//!
//! [`search_space`] reads the space back from a sweep's stored grid text (no dataset needed);
//! [`ParamDef::value`] gives each parameter's value in a trial.

mod params;
mod sample;
mod trials;

pub(crate) use params::param_names;
pub use params::{param, ParamDef, ValueKind, PARAMS};
pub(crate) use sample::SOBOL_MAX_TRIALS;
pub(crate) use trials::{sampled_cells, sampled_trials};

use super::error::{Diag, Seg};
use super::trial::DatasetSource;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// How sample points are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMethod {
    /// Independent uniform draws, one stream per (seed, sample, parameter).
    Random,
    /// An Owen-scrambled Sobol sequence (quasi-random: the first 2^k samples stratify every
    /// parameter's range into 2^k equal parts), one dimension per parameter.
    Sobol,
}

impl SearchMethod {
    /// The grid's name for it.
    pub fn name(self) -> &'static str {
        match self {
            SearchMethod::Random => "random",
            SearchMethod::Sobol => "sobol",
        }
    }
}

/// One value of a searchable parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum Level {
    /// A real number (learning rate, decay, ...).
    Real(f64),
    /// A whole number (epochs, blocks frozen, ...).
    Whole(u64),
    /// `freeze: all`.
    All,
}

impl Level {
    /// The value as a number (`None` for `all`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Level::Real(x) => Some(*x),
            Level::Whole(n) => Some(*n as f64),
            Level::All => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Real(x) => write!(f, "{x}"),
            Level::Whole(n) => write!(f, "{n}"),
            Level::All => f.write_str("all"),
        }
    }
}

/// A parameter's distribution in `search.space`.
#[derive(Clone, Debug, PartialEq)]
pub enum Distribution {
    /// `log_uniform: [low, high]`, 0 < low < high: uniform in log space.
    LogUniform { low: f64, high: f64 },
    /// `uniform: [low, high]`, low < high.
    Uniform { low: f64, high: f64 },
    /// `int: [low, high]`: the whole numbers low..=high, each equally likely.
    Int { low: u64, high: u64 },
    /// `choice: [...]`: one of the listed values, each equally likely.
    Choice(Vec<Level>),
}

impl Distribution {
    /// The name the grid writes (`log_uniform`, `uniform`, `int`, `choice`).
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::LogUniform { .. } => "log_uniform",
            Distribution::Uniform { .. } => "uniform",
            Distribution::Int { .. } => "int",
            Distribution::Choice(_) => "choice",
        }
    }

    /// The smallest and largest numeric values it can give (`all` left out; `None` when it
    /// gives no number).
    pub fn extent(&self) -> Option<(f64, f64)> {
        match self {
            Distribution::LogUniform { low, high } | Distribution::Uniform { low, high } => {
                Some((*low, *high))
            }
            Distribution::Int { low, high } => Some((*low as f64, *high as f64)),
            Distribution::Choice(items) => {
                let xs: Vec<f64> = items.iter().filter_map(Level::as_f64).collect();
                let lo = xs.iter().copied().reduce(f64::min)?;
                let hi = xs.iter().copied().reduce(f64::max)?;
                Some((lo, hi))
            }
        }
    }
}

impl fmt::Display for Distribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distribution::LogUniform { low, high } | Distribution::Uniform { low, high } => {
                write!(f, "{} [{low}, {high}]", self.name())
            }
            Distribution::Int { low, high } => write!(f, "int [{low}, {high}]"),
            Distribution::Choice(items) => {
                let items: Vec<String> = items.iter().map(Level::to_string).collect();
                write!(f, "choice [{}]", items.join(", "))
            }
        }
    }
}

/// A validated `search:` section.
#[derive(Clone, Debug)]
pub struct SearchSpace {
    pub method: SearchMethod,
    /// Number of samples drawn.
    pub trials: usize,
    pub seed: u64,
    /// The sampled parameters with their distributions, in registry order ([`PARAMS`]).
    pub params: Vec<(&'static ParamDef, Distribution)>,
}

/// One sample: a value for every parameter of the space, in the space's order.
pub type Sample = Vec<(&'static ParamDef, Level)>;

impl SearchSpace {
    /// The distribution of the parameter named `name`, if it is sampled.
    pub fn distribution(&self, name: &str) -> Option<&Distribution> {
        self.params
            .iter()
            .find(|(p, _)| p.name == name)
            .map(|(_, d)| d)
    }

    /// The `i`-th sample (the same whatever `trials` is).
    pub fn sample(&self, i: usize) -> Sample {
        self.params
            .iter()
            .enumerate()
            .map(|(dim, (p, d))| {
                let u = sample::unit_point(self.method, self.seed, i, dim, p.name);
                (*p, sample::level_at(d, u))
            })
            .collect()
    }

    /// Samples `0..trials`.
    pub fn samples(&self) -> Vec<Sample> {
        (0..self.trials).map(|i| self.sample(i)).collect()
    }

    /// One line for `--dry-run`: `random search, 24 samples, seed 0: lr ~ log_uniform [...]`.
    pub fn summary(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(p, d)| format!("{} ~ {d}", p.name))
            .collect();
        format!(
            "{} search, {} samples, seed {}: {}",
            self.method.name(),
            self.trials,
            self.seed,
            params.join(", ")
        )
    }
}

/// The search space of a grid's text (e.g. a sweep's stored `spec_yaml`), without reading any
/// dataset; `None` when the grid has no `search:` or it is not valid.
pub fn search_space(yaml: &str) -> Option<SearchSpace> {
    let root: serde_norway::Value = serde_norway::from_str(yaml).ok()?;
    let v = root.get("search")?;
    let mut diag = Diag::default();
    let space = super::parse::Parser {
        diag: &mut diag,
        base_dir: PathBuf::new(),
        catalog: &NoClasses,
    }
    .search(v, &[Seg::Key("search".into())]);
    space.filter(|_| diag.is_empty())
}

/// A catalog that lists no class names: the search section reads no dataset.
struct NoClasses;

impl super::ClassCatalog for NoClasses {
    fn class_names(&self, _: &DatasetSource) -> anyhow::Result<Option<Vec<String>>> {
        Ok(None)
    }
}
