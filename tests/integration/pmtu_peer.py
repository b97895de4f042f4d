#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""pmtu_peer: the programs of test_pmtu.py (stdlib only).

    pmtu_peer.py server PORT OUT        every connection (at once, a thread each):
                                        read to EOF, close, append "<bytes> <sha256>"
                                        to OUT
    pmtu_peer.py upload HOST PORT FILE  send FILE, half-close, wait for EOF; prints
                                        {"maxseg": TCP_MAXSEG then, "lport": ...}
    pmtu_peer.py hold HOST PORT         connect, print {"lport", "maxseg"}, then one
                                        {"maxseg"} per line read on stdin; closes
                                        at EOF
    pmtu_peer.py forge SRC DST QSRC QDST QSPORT QDPORT QSEQ MTU
                                        send SRC -> DST one ICMP fragmentation
                                        needed (type 3 code 4, next-hop MTU), quoting
                                        a 1500-byte TCP segment QSRC:QSPORT ->
                                        QDST:QDPORT with sequence number QSEQ, through
                                        a raw socket; prints "sent"

The clients run under shunt or on the kernel alike: TCP_MAXSEG is the MSS the
connection sends with (Linux's mss_cache, shunt's tcb mss).
"""

import hashlib
import json
import socket
import struct
import sys
import threading

from peers import listener, serve_threads
from synflood import checksum


def server(port, out):
    s = listener("0.0.0.0", port)
    lock = threading.Lock()

    def serve(c):
        h, n = hashlib.sha256(), 0
        with c:
            for b in iter(lambda: c.recv(65536), b""):
                h.update(b)
                n += len(b)
        with lock, open(out, "a") as f:
            f.write("%d %s\n" % (n, h.hexdigest()))

    serve_threads(s, serve)


def maxseg(c):
    return c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)


def upload(host, port, path):
    c = socket.create_connection((host, port), timeout=30)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(65536), b""):
            c.sendall(b)
    c.shutdown(socket.SHUT_WR)
    while c.recv(65536):
        pass
    print(json.dumps({"maxseg": maxseg(c), "lport": c.getsockname()[1]}), flush=True)
    c.close()


def hold(host, port):
    c = socket.create_connection((host, port), timeout=30)
    print(json.dumps({"lport": c.getsockname()[1], "maxseg": maxseg(c)}), flush=True)
    for _ in sys.stdin:
        print(json.dumps({"maxseg": maxseg(c)}), flush=True)
    c.close()


def ipv4(src, dst, proto, payload, total=None, df=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total or 20 + len(payload), 0x1234,
                    0x4000 if df else 0, 64, proto, 0, socket.inet_aton(src),
                    socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", checksum(h)) + h[12:] + payload


def forge(src, dst, qsrc, qdst, qsport, qdport, qseq, mtu):
    # RFC 792: the offending datagram's IP header and its first 8 bytes (ports and
    # sequence number); a router quotes the header as it was, 1500 bytes long
    quoted = ipv4(qsrc, qdst, socket.IPPROTO_TCP, struct.pack("!HHI", qsport, qdport, qseq),
                  total=1500, df=True)
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(ipv4(src, dst, socket.IPPROTO_ICMP, icmp), (dst, 0))
    print("sent", flush=True)


def main(argv):
    cmd = argv[1]
    if cmd == "server":
        server(int(argv[2]), argv[3])
    elif cmd == "upload":
        upload(argv[2], int(argv[3]), argv[4])
    elif cmd == "hold":
        hold(argv[2], int(argv[3]))
    elif cmd == "forge":
        forge(argv[2], argv[3], argv[4], argv[5], int(argv[6]), int(argv[7]),
              int(argv[8]), int(argv[9]))
    else:
        sys.exit("pmtu_peer.py: unknown command %r" % cmd)


if __name__ == "__main__":
    main(sys.argv)
