#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""tcpcap: every IPv4 TCP packet on one interface, as JSON lines on stdout.

    ip netns exec NS python3 tcpcap.py IFACE

An AF_PACKET socket on IFACE (run it in the namespace that owns it) sees what the
kernel sends there ("out") and what arrives ("in"). It prints `ready` once bound,
so nothing sent after that is missed, then one line per packet:

    {"dir": "out", "src": "10.77.0.1", "dst": ..., "sport": .., "dport": ..,
     "seq": .., "df": true, "flags": 2, "tos": 0, "ttl": 64, "len": 0, "win": 64240,
     "opts": [[2, "05b4"], [4, ""], [8, "..."], [1, ""], [3, "07"]]}

opts are the TCP options in wire order as [kind, data hex] (NOP and EOL with no
data). Python 3 standard library only.

Pcap (below) is the other kind of capture: tcpdump writing every whole frame on an
interface to a pcap file, for tshark (capcheck.py):

    with Pcap(bed, bed.peer, bed.tap, path) as cap:
        ...                                 # traffic
    cap.stats                               # {"captured": n, "dropped": n}
"""

import json
import os
import re
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def options(b):
    out, i = [], 0
    while i < len(b):
        kind = b[i]
        if kind in (0, 1):
            out.append([kind, ""])
            i += 1
            if kind == 0:
                break
            continue
        if i + 1 >= len(b) or b[i + 1] < 2 or i + b[i + 1] > len(b):
            out.append([kind, "malformed"])
            break
        out.append([kind, b[i + 2:i + b[i + 1]].hex()])
        i += b[i + 1]
    return out


def packet(frame, outgoing):
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0xf) * 4
    if ip[0] >> 4 != 4 or ip[9] != 6 or len(ip) < ihl + 20:
        return None
    tcp = ip[ihl:]
    off = (tcp[12] >> 4) * 4
    return {
        "dir": "out" if outgoing else "in",
        "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
        "sport": int.from_bytes(tcp[0:2], "big"), "dport": int.from_bytes(tcp[2:4], "big"),
        "seq": int.from_bytes(tcp[4:8], "big"), "df": bool(ip[6] & 0x40),
        "flags": tcp[13] & 0x3f, "tos": ip[1], "ttl": ip[8],
        "len": int.from_bytes(ip[2:4], "big") - ihl - off,
        "win": int.from_bytes(tcp[14:16], "big"), "opts": options(tcp[20:off]),
    }


class Pcap:
    """tcpdump -w PATH on IFACE in netns NS, started and stopped with the block.

    Ready when tcpdump says it listens (so nothing after __enter__ is missed);
    stopped with SIGINT, after which stats holds its counts. A capture whose
    kernel buffer overflowed is incomplete: dropped > 0 says so, and the caller
    decides (a check that proves absence needs every frame)."""

    def __init__(self, bed, ns, iface, path, name="tcpdump", buffer_kb=65536):
        self.bed, self.ns, self.iface, self.path, self.name = bed, ns, iface, path, name
        self.buffer_kb = buffer_kb
        self.proc, self.stats = None, None

    def __enter__(self):
        # -Z root: Debian's tcpdump otherwise drops to user tcpdump, who cannot
        # write into the test's private temp dir.
        self.proc = self.bed.spawn(self.ns, ["tcpdump", "-n", "-i", self.iface, "-s", "0",
                                             "-B", str(self.buffer_kb), "-Z", "root",
                                             "-w", self.path], self.name)
        deadline = time.monotonic() + 10
        while "listening on" not in self._err():
            if not self.proc.alive():
                self.bed.fail("%s exited: %s" % (self.name, self._err()))
            if time.monotonic() > deadline:
                self.bed.fail("%s not listening after 10 s" % self.name)
            time.sleep(0.02)
        return self

    def __exit__(self, et, ev, tb):
        self.stop(check=et is None)
        return False

    def _err(self):
        try:
            with open(self.proc.err) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, check=True):
        if self.proc is None or not self.proc.alive():
            if check:
                self.bed.fail("%s died during the capture: %s" % (self.name, self._err()))
            return None
        self.proc.popen.send_signal(signal.SIGINT)
        rc = self.proc.wait(30)
        err = self._err()
        got = {k: int(m.group(1)) for k in ("captured", "dropped")
               for m in [re.search(r"(\d+) packets? %s" % (
                   "captured" if k == "captured" else "dropped by kernel"), err)] if m}
        if check and (rc != 0 or len(got) != 2 or not os.path.exists(self.path)):
            self.bed.fail("%s did not stop cleanly (exit %s): %s" % (self.name, rc, err))
        self.stats = got
        return got


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((sys.argv[1], 0))
    print("ready", flush=True)
    while True:
        frame, addr = s.recvfrom(65536)
        p = packet(frame, addr[2] == PACKET_OUTGOING)
        if p is not None:
            print(json.dumps(p), flush=True)


if __name__ == "__main__":
    main()
