//! Expansion of parsed axes into trials: cartesian product, zip groups, exclusions, the
//! `search:` samples combined with every crossed trial, scratch baselines, and the checks that
//! depend on a combination (freeze depth, warm-up length).

use super::error::{key, Diag};
use super::parse::{AxisId, Parsed};
use super::search;
use super::trial::*;
use std::collections::HashSet;

/// Largest number of combinations a grid may expand to before exclusions.
pub(crate) const MAX_COMBINATIONS: usize = 200_000;

/// One unit of the product: a single axis, or a zip group iterated together.
struct Unit {
    axes: Vec<AxisId>,
    len: usize,
}

pub(crate) fn expand(p: &Parsed, diag: &mut Diag) -> Vec<TrialSpec> {
    let axes = &p.axes;

    // zip groups: equal lengths
    let mut zip_ok = true;
    for z in &p.zips {
        let lens: Vec<(AxisId, usize)> = z.axes.iter().map(|a| (*a, axes.len(*a))).collect();
        if lens.windows(2).any(|w| w[0].1 != w[1].1) {
            let desc: Vec<String> = lens
                .iter()
                .map(|(a, n)| format!("{} has {n}", a.name()))
                .collect();
            diag.err(
                &z.path,
                format!(
                    "zipped axes must have the same number of values, but {}; make the lists \
                     equally long or remove the zip",
                    desc.join(", ")
                ),
            );
            zip_ok = false;
        }
    }
    if !zip_ok {
        return Vec::new();
    }

    let units = units(p);
    let samples = p.search.as_ref().map_or(1, |s| s.trials);
    let total = units
        .iter()
        .try_fold(samples, |acc, u| acc.checked_mul(u.len))
        .unwrap_or(usize::MAX);
    if total > MAX_COMBINATIONS {
        diag.err(
            &[],
            format!(
                "the grid expands to {} combinations, more than the limit of {MAX_COMBINATIONS}; \
                 shorten some axis lists, zip axes, or split the grid",
                if total == usize::MAX {
                    "too many".to_string()
                } else {
                    total.to_string()
                }
            ),
        );
        return Vec::new();
    }

    let mut trials: Vec<TrialSpec> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut counter = vec![0usize; units.len()];
    let mut excluded_any = false;
    'outer: loop {
        let mut ix = [0usize; AxisId::ALL.len()];
        for (u, &c) in units.iter().zip(&counter) {
            for a in &u.axes {
                ix[a.index()] = c;
            }
        }
        let excluded = p.excludes.iter().any(|rule| {
            rule.conds
                .iter()
                .all(|(a, hits)| hits.contains(&ix[a.index()]))
        });
        if excluded {
            excluded_any = true;
        } else {
            let t = build(p, &ix, diag);
            if seen.insert(t.config_json()) {
                trials.push(t);
            }
        }
        // advance, last unit fastest
        let mut u = units.len();
        loop {
            if u == 0 {
                break 'outer;
            }
            u -= 1;
            counter[u] += 1;
            if counter[u] < units[u].len {
                break;
            }
            counter[u] = 0;
        }
    }

    if trials.is_empty() && diag.is_empty() {
        let msg = if excluded_any {
            "every combination is excluded, so the grid has no trials; loosen the exclude rules"
        } else {
            "the grid has no trials"
        };
        diag.err(&p.excludes_path, msg);
    }
    if let (Some(space), true) = (&p.search, diag.is_empty()) {
        trials = search::sampled_trials(space, &trials, diag);
        seen = trials.iter().map(TrialSpec::config_json).collect();
    }

    add_baselines(p, &mut trials, &mut seen);
    trials
}

/// The units of the product in canonical axis order; a zip group sits at the position of its
/// first axis.
fn units(p: &Parsed) -> Vec<Unit> {
    let axes = &p.axes;
    let mut units: Vec<Unit> = Vec::new();
    for a in AxisId::ALL {
        match p.zips.iter().find(|z| z.axes.contains(&a)) {
            Some(z) => {
                let first = z.axes.iter().copied().min_by_key(|x| x.index()).unwrap();
                if first == a {
                    let mut group = z.axes.clone();
                    group.sort_by_key(|x| x.index());
                    units.push(Unit {
                        axes: group,
                        len: axes.len(a),
                    });
                }
            }
            None => units.push(Unit {
                axes: vec![a],
                len: axes.len(a),
            }),
        }
    }
    units
}

/// Adds the linear-probe and from-scratch variants of every pretrained trial (once each).
fn add_baselines(p: &Parsed, trials: &mut Vec<TrialSpec>, seen: &mut HashSet<String>) {
    let pretrained: Vec<TrialSpec> = trials.clone();
    if p.linear_probe {
        for t in &pretrained {
            let mut probe = t.clone();
            probe.freeze = Freeze::All;
            if seen.insert(probe.config_json()) {
                trials.push(probe);
            }
        }
    }
    if p.scratch {
        for t in pretrained {
            let mut s = t;
            s.pretrained = false;
            s.freeze = Freeze::Blocks(0);
            s.weights = None;
            if seen.insert(s.config_json()) {
                trials.push(s);
            }
        }
    }
}

/// Builds the trial for one combination of axis indices, checking combination-level rules.
fn build(p: &Parsed, ix: &[usize; AxisId::ALL.len()], diag: &mut Diag) -> TrialSpec {
    let a = &p.axes;
    let backbone = &a.backbone[ix[AxisId::Backbone.index()]];
    let freeze = &a.freeze[ix[AxisId::Freeze.index()]];
    let schedule = &a.schedule[ix[AxisId::Schedule.index()]];
    let epochs = &a.epochs[ix[AxisId::Epochs.index()]];
    let max_length = &a.max_length[ix[AxisId::MaxLength.index()]];
    let text_backbone = backbone.value.profile().modality == Modality::Text;
    let datasets = [("target", &p.target_dataset), ("source", &p.source.dataset)];
    for (task, dataset) in datasets {
        if dataset.is_text() != text_backbone && !(task == "source" && p.source.is_unused()) {
            let (data, reads) = match text_backbone {
                true => ("images", "text"),
                false => ("text", "images"),
            };
            diag.err(
                &backbone.path,
                format!(
                    "backbone `{}` reads {reads}, and the {task} dataset `{}` holds {data}; \
                     use {}",
                    backbone.value,
                    dataset.label(),
                    match text_backbone {
                        true => "an image backbone (cnn4, resnet18, ...)",
                        false => "a text backbone (minilm_l6, gpt_tiny)",
                    }
                ),
            );
        }
    }
    if p.source.task == SourceObjective::LanguageModel && !backbone.value.is_causal() {
        diag.err(
            &backbone.path,
            format!(
                "a `task: language_model` source predicts the next token, which needs a causal \
                 decoder; `{}` is not one (use gpt_tiny, or a classification source)",
                backbone.value
            ),
        );
    }
    if max_length.value.is_some() && backbone.value.profile().modality != Modality::Text {
        diag.err(
            &max_length.path,
            format!(
                "max_length applies to text backbones; `{}` reads images (its input size is \
                 `image_size`)",
                backbone.value
            ),
        );
    }

    if let Freeze::Blocks(k) = freeze.value {
        let blocks = backbone.value.block_names();
        if k > blocks.len() {
            diag.err(
                &freeze.path,
                format!(
                    "cannot freeze {k} blocks: backbone `{}` has {} blocks ({}); use at most {} \
                     or `all`",
                    backbone.value,
                    blocks.len(),
                    blocks.join(", "),
                    blocks.len()
                ),
            );
        }
    }
    if let ScheduleKind::Cosine { warmup_epochs } = schedule.value.kind {
        if warmup_epochs >= epochs.value as f64 {
            diag.err(
                &key(&schedule.path, "warmup_epochs"),
                format!(
                    "a warm-up of {warmup_epochs} epochs leaves no epochs to decay when training \
                     for {} epochs; use a warm-up shorter than `epochs`",
                    epochs.value
                ),
            );
        }
    }

    TrialSpec {
        seed: a.seed[ix[AxisId::Seed.index()]].value,
        backbone: backbone.value,
        pretrained: true,
        freeze: freeze.value,
        source: p.source.clone(),
        target: TargetTask {
            dataset: p.target_dataset.clone(),
            classes: p.target_classes.clone(),
            train_per_class: a.train_per_class[ix[AxisId::TrainPerClass.index()]].value,
            shift: a.shift[ix[AxisId::Shift.index()]].value.clone(),
        },
        schedule: schedule.value.clone(),
        optimizer: a.optimizer[ix[AxisId::Optimizer.index()]].value.clone(),
        epochs: epochs.value,
        batch_size: a.batch_size[ix[AxisId::BatchSize.index()]].value,
        image_size: p.image_size,
        weights: p.weights.clone(),
        input_size: p.input_size,
        precision: a.precision[ix[AxisId::Precision.index()]].value,
        max_length: max_length.value,
        pooling: p.pooling,
    }
}
