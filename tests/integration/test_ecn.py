#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""ecn: RFC 3168 ECN as Linux does it, with the kernel as the peer (issue 9).

The peer namespace (where shuntd runs and reads its sysctls) has
net.ipv4.tcp_ecn=1, so both stacks ask for ECN and accept it. ecncap.py watches
the tap; every round is one duplex connection (peers.py duplex/duplexc: each end
sends SIZE bytes, checked by SHA-256), on a port of its own:

  1. kernel client -> shunt server: the kernel's ECN-setup SYN (ECE|CWR) gets
     SYN|ACK|ECE from shunt, not ECT; shunt's new data is ECT(0), its pure ACKs
     and retransmissions are not.
  2. shunt client -> kernel server: shunt's SYN has the kernel's flags byte and
     ECN field; the kernel's SYN-ACK is the one shunt sent in 1; data as in 1.
  3. CE towards shunt (an iptables ECN rule in the peer namespace marks every
     8th ECT data segment of the kernel CE): every segment shunt sends carries
     ECE exactly while the last CE/CWR event among the kernel's segments it has
     acknowledged is a CE (Linux: ECE from a CE until a CWR); the kernel answers
     with CWR (its cwnd cut).
  4. CE towards the kernel (the rule on what arrives from the tap): the kernel's
     ECE makes shunt cut cwnd (tcp_ecn_cwnd_reduced) and send CWR, only on new
     ECT(0) data, and only after an ECE.

A second bed has the same sysctl but shuntd --ecn=2: shunt's SYN no longer asks
(the key overrides the sysctl), and it still accepts the kernel's request.
Sysctls and iptables rules are set only inside the namespaces the test made.
"""

import os

from netbed import HERE, PEER_IP, PYTHON, STACK_IP, Bed, counter, main, random_file
from test_syn_options import Capture

ECNCAP = os.path.join(HERE, "ecncap.py")
PEERS = os.path.join(HERE, "peers.py")
SYN, ACK, FIN, ECE, CWR = 0x02, 0x10, 0x01, 0x40, 0x80
NOT_ECT, ECT0, CE = 0, 2, 3
SIZE = 300000
M32 = 0xffffffff


class EcnCapture(Capture):
    """Capture with ecncap.py: packets with "tcpflags" (all eight bits) and "ack"."""

    def __init__(self, bed):  # pylint: disable=super-init-not-called
        self.bed = bed
        self.proc = bed.spawn_peer([PYTHON, ECNCAP, bed.tap], "ecncap")
        self.wait(lambda: self._lines()[:1] == ["ready"], "ecncap ready")


def ecn(p):
    return p["tos"] & 3


def set_sysctl(bed, name, value):
    path = "/proc/sys/net/ipv4/" + name
    r = bed.run(bed.peer, [PYTHON, "-c", "open(%r, 'w').write(%r)" % (path, value)])
    bed.check(r.returncode == 0, "%s=%s: %s" % (name, value, r.stderr.decode(errors="replace")))


def iptables(bed, *rule):
    r = bed.run(bed.peer, ["iptables", "-t", "mangle", "-A"] + list(rule))
    bed.check(r.returncode == 0, "iptables %s: %s" % (rule, r.stderr.decode(errors="replace")))


def duplex(bed, port, shunt_client, size=SIZE):
    """One duplex connection to port; both ends' bytes checked."""
    src = os.path.join(bed.tmp, "in%d" % port)
    digest = random_file(src, size)
    want = "%d %s" % (size, digest)
    out = os.path.join(bed.tmp, "out%d" % port)
    server = [PYTHON, PEERS, "duplex", PEER_IP if shunt_client else "0.0.0.0", str(port),
              src, out]
    client = [PYTHON, PEERS, "duplexc", PEER_IP if shunt_client else STACK_IP, str(port), src]
    if shunt_client:
        srv = bed.spawn_peer(server, "server%d" % port)
        bed.wait_port(bed.peer, port, proc=srv)
        r = bed.run_shunt(client, timeout=60)
    else:
        srv = bed.spawn(bed.app, bed.shunt_argv(server), "server%d" % port)
        r = bed.run(bed.peer, client, timeout=60)
    bed.check(r.returncode == 0 and r.stdout.decode().split() == want.split(),
              "port %d: client got %r (want %r) %s" % (port, r.stdout, want,
                                                       r.stderr.decode(errors="replace")))
    bed.check(srv.wait(30) == 0, "port %d: server: %s" % (port, srv.describe()))
    with open(out) as f:
        got = f.read().split()
    bed.check(got == want.split(), "port %d: server got %r, want %r" % (port, got, want))


class Conn:
    """The captured packets of the connection to port: client's and server's."""

    def __init__(self, bed, cap, port, shunt_client):
        self.bed = bed
        cip, sip = (STACK_IP, PEER_IP) if shunt_client else (PEER_IP, STACK_IP)
        syns = [p for p in cap.packets() if p["dport"] == port and p["src"] == cip
                and p["flags"] & (SYN | ACK) == SYN]
        bed.check(len(syns) >= 1, "port %d: no SYN captured" % port)
        cport = syns[-1]["sport"]  # earlier ones may have been refused
        self.client = cap.flow(cip, cport, port)
        self.server = cap.flow(sip, port, cport)
        self.shunt, self.kernel = ((self.client, self.server) if shunt_client
                                   else (self.server, self.client))
        self.syn = self.client[0]
        self.synack = [p for p in self.server if p["flags"] & (SYN | ACK) == SYN | ACK][0]

    @staticmethod
    def new_data(flow):
        """(segment, is new) for each data segment of flow, in capture order."""
        isn, top, out = flow[0]["seq"], 0, []
        for p in flow:
            if p["len"] == 0 or p["flags"] & SYN:
                continue
            end = (p["seq"] - isn + p["len"]) & M32
            out.append((p, end > top))
            top = max(top, end)
        return out

    def check_ect(self, label):
        """shunt's new data ECT(0); its pure ACKs and retransmissions not ECT."""
        bed, news = self.bed, 0
        for p, new in self.new_data(self.shunt):
            bed.check(ecn(p) == (ECT0 if new else NOT_ECT),
                      "%s: shunt data seq %d (%s) has ECN field %d" % (
                          label, p["seq"], "new" if new else "resent", ecn(p)))
            news += new
        acks = [p for p in self.shunt if p["len"] == 0]
        bed.check(acks and all(ecn(p) == NOT_ECT for p in acks),
                  "%s: shunt's pure ACKs or SYN ECT: %s" % (
                      label, sorted({ecn(p) for p in acks})))
        bed.check(all(ecn(p) in (ECT0, CE) for p, new in self.new_data(self.kernel) if new),
                  "%s: the kernel's data is not all ECT: ECN not negotiated" % label)
        print("%s: %d new data segments of shunt's ECT(0), %d pure ACKs Not-ECT"
              % (label, news, len(acks)))


def ece_follows_ce(bed, c, label):
    """Every segment shunt sent has ECE exactly when the last CE/CWR event among
    the kernel's data it had received (its ACK field covers their first byte) is
    a CE. A segment marked CE and carrying CWR counts as CE (Linux takes CWR in
    tcp_ack(), then the CE with the data)."""
    isn = c.synack["seq"]
    events = []  # (relative seq, "CE" | "CWR"), first transmissions
    for p, new in c.new_data(c.kernel):
        if not new:
            continue
        rel = (p["seq"] - isn) & M32
        if ecn(p) == CE:
            events.append((rel, "CE"))
        elif p["tcpflags"] & CWR:
            events.append((rel, "CWR"))
    n_ce = sum(1 for _, e in events if e == "CE")
    n_cwr = len(events) - n_ce
    bed.check(n_ce > 0 and n_cwr > 0, "%s: %d CE marks, %d CWRs from the kernel"
              % (label, n_ce, n_cwr))
    eces = 0
    for p in c.shunt:
        if p["flags"] & SYN:
            continue
        a = (p["ack"] - isn) & M32
        last = None
        for rel, e in events:
            if rel < a:
                last = e
        want = last == "CE"
        got = bool(p["tcpflags"] & ECE)
        eces += got
        bed.check(got == want, "%s: shunt segment seq %d ack +%d: ECE %s, want %s (last "
                  "event %s)" % (label, p["seq"], a, got, want, last))
    print("%s: %d CE marks, %d kernel CWRs; %d of shunt's %d segments had ECE, each "
          "exactly while a CE was unanswered" % (label, n_ce, n_cwr, eces, len(c.shunt)))


def cwr_after_ece(bed, c, label):
    """shunt's CWRs: on new ECT(0) data, each after an ECE from the kernel."""
    ece_seen = [i for i, p in enumerate(c.kernel) if p["tcpflags"] & ECE
                and not p["flags"] & SYN]
    bed.check(ece_seen, "%s: the kernel sent no ECE" % label)
    cwrs = 0
    for p, new in c.new_data(c.shunt):
        if p["tcpflags"] & CWR:
            cwrs += 1
            bed.check(new and ecn(p) == ECT0, "%s: CWR on seq %d (new %s, ECN %d)"
                      % (label, p["seq"], new, ecn(p)))
    bed.check(cwrs > 0, "%s: shunt sent no CWR" % label)
    bed.check(not any(p["tcpflags"] & CWR for p in c.shunt
                      if p["len"] == 0 and not p["flags"] & SYN),
              "%s: CWR on a pure ACK" % label)
    print("%s: the kernel's ECE made shunt send CWR %d times" % (label, cwrs))
    return cwrs


def stats(bed, names):
    text = bed.counters()
    return {n: counter(text, n) for n in names}


ECN_STATS = ("tcp_ecn_negotiated", "tcp_ecn_ce_rx", "tcp_ecn_ece_rx", "tcp_ecn_cwnd_reduced",
             "tcp_ecn_cwr_tx", "tcp_ecn_cwr_rx")


def asked():
    with Bed("ecn", shuntd=False) as bed:
        set_sysctl(bed, "tcp_ecn", "1")
        bed.start_shuntd()
        cap = EcnCapture(bed)

        duplex(bed, 7601, shunt_client=False)
        c1 = Conn(bed, cap, 7601, shunt_client=False)
        bed.check(c1.syn["tcpflags"] == SYN | ECE | CWR and ecn(c1.syn) == NOT_ECT,
                  "1: the kernel's SYN %#x" % c1.syn["tcpflags"])
        bed.check(c1.synack["tcpflags"] == SYN | ACK | ECE and ecn(c1.synack) == NOT_ECT,
                  "1: shunt's SYN-ACK flags %#x ECN %d" % (c1.synack["tcpflags"],
                                                         ecn(c1.synack)))
        print("1: kernel SYN %#x -> shunt SYN-ACK %#x, Not-ECT" % (
            c1.syn["tcpflags"], c1.synack["tcpflags"]))
        c1.check_ect("1")

        duplex(bed, 7602, shunt_client=True)
        c2 = Conn(bed, cap, 7602, shunt_client=True)
        bed.check((c2.syn["tcpflags"], ecn(c2.syn)) == (c1.syn["tcpflags"], ecn(c1.syn)),
                  "2: shunt's SYN %#x ECN %d, the kernel's %#x ECN %d" % (
                      c2.syn["tcpflags"], ecn(c2.syn), c1.syn["tcpflags"], ecn(c1.syn)))
        bed.check((c2.synack["tcpflags"], ecn(c2.synack)) ==
                  (c1.synack["tcpflags"], ecn(c1.synack)),
                  "2: the kernel's SYN-ACK %#x ECN %d, shunt's %#x ECN %d" % (
                      c2.synack["tcpflags"], ecn(c2.synack), c1.synack["tcpflags"],
                      ecn(c1.synack)))
        print("2: shunt SYN %#x -> kernel SYN-ACK %#x: the same bytes as in 1" % (
            c2.syn["tcpflags"], c2.synack["tcpflags"]))
        c2.check_ect("2")
        s0 = stats(bed, ECN_STATS)
        bed.check(s0["tcp_ecn_negotiated"] == 2, "negotiated %d" % s0["tcp_ecn_negotiated"])

        iptables(bed, "POSTROUTING", "-o", bed.tap, "-p", "tcp", "--sport", "7603",
                 "-m", "ecn", "--ecn-ip-ect", "2", "-m", "statistic", "--mode", "nth",
                 "--every", "8", "--packet", "0", "-j", "ECN", "--ecn-ip-ect", "3")
        duplex(bed, 7603, shunt_client=True)
        c3 = Conn(bed, cap, 7603, shunt_client=True)
        ece_follows_ce(bed, c3, "3")
        s1 = stats(bed, ECN_STATS)
        bed.check(s1["tcp_ecn_ce_rx"] > s0["tcp_ecn_ce_rx"] and
                  s1["tcp_ecn_cwr_rx"] > s0["tcp_ecn_cwr_rx"],
                  "3: counters %s -> %s" % (s0, s1))

        iptables(bed, "PREROUTING", "-i", bed.tap, "-p", "tcp", "--dport", "7604",
                 "-m", "ecn", "--ecn-ip-ect", "2", "-m", "statistic", "--mode", "nth",
                 "--every", "8", "--packet", "0", "-j", "ECN", "--ecn-ip-ect", "3")
        duplex(bed, 7604, shunt_client=True)
        c4 = Conn(bed, cap, 7604, shunt_client=True)
        cwrs = cwr_after_ece(bed, c4, "4")
        s2 = stats(bed, ECN_STATS)
        cuts = s2["tcp_ecn_cwnd_reduced"] - s1["tcp_ecn_cwnd_reduced"]
        # a cut with no new data after it sends no CWR; a loss recovery sends one
        bed.check(s2["tcp_ecn_ece_rx"] > s1["tcp_ecn_ece_rx"] and cuts > 0 and
                  s2["tcp_ecn_cwr_tx"] - s1["tcp_ecn_cwr_tx"] == cwrs,
                  "4: counters %s -> %s, %d CWRs captured" % (s1, s2, cwrs))
        c3.check_ect("3")
        c4.check_ect("4")
        print("4: %d ACKs with ECE, %d cwnd cuts, %d CWRs captured" % (
            s2["tcp_ecn_ece_rx"] - s1["tcp_ecn_ece_rx"], cuts, cwrs))


def accept_only():
    with Bed("ecn_accept", shuntd=False, shuntd_args=["--ecn=2"]) as bed:
        set_sysctl(bed, "tcp_ecn", "1")
        bed.start_shuntd()
        cap = EcnCapture(bed)
        duplex(bed, 7605, shunt_client=True, size=20000)
        c = Conn(bed, cap, 7605, shunt_client=True)
        bed.check(c.syn["tcpflags"] == SYN and c.synack["tcpflags"] == SYN | ACK,
                  "ecn=2: shunt's SYN %#x, the kernel's SYN-ACK %#x" % (
                      c.syn["tcpflags"], c.synack["tcpflags"]))
        bed.check(all(ecn(p) == NOT_ECT for p in c.shunt + c.kernel),
                  "ecn=2: ECT on a connection without ECN")
        duplex(bed, 7606, shunt_client=False, size=20000)
        c = Conn(bed, cap, 7606, shunt_client=False)
        bed.check(c.synack["tcpflags"] == SYN | ACK | ECE,
                  "ecn=2: shunt's SYN-ACK %#x to an ECN-setup SYN" % c.synack["tcpflags"])
        c.check_ect("ecn=2 accepted")
        print("ecn=2 over tcp_ecn=1: shunt's SYN %#x does not ask; it accepts (SYN-ACK %#x)"
              % (SYN, c.synack["tcpflags"]))


def test():
    asked()
    accept_only()


if __name__ == "__main__":
    main(test)
