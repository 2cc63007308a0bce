//! Long help texts of the `dlsim` command line (shown by `--help`), kept
//! here so the command definitions in `main.rs` stay short; `tests/help.rs`
//! checks their key lines.

/// After `dlsim --help`: exit codes and where the scenario format is.
pub const MAIN: &str = "\
Exit codes:
  0  success
  1  a check failed: `run --check` found a broken invariant, or `validate`
     found one or a real run that completed no file
  2  bad input or an error (a scenario field, a flag, a file, a budget, a
     full device); the message on stderr names the field and allowed range

Scenario format: README.md, section \"Scenario format\" (every field, its unit
and default); `dlsim explain SCENARIO` prints a scenario with every default
filled in; scenarios/example.json is a worked example.

Warnings about settings that silently limit a run go to stderr, never into
report files.";

/// After `dlsim serve --help`: URL layout, stats, what is and is not emulated.
pub const SERVE: &str = "\
URL layout:
  http://ADDR:PORT/<file path>     each file of the workload at its path, e.g.
                                   /llama-mini/config.json (GET, HEAD, single
                                   Range: 206, or 416 when unsatisfiable)
  http://ADDR:PORT/_dlsim/stats    JSON counters: requests, bytes, connections,
                                   faults injected by kind, 503s over capacity
  with --hub (Hugging Face Hub API, one repository per model):
  /api/models/<repo>[/revision/<rev>]       model info with `siblings`
  /api/models/<repo>/tree/<rev>[/<dir>]     file listing, paged
  /<repo>/resolve/<rev>/<path>              small files; large files: 302 to
                                            the CDN-like listener's
                                            /cdn-lfs/<repo>/resolve/<commit>/<path>
  https:// instead of http:// with `server.tls` (certificate: --tls-cert-out)

Emulated (the scenario's `server` section, decided by the same server core as
the simulator): `latency_ms` before the first byte, `bandwidth_bps` shared by
all connections (a wall-clock pacer), `max_concurrent_requests` (503 with
Retry-After), `keep_alive_max_requests`, faults (`error_rate` and its `mix`:
500, 429/503 with Retry-After, a body cut then a TCP reset, a stall;
`resets_per_gib`), `write_quantum_bytes` (bytes per paced write), TLS 1.2/1.3,
deterministic content from the seed.

Not emulated: the `network` section (RTT, handshake round trips, per-connection
caps, TCP window — loopback has none of them; use `dlsim wan run -- dlsim serve
…` or `validate --wan` for a real RTT and bottleneck), the `client` section
(it is the client's), multi-range requests, HTTP/2, compression,
authentication.";

/// After `dlsim validate --help`: what the columns are.
pub const VALIDATE: &str = "\
The table has one row per scenario: sim_s is the simulator's prediction,
real_s the measured wall time of the real runtime (median of --repeats runs,
run in rounds: each round runs every scenario once),
ln(sim/real) their signed log error (negative: the model is optimistic),
`real runs s` the fastest and slowest real run, `outside` how far the
prediction lies outside that range (ln(sim / nearest end), 0 inside), and
the requests and retries columns are sim/real counts.";

/// After `dlsim bench --help`: the workload.
pub const BENCH: &str = "\
Workload: one model of --files files whose sizes are drawn log-uniformly
between 4 KiB and 64 MiB (mean (max − min) / ln(max / min) ≈ 6.6 MiB) from --seed; a 1.25 GB/s server
with 5 ms latency and faults at --error-rate (500, 503 and resets equally,
stalls a fifth as often); RTT 10 ms, 2 handshake round trips, 50 MB/s per
connection; --connections concurrent downloads, interleaved, retries with a
0.1 s base. The best wall time of --repeat runs is reported.";
