# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""The programs of test_fork.py: sockets shared across fork() (issue 8), stdlib
only. They run under shunt in the app netns (on the kernel in SHUNT_FORK_KERNEL
mode); their peers are forkprog_peer.py servers and clients in the peer netns.
os.fork() is libc's fork(), with its atfork handlers. Every wait that should
end has a timeout, so a broken share fails instead of hanging (the blocked
accept()s and killchild's recv() are ended by signals).

    forkprog.py prefork blocking|epoll STACK_IP PORT PORT2 WORKERS LOG
        Listens on 0.0.0.0:PORT and STACK_IP:PORT2, then forks WORKERS workers
        and prints "ready PID...". Each connection: read a token line, answer
        "<pid> <token>\\n" (appending the same line to LOG first, O_APPEND), wait
        for the client's close, close. blocking: each worker has two threads,
        each in a blocking accept() loop on one listener. epoll: the listeners are made
        non-blocking before fork (a flag of the shared file) and each worker
        makes its own epoll after fork and accepts one connection per wake-up;
        an EAGAIN is a race lost to another worker and appends "eagain <pid>"
        to LOG. On SIGTERM the master stops its workers and exits 0; if a
        worker dies on its own it says so and exits 1.

Each of the following connects to HOST:PORT (a forkprog_peer.py server), exits
0 and prints one JSON line on success, exits non-zero with the reason on stderr
otherwise. Times are CLOCK_MONOTONIC, compared with the peer's record.

    forkprog.py childwrite HOST PORT    (echo) send "p1", fork; the child sends
        "c1" and exits (the interpreter's normal exit, sockets closed); the
        parent waits for it, sends "p2" and reads 6 bytes: {"got"}
    forkprog.py childread HOST PORT     (greeting line) fork; the child reads the
        greeting line and passes it to the parent through a pipe; the parent
        never reads the socket: {"child_got"}
    forkprog.py lastclose HOST PORT     (echo) fork; the parent closes its copy
        and tells the child, which then does 10 request/responses "m<i>;" 50 ms
        apart and closes: {"t_parent_close", "t_child_close", "echoed"}
    forkprog.py shutwr HOST PORT        (--bye) fork; the child shutdown(SHUT_WR)s
        and exits; the parent, still holding the socket, then gets EPIPE from a
        send (the shutdown is the shared socket's) and reads what the peer sends
        until EOF: {"t_shutdown", "send_after", "got"}
    forkprog.py killchild HOST PORT     (echo) "p0" echoed, fork; the child does
        "k1" and blocks in recv(); the parent SIGKILLs it, then does 10
        request/responses "a<i>;": {"child_status", "echoed"}
    forkprog.py parentexits HOST PORT   (echo) "p0" echoed, fork; the parent
        _exit()s without closing; the child waits until it is gone (its pipe's
        EOF, then reparented), does 10 request/responses "c<i>;", prints
        {"echoed", "parent"} and closes.
"""

import json
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time

TIMEOUT = 10.0


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise EOFError("EOF after %r, want %d bytes" % (got, n))
        got += b
    return got


def exchange(s, msg):
    s.sendall(msg)
    back = recv_exactly(s, len(msg))
    if back != msg:
        raise ValueError("sent %r, echoed %r" % (msg, back))


def read_pipe(fd, timeout=TIMEOUT):
    """Everything written to pipe fd until its EOF; bounded."""
    out, end = b"", time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("pipe: no EOF within %gs (got %r)" % (timeout, out))
        b = os.read(fd, 65536)
        if not b:
            return out
        out += b


def child(fn):
    """Run fn in a forked child and _exit: 0 after it returns, 1 if it raised
    (the reason on stderr). Never returns."""
    try:
        fn()
        code = 0
    except BaseException as e:
        code = 1
        sys.stderr.flush()
        # one write: siblings share this stderr
        os.write(2, ("child %d: %s: %s\n" % (os.getpid(), type(e).__name__, e)).encode())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def child_report(fd, timeout=TIMEOUT):
    """The JSON a child wrote to pipe fd before closing it."""
    b = read_pipe(fd, timeout)
    if not b:
        raise RuntimeError("the child reported nothing (its error is above)")
    return json.loads(b)


def wait_child(pid, want=0):
    _, st = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(st)
    if code != want:
        raise RuntimeError("child %d exited %d, want %d" % (pid, code, want))
    return code


def done(**kw):
    print(json.dumps(kw), flush=True)


# ------------------------------------------------------------ pre-forking server
def serve_one(c, logfd):
    c.settimeout(TIMEOUT)
    with c:
        line = b""
        while not line.endswith(b"\n"):
            b = c.recv(256)
            if not b:
                return           # a probe: nothing to answer
            line += b
        ans = b"%d %s\n" % (os.getpid(), line.strip())
        os.write(logfd, ans)     # first: once the client has its answer, it is logged
        c.sendall(ans)
        while c.recv(256):       # until the client closes first
            pass


def worker_blocking(listeners, logfd):
    def loop(lsock):
        try:
            while True:
                c, _ = lsock.accept()
                serve_one(c, logfd)
        except BaseException as e:
            os.write(2, ("worker %d: accept loop on %s: %s: %s\n" % (
                os.getpid(), lsock.getsockname(), type(e).__name__, e)).encode())
            os._exit(1)
    for lsock in listeners:
        threading.Thread(target=loop, args=(lsock,), daemon=True).start()
    threading.Event().wait()


def worker_epoll(listeners, logfd):
    sel = selectors.EpollSelector()  # made after fork: this worker's own epoll
    for lsock in listeners:
        sel.register(lsock, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                c, _ = key.fileobj.accept()
            except BlockingIOError:
                os.write(logfd, b"eagain %d\n" % os.getpid())
                continue
            c.setblocking(True)
            serve_one(c, logfd)


def prefork(mode, stack_ip, port, port2, nworkers, log):
    listeners = []
    for host, p in (("0.0.0.0", port), (stack_ip, port2)):
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, p))
        lsock.listen(128)
        if mode == "epoll":
            lsock.setblocking(False)
        listeners.append(lsock)
    logfd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    work = worker_epoll if mode == "epoll" else worker_blocking
    pids = []
    for _ in range(nworkers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            child(lambda: work(listeners, logfd))
        pids.append(pid)

    def stop(_sig, _frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    print("ready " + " ".join(str(p) for p in pids), flush=True)
    try:
        pid, st = os.wait()
        print("worker %d died on its own: status %d" % (pid, os.waitstatus_to_exitcode(st)),
              file=sys.stderr, flush=True)
        code = 1
    except SystemExit:
        code = 0
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in pids:
        try:
            os.waitpid(p, 0)
        except ChildProcessError:
            pass
    sys.exit(code)


# ------------------------------------------------------------ one connection, shared
def childwrite(host, port):
    s = connect(host, port)
    s.sendall(b"p1")
    pid = os.fork()
    if pid == 0:
        s.sendall(b"c1")
        sys.exit(0)              # the interpreter's own exit: closes its sockets
    wait_child(pid)
    s.sendall(b"p2")
    got = recv_exactly(s, 6)
    s.close()
    done(got=got.decode("latin-1"))


def childread(host, port):
    s = connect(host, port)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        def body():
            os.close(r)
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(256)
                if not b:
                    raise EOFError("EOF after %r" % line)
                line += b
            os.write(w, line)
        child(body)
    os.close(w)
    got = read_pipe(r)
    wait_child(pid)
    s.close()
    done(child_got=got.decode("latin-1"))


def lastclose(host, port):
    s = connect(host, port)
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        def body():
            os.close(go_w)
            os.close(res_r)
            if read_pipe(go_r) != b"closed":
                raise RuntimeError("no word from the parent")
            for i in range(10):
                exchange(s, b"m%d;" % i)
                time.sleep(0.05)     # the workload: a connection used for a while
            t = time.monotonic()
            s.close()
            os.write(res_w, json.dumps({"t_child_close": t, "echoed": 10}).encode())
        child(body)
    os.close(go_r)
    os.close(res_w)
    t = time.monotonic()
    s.close()
    os.write(go_w, b"closed")
    os.close(go_w)
    res = child_report(res_r, 15)
    wait_child(pid)
    done(t_parent_close=t, **res)


def shutwr(host, port):
    s = connect(host, port)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        def body():
            os.close(r)
            t = time.monotonic()     # before: the peer may see the FIN before it returns
            s.shutdown(socket.SHUT_WR)
            os.write(w, json.dumps(t).encode())
        child(body)
    os.close(w)
    t_shut = child_report(r)
    wait_child(pid)
    try:
        s.send(b"x")
        after = "sent"
    except OSError as e:
        after = type(e).__name__
    got = b""
    while True:
        b = s.recv(256)
        if not b:
            break
        got += b
    s.close()
    done(t_shutdown=t_shut, send_after=after, got=got.decode("latin-1"))


def asleep_or_dead(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("S", "Z")
    except OSError:
        return True


def killchild(host, port):
    s = connect(host, port)
    exchange(s, b"p0")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        def body():
            os.close(r)
            exchange(s, b"k1")
            os.write(w, b"ready")
            os.close(w)
            s.settimeout(None)
            b = s.recv(100)      # blocked here when the parent kills us
            raise RuntimeError("recv returned %r" % b)
        child(body)
    os.close(w)
    if read_pipe(r) != b"ready":
        raise RuntimeError("the child did not get its echo")
    end = time.monotonic() + 2   # best effort: kill it inside its recv()
    while not asleep_or_dead(pid) and time.monotonic() < end:
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    status = wait_child(pid, -signal.SIGKILL)
    for i in range(10):
        exchange(s, b"a%d;" % i)
    s.close()
    done(child_status=status, echoed=10)


def parentexits(host, port):
    s = connect(host, port)
    exchange(s, b"p0")
    r, w = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        def body():
            os.close(w)
            if read_pipe(r) != b"":
                raise RuntimeError("unexpected data on the pipe")
            end = time.monotonic() + TIMEOUT
            while os.getppid() == parent:    # its exit is complete once we are reparented
                if time.monotonic() > end:
                    raise TimeoutError("never reparented")
                time.sleep(0.01)
            for i in range(10):
                exchange(s, b"c%d;" % i)
            done(echoed=10, parent=parent)
            s.close()
        child(body)
    os.close(r)
    sys.stdout.flush()
    os._exit(0)                  # with the socket open, no close, no clean-up


def forkrace(host, port, nforks=150):
    """Two threads open connections, send on them, wait for the echo to be there
    (select, not read) and close them, while the main thread forks: each child
    waits until both threads have closed the connection they had at the fork
    (their counters, in memory shared across fork, moved on), then sends on every
    connection it inherited and reads what the echo server returns: its copy must
    work, as in Linux. {"forks", "checked", "bad": [first failures]}."""
    import mmap
    import struct
    import threading
    stop = threading.Event()
    counts = mmap.mmap(-1, 16)  # MAP_SHARED: a child sees the threads go on

    def churn(i):
        # never reads: the child is the only reader of what comes back
        while not stop.is_set():
            try:
                c = connect(host, port)
                c.sendall(b"hello")
                select.select([c], [], [], TIMEOUT)
                c.close()
            except OSError:
                pass
            n = struct.unpack_from("Q", counts, 8 * i)[0]
            struct.pack_into("Q", counts, 8 * i, n + 1)

    threads = [threading.Thread(target=churn, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    checked, bad = 0, []
    for _ in range(nforks):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            at_fork = struct.unpack_from("QQ", counts)
            end = time.monotonic() + TIMEOUT
            while any(a == b for a, b in zip(struct.unpack_from("QQ", counts), at_fork)):
                if time.monotonic() > end:
                    os._exit(3)
                time.sleep(0.001)
            res = []
            for name in os.listdir("/proc/self/fd"):
                try:
                    c = socket.socket(fileno=os.dup(int(name)))
                except OSError:
                    continue
                try:
                    if c.type != socket.SOCK_STREAM or c.getpeername()[1] != port:
                        continue
                except OSError:
                    continue  # still connecting when the parent forked
                try:
                    c.settimeout(TIMEOUT)
                    c.sendall(b"x")
                    res.append("ok" if c.recv(16) else "EOF")
                except OSError as e:
                    res.append("%s: %s" % (type(e).__name__, e))
            os.write(w, json.dumps(res).encode())
            os._exit(0)
        os.close(w)
        res = json.loads(read_pipe(r) or b"[]")
        wait_child(pid)
        checked += len(res)
        bad += [x for x in res if x != "ok"][:5]
    stop.set()
    for t in threads:
        t.join()
    done(forks=nforks, checked=checked, bad=bad[:10])


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "prefork":
        prefork(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), args[5])
    elif cmd in ("childwrite", "childread", "lastclose", "shutwr", "killchild",
                 "parentexits", "forkrace"):
        globals()[cmd](args[0], int(args[1]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
