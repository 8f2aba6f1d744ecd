//! `check_data`: trials against the datasets' real class pools.

use super::tests::{find, grid, BASE};
use super::*;
use std::collections::BTreeMap;

fn pools(ds: &DatasetSource) -> anyhow::Result<BTreeMap<u32, usize>> {
    match ds {
        DatasetSource::Bundled { name } if name == "mnist10k" => Ok((0..10)
            .map(|l| (l, if l == 7 { 50 } else { 800 }))
            .collect()),
        _ => anyhow::bail!("no such file"),
    }
}

#[test]
fn check_data_accepts_valid_grid() {
    let g = grid(&BASE.replace("train_per_class: 10", "train_per_class: [10, 50]"));
    let mut calls = 0;
    check_data(&g, &mut |d| {
        calls += 1;
        pools(d)
    })
    .unwrap();
    assert_eq!(calls, 1, "one call per distinct dataset");
}

#[test]
fn check_data_rejects_missing_classes_and_small_pools() {
    let yaml = BASE
        .replace("classes: [5, 6, 7, 8, 9]", "classes: [5, 6, 7, 8, 12]")
        .replace("train_per_class: 10", "train_per_class: [10, 60]");
    let g = grid(&yaml);
    let e = check_data(&g, &mut pools).unwrap_err();
    let p = find(&e, "target.classes[4]");
    assert!(
        p.message.contains("label 12") && p.message.contains("mnist10k"),
        "{e}"
    );
    assert_eq!((p.line, p.column), (Some(7), Some(25)), "{e}");
    let p = find(&e, "target.train_per_class[1]");
    assert!(
        p.message.contains("label 7 has only 50") && p.message.contains("at most 50"),
        "{e}"
    );
    assert_eq!(p.line, Some(8), "{e}");
    assert_eq!(e.problems.len(), 2, "{e}");

    // source pool too small
    let g = grid(&BASE.replace(
        "classes: [0, 1, 2, 3, 4]",
        "classes: [6, 7]\n  train_per_class: 100",
    ));
    let e = check_data(&g, &mut pools).unwrap_err();
    assert!(
        find(&e, "source.train_per_class")
            .message
            .contains("only 50"),
        "{e}"
    );

    // unreadable dataset
    let g = grid(&BASE.replacen("dataset: mnist10k", "dataset: fashion10k", 1));
    let e = check_data(&g, &mut pools).unwrap_err();
    assert!(
        find(&e, "source.dataset").message.contains("no such file"),
        "{e}"
    );
}
