//! The scenario schema. Field docs are the reference for the README table.

use super::workload::Workload;
use super::{shape, units};
use serde::{Deserialize, Serialize};

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

/// One simulation scenario (or a sweep of them).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Result name (default `"scenario"`).
    #[serde(default = "default_name")]
    pub name: String,
    /// Default run seed; `--seed` overrides it (default 42).
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default, deserialize_with = "shape::object")]
    pub server: Server,
    #[serde(default, deserialize_with = "shape::object")]
    pub network: Network,
    /// The client; `client.preset` fills every knob from a real tool's
    /// defaults before the fields given next to it apply (see [`super::preset`]).
    #[serde(default, deserialize_with = "shape::object")]
    pub client: Client,
    #[serde(deserialize_with = "shape::object")]
    pub workload: Workload,
    /// Optional sweep: several runs differing in one knob (or several).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "shape::opt_object")]
    pub sweep: Option<Sweep>,
}

impl Scenario {
    /// Round trips to open a connection: `network.handshake_rtts` if set,
    /// else TCP's 1 plus what `server.tls` adds.
    pub fn handshake_rtts(&self) -> u32 {
        self.network.handshake_rtts.unwrap_or(1 + self.server.tls.map_or(0, TlsVersion::handshake_rtts))
    }
}

fn default_name() -> String {
    "scenario".into()
}
fn default_seed() -> u64 {
    42
}

/// The HTTP server the orchestrator downloads from.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Server egress shared max-min fairly by all bodies in flight, bytes/s;
    /// `null` = unlimited (default 125 000 000 = 1 Gbit/s).
    #[serde(deserialize_with = "units::opt_rate")]
    pub bandwidth_bps: Option<f64>,
    /// Server think time before the first byte of each response, ms (default 10).
    #[serde(deserialize_with = "units::millis")]
    pub latency_ms: f64,
    /// Requests the server serves at once; beyond it, 503 with Retry-After
    /// (default `null` = no cap).
    pub max_concurrent_requests: Option<u32>,
    /// Requests the server serves on one keep-alive connection before closing
    /// it after a successful response (`Keep-Alive: max`; default 100). Error
    /// responses keep the connection open.
    pub keep_alive_max_requests: u32,
    /// Bytes the server writes per connection in turn when bodies compete
    /// for `bandwidth_bps` (round-robin turns); `null` (default) = fluid
    /// processor sharing. Turns let equal requests finish staggered, as a
    /// real server's writes do (the loopback server writes 8 KiB blocks).
    #[serde(deserialize_with = "units::opt_bytes")]
    pub write_quantum_bytes: Option<u64>,
    #[serde(deserialize_with = "shape::object")]
    pub faults: Faults,
    /// HTTPS: `"1.3"` or `"1.2"` (the only version the server and the real
    /// runtime offer), or `null` (default) = plain HTTP. The real server
    /// presents a certificate generated at start-up that only the real
    /// runtime trusts. It also sets the default of `network.handshake_rtts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsVersion>,
}

/// A TLS protocol version (`server.tls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    /// Round trips the TLS handshake adds to TCP's before the client may
    /// send a request: 1 for TLS 1.3, 2 for a full TLS 1.2 handshake (no
    /// resumption, no 0-RTT, no False Start — what the real runtime does).
    pub fn handshake_rtts(self) -> u32 {
        match self {
            TlsVersion::Tls13 => 1,
            TlsVersion::Tls12 => 2,
        }
    }

    /// `"1.3"` or `"1.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls13 => "1.3",
            TlsVersion::Tls12 => "1.2",
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            bandwidth_bps: Some(125_000_000.0),
            latency_ms: 10.0,
            max_concurrent_requests: None,
            keep_alive_max_requests: 100,
            write_quantum_bytes: None,
            faults: Faults::default(),
            tls: None,
        }
    }
}

/// Injected faults: each request fails with probability `error_rate`; the
/// kind is drawn from `mix` (weights, normalised).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Probability that a request fails, in [0, 1] (default 0).
    pub error_rate: f64,
    #[serde(deserialize_with = "shape::object")]
    pub mix: FaultMix,
    /// Retry-After sent with 429/503 responses, s (default 1).
    #[serde(deserialize_with = "units::seconds")]
    pub retry_after_s: f64,
    /// Reset hazard per byte sent: resets per GiB of body, as long
    /// transfers see them in practice (default 0 = none). A body that the
    /// request's fault left whole is cut after an exponentially distributed
    /// number of bytes (mean GiB / rate) and the connection reset, so a body
    /// of `len` bytes is cut with probability 1 − exp(−rate · len / GiB).
    /// Decided by the server core, identically in the sim and the loopback
    /// server.
    pub resets_per_gib: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults { error_rate: 0.0, mix: FaultMix::default(), retry_after_s: 1.0, resets_per_gib: 0.0 }
    }
}

/// Relative weights of the fault kinds (default: all HTTP 500).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultMix {
    /// HTTP 500 after the server latency, no body.
    pub http_500: f64,
    /// HTTP 429 Too Many Requests with Retry-After.
    pub http_429: f64,
    /// HTTP 503 Service Unavailable with Retry-After.
    pub http_503: f64,
    /// Connection reset after a uniformly drawn fraction of the body.
    pub reset: f64,
    /// No bytes after the head until the client's read timeout.
    pub stall: f64,
}

impl Default for FaultMix {
    fn default() -> Self {
        FaultMix { http_500: 1.0, http_429: 0.0, http_503: 0.0, reset: 0.0, stall: 0.0 }
    }
}

/// The path between client and server.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Round-trip time, ms (default 20).
    #[serde(deserialize_with = "units::millis")]
    pub rtt_ms: f64,
    /// Round trips to open a connection before the first request can be
    /// sent. Default `null` = derived from `server.tls`: TCP 1, +1 for TLS
    /// 1.3, +2 for TLS 1.2 (so 1, 2 or 3; measured through the WAN emulator
    /// by `tests/tls.rs`). An explicit value overrides it (e.g. to model an
    /// HTTPS server while the real one serves plain HTTP); read it with
    /// [`Scenario::handshake_rtts`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_rtts: Option<u32>,
    /// Explicit per-connection cap, bytes/s (default `null`).
    #[serde(deserialize_with = "units::opt_rate")]
    pub per_connection_bps: Option<f64>,
    /// TCP receive window; caps each connection at window / RTT (default `null`).
    #[serde(deserialize_with = "units::opt_bytes")]
    pub tcp_window_bytes: Option<u64>,
    /// Client-side CPU/stack cost per request, ms; calibrated for loopback by
    /// `dlsim validate --calibrate` (default 0).
    #[serde(deserialize_with = "units::millis")]
    pub request_overhead_ms: f64,
    /// Client-side cost per new connection, ms (default 0).
    #[serde(deserialize_with = "units::millis")]
    pub connect_overhead_ms: f64,
    /// TCP slow start: each connection's window starts at
    /// `initial_window_segments × mss_bytes` and doubles per round trip
    /// while it limits the connection (default true; no effect at RTT 0).
    pub slow_start: bool,
    /// Initial congestion window, segments (default 10, as Linux).
    pub initial_window_segments: u32,
    /// Payload bytes per segment (default 1448: MTU 1500 with timestamps).
    pub mss_bytes: u32,
    /// Restart slow start on a pooled connection idle longer than the RTO
    /// (RTT + 200 ms) (default true, as Linux).
    pub slow_start_after_idle: bool,
    /// Drop-tail buffer of the bottleneck (`server.bandwidth_bps`), payload
    /// bytes: slow start overflows it when the windows exceed rate × RTT +
    /// queue (default `null` = one bandwidth-delay product, at least 63 263
    /// B, as the WAN emulator's default queue).
    #[serde(default, deserialize_with = "units::opt_bytes", skip_serializing_if = "Option::is_none")]
    pub queue_bytes: Option<u64>,
    /// Cubic's HyStart delay exit and what follows it (default true; see
    /// [`crate::net::slowstart`]): once slow start's bursts queue
    /// clamp(RTT / 8, 4 ms, 16 ms) at the bottleneck, connections leave slow
    /// start whole rounds apart in the bottleneck's FIFO order (no draw);
    /// behind a standing queue each gets window / (RTT + queueing delay);
    /// windows grow as cubic does (1/20 of what they deliver before any
    /// loss, cubic's curve after one), and every overflow of rate × RTT +
    /// queue cuts every window. It predicts the WAN matrix and the tools'
    /// WAN rows better than the model without it on every quiet recording,
    /// and costs 4–10× as much on long runs with many
    /// connections (README, "Validation on a WAN path"); `false` keeps slow
    /// start with the ACK-train exit only.
    #[serde(skip_serializing_if = "is_true")]
    pub hystart_delay: bool,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            rtt_ms: 20.0,
            handshake_rtts: None,
            per_connection_bps: None,
            tcp_window_bytes: None,
            request_overhead_ms: 0.0,
            connect_overhead_ms: 0.0,
            slow_start: true,
            initial_window_segments: 10,
            mss_bytes: 1448,
            slow_start_after_idle: true,
            queue_bytes: None,
            hystart_delay: true,
        }
    }
}

/// How models are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduling {
    /// One model at a time, in priority-then-FIFO order (the original).
    SequentialModels,
    /// One global pool of files across all models.
    Interleaved,
}

/// Where a file's priority comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorityRule {
    /// The file's own `priority`, else its model's.
    Model,
    /// The original per-file rule: `.json/.yaml/.yml/.txt` → HIGH,
    /// < 100 MiB → NORMAL, else LOW; smaller files first within a level.
    ByFileType,
}

/// The orchestrator's knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Client {
    /// A real tool whose defaults every other client field starts from:
    /// `original`, `huggingface_hub`, `hf_transfer`, `aria2` or `curl`
    /// (default `null` = dlsim's defaults, which are the original's). Fields
    /// given next to it override the preset's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<super::preset::Preset>,
    /// Files downloaded at once, globally (default 4).
    pub max_concurrent_downloads: u32,
    /// Files of one model downloaded at once (default 8).
    pub max_concurrent_files_per_model: u32,
    /// Connections in use or opening to one host (default `null` = no limit).
    pub max_connections_per_host: Option<u32>,
    /// `sequential_models` (default, the original) or `interleaved`.
    pub scheduling: Scheduling,
    /// `model` (default) or `by_file_type`.
    pub priority_rule: PriorityRule,
    #[serde(deserialize_with = "shape::object")]
    pub chunking: Chunking,
    /// Bytes per socket read: sets the streaming buffer and the per-read CPU
    /// cost (default 131 072 = 128 KiB, the original's read unit).
    #[serde(deserialize_with = "units::bytes")]
    pub read_size_bytes: u64,
    /// The original's adaptive chunking: each file's read unit (its
    /// `iter_content` chunk) from the table by file size (<1 MiB → 8 KiB,
    /// <10 MiB → 64 KiB, <100 MiB → 256 KiB, else 1 MiB), doubled (at most
    /// 2 MiB) when the mean speed of the last 10 completed files is above
    /// 50 MiB/s, halved (at least 8 KiB) below 1 MiB/s; one GET per file is
    /// unchanged. `false` (default): every read is `read_size_bytes`.
    pub adaptive_read_size: bool,
    /// Parallel segments per file, aria2 `split` (default 1).
    pub split: u32,
    /// A file is split only into segments of at least this size (default 20 MiB).
    #[serde(deserialize_with = "units::bytes")]
    pub min_split_size_bytes: u64,
    /// How a file becomes segments: `even` (default: clamp(size /
    /// min_split_size, 1, split) equal segments, all at once), `aria2`
    /// (aria2's "no split below 2 × min_split_size" halving:
    /// min(split, 2^⌊log2(size / min_split_size)⌋) segments), or `fan_out`
    /// (hf_transfer: ⌈size / chunk_size⌉ ranges of `chunking.chunk_size_bytes`
    /// in offset order, `split` of them in flight per file, each buffered whole).
    #[serde(default)]
    pub split_rule: SplitRule,
    /// The tool's start-up before its first request (process start,
    /// imports, API calls), ms (default 0). `validate --client` measures it.
    #[serde(default, deserialize_with = "units::millis")]
    pub startup_ms: f64,
    /// The tool's own work per file, ms (default 0): a delay holding the
    /// file's worker before its first request (aria2's engine turn per
    /// download, hf_transfer's runtime and client per call,
    /// huggingface_hub's lock and metadata files) and, for
    /// `per_file_overhead_after_share` of it, after its last byte. Presets
    /// set it from a calibration (docs/clients.md §9.1).
    #[serde(default, deserialize_with = "units::millis")]
    pub per_file_overhead_ms: f64,
    /// The share of `per_file_overhead_ms` done after the file's last byte
    /// (before it counts as done and its worker takes the next file), 0–1
    /// (default 0: all of it before the first request). Where the work
    /// falls decides how far apart files started together send their
    /// requests when the work is serialized (`per_file_overhead_lanes`).
    #[serde(default)]
    pub per_file_overhead_after_share: f64,
    /// The tool's own work per MiB of each file after its last byte, ms
    /// (default 0), on the same worker or lane as `per_file_overhead_ms`:
    /// aria2's `fsync` of the whole file when its download ends flushes
    /// its dirty pages to disk (3.1 ms per MiB measured here).
    #[serde(default, deserialize_with = "units::millis")]
    pub per_mib_overhead_ms: f64,
    /// The tool's own work per MiB of each range after that range's last
    /// byte, ms (default 0): a tool that buffers a range whole writes it
    /// then, one range at a time per file; the file is done when its last
    /// range is written. hf_transfer's `download_chunk` collects the
    /// response (`response.bytes()`) and then `write_all`s it (1.5 ms per
    /// MiB measured here).
    #[serde(default, deserialize_with = "units::millis")]
    pub per_range_mib_overhead_ms: f64,
    /// How many files' per-file work can run at once (default `null`:
    /// each on its own worker, all overlapping); `n`: `n` shared lanes,
    /// one file each in dispatch order (aria2's single engine thread: 1).
    #[serde(default)]
    pub per_file_overhead_lanes: Option<u32>,
    /// Body-less requests a tool sends besides the byte ranges (HEAD,
    /// size probe, redirect); none by default.
    #[serde(default, deserialize_with = "shape::object")]
    pub metadata: Metadata,
    #[serde(deserialize_with = "shape::object")]
    pub pool: Pool,
    #[serde(deserialize_with = "shape::object")]
    pub retry: Retry,
    /// No byte for this long fails the request, s (default 30).
    #[serde(deserialize_with = "units::seconds")]
    pub read_timeout_s: f64,
    /// Client token-bucket bandwidth limiter (default `null` = none).
    #[serde(deserialize_with = "shape::opt_object")]
    pub bandwidth_limit: Option<BandwidthLimit>,
    /// Files below this are buffered whole in memory; above, streamed through
    /// a write buffer of max(4 × read size, 64 KiB) (default 52 428 800 = 50 MiB).
    #[serde(deserialize_with = "units::bytes")]
    pub streaming_threshold_bytes: u64,
    #[serde(deserialize_with = "shape::object")]
    pub cpu: CpuModel,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            preset: None,
            max_concurrent_downloads: 4,
            max_concurrent_files_per_model: 8,
            max_connections_per_host: None,
            scheduling: Scheduling::SequentialModels,
            priority_rule: PriorityRule::Model,
            chunking: Chunking::default(),
            read_size_bytes: 128 * KIB,
            adaptive_read_size: false,
            split: 1,
            min_split_size_bytes: 20 * MIB,
            split_rule: SplitRule::Even,
            startup_ms: 0.0,
            per_file_overhead_ms: 0.0,
            per_file_overhead_after_share: 0.0,
            per_mib_overhead_ms: 0.0,
            per_range_mib_overhead_ms: 0.0,
            per_file_overhead_lanes: None,
            metadata: Metadata::default(),
            pool: Pool::default(),
            retry: Retry::default(),
            read_timeout_s: 30.0,
            bandwidth_limit: None,
            streaming_threshold_bytes: 50 * MIB,
            cpu: CpuModel::default(),
        }
    }
}

/// How a file is cut into segments (`client.split_rule`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitRule {
    /// clamp(size / min_split_size, 1, split) equal segments.
    #[default]
    Even,
    /// aria2 1.36.0: a free connection splits the largest unclaimed run at
    /// its middle only if the half is ≥ min_split_size, so a file gets
    /// min(split, 2^⌊log2(size / min_split_size)⌋) segments.
    Aria2,
    /// hf_transfer 0.1.9: ⌈size / chunk⌉ fixed ranges, `split` in flight.
    FanOut,
}

/// Which requests of a redirected file go through the redirect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectFollow {
    /// None: the file's URL is already final, or the tool sends its GET
    /// straight to the `Location` it learned from a HEAD (huggingface_hub).
    #[default]
    None,
    /// The file's first request follows the redirect; later requests use
    /// the final URL (curl -L, hf_transfer).
    First,
    /// Every byte-range request is sent to the original URL and redirected
    /// again (aria2 1.36.0, measured).
    Every,
}

/// Body-less requests before byte ranges (`client.metadata`): each costs a
/// request round trip on the file's connection. The sim has one host, so a
/// redirect's new connection to the CDN host is not modelled, only its
/// round trip.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metadata {
    /// One HEAD per file before its first GET (huggingface_hub's
    /// `get_hf_file_metadata`) (default false).
    pub head: bool,
    /// One size probe per file (`Range: bytes=0-0`) before its ranges are
    /// fanned out (hf_transfer) (default false).
    pub probe: bool,
    /// Files at least this large are redirected by the server (the Hub's
    /// 302 to its CDN for LFS files; `dlsim serve --hub` uses 10 MiB);
    /// `null` (default) = no redirects.
    #[serde(deserialize_with = "units::opt_bytes")]
    pub redirect_min_bytes: Option<u64>,
    /// `none` (default), `first` or `every`: which requests of a redirected
    /// file pay the redirect's extra round trip.
    pub redirect_follow: RedirectFollow,
}

/// Size of each Range request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChunkMode {
    /// One request per segment (a plain GET when `split` = 1), as the original.
    WholeFile,
    /// Requests of `chunk_size_bytes`.
    Fixed,
    /// The original's table by file size (<1 MiB → 8 KiB, <10 MiB → 64 KiB,
    /// <100 MiB → 256 KiB, else 1 MiB), doubled above 50 MiB/s measured and
    /// halved below 1 MiB/s.
    AdaptiveTable,
    /// chunk ≈ measured rate × `target_chunk_time_ms`, clamped to
    /// [`min_chunk_bytes`, `max_chunk_bytes`].
    Throughput,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Chunking {
    /// `whole_file` (default), `fixed`, `adaptive_table` or `throughput`.
    pub mode: ChunkMode,
    /// Request size for `fixed`, and first request of `throughput` (default 8 MiB).
    #[serde(deserialize_with = "units::bytes")]
    pub chunk_size_bytes: u64,
    /// Target duration of one request for `throughput`, ms (default 1000).
    #[serde(deserialize_with = "units::millis")]
    pub target_chunk_time_ms: f64,
    /// Clamp for `throughput` (default 64 KiB).
    #[serde(deserialize_with = "units::bytes")]
    pub min_chunk_bytes: u64,
    /// Clamp for `throughput` (default 64 MiB).
    #[serde(deserialize_with = "units::bytes")]
    pub max_chunk_bytes: u64,
}

impl Default for Chunking {
    fn default() -> Self {
        Chunking {
            mode: ChunkMode::WholeFile,
            chunk_size_bytes: 8 * MIB,
            target_chunk_time_ms: 1000.0,
            min_chunk_bytes: 64 * KIB,
            max_chunk_bytes: 64 * MIB,
        }
    }
}

/// Keep-alive connection pool (one host).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pool {
    /// Idle connections kept (`connection_pool_size`, default 20).
    pub size: u32,
    /// `false` (default, the original): open overflow connections beyond
    /// `size` and discard them after use; `true`: wait for a pooled one.
    pub block: bool,
    /// An idle connection older than this is not reused, s (default 15).
    #[serde(deserialize_with = "units::seconds")]
    pub idle_timeout_s: f64,
    /// Requests on one connection before the client retires it (default 100).
    pub max_requests_per_connection: u32,
    /// `shared` (default): one pool for all downloads, as above;
    /// `per_worker`: the original's `ConnectionPool`, one `requests.Session`
    /// per download worker (`max_concurrent_downloads` workers), each keeping
    /// up to `max_concurrent_files_per_model` idle connections (urllib3
    /// `pool_maxsize`) with `pool_block = false`; `size` and `block` are unused.
    pub scope: PoolScope,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            size: 20,
            block: false,
            idle_timeout_s: 15.0,
            max_requests_per_connection: 100,
            scope: PoolScope::Shared,
        }
    }
}

/// Which downloads share idle connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolScope {
    /// One pool for every download.
    #[default]
    Shared,
    /// One pool per download worker (a file is downloaded by one worker).
    PerWorker,
    /// One pool per file: no connection outlives its file (hf_transfer makes
    /// a new HTTP client for each `download` call).
    PerFile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// No wait.
    None,
    /// `base_s` every time.
    Fixed,
    /// `base_s × n` before retry n.
    Linear,
    /// `base_s × factor^(n−1)` before retry n (the original: 1, 2, 4, 8 s).
    Exponential,
    /// urllib3: 0 before the first retry, then `base_s × 2^(n−1)` (0, 1, 2, 4, 8 s for 0.5).
    Urllib3,
}

/// Retry policy (default: the original's TRANSIENT policy).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// Attempts per request, first included (default 5).
    pub max_attempts: u32,
    /// `none`, `fixed`, `linear`, `exponential` (default) or `urllib3`.
    pub backoff: Backoff,
    /// s (default 1).
    #[serde(deserialize_with = "units::seconds")]
    pub base_s: f64,
    /// Growth factor for `exponential` (default 2).
    pub factor: f64,
    /// Largest wait, s (default 30).
    #[serde(deserialize_with = "units::seconds")]
    pub cap_s: f64,
    /// Wait × (1 ± jitter), uniform (default 0.1).
    pub jitter: f64,
    /// Wait at least the server's Retry-After (default true).
    pub respect_retry_after: bool,
    /// Resume from the last byte received after a reset (default true).
    pub enable_resume: bool,
    /// hf_transfer guard: a failure while this many requests already wait to
    /// retry fails its file at once (default `null` = no guard).
    pub parallel_failures: Option<u32>,
    /// Failure kinds this tool does not retry although they are transient
    /// (`http_500`, `http_429`, `http_503`, `http_other`, `reset`,
    /// `timeout`, `connect`): e.g. aria2 aborts on 500 and 429,
    /// huggingface_hub fails the file on a 5xx to its GET (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_retried: Vec<String>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 5,
            backoff: Backoff::Exponential,
            base_s: 1.0,
            factor: 2.0,
            cap_s: 30.0,
            jitter: 0.1,
            respect_retry_after: true,
            enable_resume: true,
            parallel_failures: None,
            not_retried: Vec::new(),
        }
    }
}

/// Client token bucket, modelled as a fluid.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthLimit {
    /// Sustained rate, bytes/s.
    #[serde(deserialize_with = "units::rate")]
    pub rate_bps: f64,
    /// Bucket size, bytes (default `null` = 2 × rate, as the original).
    #[serde(default, deserialize_with = "units::opt_bytes_f64")]
    pub burst_bytes: Option<f64>,
    /// The bucket starts full (default `false`: empty, as the original's
    /// `BandwidthLimiter`, `tokens = 0`).
    #[serde(default)]
    pub start_full: bool,
}

impl BandwidthLimit {
    pub fn burst(&self) -> f64 {
        self.burst_bytes.unwrap_or(2.0 * self.rate_bps)
    }
}

/// Modelled client CPU: total = requests × per_request + connections ×
/// per_connection + reads × per_read + bytes × per_byte (hash + copy);
/// utilisation = total / (duration × cores).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CpuModel {
    /// µs per request (default 50).
    pub per_request_us: f64,
    /// µs per new connection, TLS included (default 1000).
    pub per_connection_us: f64,
    /// µs per socket read (default 2).
    pub per_read_us: f64,
    /// ns per byte for SHA-256 and copying (default 1.0 ≈ 1 GB/s).
    pub per_byte_ns: f64,
    /// Cores the percentage is relative to (default 1).
    pub cores: u32,
}

impl Default for CpuModel {
    fn default() -> Self {
        CpuModel { per_request_us: 50.0, per_connection_us: 1000.0, per_read_us: 2.0, per_byte_ns: 1.0, cores: 1 }
    }
}

/// A sweep: either one knob over `values` (optionally `names` per value), or
/// explicit `points` each setting several knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Dotted path of the knob, e.g. `client.max_concurrent_downloads`.
    #[serde(default)]
    pub knob: Option<String>,
    #[serde(default, deserialize_with = "at_most_max_points")]
    pub values: Vec<serde_json::Value>,
    /// Result name per value (default `{name}_{value}`).
    #[serde(default)]
    pub names: Vec<String>,
    /// Explicit points: `{ "name": ..., "set": { "dotted.path": value } }`.
    #[serde(default, deserialize_with = "point_objects")]
    pub points: Vec<SweepPointSpec>,
    /// Seeds run per point, 1 to [`super::MAX_REPLICATIONS`] (default 1;
    /// `--replications` overrides): see the README, "Replications". A
    /// sweep may give only this, to replicate the scenario alone.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replications: u32,
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}

/// A list of sweep values or points, refused as soon as it passes
/// [`super::MAX_POINTS`] (before the rest of a huge file is read into memory).
fn at_most_max_points<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Bounded<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "an array of at most {} items", super::MAX_POINTS)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(x) = seq.next_element()? {
                if out.len() == super::MAX_POINTS {
                    return Err(serde::de::Error::custom(format!(
                        "a sweep has at most {} points; this one has more",
                        super::MAX_POINTS
                    )));
                }
                out.push(x);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded(std::marker::PhantomData))
}

/// Sweep points, each a JSON object, at most [`super::MAX_POINTS`].
fn point_objects<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SweepPointSpec>, D::Error> {
    Ok(at_most_max_points::<D, shape::Obj<SweepPointSpec>>(d)?.into_iter().map(|o| o.0).collect())
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPointSpec {
    pub name: String,
    pub set: serde_json::Map<String, serde_json::Value>,
}

fn is_true(b: &bool) -> bool {
    *b
}
