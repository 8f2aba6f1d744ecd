//! Line charts rendered by plotters into SVG strings.
//!
//! One chart type covers every report section: lines with markers, optional error bars,
//! solid or dashed series, and an x axis that is linear, categorical or logarithmic. The
//! legend is drawn in its own column to the right of the plot, so it never covers data.
//!
//! Text: the SVG names the viewer's `sans-serif` font, measured with the font of [`super::axes`].

use super::axes::{
    fmt_tick, min_max, register_font, text_width, TickedAxis, FAMILY, HEIGHT, WIDTH,
};
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;

/// Tableau 10: distinguishable, colour-blind-aware series colours.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];

/// One plotted point: `err` is the half-width of its error bar, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub err: Option<f64>,
}

/// A line of the chart; without points, a legend row only (see [`LineChart::legend_extra`]).
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub color: (u8, u8, u8),
    pub dashed: bool,
    pub points: Vec<Point>,
}

/// The x axis of a chart.
#[derive(Clone, Debug)]
pub enum XAxis {
    /// Numeric, with ticks at the given values (integers are printed without decimals).
    Linear { ticks: Vec<f64> },
    /// Categories in the given order; point x values are indices into the list.
    Categorical(Vec<String>),
    /// Positive numbers on a log10 scale, ticks at the given values.
    Log { ticks: Vec<f64> },
}

/// A line chart with optional error bars.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub x_axis: XAxis,
    pub series: Vec<Series>,
    /// Title above the legend (e.g. "freeze").
    pub legend_title: String,
    /// Extra legend rows after the series (e.g. line styles); their points are not drawn.
    pub legend_extra: Vec<Series>,
    /// Clamp the y range to these bounds (e.g. 0..1 for accuracies).
    pub y_bounds: Option<(f64, f64)>,
    /// Offset series horizontally so that error bars at the same x do not overlap.
    pub dodge: bool,
    /// Draw grouped bars (from 0, or from the bottom of the plot) instead of lines.
    pub bars: bool,
    /// Draw markers only, no connecting lines (a scatter plot).
    pub scatter: bool,
    /// A dashed grey horizontal reference line at this y (e.g. zero gain).
    pub hline: Option<f64>,
}

fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

impl LineChart {
    /// A line chart with a "model" legend and no bounds, bars, dodging or reference line.
    pub fn new(
        title: String,
        x_desc: String,
        y_desc: String,
        x_axis: XAxis,
        series: Vec<Series>,
    ) -> Self {
        LineChart {
            title,
            x_desc,
            y_desc,
            x_axis,
            series,
            legend_title: "model".to_string(),
            legend_extra: vec![],
            y_bounds: None,
            dodge: false,
            bars: false,
            scatter: false,
            hline: None,
        }
    }

    /// A chart of means with error bars: y clamped to `y_bounds`, series dodged apart so that
    /// error bars at one x do not overlap.
    pub fn with_error_bars(
        title: &str,
        x_desc: &str,
        y_desc: &str,
        x_axis: XAxis,
        series: Vec<Series>,
        y_bounds: (f64, f64),
    ) -> Self {
        LineChart {
            y_bounds: Some(y_bounds),
            dodge: true,
            ..LineChart::new(
                title.to_string(),
                x_desc.to_string(),
                y_desc.to_string(),
                x_axis,
                series,
            )
        }
    }

    /// Legend rows: one per series (first occurrence of a label), then the extra rows.
    fn legend(&self) -> Vec<Series> {
        let mut rows: Vec<Series> = Vec::new();
        for s in &self.series {
            if !rows.iter().any(|r| r.label == s.label) {
                rows.push(Series {
                    label: s.label.clone(),
                    color: s.color,
                    dashed: false,
                    points: vec![],
                });
            }
        }
        rows.extend(self.legend_extra.iter().cloned());
        rows
    }

    fn map_x(&self, x: f64) -> f64 {
        match self.x_axis {
            XAxis::Log { .. } => x.max(f64::MIN_POSITIVE).log10(),
            _ => x,
        }
    }

    /// Renders the chart as a standalone `<svg>` element.
    pub fn to_svg(&self) -> Result<String> {
        register_font()?;
        let legend = self.legend();
        let legend_font = 14.0;
        let legend_w = legend
            .iter()
            .map(|e| text_width(&e.label, legend_font))
            .chain(std::iter::once(text_width(&self.legend_title, legend_font)))
            .max()
            .unwrap_or(0)
            + 64;

        let (xs, ticks, labels, (x0, x1)) = self.x_layout();
        let (y0, y1) = self.y_range();
        let n_series = self.series.len().max(1);
        let (bar_w, dodge_step) = self.offsets(&ticks, &xs, (x0, x1));
        let cap = (x1 - x0) * 0.006;

        let mut buf = String::new();
        {
            let root = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE)?;
            let (plot, legend_area) = root.split_horizontally(WIDTH as i32 - legend_w);
            let label_map: Vec<(f64, String)> = ticks.iter().copied().zip(labels).collect();
            let fmt_x = |v: &f64| {
                label_map
                    .iter()
                    .find(|(t, _)| (t - v).abs() < 1e-9)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default()
            };
            let mut chart = ChartBuilder::on(&plot)
                .caption(&self.title, (FAMILY, 20))
                .margin(12)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(
                    TickedAxis {
                        range: x0..x1,
                        ticks: ticks.clone(),
                    },
                    y0..y1,
                )?;
            chart
                .configure_mesh()
                .x_desc(self.x_desc.as_str())
                .y_desc(self.y_desc.as_str())
                .x_label_formatter(&fmt_x)
                .y_label_formatter(&|v: &f64| format!("{v:.2}"))
                .y_labels(8)
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 15))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(228, 228, 228))
                .draw()?;

            if let Some(h) = self.hline.filter(|h| (y0..=y1).contains(h)) {
                chart.draw_series(DashedLineSeries::new(
                    vec![(x0, h), (x1, h)],
                    6,
                    4,
                    RGBColor(120, 120, 120).stroke_width(1),
                ))?;
            }
            for (i, s) in self.series.iter().enumerate() {
                let color = rgb(s.color);
                let dx = dodge_step * (i as f64 - (n_series as f64 - 1.0) / 2.0);
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|p| (self.map_x(p.x) + dx, p.y))
                    .collect();
                let style = color.stroke_width(2);
                if self.bars {
                    let base = 0f64.clamp(y0, y1);
                    chart.draw_series(pts.iter().map(|&(x, y)| {
                        Rectangle::new(
                            [
                                (x - bar_w * 0.45, base),
                                (x + bar_w * 0.45, y.clamp(y0, y1)),
                            ],
                            color.mix(if s.dashed { 0.45 } else { 0.85 }).filled(),
                        )
                    }))?;
                } else if self.scatter {
                    // Markers only (drawn below).
                } else if s.dashed {
                    chart.draw_series(DashedLineSeries::new(pts.clone(), 7, 5, style))?;
                } else {
                    chart.draw_series(LineSeries::new(pts.clone(), style))?;
                }
                chart.draw_series(pts.iter().filter(|_| !self.bars).map(|&p| {
                    let r = if self.scatter { 5 } else { 3 };
                    if s.dashed {
                        Circle::new(p, r, color.stroke_width(2))
                    } else {
                        Circle::new(p, r, color.filled())
                    }
                }))?;
                for (p, &(x, _)) in s.points.iter().zip(&pts) {
                    if let Some(e) = p.err.filter(|e| e.is_finite() && *e > 0.0) {
                        let lo = (p.y - e).max(y0);
                        let hi = (p.y + e).min(y1);
                        let st = color.stroke_width(1);
                        chart.draw_series([
                            PathElement::new(vec![(x, lo), (x, hi)], st),
                            PathElement::new(vec![(x - cap, lo), (x + cap, lo)], st),
                            PathElement::new(vec![(x - cap, hi), (x + cap, hi)], st),
                        ])?;
                    }
                }
            }

            self.draw_legend(&legend_area, &legend, legend_font)?;
            root.present()?;
        }
        Ok(buf)
    }

    /// The x of every point and tick in plot coordinates, the tick labels, and the x range.
    #[allow(clippy::type_complexity)]
    fn x_layout(&self) -> (Vec<f64>, Vec<f64>, Vec<String>, (f64, f64)) {
        let xs: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| self.map_x(p.x)))
            .collect();
        let (ticks, labels): (Vec<f64>, Vec<String>) = match &self.x_axis {
            XAxis::Linear { ticks } => {
                (ticks.clone(), ticks.iter().map(|&t| fmt_tick(t)).collect())
            }
            XAxis::Log { ticks } => (
                ticks.iter().map(|&t| self.map_x(t)).collect(),
                ticks.iter().map(|&t| fmt_tick(t)).collect(),
            ),
            XAxis::Categorical(cats) => ((0..cats.len()).map(|i| i as f64).collect(), cats.clone()),
        };
        let all_x = xs.iter().chain(ticks.iter()).copied();
        let (mut x0, mut x1) = min_max(all_x).unwrap_or((0.0, 1.0));
        match self.x_axis {
            XAxis::Categorical(_) => {
                x0 -= 0.5;
                x1 += 0.5;
            }
            _ => {
                let pad = if x1 > x0 { (x1 - x0) * 0.05 } else { 0.5 };
                x0 -= pad;
                x1 += pad;
            }
        }

        (xs, ticks, labels, (x0, x1))
    }

    /// The y range: points and error bars (and 0 for bars, the reference line), padded and
    /// clamped to the bounds.
    fn y_range(&self) -> (f64, f64) {
        let ys = self.series.iter().flat_map(|s| {
            s.points.iter().flat_map(|p| {
                let e = p.err.unwrap_or(0.0);
                [p.y - e, p.y + e]
            })
        });
        let (mut y0, mut y1) = min_max(ys).unwrap_or((0.0, 1.0));
        if self.bars {
            y0 = y0.min(0.0);
            y1 = y1.max(0.0);
        }
        if let Some(h) = self.hline {
            y0 = y0.min(h);
            y1 = y1.max(h);
        }
        let pad = if y1 > y0 { (y1 - y0) * 0.08 } else { 0.05 };
        y0 -= pad;
        y1 += pad;
        if let Some((lo, hi)) = self.y_bounds {
            y0 = y0.max(lo);
            y1 = y1.min(hi);
            if y1 <= y0 {
                (y0, y1) = (lo, hi);
            }
        }

        (y0, y1)
    }

    /// The bar width and the horizontal offset between the series at one x (dodging).
    fn offsets(&self, ticks: &[f64], xs: &[f64], (x0, x1): (f64, f64)) -> (f64, f64) {
        let n_series = self.series.len().max(1);
        // Bars: each x gets a group of n_series bars filling 80% of the gap to its neighbour.
        let bar_w = if self.bars {
            let mut px: Vec<f64> = ticks.iter().chain(xs.iter()).copied().collect();
            px.sort_by(f64::total_cmp);
            px.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
            let gap = px
                .windows(2)
                .map(|w| w[1] - w[0])
                .fold(f64::INFINITY, f64::min);
            let gap = if gap.is_finite() {
                gap
            } else {
                (x1 - x0) * 0.5
            };
            gap * 0.8 / n_series as f64
        } else {
            0.0
        };
        let dodge_step = if self.bars {
            bar_w
        } else if self.dodge && n_series > 1 {
            match self.x_axis {
                XAxis::Categorical(_) => 0.25 / n_series as f64,
                _ => (x1 - x0) * 0.012,
            }
        } else {
            0.0
        };
        (bar_w, dodge_step)
    }

    /// The legend column: its title, then a line sample and a label per entry.
    fn draw_legend(
        &self,
        legend_area: &DrawingArea<SVGBackend<'_>, Shift>,
        legend: &[Series],
        legend_font: f64,
    ) -> Result<()> {
        let mut y = 48;
        if !self.legend_title.is_empty() {
            legend_area.draw(&Text::new(
                self.legend_title.clone(),
                (8, y - 10),
                (FAMILY, legend_font).into_font().style(FontStyle::Bold),
            ))?;
            y += 16;
        }
        for e in legend {
            let c = rgb(e.color);
            if e.dashed {
                legend_area.draw(&PathElement::new(vec![(8, y), (16, y)], c.stroke_width(2)))?;
                legend_area.draw(&PathElement::new(vec![(22, y), (30, y)], c.stroke_width(2)))?;
                legend_area.draw(&PathElement::new(vec![(36, y), (42, y)], c.stroke_width(2)))?;
            } else {
                legend_area.draw(&PathElement::new(vec![(8, y), (42, y)], c.stroke_width(2)))?;
            }
            legend_area.draw(&Text::new(
                e.label.clone(),
                (50, y),
                (FAMILY, legend_font)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))?;
            y += 22;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_svg_with_labels_and_legend() {
        let series = vec![Series {
            label: "freeze 0".into(),
            color: PALETTE[0],
            dashed: false,
            points: vec![
                Point {
                    x: 0.0,
                    y: 0.9,
                    err: Some(0.02),
                },
                Point {
                    x: 1.0,
                    y: 0.7,
                    err: None,
                },
            ],
        }];
        let chart = LineChart {
            legend_title: "series".into(),
            ..LineChart::with_error_bars(
                "Accuracy <test>",
                "shift",
                "accuracy",
                XAxis::Categorical(vec!["none".into(), "rotate 45".into()]),
                series,
                (0.0, 1.0),
            )
        };
        let svg = chart.to_svg().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("freeze 0"));
        assert!(svg.contains("rotate 45"));
        assert!(svg.contains("Accuracy &lt;test&gt;"));
        assert!(!svg.contains("<test>"));
    }

    #[test]
    fn log_axis_ticks_show_raw_values() {
        let series = vec![Series {
            label: "scratch".into(),
            color: PALETTE[1],
            dashed: true,
            points: [(10.0, 0.5), (1000.0, 0.8)]
                .map(|(x, y)| Point { x, y, err: None })
                .to_vec(),
        }];
        let chart = LineChart {
            legend_title: String::new(),
            ..LineChart::new(
                "t".into(),
                "n".into(),
                "acc".into(),
                XAxis::Log {
                    ticks: vec![10.0, 100.0, 1000.0],
                },
                series,
            )
        };
        let svg = chart.to_svg().unwrap();
        assert!(svg.contains(">\n100\n<") || svg.contains(">100<"), "{svg}");
        assert!(svg.contains("1000"));
    }
}
