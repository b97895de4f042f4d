#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""keepalive: SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT is not just accepted
but acted on. A client under shunt enables it (1 s, 1 s, 2 probes) on a connection
to a kernel peer; while the peer answers, the connection lives; once the peer goes
silent (an nft drop in its namespace), recv() fails with ETIMEDOUT after idle +
count * interval, about 3 s, as through the kernel."""

import os
import subprocess
import time

from netbed import PEER_IP, PYTHON, Bed, main

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers.py")
PORT = 7001

CLIENT = r"""
import errno, socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
s.settimeout(4)
try:
    s.recv(1)                   # the peer answers probes: nothing happens for 4 s
    print("unexpected data", flush=True)
except socket.timeout:
    print("alive after 4 s", flush=True)
sys.stdin.readline()            # the test makes the peer silent, then says go
s.settimeout(30)
t = time.monotonic()
try:
    s.recv(1)
    print("unexpected data", flush=True)
except OSError as e:
    print("recv: %s after %.1f s" % (errno.errorcode.get(e.errno), time.monotonic() - t),
          flush=True)
"""


def test():
    with Bed("keepalive") as bed:
        srv = bed.spawn_peer([PYTHON, PEERS, "hold", PEER_IP, str(PORT)], "hold")
        bed.wait_port(bed.peer, PORT, proc=srv)
        cli = subprocess.Popen(["ip", "netns", "exec", bed.app] +
                               bed.shunt_argv([PYTHON, "-c", CLIENT, PEER_IP, str(PORT)]),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            line = cli.stdout.readline().strip()
            bed.check(line == "alive after 4 s",
                      "with probes answered the connection should live, got %r (%s)"
                      % (line, cli.stderr.read() if cli.poll() is not None else ""))
            bed.run(bed.peer, ["nft", "add table ip ka; add chain ip ka in "
                               "{ type filter hook input priority 0; }; "
                               "add rule ip ka in ip saddr 10.77.0.2 drop"], timeout=10)
            cli.stdin.write("go\n")
            cli.stdin.flush()
            line = cli.stdout.readline().strip()
            cli.wait(10)
        finally:
            if cli.poll() is None:
                cli.kill()
                cli.wait(5)
        bed.check(line.startswith("recv: ETIMEDOUT after "),
                  "expected ETIMEDOUT once the peer went silent, got %r" % line)
        took = float(line.split()[-2])
        bed.check(2.0 <= took <= 6.0, "keepalive gave up after %.1f s, expected ~3 s "
                  "(idle 1 + 2 probes x 1)" % took)
        counters = bed.counters()
        bed.check("tcp_keepalive_timeout" in counters,
                  "shuntd did not count the keepalive timeout:\n%s" % counters)
        print("keepalive: alive while answered, %s" % line)


if __name__ == "__main__":
    main(test, "keepalive")
