//! The keep-alive connection pool of one host.
//!
//! Idle connections are kept on a LIFO stack up to `size`. With
//! `block = false` (the original, like urllib3's `pool_block=False`) a
//! requester that finds no idle connection opens a new one even beyond
//! `size`, and a connection released into a full pool is discarded
//! ("overflow"). With `block = true` at most `size` connections exist and
//! requesters wait. `max_connections_per_host` caps connections in use or
//! opening. Idle connections older than `idle_timeout` and connections that
//! served `max_requests_per_connection` requests are never reused.

use crate::scenario::Pool as PoolCfg;
use crate::time::SimTime;

pub type ConnId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    Opening,
    Busy,
    Idle,
    Closed,
}

#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub state: ConnState,
    /// Requests sent on this connection.
    pub requests: u32,
    pub idle_since: SimTime,
}

/// Outcome of [`ConnPool::acquire`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// An idle connection, now busy.
    Reuse(ConnId),
    /// A new connection, now opening: send `Open` and wait for it.
    Open(ConnId),
    /// No connection may be had now: wait for a release.
    Wait,
}

/// Why a connection was closed by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The pool was full when it was released (`block = false`).
    Overflow,
    IdleTimeout,
    MaxRequests,
    /// Broken (reset, timeout) or closed by the server.
    Dead,
    /// Aborted because its file failed.
    Aborted,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub hits: u64,
    pub misses: u64,
    pub opened: u64,
    pub overflow_discarded: u64,
    pub idle_expired: u64,
    pub retired_max_requests: u64,
    pub peak_open: u32,
}

pub struct ConnPool {
    cfg: PoolCfg,
    idle_timeout: SimTime,
    host_limit: Option<u32>,
    conns: Vec<Conn>,
    idle: Vec<ConnId>,
    opening: u32,
    busy: u32,
    pub stats: PoolStats,
}

impl ConnPool {
    pub fn new(cfg: PoolCfg, host_limit: Option<u32>) -> Self {
        ConnPool {
            idle_timeout: SimTime::from_secs_f64_ceil(cfg.idle_timeout_s),
            cfg,
            host_limit,
            conns: Vec::new(),
            idle: Vec::new(),
            opening: 0,
            busy: 0,
            stats: PoolStats::default(),
        }
    }

    pub fn conn(&self, id: ConnId) -> &Conn {
        &self.conns[id as usize]
    }
    pub fn idle_count(&self) -> u32 {
        self.idle.len() as u32
    }
    /// Connections opening or busy.
    pub fn in_use(&self) -> u32 {
        self.opening + self.busy
    }
    pub fn open_count(&self) -> u32 {
        self.in_use() + self.idle_count()
    }

    fn usable(&self, c: &Conn, now: SimTime) -> bool {
        c.requests < self.cfg.max_requests_per_connection && now - c.idle_since <= self.idle_timeout
    }

    fn set_state(&mut self, id: ConnId, to: ConnState) {
        let c = &mut self.conns[id as usize];
        match c.state {
            ConnState::Opening => self.opening -= 1,
            ConnState::Busy => self.busy -= 1,
            ConnState::Idle | ConnState::Closed => {}
        }
        match to {
            ConnState::Opening => self.opening += 1,
            ConnState::Busy => self.busy += 1,
            ConnState::Idle | ConnState::Closed => {}
        }
        c.state = to;
    }

    /// Get a connection for one request. Stale idle connections met on the
    /// way are closed and pushed to `closed`.
    pub fn acquire(&mut self, now: SimTime, closed: &mut Vec<(ConnId, CloseReason)>) -> Acquire {
        while let Some(id) = self.idle.pop() {
            let c = self.conns[id as usize];
            if self.usable(&c, now) {
                self.set_state(id, ConnState::Busy);
                self.stats.hits += 1;
                return Acquire::Reuse(id);
            }
            let reason = if c.requests >= self.cfg.max_requests_per_connection {
                self.stats.retired_max_requests += 1;
                CloseReason::MaxRequests
            } else {
                self.stats.idle_expired += 1;
                CloseReason::IdleTimeout
            };
            self.set_state(id, ConnState::Closed);
            closed.push((id, reason));
        }
        let host_full = self.host_limit.is_some_and(|l| self.in_use() >= l);
        let pool_full = self.cfg.block && self.open_count() >= self.cfg.size;
        if host_full || pool_full {
            return Acquire::Wait;
        }
        let id = self.conns.len() as ConnId;
        self.conns.push(Conn { state: ConnState::Closed, requests: 0, idle_since: now });
        self.set_state(id, ConnState::Opening);
        self.stats.misses += 1;
        self.stats.opened += 1;
        self.stats.peak_open = self.stats.peak_open.max(self.open_count());
        Acquire::Open(id)
    }

    /// A connection finished opening; it is busy for its requester.
    pub fn opened(&mut self, id: ConnId) {
        debug_assert_eq!(self.conns[id as usize].state, ConnState::Opening);
        self.set_state(id, ConnState::Busy);
    }

    /// Count a request sent on a busy connection.
    pub fn note_request(&mut self, id: ConnId) {
        self.conns[id as usize].requests += 1;
    }

    /// Return a busy (or just-opened) connection. `alive = false` closes it.
    /// Returns the close reason if it was not kept.
    pub fn release(&mut self, now: SimTime, id: ConnId, alive: bool) -> Option<CloseReason> {
        let c = self.conns[id as usize];
        debug_assert!(matches!(c.state, ConnState::Busy | ConnState::Opening));
        let reason = if !alive {
            Some(CloseReason::Dead)
        } else if c.requests >= self.cfg.max_requests_per_connection {
            self.stats.retired_max_requests += 1;
            Some(CloseReason::MaxRequests)
        } else if self.idle_count() >= self.cfg.size {
            self.stats.overflow_discarded += 1;
            Some(CloseReason::Overflow)
        } else {
            None
        };
        match reason {
            Some(_) => self.set_state(id, ConnState::Closed),
            None => {
                self.set_state(id, ConnState::Idle);
                self.conns[id as usize].idle_since = now;
                self.idle.push(id);
            }
        }
        reason
    }

    /// Close a busy or opening connection at once (abort).
    pub fn close(&mut self, id: ConnId) {
        if self.conns[id as usize].state != ConnState::Closed {
            debug_assert_ne!(self.conns[id as usize].state, ConnState::Idle);
            self.set_state(id, ConnState::Closed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(size: u32, block: bool) -> PoolCfg {
        PoolCfg { size, block, idle_timeout_s: 10.0, max_requests_per_connection: 3 }
    }

    #[test]
    fn overflow_connections_are_discarded_when_not_blocking() {
        let mut p = ConnPool::new(cfg(1, false), None);
        let mut closed = vec![];
        let t = SimTime::ZERO;
        assert_eq!(p.acquire(t, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(t, &mut closed), Acquire::Open(1));
        p.opened(0);
        p.opened(1);
        assert_eq!(p.release(t, 0, true), None);
        assert_eq!(p.release(t, 1, true), Some(CloseReason::Overflow));
        assert_eq!(p.acquire(t, &mut closed), Acquire::Reuse(0));
        assert_eq!(p.stats.overflow_discarded, 1);
        assert_eq!((p.stats.hits, p.stats.misses), (1, 2));
    }

    #[test]
    fn blocking_pool_makes_requesters_wait() {
        let mut p = ConnPool::new(cfg(1, true), None);
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Wait);
    }

    #[test]
    fn stale_and_worn_out_connections_are_not_reused() {
        let mut p = ConnPool::new(cfg(5, false), None);
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Open(0));
        p.opened(0);
        p.release(SimTime::ZERO, 0, true);
        // 11 s idle > 10 s timeout.
        assert_eq!(p.acquire(SimTime::from_secs(11), &mut closed), Acquire::Open(1));
        assert_eq!(closed, vec![(0, CloseReason::IdleTimeout)]);
        p.opened(1);
        for _ in 0..3 {
            p.note_request(1);
        }
        assert_eq!(p.release(SimTime::from_secs(11), 1, true), Some(CloseReason::MaxRequests));
    }

    #[test]
    fn host_limit_caps_connections_in_use() {
        let mut p = ConnPool::new(cfg(5, false), Some(1));
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Wait);
        p.opened(0);
        p.release(SimTime::ZERO, 0, true);
        assert_eq!(p.acquire(SimTime::ZERO, &mut closed), Acquire::Reuse(0));
    }

    /// A plain model of the pool: states in a Vec, idle ids on a stack.
    struct Reference {
        cfg: PoolCfg,
        timeout: SimTime,
        host: Option<u32>,
        conns: Vec<(ConnState, u32, SimTime)>,
        idle: Vec<ConnId>,
        stats: PoolStats,
    }

    impl Reference {
        fn in_use(&self) -> u32 {
            self.conns.iter().filter(|c| matches!(c.0, ConnState::Opening | ConnState::Busy)).count() as u32
        }
        fn acquire(&mut self, now: SimTime, closed: &mut Vec<(ConnId, CloseReason)>) -> Acquire {
            while let Some(id) = self.idle.pop() {
                let (_, requests, since) = self.conns[id as usize];
                let worn = requests >= self.cfg.max_requests_per_connection;
                if !worn && now.as_nanos() - since.as_nanos() <= self.timeout.as_nanos() {
                    self.conns[id as usize].0 = ConnState::Busy;
                    self.stats.hits += 1;
                    return Acquire::Reuse(id);
                }
                self.conns[id as usize].0 = ConnState::Closed;
                if worn {
                    self.stats.retired_max_requests += 1;
                    closed.push((id, CloseReason::MaxRequests));
                } else {
                    self.stats.idle_expired += 1;
                    closed.push((id, CloseReason::IdleTimeout));
                }
            }
            let in_use = self.in_use();
            if self.host.is_some_and(|l| in_use >= l) || (self.cfg.block && in_use >= self.cfg.size) {
                return Acquire::Wait;
            }
            self.conns.push((ConnState::Opening, 0, now));
            self.stats.misses += 1;
            self.stats.opened += 1;
            self.stats.peak_open = self.stats.peak_open.max(in_use + 1);
            Acquire::Open(self.conns.len() as ConnId - 1)
        }
        fn release(&mut self, now: SimTime, id: ConnId, alive: bool) -> Option<CloseReason> {
            let c = &mut self.conns[id as usize];
            let reason = if !alive {
                Some(CloseReason::Dead)
            } else if c.1 >= self.cfg.max_requests_per_connection {
                self.stats.retired_max_requests += 1;
                Some(CloseReason::MaxRequests)
            } else if self.idle.len() as u32 >= self.cfg.size {
                self.stats.overflow_discarded += 1;
                Some(CloseReason::Overflow)
            } else {
                None
            };
            if reason.is_some() {
                c.0 = ConnState::Closed;
            } else {
                *c = (ConnState::Idle, c.1, now);
                self.idle.push(id);
            }
            reason
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The pool agrees with the plain model on every decision and counter.
        #[test]
        fn pool_matches_a_plain_reference(
            size in 0u32..4,
            block in any::<bool>(),
            idle_ms in 0u64..30,
            max_requests in 1u32..4,
            host in prop::option::of(1u32..4),
            ops in prop::collection::vec((0u8..5, any::<prop::sample::Index>(), any::<bool>(), 0u64..20), 1..60),
        ) {
            let cfg = PoolCfg { size: if block { size.max(1) } else { size }, block, idle_timeout_s: idle_ms as f64 / 1000.0, max_requests_per_connection: max_requests };
            let mut p = ConnPool::new(cfg.clone(), host);
            let mut r = Reference { timeout: SimTime::from_millis(idle_ms), cfg, host, conns: vec![], idle: vec![], stats: PoolStats::default() };
            let mut now = SimTime::ZERO;
            for (op, pick, alive, dt) in ops {
                now += SimTime::from_millis(dt);
                let with = |st: ConnState| -> Vec<ConnId> { (0..r.conns.len() as ConnId).filter(|i| r.conns[*i as usize].0 == st).collect() };
                let (opening, busy) = (with(ConnState::Opening), with(ConnState::Busy));
                match op {
                    0 => {
                        let (mut a, mut b) = (vec![], vec![]);
                        prop_assert_eq!(p.acquire(now, &mut a), r.acquire(now, &mut b));
                        prop_assert_eq!(a, b);
                    }
                    1 if !opening.is_empty() => {
                        let id = opening[pick.index(opening.len())];
                        p.opened(id);
                        r.conns[id as usize].0 = ConnState::Busy;
                    }
                    2 if !busy.is_empty() => {
                        let id = busy[pick.index(busy.len())];
                        p.note_request(id);
                        r.conns[id as usize].1 += 1;
                    }
                    3 if !busy.is_empty() => {
                        let id = busy[pick.index(busy.len())];
                        prop_assert_eq!(p.release(now, id, alive), r.release(now, id, alive));
                    }
                    4 if !busy.is_empty() || !opening.is_empty() => {
                        let held: Vec<ConnId> = busy.iter().chain(&opening).copied().collect();
                        let id = held[pick.index(held.len())];
                        p.close(id);
                        r.conns[id as usize].0 = ConnState::Closed;
                    }
                    _ => {}
                }
                prop_assert_eq!(&p.stats, &r.stats);
                prop_assert_eq!(p.idle_count(), r.idle.len() as u32);
                prop_assert_eq!(p.in_use(), r.in_use());
                prop_assert_eq!(p.open_count(), r.in_use() + r.idle.len() as u32);
                for (i, c) in r.conns.iter().enumerate() {
                    let got = p.conn(i as ConnId);
                    prop_assert_eq!((got.state, got.requests), (c.0, c.1));
                }
            }
        }
    }
}
