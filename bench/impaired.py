#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""impaired.py: issue 9's matrix of impaired paths, the kernel and shunt side by side.

    python3 bench/impaired.py [--size MB] [--runs N] [--rows NAME,...] [--dir up,down]

For each row (an impairment spec of tests/impair/impair_model.h, applied the same
in both directions, on the veth of the kernel world and on shuntd's tap), SIZE MB
(50 by default, as the issue says) go up (a program in the app netns sends to a
kernel sink in the peer netns) and down (a kernel sender to a receiving program),
through the kernel world first, then through shunt. Printed: each transfer's
median wall time, whether every byte arrived (SHA-256), and shunt / kernel. The
issue's goal is every ratio within 1.2x.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "impair"))
from netbed import PEER_IP, PYTHON, Bed, random_file  # noqa: E402
from impair import Impair, require  # noqa: E402

FLOWS = os.path.join(REPO, "tests", "impair", "flows.py")
PORT = 7021

ROWS = [
    ("loss 1%", "loss=1%"),
    ("loss 5%", "loss=5%"),
    ("loss 10%", "loss=10%"),
    ("burst 2%", "burst=2%/4"),
    ("delay 20ms+-5", "delay=20ms,jitter=5ms"),
    ("delay 50ms+-5", "delay=50ms,jitter=5ms"),
    ("reorder 1%", "reorder=1%"),
    ("dup 1%", "dup=1%"),
    ("rate 100M", "rate=100mbit"),
    ("20ms + loss 1%", "delay=20ms,loss=1%"),
]


def transfer(bed, src, want, shunt, up, name):
    """One transfer; (seconds, every byte arrived)."""
    run_app = (lambda a, **kw: bed.run_shunt(a, **kw)) if shunt else \
        (lambda a, **kw: bed.run(bed.app, a, **kw))
    if up:
        peer = [PYTHON, FLOWS, "tcp-listen", PEER_IP, str(PORT), "recv"]
        app = [PYTHON, FLOWS, "tcp-connect", PEER_IP, str(PORT), "send", src]
    else:
        peer = [PYTHON, FLOWS, "tcp-listen", PEER_IP, str(PORT), "send", src]
        app = [PYTHON, FLOWS, "tcp-connect", PEER_IP, str(PORT), "recv"]
    srv = bed.spawn(bed.peer, peer, name + "-peer")
    bed.wait_port(bed.peer, PORT, proc=srv)
    t0 = time.monotonic()
    r = run_app(app, timeout=900)
    secs = time.monotonic() - t0
    bed.check(r.returncode == 0, "%s: the program failed: %s"
              % (name, r.stderr.decode(errors="replace")))
    bed.check(srv.wait(60) == 0, "%s: the kernel side did not finish" % name)
    if up:
        with open(srv.out) as f:
            out = f.read()
    else:
        out = r.stdout.decode()
    res = json.loads(out.strip().splitlines()[-1])
    return secs, res["sha256"] == want and res["bytes"] == os.path.getsize(src)


def world(shunt, rows, dirs, size, runs, seed):
    out = {}
    with Bed("imp-" + ("shunt" if shunt else "kernel"), shuntd=shunt, veth=not shunt) as bed:
        src = os.path.join(bed.tmp, "src")
        want = random_file(src, size)
        for label, spec in rows:
            for d in dirs:
                times, ok = [], True
                for i in range(runs):
                    name = "%s-%s-%d" % (label.replace(" ", "_"), d, i)
                    with Impair(bed, to_peer=spec, from_peer=spec, seed=seed + i, name=name):
                        secs, good = transfer(bed, src, want, shunt, d == "up", name)
                    times.append(secs)
                    ok = ok and good
                out[(label, d)] = (statistics.median(times), ok)
                print("  %s %-16s %-4s %7.2f s %s" % ("shunt " if shunt else "kernel", label, d,
                                                    out[(label, d)][0],
                                                    "ok" if ok else "WRONG"), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=float, default=50, help="MB per transfer (default 50)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--rows", default="", help="row labels, comma-separated (default all)")
    ap.add_argument("--dir", default="up,down")
    a = ap.parse_args()
    require()
    rows = [r for r in ROWS if not a.rows or r[0] in a.rows.split(",")]
    dirs = a.dir.split(",")
    size = int(a.size * 1000 * 1000)
    k = world(False, rows, dirs, size, a.runs, a.seed)
    s = world(True, rows, dirs, size, a.runs, a.seed)
    print("%.0f MB per transfer, the same impairment both ways, median of %d"
          % (size / 1e6, a.runs))
    print("%-16s %-5s %9s %9s %7s %5s" % ("path", "dir", "kernel s", "shunt s", "ratio", "sha"))
    good = True
    for label, _ in rows:
        for d in dirs:
            kt, kok = k[(label, d)]
            st, sok = s[(label, d)]
            good = good and kok and sok
            print("%-16s %-5s %9.2f %9.2f %6.1fx %5s" % (label, d, kt, st, st / kt,
                                                       "ok" if kok and sok else "WRONG"))
    sys.exit(0 if good else 1)


if __name__ == "__main__":
    main()
