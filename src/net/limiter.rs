//! The client's token-bucket bandwidth limiter, as a fluid.
//!
//! Tokens accrue at `rate_bps` up to `burst_bytes` and are spent by every
//! body byte received. While tokens remain the aggregate may exceed the
//! rate; once the bucket is empty the aggregate is held at exactly
//! `rate_bps` until demand falls below it. The bucket starts empty, as the
//! original `BandwidthLimiter` (`tokens = 0`), or full (`start_full`).
//! Invariant: over any window of length w, admitted bytes ≤ burst + rate·w.

/// Token bucket state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenBucket {
    pub rate_bps: f64,
    pub burst_bytes: f64,
    pub tokens: f64,
    /// Empty and holding the aggregate at `rate_bps`.
    pub empty: bool,
}

impl TokenBucket {
    /// A bucket of `burst_bytes` filling at `rate_bps`, full or empty at the start.
    pub fn new(rate_bps: f64, burst_bytes: f64, start_full: bool) -> Self {
        let tokens = if start_full { burst_bytes } else { 0.0 };
        TokenBucket { rate_bps, burst_bytes, tokens, empty: burst_bytes <= 0.0 }
    }

    /// Largest aggregate rate allowed for a demand of `demand_bps`; updates
    /// `empty` when demand falls below the rate (the bucket refills).
    pub fn allowed(&mut self, demand_bps: f64) -> f64 {
        if self.tokens <= 0.0 && demand_bps > self.rate_bps {
            // Nothing to spend: hold the rate now (a zero drain time would never pass).
            self.empty = true;
        }
        if !self.empty {
            return demand_bps;
        }
        if demand_bps > self.rate_bps {
            self.rate_bps
        } else {
            self.empty = self.burst_bytes <= 0.0;
            demand_bps
        }
    }

    /// Seconds until the bucket empties at aggregate `aggregate_bps`, if it drains.
    pub fn secs_to_empty(&self, aggregate_bps: f64) -> Option<f64> {
        let drain = aggregate_bps - self.rate_bps;
        (!self.empty && drain > 0.0).then(|| self.tokens / drain)
    }

    /// Account `dt` seconds at aggregate `aggregate_bps`.
    pub fn step(&mut self, dt: f64, aggregate_bps: f64) {
        if !self.empty {
            self.tokens = (self.tokens + (self.rate_bps - aggregate_bps) * dt).clamp(0.0, self.burst_bytes);
        }
    }

    /// Mark the bucket empty (its drain time was reached).
    pub fn set_empty(&mut self) {
        self.tokens = 0.0;
        self.empty = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_bucket_lets_demand_through_then_holds_the_rate() {
        let mut b = TokenBucket::new(10.0, 20.0, true);
        assert_eq!(b.allowed(30.0), 30.0);
        assert_eq!(b.secs_to_empty(30.0), Some(1.0));
        b.step(1.0, 30.0);
        assert_eq!(b.tokens, 0.0);
        b.set_empty();
        assert_eq!(b.allowed(30.0), 10.0);
        assert!(b.empty);
    }

    #[test]
    fn low_demand_refills_up_to_burst() {
        let mut b = TokenBucket::new(10.0, 20.0, true);
        b.set_empty();
        assert_eq!(b.allowed(4.0), 4.0);
        assert!(!b.empty);
        b.step(1.0, 4.0);
        assert_eq!(b.tokens, 6.0);
        b.step(100.0, 4.0);
        assert_eq!(b.tokens, 20.0);
        assert_eq!(b.secs_to_empty(4.0), None);
    }

    #[test]
    fn a_bucket_drained_exactly_at_its_rate_never_empties() {
        let mut b = TokenBucket::new(10.0, 20.0, true);
        assert_eq!(b.secs_to_empty(10.0), None);
        b.step(5.0, 10.0);
        assert_eq!(b.tokens, 20.0);
        assert_eq!(b.secs_to_empty(10.0), None);
    }

    #[test]
    fn a_refilling_bucket_without_tokens_holds_the_rate_at_once() {
        let mut b = TokenBucket::new(10.0, 20.0, true);
        b.set_empty();
        assert_eq!(b.allowed(0.0), 0.0);
        assert!(!b.empty);
        assert_eq!(b.allowed(30.0), 10.0);
        assert!(b.empty);
        assert_eq!(b.secs_to_empty(30.0), None);
    }

    #[test]
    fn an_empty_start_holds_the_rate_until_demand_falls_below_it() {
        let mut b = TokenBucket::new(10.0, 20.0, false);
        assert_eq!(b.tokens, 0.0);
        assert_eq!(b.allowed(30.0), 10.0);
        assert!(b.empty);
        assert_eq!(b.secs_to_empty(30.0), None);
        assert_eq!(b.allowed(4.0), 4.0);
        b.step(2.0, 4.0);
        assert_eq!(b.tokens, 12.0);
    }

    #[test]
    fn zero_burst_is_a_strict_limiter() {
        let mut b = TokenBucket::new(10.0, 0.0, true);
        assert!(b.empty);
        assert_eq!(b.allowed(50.0), 10.0);
        assert_eq!(b.allowed(5.0), 5.0);
        assert!(b.empty);
    }
}
