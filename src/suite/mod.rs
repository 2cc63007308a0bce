//! The seed suite: the eight benchmark families of the Python suite dlsim
//! replaces (27 results, names kept), plus extended sweeps drawn as curves.
//!
//! [`PerformanceBenchmark::run_all_benchmarks`] gives the 27 results;
//! [`PerformanceBenchmark::run_suite`] gives the whole [`SuiteReport`]
//! (`performance_report.json`): summary, results, curves, the timeline of
//! one run and completion times — everything the plots draw. Every result's
//! `metadata` carries `family`; each of the 27 family results also carries
//! `legacy_duration_s`, what the Python suite slept for it ([`legacy`]).

pub mod catalog;
pub mod legacy;
pub mod summary;
pub mod timeline;

pub use summary::{Performer, Summary, summarize};
pub use timeline::{CompletionTimes, Span, Timeline};

use crate::net::Costs;
use crate::par::par_map;
use crate::report::{self, BenchmarkResult};
use crate::scenario::{Plan, Priority, Scenario, SweepPoint, expand_points};
use crate::sim::{SimOptions, simulate};
use crate::trace::TraceEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const DEFAULT_SEED: u64 = 42;

/// The default network of every family (a fast WAN to a CDN).
pub const DEFAULT_NETWORK: &str = "fast WAN: 1 Gbit/s bottleneck (server.bandwidth_bps 125e6), RTT 20 ms, \
TCP + TLS 1.3 handshake (2 RTT), 25 MiB/s per connection, 10 ms server latency";

/// An extended sweep: one knob's values and their results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub name: String,
    pub knob: String,
    pub x: Vec<f64>,
    pub results: Vec<BenchmarkResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub seed: u64,
    pub default_network: String,
    /// Where `legacy_duration_s` comes from.
    pub legacy_source: String,
    /// Family → the formula the original slept for.
    pub legacy_formulas: BTreeMap<String, String>,
}

/// `performance_report.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    pub benchmark_summary: Summary,
    /// The 27 results of the eight families.
    pub detailed_results: Vec<BenchmarkResult>,
    pub suite: SuiteInfo,
    pub extended_sweeps: Vec<Curve>,
    /// Per-connection timeline of [`catalog::TIMELINE_RUN`].
    pub timeline: Timeline,
    /// Completion times of the `concurrent_downloads` runs.
    pub completion_times: Vec<CompletionTimes>,
}

/// The suite runner, named as in the Python suite.
#[derive(Clone, Copy, Debug)]
pub struct PerformanceBenchmark {
    pub seed: u64,
}

impl Default for PerformanceBenchmark {
    fn default() -> Self {
        PerformanceBenchmark { seed: DEFAULT_SEED }
    }
}

struct Job {
    family: &'static str,
    knob: Option<String>,
    x: f64,
    point: SweepPoint,
}

struct JobOut {
    result: BenchmarkResult,
    timeline: Option<Timeline>,
    completion: Option<CompletionTimes>,
}

/// Families whose original benchmark reported a throughput (the others wrote 0).
const LEGACY_THROUGHPUT: [&str; 4] = ["concurrent_downloads", "bandwidth_limiting", "adaptive_chunking", "scalability"];

fn jobs(list: &[(&'static str, &'static str)]) -> Vec<Job> {
    let mut out = Vec::new();
    for &(family, text) in list {
        let base = Scenario::from_json(text).expect("embedded suite scenarios are valid");
        let knob = base.sweep.as_ref().and_then(|s| s.knob.clone());
        let values = base.sweep.as_ref().map(|s| s.values.clone()).unwrap_or_default();
        let points = expand_points(&base).expect("embedded suite sweeps are valid");
        for (i, point) in points.into_iter().enumerate() {
            let x = values.get(i).and_then(Value::as_f64).unwrap_or(i as f64);
            out.push(Job { family, knob: knob.clone(), x, point });
        }
    }
    out
}

fn run_job(job: &Job, seed: u64) -> JobOut {
    let s = &job.point.scenario;
    let trace = job.point.name == catalog::TIMELINE_RUN || job.family == "queue_management";
    let plan = Plan::seeded(s, seed).expect("embedded suite scenarios are valid and within the budget");
    let run = simulate(&plan, SimOptions { trace });
    let mut result = report::from_run(s, &run);
    let extra = &mut result.metadata.extra;
    extra.insert("family".into(), json!(job.family));
    let point = legacy::Point::of(s, &run.files);
    if let Some(d) = legacy::duration_s(job.family, &point) {
        extra.insert("legacy_duration_s".into(), json!(d));
        if LEGACY_THROUGHPUT.contains(&job.family) {
            let mbps = (point.bytes / crate::scenario::MIB as f64 / d * 1e9).round() / 1e9;
            extra.insert("legacy_throughput_mbps".into(), json!(mbps));
        }
    }
    if job.family == "adaptive_chunking" {
        extra.insert("reads".into(), json!(run.stats.reads));
    }
    if job.family == "memory_optimization" {
        let mut buffered = s.clone();
        buffered.client.streaming_threshold_bytes = u64::MAX;
        let plan = Plan::seeded(&buffered, seed).expect("embedded suite scenarios are valid and within the budget");
        let b = simulate(&plan, SimOptions::default());
        let mb = report::from_run(&buffered, &b).memory_usage_mb;
        extra.insert("memory_without_streaming_mb".into(), json!(mb));
    }
    if job.family == "queue_management" {
        let order: Vec<&str> = run
            .trace
            .iter()
            .filter_map(|e| match e {
                TraceEvent::FileDispatched { priority, .. } => Some(priority.name()),
                _ => None,
            })
            .collect();
        extra.insert("dispatch_order".into(), json!(order));
    }
    JobOut {
        result,
        timeline: (job.point.name == catalog::TIMELINE_RUN).then(|| timeline::timeline(&run, Costs::of(s).first_byte)),
        completion: (job.family == "concurrent_downloads").then(|| timeline::completion_times(&run)),
    }
}

impl PerformanceBenchmark {
    pub fn new(seed: u64) -> Self {
        PerformanceBenchmark { seed }
    }

    /// The 27 results of the eight families, in report order.
    pub fn run_all_benchmarks(&self) -> Vec<BenchmarkResult> {
        par_map(&jobs(&catalog::FAMILIES), |j| run_job(j, self.seed)).into_iter().map(|o| o.result).collect()
    }

    /// Everything: families, extended sweeps, timeline, completion times.
    pub fn run_suite(&self) -> SuiteReport {
        let family_jobs = jobs(&catalog::FAMILIES).len();
        let all: Vec<Job> = jobs(&catalog::FAMILIES).into_iter().chain(jobs(&catalog::EXTENDED)).collect();
        let outs = par_map(&all, |j| run_job(j, self.seed));
        let mut detailed = Vec::new();
        let mut curves: Vec<Curve> = Vec::new();
        let mut timeline = Timeline::default();
        let mut completion_times = Vec::new();
        for (i, (job, out)) in all.iter().zip(outs).enumerate() {
            if let Some(t) = out.timeline {
                timeline = t;
            }
            completion_times.extend(out.completion);
            if i < family_jobs {
                detailed.push(out.result);
                continue;
            }
            if curves.last().is_none_or(|c| c.name != job.family) {
                let knob = job.knob.clone().unwrap_or_default();
                curves.push(Curve { name: job.family.into(), knob, x: Vec::new(), results: Vec::new() });
            }
            let c = curves.last_mut().expect("just pushed");
            c.x.push(job.x);
            c.results.push(out.result);
        }
        SuiteReport {
            benchmark_summary: summarize(&detailed),
            detailed_results: detailed,
            suite: SuiteInfo {
                seed: self.seed,
                default_network: DEFAULT_NETWORK.into(),
                legacy_source: legacy::SOURCE.into(),
                legacy_formulas: legacy::FORMULAS.iter().map(|(f, x)| (f.to_string(), x.to_string())).collect(),
            },
            extended_sweeps: curves,
            timeline,
            completion_times,
        }
    }
}

/// Priorities in dispatch order, from a queue_management result.
pub fn dispatch_order(r: &BenchmarkResult) -> Vec<Priority> {
    let names = r.metadata.extra.get("dispatch_order").and_then(Value::as_array).cloned().unwrap_or_default();
    names.iter().filter_map(|v| Priority::ALL.iter().copied().find(|p| Some(p.name()) == v.as_str())).collect()
}
