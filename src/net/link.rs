//! The server link: a fluid, processor-sharing model of every response body
//! in flight, with the client's token bucket as a shared constraint.
//!
//! All flows share one RTT and one per-connection cap, so at any instant all
//! active flows move at the same rate
//!
//! ```text
//! r = min(cap, server_bps / n)            while the bucket has tokens
//! r = min(cap, server_bps / n, limit / n) while it is empty
//! ```
//!
//! Instead of updating every flow at every event, the link keeps a global
//! counter `v` — bytes served to *each* flow since the start — and gives each
//! flow a finish mark `v_start + bytes`. A heap of marks yields the next
//! finisher, so each event costs O(log n) (the processor-sharing
//! virtual-time method). The bucket drains at `n·r − limit` while it has
//! tokens; the moment it empties is a transition.

use super::limiter::TokenBucket;
use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Stand-in for "unlimited": 1 PB/s (a 100 MiB body takes 0.1 µs).
pub const UNLIMITED_BPS: f64 = 1e15;

/// Caller-chosen flow id (the sim runtime uses its connection index).
pub type FlowId = u32;

#[derive(Clone, Copy, PartialEq)]
struct Mark {
    at_v: f64,
    seq: u64,
    flow: FlowId,
}
impl Eq for Mark {}
impl PartialOrd for Mark {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Mark {
    fn cmp(&self, o: &Self) -> Ordering {
        self.at_v.total_cmp(&o.at_v).then(self.seq.cmp(&o.seq))
    }
}

#[derive(Clone, Copy)]
struct Flow {
    seq: u64,
    start_v: f64,
    bytes: f64,
}

pub struct Link {
    server_bps: f64,
    cap_bps: f64,
    bucket: Option<TokenBucket>,
    /// Bytes served per active flow since the start of the run.
    v: f64,
    /// Time `v` and the bucket refer to.
    last: SimTime,
    /// Current per-flow rate, bytes/s.
    rate: f64,
    flows: Vec<Option<Flow>>,
    heap: BinaryHeap<Reverse<Mark>>,
    active: u32,
    sum_start_v: f64,
    next_seq: u64,
    /// Bytes delivered by flows that have ended.
    ended_bytes: f64,
    /// Time spent with the bucket empty and flows active (limiter wait).
    limited_ns: u64,
}

impl Link {
    /// `server_bps`/`cap_bps` `None` = unlimited; `bucket` = (rate, burst).
    pub fn new(server_bps: Option<f64>, cap_bps: Option<f64>, bucket: Option<(f64, f64)>) -> Self {
        Link {
            server_bps: server_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            cap_bps: cap_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            bucket: bucket.map(|(rate, burst)| TokenBucket::new(rate, burst)),
            v: 0.0,
            last: SimTime::ZERO,
            rate: 0.0,
            flows: Vec::new(),
            heap: BinaryHeap::new(),
            active: 0,
            sum_start_v: 0.0,
            next_seq: 0,
            ended_bytes: 0.0,
            limited_ns: 0,
        }
    }

    /// Current per-flow rate, bytes/s.
    pub fn rate_per_flow(&self) -> f64 {
        self.rate
    }
    pub fn bucket(&self) -> Option<TokenBucket> {
        self.bucket
    }
    /// Time the bucket has been empty while flows were active.
    pub fn limited_time(&self) -> SimTime {
        SimTime(self.limited_ns)
    }
    /// Bytes served per flow since the start (valid after `advance`).
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Rate each flow would get with tokens in the bucket.
    fn unconstrained_rate(&self) -> f64 {
        if self.active == 0 { 0.0 } else { self.cap_bps.min(self.server_bps / self.active as f64) }
    }

    fn recompute_rate(&mut self) {
        let n = self.active as f64;
        let r = self.unconstrained_rate();
        self.rate = match &mut self.bucket {
            // With no flow the demand is 0: an empty bucket refills.
            Some(b) => b.allowed(n * r) / n.max(1.0),
            None => r,
        };
    }

    /// Seconds until the bucket empties at the current rate, if it drains.
    fn secs_to_empty(&self) -> Option<f64> {
        self.bucket.as_ref()?.secs_to_empty(self.active as f64 * self.rate)
    }

    /// Move `v` and the bucket from `last` to `now`, splitting the span at
    /// the moment the bucket empties so no token is overspent.
    pub fn advance(&mut self, now: SimTime) {
        if now <= self.last {
            return;
        }
        let mut dt = (now - self.last).as_secs_f64();
        if let Some(te) = self.secs_to_empty().filter(|te| *te <= dt) {
            self.step(te);
            dt -= te;
            self.bucket.as_mut().expect("secs_to_empty implies a bucket").set_empty();
            self.recompute_rate();
        }
        self.step(dt);
        if self.active > 0 && self.bucket.is_some_and(|b| b.empty) {
            self.limited_ns += SimTime::from_secs_f64_ceil(dt).as_nanos().min((now - self.last).as_nanos());
        }
        self.last = now;
    }

    fn step(&mut self, dt: f64) {
        self.v += self.rate * dt;
        if let Some(b) = &mut self.bucket {
            b.step(dt, self.active as f64 * self.rate);
        }
    }

    /// Start a flow of `bytes` at `now`.
    pub fn add_flow(&mut self, now: SimTime, flow: FlowId, bytes: f64) {
        self.advance(now);
        let idx = flow as usize;
        if self.flows.len() <= idx {
            self.flows.resize(idx + 1, None);
        }
        assert!(self.flows[idx].is_none(), "flow {flow} started twice");
        let seq = self.next_seq;
        self.next_seq += 1;
        self.flows[idx] = Some(Flow { seq, start_v: self.v, bytes });
        self.heap.push(Reverse(Mark { at_v: self.v + bytes, seq, flow }));
        self.active += 1;
        self.sum_start_v += self.v;
        self.recompute_rate();
    }

    /// Whether `flow` is still moving bytes.
    pub fn is_active(&self, flow: FlowId) -> bool {
        self.flows.get(flow as usize).is_some_and(|f| f.is_some())
    }

    /// Bytes delivered so far to an active flow (after `advance`).
    pub fn delivered(&self, flow: FlowId) -> f64 {
        self.flows.get(flow as usize).and_then(|f| f.as_ref()).map_or(0.0, |f| (self.v - f.start_v).min(f.bytes))
    }

    /// Total bytes delivered by all flows, ended and active (after `advance`).
    pub fn total_delivered(&self) -> f64 {
        self.ended_bytes + (self.active as f64 * self.v - self.sum_start_v)
    }

    fn end_flow(&mut self, flow: FlowId) -> f64 {
        let f = self.flows[flow as usize].take().expect("ending an active flow");
        let got = (self.v - f.start_v).clamp(0.0, f.bytes);
        self.active -= 1;
        self.sum_start_v -= f.start_v;
        if self.active == 0 {
            self.sum_start_v = 0.0;
        }
        self.ended_bytes += got;
        got
    }

    /// Abort an active flow at `now`; returns the bytes it had received.
    pub fn abort_flow(&mut self, now: SimTime, flow: FlowId) -> f64 {
        self.advance(now);
        let got = self.end_flow(flow);
        self.drop_stale_marks();
        self.recompute_rate();
        got
    }

    fn drop_stale_marks(&mut self) {
        while let Some(Reverse(m)) = self.heap.peek() {
            match self.flows.get(m.flow as usize).and_then(|f| f.as_ref()) {
                Some(f) if f.seq == m.seq => break,
                _ => {
                    self.heap.pop();
                }
            }
        }
    }

    /// When the next flow finishes or the bucket empties.
    pub fn next_transition(&self) -> Option<SimTime> {
        let finish = self.heap.peek().map(|Reverse(m)| {
            let secs = (m.at_v - self.v).max(0.0) / self.rate;
            self.last.saturating_add(SimTime::from_secs_f64_ceil(secs))
        });
        let empty = self.secs_to_empty().map(|s| self.last.saturating_add(SimTime::from_secs_f64_ceil(s)));
        match (finish, empty) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle the transition due at `now`: returns the flows that finished
    /// (in finish-mark order), each with its byte count.
    pub fn on_transition(&mut self, now: SimTime, finished: &mut Vec<(FlowId, f64)>) {
        let due_finish = self.heap.peek().map(|Reverse(m)| {
            let secs = (m.at_v - self.v).max(0.0) / self.rate;
            self.last.saturating_add(SimTime::from_secs_f64_ceil(secs))
        });
        self.advance(now);
        if due_finish.is_some_and(|t| t <= now) {
            // The finish time was rounded up to a nanosecond: snap `v` to the
            // mark so the flow ends with exactly its bytes.
            if let Some(Reverse(m)) = self.heap.peek() {
                self.v = self.v.max(m.at_v);
            }
        }
        while let Some(Reverse(m)) = self.heap.peek().copied() {
            if m.at_v > self.v {
                break;
            }
            self.heap.pop();
            let f = self.flows[m.flow as usize].expect("stale marks are dropped eagerly");
            debug_assert_eq!(f.seq, m.seq);
            let got = self.end_flow(m.flow);
            finished.push((m.flow, got));
            self.drop_stale_marks();
        }
        self.recompute_rate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn run_to_end(link: &mut Link) -> Vec<(SimTime, FlowId, f64)> {
        let mut out = vec![];
        let mut fin = vec![];
        let mut steps = 0;
        while let Some(t) = link.next_transition() {
            steps += 1;
            assert!(steps < 10_000, "the link makes no progress at {t}");
            link.on_transition(t, &mut fin);
            out.extend(fin.drain(..).map(|(f, b)| (t, f, b)));
        }
        out
    }

    #[test]
    fn one_flow_at_server_rate_takes_size_over_rate() {
        let mut l = Link::new(Some(10.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 100.0 * MIB);
        let done = run_to_end(&mut l);
        assert_eq!(done, vec![(SimTime::from_secs(10), 0, 100.0 * MIB)]);
    }

    #[test]
    fn equal_flows_share_fairly_and_finish_together() {
        let mut l = Link::new(Some(40.0 * MIB), None, None);
        for f in 0..4 {
            l.add_flow(SimTime::ZERO, f, 10.0 * MIB);
        }
        assert_eq!(l.rate_per_flow(), 10.0 * MIB);
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 4);
        assert!(done.iter().all(|(t, _, b)| *t == SimTime::from_secs(1) && *b == 10.0 * MIB));
    }

    #[test]
    fn short_flow_leaves_and_the_rest_speed_up() {
        // Two flows at 10 MiB/s total: 5 MiB each until the 5 MiB one ends
        // at 1 s, then the other gets 10 MiB/s for its last 10 MiB: 2 s.
        let mut l = Link::new(Some(10.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 5.0 * MIB);
        l.add_flow(SimTime::ZERO, 1, 15.0 * MIB);
        let done = run_to_end(&mut l);
        assert_eq!(done[0].0, SimTime::from_secs(1));
        assert_eq!(done[1].0, SimTime::from_secs(2));
    }

    #[test]
    fn per_connection_cap_binds() {
        let mut l = Link::new(Some(100.0 * MIB), Some(5.0 * MIB), None);
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        l.add_flow(SimTime::ZERO, 1, 10.0 * MIB);
        assert_eq!(run_to_end(&mut l)[1].0, SimTime::from_secs(2));
    }

    #[test]
    fn bucket_bursts_then_holds_its_rate() {
        // 1 MiB/s limit, 2 MiB burst, unlimited server: the burst is spent at
        // once, then 8 MiB more at 1 MiB/s: 8 s.
        let mut l = Link::new(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        let done = run_to_end(&mut l);
        let t = done[0].0.as_secs_f64();
        assert!((t - 8.0).abs() < 1e-6, "{t}");
        assert!(l.limited_time().as_secs_f64() > 7.99);
    }

    #[test]
    fn bucket_drains_at_aggregate_minus_rate() {
        // Server 3 MiB/s, limit 1 MiB/s, burst 4 MiB: drains at 2 MiB/s for 2 s
        // (6 MiB delivered), then 1 MiB/s for the remaining 4 MiB: 6 s total.
        let mut l = Link::new(Some(3.0 * MIB), None, Some((MIB, 4.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        let done = run_to_end(&mut l);
        let t = done[0].0.as_secs_f64();
        assert!((t - 6.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn an_emptied_bucket_refills_while_no_flow_is_active() {
        // Regression: the bucket stayed empty through idle spans, so the
        // burst never came back. 10 MiB at 1 MiB/s with a 2 MiB burst ends at
        // 8 s; 2 s idle refill 2 MiB, so a 2 MiB body at 10 s passes at once.
        let mut l = Link::new(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        assert!((run_to_end(&mut l)[0].0.as_secs_f64() - 8.0).abs() < 1e-6);
        l.add_flow(SimTime::from_secs(10), 1, 2.0 * MIB);
        let t = run_to_end(&mut l)[0].0.as_secs_f64();
        assert!((t - 10.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn a_flow_starting_as_the_last_one_ends_is_held_at_the_rate() {
        // Regression: the bucket refilled (with 0 tokens) in the instant with
        // no flow, then the new flow's drain time was 0 s and never passed.
        let mut l = Link::new(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        let end = run_to_end(&mut l)[0].0;
        l.add_flow(end, 1, 3.0 * MIB);
        let t = run_to_end(&mut l)[0].0.as_secs_f64();
        assert!((t - end.as_secs_f64() - 3.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn abort_returns_partial_bytes_and_frees_share() {
        let mut l = Link::new(Some(2.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB);
        l.add_flow(SimTime::ZERO, 1, 10.0 * MIB);
        let got = l.abort_flow(SimTime::from_secs(2), 0);
        assert!((got - 2.0 * MIB).abs() < 1e-3);
        assert_eq!(l.rate_per_flow(), 2.0 * MIB);
        // Flow 1 has 8 MiB left at 2 MiB/s: ends at 6 s.
        assert_eq!(run_to_end(&mut l)[0].0, SimTime::from_secs(6));
        assert!((l.total_delivered() - 12.0 * MIB).abs() < 1e-3);
    }
}
