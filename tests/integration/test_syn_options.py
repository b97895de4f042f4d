#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""syn_options: shunt's handshake and IP header are the kernel's (issue 9).

In the peer namespace, where shuntd runs and reads its sysctls, tcpcap.py watches
the tap. Each round makes two connections with the same socket options
(sockopt_peer.py), each through the other stack:

    kernel client (peer netns)  -> shunt listener (app netns, under shunt)
    shunt client (app netns)    -> kernel listener (peer netns)

so the kernel's SYN and shunt's SYN are sent from the same namespace's settings
to the same kind of peer, as are the two SYN-ACKs, and both cross the same tap.
Then: the SYNs carry the same options in the same order (their bytes equal but
for the timestamp values), the same MSS and window scale; the SYN-ACKs too; every
packet of each connection has the TOS and TTL its socket was given (ECN bits
masked), a listener's children its listener's; getsockopt(TCP_MAXSEG, IP_TOS,
IP_TTL) answers alike before and after connect().

Rounds: the namespace's defaults, without and with IP_TOS 0xb9 / IP_TTL 33 /
TCP_MAXSEG 1000 on the clients; then a namespace each with net.ipv4.tcp_sack=0
(and a smaller tcp_rmem: a smaller window scale), tcp_timestamps=0 (and
tcp_syn_retries=1: a connect() to a port the namespace drops gives up after one
retransmission), tcp_window_scaling=0, set before shuntd starts; and tcp_sack=0
overridden by shuntd's --sack=1. Sysctls and nft rules are set only inside the
namespaces the test made.
"""

import json
import os
import time

from netbed import HERE, PEER_IP, PYTHON, STACK_IP, Bed, main

TCPCAP = os.path.join(HERE, "tcpcap.py")
PEER = os.path.join(HERE, "sockopt_peer.py")
KPORT, SPORT = 7501, 7502           # the kernel's listener, shunt's listener
LISTEN_OPTS = ["tos=0x28", "ttl=41"]  # on both listeners: children inherit them
CLIENT_OPTS = ["tos=0xb9", "ttl=33", "maxseg=1000"]
BLACKHOLE = 7503                    # SYNs to it are dropped in the peer namespace
SYN, ACK, FIN = 0x02, 0x10, 0x01
MSS, WS, TS = 2, 3, 8


class Capture:
    """tcpcap.py on the bed's tap; packets() parses what it printed so far."""

    def __init__(self, bed):
        self.bed = bed
        self.proc = bed.spawn_peer([PYTHON, TCPCAP, bed.tap], "tcpcap")
        self.wait(lambda: self._lines()[:1] == ["ready"], "tcpcap ready")

    def _lines(self):
        with open(self.proc.out) as f:
            return f.read().splitlines()

    def packets(self):
        return [json.loads(l) for l in self._lines()[1:] if l.startswith("{")]

    def wait(self, cond, what, timeout=10):
        deadline = time.monotonic() + timeout
        while not cond():
            self.bed.check(self.proc.alive(), "tcpcap exited")
            if time.monotonic() > deadline:
                self.bed.fail("waited %d s for %s" % (timeout, what))
            time.sleep(0.02)

    def flow(self, src, sport, dport):
        """Packets src:sport -> dport, once it has sent its FIN."""
        pick = lambda: [p for p in self.packets()
                        if p["src"] == src and p["sport"] == sport and p["dport"] == dport]
        self.wait(lambda: any(p["flags"] & FIN for p in pick()),
                  "the FIN of %s:%d -> %d" % (src, sport, dport))
        return pick()


def opt(p, kind):
    for k, data in p["opts"]:
        if k == kind:
            return int(data, 16)
    return None


def layout(p):
    """The options as sent, the timestamp values blanked (they differ by nature)."""
    return [[k, "ts" if k == TS else d] for k, d in p["opts"]]


def only(bed, flow, flags, what):
    ps = [p for p in flow if p["flags"] == flags]
    bed.check(len(ps) == 1, "%s: %d segments with flags %#x" % (what, len(ps), flags))
    return ps[0]


def start_servers(bed):
    k = bed.spawn_peer([PYTHON, PEER, "server", str(KPORT)] + LISTEN_OPTS, "kserver")
    bed.wait_port(bed.peer, KPORT, proc=k)
    s = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEER, "server", str(SPORT)] +
                                          LISTEN_OPTS), "sserver")
    bed.wait_reachable(SPORT, s)


def client(bed, shunt, opts):
    argv = [PYTHON, PEER, "client", PEER_IP if shunt else STACK_IP,
            str(KPORT if shunt else SPORT)] + opts
    r = bed.run_shunt(argv, timeout=20) if shunt else bed.run(bed.peer, argv, timeout=20)
    bed.check(r.returncode == 0, "%s client %s: exit %d\n%s" % (
        "shunt" if shunt else "kernel", opts, r.returncode, r.stderr.decode(errors="replace")))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def one_value(bed, flow, key, what):
    vals = sorted({p[key] for p in flow})
    bed.check(len(vals) == 1, "%s: packets with %s %s" % (what, key, vals))
    return vals[0]


def round_trip(bed, cap, opts, label):
    """Both connections with client options opts; returns (kernel SYN, shunt SYN)."""
    k = client(bed, False, opts)
    s = client(bed, True, opts)
    ksyn_flow = cap.flow(PEER_IP, k["sport"], SPORT)   # kernel client
    ssyn_flow = cap.flow(STACK_IP, s["sport"], KPORT)  # shunt client
    sack_flow = cap.flow(STACK_IP, SPORT, k["sport"])  # shunt's child
    kack_flow = cap.flow(PEER_IP, KPORT, s["sport"])   # the kernel's child
    ksyn, ssyn = only(bed, ksyn_flow, SYN, "kernel SYN"), \
        only(bed, ssyn_flow, SYN, "shunt SYN")
    ksa = only(bed, kack_flow, SYN | ACK, "kernel SYN-ACK")
    ssa = only(bed, sack_flow, SYN | ACK, "shunt SYN-ACK")
    print("%s: kernel SYN %s\n%s  shunt SYN  %s" % (label, layout(ksyn), " " * len(label),
                                                  layout(ssyn)))
    bed.check(layout(ssyn) == layout(ksyn), "%s: SYN options differ: kernel %s, shunt %s"
              % (label, layout(ksyn), layout(ssyn)))
    print("%s: kernel SYN-ACK %s\n%s  shunt SYN-ACK  %s" % (
        label, layout(ksa), " " * len(label), layout(ssa)))
    bed.check(layout(ssa) == layout(ksa), "%s: SYN-ACK options differ: kernel %s, shunt %s"
              % (label, layout(ksa), layout(ssa)))
    # every segment of a connection: its socket's TOS and TTL, as the kernel's
    for key in ("tos", "ttl"):
        kc, sc = one_value(bed, ksyn_flow, key, label + " kernel client"), \
            one_value(bed, ssyn_flow, key, label + " shunt client")
        bed.check(kc == sc, "%s: client %s: kernel %#x, shunt %#x" % (label, key, kc, sc))
        kl, sl = one_value(bed, kack_flow, key, label + " kernel child"), \
            one_value(bed, sack_flow, key, label + " shunt child")
        bed.check(kl == sl, "%s: accepted %s: kernel %#x, shunt %#x" % (label, key, kl, sl))
    bed.check(any(p["len"] > 0 for p in ssyn_flow) and any(p["len"] > 0 for p in sack_flow),
              "%s: no data segment captured" % label)
    bed.check((one_value(bed, sack_flow, "tos", ""), one_value(bed, sack_flow, "ttl", ""))
              == (0x28, 41), "%s: the listener's TOS/TTL not on its child's packets" % label)
    for key in ("maxseg_before", "maxseg_after", "tos", "ttl", "got"):
        bed.check(k[key] == s[key], "%s: getsockopt %s: kernel %r, shunt %r"
                  % (label, key, k[key], s[key]))
    print("%s: TOS %#x TTL %d on every segment; accepted TOS %#x TTL %d; TCP_MAXSEG "
          "%d/%d, as the kernel" % (label, ssyn_flow[0]["tos"], ssyn_flow[0]["ttl"],
                                    sack_flow[0]["tos"], sack_flow[0]["ttl"],
                                    s["maxseg_before"], s["maxseg_after"]))
    return ksyn, ssyn


def kinds(p):
    return [k for k, _ in p["opts"]]


def defaults():
    with Bed("syn_options") as bed:
        start_servers(bed)
        cap = Capture(bed)
        ksyn, ssyn = round_trip(bed, cap, [], "defaults")
        bed.check(kinds(ssyn) == [MSS, 4, TS, 1, WS], "defaults: SYN %s" % kinds(ssyn))
        bed.check(opt(ssyn, MSS) == 1460 and opt(ssyn, WS) == opt(ksyn, WS),
                  "defaults: mss %s wscale %s (kernel %s)"
                  % (opt(ssyn, MSS), opt(ssyn, WS), opt(ksyn, WS)))
        ksyn, ssyn = round_trip(bed, cap, CLIENT_OPTS, "TOS/TTL/MAXSEG")
        bed.check(opt(ssyn, MSS) == 1000 and ssyn["tos"] == 0xb8 and ssyn["ttl"] == 33,
                  "TOS/TTL/MAXSEG: shunt SYN mss %s tos %#x ttl %d"
                  % (opt(ssyn, MSS), ssyn["tos"], ssyn["ttl"]))


def syn_retries_followed(bed, cap, retries):
    """A SYN the peer namespace drops (nft, in that namespace only): shunt's
    connect() fails with ETIMEDOUT after the namespace's tcp_syn_retries; while
    it is under way getsockopt(TCP_MAXSEG) reads what the kernel's does."""
    rules = ("table inet shunt_test {\n"
             " chain in {\n  type filter hook input priority 0;\n"
             "  tcp dport %d drop\n }\n"
             " chain out {\n  type filter hook output priority 0;\n"
             "  tcp dport %d drop\n }\n}\n" % (BLACKHOLE, BLACKHOLE))
    r = bed.run(bed.peer, ["nft", "-f", "-"], input=rules.encode())
    bed.check(r.returncode == 0, "nft: %s" % r.stderr.decode(errors="replace"))
    prog = ("import errno, socket\n"
            "s = socket.socket()\n"
            "try:\n"
            "    s.connect((%r, %d)); print('connected')\n"
            "except OSError as e:\n"
            "    print(errno.errorcode[e.errno])\n"
            "print(s.getsockname()[1])\n" % (PEER_IP, BLACKHOLE))
    connecting = ("import socket\n"
                  "out = []\n"
                  "for mss in (0, 1000):\n"
                  "    s = socket.socket(); s.setblocking(False)\n"
                  "    if mss: s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)\n"
                  "    try: s.connect((%r, %d))\n"
                  "    except BlockingIOError: pass\n"
                  "    out.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))\n"
                  "print(out)\n")
    k = bed.run(bed.peer, [PYTHON, "-c", connecting % (STACK_IP, BLACKHOLE)])
    s = bed.run_shunt([PYTHON, "-c", connecting % (PEER_IP, BLACKHOLE)])
    bed.check(k.returncode == 0 and s.returncode == 0 and k.stdout == s.stdout,
              "TCP_MAXSEG while connecting: kernel %r, shunt %r %s" % (
                  k.stdout, s.stdout, s.stderr.decode(errors="replace")))
    print("TCP_MAXSEG while connecting (none, 1000 set): %s, as the kernel"
          % s.stdout.decode().strip())
    r = bed.run_shunt([PYTHON, "-c", prog], timeout=30)
    out = r.stdout.decode().split()[0] if r.stdout else ""
    bed.check(out == "ETIMEDOUT", "connect to a black hole with tcp_syn_retries=%d: %r %s"
              % (retries, out, r.stderr.decode(errors="replace")))
    syns = [p for p in cap.packets() if p["src"] == STACK_IP and p["dport"] == BLACKHOLE
            and p["flags"] == SYN and p["sport"] == int(r.stdout.split()[-1])]
    bed.check(len(syns) == 1 + retries, "tcp_syn_retries=%d: %d SYNs sent"
              % (retries, len(syns)))
    print("tcp_syn_retries=%d: %d SYNs, then ETIMEDOUT" % (retries, len(syns)))


def host_sysctl(name):
    with open("/proc/sys/net/ipv4/" + name) as f:
        return f.read()


def with_sysctls(label, sysctls, want_kinds, shuntd_args=(), compare=True, then=None):
    """A bed whose peer namespace has sysctls (name -> value) before shuntd starts."""
    host = {n: host_sysctl(n) for n in sysctls}
    with Bed("syn_" + label, shuntd=False, shuntd_args=shuntd_args) as bed:
        for name, value in sysctls.items():
            path = "/proc/sys/net/ipv4/" + name
            r = bed.run(bed.peer, [PYTHON, "-c", "open(%r, 'w').write(%r)" % (path, value)])
            bed.check(r.returncode == 0, "%s=%s in %s: %s" % (
                name, value, bed.peer, r.stderr.decode(errors="replace")))
        bed.start_shuntd()
        start_servers(bed)
        cap = Capture(bed)
        if compare:
            ksyn, ssyn = round_trip(bed, cap, [], label)
        else:
            k = client(bed, False, [])
            s = client(bed, True, [])
            ksyn = only(bed, cap.flow(PEER_IP, k["sport"], SPORT), SYN, "kernel SYN")
            ssyn = only(bed, cap.flow(STACK_IP, s["sport"], KPORT), SYN, "shunt SYN")
            print("%s: kernel SYN %s, shunt SYN %s" % (label, layout(ksyn), layout(ssyn)))
        bed.check(kinds(ssyn) == want_kinds, "%s: shunt SYN options %s, want kinds %s"
                  % (label, layout(ssyn), want_kinds))
        ws = opt(ssyn, WS)
        if then is not None:
            then(bed, cap)
        for n, v in host.items():  # the host's own settings never move
            bed.check(host_sysctl(n) == v, "the host's net.ipv4.%s changed" % n)
        if not compare:
            bed.check(kinds(ksyn) == [MSS, 1, 1, TS, 1, WS],
                      "%s: the kernel SYN had SACK: %s" % (label, kinds(ksyn)))
    return ssyn, ws


def test():
    defaults()
    _, ws = with_sysctls("nosack", {"tcp_sack": "0", "tcp_rmem": "4096 131072 1048576"},
                            [MSS, 1, 1, TS, 1, WS])
    print("nosack: window scale %d with tcp_rmem[2] = 1 MiB, as the kernel's" % ws)
    with_sysctls("nots", {"tcp_timestamps": "0", "tcp_syn_retries": "1"},
                 [MSS, 1, 1, 4, 1, WS], then=lambda bed, cap: syn_retries_followed(bed, cap, 1))
    with_sysctls("nows", {"tcp_window_scaling": "0"}, [MSS, 4, TS])
    # shunt.conf's (here the command line's) key wins over the sysctl
    with_sysctls("sack_override", {"tcp_sack": "0"}, [MSS, 4, TS, 1, WS],
                 shuntd_args=["--sack=1"], compare=False)


if __name__ == "__main__":
    main(test)
