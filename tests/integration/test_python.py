#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""python: a blocking-socket client and an asyncio (epoll) client under shunt each
exchange 1,000 request/response pairs with a kernel echo server; every answer checked."""

import os

from netbed import HERE, PEER_IP, PYTHON, Bed, main

PORT = 7000
N = 1000


def test():
    peers = os.path.join(HERE, "peers.py")
    with Bed("python") as bed:
        srv = bed.spawn_peer([PYTHON, peers, "echo", PEER_IP, str(PORT)], "echo")
        bed.wait_port(bed.peer, PORT, proc=srv)
        for mode in ("sync", "async"):
            r = bed.run_shunt([PYTHON, peers, "client", mode, PEER_IP, str(PORT), str(N)],
                              timeout=45)
            out = r.stdout.decode(errors="replace").strip()
            bed.check(r.returncode == 0 and out == "%s: %d ok" % (mode, N),
                      "%s client exited %d, said %r\n--- its stderr:\n%s"
                      % (mode, r.returncode, out, r.stderr.decode(errors="replace")))
            print(out)


if __name__ == "__main__":
    main(test, "python")
