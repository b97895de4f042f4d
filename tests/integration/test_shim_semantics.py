#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""shim_semantics: the shim's socket-API semantics against the real shuntd.

Every case of tests/unit/shim/shim_client.c that the real dataplane and kernel
peers can produce runs here, one shim_client process per case, under `shunt` in
the app netns; shuntd and the peers below are in the peer netns. (The few cases
that need states no real dataplane shows on demand run against fake_dp in
tests/unit/shim/test_shim_preload.c.) The peer serves the ports shim_client's
header lists:

    TCP 7   echo                      peers.py echo
    TCP 9   nothing listens           the kernel answers RST: refused
    TCP 11  SYNs dropped              nft: never answers
    TCP 13  "hello", then FIN         peers.py hello
    TCP 15  echo, first SYN of every two dropped (nft numgen): connect takes ~1 s
    TCP 17  ICMP host unreachable     nft reject (icmp_ratelimit=0: every SYN)
    UDP 7   echo                      peers.py udpecho
    UDP 9   nothing bound             the kernel answers ICMP port unreachable

Cases run in groups, one Bed per group (a Bed costs about a second): a group's
cases run one after another, and every failure of every group is reported with
shuntd's counters and log. SHIM_CASES="case case..." runs only those (when
iterating on one).

    for group: with Bed() -> peers, nft, sysctl -> for case: shunt shim_client CASE PEER_IP
"""

import os
import time

from netbed import BUILD, HERE, PEER_IP, PYTHON, Bed, BedError, main, sh

SHIM_CLIENT = os.environ.get("SHUNT_SHIM_CLIENT") or os.path.join(
    BUILD, "tests", "unit", "shim", "shim_client")
PEERS = os.path.join(HERE, "peers.py")

NFT_RULES = """
table ip shuntsem {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 11 drop
        tcp dport 15 tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop
        tcp dport 17 reject with icmp type host-unreachable
    }
}
"""

# name -> cases, in the order they run; each group gets a fresh bed.
GROUPS_ALL = {
    "tcp": ["blocking_echo", "nonblock_connect", "refused_nonblock", "refused_blocking",
            "sndtimeo", "signal_eintr", "signal_restart", "dup", "bind_opts", "eof",
            "nonblock_io", "loopback", "tcp_unspec", "tcp_back_to_kernel",
            "tcp_bind_local", "shutdown_connecting", "failed_disconnect", "errqueue",
            "port_held", "recv_trunc"],
    "udp": ["udp_basic", "udp_mmsg", "udp_connect", "udp_bind", "udp_epoll"],
    "poll": ["epoll", "select", "ep_wake", "ep_fair", "ep_dup", "select_big",
             "poll_noalloc", "internal_fds", "internal_epoll_fds"],
    "fds": ["close_range", "closefrom", "fork_close", "vfork_close", "exec_family",
            "relay_close", "close_blocked",
            "close_race", "slotless_signal"],
}

CASE_TIMEOUT = 20  # the slowest case (close_race) takes about 2 s
ONLY = os.environ.get("SHIM_CASES", "").split()
GROUPS = {g: [c for c in cs if not ONLY or c in ONLY] for g, cs in GROUPS_ALL.items()}
GROUPS = {g: cs for g, cs in GROUPS.items() if cs or (g == "tcp" and "unapplied_opt" in ONLY)
          or (g == "poll" and "ep_shunt_only" in ONLY)}


def setup_peer(bed):
    """The servers, rules and sysctls of the table above, in bed's peer netns."""
    sh(["ip", "netns", "exec", bed.peer, "sysctl", "-q", "-w", "net.ipv4.icmp_ratelimit=0"])
    rules = os.path.join(bed.tmp, "rules.nft")
    with open(rules, "w") as f:
        f.write(NFT_RULES)
    sh(["ip", "netns", "exec", bed.peer, "nft", "-f", rules])
    servers = [
        (bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, "7"], "echo7"), 7, "tcp"),
        (bed.spawn_peer([PYTHON, PEERS, "hello", PEER_IP, "13"], "hello13"), 13, "tcp"),
        (bed.spawn_peer([PYTHON, PEERS, "echo", PEER_IP, "15"], "echo15"), 15, "tcp"),
        (bed.spawn_peer([PYTHON, PEERS, "udpecho", PEER_IP, "7"], "udpecho7"), 7, "udp"),
    ]
    for proc, port, proto in servers:
        bed.wait_port(bed.peer, port, proc=proc, proto=proto)


def run_case(bed, case, env=None):
    """shim_client CASE under shunt; returns (CompletedProcess, seconds)."""
    t = time.monotonic()
    r = bed.run_shunt([SHIM_CLIENT, case, PEER_IP], timeout=CASE_TIMEOUT, env=env)
    return r, time.monotonic() - t


def unapplied_opt(bed):
    """Options kept but not applied are said once each with SHUNT_LOG, never without;
    IP_TOS, IP_TTL and TCP_MAXSEG are applied (test_syn_options.py sees them in the
    packets) and never said. Returns a failure text or None."""
    r, secs = run_case(bed, "unapplied_opt", env={"SHUNT_LOG": "warn"})
    err = r.stderr.decode(errors="replace")
    # SOL_SOCKET is level 1, SO_PRIORITY 12 (asm-generic/socket.h); IPPROTO_TCP 6,
    # TCP_WINDOW_CLAMP 10, TCP_MAXSEG 2 (linux/tcp.h); IPPROTO_IP 0, IP_TOS 1, IP_TTL 2
    ok = (r.returncode == 0 and err.count("kept but not applied by shunt") == 2
          and err.count("level 1 name 12 is kept") == 1
          and err.count("level 6 name 10 is kept") == 1
          and "level 0 name" not in err and "level 6 name 2 is" not in err)
    print("  %-4s %-22s %5.2f s" % ("ok" if ok else "FAIL", "unapplied_opt (log)", secs))
    if not ok:
        return "unapplied_opt with SHUNT_LOG=warn: exit %d, stderr:\n%s" % (r.returncode, err)
    r, secs = run_case(bed, "unapplied_opt")
    err = r.stderr.decode(errors="replace")
    ok = r.returncode == 0 and err == ""
    print("  %-4s %-22s %5.2f s" % ("ok" if ok else "FAIL", "unapplied_opt (quiet)", secs))
    if not ok:
        return "unapplied_opt without SHUNT_LOG: exit %d, stderr:\n%s" % (r.returncode, err)
    return None


def ep_shunt_only(bed):
    """epoll over shunt sockets alone makes no kernel epoll call per epoll_wait:
    strace counts them while shim_client makes 1000 epoll_wait(0) calls on a
    readable socket. Returns a failure text or None."""
    trace = os.path.join(bed.tmp, "ep_shunt_only.strace")
    t = time.monotonic()
    r = bed.run_shunt(["strace", "-f", "-qq", "-o", trace, "-e",
                       "trace=epoll_wait,epoll_pwait,epoll_pwait2",
                       SHIM_CLIENT, "ep_shunt_only", PEER_IP], timeout=CASE_TIMEOUT)
    with open(trace, errors="replace") as f:
        calls = sum(1 for line in f if "epoll_" in line)
    # one blocking wait may go to the kernel; 1000 would be one per call
    ok = r.returncode == 0 and calls <= 10
    print("  %-4s %-22s %5.2f s (%d kernel epoll calls for 1001 epoll_wait)"
          % ("ok" if ok else "FAIL", "ep_shunt_only", time.monotonic() - t, calls))
    if not ok:
        return "ep_shunt_only: exit %d, %d kernel epoll calls\n%s" % (
            r.returncode, calls, r.stderr.decode(errors="replace"))
    return None


def test():
    if not os.access(SHIM_CLIENT, os.X_OK):
        raise BedError("shim_client is not built: %s (ninja -C %s)" % (SHIM_CLIENT, BUILD))
    failures = []
    ran = nfailed = 0
    for group, cases in GROUPS.items():
        print("group %s" % group, flush=True)
        with Bed("shim-" + group) as bed:
            setup_peer(bed)
            failed = []
            for case in cases:
                r, secs = run_case(bed, case)
                ran += 1
                ok = r.returncode == 0
                print("  %-4s %-22s %5.2f s" % ("ok" if ok else "FAIL", case, secs),
                      flush=True)
                if not ok:
                    failed.append("%s: exit %d\n%s" % (
                        case, r.returncode, r.stderr.decode(errors="replace").strip()))
            if group == "poll" and (not ONLY or "ep_shunt_only" in ONLY):
                ran += 1
                msg = ep_shunt_only(bed)
                if msg:
                    failed.append(msg)
            if group == "tcp" and (not ONLY or "unapplied_opt" in ONLY):
                ran += 1
                msg = unapplied_opt(bed)
                if msg:
                    failed.append(msg)
            nfailed += len(failed)
            if failed:
                failures.append("group %s:\n%s\n%s" % (group, "\n".join(failed),
                                                       bed.diagnostics()))
    if failures:
        raise BedError("%d of %d cases failed:\n%s" % (nfailed, ran, "\n".join(failures)))
    print("%d cases passed" % ran)


if __name__ == "__main__":
    main(test, "shim_semantics")
