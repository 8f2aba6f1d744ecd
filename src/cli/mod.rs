//! Command-line interface: argument definitions only; `main.rs` wires them to the library.

pub mod results;
pub mod run;
pub mod slurm;
#[cfg(feature = "train")]
pub mod training;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// thaw: sweep transfer-learning grids, track every trial in SQLite, read the report.
#[derive(Parser, Debug)]
#[command(name = "thaw", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where results live.
#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// SQLite results database.
    #[arg(long, env = "THAW_DB", default_value = "thaw.sqlite")]
    pub db: PathBuf,
}

/// Where reports are written, and with which templates.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Folder reports are written under (`<folder>/<sweep>/index.html`).
    #[arg(long, env = "THAW_REPORTS", default_value = "reports")]
    pub reports_dir: PathBuf,
    /// Folder of templates (report.html, trial.html, index.html, ...) overriding the built-in ones.
    #[arg(long)]
    pub templates: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train every trial of the grids that is not completed yet, then render their reports.
    Run(RunArgs),
    /// Do once what every trial of the grids needs before an array of `thaw run --shard` tasks
    /// starts: decode the datasets and pretrain every source checkpoint.
    Prepare(PrepareArgs),
    /// Merge shard databases (Slurm array tasks) into one database and render the reports.
    /// Safe to run again at any time: a trial present twice keeps its most advanced record.
    Merge(MergeArgs),
    /// Run grids on a Slurm cluster: a prepare job, a job array of `thaw run --shard` tasks
    /// with a database each, and a merge job; or `thaw slurm status NAME`.
    Slurm(Box<slurm::SlurmArgs>),
    /// Render a sweep's report from the database.
    Report {
        /// Sweep name (the grid's `name:`).
        sweep: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Export a sweep's trial summary as CSV or JSON, or as a Jupyter notebook that reloads the
    /// database and redraws the report's charts.
    Export(ExportArgs),
    /// List sweeps and their trial counts by status.
    Ls {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Run one read-only SQL statement on the database and print the result.
    Query {
        /// The SQL, e.g. "SELECT * FROM trial_summary".
        sql: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Show thaw's build, the libtorch version, CUDA/cuDNN availability and versions, the
    /// devices and the machine: the environment record `thaw run` stores with every trial.
    Doctor {
        /// Print the environment record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the top-5 classes (index, label, probability) of image files under a backbone that
    /// keeps its original classifier: a quick check that a weights file loads and means what it
    /// should.
    Predict(PredictArgs),
}

/// Output formats of `thaw query`.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Format {
    Table,
    Csv,
    Json,
}

/// Formats of `thaw export`.
#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ExportKind {
    Csv,
    Json,
    Ipynb,
}

/// The arguments of `thaw run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Grid YAML files, or folders whose *.yaml / *.yml files are run in name order.
    #[arg(required = true)]
    pub grids: Vec<PathBuf>,
    /// Validate and print the expanded trials; train nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Device(s) to train on: auto (CUDA when available), cpu, cuda, cuda:N, or a list
    /// such as cuda:0,cuda:1 (trials are spread over them).
    #[arg(long, visible_alias = "devices", default_value = "auto")]
    pub device: String,
    /// Trials at once, one process each (default: 1 on the CPU; per CUDA device, as many as
    /// its free memory holds for the largest trial, at most 4).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// libtorch threads per process (default: the machine's cores divided among the jobs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Folder holding the bundled datasets.
    #[arg(long, env = "THAW_DATA", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder for pretrained and epoch checkpoints (default: `.thaw-cache` beside the database).
    #[arg(long, env = "THAW_CACHE")]
    pub cache_dir: Option<PathBuf>,
    /// Also rerun failed and diverged trials.
    #[arg(long)]
    pub retry_failed: bool,
    /// Keep the epoch checkpoints of finished trials (they are pruned by default).
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Checkpoint a trial after an epoch only when this many seconds have passed since its
    /// last checkpoint (and always after its last epoch and on Ctrl-C); 0 = every epoch. A
    /// crash loses at most this much training.
    #[arg(long, env = "THAW_CHECKPOINT_EVERY", default_value_t = 10.0)]
    pub checkpoint_every: f64,
    /// Recompute frozen blocks in every epoch instead of reusing their outputs (to measure
    /// what reuse saves; the metrics are the same either way).
    #[arg(long)]
    pub no_feature_reuse: bool,
    /// Seconds without a heartbeat after which another runner's trial is taken over.
    #[arg(long, default_value_t = 60)]
    pub stale_after: u64,
    /// Refuse grids that expand to more trials than this.
    #[arg(long, default_value_t = 5000)]
    pub max_trials: usize,
    /// Run only share INDEX of COUNT of the trials (0 <= INDEX < COUNT), dealt by trial key;
    /// a Slurm array task runs `--shard $SLURM_ARRAY_TASK_ID/COUNT` into its own --db.
    /// Implies no report (`thaw merge` renders it).
    #[arg(long, value_name = "INDEX/COUNT")]
    pub shard: Option<String>,
    /// Set by `thaw run --jobs N` on the worker processes it starts.
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// The arguments of `thaw prepare`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Grid YAML files, or folders of them.
    #[arg(required = true)]
    pub grids: Vec<PathBuf>,
    /// Device to pretrain on: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Folder holding the bundled datasets.
    #[arg(long, env = "THAW_DATA", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder for pretrained checkpoints (default: `.thaw-cache` beside the database).
    #[arg(long, env = "THAW_CACHE")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The arguments of `thaw merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard database files, or folders whose *.sqlite files are merged.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Refuse shards holding any sweep other than these (repeatable).
    #[arg(long = "sweep")]
    pub sweeps: Vec<String>,
    /// Merge only; do not render the reports.
    #[arg(long)]
    pub no_report: bool,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// The arguments of `thaw export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Sweep name.
    pub sweep: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportKind::Csv)]
    pub format: ExportKind,
    /// Output file (default: `<reports>/<sweep>/<sweep>.<format>`).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// The arguments of `thaw predict`.
#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Backbone: resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0,
    /// efficientnet_lite0.
    #[arg(long)]
    pub backbone: String,
    /// `imagenet` (the converted EfficientNet-Lite0 weights, `make weights`) or a
    /// .safetensors file of a state_dict.
    #[arg(long)]
    pub weights: String,
    /// Input side length (default: the backbone's, 224).
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Device: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// JPEG/PNG/... files.
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}
