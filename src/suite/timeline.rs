//! What the plots need from a run beyond its `BenchmarkResult`: the
//! per-connection timeline (from the event log) and file completion times.

use crate::orchestrator::FileStatus;
use crate::record::RunRecord;
use crate::time::SimTime;
use crate::trace::TraceEvent;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One bar of the Gantt chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub conn: u32,
    /// `handshake`, `first_byte` (request sent → first byte), `body` (→ whole
    /// range arrived) or `failed` (sent → failure).
    pub kind: String,
    pub file: Option<u32>,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub run: String,
    pub spans: Vec<Span>,
}

/// Completion times of one run's completed files, s, ascending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompletionTimes {
    pub run: String,
    pub times_s: Vec<f64>,
}

/// Spans of a traced run, in the order they ended; `first_byte` is the
/// scenario's request → first byte delay.
pub fn timeline(run: &RunRecord, first_byte: SimTime) -> Timeline {
    let mut opening = BTreeMap::new();
    let mut sent = BTreeMap::new();
    let mut spans = Vec::new();
    let mut span = |conn, kind: &str, file, start: SimTime, end: SimTime| {
        spans.push(Span { conn, kind: kind.into(), file, start_s: start.as_secs_f64(), end_s: end.as_secs_f64() })
    };
    for ev in &run.trace {
        match *ev {
            TraceEvent::ConnOpen { t, conn, .. } => {
                opening.insert(conn, t);
            }
            TraceEvent::ConnOpened { t, conn } => {
                if let Some(t0) = opening.remove(&conn) {
                    span(conn, "handshake", None, t0, t);
                }
            }
            TraceEvent::RequestSent { t, req, file, conn, .. } => {
                sent.insert(req, (t, file, conn));
            }
            TraceEvent::RequestDone { t, req, .. } => {
                if let Some((t0, file, conn)) = sent.remove(&req) {
                    let first = (t0 + first_byte).min(t);
                    span(conn, "first_byte", Some(file), t0, first);
                    span(conn, "body", Some(file), first, t);
                }
            }
            TraceEvent::RequestFailed { t, req, .. } => {
                if let Some((t0, file, conn)) = sent.remove(&req) {
                    span(conn, "failed", Some(file), t0, t);
                }
            }
            _ => {}
        }
    }
    Timeline { run: run.name.clone(), spans }
}

pub fn completion_times(run: &RunRecord) -> CompletionTimes {
    let mut times_s: Vec<f64> =
        run.outcomes.iter().filter(|o| o.status == FileStatus::Completed).map(|o| o.ended_at.as_secs_f64()).collect();
    times_s.sort_by(f64::total_cmp);
    CompletionTimes { run: run.name.clone(), times_s }
}
