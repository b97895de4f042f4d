# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""flows.py: the measured traffic of test_impair (and of anyone checking an impaired
path): a numbered UDP stream and a checked TCP transfer. One JSON line out.

  flows.py udp-recv IP PORT                 until END (or 2 s idle): what arrived
  flows.py udp-send IP PORT COUNT PPS       COUNT datagrams numbered 0.., then END
  flows.py [--cc NAME] tcp-listen IP PORT send FILE|recv    one connection
  flows.py [--cc NAME] tcp-connect IP PORT send FILE|recv

--cc: the TCP socket's congestion control (TCP_CONGESTION; on the listener, which
its connection inherits), so that a comparison runs one algorithm on both paths
whatever the namespaces' default (bench/impaired.py).

udp-recv prints received, duplicates, out_of_order (arrived after a higher number),
lost, and the lengths of the runs of lost numbers; a TCP receiver prints bytes,
sha256 and seconds from the first byte to EOF. Standard library only.
"""

import hashlib
import json
import socket
import struct
import sys
import time


def udp_recv(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ip, int(port)))
    print("ready", file=sys.stderr, flush=True)
    seen, dups, ooo, high, count = set(), 0, 0, -1, None
    s.settimeout(30)                 # the first datagram
    end_at = None
    while True:
        if end_at is not None:
            s.settimeout(max(0.01, end_at - time.monotonic()))
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        if data.startswith(b"END"):
            count = int(data[3:])
            end_at = end_at or time.monotonic() + 0.3   # stragglers (held back)
            continue
        n = struct.unpack("!I", data[:4])[0]
        if n in seen:
            dups += 1
            continue
        if n < high:
            ooo += 1
        high = max(high, n)
        seen.add(n)
        s.settimeout(2)
    count = count if count is not None else high + 1
    runs, run = [], 0
    for n in range(count):
        if n in seen:
            if run:
                runs.append(run)
            run = 0
        else:
            run += 1
    if run:
        runs.append(run)
    print(json.dumps({"sent": count, "received": len(seen), "duplicates": dups,
                      "out_of_order": ooo, "lost": count - len(seen),
                      "loss_runs": runs}))


def udp_send(ip, port, count, pps):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    count, gap = int(count), 1.0 / float(pps)
    t0 = time.monotonic()
    for n in range(count):
        delay = t0 + n * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendto(struct.pack("!I", n) + b"x" * 100, (ip, int(port)))
    for _ in range(10):               # the end mark may be impaired too
        s.sendto(b"END%d" % count, (ip, int(port)))
        time.sleep(0.01)


def tcp_run(sock, what, path):
    if what == "send":
        with open(path, "rb") as f:
            sock.sendfile(f)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)                  # until the receiver closes: all was read
        return
    h, total, t0 = hashlib.sha256(), 0, None
    while True:
        data = sock.recv(1 << 16)
        if not data:
            break
        t0 = t0 or time.monotonic()
        h.update(data)
        total += len(data)
    print(json.dumps({"bytes": total, "sha256": h.hexdigest(),
                      "seconds": time.monotonic() - (t0 or time.monotonic())}))


def tcp_socket(cc):
    s = socket.socket()
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    return s


def main(argv):
    cc = None
    if argv[:1] == ["--cc"]:
        cc, argv = argv[1], argv[2:]
    mode = argv[0]
    if mode == "udp-recv":
        udp_recv(*argv[1:3])
    elif mode == "udp-send":
        udp_send(*argv[1:5])
    elif mode == "tcp-listen":
        ls = tcp_socket(cc)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((argv[1], int(argv[2])))
        ls.listen(1)
        print("ready", file=sys.stderr, flush=True)
        conn, _ = ls.accept()
        tcp_run(conn, argv[3], argv[4] if len(argv) > 4 else None)
    elif mode == "tcp-connect":
        s = tcp_socket(cc)
        s.settimeout(600)
        s.connect((argv[1], int(argv[2])))
        tcp_run(s, argv[3], argv[4] if len(argv) > 4 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
