//! Text datasets: a CSV, TSV or JSON Lines file (gzip or plain) with one example per row, and
//! the bundled VADER sentiment sets; [`apply_text`] applies the text shifts.
//!
//! Labels are a column of class names or integer ids (read as a CSV list of image files reads
//! them), or a column of numeric scores labelled by sign ([`TextLabel::Score`]). A split column
//! fixes the splits as in image datasets. Each example is named by its id column, or
//! `FILE:LINE` (the line its row starts on).

mod shift;

pub use shift::apply_text;

use super::labels::{label_ids, parse_split};
use super::{bundled, table, Dataset, SplitName};
use crate::spec::trial::{TextFormat, TextLabel, TextSource, SCORE_CLASSES};
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;

/// The bundled text datasets: name and file under the data folder (tab-separated `id`, mean
/// rating `score` and `text`, no header row).
const BUNDLED_FILES: [(&str, &str); 4] = [
    (
        "vader_movies",
        "vader/movieReviewSnippets_GroundTruth.txt.gz",
    ),
    ("vader_tweets", "vader/tweets_GroundTruth.txt.gz"),
    (
        "vader_amazon",
        "vader/amazonReviewSnippets_GroundTruth.txt.gz",
    ),
    ("vader_nyt", "vader/nytEditorialSnippets_GroundTruth.txt.gz"),
];

/// The text source the bundled text dataset `name` reads, its scores labelled by sign with the
/// neutral band `neutral` (`None` when `name` is no bundled text dataset).
pub(crate) fn bundled_source(
    name: &str,
    neutral: f64,
    data_dir: &Path,
) -> Result<Option<TextSource>> {
    let Some((_, rel)) = BUNDLED_FILES.iter().find(|(n, _)| *n == name) else {
        return Ok(None);
    };
    let columns = ["id", "score", "text"].map(String::from).to_vec();
    Ok(Some(TextSource {
        path: bundled::file(data_dir, rel)?,
        format: Some(TextFormat::Tsv),
        columns: Some(columns),
        text_column: "text".into(),
        label: TextLabel::Score {
            column: "score".into(),
            neutral,
        },
        split_column: None,
        id_column: Some("id".into()),
    }))
}

/// The format of `src`: given, or from its file name.
fn format_of(src: &TextSource) -> Result<TextFormat> {
    src.format
        .or_else(|| TextFormat::from_path(&src.path))
        .with_context(|| {
            format!(
                "{}: cannot tell the format from the file name (.csv, .tsv or .jsonl, each \
                 optionally .gz); set `format:`",
                src.path.display()
            )
        })
}

/// Reads a text dataset; `label` names it in tables.
pub(crate) fn read(label: String, src: &TextSource) -> Result<Dataset> {
    let path = &src.path;
    let format = format_of(src)?;
    let bytes = table::read_bytes(path)?;
    // The examples depend on the (decompressed) bytes and on the options, not on where the
    // file lies or whether its format was given or read from its name.
    let mut h = blake3::Hasher::new();
    h.update(b"thaw-text-v1\0");
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
    let options = TextSource {
        path: Default::default(),
        format: Some(format),
        ..src.clone()
    };
    h.update(serde_json::to_string(&options)?.as_bytes());
    let text = table::utf8(path, &bytes)?;
    drop(bytes);
    let t = table::read_table(path, &text, format, src.columns.as_deref())?;
    let what = if format == TextFormat::Jsonl {
        "the objects have the keys"
    } else {
        "the columns are"
    };
    let col = |name: &str, key: &str| -> Result<usize> {
        t.columns.iter().position(|c| c == name).with_context(|| {
            format!(
                "{}: no `{name}` column ({key}); {what}: {} (set `{key}` in the grid)",
                path.display(),
                t.columns.join(", ")
            )
        })
    };
    let optional = |given: &Option<String>, default: &str, key: &str| match given {
        Some(c) => col(c, key).map(|i| Some((i, c.clone()))),
        None => Ok(t
            .columns
            .iter()
            .position(|c| c == default)
            .map(|i| (i, default.to_string()))),
    };
    let tc = (
        col(&src.text_column, "text_column")?,
        src.text_column.clone(),
    );
    let lc = match &src.label {
        TextLabel::Column(c) => (col(c, "label_column")?, c.clone()),
        TextLabel::Score { column, .. } => (col(column, "score_column")?, column.clone()),
    };
    let sc = optional(&src.split_column, "split", "split_column")?;
    let ic = optional(&src.id_column, "id", "id_column")?;
    let file_name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );

    let mut texts = Vec::with_capacity(t.rows.len());
    let mut label_texts: Vec<String> = Vec::with_capacity(t.rows.len());
    let mut scores: Vec<f64> = Vec::new();
    let mut splits = Vec::new();
    let mut ids = Vec::with_capacity(t.rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for row in &t.rows {
        let line = row.line;
        let at = || format!("{}: line {line}", path.display());
        let get = |(c, name): &(usize, String), what: &str| -> Result<String> {
            match row.get(*c, name) {
                Ok(Some(v)) if !v.trim().is_empty() => Ok(v.into_owned()),
                Ok(_) => bail!("{}: empty {what} (column `{name}`)", at()),
                Err(kind) => bail!(
                    "{}: `{name}` holds {kind}; the {what} must be text, a number or a boolean",
                    at()
                ),
            }
        };
        texts.push(get(&tc, "text")?);
        let value = get(&lc, "label")?.trim().to_string();
        if let TextLabel::Score { .. } = src.label {
            let score: f64 = value
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite())
                .with_context(|| {
                    format!(
                        "{}: score `{value}` (column `{}`) is not a number",
                        at(),
                        lc.1
                    )
                })?;
            scores.push(score);
        }
        label_texts.push(value);
        if let Some(sc) = &sc {
            let v = get(sc, "split")?;
            let s = parse_split(v.trim())
                .with_context(|| format!("{}: split `{v}` is not train, val or test", at()))?;
            splits.push(s);
        }
        let id = match &ic {
            Some(ic) => get(ic, "id")?.trim().to_string(),
            None => format!("{file_name}:{line}"),
        };
        if let Some(prev) = seen.insert(id.clone(), line) {
            bail!("{}: id `{id}` is used twice (also line {prev})", at());
        }
        ids.push(id);
    }
    if texts.is_empty() {
        bail!("{}: the file holds no examples", path.display());
    }

    let (class_names, labels, keep): (Vec<String>, Vec<u32>, Vec<bool>) = match &src.label {
        TextLabel::Column(_) => {
            let refs: Vec<&str> = label_texts.iter().map(String::as_str).collect();
            let (names, ids) = label_ids(&refs);
            (names, ids, vec![true; texts.len()])
        }
        TextLabel::Score { neutral, .. } => {
            let keep: Vec<bool> = scores.iter().map(|s| s.abs() > *neutral).collect();
            let ids = scores.iter().map(|&s| u32::from(s > 0.0)).collect();
            let names = SCORE_CLASSES.map(String::from).to_vec();
            (names, ids, keep)
        }
    };
    let (texts, labels, ids) = (kept(texts, &keep), kept(labels, &keep), kept(ids, &keep));
    if texts.is_empty() {
        let neutral = match src.label {
            TextLabel::Score { neutral, .. } => neutral,
            TextLabel::Column(_) => 0.0,
        };
        bail!(
            "{}: every score lies in [-{neutral}, {neutral}] (left out as neutral); lower \
             `neutral`",
            path.display()
        );
    }
    let fixed_split: Option<Vec<SplitName>> = sc.is_some().then(|| kept(splits, &keep));
    Ok(Dataset {
        label,
        count: texts.len(),
        height: 0,
        width: 0,
        channels: 0,
        pixels: Vec::new(),
        labels,
        fingerprint: h.finalize().to_hex().to_string(),
        class_names: Some(class_names),
        files: Some(ids),
        fixed_split,
        warnings: Vec::new(),
        text: Some(texts),
    })
}

/// The items of `v` whose `keep` is true.
fn kept<T>(v: Vec<T>, keep: &[bool]) -> Vec<T> {
    v.into_iter()
        .zip(keep)
        .filter_map(|(x, &k)| k.then_some(x))
        .collect()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_shift;
