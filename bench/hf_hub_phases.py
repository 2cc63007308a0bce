#!/usr/bin/env python3
"""Where huggingface_hub spends its time per file: before the HEAD, the HEAD,
between HEAD and GET, the GET, after it (medians over the files).

usage: PYTHON bench/hf_hub_phases.py ENDPOINT REPO

PYTHON is a Python with huggingface_hub (e.g. .venv-clients/bin/python from
.ci/install-clients); ENDPOINT a `dlsim serve --hub` (e.g. `dlsim serve --hub
--port 18080 scenarios/clients/calibrate/lo_100x1k.json`, REPO `m`). Wraps
`hf_hub_download`, `get_hf_file_metadata` and `http_get` with timers per
thread and runs `snapshot_download(max_workers=8)` into a temporary dir, as
`dlsim validate --client huggingface_hub` does. docs/clients.md §9.1 quotes it.
"""
import os, statistics, sys, tempfile, threading, time
TMP = tempfile.mkdtemp(prefix="dlsim-hf-phases-")
os.environ.update(HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HOME=os.path.join(TMP, "home"))
import huggingface_hub.file_download as fd
import huggingface_hub._snapshot_download as sd
ev = []
T0 = time.perf_counter()
def wrap(mod, name, tag):
    f = getattr(mod, name)
    def w(*a, **k):
        tid = threading.get_ident()
        ev.append((time.perf_counter() - T0, tid, tag + "+"))
        try:
            return f(*a, **k)
        finally:
            ev.append((time.perf_counter() - T0, tid, tag + "-"))
    setattr(mod, name, w)
wrap(sd, "hf_hub_download", "file")
wrap(fd, "get_hf_file_metadata", "head")
wrap(fd, "http_get", "get")
sd.snapshot_download(sys.argv[2], endpoint=sys.argv[1], local_dir=os.path.join(TMP, "local"), max_workers=8)
# per thread: sequence of events; phases: file+ -> head+ (pre), head- -> get+ (mid), get- -> file- (post)
by = {}
for t, tid, tag in ev:
    by.setdefault(tid, []).append((t, tag))
pre, mid, post, head, get = [], [], [], [], []
for tid, s in by.items():
    cur = {}
    for t, tag in s:
        cur[tag] = t
        if tag == "file-":
            pre.append(cur["head+"] - cur["file+"]); head.append(cur["head-"] - cur["head+"])
            mid.append(cur["get+"] - cur["head-"]); get.append(cur["get-"] - cur["get+"]); post.append(cur["file-"] - cur["get-"])
            cur = {}
n = len(pre)
fs = sorted(t for t, _, tag in ev if tag == "file+"); fe = sorted(t for t, _, tag in ev if tag == "file-")
print(f"files {n}, span {fe[-1]-fs[0]:.3f}s -> {1000*(fe[-1]-fs[0])/n:.1f} ms/file")
for name, v in (("pre", pre), ("head", head), ("mid", mid), ("get", get), ("post", post)):
    print(f"{name:5s} median {1000*statistics.median(v):6.2f} ms  mean {1000*statistics.mean(v):6.2f} ms")
print("first 10 file starts ms:", [round(1000*x) for x in fs[:10]])
print("first 10 get starts ms:", [round(1000*t) for t, _, tag in sorted(ev) if tag == "get+"][:10])
