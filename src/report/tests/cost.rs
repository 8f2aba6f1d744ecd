//! The cost section: its Pareto front, its one-standard-error choice, and the section rendered
//! from a database whose trials recorded their evaluation time and trainable parameters.

use super::*;
use crate::metrics::statements::Verdict;
use crate::report::charts::XAxis;
use crate::report::sections::cost::choice::{choose, cost_findings, pareto_front, Choice};
use crate::report::sections::cost::configs::{configurations, Config, TrialCost};
use crate::report::sections::cost::plot::x_axis;
use crate::report::series::SETTINGS;

/// Accuracies 0.90, 0.92, 0.94: mean 0.92, standard error 0.02 / √3.
const BEST: [f64; 3] = [0.90, 0.92, 0.94];

fn se_of_best() -> f64 {
    0.02 / 3f64.sqrt()
}

/// A configuration of `accs` at `seconds` (parameters and images unused here).
fn config(label: &str, accs: &[f64], seconds: f64) -> Config {
    Config::new(label, label, "", accs.to_vec(), (seconds, 1.0, 1.0))
}

/// [`BEST`] shifted down by `k` standard errors of the best.
fn below_best(k: f64) -> Vec<f64> {
    BEST.iter().map(|a| a - k * se_of_best()).collect()
}

#[test]
fn pareto_front_keeps_the_undominated_and_ties() {
    let points = [
        (1.0, 0.8), // tied with the next: neither dominates the other
        (1.0, 0.8),
        (1.0, 0.7),  // as cheap, less accurate
        (2.0, 0.8),  // as accurate, dearer
        (3.0, 0.9),  // the most accurate
        (0.5, 0.6),  // the cheapest
        (4.0, 0.85), // dearer and less accurate than (3.0, 0.9)
    ];
    assert_eq!(
        pareto_front(&points),
        [true, true, false, false, true, true, false]
    );
    assert_eq!(pareto_front(&[]), Vec::<bool>::new());
}

#[test]
fn the_cheapest_within_one_standard_error_is_chosen() {
    let best = config("freeze 0", &BEST, 12.0);
    let near = config("freeze all", &below_best(0.5), 3.0);
    let far = config("freeze 3", &below_best(2.0), 1.0);
    assert!((best.se().unwrap() - se_of_best()).abs() < 1e-12);

    // 0.5 SE below the best, at a quarter of its time: chosen.
    match choose(&[&best, &near]) {
        Some(Choice::Cheaper { cheap, best: b, se }) => {
            assert_eq!(cheap.label, "freeze all");
            assert_eq!(b.label, "freeze 0");
            assert!((se - se_of_best()).abs() < 1e-12);
        }
        other => panic!("{other:?}"),
    }
    // 2 SE below: not close enough, however cheap; the best stays the choice.
    match choose(&[&far, &best]) {
        Some(Choice::BestIsCheapest { best: b, .. }) => assert_eq!(b.label, "freeze 0"),
        other => panic!("{other:?}"),
    }
    // The cheapest of those within one SE, not the cheapest of all.
    match choose(&[&far, &best, &near]) {
        Some(Choice::Cheaper { cheap, .. }) => assert_eq!(cheap.label, "freeze all"),
        other => panic!("{other:?}"),
    }
    assert_eq!(choose(&[&best]), None);

    // The finding states both configurations, their means, intervals and n, and the ratio.
    let (notes, st) = cost_findings(&[best.clone(), near.clone(), far.clone()]);
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(st.len(), 1);
    let text = st[0].sentence();
    assert!(
        text.starts_with(
            "freeze all is the cheapest configuration within one standard error of the most \
             accurate, freeze 0, training 4.0\u{d7} faster; it is less accurate (freeze all \
             \u{2212} freeze 0 < 0): inconclusive (difference -0.006, 95% CI [-0.0"
        ),
        "{text}"
    );
    assert!(text.contains(", n = 6; "), "{text}");
    assert!(
        text.contains("freeze all (mean 0.914, 95% CI [0.865, 0.964], n = 3, 3.00 s)"),
        "{text}"
    );
    assert!(
        text.contains("freeze 0 (mean 0.920, 95% CI [0.870, 0.970], n = 3, 12.00 s)"),
        "{text}"
    );
    assert!(text.contains("one SE of the best 0.012"), "{text}");
    assert_eq!(st[0].verdict, Verdict::Inconclusive);

    // Without a cheaper configuration within one SE: a note, no claim.
    let (notes, st) = cost_findings(&[best, far]);
    assert!(st.is_empty());
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].starts_with("the most accurate configuration, freeze 0 (mean 0.920"),
        "{notes:?}"
    );
    assert!(notes[0].contains("also the cheapest within one standard error (0.012)"));
}

#[test]
fn one_seed_gives_no_standard_error_and_no_claim() {
    let best = config("freeze 0", &[0.92], 12.0);
    let cheap = config("freeze all", &[0.919], 3.0);
    assert_eq!(best.se(), None);
    assert_eq!(
        choose(&[&cheap, &best]),
        Some(Choice::OneSeed { best: &best })
    );
    let (notes, st) = cost_findings(&[cheap, best]);
    assert!(st.is_empty());
    assert_eq!(
        notes,
        [
            "the most accurate configuration, freeze 0 (mean 0.920, no interval, n = 1, 12.00 s), \
          has one seed: no standard error is available, so no cheaper configuration is called \
          as accurate (run more seeds)."
        ]
    );
}

/// A completed trial's row of the section's query, by hand: `pretrained`, `freeze`, size,
/// seed, accuracy and seconds.
fn trial_cost(model: (bool, &str), size: i64, seed: i64, acc: f64, seconds: f64) -> TrialCost {
    let settings = SETTINGS
        .iter()
        .map(|s| match *s {
            "pretrained" => i64::from(model.0).to_string(),
            "freeze" => model.1.to_string(),
            "train_per_class" => size.to_string(),
            "seed" => seed.to_string(),
            "shift" => "none".to_string(),
            other => format!("{other}-value"),
        })
        .collect();
    TrialCost {
        settings,
        acc,
        seconds,
        params: 10.0,
        images: 30.0 * size as f64,
        device: "cpu".to_string(),
        machine: String::new(),
    }
}

#[test]
fn findings_compare_configurations_within_each_target_size() {
    let mut trials = Vec::new();
    for (size, base) in [(10, 0.5), (100, 0.9)] {
        for (seed, a) in BEST.iter().enumerate() {
            let a = a - 0.92 + base;
            trials.push(trial_cost((true, "0"), size, seed as i64, a, 10.0));
            trials.push(trial_cost((true, "all"), size, seed as i64, a - 0.001, 2.0));
            trials.push(trial_cost((false, "0"), size, seed as i64, a - 0.2, 10.0));
        }
    }
    let configs = configurations(&trials);
    let labels: Vec<&str> = configs.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "freeze 0, 10/class",
            "freeze all, 10/class",
            "scratch, 10/class",
            "freeze 0, 100/class",
            "freeze all, 100/class",
            "scratch, 100/class"
        ]
    );
    assert_eq!(configs[0].group, "10/class");
    assert_eq!(configs[0].n, 3);
    assert!((configs[0].mean - 0.5).abs() < 1e-12);
    let (_, st) = cost_findings(&configs);
    let claims: Vec<&str> = st.iter().map(|s| s.claim.as_str()).collect();
    assert_eq!(claims.len(), 2, "{claims:?}");
    assert!(claims[0].starts_with("10/class: freeze all, 10/class is the cheapest"));
    assert!(claims[1].starts_with("100/class: freeze all, 100/class is the cheapest"));
    assert!(claims[1].contains("training 5.0\u{d7} faster"));
}

#[test]
fn log_axis_only_where_the_costs_span_a_decade() {
    match x_axis(&[650.0, 50_000.0]) {
        (XAxis::Log { ticks }, true) => {
            assert_eq!(ticks, [1e3, 2e3, 5e3, 1e4, 2e4, 5e4]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        x_axis(&[3.0, 12.0, 15.0]),
        (XAxis::Linear { .. }, false)
    ));
    assert!(matches!(
        x_axis(&[0.0, 100.0]),
        (XAxis::Linear { .. }, false)
    ));
}

/// Completed trials of `model` at size 100, seeds 0..3 with `accs`, each epoch `epoch_s`
/// seconds of which `eval_s` evaluating (epoch 0's evaluation too, outside the training
/// time), training `params` parameters.
fn insert_costed(
    db: &Db,
    sid: i64,
    pos: &mut i64,
    model: (bool, &str),
    accs: &[f64],
    (epoch_s, eval_s, params): (f64, f64, f64),
) {
    for (seed, acc) in accs.iter().enumerate() {
        let t = TrialFixture {
            status: "completed",
            pretrained: model.0,
            freeze: model.1,
            train_per_class: 100,
            shift: "none",
            seed: seed as i64,
            error: None,
            cosine: false,
        };
        insert_trial(db, sid, *pos, &t);
        let id: i64 = db
            .connection()
            .query_row(
                "SELECT id FROM trials WHERE key = ?1",
                [format!("k{sid}-{:03}", *pos)],
                |r| r.get(0),
            )
            .unwrap();
        db.log_epoch(id, 0, &[("eval_seconds".to_string(), 9.0)])
            .unwrap();
        for e in 1..=EPOCHS {
            let mut m = vec![
                ("epoch_seconds".to_string(), epoch_s),
                ("eval_seconds".to_string(), eval_s),
                ("trainable_params".to_string(), params),
            ];
            if e == EPOCHS {
                m.push(("test_acc".to_string(), *acc));
            }
            db.log_epoch(id, e, &m).unwrap();
        }
        *pos += 1;
    }
}

#[test]
fn the_section_charts_cost_and_states_the_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("thaw.sqlite");
    let db = create_db(&path);
    let sid = insert_sweep(&db, "cost-test", "name: cost-test\n");
    let mut pos = 0;
    let near = below_best(0.5);
    let scratch: Vec<f64> = BEST.iter().map(|a| a - 0.2).collect();
    insert_costed(&db, sid, &mut pos, (true, "0"), &BEST, (5.0, 1.0, 50_000.0));
    insert_costed(&db, sid, &mut pos, (true, "all"), &near, (2.0, 1.0, 650.0));
    insert_costed(
        &db,
        sid,
        &mut pos,
        (false, "0"),
        &scratch,
        (6.0, 1.0, 50_000.0),
    );
    // One sweep of a single configuration: no section.
    let single = insert_sweep(&db, "one-config", "name: one-config\n");
    let mut pos1 = 0;
    insert_costed(
        &db,
        single,
        &mut pos1,
        (true, "all"),
        &BEST,
        (2.0, 1.0, 650.0),
    );
    db.connection()
        .execute(
            "UPDATE trials SET device = 'cuda:0' WHERE key = ?1",
            [format!("k{sid}-008")],
        )
        .unwrap();
    drop(db);

    let conn = Connection::open(&path).unwrap();
    let none = Ctx::load(&conn, "one-config", "now".into()).unwrap();
    assert!(sections::cost::cost(&none).unwrap().is_none());
    let ctx = Ctx::load(&conn, "cost-test", "now".into()).unwrap();
    let cell = sections::cost::cost(&ctx)
        .unwrap()
        .expect("three configurations");
    assert_eq!(cell.title, "Cost: accuracy against compute");
    // Every chart plots the rows of the cell's one query, one per completed trial.
    assert_eq!(cell.inputs.len(), 1);
    assert_eq!(count_rows(&path, &cell.inputs[0].text), 9);
    let charts: Vec<(&String, &usize)> = cell
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::Chart { svg, rows, .. } => Some((svg, rows)),
            _ => None,
        })
        .collect();
    // Every configuration saw 3000 images: no chart against them.
    assert_eq!(charts.len(), 2);
    assert!(charts.iter().all(|(_, rows)| **rows == 9));
    assert!(charts[0].0.contains("Pareto front"));
    assert!(charts[1]
        .0
        .contains("trainable parameters (final epoch) (log scale)"));
    assert!(!charts[1].0.contains("Pareto front"));
    assert!(cell
        .outputs
        .iter()
        .any(|o| matches!(o, Output::Text { text }
        if text == "Every configuration has the same images seen (3000): no chart against it.")));
    // Training time excludes evaluation: 3 × (5 − 1) s and 3 × (2 − 1) s.
    let conn_rows = crate::report::rows::query(&conn, &cell.inputs[0].text).unwrap();
    let trials: Vec<TrialCost> = conn_rows
        .iter()
        .filter_map(|r| TrialCost::from_row(r))
        .collect();
    assert_eq!(trials[0].seconds, 12.0);
    assert_eq!(trials[3].seconds, 3.0);
    // 100 per class × 10 classes × 3 epochs.
    assert_eq!(trials[0].images, 3000.0);
    assert_eq!(trials[0].params, 50_000.0);

    let findings = cell
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Findings(f) => Some(f),
            _ => None,
        })
        .expect("findings");
    let st: Vec<_> = findings.statements().collect();
    assert_eq!(st.len(), 1);
    assert!(st[0]
        .claim
        .starts_with("freeze all is the cheapest configuration"));
    assert!(st[0].claim.contains("training 4.0\u{d7} faster"));
    assert!(
        findings
            .notes
            .iter()
            .any(|n| n.contains("2 devices (cpu, cuda:0)")),
        "{:?}",
        findings.notes
    );
    assert!(
        findings
            .notes
            .iter()
            .any(|n| n.contains("2 environments (host-a")),
        "{:?}",
        findings.notes
    );
    // The front: freeze all and freeze 0; scratch (dearer, less accurate) is dominated.
    let table = cell
        .outputs
        .iter()
        .find_map(|o| match o {
            Output::Table(t) => Some(t),
            _ => None,
        })
        .expect("front table");
    let front: Vec<&str> = table.rows.iter().map(|r| r[0].text.as_str()).collect();
    assert_eq!(front, ["freeze all", "freeze 0"]);

    // The page shows the section, its chart and the finding.
    let html =
        std::fs::read_to_string(render_sweep(&path, "cost-test", tmp.path()).unwrap()).unwrap();
    assert!(html.contains(&escaped("Cost: accuracy against compute")));
    assert!(html.contains("Test accuracy against training time"));
    assert!(
        html.contains(&escaped(&st[0].claim)),
        "no claim in the page"
    );
    assert!(
        html.contains(&escaped(&st[0].numbers())),
        "no numbers in the page"
    );
}
