//! The grid's shape, declared once: every mapping of a grid file as a struct whose fields are
//! its keys, with their defaults; every `kind:` as an enum of its names.
//!
//! Values stay YAML ([`Field`] for a key that may be absent, [`Value`] for a key with a
//! default), so a value of the wrong type does not stop reading: the validation pass
//! ([`super::parse`]) turns them into typed axes and reports every problem at once. The keys a
//! mapping accepts are these structs' fields ([`super::keys::Keys`]); nothing else lists them.

use super::keys::{names, Field};
use serde::Deserialize;
use serde_norway::Value;

/// Defaults, as YAML values (they go through the same checks as written ones).
mod default {
    use serde_norway::Value;

    macro_rules! defaults {
        ($($name:ident = $v:expr;)*) => {
            $(pub fn $name() -> Value {
                Value::from($v)
            })*
        };
    }

    defaults! {
        zero = 0;
        zero_f = 0.0;
        one_f = 1.0;
        no = false;
        seed = 0;
        batch_size = 64;
        precision = "fp32";
        image_size = 28;
        optimizer = "sgd";
        shift = "none";
        source_epochs = 3;
        gamma = 0.1;
        cut_frac = 0.1;
        ratio = 32.0;
        momentum = 0.9;
        beta1 = 0.9;
        beta2 = 0.999;
        adamw_weight_decay = 0.01;
        image_column = "path";
        label_column = "label";
        text_column = "text";
        on_bad_file = "error";
        search_method = "random";
    }
}

/// The whole grid file. Axes (one value or a list) are `backbone`, `freeze`, `schedule`,
/// `optimizer`, `epochs`, `batch_size`, `precision`, `seeds` and the target's
/// `train_per_class` and `shift`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawGrid {
    pub name: Field,
    pub description: Field,
    #[serde(default = "default::seed")]
    pub seeds: Value,
    pub source: Field,
    pub target: Field,
    pub backbone: Field,
    #[serde(default = "default::zero")]
    pub freeze: Value,
    pub baselines: Field,
    pub schedule: Field,
    #[serde(default = "default::optimizer")]
    pub optimizer: Value,
    pub epochs: Field,
    #[serde(default = "default::batch_size")]
    pub batch_size: Value,
    #[serde(default = "default::precision")]
    pub precision: Value,
    #[serde(default = "default::image_size")]
    pub image_size: Value,
    pub weights: Field,
    pub input_size: Field,
    pub max_length: Field,
    pub pooling: Field,
    pub zip: Field,
    pub exclude: Field,
    pub report: Field,
    pub search: Field,
    pub early_stop: Field,
    /// How often and on how many examples the epochs are evaluated (not an axis, not part of
    /// a trial's configuration).
    pub eval: Field,
}

/// `search:`, sampled configurations (see [`super::search`]).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawSearch {
    #[serde(default = "default::search_method")]
    pub method: Value,
    pub trials: Field,
    #[serde(default = "default::seed")]
    pub seed: Value,
    pub space: Field,
}

/// One parameter's distribution in `search.space`: exactly one of these keys, e.g.
/// `{log_uniform: [1.0e-4, 0.1]}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawDistribution {
    LogUniform(Value),
    Uniform(Value),
    Int(Value),
    Choice(Value),
}

/// `eval:`, the per-epoch evaluation's schedule and caps.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawEval {
    pub every: Field,
    pub max_per_class: Field,
}

/// `source:`, the pretraining task.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawSource {
    pub task: Field,
    pub dataset: Field,
    pub corpus: Field,
    pub classes: Field,
    pub train_per_class: Field,
    #[serde(default = "default::source_epochs")]
    pub epochs: Value,
    /// Default by task: 0.05 (SGD) for classification, 0.001 (AdamW) for a language model.
    pub lr: Field,
}

/// `target:`, the fine-tuning task.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawTarget {
    pub dataset: Field,
    pub classes: Field,
    pub train_per_class: Field,
    #[serde(default = "default::shift")]
    pub shift: Value,
}

/// One shift written as a mapping: exactly one of these keys, e.g. `{rotate: 45}`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawShift {
    Rotate(Value),
    Noise(Value),
    Invert(Value),
    Blur(Value),
    Contrast(Value),
    Hue(Value),
    Saturation(Value),
    Brightness(Value),
    ColorCast(Value),
    Grayscale(Value),
    ChannelSwap(Value),
    Jpeg(Value),
    Typos(Value),
    Lowercase(Value),
    Truncate(Value),
}

/// `typos:` written as a mapping, `{typos: {rate: 0.05}}`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawTypos {
    pub rate: Field,
}

/// `truncate:` written as a mapping, `{truncate: {words: 20}}`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawTruncate {
    pub words: Field,
}

/// The keys of every schedule; its `kind` adds those of [`RawStep`], [`RawCosine`] or
/// [`RawStlr`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawSchedule {
    pub kind: Field,
    pub lr: Field,
    #[serde(default = "default::one_f")]
    pub layer_decay: Value,
    #[serde(default = "default::no")]
    pub gradual_unfreeze: Value,
    #[serde(default = "default::zero")]
    pub probe_epochs: Value,
}

/// `schedule.kind`.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ScheduleTag {
    Constant,
    Step,
    Cosine,
    Stlr,
}

#[derive(Deserialize, Default)]
pub(crate) struct RawConstant {}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawStep {
    pub step_epochs: Field,
    #[serde(default = "default::gamma")]
    pub gamma: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawCosine {
    #[serde(default = "default::zero_f")]
    pub warmup_epochs: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawStlr {
    #[serde(default = "default::cut_frac")]
    pub cut_frac: Value,
    #[serde(default = "default::ratio")]
    pub ratio: Value,
}

/// `kind:` of an optimizer, dataset or schedule mapping, read before the rest.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawKind {
    pub kind: Field,
}

/// `optimizer.kind` (or the optimizer written as its name alone).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OptimizerTag {
    Sgd,
    Adamw,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawSgd {
    #[serde(default = "default::momentum")]
    pub momentum: Value,
    #[serde(default = "default::no")]
    pub nesterov: Value,
    #[serde(default = "default::zero_f")]
    pub weight_decay: Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawAdamw {
    #[serde(default = "default::beta1")]
    pub beta1: Value,
    #[serde(default = "default::beta2")]
    pub beta2: Value,
    #[serde(default = "default::adamw_weight_decay")]
    pub weight_decay: Value,
}

/// `dataset.kind`, in the order the messages list them.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DatasetTag {
    Folder,
    Csv,
    Text,
    Idx,
    Bundled,
}

/// `kind: bundled`; `neutral` applies to the bundled text datasets.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawBundled {
    pub name: Field,
    pub neutral: Field,
}

/// `kind: text`: a CSV, TSV or JSON Lines file of texts and labels.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawText {
    pub path: Field,
    pub format: Field,
    pub columns: Field,
    #[serde(default = "default::text_column")]
    pub text_column: Value,
    pub label_column: Field,
    pub score_column: Field,
    pub neutral: Field,
    pub split_column: Field,
    pub id_column: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawIdx {
    pub images: Field,
    pub labels: Field,
}

/// `kind: folder`; with the keys of [`RawImages`].
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawFolder {
    pub path: Field,
}

/// `kind: csv`: a pixel CSV when `side` or `max_value` is given, else a list of image files
/// (with the keys of [`RawCsvList`] and [`RawImages`]).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawCsv {
    pub path: Field,
    pub side: Field,
    pub max_value: Field,
}

/// The columns of a CSV list of image files.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawCsvList {
    #[serde(default = "default::image_column")]
    pub image_column: Value,
    #[serde(default = "default::label_column")]
    pub label_column: Value,
    pub split_column: Field,
}

/// How image files are decoded (folder and CSV-list datasets).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawImages {
    pub decode_size: Field,
    pub channels: Field,
    #[serde(default = "default::on_bad_file")]
    pub on_bad_file: Value,
    pub augment: Field,
}

/// `augment:` of an image-file dataset.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawAugment {
    #[serde(default = "default::zero")]
    pub crop_padding: Value,
    #[serde(default = "default::no")]
    pub hflip: Value,
    #[serde(default = "default::zero_f")]
    pub rotate: Value,
    #[serde(default = "default::zero_f")]
    pub brightness: Value,
    #[serde(default = "default::zero_f")]
    pub contrast: Value,
    #[serde(default = "default::zero_f")]
    pub saturation: Value,
    #[serde(default = "default::zero_f")]
    pub hue: Value,
    #[serde(default = "default::zero_f")]
    pub grayscale: Value,
}

/// `early_stop:`, stopping hopeless trials early (see [`super::early_stop`]).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawEarlyStop {
    pub method: Field,
    pub metric: Field,
    pub min_epochs: Field,
    pub reduction_factor: Field,
    pub max_epochs: Field,
    pub baselines: Field,
}

/// `early_stop.method:` names.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EarlyStopMethod {
    Asha,
}

/// `baselines:` entries.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Baseline {
    Scratch,
    LinearProbe,
}

/// A `report:` cell of text.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawMarkdownCell {
    pub markdown: Field,
}

/// A `report:` cell with a query and its chart.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawQueryCell {
    pub title: Field,
    pub sql: Field,
    pub chart: Field,
    pub x: Field,
    pub y: Field,
    pub series: Field,
}

/// `chart:` of a query cell.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChartKind {
    Line,
    Bar,
    Heatmap,
    Table,
}

impl ScheduleTag {
    /// The keys this kind adds to [`RawSchedule`]'s.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            ScheduleTag::Constant => names::<RawConstant>(),
            ScheduleTag::Step => names::<RawStep>(),
            ScheduleTag::Cosine => names::<RawCosine>(),
            ScheduleTag::Stlr => names::<RawStlr>(),
        }
    }
}

impl OptimizerTag {
    /// The keys this kind adds to `kind`.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            OptimizerTag::Sgd => names::<RawSgd>(),
            OptimizerTag::Adamw => names::<RawAdamw>(),
        }
    }
}
