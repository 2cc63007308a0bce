//! Simulated time: integer nanoseconds since the start of a run.
//!
//! All model arithmetic that produces a time rounds *up* to the next
//! nanosecond (`SimTime::from_secs_f64_ceil`), so an event is never scheduled
//! before the moment the fluid model says it happens.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in (or span of) simulated time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimTime(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimTime(s * Self::NANOS_PER_SEC)
    }
    /// Seconds to time, rounding up to the next nanosecond; saturates at
    /// `SimTime::MAX` for infinite or huge spans. Negative or NaN → zero.
    pub fn from_secs_f64_ceil(s: f64) -> Self {
        // `(s * 1e9).ceil()` without the libm call (x86-64's baseline has
        // no rounding instruction): truncate, then add one if below. Exact
        // for 0 < x < 2^64, where truncation to u64 is exact.
        let x = s * 1e9;
        if x > 0.0 && x < TWO_POW_52 {
            // The usual span (NaN fails the test).
            let (n, r) = nearest_below_2_52(x);
            return SimTime(if r < x { n + 1 } else { n });
        }
        if x > 0.0 && x < I64_LIMIT {
            // The usual span (NaN fails the test): the same truncation
            // through i64, one instruction each way.
            let t = x as i64;
            return SimTime(if (t as f64) < x { t as u64 + 1 } else { t as u64 });
        }
        if x.is_nan() || x <= 0.0 {
            SimTime::ZERO
        } else if x >= u64::MAX as f64 {
            SimTime::MAX
        } else {
            let t = x as u64;
            SimTime(if (t as f64) < x { t + 1 } else { t })
        }
    }
    /// Milliseconds (possibly fractional) to time, rounded to the nearest ns.
    pub fn from_millis_f64(ms: f64) -> Self {
        SimTime((ms * 1e6).round().max(0.0) as u64)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        // Below 2^63 the i64 conversion (one instruction) rounds the same.
        // Above, half the value with its lowest bit kept as a sticky bit
        // rounds as the value does (63 bits, rounded to 53), and doubling is
        // exact; written so, the compiler keeps the one-instruction path
        // instead of merging both into the longer u64 conversion.
        let ns = match i64::try_from(self.0) {
            Ok(n) => n as f64,
            Err(_) => ((self.0 >> 1 | self.0 & 1) as i64 as f64) * 2.0,
        };
        ns / 1e9
    }
    pub fn saturating_add(self, d: SimTime) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    pub fn saturating_sub(self, d: SimTime) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
    /// `self × k`, saturating.
    pub fn times(self, k: u64) -> SimTime {
        SimTime(self.0.saturating_mul(k))
    }
}

/// 2^52 as a float: from it on, floats are whole numbers 1 apart (up to 2^53).
pub(crate) const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// The whole number `r` nearest to `x` in `[0, 2^52)`, ties to even, as an
/// integer and as a float: adding 2^52 rounds `x` so (the floats from 2^52
/// on are 1 apart), and `r` is then the low bits of the sum's
/// representation (a sum that rounds up to 2^53 gives 2^52 too: the
/// exponent's step is bit 52); `x − r` is exact. No float-to-integer
/// conversion, so none of its saturation checks.
#[inline(always)]
pub(crate) fn nearest_below_2_52(x: f64) -> (u64, f64) {
    debug_assert!((0.0..TWO_POW_52).contains(&x));
    let sum = x + TWO_POW_52;
    (sum.to_bits() - TWO_POW_52.to_bits(), sum - TWO_POW_52)
}

/// 2^63 as a float: below it a float truncates to i64 as it does to u64.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

impl Add for SimTime {
    type Output = SimTime;
    fn add(self, rhs: SimTime) -> SimTime {
        self.saturating_add(rhs)
    }
}
impl AddAssign for SimTime {
    fn add_assign(&mut self, rhs: SimTime) {
        *self = *self + rhs;
    }
}
impl Sub for SimTime {
    type Output = SimTime;
    fn sub(self, rhs: SimTime) -> SimTime {
        self.saturating_sub(rhs)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision, e.g. `10.090000000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / Self::NANOS_PER_SEC, self.0 % Self::NANOS_PER_SEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The i64 shortcuts give the u64 conversions' results.
        #[test]
        fn conversions_match_the_u64_ones(ns in proptest::num::u64::ANY, s in proptest::num::f64::ANY, k in 0u64..(1 << 20)) {
            proptest::prop_assert_eq!(SimTime(ns).as_secs_f64().to_bits(), (ns as f64 / 1e9).to_bits());
            for x in [s, s.abs() * 1e-9, k as f64 * 1e-9, k as f64 * 1e-9 + 5e-10, (k as f64) * 1e3, 9.3e9, 9.223372036854775e9, 1.8e10] {
                let y = x * 1e9;
                let want = if y.is_nan() || y <= 0.0 {
                    0
                } else if y >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    let t = y as u64;
                    if (t as f64) < y { t + 1 } else { t }
                };
                proptest::prop_assert_eq!(SimTime::from_secs_f64_ceil(x).as_nanos(), want, "{}", x);
            }
        }
    }

    /// `as_secs_f64` on both sides of 2^63 ns, where it changes path.
    #[test]
    fn as_secs_f64_matches_the_u64_conversion_at_its_edges() {
        for ns in
            [0, 1, (1 << 53) + 1, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, (1 << 63) + 1025, u64::MAX - 1024, u64::MAX]
        {
            assert_eq!(SimTime(ns).as_secs_f64().to_bits(), (ns as f64 / 1e9).to_bits(), "{ns}");
        }
    }

    #[test]
    fn ceil_rounding_never_early() {
        assert_eq!(SimTime::from_secs_f64_ceil(10.0), SimTime::from_secs(10));
        assert_eq!(SimTime::from_secs_f64_ceil(1e-10), SimTime(1));
        assert_eq!(SimTime::from_secs_f64_ceil(f64::INFINITY), SimTime::MAX);
        assert_eq!(SimTime::from_secs_f64_ceil(-1.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64_ceil(f64::NAN), SimTime::ZERO);
    }

    /// The libm-free rounding equals `ceil` on every kind of input.
    #[test]
    fn ceil_rounding_matches_libm_ceil() {
        let reference = |s: f64| {
            let ns = (s * 1e9).ceil();
            if ns.is_nan() || ns <= 0.0 {
                SimTime::ZERO
            } else if ns >= u64::MAX as f64 {
                SimTime::MAX
            } else {
                SimTime(ns as u64)
            }
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut inputs =
            vec![0.0, -0.0, 1e-9, 0.999_999_999e-9, 4.5e-10, 1.5, 2f64.powi(53) / 1e9, 1.8446744073709552e10];
        // Around 2^52 ns, where the rounding by adding 2^52 stops.
        for k in [-3.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0] {
            inputs.push((2f64.powi(52) + k) / 1e9);
            inputs.push((2f64.powi(52) - 0.5 * k.abs()) * 1e-9);
        }
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            inputs.push(f64::from_bits(x)); // any bit pattern: NaNs, negatives, huge, tiny
            inputs.push((x >> 11) as f64 / (1u64 << 40) as f64); // seconds in [0, 8M)
        }
        for s in inputs {
            assert_eq!(SimTime::from_secs_f64_ceil(s), reference(s), "{s:e}");
        }
    }

    #[test]
    fn display_and_arithmetic() {
        let t = SimTime::from_secs(10) + SimTime::from_millis(90);
        assert_eq!(t.to_string(), "10.090000000s");
        assert_eq!(t - SimTime::from_secs(11), SimTime::ZERO);
        assert_eq!(SimTime::MAX + SimTime(1), SimTime::MAX);
        assert_eq!(SimTime::from_millis(20).times(2), SimTime::from_millis(40));
    }
}
