#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""ssh: ssh and scp run unmodified through shunt (issue 8 asks to keep them working).

A kernel sshd in the peer netns (its own host key and config in the test's
directory; key login only). Under shunt in the app netns, which has only lo:
ssh runs a remote command and its output comes back; scp (which forks and execs
ssh, so the shim is in both) uploads a 5 MB file and downloads it again, both
copies' SHA-256 matching the original."""

import os
import time

from netbed import PEER_IP, Bed, main, sh, sha256_file

PORT = 2222
PRIVSEP = "/run/sshd"  # sshd refuses to start without it

SSHD_CONFIG = """Port {port}
ListenAddress {ip}
HostKey {tmp}/host_key
AuthorizedKeysFile {tmp}/authorized_keys
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
"""


def test():
    made_privsep = not os.path.isdir(PRIVSEP)
    if made_privsep:
        os.makedirs(PRIVSEP, mode=0o755)
    try:
        with Bed("ssh") as bed:
            run_ssh(bed)
    finally:
        if made_privsep:
            os.rmdir(PRIVSEP)


def run_ssh(bed):
    tmp = bed.tmp
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp + "/host_key"])
    sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", tmp + "/id"])
    with open(tmp + "/id.pub") as src, open(tmp + "/authorized_keys", "w") as dst:
        dst.write(src.read())
    with open(tmp + "/sshd_config", "w") as f:
        f.write(SSHD_CONFIG.format(port=PORT, ip=PEER_IP, tmp=tmp))
    sshd = bed.spawn_peer(["/usr/sbin/sshd", "-D", "-e", "-f", tmp + "/sshd_config"], "sshd")
    bed.wait_port(bed.peer, PORT, proc=sshd)
    opts = ["-i", tmp + "/id", "-o", "StrictHostKeyChecking=no", "-o",
            "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"]

    r = bed.run_shunt(["ssh"] + opts + ["-p", str(PORT), "root@" + PEER_IP,
                                        "echo hello from $(id -un)"], timeout=60)
    out = r.stdout.decode(errors="replace").strip()
    bed.check(r.returncode == 0 and out == "hello from root",
              "ssh under shunt: exit %d, %r\n%s" % (r.returncode, out,
                                                   r.stderr.decode(errors="replace")))
    print("ssh under shunt: %r" % out)

    src = os.path.join(tmp, "data")
    with open(src, "wb") as f:
        f.write(os.urandom(5 << 20))
    up, down = os.path.join(tmp, "up"), os.path.join(tmp, "down")
    for what, argv in (("upload", [src, "root@%s:%s" % (PEER_IP, up)]),
                       ("download", ["root@%s:%s" % (PEER_IP, up), down])):
        t = time.monotonic()
        r = bed.run_shunt(["scp"] + opts + ["-P", str(PORT)] + argv, timeout=120)
        took = time.monotonic() - t
        bed.check(r.returncode == 0, "scp %s under shunt: exit %d\n%s"
                  % (what, r.returncode, r.stderr.decode(errors="replace")))
        print("scp %s of 5 MB under shunt: %.2f s" % (what, took))
    bed.check(sha256_file(up) == sha256_file(src) and sha256_file(down) == sha256_file(src),
              "scp copies differ: %s %s %s" % (sha256_file(src), sha256_file(up), sha256_file(down)))
    print("scp: both copies' SHA-256 match")
    bed.check(sshd.alive(), "sshd died")


if __name__ == "__main__":
    main(test, "ssh")
