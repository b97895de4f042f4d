#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""servers_real: unmodified nginx and redis-server under shunt, kernel clients in
the peer namespace, every answer checked:

  * nginx (master_process off, one worker, sendfile on, which shunt serves by
    reading the file into the socket's ring) sends a 50 MB file to 20 concurrent
    curl clients, every SHA-256 matching; then `wrk -c 100 -d 10s` on a small file
    must report no socket error and only 200s;
  * redis-server answers `redis-benchmark -q -n 100000 -c 50 -t set,get,lpush,lpop`
    with a rate for each test and no error, and `redis-cli` reads back what it set;
  * `iperf3 -s` (which listens on IPv6's [::], dual-stack) receives from a kernel
    `iperf3 -c` for 2 s and sends to one with -R: each run must complete without
    error and move data;
  * `sockperf sr --tcp` answers a kernel `sockperf pp --tcp` for 2 s: over 1,000
    round trips and no error.

The app namespace has only lo, so only shunt can have carried these.

  * dnsmasq (its own bed) answers dig through shunt over UDP and TCP, and over
    loopback. dnsmasq binds 0.0.0.0 and uses IP_PKTINFO's interface index to
    know where a query came from, so the app namespace has an interface owning
    the stack's address (one end of a veth pair whose other end stays there
    too: still only shunt reaches the peer), as the kernel's interface keeps the
    address shunt accelerates with net_af_xdp or a NIC. A datagram through shunt
    must carry IP_PKTINFO and IP_ORIGDSTADDR naming that interface and address."""

import hashlib
import json
import os
import re

from netbed import PYTHON, STACK_IP, Bed, main, sh

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
    r = bed.run(bed.peer, ["wrk", "-t1", "-c100", "-d10s", "http://%s:%d/small" % (STACK_IP, port)],
                timeout=60)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"(\d+) requests in", out)
    bed.check(r.returncode == 0 and m and int(m.group(1)) > 0 and "Socket errors" not in out
              and "Non-2xx" not in out, "nginx: wrk reported errors:\n%s" % out)
    print("nginx: wrk -c100 -d10s: %s requests, no socket error, all 200"
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
    srv = bed.spawn(bed.app, bed.shunt_argv(["iperf3", "-s", "-p", str(port)]),
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


# recvmsg() on a UDP socket on 0.0.0.0 under shunt, with IP_PKTINFO and
# IP_RECVORIGDSTADDR: prints "ifindex spec_dst addr origdst:port" of one datagram.
PKTINFO = """import socket, struct, sys
IP_PKTINFO, IP_RECVORIGDSTADDR = 8, 20   # linux/in.h
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
u.setsockopt(socket.IPPROTO_IP, IP_RECVORIGDSTADDR, 1)
u.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
data, anc, flags, src = u.recvmsg(64, 256)
out = {}
for level, typ, a in anc:
    if typ == IP_PKTINFO:
        idx, spec, addr = struct.unpack("=i4s4s", a)
        out["pktinfo"] = "%d %s %s" % (idx, socket.inet_ntoa(spec), socket.inet_ntoa(addr))
    elif typ == 20:  # IP_ORIGDSTADDR
        port, ip = struct.unpack("!2xH4s8x", a)
        out["origdst"] = "%s:%d" % (socket.inet_ntoa(ip), port)
print(out.get("pktinfo"), out.get("origdst"), data.decode(), flags)
"""


def dnsmasq(bed):
    """dnsmasq under shunt: dig through shunt (UDP, TCP) and over loopback."""
    port, pport = 5353, 7371
    ip = ["ip", "-n", bed.app]
    sh(ip + ["link", "add", "shd0", "type", "veth", "peer", "name", "shd0p"])
    sh(ip + ["addr", "add", STACK_IP + "/32", "dev", "shd0"])
    for dev in ("shd0", "shd0p"):
        sh(ip + ["link", "set", dev, "up"])
    r = bed.run(bed.app, ["cat", "/sys/class/net/shd0/ifindex"], timeout=10)
    index = int(r.stdout.decode().strip())

    # The control messages of a datagram that came through shunt.
    probe = bed.spawn(bed.app, bed.shunt_argv([PYTHON, "-c", PKTINFO, str(pport)]), "pktinfo")
    bed.wait_port(bed.app, pport, proc=probe, proto="udp")
    bed.run(bed.peer, [PYTHON, "-c", "import socket; socket.socket(socket.AF_INET, "
                       "socket.SOCK_DGRAM).sendto(b'hi', ('%s', %d))" % (STACK_IP, pport)])
    probe.wait(10)
    with open(os.path.join(bed.tmp, "pktinfo.out")) as f:
        out = f.read().strip().splitlines()[-1]
    want = "%d %s %s %s:%d hi 0" % (index, STACK_IP, STACK_IP, STACK_IP, pport)
    bed.check(out == want, "control messages of a datagram through shunt: %r, want %r"
              % (out, want))
    print("IP_PKTINFO and IP_ORIGDSTADDR on a datagram through shunt: %s" % out)

    hosts = os.path.join(bed.tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("10.1.2.3 shunt.test\n")
    srv = bed.spawn(bed.app, bed.shunt_argv([
        "dnsmasq", "--keep-in-foreground", "--no-daemon", "--no-resolv", "--no-hosts",
        "--addn-hosts=" + hosts, "--user=root", "--port=%d" % port, "--log-queries",
        "--pid-file="]), "dnsmasq")
    bed.wait_port(bed.app, port, proc=srv, proto="udp")
    for ns, host, how in ((bed.peer, STACK_IP, "+notcp"), (bed.peer, STACK_IP, "+tcp"),
                          (bed.app, "127.0.0.1", "+notcp")):
        r = bed.run(ns, ["dig", "@" + host, "-p", str(port), how, "+tries=3", "+time=1",
                         "+short", "shunt.test"], timeout=20)
        out = r.stdout.decode(errors="replace").strip()
        bed.check(r.returncode == 0 and out == "10.1.2.3",
                  "dig %s @%s against dnsmasq under shunt: %r\n%s"
                  % (how, host, out, r.stderr.decode(errors="replace")))
        print("dnsmasq under shunt answered dig %s @%s: %s" % (how, host, out))
    bed.check(srv.alive(), "dnsmasq died")


def test():
    with Bed("servers-real") as bed:
        nginx(bed)
        redis(bed)
        iperf3(bed)
        sockperf(bed)
    with Bed("dnsmasq") as bed:
        dnsmasq(bed)


if __name__ == "__main__":
    main(test, "servers_real")
