#!/bin/sh
# W1 from a CSV manifest (bench/w1_manifest.py) against W1 generated in code
# (`dlsim bench --w1 N C`): the simulated makespan and event count must be
# the same. Prints both and exits 1 if they differ.
#
#   bench/w1_manifest_check.sh N C     (needs target/release/dlsim)
set -eu
N=$1 C=$2
DLSIM=${DLSIM:-target/release/dlsim}
HERE=$(dirname "$0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 "$HERE/w1_manifest.py" "$N" "$C" "$TMP"
"$DLSIM" run "$TMP/w1-$N.json" --out "$TMP/out" --format json > "$TMP/run.json" 2>/dev/null
"$DLSIM" bench --w1 "$N" "$C" --format json > "$TMP/bench.json"
python3 - "$TMP" <<'PYEOF'
import json, sys
tmp = sys.argv[1]
r = json.load(open(f"{tmp}/run.json"))["results"][0]
b = json.load(open(f"{tmp}/bench.json"))
run = (r["duration"], r["metadata"]["events"], r["files_processed"])
bench = (b["makespan_s"], b["events"], b["files"])
print(f"run (manifest):   makespan {run[0]!r} s, {run[1]} events, {run[2]} files")
print(f"bench --w1:       makespan {bench[0]!r} s, {bench[1]} events, {bench[2]} files")
if run != bench:
    sys.exit("DIFFER")
print("SAME")
PYEOF
