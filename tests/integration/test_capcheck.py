#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""capcheck: issue 9's tshark pass (capcheck.py), first proven on a crafted capture,
then run over real impaired transfers through shunt.

  crafted   a pcap written here byte by byte: a sender that resends data the peer
            had SACKed (twice), a resend of SACKed data the sender had not yet read
            (its TSecr is older than the SACK: not its fault), a partly SACKed and
            a below-the-ACK resend (not the question), a bad TCP checksum, a bad
            IPv4 header checksum, a TCP header longer than its segment, and a
            checksum of 0xffff for 0x0000 (listed apart, not a failure). The
            checker must name exactly those frames, and pass the same capture
            without the failing ones.
  live      through shunt on the tap, with the impairment tool both ways: 5% loss
            and 1% reordering, 3 MB up (shunt sends) and down (shunt receives),
            each captured by tcpdump on the tap and checked: no malformed frame, no
            bad checksum, no SACKed data resent, every byte arrived (SHA-256). The
            5% up run must have resent data, seen SACK blocks and proven most peer
            frames read (by shunt's timestamp echoes), so the third check had
            something to judge.
"""

import os
import socket
import struct
import sys

from netbed import PEER_IP, REPO, STACK_IP, Bed, BedError, main, random_file
from capcheck import check, failed, summary
from synflood import checksum as csum
from tcpcap import Pcap

sys.path.insert(0, os.path.join(REPO, "tests", "impair"))
sys.path.insert(0, os.path.join(REPO, "bench"))
from impair import Impair, ImpairError, require  # noqa: E402
from impaired import transfer  # noqa: E402

PORT = 7031
SIZE = 3 << 20


# ------------------------------------------------------------------ crafting
def frame(src, dst, sport, dport, seq, ack, flags, ts=None, sack=(), payload=b"",
          bad_tcp=False, bad_ip=False, bogus_off=False, neg_zero=False):
    """One Ethernet frame. neg_zero: the payload's last word is set so that the TCP
    checksum computes to 0x0000, and 0xffff is written (as DPDK does)."""
    opts = b""
    if ts:
        opts += b"\x01\x01\x08\x0a" + struct.pack("!II", *ts)
    if sack:
        opts += b"\x01\x01" + bytes([5, 2 + 8 * len(sack)]) + \
            b"".join(struct.pack("!II", lo, hi) for lo, hi in sack)
    off = 15 if bogus_off else (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) \
        + opts + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    if neg_zero:
        tcp = tcp[:-2] + struct.pack("!H", csum(pseudo + tcp[:-2] + b"\0\0"))
        assert csum(pseudo + tcp) == 0
    c = 0xffff if neg_zero else csum(pseudo + tcp) ^ (0x5555 if bad_tcp else 0)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    iph = iph[:10] + struct.pack("!H", csum(iph) ^ (0x5555 if bad_ip else 0)) + iph[12:]
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + iph + tcp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000, i * 1000, len(fr), len(fr)) + fr)


def crafted():
    """(frames, {kind: [frame numbers the checker must name]}); numbers from 1."""
    S, P, sp, pp = STACK_IP, PEER_IP, 40000, 7021
    d = b"x" * 100
    ACK, SYN = 0x10, 0x02

    def s(seq, ts, **kw):       # the sender's data segment
        return ("s", frame(S, P, sp, pp, seq, 5001, ACK, ts=ts, payload=d, **kw))

    def p(ack, ts, sack=()):    # the peer's ACK
        return ("p", frame(P, S, pp, sp, 5001, ack, ACK, ts=ts, sack=sack))
    fs = [
        ("s", frame(S, P, sp, pp, 1000, 0, SYN, ts=(1, 0))),
        ("p", frame(P, S, pp, sp, 5000, 1001, SYN | ACK, ts=(500, 1))),
        ("s", frame(S, P, sp, pp, 1001, 5001, ACK, ts=(2, 500))),
        s(1001, (3, 500)), s(1101, (3, 500)), s(1201, (3, 500)), s(1301, (3, 500)),
        s(1401, (3, 500)),
        p(1101, (510, 3), [(1201, 1301)]),                      # 9
        p(1101, (520, 3), [(1201, 1301), (1401, 1501)]),        # 10
        s(1101, (4, 510)),                  # 11: the hole: right
        ("sacked", s(1201, (4, 510))[1]),   # 12: SACKed in 9, which it had read
        s(1151, (4, 510)),                  # 13: partly SACKed: not the question
        s(1401, (4, 510)),                  # 14: SACKed in 10, not yet read: not its fault
        ("sacked", s(1401, (5, 520))[1]),   # 15: now it had read 10
        s(1301, (5, 520)),                  # 16: the last hole
        p(1501, (530, 5)),                  # 17
        s(1201, (6, 530)),                  # 18: below the cumulative ACK
        ("tcp", s(1501, (6, 530), bad_tcp=True)[1]),    # 19
        ("ip", s(1601, (6, 530), bad_ip=True)[1]),      # 20
        # 21: a 20-byte TCP header saying it is 60
        ("malformed", frame(S, P, sp, pp, 1501, 5001, ACK, bogus_off=True)),
        ("ffff", s(1701, (6, 530), neg_zero=True)[1]),  # 22: -0 for +0: apart
    ]
    want = {k: [i + 1 for i, (kind, _) in enumerate(fs) if kind == k]
            for k in ("sacked", "tcp", "ip", "malformed", "ffff")}
    return fs, want


def case_crafted(bed):
    fs, want = crafted()
    bad = os.path.join(bed.tmp, "crafted.pcap")
    write_pcap(bad, [f for _, f in fs])
    rep = check(bad, peer=PEER_IP, ports=[7021])
    print("  crafted: %s" % summary(rep))
    got = {"sacked": [x["frame"] for x in rep["sacked"]],
           "tcp": [x["frame"] for x in rep["checksum"] if x["layer"] == "tcp"],
           "ip": [x["frame"] for x in rep["checksum"] if x["layer"] == "ip"],
           "malformed": [x["frame"] for x in rep["malformed"]],
           "ffff": [x["frame"] for x in rep["checksum_ffff"]]}
    bed.check(got == want, "crafted capture: the checker found %s, want %s" % (got, want))
    bed.check(rep["partly_sacked"] == 1 and rep["sacked_unread"] == 1
              and rep["acked_resent"] == 1 and rep["sack_frames"] == 2,
              "crafted capture: partly SACKed %d, SACKed but unread %d, below the ACK %d, "
              "SACK frames %d (want 1, 1, 1, 2)" % (rep["partly_sacked"],
                                                    rep["sacked_unread"],
                                                    rep["acked_resent"], rep["sack_frames"]))
    good = os.path.join(bed.tmp, "crafted-good.pcap")
    write_pcap(good, [f for kind, f in fs if kind in ("s", "p", "ffff")])
    rep = check(good, peer=PEER_IP, ports=[7021])
    bed.check(not failed(rep), "crafted capture without the bad frames: %s" % summary(rep))


# ---------------------------------------------------------------------- live
def case_live(bed, spec, up, src, want):
    name = "%s-%s" % (spec.split("=")[0], "up" if up else "down")
    pcap = os.path.join(bed.tmp, name + ".pcap")
    with Pcap(bed, bed.peer, bed.tap, pcap, name + "-tcpdump") as cap:
        with Impair(bed, to_peer=spec, from_peer=spec, seed=9, name=name + "-impair"):
            _, ok = transfer(bed, src, want, True, up, name, port=PORT, timeout=60)
    bed.check(ok, "%s: the transfer failed or arrived wrong (SHA-256)" % name)
    bed.check(cap.stats["dropped"] == 0,
              "%s: tcpdump dropped %d frames: the capture cannot prove absence"
              % (name, cap.stats["dropped"]))
    rep = check(pcap, peer=PEER_IP, ports=[PORT])
    print("  %s: %s" % (name, summary(rep)), flush=True)
    bed.check(not failed(rep), "%s: the capture shows problems: %s" % (name, summary(rep)))
    # shunt computes its TCP checksums itself on net_tap (core/port.c), so it never
    # writes 0xffff for 0x0000 (about once in 65,536 segments when net_tap did)
    bed.check(not rep["checksum_ffff"], "%s: TCP checksums of 0xffff for 0x0000 in frames %r"
              % (name, [x["frame"] for x in rep["checksum_ffff"]]))
    os.unlink(pcap)
    return rep


def test():
    try:
        require()
    except ImpairError as e:
        raise BedError(str(e))
    with Bed("capcheck") as bed:
        case_crafted(bed)
        src = os.path.join(bed.tmp, "src")
        want = random_file(src, SIZE)
        rep = case_live(bed, "loss=5%", True, src, want)
        bed.check(rep["retransmitted"] > 0 and rep["sack_frames"] > 0
                  and rep["peer_frames_read"] * 2 > rep["peer_frames"],
                  "loss=5%% up: %d resent segments, %d peer frames with SACK, %d of %d "
                  "proven read: the check had too little to judge" % (
                      rep["retransmitted"], rep["sack_frames"], rep["peer_frames_read"],
                      rep["peer_frames"]))
        case_live(bed, "loss=5%", False, src, want)
        case_live(bed, "reorder=1%", True, src, want)
        case_live(bed, "reorder=1%", False, src, want)


if __name__ == "__main__":
    main(test)
