//! Client presets: `client.preset` sets every client knob to a real tool's
//! defaults (issue 10, part 2); fields given next to the preset override it.
//!
//! Each value is the tool's default at the version named, read from its
//! source (docs/clients.md cites file and option for each); [`sources`]
//! lists them for the README and `dlsim explain`. Where dlsim has no
//! equivalent knob, the nearest is used and the gap is said.

use super::schema::{
    Backoff, ChunkMode, Chunking, Client, Metadata, Pool, PoolScope, RedirectFollow, Retry, Scheduling, SplitRule,
};
use super::{KIB, MIB};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A real download tool whose defaults a scenario's client can start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// The original Python `ParallelDownloadManager` (dlsim's defaults).
    Original,
    /// `huggingface_hub` 2.4.0 `snapshot_download` (`max_workers=8`).
    HuggingfaceHub,
    /// `hf_transfer` 0.1.9 `download(max_files=100, chunk_size=10 MiB,
    /// parallel_failures=3, max_retries=5)` per file, files one after another.
    HfTransfer,
    /// `aria2c` 1.36.0 with its defaults (`-j5 -x1 -s5 -k20M -m5`).
    Aria2,
    /// `curl` 7.88.1 `-L`, every URL on one command line (serial).
    Curl,
}

/// Every preset, in the order `compare` shows them.
pub const ALL: [Preset; 5] =
    [Preset::Original, Preset::HuggingfaceHub, Preset::HfTransfer, Preset::Aria2, Preset::Curl];

/// Accepted names, for errors and help.
pub const NAMES: &str = "original, huggingface_hub, hf_transfer, aria2, curl";

/// The Hub's LFS threshold as `dlsim serve --hub` applies it: files of at
/// least this size are answered with a 302 to the CDN listener.
pub const HUB_REDIRECT_MIN_BYTES: u64 = 10 * MIB;

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Original => "original",
            Preset::HuggingfaceHub => "huggingface_hub",
            Preset::HfTransfer => "hf_transfer",
            Preset::Aria2 => "aria2",
            Preset::Curl => "curl",
        }
    }

    /// `name` as a preset; `None` for anything else.
    pub fn parse(name: &str) -> Option<Preset> {
        ALL.into_iter().find(|p| p.name() == name)
    }

    /// The client with every knob at this tool's default.
    pub fn client(self) -> Client {
        let base = Client::default();
        let c = match self {
            Preset::Original => base,
            Preset::HuggingfaceHub => Client {
                max_concurrent_downloads: 8,
                max_concurrent_files_per_model: 8,
                max_connections_per_host: None,
                scheduling: Scheduling::Interleaved,
                chunking: Chunking { mode: ChunkMode::WholeFile, ..Chunking::default() },
                read_size_bytes: 64 * KIB,
                split: 1,
                split_rule: SplitRule::Even,
                metadata: Metadata {
                    head: true,
                    probe: false,
                    // The HEAD's 302 is not followed (it carries the
                    // metadata); the GET goes to its Location, the CDN.
                    redirect_min_bytes: Some(HUB_REDIRECT_MIN_BYTES),
                    redirect_follow: RedirectFollow::None,
                },
                pool: Pool {
                    size: 20,
                    block: false,
                    idle_timeout_s: 5.0,
                    max_requests_per_connection: u32::MAX,
                    scope: PoolScope::Shared,
                },
                retry: Retry {
                    max_attempts: 6,
                    backoff: Backoff::Fixed,
                    base_s: 1.0,
                    factor: 2.0,
                    cap_s: 8.0,
                    jitter: 0.0,
                    respect_retry_after: true,
                    enable_resume: true,
                    parallel_failures: None,
                    not_retried: vec!["http_500".into(), "http_503".into(), "http_other".into()],
                },
                read_timeout_s: 10.0,
                streaming_threshold_bytes: 0,
                per_file_overhead_ms: 9.2,
                per_file_overhead_after_share: 0.74,
                per_file_overhead_lanes: Some(1),
                ..base
            },
            Preset::HfTransfer => Client {
                max_concurrent_downloads: 1,
                max_concurrent_files_per_model: 1,
                max_connections_per_host: None,
                scheduling: Scheduling::SequentialModels,
                chunking: Chunking { mode: ChunkMode::Fixed, chunk_size_bytes: 10 * MIB, ..Chunking::default() },
                read_size_bytes: 64 * KIB,
                split: 100,
                split_rule: SplitRule::FanOut,
                metadata: Metadata {
                    head: false,
                    probe: true,
                    redirect_min_bytes: Some(HUB_REDIRECT_MIN_BYTES),
                    redirect_follow: RedirectFollow::First,
                },
                pool: Pool {
                    size: 100,
                    block: false,
                    idle_timeout_s: 90.0,
                    max_requests_per_connection: u32::MAX,
                    scope: PoolScope::PerFile,
                },
                retry: Retry {
                    max_attempts: 6,
                    backoff: Backoff::Fixed,
                    // 300 ms + uniform [0, 500] ms = 550 ms ± 250 ms.
                    base_s: 0.55,
                    factor: 2.0,
                    cap_s: 10.0,
                    jitter: 0.25 / 0.55,
                    respect_retry_after: false,
                    enable_resume: false,
                    parallel_failures: Some(3),
                    not_retried: Vec::new(),
                },
                read_timeout_s: 86_400.0,
                streaming_threshold_bytes: 0,
                per_file_overhead_ms: 15.3,
                per_range_mib_overhead_ms: 1.5,
                per_file_overhead_lanes: None,
                ..base
            },
            Preset::Aria2 => Client {
                max_concurrent_downloads: 5,
                max_concurrent_files_per_model: 5,
                max_connections_per_host: None,
                scheduling: Scheduling::Interleaved,
                chunking: Chunking { mode: ChunkMode::WholeFile, ..Chunking::default() },
                read_size_bytes: 16 * KIB,
                split: 1,
                min_split_size_bytes: 20 * MIB,
                split_rule: SplitRule::Aria2,
                metadata: Metadata {
                    head: false,
                    probe: false,
                    redirect_min_bytes: Some(HUB_REDIRECT_MIN_BYTES),
                    redirect_follow: RedirectFollow::Every,
                },
                pool: Pool {
                    size: 16,
                    block: false,
                    idle_timeout_s: 15.0,
                    max_requests_per_connection: u32::MAX,
                    scope: PoolScope::Shared,
                },
                retry: Retry {
                    max_attempts: 5,
                    backoff: Backoff::None,
                    base_s: 0.0,
                    factor: 2.0,
                    cap_s: 0.0,
                    jitter: 0.0,
                    respect_retry_after: false,
                    enable_resume: true,
                    parallel_failures: None,
                    not_retried: vec!["http_500".into(), "http_429".into(), "http_503".into(), "http_other".into()],
                },
                read_timeout_s: 60.0,
                streaming_threshold_bytes: 0,
                per_file_overhead_ms: 11.9,
                per_mib_overhead_ms: 3.1,
                per_file_overhead_lanes: Some(1),
                ..base
            },
            Preset::Curl => Client {
                max_concurrent_downloads: 1,
                max_concurrent_files_per_model: 1,
                max_connections_per_host: None,
                scheduling: Scheduling::SequentialModels,
                chunking: Chunking { mode: ChunkMode::WholeFile, ..Chunking::default() },
                read_size_bytes: 16 * KIB,
                split: 1,
                split_rule: SplitRule::Even,
                metadata: Metadata {
                    head: false,
                    probe: false,
                    redirect_min_bytes: Some(HUB_REDIRECT_MIN_BYTES),
                    redirect_follow: RedirectFollow::First,
                },
                pool: Pool {
                    size: 5,
                    block: false,
                    idle_timeout_s: 118.0,
                    max_requests_per_connection: u32::MAX,
                    scope: PoolScope::Shared,
                },
                retry: Retry {
                    max_attempts: 1,
                    backoff: Backoff::Exponential,
                    base_s: 1.0,
                    factor: 2.0,
                    cap_s: 600.0,
                    jitter: 0.0,
                    respect_retry_after: true,
                    enable_resume: false,
                    parallel_failures: None,
                    not_retried: Vec::new(),
                },
                read_timeout_s: 86_400.0,
                streaming_threshold_bytes: 0,
                per_file_overhead_ms: 0.5,
                per_file_overhead_lanes: None,
                ..base
            },
        };
        Client { preset: Some(self), ..c }
    }
}

/// One preset setting and where it comes from: (knob, value, source).
pub type Source = (&'static str, &'static str, &'static str);

/// The settings of `p` that differ from dlsim's defaults, each with the
/// tool, version and option it is read from (docs/clients.md §1–5).
pub fn sources(p: Preset) -> &'static [Source] {
    match p {
        Preset::Original => {
            &[("(all)", "dlsim's defaults", "ParallelDownloadManager as issue 10 and DESIGN.md describe it")]
        }
        Preset::HuggingfaceHub => &[
            ("max_concurrent_downloads", "8", "huggingface_hub 2.4.0 snapshot_download(max_workers=8)"),
            ("scheduling", "interleaved", "hf_thread_map over the repo's files, tree order"),
            ("chunking.mode / split", "whole_file / 1", "file_download.py http_get: one GET, no Range"),
            ("metadata.head", "true", "get_hf_file_metadata: HEAD /resolve per file (302 not followed)"),
            ("read_size_bytes", "65536", "httpcore2 _sync/http11.py READ_NUM_BYTES"),
            ("streaming_threshold_bytes", "0", "http_get streams every file to .incomplete"),
            ("pool.size / idle_timeout_s", "20 / 5", "httpx2 DEFAULT_LIMITS, keepalive_expiry=5.0"),
            ("retry.max_attempts / backoff", "6 / fixed 1 s", "http_get _nb_retries=5, 1 s sleep, resume with Range"),
            ("retry.not_retried", "http_500, http_503", "http_stream_backoff(retry_on_status_codes=(408, 429))"),
            ("retry.jitter", "0", "_http_backoff_base: no jitter"),
            ("read_timeout_s", "10", "HF_HUB_DOWNLOAD_TIMEOUT / DEFAULT_DOWNLOAD_TIMEOUT = 10"),
            (
                "per_file_overhead_ms / lanes",
                "9.2 / 1",
                "measured (docs/clients.md §9.1): hf_hub_download's Python work per file (WeakFileLock, \
                 .incomplete, _chmod_and_move, write_download_metadata) under the GIL: one file at a time",
            ),
            (
                "per_file_overhead_after_share",
                "0.74",
                "measured (docs/clients.md §9.1): 26 % of hf_hub_download's time per file precedes its HEAD",
            ),
        ],
        Preset::HfTransfer => &[
            ("max_concurrent_downloads", "1", "hf_transfer 0.1.9 download(url, filename, …): one file per call"),
            (
                "split_rule / split",
                "fan_out / 100",
                "download_async: Semaphore(max_files); huggingface_hub 0.36 passes 100",
            ),
            ("chunking.chunk_size_bytes", "10 MiB", "chunk_size; huggingface_hub 0.36 passes DOWNLOAD_CHUNK_SIZE"),
            ("metadata.probe", "true", "download_async: GET Range bytes=0-0 first"),
            (
                "metadata.redirect_follow",
                "first",
                "the probe follows the 302; chunks use the final URL (the first on the probe's CDN connection)",
            ),
            ("memory", "split × chunk", "download_chunk: response.bytes() buffers each chunk whole"),
            ("retry.max_attempts", "6", "max_retries=5 (+1)"),
            ("retry.backoff", "fixed 0.3–0.8 s", "exponential_backoff(300, n, 10_000) + jitter 0..=500 ms"),
            ("retry.enable_resume", "false", "a failed chunk is re-requested whole"),
            ("retry.parallel_failures", "3", "parallel_failures=3, Semaphore try_acquire"),
            ("retry.respect_retry_after", "false", "Retry-After is not read"),
            ("pool.scope", "per_file", "download_async builds a new reqwest::Client per call: no reuse across files"),
            ("pool.idle_timeout_s", "90", "reqwest 0.12 / hyper pool default"),
            ("read_timeout_s", "none (86400)", "reqwest default: no timeout"),
            (
                "per_file_overhead_ms",
                "15.3",
                "measured (docs/clients.md §9.1): download() builds a tokio multi-thread runtime and \
                 download_async a reqwest::Client per call",
            ),
            (
                "per_range_mib_overhead_ms",
                "1.5",
                "measured (docs/clients.md §9.1): download_chunk writes each range after its last byte \
                 (response.bytes(), then write_all); 1–64 MiB files took 1.5 ms per MiB longer than curl",
            ),
        ],
        Preset::Aria2 => &[
            ("max_concurrent_downloads", "5", "aria2 1.36.0 -j, --max-concurrent-downloads=5"),
            ("split", "1 = min(-x 1, -s 5)", "-x, --max-connection-per-server=1; download_helper.cc"),
            (
                "split_rule / min_split_size_bytes",
                "aria2 / 20 MiB",
                "-k, --min-split-size=20M; BitfieldMan getSparseMissingUnusedIndex",
            ),
            ("metadata.redirect_follow", "every", "each segment request goes to the original URI (measured)"),
            ("retry.max_attempts", "5", "-m, --max-tries=5"),
            ("retry.backoff", "none", "--retry-wait=0"),
            (
                "retry.not_retried",
                "http_500, http_429, http_503",
                "HttpSkipResponseCommand; 503 only with --retry-wait > 0",
            ),
            ("retry.enable_resume", "true", "PiecedSegment::getPositionToWrite"),
            ("pool.idle_timeout_s", "15", "DownloadEngine::poolSocket timeout 15 s"),
            ("read_timeout_s", "60", "-t, --timeout=60"),
            ("read_size_bytes", "16 KiB", "assumed (aria2's socket read buffer; not re-read here)"),
            (
                "per_file_overhead_ms / lanes",
                "11.9 / 1",
                "measured (docs/clients.md §9.1): fsync of the file and of its .aria2 control file \
                 (RequestGroup::saveControlFile, --auto-save-interval=60) in the one DownloadEngine thread",
            ),
            (
                "per_mib_overhead_ms",
                "3.1",
                "measured (strace -T, docs/clients.md §9.1): the fsync of a downloaded 64 MiB file took 0.199 s",
            ),
        ],
        Preset::Curl => &[
            ("max_concurrent_downloads", "1", "curl 7.88.1: URLs of one command line run serially"),
            ("chunking.mode / split", "whole_file / 1", "one GET, no Range"),
            ("metadata.redirect_follow", "first", "-L, --location (docs/cmdline-opts/location.d)"),
            ("retry.max_attempts", "1", "--retry 0 (retry.d)"),
            (
                "retry.backoff (with --retry)",
                "1 s doubling, cap 600 s",
                "tool_main.h RETRY_SLEEP_DEFAULT, RETRY_SLEEP_MAX",
            ),
            ("retry.enable_resume", "false", "tool_operate.c: a retry truncates and restarts"),
            ("read_size_bytes", "16 KiB", "CURL_MAX_WRITE_SIZE"),
            ("pool.idle_timeout_s", "118", "libcurl CURLOPT_MAXAGE_CONN default 118 s"),
            ("read_timeout_s", "none (86400)", "-m unset"),
            ("per_file_overhead_ms", "0.5", "measured (docs/clients.md §9.1): curl's work per URL"),
        ],
    }
}

/// Resolve `client.preset` in a scenario's JSON: the preset's client with
/// the given client fields deep-merged over it. An unknown preset name is
/// left for deserialization to report (naming the allowed ones).
pub fn resolve_scenario(mut scenario: Value) -> Value {
    let Some(client) = scenario.get_mut("client") else {
        return scenario;
    };
    let Some(p) = client.get("preset").and_then(Value::as_str).and_then(Preset::parse) else {
        return scenario;
    };
    let mut base = serde_json::to_value(p.client()).expect("a client serializes");
    merge(&mut base, client.take());
    *client = base;
    scenario
}

/// Deep merge: objects field by field, anything else replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn scenario(client: &str) -> crate::Result<Scenario> {
        Scenario::from_json(&format!(
            r#"{{"client": {client}, "workload": {{"models": [{{"name": "m", "files": [{{"path": "a", "size_bytes": 1}}]}}]}}}}"#
        ))
    }

    #[test]
    fn every_preset_is_a_valid_client_and_round_trips() {
        for p in ALL {
            let s = scenario(&format!(r#"{{"preset": "{}"}}"#, p.name())).unwrap();
            let want = serde_json::to_value(p.client()).unwrap();
            assert_eq!(serde_json::to_value(&s.client).unwrap(), want, "{}", p.name());
            assert_eq!(Preset::parse(p.name()), Some(p));
        }
        assert_eq!(serde_json::to_value(Preset::Original.client()).unwrap()["max_concurrent_downloads"], 4);
    }

    #[test]
    fn fields_next_to_the_preset_override_it() {
        let s = scenario(r#"{"preset": "aria2", "split": 5, "retry": {"max_attempts": 9}}"#).unwrap();
        let aria = Preset::Aria2.client();
        assert_eq!(s.client.split, 5);
        assert_eq!(s.client.retry.max_attempts, 9);
        // The rest of the nested section keeps the preset's values.
        assert_eq!(s.client.retry.backoff, aria.retry.backoff);
        assert_eq!(s.client.retry.not_retried, aria.retry.not_retried);
        assert_eq!(s.client.max_concurrent_downloads, aria.max_concurrent_downloads);
        assert_eq!(s.client.preset, Some(Preset::Aria2));
    }

    #[test]
    fn an_unknown_preset_is_a_typed_error_naming_the_allowed_ones() {
        let e = scenario(r#"{"preset": "wget"}"#).unwrap_err().to_string();
        assert!(e.contains("client.preset") && e.contains("huggingface_hub"), "{e}");
        let e = scenario(r#"{"preset": "curl", "split": "x"}"#).unwrap_err().to_string();
        assert!(e.contains("split"), "{e}");
    }
}
