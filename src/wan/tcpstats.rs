//! The kernel's TCP counters of one network namespace — `Tcp:` from
//! `/proc/net/snmp` and `TcpExt:` from `/proc/net/netstat`, read through
//! `/proc/thread-self/net` so a thread inside the namespace sees that
//! namespace's counters. The emulator's namespaces are fresh per run, so
//! the counters read at the end of a run are that run's: on the server
//! side, how the senders recovered from the queue's drops (RTOs, fast
//! recoveries, tail-loss probes, lost retransmissions).

use std::collections::BTreeMap;

/// The counters worth reporting: retransmissions, recovery events, and
/// HyStart's slow-start exits (count and the sum of the windows at exit, segments).
pub const KEYS: [&str; 18] = [
    "Tcp.OutSegs",
    "Tcp.RetransSegs",
    "TcpExt.TCPTimeouts",
    "TcpExt.TCPLossProbes",
    "TcpExt.TCPLossProbeRecovery",
    "TcpExt.TCPSackRecovery",
    "TcpExt.TCPSackRecoveryFail",
    "TcpExt.TCPLostRetransmit",
    "TcpExt.TCPFastRetrans",
    "TcpExt.TCPSlowStartRetrans",
    "TcpExt.TCPSpuriousRTOs",
    "TcpExt.TCPLossUndo",
    "TcpExt.TCPSACKReorder",
    "TcpExt.TCPDSACKRecv",
    "TcpExt.TCPHystartTrainDetect",
    "TcpExt.TCPHystartTrainCwnd",
    "TcpExt.TCPHystartDelayDetect",
    "TcpExt.TCPHystartDelayCwnd",
];

/// Parse the two-line-per-group format of `/proc/net/snmp` and
/// `/proc/net/netstat` ("Group: names…" then "Group: values…").
pub fn parse(text: &str, out: &mut BTreeMap<String, u64>) {
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let (Some((group, names)), Some((_, values))) = (names.split_once(':'), values.split_once(':')) else {
            continue;
        };
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if let Ok(v) = v.parse::<u64>() {
                out.insert(format!("{group}.{n}"), v);
            }
        }
    }
}

/// The [`KEYS`] counters of the calling thread's namespace (missing ones omitted).
pub fn read() -> BTreeMap<String, u64> {
    let mut all = BTreeMap::new();
    for f in ["/proc/thread-self/net/snmp", "/proc/thread-self/net/netstat"] {
        if let Ok(text) = std::fs::read_to_string(f) {
            parse(&text, &mut all);
        }
    }
    all.into_iter().filter(|(k, _)| KEYS.contains(&k.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_name_and_value_lines_by_group() {
        let text = "TcpExt: SyncookiesSent TCPTimeouts\nTcpExt: 0 7\nIpExt: InNoRoutes\nIpExt: 3\n";
        let mut m = BTreeMap::new();
        parse(text, &mut m);
        assert_eq!(m.get("TcpExt.TCPTimeouts"), Some(&7));
        assert_eq!(m.get("IpExt.InNoRoutes"), Some(&3));
        assert_eq!(m.len(), 3);
    }
}
