/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Congestion control: one table of algorithms (Linux's tcp_congestion_ops), one
 * chosen per connection (tcb->cc: TCP_CONGESTION, else the stack's default, the
 * `congestion` key or net.ipv4.tcp_congestion_control). The rest of tcp/ calls
 * only these entry points; the algorithm never touches the recovery machinery
 * (PRR, SACK, NewReno own cwnd during a recovery).
 *
 *   loss event (fast recovery, RTO, TLP repair) -> tcp_loss_ssthresh() -> ops.ssthresh
 *   RTO (after ssthresh)                         -> tcp_cc_on_rto()     -> ops.event(LOSS)
 *   ACK of new data outside recovery             -> tcp_cc_on_ack()     -> ops.cong_avoid
 *   data segment sent                            -> tcp_cc_data_sent(): after idle,
 *        RFC 5681 4.1 / RFC 7661 restart window (tcp_slow_start_after_idle) and
 *        ops.event(TX_START) (CUBIC shifts its epoch over the idle time)
 *
 * Time is passed in (ctx->now_us, microseconds) so tests drive it.
 *
 * Algorithms: reno (tcp_cc.c, RFC 5681 byte counting, unchanged from before)
 * and cubic (tcp_cubic.c, RFC 9438 and HyStart as Linux's tcp_cubic.c does them).
 */
#ifndef SHUNT_TCP_CC_H
#define SHUNT_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#include <shunt/abi.h>

struct dp_ctx;
struct tcb;

enum tcp_cc_event {
	TCP_CC_EV_TX_START, /* data goes out with nothing in flight (Linux CA_EVENT_TX_START) */
	TCP_CC_EV_LOSS,     /* an RTO (Linux tcp_set_ca_state(TCP_CA_Loss)) */
};

struct tcp_cc_ops {
	const char *name; /* TCP_CONGESTION's name */
	/* the connection is established (or the algorithm was switched on it):
	 * private state from scratch; cwnd and ssthresh are left as they are */
	void (*init)(struct tcb *tcb);
	/* a loss: the new ssthresh (the caller sets it); the algorithm notes the
	 * event (CUBIC: W_max, the epoch ends) */
	uint32_t (*ssthresh)(struct tcb *tcb);
	/* acked bytes of new data, outside recovery: slow start and congestion
	 * avoidance; flight: bytes that were in flight before this ACK */
	void (*cong_avoid)(struct tcb *tcb, uint32_t acked, uint32_t flight, uint64_t now_us);
	void (*event)(struct tcb *tcb, enum tcp_cc_event ev, uint64_t now_us);
};

/* The algorithm of id (SHUNT_CC_*), NULL if shunt has none. */
const struct tcp_cc_ops *tcp_cc_ops(uint32_t id);
/* SHUNT_CC_* of a name as TCP_CONGESTION gives it, SHUNT_CC_NONE if unknown. */
uint32_t tcp_cc_find(const char *name);

/* Make id the connection's algorithm and publish it (shunt_sock.cc). With
 * established, its state starts now (Linux tcp_reinit_congestion_control()).
 * -ENOENT if shunt has no such algorithm. */
int tcp_cc_select(struct tcb *tcb, uint32_t id, bool established);
/* Connection established at now_us: the algorithm's state starts. */
void tcp_cc_init(struct tcb *tcb, uint64_t now_us);
/* flight: bytes in flight before this ACK (cwnd grows only while it fills cwnd) */
void tcp_cc_on_ack(struct dp_ctx *ctx, struct tcb *tcb, uint32_t acked, uint32_t flight);
void tcp_cc_on_rto(struct tcb *tcb, uint64_t now_us);
/* A data segment is about to go (new or retransmitted). */
void tcp_cc_data_sent(struct dp_ctx *ctx, struct tcb *tcb);

/* RFC 6928's initial window: min(10 * MSS, max(2 * MSS, 14600)). */
uint32_t tcp_cc_iw(const struct tcb *tcb);

extern const struct tcp_cc_ops tcp_cc_reno;
extern const struct tcp_cc_ops tcp_cc_cubic;

#endif /* SHUNT_TCP_CC_H */
