//! A task as u8 tensors on the trial's device: split, resized, shifted, labels remapped.

use super::{resize, shift, split_task, Dataset};
use crate::spec::trial::Shift;
use anyhow::{bail, Result};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};

/// A split as tensors on a device: images u8 `[N, C, S, S]` (C = the dataset's channels),
/// labels i64 `[N]` remapped so `classes[i] -> i`.
#[derive(Debug)]
pub struct TensorSet {
    pub images: Tensor,
    pub labels: Tensor,
    pub len: usize,
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

/// Builds a task: split, resize every image to `image_size x image_size`, apply the shift (to
/// train, val and test alike), move to `device` once.
pub fn prepare_task(
    ds: &Dataset,
    classes: &[u32],
    train_per_class: Option<usize>,
    seed: u64,
    shift: &Shift,
    image_size: usize,
    device: Device,
) -> Result<TaskData> {
    if image_size == 0 {
        bail!("image_size must be at least 1");
    }
    let split = split_task(ds, classes, train_per_class, seed)?;
    let class_pos: HashMap<u32, i64> = classes
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as i64))
        .collect();
    let resizer = resize::Resizer::new(ds.height, ds.width, image_size, image_size);
    let make = |idx: &[usize]| {
        let (p, l) = build_set(ds, idx, &class_pos, &resizer, shift, image_size);
        to_tensors(p, l, ds.channels, image_size, device)
    };
    Ok(TaskData {
        train: make(&split.train),
        val: make(&split.val),
        test: make(&split.test),
        num_classes: classes.len(),
    })
}
