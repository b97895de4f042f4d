#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""fallback: with NO shuntd (the control path does not exist) a program under shunt
uses the kernel for everything, and with SHUNT_LOG set the shim says so exactly once
(the client below opens 3 connections), and says nothing without SHUNT_LOG.

The server listens on 127.0.0.1 and on 10.77.9.1, an address we put on the app
netns' lo: a non-loopback address reached through the kernel.

Then a dataplane that speaks no version in common: a fake control socket reads the
shim's hello (ctl.h: the versions it speaks) and refuses it as a newer shuntd
would (-EPROTONOSUPPORT, versions 3-4). The program must again run on the kernel,
and with SHUNT_LOG the shim's one line must name both ranges."""

import os
import socket
import struct
import threading

from netbed import HERE, PYTHON, Bed, main, sh

PORT = 7200
N = 50
CONNS = 3
OTHER = "10.77.9.1"
MAGIC = 0x544e4853
HELLO = struct.Struct("<8I")                 # struct shunt_ctl_hello
WELCOME = struct.Struct("<IIiIIIQIIII128sHHI")  # struct shunt_ctl_welcome
EPROTONOSUPPORT = 93


def refuse_all(listener, hellos):
    """Answer every hello as a shuntd speaking only versions 3-4 would."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # closed: the test is over
        with conn:
            msg = conn.recv(256)
            if len(msg) == HELLO.size:
                hellos.append(HELLO.unpack(msg))
            conn.send(WELCOME.pack(MAGIC, 2, -EPROTONOSUPPORT, 4, 3, 0, 0, 0, 0, 0, 0,
                                   bytes(128), 0, 0, 0))


def no_common_version(bed, peers, host, port):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(bed.control)
    listener.listen(8)
    hellos = []
    t = threading.Thread(target=refuse_all, args=(listener, hellos), daemon=True)
    t.start()
    try:
        r = bed.run_shunt([PYTHON, peers, "client", "sync", host, str(port), str(N),
                           str(CONNS)], timeout=15, env={"SHUNT_LOG": "warn"})
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        os.unlink(bed.control)
        t.join(5)
    out = r.stdout.decode(errors="replace").strip()
    err = r.stderr.decode(errors="replace")
    lines = [l for l in err.splitlines() if l.strip()]
    bed.check(r.returncode == 0 and out == "sync: %d ok" % (N * CONNS),
              "client with an incompatible shuntd exited %d, said %r\n--- stderr:\n%s"
              % (r.returncode, out, err))
    bed.check(len(hellos) == 1 and hellos[0][0] == MAGIC and hellos[0][1] == 1
              and hellos[0][2] <= hellos[0][3],
              "the shim must say hello once with its version range, got %r" % hellos)
    want = "no common ABI: libshunt speaks versions %d-%d, shuntd 3-4" % (hellos[0][2],
                                                                       hellos[0][3])
    bed.check(len(lines) == 1 and want in lines[0],
              "the shim must say once %r, said:\n%s" % (want, err))
    print("incompatible shuntd: via the kernel, shim said: %s" % lines[0])


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
            if host == OTHER:
                no_common_version(bed, peers, host, port)
            srv.popen.kill()
            srv.wait(5)


if __name__ == "__main__":
    main(test, "fallback")
