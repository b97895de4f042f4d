#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""capcheck: issue 9's tshark pass over the capture of one impaired run.

    python3 capcheck.py FILE.pcap [--peer 10.77.0.1] [--port 7021] [--no-checksums]
    from capcheck import check; report = check(path, peer=PEER_IP, ports=[7021])

One tshark pass (checksum validation on, raw sequence numbers, the test's ports
decoded as plain data so no dissector guesses at random payload) gives, per frame,
what three checks need. A run fails if any of them finds anything:

  malformed  a frame tshark calls malformed (_ws.malformed), or any expert item of
             severity error other than a bad checksum's
  checksum   an IPv4 header or TCP checksum that does not verify (ip.checksum.status,
             tcp.checksum.status "Bad", which is 0: 2 is "unverified")
  sacked     a data segment the sender under test sent (every host but --peer) whose
             bytes all lay above the cumulative ACK and inside SACK blocks the peer
             had sent and the sender had already read: data the peer had SACKed, sent
             again

Whom the capture can be trusted about. It is taken on the peer's side of the path
(the tap, or the veth's peer end) with the impairment tool on the same interface:
the sender's frames are seen as sent (before the tool drops or delays them), the
peer's as delivered (after it), in the order the sender reads them (the tap is a
FIFO). Which peer frames the sender had read when it sent a segment is proven by
the segment's timestamp echo (RFC 7323: TSecr is TS.Recent, the TSval of a frame
it read): every peer frame captured up to the first one whose TSval is at least
the echo had been read. Without timestamps the capture order alone is used, which
can blame a segment already on the wire when the SACK left the peer. Hence only
the far side's data is judged: the capture does not know what the peer was told.

A checksum field of 0xffff where 0x0000 is computed is listed apart (checksum_ffff)
and does not fail the run: the two are one value in ones' complement (RFC 1071), so
a receiver that sums the segment with its field, as Linux does, accepts it; but
RFC 1624 (3) says a computed checksum is never 0xffff, and tshark calls it Bad.
net_tap's software checksum "offload" writes it for TCP too, as RFC 768 asks only
for UDP, about once in 65,536 segments; shunt no longer asks net_tap for it
(core/port.c), and test_capcheck holds shunt's runs to none.

Checksums are real where the sender computes them itself (shuntd on the tap); on a
veth the kernel hands the capture partial checksums and GSO super-frames, so
--no-checksums (check(checksums=False)) is right for the kernel twin.

The report is a dict: {"frames", "malformed": [..], "checksum": [..],
"checksum_ffff": [..], "sacked": [..],
"partly_sacked": n, "retransmitted": n, "acked_resent": n, "sack_frames": n,
"sacked_unread": n, "peer_frames": n, "peer_frames_read": n}; each problem names its
frame number. Only the three lists decide; the counts are context: acked_resent
counts resends of data below an ACK captured before them (read or not: waste, or a
race), sacked_unread resends of data
SACKed in a frame captured before them that the sender had not yet read (a race, not
a fault), peer_frames_read how many peer frames the echoes proved read (few means
the sender's TSecr lags, and the third check proves little). Python 3 standard library + tshark.
"""

import argparse
import bisect
import json
import subprocess
import sys

PEER = "10.77.0.1"
SEQ_MOD = 1 << 32
PI_ERROR = 0x00800000      # epan/proto.h: expert severity "error"
PI_CHECKSUM = 0x01000000   # epan/proto.h: the expert group of a bad checksum
CSUM_BAD = "0"             # epan/proto.h: PROTO_CHECKSUM_E_BAD (2 is "unverified")
FIN, SYN, RST = 0x01, 0x02, 0x04

FIELDS = ["frame.number", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.flags",
          "tcp.seq", "tcp.ack", "tcp.len", "tcp.options.sack_le", "tcp.options.sack_re",
          "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr", "_ws.malformed",
          "ip.checksum", "ip.checksum.status", "tcp.checksum", "tcp.checksum.status",
          "_ws.expert.severity", "_ws.expert.group",
          "_ws.expert.message"]


def tshark_argv(path, ports, checksums):
    argv = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=a", "-E", "aggregator=;",
            "-o", "tcp.relative_sequence_numbers:FALSE",
            "-o", "tcp.check_checksum:%s" % ("TRUE" if checksums else "FALSE"),
            "-o", "ip.check_checksum:%s" % ("TRUE" if checksums else "FALSE")]
    for p in ports:
        argv += ["-d", "tcp.port==%d,data" % p]
    for f in FIELDS:
        argv += ["-e", f]
    return argv


def frames(path, ports=(), checksums=True):
    """tshark's fields of every frame, as dicts of strings (multi-valued: ';')."""
    r = subprocess.run(tshark_argv(path, ports, checksums), capture_output=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError("tshark failed on %s: %s" % (path, r.stderr.decode(errors="replace")))
    for line in r.stdout.decode(errors="replace").splitlines():
        vals = line.split("\t")
        vals += [""] * (len(FIELDS) - len(vals))
        yield dict(zip(FIELDS, vals))


def _ints(s):
    return [int(x, 0) for x in s.split(";") if x]


class Intervals:
    """Sorted, merged, half-open [lo, hi) ranges of sequence offsets."""

    def __init__(self):
        self.lo, self.hi = [], []

    def add(self, lo, hi):
        if hi <= lo:
            return
        i = bisect.bisect_left(self.hi, lo)         # first range ending at or after lo
        j = bisect.bisect_right(self.lo, hi)        # ranges starting at or before hi
        if i < j:
            lo, hi = min(lo, self.lo[i]), max(hi, self.hi[j - 1])
        self.lo[i:j], self.hi[i:j] = [lo], [hi]

    def covered(self, lo, hi):
        """Bytes of [lo, hi) inside the ranges."""
        n, i = 0, bisect.bisect_right(self.hi, lo)
        while i < len(self.lo) and self.lo[i] < hi:
            n += min(hi, self.hi[i]) - max(lo, self.lo[i])
            i += 1
        return n


class Flow:
    """One connection's data from the sender under test, and what the peer told it."""

    def __init__(self, isn):
        self.isn = isn
        self.peer = []          # (frame, ack offset or None, [(lo, hi)], tsval or None)
        self.read = 0           # peer frames the sender is proven to have read
        self.scan = 0           # proven_read's place
        self.snd_una = 0        # the cumulative ACK among those
        self.sacked = Intervals()
        self.sent = Intervals()  # bytes the sender had sent before
        self.ack_seen = 0       # the highest ACK captured so far, read or not

    def off(self, seq):
        """Offset from the ISN; a value a little before it comes out negative."""
        d = (seq - self.isn) % SEQ_MOD
        return d - SEQ_MOD if d >= SEQ_MOD // 2 else d

    def learn(self, upto):
        while self.read < upto:
            _, ack, blocks, _ = self.peer[self.read]
            if ack is not None:
                self.snd_una = max(self.snd_una, ack)
            for lo, hi in blocks:
                self.sacked.add(lo, hi)
            self.read += 1

    def proven_read(self, tsecr):
        """Peer frames up to and including the first whose TSval >= tsecr (TSecr
        only grows, so the scan never goes back)."""
        if tsecr is None:
            return len(self.peer)
        while self.scan < len(self.peer):
            ts = self.peer[self.scan][3]
            if ts is not None and (ts - tsecr) % SEQ_MOD < SEQ_MOD // 2:
                return self.scan + 1
            self.scan += 1
        return self.read        # not seen yet: no more than before


def check(path, peer=PEER, ports=(), checksums=True):
    rep = {"frames": 0, "malformed": [], "checksum": [], "checksum_ffff": [], "sacked": [],
           "partly_sacked": 0,
           "retransmitted": 0, "acked_resent": 0, "sack_frames": 0, "sacked_unread": 0,
           "peer_frames": 0,
           "peer_frames_read": 0}
    flows = {}
    for f in frames(path, ports, checksums):
        rep["frames"] += 1
        num = int(f["frame.number"])
        experts = zip(_ints(f["_ws.expert.severity"]), _ints(f["_ws.expert.group"]))
        if f["_ws.malformed"] or any(s >= PI_ERROR and g != PI_CHECKSUM
                                     for s, g in experts):
            rep["malformed"].append({"frame": num, "expert": f["_ws.expert.message"]})
        for layer in ("ip", "tcp"):
            if CSUM_BAD in f[layer + ".checksum.status"].split(";"):
                bad = {"frame": num, "layer": layer, "src": f["ip.src"], "dst": f["ip.dst"]}
                if f[layer + ".checksum"] == "0xffff" and \
                        "0xffff instead of 0x0000" in f["_ws.expert.message"]:
                    rep["checksum_ffff"].append(bad)
                else:
                    rep["checksum"].append(bad)
        if not f["tcp.seq"] or ";" in f["ip.src"]:
            continue            # not TCP, or tunnelled
        flags = int(f["tcp.flags"], 16)
        fromsender = f["ip.src"] != peer
        key = (f["ip.src"], f["tcp.srcport"], f["ip.dst"], f["tcp.dstport"]) if fromsender \
            else (f["ip.dst"], f["tcp.dstport"], f["ip.src"], f["tcp.srcport"])
        tsval = _ints(f["tcp.options.timestamp.tsval"])
        tsecr = _ints(f["tcp.options.timestamp.tsecr"])
        seq = int(f["tcp.seq"])
        if fromsender and (flags & SYN or key not in flows):
            flows[key] = Flow(seq + 1 if flags & SYN else seq)
        fl = flows.get(key)
        if fl is None:
            continue            # the peer's frames before the sender's first
        if not fromsender:
            ack = fl.off(int(f["tcp.ack"])) if f["tcp.ack"] and flags & 0x10 else None
            blocks = list(zip((fl.off(x) for x in _ints(f["tcp.options.sack_le"])),
                              (fl.off(x) for x in _ints(f["tcp.options.sack_re"]))))
            fl.peer.append((num, ack, blocks, tsval[0] if tsval else None))
            if ack is not None:
                fl.ack_seen = max(fl.ack_seen, ack)
            rep["sack_frames"] += bool(blocks)
            continue
        length = int(f["tcp.len"] or 0)
        if length == 0 or flags & (SYN | RST):
            continue
        fl.learn(fl.proven_read(tsecr[0] if tsecr else None))
        lo = fl.off(seq)
        hi = lo + length
        if fl.sent.covered(lo, hi):
            rep["retransmitted"] += 1
        fl.sent.add(lo, hi)
        if hi <= fl.ack_seen:
            rep["acked_resent"] += 1
        if lo < fl.snd_una:
            continue            # (partly) below the cumulative ACK: not the question
        cov = fl.sacked.covered(lo, hi)
        if cov == length:
            blocks = [(a, b) for a, b in zip(fl.sacked.lo, fl.sacked.hi) if b > lo and a < hi]
            rep["sacked"].append({
                "frame": num, "flow": "%s:%s>%s:%s" % key, "seq": [lo, hi],
                "snd_una": fl.snd_una, "sack_blocks": blocks,
                "peer_frames_read": fl.peer[fl.read - 1][0] if fl.read else None})
        elif cov:
            rep["partly_sacked"] += 1
        elif _within(fl.peer[fl.read:], lo, hi):
            rep["sacked_unread"] += 1
    for fl in flows.values():
        rep["peer_frames"] += len(fl.peer)
        rep["peer_frames_read"] += fl.read
    return rep


def _within(peer, lo, hi):
    """[lo, hi) inside one SACK block of these (not yet read) peer frames."""
    return any(a <= lo and hi <= b for _, _, bl, _ in peer for a, b in bl)


def failed(rep):
    return bool(rep["malformed"] or rep["checksum"] or rep["sacked"])


def summary(rep):
    """One line: the three counts and the context, then the first few problems."""
    s = ("%d frames: %d malformed, %d bad checksums (and %d of 0xffff for 0x0000), "
         "%d SACKed data resent (%d data segments resent, %d below an ACK already "
         "captured, %d partly SACKed, %d SACKed but not yet read; %d of %d peer frames "
         "proven read, %d with SACK)") % (
        rep["frames"], len(rep["malformed"]), len(rep["checksum"]),
        len(rep["checksum_ffff"]), len(rep["sacked"]), rep["retransmitted"],
        rep["acked_resent"], rep["partly_sacked"], rep["sacked_unread"],
        rep["peer_frames_read"], rep["peer_frames"], rep["sack_frames"])
    for k in ("malformed", "checksum", "checksum_ffff", "sacked"):
        for p in rep[k][:3]:
            s += "\n    %s: %s" % (k, json.dumps(p))
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--peer", default=PEER, help="the kernel peer's address")
    ap.add_argument("--port", type=int, action="append", default=[],
                    help="a port to decode as plain data (default 7021)")
    ap.add_argument("--no-checksums", action="store_true",
                    help="do not validate checksums (a veth capture)")
    ap.add_argument("--json", action="store_true", help="print the whole report")
    a = ap.parse_args()
    rep = check(a.pcap, a.peer, a.port or [7021], not a.no_checksums)
    print(json.dumps(rep, indent=1) if a.json else summary(rep))
    sys.exit(1 if failed(rep) else 0)


if __name__ == "__main__":
    main()
