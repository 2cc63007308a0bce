//! Retry policy: which failures are retried, and how long to wait.

use crate::scenario::{Backoff, Retry};

/// Why a request failed, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Failure {
    /// An HTTP error status; `retry_after_s` from the Retry-After header.
    Status { code: u16, retry_after_s: Option<f64> },
    /// The connection was reset mid-body.
    Reset,
    /// No byte arrived within the read timeout.
    Timeout,
    /// The connection could not be opened.
    Connect,
}

impl Failure {
    /// 5xx, 429 and 408, resets, timeouts and refused connects are transient.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Status { code, .. } => *code >= 500 || *code == 429 || *code == 408,
            Failure::Reset | Failure::Timeout | Failure::Connect => true,
        }
    }
    /// Whether the connection can carry another request afterwards.
    pub fn keeps_connection(&self) -> bool {
        matches!(self, Failure::Status { .. })
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Status { code: 500, .. } => "http_500",
            Failure::Status { code: 429, .. } => "http_429",
            Failure::Status { code: 503, .. } => "http_503",
            Failure::Status { .. } => "http_other",
            Failure::Reset => "reset",
            Failure::Timeout => "timeout",
            Failure::Connect => "connect",
        }
    }
}

/// Every failure kind ([`Failure::kind`]), for `client.retry.not_retried`.
pub const KINDS: [&str; 7] = ["http_500", "http_429", "http_503", "http_other", "reset", "timeout", "connect"];

/// Wait before retry number `retry` (1 = first retry), before jitter and
/// Retry-After, capped at `cap_s`.
pub fn base_delay_s(r: &Retry, retry: u32) -> f64 {
    let n = retry.max(1) as i32;
    let d = match r.backoff {
        Backoff::None => 0.0,
        Backoff::Fixed => r.base_s,
        Backoff::Linear => r.base_s * n as f64,
        Backoff::Exponential => grow(r.base_s, r.factor, n - 1),
        Backoff::Urllib3 => {
            if n == 1 {
                0.0
            } else {
                grow(r.base_s, 2.0, n - 1)
            }
        }
    };
    d.min(r.cap_s)
}

/// `base × factor^times` by repeated multiplication: plain IEEE steps give
/// the same bits on every platform, which `powi` does not promise. (At most
/// `max_attempts` steps; an overflow to infinity is capped by the caller.)
fn grow(base: f64, factor: f64, times: i32) -> f64 {
    (0..times).fold(base, |d, _| d * factor)
}

/// Full wait: base delay × (1 + jitter·(2u − 1)) for `u` in [0, 1), at least
/// the server's Retry-After when honoured.
pub fn delay_s(r: &Retry, retry: u32, u: f64, retry_after_s: Option<f64>) -> f64 {
    let jittered = base_delay_s(r, retry) * (1.0 + r.jitter * (2.0 * u - 1.0));
    match retry_after_s {
        Some(ra) if r.respect_retry_after => jittered.max(ra),
        _ => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_transient_policy_is_1_2_4_8_capped() {
        let r = Retry::default();
        let d: Vec<f64> = (1..=6).map(|n| base_delay_s(&r, n)).collect();
        assert_eq!(d, vec![1.0, 2.0, 4.0, 8.0, 16.0, 30.0]);
    }

    #[test]
    fn urllib3_linear_fixed_none() {
        let mut r = Retry { backoff: Backoff::Urllib3, base_s: 0.5, ..Retry::default() };
        let d: Vec<f64> = (1..=5).map(|n| base_delay_s(&r, n)).collect();
        assert_eq!(d, vec![0.0, 1.0, 2.0, 4.0, 8.0]);
        r.backoff = Backoff::Linear;
        assert_eq!(base_delay_s(&r, 3), 1.5);
        r.backoff = Backoff::Fixed;
        assert_eq!(base_delay_s(&r, 3), 0.5);
        r.backoff = Backoff::None;
        assert_eq!(base_delay_s(&r, 3), 0.0);
    }

    #[test]
    fn jitter_band_and_retry_after() {
        let r = Retry::default();
        assert!((delay_s(&r, 2, 0.0, None) - 1.8).abs() < 1e-12);
        assert!((delay_s(&r, 2, 0.5, None) - 2.0).abs() < 1e-12);
        assert!(delay_s(&r, 2, 0.999_999, None) < 2.2);
        assert_eq!(delay_s(&r, 1, 0.5, Some(7.0)), 7.0);
        let ignore = Retry { respect_retry_after: false, ..Retry::default() };
        assert_eq!(delay_s(&ignore, 1, 0.5, Some(7.0)), 1.0);
    }

    #[test]
    fn classification() {
        assert!(Failure::Status { code: 503, retry_after_s: None }.retryable());
        assert!(Failure::Status { code: 429, retry_after_s: None }.retryable());
        assert!(!Failure::Status { code: 404, retry_after_s: None }.retryable());
        assert!(!Failure::Status { code: 416, retry_after_s: None }.retryable());
        assert!(Failure::Reset.retryable() && !Failure::Reset.keeps_connection());
    }

    use proptest::prelude::*;

    fn policy() -> impl Strategy<Value = Retry> {
        let backoff = prop_oneof![
            Just(Backoff::None),
            Just(Backoff::Fixed),
            Just(Backoff::Linear),
            Just(Backoff::Exponential),
            Just(Backoff::Urllib3)
        ];
        (backoff, 0.0f64..5.0, 1.0f64..4.0, prop_oneof![Just(0.0), 0.0f64..60.0], 0.0f64..0.9, any::<bool>()).prop_map(
            |(backoff, base_s, factor, cap_s, jitter, respect_retry_after)| Retry {
                backoff,
                base_s,
                factor,
                cap_s,
                jitter,
                respect_retry_after,
                ..Retry::default()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Each strategy's closed form (`powi`, not the core's repeated
        /// multiplication), capped; never negative.
        #[test]
        fn base_delay_follows_the_strategy_formula(r in policy(), retry in 0u32..12) {
            let d = base_delay_s(&r, retry);
            let n = retry.max(1) as i32;
            let uncapped = match r.backoff {
                Backoff::None => 0.0,
                Backoff::Fixed => r.base_s,
                Backoff::Linear => r.base_s * f64::from(n),
                Backoff::Exponential => r.base_s * r.factor.powi(n - 1),
                Backoff::Urllib3 if n == 1 => 0.0,
                Backoff::Urllib3 => r.base_s * 2f64.powi(n - 1),
            };
            let want = uncapped.min(r.cap_s);
            prop_assert!((d - want).abs() <= 1e-9 * (1.0 + want), "{} vs {}", d, want);
            prop_assert!(d >= 0.0 && d <= r.cap_s);
        }

        /// Jitter: within base × (1 ± jitter), increasing in u, exact at u = ½;
        /// Retry-After is a floor when honoured and ignored otherwise.
        #[test]
        fn delay_lies_in_the_jitter_band_and_honours_retry_after(
            r in policy(), retry in 1u32..8, u in 0.0f64..1.0, v in 0.0f64..1.0, ra in prop::option::of(0.0f64..40.0),
        ) {
            let base = base_delay_s(&r, retry);
            let eps = 1e-9 * (1.0 + base);
            let d = delay_s(&r, retry, u, None);
            prop_assert!(d >= base * (1.0 - r.jitter) - eps && d <= base * (1.0 + r.jitter) + eps);
            prop_assert!((delay_s(&r, retry, 0.5, None) - base).abs() <= eps);
            let (lo, hi) = if u <= v { (u, v) } else { (v, u) };
            prop_assert!(delay_s(&r, retry, lo, None) <= delay_s(&r, retry, hi, None) + eps);
            if r.jitter > 0.0 && base > 0.0 && hi - lo > 1e-6 {
                prop_assert!(delay_s(&r, retry, lo, None) < delay_s(&r, retry, hi, None));
            }
            let with_ra = delay_s(&r, retry, u, ra);
            match ra {
                Some(ra) if r.respect_retry_after => prop_assert_eq!(with_ra, d.max(ra)),
                _ => prop_assert_eq!(with_ra, d),
            }
        }

        /// 5xx, 429, 408, resets, timeouts and refused connects are retryable;
        /// only status failures keep the connection.
        #[test]
        fn classification_by_status_code(code in 100u16..600, ra in prop::option::of(0.0f64..5.0)) {
            let f = Failure::Status { code, retry_after_s: ra };
            prop_assert_eq!(f.retryable(), code >= 500 || code == 429 || code == 408);
            prop_assert!(f.keeps_connection());
            let kind = match code { 500 => "http_500", 429 => "http_429", 503 => "http_503", _ => "http_other" };
            prop_assert_eq!(f.kind(), kind);
            for f in [Failure::Reset, Failure::Timeout, Failure::Connect] {
                prop_assert!(f.retryable() && !f.keeps_connection());
            }
            prop_assert_eq!([Failure::Reset.kind(), Failure::Timeout.kind(), Failure::Connect.kind()], ["reset", "timeout", "connect"]);
        }
    }
}
