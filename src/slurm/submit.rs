//! Writing a submission's folder and handing its scripts to `sbatch`, chained by dependencies.

use super::script::{self, Job};
use super::SlurmPlan;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The job ids of a submission, kept in `<dir>/jobs.json` for `thaw slurm status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Submitted {
    pub name: String,
    pub prepare: String,
    pub trials: String,
    pub merge: String,
    /// Array tasks.
    pub tasks: usize,
    /// The sweeps of the submission and the merged database.
    pub sweeps: Vec<String>,
    pub db: PathBuf,
    /// RFC 3339, UTC.
    pub submitted_at: String,
}

/// The file holding a submission's job ids.
pub fn jobs_file(dir: &Path) -> PathBuf {
    dir.join("jobs.json")
}

/// Creates the submission folder (`shards/`, `logs/`) and writes the three scripts; returns
/// their paths in submission order.
pub fn write_scripts(plan: &SlurmPlan) -> Result<Vec<PathBuf>> {
    for sub in ["shards", "logs"] {
        let dir = plan.dir.join(sub);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    Job::ALL
        .iter()
        .map(|&job| {
            let path = plan.dir.join(job.file_name());
            std::fs::write(&path, script::render(plan, job))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// Submits the scripts written by [`write_scripts`]: prepare, then the array after it
/// succeeded (cancelled if it failed), then the merge after every task ended. Records the ids in
/// `jobs.json`.
pub fn submit(plan: &SlurmPlan) -> Result<Submitted> {
    let script = |job: Job| plan.dir.join(job.file_name());
    let prepare = sbatch(&[], &script(Job::Prepare))?;
    let trials = sbatch(
        &[
            format!("--dependency=afterok:{prepare}"),
            "--kill-on-invalid-dep=yes".to_string(),
        ],
        &script(Job::Trials),
    )?;
    let merge = sbatch(
        &[format!("--dependency=afterany:{trials}")],
        &script(Job::Merge),
    )?;
    let submitted = Submitted {
        name: plan.name.clone(),
        prepare,
        trials,
        merge,
        tasks: plan.tasks,
        sweeps: plan.sweeps.clone(),
        db: plan.db.clone(),
        submitted_at: crate::track::writer::now_rfc3339(),
    };
    let file = jobs_file(&plan.dir);
    std::fs::write(&file, serde_json::to_string_pretty(&submitted)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(submitted)
}

/// Runs `sbatch --parsable ARGS SCRIPT`; returns the job id.
fn sbatch(args: &[String], script: &Path) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .with_context(|| {
            "cannot run sbatch: is this a Slurm login node? (`thaw slurm --dry-run` writes the scripts without submitting)"
        })?;
    if !out.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `--parsable` prints `id` or `id;cluster`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch {} printed no job id: {text:?}", script.display());
    }
    Ok(id)
}
