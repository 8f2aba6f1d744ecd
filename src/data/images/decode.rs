//! Decoding image files, with the on-disk decode cache.

use super::{Listing, LoadStats};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

static DECODES: AtomicUsize = AtomicUsize::new(0);

/// Number of image files decoded (attempted) by this process so far; a load served from the
/// decode cache does not add to it.
pub fn decode_count() -> usize {
    DECODES.load(Ordering::Relaxed)
}

/// Size and modification time (nanoseconds since the epoch) of a file.
fn stat(p: &Path) -> Result<(u64, i128)> {
    let m = std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
    let mtime = m
        .modified()
        .ok()
        .map(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        })
        .unwrap_or(0);
    Ok((m.len(), mtime))
}

/// Decodes one file to `planes * side * side` bytes: 8-bit grayscale (luma) for 1 plane; red,
/// green and blue planes (channel-planar, CHW) for 3. Resized (stretched) with the Triangle
/// filter.
pub(crate) fn decode_file(
    path: &Path,
    side: usize,
    planes: usize,
) -> std::result::Result<Vec<u8>, String> {
    DECODES.fetch_add(1, Ordering::Relaxed);
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_decoder()
        .map_err(|e| e.to_string())?;
    // Camera JPEGs often store the rotation in EXIF; apply it as viewers do.
    let orientation = decoder.orientation().ok();
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    fn fit<P: image::Pixel<Subpixel = u8> + 'static>(
        img: image::ImageBuffer<P, Vec<u8>>,
        side: usize,
    ) -> image::ImageBuffer<P, Vec<u8>> {
        if img.width() as usize == side && img.height() as usize == side {
            img
        } else {
            let s = side as u32;
            image::imageops::resize(&img, s, s, image::imageops::FilterType::Triangle)
        }
    }
    if planes == 1 {
        return Ok(fit(img.to_luma8(), side).into_raw());
    }
    let rgb = fit(img.to_rgb8(), side);
    let npix = side * side;
    let mut out = vec![0u8; 3 * npix];
    for (i, px) in rgb.pixels().enumerate() {
        for (c, &v) in px.0.iter().enumerate() {
            out[c * npix + i] = v;
        }
    }
    Ok(out)
}

/// A cached decode of one file.
#[derive(Clone, Debug)]
struct CacheEntry {
    size: u64,
    mtime: i128,
    /// Pixels, or the decoder's message for a file that cannot be decoded.
    result: std::result::Result<Vec<u8>, String>,
}

const CACHE_MAGIC: &[u8; 8] = b"THAWDEC1";

/// The cache file of a dataset root, decode size and number of planes (grayscale and RGB
/// decodes of the same files are cached apart).
fn cache_file(
    cache_dir: &Path,
    listing: &Listing,
    kind: &str,
    side: usize,
    planes: usize,
) -> PathBuf {
    let root = std::fs::canonicalize(&listing.root).unwrap_or_else(|_| listing.root.clone());
    let mut h = blake3::Hasher::new();
    h.update(b"thaw-decode-v1\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(root.to_string_lossy().as_bytes());
    h.update(b"\0");
    h.update(&(side as u64).to_le_bytes());
    h.update(if planes == 1 {
        b"\0triangle-luma8".as_slice()
    } else {
        b"\0triangle-rgb8-planar".as_slice()
    });
    let name = listing
        .root
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>();
    let colour = if planes == 1 { "" } else { "-rgb" };
    cache_dir.join(format!(
        "{name}-{side}px{colour}-{}.thawcache",
        &h.finalize().to_hex()[..16]
    ))
}

fn read_cache(path: &Path, side: usize, planes: usize) -> HashMap<String, CacheEntry> {
    fn parse(b: &[u8], side: usize, planes: usize) -> Option<HashMap<String, CacheEntry>> {
        let mut pos = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = b.get(pos..pos + n)?;
            pos += n;
            Some(s)
        };
        if take(8)? != CACHE_MAGIC {
            return None;
        }
        let u64_ = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap());
        if u64_(take(8)?) != side as u64 {
            return None;
        }
        let n = u64_(take(8)?) as usize;
        let mut out = HashMap::with_capacity(n.min(1 << 20));
        let npix = planes * side * side;
        for _ in 0..n {
            let len = u64_(take(8)?) as usize;
            let rel = String::from_utf8(take(len)?.to_vec()).ok()?;
            let size = u64_(take(8)?);
            let mtime = i128::from_le_bytes(take(16)?.try_into().unwrap());
            let result = match take(1)?[0] {
                0 => Ok(take(npix)?.to_vec()),
                1 => {
                    let len = u64_(take(8)?) as usize;
                    Err(String::from_utf8_lossy(take(len)?).into_owned())
                }
                _ => return None,
            };
            out.insert(
                rel,
                CacheEntry {
                    size,
                    mtime,
                    result,
                },
            );
        }
        Some(out)
    }
    let mut bytes = Vec::new();
    match std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)) {
        Ok(_) => parse(&bytes, side, planes).unwrap_or_else(|| {
            eprintln!(
                "warning: {}: decode cache unreadable (damaged or from another version); \
                 decoding again",
                path.display()
            );
            HashMap::new()
        }),
        Err(_) => HashMap::new(),
    }
}

fn write_cache(path: &Path, side: usize, entries: &[(&str, &CacheEntry)]) -> Result<()> {
    let mut b = Vec::with_capacity(24 + entries.len() * (side * side + 64));
    b.extend_from_slice(CACHE_MAGIC);
    b.extend_from_slice(&(side as u64).to_le_bytes());
    b.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (rel, e) in entries {
        b.extend_from_slice(&(rel.len() as u64).to_le_bytes());
        b.extend_from_slice(rel.as_bytes());
        b.extend_from_slice(&e.size.to_le_bytes());
        b.extend_from_slice(&e.mtime.to_le_bytes());
        match &e.result {
            Ok(px) => {
                b.push(0);
                b.extend_from_slice(px);
            }
            Err(msg) => {
                b.push(1);
                b.extend_from_slice(&(msg.len() as u64).to_le_bytes());
                b.extend_from_slice(msg.as_bytes());
            }
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the cache folder", dir.display()))?;
    }
    // Write to a unique temporary file, then rename: readers never see a partial file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)
        .with_context(|| format!("{}: cannot write the decode cache", tmp.display()))?;
    f.write_all(&b)
        .with_context(|| format!("{}: cannot write the decode cache", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot write the decode cache", path.display()))?;
    Ok(())
}

/// Decoded pixels of a listing, in listing order, plus the bad files (relative path, message).
pub(crate) struct Decoded {
    pub pixels: Vec<Option<Vec<u8>>>,
    pub bad: Vec<(String, String)>,
    pub stats: LoadStats,
}

/// Decodes every file of `listing` at `side` to `planes` planes (see [`decode_file`]), reusing
/// and updating the cache under `cache_dir` (if any). Decoding runs on all available cores.
pub(crate) fn decode_all(
    listing: &Listing,
    kind: &str,
    side: usize,
    planes: usize,
    cache_dir: Option<&Path>,
) -> Result<Decoded> {
    let cpath = cache_dir.map(|d| cache_file(d, listing, kind, side, planes));
    let mut cached = cpath
        .as_ref()
        .map(|p| read_cache(p, side, planes))
        .unwrap_or_default();
    let cached_len = cached.len();
    let n = listing.entries.len();
    let mut results: Vec<Option<CacheEntry>> = vec![None; n];
    let mut todo: Vec<(usize, u64, i128)> = Vec::new();
    let mut stats = LoadStats::default();
    for (i, e) in listing.entries.iter().enumerate() {
        let (size, mtime) = stat(&listing.root.join(&e.rel)).with_context(|| {
            format!(
                "image {} listed by dataset {}",
                e.rel,
                listing.root.display()
            )
        })?;
        match cached.remove(&e.rel) {
            Some(c) if c.size == size && c.mtime == mtime => {
                results[i] = Some(c);
                stats.reused += 1;
            }
            _ => todo.push((i, size, mtime)),
        }
    }
    stats.decoded = todo.len();
    if !todo.is_empty() {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(todo.len());
        let chunk = todo.len().div_ceil(workers);
        let done: Vec<Vec<(usize, CacheEntry)>> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|&(i, size, mtime)| {
                                let p = listing.root.join(&listing.entries[i].rel);
                                (
                                    i,
                                    CacheEntry {
                                        size,
                                        mtime,
                                        result: decode_file(&p, side, planes),
                                    },
                                )
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a decode worker panicked"))
                .collect()
        });
        for (i, e) in done.into_iter().flatten() {
            results[i] = Some(e);
        }
    }
    let results: Vec<CacheEntry> = results.into_iter().map(Option::unwrap).collect();
    // Rewrite the cache when anything was decoded or a cached file is gone.
    if let Some(p) = &cpath {
        if stats.decoded > 0 || cached_len != n {
            let entries: Vec<(&str, &CacheEntry)> = listing
                .entries
                .iter()
                .map(|e| e.rel.as_str())
                .zip(results.iter())
                .collect();
            if let Err(e) = write_cache(p, side, &entries) {
                eprintln!("warning: {e:#}; images will be decoded again next time");
            }
        }
    }
    let mut bad = Vec::new();
    let pixels = results
        .into_iter()
        .zip(&listing.entries)
        .map(|(r, e)| match r.result {
            Ok(px) => Some(px),
            Err(msg) => {
                bad.push((e.rel.clone(), msg));
                None
            }
        })
        .collect();
    Ok(Decoded { pixels, bad, stats })
}
