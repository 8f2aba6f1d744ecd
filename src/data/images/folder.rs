//! Folder datasets: a folder per class, optionally under `train/ val/ test/`.

use super::{Entry, Listing, IMAGE_EXTENSIONS, SPLIT_DIRS};
use crate::data::split::SplitName;
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

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
