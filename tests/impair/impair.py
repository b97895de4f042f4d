# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""impair.py: tests/impair/impair (the NFQUEUE impairment tool) on a test bed's path.

    from impair import Impair
    with Bed("x", shuntd=False, veth=True) as bed:        # or a shunt Bed
        with Impair(bed, to_peer="loss=5%", from_peer="delay=20ms,jitter=5ms") as imp:
            ...                                            # traffic
            print(imp.stats())                             # counters per direction

Where it sits: in the peer netns, on the interface the kernel peer (10.77.0.1) uses
to reach the other end: the veth's peer end `<veth>p` in the kernel twin of the bed,
shuntd's tap in the shunt bed. So the same rules impair both paths:

    iptables  -t mangle -A PREROUTING  -i DEV -m mark ! --mark 0x494d -j NFQUEUE --queue-num 0
    iptables  -t mangle -A POSTROUTING -o DEV -m mark ! --mark 0x494d -j NFQUEUE --queue-num 1
    (and the same with ip6tables)

`to_peer` impairs what arrives at the kernel peer (PREROUTING: after the sender let
it go), `from_peer` what the kernel peer sends (POSTROUTING: the packet is held or
dropped by an NFQUEUE verdict after the peer's TCP sent it, so a drop is a real loss;
see README "Impairment" for the one caveat, TCP small queues). This kernel has no nft
`queue` expression (CONFIG_NFT_QUEUE is off), hence iptables (iptables-nft, through
nft's xt compat). The rules vanish with the namespace; stop() removes them earlier.
"""

import json
import os
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SHUNT_BUILD") or os.path.join(REPO, "build")
IMPAIR = os.environ.get("SHUNT_IMPAIR") or os.path.join(BUILD, "tests", "impair", "impair")
MARK = 0x494d   # duplicates carry it; the rules let it by


class ImpairError(AssertionError):
    pass


def require():
    """Fail (never skip) when the tool is not built, saying why."""
    if not (os.path.isfile(IMPAIR) and os.access(IMPAIR, os.X_OK)):
        raise ImpairError(
            "the impairment tool is not built: %s does not exist. meson builds it only "
            "when libnetfilter_queue is found (Debian: libnetfilter-queue-dev; "
            "bash tools/deps.sh installs it), then: meson setup --reconfigure %s && "
            "ninja -C %s" % (IMPAIR, BUILD, BUILD))
    for tool in ("iptables", "ip6tables"):
        if subprocess.run(["sh", "-c", "command -v " + tool],
                          capture_output=True).returncode != 0:
            raise ImpairError("%s is not installed (Debian: iptables; bash tools/deps.sh)"
                              % tool)


def bed_device(bed):
    """The peer netns's interface towards the other end of the path under test."""
    return bed.veth + "p" if bed.veth else bed.tap


class Impair:
    """Both directions of one bed's path impaired by one impair process."""

    def __init__(self, bed, to_peer="", from_peer="", seed=None, queues=(0, 1),
                 name="impair"):
        self.bed, self.ns, self.dev = bed, bed.peer, bed_device(bed)
        self.specs = {queues[0]: to_peer, queues[1]: from_peer}
        self.q_to, self.q_from = queues
        self.seed, self.name = seed, name
        self.proc = None
        self.rules = []     # (binary, chain, args) added, for stop()

    # -------------------------------------------------------------- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, et, ev, tb):
        self.stop(check=et is None)
        return False

    def start(self, timeout=5):
        require()
        argv = [IMPAIR, "--mark", hex(MARK)]
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        argv += ["%d:%s" % (q, s) for q, s in self.specs.items()]
        self.proc = self.bed.spawn(self.ns, argv, self.name)   # killed by teardown
        deadline = time.monotonic() + timeout
        while "impair: ready" not in self._out():
            if not self.proc.alive():
                self.bed.fail("%s exited before binding its queues" % self.name)
            if time.monotonic() > deadline:
                self.bed.fail("%s not ready after %ds" % (self.name, timeout))
            time.sleep(0.02)
        match = ["-m", "mark", "!", "--mark", hex(MARK), "-j", "NFQUEUE"]
        for binary in ("iptables", "ip6tables"):
            self._rule(binary, "PREROUTING", ["-i", self.dev] + match
                       + ["--queue-num", str(self.q_to)])
            self._rule(binary, "POSTROUTING", ["-o", self.dev] + match
                       + ["--queue-num", str(self.q_from)])

    def _rule(self, binary, chain, args):
        self.bed.run(self.ns, [binary, "-w", "-t", "mangle", "-A", chain] + args,
                     timeout=10)
        self.rules.append((binary, chain, args))

    def stop(self, check=True):
        """Remove the rules (traffic flows unimpaired again), then SIGTERM the tool,
        which releases what it still holds; returns its final counters."""
        for binary, chain, args in reversed(self.rules):
            subprocess.run(["ip", "netns", "exec", self.ns, binary, "-w", "-t", "mangle",
                            "-D", chain] + args, capture_output=True, timeout=10)
        self.rules = []
        if self.proc is None or not self.proc.alive():
            if check and self.proc is not None:
                self.bed.fail("%s died during the test" % self.name)
            return None
        self.proc.popen.send_signal(signal.SIGTERM)
        rc = self.proc.wait(5)
        if check and rc != 0:
            self.bed.fail("%s exited with %s on SIGTERM" % (self.name, rc))
        return self._last_stats()

    # ------------------------------------------------------------- counters
    def _out(self):
        try:
            with open(self.proc.out) as f:
                return f.read()
        except OSError:
            return ""

    def _last_stats(self):
        for line in reversed(self._out().splitlines()):
            if line.startswith("{"):
                raw = json.loads(line)
                return {"to_peer": raw[str(self.q_to)], "from_peer": raw[str(self.q_from)]}
        return None

    def stats(self, timeout=2):
        """The counters now: {"to_peer": {...}, "from_peer": {...}}."""
        before = self._out().count("\n{")
        self.proc.popen.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while self._out().count("\n{") <= before:
            if time.monotonic() > deadline or not self.proc.alive():
                self.bed.fail("%s printed no counters on SIGUSR1" % self.name)
            time.sleep(0.02)
        return self._last_stats()
