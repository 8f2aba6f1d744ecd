//! The best configuration, chosen on validation ([`crate::track::best`]), with its test accuracy
//! over the seeds it was chosen on, and over the fresh seeds of `thaw run --confirm-best` when
//! the sweep `NAME.confirm` holds them: a table, and the statement of whether the choice
//! flattered it.

use crate::metrics::statements::{two_sample, Direction, Statement};
use crate::report::context::Ctx;
use crate::report::page::{Input, Output};
use crate::report::rows::{num, query, sql_str};
use crate::report::stats::{ci, ci_table, findings_output};
use crate::track::best::{best_configuration, BestConfig, CONFIRM_SUFFIX};
use anyhow::Result;

/// The best configuration's outputs (a sentence, the table, the finding), with the SQL of the
/// confirmation; `None` before any trial completed.
pub(crate) fn best(ctx: &Ctx) -> Result<Option<(Vec<Input>, Vec<Output>)>> {
    let Some(best) = best_configuration(ctx.conn, &ctx.sweep.name)? else {
        return Ok(None);
    };
    let label = label(&best.config_json);
    let confirm_sweep = format!("{}{CONFIRM_SUFFIX}", ctx.sweep.name);
    // Another sweep's trials: the report's own `trial_summary` holds this sweep's only.
    let sql = format!(
        "SELECT ts.seed, ts.final_val_acc, ts.final_test_acc
FROM main.trial_summary ts
WHERE ts.sweep = {} AND ts.status = 'completed'
ORDER BY ts.seed;",
        sql_str(&confirm_sweep)
    );
    let confirmed: Vec<(f64, f64)> = query(ctx.conn, &sql)?
        .iter()
        .filter_map(|r| Some((num(&r[1])?, num(&r[2])?)))
        .collect();
    let mut rows: Vec<(Vec<String>, Vec<Option<f64>>)> = (best.seeds.iter())
        .map(|s| {
            (
                vec!["seeds it was chosen on".into()],
                vec![Some(s.1), Some(s.2)],
            )
        })
        .collect();
    rows.extend(confirmed.iter().map(|c| {
        (
            vec![format!("fresh seeds ({confirm_sweep})")],
            vec![Some(c.0), Some(c.1)],
        )
    }));
    let mut outputs = vec![Output::Text {
        text: sentence(&best, &label, confirmed.len(), &confirm_sweep),
    }];
    let confirmed_test: Vec<f64> = confirmed.iter().map(|c| c.1).collect();
    outputs.extend(findings_output(
        Vec::new(),
        confirmation(&best, &label, &confirmed_test)
            .into_iter()
            .collect(),
    ));
    outputs.push(Output::Table(ci_table(
        &["seeds"],
        &["final_val_acc", "final_test_acc"],
        &rows,
    )));
    Ok(Some((vec![Input::sql(sql)], outputs)))
}

/// The configuration without its seed, as the run's progress lines name it.
fn label(config_json: &str) -> String {
    match serde_json::from_str::<crate::spec::TrialSpec>(config_json) {
        Ok(spec) => spec.config_label(),
        Err(_) => config_json.to_string(),
    }
}

/// What was chosen and how, with its test accuracy over the seeds it was chosen on.
fn sentence(best: &BestConfig, label: &str, confirmed: usize, confirm_sweep: &str) -> String {
    let test = best.test();
    let acc = match ci(&test) {
        Some((m, Some(h), n)) => format!("{m:.4} \u{b1} {h:.4} (95% CI, n = {n} seeds)"),
        Some((m, None, n)) => format!("{m:.4} (n = {n} seed; no interval)"),
        None => "not recorded".to_string(),
    };
    let mut s = format!(
        "Best configuration by mean final validation accuracy ({:.4}) among {} configurations: \
         {label}. Its final test accuracy over the seeds it was chosen on: {acc}; being the best \
         of many on those seeds flatters it.",
        best.mean_val(),
        best.among
    );
    if confirmed == 0 {
        s.push_str(&format!(
            " `thaw run GRID --confirm-best K` trains it with K fresh seeds (as sweep \
             {confirm_sweep}) for an estimate the choice did not see."
        ));
    }
    s
}

/// Whether the test accuracy on fresh seeds is lower than on the seeds of the choice (Welch
/// interval of the difference); `None` without a confirmation.
fn confirmation(best: &BestConfig, label: &str, confirmed: &[f64]) -> Option<Statement> {
    (!confirmed.is_empty()).then(|| {
        two_sample(
            &format!(
                "{label}: the best configuration's test accuracy is lower on fresh seeds than on \
                 the seeds it was chosen on (fresh \u{2212} chosen < 0)"
            ),
            &best.test(),
            confirmed,
            Direction::Down,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::statements::Verdict;

    fn best(tests: &[f64]) -> BestConfig {
        BestConfig {
            config_json: "{}".into(),
            group: "{}".into(),
            seeds: (tests.iter().enumerate())
                .map(|(i, t)| (i as i64, 0.9, *t))
                .collect(),
            among: 12,
        }
    }

    #[test]
    fn a_confirmation_far_below_the_choice_supports_the_winners_curse() {
        let b = best(&[0.90, 0.91, 0.92]);
        let st = confirmation(&b, "c", &[0.80, 0.81, 0.79]).unwrap();
        assert_eq!(st.verdict, Verdict::Supported);
        assert!((st.estimate - (0.80 - 0.91)).abs() < 1e-9);
        assert_eq!(st.n, 6);
        let st = confirmation(&b, "c", &[0.90, 0.93, 0.91]).unwrap();
        assert_eq!(st.verdict, Verdict::Inconclusive);
        assert!(confirmation(&b, "c", &[]).is_none());
    }

    #[test]
    fn the_sentence_gives_the_interval_and_n_and_says_how_to_confirm() {
        let s = sentence(&best(&[0.90, 0.92]), "cnn4 freeze=2", 0, "s.confirm");
        assert!(s.contains("among 12 configurations: cnn4 freeze=2"), "{s}");
        assert!(s.contains("0.9100 \u{b1}"), "{s}");
        assert!(s.contains("(95% CI, n = 2 seeds)"), "{s}");
        assert!(s.contains("--confirm-best K"), "{s}");
        let s = sentence(&best(&[0.90]), "c", 3, "s.confirm");
        assert!(s.contains("0.9000 (n = 1 seed; no interval)"), "{s}");
        assert!(!s.contains("--confirm-best"), "{s}");
    }
}
