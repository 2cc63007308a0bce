//! Charts of any run report (`dlsim run`'s `<name>.json`), for `dlsim plot`:
//!
//! - `<name>_curve.svg`: throughput, duration, success rate and file
//!   completion p50/p95 over the sweep's knob (ticks at the swept values;
//!   a log2 axis when they span 16× or more; the points' names when the
//!   values are not numbers), with the 95 % confidence interval of each
//!   point drawn as whiskers when the report has replication `stats`;
//! - `<name>_timeline.svg` and `<name>_cdf.svg`: these need the run's event
//!   log, which a report does not hold, so they are drawn when the scenario
//!   is given: each point is simulated again with its reported seed (the
//!   simulator is deterministic) and must reproduce the reported result.

use super::chart::{Axes, PALETTE, Series, lin_top, lines, num, svg};
use super::{Drawn, Files, gantt};
use crate::error::{Error, Result};
use crate::net::Costs;
use crate::report::{self, BenchmarkResult};
use crate::scenario::{self, Budget, Plan, Scenario};
use crate::sim::{SimOptions, simulate};
use crate::suite::timeline;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The `sweep` entry of a run report: the knob and its values, when the
/// scenario sweeps one knob (`None` otherwise).
pub fn sweep_axis(base: &Scenario) -> Option<Value> {
    let s = base.sweep.as_ref()?;
    let knob = s.knob.as_ref()?;
    Some(serde_json::json!({ "knob": knob, "values": s.values }))
}

/// A run report read back.
pub struct RunReport {
    pub scenario: String,
    pub results: Vec<BenchmarkResult>,
    /// Per result, its replication `stats` (metric → mean/std/ci95), if any.
    pub stats: Vec<Option<Value>>,
    /// The swept knob and its values.
    pub sweep: Option<(String, Vec<Value>)>,
}

impl RunReport {
    pub fn from_value(v: &Value, path: &Path) -> Result<RunReport> {
        let bad = |what: &str| Error::Other(format!("{} is not a dlsim run report: {what}", path.display()));
        let results = v.get("results").and_then(Value::as_array).ok_or_else(|| bad("no `results` array"))?;
        if results.is_empty() {
            return Err(bad("`results` is empty"));
        }
        let mut out = Vec::new();
        let mut stats = Vec::new();
        for (i, r) in results.iter().enumerate() {
            out.push(
                serde_json::from_value::<BenchmarkResult>(r.clone()).map_err(|e| bad(&format!("results[{i}]: {e}")))?,
            );
            stats.push(r.get("stats").filter(|s| s.is_object()).cloned());
        }
        let sweep = v.get("sweep").and_then(|s| {
            let knob = s.get("knob")?.as_str()?.to_string();
            let values = s.get("values")?.as_array()?.clone();
            (values.len() == out.len()).then_some((knob, values))
        });
        let scenario = v.get("scenario").and_then(Value::as_str).unwrap_or("run").to_string();
        Ok(RunReport { scenario, results: out, stats, sweep })
    }

    /// The 95 % interval of `metric` at point `i`, if the report has it.
    fn ci(&self, i: usize, metric: &str) -> Option<(f64, f64)> {
        let m = self.stats.get(i)?.as_ref()?.get(metric)?;
        Some((m.get("ci95_low")?.as_f64()?, m.get("ci95_high")?.as_f64()?))
    }
}

fn value_label(v: &Value) -> String {
    match v {
        Value::Null => "unlimited".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        other => other.to_string(),
    }
}

/// The unit a knob's name carries, for the axis title.
fn knob_unit(knob: &str) -> &'static str {
    for (suffix, unit) in
        [("_bps", " (bytes/s)"), ("_bytes", " (bytes)"), ("_ms", " (ms)"), ("_s", " (s)"), ("_rate", " (probability)")]
    {
        if knob.ends_with(suffix) {
            return unit;
        }
    }
    ""
}

/// Where each point goes on x, its tick labels, and the axis title.
struct XAxis {
    pos: Vec<f64>,
    ticks: Vec<(f64, String)>,
    title: String,
}

fn x_axis(r: &RunReport) -> XAxis {
    let n = r.results.len();
    let every = n.div_ceil(12).max(1);
    let thin =
        |all: Vec<(f64, String)>| all.into_iter().enumerate().filter(|(i, _)| i % every == 0).map(|x| x.1).collect();
    if let Some((knob, values)) = &r.sweep {
        let xs: Option<Vec<f64>> = values.iter().map(Value::as_f64).collect();
        if let Some(xs) = xs {
            let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
            let log = lo > 0.0 && hi / lo >= 16.0;
            let pos: Vec<f64> = xs.iter().map(|x| if log { x.log2() } else { *x }).collect();
            let ticks = thin(pos.iter().zip(&xs).map(|(p, x)| (*p, num(*x))).collect());
            let title = format!("{knob}{}{}", knob_unit(knob), if log { ", log scale" } else { "" });
            return XAxis { pos, ticks, title };
        }
        let pos: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let ticks = thin(values.iter().enumerate().map(|(i, v)| (i as f64, value_label(v))).collect());
        return XAxis { pos, ticks, title: format!("{knob}{}", knob_unit(knob)) };
    }
    let pos: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let ticks = thin(r.results.iter().enumerate().map(|(i, x)| (i as f64, x.name.clone())).collect());
    XAxis { pos, ticks, title: "sweep point".into() }
}

/// The curve chart of a report with two or more results.
pub fn curve(r: &RunReport) -> Drawn {
    let x = x_axis(r);
    let (lo, hi) = x.pos.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(*p), b.max(*p)));
    let pad = ((hi - lo) * 0.05).max(0.3);
    let xr = lo - pad..hi + pad;
    let replicated = r.stats.iter().any(Option::is_some);
    let series = |label: &str, metric: &str, scale: f64, f: &dyn Fn(&BenchmarkResult) -> f64, color| {
        let mut s = Series::line(label, x.pos.iter().zip(&r.results).map(|(p, res)| (*p, f(res))).collect(), color);
        s.bars = (0..r.results.len())
            .filter_map(|i| r.ci(i, metric).map(|(a, b)| (x.pos[i], a * scale, b * scale)))
            .collect();
        s
    };
    let thr = vec![series("throughput", "throughput_mbps", 1.0, &|x| x.throughput_mbps, PALETTE[0])];
    let dur = vec![series("duration", "duration", 1.0, &|x| x.duration, PALETTE[2])];
    let ok = vec![series("success rate", "success_rate", 100.0, &|x| 100.0 * x.success_rate, PALETTE[3])];
    let pct = vec![
        series("p50", "p50_s", 1.0, &|x| x.metadata.completion_time_s.p50, PALETTE[1]),
        series("p95", "p95_s", 1.0, &|x| x.metadata.completion_time_s.p95, PALETTE[4]),
    ];
    let all_y = |s: &[Series]| {
        s.iter().flat_map(|s| s.points.iter().map(|p| p.1).chain(s.bars.iter().map(|b| b.2))).collect::<Vec<f64>>()
    };
    let reps = if replicated { " (whiskers: 95 % CI over replications)" } else { "" };
    let title = |t: &str| format!("{t} of {}{reps}", r.scenario);
    let axes = |t: String, y: &'static str| {
        let mut a = Axes::new("", &x.title, y, xr.clone());
        a.x_ticks = Some(x.ticks.clone());
        (t, a)
    };
    let panels = [
        (axes(title("Throughput"), "throughput (MiB/s)"), lin_top(all_y(&thr).into_iter(), 0.1), &thr),
        (axes(title("Duration"), "duration (s)"), lin_top(all_y(&dur).into_iter(), 0.1), &dur),
        (axes(title("Success rate"), "files completed (%)"), 0.0..105.0, &ok),
        (
            axes(title("File completion time"), "completion time since start (s)"),
            lin_top(all_y(&pct).into_iter(), 0.1),
            &pct,
        ),
    ];
    svg((1300, 900), |root| {
        let areas = root.split_evenly((2, 2));
        for (((t, mut a), y, s), area) in panels.into_iter().zip(areas.iter()) {
            a.title = &t;
            lines(area, &a, y, s)?;
        }
        Ok(())
    })
}

/// Simulate every point of `scenario` again with its reported seed and
/// check that it reproduces the report; returns, per point, the plan and
/// its traced run, in report order.
fn rerun(r: &RunReport, scenario: &Path) -> Result<Vec<(Plan, crate::RunRecord)>> {
    let base = Scenario::load(scenario)?;
    let mut plans = BTreeMap::new();
    for p in scenario::points(&base).map_err(|e| e.in_file(scenario))? {
        let p = p.map_err(|e| e.in_file(scenario))?;
        plans.insert(p.name.clone(), p.scenario);
    }
    let mut out = Vec::new();
    for res in &r.results {
        let s = plans.get(&res.name).ok_or_else(|| {
            Error::Other(format!("{} has no point named {:?} (the report's)", scenario.display(), res.name))
        })?;
        let plan = Plan::new(s, Some(res.metadata.seed), &Budget::default(), true).map_err(|e| e.in_file(scenario))?;
        let run = simulate(&plan, SimOptions { trace: true });
        plan.check_duration(run.duration)?;
        let replicated = res.metadata.extra.contains_key("replications");
        if !replicated && report::from_run(plan.scenario(), &run) != *res {
            return Err(Error::Other(format!(
                "{} does not reproduce the report's {:?} (seed {}): was the scenario changed since the run?",
                scenario.display(),
                res.name,
                res.metadata.seed
            )));
        }
        out.push((plan, run));
    }
    Ok(out)
}

/// The charts of a run report: its curve when it has two or more points;
/// with `scenario`, the timeline of `point` (default: the first) and the
/// completion CDF of every point (at most 12, evenly picked).
pub fn render(r: &RunReport, scenario: Option<&Path>, point: Option<&str>) -> Result<Files> {
    let name = &r.scenario;
    let draw = |file: String, d: Drawn| -> Result<(String, Vec<u8>)> {
        d.map(|svg| (file.clone(), svg.into_bytes())).map_err(|e| Error::Other(format!("cannot draw {file}: {e}")))
    };
    let mut files = Vec::new();
    if r.results.len() > 1 {
        files.push(draw(format!("{name}_curve.svg"), curve(r))?);
    }
    if let Some(path) = scenario {
        let runs = rerun(r, path)?;
        let at = match point {
            Some(p) => runs
                .iter()
                .position(|(plan, _)| plan.name() == p)
                .ok_or_else(|| Error::flag("--point", format!("no point {p:?} in the report; it has {}", names(r))))?,
            None => 0,
        };
        let (plan, run) = &runs[at];
        let set = plan.files();
        let labels: BTreeMap<u32, String> = set
            .iter()
            .map(|f| {
                let path = set.path(f.id);
                (f.id, path.rsplit('/').next().unwrap_or(&path).to_string())
            })
            .collect();
        let t = timeline::timeline(run, Costs::of(plan.scenario()).first_byte);
        let title = format!("Per-connection timeline of {}", plan.name());
        files.push(draw(format!("{name}_timeline.svg"), gantt::timeline_chart(&t, &title, &labels))?);
        let every = runs.len().div_ceil(12).max(1);
        let sets: Vec<_> = runs.iter().step_by(every).map(|(_, run)| timeline::completion_times(run)).collect();
        let title = format!("File completion time CDF of {name}");
        files.push(draw(format!("{name}_cdf.svg"), gantt::cdf_chart(&sets, &title, None))?);
    }
    Ok(files)
}

fn names(r: &RunReport) -> String {
    let shown: Vec<String> = r.results.iter().take(6).map(|x| format!("{:?}", x.name)).collect();
    let more = if r.results.len() > 6 { format!(" and {} more", r.results.len() - 6) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}
