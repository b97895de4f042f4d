# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""servpeer: the kernel clients of the server differential suite (stdlib only).

    servpeer.py CTLPATH

Runs in the peer netns. It listens on the AF_UNIX socket CTLPATH (a path: unlike
an abstract name it is reachable from every netns) and serves each control
connection in a thread: servcheck, the server under test in the app netns, sends
one JSON request per line and reads one JSON reply per line. The clients a
connection opens are numbered from 0 and closed when it ends.

Requests ("op" and its fields) and what they reply:
    connect ip port n wait_ms seq delay_ms
                    n non-blocking connects; with seq each is waited for (up to
                    wait_ms) before the next starts, else all are waited for
                    together. {"ids": [...], "states": ["connected" | "pending" |
                    "ECONNREFUSED"...]}. delay_ms > 0: started after that delay,
                    in the background; the reply {"ids": [...]} comes at once.
    wait id ms      waits for a pending connect: {"state": ...}
    whose port      which client has this local port: {"id": N | null}
    send id data [delay_ms]
                    {"rc": N} or {"errno": "E..."}; delayed: in the background
    fill id         sends until the socket buffer is full: {"bytes": N}
    recv id n ms    waits up to ms for readability, then one recv(n):
                    {"data": "..."} | {"eof": true} | {"errno": "E..."} |
                    {"timeout": true}
    drain id ms [hash]
                    reads until EOF, an error or ms: {"bytes": N, "end": "eof" |
                    "E..." | "timeout"} (and "sha256" of it all at EOF, with hash)
    drain_later id delay_ms
                    after delay_ms, in the background, reads 1 MB (or to EOF):
                    {"rc": 0} at once
    shut id how     shutdown(rd | wr | rdwr): {"rc": 0} or {"errno": ...}
    close id linger0
                    close (with SO_LINGER {1, 0}: an RST): {"rc": 0}
    state id        the TCP state from TCP_INFO: {"state": "ESTABLISHED"...}
"""

import errno
import hashlib
import json
import os
import select
import socket
import struct
import sys
import threading
import time

TCP_STATES = ["?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
              "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"]


def ename(e):
    return errno.errorcode.get(e, "E%d" % e)


class Session:
    """One control connection and the clients it opened."""

    def __init__(self, ctl):
        self.ctl = ctl
        self.socks = []
        self.lock = threading.Lock()

    def sock(self, i):
        return self.socks[i]

    # -- requests ----------------------------------------------------------------

    def op_connect(self, r):
        n, wait_ms = r.get("n", 1), r.get("wait_ms", 1000)
        ids = []
        with self.lock:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                self.socks.append(s)
                ids.append(len(self.socks) - 1)
        target = (r["ip"], r["port"])
        if r.get("delay_ms"):
            def later():
                time.sleep(r["delay_ms"] / 1000.0)
                for i in ids:
                    self._start(i, target)
            threading.Thread(target=later, daemon=True).start()
            return {"ids": ids}
        states = []
        if r.get("seq", True):
            for i in ids:
                self._start(i, target)
                states.append(self._wait(i, wait_ms))
        else:
            for i in ids:
                self._start(i, target)
            deadline = time.monotonic() + wait_ms / 1000.0
            for i in ids:
                left = max(0, int((deadline - time.monotonic()) * 1000))
                states.append(self._wait(i, left))
        return {"ids": ids, "states": states}

    def _start(self, i, target):
        try:
            self.sock(i).connect(target)
        except BlockingIOError:
            pass

    def _wait(self, i, ms):
        s = self.sock(i)
        _, w, _ = select.select([], [s], [], ms / 1000.0)
        if not w:
            return "pending"
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return "connected" if err == 0 else ename(err)

    def op_wait(self, r):
        return {"state": self._wait(r["id"], r.get("ms", 5000))}

    def op_whose(self, r):
        with self.lock:
            for i, s in enumerate(self.socks):
                try:
                    if s.fileno() >= 0 and s.getsockname()[1] == r["port"]:
                        return {"id": i}
                except OSError:
                    pass
        return {"id": None}

    def op_send(self, r):
        s, data = self.sock(r["id"]), r["data"].encode()
        if r.get("delay_ms"):
            def later():
                time.sleep(r["delay_ms"] / 1000.0)
                s.setblocking(True)
                s.sendall(data)
            threading.Thread(target=later, daemon=True).start()
            return {"rc": 0}
        try:
            s.setblocking(True)
            s.sendall(data)
            return {"rc": len(data)}
        except OSError as e:
            return {"errno": ename(e.errno)}

    def op_fill(self, r):
        s, total = self.sock(r["id"]), 0
        s.setblocking(False)
        chunk = b"x" * 65536
        while True:
            try:
                total += s.send(chunk)
            except BlockingIOError:
                return {"bytes": total}
            except OSError as e:
                return {"bytes": total, "errno": ename(e.errno)}

    def op_recv(self, r):
        s = self.sock(r["id"])
        rd, _, _ = select.select([s], [], [], r.get("ms", 3000) / 1000.0)
        if not rd:
            return {"timeout": True}
        try:
            b = s.recv(r.get("n", 4096), socket.MSG_DONTWAIT)
        except OSError as e:
            return {"errno": ename(e.errno)}
        return {"data": b.decode(errors="replace")} if b else {"eof": True}

    def op_drain(self, r):
        s, total = self.sock(r["id"]), 0
        digest = hashlib.sha256() if r.get("hash") else None
        deadline = time.monotonic() + r.get("ms", 10000) / 1000.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"bytes": total, "end": "timeout"}
            rd, _, _ = select.select([s], [], [], left)
            if not rd:
                continue
            try:
                b = s.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except OSError as e:
                return {"bytes": total, "end": ename(e.errno)}
            if not b:
                end = {"bytes": total, "end": "eof"}
                if digest is not None:
                    end["sha256"] = digest.hexdigest()
                return end
            total += len(b)
            if digest is not None:
                digest.update(b)

    def op_drain_later(self, r):
        s = self.sock(r["id"])

        def later():
            time.sleep(r["delay_ms"] / 1000.0)
            s.setblocking(True)
            left = 1 << 20
            while left > 0:
                b = s.recv(min(left, 65536))
                if not b:
                    return
                left -= len(b)
        threading.Thread(target=later, daemon=True).start()
        return {"rc": 0}

    def op_shut(self, r):
        how = {"rd": socket.SHUT_RD, "wr": socket.SHUT_WR, "rdwr": socket.SHUT_RDWR}
        try:
            self.sock(r["id"]).shutdown(how[r["how"]])
            return {"rc": 0}
        except OSError as e:
            return {"errno": ename(e.errno)}

    def op_close(self, r):
        s = self.sock(r["id"])
        if r.get("linger0"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return {"rc": 0}

    def op_state(self, r):
        info = self.sock(r["id"]).getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return {"state": TCP_STATES[info[0]] if info[0] < len(TCP_STATES) else info[0]}

    # -- the connection ----------------------------------------------------------

    def serve(self):
        f = self.ctl.makefile("rwb", buffering=0)
        try:
            for line in f:
                try:
                    r = json.loads(line)
                    reply = getattr(self, "op_" + r["op"])(r)
                except Exception as e:  # a bad request is answered, not fatal
                    reply = {"agent_error": "%s: %s" % (type(e).__name__, e)}
                f.write((json.dumps(reply, sort_keys=True) + "\n").encode())
        finally:
            for s in self.socks:
                s.close()
            self.ctl.close()


def main():
    path = sys.argv[1]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(64)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=Session(c).serve, daemon=True).start()


if __name__ == "__main__":
    main()
