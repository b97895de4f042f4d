#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""stress_wakeups: 100 threads blocked in recv() on 100 sockets, woken one at a time
by one byte (echoed by the kernel peer); each wake-up must reach exactly its thread.

Wake-ups are counted with no hook into the shim: each thread's
times it got a CPU (/proc/self/task/TID/schedstat) before and after every round
(stress_wakeups.c explains the measurement). Asserts: every recv() returns in its
own round with its byte, the addressed thread's wake-up is seen, and no thread is
woken more than ALLOW (1) times in total while other sockets were addressed. The
threshold is not tuned: a wake-up for another socket is wasted by definition and
Linux does none (the kernel control runs first and prints its count); the one
allowed covers a wait primitive's occasional spurious return, while a design that
wakes waiters of other sockets does so on every event, so its count grows with the
rounds (up to 99 for the last thread) and no constant hides it.

On shunt v1 this is expected to fail: 16 wait slots, all armed slots woken on every
event of the process, and threads beyond 16 polling in 1 ms sleeps.
"""

import os
import re

from netbed import BUILD, PEER_IP, Bed, main

PORT = 9320
NTHREADS = int(os.environ.get("STRESS_WAKEUPS_THREADS", "100"))
ALLOW = 1
BIN = os.path.join(BUILD, "tests", "integration")


def run_world(bed, under_shunt):
    world = "shunt" if under_shunt else "kernel"
    peer = bed.spawn_peer([os.path.join(BIN, "stress_peer"), "echo", PEER_IP, str(PORT)],
                          "echo-" + world)
    bed.wait_port(bed.peer, PORT, proc=peer)
    argv = [os.path.join(BIN, "stress_wakeups"), PEER_IP, str(PORT), str(NTHREADS),
            str(ALLOW)]
    r = bed.run_shunt(argv, timeout=20) if under_shunt else bed.run(bed.app, argv, timeout=20)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace").strip()
    m = re.search(r"^rounds=.*$", out, re.M)
    summary = m.group(0) if m else "(no summary)"
    print("%s: %d threads: %s" % (world, NTHREADS, summary), flush=True)
    worst = sorted(((int(n), line) for line, n in
                    re.findall(r"^(thread \d+: woken (\d+) times.*)$", out, re.M)),
                   reverse=True)[:5]
    for _, line in worst:
        print("  " + line)
    return [] if r.returncode == 0 else [
        "%s: exit %d, %s\n%s%s" % (world, r.returncode, summary, err,
                                   "\n".join([""] + [l for _, l in worst]))]


def test():
    with Bed("stress-wakeups-kernel", shuntd=False, veth=True) as bed:
        problems = run_world(bed, under_shunt=False)
        bed.check(not problems, "\n".join(problems))
    with Bed("stress-wakeups") as bed:
        problems = run_world(bed, under_shunt=True)
        bed.check(not problems, "\n".join(problems))


if __name__ == "__main__":
    main(test, "stress_wakeups")
