//! The comparison chart: grouped bars of download time, one group per
//! point (network), one bar per client, a legend of clients.

use super::CompareRow;
use crate::plot::chart::{FONT, GREY, PALETTE, Res, num, svg};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Distinct values of `f` over `rows`, in first-seen order.
fn distinct<'a>(rows: &'a [CompareRow], f: impl Fn(&'a CompareRow) -> &'a str) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for r in rows {
        let v = f(r);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// SVG of the rows' durations: x = networks (groups) × clients (bars), y = time, s.
pub fn bars(title: &str, rows: &[CompareRow]) -> Res<String> {
    let groups = distinct(rows, |r| r.point.as_str());
    let clients = distinct(rows, |r| r.client);
    let top = rows.iter().map(|r| r.duration_s).fold(0.0, f64::max).max(1e-3) * 1.18;
    let (w, h) = (240 + 150 * groups.len().max(1) as u32 * clients.len().clamp(1, 6) as u32 / 3, 520);
    svg((w.max(720), h), |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 20))
            .margin(14)
            .x_label_area_size(56)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..groups.len().max(1) as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("download time, s (simulated)")
            .y_label_formatter(&|v| num(*v))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 14))
            .draw()?;
        let n = clients.len().max(1) as f64;
        let bar = 0.8 / n;
        for (ci, client) in clients.iter().enumerate() {
            let color = if *client == "own client" { GREY } else { PALETTE[ci % PALETTE.len()] };
            let mut first = true;
            for (gi, group) in groups.iter().enumerate() {
                let Some(r) = rows.iter().find(|r| r.point == *group && r.client == *client) else {
                    continue;
                };
                let x0 = gi as f64 + 0.1 + ci as f64 * bar;
                let rect = Rectangle::new([(x0, 0.0), (x0 + bar * 0.92, r.duration_s)], color.filled());
                let anno = chart.draw_series(std::iter::once(rect))?;
                if first {
                    anno.label(*client)
                        .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
                    first = false;
                }
                let label = if r.files_failed > 0 { format!("{} ✗", num(r.duration_s)) } else { num(r.duration_s) };
                let style = TextStyle::from((FONT, 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
                chart.draw_series(std::iter::once(Text::new(
                    label,
                    (x0 + bar * 0.46, r.duration_s + top * 0.005),
                    style,
                )))?;
            }
        }
        // Group names under each group (the x axis).
        for (gi, group) in groups.iter().enumerate() {
            let style = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            chart.draw_series(std::iter::once(Text::new(group.to_string(), (gi as f64 + 0.5, -top * 0.02), style)))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()?;
        Ok(())
    })
}
