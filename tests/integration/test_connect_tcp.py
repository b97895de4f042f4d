#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""connect_tcp: TCP connect() through shunt behaves as through the kernel (issue 3).

Every case runs conncheck once in the kernel world and once through shunt
(diffbed.py); return values, errno, poll/select/epoll flags, SO_ERROR, socket
names and durations must agree. The slow cases (timeouts, ARP, signals) run all at
once, so the test takes about the longest of them (7 s) plus setup."""

from diffbed import (BLACKHOLE, CLOSED, ECHO, HOLD, ICMP, NOBODY_IP, NOROUTE_IP,
                     SLOW, Case, run_differential)
from netbed import PEER_IP, STACK_IP, main

P = PEER_IP

CASES = [
    # Outcomes of a blocking connect, and what the socket says afterwards.
    Case("established", ["blocking", P, ECHO, "echo=1", "again=1", "port2=%d" % CLOSED]),
    Case("refused", ["blocking", P, CLOSED, "again=1"]),
    Case("timeout_syncnt1", ["blocking", P, BLACKHOLE, "syncnt=1"], slow=True),
    Case("timeout_syn_retries", ["blocking", P, BLACKHOLE], slow=True),
    Case("user_timeout_1500", ["blocking", P, BLACKHOLE, "utimeo=1500"], slow=True),
    Case("user_timeout_4000", ["blocking", P, BLACKHOLE, "utimeo=4000"], slow=True),
    Case("hostunreach_arp", ["blocking", NOBODY_IP, ECHO], slow=True),
    Case("netunreach", ["blocking", NOROUTE_IP, ECHO]),
    Case("netunreach_nb", ["nonblock", NOROUTE_IP, ECHO, "wait_ms=1000"]),
] + [
    # ICMP destination unreachable quoting the SYN ends the attempt at once.
    Case("icmp_" + t.replace("-", "_"), ["blocking", P, port])
    for t, (port, _) in ICMP.items()
] + [
    Case("icmp_host_nb_epoll", ["nonblock", P, ICMP["host-unreachable"][0],
                                 "wait=epoll", "retry=0"]),
    # Local names: implicit bind, bind() before connect, addresses not ours.
    Case("bind_any_port", ["bind", P, ECHO, "bindaddr=0.0.0.0", "bindport=41234"]),
    Case("bind_any_port0", ["bind", P, ECHO, "bindaddr=0.0.0.0", "bindport=0"]),
    Case("bind_stack_port", ["bind", P, ECHO, "bindaddr=" + STACK_IP, "bindport=41235"]),
    Case("bind_stack_port0", ["bind", P, ECHO, "bindaddr=" + STACK_IP, "bindport=0"]),
    Case("bind_not_ours", ["blocking", P, ECHO, "bindaddr=10.77.0.50", "bindport=0",
                           "echo=1"]),
    # EADDRINUSE, SO_REUSEADDR, a taken 4-tuple.
    Case("inuse_stack", ["inuse", P, ECHO, "bindaddr=" + STACK_IP, "bindport=41300",
                         "port2=%d" % HOLD]),
    Case("inuse_any", ["inuse", P, ECHO, "bindaddr=0.0.0.0", "bindport=41301",
                       "port2=%d" % HOLD]),
    Case("inuse_stack_any", ["inuse", P, ECHO, "bindaddr=" + STACK_IP,
                             "bindaddr2=0.0.0.0", "bindport=41302", "port2=%d" % HOLD]),
    Case("inuse_reuseaddr", ["inuse", P, ECHO, "bindaddr=" + STACK_IP, "bindport=41303",
                             "reuse=1", "port2=%d" % HOLD]),
    # Argument errors on a fresh, a connected and a failed socket; EBADF, ENOTSOCK.
    Case("args", ["args", P, ECHO, "closed=%d" % CLOSED]),
    # The non-blocking protocol and readiness.
    Case("nb_ok_poll", ["nonblock", P, ECHO, "wait=poll"]),
    Case("nb_ok_select", ["nonblock", P, ECHO, "wait=select"]),
    Case("nb_ok_epoll", ["nonblock", P, ECHO, "wait=epoll"]),
    Case("nb_refused_poll", ["nonblock", P, CLOSED, "wait=poll"]),
    Case("nb_refused_select", ["nonblock", P, CLOSED, "wait=select"]),
    Case("nb_refused_epoll", ["nonblock", P, CLOSED, "wait=epoll"]),
    Case("nb_refused_no_soerr", ["nonblock", P, CLOSED, "soerr=0"]),
    Case("nb_pending", ["nonblock", P, BLACKHOLE, "alr=1", "syncnt=1", "wait_ms=500"],
         slow=True),
    # Timeouts and signals.
    Case("sndtimeo", ["blocking", P, BLACKHOLE, "sndtimeo=1000", "syncnt=1", "again=1"],
         slow=True),
    Case("eintr", ["signal", P, SLOW[0], "itimer_ms=300"], slow=True),
    Case("sa_restart", ["signal", P, SLOW[1], "itimer_ms=300", "restart=1"], slow=True),
    Case("eintr_then_nonblock", ["signal", P, BLACKHOLE, "syncnt=1", "nb_after=1"],
         slow=True),
    Case("eintr_then_timeout", ["signal", P, BLACKHOLE, "syncnt=1"], slow=True),
    # AF_UNSPEC, listening socket.
    Case("unspec", ["unspec", P, ECHO]),
    Case("listening", ["listen", P, ECHO]),
    # Ephemeral ports exhausted for one destination only (alone: it uses them all).
    Case("ports_exhausted", ["exhaust", P, HOLD, "n=70", "port2=%d" % ECHO],
         exclusive=True),
]


def test():
    run_differential("connect_tcp", CASES)


if __name__ == "__main__":
    main(test, "connect_tcp")
