#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""stress_threads: 64 threads on 16 shared TCP sockets (2 writers + 2 readers per
socket) sending and receiving for STRESS_THREADS_SECONDS (30 s, the issue's figure),
every byte checked in both directions (stress.h):

  program -> peer: each writer's own tagged stream; the kernel peer
      (stress_peer streams) checks every byte at its position in its writer's
      stream, whatever the interleaving of writers on the socket;
  peer -> program: one recurrence stream per socket; what each recv() returns
      must be one contiguous, uncorrupted piece of it (Linux holds the socket lock
      for the whole recvmsg, so concurrent readers split the stream between them
      but each gets a contiguous piece), and the histogram of everything a socket
      received must be that of the first N bytes of its stream.

Both sides' counts must agree: what each writer sent is what the peer checked,
what the peer sent is what the readers received.

The same program first runs on the kernel (a veth world, netbed's diffbed twin)
for STRESS_THREADS_KERNEL_SECONDS (5 s) as the control: it shows the checks hold
on Linux, so a failure through shunt is shunt's.
"""

import os
import re

from netbed import BUILD, PEER_IP, Bed, main

PORT = 9300
NSOCK = 16
WRITERS = 2
READERS = 2
SECONDS = float(os.environ.get("STRESS_THREADS_SECONDS", "30"))
KERNEL_SECONDS = float(os.environ.get("STRESS_THREADS_KERNEL_SECONDS", "5"))
BIN = os.path.join(BUILD, "tests", "integration")

LINE = re.compile(r"^(conn|sock) (\d+) (ok|FAIL)((?: w\d+=\d+)+) (?:sent|recv)=(\d+)")


def parse(text, what):
    """{id: (ok, {writer: bytes}, stream bytes, line)} from the peer or the program."""
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(1) == what:
            ws = dict((int(k), int(v)) for k, v in re.findall(r"w(\d+)=(\d+)", m.group(4)))
            out[int(m.group(2))] = (m.group(3) == "ok", ws, int(m.group(5)), line)
    return out


def run_world(bed, seconds, under_shunt):
    world = "shunt" if under_shunt else "kernel"
    peer = bed.spawn_peer([os.path.join(BIN, "stress_peer"), "streams", PEER_IP, str(PORT),
                           str(NSOCK), str(WRITERS), "1"], "peer-" + world)
    bed.wait_port(bed.peer, PORT, proc=peer)
    argv = [os.path.join(BIN, "stress_threads"), PEER_IP, str(PORT), str(NSOCK),
            str(WRITERS), str(READERS), "%g" % seconds]
    tmo = seconds + 20
    r = bed.run_shunt(argv, timeout=tmo) if under_shunt else bed.run(bed.app, argv, timeout=tmo)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace")
    rc = peer.wait(10)
    with open(peer.out) as f:
        pout = f.read()
    prog, seen = parse(out, "sock"), parse(pout, "conn")
    problems = []
    if r.returncode != 0:
        problems.append("the program exited %d" % r.returncode)
    if rc != 0:
        problems.append("the peer exited %s" % rc)
    for i in range(NSOCK):
        p, q = prog.get(i), seen.get(i)
        if p is None or q is None:
            problems.append("socket %d: no report from the %s" % (
                i, "program" if p is None else "peer"))
            continue
        if not p[0]:
            problems.append("program: " + p[3])
        if not q[0]:
            problems.append("peer: " + q[3])
        if p[1] != q[1]:
            problems.append("socket %d: writers sent %s, the peer checked %s" % (i, p[1], q[1]))
        if p[2] != q[2]:
            problems.append("socket %d: the peer sent %d bytes, the readers got %d"
                            % (i, q[2], p[2]))
    up = sum(sum(p[1].values()) for p in prog.values())
    down = sum(p[2] for p in prog.values())
    sends = sum(int(m) for m in re.findall(r"sends=(\d+)", out))
    recvs = sum(int(m) for m in re.findall(r"recvs=(\d+)", out))
    seamed = sum(int(m) for m in re.findall(r"seamed=(\d+)", out))
    print("%s: %d sockets x %d threads, %.0f s: %.1f MB up (%d send calls), %.1f MB down "
          "(%d recv calls, %d not one piece), %.1f MB/s total, every byte checked%s"
          % (world, NSOCK, WRITERS + READERS, seconds, up / 1e6, sends, down / 1e6, recvs,
             seamed, (up + down) / 1e6 / seconds, "" if not problems else ": FAILED"),
          flush=True)
    bed.check(not problems, "%s world: %d problem(s):\n%s\n--- program stdout:\n%s\n"
              "--- program stderr:\n%s" % (world, len(problems), "\n".join(problems[:20]),
                                          out[-3000:], err[-3000:]))


def test():
    if KERNEL_SECONDS > 0:
        with Bed("stress-threads-kernel", shuntd=False, veth=True) as bed:
            run_world(bed, KERNEL_SECONDS, under_shunt=False)
    with Bed("stress-threads") as bed:
        run_world(bed, SECONDS, under_shunt=True)


if __name__ == "__main__":
    main(test, "stress_threads")
