//! Heatmaps (a value per row and column label, viridis colours, the value printed in every
//! square) rendered to SVG strings with plotters.

use super::axes::{min_max, register_font, text_width, FAMILY, WIDTH};
use anyhow::Result;

/// A heatmap: a grid of cells coloured by value, with the value printed in each cell.
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    /// Column axis description and labels (left to right).
    pub x_desc: String,
    pub x_labels: Vec<String>,
    /// Row axis description and labels (top to bottom).
    pub y_desc: String,
    pub y_labels: Vec<String>,
    /// `values[row][col]`; `None` draws an empty (hatched grey) cell.
    pub values: Vec<Vec<Option<f64>>>,
    /// What the colour means (e.g. "mean final test accuracy").
    pub value_desc: String,
}

/// Viridis at five stops, linearly interpolated.
fn viridis(t: f64) -> (u8, u8, u8) {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (STOPS.len() - 1) as f64;
    let i = (f.floor() as usize).min(STOPS.len() - 2);
    let u = f - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * u).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn fmt_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The placement of a heatmap's parts, in SVG pixels.
struct Layout {
    /// Font size of the row and column labels.
    label_font: f64,
    /// Left edge of the grid.
    left: i32,
    /// Top edge of the grid.
    top: i32,
    cell_w: i32,
    cell_h: i32,
    /// Width of the grid: `cell_w` times the columns.
    grid_w: i32,
    /// Height of the grid: `cell_h` times the rows.
    grid_h: i32,
    /// Whether the column labels are drawn rotated (they do not fit their cells).
    rotate: bool,
    width: i32,
    height: i32,
}

impl Heatmap {
    /// Renders the heatmap as a standalone `<svg>` element. Every text is escaped.
    pub fn to_svg(&self) -> Result<String> {
        use super::html::escape;
        use std::fmt::Write as _;
        register_font()?;
        let l = self.layout();
        let finite: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) = min_max(finite.iter().copied()).unwrap_or((0.0, 1.0));
        let norm = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };

        let mut o = String::new();
        let (width, height, font) = (l.width, l.height, l.label_font);
        let _ = write!(
            o,
            r#"<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" font-family="{FAMILY}">"#
        );
        let _ = write!(
            o,
            r#"<rect width="{width}" height="{height}" fill="white"/>"#
        );
        let _ = write!(
            o,
            r#"<text x="{}" y="24" font-size="19" text-anchor="middle">{}</text>"#,
            l.left + l.grid_w / 2,
            escape(&self.title)
        );
        for (r, row_label) in self.y_labels.iter().enumerate() {
            let y = l.top + r as i32 * l.cell_h;
            let _ = write!(
                o,
                r#"<text x="{}" y="{}" font-size="{font}" text-anchor="end" dominant-baseline="central">{}</text>"#,
                l.left - 8,
                y + l.cell_h / 2,
                escape(row_label)
            );
            for c in 0..self.x_labels.len() {
                let x = l.left + c as i32 * l.cell_w;
                let value = self.values.get(r).and_then(|row| row.get(c)).copied();
                square(
                    &mut o,
                    (x, y),
                    (l.cell_w, l.cell_h),
                    value.flatten().map(|v| (v, norm(v))),
                );
            }
        }
        self.axis_labels(&mut o, &l);
        self.colour_bar(
            &mut o,
            (l.left + l.grid_w + 24, l.top, l.grid_h.max(60)),
            (lo, hi),
        );
        o.push_str("</svg>");
        Ok(o)
    }

    /// The column labels under the grid (rotated when they do not fit) and both axis
    /// descriptions.
    fn axis_labels(&self, o: &mut String, l: &Layout) {
        use super::html::escape;
        use std::fmt::Write as _;
        let font = l.label_font;
        for (c, col_label) in self.x_labels.iter().enumerate() {
            let x = l.left + c as i32 * l.cell_w + l.cell_w / 2;
            let y = l.top + l.grid_h + 16;
            if l.rotate {
                let _ = write!(
                    o,
                    r#"<text x="{x}" y="{y}" font-size="{font}" text-anchor="end" transform="rotate(-40 {x} {y})">{}</text>"#,
                    escape(col_label)
                );
            } else {
                let _ = write!(
                    o,
                    r#"<text x="{x}" y="{y}" font-size="{font}" text-anchor="middle">{}</text>"#,
                    escape(col_label)
                );
            }
        }
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" font-size="15" text-anchor="middle">{}</text>"#,
            l.left + l.grid_w / 2,
            l.height - 10,
            escape(&self.x_desc)
        );
        let _ = write!(
            o,
            r#"<text x="14" y="{}" font-size="15" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
            l.top + l.grid_h / 2,
            l.top + l.grid_h / 2,
            escape(&self.y_desc)
        );
    }

    /// Where the grid, its labels and the colour bar go.
    fn layout(&self) -> Layout {
        let label_font = 13.0;
        let row_label_w = self
            .y_labels
            .iter()
            .map(|l| text_width(l, label_font))
            .max()
            .unwrap_or(0)
            .max(20)
            + 14;
        let left = 34 + row_label_w; // y description + row labels
        let top = 46;
        let legend_w = 90;
        let ncols = self.x_labels.len().max(1);
        let nrows = self.y_labels.len().max(1);
        let avail = (WIDTH as i32 - left - legend_w - 10).max(100);
        let cell_w = (avail / ncols as i32).clamp(36, 120);
        let cell_h = 34;
        // Column labels that do not fit their cell are drawn rotated.
        let col_label_w = self
            .x_labels
            .iter()
            .map(|l| text_width(l, label_font))
            .max()
            .unwrap_or(0);
        let rotate = col_label_w > cell_w - 6;
        let bottom = if rotate {
            col_label_w.min(160) + 40
        } else {
            54
        };
        let (grid_w, grid_h) = (cell_w * ncols as i32, cell_h * nrows as i32);
        Layout {
            label_font,
            left,
            top,
            cell_w,
            cell_h,
            grid_w,
            grid_h,
            rotate,
            width: (left + grid_w + legend_w + 10).max(320),
            height: top + grid_h + bottom,
        }
    }

    /// The colour bar right of the grid at (x, top) with height `bh`, labelled with the range.
    fn colour_bar(&self, o: &mut String, (bx, top, bh): (i32, i32, i32), (lo, hi): (f64, f64)) {
        use super::html::escape;
        use std::fmt::Write as _;
        for i in 0..20 {
            let t = 1.0 - i as f64 / 19.0;
            let (cr, cg, cb) = viridis(t);
            let _ = write!(
                o,
                r##"<rect x="{bx}" y="{}" width="16" height="{}" fill="#{cr:02x}{cg:02x}{cb:02x}"/>"##,
                top + i * bh / 20,
                bh / 20 + 1
            );
        }
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" font-size="12" dominant-baseline="central">{}</text><text x="{}" y="{}" font-size="12" dominant-baseline="central">{}</text>"#,
            bx + 20,
            top + 6,
            fmt_value(hi),
            bx + 20,
            top + bh - 6,
            fmt_value(lo)
        );
        let _ = write!(
            o,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle" transform="rotate(90 {} {})">{}</text>"#,
            bx + 62,
            top + bh / 2,
            bx + 62,
            top + bh / 2,
            escape(&self.value_desc)
        );
    }
}

/// One square of the grid at (x, y): coloured by `value` = (value, position on the colour
/// scale) with the value printed, or grey with "n/a".
fn square(
    o: &mut String,
    (x, y): (i32, i32),
    (cell_w, cell_h): (i32, i32),
    value: Option<(f64, f64)>,
) {
    use std::fmt::Write as _;
    match value {
        Some((v, t)) if v.is_finite() => {
            let (cr, cg, cb) = viridis(t);
            let lum = 0.299 * cr as f64 + 0.587 * cg as f64 + 0.114 * cb as f64;
            let fg = if lum > 140.0 { "#000" } else { "#fff" };
            let _ = write!(
                o,
                r##"<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="#{cr:02x}{cg:02x}{cb:02x}" stroke="white"/><text x="{}" y="{}" font-size="13" fill="{fg}" text-anchor="middle" dominant-baseline="central">{}</text>"##,
                x + cell_w / 2,
                y + cell_h / 2,
                fmt_value(v)
            );
        }
        _ => {
            let _ = write!(
                o,
                r##"<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="#eeeeee" stroke="white"/><text x="{}" y="{}" font-size="12" fill="#888" text-anchor="middle" dominant-baseline="central">n/a</text>"##,
                x + cell_w / 2,
                y + cell_h / 2
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::axes::fmt_tick;

    #[test]
    fn heatmap_prints_values_and_escapes_labels() {
        let h = Heatmap {
            title: "T <x>".into(),
            x_desc: "examples per class".into(),
            x_labels: vec!["10".into(), "100".into()],
            y_desc: "model".into(),
            y_labels: vec!["freeze 0".into(), "<b>".into()],
            values: vec![vec![Some(0.5), Some(0.75)], vec![None, Some(0.25)]],
            value_desc: "acc".into(),
        };
        let svg = h.to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        for v in ["0.500", "0.750", "0.250", "n/a", "T &lt;x&gt;", "&lt;b&gt;"] {
            assert!(svg.contains(v), "{v} missing");
        }
        assert!(!svg.contains("<b>"));
        assert_eq!(fmt_tick(0.0001), "1e-4");
        assert_eq!(fmt_tick(0.05), "0.05");
    }
}
