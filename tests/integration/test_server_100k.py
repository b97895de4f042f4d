#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""server_100k: one shuntd holds 100,000 concurrent connections.

SERVERS epoll echo servers (stress_peer echo, PORTS_PER ports each) run under
shunt on one shuntd; for each, a stress_sockets on the kernel in the peer
namespace opens its share of SERVER_100K_CONNS connections (100,000 by default:
8 x 12,500; a process holds one descriptor per connection on either side, and
here root cannot raise RLIMIT_NOFILE's hard limit of 20,000 without
CAP_SYS_RESOURCE), echoes an 8-byte token on each (every byte compared) and holds
them all. The test then reads shuntd's counters (SIGUSR1: its control blocks must
be the connections plus the listeners) and the memory from /proc: shuntd's VmRSS,
of which anonymous (its own structures) and of which the shared regions (every
server's, mapped in shuntd too), and each server's VmRSS and region Rss; once
right after the echoes, once the idle connections' rings have been given back
(shuntd punches the rings of a socket idle for a second). Then the clients close
everything, and shuntd must come back to where it was before them: only the
listeners' control blocks, each server holding only its listeners' slots. Memory
and times are printed (for the notes), never judged.

The clients go SERVER_100K_BURST (100) sockets at a time (stress_sockets
burst=N): each opens them, exchanges its tokens, and closes them (shutdown, the
server's EOF, close) by that many, so the 8 of them have at most about 1,600
segments in flight toward shuntd. The tap is this bed's NIC, and its queue
toward shuntd gets 10,000 packets instead of 1,000: with 17 busy processes on 2
cores, shuntd is sometimes off its core for milliseconds, and what overflows the
queue is dropped and waits for a retransmission timeout (the test then takes
minutes instead of seconds). The peer's kernel gets the whole ephemeral range
(1024-65535).
"""

import os
import re
import signal
import time

from netbed import BUILD, STACK_IP, Bed, counter, main, proc_kb, region_rss_kb, sh

PORTBASE = 9400
SERVERS = 8
PORTS_PER = 2
CONNS = int(os.environ.get("SERVER_100K_CONNS", "100000"))
BURST = int(os.environ.get("SERVER_100K_BURST", "100"))
TAP_QUEUE = 10000
BIN = os.path.join(BUILD, "tests", "integration")


def slots_in_use(text, pid):
    m = re.search(r"^app pid %d: .* (\d+)/\d+ sockets in use" % pid, text, re.M)
    return int(m.group(1)) if m else -1


def shuntd_memory(bed):
    """(VmRSS, anonymous, shared regions) of shuntd, kB."""
    pid = bed.shuntd.pid
    return proc_kb(pid, "VmRSS"), proc_kb(pid, "RssAnon"), region_rss_kb(pid)


def report(bed, servers, when, base=None, conns=0):
    rss, anon, regions = shuntd_memory(bed)
    print("  %s: shuntd VmRSS %d kB (anonymous %d kB, shared regions %d kB)"
          % (when, rss, anon, regions))
    if base is not None and conns:
        print("    per connection over the servers' listeners alone: shuntd anonymous "
              "%d B, shared regions %d B"
              % ((anon - base[1]) * 1024 // conns, (regions - base[2]) * 1024 // conns))
    for srv in servers:
        print("    %s (pid %d): VmRSS %d kB, shared region Rss %d kB"
              % (srv.name, srv.pid, proc_kb(srv.pid, "VmRSS"), region_rss_kb(srv.pid)))
    return regions


def wait_all(bed, procs, cond, timeout, what):
    """Until cond(text of proc's stdout) holds for every proc; one that exited
    without it fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        texts = []
        for p in procs:
            alive = p.alive()  # before reading: what it wrote before exiting is there
            with open(p.out) as f:
                texts.append(f.read())
            bed.check(alive or cond(texts[-1]), "%s: %s exited (status %s):\n%s"
                      % (what, p.name, p.popen.returncode, texts[-1][-2000:]))
        if all(cond(t) for t in texts):
            return texts
        bed.check(time.monotonic() < deadline,
                  "%s within %d s:\n%s" % (what, timeout, "\n".join(
                      "--- %s:\n%s" % (p.name, t[-2000:]) for p, t in zip(procs, texts))))
        time.sleep(0.2)


def settle(bed, timeout=10):
    """Until the shared regions' Rss in shuntd stops falling for a second."""
    last, since = region_rss_kb(bed.shuntd.pid), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline and time.monotonic() - since < 1:
        time.sleep(0.2)
        now = region_rss_kb(bed.shuntd.pid)
        if now < last:
            last, since = now, time.monotonic()


def test():
    share = CONNS // SERVERS
    total = share * SERVERS
    listeners = SERVERS * PORTS_PER
    with Bed("server-100k") as bed:
        sh(["ip", "netns", "exec", bed.peer, "sysctl", "-q", "-w",
            "net.ipv4.ip_local_port_range=1024 65535"])
        sh(["ip", "-n", bed.peer, "link", "set", "dev", bed.tap, "txqueuelen",
            str(TAP_QUEUE)])
        servers, clients = [], []
        for i in range(SERVERS):
            ports = [str(PORTBASE + PORTS_PER * i + j) for j in range(PORTS_PER)]
            srv = bed.spawn(bed.app, bed.shunt_argv([os.path.join(BIN, "stress_peer"),
                                                     "echo", "0.0.0.0"] + ports),
                            "echo%d" % i)
            for p in ports:  # its placeholders listen too: the kernel shows the ports
                bed.wait_port(bed.app, int(p), proc=srv)
            servers.append(srv)
        text = bed.counters()
        bed.check(counter(text, "tcp_tcbs") == listeners,
                  "before the clients, want %d control blocks (the listeners):\n%s"
                  % (listeners, text))
        base = shuntd_memory(bed)

        t0 = time.monotonic()
        for i in range(SERVERS):
            clients.append(bed.spawn(bed.peer, [
                os.path.join(BIN, "stress_sockets"), STACK_IP, str(PORTBASE + PORTS_PER * i),
                str(PORTS_PER), str(share), str(share), "hold", "burst=%d" % BURST],
                "clients%d" % i))
        wait_all(bed, clients, lambda t: "holding" in t, 60,
                 "the clients did not all hold their %d connections" % share)
        t_open = time.monotonic() - t0
        text = bed.counters()
        tcbs = counter(text, "tcp_tcbs")
        print("%d servers under shunt hold %d connections each, %d in all: opened and "
              "echoed in %.1f s; shuntd has %d control blocks in %d buckets, %d "
              "retransmissions" % (SERVERS, share, total, t_open, tcbs,
                                   counter(text, "tcp_buckets"), counter(text, "tcp_rexmit")))
        bed.check(tcbs == total + listeners, "while held, want %d control blocks:\n%s"
                  % (total + listeners, text))
        print("  before the clients: shuntd VmRSS %d kB (anonymous %d kB, shared regions "
              "%d kB)" % base)
        report(bed, servers, "right after the echoes", base, total)
        settle(bed)
        report(bed, servers, "settled (idle rings given back)", base, total)

        t0 = time.monotonic()
        for c in clients:
            os.kill(c.pid, signal.SIGUSR1)
        texts = wait_all(bed, clients, lambda t: "total=" in t, 30,
                         "the clients did not all close")
        for c, out in zip(clients, texts):
            c.wait(10)
            bed.check(c.popen.returncode == 0 and re.search(r"^total=%d .* ok$" % share,
                                                            out, re.M),
                      "%s failed (exit %s):\n%s" % (c.name, c.popen.returncode, out))
        t_close = time.monotonic() - t0
        # Each client saw its server's EOF on every connection before closing; the
        # server's end goes once its FIN is acknowledged: back to the listeners.
        deadline = time.monotonic() + 20
        while True:
            text = bed.counters()
            tcbs = counter(text, "tcp_tcbs")
            used = [slots_in_use(text, srv.pid) for srv in servers]
            if tcbs == listeners and used == [PORTS_PER] * SERVERS:
                break
            bed.check(all(s.alive() for s in servers) and time.monotonic() < deadline,
                      "after the clients closed, want %d control blocks and %d slots "
                      "per server, have %d and %s:\n%s"
                      % (listeners, PORTS_PER, tcbs, used, text))
            time.sleep(0.5)
        print("closed in %.1f s; shuntd back to %d control blocks (the listeners) in %d "
              "buckets, %d retransmissions in all"
              % (t_close, tcbs, counter(text, "tcp_buckets"), counter(text, "tcp_rexmit")))
        settle(bed)
        report(bed, servers, "after the close, settled")
        bed.check(counter(text, "tcp_conn_accepted") >= total,
                  "shuntd accepted %d connections" % counter(text, "tcp_conn_accepted"))


if __name__ == "__main__":
    main(test, "server_100k")
