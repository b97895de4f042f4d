#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""clients_connect: real clients fail (and succeed) through shunt as through the
kernel (issue 3): curl to a closed port, a black hole and an unreachable host (exit
code and message), Python asyncio open_connection failures (exception class and
errno), a Python UDP client and dig exchanging datagrams with kernel servers. Each
runs in the two worlds of diffbed.py, all at once."""

import concurrent.futures
import re

from diffbed import (BLACKHOLE, CLOSED, DNS, ECHO, ICMP, NOBODY_IP, NOROUTE_IP, UECHO,
                     Worlds, duration_ok)
from netbed import PEER_IP, PYTHON, main
from diffbed import PEERS

P = PEER_IP


def curl(url, *opts):
    return ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "--max-time", "15"] + \
        list(opts) + [url]


CLIENTS = [
    # name, argv, expected exit (the kernel's, checked too: the bed must be right)
    ("curl_refused", curl("http://%s:%d/" % (P, CLOSED)), 7),
    ("curl_blackhole", curl("http://%s:%d/" % (P, BLACKHOLE), "--connect-timeout", "2"),
     28),
    ("curl_unreachable", curl("http://%s:%d/" % (NOBODY_IP, ECHO)), 7),
    ("curl_no_route", curl("http://%s:%d/" % (NOROUTE_IP, ECHO)), 7),
    ("asyncio_failures", [PYTHON, PEERS, "aconnect", "2",
                          "%s:%d" % (P, CLOSED), "%s:%d" % (P, BLACKHOLE),
                          "%s:%d" % (NOBODY_IP, ECHO), "%s:%d" % (NOROUTE_IP, ECHO),
                          "%s:%d" % (P, ICMP["host-unreachable"][0]),
                          "%s:%d" % (P, ICMP["port-unreachable"][0]),
                          "%s:%d" % (P, ECHO)], 0),
    ("python_udp", [PYTHON, PEERS, "udpclient", P, str(UECHO), "200"], 0),
    ("dig", ["dig", "@" + P, "-p", str(DNS), "+tries=1", "+time=2", "+short",
             "shunt.test", "A"], 0),
]


def normalise(text):
    """Client output without what legitimately differs (times, ports, dig's ids)."""
    text = re.sub(r"after \d+ ms", "after N ms", text)
    text = re.sub(r"after \d+ milliseconds", "after N milliseconds", text)
    return text.strip()


def test():
    with Worlds("clients") as w:
        with concurrent.futures.ThreadPoolExecutor(2 * len(CLIENTS)) as ex:
            futs = {(name, world.kind): ex.submit(world.run, argv, 30)
                    for name, argv, _ in CLIENTS for world in (w.kernel, w.shunt)}
            got = {k: f.result() for k, f in futs.items()}
        bad = []
        print("%-18s %-44s %-44s %s" % ("clients", "kernel", "shunt", "verdict"))
        for name, argv, want in CLIENTS:
            obs = {}
            for kind in ("kernel", "shunt"):
                r, secs = got[(name, kind)]
                obs[kind] = (r.returncode, normalise(r.stdout.decode(errors="replace")),
                             normalise(r.stderr.decode(errors="replace")), secs)
            k, s = obs["kernel"], obs["shunt"]
            why = []
            if k[0] != want:
                why.append("the kernel world's exit is %d, not %d: the bed is wrong"
                           % (k[0], want))
            if k[:3] != s[:3]:
                why.append("exit/stdout/stderr differ")
            if not duration_ok(k[3] * 1000, s[3] * 1000):
                why.append("took %.2f s through the kernel, %.2f s through shunt"
                           % (k[3], s[3]))
            short = lambda o: ("exit %d %.1fs %s" % (o[0], o[3], (o[2] or o[1])[:60]
                                                       .replace("\n", " ")))
            print("%-18s %-44s %-44s %s" % (name, short(k)[:44], short(s)[:44],
                                            "ok" if not why else "DIFF"))
            if why:
                bad.append("=== %s: %s\n  - %s\n  kernel: exit %d in %.2f s\n"
                           "    stdout: %s\n    stderr: %s\n  shunt:  exit %d in %.2f s\n"
                           "    stdout: %s\n    stderr: %s"
                           % (name, " ".join(argv), "\n  - ".join(why), k[0], k[3], k[1],
                              k[2], s[0], s[3], s[1], s[2]))
        if bad:
            w.shunt.bed.fail("%d of %d clients differ between the kernel and shunt:\n%s"
                             % (len(bad), len(CLIENTS), "\n".join(bad)))


if __name__ == "__main__":
    main(test, "clients_connect")
