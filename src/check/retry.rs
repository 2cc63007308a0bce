//! The checker's model of the retry policy: attempts, backoff, Retry-After.

use super::{Check, fail};
use crate::scenario::{Backoff, Retry, Scenario};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The wait before retry `retry` (1 = first) of each strategy, before
/// jitter, capped — written from the schema docs, independently of the core.
pub fn expected_base_delay_s(r: &Retry, retry: u32) -> f64 {
    let n = retry.max(1);
    let uncapped = match r.backoff {
        Backoff::None => 0.0,
        Backoff::Fixed => r.base_s,
        Backoff::Linear => r.base_s * f64::from(n),
        Backoff::Exponential => (1..n).fold(r.base_s, |d, _| d * r.factor),
        Backoff::Urllib3 if n == 1 => 0.0,
        Backoff::Urllib3 => (1..n).fold(r.base_s, |d, _| d * 2.0),
    };
    if uncapped > r.cap_s { r.cap_s } else { uncapped }
}

/// Whether a failure kind must be retried (`None`: the kind does not tell).
fn kind_retryable(kind: &str) -> Option<bool> {
    match kind {
        "http_500" | "http_429" | "http_503" | "reset" | "timeout" | "connect" => Some(true),
        _ => None,
    }
}

/// A failure whose outcome (retry or file failure) is due in the same instant.
#[derive(Clone, Debug)]
struct Awaiting {
    end: Option<u64>,
    attempt: u32,
    kind: String,
    retryable: bool,
}

/// A scheduled retry not yet sent.
#[derive(Clone, Copy, Debug)]
struct Pending {
    retry: u32,
    at: SimTime,
    not_before: SimTime,
    end: Option<u64>,
}

#[derive(Default)]
pub(super) struct RetryModel {
    awaiting: BTreeMap<(u32, u64), Awaiting>,
    pending: BTreeMap<(u32, u64), Pending>,
    connect_failed_at: Option<SimTime>,
}

impl RetryModel {
    pub(super) fn connect_failed(&mut self, now: SimTime) {
        self.connect_failed_at = Some(now);
    }

    pub(super) fn sent(&mut self, s: &Scenario, now: SimTime, file: u32, start: u64, end: u64, attempt: u32) -> Check {
        let max = s.client.retry.max_attempts;
        if attempt == 0 || attempt > max {
            return fail("attempts never exceed max_attempts", format!("attempt {attempt} of {max}"));
        }
        if self.awaiting.contains_key(&(file, start)) {
            return fail("a failed range is resent only after its retry is scheduled", format!("file {file} @{start}"));
        }
        // A body-less request before a retried range is part of that try:
        // the range, sent next with the same attempt, takes the retry.
        let body_less = start == end;
        let pending =
            if body_less { self.pending.get(&(file, start)).copied() } else { self.pending.remove(&(file, start)) };
        match pending {
            Some(p) => {
                if attempt != p.retry + 1 {
                    return fail("attempts counted per range", format!("attempt {attempt} after retry {}", p.retry));
                }
                if now < p.not_before {
                    return fail(
                        "no retry starts before a Retry-After expires",
                        format!("sent at {now}, Retry-After until {}", p.not_before),
                    );
                }
                if now < p.at {
                    return fail("no retry starts before its backoff ends", format!("sent at {now}, due at {}", p.at));
                }
                if !body_less && p.end.is_some_and(|e| e != end) {
                    return fail(
                        "a retry asks for the rest of the failed range",
                        format!("end {end}, failed range ended at {:?}", p.end),
                    );
                }
            }
            None if attempt != 1 => {
                return fail(
                    "attempts counted per range",
                    format!("attempt {attempt} of file {file} @{start} without a retry"),
                );
            }
            None => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn failed(
        &mut self,
        s: &Scenario,
        file: u32,
        next: u64,
        end: u64,
        attempt: u32,
        kind: &str,
        retryable: bool,
        body_less: bool,
    ) -> Check {
        if kind_retryable(kind).is_some_and(|r| r != retryable) {
            return fail(
                "failure classification: 5xx, 429, 408, resets and timeouts are retryable",
                format!("{kind} marked retryable = {retryable}"),
            );
        }
        // The client retries a retryable kind unless it is one of its
        // `retry.not_retried` (a preset's: aria2 never retries a 500).
        let retryable = retryable && !s.client.retry.not_retried.iter().any(|k| k == kind);
        // A failed body-less request is sent again, before the range it
        // precedes (whose end it does not know).
        if next < end || body_less {
            let end = (!body_less).then_some(end);
            self.awaiting.insert((file, next), Awaiting { end, attempt, kind: kind.to_string(), retryable });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn scheduled(
        &mut self,
        s: &Scenario,
        now: SimTime,
        file: u32,
        start: u64,
        retry: u32,
        delay_s: f64,
        retry_after_s: Option<f64>,
        at: SimTime,
    ) -> Check {
        let r = &s.client.retry;
        let a = match self.awaiting.remove(&(file, start)) {
            Some(a) => a,
            None if self.connect_failed_at == Some(now) => {
                Awaiting { end: None, attempt: retry, kind: "connect".into(), retryable: true }
            }
            None => return fail("a retry follows a failure of its range", format!("file {file} @{start}")),
        };
        if !a.retryable {
            return fail("a non-retryable failure is never retried", format!("{} of file {file}", a.kind));
        }
        if retry != a.attempt {
            return fail("retry n follows attempt n", format!("retry {retry} after attempt {}", a.attempt));
        }
        if retry >= r.max_attempts {
            return fail(
                "attempts never exceed max_attempts",
                format!("retry {retry} with max_attempts {}", r.max_attempts),
            );
        }
        let want_ra = matches!(a.kind.as_str(), "http_429" | "http_503").then_some(s.server.faults.retry_after_s);
        if a.kind != "connect" && retry_after_s != want_ra {
            return fail(
                "Retry-After reaches the backoff",
                format!("{retry_after_s:?} for {}, sent {want_ra:?}", a.kind),
            );
        }
        if let Some(g) = r.parallel_failures {
            let surely = self.pending.values().filter(|p| p.at > now).count() as u32;
            if surely >= g {
                return fail("parallel_failures guard", format!("retry scheduled with {surely} ≥ {g} in backoff"));
            }
        }
        let base = expected_base_delay_s(r, retry);
        let (lo, hi) = (base * (1.0 - r.jitter), base * (1.0 + r.jitter));
        let eps = 1e-9 * (1.0 + hi);
        let in_band = delay_s >= lo - eps && delay_s <= hi + eps;
        let honoured = retry_after_s.filter(|_| r.respect_retry_after);
        let ok = match honoured {
            Some(ra) => delay_s >= ra - eps && (in_band || ((delay_s - ra).abs() <= eps && lo <= ra + eps)),
            None => in_band,
        };
        if !ok {
            return fail(
                "backoff within its strategy's formula, cap and jitter band",
                format!("retry {retry}: {delay_s} s, band [{lo}, {hi}], Retry-After {honoured:?}"),
            );
        }
        if at != now + SimTime::from_secs_f64_ceil(delay_s) {
            return fail("a retry is due when its backoff ends", format!("at {at}, now {now} + {delay_s} s"));
        }
        let not_before = now + honoured.map_or(SimTime::ZERO, SimTime::from_secs_f64_ceil);
        self.pending.insert((file, start), Pending { retry, at, not_before, end: a.end });
        Ok(())
    }

    pub(super) fn file_completed(&mut self, file: u32) -> Check {
        if self.awaiting.keys().chain(self.pending.keys()).any(|(f, _)| *f == file) {
            return fail("a completed file has no retry pending", format!("file {file}"));
        }
        Ok(())
    }

    pub(super) fn file_failed(&mut self, s: &Scenario, now: SimTime, file: u32, reason: &str) -> Check {
        let r = &s.client.retry;
        let maybe_in_backoff = self.pending.values().filter(|p| p.at >= now).count() as u32;
        let mine: Vec<Awaiting> = self.awaiting.extract_if(.., |(f, _), _| *f == file).map(|(_, a)| a).collect();
        self.pending.retain(|(f, _), _| *f != file);
        if mine.is_empty() && self.connect_failed_at != Some(now) {
            return fail("a file fails only after a failed request", format!("file {file}: {reason}"));
        }
        for a in mine {
            if a.retryable && a.attempt < r.max_attempts {
                let guard = r.parallel_failures.is_some_and(|g| maybe_in_backoff >= g);
                if !guard {
                    return fail(
                        "a retryable failure with attempts left is retried",
                        format!(
                            "file {file} failed after attempt {} of {} ({}): {reason}",
                            a.attempt, r.max_attempts, a.kind
                        ),
                    );
                }
            }
        }
        Ok(())
    }

    pub(super) fn end_instant(&mut self, now: SimTime) -> Check {
        if let Some(((file, start), a)) = self.awaiting.iter().next() {
            return fail(
                "every failure is retried or fails its file",
                format!("file {file} @{start} ({}) at {now} has no outcome", a.kind),
            );
        }
        Ok(())
    }
}
