use super::*;
use std::path::Path;

pub(super) const BASE: &str = "\
name: t
source:
  dataset: mnist10k
  classes: [0, 1, 2, 3, 4]
target:
  dataset: mnist10k
  classes: [5, 6, 7, 8, 9]
  train_per_class: 10
backbone: cnn4
schedule: {kind: constant, lr: 0.01}
epochs: 2
";

pub(super) fn grid(yaml: &str) -> Grid {
    match parse_grid(Path::new("experiments/x.yaml"), yaml, &crate::data::Files) {
        Ok(g) => g,
        Err(e) => panic!("unexpected error:\n{e}"),
    }
}

pub(super) fn err(yaml: &str) -> SpecError {
    match parse_grid(Path::new("experiments/x.yaml"), yaml, &crate::data::Files) {
        Ok(g) => panic!("expected an error, got {} trials", g.trials.len()),
        Err(e) => e,
    }
}

/// BASE with extra top-level lines appended.
pub(super) fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

pub(super) fn find<'a>(e: &'a SpecError, field: &str) -> &'a Problem {
    e.problems
        .iter()
        .find(|p| p.field == field)
        .unwrap_or_else(|| panic!("no problem at `{field}` in:\n{e}"))
}

#[test]
fn minimal_grid_has_defaults() {
    let g = grid(BASE);
    assert_eq!(g.name, "t");
    assert_eq!(g.trials.len(), 1);
    let t = &g.trials[0];
    assert_eq!(t.seed, 0);
    assert!(t.pretrained);
    assert_eq!(t.freeze, Freeze::Blocks(0));
    assert_eq!(t.batch_size, 64);
    assert_eq!(t.image_size, 28);
    assert_eq!(t.target.shift, Shift::None);
    assert_eq!(t.source.epochs, 3);
    assert_eq!(t.source.lr, 0.05);
    assert_eq!(t.source.train_per_class, None);
    assert_eq!(
        t.optimizer,
        Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0
        }
    );
    assert_eq!(
        t.source.dataset,
        DatasetSource::Bundled {
            name: "mnist10k".into()
        }
    );
}

#[test]
fn full_example_parses() {
    let yaml = "\
name: digits-freeze-depth
description: Which frozen depth is best?
seeds: [0, 1]
source:
  dataset: mnist10k
  classes: [0, 1, 2, 3, 4]
  train_per_class: 300
  epochs: 4
  lr: 0.1
target:
  dataset: mnist10k
  classes: [5, 6, 7, 8, 9]
  train_per_class: [10, 100]
  shift: [none, invert, {rotate: 45}, {noise: 0.2}, {invert: 0.5}, {blur: 1}, {contrast: 0.5}]
backbone: [cnn4, resnet8]
freeze: [0, 2, all]
schedule:
  - {kind: constant, lr: 0.01}
  - {kind: cosine, lr: 0.01, warmup_epochs: 1}
  - {kind: stlr, lr: 0.01, cut_frac: 0.2, ratio: 16}
  - {kind: step, lr: 0.01, step_epochs: 3, gamma: 0.5, layer_decay: 2.6, gradual_unfreeze: true}
optimizer:
  - {kind: sgd, momentum: 0.9, weight_decay: 5.0e-4, nesterov: true}
  - {kind: adamw}
epochs: 10
batch_size: [32, 64]
image_size: 32
";
    let g = grid(yaml);
    assert_eq!(g.description, "Which frozen depth is best?");
    assert_eq!(g.trials.len(), 2 * 2 * 7 * 2 * 3 * 4 * 2 * 2);
    let t = &g.trials[0];
    assert_eq!(t.source.train_per_class, Some(300));
    assert_eq!(t.source.epochs, 4);
    assert_eq!(t.image_size, 32);
    let shifts: Vec<Shift> = {
        let mut v: Vec<Shift> = Vec::new();
        for t in &g.trials {
            if !v.contains(&t.target.shift) {
                v.push(t.target.shift.clone());
            }
        }
        v
    };
    assert_eq!(
        shifts,
        vec![
            Shift::None,
            Shift::Invert { amount: 1.0 },
            Shift::Rotate { degrees: 45.0 },
            Shift::Noise { sigma: 0.2 },
            Shift::Invert { amount: 0.5 },
            Shift::Blur { sigma: 1.0 },
            Shift::Contrast { factor: 0.5 },
        ]
    );
    let step = g
        .trials
        .iter()
        .find(|t| matches!(t.schedule.kind, ScheduleKind::Step { .. }))
        .unwrap();
    assert_eq!(
        step.schedule.kind,
        ScheduleKind::Step {
            step_epochs: 3,
            gamma: 0.5
        }
    );
    assert_eq!(step.schedule.layer_decay, 2.6);
    assert!(step.schedule.gradual_unfreeze);
    assert!(g.trials.iter().any(|t| t.optimizer
        == Optimizer::Adamw {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.01
        }));
    assert!(g.trials.iter().any(|t| t.optimizer
        == Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5.0e-4
        }));
}

#[test]
fn expansion_count_and_order() {
    let yaml = BASE
        .replace("epochs: 2\n", "")
        .replace("backbone: cnn4\n", "")
        + "seeds: [0, 1]\nfreeze: [0, all]\nbackbone: [cnn4, resnet8]\nepochs: [2, 3]\n";
    let g = grid(&yaml);
    assert_eq!(g.trials.len(), 2 * 2 * 2 * 2);
    let tuple = |t: &TrialSpec| (t.backbone, t.freeze, t.epochs, t.seed);
    let got: Vec<_> = g.trials.iter().map(tuple).collect();
    use BackboneKind::*;
    use Freeze::*;
    assert_eq!(
        got[..8],
        [
            (Cnn4, Blocks(0), 2, 0),
            (Cnn4, Blocks(0), 2, 1),
            (Cnn4, Blocks(0), 3, 0),
            (Cnn4, Blocks(0), 3, 1),
            (Cnn4, All, 2, 0),
            (Cnn4, All, 2, 1),
            (Cnn4, All, 3, 0),
            (Cnn4, All, 3, 1),
        ]
    );
    assert!(g.trials[8..].iter().all(|t| t.backbone == Resnet8));
    // stable across parses
    let g2 = grid(&yaml);
    assert_eq!(g.trials, g2.trials);
}

#[test]
fn duplicate_axis_values_are_deduplicated() {
    let g = grid(&BASE.replace("train_per_class: 10", "train_per_class: [10, 20, 10]"));
    let n: Vec<usize> = g.trials.iter().map(|t| t.target.train_per_class).collect();
    assert_eq!(n, vec![10, 20]);
}

#[test]
fn zip_iterates_axes_together() {
    let yaml = BASE.replace("schedule: {kind: constant, lr: 0.01}\n", "")
        + "freeze: [0, 2, all]\n\
           schedule: [{kind: constant, lr: 0.01}, {kind: constant, lr: 0.02}, {kind: constant, lr: 0.03}]\n\
           seeds: [0, 1]\n\
           zip: [[schedule, freeze]]\n";
    let g = grid(&yaml);
    assert_eq!(g.trials.len(), 3 * 2);
    let got: Vec<(Freeze, f64, u64)> = g
        .trials
        .iter()
        .map(|t| (t.freeze, t.schedule.lr, t.seed))
        .collect();
    assert_eq!(
        got,
        vec![
            (Freeze::Blocks(0), 0.01, 0),
            (Freeze::Blocks(0), 0.01, 1),
            (Freeze::Blocks(2), 0.02, 0),
            (Freeze::Blocks(2), 0.02, 1),
            (Freeze::All, 0.03, 0),
            (Freeze::All, 0.03, 1),
        ]
    );
}

#[test]
fn zip_errors() {
    let e = err(&with(
        "freeze: [0, 2, all]\nseeds: [0, 1]\nzip: [[freeze, seed]]\n",
    ));
    let p = find(&e, "zip[0]");
    assert!(
        p.message.contains("freeze has 3") && p.message.contains("seed has 2"),
        "{e}"
    );

    let e = err(&with("zip: [[freeze, sede]]\n"));
    let p = find(&e, "zip[0][1]");
    assert!(p.message.contains("did you mean `seed`"), "{e}");

    let e = err(&with("zip: [[freeze, seed], [seed, batch_size]]\n"));
    let p = find(&e, "zip[1][0]");
    assert!(p.message.contains("already zipped in zip[0]"), "{e}");
}

#[test]
fn exclude_drops_matching_combinations() {
    let yaml = BASE.replace("train_per_class: 10", "train_per_class: [10, 100]")
        + "freeze: [0, all]\nexclude:\n  - {freeze: all, train_per_class: 10}\n";
    let g = grid(&yaml);
    let got: Vec<(Freeze, usize)> = g
        .trials
        .iter()
        .map(|t| (t.freeze, t.target.train_per_class))
        .collect();
    assert_eq!(
        got,
        vec![
            (Freeze::Blocks(0), 10),
            (Freeze::Blocks(0), 100),
            (Freeze::All, 100)
        ]
    );

    // a list is "any of"; a schedule matches after defaults are filled in
    let yaml = BASE.replace("train_per_class: 10", "train_per_class: [10, 100, 1000]")
        + "exclude:\n  - {train_per_class: [10, 1000], schedule: {kind: constant, lr: 0.01, layer_decay: 1}}\n";
    let g = grid(&yaml);
    let n: Vec<usize> = g.trials.iter().map(|t| t.target.train_per_class).collect();
    assert_eq!(n, vec![100]);
}

#[test]
fn exclude_errors() {
    let e = err(&with("exclude:\n  - {frieze: all}\n"));
    let p = find(&e, "exclude[0].frieze");
    assert!(p.message.contains("did you mean `freeze`"), "{e}");
    assert_eq!((p.line, p.column), (Some(13), Some(6)), "{e}");

    let e = err(&with("freeze: [0, 1]\nexclude:\n  - {freeze: 3}\n"));
    let p = find(&e, "exclude[0].freeze");
    assert!(
        p.message.contains("not a value of the `freeze` axis"),
        "{e}"
    );

    let e = err(&with("exclude:\n  - {freeze: 0}\n"));
    assert!(
        e.to_string().contains("every combination is excluded"),
        "{e}"
    );
}

#[test]
fn scratch_baselines_are_deduplicated() {
    let yaml = with("freeze: [0, 2, all]\nseeds: [0, 1]\nbaselines: [scratch]\n");
    let g = grid(&yaml);
    let pre: Vec<&TrialSpec> = g.trials.iter().filter(|t| t.pretrained).collect();
    let scratch: Vec<&TrialSpec> = g.trials.iter().filter(|t| !t.pretrained).collect();
    assert_eq!(pre.len(), 3 * 2);
    // one scratch trial per seed, whatever the freeze axis
    assert_eq!(scratch.len(), 2);
    assert!(scratch.iter().all(|t| t.freeze == Freeze::Blocks(0)));
    assert_eq!(
        scratch.iter().map(|t| t.seed).collect::<Vec<_>>(),
        vec![0, 1]
    );
    // scratch trials come after the pretrained ones
    assert!(g.trials[..6].iter().all(|t| t.pretrained));
    // the dry-run listing shows them
    let d = describe_trials(&g);
    assert_eq!(d.lines().count(), 8);
    assert!(d.lines().nth(7).unwrap().contains("scratch"), "{d}");
    assert!(d.lines().next().unwrap().starts_with("#0"), "{d}");
    assert!(
        d.contains("freeze=all") && d.contains("n=10/class") && d.contains("seed=1"),
        "{d}"
    );
}

#[test]
fn dataset_paths_are_resolved_against_the_grid_dir() {
    let yaml = BASE.replacen(
        "dataset: mnist10k",
        "dataset: {kind: idx, images: data/train-images.gz, labels: ./data/../data/train-labels.gz}",
        1,
    )
    .replacen(
        "  dataset: mnist10k\n  classes: [5",
        "  dataset: {kind: csv, path: /abs/digits.csv, side: 8, max_value: 16}\n  classes: [5",
        1,
    );
    let g = parse_grid(
        Path::new("experiments/sub/x.yaml"),
        &yaml,
        &crate::data::Files,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = &g.trials[0];
    assert_eq!(
        t.source.dataset,
        DatasetSource::Idx {
            images: "experiments/sub/data/train-images.gz".into(),
            labels: "experiments/sub/data/train-labels.gz".into(),
        }
    );
    assert_eq!(
        t.target.dataset,
        DatasetSource::Csv {
            path: "/abs/digits.csv".into(),
            side: 8,
            max_value: 16.0
        }
    );
    // A pixel csv (with side or max_value) needs both; without either it is a list of images.
    let yaml = BASE.replacen(
        "dataset: mnist10k",
        "dataset: {kind: csv, path: d.csv, max_value: 16}",
        1,
    );
    let e = err(&yaml);
    assert!(
        find(&e, "source.dataset.side").message.contains("required"),
        "{e}"
    );
    let yaml = BASE.replacen(
        "dataset: mnist10k",
        "dataset: {kind: csv, path: d.csv, side: 8}",
        1,
    );
    let e = err(&yaml);
    assert!(
        find(&e, "source.dataset.max_value")
            .message
            .contains("required"),
        "{e}"
    );
    let yaml = BASE.replacen("dataset: mnist10k", "dataset: {kind: csv, path: d.csv}", 1);
    assert!(matches!(
        grid(&yaml).trials[0].source.dataset,
        DatasetSource::CsvList { .. }
    ));
}

#[test]
fn trial_keys_are_stable_and_sensitive() {
    let yaml = BASE.replace("train_per_class: 10", "train_per_class: [10, 20]");
    let a = grid(&yaml);
    let b = grid(&yaml);
    assert_eq!(a.trials[0].key("fp"), b.trials[0].key("fp"));
    assert_eq!(a.trials[1].key("fp"), b.trials[1].key("fp"));
    assert_ne!(a.trials[0].key("fp"), a.trials[1].key("fp"));
    // same trial written differently (defaults spelled out) has the same key
    let c = grid(&BASE.replace(
        "{kind: constant, lr: 0.01}",
        "{kind: constant, lr: 0.01, layer_decay: 1, gradual_unfreeze: false}",
    ));
    assert_eq!(c.trials[0].key("fp"), a.trials[0].key("fp"));
    let d = grid(&BASE.replace("lr: 0.01", "lr: 0.02"));
    assert_ne!(d.trials[0].key("fp"), a.trials[0].key("fp"));
}

#[test]
fn load_grid_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.yaml");
    std::fs::write(&path, BASE).unwrap();
    let g = load_grid(&path, &crate::data::Files).unwrap();
    assert_eq!(g.spec_yaml, BASE);
    assert_eq!(g.spec_path, path);
    let e = load_grid(&dir.path().join("missing.yaml"), &crate::data::Files).unwrap_err();
    assert!(
        e.to_string()
            .contains("grid file not found; check the path"),
        "{e}"
    );
}

#[test]
fn linear_probe_baselines_are_added_once_and_shared() {
    let yaml = with("freeze: [0, 2]\nseeds: [0, 1]\nbaselines: [scratch, linear_probe]\n");
    let g = grid(&yaml);
    let probes: Vec<&TrialSpec> = g
        .trials
        .iter()
        .filter(|t| t.pretrained && t.freeze == Freeze::All)
        .collect();
    // one probe per seed, shared by freeze 0 and freeze 2
    assert_eq!(probes.len(), 2);
    assert_eq!(g.trials.iter().filter(|t| !t.pretrained).count(), 2);
    assert_eq!(g.trials.len(), 2 * 2 + 2 + 2);
    // a probe already on the freeze axis is not added again
    let g = grid(&with("freeze: [0, all]\nbaselines: [linear_probe]\n"));
    assert_eq!(g.trials.len(), 2);
    let err = format!(
        "{}",
        parse_grid(
            std::path::Path::new("g.yaml"),
            &with("baselines: [linear_prob]\n"),
            &crate::data::Files,
        )
        .unwrap_err()
    );
    assert!(err.contains("did you mean `linear_probe`"), "{err}");
}

#[test]
fn lp_ft_is_a_schedule_option_and_absent_it_leaves_keys_unchanged() {
    let plain = grid(&with(""));
    let yaml = with("").replace(
        "schedule: {kind: constant, lr: 0.01}",
        "schedule: {kind: constant, lr: 0.01, probe_epochs: 2}",
    );
    let lp = grid(&yaml);
    assert_eq!(lp.trials[0].schedule.probe_epochs, 2);
    assert!(lp.trials[0].schedule.label().contains("lp-ft(2)"));
    assert_ne!(lp.trials[0].key("d"), plain.trials[0].key("d"));
    assert!(!plain.trials[0].config_json().contains("probe_epochs"));
}

#[test]
fn precision_is_an_axis_that_keys_bf16_trials_apart_and_leaves_fp32_keys_unchanged() {
    let fp32 = grid(BASE);
    assert_eq!(fp32.trials[0].precision, Precision::Fp32);
    // Unset and explicit fp32 are the same trial, with the key it had before precision existed.
    let explicit = grid(&with("precision: fp32\n"));
    assert_eq!(explicit.trials, fp32.trials);
    assert!(!fp32.trials[0].config_json().contains("precision"));
    let both = grid(&with("precision: [fp32, bf16]\nseeds: [0, 1]\n"));
    let got: Vec<(Precision, u64)> = both.trials.iter().map(|t| (t.precision, t.seed)).collect();
    use Precision::*;
    assert_eq!(got, vec![(Fp32, 0), (Fp32, 1), (Bf16, 0), (Bf16, 1)]);
    assert_ne!(both.trials[0].key("d"), both.trials[2].key("d"));
    assert_eq!(both.trials[0].key("d"), fp32.trials[0].key("d"));
    let only_bf16 = grid(&with(
        "precision: [fp32, bf16]\nexclude:\n  - {precision: fp32}\n",
    ));
    assert_eq!(only_bf16.trials.len(), 1);
    assert_eq!(only_bf16.trials[0].precision, Bf16);
}
