#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""server: passive open through shunt. Echo servers run unmodified under shunt in
the app namespace (which has only lo: a listener the kernel served could not be
reached from outside), and kernel clients in the peer namespace talk to them
through shuntd:

  * peers.py echo on 0.0.0.0 (threads, blocking accept and recv) and on the
    stack's own address;
  * peers.py aecho on 0.0.0.0 (asyncio: epoll, non-blocking accept);

each answering 4 connections x 500 request/responses of up to 3000 bytes, every
byte compared by the client; shuntd must count the connections as accepted. A
server on 0.0.0.0 also answers loopback clients in its own namespace (the kernel's
side of the address), and python3 -m http.server (poll() on its listener) serves
a file both ways.

And the client side as wrk uses it (one defect the issue names): wrk under shunt
with 4 connections against a kernel HTTP server must see no socket error (ABI v1
failed 3 of its 4 connects).

SO_LINGER with a timeout: close() waits for the data to be acknowledged, up to
the timeout (both measured against a peer that never reads and one that does).

Privileged ports as Linux: an unprivileged user (nobody, through setpriv) binding
the stack's address on TCP port 81 or UDP port 53 gets EACCES, on 8081 succeeds;
root binds 81.

IPv6 sockets, dual-stack (IPV6_V6ONLY off, Linux's default): a listener on [::]
under shunt answers a kernel client through shunt (its peer named
::ffff:10.77.0.1, its own name ::ffff:10.77.0.2) and, through its placeholder,
clients on 127.0.0.1 and ::1; an IPV6_V6ONLY listener stays the kernel's (the
client through shunt is refused); an AF_INET6 client reaches ::ffff:PEER through
shunt, and ::ffff:127.0.0.1 through the kernel.

TCP_DEFER_ACCEPT and TCP_FASTOPEN on a shunt listener read back as Linux and are
said, under SHUNT_LOG, to be kept but not applied."""

import os
import re
import time

from netbed import BUILD, HERE, PEER_IP, PYTHON, STACK_IP, Bed, main

PEERS = os.path.join(HERE, "peers.py")
N = 500
CONNS = 4


def serve(bed, mode, host, port):
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, mode, host, str(port)]),
                    "%s-%s" % (mode, host))
    bed.wait_reachable(port, srv)
    for client in ("sync", "async"):
        r = bed.run(bed.peer, [PYTHON, PEERS, "client", client, STACK_IP, str(port), str(N),
                               str(CONNS)], timeout=60)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == "%s: %d ok" % (client, N * CONNS),
                  "%s client of %s on %s:%d: exit %d, %r\n%s" % (
                      client, mode, host, port, r.returncode, out,
                      r.stderr.decode(errors="replace")))
        print("%s server on %s:%d, kernel %s client: %s" % (mode, host, port, client, out))
    if host == "0.0.0.0":
        # 0.0.0.0 is the kernel's addresses too: a loopback client in the app
        # namespace (no shunt) reaches the same server through its placeholder
        r = bed.run(bed.app, [PYTHON, PEERS, "client", "sync", "127.0.0.1", str(port), "100",
                              "2"], timeout=30)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == "sync: 200 ok",
                  "loopback client of %s on 0.0.0.0:%d: exit %d, %r\n%s" % (
                      mode, port, r.returncode, out, r.stderr.decode(errors="replace")))
        print("%s server on 0.0.0.0:%d, loopback client: %s" % (mode, port, out))
    bed.check(srv.alive(), "%s died" % srv.name)


def http_server(bed):
    """python3 -m http.server (socketserver: poll() on the listener) on 0.0.0.0:
    one file fetched through shunt by a kernel curl and through loopback."""
    port = 7303
    body = os.urandom(100000)
    with open(os.path.join(bed.tmp, "f"), "wb") as f:
        f.write(body)
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-m", "http.server", str(port),
                                             "--bind", "0.0.0.0", "--directory", bed.tmp]),
                    "http.server")
    bed.wait_reachable(port, srv)
    for ns, host in ((bed.peer, STACK_IP), (bed.app, "127.0.0.1")):
        out = os.path.join(bed.tmp, "got-" + host)
        r = bed.run(ns, ["curl", "-sS", "-o", out, "http://%s:%d/f" % (host, port)],
                    timeout=30)
        with open(out, "rb") as f:
            got = f.read()
        bed.check(r.returncode == 0 and got == body, "http.server via %s: curl exit %d, "
                  "%d of %d bytes right\n%s" % (host, r.returncode, len(got), len(body),
                                                r.stderr.decode(errors="replace")))
        print("http.server on 0.0.0.0:%d: 100 kB fetched via %s" % (port, host))


BIND = ("import errno,socket,sys\n"
        "r=[]\n"
        "for t,p in ((socket.SOCK_STREAM,81),(socket.SOCK_DGRAM,53),(socket.SOCK_STREAM,8081)):\n"
        "  s=socket.socket(socket.AF_INET,t)\n"
        "  try:\n"
        "    s.bind((sys.argv[1],p)); r.append('ok')\n"
        "  except OSError as e:\n"
        "    r.append(errno.errorcode[e.errno])\n"
        "print(' '.join(r))\n")


def privileged_ports(bed):
    # nobody must reach the control socket (0666) through the bed's directory
    os.chmod(bed.tmp, 0o711)
    for who, pre, want in (("nobody", ["setpriv", "--reuid=65534", "--regid=65534",
                                       "--clear-groups"], "EACCES EACCES ok"),
                           ("root", [], "ok ok ok")):
        r = bed.run_shunt(pre + [PYTHON, "-c", BIND, STACK_IP], timeout=15)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == want,
                  "%s binding %s on TCP 81, UDP 53, TCP 8081: %r, want %r\n%s"
                  % (who, STACK_IP, out, want, r.stderr.decode(errors="replace")))
        print("%s binds %s on TCP 81, UDP 53, TCP 8081: %s" % (who, STACK_IP, out))


def wrk_client(bed):
    srv = bed.spawn(bed.peer, [PYTHON, "-m", "http.server", "8088", "--bind", PEER_IP,
                               "--directory", bed.tmp], "http")
    bed.wait_port(bed.peer, 8088, proc=srv)
    r = bed.run_shunt(["wrk", "-t1", "-c4", "-d1s", "http://%s:8088/" % PEER_IP], timeout=30)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"(\d+) requests in", out)
    bed.check(r.returncode == 0 and m and int(m.group(1)) > 0 and "Socket errors" not in out,
              "wrk -c4 under shunt:\n%s\n%s" % (out, r.stderr.decode(errors="replace")))
    print("wrk -t1 -c4 under shunt: %s requests, no socket error" % m.group(1))


LINGER = ("import socket,struct,sys,time\n"
          "def close_time(port, linger):\n"
          "  s=socket.create_connection((sys.argv[1],port))\n"
          "  if linger: s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,2))\n"
          "  s.setblocking(False)\n"
          "  try:\n"
          "    while True: s.send(b'x'*65536)\n"
          "  except BlockingIOError: pass\n"
          "  s.setblocking(True)\n"
          "  t=time.monotonic(); s.close(); return time.monotonic()-t\n"
          "print('%.2f %.2f %.2f' % (close_time(int(sys.argv[2]),True),\n"
          "      close_time(int(sys.argv[3]),True), close_time(int(sys.argv[2]),False)))\n")


def linger(bed):
    """SO_LINGER {1, 2 s} as socket(7) says: close() waits until the data is
    acknowledged, or 2 s: a peer that never reads keeps it the full 2 s, one that
    reads lets it return at once; without SO_LINGER close() never waits."""
    hold = bed.spawn(bed.peer, [PYTHON, PEERS, "hold", PEER_IP, "7310"], "hold")
    sink = bed.spawn(bed.peer, [PYTHON, PEERS, "sink", PEER_IP, "7311"], "sink")
    bed.wait_port(bed.peer, 7310, proc=hold)
    bed.wait_port(bed.peer, 7311, proc=sink)
    r = bed.run_shunt([PYTHON, "-c", LINGER, PEER_IP, "7310", "7311"], timeout=30)
    out = r.stdout.decode(errors="replace").split()
    ok = r.returncode == 0 and len(out) == 3
    held, drained, plain = (float(x) for x in out) if ok else (0, 0, 0)
    bed.check(ok and 1.8 <= held <= 3.0 and drained < 1.5 and plain < 0.5,
              "lingering close: %r (want ~2 s with a peer that does not read, less with "
              "one that does, none without SO_LINGER)\n%s"
              % (out, r.stderr.decode(errors="replace")))
    print("SO_LINGER 2 s: close() %.2f s (peer not reading), %.2f s (peer reading), "
          "%.2f s without" % (held, drained, plain))


UDP_PROBE = ("import socket,sys,time\n"
             "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); u.settimeout(0.2)\n"
             "end=time.monotonic()+10\n"
             "while True:\n"
             "  u.sendto(b'probe',(sys.argv[1],int(sys.argv[2])))\n"
             "  try:\n"
             "    if u.recv(64)==b'probe': break\n"
             "  except OSError: pass\n"
             "  if time.monotonic()>end: sys.exit('no answer')\n")


# A UDP socket on 0.0.0.0 with IP_PKTINFO (as dnsmasq): a loopback datagram must
# come with its IP_PKTINFO control message, as from Linux.
PKTINFO = ("import socket,struct\n"
           "IP_PKTINFO=8  # linux/in.h (the socket module of this Python has no name for it)\n"
           "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
           "u.setsockopt(socket.IPPROTO_IP,IP_PKTINFO,1); u.bind(('0.0.0.0',7360))\n"
           "c=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); c.sendto(b'q',('127.0.0.1',7360))\n"
           "d,anc,fl,src=u.recvmsg(64,256)\n"
           "info=[a for l,t,a in anc if l==socket.IPPROTO_IP and t==IP_PKTINFO]\n"
           "print(d.decode(), socket.inet_ntoa(info[0][8:12]) if info else 'none')\n")


def udp_server(bed):
    """UDP servers on 0.0.0.0 under shunt (epoll, recvfrom, sendto): the echo
    answers a kernel client through shunt and a loopback client through its
    placeholder, every datagram compared with its source; a DNS server answers
    dig through shunt."""
    port, dport = 7320, 7353
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "udpecho", "0.0.0.0", str(port)]),
                    "udpecho")
    dns = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "dns", "0.0.0.0", str(dport)]),
                    "dns")
    r = bed.run(bed.peer, [PYTHON, "-c", UDP_PROBE, STACK_IP, str(port)], timeout=15)
    bed.check(r.returncode == 0 and srv.alive(), "the UDP echo under shunt never answered: %s"
              % r.stderr.decode(errors="replace"))
    for ns, host in ((bed.peer, STACK_IP), (bed.app, "127.0.0.1")):
        r = bed.run(ns, [PYTHON, PEERS, "udpclient", host, str(port), "300"], timeout=30)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == "udp: 300 ok", "UDP echo on 0.0.0.0 via %s: "
                  "%r\n%s" % (host, out, r.stderr.decode(errors="replace")))
        print("UDP echo server on 0.0.0.0:%d, client via %s: %s" % (port, host, out))
    r = bed.run(bed.peer, ["dig", "@" + STACK_IP, "-p", str(dport), "+tries=5", "+time=1",
                           "+short", "shunt.test"], timeout=30)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out == "0.0.0.0" and dns.alive(),
              "dig against the DNS server under shunt: %r\n%s" % (
                  out, r.stderr.decode(errors="replace")))
    print("DNS server on 0.0.0.0:%d under shunt answered dig: %s" % (dport, out))
    r = bed.run_shunt([PYTHON, "-c", PKTINFO], timeout=15)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out == "q 127.0.0.1", "IP_PKTINFO on a loopback datagram "
              "to a UDP socket on 0.0.0.0 under shunt: %r\n%s"
              % (out, r.stderr.decode(errors="replace")))
    print("UDP on 0.0.0.0 under shunt, loopback datagram with IP_PKTINFO: %s" % out)


def accept_signal(bed):
    """A blocking accept() on a 0.0.0.0 listener (both queues: its sleep is a
    ppoll) cut by SIGALRM: restarted under SA_RESTART (then a client through shunt
    is accepted), EINTR without, as Linux."""
    for i, (mode, want) in enumerate((("restart", "accepted"), ("eintr", "accept: EINTR"))):
        port = 7330 + i
        prog = bed.spawn(bed.app, bed.shunt_argv([os.path.join(BUILD, "tests", "integration",
                                                              "acceptsig"), str(port), mode]),
                         "acceptsig-" + mode)
        out = os.path.join(bed.tmp, "acceptsig-%s.out" % mode)
        deadline = time.monotonic() + 10
        while True:  # until the handler ran (its "sig" line) or the program ended
            with open(out) as f:
                text = f.read()
            if "sig" in text or not prog.alive() or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if mode == "restart":
            c = bed.run(bed.peer, [PYTHON, "-c", "import socket,sys; socket.create_connection("
                                   "(sys.argv[1], int(sys.argv[2])), timeout=5).close()",
                                   STACK_IP, str(port)], timeout=15)
            bed.check(c.returncode == 0, "could not connect to acceptsig")
        rc = prog.wait(10)
        with open(out) as f:
            lines = f.read().split("\n")
        bed.check(rc == 0 and "sig" in lines and want in lines,
                  "accept() cut by a signal (%s): %r, want %r" % (mode, lines, want))
        print("blocking accept on 0.0.0.0 cut by SIGALRM (%s): %s" % (mode, want))


# a listener with backlog 4 that echoes, under shunt
SMALL_BACKLOG = ("import socket,sys,threading\n"
                 "l=socket.socket(); l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                 "l.bind(('0.0.0.0',int(sys.argv[1]))); l.listen(4)\n"
                 "def serve(c):\n"
                 "  with c:\n"
                 "    while True:\n"
                 "      b=c.recv(65536)\n"
                 "      if not b: return\n"
                 "      c.sendall(b)\n"
                 "while True:\n"
                 "  c,_=l.accept(); threading.Thread(target=serve,args=(c,),daemon=True).start()\n")


def syn_flood(bed):
    """SYN cookies, as Linux's tcp_syncookies=1: 2,000 spoofed SYNs fill a
    backlog-4 listener's half-open queue (their SYN-ACKs are never answered), and
    kernel clients connecting meanwhile are still served, through cookies."""
    port = 7340
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", SMALL_BACKLOG, str(port)]),
                    "small-backlog")
    bed.wait_reachable(port, srv)
    r = bed.run(bed.peer, [PYTHON, os.path.join(HERE, "synflood.py"), STACK_IP, str(port),
                           "2000"], timeout=30)
    bed.check(r.returncode == 0, "synflood: %s" % r.stderr.decode(errors="replace"))
    r = bed.run(bed.peer, [PYTHON, PEERS, "client", "sync", STACK_IP, str(port), "50", "8"],
                timeout=30)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out == "sync: 400 ok",
              "clients during a SYN flood: %r\n%s" % (out, r.stderr.decode(errors="replace")))
    counters = bed.counters()
    sent = re.search(r"tcp_syncookies_sent\s+(\d+)", counters)
    ok = re.search(r"tcp_syncookies_ok\s+(\d+)", counters)
    bed.check(sent and ok and int(ok.group(1)) >= 1,
              "the clients were not served through SYN cookies:\n%s" % counters)
    print("SYN flood of 2,000 on a backlog-4 listener: 8 clients served, %s cookies sent, "
          "%s accepted" % (sent.group(1), ok.group(1)))


# a listener with SO_REUSEPORT on 0.0.0.0 that answers each connection with its name
REUSEPORT_SERVER = ("import socket,sys\n"
                    "l=socket.socket(); l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEPORT,1)\n"
                    "l.bind(('0.0.0.0',int(sys.argv[1]))); l.listen(64)\n"
                    "print('listening',flush=True)\n"
                    "while True:\n"
                    "  c,_=l.accept(); c.sendall(sys.argv[2].encode()); c.close()\n")
REUSEPORT_CLIENT = ("import socket,sys,collections\n"
                    "n=collections.Counter()\n"
                    "for i in range(int(sys.argv[3])):\n"
                    "  s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5)\n"
                    "  n[s.recv(16).decode()]+=1; s.close()\n"
                    "print(' '.join('%s=%d'%kv for kv in sorted(n.items())))\n")


def reuseport(bed):
    """SO_REUSEPORT: two server processes under shunt listen on one port; 60
    clients through shunt are shared between them (each gets some)."""
    port = 7350
    procs = []
    for name in ("A", "B"):
        p = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", REUSEPORT_SERVER, str(port), name]),
                      "reuseport-" + name)
        out = os.path.join(bed.tmp, "reuseport-%s.out" % name)
        deadline = time.monotonic() + 10
        while "listening" not in open(out).read() and p.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        bed.check(p.alive(), "reuseport server %s: %s" % (name, open(
            os.path.join(bed.tmp, "reuseport-%s.err" % name)).read()))
        procs.append(p)
    r = bed.run(bed.peer, [PYTHON, "-c", REUSEPORT_CLIENT, STACK_IP, str(port), "60"], timeout=30)
    out = r.stdout.decode(errors="replace").strip()
    got = dict(kv.split("=") for kv in out.split()) if r.returncode == 0 else {}
    bed.check(set(got) == {"A", "B"} and sum(int(v) for v in got.values()) == 60,
              "60 connections to two SO_REUSEPORT listeners: %r\n%s"
              % (out, r.stderr.decode(errors="replace")))
    print("SO_REUSEPORT, two listeners under shunt, 60 connections: %s" % out)


# An AF_INET6 listener under shunt (argv: port v6only): one line per connection,
# "peer|sockname|peername", after echoing what the client sent upper-cased.
V6_SERVER = r"""
import socket, sys
port, v6only = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
s.bind(("::", port)); s.listen(16)
print("listening %s|%d" % s.getsockname()[:2], flush=True)
while True:
    c, a = s.accept()
    c.sendall(c.recv(100).upper())
    print("%s|%s|%s" % (a[0], c.getsockname()[0], c.getpeername()[0]), flush=True)
    c.close()
"""
V6_CLIENT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
    c.sendall(b"hello"); print(c.recv(100).decode())
except OSError as e:
    print(type(e).__name__)
"""


def ipv6_dual(bed):
    """AF_INET6 sockets: a dual-stack listener on [::] is served by shunt for
    IPv4 (mapped) and by its placeholder for the kernel's addresses."""
    port = 7410
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", V6_SERVER, str(port), "0"]), "v6srv")
    bed.wait_port(bed.app, port, proc=srv, proto="tcp")
    for ns, host in ((bed.peer, STACK_IP), (bed.app, "127.0.0.1"), (bed.app, "::1")):
        r = bed.run(ns, [PYTHON, "-c", V6_CLIENT, host, str(port)], timeout=15)
        bed.check(r.stdout.decode().strip() == "HELLO", "client via %s of the [::] listener "
                  "under shunt: %r %s" % (host, r.stdout, r.stderr.decode(errors="replace")))
    with open(os.path.join(bed.tmp, "v6srv.out")) as f:
        got = f.read().splitlines()
    want = ["listening ::|%d" % port,
            "::ffff:%s|::ffff:%s|::ffff:%s" % (PEER_IP, STACK_IP, PEER_IP),
            "::ffff:127.0.0.1|::ffff:127.0.0.1|::ffff:127.0.0.1", "::1|::1|::1"]
    bed.check(got == want, "[::] listener names: %r, want %r" % (got, want))
    print("[::] listener under shunt: clients via %s, 127.0.0.1 and ::1 served, "
          "names %s" % (STACK_IP, got[1:]))
    # An AF_INET6 client under shunt to an IPv4-mapped address shunt does not
    # serve (loopback): the kernel's, with the caller's own address length.
    r = bed.run_shunt([PYTHON, "-c", V6_CLIENT, "::ffff:127.0.0.1", str(port)], timeout=15)
    bed.check(r.stdout.decode().strip() == "HELLO", "AF_INET6 client under shunt to "
              "::ffff:127.0.0.1: %r %s" % (r.stdout, r.stderr.decode(errors="replace")))
    # IPV6_V6ONLY: no IPv4 at all, so nothing for shunt: the kernel's (refused).
    only = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", V6_SERVER, str(port + 1), "1"]),
                     "v6only")
    bed.wait_port(bed.app, port + 1, proc=only, proto="tcp")
    r = bed.run(bed.peer, [PYTHON, "-c", V6_CLIENT, STACK_IP, str(port + 1)], timeout=15)
    bed.check(r.stdout.decode().strip() == "ConnectionRefusedError",
              "an IPV6_V6ONLY listener under shunt reached through shunt: %r" % r.stdout)
    # An AF_INET6 client to an IPv4-mapped address goes through shunt.
    echo = bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(port + 2)], "v6echo")
    bed.wait_port(bed.peer, port + 2, proc=echo)
    r = bed.run_shunt([PYTHON, "-c", "import socket; c = socket.socket(socket.AF_INET6); "
                       "c.connect(('::ffff:%s', %d)); c.sendall(b'x6'); "
                       "print(c.getsockname()[0], c.getpeername()[0], c.recv(8).decode())"
                       % (PEER_IP, port + 2)], timeout=15)
    out = r.stdout.decode().strip()
    bed.check(out == "::ffff:%s ::ffff:%s x6" % (STACK_IP, PEER_IP),
              "AF_INET6 client to ::ffff:%s under shunt: %r %s"
              % (PEER_IP, out, r.stderr.decode(errors="replace")))
    print("AF_INET6 client under shunt to ::ffff:%s: %s" % (PEER_IP, out))


def unapplied_listener_opts(bed):
    """TCP_DEFER_ACCEPT and TCP_FASTOPEN on a shunt listener are kept (read back as
    Linux) but not applied, and the shim says so under SHUNT_LOG."""
    prog = ("import socket\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)\n"
            "s.bind(('0.0.0.0', 7420)); s.listen(8)\n"
            "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 16)\n"
            "print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT),\n"
            "      s.getsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN))\n")
    r = bed.run_shunt([PYTHON, "-c", prog], env=dict(os.environ, SHUNT_LOG="warn"),
                      timeout=15)
    err = r.stderr.decode(errors="replace")
    # IPPROTO_TCP is 6; TCP_DEFER_ACCEPT 9, TCP_FASTOPEN 23 (linux/tcp.h)
    bed.check(r.returncode == 0 and r.stdout.decode().split() == ["7", "16"] and
              "level 6 name 9 is kept but not applied" in err and
              "level 6 name 23 is kept but not applied" in err,
              "TCP_DEFER_ACCEPT/TCP_FASTOPEN on a listener under shunt: %r\n%s"
              % (r.stdout, err))
    print("TCP_DEFER_ACCEPT and TCP_FASTOPEN on a shunt listener: read back %s, "
          "said under SHUNT_LOG" % r.stdout.decode().split())


# a server that closes first (its side of each connection goes to TIME_WAIT)
CLOSE_FIRST = ("import socket,sys\n"
               "l=socket.socket(); l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
               "l.bind(('0.0.0.0',int(sys.argv[1]))); l.listen(8)\n"
               "while True:\n"
               "  c,_=l.accept(); c.sendall(b'hi'); c.close()\n")

# a kernel client that connects from one fixed port N times in a row, each after
# the server closed the previous connection first; prints the SYN retransmissions
# of each (tcpi_total_retrans, offset 100 of struct tcp_info). The client's FIN
# leaves it in LAST_ACK until shunt's ACK is in, and a connect from the port
# before that fails with EADDRNOTAVAIL (Linux against Linux too): it waits for
# tcpi_state CLOSE (7) first.
SAME_PORT_CLIENT = ("import socket,struct,sys,time\n"
                    "out=[]\n"
                    "for i in range(int(sys.argv[4])):\n"
                    "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                    "  s.bind(('0.0.0.0',int(sys.argv[3])))\n"
                    "  s.connect((sys.argv[1],int(sys.argv[2])))\n"
                    "  i=s.getsockopt(socket.IPPROTO_TCP,socket.TCP_INFO,104)\n"
                    "  assert s.recv(2)==b'hi'; assert s.recv(1)==b''\n"
                    "  out.append(struct.unpack_from('I',i,100)[0]); s.shutdown(socket.SHUT_WR)\n"
                    "  end=time.monotonic()+10\n"
                    "  while s.getsockopt(socket.IPPROTO_TCP,socket.TCP_INFO,1)[0]!=7:\n"
                    "    assert time.monotonic()<end, 'LAST_ACK for 10 s'; time.sleep(0.001)\n"
                    "  s.close()\n"
                    "print(*out)\n")


def time_wait_reuse(bed):
    """A client that reconnects from the same port while the server (under shunt,
    which closed first) holds the old 4-tuple in TIME_WAIT is taken at once, as
    Linux takes it (tcp_timewait_state_process: a SYN beyond the old sequence
    space): every connect on its first SYN."""
    port = 7344
    srv = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", CLOSE_FIRST, str(port)]),
                    "close-first")
    bed.wait_reachable(port, srv)
    r = bed.run(bed.peer, [PYTHON, "-c", SAME_PORT_CLIENT, STACK_IP, str(port), "45123", "5"],
                timeout=30)
    out = r.stdout.decode().split()
    bed.check(r.returncode == 0 and out == ["0"] * 5,
              "reconnects from one port over TIME_WAIT: SYN retransmissions %r\n%s"
              % (out, r.stderr.decode(errors="replace")))
    m = re.search(r"tcp_tw_reused\s+(\d+)", bed.counters())
    bed.check(m is not None and int(m.group(1)) >= 4,
              "shuntd did not reuse TIME_WAIT for the new SYNs: %s" % (m and m.group(1)))
    print("5 connects from one client port over the server's TIME_WAIT: each on its "
          "first SYN, %s TIME_WAIT reuses" % m.group(1))


def test():
    with Bed("server") as bed:
        time_wait_reuse(bed)
        unapplied_listener_opts(bed)
        ipv6_dual(bed)
        reuseport(bed)
        syn_flood(bed)
        accept_signal(bed)
        udp_server(bed)
        privileged_ports(bed)
        wrk_client(bed)
        linger(bed)
        serve(bed, "echo", "0.0.0.0", 7300)
        serve(bed, "echo", STACK_IP, 7301)
        serve(bed, "aecho", "0.0.0.0", 7302)
        http_server(bed)
        counters = bed.counters()
        m = re.search(r"tcp_conn_accepted\s+(\d+)", counters)
        # 3 servers x 2 clients x CONNS, plus one probe per server
        bed.check(m is not None and int(m.group(1)) >= 3 * (2 * CONNS + 1),
                  "shuntd did not accept the connections:\n%s" % counters)


if __name__ == "__main__":
    main(test, "server")
