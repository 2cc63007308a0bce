//! Property tests of the policy core over random bounded scenarios: every run
//! must pass the invariant checker, plus simple oracles per property.
//! Each property runs 256 cases (`PROPTEST_CASES` cannot lower it in CI).

use dlsim::check::{check, check_run};
use dlsim::net::{Capacity, Link, ProcessorSharing, TokenBucket};
use dlsim::orchestrator::FileStatus;
use dlsim::scenario::{FaultMix, Faults, PoolScope, Priority, PriorityRule, Scheduling};
use dlsim::server::ServerFaults;
use dlsim::trace::TraceEvent;
use dlsim::{Plan, RunRecord, Scenario, SimOptions, SimTime, simulate};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use serde_json::{Value, json};

const CASES: u32 = 256;

/// Fixed RNG seed: CI runs the same cases every time (set `PROPTEST_RNG_SEED`
/// to explore others).
fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    let rng_seed = match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => default.rng_seed,
        Err(_) => RngSeed::Fixed(0x0064_6c73_696d),
    };
    ProptestConfig {
        cases: CASES,
        rng_seed,
        max_shrink_iters: 2000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/properties.txt"))),
        ..default
    }
}

fn priority() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("high"), Just("normal"), Just("low")]
}

fn workload() -> impl Strategy<Value = Value> {
    let file = (1u64..120_000, prop::option::of(priority()), 0usize..4);
    let model = (priority(), prop::collection::vec(file, 1..5));
    prop::collection::vec(model, 1..4).prop_map(|models| {
        let models: Vec<Value> = models
            .into_iter()
            .enumerate()
            .map(|(i, (prio, files))| {
                let files: Vec<Value> = files
                    .into_iter()
                    .enumerate()
                    .map(|(j, (size, p, ext))| {
                        let ext = [".bin", ".json", ".txt", ".safetensors"][ext];
                        let mut f = json!({ "path": format!("m{i}/f{j}{ext}"), "size_bytes": size });
                        if let Some(p) = p {
                            f["priority"] = json!(p);
                        }
                        f
                    })
                    .collect();
                json!({ "name": format!("m{i}"), "priority": prio, "files": files })
            })
            .collect();
        json!({ "models": models })
    })
}

fn limits() -> impl Strategy<Value = Value> {
    (1u32..5, 1u32..4, prop::option::of(1u32..5), any::<bool>(), any::<bool>()).prop_map(
        |(global, per_model, host, interleaved, by_type)| {
            json!({
                "max_concurrent_downloads": global,
                "max_concurrent_files_per_model": per_model,
                "max_connections_per_host": host,
                "scheduling": if interleaved { "interleaved" } else { "sequential_models" },
                "priority_rule": if by_type { "by_file_type" } else { "model" },
            })
        },
    )
}

fn chunking() -> impl Strategy<Value = Value> {
    let mode = prop_oneof![Just("whole_file"), Just("fixed"), Just("adaptive_table"), Just("throughput")];
    (mode, 2_000u64..60_000, 1.0f64..100.0, 1_000u64..20_000, 1u64..8, 1u32..4, 5_000u64..60_000).prop_map(
        |(mode, chunk, target_ms, min, k, split, min_split)| {
            json!({
                "chunking": { "mode": mode, "chunk_size_bytes": chunk, "target_chunk_time_ms": target_ms,
                              "min_chunk_bytes": min, "max_chunk_bytes": min * k },
                "split": split, "min_split_size_bytes": min_split,
            })
        },
    )
}

fn pool() -> impl Strategy<Value = Value> {
    let idle = prop_oneof![Just(0.0), 0.0f64..0.1, Just(15.0)];
    (0u32..4, any::<bool>(), idle, 1u32..5).prop_map(|(size, block, idle, max_req)| {
        json!({ "size": if block { size.max(1) } else { size }, "block": block,
                "idle_timeout_s": idle, "max_requests_per_connection": max_req })
    })
}

fn retry() -> impl Strategy<Value = Value> {
    let backoff = prop_oneof![Just("none"), Just("fixed"), Just("linear"), Just("exponential"), Just("urllib3")];
    (
        1u32..5,
        backoff,
        0.0f64..0.3,
        1.0f64..3.0,
        prop_oneof![Just(0.0), 0.0f64..1.0, Just(30.0)],
        prop_oneof![Just(0.0), 0.0f64..0.5],
        any::<bool>(),
        any::<bool>(),
        prop::option::of(1u32..4),
    )
        .prop_map(|(max_attempts, backoff, base, factor, cap, jitter, respect, resume, guard)| {
            json!({ "max_attempts": max_attempts, "backoff": backoff, "base_s": base, "factor": factor,
                    "cap_s": cap, "jitter": jitter, "respect_retry_after": respect,
                    "enable_resume": resume, "parallel_failures": guard })
        })
}

fn limiter() -> impl Strategy<Value = Value> {
    prop::option::of((1e5f64..1e7, prop::option::of(prop_oneof![Just(0.0), 0.0f64..3e5])))
        .prop_map(|l| l.map_or(Value::Null, |(rate, burst)| json!({ "rate_bps": rate, "burst_bytes": burst })))
}

fn faults() -> impl Strategy<Value = Value> {
    let rate = prop_oneof![Just(0.0), 0.0f64..0.7];
    (rate, prop::array::uniform5(0.0f64..3.0), 0.0f64..0.5).prop_map(|(rate, w, ra)| {
        let w500 = if w.iter().sum::<f64>() <= 0.0 { 1.0 } else { w[0] };
        json!({ "error_rate": rate, "retry_after_s": ra,
                "mix": { "http_500": w500, "http_429": w[1], "http_503": w[2], "reset": w[3], "stall": w[4] } })
    })
}

fn server_network() -> impl Strategy<Value = (Value, Value)> {
    (
        prop::option::of(1e5f64..1e8),
        0.0f64..10.0,
        prop::option::of(1u32..4),
        1u32..5,
        faults(),
        0.0f64..20.0,
        0u32..4,
        prop::option::of(1e5f64..1e7),
        prop::option::of(512u64..32_768),
    )
        .prop_map(|(bw, latency, cap, keep_alive, faults, rtt, hs, per_conn, quantum)| {
            (
                json!({ "bandwidth_bps": bw, "latency_ms": latency, "max_concurrent_requests": cap,
                        "keep_alive_max_requests": keep_alive, "faults": faults, "write_quantum_bytes": quantum }),
                json!({ "rtt_ms": rtt, "handshake_rtts": hs, "per_connection_bps": per_conn }),
            )
        })
}

/// A random bounded scenario and a seed.
fn scenario() -> impl Strategy<Value = (Scenario, u64)> {
    (workload(), limits(), chunking(), pool(), retry(), limiter(), 0.01f64..0.5, server_network(), any::<u64>())
        .prop_map(|(workload, limits, chunking, pool, retry, limiter, read_timeout, (server, network), seed)| {
            let mut client = limits;
            for (k, v) in chunking.as_object().expect("object") {
                client[k] = v.clone();
            }
            client["pool"] = pool;
            client["retry"] = retry;
            client["bandwidth_limit"] = limiter;
            client["read_timeout_s"] = json!(read_timeout);
            let v =
                json!({ "name": "prop", "server": server, "network": network, "client": client, "workload": workload });
            (Scenario::from_value(v).expect("generated scenarios are valid"), seed)
        })
}

/// Simulate with the log on; a panic becomes a failure naming the scenario.
fn run(s: &Scenario, seed: u64) -> Result<RunRecord, TestCaseError> {
    std::panic::catch_unwind(|| simulate(&Plan::seeded(s, seed).unwrap(), SimOptions { trace: true })).map_err(|e| {
        let msg = e.downcast_ref::<&str>().map(|m| m.to_string()).or_else(|| e.downcast_ref::<String>().cloned());
        let json = serde_json::to_string(s).expect("scenario serializes");
        TestCaseError::fail(format!("simulate panicked: {msg:?}\nseed {seed}\n{json}"))
    })
}

fn checked(s: &Scenario, seed: u64) -> Result<RunRecord, TestCaseError> {
    let out = run(s, seed)?;
    if let Err(v) = check_run(s, &out) {
        let from = v.at.unwrap_or(out.trace.len()).saturating_sub(30);
        let tail: Vec<String> =
            out.trace.iter().enumerate().skip(from).take(40).map(|(i, e)| format!("#{i} {e:?}")).collect();
        let json = serde_json::to_string(s).expect("scenario serializes");
        return Err(TestCaseError::fail(format!("{v}\nseed {seed}\n{json}\n{}", tail.join("\n"))));
    }
    Ok(out)
}

/// The queue key of a file (at `path`), from the scenario alone.
fn key(s: &Scenario, path: &str, f: &dlsim::scenario::FileMeta) -> (Priority, u64, u32) {
    match s.client.priority_rule {
        PriorityRule::Model => (f.priority, 0, f.id),
        PriorityRule::ByFileType => (dlsim::check::by_file_type(path, f.size), f.size, f.id),
    }
}

fn dispatch_order(out: &RunRecord) -> Vec<u32> {
    out.trace
        .iter()
        .filter_map(|e| if let TraceEvent::FileDispatched { file, .. } = e { Some(*file) } else { None })
        .collect()
}

proptest! {
    #![proptest_config(config())]

    /// Every queued file ends exactly once, completed or failed with a reason.
    #[test]
    fn every_file_ends_exactly_once((s, seed) in scenario()) {
        let out = checked(&s, seed)?;
        let n = s.workload.expand(seed).len();
        prop_assert_eq!(out.outcomes.len(), n);
        let mut completed = 0;
        for (i, o) in out.outcomes.iter().enumerate() {
            match o.status {
                FileStatus::Completed => { completed += 1; prop_assert!(!out.fail_reasons.contains_key(&(i as u32))); }
                FileStatus::Failed => prop_assert!(out.fail_reasons.get(&(i as u32)).is_some_and(|r| !r.is_empty())),
                other => prop_assert!(false, "file {} ended {:?}", i, other),
            }
            prop_assert!(o.dispatched_at <= o.ended_at && o.ended_at <= out.duration);
        }
        prop_assert_eq!(out.stats.files_completed as usize, completed);
        prop_assert_eq!((out.stats.files_completed + out.stats.files_failed) as usize, n);
        let ends = out.trace.iter().filter(|e| matches!(e, TraceEvent::FileCompleted { .. } | TraceEvent::FileFailed { .. })).count();
        prop_assert_eq!(ends, n);
    }

    /// A traced run and an untraced one are the same run. The core takes a
    /// shortcut only when it keeps no log (a finished file hands its kept
    /// connection and its worker straight to the next file), and every
    /// other property here runs traced: this one holds the shortcut to
    /// the logged path's results.
    #[test]
    fn an_untraced_run_is_the_traced_run((s, seed) in scenario()) {
        let plan = Plan::seeded(&s, seed).unwrap();
        let traced = simulate(&plan, SimOptions { trace: true });
        let plain = simulate(&plan, SimOptions { trace: false });
        prop_assert!(plain.trace.is_empty());
        prop_assert_eq!(plain.duration, traced.duration);
        prop_assert_eq!(plain.events, traced.events);
        prop_assert_eq!(&plain.outcomes, &traced.outcomes);
        prop_assert_eq!(&plain.fail_reasons, &traced.fail_reasons);
        prop_assert_eq!(format!("{:?}", plain.stats), format!("{:?}", traced.stats));
        prop_assert_eq!(&plain.pool, &traced.pool);
        prop_assert_eq!(plain.peak_memory_bytes, traced.peak_memory_bytes);
        prop_assert_eq!(plain.transferred_bytes, traced.transferred_bytes);
        prop_assert_eq!(plain.aborted_bytes, traced.aborted_bytes);
        prop_assert_eq!(&plain.faults_injected, &traced.faults_injected);
    }

    /// Interleaved: priority then FIFO; with one slot the dispatch order is the sorted queue.
    #[test]
    fn interleaved_dispatch_follows_priority_then_fifo((mut s, seed) in scenario(), one_slot in any::<bool>()) {
        s.client.scheduling = Scheduling::Interleaved;
        if one_slot {
            s.client.max_concurrent_downloads = 1;
        }
        let out = checked(&s, seed)?;
        if one_slot {
            let mut want: Vec<_> = out.files.iter().map(|f| key(&s, &out.files.path(f.id), f)).collect();
            want.sort();
            prop_assert_eq!(dispatch_order(&out), want.iter().map(|k| k.2).collect::<Vec<_>>());
        }
    }

    /// Sequential models: one model at a time, models by (priority, order), files by key.
    #[test]
    fn sequential_models_run_one_at_a_time((mut s, seed) in scenario()) {
        s.client.scheduling = Scheduling::SequentialModels;
        let out = checked(&s, seed)?;
        let order = dispatch_order(&out);
        let mut want: Vec<_> = out
            .files
            .iter()
            .map(|f| ((s.workload.models[f.model as usize].priority, f.model), key(&s, &out.files.path(f.id), f)))
            .collect();
        want.sort();
        if s.client.max_concurrent_downloads == 1 || s.client.max_concurrent_files_per_model == 1 {
            prop_assert_eq!(order.clone(), want.iter().map(|k| k.1.2).collect::<Vec<_>>());
        }
        // Models never overlap: a model's first dispatch comes after the previous model's last end.
        let models: Vec<u32> = want.iter().map(|(m, _)| m.1).collect();
        for pair in models.windows(2).filter(|w| w[0] != w[1]) {
            let last_end = out.files.iter().filter(|f| f.model == pair[0]).map(|f| out.outcomes[f.id as usize].ended_at).max();
            let first_start = out.files.iter().filter(|f| f.model == pair[1]).map(|f| out.outcomes[f.id as usize].dispatched_at).min();
            prop_assert!(last_end <= first_start, "model {} overlaps model {}", pair[0], pair[1]);
        }
    }

    /// Concurrency never exceeds the global, per-model and per-host limits.
    #[test]
    fn concurrency_limits_hold_at_every_instant((s, seed) in scenario()) {
        let out = checked(&s, seed)?;
        prop_assert!(out.stats.peak_active_files <= s.client.max_concurrent_downloads);
        let mut active = 0u32;
        let mut peak = 0u32;
        for e in &out.trace {
            match e {
                TraceEvent::FileDispatched { .. } => { active += 1; peak = peak.max(active); }
                TraceEvent::FileCompleted { .. } | TraceEvent::FileFailed { .. } => active -= 1,
                _ => {}
            }
        }
        prop_assert_eq!(peak, out.stats.peak_active_files);
        // A blocking shared pool; per-worker pools never block (`pool_block = False`).
        if s.client.pool.block && s.client.pool.scope == PoolScope::Shared {
            prop_assert!(out.pool.peak_open <= s.client.pool.size);
        }
    }

    /// Attempts ≤ max_attempts, backoff in its band, Retry-After honoured,
    /// non-retryable failures never retried (faulty servers).
    #[test]
    fn retries_respect_attempts_backoff_and_retry_after((mut s, seed) in scenario(), rate in 0.2f64..0.9, ra in 0.0f64..0.3) {
        s.server.faults.error_rate = rate;
        s.server.faults.retry_after_s = ra;
        let out = checked(&s, seed)?;
        let max = s.client.retry.max_attempts;
        for e in &out.trace {
            if let TraceEvent::RequestSent { attempt, .. } = e {
                prop_assert!(*attempt >= 1 && *attempt <= max);
            }
        }
        prop_assert!(out.stats.retries <= out.stats.requests);
    }

    /// Pool: idle ≤ size, handshakes = connections opened, reuse only of
    /// alive, idle, under-limit connections (small pools, short timeouts).
    #[test]
    fn pool_reuses_only_alive_idle_underused_connections((mut s, seed) in scenario(), size in 0u32..3, max_req in 1u32..4) {
        s.client.pool.size = if s.client.pool.block { size.max(1) } else { size };
        s.client.pool.max_requests_per_connection = max_req;
        let out = checked(&s, seed)?;
        // A blocking shared pool; per-worker pools never block (`pool_block = False`).
        if s.client.pool.block && s.client.pool.scope == PoolScope::Shared {
            prop_assert!(out.pool.peak_open <= s.client.pool.size);
        }
        let reused = out.trace.iter().filter(|e| matches!(e, TraceEvent::ConnReused { .. })).count() as u64;
        prop_assert_eq!(out.pool.hits, reused);
        let requests = out.trace.iter().filter(|e| matches!(e, TraceEvent::RequestSent { .. })).count() as u64;
        prop_assert!(requests <= out.pool.opened * max_req as u64);
    }

    /// Per-worker pools (the original's one session per worker thread): with
    /// no faults, one GET per file and connections that never wear out or
    /// expire, each worker opens one connection and keeps it, so handshakes =
    /// workers ever busy = the peak of files active at once (workers are
    /// taken lowest first) — whatever `pool.size` and `pool.block` say.
    #[test]
    fn per_worker_pools_open_one_connection_per_worker((mut s, seed) in scenario(), size in 0u32..3, block in any::<bool>(), adaptive in any::<bool>()) {
        s.client.pool.scope = PoolScope::PerWorker;
        s.client.adaptive_read_size = adaptive;
        s.client.pool.size = if block { size.max(1) } else { size };
        s.client.pool.block = block;
        s.client.pool.idle_timeout_s = 1e4;
        s.client.pool.max_requests_per_connection = u32::MAX;
        s.client.split = 1;
        s.server.faults.error_rate = 0.0;
        s.server.max_concurrent_requests = None;
        s.server.keep_alive_max_requests = u32::MAX;
        s.client.read_timeout_s = 3600.0;
        let out = checked(&s, seed)?;
        prop_assert_eq!(out.stats.files_completed as usize, out.files.len());
        prop_assert_eq!(out.pool.opened, out.stats.peak_active_files as u64);
        prop_assert_eq!(out.pool.overflow_discarded, 0);
        let requests = out.trace.iter().filter(|e| matches!(e, TraceEvent::RequestSent { .. })).count() as u64;
        prop_assert_eq!(out.pool.hits, requests - out.pool.opened);
    }

    /// Per-worker pools under heavy faults (resets and stalls kill
    /// connections, 503s keep them) pass the invariant checker.
    #[test]
    fn per_worker_pools_pass_the_checker_under_faults((mut s, seed) in scenario(), rate in 0.2f64..0.8) {
        s.client.pool.scope = PoolScope::PerWorker;
        s.server.faults.error_rate = rate;
        s.server.faults.mix = FaultMix { http_500: 1.0, http_429: 0.0, http_503: 1.0, reset: 1.0, stall: 1.0 };
        checked(&s, seed)?;
    }

    /// Bytes: useful + wasted = transferred; resume never refetches a confirmed byte.
    #[test]
    fn bytes_useful_plus_wasted_is_transferred((s, seed) in scenario()) {
        let out = checked(&s, seed)?;
        let r = dlsim::report::from_run(&s, &out);
        // Each term from its own source (see `ByteAccount`), none a difference.
        let b = dlsim::check::byte_account(&out.trace, out.aborted_bytes);
        prop_assert_eq!(b.useful + b.wasted(), out.transferred_bytes);
        prop_assert_eq!(r.total_bytes, b.useful);
        prop_assert_eq!(r.metadata.bytes_wasted, b.wasted());
        let completed: u64 = out.files.iter().filter(|f| out.outcomes[f.id as usize].status == FileStatus::Completed).map(|f| f.size).sum();
        prop_assert_eq!(out.stats.useful_bytes, completed);
    }

    /// Sim level: over the whole run, bytes ≤ burst + rate × duration.
    #[test]
    fn limited_runs_stay_under_the_bucket((mut s, seed) in scenario(), rate in 1e5f64..2e6, burst in prop_oneof![Just(0.0), 0.0f64..2e5]) {
        s.client.bandwidth_limit = Some(dlsim::scenario::BandwidthLimit { rate_bps: rate, burst_bytes: Some(burst), start_full: true });
        let out = checked(&s, seed)?;
        prop_assert!(out.transferred_bytes as f64 <= burst + rate * out.duration.as_secs_f64() + 1.0);
    }

    /// The same seed gives an identical event log (and outputs).
    #[test]
    fn same_seed_same_log((s, seed) in scenario()) {
        let a = run(&s, seed)?;
        let b = run(&s.clone(), seed)?;
        prop_assert_eq!(&a.trace, &b.trace);
        prop_assert_eq!(a.duration, b.duration);
        prop_assert_eq!(a.transferred_bytes, b.transferred_bytes);
        prop_assert_eq!(&a.faults_injected, &b.faults_injected);
        prop_assert_eq!(a.events, b.events);
    }

    /// The same file, range and attempt get the same fault in any schedule.
    #[test]
    fn fault_decisions_are_order_independent(
        seed in any::<u64>(),
        rate in 0.0f64..1.0,
        w in prop::array::uniform5(0.1f64..3.0),
        keys in prop::collection::vec((0u32..4, 0u64..3), 1..60),
        shuffle in any::<prop::sample::Index>(),
    ) {
        let f = Faults { error_rate: rate, retry_after_s: 1.0,
                         mix: FaultMix { http_500: w[0], http_429: w[1], http_503: w[2], reset: w[3], stall: w[4] },
                         ..Faults::default() };
        let decide_all = |order: &[(u32, u64)]| {
            let mut server = ServerFaults::new(seed, f.clone());
            let mut per_key: std::collections::BTreeMap<(u32, u64), Vec<_>> = Default::default();
            for &(file, start) in order {
                per_key.entry((file, start)).or_default().push(server.on_request(file, start * 4096));
            }
            per_key
        };
        let mut other = keys.clone();
        let k = shuffle.index(other.len());
        other.rotate_left(k);
        other.reverse();
        prop_assert_eq!(decide_all(&keys), decide_all(&other));
        // The stateful server's n-th request of a range is attempt n of the
        // pure function, drawn from a freshly built RNG (no shared state).
        for ((file, start), got) in decide_all(&keys) {
            for (i, fault) in got.into_iter().enumerate() {
                let fresh = dlsim::server::decide(&dlsim::engine::KeyedRng::new(seed), &f, file, start * 4096, i as u32 + 1);
                prop_assert_eq!(fault, fresh, "file {} start {} request {}", file, start, i + 1);
            }
        }
    }
}

/// Reference fluid token bucket over piecewise-constant demand: bytes admitted
/// by `t` for demand rates `(until, rate)`.
fn reference_admitted(rate: f64, burst: f64, demand: &[(f64, f64)], times: &[f64]) -> Vec<f64> {
    let (mut t, mut tokens, mut admitted) = (0.0f64, burst, 0.0f64);
    let mut out = Vec::new();
    let mut seg = 0;
    for &target in times {
        while t < target {
            while seg < demand.len() && demand[seg].0 <= t {
                seg += 1;
            }
            let d = if seg < demand.len() { demand[seg].1 } else { 0.0 };
            let until = if seg < demand.len() { demand[seg].0.min(target) } else { target };
            let dt = until - t;
            if d > rate && tokens > 0.0 {
                let te = tokens / (d - rate);
                if te < dt {
                    admitted += d * te + rate * (dt - te);
                    tokens = 0.0;
                } else {
                    admitted += d * dt;
                    tokens -= (d - rate) * dt;
                }
            } else if d > rate {
                admitted += rate * dt;
            } else {
                admitted += d * dt;
                tokens = (tokens + (rate - d) * dt).min(burst);
            }
            t = until;
        }
        out.push(admitted);
    }
    out
}

proptest! {
    #![proptest_config(config())]

    /// Limiter: the link admits what a fluid token bucket admits, and in any
    /// window w at most burst + rate × w.
    #[test]
    fn limiter_admits_at_most_burst_plus_rate_times_window(
        rate in 1e3f64..1e6,
        burst in prop_oneof![Just(0.0), 0.0f64..2e6],
        server in 1e3f64..4e6,
        steps in prop::collection::vec((1u64..2_000, 0u32..4), 1..25),
    ) {
        // Flows never finish (1e15 bytes): the number of flows is the demand.
        let cap = Capacity::new(Some(server), None).with_bucket(TokenBucket::new(rate, burst, true));
        let mut link = Link::new(cap, ProcessorSharing::new());
        let mut t = SimTime::ZERO;
        let (mut flows, mut next_id) = (Vec::<u32>::new(), 0u32);
        let mut demand = Vec::new();
        let mut samples = vec![(0.0, 0.0)];
        let mut fin = Vec::new();
        for (dt_ms, n) in steps {
            let until = t + SimTime::from_millis(dt_ms);
            let mut transitions = 0;
            while let Some(tr) = link.next_transition().filter(|tr| *tr < until) {
                transitions += 1;
                prop_assert!(transitions < 1000, "the link makes no progress at {}", tr);
                link.on_transition(tr, &mut fin);
                prop_assert!(fin.is_empty());
                samples.push((tr.as_secs_f64(), link.total_delivered()));
            }
            demand.push((until.as_secs_f64(), if flows.is_empty() { 0.0 } else { server }));
            t = until;
            link.advance(t);
            samples.push((t.as_secs_f64(), link.total_delivered()));
            while flows.len() > n as usize {
                link.abort_flow(t, flows.pop().expect("non-empty"));
            }
            while flows.len() < n as usize {
                link.add_flow(t, next_id, 1e15, false);
                flows.push(next_id);
                next_id += 1;
            }
        }
        // Window bound: max over pairs of (D(b) − D(a)) − rate·(b − a) ≤ burst.
        let mut min_prefix = f64::INFINITY;
        for &(ts, d) in &samples {
            min_prefix = min_prefix.min(d - rate * ts);
            let excess = (d - rate * ts) - min_prefix;
            prop_assert!(excess <= burst + 1e-6 * (1.0 + d), "excess {} > burst {}", excess, burst);
        }
        let times: Vec<f64> = samples.iter().map(|s| s.0).collect();
        let want = reference_admitted(rate, burst, &demand, &times);
        for ((ts, got), w) in samples.iter().zip(want) {
            prop_assert!((got - w).abs() <= 1e-6 * (1.0 + w) + 2.0 * server * 1e-9, "at {} s: {} admitted, reference {}", ts, got, w);
        }
    }
}

/// Regression (found by `same_seed_same_log`): two reset flows of one file
/// ending in the same link batch; the first failure fails the file and closes
/// the second's connection, whose flow had already ended — the sim runtime
/// aborted a finished flow and panicked.
#[test]
fn flows_ending_together_when_their_file_fails() {
    let s = Scenario::from_value(json!({
        "server": { "bandwidth_bps": null, "latency_ms": 0.0, "keep_alive_max_requests": 1,
                    "faults": { "error_rate": 0.66, "mix": { "http_500": 0.0, "reset": 2.0 } } },
        "network": { "rtt_ms": 0.0, "handshake_rtts": 0 },
        "client": { "max_concurrent_downloads": 1, "split": 2, "min_split_size_bytes": 5000,
                    "pool": { "size": 0, "max_requests_per_connection": 1 },
                    "retry": { "max_attempts": 1, "enable_resume": false } },
        "workload": { "models": [{ "name": "m0", "files": [{ "path": "m0/f0.bin", "size_bytes": 28150 }] }] }
    }))
    .expect("valid");
    let out = simulate(&Plan::seeded(&s, 72237979).unwrap(), SimOptions { trace: true });
    assert_eq!(out.outcomes[0].status, FileStatus::Failed);
    check_run(&s, &out).expect("invariants hold");
}

/// Regression (found hunting a hang in 200 000 generated cases): a flow
/// starting in the instant the previous one ended met a refilled bucket with
/// 0 tokens; its drain time was 0 s and the link never advanced.
#[test]
fn a_flow_starting_as_another_ends_under_a_limit_terminates() {
    let s = Scenario::from_value(json!({
        "server": { "bandwidth_bps": 35801535.9, "latency_ms": 9.69, "max_concurrent_requests": 2,
                    "keep_alive_max_requests": 2, "faults": { "error_rate": 0.0, "retry_after_s": 0.24 } },
        "network": { "rtt_ms": 10.25, "handshake_rtts": 1 },
        "client": { "max_concurrent_files_per_model": 2, "split": 3, "min_split_size_bytes": 37303,
                    "pool": { "size": 2, "idle_timeout_s": 0.0, "max_requests_per_connection": 3 },
                    "retry": { "max_attempts": 4, "backoff": "urllib3", "base_s": 0.023, "cap_s": 0.0, "jitter": 0.0,
                               "respect_retry_after": false, "enable_resume": false },
                    "read_timeout_s": 0.497,
                    "bandwidth_limit": { "rate_bps": 421627.93, "burst_bytes": 29680.98 } },
        "workload": { "models": [
            { "name": "m0", "files": [{ "path": "m0/f0.bin", "size_bytes": 94146 }] },
            { "name": "m1", "priority": "low", "files": [{ "path": "m1/f0.safetensors", "size_bytes": 27584 }] },
            { "name": "m2", "priority": "low", "files": [{ "path": "m2/f0.safetensors", "size_bytes": 112236 },
                                                         { "path": "m2/f1.json", "size_bytes": 50995 }] }] }
    }))
    .expect("valid");
    let out = simulate(&Plan::seeded(&s, 4968595269512366491).unwrap(), SimOptions { trace: true });
    check_run(&s, &out).expect("invariants hold");
    assert_eq!(out.stats.files_completed + out.stats.files_failed, 4);
}

/// Corrupts `log` at `i` by corruption kind `how`; `false` when the event at
/// `i` does not admit that kind.
fn corrupt(log: &mut Vec<TraceEvent>, i: usize, how: usize) -> bool {
    match (how, log[i].clone()) {
        // A file ending twice.
        (0, e @ (TraceEvent::FileCompleted { .. } | TraceEvent::FileFailed { .. })) => log.insert(i, e),
        // A dispatch, a completion or a request lost.
        (1, TraceEvent::FileDispatched { .. } | TraceEvent::FileCompleted { .. } | TraceEvent::RequestSent { .. }) => {
            log.remove(i);
        }
        // A backoff outside its band.
        (2, TraceEvent::RetryScheduled { t, file, start, retry, delay_s, retry_after_s, at }) => {
            log[i] =
                TraceEvent::RetryScheduled { t, file, start, retry, delay_s: delay_s * 1.5 + 0.01, retry_after_s, at };
        }
        // An attempt number skipped.
        (3, TraceEvent::RequestSent { t, file, conn, req, start, end, attempt }) => {
            log[i] = TraceEvent::RequestSent { t, file, conn, req, start, end, attempt: attempt + 1 };
        }
        _ => return false,
    }
    true
}

/// The checker is not vacuous: over a fixed sample of generated scenarios,
/// every effective corruption of a valid log is caught, and each kind of
/// corruption is applied at least `MIN_PER_KIND` times — a generator that
/// stopped producing (say) retries would fail here instead of passing
/// silently.
#[test]
fn checker_rejects_corrupted_logs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};
    const SCENARIOS: usize = 96;
    const MIN_PER_KIND: usize = 24;
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &0x0064_6c73_696d_u128.to_le_bytes().repeat(2)),
    );
    let mut effective = [0usize; 4];
    for case in 0..SCENARIOS {
        let (s, seed) = scenario().new_tree(&mut runner).expect("generates").current();
        let out = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions { trace: true });
        check_run(&s, &out).unwrap_or_else(|v| panic!("case {case}: the uncorrupted log fails: {v}"));
        for (how, count) in effective.iter_mut().enumerate() {
            let fits: Vec<usize> = (0..out.trace.len()).filter(|&i| corrupt(&mut out.trace.clone(), i, how)).collect();
            if fits.is_empty() {
                continue;
            }
            // A position spread over the log, fixed by the case number.
            let i = fits[(case * 7 + how * 13) % fits.len()];
            let mut log = out.trace.clone();
            assert!(corrupt(&mut log, i, how));
            assert_ne!(log, out.trace, "corruption {how} at #{i} changed nothing");
            *count += 1;
            assert!(check(&log, &s, &out.files).is_err(), "case {case}: corruption {how} at #{i} not caught");
        }
    }
    for (how, &n) in effective.iter().enumerate() {
        assert!(
            n >= MIN_PER_KIND,
            "corruption {how} applied {n} times in {SCENARIOS} scenarios, want ≥ {MIN_PER_KIND}"
        );
    }
    eprintln!("effective corruptions per kind: {effective:?}");
}

/// Determinism, compared byte for byte: the same scenario, built twice from
/// its JSON, run with the same seed gives the same report and event log as
/// JSON; and the seed matters: in a faulty scenario, some seed of a bounded
/// sample gives a different outcome from seed 1.
#[test]
fn seed_decides_the_run_byte_for_byte() {
    let v = json!({
        "server": { "faults": { "error_rate": 0.3, "mix": { "http_500": 1, "reset": 1, "http_503": 1 }, "retry_after_s": 0.05 } },
        "client": { "max_concurrent_downloads": 3, "split": 2, "min_split_size_bytes": 4096,
                    "retry": { "max_attempts": 3, "base_s": 0.01, "jitter": 0.2 } },
        "workload": { "models": [ { "name": "m", "linear": { "count": 12, "min_size_bytes": 10_000, "max_size_bytes": 200_000 } } ] }
    });
    // The report without its seed field, and the log, as JSON text.
    let bytes = |seed: u64| {
        let s = Scenario::from_value(v.clone()).expect("valid");
        let out = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions { trace: true });
        let mut r = dlsim::report::from_run(&s, &out);
        r.metadata.seed = 0;
        (serde_json::to_string(&r).expect("serializes"), serde_json::to_string(&out.trace).expect("serializes"))
    };
    let first = bytes(1);
    assert_eq!(first, bytes(1), "seed 1 twice");
    let differ = (2..=9).filter(|&seed| bytes(seed) != first).count();
    assert!(differ > 0, "no seed in 2..=9 changes the faulty run's outcome");
    // At 30 % faults over ≥ 24 requests a run without a fault has
    // probability ≤ 0.7^24 < 2e-4: seed 1 must have injected some.
    let s = Scenario::from_value(v.clone()).expect("valid");
    let out = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: false });
    assert!(out.faults_injected.values().sum::<u64>() > 0);
}

/// Backoff, closed form: each table below is written out from the schema's
/// formula (`src/scenario/schema.rs`, `Backoff`), not computed by a fold.
#[test]
fn backoff_tables_in_closed_form() {
    use dlsim::orchestrator::retry::{base_delay_s, delay_s};
    use dlsim::scenario::{Backoff, Retry};
    let table = |r: &Retry, want: &[f64]| {
        let got: Vec<f64> = (1..=want.len() as u32).map(|n| base_delay_s(r, n)).collect();
        for (n, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-12 * (1.0 + w), "{:?} retry {}: {g} s, want {w} s", r.backoff, n + 1);
        }
    };
    let r = |backoff, base_s, factor, cap_s| Retry { backoff, base_s, factor, cap_s, jitter: 0.0, ..Retry::default() };
    // Exponential, base 1, factor 2, cap 30: 1·2^(n−1) = 1, 2, 4, 8, 16, then
    // 32, 64, 128 capped to 30.
    table(&r(Backoff::Exponential, 1.0, 2.0, 30.0), &[1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
    // Exponential, base 0.1, factor 3, cap 5: 0.1, 0.3, 0.9, 2.7, then 8.1 capped to 5.
    table(&r(Backoff::Exponential, 0.1, 3.0, 5.0), &[0.1, 0.3, 0.9, 2.7, 5.0, 5.0]);
    // Exponential, factor 1: base every time.
    table(&r(Backoff::Exponential, 0.7, 1.0, 30.0), &[0.7, 0.7, 0.7]);
    // The persisted regression (orchestrator/retry.txt, the fold-vs-powi
    // bits): base b = 0.5346649968424493, factor f = 3.285206748543699,
    // cap 28.826461791809894. b·f³ = 0.5346649968424493 × 35.45587… =
    // 18.95701… < cap; b·f⁴ = 62.27… > cap, so retry 5 is the cap.
    let (b, f, cap) = (0.534_664_996_842_449_3, 3.285_206_748_543_699, 28.826_461_791_809_894);
    let d4 = base_delay_s(&r(Backoff::Exponential, b, f, cap), 4);
    assert!((d4 - 18.957_01).abs() < 1e-4, "retry 4: {d4}");
    assert_eq!(base_delay_s(&r(Backoff::Exponential, b, f, cap), 5), cap);
    // urllib3, backoff_factor 0.5: 0 before the first retry, then 0.5·2^(n−1)
    // = 1, 2, 4, 8, 16, then 32 capped to 30.
    table(&r(Backoff::Urllib3, 0.5, 9.0, 30.0), &[0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]);
    // Linear, base 0.25, cap 1: 0.25·n = 0.25, 0.5, 0.75, 1, then 1.25 capped to 1.
    table(&r(Backoff::Linear, 0.25, 9.0, 1.0), &[0.25, 0.5, 0.75, 1.0, 1.0]);
    // Fixed, base 0.75: 0.75 every time, whatever the factor.
    table(&r(Backoff::Fixed, 0.75, 9.0, 30.0), &[0.75, 0.75, 0.75, 0.75]);
    // None: 0.
    table(&r(Backoff::None, 5.0, 2.0, 30.0), &[0.0, 0.0, 0.0]);
    // Cap 0 forces 0 for every strategy.
    for backoff in [Backoff::Fixed, Backoff::Linear, Backoff::Exponential, Backoff::Urllib3] {
        table(&r(backoff, 1.0, 2.0, 0.0), &[0.0, 0.0, 0.0]);
    }
    // Retry 0 is read as retry 1.
    assert_eq!(base_delay_s(&r(Backoff::Linear, 0.25, 2.0, 30.0), 0), 0.25);

    // Jitter 0.1 on base 4 s (default policy, retry 3): 4·(1 + 0.1·(2u − 1))
    // = 3.6 at u = 0, 3.8 at u = ¼, 4 at u = ½, 4.2 at u = ¾, → 4.4 as u → 1.
    let j = Retry { jitter: 0.1, ..Retry::default() };
    for (u, want) in [(0.0, 3.6), (0.25, 3.8), (0.5, 4.0), (0.75, 4.2)] {
        let d = delay_s(&j, 3, u, None);
        assert!((d - want).abs() < 1e-12, "u = {u}: {d} s, want {want} s");
    }
    let top = delay_s(&j, 3, 1.0 - f64::EPSILON, None);
    assert!(top < 4.4 && top > 4.4 - 1e-9, "band top {top}");
    // Retry-After 7 s is a floor when honoured (7 > 4.4), ignored otherwise;
    // a Retry-After of 1 s under the band changes nothing.
    assert_eq!(delay_s(&j, 3, 0.5, Some(7.0)), 7.0);
    assert!((delay_s(&j, 3, 0.5, Some(1.0)) - 4.0).abs() < 1e-12);
    let ignore = Retry { respect_retry_after: false, ..j.clone() };
    assert!((delay_s(&ignore, 3, 0.5, Some(7.0)) - 4.0).abs() < 1e-12);
}
