//! The policy core: a sans-IO state machine of the download orchestrator.
//!
//! [`Orchestrator::handle`] consumes one [`Input`] at a time (a connection
//! opened, a response completed or failed, a timer fired) with the time it
//! happened, and appends [`Action`]s for the runtime to perform (open a
//! connection, send a Range request, close a connection, arm a timer). It
//! never reads a clock and never touches a socket: the sim runtime feeds it
//! virtual time, the real runtime wall time. Queueing, priorities,
//! concurrency limits, chunk sizing, pooling, retries, backoff and the
//! memory account live here, once.

pub mod chunk;
pub mod memory;
pub mod pool;
pub mod preamble;
pub mod queue;
pub mod retry;
pub mod split;
pub mod workers;

pub use memory::BufferMode;
pub use pool::{Acquire, CloseReason, ConnId, ConnPool, PoolStats};
pub use queue::FileQueue;
pub use retry::Failure;

use crate::engine::{DecisionKey, KeyedRng, domain};
use crate::scenario::{Client, FileSet, MIB, PoolScope, Priority, PriorityRule};
use crate::time::SimTime;
use crate::trace::TraceEvent;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// What happened, reported by a runtime.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input {
    /// A connection asked for with [`Action::Open`] is ready.
    ConnOpened { conn: ConnId },
    /// A connection asked for with [`Action::Open`] could not be opened.
    ConnFailed { conn: ConnId },
    /// The whole range of request `req` arrived. `keep_alive = false` when the
    /// server closed the connection after it.
    RequestDone { conn: ConnId, req: u64, keep_alive: bool },
    /// Request `req` failed after `received` body bytes.
    RequestFailed { conn: ConnId, req: u64, received: u64, failure: Failure },
    /// A timer armed with [`Action::Timer`] fired.
    Timer { id: u64 },
}

/// What the runtime must do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action {
    /// Open a new connection to the server.
    Open { conn: ConnId },
    /// Send `GET` with `Range: bytes=start-(end-1)` for `file` on `conn`;
    /// fail it with [`Failure::Timeout`] if the head or the body stops for `read_timeout`.
    Send { conn: ConnId, req: u64, file: u32, start: u64, end: u64, read_timeout: SimTime },
    /// Close `conn`, aborting any request in flight on it.
    Close { conn: ConnId },
    /// Deliver [`Input::Timer`] `{ id }` at `at`.
    Timer { id: u64, at: SimTime },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    Queued,
    Active,
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SegState {
    WaitConn,
    Opening(ConnId),
    InFlight(ConnId),
    Backoff,
    Done,
    Cancelled,
}

#[derive(Clone, Debug)]
struct Segment {
    file: u32,
    /// Next byte to confirm.
    next: u64,
    end: u64,
    state: SegState,
    /// Consecutive failures of the current range.
    failures: u32,
    /// End of a range being retried (resume keeps asking for the same end).
    retry_end: Option<u64>,
    req: u64,
    req_start: u64,
    req_end: u64,
    sent_at: SimTime,
    measured_bps: Option<f64>,
    /// Body-less requests (HEAD, probe, redirect) still to send before the
    /// next byte range ([`preamble`]).
    pre: u32,
    /// The request in flight is one of those.
    in_pre: bool,
}

impl Segment {
    /// A segment of `file` for bytes `start..end`, waiting for a connection,
    /// with `pre` body-less requests to send first.
    #[inline(always)]
    fn fresh(file: u32, start: u64, end: u64, pre: u32, now: SimTime) -> Segment {
        Segment {
            file,
            next: start,
            end,
            state: SegState::WaitConn,
            failures: 0,
            retry_end: None,
            req: u64::MAX,
            req_start: start,
            req_end: start,
            sent_at: now,
            measured_bps: None,
            pre,
            in_pre: false,
        }
    }
}

/// What the core keeps of every file (24 bytes): its outcome so far, and
/// the worker holding it while it is active.
#[derive(Clone, Copy, Debug)]
struct FileRun {
    dispatched_at: SimTime,
    ended_at: SimTime,
    status: FileStatus,
    /// The download worker holding the file while it is active (an index
    /// into `Orchestrator::active`).
    worker: u32,
}

/// State of an active file, kept by the worker holding it (so memory
/// scales with `max_concurrent_downloads`, not with the workload).
#[derive(Clone, Copy, Debug)]
struct ActiveFile {
    buffer: BufferMode,
    first_seg: u32,
    parts: u32,
    segs_left: u32,
    confirmed: u64,
    /// Bytes per socket read (its `iter_content` chunk).
    read_size: u64,
    /// Segments started so far (in order), and how many may be in flight.
    started: u32,
    window: u32,
    /// The first segment's per-file body-less requests are still pending:
    /// the other segments wait for them.
    gated: bool,
    /// The tool's per-file work (`client.per_file_overhead_ms`) is still
    /// running: before the first request, no segment starts before its
    /// timer fires; after the last byte (`segs_left == 0`), the file
    /// completes when it fires.
    held: bool,
    /// When the ranges fetched so far are written
    /// (`client.per_range_mib_overhead_ms`: one range at a time, each
    /// from its last byte).
    written_at: SimTime,
}

/// Timer id of `client.startup_ms` (segment timers use segment indices).
const STARTUP_TIMER: u64 = u64::MAX;

/// Completed-file speeds the adaptive read size averages (the original's
/// `statistics.mean(speeds[-10:])`).
const SPEED_HISTORY: usize = 10;

/// Queue wait statistics of one priority level.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WaitStat {
    pub files: u64,
    pub total: SimTime,
    pub max: SimTime,
}

/// Counters of the policy core.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub requests: u64,
    pub retries: u64,
    pub failures_by_kind: BTreeMap<&'static str, u64>,
    pub files_completed: u32,
    pub files_failed: u32,
    /// Σ sizes of completed files.
    pub useful_bytes: u64,
    /// Body bytes the runtime reported received (done + failed requests).
    pub received_bytes: u64,
    /// Bytes of failed requests kept by resume.
    pub resumed_bytes: u64,
    pub wait_by_priority: [WaitStat; 3],
    pub parallel_failure_trips: u64,
    pub peak_active_files: u32,
    /// Socket reads of response bodies: Σ over requests of ⌈received / read size⌉.
    pub reads: u64,
}

/// Per-file outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct FileOutcome {
    pub status: FileStatus,
    pub dispatched_at: SimTime,
    pub ended_at: SimTime,
}

pub struct Orchestrator {
    cfg: Client,
    read_timeout: SimTime,
    files: Arc<FileSet>,
    runs: Vec<FileRun>,
    /// Per worker: the active file's state.
    active: Vec<ActiveFile>,
    segs: Vec<Segment>,
    /// Segments of completed files, free for reuse (nothing refers to a
    /// `Done` segment: no timer, no connection, no wait-queue entry).
    free_segs: Vec<u32>,
    queue: FileQueue,
    pool: ConnPool,
    /// Free download workers (of `max_concurrent_downloads`), lowest index
    /// first: a dispatch takes the lowest free one (a two-level bitset).
    free_workers: workers::FreeWorkers,
    /// Speeds of the last completed files, bytes/s, oldest first.
    file_speeds: VecDeque<f64>,
    waiting: VecDeque<u32>,
    in_backoff: u32,
    next_req: u64,
    rng: KeyedRng,
    held_bytes: u64,
    ended: u32,
    fail_reasons: BTreeMap<u32, String>,
    pub stats: Stats,
    trace: Option<Vec<TraceEvent>>,
    /// `trace.is_some()`, read by every [`Self::log`] (a flag is cheaper to test).
    tracing: bool,
    closed_scratch: Vec<(ConnId, CloseReason)>,
    /// Where `client.per_file_overhead_ms` runs (per worker or shared lanes).
    overhead_lanes: preamble::OverheadLanes,
    /// `client.metadata` asks for no body-less request, whatever the file.
    no_preamble: bool,
    /// `client.per_file_overhead_ms`, before the first request and after
    /// the last byte ([`preamble::Overhead`]).
    file_overhead: preamble::Overhead,
    /// `client.chunking` sizes requests by measured speed ([`chunk::uses_speed`]).
    speed_chunking: bool,
    /// `client.chunking` asks for the whole rest of a segment each time.
    whole_requests: bool,
    /// Every file is one whole segment ([`split::always_whole`]).
    whole_split: bool,
    /// Every file is one whole segment, read with the fixed read size,
    /// with no body-less request: dispatch tests this one flag first and
    /// skips asking each (implied by the others; kept for speed, 0.5 % of
    /// W1's instructions).
    plain: bool,
    /// `plain`, no per-file overhead, one shared pool, no trace: a file
    /// whose last request is done on a kept connection while every worker
    /// is busy hands its worker, segment and connection to the next file
    /// in one step ([`Self::next_file_in_place`]).
    recycle: bool,
}

/// The original per-file priority rule.
pub fn priority_by_file_type(path: &str, size: u64) -> Priority {
    let lower = path.to_ascii_lowercase();
    if [".json", ".yaml", ".yml", ".txt"].iter().any(|e| lower.ends_with(e)) {
        Priority::High
    } else if size < 100 * MIB {
        Priority::Normal
    } else {
        Priority::Low
    }
}

impl Orchestrator {
    /// A core for `files` (enqueued in order; a `Vec<File>` or a shared
    /// [`FileSet`]) with model priorities `model_priority`; `seed` drives
    /// backoff jitter; `trace` records the log. With the `by_file_type`
    /// priority rule, each file's priority is recomputed from its path.
    pub fn new(
        cfg: Client,
        files: impl Into<Arc<FileSet>>,
        model_priority: &[Priority],
        seed: u64,
        trace: bool,
    ) -> Self {
        let files: Arc<FileSet> = files.into();
        let mut queue = FileQueue::new(
            cfg.scheduling,
            cfg.max_concurrent_downloads,
            cfg.max_concurrent_files_per_model,
            model_priority,
        );
        let queued =
            FileRun { status: FileStatus::Queued, dispatched_at: SimTime::ZERO, ended_at: SimTime::ZERO, worker: 0 };
        let runs = vec![queued; files.len()];
        queue.push_all(files.iter().map(|f| {
            let (priority, tiebreak) = match cfg.priority_rule {
                PriorityRule::Model => (f.priority, 0),
                PriorityRule::ByFileType => (priority_by_file_type(&files.path(f.id), f.size), f.size),
            };
            (f.model, (priority, tiebreak, f.id))
        }));
        queue.start();
        let pool_cfg = match cfg.pool.scope {
            PoolScope::Shared | PoolScope::PerFile => cfg.pool.clone(),
            // One urllib3 pool per worker: pool_maxsize = files per model, pool_block = False.
            PoolScope::PerWorker => {
                crate::scenario::Pool { size: cfg.max_concurrent_files_per_model, block: false, ..cfg.pool.clone() }
            }
        };
        let whole_split = split::always_whole(cfg.split_rule, cfg.split);
        let no_preamble = preamble::none(&cfg.metadata);
        let plain = whole_split && !cfg.adaptive_read_size && no_preamble;
        let file_overhead = preamble::Overhead::new(
            cfg.per_file_overhead_ms,
            cfg.per_file_overhead_after_share,
            cfg.per_mib_overhead_ms,
            cfg.per_range_mib_overhead_ms,
        );
        Orchestrator {
            read_timeout: SimTime::from_secs_f64_ceil(cfg.read_timeout_s),
            pool: ConnPool::new(pool_cfg, cfg.max_connections_per_host),
            free_workers: workers::FreeWorkers::new(cfg.max_concurrent_downloads),
            file_speeds: VecDeque::new(),
            overhead_lanes: preamble::OverheadLanes::new(cfg.per_file_overhead_lanes),
            no_preamble,
            file_overhead,
            speed_chunking: chunk::uses_speed(cfg.chunking.mode),
            whole_requests: cfg.chunking.mode == crate::scenario::ChunkMode::WholeFile,
            whole_split,
            plain,
            recycle: plain && file_overhead.is_none() && cfg.pool.scope == PoolScope::Shared && !trace,
            cfg,
            files,
            runs,
            active: Vec::new(),
            segs: Vec::new(),
            free_segs: Vec::new(),
            queue,
            waiting: VecDeque::new(),
            in_backoff: 0,
            next_req: 0,
            rng: KeyedRng::new(seed),
            held_bytes: 0,
            ended: 0,
            fail_reasons: BTreeMap::new(),
            stats: Stats::default(),
            trace: trace.then(Vec::new),
            tracing: trace,
            closed_scratch: Vec::new(),
        }
    }

    pub fn files(&self) -> &FileSet {
        &self.files
    }
    /// The workload, shared (for the run's record), not copied.
    pub fn shared_files(&self) -> Arc<FileSet> {
        Arc::clone(&self.files)
    }
    pub fn pool_stats(&self) -> &PoolStats {
        &self.pool.stats
    }
    /// Every file completed or failed.
    #[inline]
    pub fn is_finished(&self) -> bool {
        self.ended as usize == self.files.len()
    }
    /// Whether received bytes of `file` are held in memory until it completes.
    #[inline]
    pub fn is_buffered(&self, file: u32) -> bool {
        self.act(file).buffer == BufferMode::Buffered
    }
    /// The state of active `file`.
    #[inline]
    fn act(&self, file: u32) -> &ActiveFile {
        let r = &self.runs[file as usize];
        debug_assert_eq!(r.status, FileStatus::Active, "file {file} is not active");
        &self.active[r.worker as usize]
    }
    #[inline]
    fn act_mut(&mut self, file: u32) -> &mut ActiveFile {
        let r = &self.runs[file as usize];
        debug_assert_eq!(r.status, FileStatus::Active, "file {file} is not active");
        &mut self.active[r.worker as usize]
    }
    /// Heap bytes the core holds, `(growing with the workload, growing with
    /// workers and connections)` — its own memory account, not the event
    /// log's (see [`crate::sim::Footprint`]).
    pub fn heap_bytes(&self) -> (usize, usize) {
        use std::mem::size_of;
        let per_file = self.runs.capacity() * size_of::<FileRun>() + self.queue.heap_bytes();
        let per_conn = self.active.capacity() * size_of::<ActiveFile>()
            + self.segs.capacity() * size_of::<Segment>()
            + self.free_segs.capacity() * 4
            + self.waiting.capacity() * 4
            + self.free_workers.heap_bytes()
            + self.pool.heap_bytes();
        (per_file, per_conn)
    }

    /// Bytes held by the client now, excluding bodies in flight.
    #[inline]
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }
    pub fn outcome(&self, file: u32) -> FileOutcome {
        let r = &self.runs[file as usize];
        FileOutcome { status: r.status, dispatched_at: r.dispatched_at, ended_at: r.ended_at }
    }
    /// Every file's outcome, in file order, built in place of the core's
    /// per-file state (same size: no second allocation, no new pages at
    /// 10 M files). The core keeps no per-file state afterwards: call it
    /// once, after the run, instead of [`Self::outcome`] per file.
    pub fn take_outcomes(&mut self) -> Vec<FileOutcome> {
        std::mem::take(&mut self.runs)
            .into_iter()
            .map(|r| FileOutcome { status: r.status, dispatched_at: r.dispatched_at, ended_at: r.ended_at })
            .collect()
    }
    /// Every failed file's reason, in file order.
    pub fn fail_reasons(&self) -> impl Iterator<Item = (u32, &str)> {
        self.fail_reasons.iter().map(|(f, r)| (*f, r.as_str()))
    }
    pub fn take_trace(&mut self) -> Vec<TraceEvent> {
        self.tracing = false;
        self.trace.take().unwrap_or_default()
    }

    #[inline]
    fn log(&mut self, ev: impl FnOnce() -> TraceEvent) {
        if self.tracing
            && let Some(t) = &mut self.trace
        {
            t.push(ev());
        }
    }

    /// Begin: dispatch the first files.
    pub fn start(&mut self, now: SimTime, out: &mut Vec<Action>) {
        if self.cfg.startup_ms > 0.0 {
            // The tool's own start-up (process, imports, API calls) before any file.
            let at = now + SimTime::from_secs_f64_ceil(self.cfg.startup_ms / 1000.0);
            out.push(Action::Timer { id: STARTUP_TIMER, at });
            return;
        }
        self.dispatch(now, out);
    }

    /// Consume one input that happened at `now`.
    ///
    /// Inlined where a runtime calls it, so that a caller that knows the
    /// input's kind tests only what that kind needs: a request done on a
    /// kept connection may go straight to the next file
    /// ([`Self::next_file_in_place`]), anything else to [`Self::handle_any`].
    #[inline(always)]
    pub fn handle(&mut self, now: SimTime, input: Input, out: &mut Vec<Action>) {
        if let Input::RequestDone { conn, req, keep_alive: true } = input
            && self.recycle
            && let Some(s) = self.in_flight(conn, req)
            && self.recycles(s, conn)
        {
            return self.next_file_in_place(now, s, conn, out);
        }
        self.handle_any(now, input, out);
    }

    /// Whether [`Self::next_file_in_place`] may take request done of
    /// segment `s` on kept-alive `conn` (given [`Self::recycle`]): it was
    /// the segment's last range, not a body-less request, every worker is
    /// busy, no segment waits for a connection and the pool keeps `conn`.
    #[inline(always)]
    fn recycles(&self, s: u32, conn: ConnId) -> bool {
        let seg = &self.segs[s as usize];
        !seg.in_pre
            && seg.req_end >= seg.end
            && self.free_workers.is_empty()
            && self.waiting.is_empty()
            && self.pool.keeps(conn)
    }

    /// [`Self::handle`] of any input.
    fn handle_any(&mut self, now: SimTime, input: Input, out: &mut Vec<Action>) {
        match input {
            Input::ConnOpened { conn } => {
                self.pool.opened(conn);
                self.log(|| TraceEvent::ConnOpened { t: now, conn });
                match self.seg_of(conn) {
                    Some(s) if self.segs[s as usize].state == SegState::Opening(conn) => self.send(now, s, conn, out),
                    _ => {
                        self.pool.set_holder(conn, None);
                        self.release(now, conn, true, out);
                    }
                }
            }
            Input::ConnFailed { conn } => {
                self.pool.close(conn);
                self.log(|| TraceEvent::ConnClosed { t: now, conn, reason: "connect_failed" });
                let seg = self.pool.holder(conn);
                self.pool.set_holder(conn, None);
                if let Some(s) = seg.filter(|s| self.segs[*s as usize].state == SegState::Opening(conn)) {
                    self.record_failure(now, s, u64::MAX, 0, Failure::Connect);
                    self.retry_or_fail(now, s, Failure::Connect, false, out);
                }
                self.serve_waiters(now, out);
            }
            Input::RequestDone { conn, req, keep_alive } => {
                let Some(s) = self.in_flight(conn, req) else {
                    return;
                };
                let seg = &self.segs[s as usize];
                if seg.in_pre {
                    return self.preamble_done(now, s, conn, keep_alive, out);
                }
                debug_assert!(!(self.recycle && keep_alive && self.recycles(s, conn)), "handle takes it");
                let seg = &mut self.segs[s as usize];
                let (file, bytes) = (seg.file, seg.req_end - seg.req_start);
                // The request's speed sizes the next request only in the adaptive modes.
                if self.speed_chunking {
                    let elapsed = (now - seg.sent_at).as_secs_f64();
                    seg.measured_bps = (elapsed > 0.0).then(|| bytes as f64 / elapsed);
                }
                seg.next = seg.req_end;
                seg.failures = 0;
                seg.retry_end = None;
                seg.pre = if self.no_preamble {
                    0
                } else {
                    preamble::per_request(&self.cfg.metadata, self.files[file as usize].size)
                };
                // Whether the segment has more to fetch (releasing the
                // connection below serves other segments, never this one).
                let more = seg.next < seg.end;
                self.stats.received_bytes += bytes;
                let r = &self.runs[file as usize];
                debug_assert_eq!(r.status, FileStatus::Active, "file {file} is not active");
                let worker = r.worker;
                let a = &mut self.active[worker as usize];
                a.confirmed += bytes;
                if a.buffer == BufferMode::Buffered {
                    self.held_bytes += bytes;
                }
                self.stats.reads += bytes.div_ceil(a.read_size);
                self.log(|| TraceEvent::RequestDone { t: now, file, conn, req, bytes });
                self.pool.set_holder(conn, None);
                self.release(now, conn, keep_alive, out);
                if more {
                    self.acquire(now, s, out);
                } else {
                    self.segment_done(now, s, file, worker, out);
                }
            }
            Input::RequestFailed { conn, req, received, failure } => {
                let Some(s) = self.in_flight(conn, req) else {
                    return;
                };
                let range_done = self.record_failure(now, s, req, received, failure);
                self.pool.set_holder(conn, None);
                // The segment gives its connection back: failing its file must not close it.
                self.segs[s as usize].state = SegState::WaitConn;
                self.release(now, conn, failure.keeps_connection(), out);
                self.retry_or_fail(now, s, failure, range_done, out);
            }
            Input::Timer { id: STARTUP_TIMER } => self.dispatch(now, out),
            Input::Timer { id } if preamble::overhead_timer_file(id).is_some() => {
                let file = preamble::overhead_timer_file(id).expect("checked by the guard");
                if self.runs.get(file as usize).is_some_and(|r| r.status == FileStatus::Active) && self.act(file).held {
                    let a = self.act_mut(file);
                    a.held = false;
                    if a.segs_left == 0 {
                        let worker = self.runs[file as usize].worker;
                        self.complete_file(now, file, worker, out);
                    } else {
                        self.start_more(now, file, out);
                    }
                }
            }
            Input::Timer { id } => {
                let s = id as u32;
                if self.segs.get(s as usize).is_some_and(|g| g.state == SegState::Backoff) {
                    self.in_backoff -= 1;
                    self.acquire(now, s, out);
                }
            }
        }
    }

    #[inline]
    fn seg_of(&self, conn: ConnId) -> Option<u32> {
        self.pool.holder(conn)
    }

    /// The segment whose request `req` is in flight on `conn` (stale inputs
    /// about aborted requests are ignored).
    #[inline]
    fn in_flight(&self, conn: ConnId, req: u64) -> Option<u32> {
        let s = self.seg_of(conn)?;
        let g = &self.segs[s as usize];
        (g.state == SegState::InFlight(conn) && g.req == req).then_some(s)
    }

    #[inline]
    fn confirm(&mut self, file: u32, bytes: u64) {
        let r = self.act_mut(file);
        r.confirmed += bytes;
        if r.buffer == BufferMode::Buffered {
            self.held_bytes += bytes;
        }
    }

    fn dispatch(&mut self, now: SimTime, out: &mut Vec<Action>) {
        while let Some((model, key)) = self.queue.pop() {
            let file = key.2;
            let size = self.files[file as usize].size;
            let priority = key.0;
            let w = &mut self.stats.wait_by_priority[priority.index()];
            w.files += 1;
            w.total += now;
            w.max = w.max.max(now);
            self.stats.peak_active_files = self.stats.peak_active_files.max(self.queue.active_files());
            self.log(|| TraceEvent::FileDispatched { t: now, file, model, priority });
            let plan = if self.whole_split {
                split::SplitPlan::whole(size)
            } else {
                split::plan(
                    self.cfg.split_rule,
                    size,
                    self.cfg.split,
                    self.cfg.min_split_size_bytes,
                    self.cfg.chunking.chunk_size_bytes,
                )
            };
            let parts = plan.parts;
            let worker = self.free_workers.take_lowest().expect("a free worker for each active file");
            let read_size = if self.plain {
                self.cfg.read_size_bytes
            } else if self.cfg.adaptive_read_size {
                let n = self.file_speeds.len();
                let mean = (n > 0).then(|| self.file_speeds.iter().sum::<f64>() / n as f64);
                chunk::adaptive_size(size, mean)
            } else {
                self.cfg.read_size_bytes
            };
            let run = &mut self.runs[file as usize];
            run.worker = worker;
            run.status = FileStatus::Active;
            run.dispatched_at = now;
            // A file's segments are consecutive: reuse a freed run of them
            // when it has one part (the common case), else append.
            let first_seg = self.free_seg_run(parts);
            let mut buffer = memory::buffer_mode(size, self.cfg.streaming_threshold_bytes, read_size);
            if !self.plain && !self.whole_split && self.cfg.split_rule == crate::scenario::SplitRule::FanOut {
                // hf_transfer buffers each range whole before writing it.
                let chunk = self.cfg.chunking.chunk_size_bytes.min(size.max(1));
                buffer = BufferMode::Streamed { buffer_bytes: plan.window.saturating_mul(chunk) };
            }
            let (per_file, per_request) = if self.plain || self.no_preamble {
                (0, 0)
            } else {
                (preamble::per_file(&self.cfg.metadata, size), preamble::per_request(&self.cfg.metadata, size))
            };
            let overhead = self.file_overhead.before;
            let act = ActiveFile {
                buffer,
                first_seg,
                parts: parts as u32,
                segs_left: parts as u32,
                confirmed: 0,
                read_size,
                started: 0,
                window: plan.window as u32,
                gated: per_file > 0,
                held: overhead.is_some(),
                written_at: SimTime::ZERO,
            };
            let w = worker as usize;
            if self.active.len() <= w {
                self.active.resize(w + 1, act);
            }
            self.active[w] = act;
            if let BufferMode::Streamed { buffer_bytes } = buffer {
                self.held_bytes += buffer_bytes;
            }
            if parts == 1 {
                // One part: the whole file ([`split::SplitPlan::cut`] of 0 and 1).
                self.put_seg(first_seg, Segment::fresh(file, 0, size, per_request + per_file, now));
            } else {
                for i in 0..parts {
                    let pre = per_request + if i == 0 { per_file } else { 0 };
                    self.put_seg(first_seg + i as u32, Segment::fresh(file, plan.cut(i), plan.cut(i + 1), pre, now));
                }
            }
            match overhead {
                // The tool's own work for this file holds its worker first.
                Some(d) => {
                    let at = self.overhead_lanes.finish_at(now, d);
                    out.push(Action::Timer { id: preamble::overhead_timer(file), at });
                }
                // A one-part file not held starts its segment at once
                // ([`Self::start_more_of`]: its window has room for it, and
                // no more).
                None if parts == 1 => {
                    self.active[w].started = 1;
                    self.acquire(now, first_seg, out);
                }
                None => self.start_more_of(now, worker, out),
            }
        }
    }

    /// Request `req` of segment `s`, in flight on `conn`, fetched the rest
    /// of its one-part file ([`Self::recycle`]: the file is `plain`, the
    /// connection is kept, every worker is busy, no segment waits). The
    /// same as the general path — the request done and its connection
    /// released, the file completed and its worker and segment freed, the
    /// next file dispatched to that worker (the lowest free one), its
    /// segment (the free list's top) and its connection (the idle stack's
    /// top) — in one step: the next queued file takes the worker, the
    /// segment and the connection in place, and only what differs between
    /// the two files is written. If no file is queued, the worker, segment
    /// and connection are given back as the general path gives them back.
    #[inline(always)]
    fn next_file_in_place(&mut self, now: SimTime, s: u32, conn: ConnId, out: &mut Vec<Action>) {
        let seg = &self.segs[s as usize];
        let (file, bytes) = (seg.file, seg.req_end - seg.req_start);
        self.stats.received_bytes += bytes;
        let run = &mut self.runs[file as usize];
        debug_assert_eq!(run.status, FileStatus::Active, "file {file} is not active");
        let worker = run.worker;
        run.status = FileStatus::Completed;
        run.ended_at = now;
        let a = &self.active[worker as usize];
        debug_assert_eq!((a.parts, a.segs_left, a.first_seg), (1, 1, s));
        self.stats.reads += bytes.div_ceil(a.read_size);
        // The held bytes the request added (buffered) and the file's end
        // took away, at once.
        self.held_bytes -= match a.buffer {
            BufferMode::Buffered => a.confirmed,
            BufferMode::Streamed { buffer_bytes } => buffer_bytes,
        };
        let meta = &self.files[file as usize];
        let (size, model) = (meta.size, meta.model);
        debug_assert_eq!(a.confirmed + bytes, size);
        self.stats.files_completed += 1;
        self.stats.useful_bytes += size;
        self.ended += 1;
        let Some((_, key)) = self.queue.finished_then_pop(model) else {
            // Nothing to dispatch: what the general path leaves.
            let seg = &mut self.segs[s as usize];
            seg.next = seg.req_end;
            seg.failures = 0;
            seg.retry_end = None;
            seg.state = SegState::Done;
            let a = &mut self.active[worker as usize];
            a.confirmed += bytes;
            a.segs_left = 0;
            self.free_workers.give_back(worker);
            self.free_segs.push(s);
            self.pool.set_holder(conn, None);
            return self.release(now, conn, true, out);
        };
        // Every worker was busy: the queue's limit allows this one file.
        let (priority, next) = (key.0, key.2);
        let size = self.files[next as usize].size;
        let w = &mut self.stats.wait_by_priority[priority.index()];
        w.files += 1;
        w.total += now;
        w.max = w.max.max(now);
        // As many files are active as before the ended one ended, and
        // the peak counted them then.
        debug_assert!(self.stats.peak_active_files >= self.queue.active_files());
        let run = &mut self.runs[next as usize];
        run.worker = worker;
        run.status = FileStatus::Active;
        run.dispatched_at = now;
        // The worker's record as dispatch writes it: the same segment, one
        // part, a window of one, the fixed read size, not gated nor held;
        // only the buffer, the count left and the bytes confirmed differ.
        let a = &mut self.active[worker as usize];
        debug_assert_eq!(a.read_size, self.cfg.read_size_bytes);
        debug_assert!((a.window, a.started, a.gated, a.held) == (1, 1, false, false));
        a.buffer = memory::buffer_mode(size, self.cfg.streaming_threshold_bytes, a.read_size);
        a.segs_left = 1;
        a.confirmed = 0;
        if let BufferMode::Streamed { buffer_bytes } = a.buffer {
            self.held_bytes += buffer_bytes;
        }
        // [`Self::send`] of a fresh whole-file segment on the reused
        // connection (it keeps `s` as its holder).
        let end = if self.whole_requests {
            size.max(1)
        } else {
            chunk::next_request_size(&self.cfg.chunking, size, size, None)
        };
        let req = self.next_req;
        self.next_req += 1;
        self.segs[s as usize] =
            Segment { state: SegState::InFlight(conn), req, req_end: end, ..Segment::fresh(next, 0, size, 0, now) };
        self.pool.reacquire_for_request(now, conn);
        self.stats.requests += 1;
        out.push(Action::Send { conn, req, file: next, start: 0, end, read_timeout: self.read_timeout });
    }

    /// Write segment `s`, a free one or the next new one.
    #[inline(always)]
    fn put_seg(&mut self, s: u32, seg: Segment) {
        match self.segs.get_mut(s as usize) {
            Some(slot) => *slot = seg,
            None => self.segs.push(seg),
        }
    }

    /// First of `parts` consecutive free segments: the free list's top when
    /// the file has one part, else new ones at the end.
    #[inline(always)]
    fn free_seg_run(&mut self, parts: u64) -> u32 {
        match self.free_segs.pop() {
            Some(s) if parts == 1 => s,
            other => {
                self.free_segs.extend(other);
                self.segs.len() as u32
            }
        }
    }

    fn acquire(&mut self, now: SimTime, s: u32, out: &mut Vec<Action>) {
        let seg = &self.segs[s as usize];
        let owner = match self.cfg.pool.scope {
            PoolScope::Shared => 0,
            PoolScope::PerWorker => self.runs[seg.file as usize].worker,
            PoolScope::PerFile => seg.file,
        };
        // With a redirect to a CDN, each owner has a pool per host.
        let owner = if self.cfg.metadata.redirect_min_bytes.is_some() {
            2 * owner + preamble::host(&self.cfg.metadata, self.files[seg.file as usize].size, seg.pre)
        } else {
            owner
        };
        let got = self.pool.acquire(now, owner, &mut self.closed_scratch);
        if !self.closed_scratch.is_empty() {
            let mut closed = std::mem::take(&mut self.closed_scratch);
            for (conn, reason) in closed.drain(..) {
                out.push(Action::Close { conn });
                self.log(|| TraceEvent::ConnClosed { t: now, conn, reason: reason_name(reason) });
            }
            self.closed_scratch = closed;
        }
        match got {
            Acquire::Reuse(conn) => {
                if self.tracing {
                    let requests_before = self.pool.conn(conn).requests;
                    self.log(|| TraceEvent::ConnReused { t: now, conn, requests_before });
                }
                self.set_conn_seg(conn, s);
                self.send(now, s, conn, out);
            }
            Acquire::Open(conn) => {
                self.log(|| TraceEvent::ConnOpen { t: now, conn, pool: owner });
                self.set_conn_seg(conn, s);
                self.segs[s as usize].state = SegState::Opening(conn);
                out.push(Action::Open { conn });
            }
            Acquire::Wait => {
                self.segs[s as usize].state = SegState::WaitConn;
                self.waiting.push_back(s);
            }
        }
    }

    #[inline]
    fn set_conn_seg(&mut self, conn: ConnId, s: u32) {
        self.pool.set_holder(conn, Some(s));
    }

    /// Start the file's next segments while its window has room (and its
    /// per-file body-less requests are done).
    #[inline(always)]
    fn start_more(&mut self, now: SimTime, file: u32, out: &mut Vec<Action>) {
        let r = &self.runs[file as usize];
        if r.status == FileStatus::Active {
            self.start_more_of(now, r.worker, out);
        }
    }

    /// [`Self::start_more`] of the active file held by `worker` (starting
    /// segments neither ends nor frees the file).
    #[inline(always)]
    fn start_more_of(&mut self, now: SimTime, worker: u32, out: &mut Vec<Action>) {
        loop {
            let a = &mut self.active[worker as usize];
            if a.held {
                return;
            }
            let done = a.parts - a.segs_left;
            let may = if a.gated { 1 } else { a.window };
            if a.started >= a.parts || a.started - done >= may {
                return;
            }
            let s = a.first_seg + a.started;
            a.started += 1;
            self.acquire(now, s, out);
        }
    }

    /// A body-less request (HEAD, probe, redirect) of segment `s` is done.
    /// Its range's attempt count goes on: a try is the body-less requests
    /// and the range together (aria2's `--max-tries` counts the redirect
    /// and the segment's GET as one), so a range that keeps failing after
    /// a good redirect still runs out of attempts.
    fn preamble_done(&mut self, now: SimTime, s: u32, conn: ConnId, keep_alive: bool, out: &mut Vec<Action>) {
        let seg = &mut self.segs[s as usize];
        seg.in_pre = false;
        seg.pre -= 1;
        let (file, pre, req) = (seg.file, seg.pre, seg.req);
        self.log(|| TraceEvent::RequestDone { t: now, file, conn, req, bytes: 0 });
        self.pool.set_holder(conn, None);
        let size = self.files[file as usize].size;
        let per_request = preamble::per_request(&self.cfg.metadata, size);
        let a = self.act_mut(file);
        if a.gated && s == a.first_seg && pre <= per_request {
            a.gated = false;
        }
        self.release(now, conn, keep_alive, out);
        // A body-less request always precedes a range not yet fetched
        // (files have at least one byte): the segment goes on either way.
        let seg = &self.segs[s as usize];
        debug_assert!(seg.next < seg.end, "a preamble before nothing to fetch");
        self.acquire(now, s, out);
        self.start_more(now, file, out);
    }

    #[inline(always)]
    fn send(&mut self, now: SimTime, s: u32, conn: ConnId, out: &mut Vec<Action>) {
        let seg = &mut self.segs[s as usize];
        let pre = seg.pre > 0;
        let end = if pre {
            seg.next
        } else if let Some(end) = seg.retry_end {
            end
        } else if self.whole_requests {
            // [`chunk::next_request_size`] of `whole_file`: the rest, at least 1 byte.
            seg.next + (seg.end - seg.next).max(1)
        } else {
            let size = self.files[seg.file as usize].size;
            seg.next + chunk::next_request_size(&self.cfg.chunking, size, seg.end - seg.next, seg.measured_bps)
        };
        let req = self.next_req;
        self.next_req += 1;
        seg.state = SegState::InFlight(conn);
        seg.in_pre = pre;
        seg.req = req;
        seg.req_start = seg.next;
        seg.req_end = end;
        seg.sent_at = now;
        let (file, start, attempt) = (seg.file, seg.next, seg.failures + 1);
        self.pool.note_request(conn);
        self.stats.requests += 1;
        self.log(|| TraceEvent::RequestSent { t: now, file, conn, req, start, end, attempt });
        out.push(Action::Send { conn, req, file, start, end, read_timeout: self.read_timeout });
    }

    /// Return a connection; close it if it is not kept; hand freed capacity
    /// to segments waiting for a connection.
    #[inline(always)]
    fn release(&mut self, now: SimTime, conn: ConnId, alive: bool, out: &mut Vec<Action>) {
        match self.pool.release(now, conn, alive) {
            Some(reason) => {
                out.push(Action::Close { conn });
                self.log(|| TraceEvent::ConnClosed { t: now, conn, reason: reason_name(reason) });
            }
            None => self.log(|| TraceEvent::ConnIdle { t: now, conn }),
        }
        if !self.waiting.is_empty() {
            self.serve_waiters(now, out);
        }
    }

    fn serve_waiters(&mut self, now: SimTime, out: &mut Vec<Action>) {
        while let Some(&s) = self.waiting.front() {
            if self.segs[s as usize].state != SegState::WaitConn {
                self.waiting.pop_front();
                continue;
            }
            let before = self.waiting.len();
            self.waiting.pop_front();
            self.acquire(now, s, out);
            if self.waiting.len() == before {
                // It went back to waiting (at the back): restore FIFO order.
                let s = self.waiting.pop_back().expect("just pushed");
                self.waiting.push_front(s);
                break;
            }
        }
    }

    #[inline(always)]
    fn continue_segment(&mut self, now: SimTime, s: u32, out: &mut Vec<Action>) {
        let seg = &self.segs[s as usize];
        if seg.next < seg.end {
            self.acquire(now, s, out);
            return;
        }
        let file = seg.file;
        let worker = self.runs[file as usize].worker;
        self.segment_done(now, s, file, worker, out);
    }

    /// Segment `s` of active `file`, held by `worker`, has fetched its range.
    #[inline(always)]
    fn segment_done(&mut self, now: SimTime, s: u32, file: u32, worker: u32, out: &mut Vec<Action>) {
        let seg = &mut self.segs[s as usize];
        seg.state = SegState::Done;
        let range_bytes = seg.end - seg.req_start;
        let run = &self.runs[file as usize];
        debug_assert_eq!(run.status, FileStatus::Active, "file {file} is not active");
        debug_assert_eq!(run.worker, worker);
        let a = &mut self.active[worker as usize];
        a.segs_left -= 1;
        if let Some(w) = self.file_overhead.range_write(range_bytes) {
            a.written_at = a.written_at.max(now) + w;
        }
        if a.segs_left > 0 {
            self.start_more(now, file, out);
            return;
        }
        // The tool's own work after the last byte holds the worker: its
        // range writes, then its per-file work.
        let written = a.written_at.max(now);
        let at = match self.file_overhead.after(self.files[file as usize].size) {
            Some(d) => self.overhead_lanes.finish_at(written, d),
            None => written,
        };
        if at > now {
            a.held = true;
            out.push(Action::Timer { id: preamble::overhead_timer(file), at });
        } else {
            self.complete_file(now, file, worker, out);
        }
    }

    /// Active `file`, held by `worker`, has all its bytes and its per-file
    /// work done: it completes, and frees its worker and segments.
    #[inline(always)]
    fn complete_file(&mut self, now: SimTime, file: u32, worker: u32, out: &mut Vec<Action>) {
        let act = self.active[worker as usize];
        let run = &mut self.runs[file as usize];
        run.status = FileStatus::Completed;
        run.ended_at = now;
        let meta = &self.files[file as usize];
        let (size, model) = (meta.size, meta.model);
        debug_assert_eq!(act.confirmed, size);
        self.held_bytes -= match act.buffer {
            BufferMode::Buffered => act.confirmed,
            BufferMode::Streamed { buffer_bytes } => buffer_bytes,
        };
        self.free_segs.extend(act.first_seg..act.first_seg + act.parts);
        self.stats.files_completed += 1;
        self.stats.useful_bytes += size;
        // The speeds feed only the adaptive read size.
        if self.cfg.adaptive_read_size {
            let took = (now - run.dispatched_at).as_secs_f64();
            if took > 0.0 {
                if self.file_speeds.len() == SPEED_HISTORY {
                    self.file_speeds.pop_front();
                }
                self.file_speeds.push_back(size as f64 / took);
            }
        }
        self.log(|| TraceEvent::FileCompleted { t: now, file, bytes: size });
        self.end_file(now, worker, model, out);
    }

    /// A file of `model` held by `worker` ended: free both, dispatch.
    #[inline(always)]
    fn end_file(&mut self, now: SimTime, worker: u32, model: u32, out: &mut Vec<Action>) {
        self.ended += 1;
        self.queue.finished(model);
        self.free_workers.give_back(worker);
        self.dispatch(now, out);
    }

    /// Account a failed request or connect (bytes kept by resume, the log
    /// entry). Returns whether resume kept the request's whole range.
    fn record_failure(&mut self, now: SimTime, s: u32, req: u64, received: u64, failure: Failure) -> bool {
        let seg = &mut self.segs[s as usize];
        let file = seg.file;
        let state = seg.state;
        seg.failures += 1;
        let SegState::InFlight(conn) = state else {
            // A connect failure: no request was sent, the pending range stays.
            *self.stats.failures_by_kind.entry(failure.kind()).or_insert(0) += 1;
            return false;
        };
        let (received, kept, range_done) = if std::mem::take(&mut seg.in_pre) {
            // A body-less request failed: it is sent again, nothing was received.
            (0, 0, false)
        } else {
            seg.pre = preamble::per_request(&self.cfg.metadata, self.files[file as usize].size);
            let received = received.min(seg.req_end - seg.req_start);
            let kept = if self.cfg.retry.enable_resume { received } else { 0 };
            seg.next += kept;
            seg.retry_end = (seg.req_end > seg.next).then_some(seg.req_end);
            (received, kept, seg.retry_end.is_none())
        };
        self.stats.received_bytes += received;
        self.stats.reads += received.div_ceil(self.act(file).read_size);
        self.stats.resumed_bytes += kept;
        *self.stats.failures_by_kind.entry(failure.kind()).or_insert(0) += 1;
        self.confirm(file, kept);
        let retryable = failure.retryable();
        self.log(|| TraceEvent::RequestFailed {
            t: now,
            file,
            conn,
            req,
            kind: failure.kind(),
            received,
            kept,
            retryable,
        });
        range_done
    }

    /// After a failure: go on (resume kept the whole range), retry after a
    /// backoff, or fail the file.
    fn retry_or_fail(&mut self, now: SimTime, s: u32, failure: Failure, range_done: bool, out: &mut Vec<Action>) {
        let seg = &self.segs[s as usize];
        let (file, failures, start) = (seg.file, seg.failures, seg.next);
        if range_done {
            self.segs[s as usize].failures = 0;
            self.continue_segment(now, s, out);
            return;
        }
        let r = &self.cfg.retry;
        let retryable = failure.retryable() && !r.not_retried.iter().any(|k| k == failure.kind());
        if !retryable {
            return self.fail_file(now, file, format!("{} is not retryable", failure.kind()), out);
        }
        if failures >= r.max_attempts {
            return self.fail_file(now, file, format!("{} after {failures} attempts", failure.kind()), out);
        }
        if r.parallel_failures.is_some_and(|g| self.in_backoff >= g) {
            self.stats.parallel_failure_trips += 1;
            return self.fail_file(now, file, format!("{}: too many parallel failures", failure.kind()), out);
        }
        let retry_after_s = match failure {
            Failure::Status { retry_after_s, .. } => retry_after_s,
            _ => None,
        };
        let u = self.rng.uniform(DecisionKey::new(domain::BACKOFF_JITTER, file as u64, start, failures as u64));
        let delay_s = retry::delay_s(r, failures, u, retry_after_s);
        let at = now + SimTime::from_secs_f64_ceil(delay_s);
        self.stats.retries += 1;
        self.in_backoff += 1;
        self.segs[s as usize].state = SegState::Backoff;
        self.log(|| TraceEvent::RetryScheduled { t: now, file, start, retry: failures, delay_s, retry_after_s, at });
        out.push(Action::Timer { id: s as u64, at });
    }

    fn fail_file(&mut self, now: SimTime, file: u32, reason: String, out: &mut Vec<Action>) {
        let act = *self.act(file);
        let run = &mut self.runs[file as usize];
        run.status = FileStatus::Failed;
        run.ended_at = now;
        self.held_bytes -= match act.buffer {
            BufferMode::Buffered => act.confirmed,
            BufferMode::Streamed { buffer_bytes } => buffer_bytes,
        };
        for s in act.first_seg..act.first_seg + act.parts {
            let seg = &mut self.segs[s as usize];
            match seg.state {
                SegState::InFlight(conn) => {
                    seg.state = SegState::Cancelled;
                    self.pool.set_holder(conn, None);
                    self.pool.close(conn);
                    out.push(Action::Close { conn });
                    self.log(|| TraceEvent::ConnClosed { t: now, conn, reason: "aborted" });
                }
                SegState::Backoff => {
                    seg.state = SegState::Cancelled;
                    self.in_backoff -= 1;
                }
                SegState::WaitConn | SegState::Opening(_) => seg.state = SegState::Cancelled,
                SegState::Done | SegState::Cancelled => {}
            }
        }
        self.stats.files_failed += 1;
        self.log(|| TraceEvent::FileFailed { t: now, file, reason: reason.clone() });
        self.fail_reasons.insert(file, reason);
        self.serve_waiters(now, out);
        let (worker, model) = (self.runs[file as usize].worker, self.files[file as usize].model);
        self.end_file(now, worker, model, out);
    }
}

fn reason_name(r: CloseReason) -> &'static str {
    match r {
        CloseReason::Overflow => "overflow",
        CloseReason::IdleTimeout => "idle_timeout",
        CloseReason::MaxRequests => "max_requests",
        CloseReason::Dead => "dead",
        CloseReason::Aborted => "aborted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Client;

    /// The core's own memory account counts at least its per-file run
    /// state and, once every worker holds a file, its active-file slots and
    /// segments (the figures the bench
    /// states per file and per connection are built on it).
    #[test]
    fn heap_account_counts_every_file_and_every_worker() {
        let files: Vec<_> = (0..1000)
            .map(|i| crate::scenario::File {
                id: i,
                model: 0,
                path: format!("f{i}"),
                size: 10,
                priority: Priority::Normal,
            })
            .collect();
        let cfg = Client { max_concurrent_downloads: 16, max_concurrent_files_per_model: 16, ..Client::default() };
        let mut o = Orchestrator::new(cfg, FileSet::from(files), &[Priority::Normal], 1, false);
        // Starting dispatches a file to each of the 16 workers; each opens a
        // connection and, once it is open, sends its file's one segment.
        let mut out = vec![];
        o.start(SimTime::ZERO, &mut out);
        let opened: Vec<_> =
            out.iter().filter_map(|a| if let Action::Open { conn } = a { Some(*conn) } else { None }).collect();
        assert_eq!(opened.len(), 16);
        for conn in opened {
            o.handle(SimTime::ZERO, Input::ConnOpened { conn }, &mut vec![]);
        }
        let (per_file, per_conn) = o.heap_bytes();
        assert!(per_file >= 1000 * std::mem::size_of::<FileRun>(), "{per_file}");
        // Each busy worker holds its active file and at least one segment.
        assert!(per_conn >= 16 * (std::mem::size_of::<ActiveFile>() + std::mem::size_of::<Segment>()), "{per_conn}");
    }

    /// A refused connect counts as an attempt and backs off; it used to
    /// reopen at once, forever.
    #[test]
    fn connect_failures_back_off_and_count_as_attempts() {
        let file = crate::scenario::File { id: 0, model: 0, path: "a".into(), size: 10, priority: Priority::Normal };
        let mut o = Orchestrator::new(Client::default(), FileSet::from(vec![file]), &[Priority::Normal], 1, false);
        let mut out = vec![];
        o.start(SimTime::ZERO, &mut out);
        let mut now = SimTime::ZERO;
        for attempt in 1..=5 {
            let conn = match out.as_slice() {
                [Action::Open { conn }] => *conn,
                other => panic!("attempt {attempt}: expected one Open, got {other:?}"),
            };
            out.clear();
            o.handle(now, Input::ConnFailed { conn }, &mut out);
            if attempt == 5 {
                assert!(out.is_empty(), "{out:?}");
                assert_eq!(o.stats.failures_by_kind.get(Failure::Connect.kind()), Some(&5));
                assert!(o.is_finished());
                assert_eq!(o.outcome(0).status, FileStatus::Failed);
                return;
            }
            let (id, at) = match out.as_slice() {
                [Action::Timer { id, at }] => (*id, *at),
                other => panic!("attempt {attempt}: expected a backoff timer, got {other:?}"),
            };
            assert!(at > now, "backoff must wait");
            now = at;
            out.clear();
            o.handle(now, Input::Timer { id }, &mut out);
        }
    }

    /// A runtime may report more bytes than a request asked for (a server
    /// overrunning its range); the core counts and keeps only the range.
    /// A 10-byte file in 4-byte chunks: [0, 4) done, then [4, 8) is reset
    /// after a "1000-byte" read: 4 bytes count and are kept (resume), so
    /// that range is done and the retry asks for [8, 10), not for an empty
    /// rest of [4, 8).
    #[test]
    fn a_failure_reporting_more_than_its_range_counts_only_the_range() {
        use crate::scenario::{ChunkMode, Chunking};
        let file = crate::scenario::File { id: 0, model: 0, path: "a".into(), size: 10, priority: Priority::Normal };
        let chunking = Chunking { mode: ChunkMode::Fixed, chunk_size_bytes: 4, ..Chunking::default() };
        let mut o = Orchestrator::new(
            Client { chunking, ..Client::default() },
            FileSet::from(vec![file]),
            &[Priority::Normal],
            1,
            false,
        );
        // Answer opens and timers until the core sends a request.
        let next_send = |o: &mut Orchestrator, mut out: Vec<Action>| loop {
            let mut next = vec![];
            for a in out.drain(..) {
                match a {
                    Action::Send { conn, req, start, end, .. } => return (conn, req, start, end),
                    Action::Open { conn } => o.handle(SimTime::ZERO, Input::ConnOpened { conn }, &mut next),
                    Action::Timer { id, at } => o.handle(at, Input::Timer { id }, &mut next),
                    Action::Close { .. } => {}
                }
            }
            assert!(!next.is_empty(), "the core stopped without sending");
            out = next;
        };
        let mut out = vec![];
        o.start(SimTime::ZERO, &mut out);
        let (conn, req, start, end) = next_send(&mut o, out);
        assert_eq!((start, end), (0, 4));
        let mut out = vec![];
        o.handle(SimTime::ZERO, Input::RequestDone { conn, req, keep_alive: true }, &mut out);
        let (conn, req, start, end) = next_send(&mut o, out);
        assert_eq!((start, end), (4, 8));
        let mut out = vec![];
        o.handle(SimTime::ZERO, Input::RequestFailed { conn, req, received: 1000, failure: Failure::Reset }, &mut out);
        assert_eq!((o.stats.received_bytes, o.stats.resumed_bytes), (8, 4));
        let (_, _, start, end) = next_send(&mut o, out);
        assert_eq!((start, end), (8, 10));
    }
}
