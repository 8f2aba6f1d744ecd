//! Grid errors: unknown keys, types, ranges, locations, several problems at once.

use super::tests::{err, find, grid, with, BASE};

#[test]
fn unknown_key_with_suggestion_and_location() {
    let e = err(&BASE.replace(
        "  train_per_class: 10\n",
        "  train_per_class: 10\n  shfit: [none]\n",
    ));
    assert_eq!(e.problems.len(), 1, "{e}");
    assert_eq!(
        e.to_string(),
        "experiments/x.yaml:9:3: target.shfit: unknown key; did you mean `shift`? \
         Valid keys: dataset, classes, train_per_class, shift"
    );
}

#[test]
fn several_errors_are_all_reported_in_file_order() {
    let yaml = BASE
        .replace("name: t\n", "name: t\nsedes: [0]\n")
        .replace(
            "  train_per_class: 10\n",
            "  train_per_class: 10\n  shift: [none, {rotate: 45}, {noise: -1}]\n",
        )
        .replace("backbone: cnn4", "backbone: [cnn4, resnt8]")
        .replace("kind: constant,", "kind: cosine,")
        .replace("lr: 0.01}", "lr: 0.01, cut_frac: 0.3}");
    let e = err(&yaml);
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "sedes",
            "target.shift[2].noise",
            "backbone[1]",
            "schedule.cut_frac"
        ],
        "{e}"
    );
    assert!(find(&e, "sedes").message.contains("did you mean `seeds`"));
    assert_eq!(find(&e, "sedes").line, Some(2));
    let noise = find(&e, "target.shift[2].noise");
    assert_eq!((noise.line, noise.column), (Some(10), Some(39)), "{e}");
    assert!(noise.message.contains(">= 0"), "{e}");
    let b = find(&e, "backbone[1]");
    assert_eq!((b.line, b.column), (Some(11), Some(18)), "{e}");
    assert!(b.message.contains("did you mean `resnet8`"), "{e}");
    let c = find(&e, "schedule.cut_frac");
    assert!(c.message.contains("belongs to `stlr`"), "{e}");
    assert_eq!((c.line, c.column), (Some(12), Some(36)), "{e}");
    assert!(
        e.to_string().ends_with("4 problems in experiments/x.yaml"),
        "{e}"
    );
}

#[test]
fn type_error_has_line_and_column() {
    let yaml = BASE.replace("epochs: 2", "epochs: ten");
    let e = err(&yaml);
    let p = find(&e, "epochs");
    assert_eq!((p.line, p.column), (Some(11), Some(9)), "{e}");
    assert!(
        p.message.contains("expected an integer") && p.message.contains("`ten`"),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("experiments/x.yaml:11:9: epochs: "),
        "{e}"
    );

    let yaml = BASE.replace("train_per_class: 10", "train_per_class: [10, 2.5]");
    let e = err(&yaml);
    let p = find(&e, "target.train_per_class[1]");
    assert_eq!((p.line, p.column), (Some(8), Some(25)), "{e}");

    let e = err(&BASE.replace("lr: 0.01}", "lr: fast}"));
    let p = find(&e, "schedule.lr");
    assert_eq!((p.line, p.column), (Some(10), Some(32)), "{e}");
}

#[test]
fn missing_keys_point_at_the_parent() {
    let yaml = BASE.replace("  train_per_class: 10\n", "");
    let e = err(&yaml);
    let p = find(&e, "target.train_per_class");
    assert!(p.message.contains("required"), "{e}");
    assert_eq!(p.line, Some(6), "{e}");

    let e = err(&BASE.replace("lr: 0.01", "lr: 0.01, kind: step"));
    assert!(e.to_string().contains("duplicate"), "{e}");
    assert_eq!(e.problems[0].line, Some(10), "{e}");
    let e = err(&with("epochs: 3\n"));
    assert!(
        e.to_string().starts_with("experiments/x.yaml:12:1: "),
        "{e}"
    );

    let e = err(&BASE.replace("{kind: constant, lr: 0.01}", "{kind: step, lr: 0.01}"));
    assert!(
        find(&e, "schedule.step_epochs")
            .message
            .contains("required"),
        "{e}"
    );
}

#[test]
fn yaml_syntax_error_is_located() {
    let e = err("name: t\nsource: [1, 2\n");
    assert_eq!(e.problems.len(), 1);
    assert!(e.problems[0].line.is_some(), "{e}");
    assert!(e.to_string().contains("invalid YAML"), "{e}");
}

#[test]
fn freeze_deeper_than_backbone_is_rejected() {
    let yaml = BASE.replace("backbone: cnn4", "backbone: [cnn4, resnet8]") + "freeze: [0, 5]\n";
    let e = err(&yaml);
    let p = find(&e, "freeze[1]");
    assert!(
        p.message.contains("cannot freeze 5 blocks")
            && p.message.contains("`cnn4` has 4 blocks")
            && p.message.contains("`all`"),
        "{e}"
    );
    assert_eq!(p.line, Some(12), "{e}");
    // freezing exactly every block is fine
    assert_eq!(grid(&with("freeze: 4\n")).trials[0].frozen_blocks(), 4);
    // an excluded combination is not checked
    let yaml = with("freeze: [0, 5]\nexclude: [{freeze: 5}]\n");
    assert_eq!(grid(&yaml).trials.len(), 1);
}

#[test]
fn value_range_checks() {
    let cases: &[(&str, &str, &str)] = &[
        ("epochs: 2", "epochs: 0", "epochs"),
        ("epochs: 2", "epochs: 2\nbatch_size: 0", "batch_size"),
        ("epochs: 2", "epochs: 2\nimage_size: 4", "image_size"),
        ("epochs: 2", "epochs: 2\nimage_size: 512", "image_size"),
        ("epochs: 2", "epochs: 2\nseeds: [1, 2, 1]", "seeds[2]"),
        ("epochs: 2", "epochs: []", "epochs"),
        (
            "classes: [5, 6, 7, 8, 9]",
            "classes: [5, 6, 5]",
            "target.classes[2]",
        ),
        ("classes: [5, 6, 7, 8, 9]", "classes: []", "target.classes"),
        ("lr: 0.01}", "lr: 0}", "schedule.lr"),
        (
            "lr: 0.01}",
            "lr: 0.01, layer_decay: 0.5}",
            "schedule.layer_decay",
        ),
        ("name: t", "name: a/b", "name"),
        (
            "dataset: mnist10k\n  classes: [0",
            "dataset: mnist\n  classes: [0",
            "source.dataset",
        ),
        (
            "{kind: constant, lr: 0.01}",
            "{kind: cosine, lr: 0.01, warmup_epochs: 2}",
            "schedule.warmup_epochs",
        ),
        (
            "{kind: constant, lr: 0.01}",
            "{kind: stlr, lr: 0.01, cut_frac: 1}",
            "schedule.cut_frac",
        ),
        (
            "epochs: 2",
            "epochs: 2\noptimizer: {kind: sgd, momentum: 0, nesterov: true}",
            "optimizer.nesterov",
        ),
        (
            "epochs: 2",
            "epochs: 2\noptimizer: {kind: sgd, beta1: 0.8}",
            "optimizer.beta1",
        ),
        (
            "train_per_class: 10",
            "train_per_class: 10\n  shift: {contrast: 0}",
            "target.shift.contrast",
        ),
        (
            "train_per_class: 10",
            "train_per_class: 10\n  shift: {invert: 2}",
            "target.shift.invert",
        ),
        (
            "train_per_class: 10",
            "train_per_class: 10\n  shift: {rotate: 1, noise: 1}",
            "target.shift",
        ),
    ];
    for (from, to, field) in cases {
        let yaml = BASE.replacen(from, to, 1);
        assert_ne!(yaml, BASE, "{from}");
        let e = err(&yaml);
        let p = find(&e, field);
        assert!(p.line.is_some(), "no line for {field}: {e}");
    }
    // the mnist suggestion
    let e = err(&BASE.replacen("dataset: mnist10k", "dataset: mnist", 1));
    assert!(
        find(&e, "source.dataset")
            .message
            .contains("did you mean `mnist10k`"),
        "{e}"
    );
}

#[test]
fn unknown_precisions_are_rejected_with_the_reason() {
    let e = err(&with("precision: fp16\n"));
    let p = find(&e, "precision");
    assert!(p.message.contains("loss scaling"), "{e}");
    assert!(p.message.contains("Precisions: fp32, bf16"), "{e}");
    let e = err(&with("precision: [fp32, bf61]\n"));
    let p = find(&e, "precision[1]");
    assert!(p.message.contains("did you mean `bf16`?"), "{e}");
}

#[test]
fn wrong_types_are_reported_with_every_other_problem() {
    let yaml = BASE
        .replace("source:\n  dataset: mnist10k", "source:\n  dataset: 7")
        .replace(
            "epochs: 2",
            "epochs: ten\nbatch_size: [8, big]\nbatchsize: 3",
        )
        .replace("lr: 0.01}", "lr: fast, gamma: 0.5}");
    let e = err(&yaml);
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "source.dataset",
            "schedule.lr",
            "schedule.gamma",
            "epochs",
            "batch_size[1]",
            "batchsize"
        ],
        "{e}"
    );
    assert!(find(&e, "source.dataset")
        .message
        .starts_with("expected a dataset ("));
    assert!(find(&e, "schedule.gamma")
        .message
        .contains("does not apply to a `constant` schedule (it belongs to `step`)"));
    assert_eq!(
        find(&e, "schedule.lr").message,
        "expected a number, got the string `fast`"
    );
    assert_eq!(
        find(&e, "epochs").message,
        "expected an integer (number of training epochs), got the string `ten`"
    );
    assert_eq!(
        find(&e, "batch_size[1]").message,
        "expected an integer (examples per batch), got the string `big`"
    );
    assert!(find(&e, "batchsize")
        .message
        .starts_with("unknown key; did you mean `batch_size`?"));
}

#[test]
fn a_section_of_the_wrong_type_does_not_hide_the_others() {
    let e = err(&BASE
        .replace(
            "target:\n  dataset: mnist10k\n  classes: [5, 6, 7, 8, 9]\n  train_per_class: 10\n",
            "target: mnist10k\n",
        )
        .replace("epochs: 2", "epochs: 0"));
    assert!(
        find(&e, "target")
            .message
            .starts_with("expected a mapping such as {dataset: mnist10k"),
        "{e}"
    );
    assert!(
        find(&e, "epochs").message.contains("must be at least 1"),
        "{e}"
    );
}
