//! The run record: everything one run produced, whichever runtime ran it.
//!
//! The sim runtime ([`crate::sim::simulate`]) and the real runtime
//! ([`crate::real::run_real`]) both return a [`RunRecord`]; everything
//! downstream reads only this — the report ([`crate::report::from_run`]),
//! the invariant checker ([`crate::check::check_run`]), the plots and
//! `dlsim validate` — so a real run is reported and checked exactly like a
//! simulated one. Times are [`SimTime`]: virtual in the sim, elapsed wall
//! time since the run started in the real runtime.

use crate::orchestrator::{FileOutcome, FileStatus, PoolStats, Stats};
use crate::scenario::FileSet;
use crate::time::SimTime;
use crate::trace::TraceEvent;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Which runtime produced a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Runtime {
    /// The sim runtime: virtual time, the network model.
    Sim,
    /// The real runtime: wall clock, loopback sockets.
    Real(RealFacts),
}

/// What only a real run knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RealFacts {
    /// SHA-256 of each completed file as received (`None`: not completed).
    pub digests: Vec<Option<[u8; 32]>>,
    /// Wall time from the start until every connection thread was joined
    /// (`duration` stops at the last file's end).
    pub wall_with_teardown: SimTime,
    /// Latest a backoff timer fired after its due time (the driver's
    /// receive-timeout granularity and scheduling delay).
    pub max_timer_lateness: SimTime,
    /// Connection threads started.
    pub threads: u64,
    /// Bytes per socket read (the client limiter is charged per read).
    pub read_size_bytes: u64,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunRecord {
    pub name: String,
    pub seed: u64,
    /// Time the last file ended.
    pub duration: SimTime,
    /// The workload, shared with the plan (paths by [`FileSet::path`]).
    pub files: Arc<FileSet>,
    pub outcomes: Vec<FileOutcome>,
    pub fail_reasons: BTreeMap<u32, String>,
    /// The policy core's counters.
    pub stats: Stats,
    pub pool: PoolStats,
    /// Peak client memory, bytes: the core's buffers plus the body bytes
    /// in flight for files buffered whole (the same account in both runtimes;
    /// the real one counts the bytes its connection threads hold).
    pub peak_memory_bytes: u64,
    /// File body bytes that crossed the wire, useful or not, counted by the
    /// runtime where they arrive (the link's flows; the sockets' reads of
    /// 2xx bodies) — independently of what the core was told.
    pub transferred_bytes: u64,
    /// Of `transferred_bytes`, those of requests the client aborted (closed
    /// while in flight): the core never hears of them.
    pub aborted_bytes: u64,
    /// Time the client's token bucket held the download back.
    pub limiter_wait: SimTime,
    /// Client CPU-seconds of the `client.cpu` cost model: spent by the
    /// sim's link, where the CPU is a resource of `cores` capacity (so at
    /// most `cores × duration`); for a real run, the same costs of the work
    /// it did (requests, connections, bytes), not a measurement.
    pub cpu_seconds: f64,
    /// Faults the server injected, by kind (the sim's model; empty for real
    /// runs, whose server counts its own).
    pub faults_injected: BTreeMap<&'static str, u64>,
    /// Events processed: engine events (sim) or inputs fed to the core (real).
    pub events: u64,
    /// The core's event log (empty unless asked for).
    pub trace: Vec<TraceEvent>,
    pub runtime: Runtime,
}

impl RunRecord {
    pub fn files_completed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.status == FileStatus::Completed).count()
    }

    /// The real runtime's facts, if a real run.
    pub fn real(&self) -> Option<&RealFacts> {
        match &self.runtime {
            Runtime::Real(f) => Some(f),
            Runtime::Sim => None,
        }
    }

    /// Paths of completed files whose received bytes differ from `expected`
    /// (one digest per file). Empty for sim runs, which carry no bytes.
    pub fn corrupt_files(&self, expected: &[[u8; 32]]) -> Vec<String> {
        let Some(real) = self.real() else { return Vec::new() };
        real.digests
            .iter()
            .zip(expected)
            .zip(self.files.iter())
            .filter(|((got, want), _)| got.is_some_and(|g| g != **want))
            .map(|(_, f)| self.files.path(f.id).into_owned())
            .collect()
    }
}
