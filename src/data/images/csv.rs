//! CSV-list datasets: a CSV of image paths, labels and optional splits (RFC 4180, read as the
//! CSV text datasets are: quoted fields may hold commas, quotes and line breaks).

use super::{Entry, Listing};
use crate::data::labels::{label_ids, parse_split};
use crate::data::split::SplitName;
use crate::data::table::{read_bytes, read_table, utf8};
use crate::spec::trial::TextFormat;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Lists a CSV-list dataset. Labels that are all non-negative integers are used as ids
/// (names `"0"`, `"1"`, ...); otherwise the distinct label texts, sorted, become ids `0..k`.
pub(crate) fn list_csv(
    path: &Path,
    image_column: &str,
    label_column: &str,
    split_column: Option<&str>,
) -> Result<Listing> {
    let text = utf8(path, &read_bytes(path)?)?;
    if text.trim().is_empty() {
        bail!(
            "{}: the CSV list is empty; it needs a header row ({image_column},{label_column}) \
             and one row per image",
            path.display()
        );
    }
    let table = read_table(path, &text, TextFormat::Csv, None)?;
    let header = &table.columns;
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
    for row in &table.rows {
        let lineno = row.line;
        let get = |c: usize, what: &str| -> Result<String> {
            match row.get(c, &header[c]) {
                Ok(Some(v)) if !v.trim().is_empty() => Ok(v.trim().to_string()),
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
    let texts: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    let (class_names, labels) = label_ids(&texts);
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
