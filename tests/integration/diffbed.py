# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""diffbed: the differential test bed of issue 3. Two identical worlds, one case list:

    kernel world: netns shunt-app-<id> (veth, 10.77.0.2/24, no default route)
                  <-> netns shunt-peer-<id> (veth, 10.77.0.1/24)
    shunt world:  netns shunt-app-<id> (lo only, the client runs under `shunt`)
                  -> shuntd 10.77.0.2/24 on tap <-> netns shunt-peer-<id> (tap,
                  10.77.0.1/24); shuntd offloads 10.0.0.0/8 and has no gateway

Both peers run the same kernel servers and nft rules (one port per behaviour:
closed, black hole, ICMP errors, SYN dropped once), the same sysctls; both client
sides the same port range and SYN retries. 10.77.0.99 is owned by nobody (ARP goes
unanswered) and 10.78.0.0/16 has no route. Each case runs tests/integration/
conncheck in both worlds (independent cases in parallel), the two JSON objects are
compared step by step (durations within max(25%, 400 ms), ephemeral ports as
"in range", the rest exactly), a table is printed, and any mismatch fails with
both objects.

    with Worlds("tcp") as w:
        results = w.run_cases(CASES)      # [(case, kernel obs, shunt obs)]
        w.check_all(results)              # prints the table; BedError on mismatch
"""

import concurrent.futures
import json
import os
import sys
import time

from netbed import BUILD, HERE, PEER_IP, PYTHON, STACK_IP, Bed, BedError, sh

CONNCHECK = os.environ.get("SHUNT_CONNCHECK") or os.path.join(
    BUILD, "tests", "integration", "conncheck")
SERVCHECK = os.path.join(BUILD, "tests", "integration", "servcheck")
PEERS = os.path.join(HERE, "peers.py")
SERVPEER = os.path.join(HERE, "servpeer.py")

EPH_LO, EPH_HI = 40000, 40063   # ephemeral ports of both client sides
SYN_RETRIES = 2                 # shuntd --syn_retries / net.ipv4.tcp_syn_retries
NOBODY_IP = "10.77.0.99"        # in the prefix, owned by nobody: ARP unanswered
NOROUTE_IP = "10.78.0.1"        # outside the prefix, no gateway: no route

# Peer ports, the same in both worlds.
ECHO = 7000          # TCP echo
HOLD = 7001          # TCP: accepts and keeps connections
CLOSED = 9001        # nothing listens: RST
BLACKHOLE = 9002     # nft drop
ICMP = {             # SYN dropped, answered by peers.py icmp: type 3, this code
    "net-unreachable": (9003, 0),
    "host-unreachable": (9004, 1),
    "prot-unreachable": (9005, 2),
    "port-unreachable": (9006, 3),
    "admin-prohibited": (9007, 13),
}
SLOW = (9011, 9012)  # the first SYN of every two is dropped: connect takes ~1 s
UECHO, UECHO2 = 7100, 7101   # UDP echo ("fwd IP PORT" sends a stray datagram)
UCLOSED = 9101       # UDP, nothing bound: ICMP port unreachable
DNS = 5353           # UDP DNS responder (answers every A query with PEER_IP)

NFT_RULES = """
table ip shuntdiff {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport %(black)d drop
%(icmp)s
%(slow)s
    }
}
""" % {
    "black": BLACKHOLE,
    "icmp": "\n".join("        tcp dport %d drop" % p for p, _ in ICMP.values()),
    "slow": "\n".join("        tcp dport %d tcp flags & (syn | ack) == syn "
                      "numgen inc mod 2 == 0 drop" % p for p in SLOW),
}

TOL_MS, TOL_FRAC = 400, 0.25


class Case:
    """One conncheck run: name, conncheck argv after the binary, slow or exclusive.

    slow: takes seconds (run all at once); exclusive: must run alone (it uses up
    ephemeral ports)."""

    def __init__(self, name, argv, slow=False, exclusive=False, timeout=40):
        self.name, self.argv = name, [str(a) for a in argv]
        self.slow, self.exclusive, self.timeout = slow, exclusive, timeout


class World:
    """One of the two worlds: a Bed plus the peer's servers, rules and sysctls.

    role "client": the program under test is conncheck, a client of the peer's
    servers; role "server": it is servcheck, a server whose clients are servpeer.py's
    kernel sockets in the peer netns (reached through the control socket ctl)."""

    def __init__(self, kind, name, role="client"):
        self.kind, self.role, self.ctl = kind, role, None
        if kind == "kernel":
            self.bed = Bed("%s-kernel" % name, shuntd=False, veth=True)
        else:
            self.bed = Bed("%s-shunt" % name, shuntd_args=[
                "--offload=10.0.0.0/8", "--syn_retries=%d" % SYN_RETRIES,
                "--port_range=%d-%d" % (EPH_LO, EPH_HI)])

    def setup(self):
        bed = self.bed
        bed.__enter__()
        try:
            self._configure()
        except BaseException:
            bed.teardown()
            raise

    def _configure(self):
        bed = self.bed
        sysctl = ["ip", "netns", "exec", bed.app, "sysctl", "-q", "-w",
                  "net.ipv4.ip_local_port_range=%d %d" % (EPH_LO, EPH_HI)]
        if self.kind == "kernel":
            sysctl += ["net.ipv4.tcp_syn_retries=%d" % SYN_RETRIES,
                       "net.ipv4.icmp_ratelimit=0"]
        sh(sysctl)
        sh(["ip", "netns", "exec", bed.peer, "sysctl", "-q", "-w",
            "net.ipv4.icmp_ratelimit=0"])
        if self.role == "server":
            self.ctl = os.path.join(bed.tmp, "servpeer.sock")
            agent = bed.spawn_peer([PYTHON, SERVPEER, self.ctl], "servpeer")
            self._wait_path(self.ctl, agent)
            return
        rules = os.path.join(bed.tmp, "rules.nft")
        with open(rules, "w") as f:
            f.write(NFT_RULES)
        sh(["ip", "netns", "exec", bed.peer, "nft", "-f", rules])
        if self.kind == "kernel":
            # The kernel client must have no route outside its prefix, as shuntd
            # has no gateway.
            r = sh(["ip", "-n", bed.app, "route", "show", "default"])
            if r.stdout.strip():
                bed.fail("the kernel client netns has a default route: %s"
                         % r.stdout.decode())
        echo = bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(ECHO)], "echo")
        slow = [bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, str(p)], "echo%d" % p)
                for p in SLOW]
        hold = bed.spawn_peer([PYTHON, PEERS, "hold", PEER_IP, str(HOLD)], "hold")
        uecho = bed.spawn_peer([PYTHON, PEERS, "udpecho", PEER_IP, str(UECHO),
                                str(UECHO2)], "udpecho")
        # ICMP errors come from user space: a veth would deliver an nft `reject`
        # inside the client's connect() call, while its socket is locked, and
        # Linux then drops the ICMP (LOCKDROPPEDICMPS) and waits for the SYN
        # retransmission; over any real link (and through shuntd) it comes later.
        dev = bed.veth + "p" if self.kind == "kernel" else bed.tap
        icmp = bed.spawn_peer([PYTHON, PEERS, "icmp", dev] +
                              ["%d=%d" % pc for pc in ICMP.values()], "icmp")
        dns = bed.spawn_peer([PYTHON, PEERS, "dns", PEER_IP, str(DNS)], "dns")
        bed.wait_port(bed.peer, ECHO, proc=echo)
        bed.wait_port(bed.peer, HOLD, proc=hold)
        for p, proc in zip(SLOW, slow):
            bed.wait_port(bed.peer, p, proc=proc)
        bed.wait_port(bed.peer, UECHO2, proc=uecho, proto="udp")
        bed.wait_port(bed.peer, DNS, proc=dns, proto="udp")
        self._wait_raw(icmp)

    def _wait_path(self, path, proc, timeout=10):
        """Wait until proc has bound its AF_UNIX socket at path."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if not proc.alive():
                self.bed.fail("%s exited before binding %s" % (proc.name, path))
            if time.monotonic() > deadline:
                self.bed.fail("%s has not bound %s after %ds" % (proc.name, path, timeout))
            time.sleep(0.05)

    def _wait_raw(self, proc, timeout=10):
        """Wait until proc has its packet socket open (/proc/net/packet lists it)."""
        deadline = time.monotonic() + timeout
        while True:
            r = sh(["ip", "netns", "exec", self.bed.peer, "cat", "/proc/net/packet"],
                   check=False)
            if len(r.stdout.decode().splitlines()) > 1:
                return
            if not proc.alive():
                self.bed.fail("%s exited before opening its packet socket" % proc.name)
            if time.monotonic() > deadline:
                self.bed.fail("%s has no packet socket after %ds" % (proc.name, timeout))
            time.sleep(0.05)

    def argv(self, argv):
        """argv as the client runs it in this world."""
        return list(argv) if self.kind == "kernel" else self.bed.shunt_argv(argv)

    def run(self, argv, timeout=40, **kw):
        """Run a client program in the app netns (through shunt in the shunt world);
        returns (CompletedProcess, seconds)."""
        t = time.monotonic()
        r = self.bed.run(self.bed.app, self.argv(argv), timeout=timeout, **kw)
        return r, time.monotonic() - t

    def conncheck(self, case):
        """Run one case (conncheck, or servcheck in the server role): its object."""
        prog = CONNCHECK if self.role == "client" else SERVCHECK
        if not os.access(prog, os.X_OK):
            raise BedError("%s is not built (ninja -C %s)" % (prog, BUILD))
        argv = case.argv
        if self.role == "server":   # servcheck CASE IP PORT CTLPATH [key=value...]
            argv = argv[:3] + [self.ctl] + argv[3:]
        r, _ = self.run([prog] + argv, timeout=case.timeout)
        out = r.stdout.decode(errors="replace").strip()
        try:
            obs = json.loads(out)
            if not isinstance(obs, dict):
                raise ValueError("not an object")
        except ValueError:
            obs = {"unparsable stdout": out[-2000:]}
        obs["exit"] = r.returncode
        err = r.stderr.decode(errors="replace").strip()
        if r.returncode != 0 and err:
            obs["stderr"] = err[-2000:]
        return obs


class Worlds:
    """Both worlds, set up in turn and always torn down."""

    def __init__(self, name, role="client"):
        self.kernel = World("kernel", name, role)
        self.shunt = World("shunt", name, role)

    def __enter__(self):
        self.kernel.setup()
        try:
            self.shunt.setup()
        except BaseException:
            self.kernel.bed.teardown()
            raise
        return self

    def __exit__(self, et, ev, tb):
        problems = []
        for w in (self.shunt, self.kernel):
            problems += w.bed.teardown()
        if problems and et is None:
            raise BedError("teardown found problems:\n" + "\n".join(problems))
        if problems:
            print("diffbed: teardown also found:\n" + "\n".join(problems),
                  file=sys.stderr)
        return False

    def run_cases(self, cases, workers=16):
        """Run every case in both worlds: the non-exclusive ones all in parallel
        (slow ones first so they overlap the rest), then the exclusive ones alone."""
        obs = {}
        shared = sorted([c for c in cases if not c.exclusive], key=lambda c: not c.slow)
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            futs = {}
            for c in shared:
                for w in (self.kernel, self.shunt):
                    futs[ex.submit(w.conncheck, c)] = (c.name, w.kind)
            for f in concurrent.futures.as_completed(futs):
                obs[futs[f]] = f.result()
        for c in cases:
            if c.exclusive:
                with concurrent.futures.ThreadPoolExecutor(2) as ex:
                    fk = ex.submit(self.kernel.conncheck, c)
                    fs = ex.submit(self.shunt.conncheck, c)
                    obs[(c.name, "kernel")] = fk.result()
                    obs[(c.name, "shunt")] = fs.result()
        return [(c, obs[(c.name, "kernel")], obs[(c.name, "shunt")]) for c in cases]

    def check_all(self, results, title):
        """Print the table; fail with every mismatch (both objects shown)."""
        bad = []
        print("%-22s %-34s %-34s %s" % (title, "kernel", "shunt", "verdict"))
        for case, k, s in results:
            diffs = compare(k, s)
            print("%-22s %-34s %-34s %s" % (case.name, summary(k), summary(s),
                                            "ok" if not diffs else
                                            "DIFF (%d)" % len(diffs)))
            if diffs:
                bad.append((case, k, s, diffs))
            elif os.environ.get("SHUNT_DIFF_SHOW"):   # debugging: what agreed
                print("  " + json.dumps(k))
        sys.stdout.flush()
        if bad:
            msg = ["%d of %d cases differ between the kernel and shunt:"
                   % (len(bad), len(results))]
            for case, k, s, diffs in bad:
                msg.append("\n=== %s: conncheck %s" % (case.name, " ".join(case.argv)))
                msg += ["  - " + d for d in diffs]
                msg.append("  kernel: " + json.dumps(k))
                msg.append("  shunt:  " + json.dumps(s))
            self.shunt.bed.fail("\n".join(msg))


def summary(obs):
    """The first connect-like step (or the first failing one) in a few characters."""
    if "unparsable stdout" in obs:
        return "exit %d, no JSON" % obs.get("exit", -1)
    for key, v in obs.items():
        if isinstance(v, dict) and ("connect" in key or "send" in key
                                    or v.get("errno")):
            op = key.split(" ", 1)[-1]
            return "%s=%s %dms" % (op[:14], v.get("errno") or v.get("rc"), v.get("ms", 0))
    return "exit %d" % obs.get("exit", -1)


def shape(key, value):
    """What is compared exactly: ephemeral ports become "ephemeral"."""
    if isinstance(value, dict):
        if "port" in value and "addr" in value and EPH_LO <= value["port"] <= EPH_HI:
            value = dict(value, port="ephemeral %d-%d" % (EPH_LO, EPH_HI))
        return {k: shape(k, v) for k, v in value.items()}
    return value


def duration_ok(k_ms, s_ms):
    return abs(k_ms - s_ms) <= max(TOL_MS, TOL_FRAC * k_ms)


def compare(k, s):
    """Differences between the kernel's and shunt's observations, as sentences."""
    diffs = []
    keys = list(k) + [x for x in s if x not in k]
    for key in keys:
        if key not in s:
            diffs.append("%s: only the kernel got here: %s" % (key, json.dumps(k[key])))
            continue
        if key not in k:
            diffs.append("%s: only shunt got here: %s" % (key, json.dumps(s[key])))
            continue
        kv, sv = k[key], s[key]
        if isinstance(kv, dict) and isinstance(sv, dict):
            for f in list(kv) + [x for x in sv if x not in kv]:
                a, b = kv.get(f, "<absent>"), sv.get(f, "<absent>")
                if f == "ms" and isinstance(a, int) and isinstance(b, int):
                    if not duration_ok(a, b):
                        diffs.append("%s: took %d ms through the kernel, %d ms through "
                                     "shunt (tolerance max(%d ms, %d%%))"
                                     % (key, a, b, TOL_MS, TOL_FRAC * 100))
                elif shape(f, a) != shape(f, b):
                    diffs.append("%s: %s is %s through the kernel, %s through shunt"
                                 % (key, f, json.dumps(shape(f, a)),
                                    json.dumps(shape(f, b))))
        elif shape(key, kv) != shape(key, sv):
            diffs.append("%s: %s through the kernel, %s through shunt"
                         % (key, json.dumps(kv), json.dumps(sv)))
    return diffs


def run_differential(name, cases, role="client"):
    """The whole differential test: both worlds, every case, the table, the verdict."""
    only = os.environ.get("SHUNT_DIFF_ONLY")   # a regex: run just those (debugging)
    if only:
        import re
        cases = [c for c in cases if re.search(only, c.name)]
    with Worlds(name, role) as w:
        t = time.monotonic()
        results = w.run_cases(cases)
        print("%d cases in each world in %.1f s" % (len(cases), time.monotonic() - t))
        w.check_all(results, name)
