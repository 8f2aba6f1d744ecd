//! Link flags that tch's own build script cannot pass on to a downstream binary.
//!
//! * `--no-as-needed -ltorch_cuda -ltorch`: without it the linker drops libtorch_cuda (no symbol
//!   of it is referenced directly) and CUDA is silently unavailable at run time.
//! * an rpath to the libtorch lib dir, so the binary finds `libtorch_cpu.so` without
//!   `LD_LIBRARY_PATH`.
//!
//! It also compiles `csrc/autocast.cpp`, thaw's bf16 autocast switch (tch has no dtype setter),
//! against the same libtorch's headers. A build without the `train` feature links no libtorch.

fn main() {
    // Without the `train` feature there is no libtorch to link.
    if std::env::var_os("CARGO_FEATURE_TRAIN").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    let lib_dir = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys reports the libtorch lib dir as DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rustc-link-search=native={lib_dir}");
    compile_autocast(&lib_dir);
    let has_cuda = std::path::Path::new(&lib_dir)
        .join("libtorch_cuda.so")
        .exists();
    if has_cuda {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-ltorch");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    println!("cargo:rustc-env=THAW_LIBTORCH_LIB={lib_dir}");
    println!(
        "cargo:rustc-env=THAW_LIBTORCH_VERSION={}",
        libtorch_version(&lib_dir)
    );
}

/// The libtorch version from a PyTorch install (`torch/version.py`) or a standalone libtorch
/// (`build-version`), beside the lib dir.
fn libtorch_version(lib_dir: &str) -> String {
    let root = std::path::Path::new(lib_dir).join("..");
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        if let Some(line) = text.lines().find(|l| l.starts_with("__version__")) {
            return line.split('\'').nth(1).unwrap_or("unknown").to_string();
        }
    }
    std::fs::read_to_string(root.join("build-version"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Compiles the autocast shim with libtorch's headers (beside the lib dir, as in both a PyTorch
/// install and a standalone libtorch) and the C++ ABI torch-sys builds with.
fn compile_autocast(lib_dir: &str) {
    println!("cargo:rerun-if-changed=csrc/autocast.cpp");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let include = std::path::Path::new(lib_dir).join("../include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    cc::Build::new()
        .cpp(true)
        .file("csrc/autocast.cpp")
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .warnings(false)
        .compile("thaw_autocast");
}
