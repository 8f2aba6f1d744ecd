//! The bundled datasets travel inside the binary (about 7 MB), so an installed `thaw` runs the
//! example grids from any folder. A bundled file is read from the data folder (`--data-dir`,
//! default `data`) when it is there, else from a copy of the embedded bytes written once to the
//! user cache ([`crate::paths::cache_home`]`/data`).

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Every bundled file: its path under the data folder and its bytes.
const FILES: [(&str, &[u8]); 9] = [
    (
        "mnist10k/mnist10k-images-idx3-ubyte.gz",
        include_bytes!("../../data/mnist10k/mnist10k-images-idx3-ubyte.gz"),
    ),
    (
        "mnist10k/mnist10k-labels-idx1-ubyte.gz",
        include_bytes!("../../data/mnist10k/mnist10k-labels-idx1-ubyte.gz"),
    ),
    (
        "fashion10k/t10k-images-idx3-ubyte.gz",
        include_bytes!("../../data/fashion10k/t10k-images-idx3-ubyte.gz"),
    ),
    (
        "fashion10k/t10k-labels-idx1-ubyte.gz",
        include_bytes!("../../data/fashion10k/t10k-labels-idx1-ubyte.gz"),
    ),
    (
        "digits8x8/digits.csv.gz",
        include_bytes!("../../data/digits8x8/digits.csv.gz"),
    ),
    (
        "vader/movieReviewSnippets_GroundTruth.txt.gz",
        include_bytes!("../../data/vader/movieReviewSnippets_GroundTruth.txt.gz"),
    ),
    (
        "vader/tweets_GroundTruth.txt.gz",
        include_bytes!("../../data/vader/tweets_GroundTruth.txt.gz"),
    ),
    (
        "vader/amazonReviewSnippets_GroundTruth.txt.gz",
        include_bytes!("../../data/vader/amazonReviewSnippets_GroundTruth.txt.gz"),
    ),
    (
        "vader/nytEditorialSnippets_GroundTruth.txt.gz",
        include_bytes!("../../data/vader/nytEditorialSnippets_GroundTruth.txt.gz"),
    ),
];

/// The path of the bundled file `rel` (e.g. `mnist10k/mnist10k-labels-idx1-ubyte.gz`): under
/// `data_dir` when it is there, else the user cache's copy of the embedded file (written now if
/// missing or of another size).
pub fn file(data_dir: &Path, rel: &str) -> Result<PathBuf> {
    let local = data_dir.join(rel);
    if local.is_file() {
        return Ok(local);
    }
    let Some((_, bytes)) = FILES.iter().find(|(name, _)| *name == rel) else {
        return Ok(local);
    };
    let copy = crate::paths::cache_home().join("data").join(rel);
    if copy.metadata().is_ok_and(|m| m.len() == bytes.len() as u64) {
        return Ok(copy);
    }
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(copy.parent().unwrap_or(Path::new(".")))?;
        let tmp = copy.with_extension(format!("{}.partial", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &copy)
    };
    write().with_context(|| {
        format!(
            "cannot write the bundled dataset file {} (from the binary) into the user cache; \
             set XDG_CACHE_HOME to a writable folder or point --data-dir at the project's data/ folder",
            copy.display()
        )
    })?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_data_folder_falls_back_to_the_embedded_bytes() {
        let empty = tempfile::tempdir().unwrap();
        for (rel, bytes) in FILES {
            let path = file(empty.path(), rel).unwrap();
            assert!(!path.starts_with(empty.path()));
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{rel}");
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let rel = FILES[4].0;
        assert_eq!(file(&repo, rel).unwrap(), repo.join(rel));
    }
}
