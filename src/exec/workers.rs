//! Several trials at once: `--jobs N` starts N − 1 more `thaw run` processes on the same grids
//! and database. Each process claims trials in a transaction (see [`crate::track::ClaimRules`]),
//! so the work is shared without a coordinator and none runs twice; one process per trial keeps
//! libtorch's per-process state (threads, CUDA context, allocator) separate, and a crash in one
//! worker loses only its own epoch in flight.

use anyhow::{Context, Result};
use std::process::{Child, Command, Stdio};
use tch::Device;

/// Default number of trials at once: 1 on the CPU (libtorch already uses every core for one
/// trial), 4 per CUDA device (thaw's small backbones leave a GPU mostly idle; four cnn4/resnet8
/// trials need well under 2 GiB of device memory).
pub fn default_jobs(devices: &[Device]) -> usize {
    devices
        .iter()
        .map(|d| if d.is_cuda() { 4 } else { 1 })
        .sum::<usize>()
        .max(1)
}

/// The device of worker `i` of a run over `devices`: round robin.
pub fn device_of(i: usize, devices: &[Device]) -> Device {
    devices[i % devices.len()]
}

/// Starts workers `1..jobs` as child processes running `thaw run` with `args` (the command
/// line after `run`, without `--jobs`, `--device` and `--threads`), each on its device with
/// `threads` libtorch threads. Their output is discarded: they record everything in the
/// database, and the parent reports the sweep.
pub fn spawn(
    args: &[String],
    jobs: usize,
    devices: &[Device],
    threads: usize,
) -> Result<Vec<Child>> {
    let exe =
        std::env::current_exe().context("cannot find the thaw executable to start workers")?;
    (1..jobs)
        .map(|i| {
            Command::new(&exe)
                .arg("run")
                .args(args)
                .args(["--jobs", "1", "--threads", &threads.to_string()])
                .args(["--device", &super::device_name(device_of(i, devices))])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot start worker {i}"))
        })
        .collect()
}

/// Waits for the workers; an error names each worker that failed, with its last output.
pub fn wait(children: Vec<Child>) -> Result<()> {
    let mut failures = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output()?;
        if !out.status.success() && out.status.code() != Some(130) {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            failures.push(format!(
                "worker {} exited with {}: {}",
                i + 1,
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
    }
    anyhow::ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}
