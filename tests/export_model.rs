//! The best model kept and exported, end to end through the real binary: `thaw run --keep best`
//! keeps the winners by validation accuracy (one per configuration, then one per sweep) and
//! deletes the losers' networks; `thaw export-model` writes the network, its config and a model
//! card; `thaw predict --model` on the trial's recorded test files gives, by class name, exactly
//! the test accuracy the database recorded.

mod common;

use common::{data_dir, scalar, text, thaw, write_grid};
use rusqlite::Connection;
use std::io::Read;
use std::path::Path;

/// Class folder names by digit; the grid lists them out of name order, so that output indices
/// and folder order differ.
const CLASSES: [(u32, &str); 3] = [(2, "two"), (0, "zero"), (1, "one")];

/// `dir/<name>/<n>.png`: the first `per_class` 8×8 bundled digits of each class of [`CLASSES`]
/// as 8-bit grayscale PNGs (0..16 scaled to 0..255).
fn write_digit_pngs(dir: &Path, per_class: usize) {
    let mut csv = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(data_dir().join("digits8x8/digits.csv.gz")).unwrap(),
    )
    .read_to_string(&mut csv)
    .unwrap();
    let mut written = [0usize; 3];
    for line in csv.lines() {
        let values: Vec<u32> = line.split(',').map(|v| v.trim().parse().unwrap()).collect();
        let (pixels, label) = values.split_at(64);
        let Some(c) = CLASSES.iter().position(|(d, _)| *d == label[0]) else {
            continue;
        };
        if written[c] == per_class {
            continue;
        }
        let bytes: Vec<u8> = pixels.iter().map(|&v| (v * 255 / 16) as u8).collect();
        let folder = dir.join(CLASSES[c].1);
        std::fs::create_dir_all(&folder).unwrap();
        image::GrayImage::from_raw(8, 8, bytes)
            .unwrap()
            .save(folder.join(format!("{:03}.png", written[c])))
            .unwrap();
        written[c] += 1;
    }
    assert_eq!(written, [per_class; 3]);
}

/// Two seeds of a pretrained and a from-scratch configuration: 4 trials, 2 configurations. The
/// images are decoded to 10×10 and resized to 12×12, so that prediction must redo both steps.
const GRID: &str = r#"
name: keepers
seeds: [0, 1]
source:
  dataset: digits8x8
  classes: [5, 6, 7]
  train_per_class: 30
  epochs: 1
target:
  dataset: {kind: folder, path: digits, decode_size: 10}
  classes: [two, zero, one]
  train_per_class: [12]
backbone: cnn4
freeze: [1]
baselines: [scratch]
schedule: {kind: constant, lr: 0.05}
epochs: 3
batch_size: 8
image_size: 12
"#;

/// The candidate networks left in the cache.
fn kept_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(".thaw-cache/kept"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_kept_model_exported_and_reloaded_gives_the_recorded_test_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_digit_pngs(&dir.join("digits"), 40);
    let grid = write_grid(dir, "keepers.yaml", GRID);
    let db = dir.join("thaw.sqlite");
    let grid = grid.to_str().unwrap();

    // One winner per configuration: the seed with the higher final validation accuracy.
    let out = thaw(
        dir,
        &["run", grid, "--keep", "best", "--keep-scope", "config"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("kept 2 model(s)"), "{}", text(&out));
    assert_eq!(scalar(&db, "SELECT count(*) FROM kept_models"), "2");
    let best_of_its_config = "SELECT count(*) FROM kept_models k JOIN trial_summary s
        ON s.trial_id = k.trial_id WHERE k.metric = 'final_val_acc' AND k.scope LIKE 'config %'
        AND k.value = s.final_val_acc AND s.final_val_acc = (SELECT max(o.final_val_acc)
        FROM trial_summary o WHERE o.pretrained = s.pretrained)";
    assert_eq!(scalar(&db, best_of_its_config), "2");
    assert_eq!(
        kept_files(dir).len(),
        2,
        "the two losers' networks are deleted"
    );

    // One winner for the sweep, chosen again without training: the other file goes.
    let out = thaw(dir, &["run", grid, "--keep", "best"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(scalar(&db, "SELECT count(*) FROM kept_models"), "1");
    assert_eq!(scalar(&db, "SELECT scope FROM kept_models"), "sweep");
    let winner = scalar(
        &db,
        "SELECT t.key FROM kept_models k JOIN trials t ON t.id = k.trial_id",
    );
    assert_eq!(
        scalar(&db, "SELECT max(final_val_acc) FROM trial_summary"),
        scalar(&db, "SELECT value FROM kept_models")
    );
    assert_eq!(kept_files(dir), [format!("{winner}.safetensors")]);

    let out = thaw(dir, &["export-model", "keepers", "--out", "model"]);
    assert!(out.status.success(), "{}", text(&out));
    let model = dir.join("model");
    for file in ["model.safetensors", "config.json", "MODEL_CARD.md"] {
        assert!(model.join(file).is_file(), "{file} missing");
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["classes"], serde_json::json!(["two", "zero", "one"]));
    assert_eq!(config["input"]["decode_size"], 10);
    assert_eq!(config["input"]["image_size"], 12);
    assert_eq!(config["trial_key"], winner.as_str());
    let card = std::fs::read_to_string(model.join("MODEL_CARD.md")).unwrap();
    let test_row = card
        .lines()
        .find(|l| l.starts_with("| final_test_acc |"))
        .unwrap_or_else(|| panic!("no test accuracy row in the card:\n{card}"));
    // This trial's value, then the mean over its 2 seeds with a 95% interval.
    let cells: Vec<&str> = test_row.split('|').map(str::trim).collect();
    assert!(
        cells[3].contains(" [") && cells[3].contains(", ") && cells[4] == "2",
        "{test_row}"
    );
    for words in [
        "95% confidence interval",
        "## Data",
        "## Pretrained weights",
        "```yaml",
    ] {
        assert!(
            card.contains(words),
            "{words} missing from the card:\n{card}"
        );
    }

    // The trial's recorded test files, classified by name.
    let conn = Connection::open(&db).unwrap();
    let files: Vec<String> = conn
        .prepare(
            "SELECT f.path FROM split_files f JOIN trials t ON t.split_key = f.split_key
             WHERE t.key = ?1 AND f.split = 'test' ORDER BY f.position",
        )
        .unwrap()
        .query_map([&winner], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(files.len() >= 9, "{files:?}");
    let paths: Vec<String> = files
        .iter()
        .map(|f| dir.join("digits").join(f).display().to_string())
        .collect();
    let mut args = vec!["predict", "--model", "model", "--top", "2"];
    args.extend(paths.iter().map(String::as_str));
    let out = thaw(dir, &args);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3 * files.len(), "{stdout}");
    let mut correct = 0;
    for (file, block) in files.iter().zip(lines.chunks(3)) {
        assert!(block[0].ends_with(file.as_str()), "{stdout}");
        let (p, class) = block[1].trim().split_once("  ").unwrap();
        let p: f64 = p.parse().unwrap();
        assert!((0.0..=1.0).contains(&p), "{stdout}");
        assert!(CLASSES.iter().any(|(_, name)| *name == class), "{class}");
        correct += usize::from(file.split('/').next() == Some(class));
    }
    let recorded: f64 = scalar(
        &db,
        &format!("SELECT final_test_acc FROM trial_summary WHERE key = '{winner}'"),
    )
    .parse()
    .unwrap();
    let predicted = correct as f64 / files.len() as f64;
    assert!(
        (predicted - recorded).abs() < 1e-9,
        "predicted {predicted}, recorded {recorded}\n{stdout}"
    );
}

#[test]
fn exporting_what_is_not_kept_says_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // An empty database: nothing kept, no such sweep.
    thaw::track::Db::open(&dir.join("thaw.sqlite")).unwrap();
    let out = thaw(dir, &["export-model", "nowhere"]);
    assert!(!out.status.success());
    let said = "no sweep and no trial key nowhere";
    assert!(text(&out).contains(said), "{}", text(&out));
    assert!(text(&out).contains("run a grid with `thaw run GRID --keep best`"));
    // --model and --backbone are two ways to predict, not one.
    let out = thaw(
        dir,
        &[
            "predict",
            "--model",
            "m",
            "--backbone",
            "resnet18",
            "--weights",
            "w",
            "x.png",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cannot be used with"), "{}", text(&out));
}
