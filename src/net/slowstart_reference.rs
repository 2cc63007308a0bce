//! Test-only reference: the first slow-start discipline, which
//! water-fills every active flow at every event in O(n). The O(k + log n)
//! discipline of [`super::slowstart`] must move every flow as it does;
//! `tests` below drive both over random workloads and compare.

use super::capacity::Capacity;
use super::link::{Discipline, FlowId};
use super::slowstart::TcpParams;
use crate::time::SimTime;

/// A connection's window state, kept between its flows.
#[derive(Clone, Copy, Debug)]
struct Conn {
    cwnd: f64,
    /// When its last flow ended, s (`None` while one is active or before any).
    idle_since: Option<f64>,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    id: FlowId,
    bytes: f64,
    got: f64,
    buffered: bool,
    rate: f64,
    /// The window binds the rate (then the round end is an event).
    window_limited: bool,
    /// min(cwnd / RTT, per-connection cap), bytes/s (set in `set_rates`).
    bound: f64,
    /// End of the current round trip, s.
    round_end: f64,
    /// Bytes delivered when the round began.
    round_got: f64,
    /// What is left fits in the window: it goes out as one burst at the
    /// flow's share (the window no longer binds).
    last_window: bool,
}

const FINISH: u64 = 0;
const ROUND: u64 = 1;
/// Bytes below which a flow counts as done (float residue of `rate × dt`).
const DONE_EPS: f64 = 1e-6;

pub struct Reference {
    p: TcpParams,
    rtt_s: f64,
    rto_s: f64,
    /// Seconds since the start of the run.
    now: f64,
    conns: Vec<Option<Conn>>,
    /// Active flows, in start order.
    flows: Vec<Flow>,
    ended_bytes: f64,
    /// Index in `flows` of each active flow id (`u32::MAX`: none).
    slot: Vec<u32>,
}

impl Reference {
    pub fn new(p: TcpParams) -> Self {
        assert!(p.rtt > SimTime::ZERO, "slow start needs a positive RTT (the sim uses processor sharing at RTT 0)");
        Reference {
            rtt_s: p.rtt.as_secs_f64(),
            rto_s: p.rto().as_secs_f64(),
            p,
            now: 0.0,
            conns: Vec::new(),
            flows: Vec::new(),
            ended_bytes: 0.0,
            slot: Vec::new(),
        }
    }

    fn pos(&self, flow: FlowId) -> Option<usize> {
        self.slot.get(flow as usize).filter(|&&i| i != u32::MAX).map(|&i| i as usize)
    }

    fn end(&mut self, i: usize) -> Flow {
        let f = self.flows.swap_remove(i);
        self.slot[f.id as usize] = u32::MAX;
        if let Some(moved) = self.flows.get(i) {
            self.slot[moved.id as usize] = i as u32;
        }
        self.ended_bytes += f.got;
        if let Some(c) = self.conns[f.id as usize].as_mut() {
            c.idle_since = Some(self.now);
            if f.window_limited || f.last_window {
                // The ACKs of this round's bytes grow the window (slow start: one MSS per MSS acked).
                c.cwnd += f.got - f.round_got;
            }
        }
        f
    }
}

impl Discipline for Reference {
    /// A test oracle: not part of any run's memory account.
    fn heap_bytes(&self) -> usize {
        0
    }

    fn add(&mut self, flow: FlowId, bytes: f64, buffered: bool) {
        assert!(self.pos(flow).is_none(), "flow {flow} started twice");
        let idx = flow as usize;
        if self.conns.len() <= idx {
            self.conns.resize(idx + 1, None);
        }
        let iw = self.p.initial_window_bytes;
        let c = self.conns[idx].get_or_insert(Conn { cwnd: iw, idle_since: None });
        if let Some(since) = c.idle_since.take()
            && self.p.restart_after_idle
            && self.now - since > self.rto_s
        {
            c.cwnd = c.cwnd.min(iw);
        }
        let last_window = bytes <= c.cwnd;
        if self.slot.len() <= idx {
            self.slot.resize(idx + 1, u32::MAX);
        }
        self.slot[idx] = self.flows.len() as u32;
        self.flows.push(Flow {
            id: flow,
            bytes,
            got: 0.0,
            buffered,
            rate: 0.0,
            window_limited: false,
            bound: 0.0,
            round_end: self.now + self.rtt_s,
            round_got: 0.0,
            last_window,
        });
    }

    fn abort(&mut self, flow: FlowId) -> f64 {
        let i = self.pos(flow).expect("aborting an active flow");
        self.end(i).got
    }

    fn active(&self) -> u32 {
        self.flows.len() as u32
    }

    fn is_active(&self, flow: FlowId) -> bool {
        self.pos(flow).is_some()
    }

    fn set_rates(&mut self, cap: &mut Capacity) -> f64 {
        // Max-min water-filling, iteratively: the level starts at an equal
        // split; every flow bounded below it takes its bound, which raises
        // the level for the rest; repeat until no bound is below the level
        // (usually one or two passes, each O(n)).
        let per_conn = cap.cap_bps();
        let rtt_s = self.rtt_s;
        let mut left = cap.shared_bps();
        let mut n = self.flows.len();
        for f in &mut self.flows {
            let w = if f.last_window {
                f64::INFINITY
            } else {
                self.conns[f.id as usize].expect("an active flow has a connection").cwnd / rtt_s
            };
            f.rate = -1.0; // not yet fixed
            f.window_limited = w < per_conn;
            f.bound = w.min(per_conn);
        }
        loop {
            let level = if n == 0 { 0.0 } else { left / n as f64 };
            let mut fixed = false;
            for f in &mut self.flows {
                if f.rate < 0.0 && f.bound <= level {
                    f.rate = f.bound;
                    left = (left - f.bound).max(0.0);
                    n -= 1;
                    fixed = true;
                }
            }
            if !fixed {
                for f in &mut self.flows {
                    if f.rate < 0.0 {
                        f.rate = level;
                        f.window_limited = false;
                    }
                }
                break;
            }
        }
        let demand: f64 = self.flows.iter().map(|f| f.rate).sum();
        let total = if cap.has_bucket() { cap.limit(demand) } else { demand };
        if demand > 0.0 && total < demand {
            let k = total / demand;
            for f in &mut self.flows {
                f.rate *= k;
            }
        }
        let (now, rtt) = (self.now, self.rtt_s);
        for f in &mut self.flows {
            let c = self.conns[f.id as usize].as_mut().expect("an active flow has a connection");
            if f.window_limited {
                // A flow that just became window-limited starts a round now
                // (one whose round ends now keeps it: `settle` grows it).
                if f.round_end < now - super::slowstart::ROUND_DUE_NOW_S {
                    f.round_end = now + rtt;
                    f.round_got = f.got;
                }
            } else if !f.last_window {
                // Link-limited in slow start: the window follows the ACKs.
                c.cwnd = c.cwnd.max(2.0 * f.rate * rtt);
            }
        }
        total
    }

    fn serve(&mut self, dt: f64) {
        self.now += dt;
        for f in &mut self.flows {
            f.got = (f.got + f.rate * dt).min(f.bytes);
        }
    }

    fn next_event(&self) -> Option<(f64, u64)> {
        let mut best: Option<(f64, u64)> = None;
        for f in &self.flows {
            let id = (f.id as u64) << 1;
            if f.rate > 0.0 {
                let t = ((f.bytes - f.got).max(0.0)) / f.rate;
                if best.is_none_or(|b| t < b.0) {
                    best = Some((t, id | FINISH));
                }
            }
            if f.window_limited {
                let t = (f.round_end - self.now).max(0.0);
                if best.is_none_or(|b| t < b.0) {
                    best = Some((t, id | ROUND));
                }
            }
        }
        best
    }

    fn has_done(&self) -> bool {
        self.flows.iter().any(|f| f.bytes - f.got <= DONE_EPS)
    }

    fn settle(&mut self, due: Option<u64>, finished: &mut Vec<(FlowId, f64)>) {
        if let Some(id) = due {
            // The event's time was rounded up to a nanosecond: reach it exactly.
            let flow = (id >> 1) as FlowId;
            if let Some(i) = self.pos(flow) {
                let f = &mut self.flows[i];
                if id & 1 == FINISH {
                    f.got = f.bytes;
                } else {
                    f.round_end = f.round_end.min(self.now);
                }
            }
        }
        let (now, rtt) = (self.now, self.rtt_s);
        for f in &mut self.flows {
            if f.window_limited && f.round_end <= now + 1e-12 {
                // A full round at cwnd / RTT sent (and got acked) one window: it doubles.
                let c = self.conns[f.id as usize].as_mut().expect("an active flow has a connection");
                c.cwnd += f.got - f.round_got;
                f.round_got = f.got;
                f.round_end = now + rtt;
                f.last_window = f.bytes - f.got <= c.cwnd;
            }
        }
        let mut i = 0;
        while i < self.flows.len() {
            if self.flows[i].bytes - self.flows[i].got <= DONE_EPS {
                self.flows[i].got = self.flows[i].bytes;
                let f = self.end(i);
                finished.push((f.id, f.got));
            } else {
                i += 1;
            }
        }
    }

    fn delivered(&self, flow: FlowId) -> f64 {
        self.pos(flow).map_or(0.0, |i| self.flows[i].got)
    }

    fn total_delivered(&self) -> f64 {
        self.ended_bytes + self.flows.iter().map(|f| f.got).sum::<f64>()
    }

    fn buffered_in_flight(&self) -> f64 {
        self.flows.iter().filter(|f| f.buffered).map(|f| f.got).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::limiter::TokenBucket;
    use super::super::link::Link;
    use super::super::slowstart::SlowStart;
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// (start, flow, bytes, abort after): a random workload on `conns`
    /// connections; a connection takes its next flow after its last ended.
    type Plan = Vec<(SimTime, FlowId, f64, Option<SimTime>)>;

    fn plan(rng: &mut ChaCha8Rng, conns: u32, flows: usize) -> Plan {
        (0..flows)
            .map(|_| {
                let t = SimTime::from_millis(rng.random_range(0..4_000));
                let bytes = 2f64.powf(rng.random_range(10.0..24.0)).round();
                let abort = rng.random_bool(0.1).then(|| SimTime::from_millis(rng.random_range(1..500)));
                (t, rng.random_range(0..conns), bytes, abort)
            })
            .collect()
    }

    /// Drive `link` through `plan`; each flow's end: (flow, start index, time, bytes).
    fn drive<D: Discipline>(mut link: Link<D>, plan: &Plan) -> Vec<(FlowId, usize, SimTime, f64)> {
        let mut todo: Vec<(SimTime, usize)> = plan.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
        todo.sort();
        let mut waiting: std::collections::VecDeque<(SimTime, usize)> = todo.into();
        let mut running: Vec<Option<(usize, Option<SimTime>)>> = vec![None; 64];
        let mut out = Vec::new();
        let mut fin = Vec::new();
        let mut clock = SimTime::ZERO;
        loop {
            // The next start whose connection is free, the next abort, the next transition.
            let start = waiting.iter().position(|&(_, i)| running[plan[i].1 as usize].is_none());
            let start_at = start.map(|k| waiting[k].0.max(clock));
            let abort = running.iter().enumerate().filter_map(|(c, r)| r.and_then(|(_, a)| a.map(|a| (a, c)))).min();
            let tr = link.next_transition();
            let next = [start_at, abort.map(|a| a.0), tr].into_iter().flatten().min();
            let Some(now) = next else { break };
            clock = now;
            if tr == Some(now) {
                link.on_transition(now, &mut fin);
                for (f, got) in fin.drain(..) {
                    let (i, _) = running[f as usize].take().expect("a running flow");
                    out.push((f, i, now, got));
                }
            } else if abort.map(|a| a.0) == Some(now) {
                let c = abort.expect("an abort").1;
                let (i, _) = running[c].take().expect("a running flow");
                let got = link.abort_flow(now, c as FlowId);
                out.push((c as FlowId, i, now, got));
            } else {
                let (_, i) = waiting.remove(start.expect("a start")).expect("a start");
                let (_, f, bytes, abort) = plan[i];
                link.add_flow(now, f, bytes, false);
                running[f as usize] = Some((i, abort.map(|a| now + a)));
            }
        }
        out.sort_by_key(|&(_, i, _, _)| i);
        out
    }

    #[test]
    fn the_fast_discipline_moves_every_flow_as_the_reference_does() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..60 {
            let conns = rng.random_range(1..40);
            let p = plan(&mut rng, conns, 120);
            let rtt_ms = rng.random_range(1..150);
            let tcp = TcpParams {
                rtt: SimTime::from_millis(rtt_ms),
                initial_window_bytes: 14_480.0,
                restart_after_idle: rng.random_bool(0.5),
                queue_bytes: None,
                mss_bytes: 1448.0,
                // The reference has no queue: it checks the sharing, the
                // rounds and the windows; the loss path has closed-form tests.
                loss: false,
                hystart_delay: false,
            };
            let server = rng.random_bool(0.8).then(|| 2f64.powf(rng.random_range(18.0..27.0)));
            let per_conn = rng.random_bool(0.3).then(|| 2f64.powf(rng.random_range(16.0..24.0)));
            let bucket = rng
                .random_bool(0.3)
                .then(|| TokenBucket::new(2f64.powf(rng.random_range(18.0..25.0)), 1e6, rng.random_bool(0.5)));
            let cap = || {
                let c = Capacity::new(server, per_conn);
                match bucket {
                    Some(b) => c.with_bucket(b),
                    None => c,
                }
            };
            let fast = drive(Link::new(cap(), SlowStart::<false>::new(tcp)), &p);
            let slow = drive(Link::new(cap(), Reference::new(tcp)), &p);
            assert_eq!(fast.len(), slow.len(), "case {case}");
            for (a, b) in fast.iter().zip(&slow) {
                assert_eq!((a.0, a.1), (b.0, b.1), "case {case}: same flows in the same order");
                let dt = a.2.as_secs_f64() - b.2.as_secs_f64();
                // Float sums in another order: equal to well under a microsecond.
                assert!(dt.abs() < 1e-6, "case {case}, flow {} start {}: {:?} vs {:?}", a.0, a.1, a.2, b.2);
                assert!((a.3 - b.3).abs() <= 1e-6 * b.3.max(1.0), "case {case}: bytes {} vs {}", a.3, b.3);
            }
        }
    }
}
