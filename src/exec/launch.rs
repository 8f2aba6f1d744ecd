//! `thaw run` from its options to its exit status: plan every grid (all are validated before
//! anything runs), keep a shard's share, run the trials in this process or in worker processes
//! watched from here, render the reports, and read back how every trial ended.

use super::interrupt;
use super::keep::{self, KeepScope};
use super::monitor;
use super::on_finish::Ending;
use super::outcome::RunOutcome;
use super::pool::Pool;
use super::shard::Shard;
use super::{
    confirm, device_name, jobs, plan, render, run, runner, PlannedSweep, RunOptions, RunSummary,
};
use crate::spec::Precision;
use crate::track::{self, Db};
use crate::train::precision;
use anyhow::Result;
use std::path::{Path, PathBuf};
use tch::Device;

/// Everything `thaw run` was asked to do.
pub struct RunConfig {
    /// Grid files, in the order given (folders already expanded, see [`super::grid_files`]).
    pub grids: Vec<PathBuf>,
    /// Devices trials train on; workers are spread over them.
    pub devices: Vec<Device>,
    /// Trials at once (`None`: chosen from the devices and the trials).
    pub jobs: Option<usize>,
    /// libtorch threads per process (`None`: the cores divided among the jobs).
    pub threads: Option<usize>,
    /// Run only this share of the trials (a Slurm array task).
    pub shard: Option<Shard>,
    /// This process is worker N of a `--jobs` run (started by another `thaw run`).
    pub worker: Option<usize>,
    /// Refuse grids of more trials.
    pub max_trials: usize,
    /// A shell command run after the run (`--on-finish`; never by workers).
    pub on_finish: Option<String>,
    /// Rerun each sweep's best configuration with this many fresh seeds (`--confirm-best`;
    /// never by workers).
    pub confirm_best: Option<usize>,
    pub options: RunOptions,
}

impl RunConfig {
    /// The `thaw run` arguments of this run's workers (each gets its own `--jobs 1`,
    /// `--threads`, `--device` and `--worker` from [`Pool::spawn`]).
    fn worker_args(&self) -> Vec<String> {
        let o = &self.options;
        let mut args: Vec<String> = self.grids.iter().map(|g| path_arg(g)).collect();
        for (flag, path) in [
            ("--db", &o.db_path),
            ("--data-dir", &o.data_dir),
            ("--cache-dir", &o.cache_dir),
            ("--reports-dir", &o.reports_dir),
        ] {
            args.extend([flag.to_string(), path_arg(path)]);
        }
        if let Some(t) = &o.templates {
            args.extend(["--templates".to_string(), path_arg(t)]);
        }
        if let Some(shard) = self.shard {
            args.extend(["--shard".to_string(), shard.to_string()]);
        }
        args.extend([
            "--checkpoint-every".to_string(),
            o.checkpoint_every.as_secs_f64().to_string(),
            "--stale-after".to_string(),
            o.stale_after.as_secs().to_string(),
            "--max-trials".to_string(),
            self.max_trials.to_string(),
        ]);
        if let Some(keep) = &o.keep {
            args.extend(["--keep".to_string(), "best".to_string()]);
            args.extend(["--keep-metric".to_string(), keep.metric.clone()]);
            let scope = match keep.scope {
                KeepScope::Sweep => "sweep",
                KeepScope::Config => "config",
            };
            args.extend(["--keep-scope".to_string(), scope.to_string()]);
        }
        for (on, flag) in [
            (o.retry_failed, "--retry-failed"),
            (o.rerun_outdated, "--rerun-outdated"),
            (o.keep_checkpoints, "--keep-checkpoints"),
            (!o.feature_reuse, "--no-feature-reuse"),
        ] {
            if on {
                args.push(flag.to_string());
            }
        }
        args
    }

    /// The command that reruns this run, for messages.
    fn rerun_command(&self) -> String {
        let mut cmd = String::from("thaw run");
        for g in &self.grids {
            cmd.push(' ');
            cmd.push_str(&g.display().to_string());
        }
        if let Some(shard) = self.shard {
            cmd.push_str(&format!(" --shard {shard}"));
        }
        cmd
    }
}

/// The report page of `sweep` under the run's reports folder.
fn report_page(opts: &RunOptions, sweep: &str) -> Result<PathBuf> {
    let dir = crate::report::dir_name(sweep)?;
    Ok(opts.reports_dir.join(dir).join("index.html"))
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Runs `cfg`; returns the exit status ([`RunOutcome::exit_code`]).
pub fn launch(cfg: &RunConfig) -> Result<u8> {
    let opts = &cfg.options;
    interrupt::install()?;
    let mut planned = cfg
        .grids
        .iter()
        .map(|g| plan(g, &opts.data_dir, &opts.cache_dir, cfg.max_trials))
        .collect::<Result<Vec<_>>>()?;
    if let Some(shard) = cfg.shard {
        PlannedSweep::keep_shard(&mut planned, shard);
    }
    let jobs = if cfg.worker.is_some() {
        1
    } else {
        choose_jobs(cfg, &planned)
    };
    let threads = cfg.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / jobs).max(1)
    });
    tch::set_num_threads(threads as i32);
    if cfg.worker.is_none() {
        warn_slow_bf16(cfg, &planned);
        register(cfg, &planned)?;
    }
    if jobs > 1 {
        run_workers(cfg, &planned, jobs, threads)?;
    } else {
        for p in &planned {
            print_summary(&run(p, opts)?);
            if interrupt::requested() {
                break;
            }
        }
    }
    if let (Some(policy), None) = (&opts.keep, cfg.worker) {
        for p in &planned {
            keep_best(opts, &p.grid.name, policy)?;
        }
    }
    if let (Some(k), None) = (cfg.confirm_best, cfg.worker) {
        if !interrupt::requested() {
            confirm_best(opts, &mut planned, k)?;
        }
    }
    let me = runner::runner_id();
    let outcome = RunOutcome::read(&opts.db_path, &planned, &opts.claim_rules(&me))?;
    let text = outcome.describe(&cfg.rerun_command());
    if !text.is_empty() {
        eprintln!("{text}");
    }
    println!("database: {}", opts.db_path.display());
    let exit_status = outcome.exit_code();
    if let (Some(cmd), None) = (&cfg.on_finish, cfg.worker) {
        let reports = if opts.render {
            (planned.iter())
                .map(|p| report_page(opts, &p.grid.name))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        let ending = Ending {
            outcome: &outcome,
            exit_status,
            sweeps: &planned,
            db: &opts.db_path,
            reports,
        };
        ending.run(cmd);
    }
    Ok(exit_status)
}

/// `--confirm-best K`: trains each sweep's best configuration again with `k` fresh seeds, in
/// this process, as a sweep of its own (added to `planned`, so the run's outcome counts its
/// trials), then renders the chosen-from sweep's report again to show the confirmation.
fn confirm_best(opts: &RunOptions, planned: &mut Vec<PlannedSweep>, k: usize) -> Result<()> {
    let mut confirmations = Vec::new();
    for p in planned.iter() {
        let (sweep, line) = confirm::confirmation(opts, p, k)?;
        println!("{line}");
        let Some(sweep) = sweep else { continue };
        print_summary(&run(&sweep, opts)?);
        if opts.render {
            println!("report: {}", render(opts, &p.grid.name)?.display());
        }
        confirmations.push(sweep);
        if interrupt::requested() {
            break;
        }
    }
    planned.extend(confirmations);
    Ok(())
}

/// Keeps the best models of `sweep` once its trials have run, and says which.
fn keep_best(opts: &RunOptions, sweep: &str, policy: &keep::KeepPolicy) -> Result<()> {
    let settled = keep::settle(&opts.db_path, sweep, policy, &opts.cache_dir)?;
    let scope = match policy.scope {
        KeepScope::Sweep => "the sweep's best",
        KeepScope::Config => "each configuration's best",
    };
    println!(
        "sweep {sweep}: kept {} model(s), {scope} by {} (chosen on validation){}",
        settled.kept.len(),
        policy.metric,
        match settled.deleted {
            0 => String::new(),
            n => format!("; deleted {n} losing candidate(s)"),
        }
    );
    for (key, kept) in &settled.kept {
        let value = kept.value.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "  {key}  {} {value}  [{}]  {}",
            kept.metric, kept.scope, kept.path
        );
    }
    if settled.without_weights > 0 {
        println!(
            "  note: {} completed trial(s) have no saved weights (completed by a run without \
             --keep best) and were not considered",
            settled.without_weights
        );
    }
    if !settled.kept.is_empty() {
        println!("  export with: thaw export-model {sweep}");
    }
    Ok(())
}

/// `--jobs`, or the default for the devices and the largest trial (said when above 1).
fn choose_jobs(cfg: &RunConfig, planned: &[PlannedSweep]) -> usize {
    if let Some(n) = cfg.jobs {
        return n.max(1);
    }
    let trials: Vec<_> = planned
        .iter()
        .flat_map(|p| &p.trials)
        .map(|t| &t.spec)
        .collect();
    let choice = jobs::default_jobs(&cfg.devices, &trials);
    if choice.jobs > 1 {
        println!(
            "--jobs {} (default: {}; set --jobs to override)",
            choice.jobs, choice.reason
        );
    }
    choice.jobs
}

/// Warns, before anything runs, when bf16 trials are about to run on a device without native
/// bf16 (see [`precision::slow_bf16_warning`]).
fn warn_slow_bf16(cfg: &RunConfig, planned: &[PlannedSweep]) {
    let bf16 = (planned.iter().flat_map(|p| &p.trials))
        .filter(|t| t.spec.precision == Precision::Bf16)
        .count();
    for device in &cfg.devices {
        if let Some(warning) = precision::slow_bf16_warning(*device, bf16) {
            eprintln!("{warning}");
        }
    }
}

/// Records the sweeps and their trials before any worker starts (so progress can be read from
/// the start). A shard's database belongs to its array task alone: a trial still `running`
/// there was left by a killed earlier attempt and is resumed.
fn register(cfg: &RunConfig, planned: &[PlannedSweep]) -> Result<()> {
    let db = Db::open(&cfg.options.db_path)?;
    for p in planned {
        let (sweep_id, registration) = p.register(&db, cfg.options.rerun_outdated)?;
        for line in p.describe(&registration) {
            println!("{line}");
        }
        if cfg.shard.is_some() {
            let n = db.interrupt_running(sweep_id)?;
            if n > 0 {
                println!(
                    "{}: {n} trials left running by an earlier attempt of this shard will be resumed",
                    p.grid.name
                );
            }
        }
    }
    Ok(())
}

/// Runs the trials in `jobs` worker processes, shows their progress, then renders the reports.
fn run_workers(
    cfg: &RunConfig,
    planned: &[PlannedSweep],
    jobs: usize,
    threads: usize,
) -> Result<()> {
    let opts = &cfg.options;
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let log_dir = opts
        .cache_dir
        .join("logs")
        .join(format!("run-{stamp}-{}", std::process::id()));
    let mut pool = Pool::spawn(&cfg.worker_args(), jobs, &cfg.devices, threads, &log_dir)?;
    monitor::watch(&mut pool, &opts.db_path, planned)?;
    for failure in pool.failures() {
        eprintln!("{failure}");
    }
    for p in planned {
        if opts.render {
            // The workers may have finished trials after their last render.
            println!("report: {}", render(opts, &p.grid.name)?.display());
        }
        let counts = track::status_counts(&opts.db_path, &p.grid.name)?;
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        println!(
            "sweep {} after all {jobs} processes: {}",
            p.grid.name,
            counts.join(", ")
        );
    }
    let devices: Vec<String> = cfg.devices.iter().map(|d| device_name(*d)).collect();
    println!(
        "{jobs} workers on {}; their logs: {}",
        devices.join(","),
        log_dir.display()
    );
    Ok(())
}

/// The summary lines of one sweep run in this process.
fn print_summary(summary: &RunSummary) {
    println!(
        "sweep {}: {} trials; {} already done, {} completed now, {} pruned, {} failed, {} diverged, {} interrupted",
        summary.sweep,
        summary.total,
        summary.skipped,
        summary.completed,
        summary.pruned,
        summary.failed,
        summary.diverged,
        summary.interrupted
    );
    if let Some(report) = &summary.report {
        println!("report: {}", report.display());
    }
    if summary.completed + summary.pruned + summary.failed + summary.diverged > 0 {
        let wall = summary.wall.as_secs_f64();
        let kept = summary.bookkeeping.as_secs_f64();
        println!(
            "bookkeeping (database writes, checkpoints, reports): {kept:.2} s of {wall:.1} s ({:.2}%)",
            100.0 * kept / wall.max(1e-9)
        );
    }
    let f = summary.features;
    if f.computed + f.from_memory + f.from_disk > 0 {
        println!(
            "frozen-prefix features: {} sets computed, {} reused from memory, {} from disk ({} written to disk)",
            f.computed, f.from_memory, f.from_disk, f.written
        );
    }
    if summary.left_to_others > 0 {
        println!(
            "{} trials were left to other runners or not retried (failed/diverged: add --retry-failed)",
            summary.left_to_others
        );
    }
}
