//! Fault decisions: a pure function of `(seed, file, range start, attempt)`.
//!
//! [`decide`] draws the request's fault; [`byte_reset`] draws where a body
//! is cut under the per-byte reset hazard (`resets_per_gib`);
//! [`ServerFaults`] counts the attempts *as the
//! server sees them*, per `(file, range start)` (1 for the first request of
//! that range), so the simulated and the real server make the very same
//! decisions whatever order requests arrive in. Both reach it only through
//! the [`ServerPolicy`](super::ServerPolicy).

use crate::engine::{DecisionKey, KeyedRng, domain};
use crate::scenario::Faults;
use rand::RngExt;
use std::collections::BTreeMap;

/// What the server does with one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Serve the range normally.
    None,
    /// HTTP 500 after the latency, no body.
    Http500,
    /// HTTP 429 with `Retry-After: retry_after_s`.
    Http429 { retry_after_s: f64 },
    /// HTTP 503 with `Retry-After: retry_after_s`.
    Http503 { retry_after_s: f64 },
    /// Send `fraction` of the body, then reset the connection.
    Reset { fraction: f64 },
    /// Send the head, then no bytes at all.
    Stall,
}

impl Fault {
    /// Stable name used in reports and the server's stats.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Http500 => "http_500",
            Fault::Http429 { .. } => "http_429",
            Fault::Http503 { .. } => "http_503",
            Fault::Reset { .. } => "reset",
            Fault::Stall => "stall",
        }
    }
}

/// The fault (or none) for this request.
pub fn decide(rng: &KeyedRng, faults: &Faults, file: u32, range_start: u64, attempt: u32) -> Fault {
    if faults.error_rate <= 0.0 {
        return Fault::None;
    }
    let mut s = rng.stream(DecisionKey::new(domain::FAULT, file as u64, range_start, attempt as u64));
    if s.random::<f64>() >= faults.error_rate {
        return Fault::None;
    }
    let m = &faults.mix;
    let weights = [m.http_500, m.http_429, m.http_503, m.reset, m.stall];
    let total: f64 = weights.iter().sum();
    let mut x = s.random::<f64>() * total;
    // Rounding can leave x just past the last weight: fall back to the last kind that has one.
    let mut kind = weights.iter().rposition(|w| *w > 0.0).expect("validation: some weight > 0");
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            kind = i;
            break;
        }
        x -= w;
    }
    let retry_after_s = faults.retry_after_s;
    match kind {
        0 => Fault::Http500,
        1 => Fault::Http429 { retry_after_s },
        2 => Fault::Http503 { retry_after_s },
        3 => Fault::Reset { fraction: s.random::<f64>() },
        _ => Fault::Stall,
    }
}

/// Bytes in a GiB, the unit of `resets_per_gib`.
pub const GIB: f64 = 1_073_741_824.0;

/// The per-byte reset hazard: resets arrive as a Poisson process of
/// `resets_per_gib` per GiB of body sent, so the first one falls after an
/// exponentially distributed number of bytes, X = −ln(1 − U) · GiB / rate
/// with U uniform in [0, 1) from the stream of `(file, range start,
/// attempt)` (its own domain, so it never shifts a request fault's draw).
/// `Some(⌊X⌋)` when X falls inside a body of `len` bytes: the body is cut
/// there and the connection reset; `None` when the body is sent whole.
/// P(cut) = 1 − exp(−rate · len / GiB).
pub fn byte_reset(
    rng: &KeyedRng,
    resets_per_gib: f64,
    file: u32,
    range_start: u64,
    attempt: u32,
    len: u64,
) -> Option<u64> {
    if resets_per_gib <= 0.0 || len == 0 {
        return None;
    }
    let mut s = rng.stream(DecisionKey::new(domain::BYTE_RESET, file as u64, range_start, attempt as u64));
    let u = s.random::<f64>();
    let x = -(1.0 - u).ln() * GIB / resets_per_gib;
    (x < len as f64).then(|| (x.floor() as u64).min(len - 1))
}

/// The server's fault decisions, with attempts counted per `(file, range
/// start)`.
#[derive(Clone, Debug)]
pub struct ServerFaults {
    rng: KeyedRng,
    faults: Faults,
    attempts: BTreeMap<(u32, u64), u32>,
}

impl ServerFaults {
    pub fn new(seed: u64, faults: Faults) -> Self {
        ServerFaults { rng: KeyedRng::new(seed), faults, attempts: BTreeMap::new() }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }
    pub fn error_rate(&self) -> f64 {
        self.faults.error_rate
    }
    /// Change the fault probability (attempt counts are kept).
    pub fn set_error_rate(&mut self, rate: f64) {
        self.faults.error_rate = rate;
    }

    /// The fault for the next request of `file` starting at `range_start`.
    pub fn on_request(&mut self, file: u32, range_start: u64) -> Fault {
        self.on_request_with_cut(file, range_start, 0).0
    }

    /// The fault for the next request of `file` for `len` bytes from
    /// `range_start` and, when that fault is none, where the per-byte reset
    /// hazard cuts its body ([`byte_reset`]), both for the same attempt.
    #[inline(always)]
    pub fn on_request_with_cut(&mut self, file: u32, range_start: u64, len: u64) -> (Fault, Option<u64>) {
        let per_byte = self.faults.resets_per_gib > 0.0;
        if self.faults.error_rate <= 0.0 && !per_byte {
            return (Fault::None, None);
        }
        self.draw(file, range_start, len, per_byte)
    }

    /// [`Self::on_request_with_cut`] with faults on (out of line: the
    /// fault-free path is inlined into the sim's first-byte step).
    #[inline(never)]
    fn draw(&mut self, file: u32, range_start: u64, len: u64, per_byte: bool) -> (Fault, Option<u64>) {
        let n = self.attempts.entry((file, range_start)).or_insert(0);
        *n = n.saturating_add(1);
        let n = *n;
        let fault = decide(&self.rng, &self.faults, file, range_start, n);
        let cut = if fault == Fault::None && per_byte {
            byte_reset(&self.rng, self.faults.resets_per_gib, file, range_start, n, len)
        } else {
            None
        };
        (fault, cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FaultMix;

    #[test]
    fn server_counts_attempts_per_file_and_range() {
        let f = Faults { error_rate: 0.5, ..Faults::default() };
        let mut a = ServerFaults::new(3, f.clone());
        let seq_a: Vec<_> = (0..20).map(|_| a.on_request(1, 0)).collect();
        // Interleave another range: the decisions for (1, 0) do not change.
        let mut b = ServerFaults::new(3, f.clone());
        let seq_b: Vec<_> = (0..20)
            .map(|_| {
                b.on_request(2, 77);
                b.on_request(1, 0)
            })
            .collect();
        assert_eq!(seq_a, seq_b);
        // The n-th request of a range is attempt n of the pure function.
        let r = KeyedRng::new(3);
        let direct: Vec<_> = (1..=20).map(|n| decide(&r, &f, 1, 0, n)).collect();
        assert_eq!(seq_a, direct);
        assert!(seq_a.contains(&Fault::None) && seq_a.contains(&Fault::Http500));
    }

    fn faults(rate: f64, mix: FaultMix) -> Faults {
        Faults { error_rate: rate, mix, retry_after_s: 2.0, ..Faults::default() }
    }

    #[test]
    fn zero_rate_never_faults_and_full_rate_always_does() {
        let r = KeyedRng::new(1);
        let none = faults(0.0, FaultMix::default());
        let all = faults(1.0, FaultMix::default());
        for f in 0..100 {
            assert_eq!(decide(&r, &none, f, 0, 1), Fault::None);
            assert_eq!(decide(&r, &all, f, 0, 1), Fault::Http500);
        }
    }

    #[test]
    fn pure_function_of_its_key_and_rate_is_respected() {
        let r = KeyedRng::new(9);
        let mix = FaultMix { http_500: 1.0, http_429: 1.0, http_503: 1.0, reset: 1.0, stall: 1.0 };
        let f = faults(0.3, mix);
        let mut counts = std::collections::BTreeMap::new();
        for file in 0..5000 {
            let d = decide(&r, &f, file, 4096, 2);
            assert_eq!(d, decide(&r, &f, file, 4096, 2));
            *counts.entry(d.kind()).or_insert(0) += 1;
        }
        // 5000 × 0.3 = 1500 faults, 300 of each kind; allow wide margins.
        let faulted = 5000 - counts["none"];
        assert!((1350..1650).contains(&faulted), "{counts:?}");
        for k in ["http_500", "http_429", "http_503", "reset", "stall"] {
            assert!((220..380).contains(&counts[k]), "{k}: {counts:?}");
        }
    }

    /// Closed form: P(cut) = 1 − exp(−rate · len / GiB); checked within 5
    /// binomial standard deviations over 20 000 independent keys.
    #[test]
    fn byte_reset_probability_is_one_minus_exp_of_rate_times_gib() {
        let r = KeyedRng::new(17);
        for (rate, len) in [(1.0, GIB as u64 / 2), (50.0, 10 * 1024 * 1024), (0.2, GIB as u64 * 3)] {
            let n = 20_000u32;
            let p = 1.0 - (-rate * len as f64 / GIB).exp();
            let cuts: Vec<u64> = (0..n).filter_map(|f| byte_reset(&r, rate, f, 0, 1, len)).collect();
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (cuts.len() as f64 - n as f64 * p).abs() < 5.0 * sd,
                "rate {rate} len {len}: {} cuts, want {}",
                cuts.len(),
                n as f64 * p
            );
            assert!(cuts.iter().all(|c| *c < len));
        }
    }

    /// Closed form: with a body far longer than the mean, the cut offset is
    /// exponential with mean GiB / rate (its sd equals its mean); the sample
    /// mean is within 5 standard errors, and the median is mean · ln 2.
    #[test]
    fn byte_reset_offsets_are_exponential_with_mean_gib_over_rate() {
        let r = KeyedRng::new(5);
        let rate = 64.0;
        let mean = GIB / rate;
        let n = 20_000u32;
        let mut xs: Vec<f64> = (0..n).map(|a| byte_reset(&r, rate, 3, 4096, a + 1, u64::MAX).unwrap() as f64).collect();
        let m = xs.iter().sum::<f64>() / n as f64;
        assert!((m - mean).abs() < 5.0 * mean / (n as f64).sqrt(), "mean {m}, want {mean}");
        xs.sort_by(f64::total_cmp);
        let median = xs[xs.len() / 2];
        // The sample median of an exponential has sd ≈ mean / sqrt(n).
        assert!((median - mean * 2f64.ln()).abs() < 5.0 * mean / (n as f64).sqrt(), "median {median}");
    }

    #[test]
    fn byte_resets_are_keyed_by_what_they_decide_and_leave_request_faults_alone() {
        let r = KeyedRng::new(2);
        let a = byte_reset(&r, 1e4, 1, 0, 1, 1 << 20);
        assert_eq!(a, byte_reset(&r, 1e4, 1, 0, 1, 1 << 20));
        let others: Vec<_> = (2..40).map(|n| byte_reset(&r, 1e4, 1, 0, n, 1 << 20)).collect();
        assert!(others.iter().any(|o| *o != a), "another attempt draws anew");
        assert_eq!(byte_reset(&r, 0.0, 1, 0, 1, u64::MAX), None);
        assert_eq!(byte_reset(&r, 1e6, 1, 0, 1, 0), None);
        // Adding the hazard does not move any request fault.
        let plain = faults(0.3, FaultMix::default());
        let hazard = Faults { resets_per_gib: 5.0, ..plain.clone() };
        let (mut x, mut y) = (ServerFaults::new(8, plain), ServerFaults::new(8, hazard));
        for f in 0..500 {
            assert_eq!(x.on_request(f, 0), y.on_request_with_cut(f, 0, 1 << 30).0);
        }
    }
}
