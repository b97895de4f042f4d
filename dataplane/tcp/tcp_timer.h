/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP timers and RTT estimation.
 *
 *   loop -> tcp_timer_run() -> heap top due -> rexmit | persist | delayed ACK | wait
 *   tcp_in/out -> tcp_timer_arm()/stop() -> heap fix (O(log n))
 *   tcp_in ACK -> tcp_rtt_sample() (RFC 6298 2.2/2.3)
 *
 * Each tcb carries four deadlines; its earliest is its key in a binary min-heap, so
 * the loop finds what is due (and tcp_next_deadline() its sleep bound) without
 * scanning connections.
 */
#ifndef SHUNT_TCP_TIMER_H
#define SHUNT_TCP_TIMER_H

#include <stdint.h>

#include "tcp/tcb.h"

struct dp_ctx;

int tcp_timer_init(struct tcp_stack *ts, uint32_t cap);
/* Make room for n tcbs in the heap (control path: tcp_open()). */
int tcp_timer_reserve(struct tcp_stack *ts, uint32_t n);
void tcp_timer_fini(struct tcp_stack *ts);

/* Arm timer t to fire delay_us from now (re-arming moves it). */
void tcp_timer_arm(struct dp_ctx *ctx, struct tcb *tcb, enum tcp_timer t, uint64_t delay_us);
void tcp_timer_stop(struct dp_ctx *ctx, struct tcb *tcb, enum tcp_timer t);
static inline bool tcp_timer_armed(const struct tcb *tcb, enum tcp_timer t)
{
	return tcb->timer[t] != TCP_NO_TIMER;
}
/* Stop every timer and leave the heap (before freeing or closing). */
void tcp_timer_stop_all(struct dp_ctx *ctx, struct tcb *tcb);

/* One RTT measurement: update srtt/rttvar/rto (RFC 6298, Linux's 200 ms floor). */
void tcp_rtt_sample(struct tcb *tcb, uint32_t rtt_us);

#endif /* SHUNT_TCP_TIMER_H */
