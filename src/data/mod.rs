//! Datasets: IDX/CSV readers, image folders and CSV lists of image files, text files (CSV, TSV,
//! JSON Lines), per-class splits and sampling, resizing, domain shifts and training-time
//! augmentation.
//!
//! [`load_dataset`] reads a [`DatasetSource`] once per process (cached by the resolved source;
//! [`load_dataset_cached`] also keeps decoded image files in an on-disk cache), [`split_task`]
//! gives fixed validation/test splits and seeded training samples ([`split_manifest`] lists their
//! files), [`prepare_task`] turns a task into u8 tensors on the trial's device, resized and
//! shifted, and [`augment`] randomly transforms a training batch on its device.

#[cfg(feature = "train")]
mod augment;
mod bundled;
mod csv;
mod idx;
mod images;
mod labels;
mod resize;
mod shift;
mod split;
mod table;
#[cfg(feature = "train")]
mod tensors;
mod text;

#[cfg(feature = "train")]
pub use augment::augment;
pub use images::{decode_count, decode_image, LoadStats, IMAGE_EXTENSIONS};
pub use resize::resize_image;
pub use shift::shift_image;
pub use split::{split_manifest, split_task, train_pool_sizes, SplitName, TaskSplit};
#[cfg(feature = "train")]
pub use tensors::{prepare, prepare_task, Encoding, TaskData, TensorSet, Tokenize};
pub use text::apply_text;

use crate::spec::trial::{
    Channels, DatasetSource, OnBadFile, TextLabel, TextSource, BUNDLED, SCORE_CLASSES,
};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A whole labelled dataset in memory: images (pixels as u8 0..=255, 1 (grayscale) or 3 (RGB)
/// channels) or texts.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub label: String,
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// 1 (grayscale) or 3 (red, green, blue).
    pub channels: usize,
    /// `count * channels * height * width` bytes: per image its channel planes (CHW), each
    /// row-major.
    pub pixels: Vec<u8>,
    pub labels: Vec<u32>,
    /// blake3 hex of the source file bytes (images then labels for IDX pairs); for image-file
    /// datasets, of the relative paths, labels, fixed splits, class names and decoded pixels;
    /// for text datasets, of the (decompressed) file bytes and the options that read them.
    pub fingerprint: String,
    /// Names of labels `0..k` (image-file and text datasets: the class folder names or label
    /// texts, sorted; `negative`, `positive` for score labels); `None` for datasets whose labels
    /// are bare numbers.
    pub class_names: Option<Vec<String>>,
    /// The file of every example, relative to the dataset root (image-file datasets); the id
    /// of every example, or `FILE:LINE` (text datasets).
    pub files: Option<Vec<String>>,
    /// The split of every example when the data fixes it (`train/ val/ test/` folders, a split
    /// column); `None` = thaw draws the split.
    pub fixed_split: Option<Vec<SplitName>>,
    /// Warnings raised while loading (files skipped or ignored), also printed to stderr.
    pub warnings: Vec<String>,
    /// The text of every example (text datasets; their `pixels` are then empty and `height`,
    /// `width` and `channels` 0); `None` for image datasets.
    pub text: Option<Vec<String>>,
}

impl Dataset {
    /// `3` or, where the dataset names its classes, `3 (dog)`.
    pub fn class_display(&self, label: u32) -> String {
        match self
            .class_names
            .as_ref()
            .and_then(|n| n.get(label as usize))
        {
            Some(name) if *name != label.to_string() => format!("{label} ({name})"),
            _ => label.to_string(),
        }
    }

    /// The name of `label`: the dataset's class name, or the label's number where it has none.
    pub fn class_name(&self, label: u32) -> String {
        self.class_names
            .as_ref()
            .and_then(|n| n.get(label as usize))
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }

    /// The pixels of image `i` (its channel planes, one after the other).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.channels * self.height * self.width;
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
    /// An image folder or CSV list, with the source's options.
    Images {
        src: DatasetSource,
        /// The folder or the CSV file.
        path: PathBuf,
    },
    /// A text file (bundled ones with their file found).
    Text(TextSource),
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
            Resolved::Images { src, path } => {
                // Augmentation does not change the loaded data.
                let mut src = src.clone();
                if let DatasetSource::Folder { images, .. }
                | DatasetSource::CsvList { images, .. } = &mut src
                {
                    images.augment = None;
                }
                format!(
                    "images\0{}\0{}",
                    abs(path),
                    serde_json::to_string(&src).unwrap_or_default()
                )
            }
            Resolved::Text(t) => format!(
                "text\0{}\0{}",
                abs(&t.path),
                serde_json::to_string(t).unwrap_or_default()
            ),
        }
    }

    fn files(&self) -> Vec<&Path> {
        match self {
            Resolved::Idx { images, labels } => vec![images, labels],
            Resolved::Csv { path, .. } => vec![path],
            Resolved::Images { .. } => vec![],
            Resolved::Text(t) => vec![&t.path],
        }
    }
}

fn resolve(src: &DatasetSource, data_dir: &Path) -> Result<Resolved> {
    let unknown = |name: &str| {
        anyhow::anyhow!(
            "unknown bundled dataset \"{name}\"; bundled datasets are {} (or give file paths)",
            BUNDLED.join(", ")
        )
    };
    if let DatasetSource::BundledText { name, neutral } = src {
        return text::bundled_source(name, *neutral, data_dir)?
            .map(Resolved::Text)
            .ok_or_else(|| unknown(name));
    }
    if let DatasetSource::Bundled { name } = src {
        if let Some(t) = text::bundled_source(name, 0.0, data_dir)? {
            return Ok(Resolved::Text(t));
        }
    }
    Ok(match src {
        DatasetSource::Bundled { name } => match name.as_str() {
            "mnist10k" => Resolved::Idx {
                images: bundled::file(data_dir, "mnist10k/mnist10k-images-idx3-ubyte.gz")?,
                labels: bundled::file(data_dir, "mnist10k/mnist10k-labels-idx1-ubyte.gz")?,
            },
            "fashion10k" => Resolved::Idx {
                images: bundled::file(data_dir, "fashion10k/t10k-images-idx3-ubyte.gz")?,
                labels: bundled::file(data_dir, "fashion10k/t10k-labels-idx1-ubyte.gz")?,
            },
            "digits8x8" => Resolved::Csv {
                path: bundled::file(data_dir, "digits8x8/digits.csv.gz")?,
                side: 8,
                max_value: 16.0,
            },
            other => return Err(unknown(other)),
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
        DatasetSource::Folder { path, .. } => {
            if !path.is_dir() {
                bail!(
                    "{}: dataset folder not found (a folder dataset is a folder holding one \
                     sub-folder of images per class)",
                    path.display()
                );
            }
            Resolved::Images {
                src: src.clone(),
                path: path.clone(),
            }
        }
        DatasetSource::CsvList { path, .. } => {
            if !path.is_file() {
                bail!("{}: CSV list not found", path.display());
            }
            Resolved::Images {
                src: src.clone(),
                path: path.clone(),
            }
        }
        DatasetSource::Text(t) => Resolved::Text(t.clone()),
        DatasetSource::BundledText { name, .. } => return Err(unknown(name)),
    })
}

/// Class names of an image-file or text dataset (folder names or label texts, sorted: the name
/// at position `i` is label `i`; [`SCORE_CLASSES`] for score labels), found without decoding
/// any image (a text file with a label column is read). `None` for other datasets.
pub fn class_names(src: &DatasetSource) -> Result<Option<Vec<String>>> {
    let score = || Some(SCORE_CLASSES.map(String::from).to_vec());
    match src {
        DatasetSource::Folder { .. } | DatasetSource::CsvList { .. } => {
            Ok(Some(images::list(src)?.class_names))
        }
        DatasetSource::Text(TextSource {
            label: TextLabel::Column(_),
            ..
        }) => Ok(load_dataset(src, Path::new("."))?.class_names.clone()),
        _ if src.is_text() => Ok(score()),
        _ => Ok(None),
    }
}

/// The dataset files on disk, as grid validation reads them (class names of image datasets).
pub struct Files;

impl crate::spec::ClassCatalog for Files {
    fn class_names(&self, dataset: &DatasetSource) -> Result<Option<Vec<String>>> {
        class_names(dataset)
    }
}

/// Reads an image-file dataset, decoding through the cache under `cache_dir` (if any).
pub(crate) fn read_images(
    src: &DatasetSource,
    cache_dir: Option<&Path>,
) -> Result<(Dataset, LoadStats)> {
    let opts = src
        .image_options()
        .context("not an image-file dataset")?
        .clone();
    let side = opts.decode_side();
    if !(1..=4096).contains(&side) {
        bail!("decode_size must be between 1 and 4096, got {side}");
    }
    let listing = images::list(src)?;
    let kind = match src {
        DatasetSource::Folder { .. } => "folder",
        _ => "csv_list",
    };
    let planes = match opts.channels {
        Channels::One => 1,
        Channels::Three | Channels::Auto => 3,
    };
    let mut decoded = images::decode_all(&listing, kind, side, planes, cache_dir)?;
    let npix = side * side;
    // `auto` keeps one plane when no image has colour: R = G = B there, and each plane equals
    // the grayscale decode (so such a dataset is what `channels: 1` gives, fingerprint too).
    let channels = if opts.channels == Channels::Auto
        && !decoded
            .pixels
            .iter()
            .flatten()
            .any(|px| has_colour(px, npix))
    {
        for px in decoded.pixels.iter_mut().flatten() {
            px.truncate(npix);
        }
        1
    } else {
        planes
    };
    let mut warnings = Vec::new();
    if !listing.ignored.is_empty() {
        const SHOWN: usize = 20;
        let mut w = format!(
            "{}: {} file{} ignored (not an image file inside a class folder; images are {}): {}",
            listing.root.display(),
            listing.ignored.len(),
            if listing.ignored.len() == 1 { "" } else { "s" },
            IMAGE_EXTENSIONS.join(", "),
            listing
                .ignored
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        if listing.ignored.len() > SHOWN {
            w.push_str(&format!(" and {} more", listing.ignored.len() - SHOWN));
        }
        warnings.push(w);
    }
    let on_bad: OnBadFile = opts.on_bad_file;
    if let Some(w) = images::handle_bad(&listing.root, &decoded.bad, on_bad)? {
        warnings.push(w);
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let kept = decoded.pixels.iter().filter(|p| p.is_some()).count();
    if kept == 0 {
        bail!("{}: no image could be decoded", listing.root.display());
    }
    let mut pixels = Vec::with_capacity(kept * channels * npix);
    let mut labels = Vec::with_capacity(kept);
    let mut files = Vec::with_capacity(kept);
    let mut splits = Vec::with_capacity(kept);
    let mut h = blake3::Hasher::new();
    h.update(b"thaw-images-v1\0");
    h.update(&(side as u64).to_le_bytes());
    if channels != 1 {
        h.update(b"rgb\0");
    }
    for name in &listing.class_names {
        h.update(&(name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
    }
    for (e, px) in listing.entries.iter().zip(decoded.pixels) {
        let Some(px) = px else { continue };
        h.update(&(e.rel.len() as u64).to_le_bytes());
        h.update(e.rel.as_bytes());
        h.update(&e.label.to_le_bytes());
        h.update(&[e.split.map_or(0, |s| s as u8 + 1)]);
        h.update(&px);
        pixels.extend_from_slice(&px);
        labels.push(e.label);
        files.push(e.rel.clone());
        splits.push(e.split);
    }
    let fixed_split = if splits.iter().all(Option::is_some) {
        Some(splits.into_iter().map(Option::unwrap).collect())
    } else if splits.iter().all(Option::is_none) {
        None
    } else {
        bail!(
            "{}: some images have a split and some do not; give every row a split (train, val \
             or test) or none",
            listing.root.display()
        );
    };
    let ds = Dataset {
        label: src.label(),
        count: labels.len(),
        height: side,
        width: side,
        channels,
        pixels,
        labels,
        fingerprint: h.finalize().to_hex().to_string(),
        class_names: Some(listing.class_names),
        files: Some(files),
        fixed_split,
        warnings,
        text: None,
    };
    Ok((ds, decoded.stats))
}

/// Whether a channel-planar RGB image (`3 * npix` bytes) has a pixel whose channels differ.
fn has_colour(px: &[u8], npix: usize) -> bool {
    let (r, rest) = px.split_at(npix);
    let (g, b) = rest.split_at(npix);
    r.iter().zip(g).zip(b).any(|((r, g), b)| r != g || g != b)
}

fn read(src: &DatasetSource, resolved: &Resolved, cache_dir: Option<&Path>) -> Result<Dataset> {
    let label = src.label();
    match resolved {
        Resolved::Idx { images, labels } => {
            let p = idx::read_pair(images, labels)?;
            Ok(Dataset {
                label,
                count: p.images.count,
                height: p.images.rows,
                width: p.images.cols,
                channels: 1,
                pixels: p.images.pixels,
                labels: p.labels,
                fingerprint: p.fingerprint,
                class_names: None,
                files: None,
                fixed_split: None,
                warnings: Vec::new(),
                text: None,
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
                channels: 1,
                pixels: c.pixels,
                labels: c.labels,
                fingerprint: c.fingerprint,
                class_names: None,
                files: None,
                fixed_split: None,
                warnings: Vec::new(),
                text: None,
            })
        }
        Resolved::Images { src, .. } => Ok(read_images(src, cache_dir)?.0),
        Resolved::Text(t) => text::read(label, t),
    }
}

fn cache() -> &'static Mutex<HashMap<String, Arc<Dataset>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Dataset>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (and caches per process, keyed by the resolved source) a dataset. Bundled names
/// resolve to files under `data_dir`. Image files are decoded without an on-disk cache; see
/// [`load_dataset_cached`].
pub fn load_dataset(src: &DatasetSource, data_dir: &Path) -> Result<Arc<Dataset>> {
    load_dataset_cached(src, data_dir, None)
}

/// [`load_dataset`], keeping decoded image files (folder and CSV-list datasets) in an on-disk
/// cache under `cache_dir`: one file per dataset and decode size, one entry per image keyed by
/// its path, size and modification time, so only new or changed files are decoded. Within a
/// process a dataset is read once; files changed while the process runs are not seen.
pub fn load_dataset_cached(
    src: &DatasetSource,
    data_dir: &Path,
    cache_dir: Option<&Path>,
) -> Result<Arc<Dataset>> {
    let resolved = resolve(src, data_dir)?;
    for f in resolved.files() {
        if !f.is_file() {
            bail!(
                "{}: dataset file not found; check the path (a relative path is relative to \
                 the grid file's folder)",
                f.display()
            );
        }
    }
    let key = resolved.cache_key();
    // The lock is held while reading so that concurrent callers do not read the same files twice.
    let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ds) = map.get(&key) {
        return Ok(ds.clone());
    }
    let ds = Arc::new(
        read(src, &resolved, cache_dir)
            .with_context(|| format!("loading dataset {}", src.label()))?,
    );
    map.insert(key, ds.clone());
    Ok(ds)
}

#[cfg(all(test, feature = "train"))]
mod tests;
#[cfg(all(test, feature = "train"))]
pub(crate) mod tests_images;
