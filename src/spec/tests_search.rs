//! `search:`: seeded sampling, stability under more trials, distributions' ranges, Sobol
//! stratification, and the errors.

use super::search::{param, Distribution, Level, SearchMethod};
use super::tests::{err, find, grid, with, BASE};
use super::*;

/// BASE (cosine schedule, two seeds) with a `search:` of `trials` samples over `space`.
fn searched(method: &str, trials: usize, space: &str) -> String {
    let base = BASE.replace(
        "schedule: {kind: constant, lr: 0.01}",
        "schedule: {kind: cosine, lr: 0.01}",
    );
    format!(
        "{base}seeds: [0, 1]\nsearch:\n  method: {method}\n  trials: {trials}\n  seed: 3\n  \
         space:\n{space}"
    )
}

const SPACE: &str = "    lr: {log_uniform: [1.0e-4, 1.0e-1]}
    layer_decay: {uniform: [1.0, 3.0]}
    freeze: {choice: [0, 2, all]}
";

fn space_of(method: &str, trials: usize, space: &str) -> SearchSpace {
    search_space(&searched(method, trials, space)).expect("a valid search section")
}

fn real(l: &Level) -> f64 {
    l.as_f64().expect("a number")
}

#[test]
fn samples_are_reproducible_and_cross_every_seed() {
    let a = grid(&searched("random", 6, SPACE));
    let b = grid(&searched("random", 6, SPACE));
    assert_eq!(a.trials, b.trials);
    assert_eq!(a.trials.len(), 12, "6 samples x 2 seeds");
    // each sample runs with both seeds, next to each other
    for pair in a.trials.chunks(2) {
        assert_eq!((pair[0].seed, pair[1].seed), (0, 1));
        assert_eq!(pair[0].schedule, pair[1].schedule);
        assert_eq!(pair[0].freeze, pair[1].freeze);
    }
    let lrs: Vec<f64> = a.trials.iter().map(|t| t.schedule.lr).collect();
    assert!(lrs.iter().any(|&lr| lr != lrs[0]), "lr varies: {lrs:?}");
    // another search seed samples other values
    let other = grid(&searched("random", 6, SPACE).replace("seed: 3", "seed: 4"));
    assert_ne!(a.trials, other.trials);
}

#[test]
fn raising_trials_keeps_the_earlier_samples_and_keys() {
    let eight = grid(&searched("random", 8, SPACE));
    let twelve = grid(&searched("random", 12, SPACE));
    assert_eq!((eight.trials.len(), twelve.trials.len()), (16, 24));
    assert_eq!(eight.trials[..], twelve.trials[..16]);
    for (a, b) in eight.trials.iter().zip(&twelve.trials) {
        assert_eq!(a.key("fp"), b.key("fp"));
    }
    let sobol8 = grid(&searched("sobol", 8, SPACE));
    let sobol12 = grid(&searched("sobol", 12, SPACE));
    assert_eq!(sobol8.trials[..], sobol12.trials[..16]);
}

#[test]
fn every_distribution_stays_in_bounds_and_covers_its_range() {
    let space = "    lr: {log_uniform: [1.0e-4, 1.0e-1]}
    layer_decay: {uniform: [1.0, 3.0]}
    freeze: {int: [0, 4]}
    train_per_class: {choice: [10, 50]}
";
    let s = space_of("random", 2000, space);
    let samples = s.samples();
    let column = |name: &str| -> Vec<Level> {
        samples
            .iter()
            .map(|smp| smp.iter().find(|(p, _)| p.name == name).unwrap().1.clone())
            .collect()
    };
    let lrs: Vec<f64> = column("lr").iter().map(real).collect();
    assert!(lrs.iter().all(|&x| (1e-4..=1e-1).contains(&x)));
    // uniform in log space: about half below the geometric middle, every decade visited
    let below = lrs.iter().filter(|&&x| x < 10f64.powf(-2.5)).count() as f64 / 2000.0;
    assert!(
        (0.45..0.55).contains(&below),
        "share below 10^-2.5: {below}"
    );
    for decade in [-4, -3, -2] {
        let (lo, hi) = (10f64.powi(decade), 10f64.powi(decade + 1));
        let n = lrs.iter().filter(|&&x| x >= lo && x < hi).count();
        assert!((500..830).contains(&n), "{n} samples in [{lo}, {hi})");
    }
    // three significant digits
    for x in lrs
        .iter()
        .chain(&column("layer_decay").iter().map(real).collect::<Vec<_>>())
    {
        assert_eq!(format!("{x:.2e}").parse::<f64>().unwrap(), *x);
    }
    let decays: Vec<f64> = column("layer_decay").iter().map(real).collect();
    assert!(decays.iter().all(|&x| (1.0..=3.0).contains(&x)));
    let mean = decays.iter().sum::<f64>() / decays.len() as f64;
    assert!((mean - 2.0).abs() < 0.05, "mean {mean}");
    // int is inclusive of both ends, every value about equally often
    let freezes = column("freeze");
    for k in 0..=4u64 {
        let n = freezes.iter().filter(|l| **l == Level::Whole(k)).count();
        assert!((330..470).contains(&n), "freeze {k}: {n} of 2000");
    }
    assert!(freezes.iter().all(|l| matches!(l, Level::Whole(0..=4))));
    let tpc = column("train_per_class");
    let tens = tpc.iter().filter(|l| **l == Level::Whole(10)).count();
    assert_eq!(
        tpc.iter().filter(|l| **l == Level::Whole(50)).count(),
        2000 - tens
    );
    assert!((900..1100).contains(&tens), "{tens}");
}

#[test]
fn sobol_points_are_stratified_and_differ_from_random() {
    // `int` maps equal sixteenths of [0, 1) to its 16 values exactly, so it shows the strata
    let space = "    probe_epochs: {int: [0, 15]}
    train_per_class: {int: [1, 16]}
    epochs: {int: [1, 16]}
    batch_size: {int: [1, 16]}
";
    for seed in ["seed: 3", "seed: 11"] {
        let yaml = searched("sobol", 16, space).replace("seed: 3", seed);
        let sobol = search_space(&yaml).unwrap();
        assert_eq!(sobol.method, SearchMethod::Sobol);
        let samples = sobol.samples();
        for dim in 0..4 {
            let mut hit: Vec<u64> = samples.iter().map(|s| real(&s[dim].1) as u64).collect();
            hit.sort_unstable();
            let first = hit[0];
            // each of the 16 values once: the first 16 Sobol points stratify every dimension
            assert_eq!(
                hit,
                (first..first + 16).collect::<Vec<_>>(),
                "{seed} dim {dim}"
            );
        }
        let random = search_space(&yaml.replace("sobol", "random"))
            .unwrap()
            .samples();
        assert_ne!(samples, random);
        // independent draws repeat values: stratification is what Sobol adds
        let repeats = (0..4).any(|dim| {
            let mut v: Vec<String> = random.iter().map(|s| s[dim].1.to_string()).collect();
            v.sort();
            v.dedup();
            v.len() < 16
        });
        assert!(repeats, "{seed}");
    }
    // the real-valued distributions follow the same points
    let lr = space_of("sobol", 16, SPACE);
    let lrs: Vec<f64> = lr.samples().iter().map(|s| real(&s[0].1)).collect();
    assert!(lrs.iter().all(|&x| (1e-4..=0.1).contains(&x)));
    assert!(
        lrs.iter().filter(|&&x| x < 10f64.powf(-2.5)).count() == 8,
        "{lrs:?}"
    );
}

#[test]
fn dry_run_listing_names_the_search_and_each_sampled_value() {
    let g = grid(&searched("sobol", 4, SPACE));
    let text = describe_trials(&g);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "sobol search, 4 samples, seed 3: lr ~ log_uniform [0.0001, 0.1], layer_decay ~ \
         uniform [1, 3], freeze ~ choice [0, 2, all]"
    );
    assert_eq!(text.lines().count(), 9);
    let t = &g.trials[0];
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.ends_with(&format!(
            "lr={}  layer_decay={}  freeze={}",
            t.schedule.lr, t.schedule.layer_decay, t.freeze
        )),
        "{row}"
    );
}

#[test]
fn values_are_read_back_from_trials_and_stored_configs() {
    let g = grid(&searched("random", 3, SPACE));
    let space = g.search.as_ref().unwrap();
    let lr = param("lr").unwrap();
    for (i, sample) in space.samples().iter().enumerate() {
        let t = &g.trials[2 * i];
        for (p, level) in sample {
            assert_eq!(p.value(t).as_ref(), Some(level), "{}", p.name);
            assert_eq!(p.value_in_config(&t.config_json()).as_ref(), Some(level));
        }
        assert_eq!(lr.value(t), Some(Level::Real(t.schedule.lr)));
    }
    assert_eq!(
        space.distribution("lr"),
        Some(&Distribution::LogUniform {
            low: 1e-4,
            high: 0.1
        })
    );
    assert!(search_space(BASE).is_none());
    assert_eq!(param("momentum").unwrap().value_in_config("{}"), None);
}

#[test]
fn baselines_follow_each_sample_and_checks_use_the_sampled_range() {
    let g = grid(&format!(
        "{}baselines: [scratch]\n",
        searched("random", 3, "    lr: {log_uniform: [1.0e-3, 1.0e-1]}\n")
    ));
    assert_eq!(
        g.trials.len(),
        12,
        "3 samples x 2 seeds, and their scratch twins"
    );
    for (t, s) in g.trials[..6].iter().zip(&g.trials[6..]) {
        assert!(t.pretrained && !s.pretrained);
        assert_eq!(t.schedule.lr, s.schedule.lr);
    }
    // freezing all 4 blocks of cnn4 is fine; a scalar in the grid is replaced
    let g = grid(&format!(
        "{}freeze: 1\n",
        searched("random", 40, "    freeze: {int: [2, 4]}\n")
    ));
    assert!(g.trials.iter().all(|t| t.frozen_blocks() >= 2));
}

fn message(yaml: &str, field: &str) -> (Option<usize>, String) {
    let e = err(yaml);
    let p = find(&e, field);
    (p.line, p.message.clone())
}

#[test]
fn bad_distributions_are_reported_with_what_to_write() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "    weight_decay: {log_uniform: [0, 0.1]}\n",
            "search.space.weight_decay.log_uniform[0]",
            "log_uniform needs bounds above 0, got 0; raise the low bound or use uniform",
        ),
        (
            "    layer_decay: {uniform: [3.0, 1.0]}\n",
            "search.space.layer_decay.uniform",
            "the low bound must be below the high one, got [3, 1]; write [low, high] (for one \
             value, set it in the grid instead of sampling it)",
        ),
        (
            "    layer_decay: {uniform: [0.5, 2.0]}\n",
            "search.space.layer_decay.uniform[0]",
            "must be >= 1 (1 = same rate for every block), got 0.5; change the value",
        ),
        (
            "    epochs: {uniform: [1, 5]}\n",
            "search.space.epochs.uniform",
            "`epochs` takes whole numbers; sample it with int: [low, high] or choice: [...]",
        ),
        (
            "    freeze: {int: [0, 2, 4]}\n",
            "search.space.freeze.int",
            "expected two bounds [low, high], e.g. int: [1, 4], got 3 values",
        ),
        (
            "    batch_size: {choice: []}\n",
            "search.space.batch_size.choice",
            "an empty choice samples nothing; list at least one value",
        ),
        (
            "    freeze: {choice: [0, all, 0]}\n",
            "search.space.freeze.choice[2]",
            "`0` is listed twice, which would sample it twice as often; remove one",
        ),
        (
            "    lr: {normal: [0, 1]}\n",
            "search.space.lr.normal",
            "unknown key. Valid keys: log_uniform, uniform, int, choice",
        ),
        (
            "    lr: {uniform: [0.1, 0.2], int: [1, 2]}\n",
            "search.space.lr",
            "a distribution has exactly one kind, got uniform and int; write one of \
             {log_uniform: [1.0e-4, 0.1]}, {uniform: [1.0, 3.0]}, {int: [0, 4]} or \
             {choice: [10, 50]}",
        ),
        (
            "    layer_decy: {uniform: [1, 2]}\n",
            "search.space.layer_decy",
            "unknown key; did you mean `layer_decay`? Valid keys: lr, layer_decay, \
             warmup_epochs, weight_decay, momentum, probe_epochs, freeze, train_per_class, \
             epochs, batch_size",
        ),
    ];
    for (space, field, want) in cases {
        let (line, got) = message(&searched("random", 4, space), field);
        assert_eq!(&got, want, "{space}");
        assert_eq!(line, Some(18), "{space}");
    }
    let (line, got) = message(&searched("sobol", 70000, SPACE), "search.trials");
    assert_eq!(
        got,
        "the Sobol sequence has 65536 points, got 70000 trials; use at most 65536 (or method: \
         random)"
    );
    assert_eq!(line, Some(15));
    let (_, got) = message(&searched("grid", 4, SPACE), "search.method");
    assert_eq!(got, "unknown search method `grid`. Methods: random, sobol");
    let (_, got) = message(
        &with("search: {space: {lr: {uniform: [0.1, 0.2]}}}\n"),
        "search.trials",
    );
    assert!(
        got.starts_with("required key is missing; add `trials: 24`"),
        "{got}"
    );
}

#[test]
fn sampled_parameters_that_clash_with_the_grid_are_reported() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "freeze: [0, 2]\n",
            "    freeze: {int: [0, 4]}\n",
            "search.space.freeze",
            "`freeze` is sampled here, and the grid also lists it as an axis (freeze takes 0, \
             2); give freeze one value (the sample replaces it) or remove `freeze` from \
             search.space",
        ),
        (
            "optimizer: {kind: adamw}\n",
            "    momentum: {uniform: [0.5, 0.99]}\n",
            "search.space.momentum",
            "`momentum` applies only with the sgd optimizer (`optimizer: {kind: sgd, ...}`); \
             change that in the grid or remove `momentum` from search.space",
        ),
        (
            "",
            "    freeze: {int: [0, 6]}\n",
            "search.space.freeze",
            "can sample freezing 6 blocks, but backbone `cnn4` has 4 blocks (block1, block2, \
             block3, block4); sample at most 4 or `all`",
        ),
        (
            "",
            "    warmup_epochs: {uniform: [0, 3]}\n",
            "search.space.warmup_epochs",
            "a warm-up of up to 3 epochs leaves no epochs to decay when training for 2 epochs; \
             sample warm-ups shorter than the fewest epochs",
        ),
    ];
    for (grid_line, space, field, want) in cases {
        let yaml =
            searched("random", 4, space).replacen("seeds:", &format!("{grid_line}seeds:"), 1);
        let e = err(&yaml);
        assert_eq!(&find(&e, field).message, want, "{e}");
    }
    let nesterov = searched("random", 4, "    momentum: {uniform: [0, 0.9]}\n").replacen(
        "seeds:",
        "optimizer: {kind: sgd, nesterov: true}\nseeds:",
        1,
    );
    let e = err(&nesterov);
    assert!(
        find(&e, "search.space.momentum")
            .message
            .starts_with("Nesterov momentum needs momentum > 0"),
        "{e}"
    );
    let constant = with("search: {trials: 2, space: {warmup_epochs: {uniform: [0, 1]}}}\n");
    let e = err(&constant);
    assert!(
        find(&e, "search.space.warmup_epochs")
            .message
            .contains("applies only with a cosine schedule"),
        "{e}"
    );
}

#[test]
fn a_sampled_size_above_the_pool_is_reported_at_its_space_entry() {
    let g = grid(&searched(
        "random",
        8,
        "    train_per_class: {choice: [10, 900]}\n",
    ));
    let e = check_data(&g, &mut |_| Ok((0..10).map(|l| (l, 800)).collect())).unwrap_err();
    let p = find(&e, "search.space.train_per_class");
    assert!(
        p.message
            .starts_with("900 training examples per class requested, but label 5 has only 800"),
        "{e}"
    );
    assert_eq!(p.line, Some(18), "{e}");
}
