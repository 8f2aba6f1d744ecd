//! `thaw slurm`: its arguments, and turning them into a [`SlurmPlan`] to write and submit.

use super::DbArgs;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use thaw::exec::grid_files;
use thaw::slurm::{self, submit, Resources, SlurmPlan};

/// `thaw slurm GRID... [options]` or `thaw slurm status NAME`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SlurmArgs {
    #[command(subcommand)]
    pub command: Option<SlurmCommand>,
    #[command(flatten)]
    pub submit: SubmitArgs,
}

#[derive(Subcommand, Debug)]
pub enum SlurmCommand {
    /// Show a submission's jobs (from squeue) and each shard's trial counts.
    Status {
        /// The submission's name (its folder under --dir).
        name: String,
        /// Folder holding the submissions.
        #[arg(long, default_value = "slurm")]
        dir: PathBuf,
    },
}

/// What to submit, and the resources to ask for.
#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// Grid YAML files, or folders of them.
    pub grids: Vec<PathBuf>,
    /// Write and print the scripts; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Folder holding the submissions (the scripts go to DIR/NAME/).
    #[arg(long, default_value = "slurm")]
    pub dir: PathBuf,
    /// The submission's name (default: the first grid's sweep name).
    #[arg(long)]
    pub name: Option<String>,
    /// Array tasks, each running its share of the trials (default: the trials, at most 16).
    #[arg(long)]
    pub tasks: Option<usize>,
    /// At most this many tasks at once (`--array=0-N%K`).
    #[arg(long, value_name = "K")]
    pub max_running: Option<usize>,
    /// Trials at once within a task (for GPUs that hold several; default one per task).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    #[arg(long)]
    pub partition: Option<String>,
    #[arg(long)]
    pub account: Option<String>,
    #[arg(long)]
    pub qos: Option<String>,
    /// Time limit of each job (Slurm format: 30, 4:00:00, 1-00:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// GPUs per task (`--gres=gpu:N`).
    #[arg(long, conflicts_with = "gres")]
    pub gpus: Option<usize>,
    /// Generic resources per task as Slurm takes them, e.g. gpu:a100:1.
    #[arg(long)]
    pub gres: Option<String>,
    #[arg(long)]
    pub cpus_per_task: Option<usize>,
    /// Memory per node (Slurm format: 16G).
    #[arg(long)]
    pub mem: Option<String>,
    /// Requeue tasks on preemption, and requeue a task stopped by the time-limit warning so it
    /// resumes its trials.
    #[arg(long)]
    pub requeue: bool,
    /// Seconds before the time limit at which Slurm warns the jobs (SIGUSR1): the epoch in
    /// flight is recorded and checkpointed. Set it above your longest epoch.
    #[arg(long, default_value_t = 120)]
    pub signal_before: u32,
    /// An extra `#SBATCH` line for every job, e.g. --sbatch=--constraint=a100 (repeatable).
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    pub sbatch: Vec<String>,
    /// A shell line run before thaw in every job, e.g. "module load cuda/12".
    #[arg(long)]
    pub setup: Option<String>,
    /// Device of the trials and the pretraining: auto, cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// The thaw executable the jobs run (default: this one).
    #[arg(long)]
    pub thaw: Option<PathBuf>,
    /// Folder holding the bundled datasets.
    #[arg(long, env = "THAW_DATA", default_value = "data")]
    pub data_dir: PathBuf,
    /// Folder for pretrained and epoch checkpoints, shared by every task (default:
    /// `.thaw-cache` beside the database). Must be on a filesystem every node sees.
    #[arg(long, env = "THAW_CACHE")]
    pub cache_dir: Option<PathBuf>,
    /// Folder reports are written under.
    #[arg(long, env = "THAW_REPORTS", default_value = "reports")]
    pub reports_dir: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

/// Runs `thaw slurm`.
pub fn run(args: SlurmArgs) -> Result<ExitCode> {
    if let Some(SlurmCommand::Status { name, dir }) = args.command {
        print!("{}", slurm::status::status(&dir.join(name))?);
        return Ok(ExitCode::SUCCESS);
    }
    let (plan, dry_run) = plan(args.submit)?;
    let scripts = submit::write_scripts(&plan)?;
    if dry_run {
        for path in &scripts {
            println!("==> {} <==", path.display());
            println!("{}", std::fs::read_to_string(path)?);
        }
        println!(
            "{}: {} trials in {} tasks; scripts written to {}, nothing submitted (--dry-run)",
            plan.name,
            plan.trials,
            plan.tasks,
            plan.dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let jobs = submit::submit(&plan)?;
    println!(
        "{}: {} trials in {} tasks submitted: prepare job {}, trials array {}, merge job {}",
        plan.name, plan.trials, plan.tasks, jobs.prepare, jobs.trials, jobs.merge
    );
    println!("scripts and logs: {}", plan.dir.display());
    println!(
        "follow: thaw slurm status {} --dir {}   (or squeue -j {},{},{})",
        plan.name,
        plan.dir.parent().unwrap_or(Path::new(".")).display(),
        jobs.prepare,
        jobs.trials,
        jobs.merge
    );
    println!(
        "report mid-sweep: thaw merge {} --db {}",
        plan.dir.join("shards").display(),
        plan.db.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The submission the arguments describe (grids validated against their data); and whether it
/// is a dry run.
fn plan(a: SubmitArgs) -> Result<(SlurmPlan, bool)> {
    if a.grids.is_empty() {
        bail!("name the grid files to run: thaw slurm GRID.yaml [MORE...] (or `thaw slurm status NAME`)");
    }
    let workdir = std::env::current_dir().context("cannot read the current folder")?;
    let abs = |p: &Path| workdir.join(p);
    let db = abs(&a.db.db);
    let cache_dir = a
        .cache_dir
        .as_deref()
        .map(abs)
        .unwrap_or_else(|| db.parent().unwrap_or(&workdir).join(".thaw-cache"));
    let data_dir = abs(&a.data_dir);
    let grids: Vec<PathBuf> = grid_files(&a.grids)?.iter().map(|g| abs(g)).collect();
    let planned = grids
        .iter()
        .map(|g| thaw::exec::plan(g, &data_dir, &cache_dir, usize::MAX))
        .collect::<Result<Vec<_>>>()?;
    let sweeps: Vec<String> = planned.iter().map(|p| p.grid.name.clone()).collect();
    let trials: usize = planned.iter().map(|p| p.trials.len()).sum();
    let tasks = a.tasks.unwrap_or(trials.min(16)).max(1);
    if tasks > trials {
        bail!("--tasks {tasks}: more tasks than the {trials} trials of the grids; use at most {trials}");
    }
    if a.max_running == Some(0) || a.jobs == 0 {
        bail!("--max-running and --jobs must be at least 1");
    }
    let name = a.name.unwrap_or_else(|| sweeps[0].clone());
    let dir_name = thaw::report::dir_name(&name)?;
    let thaw = match a.thaw {
        Some(p) => abs(&p),
        None => std::env::current_exe().context("cannot find the thaw executable")?,
    };
    let plan = SlurmPlan {
        dir: abs(&a.dir).join(dir_name),
        name,
        grids,
        sweeps,
        trials,
        tasks,
        max_running: a.max_running,
        jobs: a.jobs,
        requeue: a.requeue,
        signal_before: a.signal_before,
        setup: a.setup,
        thaw,
        workdir: workdir.clone(),
        db,
        data_dir,
        cache_dir,
        reports_dir: abs(&a.reports_dir),
        device: a.device,
        resources: Resources {
            partition: a.partition,
            account: a.account,
            qos: a.qos,
            time: a.time,
            gres: a.gres.or(a.gpus.map(|n| format!("gpu:{n}"))),
            cpus_per_task: a.cpus_per_task,
            mem: a.mem,
            extra: a.sbatch,
        },
    };
    Ok((plan, a.dry_run))
}
