//! Where thaw keeps files outside the folder it runs in, following the XDG base directories:
//! the user cache `$XDG_CACHE_HOME/thaw` (else `~/.cache/thaw`) holds converted weights
//! (`$THAW_WEIGHTS` overrides) and the bundled datasets when no data folder has them.

use std::path::PathBuf;

/// thaw's user cache folder: `$XDG_CACHE_HOME/thaw`, else `$HOME/.cache/thaw`.
pub fn cache_home() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("thaw");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache/thaw")
}

/// File name of the converted ImageNet EfficientNet-Lite0 weights in the weights folder.
pub const LITE0_IMAGENET_FILE: &str = "efficientnet_lite0_imagenet.safetensors";

/// Folder of the all-MiniLM-L6-v2 files (`model.safetensors`, `tokenizer.json`, `vocab.txt`,
/// `config.json`, the model card `README.md`) in the weights folder.
pub const MINILM_DIR: &str = "all-MiniLM-L6-v2";

/// [`MINILM_DIR`] in [`weights_dir`] (where `make weights` extracts it).
pub fn minilm_dir() -> PathBuf {
    weights_dir().join(MINILM_DIR)
}

/// Folder of converted weights: `$THAW_WEIGHTS`, else `weights/` in [`cache_home`] (where
/// `make weights` writes).
pub fn weights_dir() -> PathBuf {
    match std::env::var_os("THAW_WEIGHTS") {
        Some(dir) => PathBuf::from(dir),
        None => cache_home().join("weights"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_follows_xdg_and_the_weights_folder_can_be_moved() {
        // Read-only checks of the environment this test runs in (changing it would race with
        // other tests).
        let home = cache_home();
        assert!(home.ends_with("thaw"), "{}", home.display());
        match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(xdg) => assert_eq!(home, PathBuf::from(xdg).join("thaw")),
            None => assert!(home.ends_with(".cache/thaw")),
        }
        if std::env::var_os("THAW_WEIGHTS").is_none() {
            assert_eq!(weights_dir(), home.join("weights"));
        }
    }
}
