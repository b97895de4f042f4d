#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""stress_idle: memory follows the data in flight. One process under shunt opens
STRESS_IDLE_CONNS connections, moves STRESS_IDLE_BYTES each way on every one (every
byte checked), then leaves them idle; shuntd gives back the ring pages of sockets
idle for a second (core/app.c app_trim), so the program's shared region must fall
below one 4 KiB page per connection within LIMIT seconds, and every connection
must still echo correctly afterwards.

The bound is not tuned: every connection that moved data wrote at least one page
of each of its two rings, so without trimming the region holds two pages or more
per connection; an idle trimmed one holds its 640-byte slot.
"""

import os
import re

from netbed import BUILD, PEER_IP, Bed, main

PORTBASE = 9340
NPORTS = 4
CONNS = int(os.environ.get("STRESS_IDLE_CONNS", "1000"))
BYTES = int(os.environ.get("STRESS_IDLE_BYTES", "65536"))
LIMIT = 20
BIN = os.path.join(BUILD, "tests", "integration")


def test():
    with Bed("stress-idle") as bed:
        ports = [str(PORTBASE + i) for i in range(NPORTS)]
        peer = bed.spawn_peer([os.path.join(BIN, "stress_peer"), "echo", PEER_IP] + ports,
                              "echo")
        for p in ports:
            bed.wait_port(bed.peer, int(p), proc=peer)
        r = bed.run_shunt([os.path.join(BIN, "stress_idle"), PEER_IP, str(PORTBASE),
                           str(NPORTS), str(CONNS), str(BYTES), str(LIMIT)],
                          timeout=LIMIT + 30)
        out = r.stdout.decode(errors="replace")
        print(out.rstrip())
        bed.check(r.returncode == 0 and re.search(r"^ok$", out, re.M),
                  "stress_idle exited %d:\n%s" % (r.returncode,
                                                  r.stderr.decode(errors="replace")))


if __name__ == "__main__":
    main(test, "stress_idle")
