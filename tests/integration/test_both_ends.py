#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""both_ends: client and server both under shunt on one shuntd (issue 7). The
destination is the stack's own address, so shuntd delivers the packets inside
itself (net/lo.c) and nothing crosses the NIC. Everything runs in the app
namespace, which has only lo: a socket that fell back to the kernel would find no
one. In one bed:

  * one process: a listener on the stack's address, a connection to it accepted
    by the same process, 256 KiB each way compared, the client closing first
    (the server reads EOF; the client's end, not the server's, is left in
    TIME_WAIT, read from shuntd's connection table), a closed port refused
    (RST from ourselves), a reset (SO_LINGER 0) seen by the peer;
  * peers.py echo (threads) on 0.0.0.0 under shunt, the sync and async clients
    of peers.py under shunt: 4 connections x 500 request/responses, every byte
    compared;
  * peers.py duplex under shunt and a client under shunt: 20 MB each way at once
    through one connection, both SHA-256 checked;
  * peers.py udpecho under shunt bound to the stack's address, a UDP client
    under shunt: 500 datagrams, each answer compared with its source;

and shuntd's counters: the packets went through local delivery (ip_local_in,
at least one per MSS of the 40 MB), while the NIC sent (port tx_bytes) and the
kernel's tap received (its rx_bytes) less than 1 MB meanwhile."""

import os
import re
import time

from netbed import HERE, PYTHON, STACK_IP, Bed, counter, main, random_file

PEERS = os.path.join(HERE, "peers.py")
N = 500
CONNS = 4
BIG = 20 * 1000 * 1000
MSS = 1460
ECHO_PORT, DUPLEX_PORT, UDP_PORT, SELF_PORT, CLOSED_PORT = 7400, 7402, 7403, 7410, 7411

# One process at both ends. Prints the client's local port on success.
SELF = r"""
import os, socket, struct, sys
ip, port, closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def recv_all(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("EOF after %d of %d bytes" % (len(b), n))
        b += c
    return b

L = socket.socket()
L.bind((ip, port))
L.listen(8)
c = socket.create_connection((ip, port), timeout=10)
s, peer = L.accept()
s.settimeout(10)
if peer != c.getsockname() or s.getsockname() != (ip, port) or c.getpeername() != (ip, port):
    sys.exit("names: accepted from %s, client %s -> %s, server %s"
             % (peer, c.getsockname(), c.getpeername(), s.getsockname()))
if c.getsockname()[1] == port:
    sys.exit("the client's port is the listener's: %s" % (c.getsockname(),))
up, down = os.urandom(256 * 1024), os.urandom(256 * 1024)
c.sendall(up)
if recv_all(s, len(up)) != up:
    sys.exit("client -> server: bytes differ")
s.sendall(down)
if recv_all(c, len(down)) != down:
    sys.exit("server -> client: bytes differ")
cport = c.getsockname()[1]
c.close()                      # the client closes first: TIME_WAIT is its end's
if s.recv(10) != b"":
    sys.exit("the server did not read EOF after the client's close")
s.close()

r = socket.socket()
r.settimeout(10)
try:
    r.connect((ip, closed))
    sys.exit("connect to closed port %d succeeded" % closed)
except ConnectionRefusedError:
    pass
r.close()

c = socket.create_connection((ip, port), timeout=10)
s, _ = L.accept()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()                      # RST
try:
    got = c.recv(10)
    sys.exit("recv after the peer's reset returned %r" % got)
except ConnectionResetError:
    pass
c.close()
L.close()
print(cport)
"""



# Waits until the server answers (a datagram to an unbound port is refused with
# an ICMP error an unconnected socket does not see), then N checked exchanges.
UDP_CLIENT = r"""
import os, socket, sys, time
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.1)
end = time.monotonic() + 10
while True:
    u.sendto(b"probe", (ip, port))
    try:
        if u.recvfrom(100) == (b"probe", (ip, port)):
            break
    except socket.timeout:
        if time.monotonic() > end:
            sys.exit("no answer from %s:%d" % (ip, port))
u.settimeout(5)
for i in range(n):
    msg = b"%d:" % i + os.urandom((i * 37) % 1400)
    u.sendto(msg, (ip, port))
    got, src = u.recvfrom(65536)
    if got != msg or src != (ip, port):
        sys.exit("datagram %d: %d bytes back from %s" % (i, len(got), src))
print("udp: %d ok" % n)
"""

# Retries until a shunt client in the app namespace can connect (bounded).
PROBE = ("import socket,sys,time\n"
         "end=time.monotonic()+10\n"
         "while True:\n"
         "  try:\n"
         "    socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=2).close(); break\n"
         "  except OSError as e:\n"
         "    if time.monotonic()>end: sys.exit('not listening: %s'%e)\n"
         "    time.sleep(0.02)\n")


def out_of(r):
    return "exit %d\n--- stdout:\n%s\n--- stderr:\n%s" % (
        r.returncode, r.stdout.decode(errors="replace")[-2000:],
        r.stderr.decode(errors="replace")[-3000:])


def tap_rx_bytes(bed):
    r = bed.run(bed.peer, ["cat", "/sys/class/net/%s/statistics/rx_bytes" % bed.tap],
                timeout=10)
    bed.check(r.returncode == 0, "cannot read the tap's counters: %s" % out_of(r))
    return int(r.stdout)


def same_process(bed):
    r = bed.run_shunt([PYTHON, "-c", SELF, STACK_IP, str(SELF_PORT), str(CLOSED_PORT)],
                      timeout=60)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out.isdigit(),
              "one process at both ends: %s" % out_of(r))
    cport = int(out)
    # The client closed first: its end waits in TIME_WAIT; the server's end went
    # LAST_ACK -> CLOSED once our ACK of its FIN was delivered (asynchronously).
    mine = re.compile(r"^\s*%s:%d -> %s:%d (\S+)" % (re.escape(STACK_IP), cport,
                                                     re.escape(STACK_IP), SELF_PORT), re.M)
    theirs = re.compile(r"^\s*%s:%d -> %s:%d (\S+)" % (re.escape(STACK_IP), SELF_PORT,
                                                       re.escape(STACK_IP), cport), re.M)
    deadline = time.monotonic() + 5
    while True:
        text = bed.counters()
        m, t = mine.search(text), theirs.search(text)
        if m and m.group(1) == "TIME_WAIT" and t is None:
            break
        bed.check(time.monotonic() < deadline,
                  "after the client's close: client end %s, server end %s, want "
                  "TIME_WAIT and gone:\n%s" % (m and m.group(1), t and t.group(1), text))
    print("one process, both ends: 256 KiB each way, client port %d in TIME_WAIT, the "
          "server's end closed, closed port refused, reset seen" % cport)


def echo(bed):
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "echo", "0.0.0.0",
                                             str(ECHO_PORT)]), "echo")
    r = bed.run_shunt([PYTHON, "-c", PROBE, STACK_IP, str(ECHO_PORT)], timeout=20)
    bed.check(r.returncode == 0 and srv.alive(), "echo server under shunt not reachable "
              "from a client under shunt: %s" % out_of(r))
    for client in ("sync", "async"):
        r = bed.run_shunt([PYTHON, PEERS, "client", client, STACK_IP, str(ECHO_PORT),
                           str(N), str(CONNS)], timeout=90)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == "%s: %d ok" % (client, N * CONNS),
                  "%s client under shunt: %s" % (client, out_of(r)))
        print("echo server under shunt, %s client under shunt: %s" % (client, out))
    bed.check(srv.alive(), "the echo server died")


def duplex(bed):
    a, b = os.path.join(bed.tmp, "a.bin"), os.path.join(bed.tmp, "b.bin")
    sha_a, sha_b = random_file(a, BIG), random_file(b, BIG)
    got_srv = os.path.join(bed.tmp, "duplex.out")
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "duplex", STACK_IP,
                                             str(DUPLEX_PORT), a, got_srv]), "duplex")
    t0 = time.monotonic()
    r = bed.run_shunt([PYTHON, PEERS, "duplexc", STACK_IP, str(DUPLEX_PORT), b],
                      timeout=120)
    secs = time.monotonic() - t0
    bed.check(r.returncode == 0, "duplex client under shunt: %s" % out_of(r))
    rc = srv.wait(30)
    bed.check(rc == 0, "duplex server under shunt: exit %s" % rc)
    with open(got_srv) as f:
        srv_got = f.read().split()
    cli_got = r.stdout.decode().split()
    bed.check(cli_got == [str(BIG), sha_a], "client received %s, want %d bytes %s"
              % (cli_got, BIG, sha_a))
    bed.check(srv_got == [str(BIG), sha_b], "server received %s, want %d bytes %s"
              % (srv_got, BIG, sha_b))
    print("20 MB each way, both ends under shunt, SHA-256 checked: %.1f s (%.0f Mbit/s "
          "each way)" % (secs, BIG * 8 / secs / 1e6))


def udp(bed):
    bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "udpecho", STACK_IP, str(UDP_PORT)]),
              "udpecho")
    r = bed.run_shunt([PYTHON, "-c", UDP_CLIENT, STACK_IP, str(UDP_PORT), str(N)],
                      timeout=60)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out == "udp: %d ok" % N,
              "UDP, both ends under shunt: %s" % out_of(r))
    print("UDP echo under shunt on %s, client under shunt: %s" % (STACK_IP, out))


def test():
    with Bed("both_ends") as bed:
        before = bed.counters()
        tap_before = tap_rx_bytes(bed)
        same_process(bed)
        echo(bed)
        duplex(bed)
        udp(bed)
        after = bed.counters()
        tap_after = tap_rx_bytes(bed)
        d = {k: counter(after, k) - counter(before, k)
             for k in ("ip_local_in", "ip_local_out", "tx_bytes", "tx_packets",
                       "ip_drop_local_full", "tcp_conn_accepted")}
        print("counters over the test: %s; the tap received %d bytes"
              % (", ".join("%s +%d" % kv for kv in sorted(d.items())),
                 tap_after - tap_before))
        least = 2 * BIG // MSS
        bed.check(d["ip_local_in"] >= least and d["ip_local_out"] >= d["ip_local_in"],
                  "local delivery: ip_local_in +%d, ip_local_out +%d, want at least %d:\n%s"
                  % (d["ip_local_in"], d["ip_local_out"], least, after))
        bed.check(d["tx_bytes"] < 1000000 and tap_after - tap_before < 1000000,
                  "the transfers went out of the NIC: port tx_bytes +%d, tap rx_bytes +%d"
                  % (d["tx_bytes"], tap_after - tap_before))
        # one process: 2; echo: probe + 2 x CONNS; duplex: 1
        bed.check(d["tcp_conn_accepted"] >= 2 + 1 + 2 * CONNS + 1,
                  "shuntd accepted %d connections" % d["tcp_conn_accepted"])


if __name__ == "__main__":
    main(test, "both_ends")
