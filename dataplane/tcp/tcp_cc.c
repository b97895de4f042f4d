/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Congestion control: the algorithm table, what every algorithm shares (slow
 * start after idle), and reno. See tcp_cc.h for the call flow.
 */
#include <errno.h>
#include <string.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_cc.h"

static const struct tcp_cc_ops *const cc_table[SHUNT_CC_MAX] = {
	[SHUNT_CC_RENO] = &tcp_cc_reno,
	[SHUNT_CC_CUBIC] = &tcp_cc_cubic,
};

const struct tcp_cc_ops *tcp_cc_ops(uint32_t id)
{
	return id < SHUNT_CC_MAX ? cc_table[id] : NULL;
}

uint32_t tcp_cc_find(const char *name)
{
	uint32_t i;

	for (i = 0; i < SHUNT_CC_MAX; i++)
		if (cc_table[i] != NULL && strcmp(cc_table[i]->name, name) == 0)
			return i;
	return SHUNT_CC_NONE;
}

/* tcb->cc is only ever set by tcp_cc_select() to one the table has; a tcb never
 * selected (calloc'd, not opened) gets reno */
static const struct tcp_cc_ops *cc_of(const struct tcb *tcb)
{
	const struct tcp_cc_ops *ops = tcp_cc_ops(tcb->cc);

	return ops != NULL ? ops : &tcp_cc_reno;
}

int tcp_cc_select(struct tcb *tcb, uint32_t id, bool established)
{
	if (tcp_cc_ops(id) == NULL)
		return -ENOENT;
	tcb->cc = (uint8_t)id;
	if (established)
		cc_of(tcb)->init(tcb);
	if (tcb->s != NULL)
		tcb->s->sh->cc = id; /* published with the next event or reply */
	return 0;
}

void tcp_cc_init(struct tcb *tcb, uint64_t now_us)
{
	tcb->cc_acc = 0;
	tcb->lsnd_us = now_us; /* Linux tcp_finish_connect(): lsndtime = now */
	cc_of(tcb)->init(tcb);
}

uint32_t tcp_loss_ssthresh(struct tcb *tcb)
{
	return cc_of(tcb)->ssthresh(tcb);
}

void tcp_cc_on_ack(struct dp_ctx *ctx, struct tcb *tcb, uint32_t acked, uint32_t flight)
{
	uint32_t ss = tcb->ssthresh;

	cc_of(tcb)->cong_avoid(tcb, acked, flight, ctx->now_us);
	if (tcb->ssthresh < ss)
		ctx->tcp_stats.tcp_hystart_exit++; /* only HyStart lowers it on an ACK */
}

void tcp_cc_on_rto(struct tcb *tcb, uint64_t now_us)
{
	tcb->cc_acc = 0;
	cc_of(tcb)->event(tcb, TCP_CC_EV_LOSS, now_us);
}

uint32_t tcp_cc_iw(const struct tcb *tcb)
{
	/* RFC 6928 IW: min(10 * MSS, max(2 * MSS, 14600)) */
	uint32_t two = 2u * tcb->mss, ten = TCP_IW_SEGS * tcb->mss;

	return ten < (two > 14600 ? two : 14600) ? ten : (two > 14600 ? two : 14600);
}

/* RFC 5681 4.1 (RFC 7661's "restart window"), as Linux's tcp_cwnd_restart(): after
 * idle_us with nothing in flight, cwnd halves once per RTO that passed, down to
 * min(IW, cwnd); ssthresh keeps 3/4 of the old cwnd (tcp_current_ssthresh()). */
static void cwnd_restart(struct tcb *tcb, uint64_t idle_us)
{
	uint32_t iw = tcp_cc_iw(tcb), cwnd = tcb->cwnd, restart = iw < cwnd ? iw : cwnd;
	uint32_t keep = (cwnd >> 1) + (cwnd >> 2);
	uint64_t rto = tcb->rto_us ? tcb->rto_us : 1;

	if (tcb->ssthresh < keep)
		tcb->ssthresh = keep;
	while (idle_us > rto && cwnd > restart) {
		idle_us -= rto;
		cwnd >>= 1;
	}
	tcb->cwnd = cwnd > restart ? cwnd : restart;
	tcb->cc_acc = 0;
}

void tcp_cc_data_sent(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint64_t now = ctx->now_us;

	if (tcb->snd_una == tcb->snd_max && !tcb->in_recovery) {
		/* Linux tcp_slow_start_after_idle_check(): idle longer than the RTO */
		if (ctx->tcp->ssai && now - tcb->lsnd_us > tcb->rto_us) {
			ctx->tcp_stats.tcp_cwnd_restart++;
			cwnd_restart(tcb, now - tcb->lsnd_us);
		}
		cc_of(tcb)->event(tcb, TCP_CC_EV_TX_START, now);
	}
	tcb->lsnd_us = now;
}

/* ---- reno ---------------------------------------------------------------------------- */

/* RFC 5681 3.1: slow start below ssthresh (at most one SMSS per ACK), congestion
 * avoidance above it (SMSS * SMSS / cwnd per ACK). */
static void reno_cong_avoid(struct tcb *tcb, uint32_t acked, uint32_t flight, uint64_t now_us)
{
	(void)flight;
	(void)now_us;
	if (tcb->cwnd < tcb->ssthresh)
		tcb->cwnd += acked < tcb->mss ? acked : tcb->mss;
	else
		tcb->cwnd += (uint32_t)((uint64_t)tcb->mss * tcb->mss / tcb->cwnd) ?: 1;
}

/* RFC 5681 (4): max(FlightSize / 2, 2 * SMSS). */
static uint32_t reno_ssthresh(struct tcb *tcb)
{
	uint32_t half = (tcb->snd_max - tcb->snd_una) / 2;

	return half > 2u * tcb->mss ? half : 2u * tcb->mss;
}

static void reno_init(struct tcb *tcb)
{
	(void)tcb;
}

static void reno_event(struct tcb *tcb, enum tcp_cc_event ev, uint64_t now_us)
{
	(void)tcb;
	(void)ev;
	(void)now_us;
}

const struct tcp_cc_ops tcp_cc_reno = {
	.name = "reno",
	.init = reno_init,
	.ssthresh = reno_ssthresh,
	.cong_avoid = reno_cong_avoid,
	.event = reno_event,
};
