//! The exported network: its weights written from a trained network (every variable but the
//! source head's) with the config that describes it, and both read back as a network.

use super::config::{describe_norm, Input, ModelConfig, FORMAT};
use crate::data::Dataset;
use crate::model::Network;
use crate::spec::TrialSpec;
use anyhow::{Context, Result};
use std::path::Path;
use tch::{Device, Tensor};

/// The config of the network `net` that trial `key` fine-tuned on `target` (the trial's target
/// dataset as it was loaded).
pub fn config_of(key: &str, trial: &TrialSpec, target: &Dataset, net: &Network) -> ModelConfig {
    let classes = trial
        .target
        .classes
        .iter()
        .map(|&c| match &target.class_names {
            Some(names) => names
                .get(c as usize)
                .cloned()
                .unwrap_or_else(|| c.to_string()),
            None => c.to_string(),
        })
        .collect();
    let input = if trial.is_text() {
        Input::Text {
            tokenizer: format!("{} tokenizer", trial.backbone),
            max_length: trial.text_max_length(),
        }
    } else {
        Input::Image {
            decode_size: target.height,
            channels: target.channels,
            image_size: trial.image_size,
            network_channels: net.in_channels(),
            network_input_size: net.input_size(),
            normalisation: describe_norm(trial.backbone.profile().norm),
        }
    };
    ModelConfig {
        format: FORMAT,
        thaw_version: env!("CARGO_PKG_VERSION").to_string(),
        trial_key: key.to_string(),
        trial: trial.clone(),
        classes,
        input,
    }
}

/// Writes the network's target variables to the safetensors file `weights` (atomically) and its
/// config beside it (`weights` with the extension `json`).
pub fn save(net: &Network, config: &ModelConfig, weights: &Path) -> Result<()> {
    if let Some(dir) = weights.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let tmp = weights.with_extension(format!("{}.partial", std::process::id()));
    let vars: Vec<(String, Tensor)> = net
        .target_variables()
        .into_iter()
        .map(|(name, t)| (name, t.to_device(Device::Cpu)))
        .collect();
    Tensor::write_safetensors(&vars, &tmp)
        .with_context(|| format!("cannot write the model weights {}", tmp.display()))?;
    std::fs::rename(&tmp, weights)
        .with_context(|| format!("cannot move {} into place", weights.display()))?;
    config.write(&weights.with_extension("json"))
}

/// The network `config` describes on `device`, with its weights read from `weights`.
pub fn load(config: &ModelConfig, weights: &Path, device: Device) -> Result<Network> {
    let channels = match &config.input {
        Input::Image {
            network_channels, ..
        } => *network_channels,
        Input::Text { .. } => 0,
    };
    let mut net = Network::for_trial(
        &config.trial,
        device,
        None,
        Some(config.classes.len()),
        channels,
    );
    net.vs.load(weights).with_context(|| {
        format!(
            "cannot load the model weights {} (missing, corrupt, or not the network its \
             config.json describes); export the model again",
            weights.display()
        )
    })?;
    Ok(net)
}
