# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""Kernel-side peers and small clients for the integration tests (stdlib only).

    peers.py echo HOST PORT                 threaded echo server, runs until killed
    peers.py duplex HOST PORT INFILE OUT    one connection: sends INFILE then half-closes,
                                            reads to EOF; writes "<bytes> <sha256>" to OUT
    peers.py client sync|async HOST PORT N [CONNS]
                                            N request/response pairs per connection
                                            with an echo server, every answer checked;
                                            prints "<mode>: <total> ok"

The servers run in the peer netns on the kernel stack; the client runs under
`shunt`, so it is the unmodified-program side.
"""

import asyncio
import hashlib
import os
import socket
import sys
import threading


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(64)
    return s


def echo(host, port):
    srv = listener(host, port)

    def serve(c):
        with c:
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def duplex(host, port, infile, out):
    srv = listener(host, port)
    c, _ = srv.accept()
    srv.close()

    def send():
        with open(infile, "rb") as f:
            while True:
                b = f.read(65536)
                if not b:
                    break
                c.sendall(b)
        c.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=send)
    t.start()
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    t.join()
    c.close()
    with open(out, "w") as f:
        f.write("%d %s\n" % (n, h.hexdigest()))


def request(i):
    # Distinct, varied sizes (1..3000 bytes) so a lost, duplicated or reordered
    # byte shows up as a mismatch.
    body = os.urandom((i * 37) % 3000)
    return b"%d:" % i + body


def client_sync(host, port, n, conns):
    total = 0
    for _ in range(conns):
        with socket.create_connection((host, port), timeout=30) as s:
            for i in range(n):
                req = request(i)
                s.sendall(req)
                got = b""
                while len(got) < len(req):
                    b = s.recv(len(req) - len(got))
                    if not b:
                        sys.exit("sync: EOF after %d of %d bytes of request %d"
                                 % (len(got), len(req), i))
                    got += b
                if got != req:
                    sys.exit("sync: response %d differs from its request" % i)
                total += 1
    print("sync: %d ok" % total)


async def client_async_main(host, port, n, conns):
    total = 0
    for _ in range(conns):
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        for i in range(n):
            req = request(i)
            w.write(req)
            await w.drain()
            got = await asyncio.wait_for(r.readexactly(len(req)), 30)
            if got != req:
                sys.exit("async: response %d differs from its request" % i)
            total += 1
        w.close()
        await w.wait_closed()
    print("async: %d ok" % total)


def main(argv):
    cmd = argv[1]
    if cmd == "echo":
        echo(argv[2], int(argv[3]))
    elif cmd == "duplex":
        duplex(argv[2], int(argv[3]), argv[4], argv[5])
    elif cmd == "client":
        mode, host, port, n = argv[2], argv[3], int(argv[4]), int(argv[5])
        conns = int(argv[6]) if len(argv) > 6 else 1
        if mode == "sync":
            client_sync(host, port, n, conns)
        else:
            asyncio.run(client_async_main(host, port, n, conns))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
