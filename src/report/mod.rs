//! Reports: the Python suite's `BenchmarkResult`, built from a run, and its
//! JSON/CSV/table renderings. Report files contain only modelled figures, so
//! the same scenario and seed give byte-identical files; the simulator's own
//! wall time is printed to stdout only.

mod result;
pub mod stats;
mod write;

pub use result::{BenchmarkResult, Metadata, Percentiles, PriorityWait, from_run};
pub use write::{check_finite, csv, table, write_outputs};
