//! The invariant checker: replays a run's event log and names the first
//! invariant it breaks, with the event that broke it.

use crate::scenario::{Client, File};
use crate::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The first broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub invariant: &'static str,
    /// Index of the offending event in the log (`None`: found at the end).
    pub at: Option<usize>,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(i) => write!(f, "invariant `{}` broken at event #{i}: {}", self.invariant, self.detail),
            None => write!(f, "invariant `{}` broken at the end of the run: {}", self.invariant, self.detail),
        }
    }
}

impl std::error::Error for Violation {}

fn fail(invariant: &'static str, at: Option<usize>, detail: String) -> Result<(), Violation> {
    Err(Violation { invariant, at, detail })
}

/// Check a run's log against the client configuration and the workload.
pub fn check(log: &[TraceEvent], client: &Client, files: &[File]) -> Result<(), Violation> {
    let mut last_t = crate::time::SimTime::ZERO;
    let mut ended: BTreeMap<u32, usize> = BTreeMap::new();
    let mut active: BTreeSet<u32> = BTreeSet::new();
    let mut active_per_model: BTreeMap<u32, u32> = BTreeMap::new();
    let mut opening: BTreeSet<u32> = BTreeSet::new();
    let mut in_flight: BTreeMap<u32, (u32, u64, u64)> = BTreeMap::new();
    // Per file: confirmed byte ranges, kept sorted.
    let mut confirmed: BTreeMap<u32, BTreeMap<u64, u64>> = BTreeMap::new();
    fn add_range(
        confirmed: &mut BTreeMap<u32, BTreeMap<u64, u64>>,
        file: u32,
        start: u64,
        end: u64,
        i: usize,
    ) -> Result<(), Violation> {
        if start >= end {
            return Ok(());
        }
        let ranges = confirmed.entry(file).or_default();
        let overlaps_prev = ranges.range(..end).next_back().is_some_and(|(_, e)| *e > start);
        if overlaps_prev {
            return fail(
                "no byte fetched twice",
                Some(i),
                format!("file {file}: [{start}, {end}) was already confirmed"),
            );
        }
        ranges.insert(start, end);
        Ok(())
    }

    for (i, ev) in log.iter().enumerate() {
        let t = ev.time();
        if t < last_t {
            return fail("time never goes backwards", Some(i), format!("{t} after {last_t}"));
        }
        last_t = t;
        match ev {
            TraceEvent::FileDispatched { file, model, .. } => {
                if ended.contains_key(file) || !active.insert(*file) {
                    return fail("each file dispatched once", Some(i), format!("file {file}"));
                }
                let n = active_per_model.entry(*model).or_insert(0);
                *n += 1;
                if active.len() as u32 > client.max_concurrent_downloads {
                    return fail(
                        "global concurrency limit",
                        Some(i),
                        format!("{} files active > {}", active.len(), client.max_concurrent_downloads),
                    );
                }
                if *n > client.max_concurrent_files_per_model {
                    return fail(
                        "per-model concurrency limit",
                        Some(i),
                        format!("model {model}: {n} files active > {}", client.max_concurrent_files_per_model),
                    );
                }
            }
            TraceEvent::ConnOpen { conn, .. } => {
                opening.insert(*conn);
            }
            TraceEvent::ConnOpened { conn, .. } => {
                opening.remove(conn);
            }
            TraceEvent::RequestSent { file, conn, start, end, .. } => {
                if !active.contains(file) {
                    return fail("requests only for active files", Some(i), format!("file {file}"));
                }
                in_flight.insert(*conn, (*file, *start, *end));
            }
            TraceEvent::RequestDone { file, conn, bytes, .. } => {
                let Some((f, start, end)) = in_flight.remove(conn) else {
                    return fail("responses match requests", Some(i), format!("conn {conn} had no request"));
                };
                if f != *file || end - start != *bytes {
                    return fail("responses match requests", Some(i), format!("file {file} bytes {bytes}"));
                }
                add_range(&mut confirmed, f, start, end, i)?;
            }
            TraceEvent::RequestFailed { file, conn, kept, received, .. } => {
                let Some((f, start, end)) = in_flight.remove(conn) else {
                    return fail("responses match requests", Some(i), format!("conn {conn} had no request"));
                };
                if f != *file || kept > received || *received > end - start {
                    return fail(
                        "responses match requests",
                        Some(i),
                        format!("file {file}: kept {kept} of {received}"),
                    );
                }
                add_range(&mut confirmed, f, start, start + kept, i)?;
            }
            TraceEvent::ConnClosed { conn, .. } => {
                in_flight.remove(conn);
                opening.remove(conn);
            }
            TraceEvent::FileCompleted { file, .. } | TraceEvent::FileFailed { file, .. } => {
                if ended.insert(*file, i).is_some() {
                    return fail("every file ends exactly once", Some(i), format!("file {file} ended twice"));
                }
                if !active.remove(file) {
                    return fail("every file ends exactly once", Some(i), format!("file {file} ended undispatched"));
                }
                let model = files[*file as usize].model;
                *active_per_model.get_mut(&model).expect("dispatched") -= 1;
                if let TraceEvent::FileCompleted { .. } = ev {
                    let size = files[*file as usize].size;
                    let ranges = confirmed.get(file).cloned().unwrap_or_default();
                    let mut pos = 0;
                    for (s, e) in ranges {
                        if s != pos {
                            break;
                        }
                        pos = e;
                    }
                    if pos != size {
                        return fail(
                            "useful bytes = file size",
                            Some(i),
                            format!("file {file} completed with [0, {pos}) of {size} bytes confirmed contiguously"),
                        );
                    }
                }
            }
            TraceEvent::ConnReused { .. } | TraceEvent::RetryScheduled { .. } => {}
        }
        if let Some(limit) = client.max_connections_per_host {
            let in_use = opening.len() + in_flight.len();
            if in_use as u32 > limit {
                return fail("per-host connection limit", Some(i), format!("{in_use} connections in use > {limit}"));
            }
        }
    }
    if ended.len() != files.len() {
        let missing = files.iter().find(|f| !ended.contains_key(&f.id)).map_or(0, |f| f.id);
        return fail(
            "every file ends exactly once",
            None,
            format!("{} of {} files never ended (first: file {missing})", files.len() - ended.len(), files.len()),
        );
    }
    Ok(())
}
