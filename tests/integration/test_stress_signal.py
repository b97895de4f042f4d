#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""stress_signal: a SIGALRM handler (setitimer, every INTERVAL_US) calls send() on a
socket while the main thread is inside send(), on the same socket ("same") and on
another one ("other"), for STRESS_SIGNAL_SECONDS per mode. send() is
async-signal-safe in POSIX, so this is a legal program.

Asserts, in each mode: no hang (stress_signal's watchdog: no send() completes for
STALL seconds -> exit 3 with where each side was), no lost or garbled byte (the
kernel peer checks the main thread's and the handler's tagged streams byte by byte
and its counts must equal the program's), and that the case happened: at least
MIN_IN_SEND signals arrived while the main thread was inside send().

Both modes first run on the kernel (veth world) as the control. On shunt v1 both
hung: the handler needed the shim's command-channel lock (other) or waited for the
interrupted send()'s ring reservation to be published (same), both held by the
thread it interrupted. ABI v2's per-thread channels fixed "other"; shim/tx.c fixed
"same": a handler that sends on the socket its thread is sending on finishes the
interrupted piece itself. STRESS_SIGNAL_MODES picks the modes run under shunt.
"""

import os
import re

from netbed import BUILD, PEER_IP, Bed, main

PORT = 9310
SECONDS = float(os.environ.get("STRESS_SIGNAL_SECONDS", "5"))
INTERVAL_US = 100
STALL = 5
MIN_IN_SEND = 200   # signals that must land inside the main thread's send()
SHUNT_MODES = os.environ.get("STRESS_SIGNAL_MODES", "other same").split()
BIN = os.path.join(BUILD, "tests", "integration")


def run_mode(bed, mode, under_shunt):
    world = "shunt" if under_shunt else "kernel"
    nconn = 2 if mode == "other" else 1
    peer = bed.spawn_peer([os.path.join(BIN, "stress_peer"), "streams", PEER_IP, str(PORT),
                           str(nconn), "2", "0"], "peer-%s-%s" % (world, mode))
    bed.wait_port(bed.peer, PORT, proc=peer)
    argv = [os.path.join(BIN, "stress_signal"), PEER_IP, str(PORT), mode, "%g" % SECONDS,
            str(INTERVAL_US), str(STALL)]
    tmo = SECONDS + STALL + 5   # the program's watchdog ends a hang before this
    r = bed.run_shunt(argv, timeout=tmo) if under_shunt else bed.run(bed.app, argv, timeout=tmo)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace").strip()
    if r.returncode == 3:
        print("%s/%s: HANG: %s" % (world, mode, err), flush=True)
        peer.wait(10)
        return ["%s, mode %s: the program hung with a signal handler sending while "
                "the main thread was inside send():\n%s" % (world, mode, err)]
    if r.returncode != 0:
        return ["%s, mode %s: the program exited %d\n%s" % (world, mode, r.returncode, err)]
    rc = peer.wait(10)
    with open(peer.out) as f:
        pout = f.read()
    problems = [] if rc == 0 else ["the peer exited %s" % rc]
    for m in re.finditer(r"^sock (\d+) w0=(\d+) w1=(\d+)$", out, re.M):
        sid, w0, w1 = m.group(1), int(m.group(2)), int(m.group(3))
        p = re.search(r"^conn %s (ok|FAIL) w0=(\d+) w1=(\d+).*$" % sid, pout, re.M)
        if p is None:
            problems.append("socket %s: no report from the peer" % sid)
        elif p.group(1) != "ok":
            problems.append("peer: " + p.group(0))
        elif (int(p.group(2)), int(p.group(3))) != (w0, w1):
            problems.append("socket %s: sent main %d + handler %d bytes, the peer checked "
                            "%s + %s" % (sid, w0, w1, p.group(2), p.group(3)))
    stats = re.search(r"signals=(\d+) in_send=(\d+) main_calls=(\d+) handler_records=(\d+)",
                      out)
    if stats is None:
        return problems + ["%s/%s: no summary from the program:\n%s" % (world, mode, out)]
    signals, in_send, calls, records = (int(g) for g in stats.groups())
    print("%s/%s: %.0f s, %d signals (%d while main was inside send()), %d main send() "
          "calls, %d handler records, every byte checked%s"
          % (world, mode, SECONDS, signals, in_send, calls, records,
             "" if not problems else ": FAILED"), flush=True)
    if in_send < MIN_IN_SEND:
        problems.append("%s, mode %s: only %d signals landed inside send(), fewer than %d: "
                        "the case was not exercised" % (world, mode, in_send, MIN_IN_SEND))
    return ["%s, mode %s: %s" % (world, mode, p) for p in problems]


def test():
    # Every mode runs even after one failed, so the report says which hang.
    for under_shunt in (False, True):
        if under_shunt:
            bed_ = Bed("stress-signal")
        else:
            bed_ = Bed("stress-signal-kernel", shuntd=False, veth=True)
        with bed_ as bed:
            problems = []
            for mode in (SHUNT_MODES if under_shunt else ("other", "same")):
                problems += run_mode(bed, mode, under_shunt)
            bed.check(not problems, "\n".join(problems))


if __name__ == "__main__":
    main(test, "stress_signal")
