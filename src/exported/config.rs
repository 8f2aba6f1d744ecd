//! `config.json` of an exported model: the trial it comes from, its class names in the order of
//! the network's outputs, and how an input becomes what the network reads.

use crate::spec::{InputNorm, TrialSpec};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The version of the exported-model format this thaw writes and reads.
pub const FORMAT: u32 = 1;

/// Everything needed to rebuild and feed an exported network.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelConfig {
    /// [`FORMAT`] of the writer.
    pub format: u32,
    /// The thaw version that trained the network.
    pub thaw_version: String,
    /// The trial's key in its sweep's database.
    pub trial_key: String,
    /// The trial's resolved configuration (backbone, data, schedule, seed...).
    pub trial: TrialSpec,
    /// Class names by output index: `classes[i]` is what logit `i` means.
    pub classes: Vec<String>,
    /// How an example becomes the network's input.
    pub input: Input,
}

/// How an example is preprocessed, exactly as the trial's data was.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    /// An image file: decoded (EXIF orientation applied) to `channels` planes (1: 8-bit luma,
    /// Rec. 709; 3: RGB) stretched to `decode_size` square (Triangle filter), resized to
    /// `image_size` (thaw's bilinear resizer, rounded to u8), then on the device: channels
    /// converted to `network_channels`, resized to `network_input_size` (if any) and normalised.
    Image {
        decode_size: usize,
        channels: usize,
        image_size: usize,
        network_channels: usize,
        network_input_size: Option<usize>,
        /// The normalisation, in words (it follows from the backbone).
        normalisation: String,
    },
    /// A text: tokenised by `tokenizer` to at most `max_length` tokens.
    Text {
        tokenizer: String,
        max_length: usize,
    },
}

impl ModelConfig {
    /// Reads `config.json` from an exported model folder.
    pub fn read(dir: &Path) -> Result<ModelConfig> {
        let path = dir.join(super::CONFIG_FILE);
        if !path.is_file() {
            bail!(
                "{} has no {}; give the folder `thaw export-model` wrote",
                dir.display(),
                super::CONFIG_FILE
            );
        }
        Self::read_file(&path)
    }

    /// Reads a model config file.
    pub fn read_file(path: &Path) -> Result<ModelConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let config: ModelConfig = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a thaw model config", path.display()))?;
        if config.format != FORMAT {
            bail!(
                "{} is in exported-model format {}, this thaw reads format {FORMAT}; use the thaw \
                 version that exported it, or export the model again with this one",
                path.display(),
                config.format
            );
        }
        Ok(config)
    }

    /// Writes it as pretty JSON to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The normalisation of `norm`, in words.
pub fn describe_norm(norm: InputNorm) -> String {
    match norm {
        InputNorm::Symmetric => "x / 127.5 - 1 on 0..255 pixels".into(),
        InputNorm::Lite => "(x - 127) / 128 on 0..255 pixels".into(),
        InputNorm::ImageNet { mean, std } => {
            format!("(x / 255 - mean) / std per RGB channel, mean {mean:?}, std {std:?}")
        }
    }
}
