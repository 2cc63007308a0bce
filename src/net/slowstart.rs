//! TCP slow start: processor sharing where each connection's rate is also
//! bounded by its congestion window, `cwnd / RTT`.
//!
//! - A connection's window starts at `IW = initial_window_segments × mss`
//!   when its first flow starts; the window survives between the requests
//!   of a pooled connection (the flow id is the connection id, and the sim
//!   never reuses one).
//! - Every round trip of a flow whose window binds (cwnd / RTT below its
//!   share), the window grows by the bytes the round sent — it doubles —
//!   one event per round, found among the flows' next round ends.
//! - The last window: once what is left of the body fits in the window (at
//!   a flow's start or a round's end), it leaves as one burst, so it
//!   arrives at the flow's share rather than spread over a round trip —
//!   as the last window of a real transfer arrives RTT after the previous
//!   one plus its serialisation. The window then grows by those bytes too
//!   (they get acked), which a pooled connection's next request inherits.
//! - A flow whose share binds instead is link-limited: its window keeps
//!   growing with the ACKs, to twice its in-flight bytes (`2 × rate × RTT`,
//!   as Linux's cwnd validation lets a flow in slow start grow), so a share
//!   that widens later is taken at once up to that window.
//! - Restart after idle: a flow that starts on a connection idle for longer
//!   than the RTO (RTT + 200 ms: Linux's `srtt + max(4·rttvar, rto_min)`
//!   with `rto_min` = 200 ms dominating on a steady path) begins again at IW
//!   (`network.slow_start_after_idle`).
//! - Rates are max-min fair with heterogeneous caps (water-filling):
//!   `min(per-connection cap, cwnd / RTT)` per flow over the shared rate;
//!   the client's token bucket then scales every rate by the same factor.
//!
//! Cost: the state is per active flow, and every event (a finish, a round
//! end, a start) recomputes the rates by iterative water-filling in O(n)
//! per pass (one or two passes as a rule) for n active flows — n is bounded
//! by the client's connections, not the files; slow start adds about
//! log2(share × RTT / IW) round events per fresh or restarted connection.

use super::capacity::Capacity;
use super::link::{Discipline, FlowId};
use crate::time::SimTime;

/// Linux's minimum retransmission timeout.
pub const RTO_MIN: SimTime = SimTime::from_millis(200);

/// The TCP parameters slow start needs.
#[derive(Clone, Copy, Debug)]
pub struct TcpParams {
    pub rtt: SimTime,
    /// Initial window, bytes (segments × MSS).
    pub initial_window_bytes: f64,
    /// Restart from the initial window after an idle period longer than the RTO.
    pub restart_after_idle: bool,
}

impl TcpParams {
    /// The retransmission timeout used for restart after idle: RTT + 200 ms.
    pub fn rto(&self) -> SimTime {
        self.rtt + RTO_MIN
    }
}

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

pub struct SlowStart {
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

impl SlowStart {
    pub fn new(p: TcpParams) -> Self {
        assert!(p.rtt > SimTime::ZERO, "slow start needs a positive RTT (the sim uses processor sharing at RTT 0)");
        SlowStart {
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

    /// A connection's current window, bytes (`None` before its first flow).
    pub fn cwnd(&self, flow: FlowId) -> Option<f64> {
        self.conns.get(flow as usize).and_then(|c| c.map(|c| c.cwnd))
    }
    /// An active flow's rate, bytes/s.
    pub fn rate(&self, flow: FlowId) -> Option<f64> {
        self.pos(flow).map(|i| self.flows[i].rate)
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

impl Discipline for SlowStart {
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
                // A flow that just became window-limited starts a round now.
                if f.round_end <= now {
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
    use super::*;
    use crate::net::{Link, UNLIMITED_BPS};
    use crate::scenario::Scenario;
    use crate::sim::{SimOptions, simulate};

    const IW: f64 = 10.0 * 1448.0;

    fn params(rtt_ms: u64) -> TcpParams {
        TcpParams { rtt: SimTime::from_millis(rtt_ms), initial_window_bytes: IW, restart_after_idle: true }
    }

    /// Closed form of one flow alone on a link of `share_bps` from window
    /// `w0`, while the window binds: full rounds of `w0·2^k` bytes in one
    /// RTT each until the rest fits in the window, then the rest as one
    /// burst at the share.
    fn alone_s(bytes: f64, w0: f64, rtt_s: f64, share_bps: f64) -> f64 {
        let (mut left, mut w, mut t) = (bytes, w0, 0.0);
        while left > w {
            left -= w;
            w *= 2.0;
            t += rtt_s;
        }
        t + left / share_bps
    }

    /// Run flows to the end; returns each flow's finish time.
    fn drive(link: &mut Link<SlowStart>) -> Vec<(FlowId, SimTime)> {
        let mut out = Vec::new();
        let mut fin = Vec::new();
        while let Some(t) = link.next_transition() {
            link.on_transition(t, &mut fin);
            out.extend(fin.drain(..).map(|(f, _)| (f, t)));
        }
        out
    }

    fn close(a: SimTime, b_s: f64) {
        assert!((a.as_secs_f64() - b_s).abs() < 2e-6, "got {a:?}, closed form {b_s} s");
    }

    #[test]
    fn one_fresh_flow_takes_rounds_then_the_last_windows_rate() {
        for (bytes, rtt) in [(1048576.0, 40), (65536.0, 40), (14480.0, 20), (5e6, 100)] {
            let mut l = Link::new(Capacity::new(None, None), SlowStart::new(params(rtt)));
            l.add_flow(SimTime::ZERO, 0, bytes, false);
            let done = drive(&mut l);
            close(done[0].1, alone_s(bytes, IW, rtt as f64 / 1000.0, UNLIMITED_BPS));
            // Slow start grows the window by every byte acked.
            assert!((l.discipline().cwnd(0).unwrap() - (IW + bytes)).abs() < 1e-6);
        }
    }

    #[test]
    fn the_issue_example_1mib_at_40ms_takes_handshake_request_and_7_rounds() {
        let mut s = Scenario::from_json(
            r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1048576}]}]}}"#,
        )
        .unwrap();
        s.server.bandwidth_bps = None;
        s.server.latency_ms = 0.0;
        s.network.rtt_ms = 40.0;
        s.network.handshake_rtts = Some(1);
        let r = simulate(&crate::scenario::Plan::seeded(&s, 1).unwrap(), SimOptions::default());
        // 6 full rounds cover 10·1448·(2^6 − 1) = 912 240 B; the rest
        // (136 336 B) fits in the 7th window and arrives as one burst, at the
        // client CPU's byte rate here (the only bound).
        let rounds = 6.0;
        let rest = 1048576.0 - IW * (2f64.powf(rounds) - 1.0);
        let cpu = &s.client.cpu;
        let cpu_bps =
            cpu.cores as f64 / (cpu.per_byte_ns * 1e-9 + cpu.per_read_us * 1e-6 / s.client.read_size_bytes as f64);
        let expect = 0.040 + 0.040 + rounds * 0.040 + rest / cpu_bps;
        assert!((r.duration.as_secs_f64() - expect).abs() < 1e-3, "{:?} vs {expect}", r.duration);
        // The WAN emulator's closed form for curl: 1 + 7 round trips = 0.320 s.
        assert!((expect - 0.320).abs() < 0.001);
        // Off: one RTT handshake + one RTT request, the body at the client CPU's byte rate (≈ 1 GB/s).
        s.network.slow_start = false;
        let off =
            simulate(&crate::scenario::Plan::seeded(&s, 1).unwrap(), SimOptions::default()).duration.as_secs_f64();
        assert!(off < 0.0801 + 1048576.0 / 5e8, "{off}");
    }

    #[test]
    fn a_window_below_the_share_is_the_rate_and_the_share_caps_it_later() {
        // 1 MB/s, RTT 100 ms: share × RTT = 100 kB; IW/RTT = 144.8 kB/s.
        let rtt = 0.1;
        let rate = 1e6;
        let mut l = Link::new(Capacity::new(Some(rate), None), SlowStart::new(params(100)));
        let bytes = 2e6;
        l.add_flow(SimTime::ZERO, 0, bytes, false);
        // Rounds at IW, 2 IW, 4 IW (57.9 kB/0.1 s = 579 kB/s < 1 MB/s), then 8 IW/RTT > rate.
        let sent = IW * 7.0;
        let expect = 3.0 * rtt + (bytes - sent) / rate;
        close(drive(&mut l)[0].1, expect);
    }

    #[test]
    fn water_filling_gives_the_window_limited_flow_its_window_and_the_rest_to_the_other() {
        let rtt = SimTime::from_millis(100);
        let mut l = Link::new(Capacity::new(Some(1e6), None), SlowStart::new(params(100)));
        // Flow 0 ramps alone for 10 rounds: its window is far above the share.
        l.add_flow(SimTime::ZERO, 0, 1e9, false);
        let t = rtt.times(10);
        let mut fin = Vec::new();
        while l.next_transition().is_some_and(|x| x <= t) {
            let x = l.next_transition().unwrap();
            l.on_transition(x, &mut fin);
        }
        l.add_flow(t, 1, 1e9, false);
        let d = l.discipline();
        let w1 = IW / 0.1;
        assert!((d.rate(1).unwrap() - w1).abs() < 1e-6, "{:?}", d.rate(1));
        assert!((d.rate(0).unwrap() - (1e6 - w1)).abs() < 1e-6, "{:?}", d.rate(0));
    }

    #[test]
    fn a_pooled_connection_keeps_its_window_within_the_rto_and_restarts_after() {
        let rtt_s = 0.040;
        let rto_s = params(40).rto().as_secs_f64();
        assert!((rto_s - 0.240).abs() < 1e-12);
        let bytes = 1048576.0;
        let first = alone_s(bytes, IW, rtt_s, UNLIMITED_BPS);
        for (gap_s, restart) in [(0.100, false), (0.300, true)] {
            let mut l = Link::new(Capacity::new(None, None), SlowStart::new(params(40)));
            l.add_flow(SimTime::ZERO, 0, bytes, false);
            let t1 = drive(&mut l)[0].1;
            let w = l.discipline().cwnd(0).unwrap();
            // Every byte acked grew the window.
            assert!((w - (IW + bytes)).abs() < 1e-6, "cwnd {w}");
            close(t1, first);
            let t2 = t1 + SimTime::from_secs_f64_ceil(gap_s);
            l.add_flow(t2, 0, bytes, false);
            let t3 = drive(&mut l)[0].1;
            let w0 = if restart { IW } else { w };
            close(t3 - t2, alone_s(bytes, w0, rtt_s, UNLIMITED_BPS));
        }
    }
}
