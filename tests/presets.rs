//! Client presets and the policies they brought (issue 10, part 2):
//! closed-form checks of the HEAD/probe/redirect round trips, hf_transfer's
//! fan-out window, aria2's split rule and per-kind retry classes.

use dlsim::scenario::MIB;
use dlsim::scenario::preset::{ALL, Preset};
use dlsim::{Plan, Scenario, SimOptions, SimTime, simulate};
use serde_json::{Value, json};

/// No RTT, no handshake, `latency_ms` server think time, 10 MiB/s; `client`
/// and `files` given.
fn scenario(latency_ms: u64, client: Value, files: Value) -> Scenario {
    Scenario::from_value(json!({
        "server": { "bandwidth_bps": 10 * MIB, "latency_ms": latency_ms },
        "network": { "rtt_ms": 0, "handshake_rtts": 0, "slow_start": false },
        "client": client,
        "workload": { "models": [ { "name": "m", "files": files } ] }
    }))
    .expect("valid test scenario")
}

fn run(s: &Scenario) -> dlsim::RunRecord {
    simulate(&Plan::seeded(s, 1).unwrap(), SimOptions::default())
}

fn one_file(size: u64) -> Value {
    json!([{ "path": "m/a.bin", "size_bytes": size }])
}

/// A HEAD per file costs exactly one more request latency per file, and
/// one more request.
#[test]
fn a_head_per_file_adds_one_request_latency() {
    let (lat, size) = (40u64, 10 * MIB);
    let plain = run(&scenario(lat, json!({}), one_file(size)));
    let head = run(&scenario(lat, json!({ "metadata": { "head": true } }), one_file(size)));
    // size / 10 MiB/s = 1 s of body after one latency; the HEAD adds one more.
    assert_eq!(plain.duration, SimTime::from_secs(1) + SimTime::from_millis(lat));
    assert_eq!(head.duration, plain.duration + SimTime::from_millis(lat));
    assert_eq!(head.stats.requests, plain.stats.requests + 1);
}

/// hf_transfer: a probe, then ⌈size / chunk⌉ ranges with `split` in flight.
/// 4 chunks of c with a window of 2 at rate B: probe L, then two rounds of
/// (L + 2c / B) = 3L + 4c / B = 3L + size / B.
#[test]
fn fan_out_runs_a_window_of_fixed_ranges_after_the_probe() {
    let (lat, chunk) = (30u64, 5 * MIB);
    let client = |split: u32| {
        json!({ "split_rule": "fan_out", "split": split, "chunking": { "mode": "fixed", "chunk_size_bytes": chunk },
                "metadata": { "probe": true }, "streaming_threshold_bytes": 0 })
    };
    let r = run(&scenario(lat, client(2), one_file(4 * chunk)));
    assert_eq!(r.duration, SimTime::from_millis(3 * lat) + SimTime::from_secs(2));
    assert_eq!(r.stats.requests, 1 + 4);
    // All four at once: probe L, then one round of L + 4c / B.
    let r = run(&scenario(lat, client(100), one_file(4 * chunk)));
    assert_eq!(r.duration, SimTime::from_millis(2 * lat) + SimTime::from_secs(2));
    // Each range is buffered whole: peak memory is window × chunk.
    assert!(r.peak_memory_bytes >= 4 * chunk, "{}", r.peak_memory_bytes);
}

/// aria2's rule: 64 MiB at -s5 -k20M is 2 segments (dlsim's even rule: 3);
/// with the redirect before every range, each segment costs 2 requests.
#[test]
fn aria2_split_rule_and_a_redirect_per_range() {
    let aria = json!({ "preset": "aria2", "split": 5 });
    let r = run(&scenario(0, aria, one_file(64 * MIB)));
    assert_eq!(r.stats.requests, 2 * 2);
    let even = run(&scenario(0, json!({ "split": 5 }), one_file(64 * MIB)));
    assert_eq!(even.stats.requests, 3);
}

/// curl -L: an LFS-sized file costs one redirect round trip; a small one none.
#[test]
fn curl_pays_one_redirect_for_lfs_files_only() {
    let lat = 25u64;
    let curl = json!({ "preset": "curl" });
    let big = run(&scenario(lat, curl.clone(), one_file(10 * MIB)));
    assert_eq!(big.duration, SimTime::from_millis(2 * lat) + SimTime::from_secs(1));
    let small = run(&scenario(lat, curl, one_file(MIB)));
    assert_eq!(small.duration, SimTime::from_millis(lat) + SimTime::from_millis(100));
    assert_eq!((big.stats.requests, small.stats.requests), (2, 1));
}

/// A failure kind the tool does not retry fails the file at once.
#[test]
fn not_retried_kinds_fail_the_file_without_a_retry() {
    let faults = |client: Value| {
        Scenario::from_value(json!({
            "server": { "latency_ms": 0, "faults": { "error_rate": 1.0 } },
            "network": { "rtt_ms": 0, "handshake_rtts": 0 },
            "client": client,
            "workload": { "models": [ { "name": "m", "files": one_file(MIB) } ] }
        }))
        .unwrap()
    };
    let aria = run(&faults(json!({ "preset": "aria2" })));
    assert_eq!((aria.stats.files_failed, aria.stats.retries), (1, 0));
    let original = run(&faults(json!({ "preset": "original" })));
    let attempts = dlsim::scenario::Client::default().retry.max_attempts as u64;
    assert_eq!((original.stats.files_failed, original.stats.retries), (1, attempts - 1));
}

/// Every preset runs a mixed workload to completion without faults, and an
/// override next to the preset wins.
#[test]
fn every_preset_completes_a_sharded_model() {
    let files = json!([
        { "path": "m/config.json", "size_bytes": 2000 },
        { "path": "m/a.safetensors", "size_bytes": 30 * MIB },
        { "path": "m/b.safetensors", "size_bytes": 12 * MIB },
        { "path": "m/tokenizer.txt", "size_bytes": 1 }
    ]);
    for p in ALL {
        let s = scenario(5, json!({ "preset": p.name() }), files.clone());
        let r = run(&s);
        assert_eq!(r.stats.files_completed, 4, "{}", p.name());
        assert_eq!(r.stats.useful_bytes, 2000 + 42 * MIB + 1, "{}", p.name());
    }
    let s = scenario(5, json!({ "preset": "huggingface_hub", "max_concurrent_downloads": 2 }), files);
    assert_eq!(s.client.max_concurrent_downloads, 2);
    assert_eq!(s.client.preset, Some(Preset::HuggingfaceHub));
    assert_eq!(s.client.read_size_bytes, Preset::HuggingfaceHub.client().read_size_bytes);
}

/// hf_transfer makes a new HTTP client per file: with `pool.scope` per_file
/// each of n serial files pays its own handshake (n × RTT more than a shared pool).
#[test]
fn a_per_file_pool_reopens_a_connection_for_every_file() {
    let (n, rtt) = (4u64, 30u64);
    let s = |scope: &str| {
        Scenario::from_value(json!({
            "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 0 },
            "network": { "rtt_ms": rtt, "handshake_rtts": 1, "slow_start": false },
            "client": { "max_concurrent_downloads": 1, "pool": { "scope": scope } },
            "workload": { "models": [ { "name": "m", "linear": { "count": n, "min_size_bytes": MIB, "max_size_bytes": MIB } } ] }
        }))
        .unwrap()
    };
    let (shared, per_file) = (run(&s("shared")), run(&s("per_file")));
    // Shared: one handshake, n requests; per file: n handshakes.
    assert_eq!(shared.duration, SimTime::from_millis(rtt + n * rtt) + SimTime::from_millis(n * 100));
    assert_eq!(per_file.duration, shared.duration + SimTime::from_millis((n - 1) * rtt));
}
