//! `thaw run --on-finish CMD`: a command run once the run has ended (for mail, chat or a
//! desktop notification), told how it ended through environment variables.

use super::outcome::RunOutcome;
use super::PlannedSweep;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the command is told.
pub struct Ending<'a> {
    pub outcome: &'a RunOutcome,
    /// The exit status thaw ends with.
    pub exit_status: u8,
    pub sweeps: &'a [PlannedSweep],
    pub db: &'a Path,
    /// The sweeps' report pages (none for a shard, which renders none).
    pub reports: Vec<PathBuf>,
}

impl Ending<'_> {
    /// The environment variables `CMD` gets, with their values.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        let o = self.outcome;
        let names: Vec<&str> = self.sweeps.iter().map(|p| p.grid.name.as_str()).collect();
        let reports: Vec<String> = (self.reports.iter())
            .map(|p| p.display().to_string())
            .collect();
        vec![
            ("THAW_SWEEPS", names.join("\n")),
            ("THAW_TRIALS", o.total.to_string()),
            ("THAW_COMPLETED", o.completed.to_string()),
            ("THAW_FAILED", o.failed.len().to_string()),
            ("THAW_INCOMPLETE", o.incomplete.len().to_string()),
            ("THAW_RUNNING_ELSEWHERE", o.running_elsewhere.to_string()),
            ("THAW_EXIT_STATUS", self.exit_status.to_string()),
            (
                "THAW_STOPPED_BY",
                o.stopped_by.map_or(String::new(), |s| s.name().to_string()),
            ),
            ("THAW_REPORT", reports.first().cloned().unwrap_or_default()),
            ("THAW_REPORTS", reports.join("\n")),
            ("THAW_DB", self.db.display().to_string()),
        ]
    }

    /// Runs `cmd` with `sh -c`, its output passed through, and waits for it. A command that
    /// fails is reported on stderr; it never changes thaw's exit status.
    pub fn run(&self, cmd: &str) {
        let status = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .envs(self.variables())
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("warning: --on-finish command ended with {s}: {cmd}"),
            Err(e) => eprintln!("warning: cannot run the --on-finish command ({e}): {cmd}"),
        }
    }
}
