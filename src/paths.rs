//! Where thaw keeps files outside the folder it runs in, following the XDG base directories:
//! the user cache `$XDG_CACHE_HOME/thaw` (else `~/.cache/thaw`) holds converted weights
//! (`$THAW_WEIGHTS` overrides) and the bundled datasets when no data folder has them.

use crate::spec::{BackboneKind, Weights};
use anyhow::{bail, Result};
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

/// Folder of converted weights: `$THAW_WEIGHTS`, else `weights/` in [`cache_home`] (where
/// `make weights` writes).
pub fn weights_dir() -> PathBuf {
    match std::env::var_os("THAW_WEIGHTS") {
        Some(dir) => PathBuf::from(dir),
        None => cache_home().join("weights"),
    }
}

/// The file `weights: imagenet` means for `kind` (only EfficientNet-Lite0 ships them).
pub fn imagenet_weights_path(kind: BackboneKind) -> Result<PathBuf> {
    if kind != BackboneKind::EfficientnetLite0 {
        bail!(
            "`imagenet` weights are provided for efficientnet_lite0 only; for {kind} give a \
             safetensors file of a torchvision state_dict (see the README)"
        );
    }
    Ok(weights_dir().join(LITE0_IMAGENET_FILE))
}

/// The file a `Weights` value names (`File` paths are taken as given).
pub fn resolve_weights(kind: BackboneKind, weights: &Weights) -> Result<PathBuf> {
    match weights {
        Weights::Imagenet => imagenet_weights_path(kind),
        Weights::File(p) => Ok(p.clone()),
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
        assert!(imagenet_weights_path(BackboneKind::Resnet18).is_err());
        assert!(imagenet_weights_path(BackboneKind::EfficientnetLite0)
            .unwrap()
            .ends_with(LITE0_IMAGENET_FILE));
    }
}
