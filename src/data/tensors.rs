//! A task as tensors on the trial's device: split, shifted, labels remapped; images resized to
//! u8 pixels, texts tokenised to token ids.

use super::{resize, shift, split_task, Dataset};
use crate::spec::trial::Shift;
use anyhow::{bail, Result};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// A split as tensors on a device: images u8 `[N, C, S, S]` (C = the dataset's channels) or
/// token ids i64 `[N, L]` (L = the split's longest example, padding id 0), labels i64 `[N]`
/// remapped so `classes[i] -> i`.
#[derive(Debug)]
pub struct TensorSet {
    /// The examples: images or token ids.
    pub images: Tensor,
    pub labels: Tensor,
    pub len: usize,
}

impl TensorSet {
    /// The images' channels; 0 for token ids.
    pub fn channels(&self) -> usize {
        if self.images.dim() == 4 {
            self.images.size()[1] as usize
        } else {
            0
        }
    }

    /// Whether the examples are token ids.
    pub fn is_text(&self) -> bool {
        self.images.kind() == Kind::Int64
    }
}

/// The train/validation/test tensors of one task.
#[derive(Debug)]
pub struct TaskData {
    pub train: TensorSet,
    pub val: TensorSet,
    pub test: TensorSet,
    pub num_classes: usize,
}

/// Resizes and shifts the images at `indices`, returning u8 pixels and remapped labels.
fn build_set(
    ds: &Dataset,
    indices: &[usize],
    class_pos: &HashMap<u32, i64>,
    resizer: &resize::Resizer,
    shift: &Shift,
    side: usize,
) -> (Vec<u8>, Vec<i64>) {
    let npix = ds.channels * side * side;
    let mut pixels = Vec::with_capacity(indices.len() * npix);
    let mut labels = Vec::with_capacity(indices.len());
    let (mut buf, mut plane) = (Vec::with_capacity(npix), Vec::new());
    let in_plane = ds.height * ds.width;
    for &i in indices {
        buf.clear();
        for src in ds.image(i).chunks_exact(in_plane) {
            resizer.run(src, &mut plane);
            buf.extend_from_slice(&plane);
        }
        shift::apply(shift, &mut buf, ds.channels, side, i);
        pixels.extend(buf.iter().map(|&v| resize::to_u8(v)));
        labels.push(class_pos[&ds.labels[i]]);
    }
    (pixels, labels)
}

fn to_tensors(
    pixels: Vec<u8>,
    labels: Vec<i64>,
    channels: usize,
    side: usize,
    device: Device,
) -> TensorSet {
    let n = labels.len();
    let images = Tensor::from_slice(&pixels)
        .reshape([n as i64, channels as i64, side as i64, side as i64])
        .to_device(device);
    let labels = Tensor::from_slice(&labels).to_device(device);
    debug_assert_eq!(images.kind(), Kind::Uint8);
    TensorSet {
        images,
        labels,
        len: n,
    }
}

/// Turns texts into token ids: `[CLS]`-style markers included, at most `max_length` per text,
/// no padding, never the padding id 0.
pub trait Tokenize {
    /// The ids of every text.
    fn encode(&self, texts: &[&str], max_length: usize) -> Result<Vec<Vec<i64>>>;
}

/// How a dataset's examples become a network's input.
pub enum Encoding<'a> {
    /// Images resized to `side x side`.
    Pixels { side: usize },
    /// Texts tokenised, at most `max_length` tokens each.
    Tokens {
        tokenizer: &'a dyn Tokenize,
        max_length: usize,
    },
}

/// Tokenises the (shifted) texts at `indices` into ids padded with 0 to the longest of them.
fn build_text_set(
    ds: &Dataset,
    texts: &[String],
    indices: &[usize],
    class_pos: &HashMap<u32, i64>,
    shift: &Shift,
    (tokenizer, max_length): (&dyn Tokenize, usize),
    device: Device,
) -> Result<TensorSet> {
    let shifted: Vec<String> = indices
        .iter()
        .map(|&i| super::text::apply_text(shift, &texts[i], i))
        .collect();
    let refs: Vec<&str> = shifted.iter().map(String::as_str).collect();
    let ids = tokenizer.encode(&refs, max_length)?;
    let width = ids.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let mut flat = vec![0i64; ids.len() * width];
    for (row, x) in flat.chunks_exact_mut(width).zip(&ids) {
        row[..x.len()].copy_from_slice(x);
    }
    let labels: Vec<i64> = indices.iter().map(|&i| class_pos[&ds.labels[i]]).collect();
    let n = labels.len();
    Ok(TensorSet {
        images: Tensor::from_slice(&flat)
            .reshape([n as i64, width as i64])
            .to_device(device),
        labels: Tensor::from_slice(&labels).to_device(device),
        len: n,
    })
}

/// Builds an image task: [`prepare`] with images resized to `image_size x image_size`.
pub fn prepare_task(
    ds: &Dataset,
    classes: &[u32],
    train_per_class: Option<usize>,
    seed: u64,
    shift: &Shift,
    image_size: usize,
    device: Device,
) -> Result<TaskData> {
    let encoding = Encoding::Pixels { side: image_size };
    prepare(ds, classes, train_per_class, seed, shift, &encoding, device)
}

/// Builds a task: split, apply the shift (to train, val and test alike), encode the examples
/// as `encoding` says, move to `device` once.
pub fn prepare(
    ds: &Dataset,
    classes: &[u32],
    train_per_class: Option<usize>,
    seed: u64,
    shift: &Shift,
    encoding: &Encoding,
    device: Device,
) -> Result<TaskData> {
    let split = split_task(ds, classes, train_per_class, seed)?;
    let class_pos: HashMap<u32, i64> = classes
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as i64))
        .collect();
    let sets = match (encoding, &ds.text) {
        (Encoding::Pixels { side: 0 }, _) => bail!("image_size must be at least 1"),
        (Encoding::Pixels { side }, None) => {
            let resizer = resize::Resizer::new(ds.height, ds.width, *side, *side);
            let make = |idx: &[usize]| {
                let (p, l) = build_set(ds, idx, &class_pos, &resizer, shift, *side);
                to_tensors(p, l, ds.channels, *side, device)
            };
            [make(&split.train), make(&split.val), make(&split.test)]
        }
        (
            Encoding::Tokens {
                tokenizer,
                max_length,
            },
            Some(texts),
        ) => {
            let make = |idx: &[usize]| {
                let how = (*tokenizer, *max_length);
                build_text_set(ds, texts, idx, &class_pos, shift, how, device)
            };
            [make(&split.train)?, make(&split.val)?, make(&split.test)?]
        }
        (Encoding::Pixels { .. }, Some(_)) => bail!(
            "{} holds text, and this backbone reads images; use a text backbone (minilm_l6)",
            ds.label
        ),
        (Encoding::Tokens { .. }, None) => bail!(
            "{} holds images, and this backbone reads text; use an image backbone",
            ds.label
        ),
    };
    let [train, val, test] = sets;
    Ok(TaskData {
        train,
        val,
        test,
        num_classes: classes.len(),
    })
}
