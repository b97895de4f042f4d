#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""flood.py: a download through a SYN flood, the kernel and shunt side by side (issue 9).

    python3 bench/flood.py [--size MB] [--runs N] [--seconds S]   # as root

SIZE MB go from a kernel sender in the peer netns (tests/impair/flows.py) to a
receiver in the app netns, once with nothing else on the path and once while
tests/integration/flood sends SYNs to a closed port of the receiver's side as
fast as it can from the peer's own address. The kernel world (a veth) runs
first, then the shunt world (shuntd's tap), one at a time on the two cores.
Printed per world: the median download time without and with the flood, the
rate kept (without / with), the SYNs the flooder sent per second, and shunt's
time over the kernel's in each column.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from netbed import BUILD, PEER_IP, PYTHON, STACK_IP, Bed, random_file  # noqa: E402

FLOWS = os.path.join(REPO, "tests", "impair", "flows.py")
FLOOD = os.path.join(BUILD, "tests", "integration", "flood")
PORT = 7031


def download(bed, src, shunt, name):
    srv = bed.spawn(bed.peer, [PYTHON, FLOWS, "tcp-listen", PEER_IP, str(PORT), "send", src],
                    name)
    bed.wait_port(bed.peer, PORT, proc=srv)
    argv = [PYTHON, FLOWS, "tcp-connect", PEER_IP, str(PORT), "recv"]
    t0 = time.monotonic()
    r = bed.run_shunt(argv, timeout=300) if shunt else bed.run(bed.app, argv, timeout=300)
    secs = time.monotonic() - t0
    bed.check(r.returncode == 0 and srv.wait(30) == 0, "%s failed: %s"
              % (name, r.stderr.decode(errors="replace")))
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    bed.check(res["bytes"] == os.path.getsize(src), "%s: short: %r" % (name, res))
    return secs


def world(shunt, size, runs, seconds):
    quiet, flooded, rates = [], [], []
    with Bed("flood-" + ("shunt" if shunt else "kernel"), shuntd=shunt, veth=not shunt) as bed:
        src = os.path.join(bed.tmp, "src")
        random_file(src, size)
        for i in range(runs):
            quiet.append(download(bed, src, shunt, "quiet-%d" % i))
            fl = subprocess.Popen(["ip", "netns", "exec", bed.peer, FLOOD, PEER_IP, STACK_IP,
                                   "9", str(seconds)], stdout=subprocess.PIPE)
            try:
                bed.check(fl.stdout.readline().decode().strip() == "flood: started",
                          "the flood did not start")
                flooded.append(download(bed, src, shunt, "flooded-%d" % i))
            finally:
                out = fl.communicate(timeout=seconds + 30)[0].decode()
            rates.append(float(out.rsplit("(", 1)[1].split("/")[0]))
    return statistics.median(quiet), statistics.median(flooded), statistics.median(rates)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=float, default=20, help="MB to download (default 20)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10,
                    help="the flood's length; it outlasts the download (default 10)")
    a = ap.parse_args()
    if not os.access(FLOOD, os.X_OK):
        sys.exit("flood is not built: %s (ninja -C %s)" % (FLOOD, BUILD))
    size = int(a.size * 1000 * 1000)
    k = world(False, size, a.runs, a.seconds)
    s = world(True, size, a.runs, a.seconds)
    print("%.0f MB kernel sender -> receiver, SYN flood to a closed port, median of %d"
          % (size / 1e6, a.runs))
    print("%-7s %9s %11s %11s %12s" % ("", "quiet s", "flooded s", "rate kept", "SYNs/s"))
    for name, (q, f, r) in (("kernel", k), ("shunt", s)):
        print("%-7s %9.2f %11.2f %10.0f%% %12.0f" % (name, q, f, 100 * q / f, r))
    print("shunt / kernel: %.1fx quiet, %.1fx flooded" % (s[0] / k[0], s[1] / k[1]))


if __name__ == "__main__":
    main()
