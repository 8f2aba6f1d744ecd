//! Digits-style CSV reader: no header, `side * side` pixel columns then the label, gzip or raw.

use super::idx::{maybe_gunzip, read_file};
use anyhow::{bail, Result};
use std::path::Path;

/// Images decoded from a CSV file, pixels scaled to 0..=255.
pub(crate) struct CsvImages {
    pub count: usize,
    pub pixels: Vec<u8>,
    pub labels: Vec<u32>,
    pub fingerprint: String,
}

/// Reads a CSV file of `side * side` pixel values in `0..=max_value` followed by an integer label.
pub(crate) fn read_csv(path: &Path, side: usize, max_value: f64) -> Result<CsvImages> {
    if side == 0 {
        bail!("{}: side must be at least 1", path.display());
    }
    if !(max_value.is_finite() && max_value > 0.0) {
        bail!(
            "{}: max_value must be a positive number, got {max_value}",
            path.display()
        );
    }
    let bytes = read_file(path)?;
    let fingerprint = blake3::hash(&bytes).to_hex().to_string();
    let data = maybe_gunzip(path, bytes)?;
    let text = std::str::from_utf8(&data).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a text CSV file (invalid UTF-8 at byte {})",
            path.display(),
            e.valid_up_to()
        )
    })?;
    parse(path, text, side, max_value, fingerprint)
}

fn parse(
    path: &Path,
    text: &str,
    side: usize,
    max_value: f64,
    fingerprint: String,
) -> Result<CsvImages> {
    let npix = side * side;
    let scale = 255.0 / max_value;
    let mut pixels = Vec::with_capacity(npix * 2048);
    let mut labels = Vec::with_capacity(2048);
    for (lineno, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let lineno = lineno + 1;
        let mut cols = 0usize;
        for (i, field) in line.split(',').enumerate() {
            let col = i + 1;
            let field = field.trim();
            cols += 1;
            if i < npix {
                let v: f64 = field.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}: line {lineno}, column {col}: pixel value \"{field}\" is not a \
                         number; fix the cell (a pixel CSV has no header row)",
                        path.display()
                    )
                })?;
                if !(0.0..=max_value).contains(&v) {
                    bail!(
                        "{}: line {lineno}, column {col}: pixel value {field} is outside \
                         0..={max_value} (set max_value to the file's largest pixel value)",
                        path.display()
                    );
                }
                pixels.push((v * scale).round().clamp(0.0, 255.0) as u8);
            } else if i == npix {
                let l: u32 = field.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "{}: line {lineno}, column {col}: label \"{field}\" is not a \
                         non-negative integer; fix the cell",
                        path.display()
                    )
                })?;
                labels.push(l);
            }
        }
        if cols != npix + 1 {
            bail!(
                "{}: line {lineno}: {cols} columns, expected {} ({side}x{side} pixels then the \
                 label); check `side`",
                path.display(),
                npix + 1
            );
        }
    }
    if labels.is_empty() {
        bail!("{}: the file holds no rows", path.display());
    }
    Ok(CsvImages {
        count: labels.len(),
        pixels,
        labels,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_line_and_column() {
        let p = Path::new("x.csv");
        let err = parse(p, "0,1,2,3,1\n0,1,x,3,1\n", 2, 16.0, String::new())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("x.csv") && err.contains("line 2") && err.contains("column 3"),
            "{err}"
        );
        let err = parse(p, "0,1,2,1\n", 2, 16.0, String::new())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 1") && err.contains("4 columns"), "{err}");
        let err = parse(p, "0,1,2,17,1\n", 2, 16.0, String::new())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("column 4") && err.contains("outside"), "{err}");
        let ok = parse(p, "0,8,16,4,7\n", 2, 16.0, String::new()).unwrap();
        assert_eq!(ok.pixels, vec![0, 128, 255, 64]);
        assert_eq!(ok.labels, vec![7]);
    }
}
