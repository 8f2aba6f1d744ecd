//! Files the report writes: atomic replacement, and file-name-safe forms of user strings.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `contents` to a temporary file next to `path`, then renames it over `path`, so a
/// reader sees either the old file or the new one, never a partial one.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// A file-name-safe form of a user string: characters outside `[A-Za-z0-9._-]` become `_`;
/// a name made only of dots becomes underscores.
pub(crate) fn safe_name(s: &str) -> String {
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        "_".repeat(name.len().max(1))
    } else {
        name
    }
}

/// The report directory's name for a sweep: its `safe_name`; an error for a name that is
/// empty or only dots.
pub fn dir_name(sweep: &str) -> Result<String> {
    if sweep.is_empty() || sweep.chars().all(|c| c == '.') {
        bail!("sweep name \"{sweep}\" cannot be used as a report directory name");
    }
    Ok(safe_name(sweep))
}
