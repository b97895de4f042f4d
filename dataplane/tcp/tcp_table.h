/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Connection table (4-tuple -> tcb) and local ports (bind, ephemeral allocation).
 *
 *   tcp_input()   -> tcp_table_lookup()
 *   tcp_bind()    -> tcp_port_bind()
 *   tcp_connect() -> tcp_port_connect() -> [ephemeral search] -> tcp_table_insert()
 *   tcb_close()   -> tcp_table_remove(), tcp_port_release()
 */
#ifndef SHUNT_TCP_TABLE_H
#define SHUNT_TCP_TABLE_H

#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_stack;

/* nbuckets (a power of two) is the table's first and smallest size: it grows and
 * shrinks with the connections, a few buckets per insert or remove. */
int tcp_table_init(struct tcp_stack *ts, uint32_t nbuckets);
void tcp_table_fini(struct tcp_stack *ts);
/* The bucket count now (the new size while a resize is under way). */
uint32_t tcp_table_buckets(const struct tcp_stack *ts);

struct tcb *tcp_table_lookup(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
			     uint32_t raddr_be, uint16_t rport_be);
void tcp_table_insert(struct tcp_stack *ts, struct tcb *tcb);
void tcp_table_remove(struct tcp_stack *ts, struct tcb *tcb);

/* bind(): addr must be 0 or ctx->ip_be (-EADDRNOTAVAIL); port 0 picks a free
 * ephemeral port; a port in use fails with -EADDRINUSE unless this socket and every
 * holder allow SO_REUSEADDR (TIME_WAIT holders never block a reusing bind).
 * -EINVAL if already bound. */
int tcp_port_bind(struct dp_ctx *ctx, struct tcb *tcb, uint32_t addr_be, uint16_t port_be);
/* connect(): fill the local address, pick an ephemeral port if unbound (in
 * [eph_lo, eph_hi], a port nobody bound, a 4-tuple nobody uses; RFC 6056 double-
 * hash selection, so successive connections to one destination take successive
 * ports), insert into the table. -EADDRNOTAVAIL when every port is taken for this
 * destination, or the bound port already has this 4-tuple. */
int tcp_port_connect(struct dp_ctx *ctx, struct tcb *tcb, uint32_t raddr_be, uint16_t rport_be);
/* A child of listener l takes l's port (Linux __inet_inherit_port()), with l's
 * SO_REUSEADDR, so the port stays held while the connection lives. */
void tcp_port_inherit(struct tcp_stack *ts, struct tcb *child, const struct tcb *l);
/* Give up the local port (connection over). */
void tcp_port_release(struct tcp_stack *ts, struct tcb *tcb);
/* The holder entered TIME_WAIT: it no longer blocks a SO_REUSEADDR bind. */
void tcp_port_timewait(struct tcp_stack *ts, struct tcb *tcb);
/* xorshift64 from the stack's seed: spreads choices, no secrecy (not for ISNs). */
uint32_t tcp_rand(struct tcp_stack *ts);

#endif /* SHUNT_TCP_TABLE_H */
