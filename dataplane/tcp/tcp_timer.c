/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP timers: the per-context deadline heap, RTT estimation and what each timer
 * does when it fires (see tcp_timer.h).
 *
 *   tcp_timer_run() -> for each due timer of the heap's top tcb:
 *     REXMIT : SYN_SENT: resend SYN, 1 s doubling, ETIMEDOUT after syn_retries
 *              a listener's child in SYN_RECEIVED: resend the SYN-ACK, 1 s
 *                        doubling; after TCP_SYNACK_RETRIES the child is dropped
 *              else:     RFC 6298 5.4-5.6 backoff, RFC 5681 loss window, go-back-N
 *                        from snd_una (over what is not SACKed), ETIMEDOUT after TCP_RETRIES2 / TCP_USER_TIMEOUT
 *     PERSIST: zero-window probe, backoff doubling
 *     DACK   : the delayed ACK
 *     WAIT   : TIME_WAIT over (free) / FIN_WAIT_2 timeout (RST, as Linux)
 *     LOSS   : RACK's reorder timeout (tcp_rack_detect -> tcp_loss_marked) or the
 *              tail loss probe (tcp_send_tlp), RFC 8985
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_debug.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp.h"
#include "tcp/tcp_in.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_undo.h"

/* ---- heap ------------------------------------------------------------------------ */

#define HEAP_NONE UINT32_MAX

int tcp_timer_init(struct tcp_stack *ts, uint32_t cap)
{
	ts->heap = calloc(cap, sizeof(*ts->heap));
	if (ts->heap == NULL)
		return -ENOMEM;
	ts->heap_cap = cap;
	ts->heap_n = 0;
	return 0;
}

int tcp_timer_reserve(struct tcp_stack *ts, uint32_t n)
{
	struct tcb **h;
	uint32_t cap = ts->heap_cap ? ts->heap_cap : 64;

	if (n <= ts->heap_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	h = realloc(ts->heap, cap * sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	ts->heap = h;
	ts->heap_cap = cap;
	return 0;
}

void tcp_timer_fini(struct tcp_stack *ts)
{
	free(ts->heap);
	ts->heap = NULL;
	ts->heap_cap = ts->heap_n = 0;
}

static void heap_set(struct tcp_stack *ts, uint32_t i, struct tcb *t)
{
	ts->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct tcp_stack *ts, uint32_t i)
{
	struct tcb *t = ts->heap[i];

	while (i > 0 && ts->heap[(i - 1) / 2]->deadline > t->deadline) {
		heap_set(ts, i, ts->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(ts, i, t);
}

static void heap_down(struct tcp_stack *ts, uint32_t i)
{
	struct tcb *t = ts->heap[i];
	uint32_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= ts->heap_n)
			break;
		if (c + 1 < ts->heap_n && ts->heap[c + 1]->deadline < ts->heap[c]->deadline)
			c++;
		if (ts->heap[c]->deadline >= t->deadline)
			break;
		heap_set(ts, i, ts->heap[c]);
		i = c;
	}
	heap_set(ts, i, t);
}

static void heap_remove(struct tcp_stack *ts, struct tcb *t)
{
	uint32_t i = t->heap_idx;
	struct tcb *moved;

	if (i == HEAP_NONE)
		return;
	t->heap_idx = HEAP_NONE;
	ts->heap_n--;
	if (i == ts->heap_n)
		return;
	moved = ts->heap[ts->heap_n];
	heap_set(ts, i, moved);
	heap_up(ts, i);
	heap_down(ts, moved->heap_idx);
}

/* Recompute tcb's deadline and its place in the heap. */
static void timer_update(struct tcp_stack *ts, struct tcb *tcb)
{
	uint64_t d = TCP_NO_TIMER;
	int i;

	for (i = 0; i < TCP_T_N; i++)
		if (tcb->timer[i] < d)
			d = tcb->timer[i];
	if (d == TCP_NO_TIMER) {
		heap_remove(ts, tcb);
		tcb->deadline = d;
		return;
	}
	if (tcb->heap_idx == HEAP_NONE) {
		/* the heap holds every tcb at most once and tcp_timer_reserve() grew it
		 * for each one in tcp_open(): never full, never allocating here */
		RTE_VERIFY(ts->heap_n < ts->heap_cap);
		tcb->deadline = d;
		heap_set(ts, ts->heap_n++, tcb);
		heap_up(ts, tcb->heap_idx);
		return;
	}
	tcb->deadline = d;
	heap_up(ts, tcb->heap_idx);
	heap_down(ts, tcb->heap_idx);
}

void tcp_timer_arm(struct dp_ctx *ctx, struct tcb *tcb, enum tcp_timer t, uint64_t delay_us)
{
	tcb->timer[t] = ctx->now_us + delay_us;
	timer_update(ctx->tcp, tcb);
}

void tcp_timer_stop(struct dp_ctx *ctx, struct tcb *tcb, enum tcp_timer t)
{
	if (tcb->timer[t] == TCP_NO_TIMER)
		return;
	tcb->timer[t] = TCP_NO_TIMER;
	timer_update(ctx->tcp, tcb);
}

void tcp_timer_stop_all(struct dp_ctx *ctx, struct tcb *tcb)
{
	int i;

	for (i = 0; i < TCP_T_N; i++)
		tcb->timer[i] = TCP_NO_TIMER;
	timer_update(ctx->tcp, tcb);
}

uint64_t tcp_next_deadline(const struct dp_ctx *ctx)
{
	const struct tcp_stack *ts = ctx->tcp;

	return ts == NULL || ts->heap_n == 0 ? UINT64_MAX : ts->heap[0]->deadline;
}

/* ---- RTT (RFC 6298) -------------------------------------------------------------- */

void tcp_rtt_sample(struct tcb *tcb, uint32_t rtt_us)
{
	uint32_t delta, var4, rto;

	if (!tcb->rtt_valid) {
		/* 2.2: SRTT <- R, RTTVAR <- R/2 */
		tcb->srtt_us = rtt_us;
		tcb->rttvar_us = rtt_us / 2;
		tcb->rtt_valid = true;
	} else {
		/* 2.3: RTTVAR <- 3/4 RTTVAR + 1/4 |SRTT - R'|, SRTT <- 7/8 SRTT + 1/8 R' */
		delta = tcb->srtt_us > rtt_us ? tcb->srtt_us - rtt_us : rtt_us - tcb->srtt_us;
		tcb->rttvar_us = (3 * tcb->rttvar_us + delta) / 4;
		tcb->srtt_us = (7 * (uint64_t)tcb->srtt_us + rtt_us) / 8;
	}
	/* RTO <- SRTT + max(G, 4 RTTVAR), then Linux's floor and RFC 6298 2.5's cap */
	var4 = 4 * tcb->rttvar_us;
	rto = tcb->srtt_us + (var4 > TCP_RTT_G_US ? var4 : TCP_RTT_G_US);
	if (rto < TCP_RTO_MIN_US)
		rto = TCP_RTO_MIN_US;
	if (rto > TCP_RTO_MAX_US)
		rto = TCP_RTO_MAX_US;
	tcb->rto_us = rto; /* published by the caller's tcb_publish_info() */
}

/* ---- what fires ------------------------------------------------------------------ */

static uint64_t backoff(uint32_t base_us, unsigned shift)
{
	uint64_t v = (uint64_t)base_us << (shift > 20 ? 20 : shift);

	return v > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : v;
}

/* Give up: Linux's tcp_write_err() reports a recorded soft error in place of
 * ETIMEDOUT and sends nothing. */
static void timeout_abort(struct dp_ctx *ctx, struct tcb *tcb)
{
	ctx->tcp_stats.tcp_conn_timeout++;
	tcb_reset(ctx, tcb, tcb->soft_err ? tcb->soft_err : ETIMEDOUT);
}

/* TCP_USER_TIMEOUT ran out: rexmit_start_us is when the unacknowledged head (the
 * SYN, or data) was first sent. */
static bool user_timed_out(const struct dp_ctx *ctx, const struct tcb *tcb)
{
	return tcb->user_timeout_us != 0 &&
	       ctx->now_us - tcb->rexmit_start_us >= tcb->user_timeout_us;
}

/* Linux tcp_clamp_rto_to_user_timeout(): the retransmission timer never sleeps past
 * the user timeout, so the connection fails when it says, not at the next RTO. */
static void arm_rexmit_clamped(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint64_t t = tcb->rto_us;

	if (tcb->user_timeout_us) {
		uint64_t left = tcb->rexmit_start_us + tcb->user_timeout_us - ctx->now_us;

		if (left < t)
			t = left ? left : 1;
	}
	tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, t);
}

static void on_rexmit(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t rto_before = tcb->rto_us;

	if (tcb->state == SHUNT_SS_SYN_RECEIVED && tcb->listener != NULL) {
		/* Linux reqsk_timer_handler(): the SYN-ACK again after 1, 2, 4, 8,
		 * 16 s (tcp_synack_retries = 5); 32 s after the last one the request
		 * is dropped without a word (no RST: the peer may never have seen
		 * us). TCP_USER_TIMEOUT does not apply to a request. */
		if (tcb->nrexmit >= tcb->syn_retries) {
			ctx->tcp_stats.tcp_synack_timeout++;
			tcp_listen_drop_child(ctx, tcb, false);
			return;
		}
		tcb->nrexmit++;
		tcb->retrans++;
		ctx->tcp_stats.tcp_rexmit++;
		ctx->tcp_stats.tcp_synack_rexmit++;
		tcb->rtt_timing = false; /* Karn */
		tcb->rto_us = (uint32_t)backoff(TCP_RTO_INIT_US, tcb->nrexmit);
		tcp_send_syn(ctx, tcb);
		tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, tcb->rto_us);
		tcb_publish_info(ctx, tcb, true);
		return;
	}
	if (tcb->state == SHUNT_SS_SYN_SENT || tcb->state == SHUNT_SS_SYN_RECEIVED) {
		/* Linux tcp_write_timeout(): SYN at 0, then after 1, 2, 4... s; the
		 * connect fails one doubled interval after the last retransmission (127 s
		 * with 6), or when TCP_USER_TIMEOUT has passed since the first SYN. */
		if (tcb->nrexmit >= tcb->syn_retries || user_timed_out(ctx, tcb)) {
			timeout_abort(ctx, tcb);
			return;
		}
		tcb->nrexmit++;
		tcb->retrans++;
		ctx->tcp_stats.tcp_rexmit++;
		tcb->rto_us = (uint32_t)backoff(TCP_RTO_INIT_US, tcb->nrexmit);
		tcp_send_syn(ctx, tcb);
		arm_rexmit_clamped(ctx, tcb);
		tcb_publish_info(ctx, tcb, true);
		return;
	}
	if (tcb->snd_una == tcb->snd_max)
		return; /* nothing outstanding (stale timer) */

	if (tcb->rexmit_start_us == 0)
		tcb->rexmit_start_us = ctx->now_us - rto_before; /* ~ when the head was sent */
	if (tcb->nrexmit >= TCP_RETRIES2 || user_timed_out(ctx, tcb)) {
		timeout_abort(ctx, tcb);
		return;
	}
	ctx->tcp_stats.tcp_rexmit_timeout++;
	tcp_pmtu_on_rto(ctx, tcb); /* Linux tcp_write_timeout(): black hole detection */
	/* RFC 5681 (4): ssthresh from the algorithm (reno max(FlightSize / 2, 2 *
	 * SMSS)), once per loss, as Linux's tcp_enter_loss(): a backed-off RTO of the
	 * same head keeps it, and so does an RTO inside a fast recovery, which
	 * already cut for this loss (cutting again from the cwnd PRR left would take
	 * ssthresh to 2 segments under heavy loss); cwnd = LW = 1 SMSS */
	if (tcb->nrexmit == 0 && !(tcb->in_recovery && SEQ_LT(tcb->snd_una, tcb->recover))) {
		tcp_undo_begin(tcb);
		tcb->ssthresh = tcp_loss_ssthresh(tcb);
		tcp_cc_on_rto(tcb, ctx->now_us);
	}
	tcp_undo_rto(tcb);
	tcb->cwnd = tcb->mss;
	tcb->in_recovery = false;
	tcb->dupacks = 0;
	tcp_rack_on_rto(tcb);
	tcp_timer_stop(ctx, tcb, TCP_T_LOSS);
	if (tcb->sack_ok) {
		/* RFC 6675 5.1: RecoveryPoint = HighData, and no SACK recovery until it
		 * is acknowledged. The scoreboard is kept, as RFC 6675 5.1 and Linux's
		 * tcp_enter_loss() do (Linux clears it only once it saw the peer
		 * renege; tcp_sack_advance() forgets it then): the go-back-N below
		 * skips what the peer SACKed. */
		tcb->recover = tcb->snd_max;
		tcb->rto_recover = true;
	}
	/* RFC 6298 5.5: back off; Karn: no RTT sample from retransmitted data */
	tcb->nrexmit++;
	tcb->rto_us = (uint32_t)backoff(tcb->rto_us, 1);
	tcb->rtt_timing = false;
	/* go-back-N from snd_una; the FIN, if sent and unacked, goes again too */
	tcb->snd_nxt = tcb->snd_una;
	if (tcb->fin_sent && SEQ_LEQ(tcb->snd_una, tcb->fin_seq))
		tcb->fin_sent = false;
	tcp_output(ctx, tcb); /* counts the retransmission, re-arms the RTO */
	if (tcp_timer_armed(tcb, TCP_T_REXMIT))
		arm_rexmit_clamped(ctx, tcb);
	tcb_publish_info(ctx, tcb, true);
}

static void on_persist(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->s == NULL || tcb->snd_wnd != 0 || dp_sock_tx_queued(tcb->s) == 0) {
		tcb->npersist = 0;
		tcp_output(ctx, tcb);
		return;
	}
	/* Linux tcp_probe_timer(): RFC 1122 4.2.2.17 keeps a socket open as long as
	 * the receiver answers its probes (probes_out is reset by every ACK), so only
	 * tcp_retries2 unanswered probes end it; once the app has closed, the backoff
	 * alone ends it after tcp_orphan_retries, so an orphan cannot pin its rings
	 * forever behind a peer that keeps its window shut. */
	if (tcb->s->app_closed ? tcb->npersist >= TCP_ORPHAN_RETRIES :
				 tcb->probes_out >= TCP_RETRIES2) {
		ctx->tcp_stats.tcp_persist_timeout++;
		tcb_reset(ctx, tcb, ETIMEDOUT);
		return;
	}
	tcp_send_probe(ctx, tcb);
	tcb->npersist++;
	tcb->probes_out++;
	tcp_timer_arm(ctx, tcb, TCP_T_PERSIST, backoff(tcb->rto_us, tcb->npersist));
}

/* Linux tcp_keepalive_timer(): after keep_idle without a segment from the peer,
 * probe every keep_intvl (a segment at snd_una - 1 that it must ACK); keep_cnt
 * probes unanswered (or TCP_USER_TIMEOUT passed, if set) reset with ETIMEDOUT.
 * Data in flight is the retransmission timer's business, not ours. */
static void on_keepalive(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint64_t idle = (uint64_t)tcb->keep_idle_s * 1000000;
	uint64_t elapsed = ctx->now_us - tcb->last_rx_us;

	if (!tcb->keepalive || tcb->state == SHUNT_SS_CLOSED || tcb->state == SHUNT_SS_SYN_SENT)
		return;
	if (tcb->snd_una != tcb->snd_max || (tcb->s != NULL && dp_sock_tx_queued(tcb->s) != 0)) {
		tcp_timer_arm(ctx, tcb, TCP_T_KEEP, idle);
		return;
	}
	if (elapsed < idle) {
		tcp_timer_arm(ctx, tcb, TCP_T_KEEP, idle - elapsed);
		return;
	}
	if ((tcb->user_timeout_us && elapsed >= tcb->user_timeout_us && tcb->probes_out > 0) ||
	    (!tcb->user_timeout_us && tcb->probes_out >= tcb->keep_cnt)) {
		ctx->tcp_stats.tcp_keepalive_timeout++;
		tcp_send_rst(ctx, tcb);
		tcb_reset(ctx, tcb, ETIMEDOUT);
		return;
	}
	ctx->tcp_stats.tcp_keepalive_probe++;
	tcp_send_probe(ctx, tcb);
	tcb->probes_out++;
	tcp_timer_arm(ctx, tcb, TCP_T_KEEP, (uint64_t)tcb->keep_intvl_s * 1000000);
}

static void on_wait(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->state == SHUNT_SS_FIN_WAIT_2) {
		/* orphaned FIN_WAIT_2 for tcp_fin_timeout: Linux resets (tcp_keepalive_timer) */
		tcp_send_rst(ctx, tcb);
		tcb_reset(ctx, tcb, 0);
		return;
	}
	/* TIME_WAIT over: 2MSL (Linux's 60 s) passed */
	tcb_close(ctx, tcb);
}

/* RFC 8985: the tail loss probe (7.3), or the reorder window ran out for data
 * RACK held back (6.2 step 5): what is lost now goes. */
static void on_loss(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->loss_tlp) {
		tcp_send_tlp(ctx, tcb);
		return;
	}
	if (tcp_rack_detect(ctx, tcb))
		tcp_loss_marked(ctx, tcb);
}

void tcp_timer_run(struct dp_ctx *ctx)
{
	struct tcp_stack *ts = ctx->tcp;
	struct tcb *tcb;
	int i;

	while (ts->heap_n > 0 && ts->heap[0]->deadline <= ctx->now_us) {
		tcb = ts->heap[0];
		for (i = 0; i < TCP_T_N; i++)
			if (tcb->timer[i] <= ctx->now_us)
				break;
		/* clear before running: the handler may re-arm it or free the tcb */
		tcb->timer[i] = TCP_NO_TIMER;
		timer_update(ts, tcb);
		switch (i) {
		case TCP_T_REXMIT:
			on_rexmit(ctx, tcb);
			break;
		case TCP_T_PERSIST:
			on_persist(ctx, tcb);
			break;
		case TCP_T_DACK:
			if (tcb->rcv_unacked || tcb->ack_now)
				tcp_send_ack(ctx, tcb);
			break;
		case TCP_T_WAIT:
			on_wait(ctx, tcb);
			break;
		case TCP_T_KEEP:
			on_keepalive(ctx, tcb);
			break;
		case TCP_T_LOSS:
			on_loss(ctx, tcb);
			break;
		default:
			break;
		}
	}
}
