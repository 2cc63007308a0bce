#!/usr/bin/env python3
"""Re-score recorded real runs against today's model, without re-measuring.

usage: python3 bench/rescore.py [-v] [--bin PATH] RECORDING_DIR...

A recording directory holds what `dlsim validate --wan --out DIR` wrote
(`wan-validation.json`, the WAN matrix's `validation.json` renamed) and/or
what `dlsim validate --client NAME [--wan]` wrote (`clients-NAME.json`
over loopback, `clients-NAME-wan.json` through the emulator);
docs/recordings/ keeps the quiet runs quoted in the README. For every
recorded row the sim is re-run (`dlsim run`) on the row's scenario —
for a client row with the tool's preset and the start-up and per-file
costs measured in that recording, as `validate --client` does — once with
`network.hystart_delay` off and once on (the default since
2026-11-29 20:42 UTC), and the
|log error| against the recorded real time (the median of its repeats) is
summarised per matrix/tool and recording: median / max.

With more than one recording it also prints, per matrix/tool, the floor
of the max: for each row the half-range of its log errors over the
recordings (default model) — the smallest max |log error| over those
recordings that any prediction for that row could reach, since the
real runs of the same scenario (for client rows, against the model
with that recording's calibrated costs) spread that far — and the row
that sets it.
"""
import glob
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = [("no_delay", False), ("hystart_delay", True)]


def sim_duration(binary, scenario, out_dir):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(scenario, fh)
        path = fh.name
    try:
        o = subprocess.run([binary, "run", path, "--format", "json", "--out", out_dir],
                           capture_output=True, text=True)
    finally:
        os.unlink(path)
    if o.returncode:
        sys.exit(f"dlsim run failed on {scenario.get('name')}: {o.stderr}")
    return json.loads(o.stdout)["results"][0]["duration"]


def rows_of(rec_dir):
    """(group, recording, row name, real seconds, scenario) for each recorded row."""
    rec = os.path.basename(os.path.normpath(rec_dir))
    wan = {json.load(open(f))["name"]: f for f in glob.glob(os.path.join(ROOT, "scenarios/validation-wan/*.json"))}
    clients = {json.load(open(f))["name"]: f for f in glob.glob(os.path.join(ROOT, "scenarios/clients/*.json"))}
    out = []
    v = os.path.join(rec_dir, "wan-validation.json")
    if os.path.exists(v):
        for row in json.load(open(v))["rows"]:
            out.append(("wan", rec, row["name"], row["measured_s"], json.load(open(wan[row["name"]]))))
    for f in sorted(glob.glob(os.path.join(rec_dir, "clients-*.json"))):
        r = json.load(open(f))
        tool, costs = r["client"], r["costs"]
        group = tool if f.endswith("-wan.json") else tool + " lo"
        for row in r["rows"]:
            s = json.load(open(clients[row["run"]["scenario"]]))
            rtt, latency = s["network"]["rtt_ms"], s["server"].get("latency_ms", 0)
            # huggingface_hub's two API calls before the first file (validate --client adds the same).
            api_ms = (2 if tool == "huggingface_hub" else 0) * (rtt + latency)
            s["client"] = {
                "preset": {"aria2c": "aria2"}.get(tool, tool),
                "startup_ms": 1000 * costs["startup_s"] + costs["first_call_ms"] + api_ms,
                "per_file_overhead_ms": costs["per_file_ms"],
            }
            out.append((group, rec, row["run"]["scenario"], row["run"]["wall_s"], s))
    return out


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    args = [a for a in args if a != "-v"]
    binary = os.path.join(ROOT, "target/release/dlsim")
    if "--bin" in args:
        i = args.index("--bin")
        binary = args[i + 1]
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    jobs = [r for d in args for r in rows_of(d)]
    out_dir = tempfile.mkdtemp(prefix="dlsim-rescore-")

    def one(job_model):
        (_, _, _, real, s), (_, delay) = job_model
        s = json.loads(json.dumps(s))
        s.setdefault("network", {})["hystart_delay"] = delay
        return math.log(sim_duration(binary, s, out_dir) / real)

    errs = list(ThreadPoolExecutor(2).map(one, [(j, m) for j in jobs for m in MODELS]))
    k = len(MODELS)
    rows = [(j, errs[x * k:(x + 1) * k]) for x, j in enumerate(jobs)]
    if verbose:
        print("%-16s %-16s %-30s %7s " % ("matrix/tool", "recording", "row", "real s")
              + " ".join("%14s" % m for m, _ in MODELS))
        for (g, rec, name, real, _), e in rows:
            print("%-16s %-16s %-30s %7.3f " % (g, rec, name, real) + " ".join("%+14.3f" % x for x in e))
    print("%-16s %-16s " % ("matrix/tool", "recording") + " ".join("%14s" % m for m, _ in MODELS)
          + "   (median / max |log error|)")
    groups = sorted({g for (g, *_), _ in rows}, key=lambda g: (g != "wan", g))
    recs = sorted({rec for (_, rec, *_), _ in rows})
    for g in groups:
        for rec in recs + (["all"] if len(recs) > 1 else []):
            sel = [e for (gg, rr, *_), e in rows if gg == g and rec in (rr, "all")]
            if not sel:
                continue
            cells = []
            for i in range(k):
                a = [abs(e[i]) for e in sel]
                cells.append("%6.3f / %.3f" % (statistics.median(a), max(a)))
            print("%-16s %-16s " % (g, rec) + " ".join("%14s" % c for c in cells))
    if len(recs) > 1:
        print_floors(rows, groups)


def print_floors(rows, groups):
    """Per group: today's max |log error| (default model, all recordings)
    and the floor no prediction can beat: the largest half-range of one
    row's errors over the recordings."""
    print()
    print("%-16s %5s %9s %7s   %s" % ("matrix/tool", "recs", "max now", "floor", "row setting the floor: its errors over the recordings"))
    for g in groups:
        by_row = {}
        for (gg, rec, name, *_), e in rows:
            if gg == g:
                by_row.setdefault(name, []).append(e[-1])
        floor, worst = max(((max(e) - min(e)) / 2, name) for name, e in by_row.items())
        n_recs = max(len(e) for e in by_row.values())
        now = max(abs(x) for e in by_row.values() for x in e)
        errs = by_row[worst]
        print("%-16s %5d %9.3f %7.3f   %s %+.3f..%+.3f" % (g, n_recs, now, floor, worst, min(errs), max(errs)))


if __name__ == "__main__":
    main()
