//! `thaw doctor`: what libtorch this binary uses and which devices it can train on.

use tch::Cuda;

/// A report of the libtorch build and the devices visible to it.
pub fn report() -> String {
    let cuda = Cuda::is_available();
    let mut lines = vec![
        format!("thaw            {}", env!("CARGO_PKG_VERSION")),
        format!("libtorch        {}", env!("THAW_LIBTORCH_VERSION")),
        format!(
            "libtorch lib    {} (at build time; LD_LIBRARY_PATH can point elsewhere)",
            env!("THAW_LIBTORCH_LIB")
        ),
        format!(
            "CUDA            {}",
            if cuda {
                "available"
            } else {
                "not available (training runs on the CPU)"
            }
        ),
        format!(
            "cuDNN           {}",
            if Cuda::cudnn_is_available() {
                "available"
            } else {
                "not available"
            }
        ),
        format!("CUDA devices    {}", Cuda::device_count()),
        format!("CPU threads     {}", tch::get_num_threads()),
    ];
    if cuda {
        lines.push("default device  cuda:0 (override with --device)".to_string());
    } else {
        lines.push("default device  cpu".to_string());
    }
    lines.join("\n")
}
