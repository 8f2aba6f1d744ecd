//! Datasets: IDX/CSV readers, per-class splits and sampling, resizing and domain shifts.
//!
//! [`load_dataset`] reads a [`DatasetSource`] once per process (cached by the resolved source),
//! [`split_task`] gives fixed validation/test splits and seeded training samples, and
//! [`prepare_task`] turns a task into u8 tensors on the trial's device, resized and shifted.

mod csv;
mod idx;
mod resize;
mod shift;
mod split;

pub use resize::resize_image;
pub use shift::shift_image;
pub use split::{split_task, train_pool_sizes, TaskSplit};

use crate::spec::trial::{DatasetSource, Shift};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tch::{Device, Kind, Tensor};

/// Names of the datasets bundled under `data/`.
pub const BUNDLED: [&str; 3] = ["mnist10k", "fashion10k", "digits8x8"];

/// A whole labelled image dataset in memory, pixels as u8 0..=255, single channel.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub label: String,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// `count * height * width` bytes, row-major.
    pub pixels: Vec<u8>,
    pub labels: Vec<u32>,
    /// blake3 hex of the source file bytes (images then labels for IDX pairs).
    pub fingerprint: String,
}

impl Dataset {
    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.height * self.width;
        &self.pixels[i * n..(i + 1) * n]
    }
}

/// A source with bundled names resolved to files.
#[derive(Clone, Debug)]
enum Resolved {
    Idx {
        images: PathBuf,
        labels: PathBuf,
    },
    Csv {
        path: PathBuf,
        side: usize,
        max_value: f64,
    },
}

impl Resolved {
    fn cache_key(&self) -> String {
        let abs = |p: &Path| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        match self {
            Resolved::Idx { images, labels } => format!("idx\0{}\0{}", abs(images), abs(labels)),
            Resolved::Csv {
                path,
                side,
                max_value,
            } => format!("csv\0{}\0{side}\0{max_value}", abs(path)),
        }
    }

    fn files(&self) -> Vec<&Path> {
        match self {
            Resolved::Idx { images, labels } => vec![images, labels],
            Resolved::Csv { path, .. } => vec![path],
        }
    }
}

fn resolve(src: &DatasetSource, data_dir: &Path) -> Result<Resolved> {
    Ok(match src {
        DatasetSource::Bundled { name } => match name.as_str() {
            "mnist10k" => Resolved::Idx {
                images: data_dir.join("mnist10k/mnist10k-images-idx3-ubyte.gz"),
                labels: data_dir.join("mnist10k/mnist10k-labels-idx1-ubyte.gz"),
            },
            "fashion10k" => Resolved::Idx {
                images: data_dir.join("fashion10k/t10k-images-idx3-ubyte.gz"),
                labels: data_dir.join("fashion10k/t10k-labels-idx1-ubyte.gz"),
            },
            "digits8x8" => Resolved::Csv {
                path: data_dir.join("digits8x8/digits.csv.gz"),
                side: 8,
                max_value: 16.0,
            },
            other => bail!(
                "unknown bundled dataset \"{other}\"; bundled datasets are {} (or give IDX/CSV \
                 file paths)",
                BUNDLED.join(", ")
            ),
        },
        DatasetSource::Idx { images, labels } => Resolved::Idx {
            images: images.clone(),
            labels: labels.clone(),
        },
        DatasetSource::Csv {
            path,
            side,
            max_value,
        } => Resolved::Csv {
            path: path.clone(),
            side: *side,
            max_value: *max_value,
        },
    })
}

fn read(src: &DatasetSource, resolved: &Resolved) -> Result<Dataset> {
    let label = src.label();
    match resolved {
        Resolved::Idx { images, labels } => {
            let p = idx::read_pair(images, labels)?;
            Ok(Dataset {
                label,
                count: p.images.count,
                height: p.images.rows,
                width: p.images.cols,
                pixels: p.images.pixels,
                labels: p.labels,
                fingerprint: p.fingerprint,
            })
        }
        Resolved::Csv {
            path,
            side,
            max_value,
        } => {
            let c = csv::read_csv(path, *side, *max_value)?;
            Ok(Dataset {
                label,
                count: c.count,
                height: *side,
                width: *side,
                pixels: c.pixels,
                labels: c.labels,
                fingerprint: c.fingerprint,
            })
        }
    }
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Dataset>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Dataset>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (and caches per process, keyed by the resolved source) a dataset. Bundled names
/// resolve to files under `data_dir`.
pub fn load_dataset(src: &DatasetSource, data_dir: &Path) -> Result<Arc<Dataset>> {
    let resolved = resolve(src, data_dir)?;
    for f in resolved.files() {
        if !f.is_file() {
            if matches!(src, DatasetSource::Bundled { .. }) {
                bail!(
                    "{}: bundled dataset file not found; the bundled data lives in the \
                     project's data/ folder (point --data-dir at it; it is {} now)",
                    f.display(),
                    data_dir.display()
                );
            }
            bail!("{}: dataset file not found", f.display());
        }
    }
    let key = resolved.cache_key();
    // The lock is held while reading so that concurrent callers do not read the same files twice.
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ds) = map.get(&key) {
        return Ok(ds.clone());
    }
    let ds =
        Arc::new(read(src, &resolved).with_context(|| format!("loading dataset {}", src.label()))?);
    map.insert(key, ds.clone());
    Ok(ds)
}

/// A split as tensors on a device: images u8 `[N, 1, S, S]`, labels i64 `[N]` remapped so
/// `classes[i] -> i`.
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
    let npix = side * side;
    let mut pixels = Vec::with_capacity(indices.len() * npix);
    let mut labels = Vec::with_capacity(indices.len());
    let mut buf = Vec::with_capacity(npix);
    for &i in indices {
        resizer.run(ds.image(i), &mut buf);
        shift::apply(shift, &mut buf, side, i);
        pixels.extend(buf.iter().map(|&v| resize::to_u8(v)));
        labels.push(class_pos[&ds.labels[i]]);
    }
    (pixels, labels)
}

fn to_tensors(pixels: Vec<u8>, labels: Vec<i64>, side: usize, device: Device) -> TensorSet {
    let n = labels.len();
    let images = Tensor::from_slice(&pixels)
        .reshape([n as i64, 1, side as i64, side as i64])
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
        to_tensors(p, l, image_size, device)
    };
    Ok(TaskData {
        train: make(&split.train),
        val: make(&split.val),
        test: make(&split.test),
        num_classes: classes.len(),
    })
}

#[cfg(test)]
mod tests;
