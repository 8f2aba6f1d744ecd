//! Exported models: the network a trial fine-tuned, as a folder another program (or
//! `thaw predict --model`) can use. [`config`] is its `config.json`, [`card`] its model card,
//! [`export`] writes the folder of a model `thaw run --keep best` kept; with the `train`
//! feature, [`network`] saves and loads the weights and [`classify`] predicts with them.

pub mod card;
#[cfg(feature = "train")]
pub mod classify;
pub mod config;
pub mod export;
#[cfg(feature = "train")]
pub mod network;

pub use config::ModelConfig;
pub use export::export_model;

/// The exported network's weights (safetensors).
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The exported config.
pub const CONFIG_FILE: &str = "config.json";
/// The exported model card.
pub const CARD_FILE: &str = "MODEL_CARD.md";
/// A text model's tokenizer, copied beside it when thaw has the file.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
