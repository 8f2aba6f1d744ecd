//! `eval: {every, max_per_class}`: capped and skipped evaluations change only the intermediate
//! epochs' held-out numbers; the final and best epochs carry full-split values equal to an
//! uncapped run's, also across a stop and resume (real binary and library, CPU, tiny sizes).

mod common;

use common::{metrics, text, thaw, write_grid};
use std::collections::BTreeMap;
use std::path::Path;
use tch::Device;
use thaw::data::{self, TaskData};
use thaw::metrics::names::TIMINGS;
use thaw::model::Network;
use thaw::spec::*;
use thaw::train::{self, EpochControl, EpochMetrics, FitOptions, FitOutcome};

fn grid(eval: &str) -> String {
    format!(
        r#"
name: capped
seeds: [0]
source:
  dataset: mnist10k
  classes: [0, 1, 2]
  train_per_class: 30
  epochs: 1
target:
  dataset: mnist10k
  classes: [5, 6, 7]
  train_per_class: 8
backbone: cnn4
freeze: [0, 2]
schedule: {{kind: constant, lr: 0.05}}
epochs: 5
batch_size: 8
image_size: 12
eval: {eval}
"#
    )
}

/// Every metric of a run by (trial key, epoch, name).
type Metrics = BTreeMap<(String, i64, String), Option<f64>>;

/// Runs the grid with `eval` in a fresh folder; every metric by (key, epoch, name).
fn run(eval: &str) -> (tempfile::TempDir, Metrics) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_grid(dir.path(), "capped.yaml", &grid(eval));
    let out = thaw(
        dir.path(),
        &["run", path.to_str().unwrap(), "--device", "cpu"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let m = metrics(&dir.path().join("thaw.sqlite"));
    (dir, m)
}

/// `(key, best_epoch, final_val_acc, final_test_acc, final_val_loss, source_acc_final)` of
/// every trial.
fn summary(dir: &Path) -> Vec<(String, i64, [f64; 4])> {
    let conn = rusqlite::Connection::open(dir.join("thaw.sqlite")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT key, best_epoch, final_val_acc, final_test_acc, final_val_loss,
                    source_acc_final FROM trial_summary ORDER BY key",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

const HELD_OUT: [&str; 4] = ["val_loss", "val_acc", "test_acc", "source_acc"];

#[test]
fn capped_and_skipped_evaluations_leave_the_final_and_best_epochs_as_full_evaluation_gives() {
    let (capped_dir, capped) = run("{max_per_class: 3, every: 2}");
    let (full_dir, full) = run("{max_per_class: all}");
    let value = |m: &Metrics, k: &str, e: i64, n: &str| {
        m.get(&(k.to_string(), e, n.to_string())).copied().flatten()
    };
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6;
    let capped_summary = summary(capped_dir.path());
    let full_summary = summary(full_dir.path());
    assert_eq!(capped_summary.len(), 2);
    for ((key, best, finals), (full_key, _, full_finals)) in
        capped_summary.iter().zip(&full_summary)
    {
        assert_eq!(key, full_key, "eval: stays out of the trial key");
        for (a, b) in finals.iter().zip(full_finals) {
            assert!(close(*a, *b), "{key}: final {finals:?} vs {full_finals:?}");
        }
        // Training is the same: every epoch's training loss.
        for e in 1..=5 {
            let (a, b) = (
                value(&capped, key, e, "train_loss"),
                value(&full, key, e, "train_loss"),
            );
            assert!(close(a.unwrap(), b.unwrap()), "{key} epoch {e}");
        }
        // Epochs 1 and 3 are not evaluated; 2 and 4 on subsets (but the best of them, which
        // is evaluated again on the full splits); 0 and 5 on the full splits.
        for e in [1, 3] {
            assert_eq!(value(&capped, key, e, "val_acc"), None, "{key} epoch {e}");
            assert!(value(&capped, key, e, "train_acc").is_some());
        }
        let marked: Vec<i64> = (0..=5)
            .filter(|&e| value(&capped, key, e, "eval_subset") == Some(1.0))
            .collect();
        let refreshed: Vec<i64> = [2, 4].into_iter().filter(|e| !marked.contains(e)).collect();
        assert!(
            marked.iter().all(|e| [2, 4].contains(e)),
            "{key}: {marked:?}"
        );
        assert!(refreshed.len() <= 1, "{key}: {marked:?}");
        assert!(
            full.keys().all(|(_, _, n)| n != "eval_subset"),
            "a full run marks nothing"
        );
        // The fully evaluated epochs (0, 5, the best) equal the full run's.
        for e in [0, 5, *best].into_iter().chain(refreshed) {
            for name in HELD_OUT {
                let (a, b) = (value(&capped, key, e, name), value(&full, key, e, name));
                assert!(
                    close(a.unwrap(), b.unwrap()),
                    "{key} epoch {e} {name}: {a:?} vs {b:?}"
                );
            }
        }
        // The subset values differ from the full ones somewhere (3 of ~100 per class).
        let differs = marked
            .iter()
            .any(|&e| value(&capped, key, e, "val_loss") != value(&full, key, e, "val_loss"));
        assert!(marked.is_empty() || differs, "{key}");
    }
}

fn task() -> TaskData {
    let ds = data::load_dataset(
        &DatasetSource::Bundled {
            name: "mnist10k".into(),
        },
        &common::data_dir(),
    )
    .unwrap();
    data::prepare_task(&ds, &[5, 6, 7], Some(16), 4, &Shift::None, 12, Device::Cpu).unwrap()
}

fn spec() -> TrialSpec {
    let mnist = DatasetSource::Bundled {
        name: "mnist10k".into(),
    };
    TrialSpec {
        seed: 3,
        backbone: BackboneKind::Cnn4,
        pretrained: false,
        freeze: Freeze::Blocks(1),
        source: SourceTask {
            task: Default::default(),
            dataset: mnist.clone(),
            classes: vec![0, 1, 2],
            train_per_class: Some(10),
            epochs: 1,
            lr: 0.05,
        },
        target: TargetTask {
            dataset: mnist,
            classes: vec![5, 6, 7],
            train_per_class: 16,
            shift: Shift::None,
        },
        schedule: Schedule {
            kind: ScheduleKind::Constant,
            lr: 0.003,
            layer_decay: 1.0,
            gradual_unfreeze: false,
            probe_epochs: 0,
        },
        // Adam on 16 examples per class overfits: the validation loss is lowest mid-run.
        optimizer: Optimizer::Adamw {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
        },
        epochs: 8,
        batch_size: 8,
        image_size: 12,
        weights: None,
        input_size: None,
        precision: Precision::Fp32,
        max_length: None,
        pooling: None,
    }
}

type Log = Vec<(usize, Vec<(String, f64)>)>;

/// Fine-tunes `spec` with `eval`, stopping after epoch `stop` (and resuming from the
/// checkpoint in a fresh network) when given; the metrics without timings and the best epoch's
/// full evaluation.
fn fit(
    spec: &TrialSpec,
    data: &TaskData,
    eval: EvalSettings,
    stop: Option<usize>,
) -> (Log, Option<(usize, EpochMetrics)>) {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("trial.safetensors");
    let best = std::cell::RefCell::new(None);
    let options = FitOptions {
        source_test: None,
        checkpoint: Some(&ckpt),
        checkpoint_every: std::time::Duration::ZERO,
        reuse_frozen_features: true,
        feature_cache: None,
        bookkeeping: None,
        final_logits: None,
        eval,
        must_evaluate: &[],
        best_epoch: Some(&best),
    };
    let mut log: Log = Vec::new();
    for (attempt, init_seed) in [spec.seed as i64, 999].into_iter().enumerate() {
        tch::manual_seed(init_seed);
        let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
        let outcome = train::fine_tune(spec, &net, data, &options, &mut |e, m| {
            let kept = m.iter().filter(|(n, _)| !TIMINGS.contains(&n.as_str()));
            log.push((e, kept.cloned().collect()));
            Ok(match stop {
                Some(s) if attempt == 0 && e == s => EpochControl::Stop,
                _ => EpochControl::Continue,
            })
        })
        .unwrap();
        if outcome == FitOutcome::Completed {
            break;
        }
        assert_eq!(
            outcome,
            FitOutcome::Interrupted {
                epoch: stop.unwrap()
            }
        );
    }
    (log, best.take())
}

#[test]
fn a_stopped_and_resumed_capped_run_keeps_its_best_epoch_snapshot() {
    // The only test of this file that uses torch's (process-wide) generator.
    let data = task();
    let spec = spec();
    let capped = EvalSettings {
        every: 1,
        max_per_class: Some(4),
    };
    let (whole, best) = fit(&spec, &data, capped, None);
    let (full, _) = fit(&spec, &data, EvalSettings::full(), None);
    // The best epoch was evaluated on subsets, so it is evaluated again on the full splits:
    // its values are an uncapped run's at that epoch.
    let (epoch, row) = best.expect("the lowest subset validation loss is mid-run");
    assert!((1..spec.epochs).contains(&epoch), "{epoch}");
    let at = |log: &Log, e: usize, name: &str| {
        let m = &log.iter().find(|(x, _)| *x == e).unwrap().1;
        m.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    };
    for name in ["val_loss", "val_acc", "test_acc"] {
        let got = row.iter().find(|(n, _)| n == name).unwrap().1;
        let expected = at(&full, epoch, name).unwrap();
        assert!((got - expected).abs() < 1e-6, "{name}: {got} vs {expected}");
    }
    assert_eq!(at(&whole, epoch, "eval_subset"), Some(1.0));
    // Stopped before, at and after the best epoch and resumed: the same epochs, metrics and
    // best epoch.
    for stop in [epoch - 1, epoch, spec.epochs - 1] {
        let (log, resumed_best) = fit(&spec, &data, capped, Some(stop));
        assert_eq!(log, whole, "stopped after epoch {stop}");
        let (e, r) = resumed_best.unwrap();
        assert_eq!(e, epoch, "stopped after epoch {stop}");
        assert_eq!(r, row, "stopped after epoch {stop}");
    }
}
