//! Where a trial's examples come from: bundled, IDX, CSV, image folders and CSV lists, with how
//! image files are decoded and augmented; and text files (CSV, TSV, JSON Lines) with how their
//! labels are read.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Names of the datasets bundled with thaw (`dataset: mnist10k`): three image datasets, then the
/// text datasets of [`BUNDLED_TEXT`].
pub const BUNDLED: [&str; 7] = [
    "mnist10k",
    "fashion10k",
    "digits8x8",
    "vader_movies",
    "vader_tweets",
    "vader_amazon",
    "vader_nyt",
];

/// The bundled text datasets: the sentence-level sentiment ratings of Hutto & Gilbert (ICWSM
/// 2014), labelled by the sign of their mean rating (`negative` 0, `positive` 1).
pub const BUNDLED_TEXT: [&str; 4] = ["vader_movies", "vader_tweets", "vader_amazon", "vader_nyt"];

/// Where a dataset's images and labels come from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetSource {
    /// One of the datasets bundled under `data/` ([`BUNDLED`]); a text one with its defaults
    /// (`neutral: 0`).
    Bundled { name: String },
    /// A bundled text dataset ([`BUNDLED_TEXT`]) with a neutral band: scores in
    /// `[-neutral, neutral]` are left out. In grids: `{kind: bundled, name: vader_tweets,
    /// neutral: 0.5}`; a grid with `neutral: 0` (or none) gives [`DatasetSource::Bundled`], so
    /// both spellings share trial keys.
    BundledText { name: String, neutral: f64 },
    /// A pair of IDX files (gzip or raw), e.g. the full MNIST/Fashion-MNIST/KMNIST files.
    Idx { images: PathBuf, labels: PathBuf },
    /// A digits-style CSV (gzip or raw): pixel columns then the label, no header.
    Csv {
        path: PathBuf,
        /// Image side length; the row must hold `side * side` pixels.
        side: usize,
        /// Largest pixel value in the file (16 for UCI digits, 255 for 8-bit data).
        max_value: f64,
    },
    /// A folder of image files: one sub-folder per class (labels `0..k` in the byte order of the
    /// class folder names), or `train/`, `val/`, `test/` sub-folders each holding class folders
    /// (these then fix the splits). In grids: `{kind: folder, path: DIR}`.
    Folder {
        path: PathBuf,
        #[serde(flatten)]
        images: ImageOptions,
    },
    /// A CSV list of image files: a header row, a column with the image path (relative to the
    /// CSV's folder), a label column (class names, mapped to ids in sorted order; or integer
    /// ids) and an optional split column (`train`, `val`, `test`). In grids:
    /// `{kind: csv, path: FILE}` without `side`/`max_value`.
    CsvList {
        path: PathBuf,
        /// Header name of the image-path column.
        image_column: String,
        /// Header name of the label column.
        label_column: String,
        /// Header name of the split column; `None` uses a column named `split` if there is one.
        split_column: Option<String>,
        #[serde(flatten)]
        images: ImageOptions,
    },
    /// A text file, one example per row: CSV or TSV with a header row (or the column names given
    /// in `columns`), or JSON Lines (one object per line, its keys the columns). In grids:
    /// `{kind: text, path: FILE, text_column: text, label_column: label}`.
    Text(TextSource),
}

/// A text dataset file and how its columns are read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TextSource {
    /// The file (in grids relative to the grid file's folder); gzip-compressed or plain.
    pub path: PathBuf,
    /// `None` = from the file name: `.csv`, `.tsv` or `.jsonl`, each optionally `.gz`.
    pub format: Option<TextFormat>,
    /// The column names of a CSV or TSV file without a header row (its first row is then an
    /// example); `None` = the first row is the header.
    pub columns: Option<Vec<String>>,
    /// The column holding each example's text.
    pub text_column: String,
    /// How labels are read.
    pub label: TextLabel,
    /// The split column (`train`, `val`, `test`); `None` uses a column named `split` if there
    /// is one.
    pub split_column: Option<String>,
    /// The column naming each example (listed in split manifests); `None` uses a column named
    /// `id` if there is one, else the examples are named `FILE:LINE`.
    pub id_column: Option<String>,
}

/// The format of a text dataset file.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TextFormat {
    /// Comma-separated values (RFC 4180: `"` quotes fields, which may hold commas, quotes
    /// written `""` and line breaks).
    Csv,
    /// Tab-separated values: fields hold no tab and no line break, and `"` is an ordinary
    /// character (no quoting).
    Tsv,
    /// JSON Lines: one JSON object per line; string, number and boolean values are read as text.
    Jsonl,
}

impl TextFormat {
    /// The format a file name declares: `.csv`, `.tsv` or `.jsonl`, each optionally followed by
    /// `.gz` (case-insensitive); `None` for any other name.
    pub fn from_path(path: &std::path::Path) -> Option<TextFormat> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let (_, ext) = name.rsplit_once('.')?;
        match ext {
            "csv" => Some(TextFormat::Csv),
            "tsv" => Some(TextFormat::Tsv),
            "jsonl" => Some(TextFormat::Jsonl),
            _ => None,
        }
    }
}

/// Where a text dataset's labels come from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum TextLabel {
    /// A column of class names (mapped to ids `0..k` in sorted order) or of integer ids, as in
    /// a CSV list of image files.
    Column(String),
    /// A column of numeric scores labelled by sign: `negative` (0) below `-neutral`, `positive`
    /// (1) above `neutral`; scores in `[-neutral, neutral]` (0 always) are left out.
    Score { column: String, neutral: f64 },
}

/// The class names of score-labelled text datasets, label 0 first.
pub const SCORE_CLASSES: [&str; 2] = ["negative", "positive"];

/// Side length image files are decoded to when no grid sets it (a grid uses its `image_size`).
pub const DEFAULT_DECODE_SIZE: usize = 64;

/// How image files (folder and CSV-list datasets) are decoded, and what happens to bad ones.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageOptions {
    /// Every image is converted to 8-bit grayscale and resized (stretched) to
    /// `decode_size x decode_size` with the Triangle (bilinear, area-averaging when shrinking)
    /// filter. `None` = [`DEFAULT_DECODE_SIZE`]; grids default it to their `image_size`.
    pub decode_size: Option<usize>,
    /// Colour channels kept: 1 (grayscale), 3 (RGB) or `auto` (3 when any image of the dataset
    /// has colour). Left out of the serialized options at its default, so grids written before
    /// it existed keep their trial keys.
    #[serde(default, skip_serializing_if = "Channels::is_auto")]
    pub channels: Channels,
    /// Files that cannot be decoded: fail listing all of them, or leave them out with a warning
    /// listing all of them.
    pub on_bad_file: OnBadFile,
    /// Training-time augmentation of this dataset's training split (`None` = off).
    pub augment: Option<Augment>,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            decode_size: None,
            channels: Channels::Auto,
            on_bad_file: OnBadFile::Error,
            augment: None,
        }
    }
}

impl ImageOptions {
    /// The side length images are decoded to.
    pub fn decode_side(&self) -> usize {
        self.decode_size.unwrap_or(DEFAULT_DECODE_SIZE)
    }
}

/// The colour channels an image-file dataset keeps.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Channels {
    /// 3 when any image of the dataset has colour (a pixel whose R, G and B differ), else 1.
    #[default]
    Auto,
    /// Grayscale (luma).
    #[serde(rename = "1")]
    One,
    /// Red, green and blue.
    #[serde(rename = "3")]
    Three,
}

impl Channels {
    /// Whether this is the default, [`Channels::Auto`].
    pub fn is_auto(&self) -> bool {
        *self == Channels::Auto
    }
}

/// What to do with image files that cannot be decoded.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnBadFile {
    /// Fail, naming every file that cannot be decoded.
    #[default]
    Error,
    /// Leave those files out, with a warning naming every one of them.
    Skip,
}

/// Random training-time augmentation, applied per batch on the trial's device (seeded).
/// Every field at its default means no augmentation. The colour options (`saturation`, `hue`,
/// `grayscale`) act on RGB batches only and leave 1-channel batches unchanged; at 0 they are left
/// out of the serialized options, so grids written before they existed keep their trial keys.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Augment {
    /// Pad each side by this many pixels (zeros), then crop back to the original size at a
    /// random offset; 0 = off.
    pub crop_padding: usize,
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
    /// Rotate by an angle drawn uniformly from `[-rotate, rotate]` degrees (bilinear, zero
    /// fill); 0 = off.
    pub rotate: f64,
    /// Add a brightness offset drawn uniformly from `[-brightness, brightness]` (0..1 pixel
    /// scale); 0 = off.
    pub brightness: f64,
    /// Scale the contrast around the image mean by a factor drawn uniformly from
    /// `[1 - contrast, 1 + contrast]`; 0 = off.
    pub contrast: f64,
    /// Scale the saturation by a factor drawn uniformly from `[1 - saturation, 1 + saturation]`
    /// (each pixel blended with its Rec. 709 luma); 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub saturation: f64,
    /// Rotate the hue by an angle drawn uniformly from `[-hue, hue]` degrees (a rotation about
    /// the gray axis of RGB space); 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hue: f64,
    /// Probability of replacing an image by its Rec. 709 luma in all three planes; 0 = off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub grayscale: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Augment {
    /// Whether this configuration changes any image (the colour options only change RGB ones).
    pub fn is_active(&self) -> bool {
        self.crop_padding > 0
            || self.hflip
            || self.rotate != 0.0
            || self.brightness != 0.0
            || self.contrast != 0.0
            || self.is_colour()
    }

    /// Whether any of the colour options (`saturation`, `hue`, `grayscale`) is on.
    pub fn is_colour(&self) -> bool {
        self.saturation != 0.0 || self.hue != 0.0 || self.grayscale != 0.0
    }
}

impl DatasetSource {
    /// Short human-readable name used in tables and chart legends.
    pub fn label(&self) -> String {
        match self {
            DatasetSource::Bundled { name } => name.clone(),
            DatasetSource::BundledText { name, neutral } => format!("{name} (neutral {neutral})"),
            DatasetSource::Text(t) => file_stem(&t.path),
            DatasetSource::Idx { images, .. } => file_stem(images),
            DatasetSource::Csv { path, .. }
            | DatasetSource::Folder { path, .. }
            | DatasetSource::CsvList { path, .. } => file_stem(path),
        }
    }

    /// Decoding options of an image-file dataset (`None` for bundled, IDX and pixel-CSV data).
    pub fn image_options(&self) -> Option<&ImageOptions> {
        match self {
            DatasetSource::Folder { images, .. } | DatasetSource::CsvList { images, .. } => {
                Some(images)
            }
            _ => None,
        }
    }

    /// Whether the examples are text (text files and the bundled text datasets).
    pub fn is_text(&self) -> bool {
        match self {
            DatasetSource::Text(_) | DatasetSource::BundledText { .. } => true,
            DatasetSource::Bundled { name } => BUNDLED_TEXT.contains(&name.as_str()),
            _ => false,
        }
    }

    /// Whether the dataset names its classes (image-file and text datasets), so that grids may
    /// give `classes:` as names.
    pub fn names_classes(&self) -> bool {
        self.image_options().is_some() || self.is_text()
    }

    /// The dataset's training-time augmentation, if any is active.
    pub fn augment(&self) -> Option<&Augment> {
        self.image_options()
            .and_then(|o| o.augment.as_ref())
            .filter(|a| a.is_active())
    }
}

fn file_stem(p: &std::path::Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
