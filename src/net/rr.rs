//! The round-robin server link: bodies in flight take turns, each sending
//! one `quantum` of bytes at the link's aggregate rate, as a real server
//! that writes one block per connection in turn.
//!
//! The fluid [`super::Link`] (processor sharing) finishes equal requests
//! started together at the same instant, so connections that then wait the
//! same latency stay phase-locked and the link idles in every gap. With
//! turns, the first of them finishes `(n − 1) × quantum / rate` earlier, its
//! next request starts earlier, and the connections drift apart until
//! one's transfer fills another's latency — what the loopback server shows.
//! Aggregate rate and the client's token bucket are as in the fluid link.
//! One event per turn: meant for modest byte counts (validation scenarios).

use super::limiter::TokenBucket;
use super::link::{FlowId, UNLIMITED_BPS};
use crate::time::SimTime;
use std::collections::VecDeque;

/// Bytes below which a turn or a flow counts as done (float dust).
const TURN_EPSILON: f64 = 1e-6;

#[derive(Clone, Copy)]
struct Flow {
    size: f64,
    /// Bytes not yet sent, excluding the current turn's progress.
    left: f64,
}

#[derive(Clone, Copy)]
struct Turn {
    seq: u64,
    flow: FlowId,
    bytes: f64,
    done: f64,
}

pub struct RoundRobinLink {
    server_bps: f64,
    cap_bps: f64,
    quantum: f64,
    bucket: Option<TokenBucket>,
    last: SimTime,
    /// Aggregate rate now, bytes/s.
    rate: f64,
    /// Bytes per active flow under processor sharing (for memory sampling).
    v: f64,
    flows: Vec<Option<Flow>>,
    order: VecDeque<FlowId>,
    turn: Option<Turn>,
    turns: u64,
    /// Flows whose last byte was sent (or zero-byte flows): they are
    /// reported at the next transition.
    completed: Vec<FlowId>,
    active: u32,
    ended_bytes: f64,
    limited_ns: u64,
}

impl RoundRobinLink {
    pub fn new(server_bps: Option<f64>, cap_bps: Option<f64>, bucket: Option<(f64, f64)>, quantum: u64) -> Self {
        RoundRobinLink {
            server_bps: server_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            cap_bps: cap_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            quantum: quantum.max(1) as f64,
            bucket: bucket.map(|(rate, burst)| TokenBucket::new(rate, burst)),
            last: SimTime::ZERO,
            rate: 0.0,
            v: 0.0,
            flows: Vec::new(),
            order: VecDeque::new(),
            turn: None,
            turns: 0,
            completed: Vec::new(),
            active: 0,
            ended_bytes: 0.0,
            limited_ns: 0,
        }
    }

    pub fn v(&self) -> f64 {
        self.v
    }
    pub fn limited_time(&self) -> SimTime {
        SimTime(self.limited_ns)
    }

    fn recompute_rate(&mut self) {
        let n = self.active as f64;
        let demand = if self.active == 0 { 0.0 } else { self.server_bps.min(n * self.cap_bps) };
        self.rate = match &mut self.bucket {
            // With no flow the demand is 0: an empty bucket refills.
            Some(b) => b.allowed(demand),
            None => demand,
        };
    }

    fn secs_to_empty(&self) -> Option<f64> {
        self.bucket.as_ref()?.secs_to_empty(self.rate)
    }

    fn step(&mut self, dt: f64) {
        let mut bytes = self.rate * dt;
        if self.active > 0 {
            self.v += bytes / self.active as f64;
        }
        if let Some(b) = &mut self.bucket {
            b.step(dt, self.rate);
        }
        // A turn that ends exactly now is rotated by `on_transition`, after
        // any flow arriving at this instant has joined the queue ahead of it.
        while let Some(t) = &mut self.turn {
            let remaining = t.bytes - t.done;
            if bytes <= remaining + TURN_EPSILON {
                t.done = (t.done + bytes).min(t.bytes);
                break;
            }
            t.done = t.bytes;
            bytes -= remaining;
            self.complete_turn();
        }
    }

    /// The current turn sent its bytes: requeue its flow, or mark it completed.
    fn complete_turn(&mut self) {
        if let Some(t) = self.turn.take() {
            let f = self.flows[t.flow as usize].as_mut().expect("the turn's flow is active");
            f.left = (f.left - t.bytes).max(0.0);
            if f.left <= TURN_EPSILON {
                f.left = 0.0;
                self.completed.push(t.flow);
            } else {
                self.order.push_back(t.flow);
            }
        }
        self.next_turn();
    }

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

    fn next_turn(&mut self) {
        self.turn = None;
        if let Some(flow) = self.order.pop_front() {
            let f = self.flows[flow as usize].expect("queued flows are active");
            self.turns += 1;
            self.turn = Some(Turn { seq: self.turns, flow, bytes: f.left.min(self.quantum), done: 0.0 });
        }
    }

    pub fn add_flow(&mut self, now: SimTime, flow: FlowId, bytes: f64) {
        self.advance(now);
        let idx = flow as usize;
        if self.flows.len() <= idx {
            self.flows.resize(idx + 1, None);
        }
        assert!(self.flows[idx].is_none(), "flow {flow} started twice");
        self.flows[idx] = Some(Flow { size: bytes, left: bytes });
        self.active += 1;
        if bytes <= 0.0 {
            self.completed.push(flow);
        } else {
            self.order.push_back(flow);
            if self.turn.is_none() {
                self.next_turn();
            }
        }
        self.recompute_rate();
    }

    fn delivered_of(&self, flow: FlowId) -> f64 {
        let Some(f) = self.flows.get(flow as usize).and_then(|f| f.as_ref()) else { return 0.0 };
        let in_turn = self.turn.filter(|t| t.flow == flow).map_or(0.0, |t| t.done);
        f.size - f.left + in_turn
    }

    pub fn total_delivered(&self) -> f64 {
        let active: f64 = (0..self.flows.len() as FlowId).map(|f| self.delivered_of(f)).sum();
        self.ended_bytes + active
    }

    /// Whether `flow` is still moving bytes.
    pub fn is_active(&self, flow: FlowId) -> bool {
        self.flows.get(flow as usize).is_some_and(|f| f.is_some())
    }

    fn end_flow(&mut self, flow: FlowId) -> f64 {
        let got = self.delivered_of(flow);
        self.flows[flow as usize] = None;
        self.active -= 1;
        self.ended_bytes += got;
        got
    }

    pub fn abort_flow(&mut self, now: SimTime, flow: FlowId) -> f64 {
        self.advance(now);
        let got = self.end_flow(flow);
        self.order.retain(|f| *f != flow);
        self.completed.retain(|f| *f != flow);
        if self.turn.is_some_and(|t| t.flow == flow) {
            self.next_turn();
        }
        self.recompute_rate();
        got
    }

    fn turn_end(&self) -> Option<SimTime> {
        let t = self.turn?;
        let secs = (t.bytes - t.done).max(0.0) / self.rate;
        Some(self.last.saturating_add(SimTime::from_secs_f64_ceil(secs)))
    }

    pub fn next_transition(&self) -> Option<SimTime> {
        if !self.completed.is_empty() {
            return Some(self.last);
        }
        let empty = self.secs_to_empty().map(|s| self.last.saturating_add(SimTime::from_secs_f64_ceil(s)));
        match (self.turn_end(), empty) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_transition(&mut self, now: SimTime, finished: &mut Vec<(FlowId, f64)>) {
        let due = self.turn_end().is_some_and(|t| t <= now);
        let turn = self.turn.map(|t| t.seq);
        self.advance(now);
        let finished_turn = self.turn.is_some_and(|t| t.bytes - t.done <= TURN_EPSILON);
        if finished_turn || (due && self.turn.map(|t| t.seq) == turn) {
            // Its end was rounded up to a nanosecond: the turn is complete.
            self.complete_turn();
        }
        for flow in std::mem::take(&mut self.completed) {
            finished.push((flow, self.end_flow(flow)));
        }
        self.recompute_rate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: f64 = 1024.0;

    fn run_to_end(link: &mut RoundRobinLink) -> Vec<(SimTime, FlowId, f64)> {
        let mut out = vec![];
        let mut fin = vec![];
        while let Some(t) = link.next_transition() {
            link.on_transition(t, &mut fin);
            out.extend(fin.drain(..).map(|(f, b)| (t, f, b)));
        }
        out
    }

    #[test]
    fn equal_flows_finish_one_quantum_apart() {
        // 4 flows of 8 KiB, 1 KiB turns at 1 KiB/ms: all bytes take 32 ms;
        // flow 0 ends at 29 ms, flow 3 at 32 ms (fluid: all at 32 ms).
        let mut l = RoundRobinLink::new(Some(KIB * 1000.0), None, None, 1024);
        for f in 0..4 {
            l.add_flow(SimTime::ZERO, f, 8.0 * KIB);
        }
        let done = run_to_end(&mut l);
        let times: Vec<u64> = done.iter().map(|(t, _, _)| t.as_nanos() / 1_000_000).collect();
        assert_eq!(times, vec![29, 30, 31, 32]);
        assert!(done.iter().all(|(_, _, b)| *b == 8.0 * KIB));
        assert!((l.total_delivered() - 32.0 * KIB).abs() < 1e-6);
    }

    #[test]
    fn a_flow_arriving_as_a_turn_ends_goes_before_the_requeued_flow() {
        // Flow 0 alone for one turn; flow 1 arrives exactly at its end and is
        // served next: 0 ends at 3 ms, 1 at 4 ms (not 0 at 2, 1 at 4).
        let mut l = RoundRobinLink::new(Some(KIB * 1000.0), None, None, 1024);
        l.add_flow(SimTime::ZERO, 0, 2.0 * KIB);
        let ms = SimTime::from_micros_for_test(1000);
        l.add_flow(ms, 1, 2.0 * KIB);
        let done: Vec<(u64, FlowId)> =
            run_to_end(&mut l).iter().map(|(t, f, _)| (t.as_nanos() / 1_000_000, *f)).collect();
        assert_eq!(done, vec![(3, 0), (4, 1)]);
    }

    #[test]
    fn abort_returns_sent_bytes_and_zero_byte_flows_end_at_once() {
        let mut l = RoundRobinLink::new(Some(KIB * 1000.0), None, None, 1024);
        l.add_flow(SimTime::ZERO, 0, 4.0 * KIB);
        l.add_flow(SimTime::ZERO, 1, 0.0);
        let mut fin = vec![];
        let t = l.next_transition().unwrap();
        assert_eq!(t, SimTime::ZERO);
        l.on_transition(t, &mut fin);
        assert_eq!(fin, vec![(1, 0.0)]);
        let at = SimTime::from_micros_for_test(1500);
        while let Some(t) = l.next_transition().filter(|t| *t <= at) {
            l.on_transition(t, &mut fin);
        }
        let got = l.abort_flow(at, 0);
        assert!((got - 1.5 * KIB).abs() < 1e-6, "{got}");
        assert_eq!(l.next_transition(), None);
    }

    #[test]
    fn bucket_holds_the_aggregate_at_its_rate() {
        // Unlimited server, bucket 1 KiB/ms with 2 KiB burst: 10 KiB take 8 ms.
        let mut l = RoundRobinLink::new(None, None, Some((KIB * 1000.0, 2.0 * KIB)), 1024);
        l.add_flow(SimTime::ZERO, 0, 10.0 * KIB);
        let done = run_to_end(&mut l);
        let ms = done[0].0.as_secs_f64() * 1000.0;
        assert!((ms - 8.0).abs() < 1e-3, "{ms}");
    }

    impl SimTime {
        fn from_micros_for_test(us: u64) -> SimTime {
            SimTime(us * 1000)
        }
    }
}
