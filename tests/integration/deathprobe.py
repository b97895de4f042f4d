# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""deathprobe: blocking calls on shunt sockets while shuntd goes away (stdlib only).

    deathprobe.py PEER_IP HOLD_PORT NOBODY_IP STACK_IP LISTEN_PORT BACK_FLAG

Run under shunt. It opens shunt sockets, dup2()s onto the numbers of the shim's
own fds (as a daemon redirecting 0-2 may: the shim moves them away), and blocks
one thread in each call that
can wait on shuntd: recv, send with a full buffer, connect (to an address whose
ARP goes unanswered), accept, epoll_wait, poll, select, a UDP recvfrom. It prints
"ready" once all are blocked (each thread says so just before its call; the
calls are the next statement), and then one JSON line when they have all
returned: for each call its outcome and the CLOCK_MONOTONIC time it returned
(the test compares with when it killed shuntd); then what later calls on the
same sockets give, and what a new socket does (the kernel's: in the app netns,
which has only lo, a connect to the peer fails with ENETUNREACH).

Then it waits for the file BACK_FLAG (the test creates it once shuntd runs
again) and prints a second JSON line: a new connection made within 5 s (shunt
tries again once a second: through shuntd it succeeds, through the kernel it
would fail), echoing through it, and the old sockets, still dead.
"""

import errno
import json
import os
import select
import socket
import sys
import threading
import time

peer_ip, hold, nobody, stack_ip, lport = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4], int(sys.argv[5])
back_flag = sys.argv[6]
results = {}
started = threading.Barrier(9)


def outcome(fn):
    try:
        r = fn()
        return "ok %s" % (r,)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def run(name, fn):
    def body():
        started.wait()
        r = outcome(fn)
        results[name] = [r, time.monotonic()]
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def conn():
    return socket.create_connection((peer_ip, hold), timeout=10)


c_recv, c_send, c_ep, c_poll, c_sel = conn(), conn(), conn(), conn(), conn()
for c in (c_recv, c_send, c_ep, c_poll, c_sel):
    c.settimeout(None)
c_send.setblocking(False)
try:
    while True:
        c_send.send(b"x" * 65536)
except BlockingIOError:
    pass
c_send.setblocking(True)
c_conn = socket.socket()
lsn = socket.socket()
lsn.bind((stack_ip, lport))
lsn.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((stack_ip, lport))
ep = select.epoll()
ep.register(c_ep.fileno(), select.EPOLLIN)
pl = select.poll()
pl.register(c_poll.fileno(), select.POLLIN)

# The program takes the numbers of the shim's own fds (its control socket, the
# watcher's epoll instance...): the shim moves them away, and must still notice
# shuntd going. Open per /proc, closed per libc: those are the shim's.
import fcntl  # noqa: E402
moved = 0
devnull = os.open("/dev/null", os.O_RDONLY)
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError as e:
        if e.errno == errno.EBADF and os.path.exists("/proc/self/fd/%d" % fd):
            os.dup2(devnull, fd)
            moved += 1
print("moved %d" % moved, file=sys.stderr, flush=True)

threads = [
    run("recv", lambda: len(c_recv.recv(100))),
    run("send", lambda: c_send.send(b"y" * 65536)),
    run("connect", lambda: c_conn.connect((nobody, hold))),
    run("accept", lambda: lsn.accept()[1]),
    run("epoll_wait", lambda: [(fd == c_ep.fileno(), ev) for fd, ev in ep.poll()]),
    run("poll", lambda: [ev for fd, ev in pl.poll()]),
    run("select", lambda: [len(x) for x in select.select([c_sel], [], [])]),
    run("udp_recvfrom", lambda: udp.recvfrom(100)[0]),
]
started.wait()
print("ready", flush=True)
for t in threads:
    t.join()
after = {
    "recv": outcome(lambda: len(c_recv.recv(100))),
    "recv_again": outcome(lambda: len(c_recv.recv(100))),
    "send": outcome(lambda: c_send.send(b"z")),
    "udp_sendto": outcome(lambda: udp.sendto(b"u", (peer_ip, hold))),
    "udp_recv_nb": outcome(lambda: udp.recv(100, socket.MSG_DONTWAIT)),
}
new = socket.socket()
new.settimeout(5)
after["new_connect"] = outcome(lambda: new.connect((peer_ip, hold)))
print(json.dumps({"calls": results, "after": after}), flush=True)

deadline = time.monotonic() + 30
while not os.path.exists(back_flag) and time.monotonic() < deadline:
    time.sleep(0.05)
back = {"tries": 0}
deadline = time.monotonic() + 5
while time.monotonic() < deadline:
    back["tries"] += 1
    s = socket.socket()
    s.settimeout(5)
    got = outcome(lambda: s.connect((peer_ip, hold)))
    if got.startswith("ok"):
        back["connect"] = got
        back["name"] = s.getsockname()[0]
        break
    back["connect"] = got
    s.close()
    time.sleep(0.2)
back["old_recv"] = outcome(lambda: len(c_recv.recv(100)))
back["old_udp_recv"] = outcome(lambda: udp.recv(100, socket.MSG_DONTWAIT))
print(json.dumps(back), flush=True)
