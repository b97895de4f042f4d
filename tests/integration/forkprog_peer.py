# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""Kernel-side peers of test_fork.py and test_exec.py (stdlib only). They run in
the peer netns on the kernel stack; the programs they serve (forkprog.py,
forkprog_exec.py) run under shunt, or on the kernel in SHUNT_FORK_KERNEL mode.

    forkprog_peer.py serve HOST PORT LOG [--echo] [--greet TEXT] [--file PATH]
                           [--bye TEXT]
        A server that records every connection: one JSON line appended to LOG
        when the connection ends (EOF or error):
            {"port", "n" (its index, from 0), "t_accept", "t_first" (first byte
             received), "t_eof" (EOF read; null if none), "error" (errno name of
             a failed recv/send, or null), "got" (what it received, latin-1; at
             most 64 kB kept), "bytes" (how many), "sha256"}
        Times are CLOCK_MONOTONIC (time.monotonic()), the clock of the programs
        under test too (a netns does not change it).
        --greet TEXT   sends TEXT as soon as the connection is accepted
        --file PATH    sends PATH's bytes on accept, then shuts down its side
        --echo         sends back everything it receives
        --bye TEXT     on EOF sends TEXT before closing
        It prints "listening" once it listens, then runs until killed.

    forkprog_peer.py clients HOST PORT PORT2 N CONC
        N connections to a pre-forking server, CONC at a time, alternating
        between PORT and PORT2: each sends a token line "t<i>-<random>\\n", must
        read back exactly the line "<pid> <token>\\n", and closes first (the
        server waits for that, so TIME_WAIT stays on this side). No connection
        starts after the first failure. Prints one JSON object:
            {"ok": count, "pids": {pid: count}, "errors": [first few],
             "tokens": {token: port}}
"""

import concurrent.futures
import errno
import hashlib
import json
import os
import socket
import sys
import threading
import time

KEEP = 64 * 1024


def errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def serve(host, port, log, opts):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(64)
    lock = threading.Lock()
    print("listening", flush=True)

    def one(c, n, t_accept):
        rec = {"port": port, "n": n, "t_accept": t_accept, "t_first": None,
               "t_eof": None, "error": None}
        got, total, h = bytearray(), 0, hashlib.sha256()
        try:
            if "greet" in opts:
                c.sendall(opts["greet"].encode())
            if "file" in opts:
                with open(opts["file"], "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 16), b""):
                        c.sendall(chunk)
                c.shutdown(socket.SHUT_WR)
            while True:
                b = c.recv(65536)
                if not b:
                    rec["t_eof"] = time.monotonic()
                    break
                if rec["t_first"] is None:
                    rec["t_first"] = time.monotonic()
                total += len(b)
                h.update(b)
                if len(got) < KEEP:
                    got += b[:KEEP - len(got)]
                if "echo" in opts:
                    c.sendall(b)
            if "bye" in opts:
                c.sendall(opts["bye"].encode())
        except OSError as e:
            rec["error"] = errname(e)
        finally:
            c.close()
        rec.update(got=got.decode("latin-1"), bytes=total, sha256=h.hexdigest())
        with lock, open(log, "a") as f:
            f.write(json.dumps(rec) + "\n")

    for n in range(1 << 30):
        c, _ = srv.accept()
        threading.Thread(target=one, args=(c, n, time.monotonic()), daemon=True).start()


def clients(host, port, port2, n, conc):
    stop = threading.Event()
    lock = threading.Lock()
    res = {"ok": 0, "pids": {}, "errors": [], "tokens": {}}

    def one(i):
        if stop.is_set():
            return
        p = port if i % 2 == 0 else port2
        token = "t%d-%s" % (i, os.urandom(4).hex())
        try:
            with socket.create_connection((host, p), timeout=5) as s:
                s.sendall(token.encode() + b"\n")
                line = b""
                while not line.endswith(b"\n"):
                    b = s.recv(256)
                    if not b:
                        break
                    line += b
            f = line.decode(errors="replace").split()
            if len(f) != 2 or f[1] != token or not line.endswith(b"\n"):
                raise ValueError("answer %r" % line)
            with lock:
                res["ok"] += 1
                res["pids"][f[0]] = res["pids"].get(f[0], 0) + 1
                res["tokens"][token] = p
        except (OSError, ValueError) as e:
            stop.set()
            with lock:
                if len(res["errors"]) < 5:
                    res["errors"].append("connection %d to port %d (%s): %s"
                                         % (i, p, token, e))

    with concurrent.futures.ThreadPoolExecutor(conc) as ex:
        list(ex.map(one, range(n)))
    print(json.dumps(res))


def main(argv):
    cmd = argv[1]
    if cmd == "serve":
        host, port, log = argv[2], int(argv[3]), argv[4]
        opts, rest = {}, argv[5:]
        while rest:
            key = rest.pop(0)[2:]
            opts[key] = True if key == "echo" else rest.pop(0)
        serve(host, port, log, opts)
    elif cmd == "clients":
        clients(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), int(argv[6]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
