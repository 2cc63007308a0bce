//! The network model of the sim runtime: the server link (max-min fair,
//! processor-sharing fluid with the client's token bucket) and the fixed
//! costs of requests and handshakes.
//!
//! It knows nothing of queues, pools or retries, nor of what the server
//! decides (that is [`crate::server`]): the sim runtime asks it "when does
//! this request's first byte arrive" and lets the [`Link`] move the bodies.

mod limiter;
mod link;
mod rr;

pub use limiter::TokenBucket;
pub use link::{FlowId, Link, UNLIMITED_BPS};
pub use rr::RoundRobinLink;

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
        Costs {
            rtt,
            handshake: rtt.times(n.handshake_rtts as u64) + SimTime::from_millis_f64(n.connect_overhead_ms),
            first_byte: SimTime::from_millis_f64(n.request_overhead_ms)
                + rtt
                + SimTime::from_millis_f64(s.server.latency_ms),
            cap_bps,
        }
    }
}

/// The server link of a scenario: fluid processor sharing, or round-robin
/// turns of `server.write_quantum_bytes`.
pub enum ServerLink {
    Fluid(Link),
    RoundRobin(RoundRobinLink),
}

macro_rules! delegate {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            ServerLink::Fluid($l) => $e,
            ServerLink::RoundRobin($l) => $e,
        }
    };
}

impl ServerLink {
    pub fn of(s: &Scenario, costs: &Costs) -> ServerLink {
        let bucket = s.client.bandwidth_limit.as_ref().map(|l| (l.rate_bps, l.burst()));
        match s.server.write_quantum_bytes {
            Some(q) => ServerLink::RoundRobin(RoundRobinLink::new(s.server.bandwidth_bps, costs.cap_bps, bucket, q)),
            None => ServerLink::Fluid(Link::new(s.server.bandwidth_bps, costs.cap_bps, bucket)),
        }
    }
    pub fn advance(&mut self, now: SimTime) {
        delegate!(self, l => l.advance(now))
    }
    /// Bytes served per active flow since the start (processor-sharing equivalent).
    pub fn v(&self) -> f64 {
        delegate!(self, l => l.v())
    }
    pub fn add_flow(&mut self, now: SimTime, flow: FlowId, bytes: f64) {
        delegate!(self, l => l.add_flow(now, flow, bytes))
    }
    pub fn abort_flow(&mut self, now: SimTime, flow: FlowId) -> f64 {
        delegate!(self, l => l.abort_flow(now, flow))
    }
    pub fn is_active(&self, flow: FlowId) -> bool {
        delegate!(self, l => l.is_active(flow))
    }
    pub fn next_transition(&self) -> Option<SimTime> {
        delegate!(self, l => l.next_transition())
    }
    pub fn on_transition(&mut self, now: SimTime, finished: &mut Vec<(FlowId, f64)>) {
        delegate!(self, l => l.on_transition(now, finished))
    }
    pub fn total_delivered(&self) -> f64 {
        delegate!(self, l => l.total_delivered())
    }
    pub fn limited_time(&self) -> SimTime {
        delegate!(self, l => l.limited_time())
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
        s.network.handshake_rtts = 1;
        s.server.latency_ms = 50.0;
        s.network.tcp_window_bytes = Some(1 << 20);
        s.network.per_connection_bps = Some(1e9);
        let c = Costs::of(&s);
        assert_eq!(c.handshake, SimTime::from_millis(20));
        assert_eq!(c.first_byte, SimTime::from_millis(70));
        assert_eq!(c.cap_bps, Some((1u64 << 20) as f64 / 0.02));
    }
}
