#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""dp_death: when shuntd goes away, nothing that waits on it hangs (issue 8).

deathprobe.py runs under shunt, dup2()s onto the numbers of the shim's own fds
(the shim moves them away: its watcher must still see the hang-up), then has a
thread blocked in each call that can wait on shuntd (recv, send with a full buffer, connect, accept, epoll_wait, poll,
select, UDP recvfrom). Once every thread of it sleeps, shuntd is killed
(SIGKILL: no goodbye at all), and in a second bed stopped (SIGTERM). Every call
must return within a second of that with what Linux gives a dead connection
(recv ECONNRESET, send EPIPE or ECONNRESET, or the bytes it had queued when
shuntd's SIGTERM reset the connection, as Linux's send returns; connect and accept ENETDOWN, the
waits with the socket ready and in error, UDP ENETDOWN); later calls on the
same sockets must fail the same way, and a new socket must be the kernel's (the
app netns has only lo: ENETUNREACH). Then shuntd runs again, and within a
few seconds a new socket of the same program goes through it again (the shim
tries to attach once a second), while the old ones stay dead."""

import json
import os
import re
import signal
import time

from netbed import HERE, PEER_IP, PYTHON, STACK_IP, Bed, main

PEERS = os.path.join(HERE, "peers.py")
PROBE = os.path.join(HERE, "deathprobe.py")
HOLD, LPORT, NOBODY = 7600, 7601, "10.77.0.99"
LIMIT_S = 1.0

EXPECT = {
    "recv": {"ECONNRESET"},
    "send": {"EPIPE", "ECONNRESET"},  # or "ok N": what it queued before the reset
    "connect": {"ENETDOWN"},
    "accept": {"ENETDOWN"},
    "epoll_wait": {"ok [(True, 25)]", "ok [(True, 29)]"},  # IN|ERR|HUP (|OUT)
    "poll": {"ok [25]", "ok [29]"},
    "select": {"ok [1, 0, 0]"},
    "udp_recvfrom": {"ENETDOWN"},
}
EXPECT_AFTER = {
    "recv": {"ok 0"}, "recv_again": {"ok 0"},
    "send": {"EPIPE", "ECONNRESET"},  # ECONNRESET if the blocked send returned bytes
    # UDP: ENETDOWN once (the blocked recvfrom took it), as Linux reports
    # sk_err; then sends fail and a non-blocking read finds nothing
    "udp_sendto": {"ENETDOWN"}, "udp_recv_nb": {"EAGAIN"},
    "new_connect": {"ENETUNREACH"},
}


def all_asleep(pid, want):
    """True when the process has at least `want` threads, all sleeping (S)."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        states = []
        for t in tids:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
    except OSError:
        return False
    return len(states) >= want and all(s == "S" for s in states)


def one(how):
    with Bed("dp-death") as bed:
        hold = bed.spawn_peer([PYTHON, PEERS, "hold", PEER_IP, str(HOLD)], "hold")
        bed.wait_port(bed.peer, HOLD, proc=hold)
        flag = os.path.join(bed.tmp, "back")
        probe = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PROBE, PEER_IP, str(HOLD), NOBODY,
                                                   STACK_IP, str(LPORT), flag]), "probe")
        out = os.path.join(bed.tmp, "probe.out")
        deadline = time.monotonic() + 20
        # main + 8 callers + the shim's watcher, every one asleep in its call
        while not (open(out).read().startswith("ready") and all_asleep(probe.pid, 10)):
            bed.check(probe.alive() and time.monotonic() < deadline,
                      "deathprobe never had all its calls blocked:\n%s%s" % (
                          open(out).read(), open(os.path.join(bed.tmp, "probe.err")).read()))
            time.sleep(0.02)
        t_kill = time.monotonic()
        bed.shuntd.send_signal(how)
        bed.shuntd.wait(10)
        deadline = time.monotonic() + 15
        while len(open(out).read().splitlines()) < 2:
            bed.check(probe.alive() and time.monotonic() < deadline, "deathprobe still "
                      "blocked 15 s after shuntd went away (%s)" % how.name)
            time.sleep(0.02)
        with open(out) as f:
            res = json.loads(f.read().splitlines()[1])
        with open(os.path.join(bed.tmp, "probe.err")) as f:
            moved = re.search(r"moved (\d+)", f.read())
        # the control socket, the doorbell, the watcher's epoll at least
        bed.check(moved is not None and int(moved.group(1)) >= 3,
                  "deathprobe did not take the shim's fd numbers: %s" % moved)
        bad = []
        for call, (got, when) in sorted(res["calls"].items()):
            took = when - t_kill
            print("  %-8s %-14s -> %-22s %.3f s" % (how.name, call, got, took))
            if got not in EXPECT[call] and not (call == "send" and got.startswith("ok ")):
                bad.append("%s gave %s, want one of %s" % (call, got, sorted(EXPECT[call])))
            if took > LIMIT_S:
                bad.append("%s returned %.2f s after shuntd went away" % (call, took))
        for call, got in sorted(res["after"].items()):
            print("  %-8s after: %-9s -> %s" % (how.name, call, got))
            if got not in EXPECT_AFTER[call]:
                bad.append("later %s gave %s, want one of %s"
                           % (call, got, sorted(EXPECT_AFTER[call])))
        bed.check(not bad, "after shuntd's %s:\n  " % how.name + "\n  ".join(bad))
        bed.start_shuntd()
        open(flag, "w").close()
        bed.check(probe.wait(20) is not None, "deathprobe did not finish after shuntd came "
                  "back")
        with open(out) as f:
            back = json.loads(f.read().splitlines()[2])
        print("  %-8s shuntd back: %s" % (how.name, back))
        bed.check(back["connect"] == "ok None" and back["name"] == STACK_IP and
                  back["old_recv"] == "ok 0" and back["old_udp_recv"] == "EAGAIN",
                  "once shuntd was back: %s (want a new connection through it, named %s, "
                  "and the old sockets still dead)" % (back, STACK_IP))


def test():
    for how in (signal.SIGKILL, signal.SIGTERM):
        one(how)
    print("every blocked call returned within %.1f s of shuntd going away" % LIMIT_S)


if __name__ == "__main__":
    main(test, "dp_death")
