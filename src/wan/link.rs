//! One direction of the emulated path: optional random loss, a bottleneck
//! of `rate_bps` with a drop-tail queue of `queue_bytes`, then a fixed
//! one-way propagation delay — mahimahi's link shell followed by its delay
//! shell (Netravali et al., USENIX ATC 2015), on integer nanoseconds.
//!
//! Pure logic, no clock and no I/O: the relay stamps each packet with its
//! arrival time and asks when it is due. A packet of `L` bytes arriving at
//! `t` starts serialising at `max(t, link free)`, ends `L / rate` later and
//! is delivered `delay` after that. It is dropped at arrival if the bytes
//! still waiting to be serialised plus `L` exceed the queue (drop-tail), or
//! by a loss draw from a ChaCha stream keyed by the run seed and direction.
//! Rates count IP packet bytes (no link-layer framing).

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;

/// One direction's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way propagation delay, ns.
    pub delay_ns: u64,
    /// Bottleneck rate, bytes/s (`None` = no bottleneck, delay only).
    pub rate_bps: Option<f64>,
    /// Drop-tail queue in front of the bottleneck, bytes.
    pub queue_bytes: u64,
    /// Probability that a packet is lost, in [0, 1).
    pub loss: f64,
}

/// What happened to a packet at arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered at this time, ns.
    Due(u64),
    /// The queue was full.
    QueueDrop,
    /// Random loss.
    Lost,
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LinkCounters {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_delivered: u64,
    pub bytes_delivered: u64,
    pub queue_drops: u64,
    pub losses: u64,
    /// Largest backlog seen at an arrival, bytes.
    pub peak_queue_bytes: u64,
}

/// One direction of the path.
#[derive(Debug)]
pub struct Link {
    p: LinkParams,
    loss_rng: ChaCha8Rng,
    /// When the bottleneck finishes the last accepted packet, ns.
    free_at_ns: u64,
    /// Accepted packets not yet fully serialised: (end of serialisation, bytes).
    backlog: VecDeque<(u64, u64)>,
    backlog_bytes: u64,
    /// Packets in flight, in delivery order (due times never decrease).
    in_flight: VecDeque<(u64, Vec<u8>)>,
    counters: LinkCounters,
}

impl Link {
    pub fn new(p: LinkParams, loss_rng: ChaCha8Rng) -> Link {
        Link {
            p,
            loss_rng,
            free_at_ns: 0,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            in_flight: VecDeque::new(),
            counters: LinkCounters::default(),
        }
    }

    /// Serialisation time of `len` bytes, ns.
    fn tx_ns(&self, len: u64) -> u64 {
        self.p.rate_bps.map_or(0, |r| (len as f64 * 1e9 / r).ceil() as u64)
    }

    /// Bytes accepted but not yet serialised at `now_ns`.
    pub fn backlog_bytes(&mut self, now_ns: u64) -> u64 {
        while let Some(&(end, len)) = self.backlog.front() {
            if end > now_ns {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= len;
        }
        self.backlog_bytes
    }

    /// A packet arrives at `now_ns` (times must not decrease).
    pub fn arrive(&mut self, now_ns: u64, packet: Vec<u8>) -> Verdict {
        let len = packet.len() as u64;
        self.counters.packets_in += 1;
        self.counters.bytes_in += len;
        if self.p.loss > 0.0 && self.loss_rng.random::<f64>() < self.p.loss {
            self.counters.losses += 1;
            return Verdict::Lost;
        }
        let backlog = self.backlog_bytes(now_ns);
        self.counters.peak_queue_bytes = self.counters.peak_queue_bytes.max(backlog);
        if self.p.rate_bps.is_some() && backlog + len > self.p.queue_bytes {
            self.counters.queue_drops += 1;
            return Verdict::QueueDrop;
        }
        let end = self.free_at_ns.max(now_ns) + self.tx_ns(len);
        self.free_at_ns = end;
        if self.p.rate_bps.is_some() {
            self.backlog.push_back((end, len));
            self.backlog_bytes += len;
        }
        let due = end + self.p.delay_ns;
        self.in_flight.push_back((due, packet));
        Verdict::Due(due)
    }

    /// When the next packet is due, ns.
    pub fn next_due(&self) -> Option<u64> {
        self.in_flight.front().map(|(d, _)| *d)
    }

    /// The next packet if it is due at `now_ns`, with its due time.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<(u64, Vec<u8>)> {
        if self.next_due()? > now_ns {
            return None;
        }
        let (due, p) = self.in_flight.pop_front()?;
        self.counters.packets_delivered += 1;
        self.counters.bytes_delivered += p.len() as u64;
        Some((due, p))
    }

    pub fn counters(&self) -> LinkCounters {
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn link(delay_ns: u64, rate_bps: Option<f64>, queue_bytes: u64, loss: f64) -> Link {
        Link::new(LinkParams { delay_ns, rate_bps, queue_bytes, loss }, ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn delay_only_delivers_each_packet_delay_after_arrival() {
        let mut l = link(20_000_000, None, 0, 0.0);
        assert_eq!(l.arrive(5, vec![0; 1500]), Verdict::Due(20_000_005));
        assert_eq!(l.arrive(6, vec![0; 40]), Verdict::Due(20_000_006));
        assert!(l.pop_due(20_000_004).is_none());
        assert_eq!(l.pop_due(20_000_006).map(|(d, p)| (d, p.len())), Some((20_000_005, 1500)));
        assert_eq!(l.pop_due(20_000_006).map(|(d, p)| (d, p.len())), Some((20_000_006, 40)));
        assert_eq!(l.next_due(), None);
    }

    #[test]
    fn bottleneck_serialises_back_to_back_and_drops_at_the_tail() {
        // 1500 B at 1.5 MB/s = 1 ms each; queue of 3 packets.
        let (rate, pkt, delay) = (1.5e6, 1500u64, 10_000_000u64);
        let mut l = link(delay, Some(rate), 3 * pkt, 0.0);
        let tx = (pkt as f64 * 1e9 / rate) as u64;
        for i in 0..3u64 {
            assert_eq!(l.arrive(0, vec![0; pkt as usize]), Verdict::Due((i + 1) * tx + delay));
        }
        assert_eq!(l.arrive(0, vec![0; pkt as usize]), Verdict::QueueDrop);
        // After one serialisation time one slot is free again.
        assert_eq!(l.arrive(tx, vec![0; pkt as usize]), Verdict::Due(4 * tx + delay));
        // An idle link starts at the arrival.
        let late = 100 * tx;
        assert_eq!(l.arrive(late, vec![0; pkt as usize]), Verdict::Due(late + tx + delay));
        let c = l.counters();
        assert_eq!((c.packets_in, c.queue_drops, c.peak_queue_bytes), (6, 1, 3 * pkt));
    }

    #[test]
    fn loss_rate_matches_its_probability_and_its_seed() {
        let n = 20_000u64;
        let mut a = link(0, None, 0, 0.1);
        let mut b = link(0, None, 0, 0.1);
        let va: Vec<_> = (0..n).map(|t| a.arrive(t, vec![0; 100])).collect();
        let vb: Vec<_> = (0..n).map(|t| b.arrive(t, vec![0; 100])).collect();
        assert_eq!(va, vb, "same stream, same decisions");
        let lost = a.counters().losses as f64;
        // Binomial(n, 0.1): 5 standard deviations.
        let sd = (n as f64 * 0.1 * 0.9).sqrt();
        assert!((lost - 0.1 * n as f64).abs() < 5.0 * sd, "lost {lost} of {n}");
    }
}
