//! Issue 12: the help texts carry the facts a newcomer needs — exit codes
//! and the scenario format (`--help`), the URL layout, the stats endpoint
//! and what is emulated (`serve --help`), sim/real columns (`validate
//! --help`), the bench workload's size distribution and `--seed`.

use std::process::Command;

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn has_all(text: &str, want: &[&str]) {
    for w in want {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
}

#[test]
fn main_help_gives_exit_codes_and_the_scenario_format() {
    for flag in ["--help", "-h"] {
        let t = help(&[flag]);
        has_all(&t, &["Exit codes:", "  0  success", "  1  a check failed", "  2  bad input", "Scenario format:"]);
        has_all(&t, &["dlsim explain SCENARIO", "scenarios/example.json"]);
    }
}

#[test]
fn serve_help_gives_urls_stats_and_what_is_emulated() {
    let t = help(&["serve", "--help"]);
    has_all(&t, &["URL layout:", "/<file path>", dlsim::real::server::STATS_PATH, "/api/models/<repo>"]);
    has_all(&t, &["Emulated", "latency_ms", "bandwidth_bps", "resets_per_gib", "Not emulated:", "RTT"]);
}

#[test]
fn validate_help_says_sim_and_real() {
    has_all(&help(&["validate", "--help"]), &["sim_s", "real_s", "ln(sim/real)", "real runs s", "outside"]);
}

#[test]
fn bench_help_gives_the_size_distribution_and_takes_a_seed() {
    let t = help(&["bench", "--help"]);
    has_all(&t, &["log-uniformly", "4 KiB and 64 MiB", "--seed"]);
    // The seed changes the workload, and the line names it.
    let run = |seed: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_dlsim"))
            .args(["bench", "--files", "200", "--connections", "8", "--repeat", "1", "--seed", seed])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().next().unwrap().to_string()
    };
    let (a, b, c) = (run("1"), run("1"), run("2"));
    assert!(a.contains("seed 1:"), "{a}");
    assert_eq!(a, b, "same seed, same run");
    assert_ne!(a.replace("seed 1", "seed 2"), c, "another seed, another workload");
}
