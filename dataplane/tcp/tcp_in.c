/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP input: RFC 9293 3.10.7 "SEGMENT ARRIVES", step by step, plus a fast path.
 *
 *   tcp_input() -> tcp_input_bytes() -> parse -> lookup -> tcp_segment_arrives()
 *     no connection, a listener on the port -> listen_input() (3.10.7.2): a child
 *                     in SYN_RECEIVED, SYN-ACK (tcp_listen.c keeps the queues);
 *                     SYN queue full -> listen_cookie_syn(): a SYN cookie, no state;
 *                     ACK after cookies -> listen_cookie_ack(): the child, ESTABLISHED
 *     SYN_SENT      -> syn_sent()         (3.10.7.3)
 *     ESTABLISHED, in-order, no flags but ACK -> fast path: steps 1-4 skipped
 *     other states  -> synchronized()     (3.10.7.4 first..eighth)
 *                        -> check_seq() -> RST -> SYN -> ack_step()/process_ack()
 *                           (with SACK: tcp_sack_update() -> sack_on_ack():
 *                           RFC 6675 recovery; without: RFC 6582 NewReno)
 *                        -> receive_data() -> receive_fin() -> tcp_output()
 *
 * A tcb can be freed inside (reset, LAST_ACK done): every path returns right after
 * tcb_close()/tcb_reset().
 */
#include <errno.h>
#include <limits.h>

#include <rte_mbuf.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp_ecn.h"
#include "tcp/tcp_in.h"
#include "tcp/tcp_isn.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_syncookie.h"
#include "tcp/tcp_table.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_undo.h"
#include "tcp/tcp_wire.h"

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t ms_now(const struct dp_ctx *ctx)
{
	return (uint32_t)(ctx->now_us / 1000);
}

/* Effective send MSS: the peer's MSS (536 if absent) within TCP_MAXSEG (kept as
 * mss_clamp) and the path MTU, less the timestamp option every segment will carry
 * (tcp_mtu_to_mss()). */
static uint16_t eff_mss(const struct dp_ctx *ctx, struct tcb *tcb, uint16_t peer_mss)
{
	uint32_t m = peer_mss ? peer_mss : TCP_MSS_DEFAULT;

	if (tcb->user_mss != 0)
		m = min_u32(m, tcb->user_mss); /* Linux: mss_clamp = min(user_mss, the peer's) */
	tcb->mss_clamp = (uint16_t)m;
	return tcp_mtu_to_mss(ctx, tcb, tcb->pmtu);
}

static void set_established(struct dp_ctx *ctx, struct tcb *tcb)
{
	/* RFC 6928 IW; RFC 5681 3.1: 1 MSS if the SYN was retransmitted */
	tcb->cwnd = tcb->nrexmit ? tcb->mss : tcp_cc_iw(tcb);
	tcb->ssthresh = UINT32_MAX / 2;
	tcp_cc_init(tcb, ctx->now_us);
	tcb->nrexmit = 0;
	tcb->rexmit_start_us = 0; /* the SYN's clock stops; data starts its own */
	if (tcb->keepalive)
		tcp_timer_arm(ctx, tcb, TCP_T_KEEP, (uint64_t)tcb->keep_idle_s * 1000000);
	tcp_timer_stop(ctx, tcb, TCP_T_REXMIT);
	ctx->tcp_stats.tcp_conn_established++;
	tcp_set_state(ctx, tcb, SHUNT_SS_ESTABLISHED);
	tcb_publish_info(ctx, tcb, true);
}

/* 2 MSL: Linux's fixed 60 s unless the configuration says otherwise (a test bed
 * that must see the connection table empty, as Onload's EF_TCP_TCONST_MSL). */
static uint64_t time_wait_us(const struct dp_ctx *ctx)
{
	return ctx->conf != NULL ? (uint64_t)ctx->conf->time_wait_ms * 1000 : TCP_TIMEWAIT_US;
}

static void enter_time_wait(struct dp_ctx *ctx, struct tcb *tcb)
{
	tcp_set_state(ctx, tcb, SHUNT_SS_TIME_WAIT);
	tcp_timer_stop(ctx, tcb, TCP_T_REXMIT);
	tcp_timer_stop(ctx, tcb, TCP_T_PERSIST);
	tcp_timer_arm(ctx, tcb, TCP_T_WAIT, time_wait_us(ctx));
	/* the rings go back now; the tcb lingers to answer retransmitted FINs */
	if (tcb->s != NULL && tcb->s->app_closed)
		tcb_detach(ctx, tcb);
}

static bool app_closed(const struct tcb *tcb)
{
	return tcb->s == NULL || tcb->s->app_closed;
}

/* ---- ACK processing (fifth step) --------------------------------------------------- */

static void update_window(struct tcb *tcb, const struct tcp_seg *seg)
{
	/* RFC 9293 3.10.7.4 fifth: if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
	 * SND.WL2 =< SEG.ACK), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK */
	if (SEQ_LT(tcb->snd_wl1, seg->seq) ||
	    (tcb->snd_wl1 == seg->seq && SEQ_LEQ(tcb->snd_wl2, seg->ack))) {
		tcb->snd_wnd = (uint32_t)seg->wnd << tcb->snd_ws;
		tcb->snd_wl1 = seg->seq;
		tcb->snd_wl2 = seg->ack;
		if (tcb->snd_wnd > tcb->snd_wnd_max)
			tcb->snd_wnd_max = tcb->snd_wnd;
	}
}

/* RFC 6675 5 steps 4.1-4.3: RecoveryPoint = HighData, ssthresh = cwnd =
 * max(FlightSize / 2, 2 * SMSS) (RFC 5681 (4)), and the first segment not SACKed
 * goes now; tcp_output() then sends what pipe allows (NextSeg). */
static void sack_enter_recovery(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t flight = tcb->snd_max - tcb->snd_una, hs, he;
	bool lost, below;

	tcp_undo_begin(tcb);
	tcb->ssthresh = tcp_loss_ssthresh(tcb);
	tcb->recover = tcb->snd_max;
	tcb->in_recovery = true;
	tcb->rxt_next = tcb->snd_una;
	/* RFC 6937: cwnd is not cut to ssthresh at once; prr_update() lets sending
	 * fall to it in step with the deliveries */
	tcb->prr_delivered = 0;
	tcb->prr_out = 0;
	tcb->recover_fs = flight;
	/* tcp_fast_rexmit counts every fast recovery, SACK or NewReno */
	ctx->tcp_stats.tcp_fast_rexmit++;
	ctx->tcp_stats.tcp_sack_recoveries++;
	if (tcp_sack_next_hole(tcb, tcb->snd_una, &hs, &he, &lost, &below))
		tcp_sack_retransmit(ctx, tcb, hs, he);
}

/* RFC 6937 (Linux tcp_cwnd_reduction()), on each ACK of a SACK recovery that
 * delivered bytes: while pipe is above ssthresh, send in proportion to what was
 * delivered (ssthresh / RecoverFS of it); at or below it, slow-start back up to
 * ssthresh but no faster than the deliveries plus one segment (PRR-SSRB). cwnd
 * is then pipe plus what may go; the first retransmission always goes. */
static void prr_update(struct tcb *tcb, uint32_t delivered)
{
	uint32_t pipe = tcp_sack_pipe(tcb), fs = tcb->recover_fs ? tcb->recover_fs : 1;
	int64_t sndcnt;

	tcb->prr_delivered += delivered;
	if (pipe > tcb->ssthresh) {
		sndcnt = (int64_t)(((uint64_t)tcb->prr_delivered * tcb->ssthresh + fs - 1) / fs) -
			 tcb->prr_out;
	} else {
		int64_t limit = (int64_t)tcb->prr_delivered - tcb->prr_out;

		if (limit < (int64_t)delivered)
			limit = delivered;
		limit += tcb->mss;
		sndcnt = (int64_t)(tcb->ssthresh - pipe);
		if (sndcnt > limit)
			sndcnt = limit;
	}
	if (sndcnt < 0)
		sndcnt = 0;
	if (tcb->prr_out == 0 && sndcnt < tcb->mss)
		sndcnt = tcb->mss;
	tcb->cwnd = pipe + (uint32_t)sndcnt;
}

/* After an RTO, RFC 6675 5.1 waits for the recovery point before SACK recovery
 * may start again, so a lost retransmission of the go-back-N costs another, backed
 * off, RTO. RACK sees it lost (RFC 8985 6.3: RACK keeps working after an RTO):
 * what remains is repaired as a SACK recovery with every byte outstanding at the
 * RTO lost, no further reduction of cwnd (the RTO made it), and what the go-back-N
 * resent that is still in flight skipped (tcp_rack_live_rexmit). */
static void rto_to_sack_recovery(struct dp_ctx *ctx, struct tcb *tcb)
{
	ctx->tcp_stats.tcp_rack_rto_repair++;
	tcb->rto_recover = false;
	tcb->in_recovery = true;
	tcb->rxt_next = tcb->snd_una;
	tcb->rack_lost = true;
	tcb->rack_lost_end = tcb->recover;
	tcb->rack_relost = false;
	tcb->prr_delivered = 0;
	tcb->prr_out = 0;
	tcb->recover_fs = tcb->snd_max - tcb->snd_una;
	tcb->snd_nxt = tcb->snd_max;
	if (tcb->fin_queued && SEQ_LT(tcb->fin_seq, tcb->snd_max))
		tcb->fin_sent = true;
}

/* RFC 6675 5: loss recovery starts on DupThresh duplicate ACKs or when
 * IsLost(HighACK + 1), outside recovery, with data outstanding, and not before an
 * RTO's recovery point is acknowledged (5.1). */
static void sack_maybe_enter(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t hs, he;
	bool lost, below;

	if (tcb->in_recovery || tcb->snd_una == tcb->snd_max)
		return;
	if (tcb->rto_recover) {
		if (tcb->rack_relost)
			rto_to_sack_recovery(ctx, tcb);
		return;
	}
	/* RACK (RFC 8985 6.2): one delivered segment sent after a hole, and the
	 * hole's time is up: no need to wait for DupThresh of them */
	if (tcb->dupacks >= TCP_DUPTHRESH || tcp_sack_is_lost(tcb, tcb->snd_una) ||
	    (tcb->rack_lost && tcp_sack_next_hole(tcb, tcb->snd_una, &hs, &he, &lost, &below) &&
	     lost))
		sack_enter_recovery(ctx, tcb);
}

void tcp_loss_marked(struct dp_ctx *ctx, struct tcb *tcb)
{
	sack_maybe_enter(ctx, tcb);
	if (tcb->in_recovery)
		prr_update(tcb, 0);
	tcp_output(ctx, tcb);
	tcb_publish_info(ctx, tcb, false);
}

/* acked new bytes outside recovery (snd_una already moved past them): slow start
 * and congestion avoidance as the connection's algorithm does them (tcp_cc.c). */
static void cwnd_grow(struct dp_ctx *ctx, struct tcb *tcb, uint32_t acked)
{
	tcb->dupacks = 0;
	tcp_cc_on_ack(ctx, tcb, acked, tcb->snd_max - tcb->snd_una + acked);
}

/* Recovery (SACK's or NewReno's) ends. NewReno: cwnd as RFC 6582 3.2 step 6
 * option 1, min(ssthresh, FlightSize + SMSS), so a full ACK sends no burst. With
 * SACK, cwnd = ssthresh as Linux's tcp_end_cwnd_reduction(): pipe was held to cwnd
 * through the recovery, and a full ACK that leaves nothing in flight would
 * otherwise restart from one segment, whose loss only the RTO can repair. Unless
 * the recovery proves spurious (tcp_undo.c): then cwnd is what it was before. */
static void recovery_exit(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (tcb->sack_ok)
		tcb->cwnd = tcb->ssthresh;
	else
		tcb->cwnd = min_u32(tcb->ssthresh, tcb->snd_max - tcb->snd_una + tcb->mss);
	tcb->in_recovery = false;
	tcb->dupacks = 0;
	tcp_undo_recovery(ctx, tcb, seg);
}

/* An ACK with SACK negotiated, after the scoreboard took its blocks and snd_una
 * moved by acked (0: a duplicate candidate). dup5681: RFC 5681's duplicate ACK
 * conditions hold. */
static void sack_on_ack(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg,
			uint32_t acked, uint32_t newly, uint32_t delivered, bool dup5681)
{
	if (acked == 0) {
		/* RFC 6675 2: a duplicate ACK is one that SACKs new data; one without
		 * blocks counts as RFC 5681 says (a peer that sends none after all) */
		if (newly == 0 && !(dup5681 && tcb->n_sacked == 0))
			return;
		ctx->tcp_stats.tcp_dup_ack_rx++;
		if (tcb->dupacks < UINT8_MAX)
			tcb->dupacks++;
		sack_maybe_enter(ctx, tcb);
		if (tcb->in_recovery)
			prr_update(tcb, delivered);
		return;
	}
	if (tcb->rto_recover && SEQ_GEQ(tcb->snd_una, tcb->recover))
		tcb->rto_recover = false;
	if (tcb->in_recovery) {
		if (SEQ_GEQ(tcb->snd_una, tcb->recover)) {
			recovery_exit(ctx, tcb, seg); /* RecoveryPoint acknowledged */
		} else {
			/* partial ACK: PRR sets cwnd. With nothing SACKed above snd_una
			 * nothing is judged lost: RFC 6582 3.2 step 5 would resend the
			 * next segment, but with SACK Linux leaves that to RACK, the TLP
			 * and the RTO, and the catch-up ACKs of a reordered flight are
			 * partial ACKs of segments in flight (a capture of 1% reordering
			 * had 606 of 726 resends below an ACK already sent) */
			if (SEQ_LT(tcb->rxt_next, tcb->snd_una))
				tcb->rxt_next = tcb->snd_una;
			prr_update(tcb, delivered);
			return;
		}
	} else {
		cwnd_grow(ctx, tcb, acked);
	}
	sack_maybe_enter(ctx, tcb); /* holes left above the new snd_una */
	if (tcb->in_recovery)
		prr_update(tcb, delivered);
}

/* RFC 8985 7.4: the ACK of a tail loss probe. A probe that resent data and drew
 * no D-SACK repaired a loss: congestion control answers as for one (7.4.2). */
static void tlp_acked(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if (!tcb->tlp_out)
		return;
	if (tcp_sack_dsack(seg))
		tcb->tlp_dsack = true;
	if (!SEQ_GEQ(seg->ack, tcb->tlp_high))
		return;
	tcb->tlp_out = false;
	if (!tcb->tlp_rexmit || tcb->tlp_dsack)
		return;
	ctx->tcp_stats.tcp_tlp_repaired++;
	tcb->ssthresh = tcp_loss_ssthresh(tcb);
	if (tcb->cwnd > tcb->ssthresh)
		tcb->cwnd = tcb->ssthresh;
}

/* SND.UNA =< SEG.ACK =< snd_max. Returns true when our FIN is now acknowledged. */
static bool process_ack(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t acked = seg->ack - tcb->snd_una, data, old_wnd = tcb->snd_wnd, newly;
	uint32_t sacked0 = tcp_sack_bytes(tcb), sacked1;
	bool fin_acked = false, dup5681;

	tcp_ecn_ack(ctx, tcb, seg);
	update_window(tcb, seg);
	newly = tcp_sack_update(ctx, tcb, seg);
	tcp_undo_dsack(tcb, seg);
	tlp_acked(ctx, tcb, seg);
	tcb->probes_out = 0; /* the peer answers (Linux tcp_ack()) */
	if (old_wnd == 0 && tcb->snd_wnd != 0 && tcp_timer_armed(tcb, TCP_T_PERSIST)) {
		tcp_timer_stop(ctx, tcb, TCP_T_PERSIST); /* window reopened */
		tcb->npersist = 0;
	}

	if (acked == 0) {
		/* RFC 5681 2: a duplicate ACK acks nothing new, carries no data, SYN or FIN,
		 * leaves the window alone, and comes while data is outstanding */
		dup5681 = seg->len == 0 && !(seg->flags & (TCP_SYN | TCP_FIN)) &&
			  tcb->snd_una != tcb->snd_max && tcb->snd_wnd == old_wnd;
		if (tcb->sack_ok) {
			tcp_rack_on_ack(ctx, tcb, tcb->snd_una, seg);
			sack_on_ack(ctx, tcb, seg, 0, newly, newly, dup5681);
			tcp_undo_by_dsack(ctx, tcb);
			tcp_rack_schedule_tlp(ctx, tcb);
			tcb_publish_info(ctx, tcb, false);
			return false;
		}
		if (dup5681) {
			ctx->tcp_stats.tcp_dup_ack_rx++;
			tcb->dupacks++;
			if (tcb->dupacks == 3 && !tcb->in_recovery) {
				/* RFC 6582 3.2 step 2-4: fast retransmit, enter fast recovery */
				tcp_undo_begin(tcb);
				tcb->ssthresh = tcp_loss_ssthresh(tcb);
				tcb->recover = tcb->snd_max;
				tcb->in_recovery = true;
				ctx->tcp_stats.tcp_fast_rexmit++;
				tcp_retransmit_head(ctx, tcb);
				tcb->cwnd = tcb->ssthresh + 3u * tcb->mss;
			} else if (tcb->dupacks > 3 && tcb->in_recovery) {
				tcb->cwnd += tcb->mss; /* step 5: inflate for each segment that left */
			}
			tcb_publish_info(ctx, tcb, false);
		}
		return false;
	}

	/* RTT: timestamps (RFC 7323 4.1, valid even for retransmissions) or the one
	 * timed segment (RFC 6298 3, Karn) */
	if (tcb->ts_ok && seg->has_ts && seg->tsecr != 0 && ms_now(ctx) - seg->tsecr < 0x7fffffff)
		tcp_rtt_sample(tcb, (ms_now(ctx) - seg->tsecr) * 1000u);
	else if (tcb->rtt_timing && SEQ_GT(seg->ack, tcb->rtt_seq))
		tcp_rtt_sample(tcb, (uint32_t)(ctx->now_us - tcb->rtt_start_us));
	if (tcb->rtt_timing && SEQ_GT(seg->ack, tcb->rtt_seq))
		tcb->rtt_timing = false;

	/* what the ack covers: SYN, data, FIN; only data lives in the tx ring. Both
	 * are judged in sequence space, not from snd_una == iss (true again after
	 * 2^32 bytes) or fin_sent (cleared when an RTO rewinds snd_nxt). */
	data = acked;
	if (!tcb->syn_acked) {
		data--; /* our SYN */
		tcb->syn_acked = true;
	}
	if (tcb->fin_queued && SEQ_GT(seg->ack, tcb->fin_seq)) {
		data--; /* ack <= snd_max, so the FIN was sent */
		fin_acked = true;
	}
	if (tcb->s != NULL && data)
		dp_sock_tx_release(ctx, tcb->s, data);
	tcb->snd_una = seg->ack;
	if (SEQ_LT(tcb->snd_nxt, tcb->snd_una))
		tcb->snd_nxt = tcb->snd_una;
	tcb->nrexmit = 0;
	tcb->rexmit_start_us = 0;

	/* RFC 6298 5.2/5.3: stop the RTO when all is acked, else restart it */
	if (tcb->snd_una == tcb->snd_max)
		tcp_timer_stop(ctx, tcb, TCP_T_REXMIT);
	else
		tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, tcb->rto_us);
	/* an RTO's go-back-N runs: was the RTO spurious? (Eifel, tcp_undo.c) */
	tcp_undo_after_rto(ctx, tcb, seg);

	if (tcb->sack_ok) {
		tcp_sack_advance(ctx, tcb);
		/* RFC 6937 DeliveredData: what snd_una passed, plus what the scoreboard
		 * grew by (less when the ACK took bytes it held) */
		sacked1 = tcp_sack_bytes(tcb);
		tcp_rack_on_ack(ctx, tcb, seg->ack - acked, seg);
		sack_on_ack(ctx, tcb, seg, acked, newly,
			    acked + sacked1 > sacked0 ? acked + sacked1 - sacked0 : 0, false);
		tcp_undo_by_dsack(ctx, tcb);
		tcp_rack_schedule_tlp(ctx, tcb);
	} else if (tcb->in_recovery) {
		if (SEQ_GEQ(seg->ack, tcb->recover)) {
			recovery_exit(ctx, tcb, seg); /* a full ACK */
		} else {
			/* partial ACK: retransmit the next hole, deflate by what was acked,
			 * add back one SMSS */
			tcp_retransmit_head(ctx, tcb);
			tcb->cwnd = tcb->cwnd > acked ? tcb->cwnd - acked : 0;
			tcb->cwnd += tcb->mss;
		}
	} else {
		cwnd_grow(ctx, tcb, acked);
	}
	tcb_publish_info(ctx, tcb, false); /* per ACK: throttled */
	return fin_acked;
}

/* ---- receive (seventh and eighth steps) ------------------------------------------- */

/* Insert [start, end) into the out-of-order list (sorted, merged). false if full. */
static bool ooo_insert(struct tcb *tcb, uint32_t start, uint32_t end)
{
	uint8_t at;

	return tcp_range_insert(tcb->ooo, &tcb->n_ooo, TCP_OOO_MAX, start, end, &at);
}

/* Payload [seq, seq + len), already trimmed to start at or after rcv_nxt and to
 * end inside the window. Returns the bytes accepted. */
static uint32_t receive_data(struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq,
			     const uint8_t *data, uint32_t len)
{
	struct dp_sock *s = tcb->s;
	uint32_t off = seq - tcb->rcv_nxt, space, before;
	bool filled = false;

	if (s == NULL || len == 0)
		return 0;
	/* What the ring holds, not what we offer: data inside a window advertised
	 * before the process's memory bound tightened is still taken. */
	space = dp_sock_rx_room(s);
	if (off >= space) {
		ctx->tcp_stats.tcp_drop_rx_full++;
		tcb->ack_now = true;
		return 0;
	}
	if (len > space - off) {
		ctx->tcp_stats.tcp_drop_rx_full++;
		len = space - off;
	}
	if (off != 0) {
		/* out of order: written in place, held until the gap fills; RFC 5681 4.2:
		 * an immediate (duplicate) ACK tells the sender about the hole */
		tcb->ack_now = true;
		if (!ooo_insert(tcb, seq, seq + len)) {
			ctx->tcp_stats.tcp_drop_ooo_full++;
			return 0;
		}
		tcb->ooo_recent = seq;
		ctx->tcp_stats.tcp_ooo_rx++;
		dp_sock_rx_write(s, off, data, len);
		return len;
	}
	dp_sock_rx_write(s, 0, data, len);
	before = tcb->rcv_nxt;
	tcb->rcv_nxt += len;
	while (tcb->n_ooo && SEQ_LEQ(tcb->ooo[0].start, tcb->rcv_nxt)) {
		if (SEQ_GT(tcb->ooo[0].end, tcb->rcv_nxt))
			tcb->rcv_nxt = tcb->ooo[0].end;
		tcb->n_ooo--;
		for (uint8_t i = 0; i < tcb->n_ooo; i++)
			tcb->ooo[i] = tcb->ooo[i + 1];
		filled = true;
	}
	dp_sock_rx_commit(ctx, s, tcb->rcv_nxt - before);
	tcb->rcv_unacked += len;
	/* RFC 5681 4.2: ACK at least every second full-sized segment, and at once when
	 * a gap was filled; otherwise delay (RFC 9293 3.8.6.3, Linux 40 ms) */
	if (filled || tcb->rcv_unacked >= 2u * (tcb->rcv_mss - (tcb->ts_ok ? 12u : 0u)))
		tcb->ack_now = true;
	else if (!tcp_timer_armed(tcb, TCP_T_DACK))
		tcp_timer_arm(ctx, tcb, TCP_T_DACK, TCP_DACK_US);
	return len;
}

/* The peer's FIN, in order (its sequence number is rcv_nxt). */
static void receive_fin(struct dp_ctx *ctx, struct tcb *tcb)
{
	tcb->rcv_nxt++;
	tcb->rx_fin_ooo = false;
	tcb->ack_now = true;
	if (tcb->s != NULL)
		dp_sock_set_flags(ctx, tcb->s, SHUNT_SF_RX_EOF, 0);
	switch (tcb->state) {
	case SHUNT_SS_SYN_RECEIVED:
	case SHUNT_SS_ESTABLISHED:
		/* Enter the CLOSE-WAIT state. */
		tcp_set_state(ctx, tcb, SHUNT_SS_CLOSE_WAIT);
		break;
	case SHUNT_SS_FIN_WAIT_1:
		/* If our FIN has been ACKed, TIME-WAIT (handled: we would be in
		 * FIN-WAIT-2); otherwise enter CLOSING. */
		tcp_set_state(ctx, tcb, SHUNT_SS_CLOSING);
		break;
	case SHUNT_SS_FIN_WAIT_2:
		/* Enter TIME-WAIT, start the time-wait timer, turn off the others. */
		tcp_timer_stop(ctx, tcb, TCP_T_WAIT);
		enter_time_wait(ctx, tcb);
		break;
	default:
		/* CLOSE-WAIT, CLOSING, LAST-ACK: remain; TIME-WAIT: restart 2 MSL */
		if (tcb->state == SHUNT_SS_TIME_WAIT)
			tcp_timer_arm(ctx, tcb, TCP_T_WAIT, time_wait_us(ctx));
		break;
	}
}

/* Seventh and eighth steps for a segment trimmed to the window. */
static void text_and_fin(struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, const uint8_t *data,
			 uint32_t len, bool fin)
{
	uint32_t got = 0;

	switch (tcb->state) {
	case SHUNT_SS_ESTABLISHED:
	case SHUNT_SS_FIN_WAIT_1:
	case SHUNT_SS_FIN_WAIT_2:
		/* seventh: deliver segment text to the receive buffer */
		got = receive_data(ctx, tcb, seq, data, len);
		break;
	default:
		/* CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: a FIN has been received,
		 * ignore the text */
		break;
	}
	if (!fin || got != len)
		return; /* a FIN behind bytes we could not take waits for retransmission */
	if (seq + len == tcb->rcv_nxt) {
		receive_fin(ctx, tcb);
	} else if (SEQ_GT(seq + len, tcb->rcv_nxt)) {
		tcb->rx_fin_ooo = true;
		tcb->rx_fin_seq = seq + len;
	}
}

/* Room in listener l's accept queue for one more record? If not, count the drop:
 * *full (the reason the caller drops for), or tcp_listen_drop_broken when the
 * app's rx_cons is impossible. */
static bool acceptq_room(struct dp_ctx *ctx, struct tcb *l, uint64_t *full)
{
	int rc = tcp_listen_acceptq_check(l);

	if (rc == 0)
		return true;
	if (rc == -EIO)
		ctx->tcp_stats.tcp_listen_drop_broken++;
	else
		(*full)++;
	return false;
}

/* The peer's SYN, in SYN-SENT (its SYN-ACK) or LISTEN: IRS <- SEG.SEQ, RCV.NXT <-
 * SEG.SEQ + 1, and each option only if both sides offered it (RFC 7323 1.3, 2.2). */
static void take_syn(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	tcb->irs = seg->seq;
	tcb->rcv_nxt = seg->seq + 1;
	tcb->rcv_adv = tcb->rcv_nxt;
	if (seg->has_ws) {
		tcb->ws_ok = true;
		tcb->snd_ws = seg->ws;
	} else {
		tcb->rcv_ws = 0;
	}
	if (seg->has_ts) {
		tcb->ts_ok = true;
		tcb->ts_recent = seg->tsval;
	}
	/* a SYN-ACK answers only what our SYN offered */
	tcb->sack_ok = seg->sack_ok;
	tcb->mss = eff_mss(ctx, tcb, seg->mss);
	tcp_ecn_syn_in(ctx, tcb, seg);
}

/* ---- SYN-SENT (3.10.7.3) ------------------------------------------------------------ */

static void syn_sent(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg,
		     uint32_t src_be, uint32_t dst_be)
{
	/* first: if ACK and SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless
	 * RST) and discard */
	if ((seg->flags & TCP_ACK) &&
	    (SEQ_LEQ(seg->ack, tcb->iss) || SEQ_GT(seg->ack, tcb->snd_max))) {
		ctx->tcp_stats.tcp_drop_bad_ack++;
		tcp_reply_rst(ctx, src_be, dst_be, seg);
		return;
	}
	/* second: RST with an acceptable ACK: "error: connection reset", CLOSED;
	 * without ACK: drop */
	if (seg->flags & TCP_RST) {
		ctx->tcp_stats.tcp_rst_rx++;
		if (!(seg->flags & TCP_ACK))
			return;
		ctx->tcp_stats.tcp_conn_refused++;
		tcb_reset(ctx, tcb, ECONNREFUSED);
		return;
	}
	/* fourth: SYN */
	if (!(seg->flags & TCP_SYN)) {
		ctx->tcp_stats.tcp_drop_bad_state++; /* fifth: neither SYN nor RST: drop */
		return;
	}
	take_syn(ctx, tcb, seg);

	if (!(seg->flags & TCP_ACK)) {
		/* simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
		tcp_set_state(ctx, tcb, SHUNT_SS_SYN_RECEIVED);
		tcp_send_syn(ctx, tcb);
		return;
	}
	/* SND.UNA <- SEG.ACK; SND.UNA > ISS: our SYN is acked, ESTABLISHED, send ACK.
	 * The SYN-ACK's window is never scaled (RFC 7323 2.2). */
	tcb->snd_una = seg->ack;
	tcb->syn_acked = true;
	tcb->snd_wnd = seg->wnd;
	tcb->snd_wnd_max = seg->wnd;
	tcb->snd_wl1 = seg->seq;
	tcb->snd_wl2 = seg->ack;
	if (tcb->ts_ok && seg->tsecr != 0 && ms_now(ctx) - seg->tsecr < 0x7fffffff)
		tcp_rtt_sample(tcb, (ms_now(ctx) - seg->tsecr) * 1000u);
	else if (tcb->nrexmit == 0)
		tcp_rtt_sample(tcb, (uint32_t)(ctx->now_us - tcb->rtt_start_us));
	else
		tcb->rto_us = 3 * TCP_RTO_INIT_US; /* RFC 6298 5.7: SYN lost, no sample */
	tcb->rtt_timing = false;
	set_established(ctx, tcb);
	tcb->ack_now = true;
	/* sixth..eighth: data or FIN on the SYN-ACK */
	text_and_fin(ctx, tcb, seg->seq + 1, seg->data, seg->len, seg->flags & TCP_FIN);
	tcp_output(ctx, tcb);
}

/* ---- LISTEN (3.10.7.2) -------------------------------------------------------------- */

/* A new child of l for the peer src:sport talking to dst: its own slot in l's
 * process, a tcb with what it inherits of l, in the 4-tuple table, CLOSED. NULL
 * (counted) when there is no slot or no memory. */
static struct tcb *listen_child_new(struct dp_ctx *ctx, struct tcb *l, uint32_t src_be,
				    uint16_t sport_be, uint32_t dst_be)
{
	struct dp_sock *ls = l->s, *cs;
	struct tcb *c;

	cs = dp_app_sock_spawn(ctx, ls->app, SHUNT_SOCK_STREAM);
	if (cs == NULL) {
		ctx->tcp_stats.tcp_listen_drop_noslot++;
		return NULL;
	}
	if (tcp_open(ctx, cs) != 0) {
		ctx->tcp_stats.tcp_listen_drop_nomem++;
		dp_app_release_slot(ctx, cs->app, cs);
		return NULL;
	}
	c = cs->pcb;
	/* what a child inherits of its listener (Linux sk_clone_lock()) */
	c->nodelay = l->nodelay;
	c->cork = l->cork;
	c->linger0 = l->linger0;
	c->keepalive = l->keepalive;
	c->keep_idle_s = l->keep_idle_s;
	c->keep_intvl_s = l->keep_intvl_s;
	c->keep_cnt = l->keep_cnt;
	c->user_timeout_us = l->user_timeout_us;
	c->user_mss = l->user_mss;
	(void)tcp_cc_select(c, l->cc, false);
	tcp_pmtu_init(ctx, c, src_be); /* Linux tcp_v4_syn_recv_sock(): the route's */
	c->rcv_mss = tcp_adv_mss(ctx, c);
	c->tos = l->tos;
	c->ttl = l->ttl;
	cs->rcvbuf = ls->rcvbuf > cs->rx_size ? cs->rx_size : ls->rcvbuf;
	cs->sndbuf = ls->sndbuf > cs->tx_size ? cs->tx_size : ls->sndbuf;
	c->rcv_ws = tcp_rcv_wscale(ctx, cs); /* with the listener's SO_RCVBUF */
	c->syn_retries = TCP_SYNACK_RETRIES;

	c->laddr_be = dst_be;
	c->raddr_be = src_be;
	c->rport_be = sport_be;
	tcp_port_inherit(ctx->tcp, c, l);
	tcp_table_insert(ctx->tcp, c);
	c->last_rx_us = ctx->now_us;
	return c;
}

/* Child c (addresses, sequence numbers and options set) becomes l's half-open
 * child in SYN_RECEIVED, its slot showing both addresses. */
static void listen_child_half_open(struct dp_ctx *ctx, struct tcb *l, struct tcb *c)
{
	tcb_stage_port(c);
	dp_sock_set_local(c->s, c->laddr_be, c->lport_be);
	dp_sock_set_remote(c->s, c->raddr_be, c->rport_be);
	tcp_listen_add_child(l, c);
	tcp_set_state(ctx, c, SHUNT_SS_SYN_RECEIVED);
}

/* A child for SYN seg (src -> dst) on listener l: its own slot in l's process, a
 * tcb in SYN_RECEIVED with its own ISN, the options a Linux SYN-ACK carries. */
static void listen_spawn(struct dp_ctx *ctx, struct tcb *l, const struct tcp_seg *seg,
			 uint32_t src_be, uint32_t dst_be)
{
	struct tcb *c = listen_child_new(ctx, l, src_be, seg->sport_be, dst_be);

	if (c == NULL)
		return;
	/* text on the SYN is not taken (no TCP Fast Open: Linux drops it too, the
	 * peer sends it again) */
	take_syn(ctx, c, seg);
	/* the SYN's window is never scaled (RFC 7323 2.2) */
	c->snd_wnd = c->snd_wnd_max = seg->wnd;
	c->snd_wl1 = seg->seq;
	c->iss = ctx->tcp->tw_isn_set ? ctx->tcp->tw_isn :
		 tcp_isn(ctx->tcp, dst_be, c->lport_be, src_be, seg->sport_be, ctx->now_us);
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_sml = c->iss;
	c->snd_wl2 = c->iss;
	/* RTT from the SYN-ACK (Linux tcp_synack_rtt_meas()): timed unless
	 * timestamps will give the sample */
	c->rtt_timing = !c->ts_ok;
	c->rtt_seq = c->iss;
	c->rtt_start_us = ctx->now_us;
	c->rexmit_start_us = ctx->now_us;

	listen_child_half_open(ctx, l, c);
	ctx->tcp_stats.tcp_listen_child++;
	/* SYN-RECEIVED; send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK> */
	tcp_send_syn(ctx, c);
	tcp_timer_arm(ctx, c, TCP_T_REXMIT, TCP_RTO_INIT_US);
	tcb_publish_info(ctx, c, true);
}

/* ---- SYN cookies (tcp_syncookie.c) ---------------------------------------------- */

/* The window a cookie SYN-ACK offers: what a child's empty ring will hold (all
 * slots of a process have the listener's ring size), never scaled in a SYN. */
static uint16_t cookie_wnd(const struct dp_sock *ls)
{
	uint32_t room = ls->rcvbuf && ls->rcvbuf < ls->rx_size ? ls->rcvbuf : ls->rx_size;

	return (uint16_t)min_u32(room, 0xffff);
}

/* SYN seg (src -> dst) while l's SYN queue is full: Linux tcp_conn_request() with
 * want_cookie. <SEQ=cookie><ACK=SEG.SEQ+1><CTL=SYN,ACK>, nothing kept but the
 * listener's stamp that it sent cookies. */
static void listen_cookie_syn(struct dp_ctx *ctx, struct tcb *l, const struct tcp_seg *seg,
			      uint32_t src_be, uint32_t dst_be)
{
	struct tcp_hdr_out h = { .sport_be = seg->dport_be, .dport_be = seg->sport_be,
				 .ack = seg->seq + 1, .flags = TCP_SYN | TCP_ACK };
	uint16_t mss = seg->mss;
	/* Linux tcp_conn_request(): without a timestamp the cookie cannot carry it */
	bool ecn = seg->has_ts && tcp_ecn_syn_accept(ctx->tcp, seg);

	h.seq = tcp_syncookie_make(ctx->tcp, src_be, seg->sport_be, dst_be, seg->dport_be,
				   seg->seq, &mss, ctx->now_us);
	h.wnd = cookie_wnd(l->s);
	h.mss = l->rcv_mss;
	/* Only the timestamp can bring the peer's window shift back (Linux
	 * tcp_clear_options() when the SYN has none): without it, no scaling. */
	if (seg->has_ts) {
		h.has_ts = true;
		h.tsval = tcp_syncookie_tsval(ms_now(ctx),
					      seg->has_ws ? seg->ws : TCP_SYNCOOKIE_NO_WS,
					      seg->sack_ok, ecn);
		if (ecn)
			h.flags |= TCP_ECE;
		h.tsecr = seg->tsval;
		h.sack_ok = seg->sack_ok; /* carried in the TSval too */
		if (seg->has_ws) {
			h.has_ws = true;
			h.ws = tcp_rcv_wscale(ctx, l->s);
		}
	}
	/* Linux tcp_synq_overflow(): ACKs are checked against cookies from now on */
	l->synq_overflowed = true;
	l->synq_overflow_us = ctx->now_us;
	ctx->tcp_stats.tcp_syncookies_sent++;
	tcp_send_hdr(ctx, l, dst_be, src_be, &h); /* with the listener's TOS and TTL */
}

/* Has l sent a cookie recently enough for an ACK to carry one? (Linux
 * !tcp_synq_no_recent_overflow()) */
static bool listen_cookies_recent(const struct dp_ctx *ctx, const struct tcb *l)
{
	return ctx->tcp->syncookies && l->synq_overflowed &&
	       ctx->now_us - l->synq_overflow_us <= TCP_SYNCOOKIE_VALID_US;
}

/* ACK seg (src -> dst) for no connection on l, cookies sent lately: Linux
 * cookie_v4_check(). A good cookie makes the child, which the ACK then takes from
 * SYN_RECEIVED to ESTABLISHED (Linux tcp_get_cookie_sock() -> tcp_child_process()):
 * announced, and any data or FIN on the ACK processed. A bad one: RST. */
static void listen_cookie_ack(struct dp_ctx *ctx, struct tcb *l, const struct tcp_seg *seg,
			      uint32_t src_be, uint32_t dst_be)
{
	uint16_t mss;
	uint8_t ws;
	struct tcb *c;

	mss = tcp_syncookie_check(ctx->tcp, src_be, seg->sport_be, dst_be, seg->dport_be,
				  seg->seq - 1, seg->ack - 1, ctx->now_us);
	if (mss == 0) {
		/* Linux: LINUX_MIB_SYNCOOKIESFAILED, then the listener's answer to an
		 * ACK: <SEQ=SEG.ACK><CTL=RST> */
		ctx->tcp_stats.tcp_syncookies_failed++;
		ctx->tcp_stats.tcp_drop_bad_ack++;
		tcp_reply_rst(ctx, src_be, dst_be, seg);
		return;
	}
	ctx->tcp_stats.tcp_syncookies_ok++;
	/* Linux tcp_v4_syn_recv_sock(): a full accept queue drops the ACK, as for a
	 * child in SYN_RECEIVED; the peer retransmits it */
	if (!acceptq_room(ctx, l, &ctx->tcp_stats.tcp_listen_drop_ack_full))
		return;
	c = listen_child_new(ctx, l, src_be, seg->sport_be, dst_be);
	if (c == NULL)
		return;
	/* the handshake as it was: IRS = SEG.SEQ - 1, ISS = SEG.ACK - 1 */
	c->irs = seg->seq - 1;
	c->rcv_nxt = seg->seq;
	c->iss = seg->ack - 1;
	c->snd_una = c->snd_sml = c->snd_wl2 = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wl1 = c->irs; /* the ACK's window is taken below */
	/* options: Linux cookie_timestamp_decode(); no timestamp, no window scaling */
	c->rcv_ws = 0;
	if (seg->has_ts && ctx->tcp->ts_on) { /* an ACK's, as tcp_parse_options() takes it */
		c->ts_ok = true;
		c->ts_recent = seg->tsval;
		ws = tcp_syncookie_ts_ws(seg->tsecr);
		c->sack_ok = tcp_syncookie_ts_sack(seg->tsecr);
		tcp_ecn_cookie(ctx, c, tcp_syncookie_ts_ecn(seg->tsecr));
		if (ws != TCP_SYNCOOKIE_NO_WS) {
			c->ws_ok = true;
			c->snd_ws = ws; /* 0..14: 15 is TCP_SYNCOOKIE_NO_WS */
			c->rcv_ws = tcp_rcv_wscale(ctx, l->s); /* as the SYN-ACK said */
		}
	}
	c->mss = eff_mss(ctx, c, mss);
	/* the right edge the SYN-ACK offered, as far as this ring backs it */
	c->rcv_adv = c->rcv_nxt + min_u32(cookie_wnd(l->s), dp_sock_rx_room(c->s));
	/* no SYN-ACK was timed (Linux: snt_synack = 0); a timestamp gives the
	 * sample, as in Linux, the cookie's low bits making it up to 63 ms long */
	c->rtt_timing = false;
	listen_child_half_open(ctx, l, c);
	tcp_segment_arrives(ctx, c, seg);
}

static bool bad_peer_addr(uint32_t addr_be)
{
	const uint8_t *a = (const uint8_t *)&addr_be;

	/* Linux tcp_v4_conn_request(): no connection from a broadcast or multicast
	 * source (nor from 0.0.0.0) */
	return addr_be == 0 || addr_be == 0xffffffffu || (a[0] >= 224 && a[0] <= 239);
}

/* A segment for no connection, to the port of listener l (bound to its address). */
static void listen_input(struct dp_ctx *ctx, struct tcb *l, const struct tcp_seg *seg,
			 uint32_t src_be, uint32_t dst_be)
{
	/* first: check for an RST; an incoming RST is ignored */
	if (seg->flags & TCP_RST) {
		ctx->tcp_stats.tcp_rst_rx++;
		return;
	}
	/* An ACK (no SYN) may complete a handshake answered with a cookie (Linux
	 * tcp_v4_cookie_check(), before the LISTEN processing) */
	if ((seg->flags & (TCP_ACK | TCP_SYN)) == TCP_ACK && listen_cookies_recent(ctx, l)) {
		listen_cookie_ack(ctx, l, seg, src_be, dst_be);
		return;
	}
	/* second: any acknowledgment is bad if it arrives on a connection still in
	 * the LISTEN state: <SEQ=SEG.ACK><CTL=RST> */
	if (seg->flags & TCP_ACK) {
		ctx->tcp_stats.tcp_drop_bad_ack++;
		tcp_reply_rst(ctx, src_be, dst_be, seg);
		return;
	}
	/* fourth: other text or control: drop */
	if (!(seg->flags & TCP_SYN)) {
		ctx->tcp_stats.tcp_listen_drop_no_syn++;
		return;
	}
	/* third: SYN. Linux tcp_rcv_state_process() discards SYN+FIN. */
	if (seg->flags & TCP_FIN) {
		ctx->tcp_stats.tcp_listen_drop_synfin++;
		return;
	}
	if (bad_peer_addr(src_be)) {
		ctx->tcp_stats.tcp_listen_drop_bad_addr++;
		return;
	}
	/* Linux tcp_conn_request(): a full accept queue drops the SYN (the peer
	 * retries); a full SYN queue answers with a SYN cookie (tcp_syncookies = 1),
	 * or drops the SYN with cookies off */
	if (!acceptq_room(ctx, l, &ctx->tcp_stats.tcp_listen_drop_full))
		return;
	if (tcp_listen_synq_full(l)) {
		if (ctx->tcp->syncookies)
			listen_cookie_syn(ctx, l, seg, src_be, dst_be);
		else
			ctx->tcp_stats.tcp_listen_drop_synq++;
		return;
	}
	listen_spawn(ctx, l, seg, src_be, dst_be);
}

/* ---- synchronized states (3.10.7.4) ------------------------------------------------- */

/* Linux __tcp_oow_rate_limited(): a connection answers segments outside its window,
 * failing PAWS or drawing a challenge at most once per tcp_invalid_ratelimit ms,
 * so two ends that disagree about a window cannot ACK each other in a loop and a
 * blind attacker cannot turn its guesses into a flood of ACKs. */
static bool oow_limited(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t now = ms_now(ctx), last = tcb->last_oow_ms;

	if (last != 0 && (int32_t)(now - last) >= 0 && now - last < ctx->conf->invalid_ratelimit)
		return true;
	tcb->last_oow_ms = now ? now : 1;
	return false;
}

/* The duplicate ACK for an unacceptable segment (RFC 9293 3.10.7.4 first). Linux
 * tcp_oow_rate_limited(): one that carries data or a FIN is not part of an ACK
 * loop and is answered every time. */
static void oow_ack(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	if ((seg->len == 0 && !(seg->flags & TCP_FIN)) && oow_limited(ctx, tcb)) {
		ctx->tcp_stats.tcp_oow_ack_skipped++;
		return;
	}
	tcp_send_ack(ctx, tcb);
}

/* RFC 5961 challenge ACK, as Linux tcp_send_challenge_ack(): the connection's own
 * limit first, then, unless tcp_challenge_ack_limit is INT_MAX (Linux's default
 * since 6.0), a host-wide budget per second drawn at random in [limit/2,
 * limit*3/2) so that the count cannot serve as a side channel (CVE-2016-5696). */
static void challenge_ack(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_stack *ts = ctx->tcp;
	uint32_t limit = ctx->conf->challenge_ack_limit, now_s, half;

	if (oow_limited(ctx, tcb)) {
		ctx->tcp_stats.tcp_challenge_ack_skipped++;
		return;
	}
	if (limit != INT_MAX) {
		now_s = (uint32_t)(ctx->now_us / 1000000);
		if (now_s != ts->challenge_s) {
			half = (limit + 1) >> 1;
			ts->challenge_s = now_s;
			ts->challenge_left = half + (limit ? tcp_rand(ts) % limit : tcp_rand(ts));
		}
		if (ts->challenge_left == 0) {
			ctx->tcp_stats.tcp_challenge_ack_skipped++;
			return;
		}
		ts->challenge_left--;
	}
	ctx->tcp_stats.tcp_challenge_ack++;
	tcp_send_ack(ctx, tcb);
}

/* first: sequence number acceptability (the four-case table). */
/* RFC 2883 (Linux tcp_dsack_set(), net.ipv4.tcp_dsack = 1): data that arrives again
 * below RCV.NXT is reported in the first SACK block of the ACK it draws, so the
 * sender learns its retransmission was spurious (RACK widens its reordering
 * window on it). [seq, seq + len) is the segment's text; only what lies below
 * RCV.NXT is reported. */
static void dsack_note(struct tcb *tcb, uint32_t seq, uint32_t len)
{
	uint32_t end = seq + len;

	if (!tcb->sack_ok || len == 0 || !SEQ_LT(seq, tcb->rcv_nxt))
		return;
	tcb->dsack = true;
	tcb->dsack_start = seq;
	tcb->dsack_end = SEQ_LT(end, tcb->rcv_nxt) ? end : tcb->rcv_nxt;
}

static bool seq_acceptable(const struct tcb *tcb, uint32_t seq, uint32_t seg_len)
{
	uint32_t wnd = SEQ_GT(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	uint32_t end = tcb->rcv_nxt + wnd;

	if (seg_len == 0 && wnd == 0)
		return seq == tcb->rcv_nxt;
	if (seg_len == 0)
		return SEQ_LEQ(tcb->rcv_nxt, seq) && SEQ_LT(seq, end);
	if (wnd == 0)
		return false;
	return (SEQ_LEQ(tcb->rcv_nxt, seq) && SEQ_LT(seq, end)) ||
	       (SEQ_LEQ(tcb->rcv_nxt, seq + seg_len - 1) && SEQ_LT(seq + seg_len - 1, end));
}

static void synchronized(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t seq = seg->seq, len = seg->len, seg_len, wnd, skip;
	const uint8_t *data = seg->data;
	bool fin = seg->flags & TCP_FIN;
	bool fin_acked;

	/* first: check sequence number; PAWS (RFC 7323 5.3) rejects old timestamps */
	seg_len = len + !!(seg->flags & TCP_SYN) + fin;
	if (tcb->ts_ok && seg->has_ts && !(seg->flags & TCP_RST) &&
	    SEQ_LT(seg->tsval, tcb->ts_recent)) {
		ctx->tcp_stats.tcp_drop_paws++;
		if (seg->flags & TCP_SYN)
			challenge_ack(ctx, tcb);
		else
			oow_ack(ctx, tcb, seg);
		return;
	}
	if (!seq_acceptable(tcb, seq, seg_len)) {
		/* not acceptable: send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (unless RST) */
		ctx->tcp_stats.tcp_drop_bad_seq++;
		if (!(seg->flags & TCP_RST)) {
			if (tcb->state == SHUNT_SS_TIME_WAIT && fin)
				tcp_timer_arm(ctx, tcb, TCP_T_WAIT, time_wait_us(ctx));
			dsack_note(tcb, seq + !!(seg->flags & TCP_SYN), len);
			if (seg->flags & TCP_SYN) /* Linux: syn_challenge */
				challenge_ack(ctx, tcb);
			else
				oow_ack(ctx, tcb, seg);
		}
		return;
	}
	/* trim to the window: bytes before RCV.NXT are duplicates, bytes beyond the
	 * right edge (and a FIN after them) are not ours yet */
	if (SEQ_LT(seq, tcb->rcv_nxt)) {
		skip = tcb->rcv_nxt - seq;
		if (seg->flags & TCP_SYN)
			skip--; /* the SYN took a sequence number */
		skip = min_u32(skip, len);
		if (!(seg->flags & TCP_RST))
			dsack_note(tcb, seq + !!(seg->flags & TCP_SYN), skip);
		data += skip;
		len -= skip;
		seq += skip + !!(seg->flags & TCP_SYN);
		tcb->ack_now = true; /* a duplicate: the peer may have lost our ACK */
	}
	wnd = SEQ_GT(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	if (SEQ_GT(seq + len, tcb->rcv_nxt + wnd)) {
		len = tcb->rcv_nxt + wnd - seq;
		fin = false;
	}
	/* RFC 7323 4.3: remember the timestamp of a segment that covers RCV.NXT */
	if (tcb->ts_ok && seg->has_ts && SEQ_LEQ(seg->seq, tcb->rcv_nxt))
		tcb->ts_recent = seg->tsval;

	/* second: RST. RFC 5961 3.2: exactly RCV.NXT resets; elsewhere in the window
	 * only draws a challenge ACK */
	if (seg->flags & TCP_RST) {
		ctx->tcp_stats.tcp_rst_rx++;
		if (seg->seq != tcb->rcv_nxt && tcb->state == SHUNT_SS_TIME_WAIT) {
			/* Linux tcp_timewait_state_process(): only the exact RST ends
			 * TIME_WAIT; another is dropped without a word */
			return;
		}
		if (seg->seq != tcb->rcv_nxt) {
			challenge_ack(ctx, tcb);
			return;
		}
		switch (tcb->state) {
		case SHUNT_SS_SYN_RECEIVED:
			/* "If this connection was initiated with a passive OPEN (i.e.,
			 * came from the LISTEN state), then return this connection to
			 * LISTEN state": the child goes, nobody saw it (Linux drops the
			 * request socket) */
			if (tcb->listener != NULL) {
				ctx->tcp_stats.tcp_listen_child_rst_rx++;
				tcp_listen_drop_child(ctx, tcb, false);
				return;
			}
			/* from an active open: "connection refused" */
			ctx->tcp_stats.tcp_conn_refused++;
			tcb_reset(ctx, tcb, ECONNREFUSED);
			return;
		case SHUNT_SS_CLOSE_WAIT:
			/* Linux tcp_reset(): EPIPE once the peer had closed */
			ctx->tcp_stats.tcp_conn_reset++;
			tcb_reset(ctx, tcb, EPIPE);
			return;
		case SHUNT_SS_TIME_WAIT:
			tcb_close(ctx, tcb); /* RFC 1337 would ignore it; Linux closes */
			return;
		default:
			/* ESTABLISHED, FIN-WAIT-1/2, CLOSING, LAST-ACK: "connection reset" */
			ctx->tcp_stats.tcp_conn_reset++;
			tcb_reset(ctx, tcb, app_closed(tcb) ? 0 : ECONNRESET);
			return;
		}
	}
	/* fourth: SYN in a synchronized state: RFC 5961 4.2 challenge ACK */
	if (seg->flags & TCP_SYN) {
		challenge_ack(ctx, tcb);
		return;
	}
	/* fifth: ACK off: drop */
	if (!(seg->flags & TCP_ACK)) {
		ctx->tcp_stats.tcp_drop_no_ack++;
		return;
	}
	if (tcb->state == SHUNT_SS_SYN_RECEIVED) {
		/* SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED and go on; else
		 * <SEQ=SEG.ACK><CTL=RST> */
		if (SEQ_LEQ(seg->ack, tcb->snd_una) || SEQ_GT(seg->ack, tcb->snd_max)) {
			ctx->tcp_stats.tcp_drop_bad_ack++;
			tcp_reply_rst(ctx, tcb->raddr_be, tcb->laddr_be, seg);
			return;
		}
		/* A child of a listener whose accept queue is full: Linux
		 * tcp_check_req() with tcp_abort_on_overflow = 0 drops the ACK (and
		 * what it carries); the peer retransmits, and a later copy completes
		 * once the app has accepted. */
		if (tcb->listener != NULL) {
			if (!acceptq_room(ctx, tcb->listener,
					  &ctx->tcp_stats.tcp_listen_drop_ack_full))
				return;
			/* RFC 6298 5.7: the SYN-ACK was lost; 3 s unless timestamps
			 * give a sample below */
			if (tcb->nrexmit)
				tcb->rto_us = 3 * TCP_RTO_INIT_US;
		}
		set_established(ctx, tcb);
		tcb->snd_wl1 = seg->seq - 1; /* take this segment's window */
		if (tcb->listener != NULL)
			tcp_listen_announce(ctx, tcb); /* the app may accept it now */
	}
	/* SEG.ACK > SND.NXT: acks something not yet sent: send an ACK, drop */
	if (SEQ_GT(seg->ack, tcb->snd_max)) {
		ctx->tcp_stats.tcp_drop_bad_ack++;
		tcp_send_ack(ctx, tcb);
		return;
	}
	/* SEG.ACK < SND.UNA: a duplicate, ignored (the text is still processed) */
	fin_acked = false;
	if (SEQ_GEQ(seg->ack, tcb->snd_una))
		fin_acked = process_ack(ctx, tcb, seg);
	switch (tcb->state) {
	case SHUNT_SS_FIN_WAIT_1:
		/* if our FIN is now acknowledged, enter FIN-WAIT-2 */
		if (fin_acked) {
			tcp_set_state(ctx, tcb, SHUNT_SS_FIN_WAIT_2);
			tcp_timer_stop(ctx, tcb, TCP_T_REXMIT);
			if (app_closed(tcb))
				tcp_timer_arm(ctx, tcb, TCP_T_WAIT, TCP_FIN_TIMEOUT_US);
		}
		break;
	case SHUNT_SS_CLOSING:
		/* if the ACK acknowledges our FIN, enter TIME-WAIT */
		if (fin_acked)
			enter_time_wait(ctx, tcb);
		break;
	case SHUNT_SS_LAST_ACK:
		/* if our FIN is now acknowledged, delete the TCB, enter CLOSED */
		if (fin_acked) {
			tcb_close(ctx, tcb);
			return;
		}
		break;
	default:
		break;
	}
	/* A closed socket cannot read: new data in FIN-WAIT-1/2 resets (Linux
	 * tcp_rcv_state_process() with RCV_SHUTDOWN). */
	if (len > 0 && app_closed(tcb) &&
	    (tcb->state == SHUNT_SS_FIN_WAIT_1 || tcb->state == SHUNT_SS_FIN_WAIT_2)) {
		ctx->tcp_stats.tcp_drop_after_close++;
		tcp_send_rst(ctx, tcb);
		tcb_reset(ctx, tcb, 0);
		return;
	}
	/* sixth (URG) is ignored; seventh and eighth */
	if (len > 0)
		tcp_ecn_rcv_data(ctx, tcb, seg);
	text_and_fin(ctx, tcb, seq, data, len, fin);
	if (tcb->rx_fin_ooo && tcb->rx_fin_seq == tcb->rcv_nxt)
		receive_fin(ctx, tcb);
	tcp_output(ctx, tcb);
}

/* Header prediction: ESTABLISHED, only ACK (and PSH), exactly the next sequence
 * number, nothing held out of order, an ACK within what we sent, timestamps (if
 * any) not older than TS.Recent, not in recovery. Steps 1-4 cannot apply, so only
 * ACK and data processing run. Anything else takes synchronized(). */
static bool fast_path(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t wnd;

	if (tcb->state != SHUNT_SS_ESTABLISHED ||
	    (seg->flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_ACK)) != TCP_ACK ||
	    seg->seq != tcb->rcv_nxt || tcb->n_ooo != 0 || tcb->rx_fin_ooo || tcb->in_recovery ||
	    SEQ_LT(seg->ack, tcb->snd_una) || SEQ_GT(seg->ack, tcb->snd_max))
		return false;
	if (tcb->ts_ok && (!seg->has_ts || SEQ_LT(seg->tsval, tcb->ts_recent)))
		return false;
	wnd = SEQ_GT(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	if (seg->len > wnd)
		return false;
	ctx->tcp_stats.tcp_rx_fastpath++;
	if (tcb->ts_ok)
		tcb->ts_recent = seg->tsval;
	process_ack(ctx, tcb, seg);
	if (seg->len) {
		tcp_ecn_rcv_data(ctx, tcb, seg);
		receive_data(ctx, tcb, seg->seq, seg->data, seg->len);
	}
	tcp_output(ctx, tcb);
	return true;
}

void tcp_segment_arrives(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	tcb->last_rx_us = ctx->now_us; /* the peer is alive (keepalive's clock) */
	switch (tcb->state) {
	case SHUNT_SS_SYN_SENT:
		syn_sent(ctx, tcb, seg, tcb->raddr_be, tcb->laddr_be);
		return;
	case SHUNT_SS_SYN_RECEIVED:
		/* A child's peer retransmitted its SYN (our SYN-ACK was lost): Linux
		 * tcp_check_req() sends the SYN-ACK again rather than the bare ACK an
		 * old duplicate would get, which the peer in SYN-SENT would drop. */
		if (tcb->listener != NULL && seg->seq == tcb->irs &&
		    (seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN) {
			ctx->tcp_stats.tcp_synack_rexmit++;
			tcb->retrans++;
			tcb->rtt_timing = false; /* Karn: the ACK may answer either copy */
			tcp_send_syn(ctx, tcb);
			return;
		}
		if (!fast_path(ctx, tcb, seg))
			synchronized(ctx, tcb, seg);
		return;
	case SHUNT_SS_CLOSED:
	case SHUNT_SS_LISTEN:
	case SHUNT_SS_FREE:
		/* not reachable through the table; answer as for no connection */
		ctx->tcp_stats.tcp_drop_bad_state++;
		tcp_reply_rst(ctx, tcb->raddr_be, tcb->laddr_be, seg);
		return;
	default:
		if (!fast_path(ctx, tcb, seg))
			synchronized(ctx, tcb, seg);
		return;
	}
}

/* Linux tcp_parse_options(): window scale, SACK-permitted and timestamps in a SYN
 * count only while the stack uses them (net.ipv4.tcp_window_scaling, tcp_sack,
 * tcp_timestamps); otherwise the SYN is taken as if it had none. */
static void syn_opts_allowed(const struct tcp_stack *ts, struct tcp_seg *seg)
{
	if (!ts->ws_on)
		seg->has_ws = false;
	if (!ts->sack_on)
		seg->sack_ok = false;
	if (!ts->ts_on)
		seg->has_ts = false;
}

/* Linux tcp_timewait_state_process()'s TCP_TW_SYN: a SYN for a 4-tuple in
 * TIME_WAIT opens a new connection when a listener has the port and the SYN
 * cannot be an old duplicate (its sequence number is past what the old connection
 * received, or its timestamp is newer than the last one seen); the new ISN starts
 * past what the old connection sent (tw_snd_nxt + 65537), so its segments cannot
 * be taken for the old one's. A client that reuses its ports quickly (load
 * generators, NAT) would otherwise get a challenge ACK and retry a second later.
 * Returns true when the SYN was taken. */
static bool time_wait_reuse(struct dp_ctx *ctx, struct tcb *tw, const struct tcp_seg *seg,
			    uint32_t src_be, uint32_t dst_be)
{
	struct tcb *l;

	if ((seg->flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN || tw->s != NULL)
		return false;
	if (!SEQ_GT(seg->seq, tw->rcv_nxt) &&
	    !(tw->ts_ok && seg->has_ts && (int32_t)(tw->ts_recent - seg->tsval) < 0))
		return false;
	l = tcp_listen_lookup(ctx->tcp, dst_be, seg->dport_be, src_be, seg->sport_be);
	if (l == NULL)
		return false;
	ctx->tcp_stats.tcp_tw_reused++;
	ctx->tcp->tw_isn = tw->snd_nxt + 65535 + 2;
	ctx->tcp->tw_isn_set = true;
	tcb_close(ctx, tw); /* detached: freed, its port and 4-tuple given back */
	listen_input(ctx, l, seg, src_be, dst_be);
	ctx->tcp->tw_isn_set = false;
	return true;
}

void tcp_input_bytes(struct dp_ctx *ctx, const uint8_t *buf, uint32_t len, uint32_t src_be,
		     uint32_t dst_be)
{
	tcp_input_ecn(ctx, buf, len, src_be, dst_be, TCP_ECN_NOT_ECT);
}

void tcp_input_ecn(struct dp_ctx *ctx, const uint8_t *buf, uint32_t len, uint32_t src_be,
		   uint32_t dst_be, uint8_t ecn)
{
	struct tcp_seg seg;
	struct tcb *tcb;
	int rc;

	ctx->tcp_stats.tcp_rx++;
	rc = tcp_wire_parse(buf, len, &seg);
	if (rc == -EMSGSIZE) {
		ctx->tcp_stats.tcp_drop_short++;
		return;
	}
	if (rc != 0) {
		ctx->tcp_stats.tcp_drop_bad_off++;
		return;
	}
	seg.ecn = ecn & 0x3;
	if (seg.flags & TCP_SYN)
		syn_opts_allowed(ctx->tcp, &seg);
	tcb = tcp_table_lookup(ctx->tcp, dst_be, seg.dport_be, src_be, seg.sport_be);
	if (tcb != NULL && tcb->state == SHUNT_SS_TIME_WAIT &&
	    time_wait_reuse(ctx, tcb, &seg, src_be, dst_be))
		return;
	if (tcb == NULL && (tcb = tcp_listen_lookup(ctx->tcp, dst_be, seg.dport_be, src_be,
						    seg.sport_be)) != NULL) {
		listen_input(ctx, tcb, &seg, src_be, dst_be);
		return;
	}
	if (tcb == NULL) {
		/* CLOSED (no TCB): RFC 9293 3.10.7.1, reset anything but a reset */
		ctx->tcp_stats.tcp_drop_no_conn++;
		tcp_reply_rst(ctx, src_be, dst_be, &seg);
		return;
	}
	tcp_segment_arrives(ctx, tcb, &seg);
}

void tcp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be)
{
	const uint8_t *th = rte_pktmbuf_mtod(m, const uint8_t *);
	/* ipv4_input() left the IPv4 header (l3_len bytes) just before the TCP one */
	uint8_t ecn = m->l3_len >= 20 && rte_pktmbuf_headroom(m) >= m->l3_len ?
		      th[1 - (int)m->l3_len] & 0x3 : TCP_ECN_NOT_ECT;

	tcp_input_ecn(ctx, th, rte_pktmbuf_data_len(m), src_be, dst_be, ecn);
	rte_pktmbuf_free(m);
}
