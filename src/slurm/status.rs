//! `thaw slurm status NAME`: the submission's jobs as the queue shows them (`squeue`; `sacct`
//! needs the accounting daemon, which small clusters lack) and each shard's trial counts.

use super::submit::{jobs_file, Submitted};
use crate::track;
use anyhow::{Context, Result};
use std::fmt::Write;
use std::path::Path;
use std::process::Command;

/// The status text of the submission in `dir`.
pub fn status(dir: &Path) -> Result<String> {
    let file = jobs_file(dir);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "cannot read {}: was this submission made by `thaw slurm` without --dry-run?",
            file.display()
        )
    })?;
    let jobs: Submitted = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a thaw submission record", file.display()))?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: submitted {}; prepare job {}, trials array {} ({} tasks), merge job {}",
        jobs.name, jobs.submitted_at, jobs.prepare, jobs.trials, jobs.tasks, jobs.merge
    );
    out.push_str(&queue(&[&jobs.prepare, &jobs.trials, &jobs.merge]));
    let _ = writeln!(out, "shards:");
    let shards = dir.join("shards");
    let mut files: Vec<_> = std::fs::read_dir(&shards)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "sqlite"));
    files.sort();
    if files.is_empty() {
        let _ = writeln!(out, "  none yet in {}", shards.display());
    }
    for f in files {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut parts = Vec::new();
        for sweep in &jobs.sweeps {
            match track::status_counts(&f, sweep) {
                Ok(counts) if !counts.is_empty() => {
                    let c: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
                    parts.push(format!("{sweep}: {}", c.join(", ")));
                }
                Ok(_) => {}
                Err(e) => parts.push(format!("unreadable ({e:#})")),
            }
        }
        if parts.is_empty() {
            parts.push("no trials".to_string());
        }
        let _ = writeln!(out, "  {name:<18} {}", parts.join("; "));
    }
    let _ = writeln!(
        out,
        "merged database: {} (`thaw merge {} --db {}` merges now)",
        jobs.db.display(),
        shards.display(),
        jobs.db.display()
    );
    Ok(out)
}

/// The jobs' lines of `squeue`, one per array task, or why there are none.
fn queue(ids: &[&str]) -> String {
    let out = Command::new("squeue")
        .args([
            "-h",
            "-r",
            "-o",
            "  %14i %10T %22r %M %N",
            "-j",
            &ids.join(","),
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            if text.trim().is_empty() {
                "  no job of this submission is in the queue any more (all ended)\n".to_string()
            } else {
                format!(
                    "  {:<14} {:<10} {:<22} TIME NODE\n{text}",
                    "JOB", "STATE", "REASON"
                )
            }
        }
        // Jobs that ended long enough ago are unknown to squeue.
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("Invalid job id") => {
            "  no job of this submission is in the queue any more (all ended)\n".to_string()
        }
        Ok(o) => format!(
            "  squeue failed: {}\n",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("  cannot run squeue ({e}): not on a Slurm node?\n"),
    }
}
