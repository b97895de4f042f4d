/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The one place TCP touches mbufs on transmit. tcp_out.c decides what to send and
 * describes it in a struct tcp_txseg; tcp_xmit() turns that into a packet.
 * Unit tests link a fake tcp_xmit() that records the descriptions instead.
 *
 *   tcp_output() -> tcp_xmit() -> mbuf alloc, NET_HEADROOM, tcp_wire_build(),
 *                   payload copied out of the tx ring -> ipv4_output()
 */
#ifndef SHUNT_TCP_XMIT_H
#define SHUNT_TCP_XMIT_H

#include <stdint.h>

#include "tcp/tcp_wire.h"

struct dp_ctx;
struct dp_sock;

struct tcp_txseg {
	uint32_t src_be;
	uint32_t dst_be;
	struct tcp_hdr_out h;
	uint8_t tos, ttl;  /* the IPv4 header's (the socket's IP_TOS, IP_TTL; ttl 0: default) */
	/* payload: len bytes of s's tx ring at free-running position pos (may wrap);
	 * the caller guarantees they lie within [tx_cons, tx_cons + queued) */
	struct dp_sock *s;
	uint32_t pos;
	uint32_t len;
};

/* 0, -ENOBUFS (no mbuf: counted, the caller's timers retry) or -ENETUNREACH. */
int tcp_xmit(struct dp_ctx *ctx, const struct tcp_txseg *seg);

#endif /* SHUNT_TCP_XMIT_H */
