#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""server_10k: one server under shunt holds 10,000 concurrent connections.

stress_peer's epoll echo server (accept4 non-blocking, 4 ports) runs under shunt;
stress_sockets, on the kernel in the peer namespace, opens 10,000 connections to
it at once, echoes an 8-byte token on each (every byte compared), holds them all
open while the test reads the server's and shuntd's memory from /proc, then
closes them. The memory is printed (for the notes), not judged."""

import os
import re
import signal
import time

from netbed import BUILD, STACK_IP, Bed, counter, main, proc_kb, region_rss_kb

PORTBASE = 9360
NPORTS = 4
CONNS = int(os.environ.get("SERVER_10K_CONNS", "10000"))
BIN = os.path.join(BUILD, "tests", "integration")


def test():
    with Bed("server-10k") as bed:
        ports = [str(PORTBASE + i) for i in range(NPORTS)]
        srv = bed.spawn(bed.app, bed.shunt_argv([os.path.join(BIN, "stress_peer"), "echo",
                                                 "0.0.0.0"] + ports), "echo")
        for p in ports:  # its placeholders listen too: the kernel shows the ports
            bed.wait_port(bed.app, int(p), proc=srv)
        cli = bed.spawn(bed.peer, [os.path.join(BIN, "stress_sockets"), STACK_IP,
                                   str(PORTBASE), str(NPORTS), str(CONNS), str(CONNS),
                                   "hold"], "clients")
        out = os.path.join(bed.tmp, "clients.out")
        deadline = time.monotonic() + 60
        while True:
            with open(out) as f:
                text = f.read()
            if "holding" in text:
                break
            bed.check(cli.alive() and srv.alive() and time.monotonic() < deadline,
                      "the clients never held %d connections:\n%s" % (CONNS, text))
            time.sleep(0.1)
        spid = srv.pid
        line = ("server under shunt holding %d connections: VmRSS %d kB, shared region "
                "Rss %d kB; shuntd VmRSS %d kB"
                % (CONNS, proc_kb(spid, "VmRSS"), region_rss_kb(spid), proc_kb(bed.shuntd.pid, "VmRSS")))
        print(line)
        os.kill(cli.pid, signal.SIGUSR1)
        cli.wait(60)
        with open(out) as f:
            text = f.read()
        bed.check(cli.popen.returncode == 0 and re.search(r"^total=%d .* ok$" % CONNS, text,
                                                          re.M),
                  "clients failed (exit %s):\n%s" % (cli.popen.returncode, text))
        bed.check(srv.alive(), "the server died")
        accepted = counter(bed.counters(), "tcp_conn_accepted")
        bed.check(accepted >= CONNS, "shuntd accepted %d connections" % accepted)


if __name__ == "__main__":
    main(test, "server_10k")
