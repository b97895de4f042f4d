#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""iperf3: unmodified iperf3 client under shunt, kernel `iperf3 -s -1` peer, 5 s."""

import json

from netbed import PEER_IP, Bed, main

PORT = 5201


def test():
    with Bed("iperf3") as bed:
        srv = bed.spawn_peer(["iperf3", "-s", "-1", "-B", PEER_IP, "-p", str(PORT)],
                             "iperf3-server")
        bed.wait_port(bed.peer, PORT, proc=srv)
        r = bed.run_shunt(["iperf3", "-c", PEER_IP, "-p", str(PORT), "-t", "5", "-J"],
                          timeout=40)
        text = r.stdout.decode(errors="replace")
        bed.check(r.returncode == 0, "iperf3 client exited %d\n--- stdout:\n%s\n--- stderr:\n%s"
                  % (r.returncode, text[-3000:], r.stderr.decode(errors="replace")))
        try:
            res = json.loads(text)
            recv = res["end"]["sum_received"]
            bps, nbytes = float(recv["bits_per_second"]), int(recv["bytes"])
        except (ValueError, KeyError, TypeError) as e:
            bed.fail("iperf3 -J output unusable (%s):\n%s" % (e, text[-3000:]))
        bed.check(bps > 0 and nbytes > 0,
                  "iperf3 shows no received throughput: %r" % recv)
        rc = srv.wait(10)
        bed.check(rc == 0, "iperf3 -s -1 did not exit cleanly (status %s)" % rc)
        print("iperf3 through shunt: %d bytes received in 5 s, %.1f Mbit/s"
              % (nbytes, bps / 1e6))


if __name__ == "__main__":
    main(test, "iperf3")
