//! thaw: an evaluation harness and experiment tracker for transfer learning.
//!
//! Data flow: grid YAML → [`spec`] (validated grid, expanded trials) → [`exec`] (scheduling,
//! resume) → [`train`] (data, model, schedule, loop) → [`track`] (SQLite) → [`report`] (HTML).

pub mod data;
#[cfg(feature = "train")]
pub mod doctor;
pub mod exec;
pub mod exported;
pub mod metrics;
#[cfg(feature = "train")]
pub mod model;
pub mod paths;
#[cfg(feature = "train")]
pub mod provenance;
pub mod report;
pub mod slurm;
pub mod spec;
pub mod track;
#[cfg(feature = "train")]
pub mod train;
