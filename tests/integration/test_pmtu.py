#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""pmtu: path MTU discovery against a real router (issue 9).

The peer namespace, where shuntd's tap ends, is made a router (ip_forward=1) with
two more links, each to a namespace of its own:

    app netns: shunt client --- shuntd --- tap --- peer netns (router) --- 1280 --- srv netns
                                 10.77.0.2      10.77.0.1   10.78.0.1            10.78.0.2
                                                            10.79.0.1 --- 1500 --- kcli netns
                                                                                   10.79.0.2

The router's end of the srv link has MTU 1280 and the server's end 1500, so the
server offers MSS 1460 and the bottleneck is in the middle of the path, where only
an ICMP fragmentation needed from the router (the kernel's own, RFC 1191) can tell
the sender. kcli holds a kernel client in the same place as shuntd (one hop before
the router), for comparison.

1. A shunt client uploads 4 MB to the kernel server: the SHA-256 matches; its
   first data segments were full-sized with DF and lost in the router, shuntd's
   counters show the frag-needed taken, the MSS lowered and the flight resent at
   once (no RTO); TCP_MAXSEG reads 1228 (1280 - 40 - 12 of timestamps).
2. A kernel client in kcli uploads the same: its route learns mtu 1280 (`ip route
   get`) and its TCP_MAXSEG equals shunt's.
3. A second shunt upload starts from the destination's learned path MTU: its SYN
   offers MSS 1240 (as Linux's) and no segment is larger than the path takes.
4. A forged frag-needed (raw socket in the router namespace) quoting an open
   connection's ports with a sequence number outside [snd_una, snd_nxt] changes
   nothing (counted in tcp_icmp_out_of_window); the same forgery with the right
   sequence number lowers that connection's MSS, so the forgery is well made.
5. A second bed with the router's frag-needed dropped (nft, in the router
   namespace only), a black hole: with shuntd's --mtu_probing=1 a 1 MB upload
   completes once three RTOs have passed, at MSS 1024; the kernel in kcli with
   net.ipv4.tcp_mtu_probing=1 completes too (and then probes upward, which shunt
   does not: its MSS is only reported).
"""

import json
import os
import subprocess
import time

from netbed import (HERE, PEER_IP, PYTHON, STACK_IP, Bed, counter, main, random_file,
                    sh, sha256_file)

PEER = os.path.join(HERE, "pmtu_peer.py")
TCPCAP = os.path.join(HERE, "tcpcap.py")
SRV_IP, RTR_SRV = "10.78.0.2", "10.78.0.1"
KCLI_IP, RTR_KCLI = "10.79.0.2", "10.79.0.1"
PATH_MTU = 1280
MSS = PATH_MTU - 40 - 12          # timestamps on, both stacks
PORT = 7600
SIZE = 4 << 20
SYN = 0x02
SHUNTD_ARGS = ["--gateway=" + PEER_IP, "--offload=10.77.0.0/24,10.78.0.0/24"]
# the router sends no frag-needed: a black hole (RFC 2923 2.1)
BLACKHOLE_NFT = """
table ip pmtu_blackhole {
    chain out {
        type filter hook output priority 0;
        icmp type destination-unreachable icmp code frag-needed drop
    }
}
"""
BH_SIZE = 1 << 20


def link(bed, ns, dev, ip, gw_ip, router_mtu):
    """A veth from the router (peer netns, gw_ip/24, router_mtu) to ns (ip/24, 1500,
    default route via the router)."""
    sh(["ip", "-n", bed.peer, "link", "add", dev, "type", "veth", "peer", "name",
        dev + "p", "netns", ns])
    sh(["ip", "-n", bed.peer, "addr", "add", gw_ip + "/24", "dev", dev])
    sh(["ip", "-n", bed.peer, "link", "set", dev, "mtu", str(router_mtu), "up"])
    sh(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev + "p"])
    sh(["ip", "-n", ns, "link", "set", dev + "p", "up"])
    sh(["ip", "-n", ns, "route", "add", "default", "via", gw_ip])


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def wait(bed, cond, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            bed.fail("waited %d s for %s" % (timeout, what))
        time.sleep(0.05)


def upload(bed, shunt, path):
    argv = [PYTHON, PEER, "upload", SRV_IP, str(PORT), path]
    t0 = time.monotonic()
    r = bed.run_shunt(argv, timeout=60) if shunt else bed.run(bed.kcli, argv, timeout=60)
    bed.check(r.returncode == 0, "%s upload: exit %d\n%s" % (
        "shunt" if shunt else "kernel", r.returncode, r.stderr.decode(errors="replace")))
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    res["s"] = time.monotonic() - t0
    return res


def captured(cap):
    return [json.loads(l) for l in lines(cap.out)[1:] if l.startswith("{")]


def flow(cap, sport):
    return [p for p in captured(cap) if p["src"] == STACK_IP and p["sport"] == sport]


def stat(bed, name):
    return counter(bed.counters(), name)


def router(bed):
    """The router, the server and kcli; returns the server's output file."""
    srv = bed.add_netns("srv")
    bed.kcli = bed.add_netns("kcli")
    sh(["ip", "netns", "exec", bed.peer, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    link(bed, srv, "shs" + bed.tap[3:], SRV_IP, RTR_SRV, PATH_MTU)
    link(bed, bed.kcli, "shk" + bed.tap[3:], KCLI_IP, RTR_KCLI, 1500)
    out = os.path.join(bed.tmp, "server.out")
    server = bed.spawn(srv, [PYTHON, PEER, "server", str(PORT), out], "server")
    bed.wait_port(srv, PORT, proc=server)
    return out


def test_router():
    with Bed("pmtu", shuntd_args=SHUNTD_ARGS) as bed:
        out = router(bed)
        cap = bed.spawn_peer([PYTHON, TCPCAP, bed.tap], "tcpcap")
        wait(bed, lambda: lines(cap.out)[:1] == ["ready"], "tcpcap ready")
        data = os.path.join(bed.tmp, "data")
        random_file(data, SIZE)
        want = "%d %s" % (SIZE, sha256_file(data))

        # 1. shunt, through the router's ICMP
        s1 = upload(bed, True, data)
        wait(bed, lambda: len(lines(out)) >= 1, "the server's digest")
        bed.check(lines(out)[0] == want, "shunt upload: server got %r, sent %r"
                  % (lines(out)[0], want))
        text = bed.counters()
        seen = {n: counter(text, n) for n in ("icmp_unreach_rx", "tcp_pmtu_not_lower")}
        for name, ok in (("icmp_unreach_rx", lambda v: v >= 1),
                         ("ip_pmtu_learned", lambda v: v == 1),
                         ("tcp_pmtu_lowered", lambda v: v == 1),
                         ("tcp_pmtu_rexmit", lambda v: v == 1),
                         ("tcp_rexmit_timeout", lambda v: v == 0),
                         ("tcp_icmp_out_of_window", lambda v: v == 0)):
            bed.check(ok(counter(text, name)), "shunt upload: %s = %d\n%s"
                      % (name, counter(text, name), text))
        bed.check(s1["maxseg"] == MSS, "shunt upload: TCP_MAXSEG %d, want %d"
                  % (s1["maxseg"], MSS))
        segs = [p for p in flow(cap, s1["lport"]) if p["len"] > 0]
        bed.check(segs and all(p["df"] for p in segs), "shunt's data segments lack DF")
        bed.check(segs[0]["len"] == 1448, "shunt's first segment carried %d bytes, not a "
                  "full 1448 (did the path MTU bind?)" % segs[0]["len"])
        big = [i for i, p in enumerate(segs) if p["len"] > MSS]
        bed.check(big[-1] < 40, "segments larger than %d still sent at #%d of %d"
                  % (MSS, big[-1], len(segs)))

        # 2. the kernel in the same place
        k = upload(bed, False, data)
        wait(bed, lambda: len(lines(out)) >= 2, "the server's second digest")
        bed.check(lines(out)[1] == want, "kernel upload: server got %r" % lines(out)[1])
        route = sh(["ip", "-n", bed.kcli, "route", "get", SRV_IP]).stdout.decode()
        bed.check(("mtu %d" % PATH_MTU) in route, "the kernel's route did not learn the "
                  "path MTU:\n%s" % route)
        bed.check(k["maxseg"] == s1["maxseg"], "TCP_MAXSEG: kernel %d, shunt %d"
                  % (k["maxseg"], s1["maxseg"]))

        # 3. per destination: the next connection starts at the path's MSS
        s2 = upload(bed, True, data)
        wait(bed, lambda: len(lines(out)) >= 3, "the server's third digest")
        bed.check(lines(out)[2] == want, "second shunt upload: server got %r" % lines(out)[2])
        f2 = flow(cap, s2["lport"])
        syn = [p for p in f2 if p["flags"] == SYN]
        bed.check(len(syn) == 1 and [2, "%04x" % (PATH_MTU - 40)] in syn[0]["opts"],
                  "second upload's SYN does not offer MSS %d: %r" % (PATH_MTU - 40, syn))
        bed.check(max(p["len"] for p in f2) == MSS, "second upload sent segments of %d"
                  % max(p["len"] for p in f2))
        bed.check(stat(bed, "tcp_pmtu_lowered") == 1, "second upload needed the ICMP again")

        # 4. forged frag-needed against an open connection
        h = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEER, "hold", SRV_IP, str(PORT)]),
                      "hold", stdin=subprocess.PIPE)
        wait(bed, lambda: len(lines(h.out)) >= 1, "the held connection")
        held = json.loads(lines(h.out)[0])

        def ask():
            n = len(lines(h.out))
            h.popen.stdin.write(b"?\n")
            h.popen.stdin.flush()
            wait(bed, lambda: len(lines(h.out)) > n, "the held connection's answer")
            return json.loads(lines(h.out)[-1])["maxseg"]

        wait(bed, lambda: [p for p in flow(cap, held["lport"]) if p["flags"] == SYN],
             "the held connection's SYN")
        syn = [p for p in flow(cap, held["lport"]) if p["flags"] == SYN][0]
        una = (syn["seq"] + 1) & 0xffffffff  # nothing sent since: snd_una = snd_nxt

        def forge(seq, mtu):
            r = bed.run(bed.peer, [PYTHON, PEER, "forge", PEER_IP, STACK_IP, STACK_IP,
                                   SRV_IP, str(held["lport"]), str(PORT), str(seq),
                                   str(mtu)])
            bed.check(r.returncode == 0, "forge: %s" % r.stderr.decode(errors="replace"))

        bed.check(held["maxseg"] == MSS, "held connection: TCP_MAXSEG %d" % held["maxseg"])
        learned = stat(bed, "ip_pmtu_learned")
        forge((una + 100000) & 0xffffffff, 1000)
        wait(bed, lambda: stat(bed, "tcp_icmp_out_of_window") == 1,
             "the forged ICMP counted as out of window")
        bed.check(ask() == MSS, "an out-of-window frag-needed changed the MSS")
        bed.check(stat(bed, "ip_pmtu_learned") == learned and
                  stat(bed, "tcp_pmtu_lowered") == 1,
                  "an out-of-window frag-needed changed the path MTU")
        forge(una, 1000)
        wait(bed, lambda: stat(bed, "tcp_pmtu_lowered") == 2, "the in-window forgery taken")
        bed.check(ask() == 1000 - 52, "an in-window frag-needed of 1000 left TCP_MAXSEG %d"
                  % ask())
        h.popen.stdin.close()
        bed.check(h.wait(10) == 0, "the held connection's program failed")
        print("pmtu: shunt and the kernel both send with MSS %d after the router's ICMP "
              "(path MTU %d); 4 MB uploads matched (shunt %.2f s, kernel %.2f s, shunt "
              "again %.2f s); first upload: %d frag-needed received, %d of them after the "
              "MSS was lowered; forged ICMP validated"
              % (MSS, PATH_MTU, s1["s"], k["s"], s2["s"], seen["icmp_unreach_rx"],
                 seen["tcp_pmtu_not_lower"]))


def test_blackhole():
    """5. mtu_probing 1, the router's ICMP dropped: the upload completes once three
    RTOs have passed, at MSS 1024 (tcp_base_mss), as the kernel's in kcli with
    net.ipv4.tcp_mtu_probing=1 does."""
    with Bed("pmtu-bh", shuntd_args=SHUNTD_ARGS + ["--mtu_probing=1"]) as bed:
        out = router(bed)
        r = bed.run(bed.peer, ["nft", "-f", "-"], input=BLACKHOLE_NFT.encode())
        bed.check(r.returncode == 0, "nft: %s" % r.stderr.decode(errors="replace"))
        sh(["ip", "netns", "exec", bed.kcli, "sysctl", "-qw", "net.ipv4.tcp_mtu_probing=1"])
        data = os.path.join(bed.tmp, "data")
        random_file(data, BH_SIZE)
        want = "%d %s" % (BH_SIZE, sha256_file(data))
        s = upload(bed, True, data)
        wait(bed, lambda: len(lines(out)) >= 1, "the server's digest")
        bed.check(lines(out)[0] == want, "black hole upload: server got %r" % lines(out)[0])
        text = bed.counters()
        for name, ok in (("icmp_unreach_rx", lambda v: v == 0),
                         ("tcp_mtu_blackhole", lambda v: v >= 1),
                         ("tcp_rexmit_timeout", lambda v: v >= 3)):
            bed.check(ok(counter(text, name)), "black hole upload: %s = %d\n%s"
                      % (name, counter(text, name), text))
        bed.check(s["maxseg"] == 1024, "black hole upload: TCP_MAXSEG %d, want 1024"
                  % s["maxseg"])
        k = upload(bed, False, data)
        wait(bed, lambda: len(lines(out)) >= 2, "the server's second digest")
        bed.check(lines(out)[1] == want, "kernel black hole upload: server got %r"
                  % lines(out)[1])
        print("pmtu black hole: shunt through in %.2f s at MSS %d after %d RTOs; the "
              "kernel (tcp_mtu_probing=1) in %.2f s, MSS %d"
              % (s["s"], s["maxseg"], counter(text, "tcp_rexmit_timeout"), k["s"],
                 k["maxseg"]))


def test():
    test_router()
    test_blackhole()


if __name__ == "__main__":
    main(test, "pmtu")
