#!/usr/bin/env python3
"""Reference model of dlsim's workload W1 in SimPy 4.1.2 (issue 11).

W1, "shared link, FIFO workers": one server link of 104857600 B/s shared
equally by all bodies in flight (processor sharing), 10 ms server latency
per request, no RTT or handshake cost, file i of N has
1048576 + ((i * 7919) mod 64) * 262144 bytes, C connections taking files in
index order, one request per file.

The link is O(log n) per event: processor sharing with virtual time. `v`
is the bytes every active flow has received so far; it grows at R / n per
second while n flows are active. A flow of b bytes started at virtual time
v0 ends when v reaches v0 + b, so the link keeps a heap of those finish
marks and one pending wake-up for the earliest.

Usage: simpy_w1.py N C  -> one JSON line: makespan_s, wall_s, peak_rss_bytes.
"""
import heapq
import json
import resource
import sys
import time

import simpy

RATE_BPS = 104_857_600.0
LATENCY_S = 0.010


def size_bytes(i):
    return 1_048_576 + ((i * 7919) % 64) * 262_144


class PsLink:
    """Processor-sharing link with virtual time; each transfer is an event."""

    def __init__(self, env, rate):
        self.env = env
        self.rate = rate
        self.v = 0.0  # bytes served per active flow so far
        self.last = 0.0  # time `v` was last brought up to date
        self.marks = []  # heap of (finish v, seq, done event)
        self.seq = 0
        self.wake_token = 0

    def _advance(self):
        now = self.env.now
        n = len(self.marks)
        if n and now > self.last:
            self.v += (now - self.last) * (self.rate / n)
        self.last = now

    def _schedule_wake(self):
        self.wake_token += 1
        if not self.marks:
            return
        n = len(self.marks)
        dt = max(self.marks[0][0] - self.v, 0.0) / (self.rate / n)
        token = self.wake_token
        self.env.timeout(dt).callbacks.append(lambda _ev: self._wake(token))

    def _wake(self, token):
        if token != self.wake_token:
            return  # superseded by a later arrival or departure
        self._advance()
        # The earliest mark is due now: land on it exactly, then end every
        # flow whose mark has been reached (equal marks end together).
        self.v = max(self.v, self.marks[0][0])
        while self.marks and self.marks[0][0] <= self.v:
            _, _, done = heapq.heappop(self.marks)
            done.succeed()
        self._schedule_wake()

    def transfer(self, nbytes):
        self._advance()
        done = self.env.event()
        heapq.heappush(self.marks, (self.v + nbytes, self.seq, done))
        self.seq += 1
        self._schedule_wake()
        return done


def worker(env, link, next_file, n, ends):
    while next_file[0] < n:
        i = next_file[0]
        next_file[0] += 1
        yield env.timeout(LATENCY_S)
        yield link.transfer(size_bytes(i))
        ends.append(env.now)


def run(n, c):
    env = simpy.Environment()
    link = PsLink(env, RATE_BPS)
    next_file = [0]
    ends = []
    for _ in range(c):
        env.process(worker(env, link, next_file, n, ends))
    env.run()
    assert len(ends) == n
    return max(ends)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: simpy_w1.py N C")
    n, c = int(sys.argv[1]), int(sys.argv[2])
    t = time.perf_counter()
    makespan = run(n, c)
    wall = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"workload": "w1", "files": n, "connections": c, "simpy": simpy.__version__,
                      "makespan_s": makespan, "wall_s": wall, "peak_rss_bytes": rss}))


if __name__ == "__main__":
    main()
