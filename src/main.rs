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

/// `--checkpoint-every` as a duration.
fn checkpoint_duration(seconds: f64) -> Result<std::time::Duration> {
    if !(seconds.is_finite() && seconds >= 0.0) {
        bail!(
            "--checkpoint-every {seconds}: give a number of seconds, 0 or more (0 = every epoch)"
        );
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// This process's `thaw run` arguments for its workers: without `--jobs`, `--threads` and
/// `--device` (or its alias `--devices`), which each worker gets its own of.
fn worker_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip_while(|a| a != "run").skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" | "--threads" | "--device" | "--devices" => {
                args.next();
            }
            _ if a.starts_with("--jobs=")
                || a.starts_with("--threads=")
                || a.starts_with("--device=")
                || a.starts_with("--devices=") => {}
            _ => out.push(a),
        }
    }
    out
}

/// Fails, naming the database and listing its sweeps, when `sweep` is not in it (before any
/// report or export file is written).
fn check_sweep(db: &Path, sweep: &str) -> Result<()> {
    let names = track::sweep_names(db)?;
    if !names.iter().any(|n| n == sweep) {
        bail!(
            "no sweep named \"{sweep}\" in {}; {} (`thaw ls` lists them with their trial counts)",
            db.display(),
            if names.is_empty() {
                "it holds no sweeps yet: run `thaw run GRID` first".to_string()
            } else {
                format!("its sweeps: {}", names.join(", "))
            }
        );
    }
    Ok(())
}

/// Fails when the reports folder cannot be created or written, before anything is trained.
fn check_reports_dir(dir: &Path) -> Result<()> {
    let hint = "fix its permissions or choose another with --reports-dir (or THAW_REPORTS)";
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the reports folder {}; {hint}", dir.display()))?;
    let probe = dir.join(format!(".thaw-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "the reports folder {} is not writable; {hint}",
            dir.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Adds what to do to an error caused by a full disk, a file-size limit or a read-only disk.
fn disk_hint(err: anyhow::Error, what: &str) -> anyhow::Error {
    let full = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| [libc::ENOSPC, libc::EFBIG, libc::EDQUOT].contains(&code))
            || c.downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code)
                .is_some_and(|code| {
                    matches!(
                        code,
                        rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure
                    )
                })
    });
    let read_only = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|code| [libc::EACCES, libc::EPERM, libc::EROFS].contains(&code))
    });
    if full {
        err.context(format!(
            "cannot write {what}: the disk is full, a file-size limit was hit or the disk failed; free space \
             (or choose another folder) and run the same command again"
        ))
    } else if read_only {
        err.context(format!(
            "cannot write {what}: permission denied or read-only disk; fix the permissions \
             or choose another folder"
        ))
    } else {
        err
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            grids,
            dry_run,
            device,
            jobs,
            threads,
            data_dir,
            cache_dir,
            retry_failed,
            keep_checkpoints,
            checkpoint_every,
            no_feature_reuse,
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
            let checkpoint_every = checkpoint_duration(checkpoint_every)?;
            exec::interrupt::install()?;
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
            let devices = device
                .split(',')
                .map(parse_device)
                .collect::<Result<Vec<_>>>()?;
            let jobs = match jobs {
                Some(n) => n.max(1),
                None => {
                    let trials: Vec<_> = planned
                        .iter()
                        .flat_map(|p| &p.trials)
                        .map(|t| &t.1)
                        .collect();
                    let choice = exec::workers::default_jobs(&devices, &trials);
                    if choice.jobs > 1 {
                        println!(
                            "--jobs {} (default: {}; set --jobs to override)",
                            choice.jobs, choice.reason
                        );
                    }
                    choice.jobs
                }
            };
            let threads = threads.unwrap_or_else(|| {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / jobs).max(1)
            });
            tch::set_num_threads(threads as i32);
            check_reports_dir(&reports.reports_dir)?;
            let workers = exec::workers::spawn(&worker_args(), jobs, &devices, threads)?;
            let opts = RunOptions {
                db_path: db.db,
                data_dir,
                cache_dir,
                reports_dir: reports.reports_dir,
                templates: reports.templates,
                device: exec::workers::device_of(0, &devices),
                retry_failed,
                keep_checkpoints,
                feature_reuse: !no_feature_reuse,
                checkpoint_every,
                stale_after: std::time::Duration::from_secs(stale_after),
            };
            for p in &planned {
                let summary = exec::run(p, &opts).map_err(|e| {
                    disk_hint(
                        e,
                        &format!(
                            "the database {} or the reports under {}",
                            opts.db_path.display(),
                            opts.reports_dir.display()
                        ),
                    )
                })?;
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
                if summary.completed + summary.failed + summary.diverged > 0 {
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
                if summary.stopped_by_user {
                    eprintln!(
                        "stopped by Ctrl-C after recording the current epoch; run `thaw run {}` again to resume",
                        p.grid.spec_path.display()
                    );
                    std::process::exit(130);
                }
            }
            exec::workers::wait(workers)?;
            if jobs > 1 {
                // The workers may have finished trials after this process's last render.
                for p in &planned {
                    exec::render(&opts, &p.grid.name)?;
                    let counts = track::status_counts(&opts.db_path, &p.grid.name)?;
                    let counts: Vec<String> =
                        counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                    println!(
                        "sweep {} after all {jobs} processes: {}",
                        p.grid.name,
                        counts.join(", ")
                    );
                }
            }
            println!("database: {}", opts.db_path.display());
            Ok(())
        }
        Command::Report { sweep, db, reports } => {
            check_sweep(&db.db, &sweep)?;
            let path = thaw::report::render_sweep_with(
                &db.db,
                &sweep,
                &reports.reports_dir,
                reports.templates.as_deref(),
            )
            .map_err(|e| {
                disk_hint(
                    e,
                    &format!("the report under {}", reports.reports_dir.display()),
                )
            })
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
            check_sweep(&db.db, &sweep)?;
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
