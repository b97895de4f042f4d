/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Undo of spurious cwnd reductions (see tcp_undo.h): Linux's undo_marker,
 * prior_cwnd, prior_ssthresh, undo_retrans and retrans_stamp, and the
 * tcp_try_undo_loss() / tcp_try_undo_recovery() / tcp_try_undo_dsack() that use
 * them.
 */
#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_undo.h"
#include "tcp/tcp_wire.h"

void tcp_undo_begin(struct tcb *tcb)
{
	uint32_t three4 = tcb->cwnd / 2 + tcb->cwnd / 4;

	/* Linux tcp_init_undo(), and prior_ssthresh = tcp_current_ssthresh():
	 * ssthresh in a reduction, else the larger of it and 3/4 of cwnd */
	tcb->undo_armed = true;
	tcb->undo_rto = false;
	tcb->undo_stamped = false;
	tcb->undo_seq = tcb->snd_una;
	tcb->undo_cwnd = tcb->cwnd;
	tcb->undo_ssthresh = tcb->in_recovery || tcb->ssthresh > three4 ? tcb->ssthresh : three4;
	tcb->undo_retrans = 0;
}

void tcp_undo_rto(struct tcb *tcb)
{
	tcb->undo_rto = tcb->undo_armed;
	tcb->undo_high = tcb->snd_max;
}

void tcp_undo_cancel(struct tcb *tcb)
{
	tcb->undo_armed = false;
	tcb->undo_rto = false;
}

void tcp_undo_retransmitted(struct tcb *tcb, uint32_t len, uint32_t tsval)
{
	if (!tcb->undo_armed)
		return;
	if (!tcb->undo_stamped) {
		tcb->undo_stamped = true;
		tcb->undo_tsval = tsval; /* Linux retrans_stamp */
	}
	tcb->undo_retrans += len;
}

void tcp_undo_dsack(struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t l = seg->sack[0][0], r = seg->sack[0][1], n;

	/* Linux tcp_sacktag_write_queue(): a duplicate of what the episode resent,
	 * not of something older (undo_marker) */
	if (!tcb->undo_armed || !tcb->undo_stamped || !tcp_sack_dsack(seg) ||
	    SEQ_LT(l, tcb->undo_seq))
		return;
	n = r - l;
	tcb->undo_retrans -= n < tcb->undo_retrans ? n : tcb->undo_retrans;
}

/* Linux tcp_packet_delayed(): the ACK echoes a TSval older than our first
 * retransmission, so what it acknowledges arrived from an original. */
static bool delayed(const struct tcb *tcb, const struct tcp_seg *seg)
{
	return tcb->undo_stamped && tcb->ts_ok && seg->has_ts && seg->tsecr != 0 &&
	       SEQ_LT(seg->tsecr, tcb->undo_tsval);
}

/* Linux tcp_may_undo() */
static bool may_undo(const struct tcb *tcb, const struct tcp_seg *seg)
{
	return tcb->undo_armed && tcb->undo_stamped && (tcb->undo_retrans == 0 || delayed(tcb, seg));
}

/* Linux tcp_undo_cwnd_reduction(): cwnd back (the algorithm's undo_cwnd, for
 * reno and cubic the larger of now and before) and ssthresh if it was higher. */
static void undo(struct tcb *tcb)
{
	if (tcb->cwnd < tcb->undo_cwnd)
		tcb->cwnd = tcb->undo_cwnd;
	if (tcb->ssthresh < tcb->undo_ssthresh)
		tcb->ssthresh = tcb->undo_ssthresh;
	tcb->undo_armed = false;
	tcb->undo_rto = false;
}

void tcp_undo_after_rto(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (!tcb->undo_rto)
		return;
	if (!may_undo(tcb, seg)) {
		if (SEQ_GEQ(tcb->snd_una, tcb->undo_high))
			tcb->undo_rto = false; /* Linux leaves TCP_CA_Loss: recovered */
		return;
	}
	/* the RTO was spurious: no loss, so no loss recovery. What the go-back-N had
	 * not resent yet stays as it was sent (Linux unmarks every loss and lets
	 * RACK judge again); a FIN it rewound is sent again. */
	undo(tcb);
	ctx->tcp_stats.tcp_rto_undo++;
	tcb->rto_recover = false;
	tcb->in_recovery = false;
	tcb->rack_lost = false;
	tcb->rack_relost = false;
	tcb->dupacks = 0;
	if (SEQ_LT(tcb->snd_nxt, tcb->snd_max)) {
		tcb->snd_nxt = tcb->snd_max;
		if (tcb->fin_queued && SEQ_LT(tcb->fin_seq, tcb->snd_max))
			tcb->fin_sent = true;
	}
}

void tcp_undo_recovery(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (tcb->undo_rto || !may_undo(tcb, seg))
		return;
	undo(tcb);
	ctx->tcp_stats.tcp_recovery_undo++;
}

void tcp_undo_by_dsack(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (!tcb->undo_armed || tcb->undo_rto || !tcb->undo_stamped || tcb->undo_retrans != 0)
		return;
	/* every retransmission was a duplicate: the reduction was for nothing, and so
	 * is the recovery if one is running (Linux tcp_try_keep_open()); what RACK
	 * still holds lost starts a new one */
	undo(tcb);
	ctx->tcp_stats.tcp_dsack_undo++;
	tcb->in_recovery = false;
	tcb->dupacks = 0;
}
