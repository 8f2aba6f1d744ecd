//! Provenance: gathering the [`Environment`] a runner trains in. thaw's build comes from
//! `build.rs`, the CUDA and cuDNN versions from libtorch (`csrc/cuda_versions.cpp`), the GPU
//! from `nvidia-smi`, the grid file's version from `git`, the machine from `/proc` and
//! `/etc/os-release`. Nothing goes over the network; a fact that cannot be had is left out
//! (`None`), never an error. The facts of the machine are gathered once per process.

use crate::exec::device_name;
use crate::exec::jobs::renumber_visible;
use crate::track::Environment;
use std::collections::HashMap;
use std::os::raw::c_long;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use tch::Device;

extern "C" {
    fn thaw_cuda_runtime_version() -> c_long;
    fn thaw_cudnn_version() -> c_long;
}

/// The environment of this process training on `device`, for the grid file `grid` (`None`:
/// no grid, as for `thaw doctor`).
pub fn gather(device: Device, grid: Option<&Path>) -> Environment {
    static MACHINE: OnceLock<Environment> = OnceLock::new();
    let mut env = MACHINE.get_or_init(machine).clone();
    env.device = Some(device_name(device));
    if let Device::Cuda(index) = device {
        if let Some((name, mib)) = gpu(index) {
            env.gpu_name = Some(name);
            env.gpu_memory_mib = Some(mib);
        }
    }
    if let Some(grid) = grid {
        let path = grid.canonicalize().unwrap_or_else(|_| grid.to_path_buf());
        (env.grid_commit, env.grid_dirty) = git_state(&path);
        env.grid_path = Some(path.display().to_string());
    }
    env
}

/// The facts of this machine and process, without a device or a grid.
fn machine() -> Environment {
    let cuda = tch::Cuda::is_available();
    // SAFETY: plain C functions that only read libtorch's CUDA hooks, catching every exception.
    let (cudart, cudnn) = unsafe { (thaw_cuda_runtime_version(), thaw_cudnn_version()) };
    Environment {
        thaw_version: env!("CARGO_PKG_VERSION").to_string(),
        thaw_build: env!("THAW_BUILD").to_string(),
        semantics: crate::spec::SEMANTICS.to_string(),
        grid_path: None,
        grid_commit: None,
        grid_dirty: None,
        libtorch: Some(env!("THAW_LIBTORCH_VERSION").to_string()),
        cuda: cuda.then(|| cuda_version(cudart)).flatten(),
        cudnn: cuda.then(|| cudnn_version(cudnn)).flatten(),
        device: None,
        gpu_name: None,
        gpu_memory_mib: None,
        cpu_model: std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| cpu_model(&text)),
        cpu_cores: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as i64),
        host: crate::exec::runner::hostname(),
        os: os_name(),
        command_line: command_line(std::env::args()),
    }
}

/// `12080` → `12.8`; `None` for libtorch's "no CUDA" (-1).
fn cuda_version(v: c_long) -> Option<String> {
    (v > 0).then(|| format!("{}.{}", v / 1000, (v % 1000) / 10))
}

/// `90800` → `9.8.0` (cuDNN 9 and later), `8907` → `8.9.7` (cuDNN 8); `None` for -1.
fn cudnn_version(v: c_long) -> Option<String> {
    let major = if v >= 10_000 { v / 10_000 } else { v / 1000 };
    let minor = if v >= 10_000 {
        v % 10_000 / 100
    } else {
        v % 1000 / 100
    };
    (v > 0).then(|| format!("{major}.{minor}.{}", v % 100))
}

/// The first `model name` of `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "model name")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `PRETTY_NAME (Linux <kernel>)`, or whatever part of it this system tells.
fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| pretty_name(&text));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|k| format!("Linux {}", k.trim()));
    match (pretty, kernel) {
        (Some(p), Some(k)) => format!("{p} ({k})"),
        (Some(p), None) => p,
        (None, Some(k)) => k,
        (None, None) => std::env::consts::OS.to_string(),
    }
}

/// The `PRETTY_NAME` of `/etc/os-release` text, unquoted.
fn pretty_name(os_release: &str) -> Option<String> {
    let value = os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
    let value = value.trim().trim_matches('"').trim_matches('\'');
    (!value.is_empty()).then(|| value.to_string())
}

/// The arguments as one line a shell reads back the same: arguments with spaces, quotes or
/// other special characters single-quoted.
fn command_line(args: impl Iterator<Item = String>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    args.map(|a| {
        if !a.is_empty() && a.chars().all(plain) {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    })
    .collect::<Vec<_>>()
    .join(" ")
}

/// The HEAD commit of the git repository holding `file`, and whether the file differs from
/// it (changed, untracked or ignored); both `None` outside a repository, in one without
/// commits, or without git.
fn git_state(file: &Path) -> (Option<String>, Option<bool>) {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return (None, None);
    };
    let git = |args: &[&std::ffi::OsStr]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse".as_ref(), "--verify".as_ref(), "HEAD".as_ref()]) else {
        return (None, None);
    };
    // Without optional locks: reading the state never rewrites the repository's index.
    let status = [
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--ignored",
        "--",
    ];
    let status = status.map(std::ffi::OsStr::new);
    let dirty = git(&[&status[..], &[name]].concat()).map(|s| !s.is_empty());
    (Some(commit), dirty)
}

/// The name and memory (MiB) of CUDA device `index` as libtorch numbers it, from `nvidia-smi`.
fn gpu(index: usize) -> Option<(String, i64)> {
    let out = Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let physical = parse_gpus(&String::from_utf8_lossy(&out.stdout));
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    renumber_visible(&physical, visible.as_deref()).remove(&index)
}

/// `index, name, MiB` lines of nvidia-smi by physical index.
fn parse_gpus(text: &str) -> HashMap<usize, (String, i64)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(',').map(str::trim);
            let index = parts.next()?.parse().ok()?;
            let name = parts.next()?.to_string();
            let mib = parts.next()?.parse().ok()?;
            Some((index, (name, mib)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_described_and_cuda_facts_need_cuda() {
        let env = gather(Device::Cpu, None);
        assert_eq!(env.thaw_version, env!("CARGO_PKG_VERSION"));
        assert!(env.thaw_build.starts_with("git "), "{}", env.thaw_build);
        assert!(env.thaw_build.contains("features: "), "{}", env.thaw_build);
        assert_eq!(env.semantics, crate::spec::SEMANTICS);
        assert_eq!(env.device.as_deref(), Some("cpu"));
        assert_eq!((env.gpu_name, env.gpu_memory_mib), (None, None));
        assert_eq!(env.libtorch.as_deref(), Some(env!("THAW_LIBTORCH_VERSION")));
        if !tch::Cuda::is_available() {
            assert_eq!((env.cuda, env.cudnn), (None, None), "no CUDA here");
        }
        assert!(env.cpu_cores.is_some_and(|n| n >= 1));
        assert!(!env.host.is_empty() && !env.os.is_empty());
        assert_eq!(env.command_line, command_line(std::env::args()));
        assert_eq!(env.grid_path, None);
        assert_eq!(
            gather(Device::Cpu, None).key(),
            gather(Device::Cpu, None).key()
        );
    }

    #[test]
    fn versions_and_system_files_are_read() {
        assert_eq!(cuda_version(12080).as_deref(), Some("12.8"));
        assert_eq!(cuda_version(13000).as_deref(), Some("13.0"));
        assert_eq!(cuda_version(-1), None);
        assert_eq!(cudnn_version(90800).as_deref(), Some("9.8.0"));
        assert_eq!(cudnn_version(8907).as_deref(), Some("8.9.7"));
        assert_eq!(cudnn_version(-1), None);
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(cpu_model("processor : 0\n"), None);
        let release = "NAME=\"Ubuntu\"\nPRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\nID=ubuntu\n";
        assert_eq!(pretty_name(release).as_deref(), Some("Ubuntu 22.04.4 LTS"));
        assert_eq!(pretty_name("ID=x\n"), None);
        let gpus = parse_gpus("0, NVIDIA H200, 143771\n1, NVIDIA A100-SXM4-80GB, 81920\nbad\n");
        assert_eq!(gpus[&1], ("NVIDIA A100-SXM4-80GB".to_string(), 81920));
        assert_eq!(gpus.len(), 2);
    }

    #[test]
    fn command_lines_quote_what_a_shell_would_split() {
        let args = [
            "thaw",
            "run",
            "my grid.yaml",
            "--db",
            "it's.db",
            "",
            "--jobs=2",
        ];
        assert_eq!(
            command_line(args.iter().map(|a| a.to_string())),
            r"thaw run 'my grid.yaml' --db 'it'\''s.db' '' --jobs=2"
        );
    }

    #[test]
    fn a_grid_outside_a_git_repository_has_no_commit() {
        let dir = tempfile::tempdir().unwrap();
        let grid = dir.path().join("g.yaml");
        std::fs::write(&grid, "name: g\n").unwrap();
        let env = gather(Device::Cpu, Some(&grid));
        assert_eq!((env.grid_commit, env.grid_dirty), (None, None));
        let path = grid.canonicalize().unwrap();
        assert_eq!(env.grid_path, Some(path.display().to_string()));
    }
}
