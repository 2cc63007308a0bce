//! `validate --client` end to end: each real tool (curl, aria2c,
//! hf_transfer, huggingface_hub) downloads one bounded workload of the
//! matrix `scenarios/clients/` through the WAN emulator from `serve --hub`,
//! every file SHA-256-checked, and its preset's prediction must be within
//! the bound: |ln(sim / real)| ≤ 0.25. The matrix rows the presets
//! miss are reported in the README ("Which client?"), not asserted here.
//!
//! Needs root (the WAN emulator; CI runs as root) and the tools
//! (`.ci/install-clients`, which `.ci/run` calls): it runs, it never skips —
//! a missing tool fails with the install step.

use dlsim::real::clients::{Client, Tools, validate_client};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The bound on the largest |log error| of a preset.
const MAX_ABS_LOG_ERROR: f64 = 0.25;

fn check_tool(exe: &str, args: &[&str], what: &str) {
    let ok =
        Command::new(exe).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(
        ok,
        "{what} cannot be run as `{exe} {}`: run `.ci/install-clients` (and set DLSIM_CLIENTS_PYTHON to the python it prints)",
        args.join(" ")
    );
}

fn tools() -> Tools {
    let mut t = Tools::from_env();
    if std::env::var_os("DLSIM_CLIENTS_PYTHON").is_none() {
        t.python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-clients/bin/python").to_string();
        // SAFETY: set once, before any thread of this test binary reads it.
        unsafe { std::env::set_var("DLSIM_CLIENTS_PYTHON", &t.python) };
    }
    check_tool(&t.curl, &["--version"], "curl");
    check_tool(&t.aria2c, &["--version"], "aria2c");
    check_tool(&t.python, &["-c", "import huggingface_hub, hf_transfer"], "huggingface_hub/hf_transfer");
    t
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/clients").join(name)
}

/// The tests run one at a time: parallel tools would share the CPU and
/// each other's timings.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One tool on one WAN scenario, once: every file checked, the bound held.
fn within_bound(client: Client, file: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = tools();
    let report = validate_client(&[scenario(file)], client, 1, None, true, |_| {}).unwrap();
    let row = &report.rows[0];
    assert_eq!(row.run.verified, row.run.files, "{}: {row:?}", client.name());
    assert!(
        row.log_error.abs() <= MAX_ABS_LOG_ERROR,
        "{} on {file}: real {:.3} s, preset {:.3} s, log error {:+.3} (bound {MAX_ABS_LOG_ERROR}; load {})",
        client.name(),
        row.run.wall_s,
        row.sim_s,
        row.log_error,
        report.load_after
    );
}

#[test]
fn curl_one_large_file_through_the_wan() {
    within_bound(Client::Curl, "05_wan_large.json");
}

#[test]
fn aria2c_one_large_file_through_the_wan() {
    within_bound(Client::Aria2c, "05_wan_large.json");
}

#[test]
fn hf_transfer_eight_medium_files_through_the_wan() {
    within_bound(Client::HfTransfer, "08_wan_medium.json");
}

#[test]
fn huggingface_hub_one_large_file_through_the_wan() {
    within_bound(Client::HuggingfaceHub, "05_wan_large.json");
}
