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
//!
//! Each connection has an owner. With `scope = shared` every requester is
//! owner 0; with `per_worker` each download worker is an owner with its own
//! idle stack of up to `size` connections (the original's one
//! `requests.Session` per worker thread): a worker never reuses another's
//! idle connection. The per-host limit counts all owners.
//!
//! A second host, the CDN a redirect points to, is a second set of owners:
//! with `client.metadata.redirect_min_bytes` set the core asks for owner
//! `2 × owner` on the origin and `2 × owner + 1` on the CDN
//! ([`super::preamble::host`]), so neither host reuses the other's
//! connections; the per-host limit then counts both hosts together.

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
    /// The requester whose pool it belongs to (0 in a shared pool).
    pub owner: u32,
    /// Requests sent on this connection.
    pub requests: u32,
    pub idle_since: SimTime,
    /// What the pool's user holds it for ([`ConnPool::holder`]), or
    /// [`NO_HOLDER`]; kept here so a connection's record is one place.
    holder: u32,
}

/// [`Conn::holder`] of a connection its user holds for nothing.
const NO_HOLDER: u32 = u32::MAX;

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
    /// Idle stacks, one per owner.
    idle: Vec<Vec<ConnId>>,
    idle_total: u32,
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
            idle_total: 0,
            opening: 0,
            busy: 0,
            stats: PoolStats::default(),
        }
    }

    /// Heap bytes held (grows with connections opened).
    pub fn heap_bytes(&self) -> usize {
        self.conns.capacity() * std::mem::size_of::<Conn>()
            + self.idle.iter().map(|v| v.capacity() * 4).sum::<usize>()
            + self.idle.capacity() * std::mem::size_of::<Vec<ConnId>>()
    }

    #[inline]
    pub fn conn(&self, id: ConnId) -> &Conn {
        &self.conns[id as usize]
    }
    /// What the pool's user holds connection `id` for (the core: the
    /// segment using it, opening or busy), if anything; `None` for an id
    /// the pool never gave.
    #[inline(always)]
    pub fn holder(&self, id: ConnId) -> Option<u32> {
        self.conns.get(id as usize).map(|c| c.holder).filter(|h| *h != NO_HOLDER)
    }
    /// Set [`Self::holder`] of a connection the pool gave (`h` below `u32::MAX`).
    #[inline(always)]
    pub fn set_holder(&mut self, id: ConnId, h: Option<u32>) {
        debug_assert!(h != Some(NO_HOLDER));
        self.conns[id as usize].holder = h.unwrap_or(NO_HOLDER);
    }
    /// Idle connections of all owners.
    #[inline]
    pub fn idle_count(&self) -> u32 {
        self.idle_total
    }
    /// Idle connections of `owner`.
    #[inline]
    pub fn idle_of(&self, owner: u32) -> u32 {
        self.idle.get(owner as usize).map_or(0, |v| v.len() as u32)
    }

    #[inline(always)]
    fn stack(&mut self, owner: u32) -> &mut Vec<ConnId> {
        let i = owner as usize;
        if self.idle.len() <= i {
            self.grow_stacks(i + 1);
        }
        &mut self.idle[i]
    }
    /// [`Self::stack`] of a new owner: idle stacks up to `n` owners.
    #[cold]
    #[inline(never)]
    fn grow_stacks(&mut self, n: usize) {
        self.idle.resize_with(n, Vec::new);
    }
    /// Connections opening or busy.
    pub fn in_use(&self) -> u32 {
        self.opening + self.busy
    }
    #[inline]
    pub fn open_count(&self) -> u32 {
        self.in_use() + self.idle_count()
    }

    #[inline(always)]
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

    /// Get a connection of `owner`'s pool for one request. Stale idle
    /// connections met on the way are closed and pushed to `closed`.
    #[inline]
    pub fn acquire(&mut self, now: SimTime, owner: u32, closed: &mut Vec<(ConnId, CloseReason)>) -> Acquire {
        // The per-host limit binds reuse too: another worker's connections may
        // fill it while this one's idle connection waits.
        if self.host_limit.is_some_and(|l| self.in_use() >= l) {
            return Acquire::Wait;
        }
        while let Some(id) = self.stack(owner).pop() {
            self.idle_total -= 1;
            let c = &mut self.conns[id as usize];
            debug_assert_eq!(c.state, ConnState::Idle, "only idle connections are stacked");
            if c.requests < self.cfg.max_requests_per_connection && now - c.idle_since <= self.idle_timeout {
                // [`Self::set_state`] from idle to busy, with the one borrow.
                c.state = ConnState::Busy;
                self.busy += 1;
                self.stats.hits += 1;
                return Acquire::Reuse(id);
            }
            let c = *c;
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
        let pool_full = self.cfg.block && self.open_count() >= self.cfg.size;
        if pool_full {
            return Acquire::Wait;
        }
        let id = self.conns.len() as ConnId;
        self.conns.push(Conn { state: ConnState::Closed, owner, requests: 0, idle_since: now, holder: NO_HOLDER });
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
    #[inline]
    pub fn note_request(&mut self, id: ConnId) {
        self.conns[id as usize].requests += 1;
    }

    /// Return a busy (or just-opened) connection. `alive = false` closes it.
    /// Returns the close reason if it was not kept.
    #[inline(always)]
    pub fn release(&mut self, now: SimTime, id: ConnId, alive: bool) -> Option<CloseReason> {
        let c = &mut self.conns[id as usize];
        debug_assert!(matches!(c.state, ConnState::Busy | ConnState::Opening));
        let owner = c.owner;
        let reason = if !alive {
            Some(CloseReason::Dead)
        } else if c.requests >= self.cfg.max_requests_per_connection {
            self.stats.retired_max_requests += 1;
            Some(CloseReason::MaxRequests)
        } else if self.idle.get(owner as usize).map_or(0, |v| v.len() as u32) >= self.cfg.size {
            self.stats.overflow_discarded += 1;
            Some(CloseReason::Overflow)
        } else {
            None
        };
        // [`Self::set_state`] from busy or opening, with the one borrow.
        match c.state {
            ConnState::Opening => self.opening -= 1,
            ConnState::Busy => self.busy -= 1,
            ConnState::Idle | ConnState::Closed => {}
        }
        match reason {
            Some(_) => c.state = ConnState::Closed,
            None => {
                c.state = ConnState::Idle;
                c.idle_since = now;
                self.stack(owner).push(id);
                self.idle_total += 1;
            }
        }
        reason
    }

    /// Whether [`Self::release`] of busy `id` with `alive = true` would keep
    /// it idle (neither worn out nor overflowing its owner's idle stack).
    #[inline(always)]
    pub fn keeps(&self, id: ConnId) -> bool {
        let c = &self.conns[id as usize];
        debug_assert_eq!(c.state, ConnState::Busy);
        c.requests < self.cfg.max_requests_per_connection && self.idle_of(c.owner) < self.cfg.size
    }

    /// [`Self::release`] of busy `id` (alive, [`Self::keeps`] it) followed
    /// at once, at the same `now`, by [`Self::acquire`] of its owner and
    /// [`Self::note_request`] of the request sent on it, in one step: the
    /// acquire reuses the connection just stacked (it tops its owner's
    /// stack, fresh and not worn out, and the per-host limit cannot bind:
    /// connections in use never exceed it, and the release freed one). The
    /// connection stays busy; the pool counts the reuse and the request.
    #[inline(always)]
    pub fn reacquire_for_request(&mut self, now: SimTime, id: ConnId) {
        debug_assert!(self.keeps(id));
        let c = &mut self.conns[id as usize];
        c.idle_since = now;
        c.requests += 1;
        self.stats.hits += 1;
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
        PoolCfg { size, block, idle_timeout_s: 10.0, max_requests_per_connection: 3, ..PoolCfg::default() }
    }

    /// Per-worker pools: a worker never takes another's idle connection, and
    /// each keeps up to `size` of its own (overflow is per worker).
    #[test]
    fn per_worker_pools_keep_their_own_idle_connections() {
        let mut p = ConnPool::new(cfg(1, false), None);
        let mut closed = vec![];
        let t = SimTime::ZERO;
        assert_eq!(p.acquire(t, 0, &mut closed), Acquire::Open(0));
        p.opened(0);
        assert_eq!(p.release(t, 0, true), None);
        // Worker 1 finds worker 0's connection idle but opens its own.
        assert_eq!(p.acquire(t, 1, &mut closed), Acquire::Open(1));
        p.opened(1);
        assert_eq!(p.acquire(t, 1, &mut closed), Acquire::Open(2));
        p.opened(2);
        // Worker 1's pool (size 1) keeps one and discards the other; worker 0's
        // idle connection does not count against it.
        assert_eq!(p.release(t, 1, true), None);
        assert_eq!(p.release(t, 2, true), Some(CloseReason::Overflow));
        assert_eq!((p.idle_of(0), p.idle_of(1), p.idle_count()), (1, 1, 2));
        assert_eq!(p.acquire(t, 0, &mut closed), Acquire::Reuse(0));
        assert_eq!(p.acquire(t, 1, &mut closed), Acquire::Reuse(1));
        assert_eq!(p.conn(1).owner, 1);
        assert_eq!((p.stats.hits, p.stats.misses, p.stats.overflow_discarded), (2, 3, 1));
    }

    /// The per-host limit counts the connections of every worker.
    #[test]
    fn host_limit_spans_workers() {
        let mut p = ConnPool::new(cfg(4, false), Some(2));
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(SimTime::ZERO, 1, &mut closed), Acquire::Open(1));
        assert_eq!(p.acquire(SimTime::ZERO, 2, &mut closed), Acquire::Wait);
    }

    #[test]
    fn overflow_connections_are_discarded_when_not_blocking() {
        let mut p = ConnPool::new(cfg(1, false), None);
        let mut closed = vec![];
        let t = SimTime::ZERO;
        assert_eq!(p.acquire(t, 0, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(t, 0, &mut closed), Acquire::Open(1));
        p.opened(0);
        p.opened(1);
        assert_eq!(p.release(t, 0, true), None);
        assert_eq!(p.release(t, 1, true), Some(CloseReason::Overflow));
        assert_eq!(p.acquire(t, 0, &mut closed), Acquire::Reuse(0));
        assert_eq!(p.stats.overflow_discarded, 1);
        assert_eq!((p.stats.hits, p.stats.misses), (1, 2));
    }

    #[test]
    fn blocking_pool_makes_requesters_wait() {
        let mut p = ConnPool::new(cfg(1, true), None);
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Wait);
    }

    #[test]
    fn stale_and_worn_out_connections_are_not_reused() {
        let mut p = ConnPool::new(cfg(5, false), None);
        let mut closed = vec![];
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Open(0));
        p.opened(0);
        p.release(SimTime::ZERO, 0, true);
        // 11 s idle > 10 s timeout.
        assert_eq!(p.acquire(SimTime::from_secs(11), 0, &mut closed), Acquire::Open(1));
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
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Open(0));
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Wait);
        p.opened(0);
        p.release(SimTime::ZERO, 0, true);
        assert_eq!(p.acquire(SimTime::ZERO, 0, &mut closed), Acquire::Reuse(0));
    }

    /// A plain model of the pool: states in a Vec, idle ids on a stack.
    struct Reference {
        cfg: PoolCfg,
        timeout: SimTime,
        host: Option<u32>,
        /// (state, requests, idle since, owner)
        conns: Vec<(ConnState, u32, SimTime, u32)>,
        /// (owner, id), most recently idle last.
        idle: Vec<(u32, ConnId)>,
        stats: PoolStats,
    }

    impl Reference {
        fn in_use(&self) -> u32 {
            self.conns.iter().filter(|c| matches!(c.0, ConnState::Opening | ConnState::Busy)).count() as u32
        }
        fn acquire(&mut self, now: SimTime, owner: u32, closed: &mut Vec<(ConnId, CloseReason)>) -> Acquire {
            if self.host.is_some_and(|l| self.in_use() >= l) {
                return Acquire::Wait;
            }
            while let Some(pos) = self.idle.iter().rposition(|e| e.0 == owner) {
                let (_, id) = self.idle.remove(pos);
                let (_, requests, since, _) = self.conns[id as usize];
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
            if self.cfg.block && in_use >= self.cfg.size {
                return Acquire::Wait;
            }
            self.conns.push((ConnState::Opening, 0, now, owner));
            self.stats.misses += 1;
            self.stats.opened += 1;
            // Open = in use + idle of every owner (other workers' idle ones stay open).
            self.stats.peak_open = self.stats.peak_open.max(in_use + self.idle.len() as u32 + 1);
            Acquire::Open(self.conns.len() as ConnId - 1)
        }
        fn release(&mut self, now: SimTime, id: ConnId, alive: bool) -> Option<CloseReason> {
            let c = &mut self.conns[id as usize];
            let reason = if !alive {
                Some(CloseReason::Dead)
            } else if c.1 >= self.cfg.max_requests_per_connection {
                self.stats.retired_max_requests += 1;
                Some(CloseReason::MaxRequests)
            } else if self.idle.iter().filter(|e| e.0 == c.3).count() as u32 >= self.cfg.size {
                self.stats.overflow_discarded += 1;
                Some(CloseReason::Overflow)
            } else {
                None
            };
            if reason.is_some() {
                c.0 = ConnState::Closed;
            } else {
                *c = (ConnState::Idle, c.1, now, c.3);
                self.idle.push((c.3, id));
            }
            reason
        }
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The pool agrees with the plain model on every decision and counter,
        /// shared (one owner) or per worker (up to 3 owners, never blocking).
        #[test]
        fn pool_matches_a_plain_reference(
            size in 0u32..4,
            block in any::<bool>(),
            owners in 1u32..4,
            idle_ms in 0u64..30,
            max_requests in 1u32..4,
            host in prop::option::of(1u32..4),
            ops in prop::collection::vec((0u8..6, any::<prop::sample::Index>(), any::<bool>(), 0u64..20, 0u32..3), 1..60),
        ) {
            let owners = if block { 1 } else { owners };
            let cfg = PoolCfg { size: if block { size.max(1) } else { size }, block, idle_timeout_s: idle_ms as f64 / 1000.0, max_requests_per_connection: max_requests, ..PoolCfg::default() };
            let mut p = ConnPool::new(cfg.clone(), host);
            let mut r = Reference { timeout: SimTime::from_millis(idle_ms), cfg, host, conns: vec![], idle: vec![], stats: PoolStats::default() };
            let mut now = SimTime::ZERO;
            for (op, pick, alive, dt, owner) in ops {
                let owner = owner % owners;
                now += SimTime::from_millis(dt);
                let with = |st: ConnState| -> Vec<ConnId> { (0..r.conns.len() as ConnId).filter(|i| r.conns[*i as usize].0 == st).collect() };
                let (opening, busy) = (with(ConnState::Opening), with(ConnState::Busy));
                match op {
                    0 => {
                        let (mut a, mut b) = (vec![], vec![]);
                        prop_assert_eq!(p.acquire(now, owner, &mut a), r.acquire(now, owner, &mut b));
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
                    5 if !busy.is_empty() => {
                        // A kept release and the owner's acquire at once,
                        // against the reference doing both.
                        let id = busy[pick.index(busy.len())];
                        let want = r.release(now, id, true);
                        prop_assert_eq!(p.keeps(id), want.is_none());
                        if want.is_none() {
                            p.reacquire_for_request(now, id);
                            let mut b = vec![];
                            prop_assert_eq!(r.acquire(now, r.conns[id as usize].3, &mut b), Acquire::Reuse(id));
                            prop_assert!(b.is_empty());
                            r.conns[id as usize].1 += 1;
                        } else {
                            prop_assert_eq!(p.release(now, id, true), want);
                        }
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
                for o in 0..owners {
                    prop_assert_eq!(p.idle_of(o), r.idle.iter().filter(|e| e.0 == o).count() as u32);
                }
                prop_assert_eq!(p.in_use(), r.in_use());
                prop_assert_eq!(p.open_count(), r.in_use() + r.idle.len() as u32);
                for (i, c) in r.conns.iter().enumerate() {
                    let got = p.conn(i as ConnId);
                    prop_assert_eq!((got.state, got.requests, got.owner), (c.0, c.1, c.3));
                }
            }
        }
    }
}
