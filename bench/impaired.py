#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""impaired.py: issue 9's matrix of impaired paths, the kernel and shunt side by side.

    python3 bench/impaired.py [--size MB] [--runs N] [--rows NAME,...] [--dir up,down]
                              [--capture] [--keep DIR] [--world kernel,shunt]
                              [--cc cubic|reno|bbr|default] [--timeout S]

For each row (an impairment spec of tests/impair/impair_model.h, applied the same
in both directions, on the veth of the kernel world and on shuntd's tap), SIZE MB
(50 by default, as the issue says) go up (a program in the app netns sends to a
kernel sink in the peer netns) and down (a kernel sender to a receiving program),
through the kernel world first, then through shunt. Printed: each transfer's
median wall time, whether every byte arrived (SHA-256), and shunt / kernel. The
issue's goal is every ratio within 1.2x.

--cc: the congestion control of both ends' sockets, in both worlds (flows.py
--cc, TCP_CONGESTION), cubic by default: shunt's default, and the algorithm the
issue names. A namespace's own default is the host's (bbr on some machines, this
one included), and shunt has no BBR: a loss-blind BBR kernel against a CUBIC shunt
measures the algorithms, not the stacks (at 10% loss BBR sends 10 MB in 0.3 s,
CUBIC in about 25 s on either stack). --cc default leaves the namespaces' choice.

--capture: tcpdump records every run on the peer's side of the path (the tap, the
veth's peer end), and tests/integration/capcheck.py's tshark pass checks it: no
malformed frame, no bad checksum (shunt's runs only: the veth hands the capture
the kernel's partial checksums), no data resent that the peer had SACKed. One line
per run; a problem, or a capture that dropped frames, fails the run. tcpdump takes
CPU from the same two cores, so time the matrix without it. --keep DIR keeps the
pcaps (50 MB each at the default size); otherwise each is deleted once checked.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "impair"))
from netbed import PEER_IP, PYTHON, Bed, BedError, random_file  # noqa: E402
from impair import Impair, bed_device, require  # noqa: E402
from capcheck import check, failed, summary  # noqa: E402
from tcpcap import Pcap  # noqa: E402

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


def transfer(bed, src, want, shunt, up, name, port=PORT, timeout=900, cc=None):
    """One transfer of src, up (the program sends) or down; (seconds, every byte
    arrived). cc: both ends' TCP_CONGESTION (None: the namespaces' default).
    test_capcheck uses it too."""
    run_app = (lambda a, **kw: bed.run_shunt(a, **kw)) if shunt else \
        (lambda a, **kw: bed.run(bed.app, a, **kw))
    flows = [PYTHON, FLOWS] + (["--cc", cc] if cc else [])
    if up:
        peer = flows + ["tcp-listen", PEER_IP, str(port), "recv"]
        app = flows + ["tcp-connect", PEER_IP, str(port), "send", src]
    else:
        peer = flows + ["tcp-listen", PEER_IP, str(port), "send", src]
        app = flows + ["tcp-connect", PEER_IP, str(port), "recv"]
    srv = bed.spawn(bed.peer, peer, name + "-peer")
    bed.wait_port(bed.peer, port, proc=srv)
    t0 = time.monotonic()
    try:
        r = run_app(app, timeout=timeout)
    except BedError:
        r = None  # timed out (the bed killed it): a failed row like any other
    secs = time.monotonic() - t0
    if r is None or r.returncode != 0 or srv.wait(60) != 0:
        # a failed row is reported as such; the matrix goes on
        why = ("timed out after %d s" % timeout if r is None else
               (r.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1])
        print("  %s: FAILED after %.1f s: the program exited %d (%s); %s" % (
            name, secs, -1 if r is None else r.returncode, why, srv.describe().replace("\n", " | ")[:400]),
            flush=True)
        srv.popen.kill()
        srv.wait(10)
        return secs, False
    if up:
        with open(srv.out) as f:
            out = f.read()
    else:
        out = r.stdout.decode()
    res = json.loads(out.strip().splitlines()[-1])
    return secs, res["sha256"] == want and res["bytes"] == os.path.getsize(src)


def captured(bed, shunt, name, keep, run):
    """run() under tcpdump on the peer's side of the path, then the tshark pass;
    (run()'s result, the capture is clean)."""
    pcap = os.path.join(bed.tmp, name + ".pcap")
    with Pcap(bed, bed.peer, bed_device(bed), pcap, name + "-tcpdump") as cap:
        res = run()
    rep = check(pcap, peer=PEER_IP, ports=[PORT], checksums=shunt)
    bad = failed(rep) or cap.stats["dropped"] > 0
    print("    capture %s: %s%s%s" % (name, summary(rep),
                                      "" if shunt else " (checksums not checked: veth)",
                                      "\n    INCOMPLETE: tcpdump dropped %d frames"
                                      % cap.stats["dropped"] if cap.stats["dropped"] else ""),
          flush=True)
    if keep:
        shutil.move(pcap, os.path.join(keep, "%s-%s.pcap"
                                       % ("shunt" if shunt else "kernel", name)))
    else:
        os.unlink(pcap)
    return res, not bad


def world(shunt, rows, dirs, size, runs, seed, capture=False, keep=None, cc=None,
          timeout=900):
    out = {}
    with Bed("imp-" + ("shunt" if shunt else "kernel"), shuntd=shunt, veth=not shunt) as bed:
        src = os.path.join(bed.tmp, "src")
        want = random_file(src, size)
        for label, spec in rows:
            for d in dirs:
                times, ok = [], True
                for i in range(runs):
                    name = "%s-%s-%d" % (label.replace(" ", "_"), d, i)
                    def run():
                        with Impair(bed, to_peer=spec, from_peer=spec, seed=seed + i,
                                    name=name):
                            return transfer(bed, src, want, shunt, d == "up", name, cc=cc,
                                            timeout=timeout)
                    if capture:
                        (secs, good), clean = captured(bed, shunt, name, keep, run)
                        good = good and clean
                    else:
                        secs, good = run()
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
    ap.add_argument("--capture", action="store_true",
                    help="capture each run and check it with tshark (capcheck.py)")
    ap.add_argument("--keep", default=None, help="keep the pcaps in this directory")
    ap.add_argument("--world", default="kernel,shunt",
                    help="which paths (one alone prints no ratio)")
    ap.add_argument("--timeout", type=float, default=900,
                    help="seconds a transfer may take before it counts as failed")
    ap.add_argument("--cc", default="cubic",
                    help="both ends' congestion control (default cubic; default: the "
                         "namespaces' own)")
    a = ap.parse_args()
    cc = None if a.cc == "default" else a.cc
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)
    require()
    rows = [r for r in ROWS if not a.rows or r[0] in a.rows.split(",")]
    dirs = a.dir.split(",")
    size = int(a.size * 1000 * 1000)
    worlds = a.world.split(",")
    k = world(False, rows, dirs, size, a.runs, a.seed, a.capture, a.keep, cc, a.timeout) \
        if "kernel" in worlds else None
    s = world(True, rows, dirs, size, a.runs, a.seed, a.capture, a.keep, cc, a.timeout) \
        if "shunt" in worlds else None
    if k is None or s is None:
        sys.exit(0 if all(ok for _, ok in (k or s).values()) else 1)
    print("%.0f MB per transfer, the same impairment both ways, congestion control %s, "
          "median of %d%s" % (size / 1e6, a.cc, a.runs,
                              ", captured and checked (ok: SHA-256 and capture)"
                              if a.capture else ""))
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
