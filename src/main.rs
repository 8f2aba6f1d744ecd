//! The `thaw` binary: parses the command line and calls the library.

mod cli;

use anyhow::{bail, Context, Result};
use clap::Parser;
use cli::{Cli, Command, ExportKind, Format};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tch::Device;
use thaw::exec::launch::{grid_files, RunConfig};
use thaw::exec::{self, RunOptions};
use thaw::report::ExportFormat;
use thaw::track::{self, OutputFormat};

fn main() -> ExitCode {
    exec::allocator::keep_freed_memory();
    match run(Cli::parse()) {
        Ok(code) => code,
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

/// The cache folder when none is given: `.thaw-cache` beside the database.
fn default_cache_dir(db: &Path) -> PathBuf {
    db.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".thaw-cache")
}

/// Shard databases named on the command line: files as given, folders expanded to their
/// `*.sqlite` files in name order.
fn shard_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if !arg.is_dir() {
            files.push(arg.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
            .with_context(|| format!("cannot read the folder {}", arg.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
            .collect();
        found.sort();
        files.extend(found);
    }
    if files.is_empty() {
        let named: Vec<String> = args.iter().map(|a| a.display().to_string()).collect();
        bail!(
            "no shard databases (*.sqlite) in {}: has any array task started yet?",
            named.join(", ")
        );
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

fn run(cli: Cli) -> Result<ExitCode> {
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
            shard,
            worker,
            db,
            reports,
        } => {
            let cache_dir = cache_dir.unwrap_or_else(|| default_cache_dir(&db.db));
            let shard = shard.map(|s| s.parse()).transpose()?;
            let devices = device
                .split(',')
                .map(parse_device)
                .collect::<Result<Vec<_>>>()?;
            let render = shard.is_none();
            if render && !dry_run {
                check_reports_dir(&reports.reports_dir)?;
            }
            let config = RunConfig {
                grids: grid_files(&grids)?,
                dry_run,
                jobs,
                threads,
                shard,
                worker,
                max_trials,
                options: RunOptions {
                    db_path: db.db,
                    data_dir,
                    cache_dir,
                    reports_dir: reports.reports_dir,
                    templates: reports.templates,
                    device: devices[0],
                    retry_failed,
                    keep_checkpoints,
                    feature_reuse: !no_feature_reuse,
                    checkpoint_every: checkpoint_duration(checkpoint_every)?,
                    stale_after: std::time::Duration::from_secs(stale_after),
                    render,
                },
                devices,
            };
            let code = exec::launch::launch(&config).map_err(|e| {
                disk_hint(
                    e,
                    &format!(
                        "the database {} or the reports under {}",
                        config.options.db_path.display(),
                        config.options.reports_dir.display()
                    ),
                )
            })?;
            Ok(ExitCode::from(code))
        }
        Command::Prepare {
            grids,
            device,
            data_dir,
            cache_dir,
            db,
        } => {
            let cache_dir = cache_dir.unwrap_or_else(|| default_cache_dir(&db.db));
            let device = parse_device(&device)?;
            let planned = grid_files(&grids)?
                .iter()
                .map(|g| exec::plan(g, &data_dir, &cache_dir, usize::MAX))
                .collect::<Result<Vec<_>>>()?;
            let made = exec::prepare::prepare(&planned, &db.db, &data_dir, &cache_dir, device)?;
            let names: Vec<&str> = planned.iter().map(|p| p.grid.name.as_str()).collect();
            println!(
                "prepared {}: {made} source checkpoints pretrained now, any others were already in {}",
                names.join(", "),
                cache_dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Merge {
            shards,
            sweeps,
            no_report,
            db,
            reports,
        } => {
            let files = shard_files(&shards)?;
            let expected = (!sweeps.is_empty()).then_some(sweeps.as_slice());
            let summary = track::merge_shards(&db.db, &files, expected)?;
            println!(
                "merged {} shards into {}: {} trials added, {} updated, {} unchanged",
                summary.shards,
                db.db.display(),
                summary.trials_added,
                summary.trials_updated,
                summary.trials_unchanged
            );
            if !no_report {
                for sweep in track::sweep_names(&db.db)? {
                    if !sweeps.is_empty() && !sweeps.contains(&sweep) {
                        continue;
                    }
                    let path = thaw::report::render_sweep_with(
                        &db.db,
                        &sweep,
                        &reports.reports_dir,
                        reports.templates.as_deref(),
                    )?;
                    println!("report: {}", path.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Slurm(args) => cli::slurm::run(*args),
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
            Ok(ExitCode::SUCCESS)
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
            Ok(ExitCode::SUCCESS)
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Query { sql, format, db } => {
            let result = track::query_readonly(&db.db, &sql)?;
            let format = match format {
                Format::Table => OutputFormat::Table,
                Format::Csv => OutputFormat::Csv,
                Format::Json => OutputFormat::Json,
            };
            print!("{}", track::format_result(&result, format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor => {
            println!("{}", thaw::doctor::report());
            Ok(ExitCode::SUCCESS)
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
            Ok(ExitCode::SUCCESS)
        }
    }
}
