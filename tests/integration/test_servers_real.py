#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""servers_real: unmodified nginx and redis-server under shunt, kernel clients in
the peer namespace, every answer checked:

  * nginx (master_process off, one worker, sendfile on, which shunt serves by
    reading the file into the socket's ring) sends a 50 MB file to 20 concurrent
    curl clients, every SHA-256 matching; then `wrk -c 100 -d 5s` on a small file
    must report no socket error and only 200s;
  * redis-server answers `redis-benchmark -q -n 100000 -c 50 -t set,get,lpush,lpop`
    with a rate for each test and no error, and `redis-cli` reads back what it set;
  * `iperf3 -s -B 0.0.0.0` receives from a kernel `iperf3 -c` for 2 s and sends
    to one with -R: each run must complete without error and move data (-B: a
    plain `iperf3 -s` listens on IPv6's ::, which shunt leaves to the kernel);
  * `sockperf sr --tcp` answers a kernel `sockperf pp --tcp` for 2 s: over 1,000
    round trips and no error.

The app namespace has only lo, so only shunt can have carried these."""

import hashlib
import json
import os
import re

from netbed import PYTHON, STACK_IP, Bed, main

NGINX_CONF = """daemon off; master_process off; worker_processes 1;
pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on; keepalive_timeout 30;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp};
  uwsgi_temp_path {tmp}; scgi_temp_path {tmp};
  server {{ listen {port}; root {root}; }} }}
"""


def nginx(bed):
    port = 8080
    root = os.path.join(bed.tmp, "www")
    os.makedirs(root)
    data = os.urandom(50 << 20)
    with open(os.path.join(root, "big"), "wb") as f:
        f.write(data)
    with open(os.path.join(root, "small"), "w") as f:
        f.write("hello\n")
    want = hashlib.sha256(data).hexdigest()
    conf = os.path.join(bed.tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=bed.tmp, port=port, root=root))
    os.chmod(bed.tmp, 0o755)  # nginx's worker reads the files as www-data
    srv = bed.spawn(bed.app, bed.shunt_argv(["nginx", "-c", conf, "-p", bed.tmp]), "nginx")
    bed.wait_reachable(port, srv)
    r = bed.run(bed.peer, ["sh", "-c", "for i in $(seq 20); do curl -sS "
                           "http://%s:%d/big | sha256sum & done; wait" % (STACK_IP, port)],
                timeout=120)
    sums = r.stdout.decode().split()
    ok = sums.count(want)
    bed.check(ok == 20, "nginx: %d of 20 downloads of 50 MB matched\n%s" % (
        ok, r.stderr.decode(errors="replace")))
    print("nginx: 20 concurrent 50 MB downloads, every SHA-256 matching")
    r = bed.run(bed.peer, ["wrk", "-t1", "-c100", "-d5s", "http://%s:%d/small" % (STACK_IP, port)],
                timeout=60)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"(\d+) requests in", out)
    bed.check(r.returncode == 0 and m and int(m.group(1)) > 0 and "Socket errors" not in out
              and "Non-2xx" not in out, "nginx: wrk reported errors:\n%s" % out)
    print("nginx: wrk -c100 -d5s: %s requests, no socket error, all 200"
          % m.group(1))
    bed.check(srv.alive(), "nginx died")


def redis(bed):
    port = 6379
    srv = bed.spawn(bed.app, bed.shunt_argv([
        "redis-server", "--port", str(port), "--bind", "0.0.0.0", "--protected-mode", "no",
        "--save", "", "--appendonly", "no", "--daemonize", "no"]), "redis")
    bed.wait_reachable(port, srv)
    r = bed.run(bed.peer, ["redis-benchmark", "-h", STACK_IP, "-p", str(port), "-q",
                           "-n", "100000", "-c", "50", "-t", "set,get,lpush,lpop"],
                timeout=120)
    out = r.stdout.decode(errors="replace").replace("\r", "\n")
    rates = re.findall(r"^(SET|GET|LPUSH|LPOP): ([\d.]+) requests per second", out, re.M)
    bed.check(r.returncode == 0 and sorted(t for t, _ in rates) ==
              ["GET", "LPOP", "LPUSH", "SET"] and "rror" not in out,
              "redis-benchmark: exit %d\n%s\n%s" % (r.returncode, out[-2000:],
                                                   r.stderr.decode(errors="replace")))
    print("redis-benchmark -n 100000 -c 50: %s" % ", ".join("%s %s/s" % t for t in rates))
    value = os.urandom(12).hex()
    r1 = bed.run(bed.peer, ["redis-cli", "-h", STACK_IP, "-p", str(port), "set", "shunt", value],
                 timeout=10)
    r2 = bed.run(bed.peer, ["redis-cli", "-h", STACK_IP, "-p", str(port), "get", "shunt"],
                 timeout=10)
    bed.check(r1.stdout.strip() == b"OK" and r2.stdout.decode().strip() == value,
              "redis-cli: set %r, get %r" % (r1.stdout, r2.stdout))
    print("redis-cli: set and read back %s" % value)
    bed.check(srv.alive(), "redis-server died")


def iperf3(bed):
    port = 5301
    srv = bed.spawn(bed.app, bed.shunt_argv(["iperf3", "-s", "-B", "0.0.0.0", "-p", str(port)]),
                    "iperf3-s")
    bed.wait_port(bed.app, port, proc=srv)  # its placeholder listens too
    for rev in ([], ["-R"]):
        r = bed.run(bed.peer, ["iperf3", "-c", STACK_IP, "-p", str(port), "-t", "2", "-J"] + rev,
                    timeout=30)
        try:
            end = json.loads(r.stdout)["end"]
            got = end["sum_received"]["bytes"]
        except (ValueError, KeyError):
            got, end = 0, {}
        bed.check(r.returncode == 0 and got > 1 << 20, "iperf3 -c %s: exit %d, %d bytes\n%s"
                  % (" ".join(rev), r.returncode, got, r.stdout.decode(errors="replace")[-1500:]))
        print("iperf3 server under shunt, kernel client %s: %.0f Mbit/s"
              % (" ".join(rev) or "(client sends)",
                 end["sum_received"]["bits_per_second"] / 1e6))
    bed.check(srv.alive(), "iperf3 -s died")


def sockperf(bed):
    port = 11111
    srv = bed.spawn(bed.app, bed.shunt_argv(["sockperf", "sr", "--tcp", "-i", "0.0.0.0",
                                             "-p", str(port)]), "sockperf-sr")
    bed.wait_port(bed.app, port, proc=srv)
    r = bed.run(bed.peer, ["sockperf", "pp", "--tcp", "-i", STACK_IP, "-p", str(port), "-t", "2"],
                timeout=30)
    out = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout.decode(errors="replace"))
    m = re.search(r"Summary: Latency is ([\d.]+) usec", out)
    n = re.search(r"\[Valid Duration\].*?ReceivedMessages=(\d+)", out)
    bed.check(r.returncode == 0 and m and n and int(n.group(1)) > 1000 and "ERROR" not in out,
              "sockperf pp against sockperf sr under shunt:\n%s\n%s" % (
                  out[-2000:], r.stderr.decode(errors="replace")))
    print("sockperf sr under shunt, kernel sockperf pp: %s round trips, %s us average"
          % (n.group(1), m.group(1)))
    bed.check(srv.alive(), "sockperf sr died")


def test():
    with Bed("servers-real") as bed:
        nginx(bed)
        redis(bed)
        iperf3(bed)
        sockperf(bed)


if __name__ == "__main__":
    main(test, "servers_real")
