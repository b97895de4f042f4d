# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""cc_check: what setsockopt/getsockopt(IPPROTO_TCP, TCP_CONGESTION) answer, as
one JSON object, for the differential test (test_congestion.py). Stdlib only; run
on the kernel or under shunt, it should print the same.

    cc_check.py seq HOST PORT      the sequence below on a connection to an echo server
    cc_check.py default HOST PORT  the name after connect(), and an echo through it
    cc_check.py idle HOST PORT     an echo, a second with nothing sent, another echo
                                   (slow start after idle: shuntd's tcp_cwnd_restart)
    cc_check.py other HOST PORT NAME   the name after connect(), then setsockopt NAME
                                   (one the kernel has and shunt lacks) and the name

seq: before connect: the default, set "reno", names shunt lacks (ENOENT), an
empty name (EINVAL), a name cut by optlen ("cubicXY", 5 -> "cubic"), a long name,
reads cut to optlen 0, 3, 5, 16 and 40; connect (the choice made before it
carries over); on the connection the same again, then 64 KiB echoed.
"""

import ctypes
import errno
import json
import socket
import sys
import time

TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)
# the global scope, as a program's own calls bind: under shunt the preloaded
# shim's setsockopt/getsockopt (a handle on libc.so.6 would bypass it)
libc = ctypes.CDLL(None, use_errno=True)


def raw_set(s, buf, optlen):
    """setsockopt with an optlen that need not be len(buf) (Python's would be)."""
    b = ctypes.create_string_buffer(buf, max(len(buf), 1))
    rc = libc.setsockopt(s.fileno(), socket.IPPROTO_TCP, TCP_CONGESTION, b,
                         ctypes.c_uint(optlen))
    return "ok" if rc == 0 else errno.errorcode[ctypes.get_errno()]


def get(s, n=16):
    """getsockopt into an n-byte buffer: [optlen back, the bytes as hex]."""
    b = ctypes.create_string_buffer(max(n, 1))
    ln = ctypes.c_uint(n)
    rc = libc.getsockopt(s.fileno(), socket.IPPROTO_TCP, TCP_CONGESTION, b, ctypes.byref(ln))
    if rc != 0:
        return errno.errorcode[ctypes.get_errno()]
    return [ln.value, b.raw[:ln.value].hex()]


def name(s):
    return s.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).split(b"\0")[0].decode()


def probe(s, out, tag):
    out[tag + " default"] = name(s)
    for n in ("reno", "nosuchcc", "cubic", "reno"):
        out["%s set %s" % (tag, n)] = raw_set(s, n.encode(), len(n))
        out["%s after %s" % (tag, n)] = name(s)
    out[tag + " set empty"] = raw_set(s, b"", 0)
    out[tag + " set cubicXY/5"] = raw_set(s, b"cubicXY", 5)
    out[tag + " after cubicXY/5"] = name(s)
    out[tag + " set reno\\0x/6"] = raw_set(s, b"reno\0x", 6)
    out[tag + " after reno\\0x/6"] = name(s)
    out[tag + " set long"] = raw_set(s, b"cubiccubiccubiccubic", 20)
    out[tag + " after long"] = name(s)
    for n in (0, 3, 5, 16, 40):
        out["%s get %d" % (tag, n)] = get(s, n)


def echo(s, size=65536):
    data = bytes(range(256)) * (size // 256)
    s.sendall(data)
    got = b""
    while len(got) < size:
        b = s.recv(65536)
        if not b:
            break
        got += b
    return got == data


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    out = {}
    s = socket.socket()
    if mode == "seq":
        probe(s, out, "closed")
        out["closed set reno last"] = raw_set(s, b"reno", 4)
    s.connect((host, port))
    if mode == "seq":
        out["connected default"] = name(s)
        probe(s, out, "connected")
        out["connected set cubic last"] = raw_set(s, b"cubic", 5)
    else:
        out["connected"] = name(s)
    if mode == "other":
        out["set " + sys.argv[4]] = raw_set(s, sys.argv[4].encode(), len(sys.argv[4]))
        out["after"] = name(s)
        out["after raw"] = get(s)
    out["echo"] = echo(s)
    if mode == "idle":
        time.sleep(1.0)  # the idle time under test: longer than the RTO (>= 200 ms)
        out["echo"] = echo(s) and out["echo"]
    out["after echo"] = name(s)
    s.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
