//! Shared chart pieces: the canvas, the palette, number labels, and a line
//! chart of several series (linear or log y, x linear or log2).

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
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

/// A power of two as a size or count label.
pub fn pow2(x: f64, bytes: bool) -> String {
    let v = 2f64.powf(x).round();
    if !bytes {
        return format!("{v}");
    }
    if v >= 1048576.0 { format!("{}M", v / 1048576.0) } else { format!("{}K", v / 1024.0) }
}

pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub dashed: bool,
    pub markers: bool,
}

impl Series {
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, dashed: false, markers: true }
    }
    pub fn dashed(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Series { label: label.into(), points, color, dashed: true, markers: false }
    }
}

/// How x values map to labels (the caller transforms the values).
#[derive(Clone, Copy, PartialEq)]
pub enum XScale {
    Linear,
    /// x = log2(count).
    Log2,
    /// x = log2(bytes).
    Log2Bytes,
    /// x = log10(value).
    Log10,
}

pub struct Axes<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x: std::ops::Range<f64>,
    pub x_scale: XScale,
    pub legend: SeriesLabelPosition,
}

/// A line chart of `series` on `area`; `y` is a `Range<f64>` or a log range.
pub fn lines<Y>(area: &Area, a: &Axes, y: Y, series: &[Series]) -> Res
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(a.title, (FONT, 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(a.x.clone(), y)?;
    let xf = |x: &f64| match a.x_scale {
        XScale::Linear => num(*x),
        XScale::Log2 => pow2(*x, false),
        XScale::Log2Bytes => pow2(*x, true),
        XScale::Log10 => num(10f64.powf(*x)),
    };
    let x_labels = match a.x_scale {
        XScale::Log2 | XScale::Log2Bytes => (a.x.end - a.x.start) as usize + 1,
        _ => 10,
    };
    chart
        .configure_mesh()
        .x_desc(a.x_desc)
        .y_desc(a.y_desc)
        .x_labels(x_labels)
        .x_label_formatter(&xf)
        .y_label_formatter(&|y| num(*y))
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 15))
        .draw()?;
    for s in series {
        let color = s.color;
        let style = color.stroke_width(2);
        if s.dashed {
            let drawn = chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 8, 5, style))?;
            if !s.label.is_empty() {
                drawn.label(s.label.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))?
                .label(s.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        if s.markers {
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(a.legend.clone())
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .draw()?;
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
