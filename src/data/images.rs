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

use super::split::SplitName;
use crate::spec::trial::{DatasetSource, OnBadFile};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

/// File extensions (lower case) read as images.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

/// Folder names that mark a `train/ val/ test/` layout, with the split each one means.
const SPLIT_DIRS: [(&str, SplitName); 5] = [
    ("train", SplitName::Train),
    ("val", SplitName::Val),
    ("valid", SplitName::Val),
    ("validation", SplitName::Val),
    ("test", SplitName::Test),
];

static DECODES: AtomicUsize = AtomicUsize::new(0);

/// Number of image files decoded (attempted) by this process so far; a load served from the
/// decode cache does not add to it.
pub fn decode_count() -> usize {
    DECODES.load(Ordering::Relaxed)
}

/// What one image-dataset load did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Image files decoded by this load.
    pub decoded: usize,
    /// Image files taken from the decode cache.
    pub reused: usize,
}

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

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.eq_ignore_ascii_case("thumbs.db") || name == "desktop.ini"
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Sub-folder names of `dir`, sorted; hidden ones left out.
fn sub_dirs(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_hidden(&name) && e.path().is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Lists a folder dataset: class folders directly under `root`, or under `train/`, `val/` and
/// `test/` (aliases `valid`, `validation`). Images are found recursively inside a class folder.
pub(crate) fn list_folder(root: &Path) -> Result<Listing> {
    if !root.is_dir() {
        bail!("{}: dataset folder not found", root.display());
    }
    let top = sub_dirs(root)?;
    let split_of = |name: &str| SPLIT_DIRS.iter().find(|(n, _)| *n == name).map(|p| p.1);
    let split_dirs: Vec<&String> = top.iter().filter(|n| split_of(n).is_some()).collect();
    let layout: Vec<(Option<SplitName>, PathBuf)> = if split_dirs.is_empty() {
        vec![(None, root.to_path_buf())]
    } else {
        let others: Vec<&String> = top.iter().filter(|n| split_of(n).is_none()).collect();
        if !others.is_empty() || !split_dirs.iter().any(|n| *n == "train") {
            bail!(
                "{}: the sub-folders mix split folders ({}) with class folders ({}); use either \
                 one folder per class, or train/ (and optionally val/, test/) each holding one \
                 folder per class",
                root.display(),
                split_dirs
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if others.is_empty() {
                    "none; train/ is missing".to_string()
                } else {
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
        }
        let mut seen: BTreeMap<SplitName, &str> = BTreeMap::new();
        for n in &split_dirs {
            let s = split_of(n).unwrap();
            if let Some(prev) = seen.insert(s, n) {
                bail!(
                    "{}: both {prev}/ and {n}/ are {} folders; keep one",
                    root.display(),
                    s.as_str()
                );
            }
        }
        split_dirs
            .iter()
            .map(|n| (split_of(n), root.join(n)))
            .collect()
    };
    // Class names: the union over the split folders, sorted.
    let mut names: BTreeSet<String> = BTreeSet::new();
    for (_, dir) in &layout {
        names.extend(sub_dirs(dir)?);
    }
    if names.is_empty() {
        bail!(
            "{}: no class folders found; put each class's images in a sub-folder named after \
             the class (e.g. {}/cat/001.png)",
            root.display(),
            root.display()
        );
    }
    let class_names: Vec<String> = names.into_iter().collect();
    let label_of: HashMap<&str, u32> = class_names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let mut entries = Vec::new();
    let mut ignored = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(&e.file_name().to_string_lossy()))
    {
        let e = e.with_context(|| format!("{}: cannot list", root.display()))?;
        if !e.file_type().is_file() {
            continue;
        }
        let rel_path = e.path().strip_prefix(root).unwrap_or(e.path());
        let rel = rel_string(rel_path);
        let parts: Vec<String> = rel.split('/').map(str::to_string).collect();
        // Which split and class folder this file lies in (if any).
        let (split, class) = match layout[0].0 {
            None => (None, (parts.len() >= 2).then(|| parts[0].clone())),
            Some(_) => {
                let s = split_of(&parts[0]);
                (
                    s,
                    (parts.len() >= 3 && s.is_some()).then(|| parts[1].clone()),
                )
            }
        };
        match (class, is_image(e.path())) {
            (Some(c), true) => entries.push(Entry {
                rel,
                label: label_of[c.as_str()],
                split,
            }),
            _ => ignored.push(rel),
        }
    }
    if entries.is_empty() {
        bail!(
            "{}: no image files found (extensions read: {})",
            root.display(),
            IMAGE_EXTENSIONS.join(", ")
        );
    }
    Ok(Listing {
        root: root.to_path_buf(),
        entries,
        class_names,
        ignored,
    })
}

/// Splits one CSV line into fields (RFC 4180: `"` quotes, `""` inside quotes is a quote).
/// `None` when a quote is left open.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => cur.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out.into_iter().map(|f| f.trim().to_string()).collect())
}

fn parse_split(s: &str) -> Option<SplitName> {
    SPLIT_DIRS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|p| p.1)
}

/// Lists a CSV-list dataset. Labels that are all non-negative integers are used as ids
/// (names `"0"`, `"1"`, ...); otherwise the distinct label texts, sorted, become ids `0..k`.
pub(crate) fn list_csv(
    path: &Path,
    image_column: &str,
    label_column: &str,
    split_column: Option<&str>,
) -> Result<Listing> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the CSV list", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        bail!(
            "{}: the CSV list is empty; it needs a header row ({image_column},{label_column}) \
             and one row per image",
            path.display()
        );
    };
    let header = csv_fields(header)
        .with_context(|| format!("{}: line 1: unclosed quote", path.display()))?;
    let col = |name: &str, what: &str| -> Result<usize> {
        header.iter().position(|h| h == name).with_context(|| {
            format!(
                "{}: no `{name}` column ({what}); the header has: {} (set `{}` in the grid)",
                path.display(),
                header.join(", "),
                match what {
                    "image paths" => "image_column",
                    "labels" => "label_column",
                    _ => "split_column",
                }
            )
        })
    };
    let ic = col(image_column, "image paths")?;
    let lc = col(label_column, "labels")?;
    let sc = match split_column {
        Some(s) => Some(col(s, "splits")?),
        None => header.iter().position(|h| h == "split"),
    };
    let mut rows: Vec<(String, String, Option<SplitName>)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines {
        let lineno = i + 1;
        let f = csv_fields(line)
            .with_context(|| format!("{}: line {lineno}: unclosed quote", path.display()))?;
        let get = |c: usize, what: &str| -> Result<String> {
            match f.get(c) {
                Some(v) if !v.is_empty() => Ok(v.clone()),
                _ => bail!(
                    "{}: line {lineno}: empty {what} (column {} `{}`)",
                    path.display(),
                    c + 1,
                    header[c]
                ),
            }
        };
        let img = get(ic, "image path")?.replace('\\', "/");
        let label = get(lc, "label")?;
        let split = match sc {
            None => None,
            Some(c) => {
                let v = get(c, "split")?;
                Some(parse_split(&v).with_context(|| {
                    format!(
                        "{}: line {lineno}: split `{v}` is not train, val or test",
                        path.display()
                    )
                })?)
            }
        };
        if let Some(prev) = seen.insert(img.clone(), lineno) {
            bail!(
                "{}: line {lineno}: image {img} is listed twice (also line {prev})",
                path.display()
            );
        }
        rows.push((img, label, split));
    }
    if rows.is_empty() {
        bail!("{}: the CSV list has a header but no rows", path.display());
    }
    let numeric: Option<Vec<u32>> = rows.iter().map(|r| r.1.parse::<u32>().ok()).collect();
    let (class_names, labels): (Vec<String>, Vec<u32>) = match numeric {
        Some(ids) => {
            let max = *ids.iter().max().unwrap();
            ((0..=max).map(|i| i.to_string()).collect(), ids)
        }
        None => {
            let names: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            let names: Vec<String> = names.into_iter().map(str::to_string).collect();
            let ids = rows
                .iter()
                .map(|r| names.binary_search(&r.1).unwrap() as u32)
                .collect();
            (names, ids)
        }
    };
    let root = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let entries = rows
        .into_iter()
        .zip(labels)
        .map(|((rel, _, split), label)| Entry { rel, label, split })
        .collect();
    Ok(Listing {
        root,
        entries,
        class_names,
        ignored: Vec::new(),
    })
}

/// Lists the files of an image-file dataset source (no decoding).
pub(crate) fn list(src: &DatasetSource) -> Result<Listing> {
    match src {
        DatasetSource::Folder { path, .. } => list_folder(path),
        DatasetSource::CsvList {
            path,
            image_column,
            label_column,
            split_column,
            ..
        } => list_csv(path, image_column, label_column, split_column.as_deref()),
        other => bail!("dataset {} is not an image-file dataset", other.label()),
    }
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

/// Decodes one file to `side * side` grayscale bytes.
pub(crate) fn decode_file(path: &Path, side: usize) -> std::result::Result<Vec<u8>, String> {
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
    let gray = img.to_luma8();
    let out = if gray.width() as usize == side && gray.height() as usize == side {
        gray
    } else {
        image::imageops::resize(
            &gray,
            side as u32,
            side as u32,
            image::imageops::FilterType::Triangle,
        )
    };
    Ok(out.into_raw())
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

/// The cache file of a dataset root and decode size.
fn cache_file(cache_dir: &Path, listing: &Listing, kind: &str, side: usize) -> PathBuf {
    let root = std::fs::canonicalize(&listing.root).unwrap_or_else(|_| listing.root.clone());
    let mut h = blake3::Hasher::new();
    h.update(b"thaw-decode-v1\0");
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(root.to_string_lossy().as_bytes());
    h.update(b"\0");
    h.update(&(side as u64).to_le_bytes());
    h.update(b"\0triangle-luma8");
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
    cache_dir.join(format!(
        "{name}-{side}px-{}.thawcache",
        &h.finalize().to_hex()[..16]
    ))
}

fn read_cache(path: &Path, side: usize) -> HashMap<String, CacheEntry> {
    fn parse(b: &[u8], side: usize) -> Option<HashMap<String, CacheEntry>> {
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
        let npix = side * side;
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
        Ok(_) => parse(&bytes, side).unwrap_or_else(|| {
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

/// Decodes every file of `listing` at `side`, reusing and updating the cache under
/// `cache_dir` (if any). Decoding runs on all available cores.
pub(crate) fn decode_all(
    listing: &Listing,
    kind: &str,
    side: usize,
    cache_dir: Option<&Path>,
) -> Result<Decoded> {
    let cpath = cache_dir.map(|d| cache_file(d, listing, kind, side));
    let mut cached = cpath
        .as_ref()
        .map(|p| read_cache(p, side))
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
                                        result: decode_file(&p, side),
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
