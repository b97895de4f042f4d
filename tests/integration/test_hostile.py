#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""hostile: a program that attaches to shuntd and then abuses its shared region on
purpose (random commands, out-of-range slots, lying ring indices, scribbled fields,
impossible offsets; tests/integration/hostile.c) can break only itself: shuntd
keeps running, a well-behaved program exchanging data through the same shuntd at
the same time sees every byte right, the hostile region is detached, and a new
program attaches and works afterwards."""

import os

from netbed import BUILD, PEER_IP, PYTHON, Bed, main

HOSTILE = os.path.join(BUILD, "tests", "integration", "hostile")
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
PORT = 7000


def test():
    with Bed("hostile") as bed:
        bed.check(os.access(HOSTILE, os.X_OK), "hostile is not built: %s" % HOSTILE)
        srv = bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(PORT)], "echo")
        bed.wait_port(bed.peer, PORT, proc=srv)
        victim = bed.spawn(bed.app, bed.shunt_argv(
            [PYTHON, PEERS, "client", "sync", PEER_IP, str(PORT), "1500", "4"]), "victim")
        for seed in (1, 2, 3):
            r = bed.run(bed.app, [HOSTILE, bed.control, PEER_IP, str(PORT), "20000",
                                  str(seed)], timeout=120)
            bed.check(r.returncode == 0, "hostile (seed %d) did not run to the end: %s"
                      % (seed, (r.stdout + r.stderr).decode(errors="replace")))
            bed.check(bed.shuntd.poll() is None, "shuntd died under a hostile program")
        rc = victim.wait(120)
        out = open(victim.out, errors="replace").read()
        err = open(victim.err, errors="replace").read()
        bed.check(rc == 0, "the well-behaved client failed next to the hostile one "
                  "(exit %s):\n%s%s" % (rc, out[-2000:], err[-2000:]))
        # a new program attaches and works after the hostile ones are gone
        r = bed.run_shunt([PYTHON, PEERS, "client", "sync", PEER_IP, str(PORT), "50"],
                          timeout=60)
        bed.check(r.returncode == 0, "a new client failed after the hostile runs: %s"
                  % r.stderr.decode(errors="replace")[-2000:])
        log = open(bed.shuntd_log, errors="replace").read()
        bed.check(log.count("corrupted the region") == 3,
                  "expected shuntd to detach each hostile region:\n%s" % log[-3000:])
        print("3 hostile programs x 20000 rounds: shuntd up, victim's 6000 exchanges "
              "right, each hostile region detached, a new client works")


if __name__ == "__main__":
    main(test, "hostile")
