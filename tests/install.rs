//! An installed `thaw` works from any folder: the bundled datasets come from the binary when no
//! `data/` folder is at hand, written once to the user cache (XDG).

mod common;

use common::*;

#[test]
fn from_an_empty_folder_a_grid_on_the_bundled_data_runs_with_the_embedded_copy() {
    let empty = tempfile::tempdir().unwrap();
    let xdg = tempfile::tempdir().unwrap();
    let grid = write_grid(
        xdg.path(),
        "anywhere.yaml",
        r#"
name: anywhere
source: {dataset: mnist10k, classes: [0, 1], epochs: 1, train_per_class: 20}
target: {dataset: mnist10k, classes: [2, 3], train_per_class: 5}
backbone: cnn4
freeze: [0]
schedule: {kind: constant, lr: 0.01}
epochs: 1
batch_size: 8
image_size: 8
"#,
    );
    let out = thaw_cmd(
        empty.path(),
        &["run", grid.to_str().unwrap(), "--device", "cpu"],
    )
    .env_remove("THAW_DATA")
    .env("XDG_CACHE_HOME", xdg.path())
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let copy = xdg
        .path()
        .join("thaw/data/mnist10k/mnist10k-images-idx3-ubyte.gz");
    let bundled = data_dir().join("mnist10k/mnist10k-images-idx3-ubyte.gz");
    assert_eq!(
        std::fs::read(copy).unwrap(),
        std::fs::read(bundled).unwrap()
    );
    assert_eq!(
        scalar(
            &empty.path().join("thaw.sqlite"),
            "SELECT status FROM trials"
        ),
        "completed"
    );
    assert!(empty.path().join("reports/anywhere/index.html").exists());
}
