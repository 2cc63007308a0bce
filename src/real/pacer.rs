//! A wall-clock token bucket shared by threads: the server's egress limit
//! (burst 0: strictly paced) and the client's bandwidth limiter (burst =
//! the scenario's, the bucket starts empty as the original's or full with
//! `start_full`).
//!
//! Debt model: taking `n` bytes always succeeds and returns the instant the
//! bytes are covered by tokens; the caller sleeps until then. Concurrent
//! takers queue behind each other's debt, so small takes share the rate
//! about evenly.
//!
//! Any rate is safe, however small: a cost too large for a `Duration` or an
//! `Instant` saturates to "practically never" instead of panicking (a
//! panicking pacer used to poison its lock and every writer behind it).

use super::lock::lock;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State {
    tokens: f64,
    at: Instant,
    /// Link mode: when the bytes taken so far are covered.
    next_free: Instant,
}

#[derive(Debug)]
pub struct Pacer {
    rate_bps: f64,
    burst: f64,
    /// Link mode (`Some(slack)`): no credit after an idle link, but a
    /// sleep that overshoots by less than `slack` loses no capacity.
    slack: Option<Duration>,
    state: Mutex<State>,
}

impl Pacer {
    /// A token bucket that starts full.
    pub fn new(rate_bps: f64, burst_bytes: f64) -> Self {
        Pacer::with_start(rate_bps, burst_bytes, true)
    }

    /// A token bucket that starts full or empty (`tokens = 0`, as the
    /// original `BandwidthLimiter`).
    pub fn with_start(rate_bps: f64, burst_bytes: f64, start_full: bool) -> Self {
        let now = Instant::now();
        let tokens = if start_full { burst_bytes } else { 0.0 };
        Pacer {
            rate_bps,
            burst: burst_bytes,
            slack: None,
            state: Mutex::new(State { tokens, at: now, next_free: now }),
        }
    }

    /// A server egress link: strictly `rate_bps` while busy (a fluid link
    /// has no burst), tolerant of oversleeping by up to 1 ms.
    pub fn link(rate_bps: f64) -> Self {
        Pacer { slack: Some(Duration::from_millis(1)), ..Pacer::new(rate_bps, 0.0) }
    }

    pub fn rate_bps(&self) -> f64 {
        self.rate_bps
    }

    /// Spend `n` bytes; returns when they are covered.
    pub fn take(&self, n: u64) -> Instant {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let cost = duration_of_secs(n as f64 / self.rate_bps);
        if let Some(slack) = self.slack {
            let idle = s.next_free.checked_add(slack).is_some_and(|t| now > t);
            let start = if idle { now } else { s.next_free };
            s.next_free = instant_after(start, cost);
            return s.next_free;
        }
        let dt = now.saturating_duration_since(s.at).as_secs_f64();
        s.tokens = (s.tokens + dt * self.rate_bps).min(self.burst);
        s.at = now;
        s.tokens -= n as f64;
        if s.tokens >= 0.0 { now } else { instant_after(now, duration_of_secs(-s.tokens / self.rate_bps)) }
    }

    /// Spend `n` bytes and sleep until they are covered.
    pub fn wait(&self, n: u64) {
        sleep_until(self.take(n));
    }
}

/// `secs` seconds as a `Duration`: saturating at `Duration::MAX`, and 0 for
/// negative or NaN values.
pub fn duration_of_secs(secs: f64) -> Duration {
    match Duration::try_from_secs_f64(secs) {
        Ok(d) => d,
        Err(_) if secs > 0.0 => Duration::MAX,
        Err(_) => Duration::ZERO,
    }
}

/// `t + d`, or the latest instant this platform can represent on the way.
pub fn instant_after(t: Instant, mut d: Duration) -> Instant {
    loop {
        if let Some(x) = t.checked_add(d) {
            return x;
        }
        d /= 2;
    }
}

pub fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debt_accumulates_at_the_rate() {
        let p = Pacer::new(1000.0, 0.0);
        let t0 = Instant::now();
        let a = p.take(100);
        let b = p.take(100);
        // 100 bytes at 1000 B/s = 0.1 s of debt each, queued.
        assert!(a >= t0 + Duration::from_millis(99));
        assert!(b >= a + Duration::from_millis(99));
    }

    #[test]
    fn a_link_gives_no_credit_after_idling() {
        let p = Pacer::link(1000.0);
        std::thread::sleep(Duration::from_millis(5));
        let t0 = Instant::now();
        assert!(p.take(100) >= t0 + Duration::from_millis(99));
    }

    /// Issue 12: a rate of 1e-15 or 1e-300 B/s panicked (`Duration` and
    /// `Instant` overflow) and poisoned the lock for every later writer.
    #[test]
    fn tiny_and_degenerate_rates_do_not_panic() {
        for rate in [1e-15, 1e-300, 0.0, f64::MIN_POSITIVE] {
            let t0 = Instant::now();
            let link = Pacer::link(rate);
            let a = link.take(8192);
            let b = link.take(8192);
            assert!(a >= t0 + Duration::from_secs(3600) && b >= a, "rate {rate}");
            let bucket = Pacer::new(rate, 0.0);
            assert!(bucket.take(1) >= t0 + Duration::from_secs(3600), "rate {rate}");
            assert!(bucket.take(1) >= t0, "rate {rate}");
            assert!(!bucket.state.is_poisoned() && !link.state.is_poisoned());
        }
        assert_eq!(duration_of_secs(f64::NAN), Duration::ZERO);
        assert_eq!(duration_of_secs(-1.0), Duration::ZERO);
        assert_eq!(duration_of_secs(f64::INFINITY), Duration::MAX);
        assert_eq!(duration_of_secs(1.5), Duration::from_millis(1500));
        let now = Instant::now();
        assert!(instant_after(now, Duration::MAX) > now + Duration::from_secs(1 << 40));
        assert_eq!(instant_after(now, Duration::from_secs(2)), now + Duration::from_secs(2));
    }

    #[test]
    fn a_full_bucket_lets_its_burst_through() {
        let p = Pacer::new(1000.0, 500.0);
        let t0 = Instant::now();
        assert!(p.take(500) <= Instant::now());
        assert!(p.take(100) >= t0 + Duration::from_millis(99));
    }
}
