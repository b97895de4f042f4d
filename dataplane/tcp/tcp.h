/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP: the interface the rest of the dataplane uses. Internals (struct tcb, the
 * state machine, output, timers, connection table, ports) live in tcp_*.h/c.
 *
 * Receive: ipv4_input() -> tcp_input() (m at the TCP header, checksum verified)
 * App:     core/app.c command dispatch -> tcp_connect() / tcp_app_*()
 * Timers:  loop -> tcp_timer_run() at ctx->now_us
 */
#ifndef SHUNT_TCP_H
#define SHUNT_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct dp_ctx;
struct dp_sock;
struct icmp_err;
struct rte_mbuf;

int tcp_init(struct dp_ctx *ctx);
/* Reset every connection (RST to each peer) and free the tables. */
void tcp_fini(struct dp_ctx *ctx);

/* A received segment: m's data starts at the TCP header and its data_len covers
 * exactly the TCP header and payload; the checksum was verified. Takes ownership. */
void tcp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be);

/* An IPv4 packet this stack sent could not be delivered: ip points at its IPv4
 * header (our own packet held for ARP, or the part quoted by an ICMP error), len
 * bytes of it are valid; icmp says what the error was. Finds the connection from the
 * quoted 4-tuple, checks the quoted sequence number lies in the send window, and
 * applies err (Linux's ICMP mapping, RFC 1122/5927): in SYN_SENT the connect fails
 * with err and the error is queued for MSG_ERRQUEUE, as Linux; later, soft errors
 * are only recorded. */
void tcp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err,
		      const struct icmp_err *icmp);

/* App commands (core/app.c). s->type == SHUNT_SOCK_STREAM. */
int tcp_open(struct dp_ctx *ctx, struct dp_sock *s);   /* allocate the pcb */
/* flags: SHUNT_BINDF_* (TCP keeps a bound port either way). */
int tcp_bind(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be,
	     uint32_t flags);
/* Start an active open: implicit bind to an ephemeral port if unbound, SYN sent.
 * 0 = in progress (completion is published through the socket), or -errno now:
 * -EISCONN, -EALREADY, -ENETUNREACH, -EADDRNOTAVAIL, -EADDRINUSE... */
int tcp_connect(struct dp_ctx *ctx, struct dp_sock *s, uint32_t dst_be, uint16_t dport_be);
/* listen(): the socket (bound, or given an ephemeral port now, as Linux autobinds)
 * becomes LISTEN with backlog (Linux's clamping, see tcp_listen_backlog()); on a
 * listener, only the backlog changes. Connections completed on it are announced
 * as struct shunt_accept records in its rx ring. -EINVAL on a connected or
 * connecting socket, -EADDRINUSE if the port already has a listener. */
int tcp_app_listen(struct dp_ctx *ctx, struct dp_sock *s, uint32_t backlog);
void tcp_app_send(struct dp_ctx *ctx, struct dp_sock *s);   /* tx_prod advanced */
/* The SEND that comes with it had MSG_MORE (SHUNT_SENDF_MORE) or not. */
void tcp_app_more(struct dp_sock *s, bool more);
void tcp_app_recvd(struct dp_ctx *ctx, struct dp_sock *s);  /* rx_cons advanced */
int tcp_app_shutdown(struct dp_ctx *ctx, struct dp_sock *s, int how);
/* connect(AF_UNSPEC), as Linux's tcp_disconnect(): the connection (or attempt) is
 * dropped (RST if the peer may think it open; ECONNRESET pending), the local port
 * is kept, the socket is CLOSED and may connect again. */
int tcp_app_disconnect(struct dp_ctx *ctx, struct dp_sock *s);
/* The app closed the socket. The pcb lives on as long as TCP needs it (FIN
 * exchange, TIME_WAIT) and calls dp_sock_pcb_done() when it no longer needs the
 * rings. With linger 0 (or unread data) the connection is reset, as Linux. */
void tcp_app_close(struct dp_ctx *ctx, struct dp_sock *s);
int tcp_app_setopt(struct dp_ctx *ctx, struct dp_sock *s, uint32_t opt, uint64_t value);
/* The app's process is gone: reset the connection now and drop the pcb. */
void tcp_app_abort(struct dp_ctx *ctx, struct dp_sock *s);

/* Fire every timer due at ctx->now_us. */
void tcp_timer_run(struct dp_ctx *ctx);
/* Earliest deadline among TCP timers (ctx->now_us scale); UINT64_MAX if none. */
uint64_t tcp_next_deadline(const struct dp_ctx *ctx);

/* Counters, the number of control blocks (tcp_tcbs) and lines for the newest of
 * them, for SIGUSR1 and exit. */
void tcp_dump(struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_TCP_H */
