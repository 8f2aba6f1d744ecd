//! The `thaw` binary: parses the command line and calls the library.

mod cli;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cli::{Cli, Command, Format};
use std::path::Path;
use std::process::ExitCode;
use tch::Device;
use thaw::exec::{self, RunOptions};
use thaw::track::{self, OutputFormat};

fn main() -> ExitCode {
    exec::allocator::keep_freed_memory();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_device(text: &str) -> Result<Device> {
    let cuda_count = tch::Cuda::device_count();
    let device = match text {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => Device::Cuda(i),
            _ => bail!("--device {other}: expected auto, cpu, cuda or cuda:N"),
        },
    };
    if let Device::Cuda(i) = device {
        if i as i64 >= cuda_count {
            bail!(
                "--device {text}: this machine has {cuda_count} CUDA device(s) visible to libtorch; run `thaw doctor` to see why, or use --device cpu"
            );
        }
    }
    Ok(device)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            grid,
            dry_run,
            device,
            data_dir,
            cache_dir,
            retry_failed,
            keep_checkpoints,
            stale_after,
            max_trials,
            db,
            reports,
        } => {
            let planned = exec::plan(&grid, &data_dir, max_trials)?;
            if dry_run {
                println!("{}", thaw::spec::describe_trials(&planned.grid));
                for (i, (key, _)) in planned.trials.iter().enumerate() {
                    println!("trial {:>4}  key {key}", i + 1);
                }
                println!(
                    "{} trials; nothing was trained or written (--dry-run)",
                    planned.trials.len()
                );
                return Ok(());
            }
            let cache_dir = cache_dir.unwrap_or_else(|| {
                db.db
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .join(".thaw-cache")
            });
            let opts = RunOptions {
                db_path: db.db,
                data_dir,
                cache_dir,
                reports_dir: reports.reports_dir,
                device: parse_device(&device)?,
                retry_failed,
                keep_checkpoints,
                stale_after: std::time::Duration::from_secs(stale_after),
            };
            exec::interrupt::install()?;
            let summary = exec::run(&planned, &opts)?;
            println!(
                "sweep {}: {} trials; {} already done, {} completed now, {} failed, {} diverged, {} interrupted",
                summary.sweep,
                summary.total,
                summary.skipped,
                summary.completed,
                summary.failed,
                summary.diverged,
                summary.interrupted
            );
            if let Some(report) = summary.report {
                println!("report: {}", report.display());
            }
            println!("database: {}", opts.db_path.display());
            if summary.left_to_others > 0 {
                println!(
                    "{} trials were left to other runners or not retried (failed/diverged: add --retry-failed)",
                    summary.left_to_others
                );
            }
            if summary.stopped_by_user {
                eprintln!(
                    "stopped by Ctrl-C after recording the current epoch; run `thaw run {}` again to resume",
                    grid.display()
                );
                std::process::exit(130);
            }
            Ok(())
        }
        Command::Report { sweep, db, reports } => {
            let path = thaw::report::render_sweep(&db.db, &sweep, &reports.reports_dir)
                .with_context(|| format!("cannot render the report of sweep {sweep}"))?;
            println!("report: {}", path.display());
            Ok(())
        }
        Command::Ls { db } => {
            if !db.db.exists() {
                bail!(
                    "no database at {}; run `thaw run GRID` first or pass --db",
                    db.db.display()
                );
            }
            let db = track::Db::open(&db.db)?;
            print!("{}", track::format_overview(&db.sweep_overview()?));
            Ok(())
        }
        Command::Query { sql, format, db } => {
            let result = track::query_readonly(&db.db, &sql)?;
            let format = match format {
                Format::Table => OutputFormat::Table,
                Format::Csv => OutputFormat::Csv,
                Format::Json => OutputFormat::Json,
            };
            print!("{}", track::format_result(&result, format));
            Ok(())
        }
        Command::Doctor => {
            println!("{}", thaw::doctor::report());
            Ok(())
        }
    }
}
