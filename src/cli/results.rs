//! The commands that read results (and need no libtorch): report (and comparisons), export, ls,
//! query, merge, and the checks and hints they share with `thaw run` and `thaw note`.

use super::{
    DbArgs, ExportArgs, ExportKind, ExportModelArgs, Format, MergeArgs, ReportArgs, RmArgs,
};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use thaw::report::ExportFormat;
use thaw::track::{self, OutputFormat};

/// `thaw report SWEEP`.
pub fn report(sweep: &str, db: &DbArgs, reports: &ReportArgs) -> Result<()> {
    check_sweep(&db.db, sweep)?;
    let path = render(&db.db, sweep, reports)
        .with_context(|| format!("cannot render the report of sweep {sweep}"))?;
    println!("report: {}", path.display());
    Ok(())
}

/// `thaw report --compare A B [...]`.
pub fn compare(sweeps: &[String], db: &DbArgs, reports: &ReportArgs) -> Result<()> {
    if sweeps.len() < 2 {
        bail!(
            "--compare needs at least two sweeps, got {}: thaw report --compare A B [MORE...] \
             (`thaw ls` lists the sweeps)",
            sweeps.len()
        );
    }
    for sweep in sweeps {
        check_sweep(&db.db, sweep)?;
    }
    let path = thaw::report::render_compare(
        &db.db,
        sweeps,
        &reports.reports_dir,
        reports.templates.as_deref(),
    )
    .map_err(|e| {
        disk_hint(
            e,
            &format!("the comparison under {}", reports.reports_dir.display()),
        )
    })
    .with_context(|| format!("cannot render the comparison of {}", sweeps.join(", ")))?;
    println!("comparison: {}", path.display());
    Ok(())
}

fn render(db: &Path, sweep: &str, reports: &ReportArgs) -> Result<PathBuf> {
    thaw::report::render_sweep_with(
        db,
        sweep,
        &reports.reports_dir,
        reports.templates.as_deref(),
    )
    .map_err(|e| {
        disk_hint(
            e,
            &format!("the report under {}", reports.reports_dir.display()),
        )
    })
}

/// `thaw export SWEEP --format ...`.
pub fn export(args: ExportArgs) -> Result<()> {
    let sweep = &args.sweep;
    check_sweep(&args.db.db, sweep)?;
    let format = match args.format {
        ExportKind::Csv => ExportFormat::Csv,
        ExportKind::Json => ExportFormat::Json,
        ExportKind::Ipynb => ExportFormat::Ipynb,
    };
    let out = match args.out {
        Some(out) => out,
        None => {
            let dir = thaw::report::dir_name(sweep)?;
            args.reports
                .reports_dir
                .join(&dir)
                .join(format!("{dir}.{}", format.extension()))
        }
    };
    thaw::report::export_sweep(&args.db.db, sweep, format, &out)?;
    println!("exported: {}", out.display());
    Ok(())
}

/// `thaw export-model SWEEP|TRIAL_KEY [--out DIR]`.
pub fn export_model(args: ExportModelArgs) -> Result<()> {
    let written = thaw::exported::export_model(&args.db.db, &args.what, args.out.as_deref())
        .map_err(|e| disk_hint(e, "the exported model"))?;
    for (key, dir) in written {
        println!("exported trial {key}: {}", dir.display());
    }
    Ok(())
}

/// `thaw ls`.
pub fn ls(db: &DbArgs, all: bool) -> Result<()> {
    if !db.db.exists() {
        bail!(
            "no database at {}; run `thaw run GRID` first or pass --db",
            db.db.display()
        );
    }
    let db = track::Db::open(&db.db)?;
    print!("{}", track::format_overview(&db.sweep_overview()?, all));
    Ok(())
}

/// `thaw rm SWEEP [--superseded]`: says what it would delete, asks for the sweep's name (or
/// takes `--yes`), deletes, then removes the files of the deleted trials' kept models.
pub fn rm(args: RmArgs) -> Result<()> {
    if !args.db.db.exists() {
        bail!("no database at {}; pass --db", args.db.db.display());
    }
    let db = track::Db::open(&args.db.db)?;
    let sweep = &args.sweep;
    let plan = db.removal(sweep, args.superseded)?;
    let what = if args.superseded {
        format!("the superseded trials of sweep {sweep}")
    } else {
        format!("sweep {sweep}")
    };
    if plan.trials == 0 && args.superseded {
        println!("sweep {sweep} has no superseded trials; nothing to delete");
        return Ok(());
    }
    println!(
        "thaw rm deletes {what} from {}: {} trials ({} completed), {} metric rows, {} kept models",
        args.db.db.display(),
        plan.trials,
        plan.completed,
        plan.metrics,
        plan.kept_models.len()
    );
    if !args.yes {
        use std::io::{BufRead, IsTerminal, Write};
        if !std::io::stdin().is_terminal() {
            bail!(
                "not deleted: confirm on a terminal, or add --yes to delete {what} without asking"
            );
        }
        print!("type the sweep's name to delete, anything else to keep it: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != sweep {
            println!("kept: nothing was deleted");
            return Ok(());
        }
    }
    let done = db.remove(sweep, args.superseded)?;
    for path in &done.kept_models {
        if let Err(e) = std::fs::remove_file(path) {
            eprintln!(
                "warning: could not delete the kept model {}: {e}",
                path.display()
            );
        }
    }
    println!(
        "deleted {what}: {} trials, {} metric rows, {} kept models",
        done.trials,
        done.metrics,
        done.kept_models.len()
    );
    Ok(())
}

/// `thaw query SQL`.
pub fn query(sql: &str, format: Format, db: &DbArgs) -> Result<()> {
    let result = track::query_readonly(&db.db, sql)?;
    let format = match format {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
    };
    print!("{}", track::format_result(&result, format));
    Ok(())
}

/// `thaw merge SHARDS... --db DB`: merges, then renders the merged sweeps' reports.
pub fn merge(args: MergeArgs) -> Result<()> {
    let files = shard_files(&args.shards)?;
    let expected = (!args.sweeps.is_empty()).then_some(args.sweeps.as_slice());
    let db = &args.db.db;
    let summary = track::merge_shards(db, &files, expected)?;
    println!(
        "merged {} shards into {}: {} trials added, {} updated, {} unchanged",
        summary.shards,
        db.display(),
        summary.trials_added,
        summary.trials_updated,
        summary.trials_unchanged
    );
    if !args.no_report {
        for sweep in track::sweep_names(db)? {
            if args.sweeps.is_empty() || args.sweeps.contains(&sweep) {
                println!("report: {}", render(db, &sweep, &args.reports)?.display());
            }
        }
    }
    Ok(())
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

/// Fails, naming the database and listing its sweeps, when `sweep` is not in it (before any
/// report or export file is written).
pub fn check_sweep(db: &Path, sweep: &str) -> Result<()> {
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

/// Adds what to do to an error caused by a full disk, a file-size limit or a read-only disk.
pub fn disk_hint(err: anyhow::Error, what: &str) -> anyhow::Error {
    let os_error_in = |codes: &[i32]| {
        err.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::raw_os_error)
                .is_some_and(|code| codes.contains(&code))
        })
    };
    let sqlite_full = err.chain().any(|c| {
        c.downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            .is_some_and(|code| {
                matches!(
                    code,
                    rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure
                )
            })
    });
    let full = sqlite_full || os_error_in(&[libc::ENOSPC, libc::EFBIG, libc::EDQUOT]);
    let read_only = os_error_in(&[libc::EACCES, libc::EPERM, libc::EROFS]);
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
