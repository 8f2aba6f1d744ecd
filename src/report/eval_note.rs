//! The sentences that say which per-epoch numbers come from `eval:`'s subsets (or were not
//! evaluated), for the sweep's per-epoch charts and grid cell and for trial pages; derived
//! from the `eval_subset` metric rows and the sweep's grid.

use crate::metrics::names::{EVAL_SUBSET, TRAIN_LOSS, VAL_LOSS};
use crate::report::context::Ctx;
use crate::spec::EvalSettings;
use anyhow::Result;
use rusqlite::params;

/// What the full splits always give, said after the subsets.
const FULL: &str = "Epoch 0, each trial's last epoch and its best epoch (lowest validation \
                    loss) are evaluated on the full splits, so final and best values are \
                    full-split numbers.";

/// The sweep's note: how many intermediate epochs of its completed trials were evaluated on
/// subsets and how many not at all, with the grid's cap and period; `None` when every epoch
/// was evaluated on the full splits.
pub fn sweep_note(ctx: &Ctx) -> Result<Option<String>> {
    let (subset, skipped, trials): (i64, i64, i64) = ctx.conn.query_row(
        "WITH ts AS (SELECT t.id FROM trials t JOIN sweeps s ON s.id = t.sweep_id
                     WHERE s.name = ?1 AND t.status = 'completed' AND t.superseded_in IS NULL)
         SELECT
            (SELECT COUNT(*) FROM metrics m
             WHERE m.trial_id IN (SELECT id FROM ts) AND m.name = ?2),
            (SELECT COUNT(*) FROM metrics m
             WHERE m.trial_id IN (SELECT id FROM ts) AND m.name = ?3 AND m.epoch > 0
             AND NOT EXISTS (SELECT 1 FROM metrics v WHERE v.trial_id = m.trial_id
                             AND v.epoch = m.epoch AND v.name = ?4)),
            (SELECT COUNT(*) FROM ts)",
        params![
            ctx.sweep.name,
            EVAL_SUBSET.name,
            TRAIN_LOSS.name,
            VAL_LOSS.name
        ],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    if subset == 0 && skipped == 0 {
        return Ok(None);
    }
    let settings = EvalSettings::of_grid_yaml(&ctx.sweep.spec_yaml);
    let mut parts = Vec::new();
    if subset > 0 {
        parts.push(format!(
            "the validation, test and source values of {subset} intermediate epochs come from \
             fixed per-class subsets ({})",
            settings.describe()
        ));
    }
    if skipped > 0 {
        parts.push(format!(
            "{skipped} epochs were not evaluated (they record training metrics only)"
        ));
    }
    Ok(Some(format!(
        "Per-epoch evaluation (`eval:`, {trials} completed trials): {}. {FULL}",
        parts.join("; ")
    )))
}

/// A trial page's note from its metric rows `(name, epoch, value)`: the epochs evaluated on
/// subsets and those not evaluated; `None` when every epoch was evaluated in full.
pub fn trial_note(metrics: &[(String, i64, f64)]) -> Option<String> {
    let epochs_of = |name: &str| -> Vec<i64> {
        let mut e: Vec<i64> = (metrics.iter())
            .filter(|m| m.0 == name)
            .map(|m| m.1)
            .collect();
        e.sort_unstable();
        e.dedup();
        e
    };
    let subset = epochs_of(EVAL_SUBSET.name);
    let evaluated = epochs_of(VAL_LOSS.name);
    let skipped: Vec<i64> = (epochs_of(TRAIN_LOSS.name).into_iter())
        .filter(|e| !evaluated.contains(e))
        .collect();
    if subset.is_empty() && skipped.is_empty() {
        return None;
    }
    let list = |e: &[i64]| {
        let joined = e.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        match e.len() {
            1 => format!("epoch {joined}"),
            _ => format!("epochs {joined}"),
        }
    };
    let were = |e: &[i64]| if e.len() == 1 { "was" } else { "were" };
    let mut parts = Vec::new();
    if !subset.is_empty() {
        parts.push(format!(
            "the validation, test and source values of {} come from fixed per-class subsets \
             of each split (`eval: max_per_class`)",
            list(&subset)
        ));
    }
    if !skipped.is_empty() {
        parts.push(format!(
            "{} {} not evaluated (`eval: every`)",
            list(&skipped),
            were(&skipped)
        ));
    }
    Some(format!("{}. {FULL}", capitalize(&parts.join("; "))))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_note_names_the_subset_and_skipped_epochs() {
        let row = |n: &str, e: i64| (n.to_string(), e, 1.0);
        let mut m: Vec<_> = (1..=3).map(|e| row("train_loss", e)).collect();
        m.extend((0..=3).map(|e| row("val_loss", e)));
        assert_eq!(trial_note(&m), None);
        m.retain(|r| r != &row("val_loss", 1));
        m.push(row("eval_subset", 2));
        let note = trial_note(&m).unwrap();
        assert!(
            note.starts_with("The validation, test and source values of epoch 2 come"),
            "{note}"
        );
        assert!(note.contains("; epoch 1 was not evaluated"), "{note}");
    }
}
