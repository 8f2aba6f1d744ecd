//! Fixed validation/test splits per class and seeded per-class training samples.
//!
//! For each class, the examples (in dataset order) are permuted by a ChaCha stream seeded from
//! the dataset fingerprint and the class; the first 15% (at least 1) are the test split, the next
//! 10% (at least 1) the validation split, and the rest the training pool. These splits do not
//! depend on the trial seed. A training sample is a prefix of a second permutation of the pool,
//! seeded from the trial seed and the class, so a smaller sample is a subset of a larger one.
//!
//! A dataset whose files fix the split (`train/ val/ test/` folders, a CSV split column) uses
//! that split instead; a split the data lacks (say no `val/` folder) is drawn from its training
//! examples as above (15% test, 10% validation, at least 1 each), seeded by the fingerprint.

use super::Dataset;
use anyhow::{bail, Result};
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The split an example belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SplitName {
    Train,
    Val,
    Test,
}

impl SplitName {
    /// `train`, `val` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Val => "val",
            SplitName::Test => "test",
        }
    }
}

/// Indices (into the dataset) of a task's splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSplit {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// One class's fixed split: test, validation and the training pool, as dataset indices.
pub(crate) struct ClassSplit {
    pub test: Vec<usize>,
    pub val: Vec<usize>,
    pub pool: Vec<usize>,
}

/// Sizes of the test and validation splits of a class with `n` examples.
fn split_sizes(n: usize) -> (usize, usize) {
    let n_test = (n * 15 / 100).max(1).min(n);
    let n_val = (n * 10 / 100).max(1).min(n - n_test);
    (n_test, n_val)
}

fn rng_for(tag: &[u8], parts: &[&[u8]]) -> ChaCha8Rng {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    ChaCha8Rng::from_seed(*h.finalize().as_bytes())
}

/// Uniform integer in `0..n` (n >= 1) from 64 random bits; the bias (< n / 2^64) is negligible.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((rng.next_u64() as u128 * n as u128) >> 64) as usize
}

/// Fisher-Yates shuffle of the first `k` positions (a uniform k-subset in random order).
fn partial_shuffle(v: &mut [usize], k: usize, rng: &mut ChaCha8Rng) {
    let n = v.len();
    for i in 0..k.min(n) {
        let j = i + below(rng, n - i);
        v.swap(i, j);
    }
}

/// Dataset indices of every label, in dataset order.
pub(crate) fn class_indices(ds: &Dataset) -> BTreeMap<u32, Vec<usize>> {
    let mut m: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &l) in ds.labels.iter().enumerate() {
        m.entry(l).or_default().push(i);
    }
    m
}

/// The fixed split of one class, given its examples in dataset order.
pub(crate) fn class_split(fingerprint: &str, class: u32, mut idx: Vec<usize>) -> ClassSplit {
    let n = idx.len();
    let mut rng = rng_for(
        b"thaw-split-v1",
        &[fingerprint.as_bytes(), &class.to_le_bytes()],
    );
    partial_shuffle(&mut idx, n, &mut rng);
    let (n_test, n_val) = split_sizes(n);
    let pool = idx.split_off(n_test + n_val);
    let val = idx.split_off(n_test);
    ClassSplit {
        test: idx,
        val,
        pool,
    }
}

/// The split of one class, honouring a split fixed by the data (see the module docs).
pub(crate) fn class_split_of(ds: &Dataset, class: u32, idx: Vec<usize>) -> Result<ClassSplit> {
    let Some(fixed) = &ds.fixed_split else {
        return Ok(class_split(&ds.fingerprint, class, idx));
    };
    let has = |s: SplitName| fixed.contains(&s);
    let (has_val, has_test) = (has(SplitName::Val), has(SplitName::Test));
    let of =
        |s: SplitName| -> Vec<usize> { idx.iter().copied().filter(|&i| fixed[i] == s).collect() };
    let (mut train, val, test) = (
        of(SplitName::Train),
        of(SplitName::Val),
        of(SplitName::Test),
    );
    for (present, got, name) in [(has_val, &val, "val"), (has_test, &test, "test")] {
        if present && got.is_empty() {
            bail!(
                "dataset {}: class {} has no examples in the {name} split, though the dataset \
                 has one; add some, or use the class in no task",
                ds.label,
                ds.class_display(class)
            );
        }
    }
    if !has_val && !has_test {
        return Ok(class_split(&ds.fingerprint, class, train));
    }
    let n = train.len();
    let mut rng = rng_for(
        b"thaw-split-v1",
        &[ds.fingerprint.as_bytes(), &class.to_le_bytes()],
    );
    partial_shuffle(&mut train, n, &mut rng);
    let (t, v) = split_sizes(n);
    let n_test = if has_test { 0 } else { t };
    let n_val = if has_val { 0 } else { v.min(n - n_test) };
    let pool = train.split_off(n_test + n_val);
    let carved_val = train.split_off(n_test);
    Ok(ClassSplit {
        test: if has_test { test } else { train },
        val: if has_val { val } else { carved_val },
        pool,
    })
}

/// Training-pool size of every label in the dataset (0 for a class whose split is unusable).
pub fn train_pool_sizes(ds: &Dataset) -> BTreeMap<u32, usize> {
    class_indices(ds)
        .into_iter()
        .map(|(c, v)| {
            let n = class_split_of(ds, c, v).map(|s| s.pool.len()).unwrap_or(0);
            (c, n)
        })
        .collect()
}

/// The files of a task's splits: `(split, path, dataset label)` rows, train then val then test,
/// grouped by class in the order of `classes`. The path is relative to the dataset root for
/// image-file datasets, and `#<index>` (the example's position in the file) for the others.
/// The same arguments as [`split_task`], whose errors it returns.
pub fn split_manifest(
    ds: &Dataset,
    classes: &[u32],
    train_per_class: Option<usize>,
    seed: u64,
) -> Result<Vec<(String, String, u32)>> {
    let split = split_task(ds, classes, train_per_class, seed)?;
    let mut out = Vec::with_capacity(split.train.len() + split.val.len() + split.test.len());
    for (name, idx) in [
        (SplitName::Train, &split.train),
        (SplitName::Val, &split.val),
        (SplitName::Test, &split.test),
    ] {
        for &i in idx {
            let path = match &ds.files {
                Some(f) => f[i].clone(),
                None => format!("#{i}"),
            };
            out.push((name.as_str().to_string(), path, ds.labels[i]));
        }
    }
    Ok(out)
}

/// Fixed validation/test splits (independent of the trial seed: they depend only on the dataset
/// fingerprint) and a per-class training sample drawn by `seed` from the rest (the training pool).
/// `None` = the whole pool. Errors if a class is absent or has fewer than `train_per_class` pool
/// examples. Indices are grouped by class in the order of `classes`.
pub fn split_task(
    ds: &Dataset,
    classes: &[u32],
    train_per_class: Option<usize>,
    seed: u64,
) -> Result<TaskSplit> {
    if classes.is_empty() {
        bail!("dataset {}: a task needs at least one class", ds.label);
    }
    let mut by_class = class_indices(ds);
    let mut out = TaskSplit {
        train: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for (pos, &c) in classes.iter().enumerate() {
        if classes[..pos].contains(&c) {
            bail!(
                "dataset {}: class {} is listed twice",
                ds.label,
                ds.class_display(c)
            );
        }
        let Some(idx) = by_class.remove(&c) else {
            let present: Vec<String> = class_indices(ds).keys().map(|k| k.to_string()).collect();
            bail!(
                "dataset {}: class {} is absent (labels present: {})",
                ds.label,
                ds.class_display(c),
                present.join(", ")
            );
        };
        let ClassSplit {
            test,
            val,
            mut pool,
        } = class_split_of(ds, c, idx)?;
        let k = match train_per_class {
            None => pool.len(),
            Some(0) => bail!("dataset {}: train_per_class must be at least 1", ds.label),
            Some(k) if k > pool.len() => bail!(
                "dataset {}: class {} has only {} training-pool examples but \
                 train_per_class is {k}",
                ds.label,
                ds.class_display(c),
                pool.len()
            ),
            Some(k) => k,
        };
        if pool.is_empty() {
            bail!(
                "dataset {}: class {} has only {} examples, too few for a test, a validation \
                 and a training example",
                ds.label,
                ds.class_display(c),
                test.len() + val.len()
            );
        }
        let mut rng = rng_for(b"thaw-train-v1", &[&seed.to_le_bytes(), &c.to_le_bytes()]);
        partial_shuffle(&mut pool, k, &mut rng);
        pool.truncate(k);
        out.train.extend(pool);
        out.val.extend(val);
        out.test.extend(test);
    }
    Ok(out)
}
