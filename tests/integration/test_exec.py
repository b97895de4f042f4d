#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""exec: a socket inherited across exec as Linux passes it (issue 8).

forkprog_exec.py runs under shunt in the app netns and connects to a recording
kernel server in the peer netns (forkprog_peer.py serve); the programs it execs
inherit LD_PRELOAD, so they run with the shim too, except in image_without_shim:

  printf         `sh -c 'printf hello >&3'` with fd 3 the socket: the peer
                 receives exactly "hello", then EOF once the parent closes.
  head           `sh -c 'head -c 5 <&3'`, the peer sending "world" on connect:
                 head prints "world".
  cat            `sh -c 'cat <&3'` until the peer closes: 1 MB, SHA-256 checked.
  pass_fds       a python3 child given the fd by subprocess's pass_fds makes
                 socket.socket(fileno=N): its family, type and peer name are the
                 connection's and one request/response is echoed.
  execv          the program itself execv()s python3 (same pid) with the fd made
                 inheritable; the new image does a request/response after the old
                 one's: the peer gets "pre;post;".
  cloexec        a close-on-exec socket (Python's default) stays out of `sleep 2`
                 (run with close_fds=False, so only close-on-exec keeps it out):
                 closing it right after the spawn gives the peer EOF within 1 s,
                 before sleep exits.
  bash_devtcp    the issue's `bash -c 'exec 3<>/dev/tcp/HOST/PORT; echo hi >&3'`
                 (bash moves the socket onto fd 1 and writes with stdio, inside
                 libc), then a line read back with `read <&3`, `printf >&3` and
                 `head -n1 <&3`: the peer gets "hi\ntwo\n" then EOF, bash prints
                 what came back.
  stdio_sh       `sh -c 'exec sed ... <&3 >&3'`: sed's stdio (inside libc) reads
                 the peer's line and writes it back bracketed.
  stdio_spawn    sed run by subprocess with the socket as its stdin and stdout
                 (dup2s in the child, which the shim does not see): the same.
  posix_spawn    os.posix_spawn (glibc's posix_spawn, which execs inside libc) of
                 `sh -c 'printf spawned >&FD'`, the parent closing the socket right
                 after the spawn: the peer gets "spawned", then EOF.
  image_without_shim
                 `env -u LD_PRELOAD sh -c 'printf x >&3'`: through shunt the write
                 must fail (non-zero exit) within 5 s, never hang, and nothing
                 reaches the peer; on the kernel it succeeds and the peer gets "x".
  no_leak        afterwards shuntd holds no TCP control block and no process.

Every case runs and all failures are reported together (SHUNT_EXEC_CASES="case
..." runs only those). SHUNT_FORK_KERNEL=1 runs the same programs without shunt
on netbed's veth twin (no shuntd), the control. The bed, the runner and the
peer's records are test_fork.py's."""

import os

from netbed import HERE, PEER_IP, main, random_file, sha256_file
from test_fork import KERNEL, app_argv, expect, one_record, peer_server, run_app, run_cases

PROG = os.path.join(HERE, "forkprog_exec.py")
EOF_LIMIT_S = 1.0
BIG = 1 << 20


def fd3(bed, port, argv, out="-", timeout=10):
    """forkprog_exec.py fd3: argv run with the socket to PEER_IP:port on fd 3."""
    rc, res, text, err = run_app(bed, "fd3", PEER_IP, port, out, timeout, *argv, prog=PROG,
                                 timeout=timeout + 20)
    expect(rc == 0 and res is not None, "forkprog_exec.py fd3 %s: exit %d, %r\n%s"
           % (argv, rc, text, err))
    return res


def printf(bed):
    log = peer_server(bed, "record-printf", 7900)
    res = fd3(bed, 7900, ["sh", "-c", "printf hello >&3"])
    expect(res["rc"] == 0 and not res["expired"] and res["stderr"] == "",
           "sh -c 'printf hello >&3': %s" % res)
    rec = one_record(log)
    expect(rec["got"] == "hello" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s, EOF %s), want exactly 'hello' then EOF"
           % (rec["got"], rec["error"], rec["t_eof"]))
    print("  the peer received %r" % rec["got"])


def head(bed):
    log = peer_server(bed, "greet-head", 7901, "--greet", "world")
    res = fd3(bed, 7901, ["sh", "-c", "head -c 5 <&3"])
    expect(res["rc"] == 0 and not res["expired"] and res["stdout"] == "world",
           "sh -c 'head -c 5 <&3': %s" % res)
    rec = one_record(log)
    expect(rec["got"] == "" and rec["error"] is None and rec["t_eof"], "the peer: %s" % rec)
    print("  head printed %r" % res["stdout"])


def cat(bed):
    src = os.path.join(bed.tmp, "big")
    digest = random_file(src, BIG)
    log = peer_server(bed, "file-cat", 7902, "--file", src)
    out = os.path.join(bed.tmp, "cat.out")
    res = fd3(bed, 7902, ["sh", "-c", "cat <&3"], out=out, timeout=20)
    size = os.path.getsize(out)
    expect(res["rc"] == 0 and not res["expired"] and size == BIG and
           sha256_file(out) == digest,
           "sh -c 'cat <&3': %s; %d of %d bytes, SHA-256 %s" % (
               res, size, BIG, "right" if sha256_file(out) == digest else "wrong"))
    rec = one_record(log)
    expect(rec["got"] == "" and rec["error"] is None and rec["t_eof"], "the peer: %s" % rec)
    print("  cat copied %d bytes until the peer's EOF, SHA-256 right" % size)


def pass_fds(bed):
    log = peer_server(bed, "echo-passfds", 7903, "--echo")
    msg = "request through an inherited fd;"
    rc, res, out, err = run_app(bed, "passfds", PEER_IP, 7903, msg, prog=PROG)
    child = (res or {}).get("child") or {}
    expect(rc == 0 and res["rc"] == 0 and child.get("echo") == msg and
           child.get("family") == "AF_INET" and child.get("type") == "SOCK_STREAM" and
           child.get("peer") == [PEER_IP, 7903],
           "passfds: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == msg and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s, EOF %s), want %r"
           % (rec["got"], rec["error"], rec["t_eof"], msg))
    print("  python3 child: socket.socket(fileno=N) is %s %s to %s:%d, echoed"
          % (child["family"], child["type"], child["peer"][0], child["peer"][1]))


def execv(bed):
    log = peer_server(bed, "echo-execv", 7904, "--echo")
    rc, res, out, err = run_app(bed, "execself", PEER_IP, 7904, prog=PROG)
    lines = out.strip().splitlines()
    before = lines[0] if len(lines) == 2 else ""
    expect(rc == 0 and res and res.get("echo") == "post;" and
           before == '{"before_exec": %d}' % res.get("pid", -1),
           "execself: exit %d, %r, want the same pid before and after exec and "
           "'post;' echoed\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "pre;post;" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s), want 'pre;post;'" % (rec["got"], rec["error"]))
    print("  pid %d: 'pre;' before execv, 'post;' in the new image" % res["pid"])


def cloexec(bed):
    log = peer_server(bed, "echo-cloexec", 7905, "--echo")
    rc, res, out, err = run_app(bed, "cloexec", PEER_IP, 7905, prog=PROG)
    expect(rc == 0 and res and res["inheritable"] is False and res["sleep_rc"] == 0,
           "cloexec: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "x;" and rec["error"] is None and rec["t_eof"] is not None,
           "the peer: %s" % rec)
    after = rec["t_eof"] - res["t_close"]
    expect(0 <= after < EOF_LIMIT_S and rec["t_eof"] < res["t_sleep_exit"],
           "the peer saw EOF %.3f s after the close and %.3f s before sleep exited: want "
           "it within %.1f s, while sleep runs (a close-on-exec socket reached sleep?)"
           % (after, res["t_sleep_exit"] - rec["t_eof"], EOF_LIMIT_S))
    print("  the peer saw EOF %.3f s after the close, %.2f s before sleep 2 exited"
          % (after, res["t_sleep_exit"] - rec["t_eof"]))


def image_without_shim(bed):
    log = peer_server(bed, "record-noshim", 7906)
    res = fd3(bed, 7906, ["env", "-u", "LD_PRELOAD", "sh", "-c", "printf x >&3"])
    rec = one_record(log)
    expect(not res["expired"] and res["took"] < 5,
           "env -u LD_PRELOAD sh -c 'printf x >&3' did not end within 5 s: %s" % res)
    if KERNEL:
        expect(res["rc"] == 0 and rec["got"] == "x" and rec["error"] is None,
               "on the kernel: %s; the peer got %r" % (res, rec["got"]))
        print("  on the kernel the image without the shim wrote %r" % rec["got"])
        return
    expect(res["rc"] != 0 and rec["got"] == "",
           "through shunt, an image without the shim writing on an inherited shunt socket "
           "must fail: %s; the peer got %r" % (res, rec["got"]))
    print("  without the shim: exit %d in %.2f s (%s), nothing reached the peer"
          % (res["rc"], res["took"], res["stderr"].strip() or "no message"))


def bash_devtcp(bed):
    log = peer_server(bed, "echo-bash", 7907, "--echo")
    script = ("exec 3<>/dev/tcp/%s/7907; echo hi >&3; read -r line <&3; "
              "echo \"got:$line\"; printf 'two\\n' >&3; head -n1 <&3; exec 3>&-" % PEER_IP)
    r = bed.run(bed.app, app_argv(bed, ["bash", "-c", script]), timeout=20)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    expect(r.returncode == 0 and out == "got:hi\ntwo\n",
           "bash /dev/tcp: exit %d, stdout %r, want 'got:hi\\ntwo\\n'\n%s"
           % (r.returncode, out, err))
    rec = one_record(log)
    expect(rec["got"] == "hi\ntwo\n" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s, EOF %s), want 'hi\\ntwo\\n' then EOF"
           % (rec["got"], rec["error"], rec["t_eof"]))
    print("  bash: echo >&3 (stdio on fd 1), read <&3, head <&3: %r" % out)


SED = "1{s/.*/[&]/p;q}"  # GNU sed: stdio reads (one read(2) per refill) and writes


def stdio_sh(bed):
    log = peer_server(bed, "greet-sed", 7908, "--greet", "ping\n")
    res = fd3(bed, 7908, ["sh", "-c", "exec sed -n '%s' <&3 >&3" % SED])
    expect(res["rc"] == 0 and not res["expired"] and res["stderr"] == "",
           "sh -c 'exec sed ... <&3 >&3': %s" % res)
    rec = one_record(log)
    expect(rec["got"] == "[ping]\n" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s), want '[ping]\\n'" % (rec["got"], rec["error"]))
    print("  sed's stdio on the socket: the peer got %r" % rec["got"])


def stdio_spawn(bed):
    log = peer_server(bed, "greet-spawn", 7909, "--greet", "pong\n")
    rc, res, out, err = run_app(bed, "stdio", PEER_IP, 7909, 10, "sed", "-n", SED, prog=PROG)
    expect(rc == 0 and res and res["rc"] == 0 and not res["expired"] and res["stderr"] == "",
           "stdio: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "[pong]\n" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s), want '[pong]\\n'" % (rec["got"], rec["error"]))
    print("  sed spawned on the socket as stdin and stdout: the peer got %r" % rec["got"])


def posix_spawn(bed):
    log = peer_server(bed, "record-spawn", 7910)
    rc, res, out, err = run_app(bed, "spawn", PEER_IP, 7910, prog=PROG)
    expect(rc == 0 and res and res["rc"] == 0, "spawn: exit %d, %r\n%s" % (rc, out, err))
    rec = one_record(log)
    expect(rec["got"] == "spawned" and rec["error"] is None and rec["t_eof"],
           "the peer got %r (error %s, EOF %s), want 'spawned' then EOF"
           % (rec["got"], rec["error"], rec["t_eof"]))
    print("  posix_spawn: the child wrote %r after the parent had closed" % rec["got"])


CASES = [printf, head, cat, pass_fds, execv, cloexec, bash_devtcp, stdio_sh, stdio_spawn,
         posix_spawn, image_without_shim]


def test():
    run_cases("exec", CASES, "SHUNT_EXEC_CASES")


if __name__ == "__main__":
    main(test, "exec-kernel" if KERNEL else "exec")
