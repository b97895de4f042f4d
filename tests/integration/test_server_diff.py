#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
"""server_diff: a server under shunt behaves as one on the kernel (issue 7).

Every case runs servcheck once in the kernel world and once through shunt
(diffbed.py, role "server"): the server in the app netns, its clients kernel
sockets in the peer netns driven by servpeer.py. Return values, errno, poll and
epoll flags, addresses, what the clients saw (data, EOF, RST, a connect left
pending) and durations must agree. Cases run in parallel, each on its own port."""

from diffbed import Case, run_differential
from netbed import STACK_IP, main

PORT0 = 8100


def case(name, argv, **kw):
    """servcheck argv: CASE KEYS...; each case gets the next two ports."""
    port = PORT0 + 2 * len(CASES)
    return Case(name, [argv[0], STACK_IP, port] + argv[1:], **kw)


CASES = []
for name, argv, kw in [
    # bind/listen/accept and accept4, with every kind of address buffer.
    ("accept", ["accept"], {}),
    ("accept_any", ["accept", "bind=any"], {}),
    ("accept_short_addr", ["accept", "addr=short"], {}),
    ("accept_zero_len", ["accept", "addr=zero"], {}),
    ("accept_null_addr", ["accept", "addr=null"], {}),
    ("accept4_plain", ["accept", "a4=1"], {}),
    ("accept4_nonblock", ["accept", "a4=1", "fl=1"], {}),
    ("accept4_cloexec", ["accept", "a4=1", "fl=2"], {}),
    ("accept4_both_null", ["accept", "a4=1", "fl=3", "addr=null"], {}),
    ("bad_arguments", ["badargs"], {}),
    # Non-blocking accept, readiness of a listener.
    ("nonblock_poll", ["nonblock"], {}),
    ("nonblock_select", ["nonblock", "wait=select"], {}),
    ("nonblock_epoll", ["nonblock", "wait=epoll"], {}),
    ("nonblock_any", ["nonblock", "bind=any"], {}),
    ("epoll_level", ["epoll"], {}),
    ("epoll_edge", ["epoll", "et=1"], {}),
    ("threads_accept", ["threads"], {}),
    # Signals.
    ("accept_eintr", ["signal"], {"slow": True}),
    ("accept_sa_restart", ["signal", "restart=1"], {"slow": True}),
    ("accept_eintr_any", ["signal", "bind=any"], {"slow": True}),
    # Backlog: clients beyond it wait, then are served; listen() again.
    ("backlog_overflow", ["backlog"], {"slow": True}),
    ("backlog_relisten", ["backlog", "relisten=1"], {"slow": True}),
    ("pending_reset", ["pending"], {}),
    # Ports: SO_REUSEADDR over TIME_WAIT, SO_REUSEPORT, conflicts, autobind.
    ("restart_no_reuseaddr", ["reuseaddr"], {}),
    ("restart_reuseaddr", ["reuseaddr", "reuse=1"], {}),
    ("reuseport", ["reuseport"], {}),
    ("inuse", ["inuse"], {}),
    ("autobind", ["autobind"], {}),
    ("names_any", ["names"], {}),
    # The data path servers use.
    ("msg_peek", ["peek"], {}),
    ("msg_waitall", ["waitall"], {}),
    ("half_close", ["halfclose"], {}),
    ("close_unread_rst", ["unread"], {}),
    ("linger_acked", ["linger"], {}),
    ("linger_timeout", ["linger", "full=1"], {"slow": True}),
    ("sigpipe_epipe", ["sigpipe"], {}),
    ("listener_options", ["opts"], {}),
    ("writev_iov_max", ["writev"], {}),
] + [
    # Signals in the other blocking calls: recv and send restart under SA_RESTART,
    # epoll_wait, poll and select never do.
    ("%s_%s" % (call, "sa_restart" if r else "eintr"),
     ["sigcalls", "call=" + call, "restart=%d" % r], {"slow": True})
    for call in ("recv", "send", "epoll", "poll", "select") for r in (0, 1)
]:
    CASES.append(case(name, argv, **kw))


def test():
    run_differential("server_diff", CASES, role="server")


if __name__ == "__main__":
    main(test, "server_diff")
