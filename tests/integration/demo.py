#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""The demo behind `bash tools/demo.sh`: the test bed, then unmodified curl and iperf3
through shunt, told in plain words. Exits non-zero if anything did not work."""

import json
import os
import sys

from netbed import PEER_IP, PYTHON, STACK_IP, Bed, BedError, random_file, sha256_file

SIZE = 8 * 1024 * 1024


def say(msg=""):
    print(msg, flush=True)


# A kernel echo server for the bash step (one connection at a time is enough).
ECHO = ("import socket,sys\n"
        "l=socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "l.bind((sys.argv[1], int(sys.argv[2]))); l.listen(8)\n"
        "while True:\n"
        "  c,_=l.accept()\n"
        "  while True:\n"
        "    d=c.recv(65536)\n"
        "    if not d: break\n"
        "    c.sendall(d)\n"
        "  c.close()\n")


def demo():
    with Bed("demo") as bed:
        say("Built two network namespaces:")
        say("  %-18s  the program runs here; it has only loopback, so nothing can"
            % bed.app)
        say("  %-18s  reach the network except through shunt" % "")
        say("  %-18s  shuntd (DPDK, net_tap) owns tap %s; its TCP/IP stack is %s,"
            % (bed.peer, bed.tap, STACK_IP))
        say("  %-18s  the kernel on the same tap is %s" % ("", PEER_IP))
        say("shuntd is up; its control socket is %s" % bed.control)
        say()

        www = os.path.join(bed.tmp, "www")
        os.mkdir(www)
        want = random_file(os.path.join(www, "file"), SIZE)
        http = bed.spawn_peer([PYTHON, "-m", "http.server", "--bind", PEER_IP,
                               "--directory", www, "8080"], "http.server")
        bed.wait_port(bed.peer, 8080, proc=http)
        url = "http://%s:8080/file" % PEER_IP
        got = os.path.join(bed.tmp, "got")
        say("1. curl (unmodified) downloads %d MB from a kernel HTTP server at %s"
            % (SIZE >> 20, url))
        say("   $ shunt -- curl -o FILE %s" % url)
        r = bed.run_shunt(["curl", "-sS", "--noproxy", "*", "--max-time", "60", "-o", got,
                           "-w", "%{size_download} %{speed_download}", url], timeout=90)
        bed.check(r.returncode == 0, "curl failed (exit %d): %s"
                  % (r.returncode, r.stderr.decode(errors="replace")))
        size, speed = r.stdout.decode().split()
        ok = sha256_file(got) == want
        bed.check(ok, "the downloaded file differs from the served one")
        say("   received %s bytes at %.1f MB/s; SHA-256 matches the served file"
            % (size, float(speed) / 1e6))
        say()

        srv = bed.spawn_peer(["iperf3", "-s", "-1", "-B", PEER_IP, "-p", "5201"], "iperf3")
        bed.wait_port(bed.peer, 5201, proc=srv)
        say("2. iperf3 (unmodified) sends to a kernel iperf3 server at %s for 3 s" % PEER_IP)
        say("   $ shunt -- iperf3 -c %s -t 3" % PEER_IP)
        r = bed.run_shunt(["iperf3", "-c", PEER_IP, "-p", "5201", "-t", "3", "-J"],
                          timeout=60)
        bed.check(r.returncode == 0, "iperf3 failed (exit %d): %s"
                  % (r.returncode, r.stdout.decode(errors="replace")[-2000:]))
        recv = json.loads(r.stdout)["end"]["sum_received"]
        say("   the server received %d bytes: %.1f Mbit/s"
            % (recv["bytes"], recv["bits_per_second"] / 1e6))
        say()

        echo = bed.spawn_peer([PYTHON, "-c", ECHO, PEER_IP, "7007"], "echo")
        bed.wait_port(bed.peer, 7007, proc=echo)
        script = ("exec 3<>/dev/tcp/%s/7007; echo hello >&3; read -r line <&3; "
                  "(echo \"from a child: $line\" >&3); head -n1 <&3" % PEER_IP)
        say("3. bash (unmodified) opens a connection, forks a subshell and execs head")
        say("   on it, as a script would; echo >&3 writes through stdio on fd 1")
        say("   $ shunt -- bash -c '%s'" % script)
        r = bed.run_shunt(["bash", "-c", script], timeout=30)
        out = r.stdout.decode(errors="replace")
        bed.check(r.returncode == 0 and out == "from a child: hello\n",
                  "bash failed (exit %d): %r %s" % (r.returncode, out,
                                                   r.stderr.decode(errors="replace")))
        say("   printed %r: the socket went through stdio, a fork and an exec; once" % out)
        say("   bash moved it onto fd 1, shuntd carried it through a socketpair (a relay),")
        say("   since stdio writes from inside libc (docs/design.md, \"The process model\")")
        say()

        say("4. shuntd's counters (SIGUSR1):")
        for line in bed.counters().splitlines():
            say("   " + line)
    say("Torn down: shuntd stopped, namespaces and temporary files removed.")


def main():
    try:
        demo()
    except BedError as e:
        say("DEMO FAILED: %s" % e)
        sys.exit(1)
    say("Done.")


if __name__ == "__main__":
    main()
