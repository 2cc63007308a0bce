//! The server link: every response body in flight, moved over one
//! [`Capacity`] (server rate, per-connection cap, client token bucket,
//! client CPU) by a sharing [`Discipline`] — processor sharing
//! ([`super::ProcessorSharing`]) or round-robin turns
//! ([`super::RoundRobin`]).
//!
//! The link owns time: it advances the discipline and the capacity together
//! from one instant to the next, splitting a span at the moment the capacity
//! changes (the bucket empties, the CPU's backlog is done) so no token or
//! CPU-second is overspent; it rounds every transition up to a nanosecond;
//! it counts the time the bucket held the flows back. The discipline owns
//! the flows: how the aggregate rate is divided, when the next one finishes,
//! bytes delivered per flow and in-flight bytes of buffered flows.
//!
//! A discipline with per-flow caps (TCP windows in slow start) divides the
//! same capacity by max-min water-filling over its flows' caps in
//! [`Discipline::set_rates`]; nothing else changes.

use super::capacity::Capacity;
use crate::time::SimTime;

/// Stand-in for "unlimited": 1 PB/s (a 100 MiB body takes 0.1 µs).
pub const UNLIMITED_BPS: f64 = 1e15;

/// Caller-chosen flow id (the sim runtime uses its connection index).
pub type FlowId = u32;

/// How a link divides its capacity among its flows.
pub trait Discipline {
    /// Start `flow` with `bytes` to send; `buffered` flows are counted by
    /// [`Discipline::buffered_in_flight`]. Starting an active flow is a bug.
    fn add(&mut self, flow: FlowId, bytes: f64, buffered: bool);
    /// End an active flow early; returns the bytes it had received.
    fn abort(&mut self, flow: FlowId) -> f64;
    /// Flows moving bytes.
    fn active(&self) -> u32;
    fn is_active(&self, flow: FlowId) -> bool;
    /// Set the flows' rates from the capacity; returns the aggregate, bytes/s.
    fn set_rates(&mut self, cap: &mut Capacity) -> f64;
    /// Move bytes for `dt` seconds at the current rates.
    fn serve(&mut self, dt: f64);
    /// Seconds until the next scheduled flow event (a flow finishes, a turn
    /// ends) at the current rates, and that event's id.
    fn next_event(&self) -> Option<(f64, u64)>;
    /// Flows already done that wait to be reported (then the next transition is now).
    fn has_done(&self) -> bool;
    /// Complete the event `due` (its time was rounded up to a nanosecond)
    /// and report every flow that ended, in order, with its byte count.
    fn settle(&mut self, due: Option<u64>, finished: &mut Vec<(FlowId, f64)>);
    /// The id of the next scheduled flow event if it is due by `now`, the
    /// discipline's state being that of time `last` (what [`Self::settle`]
    /// is then given). A discipline may answer differently only where its
    /// `settle` does the same with either answer.
    #[inline(always)]
    fn due_by(&self, last: SimTime, now: SimTime) -> Option<u64> {
        self.next_event()
            .map(|(s, id)| (last.saturating_add(SimTime::from_secs_f64_ceil(s)), id))
            .filter(|(t, _)| *t <= now)
            .map(|(_, id)| id)
    }
    /// Bytes delivered so far to an active flow.
    fn delivered(&self, flow: FlowId) -> f64;
    /// Bytes delivered by all flows, ended and active.
    fn total_delivered(&self) -> f64;
    /// Bytes delivered so far to active buffered flows.
    fn buffered_in_flight(&self) -> f64;
    /// `false` only when [`Self::buffered_in_flight`] is 0 (no buffered
    /// flow is active); a discipline that does not know says `true`.
    #[inline]
    fn has_buffered(&self) -> bool {
        true
    }
    /// Heap bytes the discipline holds (for the simulator's memory account).
    fn heap_bytes(&self) -> usize;
}

pub struct Link<D> {
    cap: Capacity,
    disc: D,
    /// Time the discipline and the capacity refer to.
    last: SimTime,
    /// Aggregate rate now, bytes/s.
    aggregate: f64,
    /// Time spent with the bucket empty and flows active (limiter wait).
    limited_ns: u64,
    /// [`Capacity::is_inert`], kept up to date after every change of the capacity.
    inert: bool,
}

impl<D: Discipline> Link<D> {
    pub fn new(cap: Capacity, disc: D) -> Self {
        let inert = cap.is_inert();
        let mut l = Link { cap, disc, last: SimTime::ZERO, aggregate: 0.0, limited_ns: 0, inert };
        l.recompute();
        l
    }

    pub fn discipline(&self) -> &D {
        &self.disc
    }
    pub fn capacity(&self) -> &Capacity {
        &self.cap
    }
    /// Time the bucket has been empty while flows were active.
    pub fn limited_time(&self) -> SimTime {
        SimTime(self.limited_ns)
    }
    /// Client CPU-seconds spent so far (valid after `advance`; 0 without a CPU).
    pub fn cpu_secs(&self) -> f64 {
        self.cap.cpu().map_or(0.0, |c| c.used_secs())
    }

    #[inline]
    fn recompute(&mut self) {
        if self.inert {
            // The CPU's split is reset and would stay so (no backlog).
            self.aggregate = self.disc.set_rates(&mut self.cap);
            return;
        }
        self.recompute_with_capacity();
    }

    /// [`Self::recompute`] with a bucket or a working CPU.
    #[inline(never)]
    fn recompute_with_capacity(&mut self) {
        if let Some(c) = self.cap.cpu_mut() {
            c.reset_split();
        }
        self.aggregate = self.disc.set_rates(&mut self.cap);
        let n = self.disc.active();
        let agg = self.aggregate;
        if self.cap.cpu_mut().is_some_and(|c| c.split(n, agg)) {
            self.aggregate = self.disc.set_rates(&mut self.cap);
        }
        self.inert = self.cap.is_inert();
    }

    fn step(&mut self, dt: f64, limited: &mut f64) {
        self.disc.serve(dt);
        self.cap.step(dt, self.aggregate);
        if self.disc.active() > 0 && self.cap.bucket_empty() {
            *limited += dt;
        }
    }

    /// Move the flows and the capacity from `last` to `now`, splitting the
    /// span where the capacity changes.
    #[inline(always)]
    pub fn advance(&mut self, now: SimTime) {
        if now <= self.last {
            return;
        }
        if self.inert {
            // No capacity change, nothing to account: only the flows move.
            // `now > last`: the span needs no saturation.
            self.disc.serve(SimTime(now.0 - self.last.0).as_secs_f64());
            self.last = now;
            return;
        }
        self.advance_with_capacity(now);
    }

    /// [`Self::advance`] with a bucket or a working CPU.
    #[inline(never)]
    fn advance_with_capacity(&mut self, now: SimTime) {
        let span = now - self.last;
        let mut dt = span.as_secs_f64();
        let mut limited = 0.0;
        while let Some((secs, change)) = self.cap.next_change(self.aggregate).filter(|(s, _)| *s <= dt) {
            self.step(secs, &mut limited);
            dt -= secs;
            self.cap.apply(change);
            self.recompute();
        }
        self.step(dt, &mut limited);
        if limited > 0.0 {
            self.limited_ns += SimTime::from_secs_f64_ceil(limited).as_nanos().min(span.as_nanos());
        }
        self.last = now;
        self.inert = self.cap.is_inert();
    }

    /// Start a flow of `bytes` at `now`.
    #[inline(always)]
    pub fn add_flow(&mut self, now: SimTime, flow: FlowId, bytes: f64, buffered: bool) {
        self.advance(now);
        self.disc.add(flow, bytes, buffered);
        self.recompute();
    }

    /// Abort an active flow at `now`; returns the bytes it had received.
    pub fn abort_flow(&mut self, now: SimTime, flow: FlowId) -> f64 {
        self.advance(now);
        let got = self.disc.abort(flow);
        self.recompute();
        got
    }

    /// Queue `secs` of fixed client CPU work at `now` (no-op without a CPU).
    #[inline]
    pub fn add_cpu_work(&mut self, now: SimTime, secs: f64) {
        if secs <= 0.0 || self.cap.cpu().is_none() {
            return;
        }
        self.add_cpu_work_now(now, secs);
    }

    /// [`Self::add_cpu_work`] of some work on a CPU.
    #[inline(never)]
    fn add_cpu_work_now(&mut self, now: SimTime, secs: f64) {
        self.advance(now);
        if let Some(c) = self.cap.cpu_mut() {
            c.add_work(secs);
        }
        self.inert = self.cap.is_inert();
        self.recompute();
    }

    /// Whether `flow` is still moving bytes.
    pub fn is_active(&self, flow: FlowId) -> bool {
        self.disc.is_active(flow)
    }
    /// Bytes delivered so far to an active flow (after `advance`).
    pub fn delivered(&self, flow: FlowId) -> f64 {
        self.disc.delivered(flow)
    }
    /// Total bytes delivered by all flows, ended and active (after `advance`).
    pub fn total_delivered(&self) -> f64 {
        self.disc.total_delivered()
    }
    /// Bytes held by active buffered flows (after `advance`).
    /// Heap bytes of the discipline's state.
    pub fn heap_bytes(&self) -> usize {
        self.disc.heap_bytes()
    }
    pub fn buffered_in_flight(&self) -> f64 {
        self.disc.buffered_in_flight()
    }
    /// `false` only when [`Self::buffered_in_flight`] is 0.
    #[inline]
    pub fn has_buffered(&self) -> bool {
        self.disc.has_buffered()
    }

    /// When the next flow event happens or the capacity changes. Not
    /// cached: the engine asks once per event, and nearly every event
    /// moves the link (a cache was refilled at each ask and cost more).
    #[inline(always)]
    pub fn next_transition(&self) -> Option<SimTime> {
        if self.disc.has_done() {
            return Some(self.last);
        }
        let flow = self.disc.next_event().map(|(s, _)| self.last.saturating_add(SimTime::from_secs_f64_ceil(s)));
        if self.inert {
            return flow;
        }
        let change =
            self.cap.next_change(self.aggregate).map(|(s, _)| self.last.saturating_add(SimTime::from_secs_f64_ceil(s)));
        match (flow, change) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handle the transition due at `now`: returns the flows that finished,
    /// each with its byte count.
    #[inline(always)]
    pub fn on_transition(&mut self, now: SimTime, finished: &mut Vec<(FlowId, f64)>) {
        let due = self.disc.due_by(self.last, now);
        self.advance(now);
        self.disc.settle(due, finished);
        self.recompute();
    }
}
