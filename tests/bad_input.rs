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
