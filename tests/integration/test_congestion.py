#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""congestion: TCP_CONGESTION answers as the kernel's, and the default follows the
namespace's net.ipv4.tcp_congestion_control or shuntd's `congestion` key (issue 9).

cc_check.py runs twice with the same sysctls, as test_syn_options.py does:

    kernel client (peer netns)  -> echo server under shunt (app netns)
    shunt client (app netns)    -> kernel echo server (peer netns)

1. Both namespaces with tcp_congestion_control=reno (set before shuntd starts; a
   namespace other than the host's may only choose an algorithm in
   tcp_allowed_congestion_control, and reno always is): the whole setsockopt /
   getsockopt sequence (defaults, reno/cubic, unknown names ENOENT, an empty name
   EINVAL, names cut by optlen, reads cut to optlen) before and after connect()
   prints the same on both stacks, and an echo goes through.
2. The same namespaces, shuntd --congestion=cubic: a shunt connection starts
   with cubic, the key overriding the sysctl.
3. The namespaces as the host made them: shunt's default is the host's
   tcp_congestion_control when shunt has it, else cubic (bbr, say: shunt has no
   bbr, and falls back as Linux does when it cannot load a module); an algorithm
   the kernel has and shunt lacks (from tcp_available_congestion_control) fails
   on a shunt socket with ENOENT and leaves its algorithm as it was.
Slow start after idle: a connection idle for a second between two echoes restarts
its cwnd (shuntd's tcp_cwnd_restart counts it) in bed 1, where the namespace has
Linux's tcp_slow_start_after_idle=1, and never in bed 2, whose namespace set 0.
Sysctls are set only inside the namespaces the test made.
"""

import json
import os

from netbed import HERE, PEER_IP, PYTHON, STACK_IP, Bed, counter, main

CHECK = os.path.join(HERE, "cc_check.py")
PEERS = os.path.join(HERE, "peers.py")
KPORT, SPORT = 7601, 7602  # the kernel's echo server, shunt's


def set_cc_sysctl(bed, name, sysctl="tcp_congestion_control"):
    path = "/proc/sys/net/ipv4/" + sysctl
    for ns in (bed.peer, bed.app):
        r = bed.run(ns, [PYTHON, "-c", "open(%r, 'w').write(%r)" % (path, name)])
        bed.check(r.returncode == 0, "tcp_congestion_control=%s in %s: %s" % (
            name, ns, r.stderr.decode(errors="replace")))


def start_servers(bed):
    k = bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(KPORT)], "kecho")
    bed.wait_port(bed.peer, KPORT, proc=k)
    s = bed.spawn(bed.app, bed.shunt_argv([PYTHON, PEERS, "echo", STACK_IP, str(SPORT)]),
                  "secho")
    bed.wait_reachable(SPORT, s)


def check(bed, shunt, mode, *extra):
    argv = [PYTHON, CHECK, mode, PEER_IP if shunt else STACK_IP,
            str(KPORT if shunt else SPORT)] + list(extra)
    r = bed.run_shunt(argv, timeout=30) if shunt else bed.run(bed.peer, argv, timeout=30)
    bed.check(r.returncode == 0, "%s cc_check %s: exit %d\n%s" % (
        "shunt" if shunt else "kernel", mode, r.returncode, r.stderr.decode(errors="replace")))
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def host_default():
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        return f.read().strip()


def host_others():
    with open("/proc/sys/net/ipv4/tcp_available_congestion_control") as f:
        return [n for n in f.read().split() if n not in ("cubic", "reno")]


def test():
    with Bed("congestion", shuntd=False) as bed:
        set_cc_sysctl(bed, "reno")
        bed.start_shuntd()
        start_servers(bed)
        k, s = check(bed, False, "seq"), check(bed, True, "seq")
        diff = {key: (k.get(key), s.get(key)) for key in sorted(set(k) | set(s))
                if k.get(key) != s.get(key)}
        bed.check(not diff, "TCP_CONGESTION differs (kernel, shunt): %s" % diff)
        bed.check(k["echo"] and k["connected default"] == "reno",
                  "kernel: echo %s, default %s" % (k["echo"], k["connected default"]))
        print("%d TCP_CONGESTION answers as the kernel's: %s" % (
            len(s), ", ".join("%s=%s" % (key, s[key]) for key in (
                "connected default", "connected set nosuchcc", "connected set empty",
                "connected get 3", "connected after cubicXY/5"))))
        k, s = check(bed, False, "default"), check(bed, True, "default")
        bed.check(k == s and s["connected"] == "reno" and s["echo"],
                  "tcp_congestion_control=reno: kernel %s, shunt %s" % (k, s))
        print("tcp_congestion_control=reno: a new connection's is reno on both stacks")
        s = check(bed, True, "idle")
        n = counter(bed.counters(), "tcp_cwnd_restart")
        bed.check(s["echo"] and n >= 1, "idle 1 s, tcp_slow_start_after_idle=1: "
                  "%d cwnd restarts (%s)" % (n, s))
        print("tcp_slow_start_after_idle=1: %d cwnd restart(s) after a 1 s idle" % n)

    with Bed("congestion-key", shuntd=False, shuntd_args=["--congestion=cubic"]) as bed:
        set_cc_sysctl(bed, "reno")
        set_cc_sysctl(bed, "0", "tcp_slow_start_after_idle")
        bed.start_shuntd()
        start_servers(bed)
        s = check(bed, True, "idle")
        n = counter(bed.counters(), "tcp_cwnd_restart")
        bed.check(s["echo"] and n == 0, "tcp_slow_start_after_idle=0: %d restarts" % n)
        print("tcp_slow_start_after_idle=0: no cwnd restart after a 1 s idle")
        s = check(bed, True, "default")
        bed.check(s["connected"] == "cubic" and s["echo"],
                  "--congestion=cubic over tcp_congestion_control=reno: %s" % s)
        print("--congestion=cubic over tcp_congestion_control=reno: cubic")

    want = host_default() if host_default() in ("cubic", "reno") else "cubic"
    with Bed("congestion-host") as bed:
        start_servers(bed)
        s = check(bed, True, "default")
        bed.check(s["connected"] == want and s["echo"],
                  "host's tcp_congestion_control %s: shunt %s, want %s"
                  % (host_default(), s, want))
        print("host's tcp_congestion_control %s: shunt's default %s"
              % (host_default(), want))
        for other in host_others():
            s = check(bed, True, "other", other)
            bed.check(s["set " + other] == "ENOENT" and s["after"] == want and
                      s["after raw"][1].startswith(want.encode().hex()),
                      "setsockopt %s on a shunt socket: %s" % (other, s))
            print("setsockopt(TCP_CONGESTION, %s), which the kernel has: ENOENT, still %s"
                  % (other, want))


if __name__ == "__main__":
    main(test)
