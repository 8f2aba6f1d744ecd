//! `search:` through the real binary: `thaw run --dry-run` lists every sample with every seed
//! and prints the sampled values.

use std::path::Path;
use std::process::{Command, Output};

fn dry_run(dir: &Path, grid: &Path) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_thaw"))
        .args(["run", grid.to_str().unwrap(), "--dry-run"])
        .current_dir(dir)
        .env("THAW_DB", dir.join("thaw.sqlite"))
        .env("THAW_REPORTS", dir.join("reports"))
        .env(
            "THAW_DATA",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("data"),
        )
        .env_remove("THAW_CACHE")
        .output()
        .expect("the thaw binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn dry_run_lists_each_sample_with_every_seed() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/search.yaml");
    let (out, text) = dry_run(dir.path(), &example);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("search: 24 trials"),
        "12 samples x 2 seeds: {text}"
    );
    assert!(
        text.starts_with("random search, 12 samples, seed 0: lr ~ log_uniform [0.001, 0.1]"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(rows.len(), 24, "{text}");
    assert!(rows
        .iter()
        .all(|r| r.contains(" lr=") && r.contains("layer_decay=")));

    // three seeds, sobol, a scratch twin for each: 5 x 3 x 2 trials
    let yaml = std::fs::read_to_string(&example)
        .unwrap()
        .replace("seeds: [0, 1]", "seeds: [0, 1, 2]")
        .replace("method: random", "method: sobol")
        .replace("trials: 12", "trials: 5")
        .replace("backbone: cnn4", "backbone: cnn4\nbaselines: [scratch]");
    let grid = dir.path().join("sobol.yaml");
    std::fs::write(&grid, yaml).unwrap();
    let (out, text) = dry_run(dir.path(), &grid);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("search: 30 trials"), "{text}");
    assert!(text.starts_with("sobol search, 5 samples"), "{text}");
    assert!(!dir.path().join("thaw.sqlite").exists());
}
