//! What line charts and heatmaps share: the chart font (for measuring text only), the chart
//! size, tick labels, value ranges, and an axis whose ticks are exactly the given values.
//!
//! Text: the SVG names the viewer's `sans-serif` font; plotters needs glyph metrics to lay
//! out labels, so a subset of DejaVu Sans (templates/fonts, Bitstream Vera licence) is
//! registered with plotters' ab_glyph support for measuring only. Nothing is embedded in
//! or loaded by the SVG.

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::ops::Range;
use std::sync::OnceLock;

const FONT: &[u8] = include_bytes!("../../templates/fonts/DejaVuSans-subset.ttf");
/// The font family the SVGs name.
pub(crate) const FAMILY: &str = "sans-serif";

/// Width and height of every chart, in SVG pixels.
pub(crate) const WIDTH: u32 = 820;
pub(crate) const HEIGHT: u32 = 420;

/// Registers the embedded font with plotters (once), so that labels can be measured.
pub(crate) fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    if *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
    {
        Ok(())
    } else {
        Err(anyhow!("the embedded chart font could not be parsed"))
    }
}

/// A tick label: integers without decimals, small values in exponent form (`1e-4`).
pub(crate) fn fmt_tick(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        // 0.0001 -> 1e-4, 0.0003 -> 3e-4
        format!("{v:e}")
    } else if v.fract().abs() < 1e-9 && v.abs() < 1e9 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Width in pixels of `text` at font size `size` (plotters units), from the embedded font.
pub(crate) fn text_width(text: &str, size: f64) -> i32 {
    let style: TextStyle = (FAMILY, size).into_font().into();
    style
        .font
        .box_size(text)
        .map(|(w, _)| w as i32)
        .unwrap_or((text.chars().count() as f64 * size * 0.5) as i32)
}

/// A linear f64 axis whose tick marks are exactly the given values (epochs, category
/// indices, log10 of target sizes).
pub(crate) struct TickedAxis {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let frac = if span > 0.0 {
            (v - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (frac * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// The smallest and largest finite value, or `None` when there is none.
pub(crate) fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}
