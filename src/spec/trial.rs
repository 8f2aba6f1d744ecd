//! One resolved trial of a grid: every axis fixed to a single value.
//!
//! `TrialSpec` is what the executor trains, what the database stores as `config_json`
//! and what the trial key hashes. Its serde form is canonical (field order fixed by the
//! struct), so the same configuration always gives the same key.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

pub use super::backbone::*;
pub use super::dataset::*;

/// A domain shift applied to the target task's examples (train, validation and test alike):
/// image shifts to image datasets, text shifts (`typos`, `lowercase`, `truncate`) to text ones.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shift {
    /// No shift.
    None,
    /// Rotation by `degrees` (bilinear, zero fill).
    Rotate { degrees: f64 },
    /// Additive gaussian noise with standard deviation `sigma` on the 0..1 pixel scale.
    Noise { sigma: f64 },
    /// Blend towards the negative image: `x' = (1 - amount) x + amount (1 - x)`; 1 = full inversion.
    Invert { amount: f64 },
    /// Gaussian blur with standard deviation `sigma` pixels.
    Blur { sigma: f64 },
    /// Contrast scaling around mid-grey: `x' = 0.5 + factor (x - 0.5)`.
    Contrast { factor: f64 },
    /// Hue rotation by `degrees` in HSV space (120 turns red into green), saturation and value
    /// kept. Identity on a 1-channel image.
    Hue { degrees: f64 },
    /// Saturation scaling towards the BT.601 luma `y`: `x' = y + factor (x - y)`, clamped; 0 =
    /// grayscale, 1 = unchanged, above 1 more vivid. Identity on a 1-channel image.
    Saturation { factor: f64 },
    /// Every value multiplied by `factor`, clamped; 1 = unchanged. Applies to gray images too.
    Brightness { factor: f64 },
    /// Per-channel gains `[r, g, b]`, clamped, like another camera's white balance. Identity on
    /// a 1-channel image.
    ColorCast { gains: [f64; 3] },
    /// The BT.601 luma `0.299 R + 0.587 G + 0.114 B` copied to all three planes. Identity on a
    /// 1-channel image.
    Grayscale,
    /// The colour planes reordered: `order` is a permutation of `rgb` naming the source of each
    /// output plane (`bgr` swaps red and blue). Identity on a 1-channel image.
    ChannelSwap { order: String },
    /// JPEG compression at `quality` (1..=100): encoded and decoded again. Applies to gray
    /// images too.
    Jpeg { quality: u8 },
    /// Text: character noise. Each ASCII letter, with probability `rate`, is deleted,
    /// doubled, swapped with the next letter or replaced by a QWERTY keyboard neighbour (one of
    /// the four at random), seeded per example.
    Typos { rate: f64 },
    /// Text: every character lower-cased.
    Lowercase,
    /// Text: only the first `words` words (runs of non-whitespace) kept.
    Truncate { words: usize },
}

/// The planes a channel order such as `bgr` takes, by output plane (`bgr` → `[2, 1, 0]`);
/// `None` unless `order` is a permutation of `rgb`.
pub fn rgb_permutation(order: &str) -> Option<[usize; 3]> {
    let b = order.as_bytes();
    if b.len() != 3 {
        return None;
    }
    let mut perm = [0; 3];
    for (slot, c) in perm.iter_mut().zip(b) {
        *slot = b"rgb".iter().position(|x| x == c)?;
    }
    let mut seen = perm;
    seen.sort_unstable();
    (seen == [0, 1, 2]).then_some(perm)
}

impl Shift {
    /// The shift's kind as written in the grid (`none`, `rotate`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Shift::None => "none",
            Shift::Rotate { .. } => "rotate",
            Shift::Noise { .. } => "noise",
            Shift::Invert { .. } => "invert",
            Shift::Blur { .. } => "blur",
            Shift::Contrast { .. } => "contrast",
            Shift::Hue { .. } => "hue",
            Shift::Saturation { .. } => "saturation",
            Shift::Brightness { .. } => "brightness",
            Shift::ColorCast { .. } => "color_cast",
            Shift::Grayscale => "grayscale",
            Shift::ChannelSwap { .. } => "channel_swap",
            Shift::Jpeg { .. } => "jpeg",
            Shift::Typos { .. } => "typos",
            Shift::Lowercase => "lowercase",
            Shift::Truncate { .. } => "truncate",
        }
    }

    /// Whether this is a text shift (`typos`, `lowercase`, `truncate`); `none` is neither a text
    /// nor an image shift and fits both.
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Shift::Typos { .. } | Shift::Lowercase | Shift::Truncate { .. }
        )
    }

    /// The shift's magnitude, the report's x axis within a kind (0 for `none`). Colour shifts
    /// measure the distance from their neutral value: `hue` the angle to 0 on the circle
    /// (0..=180 degrees), `saturation` and `brightness` `|1 - factor|`, `color_cast`
    /// `max |gain - 1|`, `grayscale` 1, `channel_swap` the number of planes that move (0, 2 or
    /// 3), `jpeg` `100 - quality`. Text shifts: `typos` the rate, `lowercase` 1, `truncate` the
    /// number of words kept (so there a smaller magnitude is a stronger shift).
    pub fn magnitude(&self) -> f64 {
        match self {
            Shift::None => 0.0,
            Shift::Rotate { degrees } => *degrees,
            Shift::Noise { sigma } | Shift::Blur { sigma } => *sigma,
            Shift::Invert { amount } => *amount,
            Shift::Contrast { factor } => *factor,
            Shift::Hue { degrees } => {
                let d = degrees.rem_euclid(360.0);
                d.min(360.0 - d)
            }
            Shift::Saturation { factor } | Shift::Brightness { factor } => (1.0 - factor).abs(),
            Shift::ColorCast { gains } => gains.iter().map(|g| (g - 1.0).abs()).fold(0.0, f64::max),
            Shift::Grayscale => 1.0,
            Shift::ChannelSwap { order } => rgb_permutation(order).map_or(0.0, |p| {
                p.iter().enumerate().filter(|&(i, &c)| i != c).count() as f64
            }),
            Shift::Jpeg { quality } => 100.0 - f64::from(*quality),
            Shift::Typos { rate } => *rate,
            Shift::Lowercase => 1.0,
            Shift::Truncate { words } => *words as f64,
        }
    }
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shift::None => write!(f, "none"),
            Shift::Grayscale => write!(f, "grayscale"),
            Shift::Lowercase => write!(f, "lowercase"),
            // The setting as written (a factor of 0.5 and of 1.5 have the same magnitude).
            Shift::Hue { degrees } => write!(f, "hue {degrees}"),
            Shift::Saturation { factor } => write!(f, "saturation {factor}"),
            Shift::Brightness { factor } => write!(f, "brightness {factor}"),
            Shift::ColorCast { gains: [r, g, b] } => write!(f, "color_cast [{r}, {g}, {b}]"),
            Shift::ChannelSwap { order } => write!(f, "channel_swap {order}"),
            Shift::Jpeg { quality } => write!(f, "jpeg {quality}"),
            other => write!(f, "{} {}", other.kind_name(), other.magnitude()),
        }
    }
}

/// How many backbone blocks are frozen, counted from the input side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freeze {
    /// The first `k` blocks are frozen; 0 = full fine-tuning.
    Blocks(usize),
    /// Every block is frozen: a linear probe.
    All,
}

impl Freeze {
    /// Number of frozen blocks for a backbone with `n_blocks` blocks.
    pub fn frozen_blocks(&self, n_blocks: usize) -> usize {
        match self {
            Freeze::Blocks(k) => (*k).min(n_blocks),
            Freeze::All => n_blocks,
        }
    }
}

impl fmt::Display for Freeze {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Freeze::Blocks(k) => write!(f, "{k}"),
            Freeze::All => write!(f, "all"),
        }
    }
}

impl Serialize for Freeze {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Freeze::Blocks(k) => s.serialize_u64(*k as u64),
            Freeze::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Freeze {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(usize),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(k) => Ok(Freeze::Blocks(k)),
            Raw::S(s) if s == "all" => Ok(Freeze::All),
            Raw::S(s) => Err(serde::de::Error::custom(format!(
                "freeze must be a block count or \"all\", got \"{s}\""
            ))),
        }
    }
}

/// Where a trial's backbone weights come from when it starts from an external checkpoint
/// instead of thaw's own source pretraining.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// The ImageNet weights thaw converts into its cache (`make weights`): EfficientNet-Lite0.
    Imagenet,
    /// The backbone's own pretrained weights that `make weights` puts in the cache
    /// ([`BackboneKind::pretrained_weights`]): ImageNet for efficientnet_lite0, the
    /// sentence-transformers checkpoint for minilm_l6.
    Pretrained,
    /// A safetensors file of a framework `state_dict`.
    File(PathBuf),
}

impl Weights {
    /// The file these weights are read from for `kind` (`File` paths as given; `imagenet` is
    /// the converted file in the weights folder, for efficientnet_lite0 only; `pretrained` is
    /// [`BackboneKind::pretrained_weights`]).
    pub fn file(&self, kind: BackboneKind) -> anyhow::Result<PathBuf> {
        match self {
            Weights::Imagenet => kind.imagenet_weights(),
            Weights::Pretrained => kind.pretrained_weights(),
            Weights::File(p) => Ok(p.clone()),
        }
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weights::Imagenet => f.write_str("imagenet"),
            Weights::Pretrained => f.write_str("pretrained"),
            Weights::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Shape of the learning rate over training.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `step_epochs` epochs.
    Step { step_epochs: usize, gamma: f64 },
    /// Linear warm-up over `warmup_epochs`, then cosine decay to zero.
    Cosine { warmup_epochs: f64 },
    /// Slanted triangular (Howard & Ruder 2018): rise for `cut_frac` of the steps, then decay;
    /// the lowest rate is `lr / ratio`.
    Stlr { cut_frac: f64, ratio: f64 },
}

/// A learning-rate schedule, with discriminative rates and gradual unfreezing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Schedule {
    #[serde(flatten)]
    pub kind: ScheduleKind,
    /// Peak (base) learning rate of the head and the top block.
    pub lr: f64,
    /// Discriminative fine-tuning: each block below gets the rate of the block above divided
    /// by this factor (1 = the same rate everywhere; ULMFiT uses 2.6).
    pub layer_decay: f64,
    /// Gradual unfreezing: start with only the head trainable, unfreeze one more block from the
    /// top at each epoch (never below the grid's `freeze`).
    pub gradual_unfreeze: bool,
    /// LP-FT (Kumar et al. 2022): train only the head (a linear probe) for this many epochs,
    /// then fine-tune as the rest of the schedule says. 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub probe_epochs: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Schedule {
    /// A short label such as `cosine lr=0.01 decay=2.6`.
    pub fn label(&self) -> String {
        let mut s = match &self.kind {
            ScheduleKind::Constant => "constant".to_string(),
            ScheduleKind::Step { step_epochs, gamma } => format!("step/{step_epochs}x{gamma}"),
            ScheduleKind::Cosine { warmup_epochs } if *warmup_epochs > 0.0 => {
                format!("cosine(warmup {warmup_epochs})")
            }
            ScheduleKind::Cosine { .. } => "cosine".to_string(),
            ScheduleKind::Stlr { cut_frac, ratio } => format!("stlr({cut_frac},{ratio})"),
        };
        s.push_str(&format!(" lr={}", self.lr));
        if self.layer_decay != 1.0 {
            s.push_str(&format!(" decay={}", self.layer_decay));
        }
        if self.gradual_unfreeze {
            s.push_str(" unfreeze");
        }
        if self.probe_epochs > 0 {
            s.push_str(&format!(" lp-ft({})", self.probe_epochs));
        }
        s
    }
}

/// Optimizer and its hyperparameters.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd {
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adamw {
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
    },
}

/// The task the backbone is pretrained on (once per backbone, source task, size and seed).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceTask {
    /// What the backbone learns on the source data. Absent for classification, so keys of
    /// grids written before language models stay the same.
    #[serde(default, skip_serializing_if = "SourceObjective::is_classification")]
    pub task: SourceObjective,
    /// The labelled dataset, or a language model's corpus.
    pub dataset: DatasetSource,
    /// Dataset labels used, in order; label `classes[i]` becomes class `i`. A language model
    /// reads the texts of these labels, every text when empty.
    pub classes: Vec<u32>,
    /// Training examples per class (`None` = every example of the training pool).
    pub train_per_class: Option<usize>,
    pub epochs: usize,
    /// Peak learning rate of pretraining (cosine schedule; SGD with momentum 0.9 for a
    /// classifier, AdamW for a language model).
    pub lr: f64,
}

/// What a backbone learns on its source data.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceObjective {
    /// The source classes, with a source head of one output per class.
    #[default]
    Classification,
    /// Next-token prediction on the source texts (causal text backbones), with a source head
    /// of one output per token of the vocabulary.
    LanguageModel,
}

impl SourceObjective {
    /// Whether this is the default, [`SourceObjective::Classification`].
    pub fn is_classification(&self) -> bool {
        *self == SourceObjective::Classification
    }
}

impl SourceTask {
    /// The stand-in source of grids that start from `weights:` and name no `source:`: the
    /// target dataset with no classes and no epochs. Nothing is pretrained on it.
    pub fn unused(dataset: DatasetSource) -> SourceTask {
        SourceTask {
            task: SourceObjective::Classification,
            dataset,
            classes: Vec::new(),
            train_per_class: None,
            epochs: 0,
            lr: 0.0,
        }
    }

    /// Whether this is the stand-in of [`SourceTask::unused`].
    pub fn is_unused(&self) -> bool {
        self.task.is_classification() && self.classes.is_empty()
    }
}

/// The task a trial fine-tunes on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TargetTask {
    pub dataset: DatasetSource,
    /// Dataset labels used, in order; label `classes[i]` becomes class `i`.
    pub classes: Vec<u32>,
    /// Training examples per class, sampled by the trial's seed from the training pool.
    pub train_per_class: usize,
    pub shift: Shift,
}

/// Numeric precision of fine-tuning and evaluation (`precision:`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in float32.
    #[default]
    Fp32,
    /// Convolutions and matrix products in bfloat16 under libtorch's autocast; weights,
    /// gradients, optimizer state, losses and normalisation statistics stay float32.
    Bf16,
}

impl Precision {
    /// Every precision, in the order of the names the grid accepts.
    pub const ALL: [Precision; 2] = [Precision::Fp32, Precision::Bf16];

    /// The grid's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
        }
    }

    fn is_fp32(&self) -> bool {
        *self == Precision::Fp32
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One fully resolved trial.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TrialSpec {
    pub seed: u64,
    pub backbone: BackboneKind,
    /// `false` trains the same architecture from scratch (the transfer baseline).
    pub pretrained: bool,
    pub freeze: Freeze,
    pub source: SourceTask,
    pub target: TargetTask,
    pub schedule: Schedule,
    pub optimizer: Optimizer,
    pub epochs: usize,
    pub batch_size: usize,
    /// Side length images are resized to (source and target alike).
    pub image_size: usize,
    /// Start from these backbone weights instead of source pretraining (then `source` is not
    /// used; see [`SourceTask::unused`]). Absent for thaw's own backbones, so their keys
    /// are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Weights>,
    /// Side length the network resizes its input to (`None` = the backbone's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_size: Option<usize>,
    /// Precision of fine-tuning and evaluation (source pretraining is always fp32, so trials
    /// of either precision start from the same checkpoint). Absent when fp32, so earlier keys
    /// are unchanged.
    #[serde(default, skip_serializing_if = "Precision::is_fp32")]
    pub precision: Precision,
    /// Tokens each text example is cut to (text backbones only; `None` = 128, or no text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// How a text backbone pools its token states (`None` = the backbone's own, or no text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<Pooling>,
}

/// The version of thaw's training semantics, hashed into every trial and pretrained key and
/// recorded with each trial (`trials.semantics`). Change it only when a change of thaw alters
/// what a trial computes, never merely with a release: trials recorded under an earlier value
/// are then shown as outdated and rerun by `thaw run --rerun-outdated`. (Its first value was
/// the crate version with a counter; the text is kept so that earlier keys stand.)
pub const SEMANTICS: &str = "0.1.0+train2";

impl TrialSpec {
    /// Canonical JSON of the resolved configuration.
    pub fn config_json(&self) -> String {
        serde_json::to_string(self).expect("a TrialSpec always serialises")
    }

    /// Stable key: a hash of the resolved config, the data fingerprint and [`SEMANTICS`].
    pub fn key(&self, data_fingerprint: &str) -> String {
        self.key_under(data_fingerprint, SEMANTICS)
    }

    /// The key the trial has under the training semantics `semantics`.
    pub fn key_under(&self, data_fingerprint: &str, semantics: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(self.config_json().as_bytes());
        h.update(b"\0");
        h.update(data_fingerprint.as_bytes());
        h.update(b"\0");
        h.update(semantics.as_bytes());
        h.finalize().to_hex()[..16].to_string()
    }

    /// Whether the trial fine-tunes a backbone trained by thaw on the source task (from scratch,
    /// or from `weights` when the grid names both); not one fine-tuned straight from `weights`,
    /// not one trained from scratch.
    pub fn pretrains_on_source(&self) -> bool {
        self.pretrained && !self.source.is_unused()
    }

    /// Whether the trial's backbone reads text.
    pub fn is_text(&self) -> bool {
        self.backbone.profile().modality == Modality::Text
    }

    /// The size of one example as the network reads it: tokens for text, the image side
    /// otherwise.
    pub fn input_extent(&self) -> usize {
        if self.is_text() {
            self.text_max_length()
        } else {
            self.image_size
        }
    }

    /// Tokens each text example is cut to.
    pub fn text_max_length(&self) -> usize {
        self.max_length.unwrap_or(DEFAULT_MAX_LENGTH)
    }

    /// Number of frozen blocks of this trial's backbone.
    pub fn frozen_blocks(&self) -> usize {
        self.freeze.frozen_blocks(self.backbone.block_names().len())
    }
}
