//! `validate --wan` end to end on three scenarios of the WAN matrix: a
//! fresh 1 MiB download at RTT 50 ms (slow start dominates), eight small
//! files one after another on one pooled connection at RTT 100 ms (the window
//! is kept between requests) and 4 connections sharing a 10 MB/s bottleneck
//! with 10 % resets resumed. The matrix's known misses (the 40 MB/s rows, and
//! 09_rtt50_r10_c4_32x64k_pooled at +0.16, the model pessimistic there, and
//! 14_rtt50_r20_c2_chunk4m_2x16m near −0.16)
//! are reported in the README, not asserted here.
//! Needs root (CI runs as root): it runs, it does not skip. Bounded: the
//! three scenarios take about 3 s of transfer each.
//!
//! The bound, |ln predicted − ln measured| ≤ 0.15 per scenario, is the
//! issue's maximum for the WAN matrix; with slow start off the first
//! scenario alone is ≈ 0.7 off (0.206 s vs 0.42 s), so the bound can fail.

use dlsim::real::validate::{PathKind, validate_on};
use std::path::PathBuf;

#[test]
fn validate_wan_passes_the_checker_and_predicts_within_bounds() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/validation-wan");
    let files: Vec<PathBuf> =
        ["03_rtt50_r10_c1_1m_fresh.json", "18_rtt100_r5_c1_8x16k.json", "20_rtt50_r10_c4_reset_resume.json"]
            .iter()
            .map(|f| dir.join(f))
            .collect();
    let r = validate_on(PathKind::Wan, &files, 1, None, None, &mut |_| {}).expect("validate --wan runs (as root)");
    assert!(
        r.passed(),
        "the invariant checker or a real run failed: {:?}",
        r.rows.iter().map(|x| &x.violations).collect::<Vec<_>>()
    );
    assert_eq!(r.checked_runs, 6, "one sim and one real run per scenario, all checked");
    for row in &r.rows {
        assert!(
            row.log_error <= 0.15,
            "{}: predicted {:.3} s, measured {:.3} s, log error {:.3} > 0.15",
            row.name,
            row.predicted_s,
            row.measured_s,
            row.log_error
        );
    }
}
