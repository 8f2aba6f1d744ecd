//! Running a sweep: [`plan`] validates the grids against their data and keys every trial (no
//! libtorch needed); with the `train` feature, [`launch`] runs `thaw run` from its options to
//! its exit status, [`sweep`] trains the trials of one process, [`pool`] and [`monitor`] run and
//! watch `--jobs` workers, [`keep`] keeps the best models, and [`prepare`] pretrains once for an
//! array of shard tasks.

pub mod interrupt;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod runner;
pub mod shard;

#[cfg(feature = "train")]
pub mod allocator;
#[cfg(feature = "train")]
mod confirm;
#[cfg(feature = "train")]
pub mod jobs;
#[cfg(feature = "train")]
pub mod keep;
#[cfg(feature = "train")]
pub mod launch;
#[cfg(feature = "train")]
pub mod monitor;
#[cfg(feature = "train")]
pub mod on_finish;
#[cfg(feature = "train")]
pub mod pool;
#[cfg(feature = "train")]
pub mod prepare;
#[cfg(feature = "train")]
mod pruning;
#[cfg(feature = "train")]
pub mod sweep;
#[cfg(feature = "train")]
mod trainer;

pub use plan::{grid_files, plan, PlannedSweep, PlannedTrial};
#[cfg(feature = "train")]
pub use sweep::{device_name, render, run, RunOptions, RunSummary};
