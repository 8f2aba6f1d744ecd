//! Known-answer tests per statement kind, and a property test: every verdict agrees with its
//! own interval.

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn levels(values: &[&[f64]]) -> Vec<(String, Vec<f64>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("level {i}"), v.to_vec()))
        .collect()
}

#[test]
fn decide_reads_the_interval() {
    use Direction::{Down, Up};
    assert_eq!(decide(0.1, 0.3, 0.0, Up), Verdict::Supported);
    assert_eq!(decide(-0.3, -0.1, 0.0, Up), Verdict::Contradicted);
    assert_eq!(decide(-0.1, 0.3, 0.0, Up), Verdict::Inconclusive);
    // Touching the null is not excluding it.
    assert_eq!(decide(0.0, 0.3, 0.0, Up), Verdict::Inconclusive);
    assert_eq!(decide(-0.3, -0.1, 0.0, Down), Verdict::Supported);
    assert_eq!(decide(0.1, 0.3, 0.0, Down), Verdict::Contradicted);
    assert_eq!(decide(f64::NAN, f64::NAN, 0.0, Up), Verdict::Inconclusive);
}

#[test]
fn paired_interval_matches_hand_computation() {
    // mean 2, sd 1, n 3: half-width t(0.975, 2) / sqrt(3).
    let s = paired("gain > 0", &[1.0, 2.0, 3.0], Direction::Up);
    let half = 4.302_652_729_749 / 3f64.sqrt();
    assert!((s.estimate - 2.0).abs() < 1e-12);
    assert!((s.low - (2.0 - half)).abs() < 1e-9 && (s.high - (2.0 + half)).abs() < 1e-9);
    // The interval covers 0; 4 seeds of the same spread would exclude it.
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert_eq!(
        s.sentence(),
        "gain > 0: inconclusive (mean +2.000, 95% CI [-0.484, +4.484], n = 3; needs about 4 \
         seeds) [test: paired differences across seeds, Student t 95% interval]."
    );
    let s = paired("gain > 0", &[1.0, 1.1, 0.9], Direction::Up);
    assert_eq!((s.verdict, s.n, s.needs), (Verdict::Supported, 3, None));
}

#[test]
fn an_interval_entirely_below_zero_is_contradicted() {
    // The quickstart's linear probe at 10/class: -0.305 ± 0.148 over 4 trials.
    let s = paired("gain > 0", &[-0.40, -0.22, -0.35, -0.255], Direction::Up);
    assert_eq!(s.verdict, Verdict::Contradicted);
    assert!(s.high < 0.0, "{s:?}");
    assert!(s
        .sentence()
        .starts_with("gain > 0: contradicted (mean -0.306, 95% CI [-"));
    assert_eq!(s.needs, None);
}

#[test]
fn a_single_seed_never_decides() {
    let s = paired("gain > 0", &[0.3], Direction::Up);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert!(!s.has_interval());
    assert_eq!(s.needs.as_deref(), Some("needs at least 3 seeds"));
    assert!(s
        .sentence()
        .contains("(mean +0.300, no interval, n = 1; needs at least 3 seeds)"));
    // A small noisy effect: roughly how many seeds would show it.
    let s = paired("gain > 0", &[0.05, -0.01, 0.02], Direction::Up);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    let needs = s.needs.unwrap();
    let k: usize = needs
        .trim_start_matches("needs about ")
        .trim_end_matches(" seeds")
        .parse()
        .unwrap();
    assert!((4..=30).contains(&k), "{needs}");
}

#[test]
fn welch_interval_matches_hand_computation() {
    // d = 3, se = sqrt(1/3 + 1/3), Welch df = 4, t(0.975, 4) = 2.776445.
    let s = two_sample("b > a", &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], Direction::Up);
    let half = 2.776_445_105_2 * (2.0f64 / 3.0).sqrt();
    assert!((s.estimate - 3.0).abs() < 1e-12);
    assert!((s.low - (3.0 - half)).abs() < 1e-6, "{s:?}");
    assert_eq!((s.verdict, s.n), (Verdict::Supported, 6));
    // Falls is contradicted by a clear rise.
    let s = two_sample("b < a", &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], Direction::Down);
    assert_eq!(s.verdict, Verdict::Contradicted);
    let s = two_sample("b > a", &[1.0], &[4.0, 5.0], Direction::Up);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert!(!s.has_interval());
}

#[test]
fn two_points_never_give_a_correlation_verdict() {
    let s = correlation("falls", &[0.1, 1.2], &[0.9, 0.6], Direction::Down);
    assert!((s.estimate + 1.0).abs() < 1e-12);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert!(!s.has_interval());
    assert_eq!(s.needs.as_deref(), Some("needs at least 5 points"));
    // Even four points on a line do not.
    let s = correlation(
        "rises",
        &[1.0, 2.0, 3.0, 4.0],
        &[1.0, 2.0, 3.0, 4.0],
        Direction::Up,
    );
    assert_eq!(s.verdict, Verdict::Inconclusive);
}

#[test]
fn six_points_with_r_057_are_inconclusive() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let y = [0.3, 0.1, 0.5, 0.2, 0.6, 0.48];
    let s = correlation("trade-off", &x, &y, Direction::Up);
    assert!((s.estimate - 0.578).abs() < 1e-3, "{s:?}");
    assert_eq!(s.verdict, Verdict::Inconclusive, "{s:?}");
    assert!(s.low <= 0.0 && s.high >= 0.0);
    assert_eq!(s.n, 6);
    // About 12 points would show r = 0.58 (Fisher z).
    assert_eq!(s.needs.as_deref(), Some("needs about 12 points"));
    // A strong correlation over 8 points is supported, and deterministic.
    let x: Vec<f64> = (0..8).map(|i| i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| v * 0.1 + 0.01 * (v * 7.0).sin()).collect();
    let s = correlation("rises", &x, &y, Direction::Up);
    assert_eq!(s.verdict, Verdict::Supported, "{s:?}");
    assert_eq!(s, correlation("rises", &x, &y, Direction::Up));
}

#[test]
fn a_clean_monotone_trend_over_five_seeded_groups_is_supported() {
    let l: Vec<Vec<f64>> = (0..5)
        .map(|i| (0..3).map(|s| 0.1 * i as f64 + 0.01 * s as f64).collect())
        .collect();
    let refs: Vec<&[f64]> = l.iter().map(|v| v.as_slice()).collect();
    let s = trend("rises", &levels(&refs), Direction::Up);
    assert_eq!(s.verdict, Verdict::Supported, "{s:?}");
    assert!(s.estimate > 0.9 && s.low > 0.5, "{s:?}");
    assert_eq!(s.n, 15);
    assert!(s.test.starts_with("monotone trend: Kendall"));
    // The same trend claimed as a fall is contradicted.
    let s = trend("falls", &levels(&refs), Direction::Down);
    assert_eq!(s.verdict, Verdict::Contradicted);
}

#[test]
fn trends_need_levels_and_noise_makes_them_inconclusive() {
    // Two levels: a difference of means.
    let s = trend(
        "rises",
        &levels(&[&[0.5, 0.52], &[0.8, 0.79]]),
        Direction::Up,
    );
    assert!(s
        .test
        .starts_with("trend over 2 levels: difference of two group means"));
    assert_eq!(s.verdict, Verdict::Supported, "{s:?}");
    // Three single values: no interval (a bootstrap over 3 levels says nothing).
    let s = trend("rises", &levels(&[&[0.1], &[0.2], &[0.3]]), Direction::Up);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert!(!s.has_interval());
    // One level.
    let s = trend("rises", &levels(&[&[0.1, 0.2]]), Direction::Up);
    assert_eq!(s.needs.as_deref(), Some("needs at least 3 levels"));
    // Noise larger than the trend.
    let s = trend(
        "rises",
        &levels(&[&[0.1, 0.5, 0.3], &[0.15, 0.55, 0.35], &[0.2, 0.6, 0.4]]),
        Direction::Up,
    );
    assert_eq!(s.verdict, Verdict::Inconclusive, "{s:?}");
    assert!(s.needs.unwrap().ends_with("seeds per level"));
}

#[test]
fn every_group_is_decided_by_its_weakest_group() {
    let up = |v: &[f64]| paired("x", v, Direction::Up);
    let groups = vec![
        ("a".to_string(), up(&[0.3, 0.31, 0.29])),
        ("b".to_string(), up(&[0.1, 0.11, 0.09])),
    ];
    let s = every_group("helps everywhere", &groups, Direction::Up);
    assert_eq!(s.verdict, Verdict::Supported);
    assert_eq!(s.measure, "mean at b");
    assert_eq!(s.n, 3, "the deciding group's n, as its interval's");
    assert!(s.test.contains("(2 groups, 6 points)"), "{}", s.test);
    let groups = vec![
        ("a".to_string(), up(&[0.3, 0.31, 0.29])),
        ("b".to_string(), up(&[0.0, 0.2, -0.1])),
        ("c".to_string(), up(&[-0.3, -0.31, -0.29])),
    ];
    let s = every_group("helps everywhere", &groups, Direction::Up);
    assert_eq!(s.verdict, Verdict::Contradicted);
    assert_eq!(s.measure, "mean at c");
    assert_eq!(s.detail.as_deref(), Some("reversed at c"));
    assert!(s.high < 0.0);
    let s = every_group("helps everywhere", &groups[..2], Direction::Up);
    assert_eq!(s.verdict, Verdict::Inconclusive);
    assert_eq!(s.measure, "mean at b");
}

#[test]
fn kendall_counts_pairs_across_levels() {
    // Pairs across levels: (0,1) up, (0,2) up, (1,2) down: (2 - 1) / 3.
    assert!((kendall_levels(&[0, 1, 2], &[10.0, 20.0, 15.0]) - 1.0 / 3.0).abs() < 1e-12);
    // Pairs within a level do not count; a tie in the value counts as neither.
    let t = kendall_levels(&[0, 0, 1, 1], &[1.0, 5.0, 3.0, 5.0]);
    // Across: (1,3) up, (1,5) up, (5,3) down, (5,5) tie: (2 - 1) / 4.
    assert!((t - 0.25).abs() < 1e-12, "{t}");
    assert!(kendall_levels(&[0, 0], &[1.0, 2.0]).is_nan());
    assert!(pearson(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
}

#[test]
fn sentences_and_exact_checks() {
    let s = paired("gain > 0", &[-0.3, -0.31, -0.29], Direction::Up);
    assert_eq!(
        s.sentence(),
        "gain > 0: contradicted (mean -0.300, 95% CI [-0.325, -0.275], n = 3) [test: paired \
         differences across seeds, Student t 95% interval]."
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["verdict"], "contradicted");
    assert_eq!(
        json["numbers"],
        "mean -0.300, 95% CI [-0.325, -0.275], n = 3"
    );
    // No interval: the bounds are null, not NaN.
    let one = paired("gain > 0", &[0.1], Direction::Up);
    let json = serde_json::to_value(&one).unwrap();
    assert!(json["low"].is_null() && json["high"].is_null(), "{json}");
    // An exact check is decided by the property, with the value as its own interval.
    let kept = Statement::exact("forgets nothing", "largest |forgetting|", 0.0, 4, true);
    assert_eq!(kept.verdict, Verdict::Supported);
    assert_eq!((kept.low, kept.high), (0.0, 0.0));
    let broken = Statement::exact("forgets nothing", "largest |forgetting|", 0.02, 4, false);
    assert_eq!(broken.verdict, Verdict::Contradicted);
    assert!(broken.sentence().starts_with(
        "forgets nothing: contradicted (largest |forgetting| +0.020, exact, n = 4) [test: exact \
         check"
    ));
}

/// The verdict agrees with the interval: supported only when the interval lies on the claimed
/// side, contradicted only when it lies on the other, inconclusive only when it covers 0 or is
/// missing; and no correlation verdict from fewer than [`MIN_POINTS`] points.
fn check(s: &Statement, dir: Direction) {
    let side = |v: f64| v * dir.sign();
    let (lo, hi) = if dir == Direction::Up {
        (s.low, s.high)
    } else {
        (s.high, s.low)
    };
    match s.verdict {
        Verdict::Supported => assert!(s.has_interval() && side(lo) > 0.0, "{s:?}"),
        Verdict::Contradicted => assert!(s.has_interval() && side(hi) < 0.0, "{s:?}"),
        Verdict::Inconclusive => assert!(
            !s.has_interval() || (s.low <= 0.0 && s.high >= 0.0),
            "{s:?}"
        ),
    }
    if s.has_interval() {
        assert!(s.low <= s.high, "{s:?}");
    }
    assert!(s
        .sentence()
        .contains(&format!(": {} (", s.verdict.as_str())));
}

#[test]
fn every_verdict_agrees_with_its_interval_on_random_tables() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..100 {
        let k = rng.gen_range(1..7);
        let seeds = rng.gen_range(1..5);
        let slope = rng.gen_range(-0.2..0.2);
        let noise = rng.gen_range(0.0..0.3);
        let table: Vec<(String, Vec<f64>)> = (0..k)
            .map(|i| {
                let v = (0..seeds)
                    .map(|_| slope * i as f64 + noise * rng.gen_range(-1.0..1.0))
                    .collect();
                (format!("{i}"), v)
            })
            .collect();
        for dir in [Direction::Up, Direction::Down] {
            let t = trend("t", &table, dir);
            check(&t, dir);
            if table.len() < 2 {
                assert!(!t.has_interval());
            }
            let groups: Vec<(String, Statement)> = table
                .iter()
                .map(|(l, v)| (l.clone(), paired("d", v, dir)))
                .collect();
            groups.iter().for_each(|g| check(&g.1, dir));
            check(&every_group("e", &groups, dir), dir);
            let x: Vec<f64> = (0..k).map(|i| i as f64).collect();
            let y: Vec<f64> = table.iter().map(|l| l.1[0]).collect();
            let c = correlation("c", &x, &y, dir);
            check(&c, dir);
            if k < MIN_POINTS {
                assert_eq!(c.verdict, Verdict::Inconclusive);
            }
            if k >= 2 {
                check(&two_sample("w", &table[0].1, &table[k - 1].1, dir), dir);
            }
        }
    }
}

#[test]
fn a_difference_picked_among_several_gets_a_wider_simultaneous_interval() {
    // mean 2, sd 1, n 3. One comparison: paired's t(0.975, 2). Three: t(1 − 0.05/6, 2), which
    // for 2 degrees of freedom is a·√(2/(1 − a²)) with a = 1 − 0.05/3 (7.6488...).
    let values = [1.0, 2.0, 3.0];
    let one = paired_among("d > 0", &values, Direction::Up, 1);
    let plain = paired("d > 0", &values, Direction::Up);
    assert!((one.low - plain.low).abs() < 1e-9 && (one.high - plain.high).abs() < 1e-9);
    let three = paired_among("d > 0", &values, Direction::Up, 3);
    let half = 7.648_803_937_915_533 / 3f64.sqrt();
    assert!((three.low - (2.0 - half)).abs() < 1e-9, "{three:?}");
    assert!((three.high - (2.0 + half)).abs() < 1e-9, "{three:?}");
    assert!(
        three.test.contains("over the 3 comparisons"),
        "{}",
        three.test
    );
    // A tight effect is supported even after the adjustment; two seeds never decide.
    let tight = paired_among("d > 0", &[0.3, 0.31, 0.29, 0.3], Direction::Up, 45);
    assert_eq!(tight.verdict, Verdict::Supported, "{}", tight.sentence());
    let two = paired_among("d > 0", &[0.3, 0.31], Direction::Up, 3);
    assert_eq!(two.verdict, Verdict::Inconclusive);
    assert_eq!(two.needs.as_deref(), Some("needs at least 3 seeds"));
}
