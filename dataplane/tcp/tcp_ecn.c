/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ECN (RFC 3168) as Linux does it; the call flow is in tcp_ecn.h.
 *
 * Where shunt differs from Linux: the cut on ECE is made at once to ssthresh
 * (RFC 3168 6.1.2) where Linux walks cwnd down with PRR over the window, and a
 * loss recovery that starts inside that window cuts again (Linux's Recovery
 * takes over the CWR state without a second cut).
 */
#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_ecn.h"
#include "tcp/tcp_undo.h"
#include "tcp/tcp_wire.h"
#include "tcp/tcp_xmit.h"

bool tcp_ecn_syn_accept(const struct tcp_stack *ts, const struct tcp_seg *seg)
{
	/* an ECT-marked SYN is not an ECN-setup SYN (RFC 3168 6.1.1: a SYN is never
	 * ECT), as Linux's !INET_ECN_is_not_ect() test */
	return ts->ecn != 0 && (seg->flags & (TCP_ECE | TCP_CWR)) == (TCP_ECE | TCP_CWR) &&
	       seg->ecn == TCP_ECN_NOT_ECT;
}

static void negotiated(struct dp_ctx *ctx, struct tcb *tcb)
{
	tcb->ecn_flags = TCP_ECN_OK;
	ctx->tcp_stats.tcp_ecn_negotiated++;
}

void tcp_ecn_syn_out(struct dp_ctx *ctx, struct tcb *tcb, struct tcp_hdr_out *h)
{
	if (tcb->state == SHUNT_SS_SYN_SENT) {
		/* Linux tcp_ecn_send_syn(): ask with tcp_ecn = 1; tcp_ecn_clear_syn():
		 * a retransmitted SYN asks no more with tcp_ecn_fallback (a middlebox
		 * may drop ECN-setup SYNs) */
		if (tcb->nrexmit == 0) {
			tcb->ecn_flags = ctx->tcp->ecn == 1 ? TCP_ECN_OK : 0;
		} else if ((tcb->ecn_flags & TCP_ECN_OK) && ctx->tcp->ecn_fallback) {
			tcb->ecn_flags = 0;
			ctx->tcp_stats.tcp_ecn_syn_fallback++;
		}
		if (tcb->ecn_flags & TCP_ECN_OK)
			h->flags |= TCP_ECE | TCP_CWR;
		return;
	}
	/* SYN-ACK (Linux tcp_ecn_make_synack(), tcp_ecn_send_synack()): ECE alone */
	if (tcb->ecn_flags & TCP_ECN_OK)
		h->flags |= TCP_ECE;
}

void tcp_ecn_syn_in(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint8_t ece_cwr = seg->flags & (TCP_ECE | TCP_CWR);

	if (tcb->state != SHUNT_SS_SYN_SENT) {
		/* a listener's child: the SYN asks */
		tcb->ecn_flags = 0;
		if (tcp_ecn_syn_accept(ctx->tcp, seg))
			negotiated(ctx, tcb);
		return;
	}
	if (!(tcb->ecn_flags & TCP_ECN_OK))
		return;
	/* Linux tcp_ecn_rcv_synack(): a SYN-ACK agrees with ECE and no CWR (both
	 * would be a reflected SYN); tcp_ecn_rcv_syn(): a simultaneous open's SYN
	 * agrees with both */
	if ((seg->flags & TCP_ACK) ? ece_cwr == TCP_ECE : ece_cwr == (TCP_ECE | TCP_CWR))
		negotiated(ctx, tcb);
	else
		tcb->ecn_flags = 0;
}

void tcp_ecn_cookie(struct dp_ctx *ctx, struct tcb *tcb, bool ecn_ok)
{
	tcb->ecn_flags = 0;
	if (ecn_ok && ctx->tcp->ecn != 0)
		negotiated(ctx, tcb);
}

void tcp_ecn_hdr_out(const struct tcb *tcb, struct tcp_txseg *t)
{
	/* Linux tcp_ecn_send(): every segment (ACKs, data, RST, probes) echoes an
	 * unanswered CE */
	if ((tcb->ecn_flags & TCP_ECN_DEMAND_CWR) && !(t->h.flags & TCP_SYN))
		t->h.flags |= TCP_ECE;
}

void tcp_ecn_data_out(struct dp_ctx *ctx, struct tcb *tcb, struct tcp_txseg *t)
{
	if (!(tcb->ecn_flags & TCP_ECN_OK))
		return;
	/* RFC 3168 6.1.5: retransmissions are not ECT, and neither are pure ACKs
	 * (6.1.4): the caller passes only new data */
	t->tos |= TCP_ECN_ECT0;
	/* a loss recovery or RTO cut cwnd: Linux's tcp_init_cwnd_reduction() and
	 * tcp_enter_loss() queue CWR for it as for ECE */
	if ((tcb->in_recovery || tcb->rto_recover) && !(tcb->ecn_flags & TCP_ECN_LOSS))
		tcb->ecn_flags |= TCP_ECN_LOSS | TCP_ECN_QUEUE_CWR;
	if (tcb->ecn_flags & TCP_ECN_QUEUE_CWR) {
		/* RFC 3168 6.1.2: CWR on the first new data after the reduction */
		tcb->ecn_flags &= (uint8_t)~TCP_ECN_QUEUE_CWR;
		t->h.flags |= TCP_CWR;
		ctx->tcp_stats.tcp_ecn_cwr_tx++;
	}
}

/* Linux tcp_enter_cwr() -> tcp_init_cwnd_reduction(): ssthresh as for a loss,
 * CWR queued, no second cut until what is in flight now is acknowledged. */
static void enter_cwr(struct dp_ctx *ctx, struct tcb *tcb)
{
	tcb->ssthresh = tcp_loss_ssthresh(tcb);
	if (tcb->cwnd > tcb->ssthresh)
		tcb->cwnd = tcb->ssthresh;
	tcb->ecn_high = tcb->snd_max;
	tcb->ecn_flags |= TCP_ECN_IN_CWR | TCP_ECN_QUEUE_CWR;
	ctx->tcp_stats.tcp_ecn_cwnd_reduced++;
}

void tcp_ecn_ack(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	bool loss = tcb->in_recovery || tcb->rto_recover;

	if (!(tcb->ecn_flags & TCP_ECN_OK))
		return;
	/* receiver: the peer reduced (Linux tcp_ecn_accept_cwr(), in tcp_ack(): on
	 * pure ACKs too); data with it is acknowledged at once, its cwnd may be 1 */
	if (seg->flags & TCP_CWR) {
		ctx->tcp_stats.tcp_ecn_cwr_rx++;
		tcb->ecn_flags &= (uint8_t)~TCP_ECN_DEMAND_CWR;
		if (seg->len != 0)
			tcb->ack_now = true;
	}
	/* sender */
	if (!loss)
		tcb->ecn_flags &= (uint8_t)~TCP_ECN_LOSS;
	if ((tcb->ecn_flags & TCP_ECN_IN_CWR) && SEQ_GT(seg->ack, tcb->ecn_high)) {
		/* Linux: CWR is held until something above high_seq is acknowledged,
		 * then tcp_end_cwnd_reduction() leaves cwnd at ssthresh */
		tcb->ecn_flags &= (uint8_t)~TCP_ECN_IN_CWR;
		if (!loss)
			tcb->cwnd = tcb->ssthresh;
	}
	if (!(seg->flags & TCP_ECE) || (seg->flags & TCP_SYN))
		return;
	ctx->tcp_stats.tcp_ecn_ece_rx++;
	/* congestion is proven: no reduction is taken back (Linux tcp_fastretrans_alert()
	 * A: prior_ssthresh = 0) */
	tcp_undo_cancel(tcb);
	/* Linux tcp_try_to_open(): only with data in flight, outside a loss recovery
	 * (which made its own cut) and once per window */
	if (!loss && !(tcb->ecn_flags & TCP_ECN_IN_CWR) && tcb->snd_una != tcb->snd_max &&
	    tcp_state_sends_data(tcb->state))
		enter_cwr(ctx, tcb);
}

void tcp_ecn_rcv_data(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (!(tcb->ecn_flags & TCP_ECN_OK))
		return;
	/* Linux __tcp_ecn_check_ce() */
	switch (seg->ecn) {
	case TCP_ECN_NOT_ECT:
		/* after ECT segments, a Not-ECT one is likely a retransmission: the
		 * sender may be short of window, ACK it at once */
		if (tcb->ecn_flags & TCP_ECN_SEEN)
			tcb->ecn_quick = TCP_ECN_QUICKACKS;
		break;
	case TCP_ECN_CE:
		ctx->tcp_stats.tcp_ecn_ce_rx++;
		if (!(tcb->ecn_flags & TCP_ECN_DEMAND_CWR)) {
			/* do not delay ACKs: the sender's cwnd may be very low */
			tcb->ecn_quick = TCP_ECN_QUICKACKS;
			tcb->ecn_flags |= TCP_ECN_DEMAND_CWR;
		}
		tcb->ecn_flags |= TCP_ECN_SEEN;
		break;
	default:
		tcb->ecn_flags |= TCP_ECN_SEEN;
		break;
	}
	if (tcb->ecn_quick != 0) {
		tcb->ecn_quick--;
		tcb->ack_now = true;
	}
}
