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
    // curl's own per-URL work comes first (its preset's per-file overhead).
    let own = SimTime::from_millis_f64(Preset::Curl.client().per_file_overhead_ms);
    let big = run(&scenario(lat, curl.clone(), one_file(10 * MIB)));
    assert_eq!(big.duration, own + SimTime::from_millis(2 * lat) + SimTime::from_secs(1));
    let small = run(&scenario(lat, curl, one_file(MIB)));
    assert_eq!(small.duration, own + SimTime::from_millis(lat) + SimTime::from_millis(100));
    assert_eq!((big.stats.requests, small.stats.requests), (2, 1));
}

/// The byte ranges of a redirected file come from the CDN, another host:
/// a connection of its own, with its own handshake, reused by the next
/// redirected file; the body-less requests stay on the origin's.
#[test]
fn redirected_ranges_go_to_the_cdn_on_connections_of_its_own() {
    let rtt = 40u64;
    let s = |client: Value, files: Value| {
        Scenario::from_value(json!({
            "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 0 },
            "network": { "rtt_ms": rtt, "handshake_rtts": 1, "slow_start": false },
            "client": client,
            "workload": { "models": [ { "name": "m", "files": files } ] }
        }))
        .expect("valid test scenario")
    };
    let curl = json!({ "preset": "curl" });
    let own = SimTime::from_millis_f64(Preset::Curl.client().per_file_overhead_ms);
    // Origin handshake, the 302's round trip, the CDN's handshake, the GET.
    let big = run(&s(curl.clone(), one_file(10 * MIB)));
    assert_eq!(big.duration, own + SimTime::from_millis(4 * rtt) + SimTime::from_secs(1));
    assert_eq!((big.pool.opened, big.stats.requests), (2, 2));
    // A small file is not redirected: one connection, one request.
    let small = run(&s(curl.clone(), one_file(MIB)));
    assert_eq!(small.duration, own + SimTime::from_millis(2 * rtt) + SimTime::from_millis(100));
    assert_eq!(small.pool.opened, 1);
    // Two LFS files one after another reuse both connections.
    let two = json!([{ "path": "m/a.bin", "size_bytes": 10 * MIB }, { "path": "m/b.bin", "size_bytes": 10 * MIB }]);
    let r = run(&s(curl, two));
    assert_eq!(r.pool.opened, 2);
    assert_eq!(r.duration, own.times(2) + SimTime::from_millis(6 * rtt) + SimTime::from_secs(2));
    // huggingface_hub: the HEAD (answered by the 302, not followed) on the
    // origin, the GET on the CDN.
    let hub = run(&s(json!({ "preset": "huggingface_hub" }), one_file(10 * MIB)));
    assert_eq!((hub.pool.opened, hub.stats.requests), (2, 2));
    let small = run(&s(json!({ "preset": "huggingface_hub" }), one_file(MIB)));
    assert_eq!((small.pool.opened, small.stats.requests), (1, 2));
}

/// hf_transfer's probe follows the 302: asked of the origin (its 302),
/// then again of the CDN, on the connection the file's first range then
/// reuses — a handshake and a round trip ahead of the other range, which
/// opens a CDN connection of its own when the probe is done.
#[test]
fn a_followed_probe_opens_the_cdn_connection_the_first_range_reuses() {
    let rtt = 40u64;
    let s = Scenario::from_value(json!({
        "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 0 },
        "network": { "rtt_ms": rtt, "handshake_rtts": 1, "slow_start": false },
        "client": { "preset": "hf_transfer", "per_file_overhead_ms": 0 },
        "workload": { "models": [ { "name": "m", "files": one_file(20 * MIB) } ] }
    }))
    .expect("valid test scenario");
    let r = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
    let ms = SimTime::from_millis;
    let sent: Vec<_> = r
        .trace
        .iter()
        .filter_map(|e| match *e {
            dlsim::trace::TraceEvent::RequestSent { t, conn, start, end, .. } => Some((t, conn, start, end)),
            _ => None,
        })
        .collect();
    let (probe, followed, first, second) = (sent[0], sent[1], sent[2], sent[3]);
    assert_eq!(sent.len(), 4, "{sent:?}");
    // The probe: after the origin's handshake; its 302 a round trip later,
    // then the CDN's handshake and the probe again.
    assert_eq!((probe.0, followed.0), (ms(rtt), ms(3 * rtt)));
    assert_ne!(probe.1, followed.1, "the followed probe goes to the CDN");
    // The first range on the probe's CDN connection as soon as it answers;
    // the second on a new one, a handshake later.
    assert_eq!((first.0, first.1, first.2, first.3), (ms(4 * rtt), followed.1, 0, 10 * MIB));
    assert_eq!((second.0, second.2, second.3), (ms(5 * rtt), 10 * MIB, 20 * MIB));
    assert!(second.1 != followed.1 && second.1 != probe.1);
    assert_eq!(r.pool.opened, 3);
}

/// A failure kind the tool does not retry fails the file at once; other
/// kinds are retried.
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
    // Only the listed kinds: with resets not retried, 500s still are.
    let resets_only = run(&faults(json!({ "retry": { "not_retried": ["reset"] } })));
    assert_eq!((resets_only.stats.files_failed, resets_only.stats.retries), (1, attempts - 1));
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

/// `n` files of `size` bytes each.
fn files(n: u64, size: u64) -> Value {
    (0..n).map(|i| json!({ "path": format!("m/f{i}.bin"), "size_bytes": size })).collect()
}

/// `client.per_file_overhead_ms` on one worker: each of N serial files
/// waits d before its first request, so the run is exactly N × d longer
/// (N × (L + size / B) without it).
#[test]
fn per_file_overhead_on_one_worker_costs_n_times_the_overhead() {
    let (n, lat, d_ms) = (5u64, 10u64, 7.5);
    let client = |d: f64| json!({ "max_concurrent_downloads": 1, "per_file_overhead_ms": d });
    let plain = run(&scenario(lat, client(0.0), files(n, MIB)));
    let over = run(&scenario(lat, client(d_ms), files(n, MIB)));
    // 1 MiB at 10 MiB/s = 100 ms after one latency, per file.
    assert_eq!(plain.duration, SimTime::from_millis(n * (lat + 100)));
    assert_eq!(over.duration, plain.duration + SimTime::from_nanos(n * 7_500_000));
    assert_eq!(over.stats.requests, plain.stats.requests);
}

/// Per worker (lanes `null`) the overheads of N files on N workers overlap:
/// everything shifts by one d. On one lane (aria2's engine thread) they run
/// one after another: the last file starts at N × d. On two lanes, at
/// ⌈N / 2⌉ × d, and its transfer shares the link with one other file.
#[test]
fn per_file_overhead_lanes_serialize_the_work() {
    let (n, lat, d) = (4u64, 10u64, 200u64);
    let size = MIB / 64; // 16 KiB: 1.5625 ms at 10 MiB/s, well below d.
    let client = |workers: u64, d: u64, lanes: Value| {
        json!({ "max_concurrent_downloads": workers, "max_concurrent_files_per_model": workers,
                "per_file_overhead_ms": d, "per_file_overhead_lanes": lanes })
    };
    let ms = SimTime::from_millis;
    let plain_all = run(&scenario(lat, client(n, 0, Value::Null), files(n, size)));
    let per_worker = run(&scenario(lat, client(n, d, Value::Null), files(n, size)));
    assert_eq!(per_worker.duration, ms(d) + plain_all.duration);
    let one_file = run(&scenario(lat, client(1, 0, Value::Null), files(1, size)));
    let one_lane = run(&scenario(lat, client(n, d, json!(1)), files(n, size)));
    assert_eq!(one_lane.duration, ms(n * d) + one_file.duration);
    let two_files = run(&scenario(lat, client(2, 0, Value::Null), files(2, size)));
    let two_lanes = run(&scenario(lat, client(n, d, json!(2)), files(n, size)));
    assert_eq!(two_lanes.duration, ms(n.div_ceil(2) * d) + two_files.duration);
}

/// The share of the per-file work done after the last byte: on one worker
/// it moves nothing (each file still costs d more); on one lane for N
/// files on N workers, the shares before the first request run first, one
/// after another (the last file's transfer starts at N × (1 − a) × d, its
/// bytes in before the lane is free again), then the shares after, so the
/// last file ends at exactly N × d — its transfer hidden, where with all
/// the work before (a = 0) it comes after the N × d. With all of it after
/// (a = 1) the N transfers start together and share the link first.
#[test]
fn per_file_overhead_after_the_last_byte_moves_the_work_not_its_sum() {
    let (n, lat, d) = (4u64, 10u64, 200u64);
    let size = MIB / 64; // 16 KiB: 1.5625 ms at 10 MiB/s, well below d / 4.
    let ms = SimTime::from_millis;
    let client = |workers: u64, d: u64, after: f64, lanes: Value| {
        json!({ "max_concurrent_downloads": workers, "max_concurrent_files_per_model": workers,
                "per_file_overhead_ms": d, "per_file_overhead_after_share": after,
                "per_file_overhead_lanes": lanes })
    };
    let serial = run(&scenario(lat, client(1, 0, 0.0, Value::Null), files(n, size)));
    for after in [0.0, 0.25, 0.5, 1.0] {
        let one_worker = run(&scenario(lat, client(1, d, after, Value::Null), files(n, size)));
        assert_eq!(one_worker.duration, serial.duration + ms(n * d), "after share {after}");
    }
    let one_file = run(&scenario(lat, client(1, 0, 0.0, Value::Null), files(1, size)));
    let plain_all = run(&scenario(lat, client(n, 0, 0.0, Value::Null), files(n, size)));
    for (after, want) in [
        (0.0, ms(n * d) + one_file.duration),
        (0.25, ms(n * d)),
        (0.5, ms(n * d)),
        (1.0, plain_all.duration + ms(n * d)),
    ] {
        let one_lane = run(&scenario(lat, client(n, d, after, json!(1)), files(n, size)));
        assert_eq!(one_lane.duration, want, "after share {after}");
        assert_eq!(one_lane.stats.files_completed as u64, n);
    }
}

/// `client.per_mib_overhead_ms` (aria2's fsync when a file ends): each of
/// N serial files of S bytes holds its worker S / MiB × m after its last
/// byte, so the run is exactly N × S / MiB × m longer.
#[test]
fn per_mib_overhead_adds_its_share_of_each_files_size() {
    let (n, lat, size, m) = (3u64, 10u64, 8 * MIB, 3.1);
    let client = |m: f64| json!({ "max_concurrent_downloads": 1, "per_mib_overhead_ms": m });
    let plain = run(&scenario(lat, client(0.0), files(n, size)));
    let synced = run(&scenario(lat, client(m), files(n, size)));
    assert_eq!(synced.duration, plain.duration + SimTime::from_nanos(n * 8 * 3_100_000));
    assert_eq!(synced.stats.files_completed as u64, n);
}

/// A tool that writes each range after its last byte, one range at a time
/// per file (hf_transfer): ranges that end together queue their writes, so
/// 4 ranges of 5 MiB ending at once add 4 × 5 MiB of writing; ranges one
/// after another write while the next one downloads, so only the last
/// range's write adds. Without the knob, the two runs are the plain ones.
#[test]
fn per_range_mib_overhead_writes_the_ranges_one_at_a_time_after_their_last_bytes() {
    let (lat, chunk, ms_per_mib) = (30u64, 5 * MIB, 1.5);
    let client = |split: u32, ms: f64| {
        json!({ "split_rule": "fan_out", "split": split, "chunking": { "mode": "fixed", "chunk_size_bytes": chunk },
                "per_range_mib_overhead_ms": ms })
    };
    let write = |mib: u64| SimTime::from_millis_f64(mib as f64 * ms_per_mib);
    for (split, written_at_the_end) in [(100, write(4 * 5)), (1, write(5))] {
        let plain = run(&scenario(lat, client(split, 0.0), one_file(4 * chunk)));
        let r = run(&scenario(lat, client(split, ms_per_mib), one_file(4 * chunk)));
        assert_eq!(r.duration, plain.duration + written_at_the_end, "split {split}");
        assert_eq!((r.stats.files_completed, r.stats.requests), (1, 4));
    }
    // The file's own work after its last byte follows its writes.
    let mut after = client(100, ms_per_mib);
    after["per_file_overhead_ms"] = json!(7);
    after["per_file_overhead_after_share"] = json!(1.0);
    let plain = run(&scenario(lat, client(100, 0.0), one_file(4 * chunk)));
    let r = run(&scenario(lat, after, one_file(4 * chunk)));
    assert_eq!(r.duration, plain.duration + write(4 * 5) + SimTime::from_millis(7));
    // The preset carries the measured cost; a field next to it overrides it.
    assert_eq!(Preset::HfTransfer.client().per_range_mib_overhead_ms, 1.5);
    let s = scenario(0, json!({ "preset": "hf_transfer", "per_range_mib_overhead_ms": 0 }), one_file(1));
    assert_eq!(s.client.per_range_mib_overhead_ms, 0.0);
}

/// Out of range, the knobs are typed errors naming the field and the range.
#[test]
fn per_file_overhead_out_of_range_is_a_typed_error() {
    for (client, field) in [
        (json!({ "per_file_overhead_ms": -1 }), "client.per_file_overhead_ms"),
        (json!({ "per_file_overhead_ms": 60_001 }), "client.per_file_overhead_ms"),
        (json!({ "per_file_overhead_after_share": -0.1 }), "client.per_file_overhead_after_share"),
        (json!({ "per_file_overhead_after_share": 1.5 }), "client.per_file_overhead_after_share"),
        (json!({ "per_mib_overhead_ms": -1 }), "client.per_mib_overhead_ms"),
        (json!({ "per_range_mib_overhead_ms": 60_001 }), "client.per_range_mib_overhead_ms"),
        (json!({ "per_file_overhead_lanes": 0 }), "client.per_file_overhead_lanes"),
        (json!({ "per_file_overhead_lanes": 1025 }), "client.per_file_overhead_lanes"),
    ] {
        let e = Scenario::from_value(json!({
            "client": client,
            "workload": { "models": [ { "name": "m", "files": one_file(1) } ] }
        }))
        .unwrap_err()
        .to_string();
        assert!(e.contains(field) && e.contains('['), "{e}");
    }
}

/// Each preset carries its tool's per-file cost, and a field next to the
/// preset overrides it.
#[test]
fn presets_set_the_per_file_overhead_and_fields_override_it() {
    for p in [Preset::Aria2, Preset::HfTransfer, Preset::HuggingfaceHub, Preset::Curl] {
        assert!(p.client().per_file_overhead_ms > 0.0, "{}", p.name());
    }
    assert_eq!(Preset::Original.client().per_file_overhead_ms, 0.0);
    assert_eq!(Preset::Aria2.client().per_file_overhead_lanes, Some(1));
    let s = scenario(0, json!({ "preset": "aria2", "per_file_overhead_ms": 0 }), one_file(1));
    assert_eq!(s.client.per_file_overhead_ms, 0.0);
    assert_eq!(s.client.per_file_overhead_lanes, Some(1));
}
