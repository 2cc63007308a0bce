//! Shared chart pieces: the canvas, the palette, number labels, and a line
//! chart of several series (linear or log y, x linear or log2).

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;

pub type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
pub type Res<T = ()> = std::result::Result<T, Box<dyn Error>>;

pub const FONT: &str = "sans-serif";
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
pub const GREY: RGBColor = RGBColor(120, 120, 120);

/// Draw on a white canvas of `size` pixels; the SVG text.
pub fn svg(size: (u32, u32), f: impl FnOnce(&Area) -> Res) -> Res<String> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE)?;
        f(&root)?;
        root.present()?;
    }
    Ok(buf)
}

/// A compact label: 1, 2.5, 0.01, 1.2k, 3M.
pub fn num(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 && v.fract() != 0.0 {
        format!("{v:.1}")
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.0e}")
    };
    s.replace(".0M", "M").trim_end_matches(".0").to_string()
}

/// How a series is drawn.
#[derive(Clone, Copy, PartialEq)]
pub enum Style {
    /// A solid line with point markers.
    Line,
    /// A solid line without markers.
    Plain,
    /// A dashed line without markers (its legend swatch is dashed too).
    Dashed,
    /// A wide pale band drawn under the other series, so a curve lying on it
    /// leaves it visible (reference lines such as achieved = configured).
    Band,
}

pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub style: Style,
    /// Error bars `(x, low, high)`, e.g. a 95 % confidence interval over
    /// replications; drawn as whiskers with caps.
    pub bars: Vec<(f64, f64, f64)>,
}

impl Series {
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, style: Style::Line, bars: Vec::new() }
    }
    pub fn plain(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, style: Style::Plain, bars: Vec::new() }
    }
    pub fn dashed(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, style: Style::Dashed, bars: Vec::new() }
    }
    pub fn band(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, style: Style::Band, bars: Vec::new() }
    }
}

/// How x values map to labels when ticks are automatic (the caller
/// transforms the values).
#[derive(Clone, Copy, PartialEq)]
pub enum XScale {
    Linear,
    /// x = log10(value).
    Log10,
}

pub struct Axes<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x: std::ops::Range<f64>,
    pub x_scale: XScale,
    /// Ticks at exactly these x positions with these labels (the configured
    /// values); `None` = automatic ticks labelled by `x_scale`.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// The linear y axis does not start at 0: draw a break mark on it.
    pub y_break: bool,
    pub legend: SeriesLabelPosition,
}

impl<'a> Axes<'a> {
    pub fn new(title: &'a str, x_desc: &'a str, y_desc: &'a str, x: std::ops::Range<f64>) -> Self {
        Axes {
            title,
            x_desc,
            y_desc,
            x,
            x_scale: XScale::Linear,
            x_ticks: None,
            y_break: false,
            legend: SeriesLabelPosition::UpperLeft,
        }
    }
    /// Ticks at `values` placed at `pos(value)`, labelled by `label(value)`.
    pub fn ticks(mut self, values: &[f64], pos: impl Fn(f64) -> f64, label: impl Fn(f64) -> String) -> Self {
        self.x_ticks = Some(values.iter().map(|v| (pos(*v), label(*v))).collect());
        self
    }
    pub fn legend(mut self, at: SeriesLabelPosition) -> Self {
        self.legend = at;
        self
    }
}

/// A size label for a power-of-two byte count: 64K, 1M.
pub fn bytes_label(v: f64) -> String {
    if v >= 1048576.0 { format!("{}M", v / 1048576.0) } else { format!("{}K", v / 1024.0) }
}

/// A line chart of `series` on `area`; `y` is a `Range<f64>` or a log range.
/// The legend is drawn only when two or more series are labelled (a single
/// series is named by the title and the axis).
pub fn lines<Y>(area: &Area, a: &Axes, y: Y, series: &[Series]) -> Res
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(a.title, (FONT, 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(a.x.clone(), y)?;
    let xf = |x: &f64| match a.x_scale {
        XScale::Linear => num(*x),
        XScale::Log10 => num(10f64.powf(*x)),
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(a.x_desc)
        .y_desc(a.y_desc)
        .x_label_formatter(&xf)
        .y_label_formatter(&|y| num(*y))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15));
    if a.x_ticks.is_some() {
        mesh.x_labels(0);
    }
    mesh.draw()?;
    let base = area.get_base_pixel();
    let rel = |(px, py): (i32, i32)| (px - base.0, py - base.1);
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    if let Some(ticks) = &a.x_ticks {
        let light = BLACK.mix(0.1);
        for (x, label) in ticks {
            let (px, _) = chart.backend_coord(&(*x, 0.0));
            area.draw(&PathElement::new(vec![rel((px, yr.start)), rel((px, yr.end))], light))?;
            area.draw(&PathElement::new(vec![rel((px, yr.end)), rel((px, yr.end + 5))], BLACK))?;
            let style = TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            area.draw(&Text::new(label.clone(), rel((px, yr.end + 8)), style))?;
        }
    }
    let legends = series.iter().filter(|s| !s.label.is_empty()).count() >= 2;
    // Bands first, so every other series is drawn on top of them.
    let order =
        series.iter().filter(|s| s.style == Style::Band).chain(series.iter().filter(|s| s.style != Style::Band));
    for s in order {
        let color = s.color;
        let label = (legends && !s.label.is_empty()).then_some(s.label.as_str());
        match s.style {
            Style::Line | Style::Plain => {
                let drawn = chart.draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?;
                if let Some(l) = label {
                    drawn
                        .label(l)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                }
            }
            Style::Dashed => {
                let style = color.stroke_width(2);
                let drawn = chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 8, 5, style))?;
                if let Some(l) = label {
                    drawn.label(l).legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 21, y)], 6, 4, style));
                }
            }
            Style::Band => {
                let style = color.mix(0.35).stroke_width(9);
                let drawn = chart.draw_series(LineSeries::new(s.points.iter().copied(), style))?;
                if let Some(l) = label {
                    drawn.label(l).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
            }
        }
        if s.style == Style::Line {
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        if !s.bars.is_empty() {
            let w = 0.012 * (a.x.end - a.x.start);
            let stroke = color.stroke_width(1);
            for &(x, lo, hi) in &s.bars {
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], stroke)))?;
                for y in [lo, hi] {
                    chart.draw_series(std::iter::once(PathElement::new(vec![(x - w, y), (x + w, y)], stroke)))?;
                }
            }
        }
    }
    if a.y_break {
        // Two slanted strokes across the bottom of the y axis: it does not start at 0.
        let (x0, y0) = (xr.start, yr.end);
        area.draw(&Rectangle::new([rel((x0 - 7, y0 - 16)), rel((x0 + 7, y0 - 9))], WHITE.filled()))?;
        for dy in [9, 16] {
            area.draw(&PathElement::new(vec![rel((x0 - 7, y0 - dy + 3)), rel((x0 + 7, y0 - dy - 3))], BLACK))?;
        }
    }
    if legends {
        chart
            .configure_series_labels()
            .position(a.legend.clone())
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
    }
    Ok(())
}

/// `[lo, hi]` of `vals` widened by `pad` (a factor, for log axes).
pub fn log_bounds(vals: impl Iterator<Item = f64>, pad: f64) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for v in vals.filter(|v| *v > 0.0 && v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return 0.1..10.0;
    }
    lo / pad..hi * pad
}

/// `0..max` of `vals` with 10 % headroom (at least `min_top`).
pub fn lin_top(vals: impl Iterator<Item = f64>, min_top: f64) -> std::ops::Range<f64> {
    0.0..vals.filter(|v| v.is_finite()).fold(min_top, f64::max) * 1.1
}
