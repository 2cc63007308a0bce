//! SVG charts of a suite report or of any run report, drawn with plotters.
//!
//! Byte-deterministic: plotters' naive text backend lays text out from the
//! string length alone (no system or embedded font is read), and the SVG
//! names the generic `sans-serif` family for the viewer to render. Every
//! chart is drawn from a [`SuiteReport`] only, so `dlsim plot` redraws a
//! saved report exactly.

pub(crate) mod chart;
pub mod command;
mod curves;
pub mod gantt;
pub mod run;

use crate::error::{Error, Result};
use crate::suite::SuiteReport;

type Drawn = std::result::Result<String, Box<dyn std::error::Error>>;
type Chart = fn(&SuiteReport) -> Drawn;

/// Output files: (file name, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

/// The report's JSON text and its charts, drawn from the JSON read back, so
/// `dlsim suite` and `dlsim plot` draw from exactly the same numbers.
pub fn render_report(report: &SuiteReport) -> Result<(String, Files)> {
    let json = serde_json::to_string_pretty(report).expect("a report serializes") + "\n";
    let reread: SuiteReport = serde_json::from_str(&json).expect("a report reads back");
    Ok((json, render_all(&reread)?))
}

/// Every chart of `r`: (file name, SVG bytes), in a fixed order.
pub fn render_all(r: &SuiteReport) -> Result<Files> {
    let charts: [(&str, Chart); 7] = [
        ("scalability.svg", curves::scalability),
        ("bandwidth_limit.svg", curves::bandwidth_limit),
        ("error_rate.svg", curves::error_rate),
        ("pool_size.svg", curves::pool_size),
        ("range_chunk_size.svg", curves::range_chunk_size),
        ("timeline.svg", gantt::timeline),
        ("completion_cdf.svg", gantt::completion_cdf),
    ];
    charts
        .iter()
        .map(|(name, f)| {
            f(r).map(|svg| (name.to_string(), svg.into_bytes()))
                .map_err(|e| Error::Other(format!("cannot draw {name}: {e}")))
        })
        .collect()
}
