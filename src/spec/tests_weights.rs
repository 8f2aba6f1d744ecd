//! Grids that start from backbone weights (`weights:`, `input_size:`).

use super::tests::find;
use super::*;
use std::path::Path;

const WEIGHTS: &str = "\
name: w
target:
  dataset: fashion10k
  classes: [0, 1, 2]
  train_per_class: [10, 50]
backbone: efficientnet_lite0
weights: imagenet
input_size: 96
freeze: [0, all]
baselines: [scratch]
schedule: {kind: constant, lr: 0.01}
epochs: 2
";

fn parse(yaml: &str) -> Result<Grid, SpecError> {
    parse_grid(Path::new("experiments/x.yaml"), yaml, &crate::data::Files)
}

#[test]
fn a_weights_grid_needs_no_source_and_its_baselines_start_from_scratch() {
    let g = parse(WEIGHTS).unwrap();
    // 2 sizes x 2 freezes, plus 2 scratch baselines (freeze is 0 for them).
    assert_eq!(g.trials.len(), 6);
    let t = &g.trials[0];
    assert!(t.pretrained && !t.pretrains_on_source());
    assert_eq!(t.weights, Some(Weights::Imagenet));
    assert_eq!(t.input_size, Some(96));
    assert!(t.source.is_unused());
    let scratch: Vec<_> = g.trials.iter().filter(|t| !t.pretrained).collect();
    assert_eq!(scratch.len(), 2);
    assert!(scratch
        .iter()
        .all(|t| t.weights.is_none() && t.input_size == Some(96)));
    // The config names the weights; old grids' configs stay as they were (same keys).
    assert!(t
        .config_json()
        .contains(r#""weights":"imagenet","input_size":96"#));
}

#[test]
fn grids_without_weights_serialise_as_before() {
    let yaml = WEIGHTS
        .replace("weights: imagenet\n", "")
        .replace("input_size: 96\n", "")
        .replace("efficientnet_lite0", "cnn4")
        .replace(
            "target:",
            "source:\n  dataset: fashion10k\n  classes: [5, 6]\ntarget:",
        );
    let g = parse(&yaml).unwrap();
    let json = g.trials[0].config_json();
    assert!(
        !json.contains("weights") && !json.contains("input_size"),
        "{json}"
    );
}

#[test]
fn weights_errors_name_the_line_and_what_to_do() {
    // imagenet weights for a backbone that has none shipped.
    let e =
        parse(&WEIGHTS.replace("backbone: efficientnet_lite0", "backbone: resnet18")).unwrap_err();
    let p = find(&e, "weights");
    assert_eq!(p.line, Some(7));
    assert!(
        p.message.contains("efficientnet_lite0 only"),
        "{}",
        p.message
    );

    // A backbone that cannot load weights at all.
    let e = parse(&WEIGHTS.replace("backbone: efficientnet_lite0", "backbone: cnn4")).unwrap_err();
    assert!(find(&e, "backbone")
        .message
        .contains("cannot load `weights:`"));
    assert!(find(&e, "input_size").message.contains("image_size"));

    // A file that is not safetensors, and one that does not exist.
    let e = parse(&WEIGHTS.replace("weights: imagenet", "weights: r18.pth")).unwrap_err();
    assert!(find(&e, "weights")
        .message
        .contains("not a .safetensors file"));
    let e = parse(&WEIGHTS.replace("weights: imagenet", "weights: nowhere/r18.safetensors"))
        .unwrap_err();
    let p = find(&e, "weights");
    assert!(p.message.contains("does not exist") && p.message.contains("nowhere"));

    // A source next to weights: the weights are trained on the source task first, so the
    // trials fine-tune a source-trained network and keep its head to measure forgetting.
    let g = parse(&WEIGHTS.replace(
        "target:",
        "source:\n  dataset: fashion10k\n  classes: [5, 6]\ntarget:",
    ))
    .unwrap();
    let t = &g.trials[0];
    assert!(t.pretrains_on_source() && t.weights == Some(Weights::Imagenet));
    assert_eq!(t.source.classes, [5, 6]);
    assert!(g
        .trials
        .iter()
        .all(|t| t.pretrained || !t.pretrains_on_source()));

    // input_size is one number in range.
    let e = parse(&WEIGHTS.replace("input_size: 96", "input_size: [64, 96]")).unwrap_err();
    assert!(find(&e, "input_size").message.contains("not an axis"));
    let e = parse(&WEIGHTS.replace("input_size: 96", "input_size: 4096")).unwrap_err();
    assert!(find(&e, "input_size")
        .message
        .contains("between 16 and 1024"));
}

#[test]
fn a_weights_file_fits_one_backbone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.safetensors");
    std::fs::write(&file, b"").unwrap();
    let yaml = WEIGHTS
        .replace("weights: imagenet", &format!("weights: {}", file.display()))
        .replace("backbone: efficientnet_lite0", "backbone: resnet18");
    let g = parse(&yaml).unwrap();
    assert_eq!(g.trials[0].weights, Some(Weights::File(file.clone())));
    let e =
        parse(&yaml.replace("backbone: resnet18", "backbone: [resnet18, resnet34]")).unwrap_err();
    assert!(find(&e, "weights")
        .message
        .contains("one backbone per grid"));
}

#[test]
fn check_data_skips_the_unused_source() {
    let g = parse(WEIGHTS).unwrap();
    let mut seen = Vec::new();
    // Passes where `make weights` has run; elsewhere the only problem is the missing weights.
    if let Err(e) = check_data(&g, &mut |d| {
        seen.push(d.label());
        Ok((0..10).map(|l| (l, 100)).collect())
    }) {
        assert_eq!(e.problems.len(), 1, "{e}");
        assert!(find(&e, "weights").message.contains("make weights"));
    }
    assert_eq!(seen, ["fashion10k"]);
}

#[test]
fn imagenet_weights_are_the_converted_lite0_file_in_the_weights_folder() {
    let lite0 = BackboneKind::EfficientnetLite0.imagenet_weights().unwrap();
    assert_eq!(
        lite0,
        crate::paths::weights_dir().join(crate::paths::LITE0_IMAGENET_FILE)
    );
    let err = BackboneKind::Resnet18.imagenet_weights().unwrap_err();
    assert!(
        format!("{err}").contains("efficientnet_lite0 only"),
        "{err}"
    );
    let file = Weights::File("w.safetensors".into());
    assert_eq!(
        file.file(BackboneKind::Resnet18).unwrap(),
        std::path::PathBuf::from("w.safetensors")
    );
}

#[test]
fn pretrained_names_each_backbones_shipped_weights() {
    let g = parse(&WEIGHTS.replace("weights: imagenet", "weights: pretrained")).unwrap();
    assert_eq!(g.trials[0].weights, Some(Weights::Pretrained));
    assert!(g.trials[0]
        .config_json()
        .contains(r#""weights":"pretrained""#));
    let lite0 = BackboneKind::EfficientnetLite0;
    assert_eq!(
        Weights::Pretrained.file(lite0).unwrap(),
        lite0.imagenet_weights().unwrap()
    );
    assert_eq!(
        BackboneKind::MinilmL6.pretrained_weights().unwrap(),
        crate::paths::minilm_dir().join("model.safetensors")
    );
    let e = parse(
        &WEIGHTS
            .replace("weights: imagenet", "weights: pretrained")
            .replace("efficientnet_lite0", "resnet18"),
    )
    .unwrap_err();
    let msg = &find(&e, "weights").message;
    assert!(
        msg.contains("efficientnet_lite0 and minilm_l6 only"),
        "{msg}"
    );
}
