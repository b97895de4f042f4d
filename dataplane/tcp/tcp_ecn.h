/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Explicit Congestion Notification (RFC 3168) as Linux does it (net/ipv4/tcp_input.c
 * tcp_ecn_*, net/ipv4/tcp_output.c tcp_ecn_send*). net.ipv4.tcp_ecn (or the `ecn`
 * key) is tcp_stack.ecn: 0 off, 1 ask in our SYNs and accept, 2 (Linux's default)
 * accept when the peer asks.
 *
 *   tcp_send_syn()  -> tcp_ecn_syn_out(): SYN ECE|CWR (not on a retransmission
 *                      with tcp_ecn_fallback, RFC 3168 6.1.1.1), SYN-ACK ECE
 *   take_syn()      -> tcp_ecn_syn_in(): the peer's SYN / SYN-ACK decides
 *   fill_hdr()      -> tcp_ecn_hdr_out(): ECE on every segment while a CE mark
 *                      is unanswered (until the peer's CWR)
 *   send_seg()      -> tcp_ecn_data_out(): new data gets ECT(0), and CWR after a
 *                      reduction (not pure ACKs, FINs alone or retransmissions)
 *   process_ack()   -> tcp_ecn_ack(): CWR from the peer ends our ECE; ECE from
 *                      the peer cuts cwnd once per window (Linux tcp_enter_cwr())
 *   text received   -> tcp_ecn_rcv_data(): CE starts ECE, with immediate ACKs
 *   SYN cookies: the choice travels in bit 5 of the cookie TSval (tcp_syncookie.h)
 */
#ifndef SHUNT_TCP_ECN_H
#define SHUNT_TCP_ECN_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_seg;
struct tcp_stack;
struct tcp_hdr_out;
struct tcp_txseg;

/* The IPv4 ECN field (RFC 3168 5) */
#define TCP_ECN_NOT_ECT 0
#define TCP_ECN_ECT1    1
#define TCP_ECN_ECT0    2
#define TCP_ECN_CE      3

/* tcb.ecn_flags, Linux's tp->ecn_flags and two of ours */
#define TCP_ECN_OK          0x01 /* negotiated (SYN_SENT: asked for) */
#define TCP_ECN_QUEUE_CWR   0x02 /* the next new data segment carries CWR */
#define TCP_ECN_DEMAND_CWR  0x04 /* CE seen: ECE on what we send until CWR */
#define TCP_ECN_SEEN        0x08 /* a data segment arrived with ECT or CE */
#define TCP_ECN_IN_CWR      0x10 /* cwnd cut for ECE until snd_una passes ecn_high */
#define TCP_ECN_LOSS        0x20 /* a loss recovery's reduction was answered by CWR */

#define TCP_ECN_QUICKACKS   2    /* Linux tcp_enter_quickack_mode(sk, 2) on CE */

/* Would a passive open accept ECN for this SYN (Linux tcp_ecn_create_request())?
 * ECE and CWR both set, tcp_ecn on, and the SYN itself not ECT-marked. */
bool tcp_ecn_syn_accept(const struct tcp_stack *ts, const struct tcp_seg *seg);
void tcp_ecn_syn_out(struct dp_ctx *ctx, struct tcb *tcb, struct tcp_hdr_out *h);
void tcp_ecn_syn_in(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);
/* A cookie ACK's child: ECN as the cookie's TSval says (Linux cookie_ecn_ok()). */
void tcp_ecn_cookie(struct dp_ctx *ctx, struct tcb *tcb, bool ecn_ok);
void tcp_ecn_hdr_out(const struct tcb *tcb, struct tcp_txseg *t);
void tcp_ecn_data_out(struct dp_ctx *ctx, struct tcb *tcb, struct tcp_txseg *t);
/* An acceptable ACK (SND.UNA =< SEG.ACK), before process_ack() takes it. */
void tcp_ecn_ack(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);
/* The segment brings text we take (in order or not). */
void tcp_ecn_rcv_data(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);

#endif /* SHUNT_TCP_ECN_H */
