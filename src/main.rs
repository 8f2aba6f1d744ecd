//! The `thaw` binary: parses the command line and calls the library.

mod cli;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cli::{Cli, Command, ExportKind, Format};
use std::path::Path;
use std::process::ExitCode;
use tch::Device;
use thaw::exec::{self, RunOptions};
use thaw::report::ExportFormat;
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

/// The grid files named on the command line: files as given, folders expanded to their
/// `*.yaml` / `*.yml` files in name order.
fn grid_files(args: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let before = files.len();
        for entry in walkdir::WalkDir::new(arg).sort_by_file_name() {
            let entry =
                entry.with_context(|| format!("cannot read the folder {}", arg.display()))?;
            let is_grid = entry
                .path()
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml");
            if entry.file_type().is_file() && is_grid {
                files.push(entry.into_path());
            }
        }
        if files.len() == before {
            bail!("{}: no *.yaml grid files in this folder", arg.display());
        }
    }
    Ok(files)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            grids,
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
            let cache_dir = cache_dir.unwrap_or_else(|| {
                db.db
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .join(".thaw-cache")
            });
            // Every grid is validated before anything runs.
            let planned = grid_files(&grids)?
                .iter()
                .map(|g| exec::plan(g, &data_dir, &cache_dir, max_trials))
                .collect::<Result<Vec<_>>>()?;
            if dry_run {
                for p in &planned {
                    println!("{}", thaw::spec::describe_trials(&p.grid));
                    for (i, (key, _)) in p.trials.iter().enumerate() {
                        println!("trial {:>4}  key {key}", i + 1);
                    }
                    println!(
                        "{}: {} trials; nothing was trained or written (--dry-run)",
                        p.grid.name,
                        p.trials.len()
                    );
                }
                return Ok(());
            }
            let opts = RunOptions {
                db_path: db.db,
                data_dir,
                cache_dir,
                reports_dir: reports.reports_dir,
                templates: reports.templates,
                device: parse_device(&device)?,
                retry_failed,
                keep_checkpoints,
                stale_after: std::time::Duration::from_secs(stale_after),
            };
            exec::interrupt::install()?;
            for p in &planned {
                let summary = exec::run(p, &opts)?;
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
                if let Some(report) = &summary.report {
                    println!("report: {}", report.display());
                }
                if summary.left_to_others > 0 {
                    println!(
                        "{} trials were left to other runners or not retried (failed/diverged: add --retry-failed)",
                        summary.left_to_others
                    );
                }
                if summary.stopped_by_user {
                    eprintln!(
                        "stopped by Ctrl-C after recording the current epoch; run `thaw run {}` again to resume",
                        p.grid.spec_path.display()
                    );
                    std::process::exit(130);
                }
            }
            println!("database: {}", opts.db_path.display());
            Ok(())
        }
        Command::Report { sweep, db, reports } => {
            let path = thaw::report::render_sweep_with(
                &db.db,
                &sweep,
                &reports.reports_dir,
                reports.templates.as_deref(),
            )
            .with_context(|| format!("cannot render the report of sweep {sweep}"))?;
            println!("report: {}", path.display());
            Ok(())
        }
        Command::Export {
            sweep,
            format,
            out,
            db,
            reports,
        } => {
            let format = match format {
                ExportKind::Csv => ExportFormat::Csv,
                ExportKind::Json => ExportFormat::Json,
                ExportKind::Ipynb => ExportFormat::Ipynb,
            };
            let out = match out {
                Some(out) => out,
                None => {
                    let dir = thaw::report::dir_name(&sweep)?;
                    reports
                        .reports_dir
                        .join(&dir)
                        .join(format!("{dir}.{}", format.extension()))
                }
            };
            thaw::report::export_sweep(&db.db, &sweep, format, &out)?;
            println!("exported: {}", out.display());
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
        Command::Predict {
            backbone,
            weights,
            input_size,
            device,
            images,
        } => {
            let kind = thaw::spec::BackboneKind::ALL
                .into_iter()
                .find(|k| k.name() == backbone && k.takes_weights())
                .with_context(|| format!("--backbone {backbone}: expected one of resnet18, resnet34, resnet50, mobilenet_v2, efficientnet_b0, efficientnet_lite0"))?;
            let file = match weights.as_str() {
                "imagenet" => thaw::model::imagenet_weights_path(kind)?,
                path => std::path::PathBuf::from(path),
            };
            let device = parse_device(&device)?;
            let results = thaw::model::predict(kind, &file, &images, input_size, device)?;
            for (image, top) in images.iter().zip(results) {
                println!("{}", image.display());
                for (i, label, p) in top {
                    println!("  {i:>4}  {p:.4}  {label}");
                }
            }
            Ok(())
        }
    }
}
