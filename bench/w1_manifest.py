#!/usr/bin/env python3
"""Issue 11's workload W1 as a scenario reading its files from a CSV manifest,
for timing `dlsim run` on the path a user's file list takes.

    bench/w1_manifest.py N C DIR

writes DIR/w1-N.csv (`path,size` header, then file i as `w1/{i},{size}`)
and DIR/w1-N.json (W1's settings as `dlsim bench --w1 N C` builds them in
src/bench.rs `w1_scenario`, seed 1 as the bench runs, with
`"manifest": "w1-N.csv"`). Then

    dlsim run DIR/w1-N.json --out OUT --format json

simulates the same files as `dlsim bench --w1 N C`: its `duration` equals
the bench's `makespan_s` and its `metadata.events` the bench's `events`
(bench/w1_manifest_check.sh compares them). Deterministic: the same
arguments write the same bytes.
"""
import json
import os
import sys

RATE_BPS = 104_857_600  # src/bench.rs W1_RATE_BPS
LATENCY_MS = 10  # src/bench.rs W1_LATENCY_MS


def size_bytes(i: int) -> int:
    """src/bench.rs w1_size_bytes: 1 MiB + ((i * 7919) mod 64) * 256 KiB."""
    return 1_048_576 + ((i * 7919) % 64) * 262_144


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    n, c, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if n < 1 or c < 1:
        sys.exit("N and C must be ≥ 1")
    os.makedirs(out, exist_ok=True)
    csv_name = f"w1-{n}.csv"
    with open(os.path.join(out, csv_name), "w", newline="") as f:
        f.write("path,size\n")
        step = 65_536
        for lo in range(0, n, step):
            f.write("".join(f"w1/{i},{size_bytes(i)}\n" for i in range(lo, min(n, lo + step))))
    scenario = {
        "name": "w1",
        "seed": 1,
        "server": {"bandwidth_bps": RATE_BPS, "latency_ms": LATENCY_MS, "faults": {"error_rate": 0.0}},
        "network": {"rtt_ms": 0.0, "handshake_rtts": 0},
        "client": {
            "max_concurrent_downloads": c,
            "max_concurrent_files_per_model": c,
            "cpu": {"per_request_us": 0, "per_connection_us": 0, "per_read_us": 0, "per_byte_ns": 0},
        },
        "workload": {"models": [{"name": "w1", "manifest": csv_name}]},
    }
    with open(os.path.join(out, f"w1-{n}.json"), "w") as f:
        json.dump(scenario, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
