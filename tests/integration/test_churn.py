#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""churn: programs that die with their sockets open leave shuntd as they found it
(issue 8).

1. 1,000 runs of churnapp under shunt, 8 at a time: each opens 2 TCP connections
   and a UDP socket through shuntd, checks an echo on each, and then exits without
   closing anything, SIGKILLs itself or crashes (abort), in turn.
2. For CHURN_SECONDS (10 by default; the issue's full minute with 60), 32 at a
   time, each with 100 connections, attaching and detaching in a loop (closing
   properly).

Each program must have echoed ("ok") and died the way it was told. Afterwards
shuntd must be back where it was after a warm-up: no process left in its table,
as many TCP control blocks as before (its TIME_WAIT is 0.5 s here,
--time_wait_ms, so the closed connections leave the table in this test's time),
no UDP socket, and its memory (VmRSS) within 8 MB of what it was (under the
sanitizers, LeakSanitizer at shuntd's exit checks leaks instead: ASan's quarantine
holds freed memory). The figures are printed."""

import concurrent.futures
import os
import re
import time

from netbed import BUILD, HERE, PEER_IP, PYTHON, SANITIZE, Bed, counter, main, proc_kb

PEERS = os.path.join(HERE, "peers.py")
APP = os.path.join(BUILD, "tests", "integration", "churnapp")
TCP_PORT, UDP_PORT = 7700, 7701
RUNS = int(os.environ.get("CHURN_RUNS", "1000"))
SECONDS = float(os.environ.get("CHURN_SECONDS", "10"))
# Under -Dsanitize=true ASan's quarantine holds up to 256 MB of freed memory, so
# VmRSS would measure ASan; LeakSanitizer's report at shuntd's exit, which fails
# the test (netbed.py), checks for leaks instead.
MEM_SLACK_KB = (256 + 8) * 1024 if SANITIZE else 8 * 1024
EXPECT_RC = {"exit": 0, "kill": -9, "abort": -6, "close": 0}


def state(bed):
    """(processes in shuntd's table, TCP control blocks, UDP sockets) from SIGUSR1."""
    text = bed.counters()
    apps = len(re.findall(r"^app pid \d+", text, re.M))
    bed.check("tcp_tcbs" in text and "udp_pcbs" in text,
              "shuntd's SIGUSR1 dump has no tcp_tcbs or udp_pcbs:\n" + text)
    return apps, counter(text, "tcp_tcbs"), counter(text, "udp_pcbs"), text


def run_one(bed, n, how):
    r = bed.run(bed.app, bed.shunt_argv([APP, PEER_IP, str(TCP_PORT), str(UDP_PORT), str(n),
                                         how]), timeout=60)
    ok = r.stdout.decode().strip() == "ok" and r.returncode == EXPECT_RC[how]
    return None if ok else "churnapp %d %s: exit %d, stdout %r, stderr %r" % (
        n, how, r.returncode, r.stdout, r.stderr.decode(errors="replace")[-300:])


def settle(bed, want, timeout=20):
    """Wait until shuntd's table is back to want (apps, tcbs, udp); return it."""
    deadline = time.monotonic() + timeout
    while True:
        got = state(bed)
        if got[:3] == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test():
    with Bed("churn", shuntd_args=["--time_wait_ms=500"]) as bed:
        echo = bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(TCP_PORT)], "echo")
        uecho = bed.spawn_peer([PYTHON, PEERS, "udpecho", PEER_IP, str(UDP_PORT)], "uecho")
        bed.wait_port(bed.peer, TCP_PORT, proc=echo)
        bed.wait_port(bed.peer, UDP_PORT, proc=uecho, proto="udp")
        # warm-up: shuntd's pools and tables reach their working size
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            bad = [e for e in ex.map(lambda i: run_one(bed, 2, "exit"), range(40)) if e]
        bed.check(not bad, "warm-up: %s" % bad[:3])
        base = settle(bed, (0, 0, 0))
        bed.check(base[:3] == (0, 0, 0), "after the warm-up shuntd still holds something:\n"
                  + base[3])
        mem0 = proc_kb(bed.shuntd.pid, "VmRSS")

        hows = ["exit", "kill", "abort"]
        t = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            bad = [e for e in ex.map(lambda i: run_one(bed, 2, hows[i % 3]), range(RUNS)) if e]
        bed.check(not bad, "%d of %d runs went wrong, e.g.:\n  %s"
                  % (len(bad), RUNS, "\n  ".join(bad[:5])))
        took = time.monotonic() - t
        after = settle(bed, base[:3])
        mem1 = proc_kb(bed.shuntd.pid, "VmRSS")
        print("%d programs (exit without close, SIGKILL, abort) in %.1f s: shuntd then holds "
              "%d processes, %d TCP control blocks, %d UDP sockets; VmRSS %d kB -> %d kB"
              % (RUNS, took, after[0], after[1], after[2], mem0, mem1))
        bed.check(after[:3] == base[:3], "after %d programs died, shuntd holds (processes, "
                  "tcbs, udp) %s, not %s:\n%s" % (RUNS, after[:3], base[:3], after[3]))
        bed.check(mem1 - mem0 <= MEM_SLACK_KB, "shuntd grew by %d kB over %d programs"
                  % (mem1 - mem0, RUNS))

        # 32 at a time, 100 connections each, for SECONDS
        t = time.monotonic()
        runs = 0
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            futs = set()
            while time.monotonic() - t < SECONDS or futs:
                while len(futs) < 32 and time.monotonic() - t < SECONDS:
                    futs.add(ex.submit(run_one, bed, 100, "close"))
                done, futs = concurrent.futures.wait(
                    futs, return_when=concurrent.futures.FIRST_COMPLETED)
                for f in done:
                    runs += 1
                    bed.check(f.result() is None, f.result() or "")
        after = settle(bed, base[:3])
        mem2 = proc_kb(bed.shuntd.pid, "VmRSS")
        print("%d programs of 100 connections, 32 at a time for %.0f s: shuntd then holds "
              "%d processes, %d TCP control blocks, %d UDP sockets; VmRSS %d kB"
              % (runs, SECONDS, after[0], after[1], after[2], mem2))
        bed.check(after[:3] == base[:3], "after the attach/detach loop shuntd holds %s, "
                  "not %s:\n%s" % (after[:3], base[:3], after[3]))
        bed.check(mem2 - mem0 <= MEM_SLACK_KB, "shuntd grew by %d kB in the attach/detach "
                  "loop" % (mem2 - mem0))


if __name__ == "__main__":
    main(test, "churn")
