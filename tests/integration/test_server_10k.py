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

from netbed import BUILD, STACK_IP, Bed, main

PORTBASE = 9360
NPORTS = 4
CONNS = int(os.environ.get("SERVER_10K_CONNS", "10000"))
BIN = os.path.join(BUILD, "tests", "integration")


def kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def region_rss_kb(pid):
    rss, inside = 0, False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = "shunt-region" in line
            elif inside and line.startswith("Rss:"):
                rss += int(line.split()[1])
    return rss


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
                % (CONNS, kb(spid, "VmRSS"), region_rss_kb(spid), kb(bed.shuntd.pid, "VmRSS")))
        print(line)
        os.kill(cli.pid, signal.SIGUSR1)
        cli.wait(60)
        with open(out) as f:
            text = f.read()
        bed.check(cli.popen.returncode == 0 and re.search(r"^total=%d .* ok$" % CONNS, text,
                                                          re.M),
                  "clients failed (exit %s):\n%s" % (cli.popen.returncode, text))
        bed.check(srv.alive(), "the server died")
        counters = bed.counters()
        m = re.search(r"tcp_conn_accepted\s+(\d+)", counters)
        bed.check(m is not None and int(m.group(1)) >= CONNS,
                  "shuntd accepted %s connections" % (m.group(1) if m else "no"))


if __name__ == "__main__":
    main(test, "server_10k")
