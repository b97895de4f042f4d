#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""loopback: with shuntd up, a program under shunt reaches a kernel server on
127.0.0.1 in its own netns: loopback is never offloaded, it takes the kernel path."""

import os

from netbed import HERE, PYTHON, Bed, main

PORT = 7100
N = 200


def test():
    peers = os.path.join(HERE, "peers.py")
    with Bed("loopback") as bed:
        srv = bed.spawn(bed.app, [PYTHON, peers, "echo", "127.0.0.1", str(PORT)], "echo-lo")
        bed.wait_port(bed.app, PORT, proc=srv)
        for mode in ("sync", "async"):
            r = bed.run_shunt([PYTHON, peers, "client", mode, "127.0.0.1", str(PORT), str(N)],
                              timeout=30)
            out = r.stdout.decode(errors="replace").strip()
            bed.check(r.returncode == 0 and out == "%s: %d ok" % (mode, N),
                      "%s client to 127.0.0.1 exited %d, said %r\n--- its stderr:\n%s"
                      % (mode, r.returncode, out, r.stderr.decode(errors="replace")))
            print(out + " (127.0.0.1, kernel path, shuntd running)")


if __name__ == "__main__":
    main(test, "loopback")
