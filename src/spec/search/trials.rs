//! Combining the grid's crossed trials with the samples, and the checks that need both.

use super::SearchSpace;
use crate::spec::error::{key, Diag, Seg};
use crate::spec::trial::*;
use std::collections::HashSet;

/// The path of a parameter's entry in `search.space`.
fn entry(name: &str) -> Vec<Seg> {
    key(&[Seg::Key("search".into()), Seg::Key("space".into())], name)
}

/// Every sample applied to every crossed trial (checked first: call it with an empty `diag`), sample by sample (so the first `n` samples'
/// trials come first, whatever `trials` is), de-duplicated by configuration. Reports a sampled
/// parameter that the grid also varies or that does not apply, and sampled ranges that do not
/// fit a trial (frozen blocks beyond the backbone's, a warm-up as long as training).
pub(crate) fn sampled_trials(
    space: &SearchSpace,
    crossed: &[TrialSpec],
    diag: &mut Diag,
) -> Vec<TrialSpec> {
    check_params(space, crossed, diag);
    for t in crossed {
        check_ranges(space, t, diag);
    }
    if !diag.is_empty() {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for sample in space.samples() {
        for t in crossed {
            let mut s = t.clone();
            for (p, level) in &sample {
                p.apply(&mut s, level);
            }
            if seen.insert(s.config_json()) {
                out.push(s);
            }
        }
    }
    out
}

/// A sampled parameter must apply to every crossed trial and take one value across them (the
/// value the sample replaces).
fn check_params(space: &SearchSpace, crossed: &[TrialSpec], diag: &mut Diag) {
    for (p, _) in &space.params {
        let mut values: Vec<String> = Vec::new();
        for t in crossed {
            match p.value(t) {
                Some(v) => {
                    let v = v.to_string();
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
                None => {
                    diag.err(
                        &entry(p.name),
                        format!(
                            "`{}` applies only with {}; change that in the grid or remove `{}` \
                             from search.space",
                            p.name,
                            p.needs.unwrap_or("other settings"),
                            p.name
                        ),
                    );
                    return;
                }
            }
        }
        if values.len() > 1 {
            diag.err(
                &entry(p.name),
                format!(
                    "`{}` is sampled here, and the grid also lists it as an axis ({} takes {}); \
                     give {} one value (the sample replaces it) or remove `{}` from search.space",
                    p.name,
                    p.grid_key,
                    values.join(", "),
                    p.grid_key,
                    p.name
                ),
            );
        }
    }
}

/// Frozen depth, Nesterov momentum and warm-up length over the whole sampled range, against one
/// crossed trial.
fn check_ranges(space: &SearchSpace, t: &TrialSpec, diag: &mut Diag) {
    if let Some((_, deepest)) = space.distribution("freeze").and_then(|d| d.extent()) {
        let blocks = t.backbone.block_names();
        if deepest as usize > blocks.len() {
            diag.err(
                &entry("freeze"),
                format!(
                    "can sample freezing {deepest} blocks, but backbone `{}` has {} blocks ({}); \
                     sample at most {} or `all`",
                    t.backbone,
                    blocks.len(),
                    blocks.join(", "),
                    blocks.len()
                ),
            );
        }
    }
    let nesterov = matches!(t.optimizer, Optimizer::Sgd { nesterov: true, .. });
    if let (true, Some((lowest, _))) = (
        nesterov,
        space.distribution("momentum").and_then(|d| d.extent()),
    ) {
        if lowest <= 0.0 {
            diag.err(
                &entry("momentum"),
                "Nesterov momentum needs momentum > 0, and this range starts at 0; raise the low \
                 bound or set nesterov: false",
            );
        }
    }
    let warmup = space.distribution("warmup_epochs");
    let epochs = space.distribution("epochs");
    if warmup.is_none() && epochs.is_none() {
        return;
    }
    let ScheduleKind::Cosine { warmup_epochs } = t.schedule.kind else {
        return;
    };
    let longest = warmup
        .and_then(|d| d.extent())
        .map_or(warmup_epochs, |e| e.1);
    let fewest = epochs
        .and_then(|d| d.extent())
        .map_or(t.epochs as f64, |e| e.0);
    if longest >= fewest {
        let at = if warmup.is_some() {
            "warmup_epochs"
        } else {
            "epochs"
        };
        diag.err(
            &entry(at),
            format!(
                "a warm-up of up to {longest} epochs leaves no epochs to decay when training for \
                 {fewest} epochs; sample warm-ups shorter than the fewest epochs"
            ),
        );
    }
}

/// The sampled parameters' values in a trial, as `name=value` cells (for `--dry-run`).
pub(crate) fn sampled_cells(space: &SearchSpace, t: &TrialSpec) -> Vec<String> {
    space
        .params
        .iter()
        .map(|(p, _)| {
            let v = p.value(t).map_or("-".to_string(), |v| v.to_string());
            format!("{}={v}", p.name)
        })
        .collect()
}
