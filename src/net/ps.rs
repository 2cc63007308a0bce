//! Processor sharing: every active flow moves at the same rate
//!
//! ```text
//! r = min(cap, shared / n)            while the bucket has tokens
//! r = min(cap, shared / n, limit / n) while it is empty
//! ```
//!
//! (`shared` = the server's rate, or the client CPU's byte rate if lower).
//! Instead of updating every flow at every event, the discipline keeps a
//! global counter `v` — bytes served to *each* flow since the start — and
//! gives each flow a finish mark `v_start + bytes`. A heap of marks (16
//! bytes each, ordered by one integer; equal marks end in start order)
//! yields the next finisher, so each event costs O(log n) (the processor-sharing
//! virtual-time method). Bytes delivered in total and to buffered flows are
//! `Σ (v − v_start)` over the flows concerned: a count and a sum of starts.

use super::capacity::Capacity;
use super::flowset::FlowSet;
use super::link::{Discipline, FlowId};
use super::minset::total_order;
use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A flow's finish mark in the heap: the virtual counter at which it ends,
/// the flow, and the flow's epoch when the mark was made. Marks order
/// by the counter alone; equal counters (ties) are put in start order by
/// [`ProcessorSharing::settle`].
#[derive(Clone, Copy)]
struct Mark {
    /// The mark's bits as an integer in `f64::total_cmp`'s order, sign bit
    /// flipped so it orders as an unsigned integer (the heap compares one
    /// integer, not a float, and needs no conversion to compare).
    order: u64,
    flow: FlowId,
    /// [`Flow::epoch`] of its flow at the start: the mark is stale (its flow
    /// was aborted) once the flow's epoch has moved on.
    epoch: u32,
}
impl Mark {
    fn new(at_v: f64, flow: FlowId, epoch: u32) -> Self {
        Mark { order: Self::order_of(at_v), flow, epoch }
    }
    #[inline]
    fn order_of(at_v: f64) -> u64 {
        (total_order(at_v.to_bits() as i64) as u64) ^ (1 << 63)
    }
    fn at_v(&self) -> f64 {
        f64::from_bits(total_order((self.order ^ (1 << 63)) as i64) as u64)
    }
}
impl PartialEq for Mark {
    fn eq(&self, o: &Self) -> bool {
        self.order == o.order
    }
}
impl Eq for Mark {}
impl PartialOrd for Mark {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Mark {
    #[inline]
    fn cmp(&self, o: &Self) -> Ordering {
        self.order.cmp(&o.order)
    }
}

/// The record of one flow id: the flow on it now (if `live`) or the last one.
#[derive(Clone, Copy, Default)]
struct Flow {
    start_v: f64,
    bytes: f64,
    /// Start order: among equal marks, the earlier flow ends first.
    seq: u64,
    /// Moves on when a flow on this id ends, so that the marks of earlier
    /// flows on it are stale ([`Mark::epoch`]). When it wraps to 0, every
    /// stale mark is dropped from the heap ([`ProcessorSharing::purge_stale`]),
    /// so no mark waits there through 2^32 epochs of its id.
    epoch: u32,
    live: bool,
    buffered: bool,
}

#[derive(Default)]
pub struct ProcessorSharing {
    /// Bytes served per active flow since the start of the run.
    v: f64,
    /// Current per-flow rate, bytes/s.
    rate: f64,
    /// By flow id.
    flows: Vec<Flow>,
    heap: BinaryHeap<Reverse<Mark>>,
    all: FlowSet,
    buffered: FlowSet,
    next_seq: u64,
    /// Bytes delivered by flows that have ended.
    ended_bytes: f64,
}

impl ProcessorSharing {
    pub fn new() -> Self {
        Self::default()
    }

    /// Current per-flow rate, bytes/s.
    pub fn rate_per_flow(&self) -> f64 {
        self.rate
    }

    #[inline]
    fn end_flow(&mut self, flow: FlowId) -> f64 {
        let f = &mut self.flows[flow as usize];
        assert!(f.live, "ending an active flow");
        f.live = false;
        f.epoch = f.epoch.wrapping_add(1);
        let f = *f;
        if f.epoch == 0 {
            self.purge_stale();
        }
        // `clamp(0.0, f.bytes)` without its check of the bounds (a flow's
        // bytes are a byte count: not negative, not NaN).
        let d = self.v - f.start_v;
        let got = if d < 0.0 {
            0.0
        } else if d > f.bytes {
            f.bytes
        } else {
            d
        };
        self.all.remove(f.start_v);
        if f.buffered {
            self.buffered.remove(f.start_v);
        }
        self.ended_bytes += got;
        got
    }

    /// Whether a mark's flow is still the one it was made for and active
    /// (a flow's epoch moves on when it ends).
    #[inline]
    fn live(&self, m: &Mark) -> bool {
        self.flows[m.flow as usize].epoch == m.epoch
    }

    /// Drop every stale mark (when a flow id's epoch wraps).
    #[cold]
    #[inline(never)]
    fn purge_stale(&mut self) {
        let flows = &self.flows;
        self.heap.retain(|Reverse(m)| flows[m.flow as usize].epoch == m.epoch);
    }

    #[inline]
    fn drop_stale_marks(&mut self) {
        while let Some(Reverse(m)) = self.heap.peek() {
            if self.live(m) {
                break;
            }
            self.heap.pop();
        }
    }

    /// End the flows of the mark `first` (just popped) and of every mark
    /// equal to it, in start order.
    #[cold]
    #[inline(never)]
    fn settle_tie(&mut self, first: FlowId, order: u64, finished: &mut Vec<(FlowId, f64)>) {
        let seq = |ps: &Self, flow: FlowId| ps.flows[flow as usize].seq;
        let mut tied = vec![(seq(self, first), first)];
        while let Some(Reverse(m)) = self.heap.peek().copied() {
            if m.order != order {
                break;
            }
            self.heap.pop();
            if self.live(&m) {
                tied.push((seq(self, m.flow), m.flow));
            }
        }
        tied.sort_unstable();
        for (_, flow) in tied {
            let got = self.end_flow(flow);
            finished.push((flow, got));
        }
    }
}

impl Discipline for ProcessorSharing {
    #[inline]
    fn add(&mut self, flow: FlowId, bytes: f64, buffered: bool) {
        let idx = flow as usize;
        if self.flows.len() <= idx {
            self.flows.resize(idx + 1, Flow::default());
        }
        let f = &mut self.flows[idx];
        assert!(!f.live, "flow {flow} started twice");
        let seq = self.next_seq;
        self.next_seq += 1;
        *f = Flow { start_v: self.v, bytes, seq, epoch: f.epoch, live: true, buffered };
        self.heap.push(Reverse(Mark::new(self.v + bytes, flow, f.epoch)));
        self.all.add(self.v);
        if buffered {
            self.buffered.add(self.v);
        }
    }

    fn abort(&mut self, flow: FlowId) -> f64 {
        let got = self.end_flow(flow);
        self.drop_stale_marks();
        got
    }

    fn active(&self) -> u32 {
        self.all.count
    }

    fn is_active(&self, flow: FlowId) -> bool {
        self.flows.get(flow as usize).is_some_and(|f| f.live)
    }

    #[inline]
    fn set_rates(&mut self, cap: &mut Capacity) -> f64 {
        let n = self.all.count as f64;
        let r = if self.all.count == 0 { 0.0 } else { cap.cap_bps().min(cap.shared_bps() / n) };
        self.rate = if cap.has_bucket() { cap.limit(n * r) / n.max(1.0) } else { r };
        n * self.rate
    }

    #[inline]
    fn serve(&mut self, dt: f64) {
        self.v += self.rate * dt;
    }

    /// The event's id is its mark's order key.
    #[inline]
    fn next_event(&self) -> Option<(f64, u64)> {
        self.heap.peek().map(|Reverse(m)| ((m.at_v() - self.v).max(0.0) / self.rate, m.order))
    }

    fn has_done(&self) -> bool {
        false
    }

    /// A mark already reached (`v` at or past it: the usual case once the
    /// link has moved to the transition) is answered as due without the
    /// time computation: `settle` only snaps `v` up to a due mark, which
    /// changes nothing then.
    #[inline(always)]
    fn due_by(&self, last: SimTime, now: SimTime) -> Option<u64> {
        let Reverse(m) = self.heap.peek()?;
        let at_v = m.at_v();
        if at_v <= self.v {
            return Some(m.order);
        }
        let s = (at_v - self.v).max(0.0) / self.rate;
        (last.saturating_add(SimTime::from_secs_f64_ceil(s)) <= now).then_some(m.order)
    }

    #[inline]
    fn settle(&mut self, due: Option<u64>, finished: &mut Vec<(FlowId, f64)>) {
        if due.is_some() {
            // The finish time was rounded up to a nanosecond: snap `v` to the
            // mark so the flow ends with exactly its bytes.
            if let Some(Reverse(m)) = self.heap.peek() {
                self.v = self.v.max(m.at_v());
            }
        }
        while let Some(Reverse(m)) = self.heap.peek().copied() {
            if m.at_v() > self.v {
                break;
            }
            self.heap.pop();
            debug_assert!(self.live(&m), "stale marks are dropped eagerly");
            let flow = m.flow;
            if self.heap.peek().is_some_and(|Reverse(n)| n.order == m.order) {
                self.settle_tie(flow, m.order, finished);
            } else {
                let got = self.end_flow(flow);
                finished.push((flow, got));
            }
            self.drop_stale_marks();
        }
    }

    fn delivered(&self, flow: FlowId) -> f64 {
        self.flows.get(flow as usize).filter(|f| f.live).map_or(0.0, |f| (self.v - f.start_v).min(f.bytes))
    }

    fn total_delivered(&self) -> f64 {
        self.ended_bytes + self.all.delivered(self.v)
    }

    fn buffered_in_flight(&self) -> f64 {
        self.buffered.delivered(self.v).max(0.0)
    }

    fn has_buffered(&self) -> bool {
        self.buffered.count > 0
    }

    fn heap_bytes(&self) -> usize {
        self.flows.capacity() * std::mem::size_of::<Flow>()
            + self.heap.capacity() * std::mem::size_of::<Reverse<Mark>>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::cpu::Cpu;
    use super::super::limiter::TokenBucket;
    use super::super::link::Link;
    use super::*;
    use crate::time::SimTime;

    const MIB: f64 = 1024.0 * 1024.0;

    fn link(server: Option<f64>, cap: Option<f64>, bucket: Option<(f64, f64)>) -> Link<ProcessorSharing> {
        let mut c = Capacity::new(server, cap);
        if let Some((rate, burst)) = bucket {
            c = c.with_bucket(TokenBucket::new(rate, burst, true));
        }
        Link::new(c, ProcessorSharing::new())
    }

    fn run_to_end(link: &mut Link<ProcessorSharing>) -> Vec<(SimTime, FlowId, f64)> {
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

    /// A flow is active from its start until it finishes or is aborted; an
    /// id never started is not (the sim asks before aborting a flow that
    /// may have finished in the batch being delivered).
    #[test]
    fn a_flow_is_active_until_it_finishes_or_is_aborted() {
        let mut l = link(Some(10.0 * MIB), None, None);
        assert!(!l.is_active(0) && !l.is_active(7));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, 100.0 * MIB, false);
        assert!(l.is_active(0) && l.is_active(1) && !l.is_active(2));
        l.abort_flow(SimTime::from_millis(100), 1);
        assert!(l.is_active(0) && !l.is_active(1));
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 1);
        assert!(!l.is_active(0));
    }

    /// An aborted flow's mark stays in the heap until it reaches the top;
    /// if its id is reused meanwhile, the mark must still be recognised as
    /// stale (by its id's epoch, not by the id being idle). Server
    /// 10 MiB/s: flow 0 (2 MiB) and flow 1 (1 MiB) share it; at 0.1 s flow 0
    /// is aborted (0.5 MiB in) and restarted as a 4 MiB flow. Flow 1 has
    /// 0.5 MiB left at 5 MiB/s: it ends at 0.2 s, and the old flow 0's mark
    /// (2 MiB) is now ahead of the new one's (4.5 MiB). Flow 0 (0.5 MiB in
    /// by then) has 3.5 MiB left alone at 10 MiB/s: it ends at 0.55 s, not
    /// at the old mark.
    #[test]
    fn a_reused_flow_id_ignores_the_mark_of_its_aborted_predecessor() {
        let mut l = link(Some(10.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 2.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, MIB, false);
        let got = l.abort_flow(SimTime::from_millis(100), 0);
        assert!((got - 0.5 * MIB).abs() < 1e-6, "{got}");
        l.add_flow(SimTime::from_millis(100), 0, 4.0 * MIB, false);
        // 50 ms later the new flow has its share of 5 MiB/s: 0.25 MiB.
        l.advance(SimTime::from_millis(150));
        assert!((l.delivered(0) - 0.25 * MIB).abs() < 1e-6, "{}", l.delivered(0));
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 2, "{done:?}");
        assert_eq!((done[0].0, done[0].1), (SimTime::from_millis(200), 1));
        assert_eq!((done[1].0, done[1].1, done[1].2), (SimTime::from_millis(550), 0, 4.0 * MIB));
    }

    #[test]
    fn one_flow_at_server_rate_takes_size_over_rate() {
        let mut l = link(Some(10.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 100.0 * MIB, false);
        let done = run_to_end(&mut l);
        assert_eq!(done, vec![(SimTime::from_secs(10), 0, 100.0 * MIB)]);
    }

    #[test]
    fn equal_flows_share_fairly_and_finish_together() {
        let mut l = link(Some(40.0 * MIB), None, None);
        for f in 0..4 {
            l.add_flow(SimTime::ZERO, f, 10.0 * MIB, false);
        }
        assert_eq!(l.discipline().rate_per_flow(), 10.0 * MIB);
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 4);
        assert!(done.iter().all(|(t, _, b)| *t == SimTime::from_secs(1) && *b == 10.0 * MIB));
    }

    /// Flows with equal marks end in one batch, in the order they
    /// started (not by id, nor by the heap's arrangement); a stale mark
    /// equal to them (an aborted flow's) ends nothing.
    #[test]
    fn equal_marks_end_in_start_order() {
        let mut l = link(Some(40.0 * MIB), None, None);
        let order = [3, 1, 4, 0, 2];
        for f in order {
            l.add_flow(SimTime::ZERO, f, 8.0 * MIB, false);
        }
        l.add_flow(SimTime::ZERO, 5, 8.0 * MIB, false);
        l.abort_flow(SimTime::ZERO, 5);
        let done = run_to_end(&mut l);
        // 5 flows at 8 MiB/s each: 8 MiB take 1 s.
        assert!(done.iter().all(|(t, _, b)| *t == SimTime::from_secs(1) && *b == 8.0 * MIB), "{done:?}");
        assert_eq!(done.iter().map(|d| d.1).collect::<Vec<_>>(), order);
    }

    #[test]
    fn short_flow_leaves_and_the_rest_speed_up() {
        // Two flows at 10 MiB/s total: 5 MiB each until the 5 MiB one ends
        // at 1 s, then the other gets 10 MiB/s for its last 10 MiB: 2 s.
        let mut l = link(Some(10.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 5.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, 15.0 * MIB, false);
        let done = run_to_end(&mut l);
        assert_eq!(done[0].0, SimTime::from_secs(1));
        assert_eq!(done[1].0, SimTime::from_secs(2));
    }

    #[test]
    fn per_connection_cap_binds() {
        let mut l = link(Some(100.0 * MIB), Some(5.0 * MIB), None);
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, 10.0 * MIB, false);
        assert_eq!(run_to_end(&mut l)[1].0, SimTime::from_secs(2));
    }

    #[test]
    fn bucket_bursts_then_holds_its_rate() {
        // 1 MiB/s limit, 2 MiB burst, unlimited server: the burst is spent at
        // once, then 8 MiB more at 1 MiB/s: 8 s.
        let mut l = link(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        let done = run_to_end(&mut l);
        let t = done[0].0.as_secs_f64();
        assert!((t - 8.0).abs() < 1e-6, "{t}");
        assert!(l.limited_time().as_secs_f64() > 7.99);
    }

    #[test]
    fn an_empty_bucket_holds_the_rate_from_the_start() {
        // The original's limiter: no burst at the start, 10 MiB at 1 MiB/s = 10 s.
        let c = Capacity::new(None, None).with_bucket(TokenBucket::new(MIB, 2.0 * MIB, false));
        let mut l = Link::new(c, ProcessorSharing::new());
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        let t = run_to_end(&mut l)[0].0.as_secs_f64();
        assert!((t - 10.0).abs() < 1e-6, "{t}");
        assert!((l.limited_time().as_secs_f64() - 10.0).abs() < 1e-6);
    }

    #[test]
    fn bucket_drains_at_aggregate_minus_rate() {
        // Server 3 MiB/s, limit 1 MiB/s, burst 4 MiB: drains at 2 MiB/s for 2 s
        // (6 MiB delivered), then 1 MiB/s for the remaining 4 MiB: 6 s total.
        let mut l = link(Some(3.0 * MIB), None, Some((MIB, 4.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        let done = run_to_end(&mut l);
        let t = done[0].0.as_secs_f64();
        assert!((t - 6.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn an_emptied_bucket_refills_while_no_flow_is_active() {
        // Regression: the bucket stayed empty through idle spans, so the
        // burst never came back. 10 MiB at 1 MiB/s with a 2 MiB burst ends at
        // 8 s; 2 s idle refill 2 MiB, so a 2 MiB body at 10 s passes at once.
        let mut l = link(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        assert!((run_to_end(&mut l)[0].0.as_secs_f64() - 8.0).abs() < 1e-6);
        l.add_flow(SimTime::from_secs(10), 1, 2.0 * MIB, false);
        let t = run_to_end(&mut l)[0].0.as_secs_f64();
        assert!((t - 10.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn a_flow_starting_as_the_last_one_ends_is_held_at_the_rate() {
        // Regression: the bucket refilled (with 0 tokens) in the instant with
        // no flow, then the new flow's drain time was 0 s and never passed.
        let mut l = link(None, None, Some((MIB, 2.0 * MIB)));
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        let end = run_to_end(&mut l)[0].0;
        l.add_flow(end, 1, 3.0 * MIB, false);
        let t = run_to_end(&mut l)[0].0.as_secs_f64();
        assert!((t - end.as_secs_f64() - 3.0).abs() < 1e-6, "{t}");
    }

    #[test]
    fn abort_returns_partial_bytes_and_frees_share() {
        let mut l = link(Some(2.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 10.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, 10.0 * MIB, false);
        let got = l.abort_flow(SimTime::from_secs(2), 0);
        assert!((got - 2.0 * MIB).abs() < 1e-3);
        assert_eq!(l.discipline().rate_per_flow(), 2.0 * MIB);
        // Flow 1 has 8 MiB left at 2 MiB/s: ends at 6 s.
        assert_eq!(run_to_end(&mut l)[0].0, SimTime::from_secs(6));
        assert!((l.total_delivered() - 12.0 * MIB).abs() < 1e-3);
    }

    #[test]
    fn buffered_in_flight_counts_only_buffered_flows() {
        // 4 MiB/s over 2 flows, only flow 1 buffered: after 1 s it holds 2 MiB;
        // flow 0 (2 MiB) ends then, and flow 1 gets all 4 MiB/s: 6 MiB at 2 s.
        let mut l = link(Some(4.0 * MIB), None, None);
        l.add_flow(SimTime::ZERO, 0, 2.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, 10.0 * MIB, true);
        l.advance(SimTime::from_millis(500));
        assert_eq!(l.buffered_in_flight(), MIB);
        assert_eq!(l.delivered(0), MIB);
        let mut fin = vec![];
        l.on_transition(l.next_transition().unwrap(), &mut fin);
        assert_eq!(fin, vec![(0, 2.0 * MIB)]);
        l.advance(SimTime::from_secs(2));
        assert_eq!(l.buffered_in_flight(), 6.0 * MIB);
        assert_eq!(l.abort_flow(SimTime::from_secs(2), 1), 6.0 * MIB);
        assert_eq!(l.buffered_in_flight(), 0.0);
    }

    #[test]
    fn a_cpu_slower_than_the_server_sets_the_rate() {
        // 10 ns/byte on one core = 1e8 B/s < 1e9 B/s server: 1e8 B take 1 s,
        // and the CPU is busy for all of it.
        let c = Capacity::new(Some(1e9), None).with_cpu(Cpu::new(1.0, 1e-8));
        let mut l = Link::new(c, ProcessorSharing::new());
        l.add_flow(SimTime::ZERO, 0, 1e8, false);
        assert_eq!(run_to_end(&mut l)[0].0, SimTime::from_secs(1));
        assert!((l.cpu_secs() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn fixed_cpu_work_on_a_cpu_bound_link_takes_a_fair_share() {
        // CPU-bound at 1e8 B/s, one flow; 0.1 s of fixed work arrives at 0:
        // it takes half the core (1 flow + the backlog) for 0.2 s, during which
        // the flow gets 0.5e8 B/s (1e7 B); the remaining 9e7 B take 0.9 s.
        let c = Capacity::new(Some(1e9), None).with_cpu(Cpu::new(1.0, 1e-8));
        let mut l = Link::new(c, ProcessorSharing::new());
        l.add_flow(SimTime::ZERO, 0, 1e8, false);
        l.add_cpu_work(SimTime::ZERO, 0.1);
        assert_eq!(l.next_transition(), Some(SimTime::from_millis(200)));
        assert_eq!(run_to_end(&mut l)[0].0, SimTime::from_millis(1100));
        assert!((l.cpu_secs() - 1.1).abs() < 1e-9, "{}", l.cpu_secs());
    }

    proptest::proptest! {
        /// Marks order as their floats do under `f64::total_cmp`.
        #[test]
        fn marks_order_by_total_cmp(a in proptest::num::f64::ANY, b in proptest::num::f64::ANY) {
            let (x, y) = (Mark::new(a, 0, 0), Mark::new(b, 1, 0));
            proptest::prop_assert_eq!(x.cmp(&y), a.total_cmp(&b));
            proptest::prop_assert_eq!((x.at_v().to_bits(), y.at_v().to_bits()), (a.to_bits(), b.to_bits()));
        }
    }

    /// When a flow id's epoch wraps, every stale mark leaves the heap
    /// at once (not only those that reach its top), so none is taken for a
    /// later flow of the same epoch. Flow 0 (8 MiB) is aborted under
    /// flow 1's smaller mark (1 MiB), its epoch wrapping to 0: the
    /// heap keeps flow 1's mark alone; a new flow 0 of epoch 0 ends at
    /// its own mark. 10 MiB/s: flow 1 ends at 0.2 s (0.5 MiB each by
    /// 0.1 s, then 0.5 MiB at 5 MiB/s); the new flow 0 (2 MiB from 0.1 s)
    /// has 0.5 MiB by 0.2 s and 1.5 MiB left alone: 0.35 s.
    #[test]
    fn a_wrapping_epoch_drops_every_stale_mark() {
        let mut ps = ProcessorSharing::new();
        ps.flows = vec![Flow { epoch: u32::MAX, ..Flow::default() }];
        let mut l = Link::new(Capacity::new(Some(10.0 * MIB), None), ps);
        l.add_flow(SimTime::ZERO, 0, 8.0 * MIB, false);
        l.add_flow(SimTime::ZERO, 1, MIB, false);
        l.abort_flow(SimTime::from_millis(100), 0);
        assert_eq!(l.discipline().flows[0].epoch, 0);
        assert_eq!(l.discipline().heap.len(), 1, "the stale mark is dropped");
        l.add_flow(SimTime::from_millis(100), 0, 2.0 * MIB, false);
        let done = run_to_end(&mut l);
        assert_eq!(
            done.iter().map(|d| (d.0, d.1)).collect::<Vec<_>>(),
            [(SimTime::from_millis(200), 1), (SimTime::from_millis(350), 0)]
        );
    }

    /// The memory account covers every flow's record and finish mark.
    #[test]
    fn the_heap_account_covers_every_flow_and_mark() {
        let mut l = link(Some(10.0 * MIB), None, None);
        for f in 0..100 {
            l.add_flow(SimTime::ZERO, f, MIB, false);
        }
        let least = 100 * (std::mem::size_of::<Flow>() + std::mem::size_of::<Reverse<Mark>>());
        assert!(l.heap_bytes() >= least, "{} < {least}", l.heap_bytes());
    }
}
