//! The sim runtime: drives the policy core in virtual time with the network
//! model. Each [`Action`] becomes scheduled events (handshake done, first
//! byte, stall timeout, timer) or a fluid flow on the [`Link`]; each outcome
//! goes back to the core as an [`Input`].

use crate::engine::{Engine, EventQueue, World};
use crate::net::{Capacity, Costs, Discipline, Link, ProcessorSharing, RoundRobin, SlowStart, TcpParams};
use crate::orchestrator::{Action, ConnId, Failure, FileOutcome, Input, Orchestrator};
use crate::record::{RunRecord, Runtime};
use crate::scenario::Plan;
use crate::server::{ConnState, Decision, Method, Request, ServerPolicy, Then};
use crate::time::SimTime;

#[derive(Clone, Copy, Debug)]
enum Ev {
    Opened(ConnId),
    FirstByte(ConnId, u64),
    /// The client's read timeout of the request (a [`Failure::Timeout`]).
    Timeout(ConnId, u64),
    Timer(u64),
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    req: u64,
    file: u32,
    start: u64,
    end: u64,
    read_timeout: SimTime,
    /// Set once the body flows: how the server ends it.
    then: Then,
    /// The body is flowing on the link.
    flowing: bool,
    /// The server stalls this request (no body until the read timeout).
    stalled: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct SimConn {
    alive: bool,
    /// The server's side of the connection (its keep-alive budget).
    server: ConnState,
    req: Option<InFlight>,
}

struct SimWorld<D> {
    orch: Orchestrator,
    link: Link<D>,
    costs: Costs,
    /// The server core, shared with the loopback server.
    server: ServerPolicy,
    conns: Vec<SimConn>,
    serving: u32,
    peak_memory: f64,
    /// Body bytes delivered by ended flows (each rounded to whole bytes).
    transferred: u64,
    /// Of those, bytes of flows the client aborted.
    aborted: u64,
    actions: Vec<Action>,
    finished: Vec<(u32, f64)>,
}

impl<D: Discipline> SimWorld<D> {
    fn new(plan: &Plan, costs: Costs, link: Link<D>, trace: bool) -> Self {
        let (s, seed) = (plan.scenario(), plan.seed());
        let model_priority: Vec<_> = s.workload.models.iter().map(|m| m.priority).collect();
        SimWorld {
            orch: Orchestrator::new(s.client.clone(), plan.shared_files(), &model_priority, seed, trace),
            link,
            costs,
            server: ServerPolicy::of(&s.server, seed),
            conns: Vec::new(),
            serving: 0,
            peak_memory: 0.0,
            transferred: 0,
            aborted: 0,
            actions: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Memory only grows between events; sample it before each one.
    fn sample_memory(&mut self, now: SimTime) {
        self.link.advance(now);
        let held = bytes_f64(self.orch.held_bytes());
        // With no buffered flow the sum is `held + 0.0`, which is `held`.
        let mem = if self.link.has_buffered() { held + self.link.buffered_in_flight() } else { held };
        if mem > self.peak_memory {
            self.peak_memory = mem;
        }
    }

    fn feed(&mut self, now: SimTime, input: Input, q: &mut EventQueue<Ev>) {
        self.orch.handle(now, input, &mut self.actions);
        self.execute(now, q);
    }

    /// Carry out the core's actions in `self.actions`, in order, and clear them.
    #[inline(always)]
    fn execute(&mut self, now: SimTime, q: &mut EventQueue<Ev>) {
        // By index: carrying one out never adds another.
        let mut i = 0;
        while let Some(&a) = self.actions.get(i) {
            i += 1;
            match a {
                Action::Open { conn } => {
                    let c = conn as usize;
                    if self.conns.len() <= c {
                        self.conns.resize(c + 1, SimConn::default());
                    }
                    self.conns[c] = SimConn { alive: true, server: ConnState::default(), req: None };
                    self.link.add_cpu_work(now, self.costs.cpu_per_connection_s);
                    q.schedule(now + self.costs.handshake, Ev::Opened(conn));
                }
                Action::Send { conn, req, file, start, end, read_timeout } => {
                    self.link.add_cpu_work(now, self.costs.cpu_per_request_s);
                    self.conns[conn as usize].req = Some(InFlight {
                        req,
                        file,
                        start,
                        end,
                        read_timeout,
                        then: Then::Close,
                        flowing: false,
                        stalled: false,
                    });
                    if self.costs.first_byte > read_timeout {
                        // The head itself comes too late: the client gives up first.
                        q.schedule(now + read_timeout, Ev::Timeout(conn, req));
                    } else {
                        q.schedule(now + self.costs.first_byte, Ev::FirstByte(conn, req));
                    }
                }
                Action::Close { conn } => self.close(now, conn),
                Action::Timer { id, at } => q.schedule(at, Ev::Timer(id)),
            }
        }
        self.actions.clear();
    }

    fn close(&mut self, now: SimTime, conn: ConnId) {
        let Some(c) = self.conns.get_mut(conn as usize) else {
            return;
        };
        c.alive = false;
        if let Some(r) = c.req.take() {
            if r.flowing {
                // Its flow may have ended in the batch being delivered.
                if self.link.is_active(conn) {
                    let got = self.link.abort_flow(now, conn).round() as u64;
                    self.transferred += got;
                    self.aborted += got;
                }
            }
            if r.flowing || r.stalled {
                self.serving -= 1;
            }
        }
    }

    fn first_byte(&mut self, now: SimTime, conn: ConnId, req: u64, q: &mut EventQueue<Ev>) {
        let c = &mut self.conns[conn as usize];
        let Some(r) = c.req.as_mut().filter(|r| r.req == req && c.alive) else {
            return;
        };
        // A body-less request of the core (HEAD, probe, redirect) is a HEAD.
        let method = if r.start == r.end { Method::Head } else { Method::Get };
        let request = Request { file: r.file, start: r.start, end: r.end, method, client_close: false };
        let (body, then) = match self.server.decide(&mut c.server, self.serving, &request) {
            Decision::Body { bytes, then } => (bytes, then),
            Decision::Stall => {
                r.stalled = true;
                self.serving += 1;
                q.schedule(now + r.read_timeout, Ev::Timeout(conn, req));
                return;
            }
            Decision::Status { code, retry_after_s, close } => {
                // The client core never asks to close, so the connection stays.
                debug_assert!(!close);
                c.req = None;
                let failure = Failure::Status { code, retry_after_s };
                self.feed(now, Input::RequestFailed { conn, req, received: 0, failure }, q);
                return;
            }
        };
        r.then = then;
        r.flowing = true;
        self.serving += 1;
        let buffered = self.orch.is_buffered(r.file);
        self.link.add_flow(now, conn, bytes_f64(body), buffered);
    }

    fn flow_finished(&mut self, now: SimTime, conn: ConnId, got: f64, q: &mut EventQueue<Ev>) {
        let c = &mut self.conns[conn as usize];
        let got = round_bytes(got);
        self.transferred += got;
        // Closed by an earlier finisher of the same batch (its file failed).
        let Some(r) = c.req.take() else {
            self.aborted += got;
            return;
        };
        self.serving -= 1;
        let input = match r.then {
            Then::Reset => {
                self.conns[conn as usize].alive = false;
                Input::RequestFailed { conn, req: r.req, received: got, failure: Failure::Reset }
            }
            Then::KeepAlive { .. } => Input::RequestDone { conn, req: r.req, keep_alive: true },
            Then::Close => {
                self.conns[conn as usize].alive = false;
                Input::RequestDone { conn, req: r.req, keep_alive: false }
            }
        };
        self.feed(now, input, q);
    }
}

/// `x as f64` for a byte count: below 2^63 through i64 (one conversion
/// instruction, the same rounding); above, half of it with its lowest bit
/// kept (sticky) rounds as the whole does, and doubling is exact.
#[inline]
fn bytes_f64(x: u64) -> f64 {
    match i64::try_from(x) {
        Ok(n) => n as f64,
        Err(_) => ((x >> 1 | x & 1) as i64 as f64) * 2.0,
    }
}

/// `x.round() as u64` (half away from zero, saturating), without the libm
/// call for the usual byte count, below 2^52: the nearest whole number with
/// ties to even ([`crate::time::nearest_below_2_52`]), a tie rounded down
/// (`x − r` = 0.5) going up instead.
#[inline]
#[allow(clippy::manual_range_contains)] // `contains` costs one instruction more per call here
fn round_bytes(x: f64) -> u64 {
    if x >= 0.0 && x < crate::time::TWO_POW_52 {
        let (n, r) = crate::time::nearest_below_2_52(x);
        if x - r >= 0.5 { n + 1 } else { n }
    } else {
        x.round() as u64
    }
}

impl<D: Discipline> World for SimWorld<D> {
    type Event = Ev;

    fn next_internal(&self) -> Option<SimTime> {
        self.link.next_transition()
    }

    fn on_internal(&mut self, now: SimTime, q: &mut EventQueue<Ev>) {
        self.sample_memory(now);
        self.link.on_transition(now, &mut self.finished);
        // By index: a finished flow's input never ends another flow here
        // (closing a connection aborts its flow on the link, not in this list).
        let mut i = 0;
        while let Some(&(conn, got)) = self.finished.get(i) {
            i += 1;
            self.flow_finished(now, conn, got, q);
        }
        self.finished.clear();
    }

    fn on_event(&mut self, now: SimTime, ev: Ev, q: &mut EventQueue<Ev>) {
        self.sample_memory(now);
        match ev {
            Ev::Opened(conn) => {
                if self.conns[conn as usize].alive {
                    self.feed(now, Input::ConnOpened { conn }, q);
                }
            }
            Ev::FirstByte(conn, req) => self.first_byte(now, conn, req, q),
            Ev::Timeout(conn, req) => {
                let failure = Failure::Timeout;
                let c = &mut self.conns[conn as usize];
                if let Some(r) = c.req.filter(|r| c.alive && r.req == req) {
                    c.req = None;
                    c.alive = false;
                    if r.stalled {
                        self.serving -= 1;
                    }
                    self.feed(now, Input::RequestFailed { conn, req, received: 0, failure }, q);
                }
            }
            Ev::Timer(id) => self.feed(now, Input::Timer { id }, q),
        }
    }
}

/// Options of one simulated run.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimOptions {
    /// Record the event log (for `--check` and the timeline plot).
    pub trace: bool,
}

/// The simulator's own memory account of a run, bytes of heap
/// (capacities, so what was allocated): what grows with the workload (its
/// files, the core's per-file state, and the larger of the queue at the
/// start and the outcomes at the end) and what grows with connections
/// (workers, segments, the pool, the link's flows, pending events: at the
/// end, so for every connection ever opened). The event log (`--check`) is
/// not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub per_file_bytes: usize,
    pub per_connection_bytes: usize,
    /// Connections the run opened (new ones replace those retired after
    /// `max_requests_per_connection` or broken by faults).
    pub connections_opened: u64,
}

impl Footprint {
    pub fn total(&self) -> usize {
        self.per_file_bytes + self.per_connection_bytes
    }
}

/// Simulate one plan (a validated scenario with its seed and workload).
pub fn simulate(plan: &Plan, opts: SimOptions) -> RunRecord {
    simulate_measured(plan, opts).0
}

/// [`simulate`], also returning the simulator's memory account.
pub fn simulate_measured(plan: &Plan, opts: SimOptions) -> (RunRecord, Footprint) {
    simulate_phased(plan, opts, &mut |_| {})
}

/// A boundary between the phases of one simulation, reported to the
/// caller of [`simulate_phased`] (so that `dlsim bench` can time the event
/// loop alone without the simulator reading a clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The world is built and the first files are dispatched; the event
    /// loop starts.
    LoopStart,
    /// The last file ended; the run record is built next.
    LoopEnd,
}

/// [`simulate_measured`], calling `on_phase` at each [`Phase`] boundary.
pub fn simulate_phased(plan: &Plan, opts: SimOptions, on_phase: &mut dyn FnMut(Phase)) -> (RunRecord, Footprint) {
    let s = plan.scenario();
    let costs = Costs::of(s);
    let capacity = Capacity::of(s, &costs);
    let tcp = TcpParams::of(s);
    match (s.server.write_quantum_bytes, tcp) {
        (Some(q), _) => run(plan, opts, costs, Link::new(capacity, RoundRobin::new(q)), on_phase),
        (None, Some(tcp)) if tcp.hystart_delay => {
            run(plan, opts, costs, Link::new(capacity, SlowStart::<true>::new(tcp)), on_phase)
        }
        (None, Some(tcp)) => run(plan, opts, costs, Link::new(capacity, SlowStart::<false>::new(tcp)), on_phase),
        (None, None) => run(plan, opts, costs, Link::new(capacity, ProcessorSharing::new()), on_phase),
    }
}

fn run<D: Discipline>(
    plan: &Plan,
    opts: SimOptions,
    costs: Costs,
    link: Link<D>,
    on_phase: &mut dyn FnMut(Phase),
) -> (RunRecord, Footprint) {
    let (s, seed) = (plan.scenario(), plan.seed());
    let world = SimWorld::new(plan, costs, link, opts.trace);
    // The queue is full at the start and empty at the end.
    let core_files_at_start = world.orch.heap_bytes().0;
    let mut engine = Engine::new(world);
    {
        let w = &mut engine.world;
        w.orch.start(SimTime::ZERO, &mut w.actions);
        w.execute(SimTime::ZERO, &mut engine.queue);
    }
    // Stop when the last file ends: later events (timers of aborted
    // requests) change nothing and are not counted.
    on_phase(Phase::LoopStart);
    while !engine.world.orch.is_finished() {
        assert!(engine.step(), "simulation ran out of events with files unfinished: a policy-core bug");
    }
    on_phase(Phase::LoopEnd);
    let (end, events) = (engine.now(), engine.events_processed());
    let w = &mut engine.world;
    w.link.advance(end);
    let n = w.orch.files().len() as u32;
    let outcomes = w.orch.take_outcomes();
    debug_assert_eq!(outcomes.len(), n as usize);
    let fail_reasons = w.orch.fail_reasons().map(|(f, r)| (f, r.to_string())).collect();
    let files = w.orch.shared_files();
    let (core_files, core_conns) = w.orch.heap_bytes();
    let footprint = Footprint {
        per_file_bytes: files.heap_bytes()
            + core_files_at_start.max(core_files + outcomes.capacity() * std::mem::size_of::<FileOutcome>()),
        connections_opened: w.orch.pool_stats().opened,
        per_connection_bytes: core_conns
            + w.conns.capacity() * std::mem::size_of::<SimConn>()
            + w.link.heap_bytes()
            + engine.queue.heap_bytes(),
    };
    let record = RunRecord {
        name: s.name.clone(),
        seed,
        duration: end,
        files,
        outcomes,
        fail_reasons,
        stats: w.orch.stats.clone(),
        pool: w.orch.pool_stats().clone(),
        peak_memory_bytes: w.peak_memory.round() as u64,
        transferred_bytes: w.transferred,
        aborted_bytes: w.aborted,
        limiter_wait: w.link.limited_time(),
        cpu_seconds: w.link.cpu_secs(),
        faults_injected: w.server.injected().clone(),
        events,
        trace: w.orch.take_trace(),
        runtime: Runtime::Sim,
    };
    (record, footprint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    /// A flow can end in the same link batch as an earlier finisher whose
    /// file then failed: the core closed the flow's connection in between,
    /// so the flow arrives with no request. Its bytes were transferred and
    /// are counted as aborted (the checker's byte account needs both).
    #[test]
    fn a_flow_ending_after_its_connection_was_closed_counts_as_aborted() {
        let s = Scenario::from_value(serde_json::json!({
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a.bin", "size_bytes": 1024 } ] } ] }
        }))
        .expect("valid test scenario");
        let plan = Plan::seeded(&s, 1).expect("valid plan");
        let costs = Costs::of(plan.scenario());
        let link = Link::new(Capacity::of(plan.scenario(), &costs), ProcessorSharing::new());
        let mut w = SimWorld::new(&plan, costs, link, false);
        w.conns = vec![SimConn::default(); 2];
        let mut q = EventQueue::new();
        w.flow_finished(SimTime::ZERO, 1, 700.4, &mut q);
        w.flow_finished(SimTime::ZERO, 0, 300.0, &mut q);
        assert_eq!((w.transferred, w.aborted), (1000, 1000));
        assert!(q.is_empty(), "nothing goes back to the core");
    }

    proptest::proptest! {
        /// The same whole number as `x.round() as u64` for any float.
        #[test]
        fn round_bytes_is_round(x in proptest::num::f64::ANY, k in 0u64..(1 << 54)) {
            proptest::prop_assert_eq!(round_bytes(x), x.round() as u64);
            for y in [k as f64, k as f64 + 0.5, k as f64 - 0.5, k as f64 + 0.49999999999999994, k as f64 / 3.0] {
                proptest::prop_assert_eq!(round_bytes(y), y.round() as u64, "{}", y);
            }
        }
    }

    proptest::proptest! {
        /// The same float as `x as f64` for any whole number.
        #[test]
        fn bytes_f64_is_as_f64(x in proptest::num::u64::ANY, k in 0u32..64) {
            for y in [x, x >> k, x | (1 << 63), u64::MAX - (x >> k)] {
                proptest::prop_assert_eq!(bytes_f64(y).to_bits(), (y as f64).to_bits(), "{}", y);
            }
        }
    }

    #[test]
    fn round_bytes_edges() {
        for y in [
            0.0,
            -0.0,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            -0.5,
            -3.0,
            4503599627370495.5,
            4503599627370495.0,
            4503599627370494.5,
            4503599627370496.0,
            2251799813685247.5,
            2251799813685248.5,
            0.25,
            0.75,
            1e-300,
            9007199254740991.0,
            9007199254740992.0,
            1.8446744073709552e19,
            f64::INFINITY,
            f64::NAN,
            f64::MAX,
        ] {
            assert_eq!(round_bytes(y), y.round() as u64, "{y}");
        }
    }

    /// The memory account holds at least every file's outcome and every
    /// connection ever opened, and its total is the sum of its two parts.
    #[test]
    fn the_footprint_counts_every_outcome_and_every_connection() {
        let s = Scenario::from_value(serde_json::json!({
            "client": { "max_concurrent_downloads": 8, "pool": { "max_requests_per_connection": 3 } },
            "workload": { "models": [ { "name": "m", "linear": { "count": 200, "min_size_bytes": 1024, "max_size_bytes": 65536 } } ] }
        }))
        .expect("valid test scenario");
        let (run, fp) = simulate_measured(&Plan::seeded(&s, 1).expect("valid plan"), SimOptions::default());
        assert_eq!(run.stats.files_completed, 200);
        assert!(fp.connections_opened > 8, "connections are retired after 3 requests");
        let outcomes = 200 * std::mem::size_of::<FileOutcome>();
        assert!(fp.per_file_bytes >= run.files.heap_bytes() + outcomes, "{fp:?}");
        assert!(fp.per_connection_bytes >= fp.connections_opened as usize * std::mem::size_of::<SimConn>(), "{fp:?}");
        assert_eq!(fp.total(), fp.per_file_bytes + fp.per_connection_bytes);
    }

    /// The phase hook sees the loop start once and end once, in that order,
    /// and changes nothing in the run.
    #[test]
    fn the_phase_hook_brackets_the_event_loop_once() {
        let s = Scenario::from_value(serde_json::json!({
            "workload": { "models": [ { "name": "m", "linear": { "count": 50, "min_size_bytes": 1024, "max_size_bytes": 65536 } } ] }
        }))
        .expect("valid test scenario");
        let plan = Plan::seeded(&s, 1).expect("valid plan");
        let mut seen = Vec::new();
        let (run, _) = simulate_phased(&plan, SimOptions::default(), &mut |p| seen.push(p));
        assert_eq!(seen, [Phase::LoopStart, Phase::LoopEnd]);
        let plain = simulate(&plan, SimOptions::default());
        assert_eq!(run.files_completed(), 50);
        assert_eq!(format!("{run:?}"), format!("{plain:?}"));
    }
}
