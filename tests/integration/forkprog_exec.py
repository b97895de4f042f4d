# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""The programs of test_exec.py: a socket inherited across exec (issue 8), stdlib
only. They run under shunt in the app netns (on the kernel in SHUNT_FORK_KERNEL
mode), and so does every image they exec, as long as LD_PRELOAD is inherited;
their peers are forkprog_peer.py servers in the peer netns. Every wait is
bounded. Each prints one JSON line; a failure of the program itself exits
non-zero with the reason on stderr.

    forkprog_exec.py fd3 HOST PORT OUT TIMEOUT ARGV...
        Connects, puts the socket (blocking) on fd 3 (dup2), runs ARGV with only fd 3
        passed (subprocess pass_fds: inheritable in the child, everything else
        closed), its stdout into the file OUT ("-": captured), killed after
        TIMEOUT s; then closes the socket: {"rc", "stdout", "stderr",
        "expired", "took"}.
    forkprog_exec.py stdio HOST PORT TIMEOUT ARGV...
        Connects, runs ARGV with the socket (blocking) as its stdin and stdout
        (subprocess's dup2s in its child), killed after TIMEOUT s: {"rc",
        "stderr", "expired", "took"}.
    forkprog_exec.py spawn HOST PORT
        Connects, makes the socket inheritable, os.posix_spawn()s `sh -c 'printf
        spawned >&FD'`, closes the socket at once, waits: {"rc"}.
    forkprog_exec.py passfds HOST PORT MSG
        Connects, runs `python3 forkprog_exec.py rr FD MSG` with pass_fds=(FD,),
        then closes: {"rc", "child" (the child's JSON line)}.
    forkprog_exec.py execself HOST PORT
        Connects, one request/response "pre;", makes the socket inheritable,
        prints {"before_exec": its pid} and execv()s `python3 forkprog_exec.py
        rr FD post;` in the same process.
    forkprog_exec.py rr FD MSG
        socket.socket(fileno=FD), one request/response MSG with the echo peer,
        close: {"pid", "family", "type", "peer", "echo"}.
    forkprog_exec.py cloexec HOST PORT
        Connects (close-on-exec: Python's default), one request/response, runs
        `sleep 2` with close_fds=False (only close-on-exec keeps the socket from
        it), closes the socket at once, waits for sleep: {"inheritable",
        "t_close", "t_sleep_exit"}.
"""

import json
import os
import socket
import subprocess
import sys
import time

TIMEOUT = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "python3"


def connect(host, port):
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def exchange(s, msg):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        b = s.recv(len(msg) - len(got))
        if not b:
            raise EOFError("EOF after %r of the echo of %r" % (got, msg))
        got += b
    if got != msg:
        raise ValueError("sent %r, echoed %r" % (msg, got))
    return got


def done(**kw):
    print(json.dumps(kw), flush=True)


def fd3(host, port, out, timeout, argv):
    s = connect(host, port)
    # A Python timeout is O_NONBLOCK on the file, which the exec'd program shares:
    # cat would get EAGAIN. Programs get a blocking socket, as from a shell.
    s.setblocking(True)
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
    fout = open(out, "wb") if out != "-" else subprocess.PIPE
    t = time.monotonic()
    try:
        r = subprocess.run(argv, pass_fds=(3,), stdin=subprocess.DEVNULL, stdout=fout,
                           stderr=subprocess.PIPE, timeout=timeout)
        rc, so, se, expired = r.returncode, r.stdout or b"", r.stderr, False
    except subprocess.TimeoutExpired as e:
        rc, so, se, expired = None, e.stdout or b"", e.stderr or b"", True
    took = time.monotonic() - t
    if out != "-":
        fout.close()
    if s.fileno() != 3:
        os.close(3)
    s.close()
    done(rc=rc, stdout=so.decode("latin-1"), stderr=se.decode(errors="replace"),
         expired=expired, took=took)


def stdio(host, port, timeout, argv):
    """argv run with the socket as its stdin and stdout (subprocess's dup2s, in
    its child: the new image finds the socket on 0 and 1)."""
    s = connect(host, port)
    s.setblocking(True)
    t = time.monotonic()
    try:
        r = subprocess.run(argv, stdin=s, stdout=s, stderr=subprocess.PIPE, timeout=timeout)
        rc, se, expired = r.returncode, r.stderr, False
    except subprocess.TimeoutExpired as e:
        rc, se, expired = None, e.stderr or b"", True
    took = time.monotonic() - t
    s.close()
    done(rc=rc, stderr=se.decode(errors="replace"), expired=expired, took=took)


def passfds(host, port, msg):
    s = connect(host, port)
    r = subprocess.run([PYTHON, os.path.join(HERE, "forkprog_exec.py"), "rr",
                        str(s.fileno()), msg], pass_fds=(s.fileno(),),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT + 10)
    sys.stderr.write(r.stderr.decode(errors="replace"))
    s.close()
    line = r.stdout.decode(errors="replace").strip()
    done(rc=r.returncode, child=json.loads(line) if line else None)


def execself(host, port):
    s = connect(host, port)
    exchange(s, b"pre;")
    os.set_inheritable(s.fileno(), True)
    done(before_exec=os.getpid())
    os.execv(PYTHON, [PYTHON, os.path.join(HERE, "forkprog_exec.py"), "rr",
                      str(s.fileno()), "post;"])


def rr(fd, msg):
    s = socket.socket(fileno=fd)
    s.settimeout(TIMEOUT)
    echo = exchange(s, msg.encode())
    res = dict(pid=os.getpid(), family=s.family.name, type=s.type.name,
               peer=list(s.getpeername()), echo=echo.decode("latin-1"))
    s.close()
    done(**res)


def cloexec(host, port):
    s = connect(host, port)
    exchange(s, b"x;")
    inheritable = os.get_inheritable(s.fileno())
    p = subprocess.Popen(["sleep", "2"], close_fds=False, stdin=subprocess.DEVNULL)
    # Popen returns once sleep runs (its exec reported through a close-on-exec pipe)
    t_close = time.monotonic()
    s.close()
    try:
        p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    done(inheritable=inheritable, t_close=t_close, t_sleep_exit=time.monotonic(),
         sleep_rc=p.returncode)


def spawn(host, port):
    """os.posix_spawn (glibc's posix_spawn) of `sh -c 'printf spawned >&N'` with the
    socket inheritable, then the parent closes it at once: {"rc"}."""
    s = connect(host, port)
    s.setblocking(True)
    os.set_inheritable(s.fileno(), True)
    pid = os.posix_spawn("/bin/sh", ["sh", "-c", "printf spawned >&%d" % s.fileno()],
                         os.environ)
    s.close()
    _, st = os.waitpid(pid, 0)
    done(rc=os.waitstatus_to_exitcode(st))


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "fd3":
        fd3(args[0], args[1], args[2], float(args[3]), args[4:])
    elif cmd == "stdio":
        stdio(args[0], args[1], float(args[2]), args[3:])
    elif cmd == "passfds":
        passfds(args[0], args[1], args[2])
    elif cmd == "execself":
        execself(args[0], args[1])
    elif cmd == "rr":
        rr(int(args[0]), args[1])
    elif cmd == "cloexec":
        cloexec(args[0], args[1])
    elif cmd == "spawn":
        spawn(args[0], args[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
