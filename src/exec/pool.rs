//! The worker processes of `thaw run --jobs N`: N `thaw run` processes on the same grids and
//! database, each claiming trials in a transaction (see [`crate::track::ClaimRules`]), so the
//! work is shared without a coordinator and none runs twice. One process per trial keeps
//! libtorch's per-process state (threads, CUDA context, allocator) separate, and a crash in one
//! worker loses only its own epoch in flight.
//!
//! Each worker writes its output straight to a log file, never to a pipe: a pipe that nobody
//! reads fills up (64 KiB) and blocks the worker inside its trial.

use super::outcome::{EXIT_INCOMPLETE, EXIT_TRIALS_FAILED};
use anyhow::{Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use tch::Device;

/// One worker process.
pub struct Worker {
    /// 1-based, as the user sees it.
    pub index: usize,
    pub device: Device,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    child: Child,
    /// Its exit status, once it has exited.
    pub exit: Option<ExitStatus>,
}

impl Worker {
    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// The running workers of one `thaw run`.
pub struct Pool {
    pub workers: Vec<Worker>,
    /// Folder of the workers' log files.
    pub log_dir: PathBuf,
}

impl Pool {
    /// Starts `jobs` workers running `thaw run` with `args` (built by the caller, without
    /// `--jobs`, `--threads`, `--device` and `--worker`), worker i on `devices[i % len]` with
    /// `threads` libtorch threads, logging to `log_dir/worker-i.log`.
    pub fn spawn(
        args: &[String],
        jobs: usize,
        devices: &[Device],
        threads: usize,
        log_dir: &Path,
    ) -> Result<Pool> {
        let exe =
            std::env::current_exe().context("cannot find the thaw executable to start workers")?;
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create the log folder {}", log_dir.display()))?;
        let workers = (1..=jobs)
            .map(|index| {
                let device = devices[(index - 1) % devices.len()];
                let log = log_dir.join(format!("worker-{index}.log"));
                let out = File::create(&log)
                    .with_context(|| format!("cannot create the worker log {}", log.display()))?;
                let child = Command::new(&exe)
                    .arg("run")
                    .args(args)
                    .args(["--jobs", "1", "--threads", &threads.to_string()])
                    .args(["--device", &super::device_name(device)])
                    .args(["--worker", &index.to_string()])
                    .stdin(Stdio::null())
                    .stdout(out.try_clone()?)
                    .stderr(out)
                    .spawn()
                    .with_context(|| format!("cannot start worker {index}"))?;
                Ok(Worker {
                    index,
                    device,
                    log,
                    child,
                    exit: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Pool {
            workers,
            log_dir: log_dir.to_path_buf(),
        })
    }

    /// Records which workers have exited (without blocking); true when all have.
    pub fn poll(&mut self) -> Result<bool> {
        for w in &mut self.workers {
            if w.exit.is_none() {
                w.exit = w.child.try_wait()?;
            }
        }
        Ok(self.workers.iter().all(|w| w.exit.is_some()))
    }

    /// Sends `signal` to every worker still running.
    pub fn signal(&self, signal: i32) {
        for w in self.workers.iter().filter(|w| w.exit.is_none()) {
            // SAFETY: sends a signal to a child process this pool started and has not reaped.
            unsafe { libc::kill(w.pid() as i32, signal) };
        }
    }

    /// One line per worker that ended with an error (not a stop signal), with its log's tail.
    pub fn failures(&self) -> Vec<String> {
        self.workers
            .iter()
            .filter_map(|w| {
                let status = w.exit?;
                // Its trials' outcomes are in the database; only an error of its own counts.
                let ended = status.code().is_some_and(|c| {
                    c == 0 || c >= 128 || [EXIT_TRIALS_FAILED, EXIT_INCOMPLETE].contains(&(c as u8))
                });
                (!ended).then(|| {
                    format!(
                        "worker {} exited with {status}; its log {} ends:\n{}",
                        w.index,
                        w.log.display(),
                        w.log_tail(5)
                    )
                })
            })
            .collect()
    }
}
