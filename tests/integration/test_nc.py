#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""nc: unmodified nc under shunt sends 5 MB each way through ONE connection.

The kernel side (peers.py duplex) sends its file and half-closes while reading;
nc -N half-closes after its stdin, so both directions finish on their own."""

import os

from netbed import HERE, PEER_IP, PYTHON, Bed, main, random_file, sha256_file

SIZE = 5 * 1024 * 1024
PORT = 9000


def test():
    with Bed("nc") as bed:
        app_in = os.path.join(bed.tmp, "app.in")
        peer_in = os.path.join(bed.tmp, "peer.in")
        app_out = os.path.join(bed.tmp, "app.out")
        peer_got = os.path.join(bed.tmp, "peer.got")
        app_sha = random_file(app_in, SIZE)
        peer_sha = random_file(peer_in, SIZE)
        srv = bed.spawn_peer([PYTHON, os.path.join(HERE, "peers.py"), "duplex", PEER_IP,
                              str(PORT), peer_in, peer_got], "duplex")
        bed.wait_port(bed.peer, PORT, proc=srv)
        r = bed.run_shunt(["nc", "-N", PEER_IP, str(PORT)], stdin=app_in, stdout=app_out,
                          timeout=60)
        bed.check(r.returncode == 0, "nc exited %d\n--- nc stderr:\n%s"
                  % (r.returncode, r.stderr.decode(errors="replace")))
        rc = srv.wait(15)
        bed.check(rc == 0, "the kernel peer did not finish (status %s)" % rc)
        with open(peer_got) as f:
            n, sha = f.read().split()
        bed.check(int(n) == SIZE and sha == app_sha,
                  "app -> peer: peer got %s bytes sha256 %s, sent %d bytes sha256 %s"
                  % (n, sha, SIZE, app_sha))
        got = sha256_file(app_out)
        bed.check(os.path.getsize(app_out) == SIZE and got == peer_sha,
                  "peer -> app: nc got %d bytes sha256 %s, sent %d bytes sha256 %s"
                  % (os.path.getsize(app_out), got, SIZE, peer_sha))
        print("nc: %d bytes each way through one connection, sha256 %s / %s"
              % (SIZE, app_sha, peer_sha))


if __name__ == "__main__":
    main(test, "nc")
