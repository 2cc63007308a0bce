//! The checker's model of the connection pool (LIFO idle stack).

use super::{Check, fail};
use crate::scenario::{Client, PoolScope};
use crate::time::SimTime;
use crate::trace::TraceEvent;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Opening,
    /// Held by a requester; `req`: a request is in flight.
    Busy {
        req: bool,
    },
    /// Its request just ended; it is released by the next event.
    Releasing,
    Idle {
        since: SimTime,
    },
    Closed,
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    st: St,
    requests: u32,
    /// Per-worker pools: the worker whose pool it is, learned from the file
    /// of its first request.
    owner: Option<u32>,
    /// The idle stack it returns to, as the core logged it when opening it
    /// (`ConnOpen::pool`: one per owner and host).
    pool: u32,
}

pub(super) struct PoolModel {
    /// `client.pool.scope = per_worker`: one pool of `size` idle connections
    /// per worker. The log does not name workers: the model re-derives them
    /// (a dispatched file takes the lowest-numbered free worker of
    /// `max_concurrent_downloads`) and learns a connection's worker from the
    /// file of its first request, then checks reuse order, reuse before
    /// open and overflow per worker.
    per_worker: bool,
    workers: Vec<bool>,
    file_worker: BTreeMap<u32, u32>,
    /// Workers with idle connections when a connection was opened, checked
    /// against its first request's worker.
    opened_with_idle: BTreeMap<u32, Vec<u32>>,
    size: u32,
    block: bool,
    idle_timeout: SimTime,
    max_requests: u32,
    host_limit: Option<u32>,
    /// By id: the pool numbers connections in the order they open.
    conns: Vec<Conn>,
    idle: Vec<u32>,
    /// Idle connections per pool (`Conn::pool`), so that a pool's count
    /// needs no scan.
    idle_per_pool: BTreeMap<u32, u32>,
    in_use: u32,
    releasing: Option<u32>,
}

fn conn_of(ev: &TraceEvent) -> Option<u32> {
    use TraceEvent::*;
    match ev {
        ConnOpen { conn, .. }
        | ConnOpened { conn, .. }
        | ConnReused { conn, .. }
        | ConnIdle { conn, .. }
        | ConnClosed { conn, .. }
        | RequestSent { conn, .. }
        | RequestDone { conn, .. }
        | RequestFailed { conn, .. } => Some(*conn),
        _ => None,
    }
}

impl PoolModel {
    pub(super) fn new(c: &Client) -> Self {
        let per_worker = c.pool.scope == PoolScope::PerWorker;
        let (size, block) =
            if per_worker { (c.max_concurrent_files_per_model, false) } else { (c.pool.size, c.pool.block) };
        PoolModel {
            per_worker,
            workers: vec![false; c.max_concurrent_downloads as usize],
            file_worker: BTreeMap::new(),
            opened_with_idle: BTreeMap::new(),
            size,
            block,
            idle_timeout: SimTime::from_secs_f64_ceil(c.pool.idle_timeout_s),
            max_requests: c.pool.max_requests_per_connection,
            host_limit: c.max_connections_per_host,
            conns: Vec::new(),
            idle: Vec::new(),
            idle_per_pool: BTreeMap::new(),
            in_use: 0,
            releasing: None,
        }
    }

    /// Connections opened so far (their ids are `0..opened`).
    pub(super) fn opened(&self) -> usize {
        self.conns.len()
    }

    /// A connection whose request ended is released by the very next event.
    pub(super) fn before(&self, ev: &TraceEvent) -> Check {
        if let Some(c) = self.releasing
            && !matches!(ev, TraceEvent::ConnIdle { conn, .. } | TraceEvent::ConnClosed { conn, .. } if *conn == c)
        {
            return fail("a connection is released when its request ends", format!("conn {c}"));
        }
        Ok(())
    }

    fn set(&mut self, conn: u32, st: St) {
        let c = &mut self.conns[conn as usize];
        let held = |s: St| matches!(s, St::Opening | St::Busy { .. } | St::Releasing);
        match (held(c.st), held(st)) {
            (true, false) => self.in_use -= 1,
            (false, true) => self.in_use += 1,
            _ => {}
        }
        c.st = st;
    }

    /// Idle connections of `conn`'s pool, oldest first; `None` for a
    /// per-worker connection that never carried a request, whose worker the
    /// log does not tell.
    fn idle_in_pool_of(&self, conn: u32) -> Option<impl DoubleEndedIterator<Item = u32> + '_> {
        let c = self.conns.get(conn as usize)?;
        let (owner, pool) = (if self.per_worker { Some(c.owner?) } else { None }, c.pool);
        Some(self.idle.iter().copied().filter(move |&i| {
            let c = &self.conns[i as usize];
            c.pool == pool && (owner.is_none() || c.owner == owner)
        }))
    }

    /// Whether `conn`'s pool (`idle`: its idle connections) holds at least
    /// `n` connections (by the per-pool count, without a scan, unless the
    /// pools are the workers' learned from the log).
    fn at_least(&self, conn: u32, idle: impl Iterator<Item = u32>, n: u32) -> bool {
        if self.per_worker {
            idle.take(n as usize).count() as u32 >= n
        } else {
            self.idle_per_pool.get(&self.conns[conn as usize].pool).copied().unwrap_or(0) >= n
        }
    }

    fn push_idle(&mut self, conn: u32) {
        self.idle.push(conn);
        *self.idle_per_pool.entry(self.conns[conn as usize].pool).or_insert(0) += 1;
    }

    fn state(&self, conn: u32) -> St {
        self.conns.get(conn as usize).map_or(St::Closed, |c| c.st)
    }

    /// Take `conn` off the top of the idle stack.
    fn pop_idle(&mut self, conn: u32, what: &'static str) -> Result<SimTime, super::Violation> {
        let St::Idle { since } = self.state(conn) else {
            return Err(fail(what, format!("conn {conn} is {:?}, not idle", self.state(conn))).unwrap_err());
        };
        if self.idle_in_pool_of(conn).is_some_and(|mut pool| pool.next_back() != Some(conn)) {
            return Err(fail(
                "the pool takes its most recently idle connection first (LIFO)",
                format!("conn {conn}, idle stack {:?}", self.idle),
            )
            .unwrap_err());
        }
        // The most recently idle of its pool (checked above): the top of a
        // shared pool's stack, the last of its worker's in a per-worker one.
        if let Some(i) = self.idle.iter().rposition(|c| *c == conn) {
            self.idle.remove(i);
            *self.idle_per_pool.get_mut(&self.conns[conn as usize].pool).expect("counted when pushed") -= 1;
        }
        Ok(since)
    }

    pub(super) fn after(&mut self, ev: &TraceEvent, now: SimTime) -> Check {
        if self.per_worker {
            match *ev {
                TraceEvent::FileDispatched { file, .. } => {
                    let Some(w) = self.workers.iter().position(|busy| !busy) else {
                        return fail("a free worker for each dispatched file", format!("file {file}"));
                    };
                    self.workers[w] = true;
                    self.file_worker.insert(file, w as u32);
                }
                TraceEvent::FileCompleted { file, .. } | TraceEvent::FileFailed { file, .. } => {
                    if let Some(w) = self.file_worker.remove(&file) {
                        self.workers[w as usize] = false;
                    }
                }
                _ => {}
            }
        }
        let Some(conn) = conn_of(ev) else {
            return Ok(());
        };
        let st = self.state(conn);
        let requests = self.conns.get(conn as usize).map_or(0, |c| c.requests);
        let released = matches!(st, St::Releasing | St::Busy { req: false });
        match ev {
            &TraceEvent::ConnOpen { pool, .. } => {
                if (conn as usize) < self.conns.len() {
                    return fail("handshakes = connections opened (each opened once)", format!("conn {conn} again"));
                }
                if conn as usize != self.conns.len() {
                    let next = self.conns.len();
                    return fail(
                        "connections are numbered in the order they open",
                        format!("conn {conn}, next {next}"),
                    );
                }
                let same_pool = |c: &u32| self.conns[*c as usize].pool == pool;
                if self.per_worker {
                    let owners = self
                        .idle
                        .iter()
                        .filter(|c| same_pool(c))
                        .filter_map(|&c| self.conns[c as usize].owner)
                        .collect();
                    self.opened_with_idle.insert(conn, owners);
                } else if self.idle_per_pool.get(&pool).is_some_and(|n| *n > 0) {
                    return fail(
                        "the pool reuses an idle connection before opening one",
                        format!(
                            "pool {pool}, idle {:?}",
                            self.idle.iter().filter(|c| same_pool(c)).collect::<Vec<_>>()
                        ),
                    );
                }
                if self.host_limit.is_some_and(|l| self.in_use >= l) {
                    return fail("per-host connection limit", format!("open with {} in use", self.in_use));
                }
                if self.block && self.in_use >= self.size {
                    return fail("a blocking pool opens at most its size", format!("open with {} open", self.in_use));
                }
                self.conns.push(Conn { st: St::Closed, requests: 0, owner: None, pool });
                self.set(conn, St::Opening);
            }
            TraceEvent::ConnOpened { .. } => {
                if st != St::Opening {
                    return fail("a connection opens after its handshake", format!("conn {conn} was {st:?}"));
                }
                self.set(conn, St::Busy { req: false });
            }
            TraceEvent::ConnReused { requests_before, .. } => {
                if self.host_limit.is_some_and(|l| self.in_use >= l) {
                    return fail("per-host connection limit", format!("reuse with {} in use", self.in_use));
                }
                let since = self.pop_idle(conn, "a connection is reused only while alive and idle")?;
                if now - since > self.idle_timeout {
                    return fail("a connection is reused only within its idle timeout", format!("idle since {since}"));
                }
                if requests >= self.max_requests || *requests_before != requests {
                    return fail(
                        "a connection is reused only under its request limit",
                        format!("{requests_before} requests logged, {requests} seen, limit {}", self.max_requests),
                    );
                }
                self.set(conn, St::Busy { req: false });
            }
            TraceEvent::RequestSent { file, .. } => {
                if let Some(&w) = self.file_worker.get(file).filter(|_| self.per_worker) {
                    let c = self.conns.get_mut(conn as usize).expect("a request on a known connection");
                    if c.owner.is_some_and(|o| o != w) {
                        return fail(
                            "a worker uses only its own pool's connections",
                            format!("conn {conn} of worker {:?} for file {file} of worker {w}", c.owner),
                        );
                    }
                    c.owner = Some(w);
                    if self.opened_with_idle.remove(&conn).is_some_and(|owners| owners.contains(&w)) {
                        return fail(
                            "the pool reuses an idle connection before opening one",
                            format!("worker {w} opened conn {conn} with one of its own idle"),
                        );
                    }
                }

                if st != (St::Busy { req: false }) {
                    return fail("requests only on held connections", format!("conn {conn} is {st:?}"));
                }
                if requests >= self.max_requests {
                    return fail("a connection carries at most max_requests_per_connection", format!("conn {conn}"));
                }
                self.conns[conn as usize].requests += 1;
                self.set(conn, St::Busy { req: true });
            }
            TraceEvent::RequestDone { .. } | TraceEvent::RequestFailed { .. } => {
                if st != (St::Busy { req: true }) {
                    return fail("responses arrive on connections with a request", format!("conn {conn} is {st:?}"));
                }
                self.set(conn, St::Releasing);
                self.releasing = Some(conn);
            }
            TraceEvent::ConnIdle { .. } => {
                if !released {
                    return fail("only a held connection goes back to the pool", format!("conn {conn} is {st:?}"));
                }
                if self.idle_in_pool_of(conn).is_some_and(|idle| self.at_least(conn, idle, self.size)) {
                    return fail(
                        "idle connections never exceed the pool size",
                        format!("{} idle in conn {conn}'s pool, size {}", self.size + 1, self.size),
                    );
                }
                if requests >= self.max_requests {
                    return fail("a worn-out connection is retired, not pooled", format!("conn {conn}: {requests}"));
                }
                self.set(conn, St::Idle { since: now });
                self.push_idle(conn);
                self.releasing = None;
            }
            TraceEvent::ConnClosed { reason, .. } => {
                let ok = match *reason {
                    "overflow" => {
                        released
                            && requests < self.max_requests
                            && self.idle_in_pool_of(conn).is_none_or(|idle| self.at_least(conn, idle, self.size))
                    }
                    "dead" => released,
                    "aborted" => st == St::Busy { req: true },
                    "connect_failed" => st == St::Opening,
                    "max_requests" if released => requests >= self.max_requests,
                    "max_requests" => {
                        self.pop_idle(conn, "retire only worn-out connections")?;
                        requests >= self.max_requests
                    }
                    "idle_timeout" => {
                        let since = self.pop_idle(conn, "close only connections idle beyond the timeout")?;
                        requests < self.max_requests && now - since > self.idle_timeout
                    }
                    _ => false,
                };
                if !ok {
                    return fail(
                        "a connection is closed only for its stated reason",
                        format!("conn {conn} ({st:?}, {requests} requests, {} idle) closed: {reason}", self.idle.len()),
                    );
                }
                self.set(conn, St::Closed);
                if self.releasing == Some(conn) {
                    self.releasing = None;
                }
            }
            _ => {}
        }
        if self.host_limit.is_some_and(|l| self.in_use > l) {
            return fail("per-host connection limit", format!("{} in use", self.in_use));
        }
        Ok(())
    }

    pub(super) fn finish(&self) -> Check {
        match self.releasing {
            Some(c) => fail("a connection is released when its request ends", format!("conn {c} at the end")),
            None => Ok(()),
        }
    }
}
