#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""stress_sockets: one process opens, uses (an 8-byte token echoed back) and closes
65,536 TCP sockets in waves of STRESS_SOCKETS_WAVE (8192) open at once, and reports
its memory after each wave: VmRSS/VmHWM and the shim's shared region (the
"shunt-region" memfd's Size/Rss/Pss in /proc/self/smaps).

Asserts correctness only: every connect succeeds through the stack (the app netns
has no other route), every echoed byte is right, every close succeeds, and after
each wave the process holds exactly the descriptors it held before the first one.
Memory is printed for the record, never asserted.

The program spreads its sockets over NPORTS peer ports: its closed ports sit in
TIME_WAIT in shuntd (ephemeral range 32768-60999), and a port can be reused only
toward another destination (28,232 ports x 4 destinations > 65,536).

shuntd runs with its defaults (ABI v2): 65,536 slots per process, each with the
default 256 KiB rings in a sparse memfd, so only the pages a socket touches cost
memory, and freed slots give theirs back. STRESS_SOCKETS_SHUNTD adds shuntd
arguments (blank-separated), e.g. "--max_sockets=16384 --rx_buf=4096".
The kernel runs the same program first as the control (and as the memory
baseline).
"""

import os
import re
import shlex

from netbed import BUILD, PEER_IP, Bed, main, sh

PORTBASE = 9330
NPORTS = 4
TOTAL = int(os.environ.get("STRESS_SOCKETS_TOTAL", "65536"))
WAVE = int(os.environ.get("STRESS_SOCKETS_WAVE", "8192"))
SHUNTD_ARGS = shlex.split(os.environ.get("STRESS_SOCKETS_SHUNTD", ""))
BIN = os.path.join(BUILD, "tests", "integration")


def run_world(bed, under_shunt):
    world = "shunt" if under_shunt else "kernel"
    ports = [str(PORTBASE + i) for i in range(NPORTS)]
    peer = bed.spawn_peer([os.path.join(BIN, "stress_peer"), "echo", PEER_IP] + ports,
                          "echo-" + world)
    for p in ports:
        bed.wait_port(bed.peer, int(p), proc=peer)
    argv = [os.path.join(BIN, "stress_sockets"), PEER_IP, str(PORTBASE), str(NPORTS),
            str(TOTAL), str(WAVE)]
    r = bed.run_shunt(argv, timeout=40) if under_shunt else bed.run(bed.app, argv,
                                                                     timeout=15)
    out = r.stdout.decode(errors="replace")
    err = r.stderr.decode(errors="replace").strip()
    print("%s%s:" % (world, (" (shuntd %s)" % " ".join(SHUNTD_ARGS)) if under_shunt else ""))
    for line in out.splitlines():
        print("  " + line)
    bed.check(r.returncode == 0 and re.search(r"^total=%d .* ok$" % TOTAL, out, re.M),
              "%s: exit %d after %d wave(s)\n--- its stderr:\n%s"
              % (world, r.returncode, out.count("\nwave ") + out.startswith("wave "), err))
    bed.check(peer.alive(), "%s: the echo peer died" % world)


def test():
    with Bed("stress-sockets-kernel", shuntd=False, veth=True) as bed:
        # Linux picks a free ephemeral port by scanning past TIME_WAIT ones, which
        # takes it ~25 s for the last wave in the default 28,232-port range; the
        # control is about the program, so give its kernel the whole range.
        sh(["ip", "netns", "exec", bed.app, "sysctl", "-q", "-w",
            "net.ipv4.ip_local_port_range=1024 65535"])
        run_world(bed, under_shunt=False)
    with Bed("stress-sockets", shuntd_args=SHUNTD_ARGS) as bed:
        run_world(bed, under_shunt=True)


if __name__ == "__main__":
    main(test, "stress_sockets")
