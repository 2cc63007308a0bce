//! Round robin: bodies in flight take turns, each sending one `quantum` of
//! bytes at the link's aggregate rate, as a real server that writes one
//! block per connection in turn (the loopback server's paced 8 KiB writes).
//!
//! Processor sharing finishes equal requests started together at the same
//! instant, so connections that then wait the same latency stay phase-locked
//! and the link idles in every gap. With turns, the first of them finishes
//! `(n − 1) × quantum / rate` earlier, its next request starts earlier, and
//! the connections drift apart until one's transfer fills another's latency
//! — what the loopback server shows. One event per turn: meant for modest
//! byte counts (validation scenarios).

use super::capacity::Capacity;
use super::link::{Discipline, FlowId};
use std::collections::VecDeque;

/// Bytes below which a turn or a flow counts as done (float dust).
const TURN_EPSILON: f64 = 1e-6;

#[derive(Clone, Copy)]
struct Flow {
    size: f64,
    /// Bytes not yet sent, excluding the current turn's progress.
    left: f64,
    buffered: bool,
}

impl Flow {
    /// Bytes sent in completed turns.
    fn sent(&self) -> f64 {
        self.size - self.left
    }
}

#[derive(Clone, Copy)]
struct Turn {
    seq: u64,
    flow: FlowId,
    bytes: f64,
    done: f64,
}

pub struct RoundRobin {
    quantum: f64,
    /// Aggregate rate now, bytes/s (the current turn's).
    rate: f64,
    flows: Vec<Option<Flow>>,
    order: VecDeque<FlowId>,
    turn: Option<Turn>,
    turns: u64,
    /// Flows whose last byte was sent (or zero-byte flows): they are
    /// reported at the next transition.
    completed: Vec<FlowId>,
    active: u32,
    /// Σ `sent()` over active flows, and over active buffered flows.
    sent_active: f64,
    sent_buffered: f64,
    buffered: u32,
    ended_bytes: f64,
}

impl RoundRobin {
    /// Turns of `quantum` bytes (at least 1).
    pub fn new(quantum: u64) -> Self {
        RoundRobin {
            quantum: quantum.max(1) as f64,
            rate: 0.0,
            flows: Vec::new(),
            order: VecDeque::new(),
            turn: None,
            turns: 0,
            completed: Vec::new(),
            active: 0,
            sent_active: 0.0,
            sent_buffered: 0.0,
            buffered: 0,
            ended_bytes: 0.0,
        }
    }

    /// Turns started so far.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// The current turn sent its bytes: requeue its flow, or mark it completed.
    fn complete_turn(&mut self) {
        if let Some(t) = self.turn.take() {
            let f = self.flows[t.flow as usize].as_mut().expect("the turn's flow is active");
            let before = f.left;
            f.left = (f.left - t.bytes).max(0.0);
            if f.left <= TURN_EPSILON {
                f.left = 0.0;
                self.completed.push(t.flow);
            } else {
                self.order.push_back(t.flow);
            }
            let sent = before - f.left;
            self.sent_active += sent;
            if f.buffered {
                self.sent_buffered += sent;
            }
        }
        self.next_turn();
    }

    fn next_turn(&mut self) {
        self.turn = None;
        if let Some(flow) = self.order.pop_front() {
            let f = self.flows[flow as usize].expect("queued flows are active");
            self.turns += 1;
            self.turn = Some(Turn { seq: self.turns, flow, bytes: f.left.min(self.quantum), done: 0.0 });
        }
    }

    fn in_turn(&self, flow: FlowId) -> f64 {
        self.turn.filter(|t| t.flow == flow).map_or(0.0, |t| t.done)
    }

    fn end_flow(&mut self, flow: FlowId) -> f64 {
        let got = self.delivered(flow);
        let f = self.flows[flow as usize].take().expect("ending an active flow");
        self.active -= 1;
        self.sent_active -= f.sent();
        if self.active == 0 {
            self.sent_active = 0.0;
        }
        if f.buffered {
            self.buffered -= 1;
            self.sent_buffered -= f.sent();
            if self.buffered == 0 {
                self.sent_buffered = 0.0;
            }
        }
        self.ended_bytes += got;
        got
    }
}

impl Discipline for RoundRobin {
    fn add(&mut self, flow: FlowId, bytes: f64, buffered: bool) {
        let idx = flow as usize;
        if self.flows.len() <= idx {
            self.flows.resize(idx + 1, None);
        }
        assert!(self.flows[idx].is_none(), "flow {flow} started twice");
        self.flows[idx] = Some(Flow { size: bytes, left: bytes, buffered });
        self.active += 1;
        if buffered {
            self.buffered += 1;
        }
        if bytes <= 0.0 {
            self.completed.push(flow);
        } else {
            self.order.push_back(flow);
            if self.turn.is_none() {
                self.next_turn();
            }
        }
    }

    fn abort(&mut self, flow: FlowId) -> f64 {
        let got = self.end_flow(flow);
        self.order.retain(|f| *f != flow);
        self.completed.retain(|f| *f != flow);
        if self.turn.is_some_and(|t| t.flow == flow) {
            self.next_turn();
        }
        got
    }

    fn active(&self) -> u32 {
        self.active
    }

    fn is_active(&self, flow: FlowId) -> bool {
        self.flows.get(flow as usize).is_some_and(|f| f.is_some())
    }

    fn set_rates(&mut self, cap: &mut Capacity) -> f64 {
        let n = self.active as f64;
        let demand = if self.active == 0 { 0.0 } else { cap.shared_bps().min(n * cap.cap_bps()) };
        self.rate = cap.limit(demand);
        self.rate
    }

    fn serve(&mut self, dt: f64) {
        let mut bytes = self.rate * dt;
        // A turn that ends exactly now is rotated by `settle`, after any flow
        // arriving at this instant has joined the queue ahead of it.
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

    fn next_event(&self) -> Option<(f64, u64)> {
        let t = self.turn?;
        Some(((t.bytes - t.done).max(0.0) / self.rate, t.seq))
    }

    fn has_done(&self) -> bool {
        !self.completed.is_empty()
    }

    fn settle(&mut self, due: Option<u64>, finished: &mut Vec<(FlowId, f64)>) {
        let finished_turn = self.turn.is_some_and(|t| t.bytes - t.done <= TURN_EPSILON);
        if finished_turn || (due.is_some() && self.turn.map(|t| t.seq) == due) {
            // Its end was rounded up to a nanosecond: the turn is complete.
            self.complete_turn();
        }
        for flow in std::mem::take(&mut self.completed) {
            finished.push((flow, self.end_flow(flow)));
        }
    }

    fn delivered(&self, flow: FlowId) -> f64 {
        self.flows.get(flow as usize).and_then(|f| f.as_ref()).map_or(0.0, |f| f.sent() + self.in_turn(flow))
    }

    fn total_delivered(&self) -> f64 {
        self.ended_bytes + self.sent_active + self.turn.map_or(0.0, |t| t.done)
    }

    fn buffered_in_flight(&self) -> f64 {
        let in_turn =
            self.turn.filter(|t| self.flows[t.flow as usize].is_some_and(|f| f.buffered)).map_or(0.0, |t| t.done);
        self.sent_buffered + in_turn
    }

    /// The flows and the rotation (`completed` holds only the flows that
    /// ended since the last transition, and is left out).
    fn heap_bytes(&self) -> usize {
        self.flows.capacity() * std::mem::size_of::<Option<Flow>>()
            + self.order.capacity() * std::mem::size_of::<FlowId>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::cpu::Cpu;
    use super::super::limiter::TokenBucket;
    use super::super::link::Link;
    use super::*;
    use crate::time::SimTime;

    const KIB: f64 = 1024.0;

    fn link(server: Option<f64>, bucket: Option<(f64, f64)>, quantum: u64) -> Link<RoundRobin> {
        let mut c = Capacity::new(server, None);
        if let Some((rate, burst)) = bucket {
            c = c.with_bucket(TokenBucket::new(rate, burst, true));
        }
        Link::new(c, RoundRobin::new(quantum))
    }

    fn run_to_end(link: &mut Link<RoundRobin>) -> Vec<(SimTime, FlowId, f64)> {
        let mut out = vec![];
        let mut fin = vec![];
        while let Some(t) = link.next_transition() {
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
        let mut l = link(Some(10.0 * KIB), None, 1024);
        assert!(!l.is_active(0) && !l.is_active(7));
        l.add_flow(SimTime::ZERO, 0, 10.0 * KIB, false);
        l.add_flow(SimTime::ZERO, 1, 100.0 * KIB, false);
        assert!(l.is_active(0) && l.is_active(1) && !l.is_active(2));
        l.abort_flow(SimTime::from_millis(100), 1);
        assert!(l.is_active(0) && !l.is_active(1));
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 1);
        assert!(!l.is_active(0));
    }

    fn ms(us: u64) -> SimTime {
        SimTime::from_nanos(us * 1000)
    }

    #[test]
    fn equal_flows_finish_one_quantum_apart() {
        // 4 flows of 8 KiB, 1 KiB turns at 1 KiB/ms: all bytes take 32 ms;
        // flow 0 ends at 29 ms, flow 3 at 32 ms (fluid: all at 32 ms).
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        for f in 0..4 {
            l.add_flow(SimTime::ZERO, f, 8.0 * KIB, false);
        }
        let done = run_to_end(&mut l);
        let times: Vec<u64> = done.iter().map(|(t, _, _)| t.as_nanos() / 1_000_000).collect();
        assert_eq!(times, vec![29, 30, 31, 32]);
        assert!(done.iter().all(|(_, _, b)| *b == 8.0 * KIB));
        assert!((l.total_delivered() - 32.0 * KIB).abs() < 1e-6);
        assert_eq!(l.discipline().turns(), 32);
    }

    #[test]
    fn a_flow_arriving_as_a_turn_ends_goes_before_the_requeued_flow() {
        // Flow 0 alone for one turn; flow 1 arrives exactly at its end and is
        // served next: 0 ends at 3 ms, 1 at 4 ms (not 0 at 2, 1 at 4).
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        l.add_flow(SimTime::ZERO, 0, 2.0 * KIB, false);
        l.add_flow(ms(1000), 1, 2.0 * KIB, false);
        let done: Vec<(u64, FlowId)> =
            run_to_end(&mut l).iter().map(|(t, f, _)| (t.as_nanos() / 1_000_000, *f)).collect();
        assert_eq!(done, vec![(3, 0), (4, 1)]);
    }

    #[test]
    fn a_flow_arriving_mid_turn_waits_for_the_rest_of_that_turn() {
        // 1 KiB turns at 1 KiB/ms. Flow 0 (4 KiB) alone; flow 1 (2 KiB)
        // arrives at 0.5 ms, half-way through 0's first turn, which still
        // ends at 1 ms. Then 1, 0, 1 (1 ends at 4 ms), and 0 alone: 6 ms.
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        l.add_flow(SimTime::ZERO, 0, 4.0 * KIB, false);
        l.add_flow(ms(500), 1, 2.0 * KIB, false);
        assert_eq!(l.next_transition(), Some(ms(1000)));
        let done: Vec<(SimTime, FlowId)> = run_to_end(&mut l).iter().map(|(t, f, _)| (*t, *f)).collect();
        assert_eq!(done, vec![(ms(4000), 1), (ms(6000), 0)]);
        assert_eq!(l.discipline().turns(), 6);
    }

    #[test]
    fn turns_that_end_between_nanoseconds_carry_the_excess_to_the_next_turn() {
        // 3,000,000 B/s: a 1 KiB turn lasts 341,333.3 ns, so each transition
        // is rounded up to a nanosecond and overshoots its turn by a fraction
        // of a byte, which belongs to the next turn; dropped, it would make
        // every turn up to 1 ns late. Two 1500 KiB flows alternate for 3,000
        // turns: flow 0 ends after 2,999 (2,999 × 1,024 B / 3e6 B/s =
        // 1,023,658,666.7 ns), flow 1 after 3,000 (1,024,000,000 ns), to the
        // nanosecond.
        let mut l = link(Some(3_000_000.0), None, 1024);
        l.add_flow(SimTime::ZERO, 0, 1500.0 * KIB, false);
        l.add_flow(SimTime::ZERO, 1, 1500.0 * KIB, false);
        let done = run_to_end(&mut l);
        let ends: Vec<(FlowId, u64)> = done.iter().map(|(t, f, _)| (*f, t.as_nanos())).collect();
        assert_eq!(ends.len(), 2, "{ends:?}");
        assert_eq!(ends[0].0, 0);
        assert!(ends[0].1.abs_diff(1_023_658_667) <= 1, "{ends:?}");
        assert_eq!(ends[1].0, 1);
        assert!(ends[1].1.abs_diff(1_024_000_000) <= 1, "{ends:?}");
        assert!(done.iter().all(|(_, _, b)| (*b - 1500.0 * KIB).abs() < 1e-6));
        assert_eq!(l.discipline().turns(), 3000);
    }

    #[test]
    fn fixed_cpu_work_takes_its_share_beside_every_flow_in_the_rotation() {
        // CPU-bound at 1e8 B/s (10 ns/byte on one core); three flows of 5e7 B
        // and 0.1 s of fixed CPU work at 0. The work gets a quarter of the
        // core (three flows + it), so it lasts 0.4 s and the turns move
        // 0.75e8 B/s meanwhile: 2.25e7 B by 0.3 s, 3e7 B by 0.4 s. The other
        // 1.2e8 B then take 1.2 s at the full 1e8 B/s: the last flow ends at
        // 1.6 s.
        let c = Capacity::new(Some(1e9), None).with_cpu(Cpu::new(1.0, 1e-8));
        let mut l = Link::new(c, RoundRobin::new(1_000_000));
        for f in 0..3 {
            l.add_flow(SimTime::ZERO, f, 5e7, false);
        }
        l.add_cpu_work(SimTime::ZERO, 0.1);
        l.advance(SimTime::from_millis(300));
        assert!((l.total_delivered() - 2.25e7).abs() < 1.0, "{}", l.total_delivered());
        let done = run_to_end(&mut l);
        assert_eq!(done.len(), 3);
        let last = done[2].0.as_nanos();
        assert!(last.abs_diff(1_600_000_000) <= 1, "{done:?}");
        // (The backlog's end is rounded up to a nanosecond.)
        assert!((l.cpu_secs() - 1.6).abs() < 2e-9, "{}", l.cpu_secs());
    }

    #[test]
    fn abort_returns_sent_bytes_and_zero_byte_flows_end_at_once() {
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        l.add_flow(SimTime::ZERO, 0, 4.0 * KIB, false);
        l.add_flow(SimTime::ZERO, 1, 0.0, false);
        let mut fin = vec![];
        let t = l.next_transition().unwrap();
        assert_eq!(t, SimTime::ZERO);
        l.on_transition(t, &mut fin);
        assert_eq!(fin, vec![(1, 0.0)]);
        let at = ms(1500);
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
        let mut l = link(None, Some((KIB * 1000.0, 2.0 * KIB)), 1024);
        l.add_flow(SimTime::ZERO, 0, 10.0 * KIB, false);
        let done = run_to_end(&mut l);
        let ms = done[0].0.as_secs_f64() * 1000.0;
        assert!((ms - 8.0).abs() < 1e-3, "{ms}");
    }

    #[test]
    fn the_bucket_limited_time_is_the_span_held_at_its_rate() {
        // As above: the 2 KiB burst goes at once, then 8 KiB at 1 KiB/ms.
        let mut l = link(None, Some((KIB * 1000.0, 2.0 * KIB)), 1024);
        l.add_flow(SimTime::ZERO, 0, 10.0 * KIB, false);
        run_to_end(&mut l);
        let ms = l.limited_time().as_secs_f64() * 1000.0;
        assert!((ms - 8.0).abs() < 1e-3, "{ms}");
    }

    /// Server 100 KiB/s, 10 KiB/s per connection, 1 KiB turns. Two flows
    /// (10 and 50 KiB) move 20 KiB/s between them, alternating turns of
    /// 0.05 s from flow 0: its 10th turn is the 19th, done at 0.95 s, when
    /// flow 1 has 9 KiB. Alone, flow 1 gets its cap: 41 KiB more at
    /// 10 KiB/s end it at 0.95 + 4.1 = 5.05 s. Midway the link has
    /// delivered flow 0's 10 KiB plus what flow 1 got, and holds in flight
    /// (both buffered) what flow 1 got.
    #[test]
    fn a_per_connection_cap_bounds_the_turns_of_the_flows_left() {
        let mut l = Link::new(Capacity::new(Some(100.0 * KIB), Some(10.0 * KIB)), RoundRobin::new(1024));
        l.add_flow(SimTime::ZERO, 0, 10.0 * KIB, true);
        l.add_flow(SimTime::ZERO, 1, 50.0 * KIB, true);
        let mut fin = vec![];
        let mut at = SimTime::ZERO;
        while fin.is_empty() {
            at = l.next_transition().expect("flows are active");
            l.on_transition(at, &mut fin);
        }
        assert_eq!(fin.len(), 1);
        assert_eq!(fin[0].0, 0);
        assert!((at.as_secs_f64() - 0.95).abs() < 1e-6, "{at}");
        l.advance(SimTime::from_secs(3));
        // At 3 s flow 1 has 9 KiB + 2.05 s × 10 KiB/s = 29.5 KiB.
        assert!((l.delivered(1) - 29.5 * KIB).abs() < 1.0, "{}", l.delivered(1));
        assert!((l.total_delivered() - 39.5 * KIB).abs() < 1.0, "{}", l.total_delivered());
        // Both are buffered: what is held in flight is flow 1's part only.
        assert!((l.buffered_in_flight() - 29.5 * KIB).abs() < 1.0, "{}", l.buffered_in_flight());
        let rest = run_to_end(&mut l);
        assert_eq!(rest.len(), 1);
        assert!((rest[0].0.as_secs_f64() - 5.05).abs() < 1e-6, "{rest:?}");
    }

    #[test]
    fn buffered_in_flight_is_what_buffered_flows_received() {
        // Two flows, 1 KiB turns at 1 KiB/ms, flow 1 buffered. At 2.5 ms flow 0
        // sent 2 KiB (turns 1, 3 — the third half done: 1.5 KiB) and flow 1 1 KiB.
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        l.add_flow(SimTime::ZERO, 0, 4.0 * KIB, false);
        l.add_flow(SimTime::ZERO, 1, 4.0 * KIB, true);
        let mut fin = vec![];
        while let Some(t) = l.next_transition().filter(|t| *t <= ms(2500)) {
            l.on_transition(t, &mut fin);
        }
        l.advance(ms(2500));
        assert!((l.buffered_in_flight() - KIB).abs() < 1e-6, "{}", l.buffered_in_flight());
        assert!((l.delivered(0) - 1.5 * KIB).abs() < 1e-6);
        assert!((l.total_delivered() - 2.5 * KIB).abs() < 1e-6);
        // At 3.5 ms flow 1 is half-way through its second turn.
        while let Some(t) = l.next_transition().filter(|t| *t <= ms(3500)) {
            l.on_transition(t, &mut fin);
        }
        l.advance(ms(3500));
        assert!((l.buffered_in_flight() - 1.5 * KIB).abs() < 1e-6, "{}", l.buffered_in_flight());
        assert!((l.abort_flow(ms(3500), 1) - 1.5 * KIB).abs() < 1e-6);
        assert_eq!(l.buffered_in_flight(), 0.0);
    }

    /// The memory account covers every flow's slot and place in the
    /// rotation, and no more than twice that (a vector's capacity is at most
    /// double its length).
    #[test]
    fn the_heap_account_covers_every_flow_and_its_turn() {
        let mut l = link(Some(KIB * 1000.0), None, 1024);
        for f in 0..128 {
            l.add_flow(SimTime::ZERO, f, 8.0 * KIB, false);
        }
        let least = 128 * (std::mem::size_of::<Option<Flow>>() + std::mem::size_of::<FlowId>());
        assert!((least..=2 * least).contains(&l.heap_bytes()), "{} not in {least}..={}", l.heap_bytes(), 2 * least);
    }
}
