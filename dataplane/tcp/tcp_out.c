/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP output: what to send and when (see tcp_out.h). tcp_xmit.c builds the packet.
 *
 *   tcp_output() -> in SACK recovery: sack_output(), RFC 6675 NextSeg() while
 *                   cwnd - pipe >= SMSS (lost holes, new data, other holes)
 *                -> else while data fits min(cwnd, snd_wnd) and Nagle/SWS allow:
 *                      send_seg(snd_nxt, <= MSS, PSH at the end, FIN piggybacked;
 *                      after an RTO rewind, what the peer SACKed is skipped)
 *                -> lone FIN after the data -> persist timer if the peer's window
 *                   is zero -> pure ACK if one is still owed
 *   send_seg() -> fill_hdr() (ack, window, timestamps) -> emit() -> tcp_xmit()
 */
#include <errno.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp_ecn.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_undo.h"
#include "tcp/tcp_wire.h"
#include "tcp/tcp_xmit.h"

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void emit(struct dp_ctx *ctx, struct tcp_txseg *t)
{
	ctx->tcp_stats.tcp_tx++;
	if (t->h.flags & TCP_RST)
		ctx->tcp_stats.tcp_rst_tx++;
	(void)tcp_xmit(ctx, t); /* a lost segment is recovered by the RTO like any loss */
}

/* The window field for a non-SYN segment. RFC 9293 3.8.6.2.2 (receiver SWS
 * avoidance): the right edge moves only by at least min(buffer / 2, MSS);
 * 3.8.6: it never moves left. Updates rcv_adv. */
static uint16_t wnd_field(struct tcb *tcb)
{
	uint32_t space = tcb->s != NULL ? dp_sock_rx_space(tcb->s) : 0;
	uint32_t edge = tcb->rcv_nxt + space, field, unit = 1u << tcb->rcv_ws;
	uint32_t thresh;

	if (tcb->s != NULL && SEQ_GT(edge, tcb->rcv_adv)) {
		thresh = min_u32(tcb->s->rx_size / 2, tcb->rcv_mss);
		if (edge - tcb->rcv_adv < thresh && SEQ_GT(tcb->rcv_adv, tcb->rcv_nxt))
			edge = tcb->rcv_adv;
	}
	if (SEQ_LT(edge, tcb->rcv_adv))
		edge = tcb->rcv_adv;
	/* Round down: the ring has no slack, so advertising a scaled unit we do not
	 * have would drop the peer's last in-window bytes. Never-shrink is kept by
	 * rcv_adv, which only grows and is what seq_acceptable() accepts up to (every
	 * advertisement was backed by ring space, so rcv_adv always is). */
	(void)unit;
	field = (edge - tcb->rcv_nxt) >> tcb->rcv_ws;
	if (field > 0xffff)
		field = 0xffff;
	if (SEQ_GT(tcb->rcv_nxt + (field << tcb->rcv_ws), tcb->rcv_adv))
		tcb->rcv_adv = tcb->rcv_nxt + (field << tcb->rcv_ws);
	return (uint16_t)field;
}

uint32_t tcp_rcv_window(struct tcb *tcb)
{
	uint32_t space = tcb->s != NULL ? dp_sock_rx_space(tcb->s) : 0;
	uint32_t max = 0xffffu << tcb->rcv_ws;

	return space > max ? max : space;
}

static void fill_hdr(struct dp_ctx *ctx, struct tcb *tcb, struct tcp_txseg *t, uint8_t flags,
		     uint32_t seq)
{
	t->src_be = tcb->laddr_be;
	t->dst_be = tcb->raddr_be;
	t->tos = tcb->tos;
	t->ttl = tcb->ttl;
	t->h = (struct tcp_hdr_out){
		.sport_be = tcb->lport_be,
		.dport_be = tcb->rport_be,
		.seq = seq,
		.ack = (flags & TCP_ACK) ? tcb->rcv_nxt : 0,
		.flags = flags,
	};
	if (flags & TCP_ACK)
		t->h.wnd = wnd_field(tcb);
	if (tcb->ts_ok) {
		/* RFC 7323 3.2: TSval from our ms clock; TSecr echoes TS.Recent */
		t->h.has_ts = true;
		t->h.tsval = (uint32_t)(ctx->now_us / 1000);
		t->h.tsecr = tcb->ts_recent;
	}
	t->s = NULL;
	t->pos = 0;
	t->len = 0;
	tcp_ecn_hdr_out(tcb, t);
	if (flags & TCP_ACK) {
		/* every ACK-bearing segment acknowledges all we have */
		tcb->rcv_unacked = 0;
		tcb->ack_now = false;
		if (tcp_timer_armed(tcb, TCP_T_DACK))
			tcp_timer_stop(ctx, tcb, TCP_T_DACK);
	}
}

void tcp_send_syn(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_txseg t;
	uint8_t flags = TCP_SYN;
	uint32_t space = tcb->s != NULL ? dp_sock_rx_space(tcb->s) : 0;

	if (tcb->state == SHUNT_SS_SYN_RECEIVED)
		flags |= TCP_ACK;
	fill_hdr(ctx, tcb, &t, flags, tcb->iss);
	/* RFC 7323 2.2: the window in a SYN is never scaled */
	t.h.wnd = (uint16_t)min_u32(space, 0xffff);
	if (flags & TCP_ACK)
		tcb->rcv_adv = tcb->rcv_nxt + t.h.wnd;
	t.h.mss = tcb->rcv_mss;
	/* offer in SYN_SENT what the stack allows (tcp_stack: the namespace's
	 * sysctls); answer only what the peer offered in SYN_RECEIVED, which
	 * take_syn() saw filtered by the same settings */
	if (tcb->state == SHUNT_SS_SYN_SENT ? ctx->tcp->ws_on : tcb->ws_ok) {
		t.h.has_ws = true;
		t.h.ws = tcb->rcv_ws;
	}
	if (tcb->state == SHUNT_SS_SYN_SENT && ctx->tcp->ts_on) {
		t.h.has_ts = true;
		t.h.tsval = (uint32_t)(ctx->now_us / 1000);
		t.h.tsecr = 0;
	}
	/* RFC 2018: offered in our SYN, answered in a SYN-ACK if the SYN offered it */
	t.h.sack_ok = tcb->state == SHUNT_SS_SYN_SENT ? ctx->tcp->sack_on : tcb->sack_ok;
	tcp_ecn_syn_out(ctx, tcb, &t.h);
	emit(ctx, &t);
	if (tcb->snd_max == tcb->iss)
		tcb->snd_max = tcb->iss + 1;
	tcb->snd_nxt = tcb->iss + 1;
}

/* RFC 2018 4: the out-of-order runs as SACK blocks, the one holding the segment
 * that came last first, then the others in order. Only on ACKs without data
 * (a data segment keeps its full MSS of payload). */
static void add_sack_blocks(const struct tcb *tcb, struct tcp_hdr_out *h)
{
	uint8_t i, first = tcb->n_ooo;

	if (!tcb->sack_ok)
		return;
	/* RFC 2883 4: a D-SACK block comes first, then the SACK blocks as usual */
	if (tcb->dsack) {
		h->sack[h->nsack][0] = tcb->dsack_start;
		h->sack[h->nsack++][1] = tcb->dsack_end;
	}
	if (tcb->n_ooo == 0)
		return;
	for (i = 0; i < tcb->n_ooo; i++)
		if (SEQ_LEQ(tcb->ooo[i].start, tcb->ooo_recent) &&
		    SEQ_LT(tcb->ooo_recent, tcb->ooo[i].end))
			first = i;
	if (first < tcb->n_ooo) {
		h->sack[h->nsack][0] = tcb->ooo[first].start;
		h->sack[h->nsack++][1] = tcb->ooo[first].end;
	}
	for (i = 0; i < tcb->n_ooo && h->nsack < TCP_SACK_MAX; i++) {
		if (i == first)
			continue;
		h->sack[h->nsack][0] = tcb->ooo[i].start;
		h->sack[h->nsack++][1] = tcb->ooo[i].end;
	}
}

void tcp_send_ack(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_txseg t;

	fill_hdr(ctx, tcb, &t, TCP_ACK, tcb->snd_nxt);
	add_sack_blocks(tcb, &t.h);
	tcb->dsack = false; /* said once */
	emit(ctx, &t);
}

void tcp_send_rst(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_txseg t;

	/* Linux tcp_send_active_reset(): RST|ACK at snd_nxt */
	fill_hdr(ctx, tcb, &t, TCP_RST | TCP_ACK, tcb->snd_nxt);
	t.h.has_ts = false;
	emit(ctx, &t);
}

void tcp_send_probe(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_txseg t;

	/* Linux tcp_xmit_probe_skb(): an already acknowledged sequence number forces
	 * the peer to answer with its current window */
	fill_hdr(ctx, tcb, &t, TCP_ACK, tcb->snd_una - 1);
	ctx->tcp_stats.tcp_persist_probe++;
	emit(ctx, &t);
}

void tcp_reply_rst(struct dp_ctx *ctx, uint32_t src_be, uint32_t dst_be,
		   const struct tcp_seg *seg)
{
	struct tcp_txseg t = { .src_be = dst_be, .dst_be = src_be };

	if (seg->flags & TCP_RST)
		return; /* RFC 9293 3.10.7.1: an incoming RST is discarded */
	t.h.sport_be = seg->dport_be;
	t.h.dport_be = seg->sport_be;
	if (seg->flags & TCP_ACK) {
		/* <SEQ=SEG.ACK><CTL=RST> */
		t.h.seq = seg->ack;
		t.h.flags = TCP_RST;
	} else {
		/* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN count in SEG.LEN */
		t.h.seq = 0;
		t.h.ack = seg->seq + seg->len + !!(seg->flags & TCP_SYN) +
			  !!(seg->flags & TCP_FIN);
		t.h.flags = TCP_RST | TCP_ACK;
	}
	emit(ctx, &t);
}

void tcp_send_hdr(struct dp_ctx *ctx, const struct tcb *from, uint32_t laddr_be,
		  uint32_t raddr_be, const struct tcp_hdr_out *h)
{
	struct tcp_txseg t = { .src_be = laddr_be, .dst_be = raddr_be, .h = *h,
			       .tos = from->tos, .ttl = from->ttl };

	emit(ctx, &t);
}

/* RFC 7323 2.3: the shift is fixed for the connection's life, so Linux chooses it
 * for the largest buffer the socket may grow to, max(tcp_rmem[2], rmem_max), or
 * for the buffer SO_RCVBUF fixed (window_clamp): the smallest shift whose window
 * covers that many bytes, ilog2(space) - 15. A ring that cannot grow so far costs
 * only the window's granularity (2^shift bytes), and peers see Linux's shift. */
uint8_t tcp_rcv_wscale(const struct dp_ctx *ctx, const struct dp_sock *s)
{
	uint32_t space = s->rx_size;
	uint8_t ws = 0;

	if (!ctx->tcp->ws_on)
		return 0;
	if (s->rcvbuf != 0)
		space = s->rcvbuf;
	else if (ctx->tcp->rmem_max > space)
		space = ctx->tcp->rmem_max;
	while (ws < TCP_WS_MAX && (space >> ws) > 0xffff)
		ws++;
	return ws;
}

uint16_t tcp_adv_mss(const struct dp_ctx *ctx, const struct tcb *tcb)
{
	uint16_t mtu = tcb->pmtu != 0 ? tcb->pmtu : ctx->mtu != 0 ? ctx->mtu : 1500;
	uint16_t mss = (uint16_t)(mtu - 40);

	return tcb->user_mss != 0 && tcb->user_mss < mss ? tcb->user_mss : mss;
}

/* Where the data ends in sequence space: after shutdown(SHUT_WR) it is fixed at
 * fin_seq, whatever the app later does to tx_prod. */
static uint32_t data_end(struct tcb *tcb)
{
	if (tcb->fin_queued)
		return tcb->fin_seq;
	return tcb->snd_una + (tcb->s != NULL ? dp_sock_tx_queued(tcb->s) : 0);
}

/* Send [seq, seq + len) of the tx ring, with FIN if fin. seq >= snd_una, and the
 * bytes are queued (seq - snd_una is their offset from tx_cons). */
static void send_seg(struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, uint32_t len, bool fin,
		     bool push)
{
	struct tcp_txseg t;
	uint8_t flags = TCP_ACK;

	if (push)
		flags |= TCP_PSH;
	if (fin)
		flags |= TCP_FIN;
	fill_hdr(ctx, tcb, &t, flags, seq);
	if (len) {
		t.s = tcb->s;
		t.pos = tcb->s->tx_cons + (seq - tcb->snd_una);
		t.len = len;
	}
	if (len != 0)
		tcp_cc_data_sent(ctx, tcb); /* restart after idle (tcp_cc.c) */
	if (len + fin != 0 && tcb->sack_ok)
		tcp_rack_sent(ctx, tcb, seq, seq + len + fin, SEQ_LT(seq, tcb->snd_max));
	if (tcb->in_recovery)
		tcb->prr_out += len + fin; /* RFC 6937: every byte sent in recovery */
	if (len != 0 && SEQ_GEQ(seq, tcb->snd_max))
		tcp_ecn_data_out(ctx, tcb, &t); /* ECT(0) and CWR: new data only */
	if (SEQ_LT(seq, tcb->snd_max)) {
		tcb->retrans++;
		ctx->tcp_stats.tcp_rexmit++;
		tcp_undo_retransmitted(tcb, len + fin, (uint32_t)(ctx->now_us / 1000));
	} else if (!tcb->ts_ok && !tcb->rtt_timing) {
		/* without timestamps, time one new segment at a time (Karn) */
		tcb->rtt_timing = true;
		tcb->rtt_seq = seq;
		tcb->rtt_start_us = ctx->now_us;
	}
	emit(ctx, &t);
	if (!tcp_timer_armed(tcb, TCP_T_REXMIT))
		tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, tcb->rto_us);
}

void tcp_send_tlp(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t end = data_end(tcb), edge = tcb->snd_una + tcb->snd_wnd, dend, len;
	bool fin;

	if (!tcp_state_sends_data(tcb->state) || tcb->s == NULL || tcb->in_recovery ||
	    tcb->rto_recover || tcb->tlp_out || tcb->snd_una == tcb->snd_max)
		return;
	ctx->tcp_stats.tcp_tlp_probes++;
	if (tcb->snd_nxt == tcb->snd_max && SEQ_LT(tcb->snd_nxt, end) &&
	    SEQ_LT(tcb->snd_nxt, edge)) {
		/* new data: it probes and makes progress at once */
		len = min_u32(min_u32(end - tcb->snd_nxt, edge - tcb->snd_nxt), tcb->mss);
		fin = tcb->fin_queued && tcb->snd_nxt + len == tcb->fin_seq;
		send_seg(ctx, tcb, tcb->snd_nxt, len, fin, tcb->snd_nxt + len == end);
		tcb->snd_nxt += len + fin;
		if (fin)
			tcb->fin_sent = true;
		tcb->snd_max = tcb->snd_nxt;
		tcb->tlp_rexmit = false;
	} else {
		/* the highest segment sent, with the FIN if that went last */
		fin = tcb->fin_sent && SEQ_GT(tcb->snd_max, tcb->fin_seq);
		dend = fin ? tcb->fin_seq : tcb->snd_max;
		len = min_u32(dend - tcb->snd_una, tcb->mss);
		tcb->rtt_timing = false; /* Karn */
		send_seg(ctx, tcb, dend - len, len, fin, true);
		tcb->tlp_rexmit = true;
	}
	tcb->tlp_out = true;
	tcb->tlp_dsack = false;
	tcb->tlp_high = tcb->snd_max;
	tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, tcb->rto_us);
}

void tcp_retransmit_head(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t end = data_end(tcb), una = tcb->snd_una;
	/* never into what the peer SACKed (snd_una itself never is) */
	uint32_t len = min_u32(min_u32(end - tcb->snd_una, tcb->mss), tcp_sack_skip(tcb, &una));
	bool fin = tcb->fin_sent && tcb->snd_una + len == tcb->fin_seq;

	if (SEQ_GEQ(tcb->snd_una, tcb->snd_max))
		return;
	if (SEQ_LT(end, tcb->snd_una))
		len = 0;
	tcb->rtt_timing = false; /* Karn */
	send_seg(ctx, tcb, tcb->snd_una, len, fin, tcb->snd_una + len == end);
}

uint32_t tcp_sack_retransmit(struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, uint32_t hole_end)
{
	uint32_t end = data_end(tcb), dend = SEQ_LT(hole_end, end) ? hole_end : end;
	uint32_t len = SEQ_GT(dend, seq) ? min_u32(dend - seq, tcb->mss) : 0;
	bool fin = tcb->fin_sent && seq + len == tcb->fin_seq && SEQ_GT(hole_end, tcb->fin_seq);

	if (len == 0 && !fin)
		return 0;
	tcb->rtt_timing = false; /* Karn */
	ctx->tcp_stats.tcp_sack_rexmits++;
	send_seg(ctx, tcb, seq, len, fin, seq + len == end);
	tcb->rxt_next = seq + len + fin;
	return len + fin;
}

/* NextSeg() rule 2: one segment of new data, if the peer's window has room (the
 * sender's SWS and TCP_CORK rules as in tcp_output(); Nagle does not hold a
 * segment in recovery), or the FIN alone. Returns the sequence numbers sent. */
static uint32_t sack_new_data(struct dp_ctx *ctx, struct tcb *tcb, uint32_t end)
{
	uint32_t edge = tcb->snd_una + tcb->snd_wnd, len;
	bool fin;

	if (tcb->snd_nxt != tcb->snd_max)
		return 0;
	if (SEQ_LT(tcb->snd_nxt, end)) {
		if (SEQ_GEQ(tcb->snd_nxt, edge))
			return 0;
		len = min_u32(min_u32(end - tcb->snd_nxt, edge - tcb->snd_nxt), tcb->mss);
		if (len < tcb->mss) {
			if (len < end - tcb->snd_nxt && len < tcb->snd_wnd_max / 2)
				return 0;
			if (len == end - tcb->snd_nxt && (tcb->cork || tcb->more) &&
			    !tcb->fin_queued)
				return 0;
			tcb->snd_sml = tcb->snd_nxt + len;
		}
		fin = tcb->fin_queued && tcb->snd_nxt + len == tcb->fin_seq;
		send_seg(ctx, tcb, tcb->snd_nxt, len, fin, tcb->snd_nxt + len == end);
	} else if (tcb->fin_queued && !tcb->fin_sent && tcb->snd_nxt == tcb->fin_seq) {
		len = 0;
		fin = true;
		send_seg(ctx, tcb, tcb->fin_seq, 0, true, false);
	} else {
		return 0;
	}
	tcb->snd_nxt += len + fin;
	if (fin)
		tcb->fin_sent = true;
	tcb->snd_max = tcb->snd_nxt;
	return len + fin;
}

/* RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() picks: the
 * first hole that IsLost() (rule 1), else new data (rule 2). Holes are found from
 * rxt_next (HighRxt), so nothing goes twice in one recovery, and end where SACKed
 * data begins, so nothing the peer SACKed goes at all. Rule 3 (a hole not judged
 * lost, when no new data is left) is not done, as Linux with RACK does not: such
 * a hole is most often reordered, not lost (the resends came back as D-SACKs),
 * and RACK's reorder timer, the TLP or the RTO repair it if it was. Rule 4
 * (rescue retransmission) is not done either: the TLP covers it. */
static void sack_output(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t pipe, end = data_end(tcb), hs, he, sent, from, skip;
	bool have, lost, below;

	if (tcb->rack_relost) {
		/* RACK saw a retransmission lost: NextSeg looks again from there
		 * (what was resent since and is still in flight is skipped below) */
		if (SEQ_LT(tcb->rack_relost_seq, tcb->rxt_next))
			tcb->rxt_next = SEQ_GT(tcb->rack_relost_seq, tcb->snd_una) ?
						tcb->rack_relost_seq : tcb->snd_una;
		tcb->rack_relost = false;
	}
	pipe = tcp_sack_pipe(tcb);
	from = tcb->rxt_next;
	while (tcb->cwnd > pipe && tcb->cwnd - pipe >= tcb->mss) {
		have = tcp_sack_next_hole(tcb, from, &hs, &he, &lost, &below);
		if (have && (skip = tcp_rack_live_rexmit(tcb, hs)) != hs) {
			from = skip; /* its retransmission is in flight */
			continue;
		}
		from = tcb->rxt_next;
		if (have && lost)
			sent = tcp_sack_retransmit(ctx, tcb, hs, he);
		else
			sent = sack_new_data(ctx, tcb, end);
		if (sent == 0)
			break;
		pipe += sent;
		if (SEQ_GT(tcb->rxt_next, from))
			from = tcb->rxt_next;
	}
}

/* RFC 3042 Limited Transmit, as RFC 6675 5 steps 1-2 allow with SACK: on the
 * first and second duplicate ACK one new segment each beyond cwnd, so that a small
 * window still draws the duplicates that start recovery (the no-SACK path keeps
 * its RFC 6582 behaviour unchanged). */
static uint32_t limited_transmit(const struct tcb *tcb)
{
	if (!tcb->sack_ok || tcb->in_recovery || tcb->dupacks == 0 ||
	    tcb->dupacks >= TCP_DUPTHRESH || SEQ_LT(tcb->snd_nxt, tcb->snd_max))
		return 0;
	return (uint32_t)tcb->dupacks * tcb->mss;
}

void tcp_output(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t end, limit, len, wnd, room, max_before = tcb->snd_max;
	bool fin;

	if (!tcp_state_sends_data(tcb->state) || tcb->s == NULL)
		goto ack;
	tcp_pmtu_sync(ctx, tcb);
	if (tcb->in_recovery && tcb->sack_ok) {
		sack_output(ctx, tcb);
		goto ack;
	}
	end = data_end(tcb);
	for (;;) {
		room = UINT32_MAX;
		if (tcb->n_sacked != 0 && SEQ_LT(tcb->snd_nxt, tcb->snd_max)) {
			/* go-back-N after an RTO: what the peer SACKed is not sent again
			 * (the scoreboard is kept across the RTO, RFC 6675 5.1) */
			room = tcp_sack_skip(tcb, &tcb->snd_nxt);
			if (tcb->fin_queued && SEQ_GT(tcb->snd_nxt, tcb->fin_seq))
				tcb->fin_sent = true; /* the range ends past our FIN */
		}
		if (SEQ_GEQ(tcb->snd_nxt, end))
			break;
		wnd = min_u32(tcb->snd_wnd, tcb->cwnd + limited_transmit(tcb));
		limit = tcb->snd_una + wnd;
		if (SEQ_GEQ(tcb->snd_nxt, limit))
			break;
		len = min_u32(min_u32(end - tcb->snd_nxt, limit - tcb->snd_nxt), tcb->mss);
		if (len > room) {
			len = room; /* a hole before SACKed data: sent as it is */
		} else if (len < tcb->mss) {
			if (len < end - tcb->snd_nxt) {
				/* RFC 9293 3.8.6.2.1 sender SWS: a window-limited runt waits
				 * unless it is at least half the largest window offered */
				if (len < tcb->snd_wnd_max / 2)
					break;
			} else if ((tcb->cork || tcb->more) && !tcb->fin_queued) {
				/* TCP_CORK / MSG_MORE (Linux TCP_NAGLE_CORK): a short tail
				 * waits for more bytes, NODELAY or not, until uncorked; the
				 * FIN pushes it, as close() and shutdown() do in Linux */
				break;
			} else if (!tcb->nodelay && tcb->snd_una != tcb->snd_max &&
				   SEQ_GEQ(tcb->snd_nxt, tcb->snd_max) &&
				   SEQ_GT(tcb->snd_sml, tcb->snd_una) &&
				   SEQ_LEQ(tcb->snd_sml, tcb->snd_nxt)) {
				/* Nagle (RFC 896) with Minshall's refinement, as Linux's
				 * tcp_nagle_check(): the tail waits only while an earlier
				 * short segment is unacknowledged, so a request-response
				 * tail after full segments goes out at once */
				break;
			}
			tcb->snd_sml = tcb->snd_nxt + len;
		}
		fin = tcb->fin_queued && tcb->snd_nxt + len == tcb->fin_seq;
		send_seg(ctx, tcb, tcb->snd_nxt, len, fin, tcb->snd_nxt + len == end);
		tcb->snd_nxt += len;
		if (fin) {
			tcb->snd_nxt++;
			tcb->fin_sent = true;
		}
		if (SEQ_GT(tcb->snd_nxt, tcb->snd_max))
			tcb->snd_max = tcb->snd_nxt;
	}
	/* FIN alone once every byte went out (it takes no window: one sequence number) */
	if (tcb->fin_queued && !tcb->fin_sent && tcb->snd_nxt == tcb->fin_seq) {
		send_seg(ctx, tcb, tcb->fin_seq, 0, true, false);
		tcb->snd_nxt = tcb->fin_seq + 1;
		tcb->fin_sent = true;
		if (SEQ_GT(tcb->snd_nxt, tcb->snd_max))
			tcb->snd_max = tcb->snd_nxt;
	}
	/* zero window with data waiting and nothing in flight: only probes can learn
	 * when it reopens (RFC 9293 3.8.6.1) */
	if (tcb->snd_wnd == 0 && SEQ_LT(tcb->snd_nxt, end) && tcb->snd_nxt == tcb->snd_una &&
	    !tcp_timer_armed(tcb, TCP_T_PERSIST)) {
		tcp_timer_stop(ctx, tcb, TCP_T_REXMIT);
		tcb->npersist = 0;
		tcp_timer_arm(ctx, tcb, TCP_T_PERSIST, tcb->rto_us);
	}
	/* RFC 8985 7.2: new data went out: the probe timeout restarts from it */
	if (tcb->snd_max != max_before)
		tcp_rack_schedule_tlp(ctx, tcb);
ack:
	if (tcb->ack_now && tcb->state >= SHUNT_SS_ESTABLISHED)
		tcp_send_ack(ctx, tcb);
}
