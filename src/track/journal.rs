//! Which SQLite journal a database file gets. WAL (many readers beside one writer, no fsync per
//! commit) needs shared memory between the processes using the file, which SQLite's
//! documentation says "does not work over a network filesystem"; on NFS, Lustre, GPFS, BeeGFS,
//! CephFS, SMB and FUSE mounts thaw uses the rollback journal instead. `THAW_JOURNAL=wal` or
//! `THAW_JOURNAL=delete` overrides the choice.

use std::path::Path;

/// `PRAGMA journal_mode` value for a database at `path`.
pub fn journal_mode(path: &Path) -> &'static str {
    match std::env::var("THAW_JOURNAL").ok().as_deref() {
        Some("wal") | Some("WAL") => "WAL",
        Some("delete") | Some("DELETE") => "DELETE",
        _ if on_network_filesystem(path) => "DELETE",
        _ => "WAL",
    }
}

/// Filesystem magic numbers (`statfs(2)`'s `f_type`) of network and cluster filesystems.
const NETWORK_FILESYSTEMS: [i64; 9] = [
    0x6969,      // NFS
    0x0BD0_0BD0, // Lustre
    0x4750_4653, // GPFS / Spectrum Scale
    0x1983_0326, // BeeGFS
    0x00C3_6400, // CephFS
    0xFF53_4D42, // CIFS
    0xFE53_4D42, // SMB2
    0x6573_5546, // FUSE (sshfs, gcsfuse, ...)
    0x0102_1997, // 9p (v9fs)
];

/// Whether the folder holding `path` is on a network or cluster filesystem.
pub fn on_network_filesystem(path: &Path) -> bool {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    filesystem_type(dir).is_some_and(|t| NETWORK_FILESYSTEMS.contains(&t))
}

fn filesystem_type(dir: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `stat` a valid out-parameter.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut stat) };
    #[allow(clippy::unnecessary_cast)]
    (rc == 0).then_some(stat.f_type as i64 & 0xFFFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_temporary_folder_gets_wal_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite");
        assert!(filesystem_type(dir.path()).is_some());
        if std::env::var_os("THAW_JOURNAL").is_none() && !on_network_filesystem(&db) {
            assert_eq!(journal_mode(&db), "WAL");
        }
        assert!(!on_network_filesystem(Path::new("/proc/self/status")));
    }
}
