# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""Kernel-side peers and small clients for the integration tests (stdlib only).

    peers.py echo HOST PORT                 threaded echo server, runs until killed
    peers.py duplex HOST PORT INFILE OUT    one connection: sends INFILE then half-closes,
                                            reads to EOF; writes "<bytes> <sha256>" to OUT
    peers.py hold HOST PORT                 accepts connections and keeps them open
    peers.py hello HOST PORT                each connection: sends "hello", then FIN,
                                            and reads until the client closes
    peers.py udpecho HOST PORT [PORT...]    UDP echo on each port; a datagram
                                            "fwd IP PORT" is answered with "stray"
                                            sent to IP:PORT instead
    peers.py dns HOST PORT                  UDP DNS responder: every A query is
                                            answered with HOST
    peers.py icmp IFACE PORT=CODE ...       answers every TCP SYN seen on IFACE for
                                            PORT with ICMP destination unreachable
                                            CODE quoting it (the SYN itself is
                                            dropped by an nft rule)
    peers.py aconnect TIMEOUT HOST:PORT ... asyncio.open_connection to each at once;
                                            prints one JSON list: the exception class
                                            and errno of each, or "connected"
    peers.py udpclient HOST PORT N          N datagrams to a UDP echo server, every
                                            answer checked; prints "udp: N ok"
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
import time


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    # room for churn's 32 programs x 100 connections arriving at once: with a
    # backlog of 64 the kernel fell back to SYN cookies and reset 2 of 6,672
    # handshakes once in about ten runs (tcp_rst_rx in shuntd's counters)
    s.listen(4096)
    return s


def serve_threads(srv, serve):
    """Accept on srv forever, each connection served by serve(c) in a thread."""
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


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


def aecho(host, port):
    """The echo server on asyncio: epoll, non-blocking accept and sockets."""
    async def serve(r, w):
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
        w.close()

    async def run():
        srv = await asyncio.start_server(serve, host, port, reuse_address=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


def duplex_io(c, infile):
    """Send infile on c and half-close while reading c to its end; returns the
    byte count and SHA-256 of what was read."""
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
    return n, h.hexdigest()


def duplex(host, port, infile, out):
    srv = listener(host, port)
    c, _ = srv.accept()
    srv.close()
    n, digest = duplex_io(c, infile)
    with open(out, "w") as f:
        f.write("%d %s\n" % (n, digest))


def duplex_client(host, port, infile):
    """duplex's other end: connect (retrying while refused for 10 s: the server
    accepts one connection only, so no probe may take it), then the same."""
    end = time.monotonic() + 10
    while True:
        try:
            c = socket.create_connection((host, port), timeout=30)
            break
        except ConnectionRefusedError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)
    print("%d %s" % duplex_io(c, infile))


def hold(host, port):
    srv = listener(host, port)
    kept = []
    while True:
        c, _ = srv.accept()
        kept.append(c)


def sink(host, port):
    """Read every connection to its end and throw the bytes away."""
    srv = listener(host, port)

    def serve(c):
        with c:
            while c.recv(65536):
                pass

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def hello(host, port):
    srv = listener(host, port)

    def serve(c):
        with c:
            c.sendall(b"hello")
            c.shutdown(socket.SHUT_WR)
            try:
                while c.recv(65536):   # until the client closes: no RST to it
                    pass
            except OSError:
                pass

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def udpecho(host, ports):
    import selectors
    sel = selectors.DefaultSelector()
    for p in ports:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, p))
        sel.register(u, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            u = key.fileobj
            b, src = u.recvfrom(65536)
            f = b.split()
            if len(f) == 3 and f[0] == b"fwd":
                u.sendto(b"stray", (f[1].decode(), int(f[2])))
            else:
                u.sendto(b, src)


def dns_answer(q, addr):
    """A response to DNS query q: the question, and one A record for addr."""
    if len(q) < 12:
        return None
    end = 12
    while end < len(q) and q[end] != 0:
        end += 1 + q[end]
    end += 5                                       # the root label, QTYPE, QCLASS
    if end > len(q):
        return None
    qtype = int.from_bytes(q[end - 4:end - 2], "big")
    head = q[:2] + b"\x81\x80" + b"\x00\x01" + (b"\x00\x01" if qtype == 1
                                                 else b"\x00\x00") + b"\x00\x00\x00\x00"
    ans = b""
    if qtype == 1:
        ans = (b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"
               + socket.inet_aton(addr))
    return head + q[12:end] + ans


def dns(host, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((host, port))
    while True:
        q, src = u.recvfrom(65536)
        r = dns_answer(q, host)
        if r:
            u.sendto(r, src)


def inet_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def icmp_responder(iface, codes):
    """ICMP errors from user space, so they reach the client after its connect()
    released the socket, as over any real link (a veth answers inside the call)."""
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    cap.bind((iface, 0x0800))
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    while True:
        pkt, (_, _, ptype, _, _) = cap.recvfrom(65536)
        if ptype == 4 or len(pkt) < 40 or pkt[9] != 6:    # ours outgoing; not TCP
            continue
        ihl = (pkt[0] & 15) * 4
        tcp = pkt[ihl:ihl + 20]
        if len(tcp) < 14:
            continue
        dport = int.from_bytes(tcp[2:4], "big")
        if dport not in codes or (tcp[13] & 0x12) != 0x02:  # not a SYN to a port of ours
            continue
        body = b"\0\0\0\0" + pkt[:ihl + 8]
        msg = bytes([3, codes[dport]]) + b"\0\0" + body
        c = inet_checksum(msg)
        msg = msg[:2] + c.to_bytes(2, "big") + msg[4:]
        out.sendto(msg, (socket.inet_ntoa(pkt[12:16]), 0))


async def aconnect_one(host, port, timeout):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except BaseException as e:       # what the program would see, whatever it is
        return [type(e).__name__, getattr(e, "errno", None)]
    w.close()
    return ["connected", None]


async def aconnect(timeout, targets):
    return await asyncio.gather(*(aconnect_one(h, int(p), timeout)
                                  for h, p in (t.split(":") for t in targets)))


def udpclient(host, port, n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(3)
        for i in range(n):
            msg = request(i)[:1400]
            u.sendto(msg, (host, port))
            got, src = u.recvfrom(65536)
            if got != msg or src != (host, port):
                sys.exit("udp: answer %d differs (%d bytes from %s)" % (i, len(got), src))
    print("udp: %d ok" % n)


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
    elif cmd == "aecho":
        aecho(argv[2], int(argv[3]))
    elif cmd == "duplex":
        duplex(argv[2], int(argv[3]), argv[4], argv[5])
    elif cmd == "duplexc":
        duplex_client(argv[2], int(argv[3]), argv[4])
    elif cmd == "hold":
        hold(argv[2], int(argv[3]))
    elif cmd == "hello":
        hello(argv[2], int(argv[3]))
    elif cmd == "sink":
        sink(argv[2], int(argv[3]))
    elif cmd == "udpecho":
        udpecho(argv[2], [int(p) for p in argv[3:]])
    elif cmd == "dns":
        dns(argv[2], int(argv[3]))
    elif cmd == "icmp":
        icmp_responder(argv[2], {int(a.split("=")[0]): int(a.split("=")[1])
                                 for a in argv[3:]})
    elif cmd == "aconnect":
        import json
        print(json.dumps(asyncio.run(aconnect(float(argv[2]), argv[3:]))))
    elif cmd == "udpclient":
        udpclient(argv[2], int(argv[3]), int(argv[4]))
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
