/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * What TCP sends and when: data within min(cwnd, peer window), Nagle, FIN after the
 * data, ACKs and window updates, SYNs, RSTs, zero-window probes. Builds struct
 * tcp_txseg descriptions and hands them to tcp_xmit().
 *
 *   tcp_in / tcp_api / tcp_timer -> tcp_output() -> [segments] -> tcp_xmit()
 */
#ifndef SHUNT_TCP_OUT_H
#define SHUNT_TCP_OUT_H

#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_hdr_out;
struct tcp_seg;

/* Send new (or, after an RTO rewind, old) data and the FIN as far as the windows
 * and Nagle allow, then a pure ACK if one is owed (tcb->ack_now). Arms the RTO
 * for anything sent and the persist timer for a zero window. */
void tcp_output(struct dp_ctx *ctx, struct tcb *tcb);
/* SYN (SYN_SENT) or SYN-ACK (SYN_RECEIVED) at iss, with our options. */
void tcp_send_syn(struct dp_ctx *ctx, struct tcb *tcb);
/* A pure ACK now (clears the delayed ACK). */
void tcp_send_ack(struct dp_ctx *ctx, struct tcb *tcb);
/* Abort the connection towards the peer: RST at snd_nxt. */
void tcp_send_rst(struct dp_ctx *ctx, struct tcb *tcb);
/* Zero-window probe (Linux style: a pure ACK at snd_una - 1 the peer must answer). */
void tcp_send_probe(struct dp_ctx *ctx, struct tcb *tcb);
/* Fast retransmit: resend one segment at snd_una without moving snd_nxt. */
/* RFC 8985 7.3: the tail loss probe: one new segment if the peer's window has
 * room, else the last one sent again; the RTO restarts. */
void tcp_send_tlp(struct dp_ctx *ctx, struct tcb *tcb);
void tcp_retransmit_head(struct dp_ctx *ctx, struct tcb *tcb);
/* SACK recovery: retransmit one segment of the hole [seq, hole_end) (not SACKed,
 * seq >= snd_una), at most an MSS, with the FIN if it ends there; rxt_next moves
 * past it. Returns the sequence numbers sent (0: nothing to send). */
uint32_t tcp_sack_retransmit(struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, uint32_t hole_end);
/* RFC 9293 3.10.7.1: reply to seg (from src to dst) that matches no connection.
 * Never answers an RST. */
void tcp_reply_rst(struct dp_ctx *ctx, uint32_t src_be, uint32_t dst_be,
		   const struct tcp_seg *seg);
/* A segment no tcb stands behind (a SYN cookie's SYN-ACK), from laddr to raddr:
 * h is sent as it is. */
void tcp_send_hdr(struct dp_ctx *ctx, const struct tcb *from, uint32_t laddr_be,
		  uint32_t raddr_be, const struct tcp_hdr_out *h);
/* The window scale our SYN or SYN-ACK offers for s (0 with window scaling off):
 * Linux tcp_select_initial_window(). */
uint8_t tcp_rcv_wscale(const struct dp_ctx *ctx, const struct dp_sock *s);
/* The MSS our SYN or SYN-ACK offers: the route's (path MTU - 40) within TCP_MAXSEG
 * (Linux tcp_mss_clamp(tp, dst_metric_advmss())). */
uint16_t tcp_adv_mss(const struct dp_ctx *ctx, const struct tcb *tcb);
/* Receive window we may advertise now, in bytes (never moves the right edge left). */
uint32_t tcp_rcv_window(struct tcb *tcb);

#endif /* SHUNT_TCP_OUT_H */
