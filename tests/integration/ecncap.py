#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""ecncap: tcpcap.py's packets with the whole TCP flags byte (ECE 0x40, CWR 0x80)
as "tcpflags" and a large socket buffer, so a burst of a few hundred segments is
not lost while Python prints (test_ecn checks every segment).

    ip netns exec NS python3 ecncap.py IFACE
"""

import json
import socket
import sys

import tcpcap

SO_RCVBUFFORCE = 33


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(tcpcap.ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    s.bind((sys.argv[1], 0))
    print("ready", flush=True)
    while True:
        frame, addr = s.recvfrom(65536)
        p = tcpcap.packet(frame, addr[2] == tcpcap.PACKET_OUTGOING)
        if p is not None:
            ihl = (frame[14] & 0xf) * 4
            p["tcpflags"] = frame[14 + ihl + 13]
            p["ack"] = int.from_bytes(frame[14 + ihl + 8:14 + ihl + 12], "big")
            print(json.dumps(p), flush=True)


if __name__ == "__main__":
    main()
