//! Per-class results at the final epoch: each class's test accuracy by configuration, the worst
//! classes, and whether a shift or a frozen depth costs some classes more than others.

use crate::metrics::statements::{paired_among, Direction, Statement};
use crate::report::context::{distinct, model_order, Ctx};
use crate::report::page::{Cell, Input, Output};
use crate::report::rows::{num, query, text};
use crate::report::series::{alike_sql, MODEL_SQL};
use crate::report::stats::{ci_table, findings_output, mean};
use anyhow::Result;

/// One class of one completed trial's test split.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClassRow {
    pub trial: String,
    /// Every setting that varies in the sweep but the seed, e.g. `freeze 0, shift rotate 90`.
    pub config: String,
    /// `freeze <k>` or `scratch`.
    pub model: String,
    pub shift: String,
    pub class: String,
    pub accuracy: f64,
    /// Every setting but the shift (seed included): the trials a shifted one is paired with.
    pub alike_shift: String,
    /// Every setting but the frozen depth (seed included).
    pub alike_freeze: String,
}

/// The test accuracy of every class of one trial, in class order.
type Accuracies = Vec<(String, f64)>;

/// The trials of `rows`, in order: (first row, class accuracies).
fn trials(rows: &[ClassRow]) -> Vec<(&ClassRow, Accuracies)> {
    distinct(rows.iter().map(|r| r.trial.as_str()))
        .into_iter()
        .map(|key| {
            let of: Vec<&ClassRow> = rows.iter().filter(|r| r.trial == key).collect();
            let accs = of.iter().map(|r| (r.class.clone(), r.accuracy)).collect();
            (of[0], accs)
        })
        .collect()
}

/// Whether the drop in accuracy from `reference` to each of `pairs`' treated trials is larger
/// for some classes than for others. Per pair (trials alike in every other setting and the
/// seed) and class, drop = reference − treated accuracy; the classes with the largest and the
/// smallest mean drop are picked, and the claim is that the first drops more than the second:
/// their per-pair difference of drops, with a 95% interval Bonferroni-adjusted over every pair
/// of classes ([`paired_among`]: picking the two farthest apart cannot overstate it). `None`
/// without pairs or with fewer than two classes common to them.
pub(crate) fn uneven_cost(
    what: &str,
    reference: &str,
    pairs: &[(&Accuracies, &Accuracies)],
) -> Option<Statement> {
    let first = pairs.first()?.0;
    let classes: Vec<&str> = first
        .iter()
        .map(|c| c.0.as_str())
        .filter(|c| {
            pairs
                .iter()
                .all(|(r, t)| r.iter().any(|x| x.0 == *c) && t.iter().any(|x| x.0 == *c))
        })
        .collect();
    if classes.len() < 2 {
        return None;
    }
    let acc = |a: &Accuracies, c: &str| a.iter().find(|x| x.0 == c).map_or(f64::NAN, |x| x.1);
    let drops: Vec<Vec<f64>> = pairs
        .iter()
        .map(|(r, t)| classes.iter().map(|c| acc(r, c) - acc(t, c)).collect())
        .collect();
    let means: Vec<f64> = (0..classes.len())
        .map(|i| mean(&drops.iter().map(|d| d[i]).collect::<Vec<_>>()))
        .collect();
    let order = |a: &&usize, b: &&usize| means[**a].total_cmp(&means[**b]);
    let idx: Vec<usize> = (0..classes.len()).collect();
    let hi = *idx.iter().max_by(order)?;
    let lo = *idx.iter().min_by(order)?;
    let diffs: Vec<f64> = drops.iter().map(|d| d[hi] - d[lo]).collect();
    let k = classes.len();
    let claim = format!(
        "{what} (against {reference}) costs some classes more than others: class {} loses more \
         accuracy than class {}",
        classes[hi], classes[lo]
    );
    let mut s = paired_among(&claim, &diffs, Direction::Up, k * (k - 1) / 2);
    s.measure = "difference of drops".to_string();
    let listed: Vec<String> = (0..k)
        .map(|i| format!("{} {:+.3}", classes[i], means[i]))
        .collect();
    let listed = if k <= 12 {
        listed.join(", ")
    } else {
        format!("{k} classes")
    };
    Some(s.with_detail(format!(
        "mean drop in test accuracy by class: {listed}; pooled over the other settings"
    )))
}

/// Per shift other than `none`, whether it costs some classes more than others against the
/// unshifted trial of the same settings and seed ([`uneven_cost`]).
pub(crate) fn shift_findings(rows: &[ClassRow]) -> Vec<Statement> {
    let trials = trials(rows);
    let mut shifts = distinct(trials.iter().map(|t| t.0.shift.as_str()));
    shifts.retain(|s| *s != "none");
    shifts
        .into_iter()
        .filter_map(|shift| {
            let pairs: Vec<(&Accuracies, &Accuracies)> = trials
                .iter()
                .filter(|t| t.0.shift == shift)
                .filter_map(|t| {
                    let r = trials
                        .iter()
                        .find(|r| r.0.shift == "none" && r.0.alike_shift == t.0.alike_shift)?;
                    Some((&r.1, &t.1))
                })
                .collect();
            uneven_cost(&format!("Shift {shift}"), "none", &pairs)
        })
        .collect()
}

/// Per frozen depth after the shallowest, whether it costs some classes more than others
/// against the shallowest depth with the same settings and seed ([`uneven_cost`]).
pub(crate) fn freeze_findings(rows: &[ClassRow]) -> Vec<Statement> {
    let trials = trials(rows);
    let mut models = distinct(trials.iter().map(|t| t.0.model.as_str()));
    models.retain(|m| m.starts_with("freeze "));
    models.sort_by_key(|m| model_order(m));
    let Some((&shallowest, deeper)) = models.split_first() else {
        return Vec::new();
    };
    deeper
        .iter()
        .filter_map(|&model| {
            let pairs: Vec<(&Accuracies, &Accuracies)> = trials
                .iter()
                .filter(|t| t.0.model == model)
                .filter_map(|t| {
                    let r = trials.iter().find(|r| {
                        r.0.model == shallowest && r.0.alike_freeze == t.0.alike_freeze
                    })?;
                    Some((&r.1, &t.1))
                })
                .collect();
            uneven_cost(model, shallowest, &pairs)
        })
        .collect()
}

/// "Worst class by configuration (lowest mean test accuracy; the ranking is not tested):
/// freeze 0: 7 0.620, ...".
pub(crate) fn worst_classes(rows: &[ClassRow]) -> Option<String> {
    let configs = distinct(rows.iter().map(|r| r.config.as_str()));
    let worst: Vec<String> = configs
        .iter()
        .filter_map(|config| {
            let of: Vec<&ClassRow> = rows.iter().filter(|r| r.config == *config).collect();
            distinct(of.iter().map(|r| r.class.as_str()))
                .into_iter()
                .map(|c| {
                    let v: Vec<f64> = of
                        .iter()
                        .filter(|r| r.class == c)
                        .map(|r| r.accuracy)
                        .collect();
                    (c, mean(&v))
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(c, m)| format!("{config}: {c} {m:.3}"))
        })
        .collect();
    (!worst.is_empty()).then(|| {
        format!(
            "Worst class by configuration (lowest mean test accuracy; the ranking is not \
             tested): {}.",
            worst.join("; ")
        )
    })
}

/// The configuration label in SQL: the model, then every other setting that varies.
fn config_sql(ctx: &Ctx) -> String {
    let mut parts = vec![MODEL_SQL.to_string()];
    for (axis, sql) in [
        ("backbone", "ts.backbone"),
        ("shift", "'shift ' || ts.shift"),
        ("train_per_class", "ts.train_per_class || '/class'"),
        ("schedule", "'schedule ' || ts.schedule"),
        ("lr", "'lr ' || ts.lr"),
        ("precision", "ts.precision"),
    ] {
        if ctx.varies(axis) {
            parts.push(sql.to_string());
        }
    }
    parts.join(" || ', ' || ")
}

/// Per-class results: a table of each class's mean test accuracy per configuration, the worst
/// classes and the findings of [`shift_findings`] and [`freeze_findings`]. `None` when no
/// completed trial has per-class results.
pub fn per_class(ctx: &Ctx) -> Result<Option<Cell>> {
    let sql = format!(
        "SELECT ts.key, {} AS configuration, {MODEL_SQL} AS model, ts.shift, ts.seed,
       ca.class, IFNULL(ca.name, ca.class) AS name, ca.n, ca.correct, ca.accuracy,
       {} AS alike_shift,
       {} AS alike_freeze
FROM class_accuracy ca
JOIN trial_summary ts ON ts.trial_id = ca.trial_id
JOIN trials t ON t.id = ts.trial_id
WHERE ts.sweep = {} AND ts.status = 'completed' AND ca.split = 'test'
ORDER BY t.position, ca.class;",
        config_sql(ctx),
        alike_sql("shift"),
        alike_sql("freeze"),
        ctx.sweep_lit()
    );
    let raw = query(ctx.conn, &sql)?;
    let rows: Vec<ClassRow> = raw
        .iter()
        .filter_map(|r| {
            Some(ClassRow {
                trial: text(&r[0]),
                config: text(&r[1]),
                model: text(&r[2]),
                shift: text(&r[3]),
                class: text(&r[6]),
                accuracy: num(&r[9])?,
                alike_shift: text(&r[10]),
                alike_freeze: text(&r[11]),
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let table = ci_table(
        &["configuration", "class"],
        &["test accuracy"],
        &rows
            .iter()
            .map(|r| {
                (
                    vec![r.config.clone(), r.class.clone()],
                    vec![Some(r.accuracy)],
                )
            })
            .collect::<Vec<_>>(),
    );
    let mut outputs = vec![Output::Text {
        text: format!(
            "Test accuracy of each class at the final epoch (its recall: the share of its test \
             examples classified as it), from the confusion counts (view class_accuracy); \
             completed trials only ({} of {}), mean over seeds.",
            ctx.completed(),
            ctx.trials.len()
        ),
    }];
    let notes: Vec<String> = worst_classes(&rows).into_iter().collect();
    let statements: Vec<Statement> = shift_findings(&rows)
        .into_iter()
        .chain(freeze_findings(&rows))
        .collect();
    match findings_output(notes.clone(), statements) {
        Some(findings) => outputs.push(findings),
        None => outputs.extend(notes.into_iter().map(|text| Output::Text { text })),
    }
    outputs.push(Output::Table(table));
    Ok(Some(Cell {
        title: "Per-class results".to_string(),
        inputs: vec![Input::sql(sql)],
        outputs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::statements::Verdict;

    /// A trial's rows: classes `a`, `b`, `c` with the given accuracies.
    fn trial(key: &str, model: &str, shift: &str, seed: i64, accs: [f64; 3]) -> Vec<ClassRow> {
        ["a", "b", "c"]
            .iter()
            .zip(accs)
            .map(|(class, accuracy)| ClassRow {
                trial: key.to_string(),
                config: format!("{model}, shift {shift}"),
                model: model.to_string(),
                shift: shift.to_string(),
                class: class.to_string(),
                accuracy,
                alike_shift: format!("{model}|{seed}"),
                alike_freeze: format!("{shift}|{seed}"),
            })
            .collect()
    }

    #[test]
    fn a_shift_that_costs_one_class_far_more_is_supported() {
        // Rotation costs class c about 0.40 and classes a, b about 0.02, in each of 4 seeds.
        let mut rows = Vec::new();
        for (seed, d) in [(0, 0.0), (1, 0.01), (2, -0.01), (3, 0.005)] {
            let base = [0.9 + d, 0.8 - d, 0.85];
            rows.extend(trial(&format!("n{seed}"), "freeze 0", "none", seed, base));
            let shifted = [base[0] - 0.02 - d, base[1] - 0.02, base[2] - 0.4 + d];
            rows.extend(trial(
                &format!("r{seed}"),
                "freeze 0",
                "rotate 90",
                seed,
                shifted,
            ));
        }
        let s = shift_findings(&rows);
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.verdict, Verdict::Supported, "{}", s.sentence());
        assert_eq!(s.n, 4);
        assert!(
            s.sentence().starts_with(
                "Shift rotate 90 (against none) costs some classes more than others: class c \
                 loses more accuracy than class b: supported (difference of drops +0.379"
            ),
            "{}",
            s.sentence()
        );
        assert!(s.test.contains("over the 3 comparisons"), "{}", s.test);
        assert!(s.low > 0.0 && s.low < s.estimate, "{s:?}");
        // Freeze does not vary: no freeze finding.
        assert!(freeze_findings(&rows).is_empty());
    }

    #[test]
    fn an_even_cost_hidden_in_seed_noise_is_inconclusive() {
        // freeze all costs every class about 0.1; which class loses most changes with the seed.
        let mut rows = Vec::new();
        let noise = [[0.03, -0.02, 0.0], [-0.03, 0.01, 0.02], [0.0, 0.02, -0.03]];
        for (seed, n) in noise.iter().enumerate() {
            let base = [0.9, 0.8, 0.85];
            rows.extend(trial(
                &format!("f0-{seed}"),
                "freeze 0",
                "none",
                seed as i64,
                base,
            ));
            let deeper = [0, 1, 2].map(|i| base[i] - 0.1 + n[i]);
            rows.extend(trial(
                &format!("fa-{seed}"),
                "freeze all",
                "none",
                seed as i64,
                deeper,
            ));
        }
        let s = freeze_findings(&rows);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].verdict, Verdict::Inconclusive, "{}", s[0].sentence());
        assert!(
            s[0].claim
                .starts_with("freeze all (against freeze 0) costs some classes"),
            "{}",
            s[0].claim
        );
        assert!(s[0].has_interval() && s[0].low <= 0.0, "{:?}", s[0]);
        // One seed: no interval at all.
        let one: Vec<ClassRow> = rows
            .iter()
            .filter(|r| r.trial.ends_with("-0"))
            .cloned()
            .collect();
        let s = freeze_findings(&one);
        assert_eq!(s[0].verdict, Verdict::Inconclusive);
        assert_eq!(s[0].n, 1);
        assert!(!s[0].has_interval());
    }

    #[test]
    fn the_worst_class_of_each_configuration_is_named() {
        let mut rows = trial("x0", "freeze 0", "none", 0, [0.9, 0.5, 0.7]);
        rows.extend(trial("x1", "freeze 0", "none", 1, [0.9, 0.6, 0.5]));
        rows.extend(trial("y0", "scratch", "none", 0, [0.2, 0.6, 0.7]));
        assert_eq!(
            worst_classes(&rows).unwrap(),
            "Worst class by configuration (lowest mean test accuracy; the ranking is not \
             tested): freeze 0, shift none: b 0.550; scratch, shift none: a 0.200."
        );
    }
}
