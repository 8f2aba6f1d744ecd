//! Classifying with an exported model: images or texts preprocessed exactly as the trial's data
//! was, the network in inference mode, the top classes by name with their probabilities.

use super::config::{Input, ModelConfig};
use super::{network, TOKENIZER_FILE, WEIGHTS_FILE};
use crate::data::{self, Tokenize};
use crate::model::{Head, Network, TextTokenizer};
use crate::train::{precision, EVAL_BATCH};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

/// A predicted class: its name and probability.
pub type Ranked = (String, f64);

/// An exported model loaded on a device.
pub struct Model {
    /// The exported config.
    pub config: ModelConfig,
    net: Network,
    device: Device,
    /// Text models' tokenizer.
    tokenizer: Option<Arc<dyn Tokenize + Send + Sync>>,
}

impl Model {
    /// Loads the model `thaw export-model` wrote into `dir`.
    pub fn load(dir: &Path, device: Device) -> Result<Model> {
        let config = ModelConfig::read(dir)?;
        let net = network::load(&config, &dir.join(WEIGHTS_FILE), device)?;
        let tokenizer = match &config.input {
            Input::Image { .. } => None,
            Input::Text { .. } if dir.join(TOKENIZER_FILE).is_file() => {
                Some(Arc::new(TextTokenizer::from_file(&dir.join(TOKENIZER_FILE))?) as _)
            }
            Input::Text { .. } => Some(TextTokenizer::for_backbone(config.trial.backbone)?),
        };
        Ok(Model {
            config,
            net,
            device,
            tokenizer,
        })
    }

    /// Whether the model reads texts rather than image files.
    pub fn reads_text(&self) -> bool {
        self.tokenizer.is_some()
    }

    /// The `top` most probable classes of each image file, most probable first.
    pub fn classify_images(&self, files: &[PathBuf], top: usize) -> Result<Vec<Vec<Ranked>>> {
        let Input::Image {
            decode_size,
            channels,
            image_size,
            ..
        } = self.config.input
        else {
            bail!("this model reads texts, not image files; give it texts to classify");
        };
        let mut out = Vec::with_capacity(files.len());
        for batch in files.chunks(EVAL_BATCH) {
            let mut pixels = Vec::with_capacity(batch.len() * channels * image_size * image_size);
            for file in batch {
                let decoded = data::decode_image(file, decode_size, channels)?;
                for plane in decoded.chunks_exact(decode_size * decode_size) {
                    pixels.extend(data::resize_image(
                        plane,
                        decode_size,
                        decode_size,
                        image_size,
                        image_size,
                    ));
                }
            }
            let side = image_size as i64;
            let x = Tensor::from_slice(&pixels)
                .reshape([batch.len() as i64, channels as i64, side, side])
                .to_device(self.device);
            out.extend(self.rank(&x, top)?);
        }
        Ok(out)
    }

    /// The `top` most probable classes of each text, most probable first.
    pub fn classify_texts(&self, texts: &[String], top: usize) -> Result<Vec<Vec<Ranked>>> {
        let (Some(tokenizer), Input::Text { max_length, .. }) =
            (&self.tokenizer, &self.config.input)
        else {
            bail!("this model reads image files, not texts; give it image files to classify");
        };
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(EVAL_BATCH) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            let ids = tokenizer.encode(&refs, *max_length)?;
            let width = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
            let mut flat = vec![0i64; ids.len() * width];
            for (row, x) in flat.chunks_exact_mut(width).zip(&ids) {
                row[..x.len()].copy_from_slice(x);
            }
            let x = Tensor::from_slice(&flat)
                .reshape([ids.len() as i64, width as i64])
                .to_device(self.device);
            out.extend(self.rank(&x, top)?);
        }
        Ok(out)
    }

    /// The top classes of every row of the batch `x` (u8 pixels or token ids).
    fn rank(&self, x: &Tensor, top: usize) -> Result<Vec<Vec<Ranked>>> {
        let net = &self.net;
        let probs = tch::no_grad(|| {
            precision::autocast(self.config.trial.precision, self.device, || {
                let features = net.features(&net.prepare_input(x), net.n_blocks(), false);
                net.logits(&features, Head::Target)
            })
            .to_kind(Kind::Double)
            .softmax(-1, Kind::Double)
            .to_device(Device::Cpu)
        });
        let k = top.clamp(1, self.config.classes.len()) as i64;
        let (values, indices) = probs.topk(k, -1, true, true);
        let values = Vec::<Vec<f64>>::try_from(values)?;
        let indices = Vec::<Vec<i64>>::try_from(indices)?;
        Ok(indices
            .into_iter()
            .zip(values)
            .map(|(idx, p)| {
                idx.into_iter()
                    .zip(p)
                    .map(|(i, p)| (self.config.classes[i as usize].clone(), p))
                    .collect()
            })
            .collect())
    }
}
