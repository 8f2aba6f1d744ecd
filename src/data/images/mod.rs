//! Image-file datasets: a folder per class (optionally under `train/ val/ test/`) or a CSV list
//! of paths and labels, decoded with the `image` crate.
//!
//! Decoding: PNG, JPEG, BMP, TIFF and WebP (chosen by content, not by extension); converted to
//! 8-bit grayscale with `image`'s luma weights (Rec. 709: 0.2126 R + 0.7152 G + 0.0722 B; alpha
//! is ignored; 16-bit samples are scaled to 8 bits; an EXIF orientation is applied) and resized, stretching to a square, to
//! `decode_size x decode_size` with the Triangle filter (bilinear; when shrinking, its support
//! widens so that it averages the covered area). thaw's backbones take one channel today.
//!
//! Decoded images are cached on disk, one file per dataset and decode size, with one entry per
//! image file keyed by its relative path, size and modification time: a second load decodes
//! nothing, and a changed or added file is the only one decoded again. Files that cannot be
//! decoded are cached as such (with the decoder's message), so they are reported again without
//! decoding them again.

mod csv;
mod decode;
mod folder;

use super::split::SplitName;
use crate::spec::trial::{DatasetSource, OnBadFile};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

pub(crate) use decode::decode_all;
pub use decode::decode_count;

/// Decodes one image file as a dataset decoded at `side` with `planes` channels holds it:
/// `planes * side * side` bytes, channel-planar (see [`decode::decode_file`]).
pub fn decode_image(path: &Path, side: usize, planes: usize) -> Result<Vec<u8>> {
    decode::decode_file(path, side, planes)
        .map_err(|e| anyhow::anyhow!("cannot decode the image {}: {e}", path.display()))
}

/// File extensions (lower case) read as images.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

/// What one image-dataset load did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Image files decoded by this load.
    pub decoded: usize,
    /// Image files taken from the decode cache.
    pub reused: usize,
}

/// Folder names that mark a `train/ val/ test/` layout, with the split each one means.
pub(crate) const SPLIT_DIRS: [(&str, SplitName); 5] = [
    ("train", SplitName::Train),
    ("val", SplitName::Val),
    ("valid", SplitName::Val),
    ("validation", SplitName::Val),
    ("test", SplitName::Test),
];

/// One image file of a dataset.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Path relative to the dataset root (the folder, or the CSV's folder), `/`-separated.
    pub rel: String,
    pub label: u32,
    pub split: Option<SplitName>,
}

/// The image files of a dataset, found without decoding anything.
#[derive(Clone, Debug)]
pub(crate) struct Listing {
    /// Relative paths are relative to this folder.
    pub root: PathBuf,
    pub entries: Vec<Entry>,
    /// Names of labels `0..k`.
    pub class_names: Vec<String>,
    /// Files that are not images (by extension), relative paths; reported, not read.
    pub ignored: Vec<String>,
}

/// Lists the files of an image-file dataset source (no decoding).
pub(crate) fn list(src: &DatasetSource) -> Result<Listing> {
    match src {
        DatasetSource::Folder { path, .. } => folder::list_folder(path),
        DatasetSource::CsvList {
            path,
            image_column,
            label_column,
            split_column,
            ..
        } => csv::list_csv(path, image_column, label_column, split_column.as_deref()),
        other => bail!("dataset {} is not an image-file dataset", other.label()),
    }
}

/// The message listing every bad file.
pub(crate) fn bad_files_message(root: &Path, bad: &[(String, String)]) -> String {
    let mut s = format!(
        "{}: {} image file{} cannot be decoded:",
        root.display(),
        bad.len(),
        if bad.len() == 1 { "" } else { "s" }
    );
    for (rel, msg) in bad {
        s.push_str(&format!("\n  {rel}: {msg}"));
    }
    s
}

/// What to do with the bad files of a decode: the error, or the warning for skipped files.
pub(crate) fn handle_bad(
    root: &Path,
    bad: &[(String, String)],
    on_bad_file: OnBadFile,
) -> Result<Option<String>> {
    if bad.is_empty() {
        return Ok(None);
    }
    let list = bad_files_message(root, bad);
    match on_bad_file {
        OnBadFile::Error => bail!(
            "{list}\nfix or remove these files, or set `on_bad_file: skip` on the dataset to \
             leave them out"
        ),
        OnBadFile::Skip => Ok(Some(format!("{list}\nleft out (on_bad_file: skip)"))),
    }
}
