//! Command-line interface: argument definitions only; `main.rs` wires them to the library.

pub mod notes;
pub mod results;
pub mod run;
pub mod slurm;
#[cfg(feature = "train")]
pub mod training;

use clap::builder::PossibleValuesParser;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
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
    Run(Box<RunArgs>),
    /// Do once what every trial of the grids needs before an array of `thaw run --shard` tasks
    /// starts: decode the datasets and pretrain every source checkpoint.
    Prepare(PrepareArgs),
    /// Merge shard databases (Slurm array tasks) into one database and render the reports.
    /// Safe to run again at any time: a trial present twice keeps its most advanced record.
    Merge(MergeArgs),
    /// Run grids on a Slurm cluster: a prepare job, a job array of `thaw run --shard` tasks
    /// with a database each, and a merge job; or `thaw slurm status NAME`.
    Slurm(Box<slurm::SlurmArgs>),
    /// Render a sweep's report from the database, or with --compare one page that puts sweeps
    /// side by side.
    Report {
        /// Sweep name (the grid's `name:`).
        #[arg(required_unless_present = "compare", conflicts_with = "compare")]
        sweep: Option<String>,
        /// Compare these sweeps on their common axes (the first is the reference), into
        /// `<reports>/compare/<A>--<B>/index.html`.
        #[arg(long, num_args = 1.., value_name = "SWEEP")]
        compare: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Add a note to a sweep or one of its trials, or list the sweep's notes.
    Note(NoteArgs),
    /// Add tags to a sweep or one of its trials, remove them, or list the sweep's tags.
    Tag(TagArgs),
    /// Export a sweep's trial summary as CSV or JSON, or as a Jupyter notebook that reloads the
    /// database and redraws the report's charts.
    Export(ExportArgs),
    /// List sweeps, their grid versions and the trial counts of their current grids by status.
    Ls {
        /// Also count the trials that left their grids (superseded).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete a sweep (its trials, metrics, findings, notes and kept models) or, with
    /// --superseded, only its trials that left the grid. Asks for confirmation.
    Rm(RmArgs),
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
    /// Classify image files (or texts) with a model `thaw export-model` wrote (`--model DIR`:
    /// class names and probabilities), or print the top-5 classes of image files under a
    /// backbone that keeps its original classifier (`--backbone B --weights W`: a quick check
    /// that a weights file loads and means what it should).
    Predict(PredictArgs),
    /// Write a model kept by `thaw run --keep best` (a sweep's, or a trial's by its key) as a
    /// folder: model.safetensors (the whole fine-tuned network), config.json (the trial, class
    /// names, preprocessing) and MODEL_CARD.md (grid, metrics with confidence intervals, data,
    /// provenance, the pretrained weights' source and licence).
    ExportModel(ExportModelArgs),
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
    /// Rerun the trials recorded under an older training semantics (kept and shown as
    /// outdated otherwise); the old records are kept, superseded.
    #[arg(long)]
    pub rerun_outdated: bool,
    /// Keep the epoch checkpoints of finished trials (they are pruned by default).
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// `best`: save every completed trial's final network and, when the run ends, keep the
    /// winners by --keep-metric within --keep-scope (recorded in `kept_models`, for
    /// `thaw export-model`); the other trials' networks are deleted.
    #[arg(long, value_enum)]
    pub keep: Option<Keep>,
    /// The metric `--keep best` chooses by: a validation metric of `trial_summary` at the final
    /// epoch (whose network is kept), never a test one, so that a kept model's test accuracy
    /// stays an unbiased estimate.
    #[arg(long, default_value = "final_val_acc", requires = "keep",
          value_parser = PossibleValuesParser::new(thaw::track::KEEP_METRICS))]
    pub keep_metric: String,
    /// What `--keep best` keeps a winner of: `sweep` (one model), or `config` (one per
    /// configuration: trials equal on every axis but the seed, the best seed of each).
    #[arg(long, default_value = "sweep", requires = "keep",
          value_parser = PossibleValuesParser::new(["sweep", "config"]))]
    pub keep_scope: String,
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
    /// A shell command to run after the sweep (`sh -c CMD`), e.g. to send a notification. It
    /// gets THAW_SWEEPS, THAW_TRIALS, THAW_COMPLETED, THAW_FAILED, THAW_INCOMPLETE,
    /// THAW_RUNNING_ELSEWHERE, THAW_EXIT_STATUS, THAW_STOPPED_BY, THAW_REPORT, THAW_REPORTS and
    /// THAW_DB in its environment; its failure does not change thaw's exit status.
    #[arg(long, value_name = "CMD")]
    pub on_finish: Option<String>,
    /// After the run, train each sweep's best configuration (highest mean final validation
    /// accuracy over its completed seeds) again with K seeds the sweep never used, as sweep
    /// NAME.confirm: an unbiased estimate of the chosen configuration's test accuracy, with its
    /// interval over the K seeds (the seeds it was chosen on flatter it). Runs in this process.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u16).range(1..))]
    pub confirm_best: Option<u16>,
    /// Set by `thaw run --jobs N` on the worker processes it starts.
    #[arg(long, hide = true)]
    pub worker: Option<usize>,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// What `thaw run --keep` keeps.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The best trained network by a validation metric.
    Best,
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

/// The arguments of `thaw rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Sweep name.
    pub sweep: String,
    /// Delete only the trials no longer in the sweep's grid.
    #[arg(long)]
    pub superseded: bool,
    /// Do not ask: delete at once (for scripts).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The arguments of `thaw note`.
#[derive(Args, Debug)]
pub struct NoteArgs {
    /// Sweep name.
    pub sweep: String,
    /// The note (several words are joined with spaces).
    #[arg(
        value_name = "TEXT",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub text: Vec<String>,
    /// Put the note on this trial of the sweep (its key, as in `thaw run --dry-run`).
    #[arg(long, value_name = "KEY")]
    pub trial: Option<String>,
    /// List the notes of the sweep and its trials instead.
    #[arg(long, conflicts_with = "trial")]
    pub list: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The arguments of `thaw tag`.
#[derive(Args, Debug)]
pub struct TagArgs {
    /// Sweep name.
    pub sweep: String,
    /// Tags: single words such as `baseline` or `needs-rerun`.
    #[arg(
        value_name = "TAG",
        required_unless_present = "list",
        conflicts_with = "list"
    )]
    pub tags: Vec<String>,
    /// Tag this trial of the sweep (its key) instead of the sweep.
    #[arg(long, value_name = "KEY")]
    pub trial: Option<String>,
    /// Remove the tags instead of adding them.
    #[arg(long)]
    pub remove: bool,
    /// List the tags of the sweep and its trials instead.
    #[arg(long, conflicts_with_all = ["trial", "remove"])]
    pub list: bool,
    #[command(flatten)]
    pub db: DbArgs,
}

/// The arguments of `thaw predict`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("network").required(true).args(["backbone", "model"])))]
pub struct PredictArgs {
    /// A folder written by `thaw export-model`: its inputs are preprocessed exactly as the
    /// trial's data was, and the top classes are printed by name.
    #[arg(long, conflicts_with_all = ["backbone", "weights", "input_size"])]
    pub model: Option<PathBuf>,
    /// Classes printed per input with --model.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Backbone: resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0,
    /// efficientnet_lite0.
    #[arg(long, requires = "weights")]
    pub backbone: Option<String>,
    /// `imagenet` (the converted EfficientNet-Lite0 weights, `make weights`) or a
    /// .safetensors file of a state_dict.
    #[arg(long, requires = "backbone")]
    pub weights: Option<String>,
    /// Input side length (default: the backbone's, 224).
    #[arg(long)]
    pub input_size: Option<usize>,
    /// Device: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// JPEG/PNG/... files (texts, for a text model).
    #[arg(required = true, value_name = "INPUT")]
    pub images: Vec<PathBuf>,
}

/// The arguments of `thaw export-model`.
#[derive(Args, Debug)]
pub struct ExportModelArgs {
    /// A sweep name (its kept models) or the key of a kept trial.
    pub what: String,
    /// Output folder (default: `models/<sweep or key>`); a sweep with several kept models
    /// gets one sub-folder per trial key.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbArgs,
}
