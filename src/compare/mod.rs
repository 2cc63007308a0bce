//! `dlsim compare`: the same workload and network under each client preset
//! (and the scenario's own client) — "which tool is fastest for this model
//! on this network?" (issue 10, part 3).
//!
//! A scenario with a sweep compares the presets on each of its points (for
//! example one point per network): the points are the chart's groups.
//! Every run is a plain simulation of a plan, so the output is
//! deterministic for a seed.

pub mod chart;

use crate::error::{Error, Result};
use crate::report::{self, BenchmarkResult};
use crate::scenario::preset::{self, Preset};
use crate::scenario::{Budget, Plan, Scenario, points};
use crate::sim::{SimOptions, simulate};
use serde::Serialize;

/// Which client a row ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contender {
    /// The scenario's own `client` section.
    Own,
    Preset(Preset),
}

impl Contender {
    pub fn name(self) -> &'static str {
        match self {
            Contender::Own => "own client",
            Contender::Preset(p) => p.name(),
        }
    }
}

/// One run: a contender on one point (network) of the scenario.
#[derive(Clone, Debug, Serialize)]
pub struct CompareRow {
    /// The sweep point's name (the scenario's name without a sweep).
    pub point: String,
    pub client: &'static str,
    pub duration_s: f64,
    pub throughput_mib_s: f64,
    pub peak_memory_mib: f64,
    /// New connections opened (handshakes).
    pub connections: u64,
    pub requests: u64,
    pub retries: u64,
    pub files_failed: u32,
    /// The full result, as `dlsim run` reports it.
    pub result: BenchmarkResult,
}

/// The contenders of `--presets a,b,c` (default: every preset), then the
/// scenario's own client.
pub fn parse_presets(list: Option<&str>) -> Result<Vec<Contender>> {
    let mut out = Vec::new();
    match list {
        None => out.extend(preset::ALL.into_iter().map(Contender::Preset)),
        Some(text) => {
            for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let p = Preset::parse(name).ok_or_else(|| {
                    Error::flag("--presets", format!("`{name}` is not a preset (allowed: {})", preset::NAMES))
                })?;
                if !out.contains(&Contender::Preset(p)) {
                    out.push(Contender::Preset(p));
                }
            }
            if out.is_empty() {
                return Err(Error::flag("--presets", format!("name at least one preset ({})", preset::NAMES)));
            }
        }
    }
    out.push(Contender::Own);
    Ok(out)
}

/// `s` with the contender's client. A preset keeps what it does not decide
/// from the scenario: the client's bandwidth limit and CPU model.
pub fn with_client(s: &Scenario, c: Contender) -> Scenario {
    let mut m = s.clone();
    if let Contender::Preset(p) = c {
        m.client = crate::scenario::Client {
            bandwidth_limit: s.client.bandwidth_limit.clone(),
            cpu: s.client.cpu.clone(),
            ..p.client()
        };
    }
    m
}

/// Run every contender on every point of `base` (seed `seed`, or each
/// point's own); rows in point order, then contender order.
pub fn compare(
    base: &Scenario,
    contenders: &[Contender],
    seed: Option<u64>,
    budget: &Budget,
) -> Result<Vec<CompareRow>> {
    let mut rows = Vec::new();
    for point in points(base)? {
        let point = point?;
        let mut plans = Vec::new();
        for &c in contenders {
            let mut s = with_client(&point.scenario, c);
            s.name = format!("{}_{}", point.name, c.name().replace(' ', "_"));
            plans.push((c, Plan::new(&s, seed, budget, false)?));
        }
        let results = crate::par::par_map(&plans, |(_, plan)| {
            let run = simulate(plan, SimOptions::default());
            report::from_run(plan.scenario(), &run)
        });
        for ((c, _), r) in plans.iter().zip(results) {
            rows.push(CompareRow {
                point: point.name.clone(),
                client: c.name(),
                duration_s: r.duration,
                throughput_mib_s: r.throughput_mbps,
                peak_memory_mib: r.memory_usage_mb,
                connections: r.metadata.handshakes,
                requests: r.metadata.requests,
                retries: r.metadata.retries,
                files_failed: r.metadata.files_failed,
                result: r,
            });
        }
    }
    Ok(rows)
}

/// The stdout table.
pub fn table(rows: &[CompareRow]) -> String {
    let mut t = format!(
        "{:<24} {:<16} {:>10} {:>10} {:>10} {:>6} {:>9} {:>7} {:>6}\n",
        "network", "client", "time s", "MiB/s", "peak MiB", "conns", "requests", "retries", "failed"
    );
    for r in rows {
        t.push_str(&format!(
            "{:<24} {:<16} {:>10.3} {:>10.2} {:>10.1} {:>6} {:>9} {:>7} {:>6}\n",
            r.point,
            r.client,
            r.duration_s,
            r.throughput_mib_s,
            r.peak_memory_mib,
            r.connections,
            r.requests,
            r.retries,
            r.files_failed
        ));
    }
    t
}

/// CSV: one line per row, the table's columns.
pub fn csv(rows: &[CompareRow]) -> String {
    let mut t = String::from(
        "network,client,duration_s,throughput_mib_s,peak_memory_mib,connections,requests,retries,files_failed\n",
    );
    for r in rows {
        t.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            csv_field(&r.point),
            r.client,
            r.duration_s,
            r.throughput_mib_s,
            r.peak_memory_mib,
            r.connections,
            r.requests,
            r.retries,
            r.files_failed
        ));
    }
    t
}

/// JSON, CSV and SVG of a comparison, named `compare.*`.
pub fn outputs(title: &str, rows: &[CompareRow]) -> Result<Vec<(String, Vec<u8>)>> {
    let json = serde_json::to_string_pretty(rows).map_err(|e| Error::Other(format!("cannot render JSON: {e}")))? + "\n";
    let svg = chart::bars(title, rows).map_err(|e| Error::Other(format!("cannot draw the chart: {e}")))?;
    Ok(vec![
        ("compare.json".to_string(), json.into_bytes()),
        ("compare.csv".to_string(), csv(rows).into_bytes()),
        ("compare.svg".to_string(), svg.into_bytes()),
    ])
}

/// A CSV field, quoted when it holds a comma, quote or newline.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `dlsim compare SCENARIO [--presets a,b,c] [--out DIR]`: the text to print
/// (the table and the files written).
pub fn command(
    path: &std::path::Path,
    presets: Option<&str>,
    seed: Option<u64>,
    out: &std::path::Path,
) -> Result<String> {
    let base = Scenario::load(path)?;
    let contenders = parse_presets(presets)?;
    let rows = compare(&base, &contenders, seed, &Budget::default()).map_err(|e| e.in_file(path))?;
    let title = format!("dlsim compare: {} — time per client", base.name);
    let mut text = table(&rows);
    for p in report::write_outputs(out, &outputs(&title, &rows)?)? {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    Ok(text)
}
