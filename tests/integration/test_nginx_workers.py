#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""nginx_workers: unmodified nginx in its default process model under shunt: a
master that opens the listener on 0.0.0.0:8080, then forks two workers that accept
on their inherited copies of it (sockets shared across fork, issue 8). Kernel
clients in the peer namespace; sendfile on.

  1. the master (its pid from nginx.pid) has exactly 2 children, both workers
     ("nginx: worker process" in /proc/PID/cmdline), and one small GET is served;
  2. a 50 MB file to 20 concurrent curls, every SHA-256 matching;
  3. `wrk -t 2 -c 100 -d 10s` on a small file: no socket error, only 200s; the
     same two workers are still there (none crashed and was respawned), and the
     access log (whose format starts with $pid) names both of them, and only
     them, among the requests of 1-3;
  4. `nginx -s reload`, run without shunt in the app namespace (it only reads
     nginx.pid and sends SIGHUP: the signal is all that matters); then, polled
     in /proc: two new workers, the old ones gone. 20 concurrent curls of the
     small file all answer 200, one 50 MB download matches, and the log names
     only the new workers, both of them (more concurrent bursts are sent until
     the second one has served, bounded, as the kernel may hand a light load to
     one worker);
  5. `nginx -s quit`: the master exits with status 0 within 15 s.

Every wait polls a condition with a timeout. SHUNT_NGINX_KERNEL=1 runs the same
test on the kernel twin of the bed (a veth pair, the app namespace owning the
stack's address, no shuntd, nginx without the launcher): it shows the checks hold
where sockets are shared across fork.

Nothing is imported from test_servers_real: its nginx configuration is the single
process one, and the rest is one function of its own test."""

import collections
import hashlib
import os
import re
import time

from netbed import STACK_IP, Bed, main, tail

KERNEL = bool(os.environ.get("SHUNT_NGINX_KERNEL"))
PORT = 8080
WORKERS = 2
BIG = 50 << 20
CLIENTS = 20

# The access log's format starts with $pid, the worker that served the request.
NGINX_CONF = """daemon off; master_process on; worker_processes {workers};
pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{ log_format workers '$pid $status $request_uri';
  access_log {tmp}/access.log workers;
  sendfile on; tcp_nopush on; keepalive_timeout 30;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen 0.0.0.0:{port}; root {root}; }} }}
"""


class Nginx:
    """One nginx instance of the bed: its files, its process tree, its logs."""

    def __init__(self, bed):
        self.bed = bed
        self.root = os.path.join(bed.tmp, "www")
        self.conf = os.path.join(bed.tmp, "nginx.conf")
        self.pidfile = os.path.join(bed.tmp, "nginx.pid")
        self.errlog = os.path.join(bed.tmp, "nginx-error.log")
        self.access = os.path.join(bed.tmp, "access.log")
        self.url = "http://%s:%d" % (STACK_IP, PORT)
        self.srv = None
        self.master = None
        self.log_at = 0         # access log offset up to which entries were read

    # the same -c, -p and -e for the server and for `nginx -s`; -e keeps even the
    # messages before the configuration is read out of /var/log/nginx
    def argv(self, *extra):
        return ["nginx", "-c", self.conf, "-p", self.bed.tmp, "-e", self.errlog] + list(extra)

    def start(self):
        os.makedirs(self.root)
        data = os.urandom(BIG)
        with open(os.path.join(self.root, "big"), "wb") as f:
            f.write(data)
        with open(os.path.join(self.root, "small"), "w") as f:
            f.write("hello\n")
        self.big_sha = hashlib.sha256(data).hexdigest()
        with open(self.conf, "w") as f:
            f.write(NGINX_CONF.format(workers=WORKERS, tmp=self.bed.tmp, port=PORT,
                                      root=self.root))
        os.chmod(self.bed.tmp, 0o755)  # the workers read the files as nginx's user
        argv = self.argv() if KERNEL else self.bed.shunt_argv(self.argv())
        self.srv = self.bed.spawn(self.bed.app, argv, "nginx")
        self.master = self.wait("nginx.pid naming a live master", 10, self._master)

    # ------------------------------------------------------------- failing
    def fail(self, msg):
        self.bed.fail("%s\n--- nginx processes: %s\n--- nginx error log:\n%s"
                      % (msg, self.tree(), tail(self.errlog, 30)))

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)

    def wait(self, what, timeout, cond):
        """cond()'s first true value, polled until timeout seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            v = cond()
            if v:
                return v
            if not self.srv.alive():
                self.fail("nginx exited while waiting for %s" % what)
            if time.monotonic() > deadline:
                self.fail("no %s after %d s" % (what, timeout))
            time.sleep(0.05)

    # ----------------------------------------------------------- processes
    def _master(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if title(pid).startswith("nginx: master process") else None

    def children(self):
        """{pid: title} of the master's children."""
        out = {}
        for d in os.listdir("/proc"):
            if d.isdigit() and ppid(int(d)) == self.master:
                out[int(d)] = title(int(d))
        return out

    def workers(self):
        """The master's children if they are exactly WORKERS serving workers."""
        kids = self.children()
        if len(kids) == WORKERS and all(t == "nginx: worker process" for t in kids.values()):
            return frozenset(kids)
        return None

    def tree(self):
        if self.master is None:
            return "no master yet (nginx.pid: %s)" % tail(self.pidfile, 1)
        return "master %d (%s), children %s" % (self.master, title(self.master) or "gone",
                                                self.children())

    # ---------------------------------------------------------- access log
    def entries(self):
        """Access log entries (pid, status, uri) written since the last call."""
        try:
            with open(self.access, "rb") as f:
                f.seek(self.log_at)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n") + 1       # a whole line at a time
        self.log_at += end
        out = []
        for line in chunk[:end].decode(errors="replace").splitlines():
            f = line.split()
            if len(f) == 3 and f[0].isdigit():
                out.append((int(f[0]), f[1], f[2]))
        return out

    def logged(self, seen, uri, count, timeout=10):
        """Append to `seen` until it holds `count` entries of `uri` (nginx logs a
        request after its last byte is queued, a moment after the client may have
        it); returns seen."""
        def enough():
            seen.extend(self.entries())
            return sum(1 for e in seen if e[2] == uri) >= count
        self.wait("%d access log entries of %s" % (count, uri), timeout, enough)
        return seen

    # ------------------------------------------------------------- clients
    def peer(self, script, timeout):
        r = self.bed.run(self.bed.peer, ["sh", "-c", script], timeout=timeout)
        return r.stdout.decode(errors="replace").split(), r.stderr.decode(errors="replace")

    def small_codes(self, n, timeout=10):
        """HTTP codes of n concurrent GETs of /small ("000": no answer)."""
        codes, err = self.peer("for i in $(seq %d); do curl -sS -m %d -o /dev/null "
                               "-w '%%{http_code}\\n' %s/small & done; wait"
                               % (n, timeout, self.url), timeout + 20)
        return codes, err

    def big_downloads(self, n, timeout=60):
        sums, err = self.peer("for i in $(seq %d); do curl -sS -f -m %d %s/big | sha256sum "
                              "& done; wait" % (n, timeout, self.url), timeout + 30)
        ok = [s for s in sums if len(s) == 64].count(self.big_sha)
        self.check(ok == n, "%d of %d downloads of 50 MB matched\n%s" % (ok, n, err))


def title(pid):
    """/proc/PID/cmdline as nginx set it ('' if gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])  # comm may hold spaces
    except (OSError, IndexError, ValueError):
        return None


def served_by(entries):
    return dict(collections.Counter(e[0] for e in entries))


def run(bed):
    ng = Nginx(bed)
    ng.start()
    world = "kernel" if KERNEL else "shunt"

    # 1. the process tree, and a first request
    workers = ng.wait("%d worker processes under master %d" % (WORKERS, ng.master), 10,
                      ng.workers)
    print("nginx (%s): master %d, workers %s" % (world, ng.master, sorted(workers)),
          flush=True)
    bed.wait_reachable(PORT, ng.srv)
    codes, err = ng.small_codes(1)
    ng.check(codes == ["200"], "the first GET /small got %s\n%s" % (codes, err))
    seen = ng.logged([], "/small", 1)

    # 2. 20 concurrent 50 MB downloads
    t0 = time.monotonic()
    ng.big_downloads(CLIENTS)
    print("nginx: %d concurrent 50 MB downloads in %.1f s, every SHA-256 matching"
          % (CLIENTS, time.monotonic() - t0), flush=True)
    ng.logged(seen, "/big", CLIENTS)

    # 3. wrk
    r = bed.run(bed.peer, ["wrk", "-t", "2", "-c", "100", "-d", "10s", ng.url + "/small"],
                timeout=60)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    ng.check(r.returncode == 0 and m and int(m.group(1)) > 0 and rate
             and "Socket errors" not in out and "Non-2xx" not in out,
             "wrk reported errors (exit %d):\n%s\n%s"
             % (r.returncode, out, r.stderr.decode(errors="replace")))
    seen.extend(ng.entries())
    ng.check(ng.workers() == workers, "the workers changed during the load: %s, were %s"
             % (ng.children(), sorted(workers)))
    by = served_by(seen)
    ng.check(set(by) == workers, "requests served by %s, the workers are %s"
             % (by, sorted(workers)))
    print("nginx: wrk -t2 -c100 -d10s: %s requests, %s requests/s, no socket error, "
          "all 200; requests by worker pid: %s" % (m.group(1), rate.group(1), by), flush=True)

    # 4. reload: a new generation of workers, which serves
    r = bed.run(bed.app, ng.argv("-s", "reload"), timeout=15)
    ng.check(r.returncode == 0, "nginx -s reload: exit %d\n%s"
             % (r.returncode, r.stderr.decode(errors="replace")))
    def next_generation():
        w = ng.workers()         # exactly WORKERS children: the old ones were reaped
        return w if w and not w & workers else None
    new = ng.wait("new generation of %d workers (the old %s gone)" % (WORKERS, sorted(workers)),
                  20, next_generation)
    gone = [p for p in workers if title(p)]
    ng.check(not gone, "old workers still alive: %s" % gone)
    print("nginx: reload: workers %s replaced by %s" % (sorted(workers), sorted(new)),
          flush=True)
    ng.entries()             # drop what the old generation logged while leaving
    codes, err = ng.small_codes(CLIENTS)
    ng.check(codes == ["200"] * CLIENTS, "after the reload, %d concurrent GET /small: %s\n%s"
             % (CLIENTS, codes, err))
    ng.big_downloads(1)
    seen = ng.logged([], "/small", CLIENTS)
    ng.logged(seen, "/big", 1)
    bursts = 0

    def both_served():
        nonlocal bursts
        seen.extend(ng.entries())
        if set(served_by(seen)) >= new:
            return True
        bursts += 1
        codes, err = ng.small_codes(CLIENTS)
        ng.check(codes == ["200"] * CLIENTS, "after the reload, burst %d of GET /small: "
                 "%s\n%s" % (bursts, codes, err))
        return False
    ng.wait("request served by each new worker %s (log: %s)" % (sorted(new), served_by(seen)),
            20, both_served)
    seen.extend(ng.entries())
    by = served_by(seen)
    ng.check(set(by) == new, "after the reload, requests served by %s, the workers are %s"
             % (by, sorted(new)))
    ng.check(ng.workers() == new, "the new workers changed: %s" % ng.children())
    print("nginx: after the reload %d concurrent GET /small all 200, a 50 MB download "
          "matching; requests by worker pid: %s (%d extra bursts of %d)"
          % (CLIENTS, by, bursts, CLIENTS), flush=True)

    # 5. quit
    r = bed.run(bed.app, ng.argv("-s", "quit"), timeout=15)
    ng.check(r.returncode == 0, "nginx -s quit: exit %d\n%s"
             % (r.returncode, r.stderr.decode(errors="replace")))
    rc = ng.srv.wait(15)
    ng.check(rc == 0, "nginx's master after -s quit: %s"
             % ("still running after 15 s" if rc is None else "exit status %d" % rc))
    with open(ng.errlog, errors="replace") as f:
        bad = [l for l in f if re.search(r"\[(emerg|alert|crit)\]", l)]
    ng.check(not bad, "nginx's error log:\n%s" % "".join(bad[-20:]))
    print("nginx: -s quit: master %d exited with status 0" % ng.master, flush=True)


def test():
    if KERNEL:
        with Bed("nginx-workers-kernel", shuntd=False, veth=True) as bed:
            run(bed)
    else:
        with Bed("nginx-workers") as bed:
            run(bed)


if __name__ == "__main__":
    main(test, "nginx_workers" + ("_kernel" if KERNEL else ""))
