//! The validation chart: predicted vs measured time per scenario, with the
//! y = x line and a ±10 % band (linear axes from 0: the matrix spans less
//! than a decade, and plotters labels log axes only at round values).

use plotters::prelude::*;

/// SVG of `(name, measured_s, predicted_s)` points.
pub fn predicted_vs_measured_svg(points: &[(String, f64, f64)], title: &str) -> String {
    let mut svg = String::new();
    let hi = points.iter().flat_map(|p| [p.1, p.2]).fold(0.0, f64::max);
    let (lo, hi) = (0.0, if hi > 0.0 { hi * 1.1 } else { 1.0 });
    {
        let root = SVGBackend::with_string(&mut svg, (720, 640)).into_drawing_area();
        let _ = draw(&root, points, title, lo, hi);
        let _ = root.present();
    }
    svg
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    points: &[(String, f64, f64)],
    title: &str,
    lo: f64,
    hi: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("measured time, s (real runtime, median)")
        .y_desc("predicted time, s (sim)")
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&|v| format!("{v:.2}"))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let band = RGBColor(70, 130, 180).mix(0.18);
    chart.draw_series(std::iter::once(Polygon::new(
        // Between y = 0.9x and y = 1.1x, clipped to the chart's square.
        vec![(lo, lo), (hi, hi * 0.9), (hi, hi), (hi / 1.1, hi)],
        band.filled(),
    )))?;
    chart
        .draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], BLACK.stroke_width(1)))?
        .label("y = x (band: ±10 %)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
    chart
        .draw_series(points.iter().map(|(_, m, p)| Circle::new((*m, *p), 4, RED.filled())))?
        .label("scenario")
        .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
    // Each point names its scenario (alternately above and below, so
    // neighbours' labels overlap less).
    for (i, (name, m, p)) in points.iter().enumerate() {
        let short: String = if name.chars().count() > 28 {
            format!("{}…", name.chars().take(27).collect::<String>())
        } else {
            name.clone()
        };
        let (px, py) = chart.backend_coord(&(*m, *p));
        let dy = if i % 2 == 0 { -16 } else { 6 };
        root.draw(&Text::new(short, (px + 6, py + dy), ("sans-serif", 11).into_font()))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn svg_has_points_and_is_deterministic() {
        let pts = vec![("a".to_string(), 1.0, 1.05), ("b".to_string(), 2.5, 2.2)];
        let a = super::predicted_vs_measured_svg(&pts, "validation");
        assert!(a.starts_with("<svg") && a.contains("<circle"), "{a}");
        // Issue 12: every point is labelled with its scenario.
        assert!(a.contains(">\na\n</text>") && a.contains(">\nb\n</text>"), "{a}");
        assert_eq!(a, super::predicted_vs_measured_svg(&pts, "validation"));
    }
}
