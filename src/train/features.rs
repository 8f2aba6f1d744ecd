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
    /// Folder of `<key>.safetensors` files; `None` keeps everything in memory.
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

    /// The outputs of the prefix `prefix` identifies ([`PrefixKey::new`]) on `images`, from
    /// memory, from disk or from `compute`.
    pub fn prefix_outputs(
        &self,
        prefix: &PrefixKey,
        images: &Tensor,
        compute: impl FnOnce() -> Tensor,
    ) -> Tensor {
        let key = set_key(prefix, images);
        let device = images.device();
        let mut stats = self.stats.get();
        let found = self
            .take_from_memory(&key)
            .inspect(|_| stats.from_memory += 1);
        let found = found.or_else(|| {
            self.read_from_disk(&key, device)
                .inspect(|_| stats.from_disk += 1)
        });
        let outputs = match found {
            Some(t) => t,
            None => {
                let started = Instant::now();
                let t = compute();
                stats.computed += 1;
                if started.elapsed() >= self.persist_after && self.write_to_disk(&key, &t) {
                    stats.written += 1;
                }
                t
            }
        };
        self.stats.set(stats);
        self.keep(key, &outputs);
        outputs
    }

    /// Outputs too large for memory, `rows` rows shaped like `sample` (one row): written once,
    /// batch by batch from `batches`, to `<key>.raw` in the cache folder (atomically, so other
    /// processes and later runs map the same file), and memory-mapped on the CPU. `None`
    /// without a cache folder or when the file cannot be written (the caller recomputes).
    pub fn mapped_outputs(
        &self,
        prefix: &PrefixKey,
        images: &Tensor,
        sample: &Tensor,
        rows: usize,
        batches: impl Iterator<Item = Tensor>,
    ) -> Option<Tensor> {
        let dir = self.dir.as_ref()?;
        let path = dir.join(format!("{}.raw", set_key(prefix, images)));
        let kind = sample.kind();
        let row_numel = sample.numel();
        let bytes = (rows * row_numel * kind.elt_size_in_bytes()) as u64;
        let mut stats = self.stats.get();
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes) {
            stats.from_disk += 1;
        } else {
            write_raw(dir, &path, batches).ok()?;
            stats.computed += 1;
            stats.written += 1;
        }
        self.stats.set(stats);
        let mut shape = sample.size();
        shape[0] = rows as i64;
        let name = path.to_str()?;
        let mapped =
            Tensor::f_from_file(name, false, (rows * row_numel) as i64, (kind, Device::Cpu))
                .ok()?;
        Some(mapped.view(shape.as_slice()))
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

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{key}.safetensors")))
    }

    /// The outputs stored under `key` on `device`; `None` when absent or unreadable (then they
    /// are computed again).
    fn read_from_disk(&self, key: &str, device: Device) -> Option<Tensor> {
        let path = self.path(key)?;
        if !path.exists() {
            return None;
        }
        let mut tensors = Tensor::read_safetensors(&path).ok()?;
        let i = tensors.iter().position(|(n, _)| n == "outputs")?;
        Some(tensors.swap_remove(i).1.to_device(device))
    }

    /// Writes `outputs` under `key` atomically (other processes read whole files or none).
    /// A failure (a full disk) only costs the saving, so it is not an error.
    fn write_to_disk(&self, key: &str, outputs: &Tensor) -> bool {
        let Some(path) = self.path(key) else {
            return false;
        };
        let tmp = path.with_extension(format!("{}.partial.safetensors", std::process::id()));
        let cpu = outputs.to_device(Device::Cpu).contiguous();
        let written = path
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && Tensor::write_safetensors(&[("outputs", &cpu)], &tmp).is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !written {
            let _ = std::fs::remove_file(&tmp);
        }
        written
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
