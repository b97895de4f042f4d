#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""fallback: with NO shuntd (the control path does not exist) a program under shunt
uses the kernel for everything, and with SHUNT_LOG set the shim says so exactly once
(the client below opens 3 connections), and says nothing without SHUNT_LOG.

The server listens on 127.0.0.1 and on 10.77.9.1, an address we put on the app
netns' lo: a non-loopback address reached through the kernel."""

import os

from netbed import HERE, PYTHON, Bed, main, sh

PORT = 7200
N = 50
CONNS = 3
OTHER = "10.77.9.1"


def test():
    peers = os.path.join(HERE, "peers.py")
    with Bed("fallback", shuntd=False) as bed:
        bed.check(not os.path.exists(bed.control), "control path unexpectedly exists")
        sh(["ip", "-n", bed.app, "addr", "add", OTHER + "/32", "dev", "lo"])
        for port, host in ((PORT, "127.0.0.1"), (PORT + 1, OTHER)):
            srv = bed.spawn(bed.app, [PYTHON, peers, "echo", host, str(port)], "echo-" + host)
            bed.wait_port(bed.app, port, proc=srv)
            for log in ("1", None):  # any value: the design says "with SHUNT_LOG set"
                env = {"SHUNT_LOG": log} if log else None
                r = bed.run_shunt([PYTHON, peers, "client", "sync", host, str(port), str(N),
                                   str(CONNS)], timeout=15, env=env)
                out = r.stdout.decode(errors="replace").strip()
                err = r.stderr.decode(errors="replace")
                bed.check(r.returncode == 0 and out == "sync: %d ok" % (N * CONNS),
                          "client to %s without shuntd exited %d, said %r\n--- stderr:\n%s"
                          % (host, r.returncode, out, err))
                lines = [l for l in err.splitlines() if l.strip()]
                if log:
                    bed.check(len(lines) == 1 and "shunt" in lines[0].lower(),
                              "with SHUNT_LOG=%s the shim must print exactly one fallback "
                              "line mentioning shunt, got %d lines:\n%s"
                              % (log, len(lines), err))
                    print("%s via the kernel, shim said: %s" % (host, lines[0]))
                else:
                    bed.check(not lines, "without SHUNT_LOG the shim must be silent, "
                              "stderr was:\n%s" % err)
            srv.popen.kill()
            srv.wait(5)


if __name__ == "__main__":
    main(test, "fallback")
