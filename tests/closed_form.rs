//! Closed-form checks: cases whose answer is known exactly, up to
//! nanosecond rounding.

use dlsim::scenario::MIB;
use dlsim::trace::TraceEvent;
use dlsim::{Plan, Scenario, SimOptions, SimTime, simulate};
use serde_json::json;

/// A scenario with no latency, no RTT, no handshake and no faults, with
/// `overrides` merged in (objects merge key by key).
fn scenario(overrides: serde_json::Value) -> Scenario {
    let mut base = json!({
        "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 0 },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": {},
        "workload": { "models": [ { "name": "m", "files": [ { "path": "m/a.bin", "size_bytes": 100 * MIB } ] } ] }
    });
    merge(&mut base, overrides);
    Scenario::from_value(base).expect("valid test scenario")
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn completion_times(s: &Scenario) -> Vec<SimTime> {
    let run = simulate(&Plan::seeded(s, 1).unwrap(), SimOptions { trace: true });
    run.trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::FileCompleted { t, .. } => Some(*t),
            _ => None,
        })
        .collect()
}

#[test]
fn one_100_mib_file_at_10_mib_s_takes_10_s() {
    let run = simulate(&Plan::seeded(&scenario(json!({})), 1).unwrap(), SimOptions::default());
    assert_eq!(run.duration, SimTime::from_secs(10));
    assert_eq!(run.stats.useful_bytes, 100 * MIB);
}

#[test]
fn latency_rtt_and_handshake_add_exactly_90_ms() {
    let s = scenario(json!({
        "server": { "latency_ms": 50 },
        "network": { "rtt_ms": 20, "handshake_rtts": 1, "slow_start": false }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    assert_eq!(run.duration, SimTime::from_secs(10) + SimTime::from_millis(90));
}

#[test]
fn four_equal_files_on_four_connections_share_40_mib_s() {
    let files: Vec<_> = (0..4).map(|i| json!({ "path": format!("m/{i}.bin"), "size_bytes": 10 * MIB })).collect();
    let s = scenario(json!({
        "server": { "bandwidth_bps": 40 * MIB },
        "client": { "max_concurrent_downloads": 4 },
        "workload": { "models": [ { "name": "m", "files": files } ] }
    }));
    // Each gets 10 MiB/s: every 10 MiB file ends at exactly 1 s.
    assert_eq!(completion_times(&s), vec![SimTime::from_secs(1); 4]);
}

#[test]
fn a_binding_per_connection_cap_sets_the_rate() {
    let s = scenario(json!({
        "server": { "bandwidth_bps": 1000 * MIB },
        "network": { "per_connection_bps": 20 * MIB }
    }));
    assert_eq!(simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default()).duration, SimTime::from_secs(5));
    // Two files on two connections: each capped, neither slows the other.
    let s2 = scenario(json!({
        "server": { "bandwidth_bps": 1000 * MIB },
        "network": { "per_connection_bps": 20 * MIB },
        "workload": { "models": [ { "name": "m", "files": [
            { "path": "a", "size_bytes": 100 * MIB }, { "path": "b", "size_bytes": 100 * MIB } ] } ] }
    }));
    assert_eq!(completion_times(&s2), vec![SimTime::from_secs(5); 2]);
}

#[test]
fn tcp_window_caps_each_connection_at_window_over_rtt() {
    // 1 MiB window / 100 ms RTT = 10 MiB/s: 100 MiB in 10 s, plus 100 ms
    // for the request's round trip.
    let s = scenario(json!({
        "server": { "bandwidth_bps": null },
        "network": { "rtt_ms": 100, "tcp_window_bytes": MIB, "slow_start": false }
    }));
    assert_eq!(simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default()).duration, SimTime::from_millis(10_100));
}

#[test]
fn token_bucket_bursts_then_holds_its_rate() {
    // Server 3 MiB/s, limiter 1 MiB/s with a 4 MiB bucket (full at start):
    // the bucket drains at 3 − 1 = 2 MiB/s for 2 s (6 MiB at 3 MiB/s), then
    // the remaining 94 MiB go at exactly 1 MiB/s: 2 + 94 = 96 s.
    let s = scenario(json!({
        "server": { "bandwidth_bps": 3 * MIB },
        "client": { "bandwidth_limit": { "rate_bps": MIB, "burst_bytes": 4 * MIB, "start_full": true } }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    let t = run.duration.as_secs_f64();
    assert!((t - 96.0).abs() < 1e-6, "{t}");
    // Held back for the last 94 s.
    assert!((run.limiter_wait.as_secs_f64() - 94.0).abs() < 1e-6, "{:?}", run.limiter_wait);
}

#[test]
fn default_burst_is_twice_the_rate() {
    // Unlimited server, 1 MiB/s limit, default burst 2 MiB, full at start:
    // 2 MiB at once, then 98 MiB at 1 MiB/s.
    let s = scenario(json!({
        "server": { "bandwidth_bps": null },
        "client": { "bandwidth_limit": { "rate_bps": MIB, "start_full": true } }
    }));
    let t = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default()).duration.as_secs_f64();
    assert!((t - 98.0).abs() < 1e-6, "{t}");
}

#[test]
fn the_bucket_starts_empty_by_default_as_the_original() {
    // The original `BandwidthLimiter` starts with no tokens: 100 MiB at a
    // 1 MiB/s limit take exactly 100 s, held back the whole time, whatever
    // the burst; with `start_full` the 2 MiB burst saves 2 s.
    let limited = |full: bool| {
        let s = scenario(json!({
            "server": { "bandwidth_bps": null },
            "client": { "bandwidth_limit": { "rate_bps": MIB, "burst_bytes": 2 * MIB, "start_full": full } }
        }));
        simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default())
    };
    let (empty, full) = (limited(false), limited(true));
    let burst_s = 2.0;
    let t = empty.duration.as_secs_f64();
    assert!((t - 100.0).abs() < 1e-6, "{t}");
    assert!((empty.limiter_wait.as_secs_f64() - 100.0).abs() < 1e-6, "{:?}", empty.limiter_wait);
    let tf = full.duration.as_secs_f64();
    assert!((t - tf - burst_s).abs() < 1e-6, "empty {t} s, full {tf} s");
}

#[test]
fn a_lan_client_slower_at_hashing_than_the_link_runs_at_the_cpu_rate() {
    // A 1 GiB/s server, and a client that hashes at 20 ns/byte plus 10 µs per
    // 64 KiB read on one core: the CPU allows 1 / (20e-9 + 10e-6 / 65536)
    // bytes/s, far below the link. No per-request or per-connection cost;
    // the one request reads its response head (one more 10 µs read). The CPU
    // is busy from start to end, so 100 MiB take (size × cost per byte +
    // 10 µs) / cores, at 100 % CPU.
    let per_byte = 20e-9 + 10e-6 / 65536.0;
    let head_read = 10e-6;
    let s = scenario(json!({
        "server": { "bandwidth_bps": 1024 * MIB },
        "client": {
            "read_size_bytes": 65536,
            "cpu": { "per_byte_ns": 20, "per_read_us": 10, "per_request_us": 0, "per_connection_us": 0, "cores": 1 }
        }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    let want = (100 * MIB) as f64 * per_byte + head_read;
    let t = run.duration.as_secs_f64();
    assert!((t - want).abs() < 2e-9, "{t} s, CPU-bound {want} s");
    assert!((run.cpu_seconds - want).abs() < 1e-9, "{} CPU-s", run.cpu_seconds);
    let r = dlsim::report::from_run(&s, &run);
    assert!((r.cpu_usage_percent - 100.0).abs() < 1e-6, "{}", r.cpu_usage_percent);

    // Two cores double the CPU's rate: the run takes half as long, at 100 %.
    let mut s2 = s.clone();
    s2.client.cpu.cores = 2;
    let run2 = simulate(&Plan::seeded(&s2, 1).unwrap(), SimOptions::default());
    let t2 = run2.duration.as_secs_f64();
    assert!((t2 - want / 2.0).abs() < 2e-9, "{t2} s, CPU-bound {} s", want / 2.0);
    assert!((dlsim::report::from_run(&s2, &run2).cpu_usage_percent - 100.0).abs() < 1e-6);
}

#[test]
fn request_cpu_on_a_cpu_bound_client_adds_its_time() {
    // As above with 4 chunked requests of 25 MiB on one keep-alive connection
    // and 1 ms of CPU per request and per connection: the backlog takes half
    // the core (one flow + the backlog) while the body is CPU-bound, so each
    // 1 ms of fixed work costs 1 ms of transfer time — on one connection
    // every such millisecond is spent. The total is all CPU work on one core,
    // busy from start to end: duration = bytes × cost + 5 ms.
    let per_byte = 20e-9;
    let s = scenario(json!({
        "server": { "bandwidth_bps": 1024 * MIB },
        "client": {
            "read_size_bytes": 65536,
            "chunking": { "mode": "fixed", "chunk_size_bytes": 25 * MIB },
            "cpu": { "per_byte_ns": 20, "per_read_us": 0, "per_request_us": 1000, "per_connection_us": 1000, "cores": 1 }
        }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    assert_eq!(run.stats.requests, 4);
    let want = (100 * MIB) as f64 * per_byte + 5e-3;
    let t = run.duration.as_secs_f64();
    assert!((t - want).abs() < 1e-8, "{t} s, want {want} s");
    let r = dlsim::report::from_run(&s, &run);
    assert!(r.cpu_usage_percent <= 100.0 + 1e-9 && r.cpu_usage_percent > 99.9, "{}", r.cpu_usage_percent);
}

#[test]
fn fixed_chunks_cost_one_round_trip_each() {
    // 10 chunks of 10 MiB on one keep-alive connection: 10 s of body plus
    // 10 × (RTT 20 ms + latency 30 ms) = 10.5 s, plus one 20 ms handshake.
    let s = scenario(json!({
        "server": { "latency_ms": 30 },
        "network": { "rtt_ms": 20, "handshake_rtts": 1, "slow_start": false },
        "client": { "chunking": { "mode": "fixed", "chunk_size_bytes": 10 * MIB } }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    assert_eq!(run.duration, SimTime::from_millis(10_520));
    assert_eq!(run.stats.requests, 10);
    assert_eq!(run.pool.opened, 1);
}

#[test]
fn a_head_later_than_the_read_timeout_times_out() {
    // Latency 5 s > read timeout 1 s: each of 2 attempts fails after exactly
    // 1 s, with no backoff between them.
    let s = scenario(json!({
        "server": { "latency_ms": 5000 },
        "client": { "read_timeout_s": 1, "retry": { "max_attempts": 2, "backoff": "none", "jitter": 0 } }
    }));
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default());
    assert_eq!(run.duration, SimTime::from_secs(2));
    assert_eq!(run.stats.files_failed, 1);
    assert_eq!(run.stats.failures_by_kind.get("timeout"), Some(&2));
}
