//! The network model of the sim runtime: the server link (one [`Link`] over
//! a shared [`Capacity`] — server rate, per-connection cap, the client's
//! token bucket and CPU — with a sharing [`Discipline`]: processor sharing
//! or round-robin turns, or processor sharing under TCP slow start's
//! per-connection windows) and the fixed costs of requests and handshakes.
//!
//! It knows nothing of queues, pools or retries, nor of what the server
//! decides (that is [`crate::server`]): the sim runtime asks it "when does
//! this request's first byte arrive" and lets the [`Link`] move the bodies.

mod capacity;
mod cpu;
mod flowset;
mod limiter;
mod link;
mod minset;
mod ps;
mod rr;
mod slowstart;
#[cfg(test)]
mod slowstart_reference;

pub use capacity::{Capacity, Change};
pub use cpu::Cpu;
pub use limiter::TokenBucket;
pub use link::{Discipline, FlowId, Link, UNLIMITED_BPS};
pub use ps::ProcessorSharing;
pub use rr::RoundRobin;
pub use slowstart::{CUBIC_BETA, CUBIC_C, MIN_QUEUE_BYTES, RTO_MIN, SlowStart, TcpParams};

use crate::scenario::Scenario;
use crate::time::SimTime;

/// Fixed costs of the path, derived from a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Costs {
    pub rtt: SimTime,
    /// Opening a connection: `handshake_rtts × RTT` + client connect overhead.
    pub handshake: SimTime,
    /// Request sent → first byte: client request overhead + RTT + server latency.
    pub first_byte: SimTime,
    /// Per-connection cap, bytes/s (explicit, or TCP window / RTT; the smaller).
    pub cap_bps: Option<f64>,
    /// Client CPU-seconds per new connection (`client.cpu.per_connection_us`).
    pub cpu_per_connection_s: f64,
    /// Client CPU-seconds per request: `per_request_us` + one `per_read_us`
    /// (the response head's read).
    pub cpu_per_request_s: f64,
    /// Client CPU-seconds per body byte: `per_byte_ns` + `per_read_us` / read size.
    pub cpu_per_byte_s: f64,
}

impl Costs {
    pub fn of(s: &Scenario) -> Costs {
        let n = &s.network;
        let rtt = SimTime::from_millis_f64(n.rtt_ms);
        let window_cap = n.tcp_window_bytes.map(|w| w as f64 / (n.rtt_ms / 1000.0));
        let cap_bps = match (n.per_connection_bps, window_cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let cpu = &s.client.cpu;
        Costs {
            rtt,
            handshake: rtt.times(s.handshake_rtts() as u64) + SimTime::from_millis_f64(n.connect_overhead_ms),
            first_byte: SimTime::from_millis_f64(n.request_overhead_ms)
                + rtt
                + SimTime::from_millis_f64(s.server.latency_ms),
            cap_bps,
            cpu_per_connection_s: cpu.per_connection_us * 1e-6,
            cpu_per_request_s: (cpu.per_request_us + cpu.per_read_us) * 1e-6,
            cpu_per_byte_s: cpu.per_byte_ns * 1e-9 + cpu.per_read_us * 1e-6 / s.client.read_size_bytes.max(1) as f64,
        }
    }
}

impl TcpParams {
    /// Slow start's parameters for a scenario, or `None` when it is off
    /// (`network.slow_start: false`) or meaningless (RTT 0: the window
    /// never limits).
    pub fn of(s: &Scenario) -> Option<TcpParams> {
        let n = &s.network;
        // An RTT below half a nanosecond is 0 here too.
        let rtt = SimTime::from_millis_f64(n.rtt_ms);
        (n.slow_start && rtt > SimTime::ZERO).then(|| TcpParams {
            rtt,
            initial_window_bytes: n.initial_window_segments as f64 * n.mss_bytes as f64,
            restart_after_idle: n.slow_start_after_idle,
            queue_bytes: n.queue_bytes.map(|q| q as f64),
            mss_bytes: n.mss_bytes as f64,
            loss: true,
            hystart_delay: n.hystart_delay,
        })
    }
}

impl Capacity {
    /// The capacity of a scenario's server link: `server.bandwidth_bps`, the
    /// per-connection cap, `client.bandwidth_limit` and `client.cpu`. A CPU
    /// that nothing costs (no work per byte, request or connection) is left
    /// out: it would allow every rate, never change and spend 0 CPU-seconds,
    /// as no CPU does — and the link would still look at it at every event.
    pub fn of(s: &Scenario, costs: &Costs) -> Capacity {
        let mut c = Capacity::new(s.server.bandwidth_bps, costs.cap_bps);
        // `Link::add_cpu_work` skips work of `secs <= 0.0`, so not NaN.
        let queues_work = |secs: f64| secs.is_nan() || secs > 0.0;
        let costs_nothing = costs.cpu_per_byte_s == 0.0
            && !queues_work(costs.cpu_per_request_s)
            && !queues_work(costs.cpu_per_connection_s);
        if !costs_nothing {
            c = c.with_cpu(Cpu::new(s.client.cpu.cores as f64, costs.cpu_per_byte_s));
        }
        if let Some(l) = &s.client.bandwidth_limit {
            c = c.with_bucket(TokenBucket::new(l.rate_bps, l.burst(), l.start_full));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_add_rtt_latency_and_handshake() {
        let mut s =
            Scenario::from_json(r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1}]}]}}"#)
                .unwrap();
        s.network.rtt_ms = 20.0;
        s.network.handshake_rtts = Some(1);
        s.server.latency_ms = 50.0;
        s.network.tcp_window_bytes = Some(1 << 20);
        s.network.per_connection_bps = Some(1e9);
        let c = Costs::of(&s);
        assert_eq!(c.handshake, SimTime::from_millis(20));
        assert_eq!(c.first_byte, SimTime::from_millis(70));
        assert_eq!(c.cap_bps, Some((1u64 << 20) as f64 / 0.02));
    }
}
