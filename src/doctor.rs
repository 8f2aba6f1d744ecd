//! `thaw doctor`: what libtorch this binary uses, which devices it can train on, and the
//! environment record a runner here would store (`--json`, see [`crate::provenance`]).

use crate::track::Environment;
use tch::{Cuda, Device};

/// The environment record of this machine on its default device, as `thaw run` would store it
/// (without a grid).
pub fn record() -> Environment {
    crate::provenance::gather(Device::cuda_if_available(), None)
}

/// The record as pretty-printed JSON (`thaw doctor --json`).
pub fn json() -> String {
    serde_json::to_string_pretty(&record()).expect("an environment record always serializes")
}

/// A report of the libtorch build, the devices visible to it and the machine.
pub fn report() -> String {
    let env = record();
    let cuda = Cuda::is_available();
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    let mut lines = vec![
        format!("thaw            {}", env.thaw_version),
        format!("thaw build      {}", env.thaw_build),
        format!("semantics       {}", env.semantics),
        format!("libtorch        {}", or_unknown(&env.libtorch)),
        format!(
            "libtorch lib    {} (at build time; LD_LIBRARY_PATH can point elsewhere)",
            env!("THAW_LIBTORCH_LIB")
        ),
        format!(
            "CUDA            {}",
            match (cuda, &env.cuda) {
                (true, Some(v)) => format!("available, runtime {v}"),
                (true, None) => "available".to_string(),
                (false, _) => "not available (training runs on the CPU)".to_string(),
            }
        ),
        format!(
            "cuDNN           {}",
            match (Cuda::cudnn_is_available(), &env.cudnn) {
                (true, Some(v)) => format!("available, {v}"),
                (true, None) => "available".to_string(),
                (false, _) => "not available".to_string(),
            }
        ),
        format!("CUDA devices    {}", Cuda::device_count()),
    ];
    if let Some(name) = &env.gpu_name {
        let memory = env
            .gpu_memory_mib
            .map_or(String::new(), |m| format!(", {m} MiB"));
        lines.push(format!("GPU             {name}{memory}"));
    }
    lines.extend([
        format!("CPU             {}", or_unknown(&env.cpu_model)),
        format!(
            "CPU cores       {} ({} libtorch threads)",
            env.cpu_cores
                .map_or("unknown".to_string(), |n| n.to_string()),
            tch::get_num_threads()
        ),
        format!("host            {}", env.host),
        format!("OS              {}", env.os),
    ]);
    if cuda {
        lines.push("default device  cuda:0 (override with --device)".to_string());
    } else {
        lines.push("default device  cpu".to_string());
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_json_record_has_every_field_and_reads_back() {
        let text = super::json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let fields = [
            "thaw_version",
            "thaw_build",
            "semantics",
            "grid_path",
            "grid_commit",
            "grid_dirty",
            "libtorch",
            "cuda",
            "cudnn",
            "device",
            "gpu_name",
            "gpu_memory_mib",
            "cpu_model",
            "cpu_cores",
            "host",
            "os",
            "command_line",
        ];
        let object = value.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = fields.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["thaw_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(value["grid_path"], serde_json::Value::Null);
        assert!(value["cpu_cores"].as_i64().is_some_and(|n| n >= 1));
        let record: crate::track::Environment = serde_json::from_str(&text).unwrap();
        assert_eq!(record, super::record());
    }
}
