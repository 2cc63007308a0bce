//! The suite's scenarios, embedded in the binary so `dlsim suite` runs from
//! any directory. The files live in `scenarios/suite/`.

/// The eight families of the seed suite, in report order: (family, JSON).
pub const FAMILIES: [(&str, &str); 8] = [
    ("concurrent_downloads", include_str!("../../scenarios/suite/concurrent_downloads.json")),
    ("bandwidth_limiting", include_str!("../../scenarios/suite/bandwidth_limiting.json")),
    ("adaptive_chunking", include_str!("../../scenarios/suite/adaptive_chunking.json")),
    ("memory_optimization", include_str!("../../scenarios/suite/memory_optimization.json")),
    ("connection_pooling", include_str!("../../scenarios/suite/connection_pooling.json")),
    ("queue_management", include_str!("../../scenarios/suite/queue_management.json")),
    ("error_recovery", include_str!("../../scenarios/suite/error_recovery.json")),
    ("scalability", include_str!("../../scenarios/suite/scalability.json")),
];

/// Extended sweeps drawn as curves: (name, JSON). They are dlsim's own, not
/// the original's; `range_chunk_*` chunk files into Range requests, which the
/// original never did (it made one GET per file).
pub const EXTENDED: [(&str, &str); 10] = [
    ("concurrency_lan", include_str!("../../scenarios/suite/extended/concurrency_lan.json")),
    ("concurrency_fast_wan", include_str!("../../scenarios/suite/extended/concurrency_fast_wan.json")),
    ("concurrency_slow_wan", include_str!("../../scenarios/suite/extended/concurrency_slow_wan.json")),
    ("range_chunk_size", include_str!("../../scenarios/suite/extended/range_chunk_size.json")),
    ("range_chunk_adaptive_table", include_str!("../../scenarios/suite/extended/range_chunk_adaptive_table.json")),
    ("error_rate", include_str!("../../scenarios/suite/extended/error_rate.json")),
    ("pool_size", include_str!("../../scenarios/suite/extended/pool_size.json")),
    ("limit_server", include_str!("../../scenarios/suite/extended/limit_server.json")),
    ("limit_client", include_str!("../../scenarios/suite/extended/limit_client.json")),
    // The client presets (issue 10) on the seed's four workloads; x = point index.
    ("client_presets", include_str!("../../scenarios/suite/extended/client_presets.json")),
];

/// The run whose per-connection timeline is recorded and drawn.
pub const TIMELINE_RUN: &str = "concurrent_downloads_mixed_workload";
