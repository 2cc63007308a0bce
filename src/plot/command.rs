//! `dlsim plot REPORT`: redraw the charts of a saved report — the suite's
//! `performance_report.json` (its seven charts) or any run report
//! (`dlsim run`'s `<name>.json`: see [`super::run`]).

use super::run::{RunReport, render};
use crate::error::{Error, Result};
use crate::report::write_outputs;
use crate::scenario::read_scenario_file;
use crate::suite::SuiteReport;
use std::path::{Path, PathBuf};

/// Draw the charts of the report at `path` into `out` (default: the
/// report's directory); the lines to print on stdout. A run report's
/// timeline and CDF need `scenario` (see [`super::run`]); `point` picks the
/// timeline's point.
pub fn plot(path: &Path, out: Option<&Path>, scenario: Option<&Path>, point: Option<&str>) -> Result<String> {
    let text = read_scenario_file(path)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{} is not a dlsim report (not JSON: {e})", path.display())))?;
    let dir: PathBuf =
        out.map(Path::to_path_buf).unwrap_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf());
    let mut said = String::new();
    let files = if v.get("detailed_results").is_some() {
        if scenario.is_some() || point.is_some() {
            return Err(Error::flag("--scenario", "is for run reports; a suite report holds its timeline"));
        }
        let report: SuiteReport = serde_json::from_value(v)
            .map_err(|e| Error::Other(format!("{} is not a dlsim suite report: {e}", path.display())))?;
        super::render_report(&report)?.1
    } else if v.get("results").is_some() {
        let r = RunReport::from_value(&v, path)?;
        if point.is_some() && scenario.is_none() {
            return Err(Error::flag("--point", "needs --scenario (the timeline is simulated again)"));
        }
        let files = render(&r, scenario, point)?;
        if scenario.is_none() {
            said.push_str(
                "note: the timeline and the completion CDF need the run's event log, which a report does not hold: \
                 pass --scenario FILE (the scenario the report came from) to simulate it again\n",
            );
        }
        if files.is_empty() {
            return Err(Error::Other(format!(
                "{} has one result: there is no curve to draw; pass --scenario FILE for its timeline and CDF",
                path.display()
            )));
        }
        files
    } else {
        return Err(Error::Other(format!(
            "{} is not a dlsim report: expected `results` (dlsim run) or `detailed_results` (dlsim suite)",
            path.display()
        )));
    };
    for p in write_outputs(&dir, &files)? {
        said.push_str(&format!("wrote {}\n", p.display()));
    }
    Ok(said)
}
