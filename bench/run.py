#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""The benchmark harness: the same workloads through the Linux kernel and through
shunt, in one run, reported side by side and as ratios (shunt / kernel).

    kernel world: client netns --veth--> peer netns (kernel servers)
    shunt world:  client netns under `shunt` -> shuntd --net_tap--> peer netns

Both peers are the Linux kernel running the same servers; only the client's stack
differs. Workloads, one world at a time so they never share the 2 cores:

    throughput  iperf3 -c, N seconds, client sends       (Mbit/s, higher is better)
    rr          bench/rr: 64-byte request/response, one connection  (us, lower)
    conn        bench/rr: connect + 1-byte round trip + close       (conn/s, higher)

Run as root after a build:  python3 bench/run.py [--seconds 5] [--idle poll|adaptive]
or through meson:           meson test -C build --benchmark
The numbers are measurements for a report, never assertions: nothing here fails
because shunt is slow, only because a workload could not run.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from netbed import BUILD, PEER_IP, Bed, BedError  # noqa: E402

RR = os.environ.get("SHUNT_RR") or os.path.join(BUILD, "bench", "rr")
IPERF_PORT, RR_PORT = 5201, 7200


def workloads(bed, client, seconds, rr_n, conn_n):
    """Run every workload from `client` (argv prefix) against bed's peer."""
    res = {}
    srv = bed.spawn_peer(["iperf3", "-s", "-p", str(IPERF_PORT)], "iperf3-server")
    bed.wait_port(bed.peer, IPERF_PORT, proc=srv)
    r = bed.run(bed.app, client + ["iperf3", "-c", PEER_IP, "-p", str(IPERF_PORT), "-t",
                                   str(seconds), "-J"], timeout=seconds + 30)
    bed.check(r.returncode == 0, "iperf3 failed: %s" % r.stderr.decode(errors="replace"))
    j = json.loads(r.stdout)
    res["throughput_mbit"] = j["end"]["sum_received"]["bits_per_second"] / 1e6
    srv.popen.kill()

    rr = bed.spawn_peer([RR, "serve", str(RR_PORT)], "rr-server")
    bed.wait_port(bed.peer, RR_PORT, proc=rr)
    r = bed.run(bed.app, client + [RR, "rr", PEER_IP, str(RR_PORT), str(rr_n), "64"],
                timeout=120)
    bed.check(r.returncode == 0, "rr failed: %s" % r.stderr.decode(errors="replace"))
    j = json.loads(r.stdout)
    res["rr_p50_us"], res["rr_p99_us"] = j["p50_us"], j["p99_us"]
    r = bed.run(bed.app, client + [RR, "conn", PEER_IP, str(RR_PORT), str(conn_n)],
                timeout=120)
    bed.check(r.returncode == 0, "conn failed: %s" % r.stderr.decode(errors="replace"))
    res["conn_per_s"] = json.loads(r.stdout)["conns_per_s"]
    return res


ROWS = [  # key, label, unit, higher is better
    ("throughput_mbit", "iperf3 throughput", "Mbit/s", True),
    ("rr_p50_us", "64 B request/response p50", "us", False),
    ("rr_p99_us", "64 B request/response p99", "us", False),
    ("conn_per_s", "connect + round trip + close", "conn/s", True),
]


def report(kern, shunt, idle):
    print("\nshunt (shuntd idle=%s, net_tap) vs the Linux kernel (veth), same peers:" % idle)
    print("  %-30s %10s %10s %-7s %s" % ("workload", "kernel", "shunt", "", "shunt/kernel"))
    for key, label, unit, higher in ROWS:
        k, s = kern[key], shunt[key]
        print("  %-30s %10.1f %10.1f %-7s %.2fx (%s is better)" % (
            label, k, s, unit, s / k if k else 0.0, "higher" if higher else "lower"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rr", type=int, default=20000, help="round trips")
    ap.add_argument("--conns", type=int, default=500, help="connections")
    ap.add_argument("--idle", choices=("adaptive", "poll"), default="adaptive")
    a = ap.parse_args()
    if not os.access(RR, os.X_OK):
        sys.exit("bench/rr is not built: %s (ninja -C %s)" % (RR, BUILD))
    try:
        with Bed("bench-kernel", shuntd=False, veth=True) as bed:
            kern = workloads(bed, [], a.seconds, a.rr, a.conns)
        with Bed("bench-shunt", shuntd_args=["--idle=" + a.idle]) as bed:
            shunt = workloads(bed, bed.shunt_argv([]), a.seconds, a.rr, a.conns)
    except BedError as e:
        sys.exit("bench: %s" % e)
    report(kern, shunt, a.idle)
    print(json.dumps({"kernel": kern, "shunt": shunt, "idle": a.idle}))


if __name__ == "__main__":
    main()
