#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""impair: the impairment tool (tests/impair) checked on the kernel twin of the bed
(a veth pair, no shuntd), so that what issue 9's tests measure through it is what
was asked for. Each case attaches the tool (impair.py), sends measured traffic
(flows.py) and checks the effect with tolerances that do not flake:

  loss      10% on a 2,000-datagram UDP stream: 5..15% lost
  burst     Gilbert 10% in bursts of 4: 4..18% lost, runs of 2..8 on average
  delay     50 ms towards the peer, 20 ms +- 5 ms back: ping RTT 70 ms +- 5 ms,
            and it varies
  dup       10%: 5..15% duplicates, nothing lost
  reorder   5%: 2..8% out of order, nothing lost
  rate      20 Mbit/s from the peer: a 4 MB TCP transfer at 12..21 Mbit/s
  tcp       5% loss and 2 ms both ways: a 4 MB TCP transfer arrives whole (SHA-256)

Every case also requires the kernel to have dropped nothing at the queues (the
tool held everything it was given) and every verdict to have been accepted. The
seed is fixed, so a run's decisions are repeatable.
"""

import json
import os
import re
import sys

from netbed import PEER_IP, PYTHON, STACK_IP, Bed, BedError, main, random_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "impair"))
from impair import Impair, ImpairError, require  # noqa: E402

FLOWS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "impair", "flows.py")
SEED = 9
UDP_PORT, TCP_PORT = 7009, 7010


def clean(bed, imp, stats):
    """The tool held what it was given: no kernel queue drop, no failed verdict."""
    for d in ("to_peer", "from_peer"):
        s = stats[d]
        bed.check(s["kernel_queue_full"] == 0 and s["kernel_socket_full"] == 0
                  and s["verdict_failed"] == 0 and s["dup_failed"] == 0,
                  "%s %s: the tool lost packets of its own: %s" % (imp.name, d, s))


def udp_stream(bed, name, count=2000, pps=4000):
    """count datagrams app -> peer; what the peer's receiver saw."""
    rx = bed.spawn(bed.peer, [PYTHON, FLOWS, "udp-recv", PEER_IP, str(UDP_PORT)],
                   name + "-rx")
    bed.wait_port(bed.peer, UDP_PORT, proc=rx, proto="udp")
    r = bed.run(bed.app, [PYTHON, FLOWS, "udp-send", PEER_IP, str(UDP_PORT), str(count),
                          str(pps)], timeout=30)
    bed.check(r.returncode == 0, "udp-send failed: %s" % r.stderr.decode(errors="replace"))
    bed.check(rx.wait(10) == 0, "udp-recv did not finish")
    with open(rx.out) as f:
        res = json.loads(f.read().strip().splitlines()[-1])
    print("  %s: %s" % (name, {k: v for k, v in res.items() if k != "loss_runs"}))
    return res


def case_udp(bed, name, spec, check):
    with Impair(bed, to_peer=spec, seed=SEED, name=name) as imp:
        res = udp_stream(bed, name)
        stats = imp.stats()
    clean(bed, imp, stats)
    check(res, stats["to_peer"])


def tcp_transfer(bed, name, direction, size=4 << 20):
    """size random bytes app -> peer ("up") or peer -> app ("down"); (result, sha)."""
    src = os.path.join(bed.tmp, name + ".src")
    want = random_file(src, size)
    peer_role, app_role = ("recv", ["send", src]) if direction == "up" else \
        ("send " + src, ["recv"])
    srv = bed.spawn(bed.peer, [PYTHON, FLOWS, "tcp-listen", PEER_IP, str(TCP_PORT)]
                    + peer_role.split(), name + "-srv")
    bed.wait_port(bed.peer, TCP_PORT, proc=srv)
    r = bed.run(bed.app, [PYTHON, FLOWS, "tcp-connect", PEER_IP, str(TCP_PORT)]
                + app_role, timeout=40)
    bed.check(r.returncode == 0, "%s: the app side failed: %s"
              % (name, r.stderr.decode(errors="replace")))
    bed.check(srv.wait(20) == 0, "%s: the peer side did not finish" % name)
    if direction == "up":
        with open(srv.out) as f:
            out = f.read()
    else:
        out = r.stdout.decode()
    res = json.loads(out.strip().splitlines()[-1])
    print("  %s: %d bytes in %.2f s (%.1f Mbit/s)" % (
        name, res["bytes"], res["seconds"], res["bytes"] * 8 / 1e6 / max(res["seconds"], 1e-6)))
    return res, want


def test():
    try:
        require()
    except ImpairError as e:
        raise BedError(str(e))
    with Bed("impair", shuntd=False, veth=True) as bed:
        def loss(res, st):
            bed.check(100 <= res["lost"] <= 300 and res["duplicates"] == 0,
                      "loss=10%%: %d of %d lost (want 5..15%%), tool %s"
                      % (res["lost"], res["sent"], st))
        case_udp(bed, "loss", "loss=10%", loss)

        def burst(res, st):
            runs = res["loss_runs"]
            mean = sum(runs) / len(runs) if runs else 0
            print("  burst: %d runs, mean length %.1f" % (len(runs), mean))
            bed.check(80 <= res["lost"] <= 360 and 2 <= mean <= 8,
                      "burst=10/4: %d of %d lost in runs of %.1f on average (want "
                      "4..18%%, 2..8), tool %s" % (res["lost"], res["sent"], mean, st))
        case_udp(bed, "burst", "burst=10/4", burst)

        def dup(res, st):
            bed.check(100 <= res["duplicates"] <= 300 and res["lost"] == 0,
                      "dup=10%%: %d duplicates, %d lost of %d (want 5..15%%, none), tool %s"
                      % (res["duplicates"], res["lost"], res["sent"], st))
        case_udp(bed, "dup", "dup=10%", dup)

        def reorder(res, st):
            bed.check(40 <= res["out_of_order"] <= 160 and res["lost"] == 0
                      and res["duplicates"] == 0,
                      "reorder=5%%: %d out of order, %d lost of %d (want 2..8%%, none), "
                      "tool %s" % (res["out_of_order"], res["lost"], res["sent"], st))
        case_udp(bed, "reorder", "reorder=5%", reorder)

        with Impair(bed, to_peer="delay=50ms", from_peer="delay=20ms,jitter=5ms",
                    seed=SEED, name="delay") as imp:
            r = bed.run(bed.app, ["ping", "-n", "-q", "-c", "40", "-i", "0.02", PEER_IP],
                        timeout=20)
            out = r.stdout.decode()
            stats = imp.stats()
        clean(bed, imp, stats)
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
        print("  delay: rtt min/avg/max/mdev %s" % ("/".join(m.groups()) if m else out))
        # The tool holds each packet 65..75 ms in all; what the host adds on top
        # (a busy core delays a ping's reply) only lengthens an RTT, so the
        # shortest must be at least 64 ms and the mean near 70, but the longest
        # is bounded by the machine's load, not by the tool: not checked (it
        # failed once at 78 ms with the suite and two builds on 2 cores).
        bed.check(r.returncode == 0 and m and 64 <= float(m.group(1))
                  and 66 <= float(m.group(2)) <= 74 and float(m.group(4)) >= 0.5,
                  "delay 50 ms + 20+-5 ms: want an RTT of 70+-5 ms that varies:\n" + out)

        with Impair(bed, from_peer="rate=20mbit", seed=SEED, name="rate") as imp:
            res, want = tcp_transfer(bed, "rate", "down")
            stats = imp.stats()
        clean(bed, imp, stats)
        mbit = res["bytes"] * 8 / 1e6 / max(res["seconds"], 1e-6)
        bed.check(res["sha256"] == want and 12 <= mbit <= 21,
                  "rate=20mbit: %.1f Mbit/s (want 12..21), sha256 %s" % (
                      mbit, "ok" if res["sha256"] == want else "WRONG"))

        spec = "loss=5%,delay=2ms"
        with Impair(bed, to_peer=spec, from_peer=spec, seed=SEED,
                    name="tcp") as imp:
            res, want = tcp_transfer(bed, "tcp", "up")
            stats = imp.stats()
        clean(bed, imp, stats)
        print("  tcp: dropped %d to the peer, %d from it" % (
            stats["to_peer"]["drop_loss"], stats["from_peer"]["drop_loss"]))
        bed.check(res["bytes"] == 4 << 20 and res["sha256"] == want
                  and stats["to_peer"]["drop_loss"] > 0,
                  "loss=5%%, delay=2ms both ways: %d bytes arrived, sha256 %s" % (
                      res["bytes"], "ok" if res["sha256"] == want else "WRONG"))


if __name__ == "__main__":
    main(test, "impair")
