//! Bad input: every malformed scenario or flag exits with code 2 and one
//! clear message naming the field, the bad value and what is allowed — no
//! panic, no backtrace, no output files.

use std::path::{Path, PathBuf};
use std::process::Command;

const GOOD_WORKLOAD: &str = r#""workload":{"models":[{"name":"m","files":[{"path":"m/a","size_bytes":1000}]}]}"#;

struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(name: &str) -> Case {
        let dir = std::env::temp_dir().join(format!("dlsim-bad-input-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Case { dir }
    }

    fn scenario(&self, text: &str) -> PathBuf {
        let p = self.dir.join("scenario.json");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// Run dlsim; assert exit 2, no panic, stderr naming every `expect`ed
    /// fragment, and no output files. Returns stderr.
    fn fails(&self, args: &[&str], expect: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
        for e in expect {
            assert!(stderr.contains(e), "expected {e:?} in: {stderr}");
        }
        assert!(
            !self.out().exists() || std::fs::read_dir(self.out()).unwrap().next().is_none(),
            "no output files may be written on bad input"
        );
        stderr
    }

    fn run_scenario(&self, text: &str, expect: &[&str]) -> String {
        let p = self.scenario(text);
        let out = self.out();
        self.fails(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()], expect)
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn with(section: &str) -> String {
    format!("{{{section},{GOOD_WORKLOAD}}}")
}

#[test]
fn not_json() {
    Case::new("not-json").run_scenario("{ this is not json", &["not valid JSON", "line 1"]);
}

#[test]
fn unknown_field() {
    Case::new("unknown").run_scenario(
        &with(r#""client":{"max_concurent_downloads":4}"#),
        &["client.max_concurent_downloads", "unknown field", "max_concurrent_downloads"],
    );
}

#[test]
fn wrong_type() {
    Case::new("type").run_scenario(
        &with(r#""client":{"max_concurrent_downloads":"four"}"#),
        &["client.max_concurrent_downloads", "expected u32"],
    );
}

#[test]
fn negative_and_zero_bandwidth() {
    Case::new("neg-bw")
        .run_scenario(&with(r#""server":{"bandwidth_bps":-5}"#), &["server.bandwidth_bps", "≥ 1 B/s", "-5"]);
    Case::new("zero-bw").run_scenario(&with(r#""server":{"bandwidth_bps":0}"#), &["server.bandwidth_bps", "≥ 1 B/s"]);
    Case::new("zero-limit")
        .run_scenario(&with(r#""client":{"bandwidth_limit":{"rate_bps":0}}"#), &["client.bandwidth_limit.rate_bps"]);
}

#[test]
fn nan_and_infinite_numbers() {
    Case::new("nan").run_scenario(&with(r#""network":{"rtt_ms":NaN}"#), &["network.rtt_ms", "finite"]);
    Case::new("inf").run_scenario(&with(r#""network":{"rtt_ms":1e999}"#), &["network.rtt_ms", "finite"]);
}

#[test]
fn error_rate_outside_unit_interval() {
    Case::new("err-rate").run_scenario(
        &with(r#""server":{"faults":{"error_rate":1.5}}"#),
        &["server.faults.error_rate", "[0, 1]", "1.5"],
    );
    Case::new("err-rate-neg")
        .run_scenario(&with(r#""server":{"faults":{"error_rate":-0.1}}"#), &["server.faults.error_rate"]);
}

#[test]
fn zero_concurrency() {
    Case::new("conc").run_scenario(
        &with(r#""client":{"max_concurrent_downloads":0}"#),
        &["client.max_concurrent_downloads", "got 0"],
    );
}

#[test]
fn zero_chunk_size() {
    Case::new("chunk").run_scenario(
        &with(r#""client":{"chunking":{"mode":"fixed","chunk_size_bytes":0}}"#),
        &["client.chunking.chunk_size_bytes", "got 0"],
    );
}

#[test]
fn empty_workload() {
    Case::new("empty").run_scenario(r#"{"workload":{"models":[]}}"#, &["workload.models", "at least one model"]);
    Case::new("missing").run_scenario(r#"{"name":"x"}"#, &["missing field `workload`"]);
    Case::new("no-files").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[]}]}}"#,
        &["workload.models[0]", "exactly one of"],
    );
}

#[test]
fn file_size_zero_or_beyond_u64() {
    Case::new("size0").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":0}]}]}}"#,
        &["workload.models[0].files[0].size_bytes", "got 0"],
    );
    Case::new("size-huge").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":18446744073709551616}]}]}}"#,
        &["workload.models[0].files[0].size_bytes", "18446744073709551615"],
    );
}

/// The first bad file is named, with its index, path checked before size.
#[test]
fn file_path_empty_or_too_long() {
    let long = "p".repeat(4097);
    Case::new("path-empty").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1},{"path":"","size_bytes":0}]}]}}"#,
        &["workload.models[0].files[1].path", "1 to 4096 bytes long, got 0 bytes"],
    );
    Case::new("path-long").run_scenario(
        &format!(
            r#"{{"workload":{{"models":[{{"name":"m","files":[{{"path":"a","size_bytes":1}},{{"path":"b","size_bytes":1}},{{"path":"{long}","size_bytes":1}},{{"path":"c","size_bytes":0}}]}}]}}}}"#
        ),
        &["workload.models[0].files[2].path", "got 4097 bytes"],
    );
}

#[test]
fn scenario_name_must_be_a_file_name() {
    Case::new("name").run_scenario(&with(r#""name":"../evil""#), &["field `name`", "../evil"]);
}

#[test]
fn duplicate_file_paths() {
    Case::new("dup").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1},{"path":"a","size_bytes":2}]}]}}"#,
        &["duplicate file path", "\"a\""],
    );
}

#[test]
fn missing_scenario_file() {
    let c = Case::new("missing-file");
    let p = c.dir.join("nope.json");
    let out = c.out();
    c.fails(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()], &["cannot read", "nope.json"]);
}

#[test]
fn unwritable_out_dir() {
    let c = Case::new("unwritable");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    // A regular file where the output directory should be.
    let blocker = c.dir.join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("out");
    c.fails(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()], &["cannot write", "blocker"]);
    assert!(!Path::new(&out).exists());
}

#[test]
fn sweep_over_unknown_knob() {
    Case::new("knob").run_scenario(
        &with(r#""sweep":{"knob":"client.warp_speed","values":[1,2]}"#),
        &["unknown knob", "client.warp_speed"],
    );
    Case::new("knob-value")
        .run_scenario(&with(r#""sweep":{"knob":"client.split","values":[2,0]}"#), &["client.split", "sweep point"]);
}

#[test]
fn min_above_max_in_a_size_range() {
    Case::new("range").run_scenario(
        r#"{"workload":{"models":[{"name":"m","linear":{"count":3,"min_size_bytes":100,"max_size_bytes":10}}]}}"#,
        &["workload.models[0].linear.max_size_bytes", "min_size_bytes (100)", "got 10"],
    );
}

#[test]
fn jitter_and_retry_knobs_out_of_range() {
    Case::new("jitter").run_scenario(&with(r#""client":{"retry":{"jitter":1.0}}"#), &["client.retry.jitter", "[0, 1)"]);
    Case::new("attempts")
        .run_scenario(&with(r#""client":{"retry":{"max_attempts":0}}"#), &["client.retry.max_attempts", "got 0"]);
    Case::new("backoff").run_scenario(
        &with(r#""client":{"retry":{"backoff":"quadratic"}}"#),
        &["client.retry.backoff", "unknown variant"],
    );
}

#[test]
fn bad_flags() {
    let c = Case::new("flags");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    let (p, out) = (p.to_str().unwrap(), out.to_str().unwrap());
    c.fails(&["run", p, "--out", out, "--seed", "abc"], &["--seed", "abc"]);
    c.fails(&["run", p, "--out", out, "--format", "xml"], &["--format", "xml"]);
    c.fails(&["run", p, "--out", out, "--frobnicate"], &["--frobnicate"]);
    c.fails(&["bench", "--files", "0"], &["--files"]);
}

// ---- Issue 12: hardening (each case exits 2, names the field, writes nothing) ----

fn file(size: &str) -> String {
    format!(r#"{{"workload":{{"models":[{{"name":"m","files":[{{"path":"a","size_bytes":{size}}}]}}]}}}}"#)
}

#[test]
fn arrays_are_not_accepted_as_objects() {
    Case::new("arr-server").run_scenario(&with(r#""server":[1000,5]"#), &["`server`", "must be a JSON object"]);
    Case::new("arr-faults").run_scenario(&with(r#""server":{"faults":[]}"#), &["`server.faults`", "JSON object"]);
    Case::new("arr-whole").run_scenario("[1, 2]", &["whole scenario", "JSON object"]);
    Case::new("arr-file").run_scenario(
        r#"{"workload":{"models":[{"name":"m","files":[["a",1]]}]}}"#,
        &["workload.models[0].files[0]", "JSON object"],
    );
}

#[test]
fn duplicate_keys_and_a_missing_workload_are_named() {
    let e = Case::new("dup-key").run_scenario(
        r#"{"workload":{"models":[{"name":"m","linear":{"count":3,"min_size_bytes":1,"max_size_bytes":5,"max_size_bytes":7}}]}}"#,
        &["workload.models[0].linear.max_size_bytes", "duplicate field"],
    );
    assert!(!e.contains("(near)"), "{e}");
    let e = Case::new("no-workload").run_scenario(r#"{"name":"x","client":{}}"#, &["field `workload`", "required"]);
    assert!(!e.contains("(near)"), "{e}");
}

#[test]
fn allowed_ranges_are_the_real_ones_and_no_rust_type_names_leak() {
    Case::new("range-size").run_scenario(&file("\"big\""), &["size_bytes", "from 1 to 18446744073709551615"]);
    Case::new("range-split").run_scenario(&with(r#""client":{"split":"x"}"#), &["client.split", "from 1 to 64"]);
    let e = Case::new("type-name").run_scenario(&with(r#""client":"fast""#), &["`client`", "an object"]);
    assert!(!e.contains("struct"), "{e}");
}

#[test]
fn a_byte_order_mark_gets_a_hint() {
    Case::new("bom").run_scenario(&format!("\u{feff}{{{GOOD_WORKLOAD}}}"), &["byte-order mark"]);
}

#[test]
fn a_huge_name_is_not_echoed_in_full() {
    let name = "é".repeat(200_000);
    let e =
        Case::new("huge-name").run_scenario(&with(&format!(r#""name":"{name}""#)), &["field `name`", "bytes in all"]);
    assert!(e.len() < 2000, "message of {} bytes", e.len());
}

#[test]
fn negative_seed_and_bench_flags_name_the_flag() {
    let c = Case::new("flags2");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    let (p, out) = (p.to_str().unwrap(), out.to_str().unwrap());
    c.fails(&["run", p, "--out", out, "--seed", "-1"], &["--seed", "from 0 to 18446744073709551615"]);
    for (flag, value) in [("--error-rate", "2"), ("--connections", "0"), ("--files", "0"), ("--repeat", "0")] {
        let e = c.fails(&["bench", flag, value], &[flag]);
        assert!(!e.contains("server.") && !e.contains("client."), "{e}");
    }
}

#[test]
fn runs_past_the_time_horizon_are_refused() {
    // 1e18 bytes at 1 B/s: ~3e10 years; SimTime ends at 2^64 ns ≈ 584 years.
    Case::new("horizon").run_scenario(
        &format!(r#"{{"server":{{"bandwidth_bps":1}},{}"#, &file("1000000000000000000")[1..]),
        &["server.bandwidth_bps", "horizon"],
    );
    // u64::MAX bytes at the default 125 MB/s: ~4700 years.
    Case::new("horizon-max").run_scenario(&file("18446744073709551615"), &["horizon", "years"]);
}

#[test]
fn byte_counts_that_overflow_are_refused() {
    let half = u64::MAX / 2 + 1;
    Case::new("overflow").run_scenario(
        &format!(
            r#"{{"server":{{"bandwidth_bps":null}},"workload":{{"models":[{{"name":"m","files":[{{"path":"a","size_bytes":{half}}},{{"path":"b","size_bytes":{half}}}]}}]}}}}"#
        ),
        &["workload.models", "18446744073709551615"],
    );
}

#[test]
fn inputs_that_would_never_finish_are_refused_with_the_flag_that_overrides() {
    // 1 GiB in 1-byte chunks: ~2^30 requests.
    let gib = 1u64 << 30;
    Case::new("tiny-chunks").run_scenario(
        &format!(
            r#"{{"client":{{"chunking":{{"mode":"fixed","chunk_size_bytes":1}}}},{}"#,
            &file(&gib.to_string())[1..]
        ),
        &["simulator events", "budget", "--max-events"],
    );
    // One-byte write turns: one event per byte.
    Case::new("quantum").run_scenario(
        &format!(r#"{{"server":{{"write_quantum_bytes":1}},{}"#, &file(&gib.to_string())[1..]),
        &["simulator events", "--max-events"],
    );
    Case::new("repeat").fails(&["bench", "--repeat", "4294967295"], &["--max-events", "--repeat"]);
}

#[test]
fn memory_beyond_the_budget_is_refused_before_building_every_point() {
    // 10 M files × 2 points: refused at the first point, in well under a second.
    let t = std::time::Instant::now();
    Case::new("memory").run_scenario(
        r#"{"workload":{"models":[{"name":"m","linear":{"count":10000000,"min_size_bytes":1,"max_size_bytes":5}}]},
            "sweep":{"knob":"seed","values":[1,2]}}"#,
        &["MiB of simulator memory", "--max-memory-mib"],
    );
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    Case::new("points").run_scenario(
        &with(&format!(r#""sweep":{{"knob":"seed","values":[{}]}}"#, vec!["1"; 100_001].join(","))),
        &["sweep", "at most 100000 points"],
    );
    // 5 M values (10 MB): refused while reading, not after building them.
    let t = std::time::Instant::now();
    Case::new("points-5m").run_scenario(
        &with(&format!(r#""sweep":{{"knob":"seed","values":[{}]}}"#, vec!["1"; 5_000_000].join(","))),
        &["sweep.values", "at most 100000 points"],
    );
    assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
}

#[test]
fn the_budget_flags_override_the_limits() {
    let c = Case::new("budget-flags");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    let (p, o) = (p.to_str().unwrap(), out.to_str().unwrap());
    c.fails(&["run", p, "--out", o, "--max-events", "1"], &["--max-events"]);
    c.fails(&["run", p, "--out", o, "--max-memory-mib", "0"], &["--max-memory-mib"]);
    let ok = Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["run", p, "--out", o, "--max-events", "1000"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

#[test]
fn knob_errors_name_the_file_and_suggest_the_nearest_path() {
    Case::new("knob-near").run_scenario(
        &with(r#""sweep":{"knob":"client.max_concurent_downloads","values":[1]}"#),
        &["unknown knob", "did you mean \"client.max_concurrent_downloads\"", "scenario.json"],
    );
    Case::new("knob-name").run_scenario(
        &with(r#""sweep":{"points":[{"name":"a","set":{"name":"b"}}]}"#),
        &["sweep.points[0].set.name", "scenario.json"],
    );
}

#[test]
fn cpu_costs_that_would_make_the_report_infinite_are_refused() {
    Case::new("cpu-inf").run_scenario(
        &with(r#""client":{"cpu":{"per_byte_ns":1e300}}"#),
        &["client.cpu.per_byte_ns", "[0, 1000000000]"],
    );
}

#[test]
fn invalid_structs_from_the_library_are_refused_not_simulated() {
    let mut s = dlsim::Scenario::from_json(&format!("{{{GOOD_WORKLOAD}}}")).unwrap();
    s.client.pool.block = true;
    s.client.pool.size = 0;
    assert!(dlsim::Plan::of(&s).unwrap_err().to_string().contains("client.pool.size"));
    s.client.pool.block = false;
    s.network.rtt_ms = f64::NAN;
    assert!(dlsim::Plan::of(&s).unwrap_err().to_string().contains("network.rtt_ms"));
}

// ---- Output: all or nothing ----

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn a_failed_rename_leaves_no_partial_output_and_restores_old_files() {
    let c = Case::new("rename");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    std::fs::create_dir_all(out.join("scenario.csv")).unwrap();
    std::fs::write(out.join("scenario.json"), "old").unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("scenario.csv") && !stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("scenario.json")).unwrap(), "old", "the old file is put back");
    assert!(leftovers(&out).is_empty(), "temporary files left: {:?}", leftovers(&out));
}

#[test]
fn a_directory_in_the_way_of_the_first_file_writes_nothing() {
    let c = Case::new("dir-first");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    std::fs::create_dir_all(out.join("scenario.json")).unwrap();
    let r = Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(!out.join("scenario.csv").exists());
    assert!(leftovers(&out).is_empty(), "temporary files left: {:?}", leftovers(&out));
}

#[test]
fn concurrent_runs_into_one_directory_never_mix_their_files() {
    let c = Case::new("concurrent");
    let text = r#"{"server":{"faults":{"error_rate":0.2}},
        "workload":{"models":[{"name":"m","linear":{"count":200,"min_size_bytes":1000,"max_size_bytes":100000}}]}}"#;
    let p = c.scenario(text);
    let out = c.out();
    let children: Vec<_> = (0..6)
        .map(|seed| {
            Command::new(env!("CARGO_BIN_EXE_dlsim"))
                .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--seed", &seed.to_string()])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut ch in children {
        assert!(ch.wait().unwrap().success());
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("scenario.json")).unwrap()).unwrap();
    let seed = json["seed"].as_u64().unwrap();
    assert_eq!(json["results"][0]["metadata"]["seed"].as_u64(), Some(seed), "one run's JSON, whole");
    let csv = std::fs::read_to_string(out.join("scenario.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "one header and one row: {csv}");
    assert!(leftovers(&out).is_empty(), "temporary files left: {:?}", leftovers(&out));
}

// ---- stdout ----

#[test]
fn a_full_device_on_stdout_is_exit_2_with_a_message() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let c = Case::new("devfull");
    let p = c.scenario(&format!("{{{GOOD_WORKLOAD}}}"));
    let out = c.out();
    for args in [
        vec!["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()],
        vec!["bench", "--files", "10", "--repeat", "1"],
    ] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let r = Command::new(env!("CARGO_BIN_EXE_dlsim")).args(&args).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("standard output") && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_closed_pipe_on_stdout_ends_quietly() {
    let c = Case::new("pipe");
    // 100 results (> 64 KiB of JSON, more than a pipe buffers): the write
    // meets the closed pipe whenever it happens.
    let seeds: Vec<String> = (0..100).map(|s| s.to_string()).collect();
    let p = c.scenario(&format!(
        r#"{{"workload":{{"models":[{{"name":"m","files":[{{"path":"a","size_bytes":1}}]}}]}},
            "sweep":{{"knob":"seed","values":[{}]}}}}"#,
        seeds.join(",")
    ));
    let out = c.out();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let r = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
