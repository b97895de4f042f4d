#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""curl: unmodified curl under shunt downloads 20 MB from a kernel HTTP server."""

import os

from netbed import PEER_IP, PYTHON, Bed, main, random_file, sha256_file

SIZE = 20 * 1024 * 1024
PORT = 8080


def test():
    with Bed("curl") as bed:
        www = os.path.join(bed.tmp, "www")
        os.mkdir(www)
        want = random_file(os.path.join(www, "blob"), SIZE)
        http = bed.spawn_peer([PYTHON, "-m", "http.server", "--bind", PEER_IP,
                               "--directory", www, str(PORT)], "http.server")
        bed.wait_port(bed.peer, PORT, proc=http)
        got_path = os.path.join(bed.tmp, "got")
        r = bed.run_shunt(["curl", "-sS", "--noproxy", "*", "--max-time", "80",
                           "-o", got_path,
                           "-w", "%{http_code} %{size_download} %{speed_download}",
                           "http://%s:%d/blob" % (PEER_IP, PORT)], timeout=90)
        out = r.stdout.decode(errors="replace").split()
        err = r.stderr.decode(errors="replace")
        bed.check(r.returncode == 0 and len(out) == 3,
                  "curl exited %d (stdout %r)\n--- curl stderr:\n%s" % (r.returncode, out, err))
        code, size, speed = out[0], int(out[1]), float(out[2])
        bed.check(code == "200" and size == SIZE,
                  "curl got HTTP %s and %d bytes, expected 200 and %d" % (code, size, SIZE))
        got = sha256_file(got_path)
        bed.check(got == want, "SHA-256 mismatch: sent %s, received %s" % (want, got))
        print("curl downloaded %d bytes through shunt at %.1f MB/s (%.0f bytes/s), "
              "sha256 %s" % (size, speed / 1e6, speed, got))


if __name__ == "__main__":
    main(test, "curl")
