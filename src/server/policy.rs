//! [`ServerPolicy`]: one request in, one [`Decision`] out.
//!
//! The rules, in order:
//!
//! 1. The request is counted on its connection ([`ConnState`]) first, so a
//!    faulted request uses the keep-alive budget too.
//! 2. `HEAD`: the head only, never a fault.
//! 3. `serving ≥ max_concurrent_requests` (bodies and stalls in progress):
//!    503 with the faults' `retry_after_s`, counted as `over_capacity`. No
//!    fault is drawn, so no attempt of the range is used.
//! 4. Otherwise the fault of `(file, range start, attempt)`: 500; 429/503 with
//!    Retry-After; a body cut at ⌊len × fraction⌋ then a reset; a stall.
//!    A body the fault left whole may still be cut by the per-byte reset
//!    hazard (`resets_per_gib`, [`super::fault::byte_reset`]): the body
//!    stops at the drawn offset and the connection is reset, counted as
//!    `byte_reset`.
//! 5. A whole body ends in keep-alive while the connection has served fewer
//!    than `keep_alive_max_requests` and the client did not ask to close.
//!
//! Status responses (500/429/503) keep the connection unless the client
//! asked to close it, whatever the budget: the budget is checked when a body
//! ends, as `Keep-Alive: max` counts responses the client reads through.

use super::fault::{Fault, ServerFaults};
use crate::scenario::Faults;
use std::collections::BTreeMap;

/// The limits that decide a request's fate besides the faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bodies (and stalls) served at once; a request beyond gets 503.
    pub max_concurrent_requests: Option<u32>,
    /// Requests served on one connection before the server closes it after a body.
    pub keep_alive_max_requests: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

/// One request for an existing file and a satisfiable range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub file: u32,
    /// Bytes `[start, end)`; a whole file is `[0, size)`.
    pub start: u64,
    pub end: u64,
    pub method: Method,
    /// The client sent `Connection: close` (or spoke HTTP/1.0).
    pub client_close: bool,
}

/// What the server remembers of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnState {
    served: u32,
}

impl ConnState {
    /// Requests decided on this connection so far.
    pub fn served(&self) -> u32 {
        self.served
    }
}

/// How a body ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// The connection stays open for `left` more requests (`Keep-Alive: max`).
    KeepAlive { left: u32 },
    /// `Connection: close`: the server closes after the body.
    Close,
    /// The body stops short and the connection is reset.
    Reset,
}

/// The server's answer to one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// A status without a body; the connection stays open unless `close`.
    Status { code: u16, retry_after_s: Option<f64>, close: bool },
    /// The head (Content-Length: the whole range), then `bytes` of body, then `then`.
    Body { bytes: u64, then: Then },
    /// The head, then nothing until the client gives up.
    Stall,
}

/// The server core: fault decisions, limits and counters.
#[derive(Clone, Debug)]
pub struct ServerPolicy {
    faults: ServerFaults,
    limits: Limits,
    /// Faults injected by kind (`over_capacity` for the request cap).
    injected: BTreeMap<&'static str, u64>,
}

impl ServerPolicy {
    pub fn new(seed: u64, faults: Faults, limits: Limits) -> Self {
        ServerPolicy { faults: ServerFaults::new(seed, faults), limits, injected: BTreeMap::new() }
    }

    /// The server of a scenario, for run seed `seed`.
    pub fn of(server: &crate::scenario::Server, seed: u64) -> Self {
        let limits = Limits {
            max_concurrent_requests: server.max_concurrent_requests,
            keep_alive_max_requests: server.keep_alive_max_requests,
        };
        ServerPolicy::new(seed, server.faults.clone(), limits)
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
    pub fn error_rate(&self) -> f64 {
        self.faults.error_rate()
    }
    /// Change the fault probability (attempt counts are kept).
    pub fn set_error_rate(&mut self, rate: f64) {
        self.faults.set_error_rate(rate);
    }
    /// Faults injected so far, by kind.
    pub fn injected(&self) -> &BTreeMap<&'static str, u64> {
        &self.injected
    }

    fn count(&mut self, kind: &'static str) {
        *self.injected.entry(kind).or_insert(0) += 1;
    }

    /// Decide `req`, arriving on `conn` while `serving` bodies (and stalls)
    /// are in progress on the whole server.
    #[inline(always)]
    pub fn decide(&mut self, conn: &mut ConnState, serving: u32, req: &Request) -> Decision {
        conn.served = conn.served.saturating_add(1);
        let max = self.limits.keep_alive_max_requests;
        let after_body = if conn.served < max && !req.client_close {
            Then::KeepAlive { left: max - conn.served }
        } else {
            Then::Close
        };
        if req.method == Method::Head {
            return Decision::Body { bytes: 0, then: after_body };
        }
        let close = req.client_close;
        if self.limits.max_concurrent_requests.is_some_and(|cap| serving >= cap) {
            self.count("over_capacity");
            let retry_after_s = Some(self.faults.faults().retry_after_s);
            return Decision::Status { code: 503, retry_after_s, close };
        }
        let len = req.end - req.start;
        let (fault, cut) = self.faults.on_request_with_cut(req.file, req.start, len);
        if fault != Fault::None {
            self.count(fault.kind());
        }
        match fault {
            Fault::None => match cut {
                Some(bytes) => {
                    self.count("byte_reset");
                    Decision::Body { bytes, then: Then::Reset }
                }
                None => Decision::Body { bytes: len, then: after_body },
            },
            Fault::Http500 => Decision::Status { code: 500, retry_after_s: None, close },
            Fault::Http429 { retry_after_s } => {
                Decision::Status { code: 429, retry_after_s: Some(retry_after_s), close }
            }
            Fault::Http503 { retry_after_s } => {
                Decision::Status { code: 503, retry_after_s: Some(retry_after_s), close }
            }
            Fault::Reset { fraction } => {
                Decision::Body { bytes: (len as f64 * fraction).floor() as u64, then: Then::Reset }
            }
            Fault::Stall => Decision::Stall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::KeyedRng;
    use crate::scenario::FaultMix;
    use crate::server::decide;

    fn get(file: u32, start: u64, end: u64) -> Request {
        Request { file, start, end, method: Method::Get, client_close: false }
    }
    fn limits(cap: Option<u32>, keep: u32) -> Limits {
        Limits { max_concurrent_requests: cap, keep_alive_max_requests: keep }
    }

    #[test]
    fn keep_alive_budget_counts_every_request() {
        let mut p = ServerPolicy::new(1, Faults::default(), limits(None, 3));
        let mut c = ConnState::default();
        let r = get(0, 0, 10);
        assert_eq!(p.decide(&mut c, 0, &r), Decision::Body { bytes: 10, then: Then::KeepAlive { left: 2 } });
        assert_eq!(p.decide(&mut c, 0, &r), Decision::Body { bytes: 10, then: Then::KeepAlive { left: 1 } });
        assert_eq!(p.decide(&mut c, 0, &r), Decision::Body { bytes: 10, then: Then::Close });
        assert_eq!(c.served(), 3);
        // A fresh connection has its own budget; a client close ends it at once.
        let mut d = ConnState::default();
        let close = Request { client_close: true, ..r };
        assert_eq!(p.decide(&mut d, 0, &close), Decision::Body { bytes: 10, then: Then::Close });
        assert!(p.injected().is_empty());
    }

    #[test]
    fn over_capacity_is_503_and_draws_no_fault() {
        let f = Faults { error_rate: 1.0, retry_after_s: 2.5, ..Faults::default() };
        let mut p = ServerPolicy::new(1, f.clone(), limits(Some(2), 100));
        let mut c = ConnState::default();
        let r = get(4, 100, 200);
        assert_eq!(p.decide(&mut c, 2, &r), Decision::Status { code: 503, retry_after_s: Some(2.5), close: false });
        // Under the cap the fault is attempt 1 of the range: the 503 used none.
        let first = decide(&KeyedRng::new(1), &f, 4, 100, 1);
        assert_eq!(first, Fault::Http500);
        assert_eq!(p.decide(&mut c, 1, &r), Decision::Status { code: 500, retry_after_s: None, close: false });
        assert_eq!(c.served(), 2);
        assert_eq!(p.injected().get("over_capacity"), Some(&1));
        assert_eq!(p.injected().get("http_500"), Some(&1));
    }

    #[test]
    fn fault_kinds_map_to_statuses_cuts_and_stalls() {
        let mix = FaultMix { http_500: 1.0, http_429: 1.0, http_503: 1.0, reset: 1.0, stall: 1.0 };
        let f = Faults { error_rate: 0.6, mix, retry_after_s: 3.0, ..Faults::default() };
        let rng = KeyedRng::new(11);
        let mut p = ServerPolicy::new(11, f.clone(), limits(None, 1000));
        let mut c = ConnState::default();
        let mut seen = BTreeMap::new();
        for file in 0..400u32 {
            let (start, end) = (file as u64 * 7, file as u64 * 7 + 1000 + file as u64);
            let got = p.decide(&mut c, 0, &Request { client_close: file % 2 == 0, ..get(file, start, end) });
            let close = file % 2 == 0;
            let want = match decide(&rng, &f, file, start, 1) {
                Fault::None => Decision::Body {
                    bytes: end - start,
                    then: if close { Then::Close } else { Then::KeepAlive { left: 1000 - (file + 1) } },
                },
                Fault::Http500 => Decision::Status { code: 500, retry_after_s: None, close },
                Fault::Http429 { .. } => Decision::Status { code: 429, retry_after_s: Some(3.0), close },
                Fault::Http503 { .. } => Decision::Status { code: 503, retry_after_s: Some(3.0), close },
                Fault::Reset { fraction } => {
                    assert!((0.0..1.0).contains(&fraction));
                    let cut = ((end - start) as f64 * fraction).floor() as u64;
                    Decision::Body { bytes: cut, then: Then::Reset }
                }
                Fault::Stall => Decision::Stall,
            };
            assert_eq!(got, want, "file {file}");
            *seen.entry(decide(&rng, &f, file, start, 1).kind()).or_insert(0u64) += 1;
        }
        assert_eq!(seen.len(), 6, "every kind drawn: {seen:?}");
        let faulted: u64 = seen.iter().filter(|(k, _)| **k != "none").map(|(_, n)| n).sum();
        assert_eq!(p.injected().values().sum::<u64>(), faulted);
        for (k, n) in p.injected() {
            assert_eq!(seen.get(k), Some(n), "{k}");
        }
    }

    #[test]
    fn head_is_never_faulted_and_uses_no_attempt() {
        let f = Faults { error_rate: 1.0, ..Faults::default() };
        let mut p = ServerPolicy::new(5, f, limits(Some(1), 2));
        let mut c = ConnState::default();
        let head = Request { method: Method::Head, ..get(0, 0, 50) };
        assert_eq!(p.decide(&mut c, 9, &head), Decision::Body { bytes: 0, then: Then::KeepAlive { left: 1 } });
        assert_eq!(p.decide(&mut c, 9, &head), Decision::Body { bytes: 0, then: Then::Close });
        assert!(p.injected().is_empty());
    }

    /// A body left whole by the request fault is cut where [`byte_reset`]
    /// says, for the same attempt, and counted as `byte_reset`.
    #[test]
    fn per_byte_resets_cut_whole_bodies_at_the_drawn_offset() {
        use crate::server::fault::byte_reset;
        let f = Faults { resets_per_gib: 40_000.0, ..Faults::default() };
        let rng = KeyedRng::new(4);
        let mut p = ServerPolicy::new(4, f, limits(None, 1000));
        let mut c = ConnState::default();
        let mut cuts = 0;
        for file in 0..300u32 {
            let r = get(file, 1000, 1000 + 50_000);
            let want = match byte_reset(&rng, 40_000.0, file, 1000, 1, 50_000) {
                Some(bytes) => {
                    cuts += 1;
                    Decision::Body { bytes, then: Then::Reset }
                }
                None => Decision::Body { bytes: 50_000, then: Then::KeepAlive { left: 1000 - (file + 1) } },
            };
            assert_eq!(p.decide(&mut c, 0, &r), want, "file {file}");
        }
        // 1 − exp(−40000 · 50000 / 2^30) ≈ 0.84: most are cut, not all.
        assert!(cuts > 0 && cuts < 300, "{cuts}");
        assert_eq!(p.injected().get("byte_reset"), Some(&cuts));
        assert_eq!(p.injected().len(), 1);
    }
}
