//! Checks of a grid against the real datasets (labels present, enough training examples).

use super::error::{idx, key, Diag, Seg};
use super::trial::*;
use super::{Grid, SpecError};
use serde_norway::Value;
use std::collections::BTreeMap;

type Pools = BTreeMap<u32, usize>;

/// Checks every trial against the real data: classes exist in the dataset, train_per_class
/// not above the smallest training pool of the classes used. `pool_sizes` returns, for a
/// dataset, the training-pool size of every label it holds; it is called once per distinct
/// dataset.
pub fn check_data(
    grid: &Grid,
    pool_sizes: &mut dyn FnMut(&DatasetSource) -> anyhow::Result<BTreeMap<u32, usize>>,
) -> Result<(), SpecError> {
    let mut cache: Vec<(DatasetSource, Result<Pools, String>)> = Vec::new();
    let mut diag = Diag::default();
    let root: Option<Value> = serde_norway::from_str(&grid.spec_yaml).ok();
    let sampled_tpc = root
        .as_ref()
        .and_then(|r| r.get("search")?.get("space")?.get("train_per_class"))
        .is_some();
    let tpc_path = |n: usize| -> Vec<Seg> {
        if sampled_tpc {
            let space = [Seg::Key("search".into()), Seg::Key("space".into())];
            return key(&space, "train_per_class");
        }
        let base = vec![
            Seg::Key("target".into()),
            Seg::Key("train_per_class".into()),
        ];
        let list = root
            .as_ref()
            .and_then(|r| r.get("target"))
            .and_then(|t| t.get("train_per_class"))
            .and_then(|v| v.as_sequence());
        match list.and_then(|l| l.iter().position(|v| v.as_u64() == Some(n as u64))) {
            Some(i) => idx(&base, i),
            None => base,
        }
    };

    let mut weights_checked = false;
    for t in &grid.trials {
        let cached = matches!(t.weights, Some(Weights::Imagenet | Weights::Pretrained));
        if cached && !weights_checked {
            weights_checked = true;
            if let Some(Ok(file)) = t.weights.as_ref().map(|w| w.file(t.backbone)) {
                if !file.is_file() {
                    let what = match t.backbone {
                        BackboneKind::EfficientnetLite0 => "ImageNet",
                        _ => "pretrained",
                    };
                    diag.err(
                        &[Seg::Key("weights".into())],
                        format!(
                            "the {what} weights are not in the cache ({}); run `make weights` \
                             once to fetch them",
                            file.display()
                        ),
                    );
                }
            }
        }
        if t.pretrains_on_source() {
            let s = &t.source;
            let base = vec![Seg::Key("source".into())];
            let tpc = s
                .train_per_class
                .map(|n| (n, key(&base, "train_per_class")));
            check_task(
                &mut cache, pool_sizes, &mut diag, &base, &s.dataset, &s.classes, tpc,
            );
        }
        let tt = &t.target;
        let base = vec![Seg::Key("target".into())];
        let tpc = Some((tt.train_per_class, tpc_path(tt.train_per_class)));
        check_task(
            &mut cache,
            pool_sizes,
            &mut diag,
            &base,
            &tt.dataset,
            &tt.classes,
            tpc,
        );
    }
    if diag.is_empty() {
        Ok(())
    } else {
        Err(diag.into_error(&grid.spec_path, &grid.spec_yaml))
    }
}

fn check_task(
    cache: &mut Vec<(DatasetSource, Result<Pools, String>)>,
    pool_sizes: &mut dyn FnMut(&DatasetSource) -> anyhow::Result<Pools>,
    diag: &mut Diag,
    base: &[Seg],
    dataset: &DatasetSource,
    classes: &[u32],
    train_per_class: Option<(usize, Vec<Seg>)>,
) {
    let pos = match cache.iter().position(|(d, _)| d == dataset) {
        Some(p) => p,
        None => {
            let r = pool_sizes(dataset).map_err(|e| {
                // The data errors name the file and say what to do; the outer "loading
                // dataset" context only repeats the name.
                e.chain()
                    .map(|c| c.to_string())
                    .filter(|c| !c.starts_with("loading dataset "))
                    .collect::<Vec<_>>()
                    .join(": ")
            });
            cache.push((dataset.clone(), r));
            cache.len() - 1
        }
    };
    let label = dataset.label();
    let pools = match &cache[pos].1 {
        Ok(p) => p,
        Err(e) => {
            diag.err(
                &key(base, "dataset"),
                format!("cannot read dataset `{label}`: {e}"),
            );
            return;
        }
    };
    let present: Vec<String> = pools
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(l, _)| l.to_string())
        .collect();
    let mut smallest: Option<(u32, usize)> = None;
    for (i, c) in classes.iter().enumerate() {
        match pools.get(c) {
            Some(&n) if n > 0 => {
                if smallest.is_none_or(|(_, m)| n < m) {
                    smallest = Some((*c, n));
                }
            }
            _ => diag.err(
                &idx(&key(base, "classes"), i),
                format!(
                    "label {c} has no training examples in dataset `{label}`; labels present: {}",
                    if present.is_empty() {
                        "none".to_string()
                    } else {
                        present.join(", ")
                    }
                ),
            ),
        }
    }
    if let (Some((n, path)), Some((c, m))) = (train_per_class, smallest) {
        if n > m {
            diag.err(
                &path,
                format!(
                    "{n} training examples per class requested, but label {c} has only {m} in \
                     the training pool of `{label}`; use at most {m}"
                ),
            );
        }
    }
}
