//! Training invariants on real computations (CPU, tiny sizes): freezing, BatchNorm statistics,
//! seeded repeatability.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use tch::{Device, Tensor};
use thaw::data::TensorSet;
use thaw::data::{self, TaskData};
use thaw::metrics::names::TIMINGS;
use thaw::model::Network;
use thaw::spec::*;
use thaw::train::features::{CacheStats, FeatureCache};
use thaw::train::{self, EpochControl, EpochMetrics, FitOptions, FitOutcome};

/// torch's random generator is global to the process: tests that seed it must not interleave.
static TORCH_RNG: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn task(seed: u64) -> TaskData {
    let data_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let src = DatasetSource::Bundled {
        name: "mnist10k".into(),
    };
    let ds = data::load_dataset(&src, &data_dir).unwrap();
    data::prepare_task(
        &ds,
        &[5, 6, 7],
        Some(16),
        seed,
        &Shift::None,
        12,
        Device::Cpu,
    )
    .unwrap()
}

/// Options of a run with frozen-feature reuse on.
fn opts<'a>(source_test: Option<&'a TensorSet>, checkpoint: Option<&'a Path>) -> FitOptions<'a> {
    FitOptions {
        source_test,
        checkpoint,
        checkpoint_every: std::time::Duration::ZERO,
        reuse_frozen_features: true,
        feature_cache: None,
        bookkeeping: None,
        final_logits: None,
        eval: EvalSettings::full(),
        must_evaluate: &[],
        best_epoch: None,
    }
}

fn spec(backbone: BackboneKind, freeze: Freeze) -> TrialSpec {
    let mnist = DatasetSource::Bundled {
        name: "mnist10k".into(),
    };
    TrialSpec {
        seed: 3,
        backbone,
        pretrained: false,
        freeze,
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
            lr: 0.05,
            layer_decay: 1.0,
            gradual_unfreeze: false,
            probe_epochs: 0,
        },
        optimizer: Optimizer::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
        },
        epochs: 2,
        batch_size: 8,
        image_size: 12,
        weights: None,
        input_size: None,
        precision: Precision::Fp32,
        max_length: None,
        pooling: None,
    }
}

/// Every variable of the network (parameters and BatchNorm statistics), copied.
fn snapshot(net: &Network) -> Vec<(String, Tensor)> {
    let mut vars: Vec<_> = net
        .vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// The metrics a run reported, epoch by epoch.
type Log = Vec<(usize, EpochMetrics)>;

fn fit(spec: &TrialSpec, data: &TaskData) -> (Network, Log) {
    tch::manual_seed(spec.seed as i64);
    let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
    let mut log = Vec::new();
    let outcome = train::fine_tune(
        spec,
        &net,
        data,
        &opts(Some(&data.test), None),
        &mut |e, m| {
            log.push((e, m.clone()));
            Ok(EpochControl::Continue)
        },
    )
    .unwrap();
    assert_eq!(outcome, FitOutcome::Completed);
    (net, log)
}

/// Fine-tunes `spec` from the network its seed initialises, with frozen-prefix reuse on or off
/// and shared through `cache` when given; the metrics without timings.
fn fit_reusing(
    spec: &TrialSpec,
    data: &TaskData,
    reuse: bool,
    cache: Option<&FeatureCache>,
) -> Log {
    tch::manual_seed(spec.seed as i64);
    let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
    let options = FitOptions {
        reuse_frozen_features: reuse,
        feature_cache: cache,
        ..opts(Some(&data.test), None)
    };
    let mut log: Log = Vec::new();
    train::fine_tune(spec, &net, data, &options, &mut |e, m| {
        let m = m
            .iter()
            .filter(|(n, _)| !TIMINGS.contains(&n.as_str()))
            .cloned();
        log.push((e, m.collect()));
        Ok(EpochControl::Continue)
    })
    .unwrap();
    log
}

/// Asserts that two runs reported the same metrics (to float32 rounding).
fn assert_same_metrics(got: &Log, expected: &Log, what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: epochs");
    for ((e, x), (_, y)) in got.iter().zip(expected) {
        assert_eq!(x.len(), y.len(), "{what}: epoch {e}");
        for ((name, u), (_, v)) in x.iter().zip(y) {
            assert!(
                (u - v).abs() <= 1e-5 * (1.0 + v.abs()),
                "{what}: epoch {e} {name}: {u} vs {v}"
            );
        }
    }
}

#[test]
fn frozen_blocks_and_their_batchnorm_statistics_stay_bit_for_bit_while_the_rest_moves() {
    let _rng = serial();
    let data = task(3);
    for backbone in BackboneKind::ALL {
        if backbone.profile().modality != Modality::Image {
            continue; // this test trains on images; text backbones are checked in text_backbone
        }
        let mut spec = spec(backbone, Freeze::Blocks(2));
        if backbone.profile().default_input_size.is_some() {
            // ImageNet-style backbones at a small input size, to keep the test quick.
            spec.input_size = Some(32);
        }
        tch::manual_seed(spec.seed as i64);
        let net = Network::for_trial(&spec, Device::Cpu, Some(3), Some(data.num_classes), 1);
        let before = snapshot(&net);
        train::fine_tune(
            &spec,
            &net,
            &data,
            &opts(Some(&data.test), None),
            &mut |_, _| Ok(EpochControl::Continue),
        )
        .unwrap();
        let after = snapshot(&net);
        let frozen: Vec<String> = (0..2)
            .flat_map(|i| net.block_variables(i).to_vec())
            .collect();
        assert!(frozen.iter().any(|n| n
            .starts_with(&format!("backbone.{}.", backbone.block_names()[0]))
            || backbone.profile().classifier.is_some()));
        let mut moved_trainable = 0;
        for ((name, b), (_, a)) in before.iter().zip(&after) {
            let same = b.equal(a);
            if frozen.contains(name) {
                assert!(same, "{backbone}: frozen variable {name} changed");
            } else if name.starts_with("source_head") {
                assert!(same, "{backbone}: the source head must not train: {name}");
            } else {
                assert!(!same, "{backbone}: trainable variable {name} did not move");
                moved_trainable += 1;
            }
        }
        assert!(moved_trainable > 4, "{backbone}: {moved_trainable} moved");
        // The running statistics of frozen BatchNorm layers are among the variables checked.
        assert!(net
            .block_variables(1)
            .iter()
            .any(|n| n.ends_with("running_mean")));
    }
}

#[test]
fn a_linear_probe_keeps_the_whole_backbone_and_source_accuracy_fixed() {
    let _rng = serial();
    let data = task(1);
    let spec = spec(BackboneKind::Cnn4, Freeze::All);
    let (_, log) = fit(&spec, &data);
    let source_acc = |epoch: usize| {
        log[epoch]
            .1
            .iter()
            .find(|(n, _)| n == "source_acc")
            .map(|m| m.1)
            .unwrap()
    };
    assert_eq!(source_acc(0), source_acc(2), "zero forgetting when frozen");
}

#[test]
fn a_trial_with_a_fixed_seed_repeats_its_metrics_exactly() {
    let _rng = serial();
    let data = task(5);
    let spec = spec(BackboneKind::Resnet8, Freeze::Blocks(1));
    let (_, first) = fit(&spec, &data);
    let (_, second) = fit(&spec, &data);
    let strip = |log: &Log| -> Vec<(usize, String, f64)> {
        log.iter()
            .flat_map(|(e, m)| {
                m.iter()
                    .filter(|(n, _)| !TIMINGS.contains(&n.as_str()))
                    .map(move |(n, v)| (*e, n.clone(), *v))
            })
            .collect()
    };
    assert_eq!(strip(&first), strip(&second));
    let train_loss: Vec<f64> = first
        .iter()
        .flat_map(|(_, m)| m.iter().filter(|(n, _)| n == "train_loss").map(|m| m.1))
        .collect();
    assert_eq!(train_loss.len(), 2);
    assert!(train_loss.iter().all(|l| l.is_finite() && *l > 0.0));
}

#[test]
fn a_huge_learning_rate_is_reported_as_divergence() {
    let _rng = serial();
    let data = task(2);
    let mut spec = spec(BackboneKind::Cnn4, Freeze::Blocks(0));
    spec.schedule.lr = 1e38;
    spec.optimizer = Optimizer::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    tch::manual_seed(0);
    let net = Network::new(spec.backbone, Device::Cpu, None, Some(data.num_classes));
    let outcome = train::fine_tune(&spec, &net, &data, &opts(None, None), &mut |_, _| {
        Ok(EpochControl::Continue)
    })
    .unwrap();
    assert!(
        matches!(outcome, FitOutcome::Diverged { .. }),
        "{outcome:?}"
    );
}

#[test]
fn a_run_stopped_after_an_epoch_resumes_from_its_checkpoint_to_the_same_metrics() {
    let _rng = serial();
    let data = task(4);
    for optimizer in [
        Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
        },
        Optimizer::Adamw {
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.01,
        },
    ] {
        let mut spec = spec(BackboneKind::Resnet8, Freeze::Blocks(1));
        spec.epochs = 3;
        spec.optimizer = optimizer;
        spec.schedule.kind = ScheduleKind::Cosine { warmup_epochs: 1.0 };
        let (_, whole) = fit(&spec, &data);

        let dir = tempfile::tempdir().unwrap();
        let ckpt = dir.path().join("trial.safetensors");
        let mut log: Log = Vec::new();
        tch::manual_seed(spec.seed as i64);
        let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
        let first = train::fine_tune(
            &spec,
            &net,
            &data,
            &opts(Some(&data.test), Some(&ckpt)),
            &mut |e, m| {
                log.push((e, m.clone()));
                Ok(if e == 1 {
                    EpochControl::Stop
                } else {
                    EpochControl::Continue
                })
            },
        )
        .unwrap();
        assert_eq!(first, FitOutcome::Interrupted { epoch: 1 });
        drop(net);

        // A fresh process would build the network from another state: the checkpoint wins.
        tch::manual_seed(999);
        let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
        let second = train::fine_tune(
            &spec,
            &net,
            &data,
            &opts(Some(&data.test), Some(&ckpt)),
            &mut |e, m| {
                log.push((e, m.clone()));
                Ok(EpochControl::Continue)
            },
        )
        .unwrap();
        assert_eq!(second, FitOutcome::Completed);
        let epochs: Vec<usize> = log.iter().map(|(e, _)| *e).collect();
        assert_eq!(epochs, vec![0, 1, 2, 3], "no epoch reported twice");
        let strip = |log: &Log| -> Vec<(usize, String, f64)> {
            log.iter()
                .flat_map(|(e, m)| {
                    m.iter()
                        .filter(|(n, _)| !TIMINGS.contains(&n.as_str()))
                        .map(move |(n, v)| (*e, n.clone(), *v))
                })
                .collect()
        };
        assert_eq!(strip(&log), strip(&whole));
    }
}

#[test]
fn reusing_frozen_prefix_outputs_gives_the_same_metrics_as_recomputing_them() {
    let _rng = serial();
    let data = task(6);
    for (backbone, freeze, precision) in [
        (BackboneKind::Cnn4, Freeze::Blocks(2), Precision::Fp32),
        (BackboneKind::Resnet8, Freeze::Blocks(3), Precision::Fp32),
        (BackboneKind::Cnn4, Freeze::All, Precision::Fp32),
        (BackboneKind::Resnet8, Freeze::Blocks(2), Precision::Bf16),
    ] {
        let mut spec = spec(backbone, freeze);
        spec.precision = precision;
        assert_same_metrics(
            &fit_reusing(&spec, &data, true, None),
            &fit_reusing(&spec, &data, false, None),
            &format!("{backbone} freeze {freeze} {precision}"),
        );
    }
}

#[test]
fn a_bf16_trial_keeps_float32_weights_and_learns_as_well_as_float32() {
    let _rng = serial();
    let data = task(4);
    let mut fp32 = spec(BackboneKind::Cnn4, Freeze::Blocks(0));
    fp32.epochs = 5;
    fp32.schedule.lr = 0.02;
    let bf16 = TrialSpec {
        precision: Precision::Bf16,
        ..fp32.clone()
    };
    let (_, log32) = fit(&fp32, &data);
    let (net16, log16) = fit(&bf16, &data);
    let last = |log: &Log, name: &str| {
        log.last()
            .unwrap()
            .1
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
    };
    // Both learn: the training loss falls well below chance (ln 3 = 1.10).
    for log in [&log32, &log16] {
        assert!(last(log, "train_loss") < 0.8, "{log:?}");
    }
    // The same run in bf16 is a slightly different computation, not a different result.
    for name in ["train_acc", "val_acc", "test_acc"] {
        let (a, b) = (last(&log32, name), last(&log16, name));
        assert!((a - b).abs() <= 0.1, "{name}: fp32 {a} vs bf16 {b}");
    }
    assert_ne!(log32, log16, "bf16 must change the arithmetic");
    for (name, t) in net16.vs.variables() {
        assert!(
            matches!(t.kind(), tch::Kind::Float | tch::Kind::Int64),
            "{name} is {:?} after bf16 training",
            t.kind()
        );
    }
}

#[test]
fn frozen_prefix_outputs_are_shared_across_trials_in_memory_and_through_the_disk() {
    let _rng = serial();
    let data = task(5);
    let dir = tempfile::tempdir().unwrap();
    let a = spec(BackboneKind::Resnet8, Freeze::Blocks(2));
    let mut b = a.clone();
    b.schedule.lr = 0.02;
    // Fine-tunes `spec` from the network its seed initialises; the metrics without timings.
    let run = |spec: &TrialSpec, cache: Option<&FeatureCache>| {
        fit_reusing(spec, &data, cache.is_some(), cache)
    };
    let stats = |computed, from_memory, from_disk, written| CacheStats {
        computed,
        from_memory,
        from_disk,
        written,
    };
    // Train, validation and test sets are computed and written; the source test set is the
    // target test set here (same images, same prefix), so it comes from memory.
    let cache = FeatureCache::new(Some(dir.path()), 1 << 30, std::time::Duration::ZERO);
    run(&a, Some(&cache));
    assert_eq!(cache.stats(), stats(3, 1, 0, 3));
    // Another trial with the same frozen prefix and data reuses all four sets.
    let b_shared = run(&b, Some(&cache));
    assert_eq!(cache.stats(), stats(3, 5, 0, 3));
    // A new process finds them on disk.
    let fresh = FeatureCache::new(Some(dir.path()), 1 << 30, std::time::Duration::ZERO);
    let b_from_disk = run(&b, Some(&fresh));
    assert_eq!(fresh.stats(), stats(0, 1, 3, 0));
    // Shared or not, the trial computes the same metrics.
    let b_alone = run(&b, None);
    assert_same_metrics(&b_shared, &b_alone, "shared in memory");
    assert_same_metrics(&b_from_disk, &b_alone, "read from disk");
    // Other prefix weights (another seed's initialisation) or another precision never hit.
    let mut c = b.clone();
    c.seed = 4;
    run(&c, Some(&fresh));
    assert_eq!(fresh.stats(), stats(3, 2, 3, 3));
    c.precision = Precision::Bf16;
    run(&c, Some(&fresh));
    assert_eq!(fresh.stats(), stats(6, 3, 3, 6));
    // With no room in memory and no disk the prefix runs with every batch (nothing cached),
    // and the metrics are still the same.
    let tiny = FeatureCache::new(None, 0, std::time::Duration::ZERO);
    let b_uncached = run(&b, Some(&tiny));
    assert_eq!(tiny.stats(), stats(0, 0, 0, 0));
    assert_same_metrics(&b_uncached, &b_alone, "recomputed every batch");
}

#[test]
fn calibration_from_the_last_epochs_logits_equals_a_fresh_pass_over_the_data() {
    let _rng = serial();
    let data = task(2);
    let spec = spec(BackboneKind::Cnn4, Freeze::Blocks(2));
    tch::manual_seed(spec.seed as i64);
    let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
    let slot = std::cell::RefCell::new(None);
    let options = FitOptions {
        final_logits: Some(&slot),
        ..opts(None, None)
    };
    train::fine_tune(&spec, &net, &data, &options, &mut |_, _| {
        Ok(EpochControl::Continue)
    })
    .unwrap();
    let logits = slot.take().expect("the last epoch leaves its logits");
    assert_eq!(logits.test.size(), [data.test.len as i64, 3]);
    let kept = train::analysis::calibration_of(&logits, &data);
    let fresh = train::analysis::calibration(&net, &data);
    assert_eq!(kept.len(), 3);
    for ((name, a), (_, b)) in kept.iter().zip(&fresh) {
        assert!((a - b).abs() <= 1e-5, "{name}: {a} vs {b}");
    }
}

#[test]
fn drift_of_frozen_blocks_is_exactly_none_so_it_is_not_computed() {
    let _rng = serial();
    let data = task(8);
    let spec = spec(BackboneKind::Resnet8, Freeze::Blocks(2));
    let init = || {
        tch::manual_seed(spec.seed as i64);
        Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes))
    };
    let (pretrained, tuned) = (init(), init());
    train::fine_tune(&spec, &tuned, &data, &opts(None, None), &mut |_, _| {
        Ok(EpochControl::Continue)
    })
    .unwrap();
    let probe = data.test.images.narrow(0, 0, 64);
    let names = spec.backbone.block_names();
    let shortcut = train::analysis::drift(&pretrained, &tuned, &probe, names, 2);
    let computed = train::analysis::drift(&pretrained, &tuned, &probe, names, 0);
    assert_eq!(shortcut.len(), 2 * names.len());
    for ((name, a), (_, b)) in shortcut.iter().zip(&computed) {
        assert!((a - b).abs() <= 1e-9, "{name}: {a} vs {b}");
    }
    // The trained blocks did move.
    let moved = computed
        .iter()
        .find(|(n, _)| n == "weight_dist/stage3")
        .unwrap();
    assert!(moved.1 > 0.0, "{computed:?}");
}

#[test]
fn checkpoints_are_spaced_by_checkpoint_every_but_always_taken_at_the_end_and_on_stop() {
    let _rng = serial();
    let data = task(1);
    let mut spec = spec(BackboneKind::Cnn4, Freeze::Blocks(1));
    spec.epochs = 3;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trial.safetensors");
    let run = |stop_at: Option<usize>| {
        let _ = std::fs::remove_file(&path);
        tch::manual_seed(spec.seed as i64);
        let net = Network::new(spec.backbone, Device::Cpu, Some(3), Some(data.num_classes));
        let options = FitOptions {
            checkpoint_every: std::time::Duration::from_secs(3600),
            ..opts(None, Some(&path))
        };
        let mut saved_before = Vec::new();
        train::fine_tune(&spec, &net, &data, &options, &mut |e, _| {
            saved_before.push((e, path.exists()));
            Ok(if Some(e) == stop_at {
                EpochControl::Stop
            } else {
                EpochControl::Continue
            })
        })
        .unwrap();
        saved_before
    };
    // Not due after epochs 1 and 2 (an hour has not passed); due after the last.
    assert_eq!(
        run(None),
        vec![(0, false), (1, false), (2, false), (3, false)]
    );
    assert!(path.exists(), "the last epoch is checkpointed");
    // Stopping checkpoints the epoch it stops after, for the resume.
    assert_eq!(run(Some(1)), vec![(0, false), (1, false)]);
    assert!(path.exists(), "a stop is checkpointed");
}

#[test]
fn prefix_outputs_larger_than_memory_are_mapped_from_disk_with_the_same_metrics() {
    let _rng = serial();
    let data = task(9);
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::Fp32, Precision::Bf16] {
        let mut spec = spec(BackboneKind::Resnet8, Freeze::Blocks(3));
        spec.precision = precision;
        let run = |cache: Option<&FeatureCache>| fit_reusing(&spec, &data, cache.is_some(), cache);
        // A memory budget of 0 bytes: every set goes to disk and is mapped back.
        let cache = FeatureCache::new(Some(dir.path()), 0, std::time::Duration::from_secs(3600));
        let mapped = run(Some(&cache));
        let s = cache.stats();
        assert_eq!(
            (s.computed, s.written, s.from_memory),
            (3, 3, 0),
            "{precision}"
        );
        assert_eq!(
            s.from_disk, 1,
            "the source test set is the test set: mapped again"
        );
        let again = FeatureCache::new(Some(dir.path()), 0, std::time::Duration::from_secs(3600));
        let remapped = run(Some(&again));
        assert_eq!(again.stats().from_disk, 4, "{precision}");
        let alone = run(None);
        assert_same_metrics(&mapped, &alone, &format!("{precision} mapped"));
        assert_same_metrics(&remapped, &alone, &format!("{precision} mapped again"));
    }
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        files, 6,
        "three sets per precision, no temporary files left"
    );
}

#[test]
fn every_epoch_records_the_parameters_it_trained_and_its_evaluation_time() {
    let _rng = serial();
    let data = task(1);
    let value = |log: &Log, epoch: usize, name: &str| {
        let m = log[epoch].1.iter().find(|(n, _)| n == name);
        m.unwrap_or_else(|| panic!("no {name} at epoch {epoch}")).1
    };
    let numel = |net: &Network, block: usize| -> f64 {
        net.block_params(block)
            .iter()
            .map(Tensor::numel)
            .sum::<usize>() as f64
    };
    // cnn4's head: 64 features to 3 classes, with biases.
    let head = (64 * 3 + 3) as f64;
    let (_, probe) = fit(&spec(BackboneKind::Cnn4, Freeze::All), &data);
    for epoch in 0..=2 {
        assert_eq!(value(&probe, epoch, "trainable_params"), head);
    }
    let (net, full) = fit(&spec(BackboneKind::Cnn4, Freeze::Blocks(0)), &data);
    let backbone: f64 = (0..net.n_blocks()).map(|b| numel(&net, b)).sum();
    assert_eq!(value(&full, 2, "trainable_params"), backbone + head);
    // Gradual unfreezing: the head alone in epoch 1, the top block joins in epoch 2.
    let mut gradual = spec(BackboneKind::Cnn4, Freeze::Blocks(0));
    gradual.schedule.gradual_unfreeze = true;
    let (net, log) = fit(&gradual, &data);
    assert_eq!(value(&log, 1, "trainable_params"), head);
    assert_eq!(value(&log, 2, "trainable_params"), head + numel(&net, 3));
    for epoch in 1..=2 {
        let (eval, whole) = (
            value(&log, epoch, "eval_seconds"),
            value(&log, epoch, "epoch_seconds"),
        );
        assert!(
            eval > 0.0 && eval < whole,
            "epoch {epoch}: {eval} s of {whole} s"
        );
    }
    assert!(value(&log, 0, "eval_seconds") > 0.0);
}
