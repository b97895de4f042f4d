#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""loss.py: a sender through random loss, the kernel and shunt side by side (issue 9).

    python3 bench/loss.py [--size MB] [--loss 1,5] [--runs N] [--seed S]   # as root

For each loss rate, SIZE MB of random bytes go from a program in the app netns
(tests/impair/flows.py tcp-connect ... send) to a kernel sink in the peer netns
(flows.py tcp-listen ... recv), with the same random loss on both directions of
the path (tests/impair/impair.py on the veth of the kernel twin of the bed, on
shuntd's tap in the shunt bed). The kernel world runs first, then the shunt world
(one at a time on the two cores). Printed: the sender's wall time (connect to the
peer's close), whether the SHA-256 matched, the packets the tool dropped each way,
and shunt / kernel. With --runs N, each cell is the median of N transfers. shuntd's
TCP counters after each shunt run (SIGUSR1) give the RTOs, fast and SACK
recoveries: --counters prints them. --cc: both ends' congestion control, cubic by
default (see bench/impaired.py --cc: the namespaces' default may be bbr).
"""

import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "impair"))
sys.path.insert(0, HERE)
from netbed import Bed, random_file  # noqa: E402
from impair import Impair, require  # noqa: E402
from impaired import transfer  # noqa: E402

PORT = 7020
COUNTERS = ("tcp_rexmit_timeout", "tcp_fast_rexmit", "tcp_sack_recoveries",
            "tcp_sack_rexmits", "tcp_rexmit", "tcp_dsack_rx", "tcp_sack_reneging",
            "tcp_rack_lost", "tcp_rack_relost", "tcp_rack_rto_repair", "tcp_tlp_probes",
            "tcp_tlp_repaired")


def world(shunt, rates, size, runs, seed, show_counters, cc):
    out = {}
    with Bed("loss-" + ("shunt" if shunt else "kernel"), shuntd=shunt,
             veth=not shunt) as bed:
        src = os.path.join(bed.tmp, "src")
        want = random_file(src, size)
        for rate in rates:
            spec = "loss=%s%%" % rate
            times, ok, drops = [], True, [0, 0]
            for i in range(runs):
                name = "%s-%s-%d" % ("shunt" if shunt else "kernel", rate, i)
                with Impair(bed, to_peer=spec, from_peer=spec, seed=seed + i,
                            name=name) as imp:
                    secs, good = transfer(bed, src, want, shunt, True, name, port=PORT,
                                          timeout=300, cc=cc)
                    st = imp.stats()
                times.append(secs)
                ok = ok and good
                drops[0] += st["to_peer"]["drop_loss"]
                drops[1] += st["from_peer"]["drop_loss"]
            out[rate] = (statistics.median(times), ok, drops, times)
            if shunt and show_counters:
                text = bed.counters()
                got = {}
                for line in text.splitlines():
                    f = line.split()
                    if len(f) == 2 and f[0] in COUNTERS:
                        got[f[0]] = int(f[1])
                print("  shunt counters after %s%% (cumulative): %s" % (rate, got),
                      flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=float, default=5, help="MB to send (default 5)")
    ap.add_argument("--loss", default="1,5", help="loss rates in %% (default 1,5)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--counters", action="store_true")
    ap.add_argument("--cc", default="cubic",
                    help="both ends' congestion control (bench/impaired.py --cc)")
    a = ap.parse_args()
    cc = None if a.cc == "default" else a.cc
    require()
    rates = a.loss.split(",")
    size = int(a.size * 1000 * 1000)
    k = world(False, rates, size, a.runs, a.seed, False, cc)
    s = world(True, rates, size, a.runs, a.seed, a.counters, cc)
    print("%.1f MB app -> kernel sink, random loss both ways, median of %d"
          % (size / 1e6, a.runs))
    print("%-6s %10s %10s %8s %6s %16s %16s" % ("loss", "kernel s", "shunt s", "ratio",
                                                 "sha", "drops kernel", "drops shunt"))
    for r in rates:
        kt, kok, kd, _ = k[r]
        st, sok, sd, _ = s[r]
        print("%-6s %10.2f %10.2f %7.1fx %6s %16s %16s" % (
            r + "%", kt, st, st / kt, "ok" if kok and sok else "WRONG",
            "%d/%d" % tuple(kd), "%d/%d" % tuple(sd)))
        if a.runs > 1:
            print("       kernel %s  shunt %s" % (["%.2f" % x for x in k[r][3]],
                                                 ["%.2f" % x for x in s[r][3]]))
    sys.exit(0 if all(k[r][1] and s[r][1] for r in rates) else 1)


if __name__ == "__main__":
    main()
