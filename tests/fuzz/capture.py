#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""capture: real frames for the fuzz corpus: a kernel peer talking to shuntd.

    python3 tests/fuzz/capture.py OUT.pcap      (root; needs build/: shuntd, shunt)

In a test bed (tests/integration/netbed.py) an AF_PACKET socket on the tap records
every frame the kernel sends to shuntd (what shuntd receives, the fuzz target's
input) while these exchanges run:

    ping       the kernel pings the stack: ARP request, ICMP echo requests
    tcp        a program under shunt connects to a kernel server, sends 30000 bytes
               (every 7th data segment dropped on the way in, so the kernel SACKs),
               reads 20000, both close: SYN-ACK, data, ACKs with SACK, FIN
    reset      a kernel server that resets (SO_LINGER 0) after reading: RST
    refused    a connect to a closed kernel port: RST|ACK to the SYN
    reject     a connect that the kernel's firewall rejects: ICMP port unreachable
    udp        datagrams to a kernel echo server and to a closed kernel port: UDP,
               ICMP port unreachable quoting our datagram
    accept     a kernel client connects to a listener under shunt, sends, closes:
               SYN, ACK, data, FIN

tests/fuzz/convert.py turns the pcap into corpus inputs. Python standard library.
"""

import os
import signal
import socket
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from netbed import PEER_IP, PYTHON, STACK_IP, Bed, sh  # noqa: E402

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_PORT, RESET_PORT, CLOSED_PORT, REJECT_PORT = 9000, 9001, 9002, 9003
UDP_PORT, UDP_CLOSED = 9004, 9005
ACCEPT_PORT = 8080
UP, DOWN = 30000, 20000


def recv_upto(s, n):
    """Read until n bytes or EOF; returns how many came."""
    got = 0
    while got < n:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    return got


def app():
    """Under shunt, in the app namespace: the stack's side of each exchange."""
    which = sys.argv[2]
    if which == "tcp":
        s = socket.create_connection((PEER_IP, TCP_PORT))
        s.sendall(bytes(i & 0xff for i in range(UP)))
        got = recv_upto(s, DOWN)
        s.close()
        print("tcp", got)
    elif which == "reset":
        s = socket.create_connection((PEER_IP, RESET_PORT))
        s.sendall(b"x" * 1000)
        try:
            s.recv(100)
        except OSError as e:
            print("reset", e.errno)
        s.close()
    elif which in ("refused", "reject"):
        port = CLOSED_PORT if which == "refused" else REJECT_PORT
        try:
            socket.create_connection((PEER_IP, port), timeout=5)
        except OSError as e:
            print(which, e.errno)
    elif which == "udp":
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        for n in (1, 100, 1400):
            u.sendto(b"u" * n, (PEER_IP, UDP_PORT))
            print("udp", len(u.recv(2000)))
        u.sendto(b"closed", (PEER_IP, UDP_CLOSED))
        time.sleep(0.3)
        try:
            u.sendto(b"closed", (PEER_IP, UDP_CLOSED))
            u.recv(100)
        except OSError as e:
            print("udp closed", e.errno)
    elif which == "accept":
        ls = socket.socket()
        ls.bind(("0.0.0.0", ACCEPT_PORT))
        ls.listen(4)
        print("listening", flush=True)
        c, _ = ls.accept()
        while c.recv(65536):
            pass
        c.close()
        ls.close()


def peer():
    """The kernel's side, in the peer namespace: the servers and the client."""
    which = sys.argv[2]
    if which == "servers":
        def tcp_srv():
            ls = socket.create_server((PEER_IP, TCP_PORT))
            c, _ = ls.accept()
            recv_upto(c, UP)
            c.sendall(b"d" * DOWN)
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
            c.close()

        def reset_srv():
            ls = socket.create_server((PEER_IP, RESET_PORT))
            c, _ = ls.accept()
            c.recv(100)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()

        def udp_srv():
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((PEER_IP, UDP_PORT))
            for _ in range(3):
                b, a = u.recvfrom(2000)
                u.sendto(b, a)

        ts = [threading.Thread(target=f) for f in (tcp_srv, reset_srv, udp_srv)]
        for t in ts:
            t.start()
        print("ready", flush=True)
        for t in ts:
            t.join()
    elif which == "client":
        c = socket.create_connection((STACK_IP, ACCEPT_PORT))
        c.sendall(b"hello from the kernel\n" * 50)
        c.close()


def record():
    """In the peer namespace: every frame the kernel sends out of the tap, as pcap,
    written as it comes (the bed stops us with SIGTERM)."""
    tap, out = sys.argv[2], sys.argv[3]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((tap, 0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        f.flush()
        print("ready", flush=True)
        while True:
            b, addr = s.recvfrom(65535)
            if addr[2] != PACKET_OUTGOING:
                continue
            t = time.time()
            f.write(struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(b), len(b)) + b)
            f.flush()


def capture(out):
    with Bed("capture") as bed:
        rec = bed.spawn_peer([PYTHON, __file__, "record", bed.tap, os.path.abspath(out)],
                             "record")
        deadline = time.monotonic() + 5
        while os.path.getsize(rec.out) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        ns = ["ip", "netns", "exec", bed.peer]
        # every 7th data segment from the stack to TCP_PORT dropped: the kernel SACKs
        sh(ns + ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", str(TCP_PORT),
                 "-m", "length", "--length", "200:65535", "-m", "statistic",
                 "--mode", "nth", "--every", "7", "--packet", "3", "-j", "DROP"])
        sh(ns + ["iptables", "-A", "INPUT", "-p", "tcp", "--dport", str(REJECT_PORT),
                 "-j", "REJECT", "--reject-with", "icmp-port-unreachable"])
        try:
            sh(ns + ["ping", "-c", "2", "-i", "0.2", STACK_IP])
            srv = bed.spawn_peer([PYTHON, __file__, "peer", "servers"], "servers")
            bed.wait_port(bed.peer, TCP_PORT, proc=srv)
            bed.wait_port(bed.peer, UDP_PORT, proc=srv, proto="udp")
            for which in ("tcp", "reset", "refused", "reject", "udp"):
                r = bed.run_shunt([PYTHON, __file__, "app", which], timeout=30)
                print(which, r.returncode, r.stdout.decode().strip(),
                      r.stderr.decode()[-500:])
                time.sleep(0.3)
            lst = bed.spawn(bed.app, bed.shunt_argv([PYTHON, __file__, "app", "accept"]),
                            "accept")
            time.sleep(1.0)
            r = bed.run(bed.peer, [PYTHON, __file__, "peer", "client"], timeout=10)
            print("accept", r.returncode, r.stderr.decode()[-500:])
            lst.wait(10)
            time.sleep(0.5)
        finally:
            rec.popen.terminate()
            rec.wait(5)
            sh(ns + ["iptables", "-F"], check=False)
    print("wrote", out)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "app":
        app()
    elif len(sys.argv) > 2 and sys.argv[1] == "peer":
        peer()
    elif len(sys.argv) > 3 and sys.argv[1] == "record":
        record()
    elif len(sys.argv) == 2:
        capture(sys.argv[1])
    else:
        sys.exit(__doc__)
