//! The invariant checker: replays a run's event log against the scenario and
//! names the first invariant it breaks, with the event that broke it.
//!
//! It keeps its own model of the queue ([`queue`]), the retry policy
//! ([`retry`]) and the connection pool ([`pool`]), written independently of
//! the policy core so a bug there shows up as a disagreement here.
//! [`check_run`] adds the run's counters (pool stats, bytes, limiter bound).

mod pool;
mod queue;
mod retry;

pub use queue::by_file_type;
pub use retry::expected_base_delay_s;

use crate::orchestrator::preamble;
use crate::record::RunRecord;
use crate::scenario::{FileMeta, FileSet, Scenario};
use crate::time::SimTime;
use crate::trace::TraceEvent;
use std::fmt;

/// The first broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub invariant: &'static str,
    /// Index of the offending event in the log (`None`: found at the end).
    pub at: Option<usize>,
    pub detail: String,
    /// The offending event, as JSON.
    pub event: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(i) => write!(f, "invariant `{}` broken at event #{i}: {}", self.invariant, self.detail)?,
            None => write!(f, "invariant `{}` broken: {}", self.invariant, self.detail)?,
        }
        if let Some(e) = &self.event {
            write!(f, "\n  event: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

type Check = Result<(), Violation>;

fn fail(invariant: &'static str, detail: String) -> Check {
    Err(Violation { invariant, at: None, detail, event: None })
}

/// Check a run's log against its scenario and expanded workload.
pub fn check(log: &[TraceEvent], scenario: &Scenario, files: &FileSet) -> Check {
    let mut c = Checker::new(scenario, files);
    for (i, ev) in log.iter().enumerate() {
        let t = ev.time();
        let r = if t < c.now {
            fail("time never goes backwards", format!("{t} after {}", c.now))
        } else if t > c.now {
            c.end_instant().and_then(|_| {
                c.now = t;
                c.event(ev)
            })
        } else {
            c.event(ev)
        };
        r.map_err(|mut v| {
            // A violation found when an instant closes belongs to the events before.
            v.at = Some(if t > c.now { i.saturating_sub(1) } else { i });
            v.event = serde_json::to_string(&log[v.at.unwrap_or(i)]).ok();
            v
        })?;
    }
    c.end_instant()?;
    c.finish()
}

/// The run's bytes, each term from its own source: the log's completions,
/// the log's request outcomes, and the runtime's count of aborted bytes.
/// None is defined as a difference, so `useful + wasted() =
/// transferred` (the runtime's wire count) is a check that can fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ByteAccount {
    /// Σ sizes of completed files (`FileCompleted`).
    pub useful: u64,
    /// Σ bytes of completed requests and of failed ones (`RequestDone`, `RequestFailed.received`).
    pub received: u64,
    /// Σ bytes of failed requests kept by resume.
    pub kept: u64,
    /// Σ (received − kept) over failed requests: bytes thrown away.
    pub dropped: u64,
    /// Bytes confirmed (whole requests and kept pieces) for files that then failed.
    pub failed_files: u64,
    /// Bytes of requests the client aborted (the runtime's count).
    pub aborted: u64,
}

impl ByteAccount {
    /// Bytes that are not part of a completed file.
    pub fn wasted(&self) -> u64 {
        self.dropped + self.failed_files + self.aborted
    }
}

/// Account a run's bytes from its log and the runtime's aborted-byte count.
pub fn byte_account(log: &[TraceEvent], aborted_bytes: u64) -> ByteAccount {
    let mut a = ByteAccount { aborted: aborted_bytes, ..ByteAccount::default() };
    // Per file id (dense): bytes confirmed.
    let mut confirmed: Vec<u64> = Vec::new();
    let add = |confirmed: &mut Vec<u64>, file: u32, n: u64| {
        let i = file as usize;
        if confirmed.len() <= i {
            confirmed.resize(i + 1, 0);
        }
        confirmed[i] += n;
    };
    for e in log {
        match e {
            TraceEvent::RequestDone { file, bytes, .. } => {
                a.received += bytes;
                add(&mut confirmed, *file, *bytes);
            }
            TraceEvent::RequestFailed { file, received, kept, .. } => {
                a.received += received;
                a.kept += kept;
                a.dropped += received.saturating_sub(*kept);
                add(&mut confirmed, *file, *kept);
            }
            TraceEvent::FileCompleted { bytes, .. } => a.useful += bytes,
            TraceEvent::FileFailed { file, .. } => {
                add(&mut confirmed, *file, 0);
                a.failed_files += confirmed[*file as usize];
            }
            _ => {}
        }
    }
    a
}

/// [`check`] the run's log, then its counters against the log: pool stats,
/// requests and retries, received and resumed bytes, useful + wasted =
/// transferred (see [`ByteAccount`]), the limiter bound over the whole run.
/// Works on records of either runtime.
pub fn check_run(scenario: &Scenario, run: &RunRecord) -> Check {
    check(&run.trace, scenario, &run.files)?;
    // One pass over the log counts what the stats must equal.
    let mut n = LogCounts::default();
    for e in &run.trace {
        match e {
            TraceEvent::ConnOpen { .. } => n.opened += 1,
            TraceEvent::ConnReused { .. } => n.reused += 1,
            TraceEvent::ConnClosed { reason, .. } => match *reason {
                "overflow" => n.overflow += 1,
                "idle_timeout" => n.idle_timeout += 1,
                "max_requests" => n.max_requests += 1,
                _ => {}
            },
            TraceEvent::RequestSent { .. } => n.requests += 1,
            TraceEvent::RetryScheduled { .. } => n.retries += 1,
            TraceEvent::FileCompleted { .. } => n.completed += 1,
            _ => {}
        }
    }
    let p = &run.pool;
    let pairs: [(&'static str, u64, u64); 9] = [
        ("handshakes = connections opened", p.opened, n.opened),
        ("pool misses = connections opened", p.misses, n.opened),
        ("pool hits = reuses", p.hits, n.reused),
        ("pool overflow discards counted", p.overflow_discarded, n.overflow),
        ("pool idle expiries counted", p.idle_expired, n.idle_timeout),
        ("pool retirements counted", p.retired_max_requests, n.max_requests),
        ("requests counted", run.stats.requests, n.requests),
        ("retries counted", run.stats.retries, n.retries),
        ("completed files counted", run.stats.files_completed as u64, n.completed),
    ];
    for (name, stat, seen) in pairs {
        if stat != seen {
            return fail(name, format!("stats say {stat}, the log shows {seen}"));
        }
    }
    let bytes = byte_account(&run.trace, run.aborted_bytes);
    if run.stats.useful_bytes != bytes.useful {
        return fail(
            "useful bytes = sizes of completed files",
            format!("{} != {}", run.stats.useful_bytes, bytes.useful),
        );
    }
    if run.stats.received_bytes != bytes.received {
        return fail("received bytes counted", format!("stats {} != log {}", run.stats.received_bytes, bytes.received));
    }
    if run.stats.resumed_bytes != bytes.kept {
        return fail("resumed bytes counted", format!("stats {} != log {}", run.stats.resumed_bytes, bytes.kept));
    }
    if run.aborted_bytes > run.transferred_bytes || bytes.useful + bytes.wasted() != run.transferred_bytes {
        return fail(
            "useful + wasted = transferred",
            format!(
                "the runtime counted {} bytes on the wire; the log accounts for {} useful + {} wasted \
                 ({} received and not kept, {} confirmed for failed files, {} aborted)",
                run.transferred_bytes,
                bytes.useful,
                bytes.wasted(),
                bytes.dropped,
                bytes.failed_files,
                bytes.aborted
            ),
        );
    }
    if let Some(l) = &scenario.client.bandwidth_limit {
        // A real connection counts a read before it waits for the read's
        // tokens: when the run ends, each open connection may hold one read
        // not yet covered (an aborted request's).
        let uncovered = run.real().map_or(0.0, |r| r.read_size_bytes as f64 * f64::from(run.pool.peak_open));
        let bound = l.burst() + l.rate_bps * run.duration.as_secs_f64() + uncovered;
        if run.transferred_bytes as f64 > bound * (1.0 + 1e-9) + 1.0 {
            return fail(
                "limiter: bytes in a window ≤ burst + rate × window",
                format!("{} bytes in {} > {bound}", run.transferred_bytes, run.duration),
            );
        }
    }
    Ok(())
}

/// Events of the log that the run's counters count.
#[derive(Default)]
struct LogCounts {
    opened: u64,
    reused: u64,
    overflow: u64,
    idle_timeout: u64,
    max_requests: u64,
    requests: u64,
    retries: u64,
    completed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileState {
    Queued,
    Active,
    Ended,
}

/// A request in flight.
#[derive(Clone, Copy, Debug)]
struct Req {
    file: u32,
    req: u64,
    start: u64,
    end: u64,
    attempt: u32,
}

pub(crate) struct Checker<'a> {
    s: &'a Scenario,
    files: &'a FileSet,
    now: SimTime,
    state: Vec<FileState>,
    queue: queue::QueueModel,
    pool: pool::PoolModel,
    retry: retry::RetryModel,
    /// By connection id (the pool numbers them densely from 0): the request
    /// in flight.
    in_flight: Vec<Option<Req>>,
    /// Per file: requests in `in_flight` (so a file's end checks it in O(1)).
    in_flight_of: Vec<u32>,
    /// Per file: confirmed byte ranges `[start, end)`, disjoint, sorted
    /// (dropped when the file ends).
    confirmed: Vec<Vec<(u64, u64)>>,
}

impl<'a> Checker<'a> {
    fn new(s: &'a Scenario, files: &'a FileSet) -> Self {
        Checker {
            s,
            files,
            now: SimTime::ZERO,
            state: vec![FileState::Queued; files.len()],
            queue: queue::QueueModel::new(s, files),
            pool: pool::PoolModel::new(&s.client),
            retry: retry::RetryModel::default(),
            in_flight: Vec::new(),
            in_flight_of: vec![0; files.len()],
            confirmed: vec![Vec::new(); files.len()],
        }
    }

    fn file(&self, file: u32) -> Result<&FileMeta, Violation> {
        match self.files.get(file as usize) {
            Some(f) => Ok(f),
            None => Err(Violation {
                invariant: "events name files of the workload",
                at: None,
                detail: format!("file {file} of {}", self.files.len()),
                event: None,
            }),
        }
    }

    /// Confirm `[start, end)` of `file`: no byte is confirmed twice.
    fn confirm(&mut self, file: u32, start: u64, end: u64) -> Check {
        if start >= end {
            return Ok(());
        }
        let ranges = &mut self.confirmed[file as usize];
        // The last range starting before `end` must end by `start` (and so
        // every earlier one, as they are disjoint).
        let at = ranges.partition_point(|(s, _)| *s < end);
        if at > 0 && ranges[at - 1].1 > start {
            return fail("resume never fetches a confirmed byte", format!("file {file}: [{start}, {end}) again"));
        }
        ranges.insert(at, (start, end));
        Ok(())
    }

    fn event(&mut self, ev: &TraceEvent) -> Check {
        self.pool.before(ev)?;
        match ev {
            TraceEvent::FileDispatched { file, model, priority, .. } => {
                self.file(*file)?;
                if self.state[*file as usize] != FileState::Queued {
                    return fail("every file dispatched once", format!("file {file}"));
                }
                self.queue.dispatch(*file, *model, *priority)?;
                self.state[*file as usize] = FileState::Active;
            }
            TraceEvent::ConnOpen { .. } | TraceEvent::ConnOpened { .. } | TraceEvent::ConnReused { .. } => {}
            TraceEvent::ConnIdle { .. } => {}
            TraceEvent::ConnClosed { conn, reason, .. } => {
                if *reason == "aborted" {
                    match self.in_flight.get_mut(*conn as usize).and_then(Option::take) {
                        Some(r) => self.in_flight_of[r.file as usize] -= 1,
                        None => return fail("aborts only hit requests in flight", format!("conn {conn}")),
                    }
                }
                if *reason == "connect_failed" {
                    self.retry.connect_failed(self.now);
                }
            }
            TraceEvent::RequestSent { file, conn, req, start, end, attempt, .. } => {
                let size = self.file(*file)?.size;
                if self.state[*file as usize] != FileState::Active {
                    return fail("requests only for active files", format!("file {file}"));
                }
                // A body-less request (HEAD, probe, redirect: `client.metadata`)
                // asks for nothing, before a byte of the file not yet fetched.
                let body_less = start == end && *start < size && !preamble::none(&self.s.client.metadata);
                if (start >= end && !body_less) || *end > size {
                    return fail(
                        "requests ask for a non-empty range of the file (or, body-less, for none before one)",
                        format!("[{start}, {end}) of {size}"),
                    );
                }
                let slot = self.in_flight_slot(*conn)?;
                if slot.replace(Req { file: *file, req: *req, start: *start, end: *end, attempt: *attempt }).is_some() {
                    return fail("one request at a time per connection", format!("conn {conn}"));
                }
                self.in_flight_of[*file as usize] += 1;
                self.retry.sent(self.s, self.now, *file, *start, *end, *attempt)?;
            }
            TraceEvent::RequestDone { file, conn, req, bytes, .. } => {
                let r = self.take_request(*conn, *file, *req)?;
                if r.end - r.start != *bytes {
                    return fail(
                        "a completed request brings its whole range",
                        format!("{bytes} of [{}, {})", r.start, r.end),
                    );
                }
                self.confirm(r.file, r.start, r.end)?;
            }
            TraceEvent::RequestFailed { file, conn, req, kind, received, kept, retryable, .. } => {
                let r = self.take_request(*conn, *file, *req)?;
                if *received > r.end - r.start {
                    return fail(
                        "a failed request brings at most its range",
                        format!("{received} of [{}, {})", r.start, r.end),
                    );
                }
                let want_kept = if self.s.client.retry.enable_resume { *received } else { 0 };
                if *kept != want_kept {
                    return fail(
                        "resume keeps exactly the bytes received (none when disabled)",
                        format!("kept {kept} of {received}"),
                    );
                }
                self.confirm(r.file, r.start, r.start + kept)?;
                self.retry.failed(
                    self.s,
                    r.file,
                    r.start + kept,
                    r.end,
                    r.attempt,
                    kind,
                    *retryable,
                    r.start == r.end,
                )?;
            }
            TraceEvent::RetryScheduled { file, start, retry, delay_s, retry_after_s, at, .. } => {
                self.retry.scheduled(self.s, self.now, *file, *start, *retry, *delay_s, *retry_after_s, *at)?;
            }
            TraceEvent::FileCompleted { file, bytes, .. } => {
                let size = self.file(*file)?.size;
                self.end_file(*file)?;
                let mut pos = 0;
                for (s, e) in &self.confirmed[*file as usize] {
                    if *s != pos {
                        break;
                    }
                    pos = *e;
                }
                if pos != size || *bytes != size {
                    return fail(
                        "useful bytes = file size",
                        format!("file {file} completed ({bytes} bytes) with [0, {pos}) of {size} confirmed"),
                    );
                }
                if self.in_flight_of[*file as usize] > 0 {
                    return fail("a completed file has no request in flight", format!("file {file}"));
                }
                self.confirmed[*file as usize] = Vec::new();
                self.retry.file_completed(*file)?;
            }
            TraceEvent::FileFailed { file, reason, .. } => {
                self.file(*file)?;
                self.end_file(*file)?;
                if reason.is_empty() {
                    return fail("a failed file has a reason", format!("file {file}"));
                }
                if self.in_flight_of[*file as usize] > 0 {
                    return fail("a failed file's requests are aborted", format!("file {file}"));
                }
                self.confirmed[*file as usize] = Vec::new();
                self.retry.file_failed(self.s, self.now, *file, reason)?;
            }
        }
        self.pool.after(ev, self.now)
    }

    /// `conn`'s slot in [`Checker::in_flight`] (grown on first use).
    fn in_flight_slot(&mut self, conn: u32) -> Result<&mut Option<Req>, Violation> {
        let i = conn as usize;
        if i >= self.in_flight.len() {
            // Ids are dense: one past the last id seen is the furthest a
            // valid log can go (the pool opened them in order).
            if i > self.in_flight.len().max(self.pool.opened()) {
                return Err(
                    fail("connections are numbered in the order they open", format!("conn {conn}")).unwrap_err()
                );
            }
            self.in_flight.resize(i + 1, None);
        }
        Ok(&mut self.in_flight[i])
    }

    fn take_request(&mut self, conn: u32, file: u32, req: u64) -> Result<Req, Violation> {
        match self.in_flight.get_mut(conn as usize).and_then(Option::take) {
            Some(r) if r.file == file && r.req == req => {
                self.in_flight_of[file as usize] -= 1;
                Ok(r)
            }
            other => Err(Violation {
                invariant: "responses match requests",
                at: None,
                detail: format!("conn {conn}: response for file {file} req {req}, in flight {other:?}"),
                event: None,
            }),
        }
    }

    fn end_file(&mut self, file: u32) -> Check {
        if self.state[file as usize] != FileState::Active {
            return fail("every file ends exactly once", format!("file {file} was {:?}", self.state[file as usize]));
        }
        self.state[file as usize] = FileState::Ended;
        self.queue.ended(file);
        Ok(())
    }

    /// All events of one instant are in: checks that hold between instants.
    fn end_instant(&mut self) -> Check {
        self.queue.work_conserving()?;
        self.retry.end_instant(self.now)
    }

    fn finish(&self) -> Check {
        if let Some(f) = self.state.iter().position(|s| *s != FileState::Ended) {
            let left = self.state.iter().filter(|s| **s != FileState::Ended).count();
            return fail(
                "every file ends exactly once",
                format!("{left} of {} files never ended (first: file {f})", self.files.len()),
            );
        }
        if let Some((conn, r)) = self.in_flight.iter().enumerate().find_map(|(c, r)| Some((c, r.as_ref()?))) {
            return fail("no request left in flight", format!("conn {conn}: {r:?}"));
        }
        self.pool.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Plan;
    use crate::sim::{SimOptions, simulate};

    fn scenario() -> Scenario {
        Scenario::from_json(
            r#"{"client":{"max_concurrent_downloads":1,"scheduling":"interleaved"},
                "workload":{"models":[{"name":"m","files":[
                  {"path":"a","size_bytes":1000,"priority":"low"},
                  {"path":"b","size_bytes":1000,"priority":"high"}]}]}}"#,
        )
        .expect("valid")
    }

    #[test]
    fn a_valid_run_passes_and_a_reordered_one_names_the_invariant_and_event() {
        let s = scenario();
        let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
        check_run(&s, &run).expect("valid run");
        // The low-priority file is dispatched first instead.
        let mut log = run.trace.clone();
        assert!(matches!(log[0], TraceEvent::FileDispatched { file: 1, .. }));
        log[0] = TraceEvent::FileDispatched {
            t: SimTime::ZERO,
            file: 0,
            model: 0,
            priority: crate::scenario::Priority::Low,
        };
        let v = check(&log, &s, &run.files).expect_err("priority inversion");
        assert_eq!(v.invariant, "priority: no dispatch while a higher-priority file waits for the slot");
        assert_eq!(v.at, Some(0));
        let msg = v.to_string();
        assert!(msg.contains("file_dispatched") && msg.contains("\"file\":0"), "{msg}");
    }

    /// The pool numbers connections in the order they open (the checker
    /// keeps them by id): a first connection numbered 1, or one opened
    /// twice, is a violation.
    #[test]
    fn connections_open_once_each_in_id_order() {
        let s = scenario();
        let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
        let open = run.trace.iter().position(|e| matches!(e, TraceEvent::ConnOpen { conn: 0, .. })).expect("an open");
        let renumber = |to: u32| -> Vec<TraceEvent> {
            run.trace
                .iter()
                .map(|e| match *e {
                    TraceEvent::ConnOpen { t, conn: 0, pool } => TraceEvent::ConnOpen { t, conn: to, pool },
                    ref e => e.clone(),
                })
                .collect()
        };
        let v = check(&renumber(1), &s, &run.files).expect_err("conn 1 first");
        assert_eq!((v.invariant, v.at), ("connections are numbered in the order they open", Some(open)));
        let mut twice = run.trace.clone();
        twice.insert(open + 1, run.trace[open].clone());
        let v = check(&twice, &s, &run.files).expect_err("opened twice");
        assert_eq!(v.invariant, "handshakes = connections opened (each opened once)");
    }

    /// The queue model takes files from the front of each model's sorted
    /// keys: after earlier dispatches, a later file dispatched before an
    /// earlier one of the same priority still breaks FIFO; a request on a
    /// connection id far past those opened is refused, not allocated.
    #[test]
    fn fifo_holds_after_the_front_moved_and_requests_name_opened_connections() {
        let s = Scenario::from_json(
            r#"{"client":{"max_concurrent_downloads":1},
                "workload":{"models":[{"name":"m","linear":{"count":4,"min_size_bytes":1000,"max_size_bytes":1000}}]}}"#,
        )
        .expect("valid");
        let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
        check_run(&s, &run).expect("valid run");
        let dispatch_of =
            |f: u32| run.trace.iter().position(|e| matches!(e, TraceEvent::FileDispatched { file, .. } if *file == f));
        let (i2, i3) = (dispatch_of(2).expect("file 2"), dispatch_of(3).expect("file 3"));
        let mut log = run.trace.clone();
        let TraceEvent::FileDispatched { t, model, priority, .. } = log[i2].clone() else { unreachable!() };
        log[i2] = TraceEvent::FileDispatched { t, file: 3, model, priority };
        let v = check(&log, &s, &run.files).expect_err("file 3 before file 2");
        assert_eq!((v.invariant, v.at), ("FIFO by enqueue order within a priority", Some(i2)));
        assert!(i3 > i2);

        let sent = run.trace.iter().position(|e| matches!(e, TraceEvent::RequestSent { .. })).expect("a request");
        let mut log = run.trace.clone();
        if let TraceEvent::RequestSent { conn, .. } = &mut log[sent] {
            *conn = u32::MAX;
        }
        let v = check(&log, &s, &run.files).expect_err("unknown connection");
        assert_eq!((v.invariant, v.at), ("connections are numbered in the order they open", Some(sent)));
    }
}
