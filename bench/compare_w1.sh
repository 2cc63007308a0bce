#!/bin/sh
# Side by side, in one run: dlsim's W1 against the SimPy reference model
# (bench/simpy_w1.py), whole process each, alternating, K times; prints every
# run's wall time (nanosecond clock around the process: GNU time's own is in
# 10 ms steps, too coarse for dlsim's tens of ms) and peak RSS (GNU time),
# the medians, the speed-up and the makespans' relative difference.
#
#   bench/compare_w1.sh N C [K]    (default K = 5)
#
# Needs: target/release/dlsim (cargo build --release), /usr/bin/time, and a
# Python with simpy 4.1.2 in $PY (default /work/venv-simpy/bin/python; make
# one with `python3 -m venv DIR && DIR/bin/pip install simpy==4.1.2`).
set -eu
N=$1 C=$2 K=${3:-5}
PY=${PY:-/work/venv-simpy/bin/python}
DLSIM=${DLSIM:-target/release/dlsim}
HERE=$(dirname "$0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "load before: $(uptime)"
# timed OUT CMD…: "wall_s peak_rss_kib" into OUT.time, the command's stdout into OUT.json.
timed() {
  out=$1; shift
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$out.rss" "$@" > "$out.json"
  t1=$(date +%s%N)
  echo "$(awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.4f", ns / 1e9 }') $(cat "$out.rss")" > "$out.time"
}
for k in $(seq "$K"); do
  timed "$TMP/d$k" "$DLSIM" bench --w1 "$N" "$C" --format json
  timed "$TMP/s$k" "$PY" "$HERE/simpy_w1.py" "$N" "$C"
  echo "run $k: dlsim $(cat "$TMP/d$k.time") | simpy $(cat "$TMP/s$k.time")   (wall s, peak RSS KiB)"
done
echo "load after: $(uptime)"
"$PY" - "$TMP" "$K" <<'PYEOF'
import json, statistics, sys
tmp, k = sys.argv[1], int(sys.argv[2])
def times(p):
    return [tuple(map(float, open(f"{tmp}/{p}{i}.time").read().split())) for i in range(1, k + 1)]
d, s = times("d"), times("s")
dw, dm = statistics.median(t for t, _ in d), statistics.median(m for _, m in d)
sw, sm = statistics.median(t for t, _ in s), statistics.median(m for _, m in s)
md = json.load(open(f"{tmp}/d1.json"))["makespan_s"]
ms = json.load(open(f"{tmp}/s1.json"))["makespan_s"]
rel = abs(md - ms) / ms
print(f"median of {k}: dlsim {dw:.3f} s {dm / 1024:.1f} MiB | simpy {sw:.3f} s {sm / 1024:.1f} MiB")
print(f"speed-up {sw / dw:.1f}x, memory {sm / dm:.2f}x less; makespan dlsim {md!r} simpy {ms!r} rel. diff {rel:.2e}")
if rel > 1e-9:
    sys.exit("makespans differ by more than 1e-9")
PYEOF
