#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""shuntd's own contract: configuration errors exit 2 naming the key (and file:line),
a second shuntd on a live control socket is refused, and SIGTERM resets every open
connection (the kernel peer sees ECONNRESET), removes the control socket and exits 0;
SIGIO (what the kernel sends in place of net_tap's queued signal when the user's
queue of pending signals is full) does not kill it; idle=poll serves as well as the
default adaptive idle."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

from netbed import PEER_IP, SHUNTD, STACK_IP, Bed, BedError, main

PORT = 5301

# A kernel server that accepts one connection and reports how it ended.
SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
c, _ = s.accept()
c.settimeout(20)
try:
    d = c.recv(100)
    print("got", d.decode(), flush=True)
    d = c.recv(100)
    print("eof" if d == b"" else "data", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("timeout", flush=True)
"""

CLIENT = r"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(b"hi")
print("connected", flush=True)
time.sleep(30)
"""


def cli_error(args, want):
    """shuntd ARGS must exit 2 and say every string of want on stderr."""
    r = subprocess.run([SHUNTD] + args, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=10)
    err = r.stderr.decode(errors="replace")
    if r.returncode != 2 or not all(w in err for w in want):
        raise BedError("shuntd %s: expected exit 2 and %r on stderr, got exit %d:\n%s"
                       % (" ".join(args), want, r.returncode, err))
    print("shuntd %-40s -> exit 2: %s" % (" ".join(args)[:40], err.strip().splitlines()[0]))


def test_config_errors():
    if not os.access(SHUNTD, os.X_OK):
        raise BedError("shuntd is not built: %s" % SHUNTD)
    cli_error(["--ip=10.77.0.2/24", "--bogus=1"], ["bogus"])
    cli_error(["--eal=--no-huge"], ["'ip'"])
    cli_error(["--ip=10.77.0.300/24"], ["ip", "10.77.0.300/24"])
    cli_error(["--ip=10.77.0.2/24", "--idle=sometimes"], ["idle", "sometimes"])
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write("# a comment\nip = 10.77.0.2/24\nsyn_retries = many\n")
        f.flush()
        cli_error(["-c", f.name], ["%s:3" % f.name, "syn_retries"])
    cli_error(["-c", "/nonexistent/shunt.conf"], ["/nonexistent/shunt.conf"])


def test_second_instance_refused(bed):
    # Same control path, another tap: the live one keeps its socket.
    prefix = bed.file_prefix + "b"
    argv = ["ip", "netns", "exec", bed.peer, SHUNTD,
            "--eal=" + bed.eal().replace(bed.tap, bed.tap + "b").replace(
                bed.file_prefix, prefix),
            "--ip=10.77.0.2/24", "--control=" + bed.control]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    finally:
        # EAL made its runtime directory; the bed only knows its own prefix
        shutil.rmtree(os.path.join("/var/run/dpdk", prefix), ignore_errors=True)
    out = (r.stdout + r.stderr).decode(errors="replace")
    bed.check(r.returncode != 0 and "another shuntd" in out,
              "a second shuntd on %s: expected a refusal, got exit %d:\n%s"
              % (bed.control, r.returncode, out))
    bed.check(os.path.exists(bed.control), "the refused shuntd removed the live socket")
    print("second shuntd on the same control socket: refused (exit %d)" % r.returncode)


def test_sigio_ignored(bed):
    os.kill(bed.shuntd.pid, signal.SIGIO)
    r = bed.run(bed.peer, ["ping", "-n", "-c", "1", "-W", "2", STACK_IP], timeout=20)
    bed.check(bed.shuntd.poll() is None and r.returncode == 0,
              "after SIGIO: shuntd %s, ping exit %d"
              % ("running" if bed.shuntd.poll() is None else "exited %d" % bed.shuntd.poll(),
                 r.returncode))
    print("SIGIO: shuntd still serves")


def test_sigterm_resets(bed):
    srv = bed.spawn_peer(["python3", "-c", SERVER, PEER_IP, str(PORT)], "server")
    bed.wait_port(bed.peer, PORT, proc=srv)
    cli = bed.spawn(bed.app, bed.shunt_argv(["python3", "-c", CLIENT, PEER_IP, str(PORT)]),
                    "client")
    deadline = time.monotonic() + 10
    while b"got" not in open(srv.out, "rb").read():
        bed.check(time.monotonic() < deadline and srv.alive(),
                  "the client never reached the server through shunt")
        time.sleep(0.05)
    bed.shuntd.send_signal(signal.SIGTERM)
    rc = bed.shuntd.wait(10)
    log = open(bed.shuntd_log, errors="replace").read()
    bed.shuntd = None  # stopped here; teardown must not stop it again
    bed.check(rc == 0, "shuntd exited %d on SIGTERM:\n%s" % (rc, log[-3000:]))
    bed.check(not os.path.exists(bed.control), "shuntd left its control socket behind")
    bed.check("tcp_rst_tx" in log, "no RST counted at exit:\n%s" % log[-3000:])
    srv.wait(10)
    out = open(srv.out, errors="replace").read()
    bed.check("reset" in out, "the kernel peer saw %r, expected a reset" % out)
    cli.popen.kill()
    print("SIGTERM: shuntd exited 0, control socket removed, peer saw ECONNRESET")


def test_idle_poll():
    # The spinning mode serves too (the default, adaptive, is what every other test
    # runs): ping through it, then a clean stop.
    with Bed("shuntd-poll", shuntd_args=["--idle=poll"]) as bed:
        r = bed.run(bed.peer, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "2", STACK_IP],
                    timeout=20)
        bed.check(r.returncode == 0, "ping through idle=poll failed:\n%s"
                  % r.stdout.decode(errors="replace"))
        print("idle=poll: 2 of 2 pings answered")


def test_shipped_config():
    # conf/shunt.conf as shipped (its tap name is per namespace, so it cannot clash):
    # shuntd comes up from it, serves, and stops cleanly.
    conf = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf",
                        "shunt.conf")
    with Bed("shuntd-conf", shuntd=False) as bed:
        ctl = os.path.join(bed.tmp, "ctl.sock")
        log = open(os.path.join(bed.tmp, "shuntd.log"), "wb")
        p = subprocess.Popen(["ip", "netns", "exec", bed.peer, SHUNTD, "-c", conf,
                              "--control=" + ctl], stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(ctl) and p.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            up = os.path.exists(ctl)
            p.send_signal(signal.SIGTERM)
            rc = p.wait(10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(5)
            log.close()
            shutil.rmtree("/var/run/dpdk/shunt", ignore_errors=True)
        text = open(os.path.join(bed.tmp, "shuntd.log"), errors="replace").read()
        bed.check(up and rc == 0 and not os.path.exists(ctl),
                  "shuntd -c conf/shunt.conf: up=%s exit=%s\n%s" % (up, rc, text[-3000:]))
        print("conf/shunt.conf as shipped: shuntd served and stopped cleanly")


def test():
    test_config_errors()
    test_shipped_config()
    with Bed("shuntd") as bed:
        test_second_instance_refused(bed)
        test_sigio_ignored(bed)
        test_sigterm_resets(bed)
    test_idle_poll()


if __name__ == "__main__":
    main(test, "shuntd")
