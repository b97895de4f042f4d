#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""sockopt_peer: one TCP server or client with IP_TOS, IP_TTL and TCP_MAXSEG set,
run alike on the kernel and under shunt (test_syn_options.py).

    sockopt_peer.py server PORT [tos=N] [ttl=N] [maxseg=N]
        options set on the listener before listen(); prints `listening`; each
        connection: read to EOF, answer 3000 bytes, close. Runs until killed.
    sockopt_peer.py client IP PORT [tos=N] [ttl=N] [maxseg=N]
        options set before connect(); sends 3000 bytes, shuts down, reads to EOF;
        prints one JSON line: the local port and what getsockopt() says of
        TCP_MAXSEG before and after connect(), IP_TOS and IP_TTL.
"""

import json
import socket
import sys

DATA = 3000


def set_opts(s, kv):
    if "tos" in kv:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, kv["tos"])
    if "ttl" in kv:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, kv["ttl"])
    if "maxseg" in kv:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, kv["maxseg"])


def drain(c):
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            return n
        n += len(b)


def server(port, kv):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_opts(s, kv)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        drain(c)
        c.sendall(b"s" * DATA)
        c.close()


def client(ip, port, kv):
    s = socket.socket()
    set_opts(s, kv)
    before = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    s.connect((ip, port))
    after = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    out = {"sport": s.getsockname()[1], "maxseg_before": before, "maxseg_after": after,
           "tos": s.getsockopt(socket.IPPROTO_IP, socket.IP_TOS),
           "ttl": s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL)}
    s.sendall(b"c" * DATA)
    s.shutdown(socket.SHUT_WR)
    out["got"] = drain(s)
    s.close()
    print(json.dumps(out), flush=True)


def main():
    kv = {}
    for a in sys.argv[2:]:
        if "=" in a:
            k, v = a.split("=", 1)
            kv[k] = int(v, 0)
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), kv)
    else:
        client(sys.argv[2], int(sys.argv[3]), kv)


if __name__ == "__main__":
    main()
