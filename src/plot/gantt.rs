//! The per-connection timeline (Gantt) of one run and the CDF of file
//! completion times.

use super::Drawn;
use super::chart::{Axes, FONT, GREY, PALETTE, Series, XScale, lines, log_bounds, num, svg};
use crate::suite::SuiteReport;
use plotters::prelude::*;

pub fn timeline(r: &SuiteReport) -> Drawn {
    let t = &r.timeline;
    let mut conns: Vec<u32> = t.spans.iter().map(|s| s.conn).collect();
    conns.sort_unstable();
    conns.dedup();
    let row = |c: u32| conns.binary_search(&c).unwrap_or(0) as f64;
    // Room on the right for the legend.
    let end = t.spans.iter().map(|s| s.end_s).fold(0.0, f64::max) * 1.4;
    let title = format!("Per-connection timeline of {}", t.run);
    let rows = conns.len().max(1);
    svg((1000, 160 + 40 * rows as u32), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title.as_str(), (FONT, 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(0.0..end.max(1e-3), -0.6..rows as f64 - 0.4)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("time (s)")
            .y_desc("connection")
            .y_labels(rows)
            .y_label_formatter(&|y| {
                if (y - y.round()).abs() < 1e-6 { format!("#{}", y.round()) } else { String::new() }
            })
            .x_label_formatter(&|x| num(*x))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 15))
            .draw()?;
        let light = RGBColor(170, 200, 225);
        let kinds = [
            ("handshake", GREY, "handshake"),
            ("first_byte", light, "waiting for first byte"),
            ("body", PALETTE[0], "body flowing"),
            ("failed", PALETTE[3], "failed request"),
        ];
        let color = |kind: &str| kinds.iter().find(|k| k.0 == kind).map_or(BLACK, |k| k.1);
        chart.draw_series(t.spans.iter().map(|s| {
            let y = row(s.conn);
            Rectangle::new([(s.start_s, y - 0.35), (s.end_s, y + 0.35)], color(&s.kind).filled())
        }))?;
        // A thin white edge keeps back-to-back requests apart.
        chart.draw_series(t.spans.iter().filter(|s| s.kind == "body").map(|s| {
            let y = row(s.conn);
            Rectangle::new([(s.end_s, y - 0.35), (s.end_s, y + 0.35)], WHITE.stroke_width(1))
        }))?;
        for (_, c, label) in kinds.into_iter().filter(|k| t.spans.iter().any(|s| s.kind == k.0)) {
            chart
                .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    })
}

pub fn completion_cdf(r: &SuiteReport) -> Drawn {
    let mut series = Vec::new();
    for (i, c) in r.completion_times.iter().enumerate() {
        let n = c.times_s.len().max(1) as f64;
        let mut p = Vec::with_capacity(2 * c.times_s.len());
        for (k, t) in c.times_s.iter().enumerate() {
            p.push((*t, k as f64 / n));
            p.push((*t, (k + 1) as f64 / n));
        }
        let label = c.run.strip_prefix("concurrent_downloads_").unwrap_or(&c.run).to_string();
        series.push(Series::plain(label, p, PALETTE[i % PALETTE.len()]));
    }
    let x = log_bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), 1.3);
    let (lx0, lx1) = (x.start.log10(), x.end.log10());
    let series: Vec<Series> = series
        .into_iter()
        .map(|s| Series { points: s.points.iter().map(|(t, f)| (t.log10(), *f)).collect(), ..s })
        .collect();
    let mut axes = Axes::new(
        "File completion time CDF (concurrent_downloads family)",
        "completion time since start (s, log10)",
        "fraction of files completed",
        lx0..lx1,
    )
    .legend(SeriesLabelPosition::LowerRight);
    axes.x_scale = XScale::Log10;
    svg((900, 520), |root| lines(root, &axes, 0.0..1.02, &series))
}
