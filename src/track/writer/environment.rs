//! Provenance: the environment a runner ran in, one row of `environments` per distinct record,
//! linked from each trial it claims (`trials.environment_key`, see [`super::ClaimRules`]).

use super::{now_rfc3339, Db};
use anyhow::{Context, Result};
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// Where and with what a runner trained: thaw's build, the grid file's version, libtorch and
/// the devices, the machine and the command line. Absent facts are `None` (NULL): no CUDA, a
/// grid outside a git repository, a machine that does not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// thaw's version (`Cargo.toml`).
    pub thaw_version: String,
    /// thaw's git commit (and whether its sources differed from it), profile and features.
    pub thaw_build: String,
    /// The training semantics version ([`crate::spec::SEMANTICS`]).
    pub semantics: String,
    /// The grid file run, absolute.
    pub grid_path: Option<String>,
    /// The commit of the git repository holding the grid file.
    pub grid_commit: Option<String>,
    /// Whether the grid file differs from that commit (or is not in it).
    pub grid_dirty: Option<bool>,
    /// libtorch's version, e.g. `2.11.0+cu130`.
    pub libtorch: Option<String>,
    /// The CUDA runtime version, e.g. `12.8`, when CUDA is available.
    pub cuda: Option<String>,
    /// The cuDNN version, e.g. `9.8.0`, when CUDA is available.
    pub cudnn: Option<String>,
    /// The device trials train on (`cpu`, `cuda:0`).
    pub device: Option<String>,
    /// The name of that GPU (from `nvidia-smi`).
    pub gpu_name: Option<String>,
    /// Its memory in MiB.
    pub gpu_memory_mib: Option<i64>,
    /// The CPU model (`/proc/cpuinfo`).
    pub cpu_model: Option<String>,
    /// CPU cores available to the process.
    pub cpu_cores: Option<i64>,
    /// The host name.
    pub host: String,
    /// The OS and kernel, e.g. `Ubuntu 22.04.4 LTS (Linux 5.15.0-91-generic)`.
    pub os: String,
    /// The command line, arguments quoted where a shell needs it.
    pub command_line: String,
}

impl Environment {
    /// The record as JSON (`environments.record_json`, `thaw doctor --json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an environment record always serializes")
    }

    /// Its key: a hash of its content, so runners in the same environment share one row.
    pub fn key(&self) -> String {
        blake3::hash(self.to_json().as_bytes()).to_hex()[..16].to_string()
    }
}

impl Db {
    /// Records `env` unless a row of its key exists; returns the key. Cheap to call once per
    /// runner and sweep.
    pub fn record_environment(&self, env: &Environment) -> Result<String> {
        let key = env.key();
        self.conn
            .execute(
                "INSERT OR IGNORE INTO environments (key, thaw_version, thaw_build, semantics,
                     grid_path, grid_commit, grid_dirty, libtorch, cuda, cudnn, device, gpu_name,
                     gpu_memory_mib, cpu_model, cpu_cores, host, os, command_line, record_json,
                     created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                     ?17, ?18, ?19, ?20)",
                params![
                    key,
                    env.thaw_version,
                    env.thaw_build,
                    env.semantics,
                    env.grid_path,
                    env.grid_commit,
                    env.grid_dirty,
                    env.libtorch,
                    env.cuda,
                    env.cudnn,
                    env.device,
                    env.gpu_name,
                    env.gpu_memory_mib,
                    env.cpu_model,
                    env.cpu_cores,
                    env.host,
                    env.os,
                    env.command_line,
                    env.to_json(),
                    now_rfc3339(),
                ],
            )
            .with_context(|| {
                format!(
                    "recording this runner's environment in {}",
                    self.path.display()
                )
            })?;
        Ok(key)
    }
}
