#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""connect_udp: UDP sockets through shunt behave as through the kernel (issue 3):
unconnected sendto/recvfrom/sendmsg/recvmsg, bind, ephemeral ports, connect storing
and filtering the peer, re-connect, AF_UNSPEC, ICMP port unreachable."""

from diffbed import NOROUTE_IP, UCLOSED, UECHO, UECHO2, Case, run_differential
from netbed import PEER_IP, STACK_IP, main

P = PEER_IP

CASES = [
    Case("udp_unconnected", ["udp_unconn", P, UECHO]),
    Case("udp_bind_port", ["udp_unconn", P, UECHO, "bindaddr=0.0.0.0", "bindport=41400"]),
    Case("udp_bind_stack_port0", ["udp_unconn", P, UECHO, "bindaddr=" + STACK_IP,
                                  "bindport=0"]),
    Case("udp_connected", ["udp_conn", P, UECHO, "port2=%d" % UECHO2]),
    Case("udp_connect_port0", ["udp_port0", P, UECHO]),
    Case("udp_refused_connected", ["udp_refused", P, UCLOSED]),
    Case("udp_refused_unconnected", ["udp_refused", P, UCLOSED, "connected=0"]),
    Case("udp_netunreach", ["udp_refused", NOROUTE_IP, UECHO]),
]


def test():
    run_differential("connect_udp", CASES)


if __name__ == "__main__":
    main(test, "connect_udp")
