//! IDX readers (the MNIST file format), gzip-compressed or raw.
//!
//! Layout: a big-endian u32 magic (`0x00000803` images, `0x00000801` labels), one big-endian u32
//! per dimension (count, rows, cols for images; count for labels), then the bytes row-major.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads a file's bytes, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}: cannot read the file", path.display()))
}

/// Gunzips `bytes` when they start with the gzip magic `1f 8b`; otherwise returns them as is.
pub(crate) fn maybe_gunzip(path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{}: corrupt or truncated gzip data ({e}); re-copy the file",
                    path.display()
                )
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn check_magic(
    path: &Path,
    data: &[u8],
    expected: u32,
    what: &str,
    header_len: usize,
) -> Result<()> {
    if data.len() < 4 {
        bail!(
            "{}: truncated: {} bytes, not even an IDX magic number; re-copy the file",
            path.display(),
            data.len()
        );
    }
    let magic = be_u32(data, 0);
    if magic != expected {
        let hint = match magic {
            IMAGES_MAGIC => " (this is an IDX image file: are images and labels swapped?)",
            LABELS_MAGIC => " (this is an IDX label file: are images and labels swapped?)",
            _ => " (not an IDX file of unsigned bytes)",
        };
        bail!(
            "{}: bad magic number 0x{magic:08x}, expected 0x{expected:08x} for IDX {what}{hint}",
            path.display()
        );
    }
    if data.len() < header_len {
        bail!(
            "{}: truncated: an IDX {what} file starts with a {header_len}-byte header but the \
             file holds {} bytes; re-copy the file",
            path.display(),
            data.len()
        );
    }
    Ok(())
}

/// Images decoded from an IDX file.
pub(crate) struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Parses (already decompressed) IDX image bytes; `path` only names the file in errors.
pub(crate) fn parse_images(path: &Path, data: &[u8]) -> Result<IdxImages> {
    check_magic(path, data, IMAGES_MAGIC, "images", 16)?;
    let count = be_u32(data, 4) as usize;
    let rows = be_u32(data, 8) as usize;
    let cols = be_u32(data, 12) as usize;
    if count == 0 || rows == 0 || cols == 0 {
        bail!(
            "{}: header says {count} images of {rows}x{cols}: an empty dataset",
            path.display()
        );
    }
    let need = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .with_context(|| {
            format!(
                "{}: header says {count} images of {rows}x{cols}, an impossible size",
                path.display()
            )
        })?;
    let have = data.len() - 16;
    if have < need {
        bail!(
            "{}: truncated: header says {count} images of {rows}x{cols} ({need} bytes) but the \
             file holds {have} bytes after its 16-byte header; re-copy the file",
            path.display()
        );
    }
    if have > need {
        bail!(
            "{}: header says {count} images of {rows}x{cols} ({need} bytes) but the file holds \
             {have} bytes after its 16-byte header ({} extra); the file is damaged or not IDX",
            path.display(),
            have - need
        );
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: data[16..].to_vec(),
    })
}

/// Parses (already decompressed) IDX label bytes; `path` only names the file in errors.
pub(crate) fn parse_labels(path: &Path, data: &[u8]) -> Result<Vec<u32>> {
    check_magic(path, data, LABELS_MAGIC, "labels", 8)?;
    let count = be_u32(data, 4) as usize;
    let have = data.len() - 8;
    if have < count {
        bail!(
            "{}: truncated: header says {count} labels but the file holds {have} bytes after \
             its 8-byte header; re-copy the file",
            path.display()
        );
    }
    if have > count {
        bail!(
            "{}: header says {count} labels but the file holds {have} bytes after its 8-byte \
             header ({} extra); the file is damaged or not IDX",
            path.display(),
            have - count
        );
    }
    Ok(data[8..].iter().map(|&b| b as u32).collect())
}

/// A dataset read from a pair of IDX files, with the blake3 fingerprint of both files' bytes.
pub(crate) struct IdxPair {
    pub images: IdxImages,
    pub labels: Vec<u32>,
    pub fingerprint: String,
}

/// Reads an images/labels IDX pair (each gzip or raw) and checks the counts agree.
pub(crate) fn read_pair(images_path: &Path, labels_path: &Path) -> Result<IdxPair> {
    let img_bytes = read_file(images_path)?;
    let lab_bytes = read_file(labels_path)?;
    let mut h = blake3::Hasher::new();
    h.update(&img_bytes);
    h.update(&lab_bytes);
    let fingerprint = h.finalize().to_hex().to_string();
    let images = parse_images(images_path, &maybe_gunzip(images_path, img_bytes)?)?;
    let labels = parse_labels(labels_path, &maybe_gunzip(labels_path, lab_bytes)?)?;
    if images.count != labels.len() {
        bail!(
            "{} holds {} images but {} holds {} labels; the two files must belong together",
            images_path.display(),
            images.count,
            labels_path.display(),
            labels.len()
        );
    }
    Ok(IdxPair {
        images,
        labels,
        fingerprint,
    })
}

/// Encodes images and labels as IDX bytes (for the data tests).
#[cfg(all(test, feature = "train"))]
pub(crate) fn encode(
    count: usize,
    rows: usize,
    cols: usize,
    pixels: &[u8],
    labels: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    let mut img = Vec::new();
    img.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for d in [count, rows, cols] {
        img.extend_from_slice(&(d as u32).to_be_bytes());
    }
    img.extend_from_slice(pixels);
    let mut lab = Vec::new();
    lab.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    lab.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    lab.extend_from_slice(labels);
    (img, lab)
}
