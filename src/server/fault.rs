//! Fault decisions: a pure function of `(seed, file, range start, attempt)`.
//!
//! [`decide`] draws the fault; [`ServerFaults`] counts the attempts *as the
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
        if self.faults.error_rate <= 0.0 {
            return Fault::None;
        }
        let n = self.attempts.entry((file, range_start)).or_insert(0);
        *n = n.saturating_add(1);
        decide(&self.rng, &self.faults, file, range_start, *n)
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
        Faults { error_rate: rate, mix, retry_after_s: 2.0 }
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
}
