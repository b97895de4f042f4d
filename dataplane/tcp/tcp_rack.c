/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * RACK-TLP (see tcp_rack.h for the contract).
 *
 *   the log: tcb->sent[0 .. n_sent), oldest first. A byte's last transmission is
 *   the newest record covering it; a record is live while one of its bytes is
 *   above snd_una, not SACKed, and not sent again since (log_trim drops the rest)
 *   tcp_rack_on_ack(): newest record the ACK delivered -> RACK.xmit_ts, RACK.rtt
 *                      -> log_trim -> tcp_rack_detect()
 */
#include <string.h>

#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_wire.h"

static inline uint32_t now32(const struct dp_ctx *ctx)
{
	return (uint32_t)ctx->now_us;
}

/* RFC 8985 RACK_sent_after(t1, seq1, t2, seq2): later, or in the same instant and
 * higher in sequence space (one burst goes out in sequence order). */
static bool sent_after(uint32_t t1, uint32_t end1, uint32_t t2, uint32_t end2)
{
	return (int32_t)(t1 - t2) > 0 || (t1 == t2 && SEQ_GT(end1, end2));
}

static bool covers(const struct tcp_sent *r, uint32_t seq)
{
	return SEQ_LEQ(r->start, seq) && SEQ_LT(seq, r->end);
}

/* Bursts this close share a record: a fraction of the path's smallest RTT, so
 * well inside the reordering window that judges them. */
static uint32_t merge_us(const struct tcb *tcb)
{
	return tcb->min_rtt_us ? tcb->min_rtt_us / 8 : 1000u;
}

static void log_drop(struct tcb *tcb, uint8_t i)
{
	memmove(&tcb->sent[i], &tcb->sent[i + 1], (size_t)(tcb->n_sent - i - 1) * sizeof(tcb->sent[0]));
	tcb->n_sent--;
}

void tcp_rack_sent(const struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, uint32_t end,
		   bool rexmit)
{
	uint8_t f = rexmit ? TCP_SENT_REXMIT : 0;
	uint32_t now = now32(ctx);
	struct tcp_sent *t;

	if (tcb->n_sent > 0) {
		t = &tcb->sent[tcb->n_sent - 1];
		if (t->end == seq && t->flags == f && now - t->xmit_us <= merge_us(tcb)) {
			t->end = end;
			t->xmit_us = now;
			return;
		}
	}
	/* full: the oldest record goes; its bytes are left to IsLost() and the RTO */
	if (tcb->n_sent == TCP_SENT_MAX)
		log_drop(tcb, 0);
	tcb->sent[tcb->n_sent++] = (struct tcp_sent){ .start = seq, .end = end, .xmit_us = now,
						      .flags = f };
}

/* The first byte at or after pos of record i that is live (above snd_una, not
 * SACKed, last sent by this record), and in *run_end where that live run ends.
 * Returns the record's end if it has none. */
static uint32_t live_run(const struct tcb *tcb, uint8_t i, uint32_t pos, uint32_t *run_end)
{
	const struct tcp_sent *r = &tcb->sent[i];
	uint32_t end = r->end;
	bool moved;
	uint8_t k;

	if (SEQ_LT(pos, r->start))
		pos = r->start;
	if (SEQ_LT(pos, tcb->snd_una))
		pos = tcb->snd_una;
	do {
		moved = false;
		for (k = 0; k < tcb->n_sacked && SEQ_LT(pos, r->end); k++)
			if (SEQ_LEQ(tcb->sacked[k].start, pos) && SEQ_LT(pos, tcb->sacked[k].end)) {
				pos = tcb->sacked[k].end;
				moved = true;
			}
		for (k = i + 1; k < tcb->n_sent && SEQ_LT(pos, r->end); k++)
			if (covers(&tcb->sent[k], pos)) {
				pos = tcb->sent[k].end;
				moved = true;
			}
	} while (moved && SEQ_LT(pos, r->end));
	if (!SEQ_LT(pos, r->end))
		return r->end;
	/* the run stops where SACKed data or a newer transmission begins */
	for (k = 0; k < tcb->n_sacked; k++)
		if (SEQ_GT(tcb->sacked[k].start, pos) && SEQ_LT(tcb->sacked[k].start, end))
			end = tcb->sacked[k].start;
	for (k = i + 1; k < tcb->n_sent; k++)
		if (SEQ_GT(tcb->sent[k].start, pos) && SEQ_LT(tcb->sent[k].start, end))
			end = tcb->sent[k].start;
	if (run_end != NULL)
		*run_end = end;
	return pos;
}

static bool live(const struct tcb *tcb, uint8_t i)
{
	return live_run(tcb, i, tcb->sent[i].start, NULL) != tcb->sent[i].end;
}

/* Forget records with nothing live, and RACK's marks that snd_una passed. */
static void log_trim(struct tcb *tcb)
{
	uint8_t i = 0;

	while (i < tcb->n_sent) {
		if (live(tcb, i))
			i++;
		else
			log_drop(tcb, i);
	}
	if (tcb->rack_lost && SEQ_GEQ(tcb->snd_una, tcb->rack_lost_end))
		tcb->rack_lost = false;
	if (tcb->rack_relost && SEQ_LT(tcb->rack_relost_seq, tcb->snd_una))
		tcb->rack_relost_seq = tcb->snd_una;
}

/* The end of the highest bytes of r this ACK delivered (cumulatively, [old_una,
 * SEG.ACK), or in one of its SACK blocks that reports new data); r->start if none.
 * Within a record, bytes went out in sequence order: that end is RACK.end_seq. */
static uint32_t delivered(const struct tcb *tcb, const struct tcp_sent *r, uint32_t old_una,
			  const struct tcp_seg *seg)
{
	uint32_t top = r->start, e;
	uint8_t i;

	if (SEQ_LT(old_una, seg->ack) && SEQ_LT(r->start, seg->ack) && SEQ_GT(r->end, old_una))
		top = SEQ_LT(seg->ack, r->end) ? seg->ack : r->end;
	for (i = 0; i < seg->nsack; i++) {
		if (!tcp_sack_block_valid(tcb, seg, i) || !SEQ_LT(r->start, seg->sack[i][1]) ||
		    !SEQ_GT(r->end, seg->sack[i][0]))
			continue;
		e = SEQ_LT(seg->sack[i][1], r->end) ? seg->sack[i][1] : r->end;
		if (SEQ_GT(e, top))
			top = e;
	}
	return top;
}

/* Cut record i at seq (inside it) into two of the same time: what RACK judges of
 * the lower part (sent before RACK.end_seq) is not said of the upper one. false if
 * the log is full (the record then stays whole, judged by its end). */
static bool log_split(struct tcb *tcb, uint8_t i, uint32_t seq)
{
	if (tcb->n_sent == TCP_SENT_MAX)
		return false;
	memmove(&tcb->sent[i + 2], &tcb->sent[i + 1],
		(size_t)(tcb->n_sent - i - 1) * sizeof(tcb->sent[0]));
	tcb->sent[i + 1] = tcb->sent[i];
	tcb->sent[i + 1].start = seq;
	tcb->sent[i].end = seq;
	tcb->n_sent++;
	return true;
}

/* The ACK echoes a TSval older than the one record r's transmission carried
 * (tcp_out stamps now_us / 1000; r keeps the low 32 bits of now_us). */
static bool echoes_older(const struct dp_ctx *ctx, const struct tcb *tcb,
			 const struct tcp_sent *r, const struct tcp_seg *seg)
{
	uint64_t sent_us = ctx->now_us - (uint32_t)(now32(ctx) - r->xmit_us);

	return tcb->ts_ok && seg->has_ts && seg->tsecr != 0 &&
	       SEQ_LT(seg->tsecr, (uint32_t)(sent_us / 1000));
}

bool tcp_rack_on_ack(struct dp_ctx *ctx, struct tcb *tcb, uint32_t old_una,
		     const struct tcp_seg *seg)
{
	uint32_t now = now32(ctx);
	uint8_t i;

	if (!tcb->sack_ok)
		return false;
	if (tcp_sack_dsack(seg)) {
		/* RFC 8985 6.2 step 4: a duplicate means reordering or a spurious
		 * retransmission: keep a reordering window from now on */
		tcb->rack_reord = true;
		if (tcb->tlp_out)
			tcb->tlp_dsack = true;
	}
	/* RFC 8985 6.2 step 2: the newest transmission delivered; a retransmission
	 * acknowledged sooner than the path's RTT allows, or by an ACK echoing an
	 * older timestamp than it carried, was the original's ACK (a reordered
	 * original: Linux's tcp_skb_spurious_retrans()) */
	for (i = tcb->n_sent; i-- > 0;) {
		const struct tcp_sent *r = &tcb->sent[i];
		uint32_t top = delivered(tcb, r, old_una, seg);

		if (top == r->start)
			continue;
		if ((r->flags & TCP_SENT_REXMIT) &&
		    (now - r->xmit_us < tcb->min_rtt_us || echoes_older(ctx, tcb, r, seg)))
			continue;
		/* RFC 8985 6.2 step 3: RACK.min_RTT, from the log's microseconds (the
		 * timestamps tick in ms, too coarse for a LAN); the smallest sample,
		 * as Linux's windowed minimum is for a path that does not change */
		if (!(r->flags & TCP_SENT_REXMIT) &&
		    (tcb->min_rtt_us == 0 || now - r->xmit_us < tcb->min_rtt_us))
			tcb->min_rtt_us = now - r->xmit_us ? now - r->xmit_us : 1;
		if (!tcb->rack_valid ||
		    sent_after(r->xmit_us, top, tcb->rack_xmit_us, tcb->rack_end)) {
			tcb->rack_xmit_us = r->xmit_us;
			tcb->rack_end = top;
			tcb->rack_rtt_us = now - r->xmit_us;
			tcb->rack_valid = true;
		}
		break;
	}
	log_trim(tcb);
	return tcp_rack_detect(ctx, tcb);
}

/* RFC 8985 6.2 step 4: the reordering window. None once loss recovery runs or
 * DupThresh segments are SACKed, unless the peer showed reordering; else a
 * quarter of the smallest RTT, never more than SRTT. */
static uint32_t reo_wnd(const struct tcb *tcb)
{
	uint32_t w = tcb->min_rtt_us / 4;

	if (!tcb->rack_reord &&
	    (tcb->in_recovery || tcb->rto_recover || tcp_sack_is_lost(tcb, tcb->snd_una)))
		return 0;
	return tcb->rtt_valid && w > tcb->srtt_us ? tcb->srtt_us : w;
}

bool tcp_rack_detect(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t now = now32(ctx), lim, age, wait = UINT32_MAX, first;
	bool marked = false;
	uint8_t i;

	if (!tcb->rack_valid)
		return false;
	lim = tcb->rack_rtt_us + reo_wnd(tcb);
	for (i = 0; i < tcb->n_sent; i++) {
		struct tcp_sent *r = &tcb->sent[i];

		if (r->flags & TCP_SENT_LOST)
			continue;
		first = live_run(tcb, i, r->start, NULL);
		if (first == r->end)
			continue;
		/* in sending order: from here on, nothing was sent before RACK's; in
		 * RACK's own burst, what lies below RACK.end_seq went first */
		if (!sent_after(tcb->rack_xmit_us, tcb->rack_end, r->xmit_us, r->end)) {
			if (r->xmit_us != tcb->rack_xmit_us || !SEQ_LT(first, tcb->rack_end) ||
			    (SEQ_LT(tcb->rack_end, r->end) && !log_split(tcb, i, tcb->rack_end)))
				break;
		}
		age = now - r->xmit_us;
		if (age < lim) {
			/* RFC 8985 6.2 step 5: may still arrive; look again when it
			 * cannot */
			if (lim - age < wait)
				wait = lim - age;
			continue;
		}
		r->flags |= TCP_SENT_LOST;
		marked = true;
		ctx->tcp_stats.tcp_rack_lost++;
		if (!tcb->rack_lost || SEQ_GT(r->end, tcb->rack_lost_end))
			tcb->rack_lost_end = r->end;
		tcb->rack_lost = true;
		if (r->flags & TCP_SENT_REXMIT) {
			ctx->tcp_stats.tcp_rack_relost++;
			if (!tcb->rack_relost || SEQ_LT(first, tcb->rack_relost_seq))
				tcb->rack_relost_seq = first;
			tcb->rack_relost = true;
		}
	}
	if (wait != UINT32_MAX) {
		tcb->loss_tlp = false;
		tcp_timer_arm(ctx, tcb, TCP_T_LOSS, wait);
	} else if (!tcb->loss_tlp && tcp_timer_armed(tcb, TCP_T_LOSS)) {
		tcp_timer_stop(ctx, tcb, TCP_T_LOSS);
	}
	return marked;
}

void tcp_rack_on_rto(struct tcb *tcb)
{
	for (uint8_t i = 0; i < tcb->n_sent; i++)
		tcb->sent[i].flags |= TCP_SENT_LOST;
	tcb->rack_relost = false;
	tcb->tlp_out = false;
}

uint32_t tcp_rack_live_rexmit(const struct tcb *tcb, uint32_t seq)
{
	for (uint8_t i = tcb->n_sent; i-- > 0;) {
		const struct tcp_sent *r = &tcb->sent[i];

		if (!covers(r, seq))
			continue;
		if ((r->flags & (TCP_SENT_REXMIT | TCP_SENT_LOST)) == TCP_SENT_REXMIT)
			return r->end;
		return seq;
	}
	return seq;
}

uint32_t tcp_rack_rexmit_bytes(const struct tcb *tcb, uint32_t a, uint32_t b)
{
	uint32_t n = 0, pos, s, e;

	for (uint8_t i = 0; i < tcb->n_sent; i++) {
		const struct tcp_sent *r = &tcb->sent[i];

		if ((r->flags & (TCP_SENT_REXMIT | TCP_SENT_LOST)) != TCP_SENT_REXMIT ||
		    !SEQ_LT(r->start, b) || !SEQ_GT(r->end, a))
			continue;
		for (pos = a; SEQ_LT(pos, b); pos = e) {
			s = live_run(tcb, i, pos, &e);
			if (s == r->end || !SEQ_LT(s, b))
				break;
			n += (SEQ_LT(e, b) ? e : b) - s;
		}
	}
	return n;
}

void tcp_rack_schedule_tlp(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint64_t pto, rto_left;
	uint32_t flight = tcb->snd_max - tcb->snd_una;

	if (tcp_timer_armed(tcb, TCP_T_LOSS) && !tcb->loss_tlp)
		return; /* the reorder timer decides first (Linux: one or the other) */
	/* RFC 8985 7.2 and Linux tcp_schedule_loss_probe(): with SACK, data in
	 * flight, no probe out, and neither recovery nor a hint of loss (SACKed data,
	 * duplicate ACKs: RACK or IsLost handle those) */
	if (!tcb->sack_ok || !tcb->rtt_valid || !tcp_state_sends_data(tcb->state) || tcb->in_recovery ||
	    tcb->rto_recover || tcb->tlp_out || flight == 0 || tcb->n_sacked != 0 ||
	    tcb->dupacks != 0 || tcb->s == NULL) {
		if (tcp_timer_armed(tcb, TCP_T_LOSS))
			tcp_timer_stop(ctx, tcb, TCP_T_LOSS);
		return;
	}
	/* PTO = 2 SRTT, plus the worst-case delayed ACK if one segment is out */
	pto = 2ull * tcb->srtt_us + (flight <= tcb->mss ? TCP_TLP_FLIGHT1_US : TCP_TLP_MIN_US);
	tcb->loss_tlp = true;
	if (tcp_timer_armed(tcb, TCP_T_REXMIT) && tcb->timer[TCP_T_REXMIT] > ctx->now_us) {
		rto_left = tcb->timer[TCP_T_REXMIT] - ctx->now_us;
		if (pto >= rto_left) {
			/* RFC 8985 7.2, Linux: min(PTO, RTO): the probe goes in the
			 * RTO's place (just before it; the probe restarts the RTO), so
			 * that one lost segment costs no cwnd collapse and no backoff */
			pto = rto_left;
			tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, rto_left + 1);
		}
	}
	tcp_timer_arm(ctx, tcb, TCP_T_LOSS, pto);
}
