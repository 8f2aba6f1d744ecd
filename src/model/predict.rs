//! `thaw predict`: top-5 classes of image files under a backbone that keeps its original
//! classifier, to check at a glance that a weights file loads and means what it should.

use super::{weights, Head, Network};
use crate::spec::BackboneKind;
use anyhow::{bail, Context, Result};
use image::imageops::FilterType;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// The 1000 ImageNet-1k class names in index order. Source: torchvision 0.26
/// (`torchvision/models/_meta.py`, `_IMAGENET_CATEGORIES`), BSD-3-Clause.
const IMAGENET_LABELS: &str = include_str!("imagenet_labels.txt");

/// One predicted class: (class index, label, probability).
pub type Prediction = (usize, String, f64);

/// The ImageNet-1k class names, index order.
pub fn imagenet_labels() -> Vec<&'static str> {
    IMAGENET_LABELS.lines().collect()
}

/// Reads an image file as RGB, resizes its shorter side to `size * 256 / 224` (Triangle
/// filter) and crops the centre `size × size`: the usual ImageNet evaluation transform.
/// Returns u8 `[3, size, size]`.
pub fn load_image(path: &Path, size: usize) -> Result<Tensor> {
    let img = image::open(path)
        .with_context(|| format!("cannot read image {}", path.display()))?
        .to_rgb8();
    let (w, h) = img.dimensions();
    let short = (size * 256 / 224) as f64;
    let scale = short / w.min(h) as f64;
    let (nw, nh) = (
        ((w as f64 * scale).round() as u32).max(size as u32),
        ((h as f64 * scale).round() as u32).max(size as u32),
    );
    let resized = image::imageops::resize(&img, nw, nh, FilterType::Triangle);
    let (x0, y0) = ((nw - size as u32) / 2, (nh - size as u32) / 2);
    let crop = image::imageops::crop_imm(&resized, x0, y0, size as u32, size as u32).to_image();
    Ok(Tensor::from_slice(crop.as_raw())
        .view([size as i64, size as i64, 3])
        .permute([2, 0, 1]))
}

/// Top-5 (index, label, probability) of every image under `backbone` with `weights` and its
/// original classifier, on `device`. Labels are ImageNet's when the classifier has 1000
/// classes, `class N` otherwise. `input_size` overrides the backbone's default (224).
pub fn predict(
    backbone: BackboneKind,
    weights_file: &Path,
    images: &[PathBuf],
    input_size: Option<usize>,
    device: Device,
) -> Result<Vec<Vec<Prediction>>> {
    let Some(classes) = weights::classifier_classes(backbone, weights_file)? else {
        bail!(
            "weights file {} has no classifier for {backbone} (or {backbone} takes no weights files); \
             predict needs the original head",
            weights_file.display()
        );
    };
    let mut net = Network::new(backbone, device, Some(classes), None);
    if let Some(s) = input_size {
        net.set_input_size(s);
    }
    net.load_weights(weights_file)?;
    let size = net.input_size().unwrap_or(224);
    let labels = imagenet_labels();
    let mut out = Vec::with_capacity(images.len());
    for path in images {
        let x = load_image(path, size)?.unsqueeze(0).to_device(device);
        let probs = tch::no_grad(|| {
            let x = net.prepare_input(&x);
            net.logits(&net.features(&x, net.n_blocks(), false), Head::Source)
                .to_kind(Kind::Double)
                .softmax(-1, Kind::Double)
                .squeeze_dim(0)
                .to_device(Device::Cpu)
        });
        let (values, indices) = probs.topk(5.min(classes as i64), -1, true, true);
        let values = Vec::<f64>::try_from(values)?;
        let indices = Vec::<i64>::try_from(indices)?;
        out.push(
            indices
                .into_iter()
                .zip(values)
                .map(|(i, p)| {
                    let i = i as usize;
                    let label = match labels.get(i) {
                        Some(l) if classes == labels.len() => l.to_string(),
                        _ => format!("class {i}"),
                    };
                    (i, label, p)
                })
                .collect(),
        );
    }
    Ok(out)
}
