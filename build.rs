//! Link flags that tch's own build script cannot pass on to a downstream binary.
//!
//! * `--no-as-needed -ltorch_cuda -ltorch`: without it the linker drops libtorch_cuda (no symbol
//!   of it is referenced directly) and CUDA is silently unavailable at run time.
//! * an rpath to the libtorch lib dir, so the binary finds `libtorch_cpu.so` without
//!   `LD_LIBRARY_PATH`.
//!
//! It also compiles `csrc/` (thaw's bf16 autocast switch, as tch has no dtype setter, and the
//! CUDA and cuDNN version queries) against the same libtorch's headers. A build without the
//! `train` feature links no libtorch.
//!
//! Every build records thaw's own build for provenance (`THAW_BUILD`): the git commit of the
//! sources, whether they differed from it, the profile and the features.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files and folders whose content is built into the binary: a change to any of them
/// reruns this script, so the recorded dirty flag stays true to the build.
const BUILT_FROM: [&str; 6] = [
    "src",
    "csrc",
    "templates",
    "build.rs",
    "Cargo.toml",
    "Cargo.lock",
];

fn main() {
    record_build();
    // Without the `train` feature there is no libtorch to link.
    if std::env::var_os("CARGO_FEATURE_TRAIN").is_none() {
        return;
    }
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    let lib_dir = std::env::var("DEP_TCH_LIBTORCH_LIB")
        .expect("torch-sys reports the libtorch lib dir as DEP_TCH_LIBTORCH_LIB");
    println!("cargo:rustc-link-search=native={lib_dir}");
    compile_csrc(&lib_dir);
    let has_cuda = Path::new(&lib_dir).join("libtorch_cuda.so").exists();
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
    let root = Path::new(lib_dir).join("..");
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        if let Some(line) = text.lines().find(|l| l.starts_with("__version__")) {
            return line.split('\'').nth(1).unwrap_or("unknown").to_string();
        }
    }
    std::fs::read_to_string(root.join("build-version"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Compiles `csrc/` with libtorch's headers (beside the lib dir, as in both a PyTorch install
/// and a standalone libtorch) and the C++ ABI torch-sys builds with. The library's name hashes
/// the ABI and the libtorch, and one newer than its sources is reused: this script reruns on
/// every source change (see [`BUILT_FROM`]), the C++ needs compiling only when it changed.
fn compile_csrc(lib_dir: &str) {
    const SOURCES: [&str; 2] = ["csrc/autocast.cpp", "csrc/cuda_versions.cpp"];
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    let name = format!(
        "thaw_csrc_{}",
        &stable_hash(&format!("{abi}\0{lib_dir}\0{}", libtorch_version(lib_dir)))
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let built = out.join(format!("lib{name}.a"));
    if is_newer_than(&built, &SOURCES) {
        println!("cargo:rustc-link-search=native={}", out.display());
        println!("cargo:rustc-link-lib=static={name}");
        println!("cargo:rustc-link-lib=stdc++");
        return;
    }
    let include = Path::new(lib_dir).join("../include");
    cc::Build::new()
        .cpp(true)
        .files(SOURCES)
        .include(&include)
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .warnings(false)
        .compile(&name);
}

/// A hex digest of `text` that is stable across builds (FNV-1a; std's hasher is not).
fn stable_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Whether `file` exists and was modified after every one of `sources`.
fn is_newer_than(file: &Path, sources: &[&str]) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(built) = modified(file) else {
        return false;
    };
    sources
        .iter()
        .all(|s| modified(Path::new(s)).is_some_and(|m| m < built))
}

/// Sets `THAW_BUILD`, e.g. `git 64fde41a… (dirty), release, features: default train`: the
/// commit is `unknown` outside a git checkout of thaw (a crate tarball) or without git.
fn record_build() {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    for path in BUILT_FROM {
        println!("cargo:rerun-if-changed={path}");
    }
    // Only a repository that tracks thaw's own sources (not one around an unpacked crate).
    let commit =
        git(&["ls-files", "--error-unmatch", "build.rs"]).and_then(|_| git(&["rev-parse", "HEAD"]));
    if commit.is_some() {
        // A commit, a checkout or a staged change reruns this script too.
        let git_dir = git(&["rev-parse", "--git-dir"]).map(PathBuf::from);
        let common = git(&["rev-parse", "--git-common-dir"]).map(PathBuf::from);
        let head_ref = git(&["symbolic-ref", "-q", "HEAD"]);
        let watched = [
            git_dir.as_ref().map(|d| d.join("HEAD")),
            git_dir.as_ref().map(|d| d.join("index")),
            common.as_ref().map(|d| d.join("packed-refs")),
            common.as_ref().zip(head_ref).map(|(d, r)| d.join(r)),
        ];
        for path in watched.into_iter().flatten().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    // Without optional locks, git leaves the index alone (a rewritten index would rerun this).
    let mut status = vec!["--no-optional-locks", "status", "--porcelain", "--"];
    status.extend(BUILT_FROM);
    let dirty = match (&commit, git(&status)) {
        (Some(_), Some(changes)) if !changes.is_empty() => " (dirty)",
        _ => "",
    };
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".to_string());
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| k.strip_prefix("CARGO_FEATURE_").map(str::to_string))
        .map(|f| f.to_lowercase().replace('_', "-"))
        .collect();
    features.sort();
    let features = if features.is_empty() {
        "none".to_string()
    } else {
        features.join(" ")
    };
    let commit = commit.unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=THAW_BUILD=git {commit}{dirty}, {profile}, features: {features}");
}
