//! The per-connection timeline (Gantt) of one run and the CDF of file
//! completion times, for the suite's report and for any run (`dlsim plot`).
//!
//! The timeline's time axis ends where the run ends (the legend sits below
//! the chart, not in padding after the run); phases too short to see
//! (handshakes, waits for the first byte, failed requests) are drawn at
//! least [`MIN_PHASE_PX`] pixels wide; body bars wide enough for it carry
//! their file's label.

use super::Drawn;
use super::chart::{Axes, FONT, GREY, PALETTE, Series, XScale, lines, log_bounds, num, svg};
use crate::suite::{CompletionTimes, SuiteReport, Timeline};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;

/// Narrowest drawn width of a short phase, pixels.
pub const MIN_PHASE_PX: f64 = 4.0;
/// Connections drawn at most (the first ones by id).
pub const MAX_ROWS: usize = 40;
const WIDTH: u32 = 1100;

pub fn timeline(r: &SuiteReport) -> Drawn {
    timeline_chart(&r.timeline, &format!("Per-connection timeline of {}", r.timeline.run), &BTreeMap::new())
}

pub fn completion_cdf(r: &SuiteReport) -> Drawn {
    cdf_chart(
        &r.completion_times,
        "File completion time CDF (concurrent_downloads family)",
        Some("concurrent_downloads_"),
    )
}

/// Nice tick step for `span` seconds: 1, 2 or 5 × 10^k giving 5–12 ticks.
fn tick_step(span: f64) -> f64 {
    let raw = span / 8.0;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|s| span / s <= 12.0).unwrap_or(10.0 * p)
}

fn secs(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize };
    format!("{v:.decimals$}")
}

/// The timeline of `t`; `labels` names files by id (default `#id`).
pub fn timeline_chart(t: &Timeline, title: &str, labels: &BTreeMap<u32, String>) -> Drawn {
    let mut conns: Vec<u32> = t.spans.iter().map(|s| s.conn).collect();
    conns.sort_unstable();
    conns.dedup();
    let total = conns.len();
    conns.truncate(MAX_ROWS);
    let title =
        if total > MAX_ROWS { format!("{title} (first {MAX_ROWS} of {total} connections)") } else { title.to_string() };
    let row = |c: u32| conns.binary_search(&c).ok().map(|i| i as f64);
    let end = t.spans.iter().map(|s| s.end_s).fold(0.0, f64::max).max(1e-6);
    let rows = conns.len().max(1);
    let light = RGBColor(150, 190, 225);
    let kinds = [
        ("handshake", RGBColor(90, 90, 90), "handshake"),
        ("first_byte", light, "request sent, waiting for the first byte"),
        ("body", PALETTE[0], "body flowing (label: file)"),
        ("failed", PALETTE[3], "failed request"),
    ];
    let present: Vec<_> = kinds.iter().filter(|k| t.spans.iter().any(|s| s.kind == k.0)).copied().collect();
    let color = |kind: &str| kinds.iter().find(|k| k.0 == kind).map_or(BLACK, |k| k.1);
    let step = tick_step(end);
    svg((WIDTH, 150 + 34 * rows as u32), |root| {
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 - 34);
        let mut chart = ChartBuilder::on(&top)
            .caption(title.as_str(), (FONT, 19))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..end, -0.6..rows as f64 - 0.4)?;
        let n_ticks = (end / step).floor() as usize + 1;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time since the start of the run (s)")
            .y_desc("connection")
            .x_labels(n_ticks.max(2))
            .y_labels(rows)
            .y_label_formatter(&|y| {
                if (y - y.round()).abs() < 1e-6 {
                    conns.get(y.round() as usize).map_or(String::new(), |c| format!("#{c}"))
                } else {
                    String::new()
                }
            })
            .x_label_formatter(&|x| secs(*x, step))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let (xr, _) = chart.plotting_area().get_pixel_range();
        let s_per_px = end / (xr.end - xr.start).max(1) as f64;
        let min_w = MIN_PHASE_PX * s_per_px;
        let bar = |y: f64, x0: f64, x1: f64, c: RGBColor| Rectangle::new([(x0, y - 0.36), (x1, y + 0.36)], c.filled());
        // Bodies first, then the short phases on top at their readable width.
        for s in t.spans.iter().filter(|s| s.kind == "body") {
            if let Some(y) = row(s.conn) {
                chart.draw_series(std::iter::once(bar(y, s.start_s, s.end_s, color("body"))))?;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(s.end_s, y - 0.36), (s.end_s, y + 0.36)],
                    WHITE.stroke_width(1),
                )))?;
            }
        }
        for s in t.spans.iter().filter(|s| s.kind != "body") {
            if let Some(y) = row(s.conn) {
                let x1 = s.end_s.max(s.start_s + min_w).min(end);
                let x0 = s.start_s.min(x1);
                chart.draw_series(std::iter::once(bar(y, x0, x1, color(&s.kind))))?;
            }
        }
        // File labels inside body bars wide enough for them (a file's
        // consecutive chunks on one connection share one label).
        let style = TextStyle::from((FONT, 11).into_font()).color(&WHITE).pos(Pos::new(HPos::Center, VPos::Center));
        let mut runs: Vec<(u32, u32, f64, f64)> = Vec::new();
        for s in t.spans.iter().filter(|s| s.kind == "body") {
            let Some(f) = s.file else { continue };
            match runs.iter_mut().rev().find(|r| r.0 == s.conn) {
                Some(r) if r.1 == f && (s.start_s - r.3).abs() <= min_w * 2.0 => r.3 = s.end_s,
                _ => runs.push((s.conn, f, s.start_s, s.end_s)),
            }
        }
        for (conn, f, x0, x1) in runs {
            let Some(y) = row(conn) else { continue };
            let text = labels.get(&f).cloned().unwrap_or_else(|| format!("#{f}"));
            let room_px = (x1 - x0) / s_per_px;
            let fit: String = if (text.chars().count() as f64) * 6.5 + 6.0 <= room_px {
                text
            } else {
                let n = ((room_px - 6.0) / 6.5).floor() as usize;
                if n >= 4 { format!("{}…", text.chars().take(n - 1).collect::<String>()) } else { continue }
            };
            chart.draw_series(std::iter::once(Text::new(fit, ((x0 + x1) / 2.0, y), style.clone())))?;
        }
        // The legend: one row below the chart.
        let mut x = 70;
        for (_, c, label) in present {
            bottom.draw(&Rectangle::new([(x, 10), (x + 16, 22)], c.filled()))?;
            bottom.draw(&Text::new(label, (x + 22, 10), (FONT, 13).into_font()))?;
            x += 34 + (label.chars().count() as i32) * 13 / 2;
        }
        let note = format!("phases shorter than {MIN_PHASE_PX} px are drawn {MIN_PHASE_PX} px wide");
        bottom.draw(&Text::new(note, (x + 10, 10), (FONT, 12).into_font().color(&GREY)))?;
        Ok(())
    })
}

/// Round values (1, 2, 5 × 10^k; every integer multiple when those are
/// fewer than 3) inside `[lo, hi]`, for a log axis.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let pick = |ms: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        let mut p = 10f64.powf(lo.log10().floor());
        while p <= hi {
            out.extend(ms.iter().map(|m| m * p).filter(|v| *v >= lo && *v <= hi));
            p *= 10.0;
        }
        out
    };
    let t = pick(&[1.0, 2.0, 5.0]);
    if t.len() > 12 {
        pick(&[1.0])
    } else if t.len() >= 3 {
        t
    } else {
        pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }
}

/// The CDF of file completion times of each run (a legend only with two or
/// more); `strip` is removed from the front of run names in the legend.
pub fn cdf_chart(sets: &[CompletionTimes], title: &str, strip: Option<&str>) -> Drawn {
    let mut series = Vec::new();
    for (i, c) in sets.iter().enumerate() {
        let n = c.times_s.len().max(1) as f64;
        let mut p = Vec::with_capacity(2 * c.times_s.len());
        for (k, t) in c.times_s.iter().enumerate() {
            p.push((*t, k as f64 / n));
            p.push((*t, (k + 1) as f64 / n));
        }
        let label = strip.and_then(|s| c.run.strip_prefix(s)).unwrap_or(&c.run).to_string();
        series.push(Series::plain(label, p, PALETTE[i % PALETTE.len()]));
    }
    let x = log_bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), 1.3);
    let (lx0, lx1) = (x.start.log10(), x.end.log10());
    let series: Vec<Series> = series
        .into_iter()
        .map(|s| Series { points: s.points.iter().map(|(t, f)| (t.max(x.start).log10(), *f)).collect(), ..s })
        .collect();
    let mut axes = Axes::new(
        title,
        "completion time since the start of the run (s, log scale)",
        "fraction of files completed",
        lx0..lx1,
    )
    .legend(SeriesLabelPosition::LowerRight);
    axes.x_scale = XScale::Log10;
    let ticks = log_ticks(x.start, x.end);
    if ticks.len() >= 3 {
        axes = axes.ticks(&ticks, f64::log10, num);
    }
    svg((900, 520), |root| lines(root, &axes, 0.0..1.02, &series))
}
