#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""hostile: a program that attaches to shuntd and then abuses its shared region and
its control connection on purpose (refused hellos, bad notifier requests, stale
generations, random commands on random channels, out-of-range slots and notifier
indices, lying ring indices, scribbled fields, impossible offsets;
tests/integration/hostile.c) can break only itself: shuntd keeps running and
answers every control request as ctl.h says (hostile checks them), a well-behaved
program exchanging data through the same shuntd at the same time sees every byte
right, every stale-generation command is refused and counted, the hostile region is
detached, and a new program attaches and works afterwards."""

import os
import re

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
        stale_sent = {}
        for seed in (1, 2, 3):
            r = bed.run(bed.app, [HOSTILE, bed.control, PEER_IP, str(PORT), "20000",
                                  str(seed)], timeout=120)
            out = (r.stdout + r.stderr).decode(errors="replace")
            bed.check(r.returncode == 0, "hostile (seed %d) did not run to the end, or "
                      "shuntd answered a request wrongly: %s" % (seed, out))
            bed.check(bed.shuntd.poll() is None, "shuntd died under a hostile program")
            m = re.search(r"hostile: pid (\d+): .* (\d+) stale commands", out)
            bed.check(m is not None, "hostile printed no summary: %s" % out)
            stale_sent[int(m.group(1))] = int(m.group(2))
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
        # each hostile's stale-generation commands were refused and counted (the
        # random ones of its rounds may add more)
        freed = dict((int(p), int(n)) for p, n in re.findall(
            r"freed pid (\d+)'s region \(it corrupted the region\):.* stale (\d+),", log))
        for pid, sent in stale_sent.items():
            bed.check(pid in freed, "no 'freed pid %d' line in shuntd's log:\n%s"
                      % (pid, log[-3000:]))
            bed.check(freed[pid] >= sent, "pid %d sent %d stale commands, shuntd counted "
                      "%d" % (pid, sent, freed[pid]))
        print("3 hostile programs x 20000 rounds: shuntd up, control answers right, "
              "stale commands counted (%s), victim's 6000 exchanges right, each hostile "
              "region detached, a new client works"
              % ", ".join("%d >= %d" % (freed[p], s) for p, s in stale_sent.items()))


if __name__ == "__main__":
    main(test, "hostile")
