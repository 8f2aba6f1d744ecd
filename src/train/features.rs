//! Frozen-prefix outputs shared across trials: a trial whose first k blocks are frozen (and
//! whose data path has no random augmentation) computes the same prefix outputs as every other
//! trial with the same prefix weights, input images and precision. [`FeatureCache`] keeps them
//! in memory for the trials that follow in the process, and on disk, for other worker processes
//! and later runs, when they took long enough to compute that reading them back is cheaper.
//! Outputs larger than the memory budget are written to disk batch by batch and memory-mapped
//! (the page cache keeps what fits; the rest is read as batches need it).
//!
//! Entries are keyed by content: a hash of the prefix's architecture, input size and every
//! variable, of the input images, and of the precision. A changed checkpoint or dataset cannot
//! hit a stale entry.

use crate::model::Network;
use crate::spec::Precision;
use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tch::{Device, Tensor};

/// How often the cache served or computed prefix outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Sets computed (a miss).
    pub computed: usize,
    /// Sets found in memory.
    pub from_memory: usize,
    /// Sets read from the disk cache.
    pub from_disk: usize,
    /// Sets written to the disk cache.
    pub written: usize,
}

/// Prefix outputs by content key, in memory up to a byte budget (least recently used leave
/// first) and on disk for those that were slow to compute.
#[derive(Debug)]
pub struct FeatureCache {
    /// Folder of `<key>.raw` files; `None` keeps everything in memory.
    dir: Option<PathBuf>,
    /// Bytes of prefix outputs kept in memory.
    budget: usize,
    /// A set that took at least this long to compute is also written to disk.
    persist_after: Duration,
    /// `(key, outputs, bytes)`, most recently used last.
    entries: RefCell<Vec<(String, Tensor, usize)>>,
    stats: Cell<CacheStats>,
}

/// Default memory budget per process.
pub const MEMORY_BUDGET_BYTES: usize = 1 << 30;

/// Default compute time above which a set goes to disk: reading a file back runs at about a
/// gigabyte per second, so anything that took a second or more is cheaper to read than to redo.
pub const PERSIST_AFTER: Duration = Duration::from_secs(1);

impl FeatureCache {
    /// A cache keeping `budget` bytes in memory and writing sets that took at least
    /// `persist_after` to compute under `dir`.
    pub fn new(dir: Option<&Path>, budget: usize, persist_after: Duration) -> FeatureCache {
        FeatureCache {
            dir: dir.map(Path::to_path_buf),
            budget,
            persist_after,
            entries: RefCell::new(Vec::new()),
            stats: Cell::new(CacheStats::default()),
        }
    }

    /// How often the cache was used so far.
    pub fn stats(&self) -> CacheStats {
        self.stats.get()
    }

    /// Bytes of prefix outputs kept in memory; a larger set goes through
    /// [`FeatureCache::mapped_outputs`].
    pub fn memory_budget(&self) -> usize {
        self.budget
    }

    /// The outputs of the prefix `prefix` identifies ([`PrefixKey::new`]) on `images` (`rows`
    /// rows shaped like `sample`, one row of them), from memory, from disk or from `compute`.
    pub fn prefix_outputs(
        &self,
        prefix: &PrefixKey,
        images: &Tensor,
        sample: &Tensor,
        rows: usize,
        compute: impl FnOnce() -> Tensor,
    ) -> Tensor {
        let key = set_key(prefix, images);
        let mut stats = self.stats.get();
        let found = self
            .take_from_memory(&key)
            .inspect(|_| stats.from_memory += 1);
        let found = found.or_else(|| {
            self.map(&key, sample, rows)
                .map(|t| t.to_device(images.device()))
                .inspect(|_| stats.from_disk += 1)
        });
        let outputs = match found {
            Some(t) => t,
            None => {
                let started = Instant::now();
                let t = compute();
                stats.computed += 1;
                // A failed write (a full disk) only costs the saving.
                if started.elapsed() >= self.persist_after
                    && self
                        .write(&key, std::iter::once(t.shallow_clone()))
                        .is_some()
                {
                    stats.written += 1;
                }
                t
            }
        };
        self.stats.set(stats);
        self.keep(key, &outputs);
        outputs
    }

    /// Outputs too large for memory (`rows` rows shaped like `sample`): written once, batch by
    /// batch from `batches`, to the cache folder, and memory-mapped on the CPU. `None` without a
    /// cache folder or when the file cannot be written (the caller recomputes).
    pub fn mapped_outputs(
        &self,
        prefix: &PrefixKey,
        images: &Tensor,
        sample: &Tensor,
        rows: usize,
        batches: impl Iterator<Item = Tensor>,
    ) -> Option<Tensor> {
        let key = set_key(prefix, images);
        let mut stats = self.stats.get();
        let mapped = match self.map(&key, sample, rows) {
            Some(t) => {
                stats.from_disk += 1;
                t
            }
            None => {
                self.write(&key, batches)?;
                stats.computed += 1;
                stats.written += 1;
                self.map(&key, sample, rows)?
            }
        };
        self.stats.set(stats);
        Some(mapped)
    }

    /// Removes and returns the entry `key`, if in memory.
    fn take_from_memory(&self, key: &str) -> Option<Tensor> {
        let mut entries = self.entries.borrow_mut();
        let i = entries.iter().position(|(k, _, _)| k == key)?;
        Some(entries.remove(i).1)
    }

    /// Adds `outputs` as the most recently used entry, dropping the least recently used ones
    /// beyond the budget.
    fn keep(&self, key: String, outputs: &Tensor) {
        let bytes = outputs.numel() * outputs.kind().elt_size_in_bytes();
        if bytes > self.budget {
            return;
        }
        let mut entries = self.entries.borrow_mut();
        entries.push((key, outputs.shallow_clone(), bytes));
        let mut total: usize = entries.iter().map(|e| e.2).sum();
        while total > self.budget {
            total -= entries.remove(0).2;
        }
    }

    /// The file of set `key`: its rows' raw bytes, in order.
    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.raw")))
    }

    /// The set `key` memory-mapped on the CPU, `rows` rows shaped like `sample`; `None` when
    /// its file is absent or of another size (then it is computed again).
    fn map(&self, key: &str, sample: &Tensor, rows: usize) -> Option<Tensor> {
        let path = self.path(key)?;
        let numel = rows * sample.numel();
        let bytes = numel * sample.kind().elt_size_in_bytes();
        if std::fs::metadata(&path).ok()?.len() != bytes as u64 {
            return None;
        }
        let mut shape = sample.size();
        shape[0] = rows as i64;
        let opts = (sample.kind(), Device::Cpu);
        let mapped = Tensor::f_from_file(path.to_str()?, false, numel as i64, opts).ok()?;
        Some(mapped.view(shape.as_slice()))
    }

    /// Writes set `key` from `batches`, atomically (other processes map whole files or none).
    fn write(&self, key: &str, batches: impl Iterator<Item = Tensor>) -> Option<()> {
        let (dir, path) = (self.dir.as_ref()?, self.path(key)?);
        write_raw(dir, &path, batches).ok()
    }
}

/// Writes the batches' bytes, in order, to `path` through a temporary file in `dir`.
fn write_raw(
    dir: &Path,
    path: &Path,
    batches: impl Iterator<Item = Tensor>,
) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("{}.partial", std::process::id()));
    let written = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for batch in batches {
            let numel = batch.numel();
            let mut bytes = vec![0u8; numel * batch.kind().elt_size_in_bytes()];
            batch.copy_data_u8(&mut bytes, numel);
            out.write_all(&bytes)?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The cache key of one set: its prefix's key and its images.
fn set_key(prefix: &PrefixKey, images: &Tensor) -> String {
    let mut h = blake3::Hasher::new();
    h.update(prefix.0.as_bytes());
    hash_tensor(&mut h, images);
    h.finalize().to_hex()[..32].to_string()
}

/// What a frozen prefix computes, as a hash: the architecture, input size, the first `k`
/// blocks' variables and the precision. Computed once per trial (hashing a large backbone's
/// weights takes a while), then combined with each set's images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixKey(String);

impl PrefixKey {
    /// The key of `net`'s first `k` blocks run in `precision`.
    pub fn new(net: &Network, k: usize, precision: Precision) -> PrefixKey {
        let mut h = blake3::Hasher::new();
        h.update(net.kind.name().as_bytes());
        h.update(&(net.input_size().unwrap_or(0) as u64).to_le_bytes());
        h.update(&(k as u64).to_le_bytes());
        h.update(precision.name().as_bytes());
        for (name, t) in net.prefix_variables(k) {
            h.update(name.as_bytes());
            hash_tensor(&mut h, &t);
        }
        PrefixKey(h.finalize().to_hex().to_string())
    }
}

/// Feeds a tensor's kind, shape and bytes to `h`.
fn hash_tensor(h: &mut blake3::Hasher, t: &Tensor) {
    h.update(format!("{:?}{:?}", t.kind(), t.size()).as_bytes());
    let numel = t.numel();
    let mut bytes = vec![0u8; numel * t.kind().elt_size_in_bytes()];
    t.copy_data_u8(&mut bytes, numel);
    h.update(&bytes);
}
