//! Grid parsing of image-file datasets (folder, CSV list) and augmentation.

use super::*;
use std::path::Path;

fn grid_at(path: &Path, yaml: &str) -> Result<Grid, SpecError> {
    parse_grid(path, yaml, &crate::data::Files)
}

fn yaml(source_ds: &str, source_classes: &str, extra: &str) -> String {
    format!(
        "\
name: t
source:
  dataset: {source_ds}
  classes: {source_classes}
target:
  dataset: mnist10k
  classes: [5, 6]
  train_per_class: 10
backbone: cnn4
schedule: {{kind: constant, lr: 0.01}}
epochs: 2
{extra}"
    )
}

#[test]
fn folder_dataset_parses_with_defaults_and_relative_path() {
    let g = grid_at(
        Path::new("experiments/x.yaml"),
        &yaml(
            "{kind: folder, path: ../data/imgs}",
            "[0, 1]",
            "image_size: 32\n",
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        g.trials[0].source.dataset,
        DatasetSource::Folder {
            path: "data/imgs".into(),
            images: ImageOptions {
                // Defaults to the grid's image_size.
                decode_size: Some(32),
                channels: Channels::Auto,
                on_bad_file: OnBadFile::Error,
                augment: None,
            },
        }
    );
}

#[test]
fn csv_list_and_options_parse() {
    let g = grid_at(
        Path::new("exp/x.yaml"),
        &yaml(
            "{kind: csv, path: l.csv, image_column: file, label_column: y, split_column: part, \
             decode_size: 48, channels: 3, on_bad_file: skip, augment: {crop_padding: 2, hflip: true, \
             rotate: 10, brightness: 0.1, contrast: 0.2}}",
            "[0, 1]",
            "",
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ds = &g.trials[0].source.dataset;
    assert_eq!(
        ds,
        &DatasetSource::CsvList {
            path: "exp/l.csv".into(),
            image_column: "file".into(),
            label_column: "y".into(),
            split_column: Some("part".into()),
            images: ImageOptions {
                decode_size: Some(48),
                channels: Channels::Three,
                on_bad_file: OnBadFile::Skip,
                augment: Some(Augment {
                    crop_padding: 2,
                    hflip: true,
                    rotate: 10.0,
                    brightness: 0.1,
                    contrast: 0.2,
                    ..Augment::default()
                }),
            },
        }
    );
    assert!(ds.augment().is_some());
    // Serialises (trial config) and reads back.
    let json = serde_json::to_string(ds).unwrap();
    assert_eq!(&serde_json::from_str::<DatasetSource>(&json).unwrap(), ds);
    // Defaults: path/label columns, no split column.
    let g = grid_at(
        Path::new("x.yaml"),
        &yaml("{kind: csv, path: l.csv}", "[0, 1]", ""),
    )
    .unwrap();
    match &g.trials[0].source.dataset {
        DatasetSource::CsvList {
            image_column,
            label_column,
            split_column,
            ..
        } => assert_eq!(
            (image_column.as_str(), label_column.as_str(), split_column),
            ("path", "label", &None)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn image_dataset_errors_name_the_field() {
    let e = grid_at(
        Path::new("x.yaml"),
        &yaml(
            "{kind: csv, path: d.csv, side: 8, max_value: 16, image_column: f}",
            "[0, 1]",
            "",
        ),
    )
    .err()
    .unwrap();
    let p = e
        .problems
        .iter()
        .find(|p| p.field == "source.dataset.image_column")
        .unwrap_or_else(|| panic!("{e}"));
    assert!(p.message.contains("pixel CSV"), "{}", p.message);

    let e = grid_at(
        Path::new("x.yaml"),
        &yaml(
            "{kind: folder, path: d, on_bad_file: ignore, augment: {hflip: 1, rotat: 5}}",
            "[0, 1]",
            "",
        ),
    )
    .err()
    .unwrap();
    let text = e.to_string();
    for field in [
        "source.dataset.on_bad_file",
        "source.dataset.augment.hflip",
        "source.dataset.augment.rotat",
    ] {
        assert!(
            e.problems.iter().any(|p| p.field == field),
            "{field}:\n{text}"
        );
    }
    assert!(text.contains("did you mean `rotate`"), "{text}");
    let e = grid_at(
        Path::new("x.yaml"),
        &yaml("{kind: folders, path: d}", "[0, 1]", ""),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("did you mean `folder`"), "{e}");
}

#[test]
fn colour_augmentation_parses_and_keeps_old_trial_keys() {
    let g = grid_at(
        Path::new("x.yaml"),
        &yaml(
            "{kind: folder, path: d, augment: {hflip: true, saturation: 0.3, hue: 20, \
             grayscale: 0.1}}",
            "[0, 1]",
            "",
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let ds = &g.trials[0].source.dataset;
    let aug = Augment {
        hflip: true,
        saturation: 0.3,
        hue: 20.0,
        grayscale: 0.1,
        ..Augment::default()
    };
    assert_eq!(ds.augment(), Some(&aug));
    let json = serde_json::to_string(&aug).unwrap();
    assert!(
        json.contains(r#""saturation":0.3,"hue":20.0,"grayscale":0.1"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Augment>(&json).unwrap(), aug);

    // Colour options alone make the augmentation active.
    let only_gray = Augment {
        grayscale: 0.5,
        ..Augment::default()
    };
    assert!(only_gray.is_active() && only_gray.is_colour());
    assert!(!Augment::default().is_active() && !Augment::default().is_colour());

    // With the colour options at 0, the serialised options (part of trial keys) are what they
    // were before those options existed, and such JSON reads back.
    let old = Augment {
        crop_padding: 2,
        hflip: true,
        rotate: 10.0,
        brightness: 0.1,
        contrast: 0.2,
        ..Augment::default()
    };
    let json = serde_json::to_string(&old).unwrap();
    assert_eq!(
        json,
        r#"{"crop_padding":2,"hflip":true,"rotate":10.0,"brightness":0.1,"contrast":0.2}"#
    );
    assert_eq!(serde_json::from_str::<Augment>(&json).unwrap(), old);
    let json = serde_json::to_string(&Augment::default()).unwrap();
    for k in ["saturation", "hue", "grayscale"] {
        assert!(!json.contains(k), "{json}");
    }
}

#[test]
fn colour_augmentation_ranges_are_checked() {
    for (field, value, range) in [
        ("grayscale", "2", "between 0 and 1"),
        ("saturation", "-0.1", "between 0 and 1"),
        ("hue", "200", "between 0 and 180 degrees"),
    ] {
        let e = grid_at(
            Path::new("x.yaml"),
            &yaml(
                &format!("{{kind: folder, path: d, augment: {{{field}: {value}}}}}"),
                "[0, 1]",
                "",
            ),
        )
        .err()
        .unwrap_or_else(|| panic!("{field}: {value} was accepted"));
        let want = format!("source.dataset.augment.{field}");
        let p = e
            .problems
            .iter()
            .find(|p| p.field == want)
            .unwrap_or_else(|| panic!("{e}"));
        assert!(
            p.message.contains(range) && p.message.contains(&format!("got {value}")),
            "{}",
            p.message
        );
        // The dataset is on line 3 of the grid; the message names file, line and field.
        assert_eq!(p.line, Some(3), "{e}");
        assert!(e.to_string().contains("x.yaml:3:"), "{e}");
        assert!(e.to_string().contains(&want), "{e}");
    }
    let e = grid_at(
        Path::new("x.yaml"),
        &yaml("{kind: folder, path: d, augment: {hue: red}}", "[0, 1]", ""),
    )
    .err()
    .unwrap();
    assert!(
        e.problems
            .iter()
            .any(|p| p.field == "source.dataset.augment.hue"),
        "{e}"
    );
}

// The image writer lives in the data module's tests, which need the training build.
#[cfg(feature = "train")]
#[test]
fn class_names_resolve_for_folder_datasets() {
    let dir = tempfile::tempdir().unwrap();
    crate::data::tests_images::write_classes(&dir.path().join("imgs"), &["dog", "cat", "eel"], 2);
    let gp = dir.path().join("g.yaml");
    let g = grid_at(&gp, &yaml("{kind: folder, path: imgs}", "[eel, cat]", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    // Sorted names: cat=0, dog=1, eel=2.
    assert_eq!(g.trials[0].source.classes, vec![2, 0]);
    let g = grid_at(&gp, &yaml("{kind: folder, path: imgs}", "[1, cat]", "")).unwrap();
    assert_eq!(g.trials[0].source.classes, vec![1, 0]);

    let e = grid_at(&gp, &yaml("{kind: folder, path: imgs}", "[cta, dog]", ""))
        .err()
        .unwrap();
    let p = e
        .problems
        .iter()
        .find(|p| p.field == "source.classes[0]")
        .unwrap_or_else(|| panic!("{e}"));
    assert!(
        p.message.contains("did you mean `cat`") && p.message.contains("cat, dog, eel"),
        "{}",
        p.message
    );
    let e = grid_at(&gp, &yaml("{kind: folder, path: imgs}", "[dog, 1]", ""))
        .err()
        .unwrap();
    assert!(e.to_string().contains("listed twice"), "{e}");
    let e = grid_at(&gp, &yaml("mnist10k", "[zero, one]", ""))
        .err()
        .unwrap();
    assert!(e.to_string().contains("class names need a folder"), "{e}");
}
