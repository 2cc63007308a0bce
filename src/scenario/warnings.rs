//! Warnings: settings that silently limit a run although each is valid.
//! They go to stderr (never into report files), once per distinct message,
//! naming the sweep points they apply to.
//!
//! - the per-model file limit caps the global download limit;
//! - `split` × downloads wants more connections than the per-host limit;
//! - no per-connection cap on a path that holds more per round trip than
//!   a real connection's default receive window (one connection would
//!   take what real TCP's window holds it below);
//! - models run one after another while a later model's small files wait.

use super::plan::Plan;
use super::schema::{MIB, Scenario, Scheduling};
use super::workload::FileMeta;

/// A real connection's receive window by default, bytes: Linux grows the
/// receive buffer to `net.ipv4.tcp_rmem`'s maximum, 6 MiB by default, and
/// advertises about half of it (`tcp_adv_win_scale` = 1 before Linux 6.6,
/// the per-socket scaling ratio, 50 % to begin with, since).
pub const DEFAULT_RECEIVE_WINDOW_BYTES: f64 = 3.0 * MIB as f64;

/// Files at most this large count as "small" for the sequential-models warning.
pub const SMALL_FILE_BYTES: u64 = 10 * MIB;
/// Earlier models must hold at least this many bytes for small files to be
/// said to wait behind them.
pub const WAIT_BEHIND_BYTES: u64 = 100 * MIB;

fn mib(b: u64) -> String {
    let m = b as f64 / MIB as f64;
    if m >= 1024.0 { format!("{:.1} GiB", m / 1024.0) } else { format!("{m:.1} MiB") }
}

/// The warnings of one scenario with its expanded workload, in a fixed order.
pub fn of(s: &Scenario, files: &[FileMeta]) -> Vec<String> {
    let c = &s.client;
    let mut out = Vec::new();
    let models = s.workload.models.len().max(1);
    let mut per_model = vec![0u64; models];
    let mut bytes = vec![0u64; models];
    for f in files {
        if let Some(n) = per_model.get_mut(f.model as usize) {
            *n += 1;
            bytes[f.model as usize] = bytes[f.model as usize].saturating_add(f.size);
        }
    }
    let sequential = c.scheduling == Scheduling::SequentialModels;

    // 1. The per-model limit caps the global one.
    let running_models = if sequential { 1 } else { models as u64 };
    let cap = (c.max_concurrent_files_per_model as u64).saturating_mul(running_models);
    let busiest = per_model.iter().copied().max().unwrap_or(0);
    if cap < c.max_concurrent_downloads as u64 && busiest > c.max_concurrent_files_per_model as u64 {
        let why = if sequential && models > 1 {
            " (models run one at a time: client.scheduling = sequential_models)"
        } else if models == 1 {
            " (one model)"
        } else {
            ""
        };
        out.push(format!(
            "client.max_concurrent_files_per_model = {} caps client.max_concurrent_downloads = {}: at most {cap} \
             files download at once{why}",
            c.max_concurrent_files_per_model, c.max_concurrent_downloads
        ));
    }

    // 2. Connections wanted beyond the per-host limit.
    if let Some(host) = c.max_connections_per_host {
        let splits = c.split > 1 && files.iter().any(|f| f.size >= c.min_split_size_bytes.saturating_mul(2));
        let split = if splits { c.split as u64 } else { 1 };
        let downloads = (c.max_concurrent_downloads as u64).min(cap.max(1)).min(files.len() as u64);
        let wanted = downloads.saturating_mul(split);
        if wanted > host as u64 {
            let what = if split > 1 {
                format!(
                    "client.split = {split} × {downloads} concurrent downloads = {wanted} connections exceeds \
                     client.max_connections_per_host = {host}"
                )
            } else {
                format!("{downloads} concurrent downloads exceed client.max_connections_per_host = {host} connections")
            };
            out.push(format!("{what}: requests wait for a connection"));
        }
    }

    // 3. No per-connection cap although the path holds more per round
    // trip than a real connection's default receive window.
    let n = &s.network;
    let rtt_s = n.rtt_ms / 1000.0;
    let bdp = s.server.bandwidth_bps.map_or(f64::INFINITY, |b| b * rtt_s);
    if rtt_s > 0.0
        && n.per_connection_bps.is_none()
        && n.tcp_window_bytes.is_none()
        && bdp > DEFAULT_RECEIVE_WINDOW_BYTES
    {
        let held = if bdp.is_finite() { mib(bdp as u64) } else { "an unlimited link".to_string() };
        out.push(format!(
            "network.per_connection_bps and network.tcp_window_bytes are unset: at network.rtt_ms = {} the path \
             holds {held} per round trip, more than a real connection's default receive window (Linux: about \
             {} of net.ipv4.tcp_rmem's 6 MiB), which caps it at {:.1} MB/s; set network.tcp_window_bytes to \
             model the window (window / RTT caps each connection)",
            n.rtt_ms,
            mib(DEFAULT_RECEIVE_WINDOW_BYTES as u64),
            DEFAULT_RECEIVE_WINDOW_BYTES / rtt_s / 1e6
        ));
    }

    // 4. Models one after another while a later model's small files wait.
    if sequential && models > 1 {
        let mut order: Vec<usize> = (0..models).collect();
        order.sort_by_key(|m| (s.workload.models.get(*m).map(|x| x.priority), *m));
        let mut before = 0u64;
        let mut first_name = None;
        for &m in &order {
            let small = files.iter().filter(|f| f.model as usize == m && f.size <= SMALL_FILE_BYTES).count();
            if small > 0 && before >= WAIT_BEHIND_BYTES {
                out.push(format!(
                    "models run one after another (client.scheduling = sequential_models): {small} file(s) of at \
                     most {} of model {:?} wait for {} of earlier models (from {:?}); `interleaved` lets them start \
                     at once",
                    mib(SMALL_FILE_BYTES),
                    s.workload.models[m].name,
                    mib(before),
                    first_name.unwrap_or("")
                ));
                break;
            }
            before = before.saturating_add(bytes[m]);
            first_name.get_or_insert(s.workload.models[m].name.as_str());
        }
    }

    out
}

/// The warnings of every plan, each distinct message once, prefixed
/// `dlsim: warning:` and followed by the points it applies to when the
/// plans are several; "" when there are none.
pub fn render<'a>(plans: impl IntoIterator<Item = &'a Plan>) -> String {
    let plans: Vec<&Plan> = plans.into_iter().collect();
    let mut seen: Vec<(String, Vec<&str>)> = Vec::new();
    for &p in &plans {
        for w in of(p.scenario(), p.files()) {
            match seen.iter_mut().find(|(m, _)| *m == w) {
                Some((_, names)) => names.push(p.name()),
                None => seen.push((w, vec![p.name()])),
            }
        }
    }
    let mut text = String::new();
    for (w, names) in seen {
        text.push_str("dlsim: warning: ");
        text.push_str(&w);
        if plans.len() > 1 {
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = if names.len() > 5 { format!(" and {} more", names.len() - 5) } else { String::new() };
            text.push_str(&format!(" [points: {}{more}]", shown.join(", ")));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Plan;
    use serde_json::json;

    fn warn(v: serde_json::Value) -> Vec<String> {
        let s = Scenario::from_value(v).unwrap();
        let p = Plan::of(&s).unwrap();
        of(p.scenario(), p.files())
    }

    /// A scenario with a per-connection cap (so warning 3 is off) and the given client.
    fn with(client: serde_json::Value, models: serde_json::Value) -> serde_json::Value {
        json!({"name": "w", "network": {"per_connection_bps": 1e7}, "client": client, "workload": {"models": models}})
    }

    fn files(n: u32, size: u64) -> serde_json::Value {
        json!({"count": n, "min_size_bytes": size, "max_size_bytes": size})
    }

    #[test]
    fn a_quiet_scenario_has_no_warning() {
        let v = with(json!({}), json!([{"name": "m", "linear": files(4, 1000)}]));
        assert_eq!(warn(v), Vec::<String>::new());
    }

    #[test]
    fn per_model_cap_below_global_limit() {
        let m = json!([{"name": "m", "linear": files(20, 1000)}]);
        let w = warn(with(json!({"max_concurrent_downloads": 16, "max_concurrent_files_per_model": 4}), m.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("max_concurrent_files_per_model = 4 caps") && w[0].contains("at most 4 files"));
        // Interleaved with two models: 2 × 4 = 8 < 16 still caps, at 8.
        let two = json!([{"name": "a", "linear": files(20, 1000)}, {"name": "b", "linear": files(20, 1000)}]);
        let w = warn(with(
            json!({"max_concurrent_downloads": 16, "max_concurrent_files_per_model": 4, "scheduling": "interleaved"}),
            two.clone(),
        ));
        assert!(w.iter().any(|x| x.contains("at most 8 files")), "{w:?}");
        // 4 models × 4 = 16: no cap.
        let four: Vec<_> = (0..4).map(|i| json!({"name": format!("m{i}"), "linear": files(20, 1000)})).collect();
        let w = warn(with(
            json!({"max_concurrent_downloads": 16, "max_concurrent_files_per_model": 4, "scheduling": "interleaved"}),
            json!(four),
        ));
        assert!(w.is_empty(), "{w:?}");
        // A model with no more files than the per-model limit is not capped by it.
        let few = json!([{"name": "m", "linear": files(4, 1000)}]);
        assert!(
            warn(with(json!({"max_concurrent_downloads": 16, "max_concurrent_files_per_model": 4}), few)).is_empty()
        );
    }

    #[test]
    fn split_times_downloads_beyond_the_host_limit() {
        let big = json!([{"name": "m", "linear": files(8, 100 * MIB)}]);
        let c = json!({"max_concurrent_downloads": 4, "split": 4, "max_connections_per_host": 8});
        let w = warn(with(c, big.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("client.split = 4 × 4 concurrent downloads = 16 connections"), "{w:?}");
        // 4 × 2 = 8 fits.
        let c = json!({"max_concurrent_downloads": 2, "split": 4, "max_connections_per_host": 8});
        assert!(warn(with(c, big)).is_empty());
        // Files too small to split: split does not count.
        let small = json!([{"name": "m", "linear": files(8, MIB)}]);
        let c = json!({"max_concurrent_downloads": 4, "split": 4, "max_connections_per_host": 8});
        assert!(warn(with(c, small)).is_empty());
    }

    #[test]
    fn a_path_holding_more_than_a_default_receive_window_per_round_trip() {
        let m = json!([{"name": "m", "linear": files(2, 1000)}]);
        // The default 1 Gbit/s at 20 ms holds 2.4 MiB: under the window.
        assert!(warn(json!({"name": "w", "workload": {"models": m}})).is_empty());
        // At 100 ms it holds 11.9 MiB; 3 MiB / 0.1 s = 31.5 MB/s.
        let w = warn(json!({"name": "w", "network": {"rtt_ms": 100}, "workload": {"models": m}}));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("network.rtt_ms = 100") && w[0].contains("11.9 MiB"), "{w:?}");
        assert!(w[0].contains("31.5 MB/s"), "{w:?}");
        let unlimited = json!({"name": "w", "server": {"bandwidth_bps": null}, "workload": {"models": m}});
        assert!(warn(unlimited)[0].contains("an unlimited link"));
        let w = warn(
            json!({"name": "w", "network": {"rtt_ms": 0}, "server": {"bandwidth_bps": null}, "workload": {"models": m}}),
        );
        assert!(w.is_empty(), "{w:?}");
        let capped =
            json!({"name": "w", "network": {"rtt_ms": 100, "tcp_window_bytes": 1048576}, "workload": {"models": m}});
        assert!(warn(capped).is_empty());
    }

    #[test]
    fn small_files_waiting_behind_an_earlier_model() {
        let models = json!([
            {"name": "big", "linear": files(2, 200 * MIB)},
            {"name": "configs", "linear": files(3, 1000)}
        ]);
        let w = warn(with(json!({}), models.clone()));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("3 file(s)") && w[0].contains("\"configs\"") && w[0].contains("400.0 MiB"), "{w:?}");
        // Interleaved: nothing waits.
        assert!(warn(with(json!({"scheduling": "interleaved"}), models)).is_empty());
        // The small model goes first by priority: nothing waits.
        let models = json!([
            {"name": "big", "linear": files(2, 200 * MIB)},
            {"name": "configs", "priority": "high", "linear": files(3, 1000)}
        ]);
        assert!(warn(with(json!({}), models)).is_empty());
    }

    #[test]
    fn render_names_points_and_merges_duplicates() {
        let s = Scenario::from_value(
            json!({"name": "r", "network": {"rtt_ms": 100}, "workload": {"models": [{"name": "m", "linear": files(2, 1000)}]},
            "sweep": {"knob": "client.max_concurrent_downloads", "values": [1, 2]}}),
        )
        .unwrap();
        let plans: Vec<Plan> =
            crate::scenario::points(&s).unwrap().map(|p| Plan::of(&p.unwrap().scenario).unwrap()).collect();
        let text = render(&plans);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("dlsim: warning: ") && text.contains("[points: r_1, r_2]"), "{text}");
        assert_eq!(render(&plans[..0]), "");
    }
}
