//! CSV-list datasets: a CSV of image paths, labels and optional splits.

use super::{Entry, Listing};
use crate::data::labels::{label_ids, parse_split};
use crate::data::split::SplitName;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
