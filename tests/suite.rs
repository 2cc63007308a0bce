//! The seed suite: names and report layout, each family's effect, the
//! committed reference output, determinism.

use dlsim::report::BenchmarkResult;
use dlsim::scenario::{MIB, Priority};
use dlsim::suite::{PerformanceBenchmark, SuiteReport, dispatch_order, summarize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const NAMES: [&str; 27] = [
    "concurrent_downloads_small_files",
    "concurrent_downloads_medium_files",
    "concurrent_downloads_large_files",
    "concurrent_downloads_mixed_workload",
    "bandwidth_limiting_1048576",
    "bandwidth_limiting_5242880",
    "bandwidth_limiting_10485760",
    "bandwidth_limiting_unlimited",
    "adaptive_chunking_disabled",
    "adaptive_chunking_enabled",
    "small_files_memory",
    "large_files_memory",
    "mixed_workload_memory",
    "connection_pooling_5",
    "connection_pooling_10",
    "connection_pooling_20",
    "connection_pooling_50",
    "queue_management",
    "error_recovery_0pct",
    "error_recovery_10pct",
    "error_recovery_20pct",
    "error_recovery_50pct",
    "scalability_1_concurrent",
    "scalability_2_concurrent",
    "scalability_4_concurrent",
    "scalability_8_concurrent",
    "scalability_16_concurrent",
];

/// The default network's bottleneck, MiB/s.
const FAST_WAN_MIBPS: f64 = 125e6 / MIB as f64;

fn report() -> &'static SuiteReport {
    static R: OnceLock<SuiteReport> = OnceLock::new();
    R.get_or_init(|| PerformanceBenchmark::default().run_suite())
}

fn res(name: &str) -> &'static BenchmarkResult {
    report().detailed_results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no result {name}"))
}

fn curve(name: &str) -> Vec<(f64, &'static BenchmarkResult)> {
    let c = report().extended_sweeps.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no curve {name}"));
    c.x.iter().copied().zip(&c.results).collect()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-suite-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn the_27_names_in_order_and_the_summary_of_them() {
    let r = report();
    let names: Vec<&str> = r.detailed_results.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, NAMES);
    assert_eq!(r.benchmark_summary, summarize(&r.detailed_results));
    let s = &r.benchmark_summary;
    assert_eq!(s.total_benchmarks, 27);
    let max = r.detailed_results.iter().map(|x| x.throughput_mbps).fold(0.0, f64::max);
    let min = r.detailed_results.iter().map(|x| x.throughput_mbps).fold(f64::INFINITY, f64::min);
    assert_eq!(s.best_performer.as_ref().unwrap().throughput_mbps, max);
    assert_eq!(s.worst_performer.as_ref().unwrap().throughput_mbps, min);
    let json: serde_json::Value = serde_json::to_value(r).unwrap();
    assert!(json["benchmark_summary"]["average_throughput_mbps"].is_number());
    assert_eq!(json["detailed_results"].as_array().unwrap().len(), 27);
    // run_all_benchmarks gives the same 27 results.
    assert_eq!(PerformanceBenchmark::default().run_all_benchmarks(), r.detailed_results);
}

#[test]
fn every_result_carries_its_family_and_the_legacy_estimate() {
    let r = report();
    for x in r.detailed_results.iter().chain(r.extended_sweeps.iter().flat_map(|c| &c.results)) {
        let m = &x.metadata.extra;
        assert!(m["family"].is_string(), "{}", x.name);
        assert!(m["legacy_estimate"]["duration_s"].as_f64().unwrap() > 0.0, "{}", x.name);
    }
}

#[test]
fn a_binding_bandwidth_limit_is_achieved_within_2_percent() {
    for limit in [1048576u64, 5242880, 10485760] {
        let r = res(&format!("bandwidth_limiting_{limit}"));
        let ratio = r.throughput_mbps * MIB as f64 / limit as f64;
        assert!((ratio - 1.0).abs() < 0.02, "limit {limit}: achieved/limit = {ratio}");
    }
    let unlimited = res("bandwidth_limiting_unlimited").throughput_mbps;
    assert!(unlimited > 3.0 * res("bandwidth_limiting_10485760").throughput_mbps, "{unlimited}");
    // The extended server-limit sweep: below what 4 connections can pull, within 2 %.
    for (x, r) in curve("limit_server").into_iter().filter(|(x, _)| *x <= 10.0 * MIB as f64) {
        let ratio = r.throughput_mbps * MIB as f64 / x;
        assert!((ratio - 1.0).abs() < 0.02, "{}: {ratio}", r.name);
    }
    // The client bucket starts empty (the original's): the download never
    // beats the rate, and holds it but for start-up and the last connections' tail.
    for (x, r) in curve("limit_client") {
        let achieved = r.throughput_mbps * MIB as f64;
        assert!(achieved <= x * (1.0 + 1e-9) && achieved >= 0.97 * x, "{}: {achieved} B/s", r.name);
    }
}

#[test]
fn pooling_cuts_handshakes_and_time_and_counts_overflow() {
    let pools: Vec<&BenchmarkResult> =
        [5, 10, 20, 50].iter().map(|p| res(&format!("connection_pooling_{p}"))).collect();
    for w in pools.windows(2) {
        assert!(w[1].metadata.handshakes <= w[0].metadata.handshakes);
        assert!(w[1].duration <= w[0].duration);
    }
    assert!(pools[1].metadata.handshakes < pools[0].metadata.handshakes);
    assert!(pools[1].duration < pools[0].duration);
    assert!(pools[0].metadata.pool_overflow_discarded > 0);
    let c = curve("pool_size");
    for w in c.windows(2) {
        assert!(w[1].1.metadata.handshakes <= w[0].1.metadata.handshakes, "{}", w[1].1.name);
        assert!(w[1].1.metadata.pool_overflow_discarded <= w[0].1.metadata.pool_overflow_discarded);
    }
    // Once the pool holds the 8 concurrent connections, it opens only those.
    for (size, r) in &c {
        assert_eq!(r.metadata.handshakes == 8, *size >= 8.0, "{}", r.name);
    }
}

#[test]
fn errors_cost_retries_time_and_finally_files() {
    let fam: Vec<&BenchmarkResult> = [0, 10, 20, 50].iter().map(|e| res(&format!("error_recovery_{e}pct"))).collect();
    assert_eq!(fam[0].metadata.retries, 0);
    assert!(fam[1].metadata.retries > 0);
    assert!(fam[3].metadata.retries > fam[2].metadata.retries);
    assert!(fam[3].duration > fam[1].duration && fam[1].duration > fam[0].duration);
    let c = curve("error_rate");
    for w in c.windows(2) {
        assert!(w[1].1.success_rate <= w[0].1.success_rate, "{}", w[1].1.name);
        assert!(w[1].1.metadata.retries >= w[0].1.metadata.retries, "{}", w[1].1.name);
    }
    assert_eq!(c[0].1.success_rate, 1.0);
    assert!(c.last().unwrap().1.success_rate < 1.0);
}

#[test]
fn throughput_rises_with_concurrency_then_saturates_at_the_bottleneck() {
    let fam: Vec<f64> =
        [1, 2, 4, 8, 16].iter().map(|c| res(&format!("scalability_{c}_concurrent")).throughput_mbps).collect();
    for w in fam[..4].windows(2) {
        assert!(w[1] > 1.3 * w[0], "{fam:?}");
    }
    assert!(fam[4] <= FAST_WAN_MIBPS && fam[4] < 1.1 * fam[3], "{fam:?}");
    // On the LAN the client's CPU is the bottleneck: the suite's one core at
    // the default 1 ns per byte + 2 µs per 128 KiB read.
    let cpu_bps: f64 = 1.0 / (1e-9 + 2e-6 / 131072.0);
    for (name, bottleneck_bps) in
        [("concurrency_lan", cpu_bps.min(1.25e9)), ("concurrency_fast_wan", 125e6), ("concurrency_slow_wan", 12.5e6)]
    {
        let c = curve(name);
        let t: Vec<f64> = c.iter().map(|(_, r)| r.throughput_mbps).collect();
        let cap = bottleneck_bps / MIB as f64;
        assert!(t[1] > 1.8 * t[0], "{name} rises: {t:?}");
        assert!(t.iter().all(|x| *x <= cap), "{name} above the bottleneck: {t:?}");
        assert!(t[8] > 0.95 * cap, "{name} saturates at the bottleneck: {t:?}");
        // The legacy formula never saturates.
        let old = |r: &BenchmarkResult| r.metadata.extra["legacy_estimate"]["throughput_mbps"].as_f64().unwrap();
        assert!(old(c[8].1) > 10.0 * old(c[4].1));
    }
}

#[test]
fn streaming_cuts_peak_memory_for_large_files_only() {
    let without = |r: &BenchmarkResult| r.metadata.extra["memory_without_streaming_mb"].as_f64().unwrap();
    let large = res("large_files_memory");
    assert!(large.memory_usage_mb * 100.0 < without(large), "{} vs {}", large.memory_usage_mb, without(large));
    let small = res("small_files_memory");
    assert_eq!(small.memory_usage_mb, without(small));
    let mixed = res("mixed_workload_memory");
    assert!(mixed.memory_usage_mb < without(mixed));
}

#[test]
fn high_files_are_dispatched_before_low_ones_when_slots_are_scarce() {
    let q = res("queue_management");
    assert_eq!(q.concurrent_downloads, 2);
    let order = dispatch_order(q);
    assert_eq!(order.len(), 10);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "dispatch order by priority");
    assert_eq!(order.iter().filter(|p| **p == Priority::High).count(), 3);
    let w = &q.metadata.wait_by_priority;
    assert!(w["high"].mean_s < w["normal"].mean_s && w["normal"].mean_s < w["low"].mean_s, "{w:?}");
}

#[test]
fn adaptive_chunking_cuts_requests_and_time_for_large_files() {
    let (off, on) = (res("adaptive_chunking_disabled"), res("adaptive_chunking_enabled"));
    assert!(on.metadata.requests * 4 < off.metadata.requests, "{} vs {}", on.metadata.requests, off.metadata.requests);
    assert!(on.duration < 0.5 * off.duration, "{} vs {}", on.duration, off.duration);
}

fn run_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().expect("dlsim runs")
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_committed_output_is_what_dlsim_suite_writes_byte_for_byte() {
    let out = temp_dir("ref");
    let o = run_cli(&["suite", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("output");
    let (got, want) = (files_of(&out), files_of(&reference));
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "file set differs: regenerate output/ with `dlsim suite`");
    for ((name, a), (_, b)) in got.iter().zip(&want) {
        assert!(a == b, "{name} differs from output/{name}: regenerate output/ with `dlsim suite` and review the diff");
    }
    // `dlsim plot` redraws the same SVGs from the saved report.
    let redraw = temp_dir("plot");
    let o =
        run_cli(&["plot", out.join("performance_report.json").to_str().unwrap(), "--out", redraw.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svgs: Vec<_> = got.into_iter().filter(|f| f.0.ends_with(".svg")).collect();
    assert_eq!(files_of(&redraw), svgs);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&redraw);
}

#[test]
fn same_seed_same_bytes_other_seed_other_faults() {
    let a = serde_json::to_string(&PerformanceBenchmark::new(7).run_suite()).unwrap();
    let b = serde_json::to_string(&PerformanceBenchmark::new(7).run_suite()).unwrap();
    assert_eq!(a, b);
    let c = PerformanceBenchmark::new(8).run_suite();
    let retries = |r: &SuiteReport| -> Vec<u64> {
        r.extended_sweeps
            .iter()
            .find(|c| c.name == "error_rate")
            .unwrap()
            .results
            .iter()
            .map(|x| x.metadata.retries)
            .collect()
    };
    let a: SuiteReport = serde_json::from_str(&a).unwrap();
    assert_ne!(retries(&a), retries(&c));
}

#[test]
fn plot_refuses_a_file_that_is_not_a_report_and_writes_nothing() {
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"results\": []}").unwrap();
    let out = dir.join("plots");
    let o = run_cli(&["plot", bad.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a dlsim suite report"));
    assert!(!out.exists());
    let o = run_cli(&["plot", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
