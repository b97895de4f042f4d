#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""convert: a pcap of what shuntd received (capture.py) into fuzz corpus inputs.

    python3 tests/fuzz/convert.py IN.pcap OUTDIR

One input per exchange: ARP, ICMP echo and other protocols' frames together, each TCP connection (with the
ICMP errors that quote it), UDP (with the ICMP errors that quote it). Each frame
becomes a record of fuzz_rx.c's format (u16 length, delay, ops, frame), rewritten to
what fuzz_stack.h sets up, whose numbers are read from that file:

  * MACs: ours and the peer's; addresses: FUZZ_OUR_IP and FUZZ_PEER_IP;
  * a connection the stack opened: ports FUZZ_CONN_PORT / FUZZ_PEER_PORT, the
    peer's sequence numbers moved to start at FUZZ_IRS, ours (acks, SACK blocks,
    quoted sequence numbers) to FUZZ_ISS, its timestamps to FUZZ_PEER_TSVAL and
    the echo of ours to our clock (ms) at FUZZ_START_US, so it plays against the
    established connection; the record with the peer's FIN also closes ours (FUZZ_APP_CLOSE);
  * a connection to a listener under shunt: port FUZZ_LISTEN_PORT, our sequence
    numbers (acks) and the echo of our timestamps moved to what the harness's
    stack answers the SYN with (tcp_isn() under the fixed secret, recomputed here);
  * UDP to the stack: port FUZZ_UDP_PORT;
  * checksums recomputed (inner IPv4 headers of ICMP errors too).

Every record reads the receive rings (FUZZ_APP_READ) and says the checksums are
good (as they are); the delay is the capture's, in fuzz_rx.c's steps.
Python standard library only.
"""

import ipaddress
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# capture.py's kernel ports, for the inputs' names
NAMES = {9000: "data-sack-fin", 9001: "reset", 9002: "refused", 9003: "icmp-unreach",
         8080: "accept"}
APP_READ, APP_CLOSE, CSUM_GOOD = 0x01, 0x08, 0x80


def constants():
    text = open(os.path.join(HERE, "fuzz_stack.h")).read()
    c = {k: int(v, 0) for k, v in
         re.findall(r"#define (FUZZ_\w+)\s+(0x[0-9a-fA-F]+|\d+)u?(?:ll|ull)?\b", text)}
    c["OUR_MAC"] = bytes([2, 0, 0, 0, 0, 2])
    c["PEER_MAC"] = bytes([2, 0, 0, 0, 0, 1])
    assert "fuzz_our_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 2 } }" in open(
        os.path.join(HERE, "fuzz_stack.c")).read(), "fuzz_stack.c's MACs changed"
    return c


def pcap_frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        yield sec + frac / (1e9 if nano else 1e6), data[off:off + incl]
        off += incl


def siphash24(k0, k1, data):
    """SipHash-2-4 (tcp_isn.c's tcp_isn_siphash) of data under the key (k0, k1)."""
    m64 = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & m64

    v = [0x736f6d6570736575 ^ k0, 0x646f72616e646f6d ^ k1,
         0x6c7967656e657261 ^ k0, 0x7465646279746573 ^ k1]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & m64
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & m64
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & m64
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & m64
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    tail = len(data) & ~7
    for i in range(0, tail, 8):
        m = int.from_bytes(data[i:i + 8], "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    b = (len(data) << 56 | int.from_bytes(data[tail:], "little")) & m64
    v[3] ^= b
    rounds(2)
    v[0] ^= b
    v[2] ^= 0xff
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def tcp_isn(c, laddr, lport, raddr, rport, now_us):
    """tcp_isn.c's RFC 6528 ISN under fuzz_stack.h's secret (addresses as bytes)."""
    h = siphash24(c["FUZZ_ISN_KEY0"], c["FUZZ_ISN_KEY1"],
                  laddr + raddr + struct.pack("!HH", lport, rport))
    return (h + now_us // 4) & 0xffffffff


def csum(b):
    if len(b) & 1:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ip_fix(ip):
    """ip: bytearray of an IPv4 header (and more); recompute the header checksum."""
    hl = (ip[0] & 0xf) * 4
    ip[10:12] = b"\0\0"
    ip[10:12] = struct.pack("!H", csum(bytes(ip[:hl])))


def l4_fix(ip):
    hl = (ip[0] & 0xf) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    l4 = ip[hl:total]
    at = {6: 16, 17: 6}.get(ip[9])
    if at is None or len(l4) < at + 2:
        return
    l4[at:at + 2] = b"\0\0"
    ph = bytes(ip[12:20]) + struct.pack("!BBH", 0, ip[9], len(l4))
    ip[hl + at:hl + at + 2] = struct.pack("!H", csum(ph + bytes(l4)) or 0xffff)


def timestamps(seg):
    """(TSval, TSecr) of a TCP segment, or None."""
    off, i = (seg[12] >> 4) * 4, 20
    while i + 1 < off:
        if seg[i] == 0:
            break
        if seg[i] == 1:
            i += 1
            continue
        if seg[i] == 8 and seg[i + 1] == 10 and i + 10 <= off:
            return struct.unpack("!II", seg[i + 2:i + 10])
        if seg[i + 1] < 2:
            break
        i += seg[i + 1]
    return None


class Conv:
    def __init__(self, c, stack_ip, peer_ip):
        self.c = c
        self.stack_ip, self.peer_ip = stack_ip, peer_ip
        self.our_ip = struct.pack("!I", c["FUZZ_OUR_IP"])
        self.fz_peer_ip = struct.pack("!I", c["FUZZ_PEER_IP"])
        self.flows = {}  # (kernel port, stack port) -> shifts, role

    def addr(self, a):
        if a == self.stack_ip:
            return self.our_ip
        if a == self.peer_ip:
            return self.fz_peer_ip
        return a

    def flow(self, kport, sport, tcp=None):
        """How a TCP flow is rewritten, decided from its first segment we see."""
        key = (kport, sport)
        f = self.flows.get(key)
        if f is None:
            # the stack opened it if its port is an ephemeral one
            f = {"active": sport >= 32768, "peer": None, "ours": None, "ts": None}
            self.flows[key] = f
        if tcp is not None and not f["active"]:
            self.passive(f, kport, tcp)
        if tcp is not None and f["active"] and f["ours"] is None:
            seq, ack = struct.unpack("!II", tcp[4:12])
            flags = tcp[13]
            if flags & 0x12 == 0x12:           # SYN-ACK: the peer's ISN, ack = ISS + 1
                f["peer"] = self.c["FUZZ_IRS"] - seq
                f["ours"] = self.c["FUZZ_ISS"] - (ack - 1)
                ts = timestamps(tcp)
                if ts is not None:             # its clock, and the echo of our SYN's
                    f["ts"] = (self.c["FUZZ_PEER_TSVAL"] - ts[0],
                               self.c["FUZZ_START_US"] // 1000 - ts[1])
            elif flags & 0x10:                 # anything else acking: in window
                f["peer"] = self.c["FUZZ_IRS"] + 1 - seq
                f["ours"] = self.c["FUZZ_ISS"] + 1 - ack
        return f

    def passive(self, f, kport, tcp):
        """A connection to the listener: its SYN is the first record of its input,
        so it arrives FUZZ_START_US + 1 ms (the harness's SYN-ACK) + 1 ms (the
        record's delay) into the run, and our ISS is tcp_isn() of then. The
        peer's first ACK says what our ISS was in the capture, and its TSecr what
        our clock said."""
        seq, ack = struct.unpack("!II", tcp[4:12])
        if tcp[13] & 0x12 == 0x02 and "iss" not in f:
            f["now_us"] = self.c["FUZZ_START_US"] + 1000 + 1000
            f["iss"] = tcp_isn(self.c, self.our_ip, self.c["FUZZ_LISTEN_PORT"],
                               self.fz_peer_ip, kport, f["now_us"])
            f["peer"] = 0
        elif tcp[13] & 0x10 and "iss" in f and f["ours"] is None:
            f["ours"] = f["iss"] - (ack - 1)
            ts = timestamps(tcp)
            if ts is not None:
                f["ts"] = (0, f["now_us"] // 1000 - ts[1])

    def tcp_ports(self, f, kport, sport):
        if f["active"]:
            return self.c["FUZZ_PEER_PORT"], self.c["FUZZ_CONN_PORT"]
        return kport, self.c["FUZZ_LISTEN_PORT"]

    def tcp(self, seg, f):
        """Rewrite seg (a bytearray at the TCP header) in place: ports, numbers."""
        kport, sport = struct.unpack("!HH", seg[0:4])
        seg[0:4] = struct.pack("!HH", *self.tcp_ports(f, kport, sport))
        if f["peer"] is None:
            return
        seq, ack = struct.unpack("!II", seg[4:12])
        seg[4:8] = struct.pack("!I", (seq + f["peer"]) & 0xffffffff)
        if seg[13] & 0x10 and f["ours"] is not None:
            seg[8:12] = struct.pack("!I", (ack + f["ours"]) & 0xffffffff)
        off, i = (seg[12] >> 4) * 4, 20
        while i < off:
            kind = seg[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            ln = seg[i + 1] if i + 1 < off else 0
            if ln < 2:
                break
            if kind == 8 and ln == 10 and f["ts"] is not None:
                v, e = struct.unpack("!II", seg[i + 2:i + 10])
                seg[i + 2:i + 10] = struct.pack("!II", (v + f["ts"][0]) & 0xffffffff,
                                                (e + f["ts"][1]) & 0xffffffff if e else 0)
            if kind == 5:                      # SACK blocks: our sequence space
                for j in range(i + 2, i + ln - 7, 8):
                    l, r = struct.unpack("!II", seg[j:j + 8])
                    seg[j:j + 8] = struct.pack("!II", (l + f["ours"]) & 0xffffffff,
                                               (r + f["ours"]) & 0xffffffff)
            i += ln

    def quoted(self, inner):
        """An ICMP error's quoted packet (ours: stack -> kernel); returns its key."""
        ihl = (inner[0] & 0xf) * 4
        inner[12:16] = self.addr(bytes(inner[12:16]))
        inner[16:20] = self.addr(bytes(inner[16:20]))
        l4 = inner[ihl:]
        key = None
        if inner[9] == 17 and len(l4) >= 4:
            l4[0:2] = struct.pack("!H", self.c["FUZZ_UDP_PORT"])
            key = "udp"
        elif inner[9] == 6 and len(l4) >= 8:
            sport, kport = struct.unpack("!HH", l4[0:4])
            f = self.flow(kport, sport)
            if f["active"] and f["ours"] is None:  # only the quote says where we are
                f["ours"] = self.c["FUZZ_ISS"] + 1 - struct.unpack("!I", l4[4:8])[0]
            a, b = self.tcp_ports(f, kport, sport)
            l4[0:4] = struct.pack("!HH", b, a)
            if f["ours"] is not None:
                seq = struct.unpack("!I", l4[4:8])[0]
                l4[4:8] = struct.pack("!I", (seq + f["ours"]) & 0xffffffff)
            key = ("tcp", kport, sport)
        inner[ihl:] = l4
        ip_fix(inner)
        return key

    def frame(self, b):
        """Rewrite one frame; returns (scenario key, bytes, ops) or None."""
        b = bytearray(b)
        if len(b) < 14:
            return None
        if b[0:6] != b"\xff" * 6:
            b[0:6] = self.c["OUR_MAC"]
        b[6:12] = self.c["PEER_MAC"]
        etype = struct.unpack("!H", b[12:14])[0]
        if etype == 0x0806 and len(b) >= 42:
            b[22:28] = self.c["PEER_MAC"]
            b[28:32] = self.addr(bytes(b[28:32]))
            if b[32:38] != b"\0" * 6:
                b[32:38] = self.c["OUR_MAC"]
            b[38:42] = self.addr(bytes(b[38:42]))
            return "ping", bytes(b), 0, None
        if etype != 0x0800:
            return "ping", bytes(b), 0, None   # IPv6 and the like: dropped, counted
        if len(b) < 34:
            return None
        ip = b[14:]
        hl = (ip[0] & 0xf) * 4
        ip[12:16] = self.addr(bytes(ip[12:16]))
        ip[16:20] = self.addr(bytes(ip[16:20]))
        l4 = ip[hl:]
        key, ops = None, 0
        if ip[9] == 1 and len(l4) >= 8:
            if l4[0] in (3, 4, 5, 11, 12) and len(l4) >= 28:
                inner = l4[8:]
                key = self.quoted(inner)
                l4[8:] = inner
            else:
                key = "ping"
            l4[2:4] = b"\0\0"
            l4[2:4] = struct.pack("!H", csum(bytes(l4)))
        elif ip[9] == 17 and len(l4) >= 8:
            l4[2:4] = struct.pack("!H", self.c["FUZZ_UDP_PORT"])
            key = "udp"
        elif ip[9] == 6 and len(l4) >= 20:
            kport, sport = struct.unpack("!HH", l4[0:4])
            f = self.flow(kport, sport, l4)
            if f["active"] and l4[13] & 0x01:
                ops |= APP_CLOSE
            self.tcp(l4, f)
            key = ("tcp", kport, sport)
        if key is None:
            return None
        ip[hl:] = l4
        ip_fix(ip)
        l4_fix(ip)
        b[14:] = ip
        return key, bytes(b), ops, self.rx_only(key, b, ops)

    def rx_only(self, key, b, ops):
        """The peer's data and FIN of a connection the stack opened, acking only our
        SYN: what the capture's acks say about data the stack sent there, the
        harness's stack may not have sent yet (its sending differs), and a segment
        acking unsent data is dropped, payload and all. Returns the frame or None."""
        if not isinstance(key, tuple) or not self.flows[(key[1], key[2])]["active"]:
            return None
        ip = bytearray(b[14:])
        if ip[9] != 6:
            return None
        hl = (ip[0] & 0xf) * 4
        seg = ip[hl:]
        total = struct.unpack("!H", ip[2:4])[0]
        if total - hl - (seg[12] >> 4) * 4 <= 0 and not seg[13] & 0x01:
            return None
        seg[8:12] = struct.pack("!I", (self.c["FUZZ_ISS"] + 1) & 0xffffffff)
        ip[hl:] = seg
        l4_fix(ip)
        return bytes(b[:14] + ip), ops


def delay_code(ms):
    if ms < 128:
        return int(ms)
    return min(255, 127 + max(1, round(ms / 500)))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    c = constants()
    ours = struct.pack("!I", c["FUZZ_OUR_IP"])
    assert tcp_isn(c, ours, c["FUZZ_CONN_PORT"], struct.pack("!I", c["FUZZ_PEER_IP"]),
                   c["FUZZ_PEER_PORT"], c["FUZZ_START_US"]) == c["FUZZ_ISS"], \
        "convert.py's tcp_isn() no longer agrees with FUZZ_ISS: see tcp_isn.c"
    conv = Conv(c, ipaddress.ip_address("10.77.0.2").packed,
                ipaddress.ip_address("10.77.0.1").packed)
    seeds, last = {}, {}
    for t, frame in pcap_frames(sys.argv[1]):
        r = conv.frame(frame)
        if r is None:
            continue
        key, b, ops, rx = r
        d = delay_code((t - last[key]) * 1000 if key in last else 1)
        last[key] = t
        seeds.setdefault(key, bytearray()).extend(
            struct.pack("!HBB", len(b), d, ops | APP_READ | CSUM_GOOD) + b)
        if rx is not None:
            seeds.setdefault(key + ("rx",), bytearray()).extend(
                struct.pack("!HBB", len(rx[0]), d, rx[1] | APP_READ | CSUM_GOOD) + rx[0])
    os.makedirs(sys.argv[2], exist_ok=True)
    for key, data in seeds.items():
        if isinstance(key, tuple):
            f = conv.flows[(key[1], key[2])]
            port = key[1] if f["active"] else key[2]
            name = "tcp-%s%s" % (NAMES.get(port, str(port)), "-rx" if len(key) > 3 else "")
        else:
            name = key
        path = os.path.join(sys.argv[2], name)
        with open(path, "wb") as out:
            out.write(data)
        print("%s: %d bytes" % (path, len(data)))


if __name__ == "__main__":
    main()
