#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""fork: sockets shared across fork() as Linux shares them (issue 8).

forkprog.py's programs run under shunt in the app netns; their peers are kernel
sockets in the peer netns (forkprog_peer.py), which record every connection
(what arrived, when EOF came, any error) so each case is judged from both ends:

  prefork_blocking  a pre-forking server: listeners on 0.0.0.0:7800 and on the
                    stack's address :7801 made before fork, 4 workers each with a
                    thread in a blocking accept() per listener; 400 kernel clients,
                    16 at a time, each checking that its token comes back with a
                    worker's pid: all 400 answered, each token served exactly once
                    (the workers' log), at least 2 workers served; then shuntd holds
                    only the 2 listeners' control blocks.
  prefork_epoll     the same with the nginx model (7802, 7803): listeners made
                    non-blocking before fork, each worker's own epoll made after
                    fork, an EAGAIN from accept a race lost to another worker.
  childwrite        the child sends on the parent's connection and exits; the
                    parent then sends and gets "p1c1p2" back, in order.
  childread         the child receives the peer's greeting; the parent never reads.
  lastclose         the parent closes its copy at once; the child uses the
                    connection for half a second: the peer sees every message and
                    no EOF until the child closes, then EOF within 1 s.
  shutwr            shutdown(SHUT_WR) in the child: the peer sees EOF within 1 s
                    while the parent still holds the socket; the parent's send
                    then fails with EPIPE and it receives what the peer sends.
  killchild         a child SIGKILLed while blocked in recv() on the shared
                    socket: the parent's send/recv keep working.
  parentexits       the parent _exit()s holding the socket: the child keeps working.
  forkrace          150 forks while two threads open, use and close connections;
                    each child waits until both threads closed the one they had at
                    the fork: every connection it inherited works in it (a fork
                    that races a connect or a close must not leave the child a
                    socket it does not hold).
  no_leak           afterwards shuntd holds no TCP control block and no process
                    in its table (the programs are gone; TIME_WAIT is 0.5 s here,
                    --time_wait_ms).

Every case runs, and all failures are reported together with shuntd's counters and
log. SHUNT_FORK_CASES="case ..." runs only those (no_leak always runs last).

SHUNT_FORK_KERNEL=1 runs the same programs without shunt on the kernel twin of
the bed (netbed's veth: the app netns owns the stack's address, no shuntd), the
control that shows the checks are Linux's semantics; no_leak then reads the app
netns's /proc/net/tcp (TIME_WAIT, the kernel's own timer, not counted)."""

import collections
import json
import os
import re
import signal
import time

from netbed import HERE, PEER_IP, PYTHON, STACK_IP, Bed, BedError, counter, main, sh

PROG = os.path.join(HERE, "forkprog.py")
PEER = os.path.join(HERE, "forkprog_peer.py")
KERNEL = bool(os.environ.get("SHUNT_FORK_KERNEL"))
CONNS, CONC, WORKERS = 400, 16, 4
EOF_LIMIT_S = 1.0


class CaseFailed(AssertionError):
    pass


def expect(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def wait_for(cond, timeout, step=0.02):
    """cond() once it is true, or its last value after timeout s."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def app_argv(bed, argv):
    return list(argv) if KERNEL else bed.shunt_argv(argv)


def run_app(bed, *args, prog=PROG, timeout=20):
    """python3 PROG ARGS in the app netns (under shunt unless KERNEL): (exit status,
    its last stdout line as JSON or None, stdout, stderr)."""
    r = bed.run(bed.app, app_argv(bed, [PYTHON, prog] + [str(a) for a in args]),
                timeout=timeout)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    lines = out.strip().splitlines()
    try:
        res = json.loads(lines[-1]) if lines else None
    except ValueError:
        res = None
    return r.returncode, res, out, err


def peer_server(bed, name, port, *opts):
    """A recording forkprog_peer.py server on PEER_IP:port; returns its log's path."""
    log = os.path.join(bed.tmp, name + ".log")
    p = bed.spawn_peer([PYTHON, PEER, "serve", PEER_IP, str(port), log] + list(opts), name)
    bed.wait_port(bed.peer, port, proc=p)
    return log


def records(log):
    """The peer's complete records so far (a line still being written is not one)."""
    try:
        text = read(log)
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1]]


def one_record(log, timeout=10):
    """The peer's record of the one connection it had (waiting for its end)."""
    recs = wait_for(lambda: records(log), timeout)
    expect(len(recs) == 1, "the peer recorded %d connections, want 1 (within %d s): %s"
           % (len(recs), timeout, recs))
    return recs[0]


def held(bed):
    """(control blocks held, what they are): shuntd's tcp_tcbs; on the kernel the
    app netns's TCP sockets not in TIME_WAIT."""
    if not KERNEL:
        text = bed.counters()
        return counter(text, "tcp_tcbs"), text
    r = sh(["ip", "netns", "exec", bed.app, "cat", "/proc/net/tcp"])
    socks = [line.split() for line in r.stdout.decode().splitlines()[1:]]
    socks = [f for f in socks if len(f) > 3 and f[3] != "06"]
    return len(socks), "\n".join(" ".join(f[1:4]) for f in socks)


def settle(bed, want, timeout=10):
    """held(bed) once it is want control blocks (and, at 0, no process left in
    shuntd's table), or as it is after timeout s."""
    def done():
        h = held(bed)
        idle = want or not re.search(r"^app pid \d+", h[1], re.M)
        return h if h[0] == want and idle else None
    return wait_for(done, timeout, 0.2) or held(bed)


# ------------------------------------------------------------------------ cases
def prefork(bed, mode, port):
    log = os.path.join(bed.tmp, "prefork-%s.log" % mode)
    srv = bed.spawn(bed.app, app_argv(bed, [PYTHON, PROG, "prefork", mode, STACK_IP,
                                            str(port), str(port + 1), str(WORKERS), log]),
                    "prefork-" + mode)
    try:
        wait_for(lambda: read(srv.out).startswith("ready") or not srv.alive(), 15)
        expect(srv.alive() and read(srv.out).startswith("ready"),
               "the pre-forking server did not start: %s" % read(srv.err)[-2000:])
        workers = set(read(srv.out).split()[1:])
        r = bed.run(bed.peer, [PYTHON, PEER, "clients", STACK_IP, str(port), str(port + 1),
                               str(CONNS), str(CONC)], timeout=60)
        try:
            res = json.loads(r.stdout.decode())
        except ValueError:
            res = {"ok": 0, "errors": [r.stderr.decode(errors="replace")[-2000:]],
                   "pids": {}, "tokens": {}}
        expect(res["ok"] == CONNS and not res["errors"],
               "%d of %d connections answered right; errors: %s\n--- server stderr:\n%s"
               % (res["ok"], CONNS, res["errors"], read(srv.err)[-2000:]))
        lines = [line.split() for line in read(log).splitlines()]
        served = collections.Counter(f[1] for f in lines if f[0] != "eagain")
        by = collections.Counter(f[0] for f in lines if f[0] != "eagain")
        eagain = sum(1 for f in lines if f[0] == "eagain")
        twice = [t for t, n in served.items() if n != 1]
        expect(not twice and set(served) == set(res["tokens"]),
               "the workers' log: %d tokens served more than once (%s), %d not a "
               "client's, %d of the clients' missing"
               % (len(twice), twice[:5], len(set(served) - set(res["tokens"])),
                  len(set(res["tokens"]) - set(served))))
        expect(set(by) <= workers and dict(by) == res["pids"],
               "served by %s (clients saw %s), the workers are %s"
               % (dict(by), res["pids"], sorted(workers)))
        expect(len(by) >= 2, "only worker %s served" % list(by))
        ports = collections.Counter(res["tokens"].values())
        expect(ports == {port: CONNS // 2, port + 1: CONNS // 2},
               "connections per port: %s" % dict(ports))
        n, text = settle(bed, 2)
        expect(n == 2, "with the server idle, %d control blocks held, want its 2 "
               "listeners:\n%s" % (n, text))
        print("  %d connections on 0.0.0.0:%d and %s:%d, each served once, by %d of %d "
              "workers (%s)%s; then only the 2 listeners held"
              % (CONNS, port, STACK_IP, port + 1, len(by), WORKERS,
                 " ".join(str(v) for v in sorted(by.values(), reverse=True)),
                 ", %d accepts lost the race (EAGAIN)" % eagain if mode == "epoll" else ""))
    finally:
        if srv.alive():
            srv.popen.send_signal(signal.SIGTERM)
        rc = srv.wait(10)
    expect(rc == 0, "the pre-forking server exited %s on SIGTERM: %s"
           % (rc, read(srv.err)[-2000:]))


def prefork_blocking(bed):
    prefork(bed, "blocking", 7800)


def prefork_epoll(bed):
    prefork(bed, "epoll", 7802)


def childwrite(bed):
    log = peer_server(bed, "echo-childwrite", 7810, "--echo")
    rc, res, out, err = run_app(bed, "childwrite", PEER_IP, 7810)
    expect(rc == 0 and res == {"got": "p1c1p2"},
           "childwrite: exit %d, %r, want p1c1p2 back\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "p1c1p2" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s, EOF %s), want p1c1p2 then EOF"
           % (rec["got"], rec["error"], rec["t_eof"]))
    print("  p1 (parent), c1 (child, then exit), p2 (parent): echoed p1c1p2")


GREETING = "greeting from the kernel peer\n"


def childread(bed):
    log = peer_server(bed, "greet-childread", 7811, "--greet", GREETING)
    rc, res, out, err = run_app(bed, "childread", PEER_IP, 7811)
    expect(rc == 0 and res == {"child_got": GREETING},
           "childread: exit %d, %r, want the child to get %r\n%s" % (rc, out, GREETING, err))
    rec = one_record(log)
    expect(rec["got"] == "" and rec["error"] is None and rec["t_eof"],
           "the peer: %s" % rec)
    print("  the child received the greeting: %r" % res["child_got"])


def lastclose(bed):
    log = peer_server(bed, "echo-lastclose", 7812, "--echo")
    rc, res, out, err = run_app(bed, "lastclose", PEER_IP, 7812)
    expect(rc == 0 and res and res.get("echoed") == 10,
           "lastclose: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    want = "".join("m%d;" % i for i in range(10))
    expect(rec["got"] == want and rec["error"] is None,
           "the peer got %r (error %s), want %r: the parent's close ended the connection?"
           % (rec["got"], rec["error"], want))
    expect(rec["t_first"] > res["t_parent_close"],
           "the child's first message reached the peer before the parent closed")
    expect(rec["t_eof"] is not None and
           0 <= rec["t_eof"] - res["t_child_close"] < EOF_LIMIT_S,
           "the peer's EOF %s, the child's close %.3f: want EOF within %.1f s after it"
           % (rec["t_eof"], res["t_child_close"], EOF_LIMIT_S))
    print("  parent closed first; peer saw 10 messages over %.2f s, then EOF %.3f s after "
          "the child's close" % (rec["t_eof"] - res["t_parent_close"],
                                 rec["t_eof"] - res["t_child_close"]))


def shutwr(bed):
    log = peer_server(bed, "bye-shutwr", 7813, "--bye", "bye\n")
    rc, res, out, err = run_app(bed, "shutwr", PEER_IP, 7813)
    expect(rc == 0 and res and res.get("got") == "bye\n" and
           res.get("send_after") == "BrokenPipeError",
           "shutwr: exit %d, %r, want the parent's send to fail with EPIPE and 'bye\\n' "
           "received\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "" and rec["error"] is None and rec["t_eof"] is not None and
           0 <= rec["t_eof"] - res["t_shutdown"] < EOF_LIMIT_S,
           "the peer: %s; the child's shutdown at %.3f: want EOF within %.1f s"
           % (rec, res["t_shutdown"], EOF_LIMIT_S))
    print("  peer saw EOF %.3f s after the child's shutdown; the parent's send: EPIPE; it "
          "received %r" % (rec["t_eof"] - res["t_shutdown"], res["got"]))


def killchild(bed):
    log = peer_server(bed, "echo-killchild", 7814, "--echo")
    rc, res, out, err = run_app(bed, "killchild", PEER_IP, 7814)
    expect(rc == 0 and res == {"child_status": -signal.SIGKILL, "echoed": 10},
           "killchild: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    want = "p0k1" + "".join("a%d;" % i for i in range(10))
    expect(rec["got"] == want and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s), want %r" % (rec["got"], rec["error"], want))
    print("  child SIGKILLed in recv(); the parent then did 10 request/responses")


def parentexits(bed):
    log = peer_server(bed, "echo-parentexits", 7815, "--echo")
    rc, res, out, err = run_app(bed, "parentexits", PEER_IP, 7815)
    expect(rc == 0 and res and res.get("echoed") == 10,
           "parentexits: exit %d, %r, want the child's report\n%s" % (rc, out, err))
    rec = one_record(log)
    want = "p0" + "".join("c%d;" % i for i in range(10))
    expect(rec["got"] == want and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s), want %r" % (rec["got"], rec["error"], want))
    print("  parent %d exited holding the socket; its child did 10 request/responses"
          % res["parent"])


def forkrace(bed):
    peer_server(bed, "echo-forkrace", 7816, "--echo")
    rc, res, out, err = run_app(bed, "forkrace", PEER_IP, 7816, timeout=60)
    expect(rc == 0 and res and res["checked"] > 0 and res["bad"] == [],
           "forkrace: exit %d, %r: a child's inherited connection failed while its "
           "parent's threads made and closed connections\n%s" % (rc, out, err))
    print("  %d forks while 2 threads opened and closed connections: all %d inherited "
          "connections worked in the children" % (res["forks"], res["checked"]))


CASES = [prefork_blocking, prefork_epoll, childwrite, childread, lastclose, shutwr,
         killchild, parentexits, forkrace]


def strays(bed):
    """Kill whatever a case left in the app netns; returns their pids."""
    pids = sh(["ip", "netns", "pids", bed.app], check=False).stdout.decode().split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass

    def gone():
        for pid in pids:
            try:
                if read("/proc/%s/stat" % pid).rsplit(")", 1)[1].split()[0] != "Z":
                    return False
            except OSError:
                pass
        return True
    wait_for(gone, 5)
    return pids


def run_cases(name, cases, only_var):
    """Every case of cases (those named in $only_var if set) in one bed, then the
    leak check; all failures reported at the end."""
    only = os.environ.get(only_var, "").split()
    args = dict(shuntd=False, veth=True) if KERNEL else dict(shuntd_args=["--time_wait_ms=500"])
    world = "kernel (veth, no shunt)" if KERNEL else "shunt"
    with Bed(name, **args) as bed:
        failures, ran = [], 0
        for case in cases:
            if only and case.__name__ not in only:
                continue
            ran += 1
            t = time.monotonic()
            print("%s (%s):" % (case.__name__, world), flush=True)
            try:
                case(bed)
            except (CaseFailed, BedError) as e:
                failures.append("%s: %s" % (case.__name__, e))
                print("  FAILED: %s" % str(e).splitlines()[0], flush=True)
            left = strays(bed)
            if left:
                failures.append("%s: left processes %s in the app netns" % (
                    case.__name__, left))
            print("  (%.1f s)" % (time.monotonic() - t), flush=True)
        n, text = settle(bed, 0)
        apps = len(re.findall(r"^app pid \d+", text, re.M))
        if n or apps:
            failures.append("no_leak: %d TCP control blocks (and %d processes in shuntd's "
                            "table) still held 10 s after every program ended:\n%s"
                            % (n, apps, text))
        print("no_leak (%s): %d control blocks, %d processes held at the end"
              % (world, n, apps))
        bed.check(not failures, "%d of %d cases failed (%s):\n%s"
                  % (len(failures), ran + 1, world, "\n".join(failures)))


def test():
    run_cases("fork", CASES, "SHUNT_FORK_CASES")


if __name__ == "__main__":
    main(test, "fork-kernel" if KERNEL else "fork")
