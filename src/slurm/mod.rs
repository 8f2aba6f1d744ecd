//! Running grids on a Slurm cluster. thaw builds on Slurm rather than scheduling itself: it
//! writes three batch scripts a user can read and edit, and submits them chained by
//! dependencies:
//!
//! 1. **prepare** (`thaw prepare`): decodes the datasets and pretrains every source checkpoint
//!    once, into the shared cache;
//! 2. **trials**, a job array (`afterok:prepare`): task i runs `thaw run --shard i/N` into its
//!    own shard database (one SQLite file is never written from several hosts), stops cleanly
//!    on SIGTERM or the time-limit warning, and resumes its trials from their checkpoints when
//!    requeued;
//! 3. **merge** (`afterany:trials`, so it also runs when tasks failed or were cancelled):
//!    `thaw merge` combines the shards into the sweep's database and renders the report.
//!
//! [`script`] writes the scripts, [`submit`] hands them to `sbatch`, [`status`] reads the queue
//! and the shards back.

pub mod script;
pub mod status;
pub mod submit;

use std::path::PathBuf;

/// Resources every job of the submission asks for (the merge job leaves out the GPUs).
#[derive(Clone, Debug, Default)]
pub struct Resources {
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// Wall-time limit of each job, in Slurm's format (`4:00:00`, `1-00:00:00`).
    pub time: Option<String>,
    /// Generic resources per task, e.g. `gpu:1` or `gpu:a100:1`.
    pub gres: Option<String>,
    pub cpus_per_task: Option<usize>,
    /// Memory per node, in Slurm's format (`16G`).
    pub mem: Option<String>,
    /// More `#SBATCH` lines, as given (`--constraint=a100`, `--exclude=node7`).
    pub extra: Vec<String>,
}

/// One submission: where everything lives and how the trials are split.
#[derive(Clone, Debug)]
pub struct SlurmPlan {
    /// The submission's name (the first grid's sweep name unless given).
    pub name: String,
    /// Its folder (`slurm/<name>`): the scripts, `shards/`, `logs/` and `jobs.json`.
    pub dir: PathBuf,
    /// The grid files (absolute).
    pub grids: Vec<PathBuf>,
    /// The sweeps the grids define, which the merge accepts.
    pub sweeps: Vec<String>,
    /// Trials in all grids.
    pub trials: usize,
    /// Array tasks (shards).
    pub tasks: usize,
    /// At most this many tasks at once (`%K`).
    pub max_running: Option<usize>,
    /// Trials at once within a task (`thaw run --jobs`).
    pub jobs: usize,
    /// Requeue on preemption, and resubmit a task stopped by the time-limit warning.
    pub requeue: bool,
    /// Seconds before the time limit at which Slurm sends SIGUSR1.
    pub signal_before: u32,
    /// A shell line run before thaw in every job (modules, a venv).
    pub setup: Option<String>,
    /// The thaw executable the jobs run.
    pub thaw: PathBuf,
    /// The folder the jobs run in (where `thaw slurm` ran).
    pub workdir: PathBuf,
    /// The merged database.
    pub db: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
    pub reports_dir: PathBuf,
    /// `--device` of prepare and trial jobs.
    pub device: String,
    pub resources: Resources,
}

impl SlurmPlan {
    /// The shard database of array task `task` (`None`: the prepare job's).
    pub fn shard_db(&self, task: Option<usize>) -> PathBuf {
        let shards = self.dir.join("shards");
        match task {
            Some(i) => shards.join(format!("task-{i}.sqlite")),
            None => shards.join("prepare.sqlite"),
        }
    }
}
