#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""ping: the kernel peer pings shuntd's stack (ARP + ICMP echo) and gets 3 replies."""

import re

from netbed import STACK_IP, Bed, main


def test():
    with Bed("ping") as bed:
        r = bed.run(bed.peer, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", STACK_IP],
                    timeout=20)
        out = r.stdout.decode(errors="replace")
        print(out.strip())
        m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        bed.check(r.returncode == 0 and m and m.group(1) == "3" and m.group(2) == "3",
                  "ping %s from the kernel peer: expected 3 of 3 replies (exit %d)\n%s"
                  % (STACK_IP, r.returncode, out + r.stderr.decode(errors="replace")))


if __name__ == "__main__":
    main(test, "ping")
