//! The capacity every sharing discipline divides: the server's egress rate,
//! the per-connection cap, the client's token bucket and the client's CPU.
//!
//! A discipline asks for [`Capacity::shared_bps`] (the aggregate the server
//! and the CPU allow), [`Capacity::cap_bps`] (each flow's bound) and passes
//! its demand through [`Capacity::limit`] (the bucket). The capacity changes
//! state at two kinds of instants, which the link splits its spans at: the
//! bucket empties, and the CPU's fixed-work backlog that slowed the bytes is
//! done.

use super::cpu::Cpu;
use super::limiter::TokenBucket;
use super::link::UNLIMITED_BPS;

/// A change of the capacity's state within a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    BucketEmpties,
    CpuBacklogDone,
}

#[derive(Clone, Debug)]
pub struct Capacity {
    server_bps: f64,
    cap_bps: f64,
    bucket: Option<TokenBucket>,
    cpu: Option<Cpu>,
}

impl Capacity {
    /// `None` = unlimited (stands for [`UNLIMITED_BPS`]).
    pub fn new(server_bps: Option<f64>, cap_bps: Option<f64>) -> Self {
        Capacity {
            server_bps: server_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            cap_bps: cap_bps.unwrap_or(UNLIMITED_BPS).min(UNLIMITED_BPS),
            bucket: None,
            cpu: None,
        }
    }
    pub fn with_bucket(mut self, bucket: TokenBucket) -> Self {
        self.bucket = Some(bucket);
        self
    }
    pub fn with_cpu(mut self, cpu: Cpu) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Aggregate the server and the client's CPU allow, bytes/s.
    pub fn shared_bps(&self) -> f64 {
        match &self.cpu {
            Some(c) => self.server_bps.min(c.bytes_bps()),
            None => self.server_bps,
        }
    }
    /// The server's egress rate, bytes/s ([`UNLIMITED_BPS`] without one).
    pub fn server_bps(&self) -> f64 {
        self.server_bps
    }
    /// Bound of each flow, bytes/s.
    pub fn cap_bps(&self) -> f64 {
        self.cap_bps
    }
    pub fn has_bucket(&self) -> bool {
        self.bucket.is_some()
    }
    pub fn bucket_empty(&self) -> bool {
        self.bucket.is_some_and(|b| b.empty)
    }
    pub fn cpu(&self) -> Option<&Cpu> {
        self.cpu.as_ref()
    }
    pub(super) fn cpu_mut(&mut self) -> Option<&mut Cpu> {
        self.cpu.as_mut()
    }

    /// Aggregate the bucket allows for `demand_bps` (the demand itself
    /// without a bucket).
    pub fn limit(&mut self, demand_bps: f64) -> f64 {
        match &mut self.bucket {
            // With no flow the demand is 0: an empty bucket refills.
            Some(b) => b.allowed(demand_bps),
            None => demand_bps,
        }
    }

    /// The next change within the span at aggregate `aggregate_bps`, in seconds.
    pub fn next_change(&self, aggregate_bps: f64) -> Option<(f64, Change)> {
        let empty =
            self.bucket.as_ref().and_then(|b| b.secs_to_empty(aggregate_bps)).map(|s| (s, Change::BucketEmpties));
        let done = self.cpu.as_ref().and_then(Cpu::secs_to_clear).map(|s| (s, Change::CpuBacklogDone));
        match (empty, done) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Neither a bucket nor a working CPU ([`Cpu::is_inert`]): no change is
    /// due, [`Self::step`] changes nothing and a CPU split leaves it so.
    pub fn is_inert(&self) -> bool {
        self.bucket.is_none() && self.cpu.as_ref().is_none_or(Cpu::is_inert)
    }

    /// Reach `change` exactly (its time was rounded).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::BucketEmpties => self.bucket.as_mut().expect("only a bucket empties").set_empty(),
            Change::CpuBacklogDone => self.cpu.as_mut().expect("only a CPU has a backlog").set_clear(),
        }
    }

    /// Account `dt` seconds at aggregate `aggregate_bps`.
    pub fn step(&mut self, dt: f64, aggregate_bps: f64) {
        if let Some(b) = &mut self.bucket {
            b.step(dt, aggregate_bps);
        }
        if let Some(c) = &mut self.cpu {
            c.step(dt, aggregate_bps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A full bucket of 1e6 B filling at 1e5 B/s, drained at 1.1e6 B/s,
    /// empties in 1e6 / (1.1e6 − 1e5) = 1 s. One core at 1e-8 s/B: one flow
    /// at 1e8 B/s leaves no spare core, so 0.1 CPU-s of fixed work gets a
    /// share of 1 / (1 + 1) = 0.5 core and slows the bytes; it is done in
    /// 0.1 / 0.5 = 0.2 s.
    fn both(work_s: f64) -> Capacity {
        let mut cpu = Cpu::new(1.0, 1e-8);
        cpu.add_work(work_s);
        assert!(cpu.split(1, 1e8), "the backlog slows the bytes");
        Capacity::new(None, None).with_bucket(TokenBucket::new(1e5, 1e6, true)).with_cpu(cpu)
    }

    #[test]
    fn the_first_of_two_changes_comes_first() {
        let (s, change) = both(0.1).next_change(1.1e6).expect("both change");
        assert_eq!(change, Change::CpuBacklogDone);
        assert!((s - 0.2).abs() < 1e-12, "{s}");
        // 1 CPU-s of work takes 2 s: now the bucket empties first, at 1 s.
        let (s, change) = both(1.0).next_change(1.1e6).expect("both change");
        assert_eq!(change, Change::BucketEmpties);
        assert!((s - 1.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn one_change_alone_is_the_next() {
        let bucket = Capacity::new(None, None).with_bucket(TokenBucket::new(1e5, 1e6, true));
        assert_eq!(bucket.next_change(1.1e6), Some((1.0, Change::BucketEmpties)));
        // At or below the fill rate the bucket never empties.
        assert_eq!(bucket.next_change(1e5), None);
        let mut cpu = Cpu::new(1.0, 1e-8);
        cpu.add_work(0.1);
        cpu.split(1, 1e8);
        let c = Capacity::new(None, None).with_cpu(cpu);
        assert_eq!(c.next_change(1e8).map(|(_, ch)| ch), Some(Change::CpuBacklogDone));
    }
}
