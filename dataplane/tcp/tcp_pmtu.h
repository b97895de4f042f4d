/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Path MTU discovery for TCP (RFC 1191, RFC 5927, Linux's tcp_v4_mtu_reduced()),
 * and black hole detection (Linux net.ipv4.tcp_mtu_probing = 1).
 */
#ifndef SHUNT_TCP_PMTU_H
#define SHUNT_TCP_PMTU_H

#include <stdint.h>

#include "dp.h"
#include "tcp/tcb.h"

#define TCP_BASE_MSS        1024 /* Linux net.ipv4.tcp_base_mss */
#define TCP_MTU_PROBE_FLOOR 48   /* Linux tcp_mtu_probe_floor and tcp_min_snd_mss */
#define TCP_RETRIES1        3    /* Linux tcp_retries1: RTOs before a black hole is suspected */

/* Linux tcp_mtu_to_mss() within tcp_sync_mss(): the send MSS for path MTU pmtu (0:
 * the port's): pmtu - 40, at most mss_clamp (the peer's MSS within TCP_MAXSEG, once
 * a SYN said it), less the timestamp option every segment carries; once a black
 * hole was suspected, no more than the probing floor allows. */
uint16_t tcp_mtu_to_mss(const struct dp_ctx *ctx, const struct tcb *tcb, uint32_t pmtu);

/* The path MTU a new connection to dst starts from (tcp_connect(), a listener's
 * child): the destination's (net/pmtu.c). Before tcp_adv_mss(). */
void tcp_pmtu_init(const struct dp_ctx *ctx, struct tcb *tcb, uint32_t dst_be);

/* A validated ICMP fragmentation needed (tcp_notify_error()) with next-hop MTU
 * mtu: the destination's path MTU lowered (net/pmtu.c); if the connection's was
 * larger, the send MSS follows and what is in flight goes again at once in
 * segments of the new size, cwnd untouched (Linux tcp_simple_retransmit()). */
void tcp_pmtu_reduced(struct dp_ctx *ctx, struct tcb *tcb, uint32_t mtu);

void tcp_pmtu_sync_slow(struct dp_ctx *ctx, struct tcb *tcb);
/* Before sending (Linux tcp_current_mss()): follow the destination's path MTU if it
 * changed since (another connection's ICMP) or expired. */
static inline void tcp_pmtu_sync(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->pmtu_gen != ctx->pmtu.gen || ctx->now_us >= tcb->pmtu_expires_us)
		tcp_pmtu_sync_slow(ctx, tcb);
}

/* A retransmission timeout of data (tcp_timer.c, before its go-back-N): Linux's
 * tcp_mtu_probing() with tcp_mtu_probing 1, once the head has gone unanswered
 * for TCP_RETRIES1 backed-off RTOs: first the MSS drops to TCP_BASE_MSS, then
 * halves on each further timeout, down to TCP_MTU_PROBE_FLOOR. */
void tcp_pmtu_on_rto(struct dp_ctx *ctx, struct tcb *tcb);

#endif /* SHUNT_TCP_PMTU_H */
