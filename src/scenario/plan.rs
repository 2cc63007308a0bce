//! Plans: a scenario validated once into what a run needs — its seed
//! resolved, its workload expanded and checked, its work and memory
//! estimated and held to a [`Budget`]. [`crate::sim::simulate`] takes only
//! plans, so a library user cannot hand it an unchecked struct.

use super::schema::{ChunkMode, MIB, Scenario};
use super::workload::FileSet;
use crate::error::{Error, Result};
use crate::orchestrator::chunk::table_chunk;
use crate::time::SimTime;
use std::sync::Arc;

/// Limits a run is held to before it starts. A scenario whose estimate
/// exceeds them is refused with a message saying how much it would need
/// and which flag raises the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Simulator events (about 1 million per second of wall time on one
    /// core); `--max-events` (default 200 000 000).
    pub max_events: u64,
    /// Modelled memory of the simulator itself (all plans of a sweep and
    /// their runs), bytes; `--max-memory-mib` (default 4 GiB).
    pub max_memory_bytes: u64,
}

impl Budget {
    pub const DEFAULT_MAX_EVENTS: u64 = 200_000_000;
    pub const DEFAULT_MAX_MEMORY_MIB: u64 = 4096;
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_events: Self::DEFAULT_MAX_EVENTS, max_memory_bytes: Self::DEFAULT_MAX_MEMORY_MIB * MIB }
    }
}

/// The simulator's time horizon: `SimTime` is u64 nanoseconds.
pub const HORIZON: SimTime = SimTime::MAX;

/// Bytes of simulator memory per file (expanded file 24, core state 24,
/// queue entry 16 or outcome 24; `bench --w1` measures ≈ 72 by its own
/// account and ≈ 90 of peak RSS on 1 M- and 10 M-file runs); about twice
/// that, so the estimate errs on the side of refusing.
const BYTES_PER_FILE: u64 = 192;
/// Extra bytes per file listed explicitly in the scenario, besides its
/// path bytes: its entry in the scenario's `FileList` (size, priority, path
/// end: 17, held once, shared by the plans and their file sets) and, while
/// the JSON or manifest is read, its row; kept at the older figure (when
/// each file was a `FileSpec` copied per plan), so the estimate still errs
/// on the side of refusing.
const BYTES_PER_LISTED_FILE: u64 = 96;
/// Bytes per traced event (`--check` keeps the event log), measured ≈ 210.
const BYTES_PER_TRACED_EVENT: u64 = 256;
/// Simulator events per request attempt (first byte, flow end, timers,
/// connection events), measured ≈ 2 on the bench workload; rounded up.
const EVENTS_PER_REQUEST: u64 = 4;

/// What a run is expected to cost, from the scenario alone (before the
/// workload is expanded). Upper bounds where noted, so a budget check errs
/// on the side of refusing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    pub files: u64,
    /// Workload bytes, lower and upper bound (equal unless sizes are random).
    pub bytes_min: u64,
    pub bytes_max: u64,
    /// Request attempts, upper bound with retries at the expected fault rate.
    pub requests: u64,
    /// Simulator events (requests × a constant + round-robin turns).
    pub events: u64,
    /// Of `events`, round-robin turns (`server.write_quantum_bytes`: one
    /// event per quantum of every body, upper bound with retries).
    pub turns: u64,
    /// Simulator memory, bytes.
    pub memory_bytes: u64,
    /// Lower bound on the simulated duration, s (bytes over the tightest
    /// aggregate rate: server, limiter, per-connection caps, client CPU).
    pub min_duration_s: f64,
}

impl std::ops::AddAssign for Estimate {
    fn add_assign(&mut self, o: Estimate) {
        self.files = self.files.saturating_add(o.files);
        self.bytes_min = self.bytes_min.saturating_add(o.bytes_min);
        self.bytes_max = self.bytes_max.saturating_add(o.bytes_max);
        self.requests = self.requests.saturating_add(o.requests);
        self.events = self.events.saturating_add(o.events);
        self.turns = self.turns.saturating_add(o.turns);
        self.memory_bytes = self.memory_bytes.saturating_add(o.memory_bytes);
        self.min_duration_s = self.min_duration_s.max(o.min_duration_s);
    }
}

fn sat(x: u128) -> u64 {
    u64::try_from(x).unwrap_or(u64::MAX)
}

/// Requests for one file of `size` bytes (first attempts), an upper bound.
fn requests_for(s: &Scenario, size: u64) -> u128 {
    let c = &s.client;
    let parts = if c.split > 1 { (size / c.min_split_size_bytes).clamp(1, c.split as u64) } else { 1 } as u128;
    let size = size as u128;
    let per = |chunk: u64| size.div_ceil(chunk.max(1) as u128) + parts;
    match c.chunking.mode {
        ChunkMode::WholeFile => parts,
        ChunkMode::Fixed => per(c.chunking.chunk_size_bytes),
        // Halved at most once below 1 MiB/s measured.
        ChunkMode::AdaptiveTable => per(table_chunk(size as u64) / 2),
        ChunkMode::Throughput => per(c.chunking.min_chunk_bytes),
    }
}

/// Estimate a validated scenario's cost without expanding its workload.
/// `trace`: the run keeps its event log. Errors if the workload's total size
/// overflows u64.
pub fn estimate(s: &Scenario, trace: bool) -> Result<Estimate> {
    let (mut files, mut lo, mut reqs, mut path_bytes, mut listed) = (0u64, 0u128, 0u128, 0u128, 0u128);
    for m in &s.workload.models {
        if let Some(r) = m.linear.as_ref().or(m.random.as_ref()) {
            let n = r.count as u64;
            files += n;
            path_bytes += n as u128 * (m.name.len() as u128 + 16);
            if m.linear.is_some() {
                let span = (r.max_size_bytes - r.min_size_bytes) as u128;
                for i in 0..n as u128 {
                    let size = r.min_size_bytes + (span * i / n as u128) as u64;
                    lo += size as u128;
                    reqs += requests_for(s, size);
                }
            } else {
                lo += n as u128 * r.min_size_bytes as u128;
                reqs += n as u128 * requests_for(s, r.max_size_bytes);
            }
        } else {
            for f in m.files.iter() {
                files += 1;
                lo += f.size_bytes as u128;
                path_bytes += f.path.len() as u128;
                listed += 1;
                reqs += requests_for(s, f.size_bytes);
            }
        }
    }
    // Linear and explicit sizes are exact: the upper bound is the lower one.
    let random_extra: u128 = s
        .workload
        .models
        .iter()
        .filter_map(|m| m.random.as_ref())
        .map(|r| r.count as u128 * (r.max_size_bytes - r.min_size_bytes) as u128)
        .sum();
    totals(s, trace, Tally { files, lo, hi: lo + random_extra, reqs, path_bytes, listed })
}

/// Workload facts an estimate is made of.
struct Tally {
    files: u64,
    /// Bytes, lower and upper bound.
    lo: u128,
    hi: u128,
    /// First request attempts, upper bound.
    reqs: u128,
    /// Bytes of paths stored.
    path_bytes: u128,
    /// Files listed explicitly in the scenario.
    listed: u128,
}

/// Estimate the cost of running `files` (an expanded workload given
/// directly, see [`Plan::with_files`]) under `s`'s settings.
pub fn estimate_files(s: &Scenario, files: &FileSet, trace: bool) -> Result<Estimate> {
    let (mut lo, mut reqs) = (0u128, 0u128);
    for f in files.iter() {
        lo += f.size as u128;
        reqs += requests_for(s, f.size);
    }
    let path_bytes = (files.heap_bytes() - files.len() * std::mem::size_of::<super::FileMeta>()) as u128;
    totals(s, trace, Tally { files: files.len() as u64, lo, hi: lo, reqs, path_bytes, listed: 0 })
}

fn totals(s: &Scenario, trace: bool, t: Tally) -> Result<Estimate> {
    let Tally { files, lo, hi, reqs, path_bytes, listed } = t;
    if hi > u64::MAX as u128 {
        return Err(Error::scenario(
            "workload.models",
            format!(
                "the files add up to {hi} bytes, more than the simulator counts (at most {} bytes in all)",
                u64::MAX
            ),
        ));
    }
    let f = &s.server.faults;
    // Expected attempts per request: 1 / (1 − p), at most max_attempts.
    let max_attempts = s.client.retry.max_attempts.max(1) as f64;
    let attempts = if f.error_rate >= 1.0 { max_attempts } else { (1.0 / (1.0 - f.error_rate)).min(max_attempts) };
    let attempts_x1000 = (attempts * 1000.0).ceil() as u128;
    let requests = reqs * attempts_x1000 / 1000;
    let turns = match s.server.write_quantum_bytes {
        Some(q) => hi * attempts_x1000 / 1000 / q.max(1) as u128,
        None => 0,
    };
    let events = requests * EVENTS_PER_REQUEST as u128 + turns + 2 * files as u128;
    let mut memory = files as u128 * BYTES_PER_FILE as u128 + listed * BYTES_PER_LISTED_FILE as u128 + 3 * path_bytes;
    if trace {
        memory += events * BYTES_PER_TRACED_EVENT as u128;
    }
    // The tightest aggregate rate any transfer can reach.
    let c = &s.client;
    let streams = c.max_concurrent_downloads as f64 * c.split as f64;
    let per_conn = [
        s.network.per_connection_bps,
        s.network.tcp_window_bytes.filter(|_| s.network.rtt_ms > 0.0).map(|w| w as f64 / (s.network.rtt_ms / 1e3)),
    ]
    .into_iter()
    .flatten()
    .fold(f64::INFINITY, f64::min);
    // Client CPU: cores / (per-byte cost + per-read cost per byte), bytes/s.
    let cpu_s_per_byte = c.cpu.per_byte_ns * 1e-9 + c.cpu.per_read_us * 1e-6 / c.read_size_bytes.max(1) as f64;
    let cpu_rate = (cpu_s_per_byte > 0.0).then(|| c.cpu.cores as f64 / cpu_s_per_byte);
    let rate =
        [s.server.bandwidth_bps, c.bandwidth_limit.as_ref().map(|l| l.rate_bps), Some(per_conn * streams), cpu_rate]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
    let min_duration_s = if rate.is_finite() { lo as f64 / rate } else { 0.0 };
    Ok(Estimate {
        files,
        bytes_min: lo as u64,
        bytes_max: hi as u64,
        requests: sat(requests),
        events: sat(events),
        turns: sat(turns),
        memory_bytes: sat(memory),
        min_duration_s,
    })
}

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(MIB)
}

impl Budget {
    /// Refuse `e` (of `what`: "this run", "sweep point x", "the sweep's N
    /// points") if it exceeds the budget.
    pub fn check(&self, e: &Estimate, what: &str) -> Result<()> {
        if e.events > self.max_events {
            let turns = if e.turns > 0 {
                format!(
                    ", of which {} round-robin turns: one event per server.write_quantum_bytes of every body; \
                     a larger quantum needs fewer",
                    e.turns
                )
            } else {
                String::new()
            };
            return Err(Error::Budget(format!(
                "{what} would need about {} simulator events ({} files, {} requests with retries{turns}), \
                 more than the budget of {} events (about {} s of wall time at ~1 M events/s); \
                 raise it with --max-events {} if you mean it",
                e.events,
                e.files,
                e.requests,
                self.max_events,
                self.max_events / 1_000_000,
                e.events
            )));
        }
        if e.memory_bytes > self.max_memory_bytes {
            return Err(Error::Budget(format!(
                "{what} would need about {} MiB of simulator memory ({} files), more than the budget of {} MiB; \
                 raise it with --max-memory-mib {} if the machine has it",
                mib(e.memory_bytes),
                e.files,
                mib(self.max_memory_bytes),
                mib(e.memory_bytes)
            )));
        }
        Ok(())
    }
}

/// Refuse a run that would pass the simulator's time horizon.
fn check_horizon(s: &Scenario, e: &Estimate) -> Result<()> {
    let horizon_s = HORIZON.as_secs_f64();
    if e.min_duration_s >= horizon_s {
        const YEAR_S: f64 = 365.25 * 86_400.0;
        let field = if s.server.bandwidth_bps.is_some() { "server.bandwidth_bps" } else { "workload.models" };
        return Err(Error::scenario(
            field,
            format!(
                "{} bytes at the scenario's tightest rate take at least {:.3e} years of simulated time, beyond \
                 the simulator's horizon of {} years (2^64 ns); raise server.bandwidth_bps (or the client's \
                 limits) or shrink the files",
                e.bytes_min,
                e.min_duration_s / YEAR_S,
                (horizon_s / YEAR_S).floor()
            ),
        ));
    }
    Ok(())
}

/// The seed a scenario (or sweep point) runs with: `--seed` when given,
/// else the scenario's own `seed`. `run`, `validate` and `serve` all call
/// this, so one file has one meaning.
pub fn resolve_seed(s: &Scenario, seed_override: Option<u64>) -> u64 {
    seed_override.unwrap_or(s.seed)
}

/// A scenario ready to simulate: validated, seed resolved, workload
/// expanded once and checked, cost estimated within a budget.
#[derive(Clone, Debug)]
pub struct Plan {
    scenario: Scenario,
    seed: u64,
    files: Arc<FileSet>,
    estimate: Estimate,
}

impl Plan {
    /// Validate `s` (its sweep is ignored: build a plan per point with
    /// [`super::points`]) into a plan run with `resolve_seed(s, seed)`,
    /// refusing it if its estimate exceeds `budget`. `trace`: the run will
    /// keep its event log (counts toward the memory estimate).
    pub fn new(s: &Scenario, seed: Option<u64>, budget: &Budget, trace: bool) -> Result<Plan> {
        s.validate()?;
        let estimate = estimate(s, trace)?;
        check_horizon(s, &estimate)?;
        budget.check(&estimate, &format!("scenario {:?}", super::validate::excerpt(&s.name)))?;
        let seed = resolve_seed(s, seed);
        let files = s.workload.file_set(seed);
        check_unique_paths(&files)?;
        let mut scenario = s.clone();
        scenario.seed = seed;
        scenario.sweep = None;
        Ok(Plan { scenario, seed, files: Arc::new(files), estimate })
    }

    /// A plan of `s`'s settings over a workload given already expanded
    /// (generated by a program, e.g. the W1 bench, instead of listed in
    /// JSON): `s.workload` only names the models, in the order of the set's
    /// model indices, and their priorities; its file lists are not used.
    pub fn with_files(s: &Scenario, seed: Option<u64>, budget: &Budget, trace: bool, files: FileSet) -> Result<Plan> {
        s.validate()?;
        if files.is_empty() || files.len() as u64 > super::MAX_FILES {
            return Err(Error::scenario(
                "workload",
                format!("must have 1 to {} files, got {}", super::MAX_FILES, files.len()),
            ));
        }
        if let Some(f) = files.iter().find(|f| f.size == 0 || f.model as usize >= s.workload.models.len()) {
            return Err(Error::scenario(
                "workload",
                format!("file {} has size 0 or a model index beyond the scenario's models", f.id),
            ));
        }
        let estimate = estimate_files(s, &files, trace)?;
        check_horizon(s, &estimate)?;
        budget.check(&estimate, &format!("scenario {:?}", super::validate::excerpt(&s.name)))?;
        check_unique_paths(&files)?;
        let seed = resolve_seed(s, seed);
        let mut scenario = s.clone();
        scenario.seed = seed;
        scenario.sweep = None;
        Ok(Plan { scenario, seed, files: Arc::new(files), estimate })
    }

    /// A plan with the scenario's own seed and the default budget.
    pub fn of(s: &Scenario) -> Result<Plan> {
        Plan::new(s, None, &Budget::default(), false)
    }

    /// A plan with `seed` and the default budget.
    pub fn seeded(s: &Scenario, seed: u64) -> Result<Plan> {
        Plan::new(s, Some(seed), &Budget::default(), false)
    }

    /// The validated scenario (its `seed` is the resolved one, no sweep).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }
    pub fn name(&self) -> &str {
        &self.scenario.name
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The expanded workload, in enqueue order.
    pub fn files(&self) -> &FileSet {
        &self.files
    }
    /// The expanded workload, shared (the run and its record hold it too).
    pub fn shared_files(&self) -> Arc<FileSet> {
        Arc::clone(&self.files)
    }
    pub fn estimate(&self) -> &Estimate {
        &self.estimate
    }

    /// After a run: an error if its end reached the time horizon (simulated
    /// time saturates there, so any figure from it would be wrong).
    pub fn check_duration(&self, duration: SimTime) -> Result<()> {
        if duration >= HORIZON {
            return Err(Error::Other(format!(
                "{}: the run reached the simulator's time horizon (2^64 ns, about 584 years of simulated time) \
                 with files unfinished; its results would be wrong, so none are written",
                self.scenario.name
            )));
        }
        Ok(())
    }
}

/// Refuse a workload listing a path twice, naming the model of the
/// duplicate. One hash-table insertion per file (file indices keyed by
/// their paths' hash: 8 bytes a slot, paths borrowed, never copied); only
/// when a duplicate exists is every path sorted, so the error names the
/// same duplicate as ever: the first in path order.
fn check_unique_paths(files: &FileSet) -> Result<()> {
    use std::hash::BuildHasher as _;
    if files.paths_unique_by_construction() {
        return Ok(());
    }
    let hasher = foldhash::fast::FixedState::with_seed(0);
    // (file index, the hash's high 32 bits): a probe that meets another
    // path compares the stored bits, and reads that path only on a match.
    let mut seen = hashbrown::HashTable::<(u32, u32)>::with_capacity(files.len());
    files
        .try_for_each_path(|i, path| {
            let hash = hasher.hash_one(path);
            let tag = (hash >> 32) as u32;
            if seen.find(hash, |&(j, t)| t == tag && files.path(j) == path).is_some() {
                return Err(());
            }
            seen.insert_unique(hash, (i, tag), |&(j, _)| hasher.hash_one(&*files.path(j)));
            Ok(())
        })
        .map_err(|()| first_duplicate(files))
}

/// The error for the first duplicate path in path order (of a workload
/// that has one).
fn first_duplicate(files: &FileSet) -> Error {
    let paths: Vec<_> = (0..files.len() as u32).map(|i| files.path(i)).collect();
    let mut order: Vec<u32> = (0..files.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| paths[a as usize].cmp(&paths[b as usize]).then(a.cmp(&b)));
    for w in order.windows(2) {
        let (a, b) = (&paths[w[0] as usize], &paths[w[1] as usize]);
        if a == b {
            return Error::scenario(
                format!("workload.models[{}]", files[w[1] as usize].model),
                format!("duplicate file path {:?}", super::validate::excerpt(b)),
            );
        }
    }
    unreachable!("first_duplicate is called on a workload with a duplicate path")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(v: serde_json::Value) -> Scenario {
        Scenario::from_value(v).unwrap()
    }

    #[test]
    fn requests_follow_the_chunking_mode() {
        let s = scenario(serde_json::json!({
            "client": { "chunking": { "mode": "fixed", "chunk_size_bytes": 1000 } },
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 10_000 } ] } ] }
        }));
        // ceil(10 000 / 1000) chunks plus one for the segment: an upper bound.
        assert_eq!(estimate(&s, false).unwrap().requests, 11);
    }

    #[test]
    fn a_one_byte_chunk_on_a_huge_file_is_refused_naming_the_flag() {
        let s = scenario(serde_json::json!({
            "client": { "chunking": { "mode": "fixed", "chunk_size_bytes": 1 } },
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 1u64 << 30 } ] } ] }
        }));
        let e = Plan::of(&s).unwrap_err().to_string();
        assert!(e.contains("--max-events") && e.contains("simulator events"), "{e}");
        let lifted = Budget { max_events: u64::MAX, ..Budget::default() };
        assert!(estimate(&s, false).unwrap().events > Budget::DEFAULT_MAX_EVENTS);
        assert!(lifted.check(&estimate(&s, false).unwrap(), "x").is_ok());
    }

    /// The round-robin link costs one event per turn: a run whose turns
    /// exceed the budget is refused before it starts, saying so.
    #[test]
    fn round_robin_turns_beyond_the_budget_are_refused_naming_the_quantum() {
        let s = scenario(serde_json::json!({
            "server": { "write_quantum_bytes": 8192 },
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 4u64 << 40 } ] } ] }
        }));
        let e = estimate(&s, false).unwrap();
        // 4 TiB in 8 KiB turns.
        assert_eq!(e.turns, (4u64 << 40) / 8192);
        assert!(e.events >= e.turns);
        let msg = Plan::of(&s).unwrap_err().to_string();
        assert!(msg.contains("round-robin turns") && msg.contains("write_quantum_bytes"), "{msg}");
        assert!(msg.contains("--max-events"), "{msg}");
    }

    #[test]
    fn seed_override_wins_and_is_the_plans_seed() {
        let s = scenario(serde_json::json!({
            "seed": 5, "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 1 } ] } ] }
        }));
        assert_eq!(Plan::of(&s).unwrap().seed(), 5);
        let p = Plan::seeded(&s, 9).unwrap();
        assert_eq!((p.seed(), p.scenario().seed), (9, 9));
    }

    /// The hash check finds a duplicate wherever it is, and the message
    /// names the first duplicate in path order (as sorting every path
    /// did) and the model of its later file; generated paths count too.
    #[test]
    fn duplicate_paths_are_refused_naming_the_first_in_path_order() {
        let plan =
            |models: serde_json::Value| Plan::of(&scenario(serde_json::json!({ "workload": { "models": models } })));
        let listed = |name: &str, paths: &[&str]| {
            let files: Vec<_> = paths.iter().map(|p| serde_json::json!({ "path": p, "size_bytes": 1 })).collect();
            serde_json::json!({ "name": name, "files": files })
        };
        let e = plan(serde_json::json!([listed("m", &["c", "b", "x", "c", "b"])])).unwrap_err().to_string();
        assert!(e.contains("workload.models[0]") && e.contains("duplicate file path \"b\""), "{e}");
        let e = plan(serde_json::json!([listed("m", &["z", "y"]), listed("n", &["q", "z"])])).unwrap_err().to_string();
        assert!(e.contains("workload.models[1]") && e.contains("duplicate file path \"z\""), "{e}");
        let linear =
            serde_json::json!({ "name": "g", "linear": { "count": 3, "min_size_bytes": 1, "max_size_bytes": 9 } });
        let e =
            plan(serde_json::json!([linear.clone(), listed("n", &["a", "g/file_0002.bin"])])).unwrap_err().to_string();
        assert!(e.contains("workload.models[1]") && e.contains("\"g/file_0002.bin\""), "{e}");
        // Distinct paths that share prefixes, lengths or hashes' low bits pass.
        let many: Vec<String> = (0..5000).map(|i| format!("d/{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(plan(serde_json::json!([linear, listed("n", &many), listed("o", &["g/file_0003.bin"])])).is_ok());
    }

    #[test]
    fn an_invalid_struct_is_refused_not_simulated() {
        let mut s = scenario(serde_json::json!({
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 1 } ] } ] }
        }));
        s.client.pool.block = true;
        s.client.pool.size = 0;
        assert!(Plan::of(&s).unwrap_err().to_string().contains("client.pool.size"));
    }
}
