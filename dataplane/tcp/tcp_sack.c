/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The SACK scoreboard (see tcp_sack.h for the contract).
 *
 *   tcp_sack_update(): per block: D-SACK? -> inside (SEG.ACK, snd_max]? -> sb_insert()
 *   tcp_sack_advance(): drop ranges under snd_una -> reneging check
 *   IsLost / pipe / holes: one pass over the sorted ranges, counting what lies above
 */
#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_wire.h"

static uint32_t sb_bytes(const struct tcb *tcb)
{
	uint32_t n = 0;

	for (uint8_t i = 0; i < tcb->n_sacked; i++)
		n += tcb->sacked[i].end - tcb->sacked[i].start;
	return n;
}

/* Insert [start, end) (start < end), merging what it overlaps or touches. When
 * the array is full the highest range gives way: the ranges nearest snd_una say
 * which holes to fill first; a range lost this way only costs a retransmission
 * the peer did not need, never a wrong acknowledgment. Returns the bytes of the
 * range that gave way (0 if none). */
static uint32_t sb_insert(struct dp_ctx *ctx, struct tcb *tcb, uint32_t start, uint32_t end)
{
	struct tcp_range *o = tcb->sacked;
	uint32_t evicted;
	uint8_t at;

	if (tcp_range_insert(o, &tcb->n_sacked, TCP_SACKED_MAX, start, end, &at))
		return 0;
	ctx->tcp_stats.tcp_sack_full++;
	if (at == tcb->n_sacked)
		return 0; /* above every range we keep */
	tcb->n_sacked--;
	evicted = o[tcb->n_sacked].end - o[tcb->n_sacked].start;
	(void)tcp_range_insert(o, &tcb->n_sacked, TCP_SACKED_MAX, start, end, &at);
	return evicted;
}

bool tcp_sack_dsack(const struct tcp_seg *seg)
{
	uint32_t l = seg->sack[0][0], r = seg->sack[0][1];

	/* RFC 2883 4: only the first block can be a D-SACK: it reports a duplicate
	 * below the cumulative ACK, or inside the second block */
	return seg->nsack > 0 && SEQ_LT(l, r) &&
	       (SEQ_LEQ(r, seg->ack) || (seg->nsack > 1 && SEQ_LEQ(seg->sack[1][0], l) &&
					 SEQ_LEQ(r, seg->sack[1][1])));
}

bool tcp_sack_block_valid(const struct tcb *tcb, const struct tcp_seg *seg, uint8_t i)
{
	uint32_t l = seg->sack[i][0], r = seg->sack[i][1];

	/* RFC 2018 3: a block is bytes the receiver holds beyond the ACK; one that is
	 * empty, starts at or below the ACK (it would have been acknowledged) or ends
	 * past what we sent is ignored */
	return SEQ_LT(l, r) && SEQ_GT(l, seg->ack) && SEQ_LEQ(r, tcb->snd_max) &&
	       !(i == 0 && tcp_sack_dsack(seg));
}

uint32_t tcp_sack_update(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg)
{
	uint32_t before, after, evicted = 0;
	uint8_t i;

	if (!tcb->sack_ok || seg->nsack == 0)
		return 0;
	before = sb_bytes(tcb);
	for (i = 0; i < seg->nsack; i++) {
		ctx->tcp_stats.tcp_sack_blocks_rx++;
		if (i == 0 && tcp_sack_dsack(seg)) {
			ctx->tcp_stats.tcp_dsack_rx++;
			continue;
		}
		if (!tcp_sack_block_valid(tcb, seg, i)) {
			ctx->tcp_stats.tcp_sack_ignored++;
			continue;
		}
		evicted += sb_insert(ctx, tcb, seg->sack[i][0], seg->sack[i][1]);
	}
	after = sb_bytes(tcb) + evicted;
	return after > before ? after - before : 0;
}

void tcp_sack_advance(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_range *o = tcb->sacked;
	uint8_t i = 0, j, n = tcb->n_sacked;

	while (i < n && SEQ_LEQ(o[i].end, tcb->snd_una))
		i++;
	if (i < n && SEQ_LEQ(o[i].start, tcb->snd_una)) {
		/* Linux tcp_check_sack_reneging(): the ACK stops where SACKed data
		 * begins. Linux then waits for the RTO; we forget the scoreboard so
		 * that what was SACKed is sent again when its turn comes. */
		ctx->tcp_stats.tcp_sack_reneging++;
		tcb->n_sacked = 0;
		return;
	}
	for (j = i; j < n; j++)
		o[j - i] = o[j];
	tcb->n_sacked = n - i;
}

uint32_t tcp_sack_bytes(const struct tcb *tcb)
{
	return sb_bytes(tcb);
}

/* RFC 6675 IsLost() given what lies above: cnt ranges holding bytes. */
static bool lost_above(const struct tcb *tcb, uint32_t cnt, uint32_t bytes)
{
	return cnt >= TCP_DUPTHRESH || bytes > (TCP_DUPTHRESH - 1u) * tcb->mss;
}

bool tcp_sack_is_lost(const struct tcb *tcb, uint32_t seq)
{
	uint32_t cnt = 0, bytes = 0;
	uint8_t i;

	for (i = tcb->n_sacked; i-- > 0 && SEQ_GT(tcb->sacked[i].start, seq);) {
		cnt++;
		bytes += tcb->sacked[i].end - tcb->sacked[i].start;
	}
	return lost_above(tcb, cnt, bytes);
}

/* Bytes of the hole [a, b) in the network (RFC 6675 SetPipe, Linux's
 * packets_out - lost_out + retrans_out): those not lost, by DupThresh (lost_cnt)
 * or by RACK (below rack_lost_end), plus those whose last transmission is a
 * retransmission not known lost. */
static uint32_t hole_pipe(const struct tcb *tcb, uint32_t a, uint32_t b, bool lost_cnt)
{
	uint32_t n = tcp_rack_rexmit_bytes(tcb, a, b);

	if (lost_cnt)
		return n;
	if (tcb->rack_lost && SEQ_LT(a, tcb->rack_lost_end))
		return n + (SEQ_LT(tcb->rack_lost_end, b) ? b - tcb->rack_lost_end : 0);
	return n + (b - a);
}

static bool rack_lost_at(const struct tcb *tcb, uint32_t seq)
{
	return tcb->rack_lost && SEQ_LT(seq, tcb->rack_lost_end);
}

uint32_t tcp_sack_pipe(const struct tcb *tcb)
{
	uint32_t pos = tcb->snd_una, pipe = 0, cnt = tcb->n_sacked, bytes = sb_bytes(tcb);
	uint8_t i;

	/* the hole below range i has ranges i.. above it: IsLost is the same for
	 * each of its bytes, so SetPipe's per-octet loop is one step per hole */
	for (i = 0; i < tcb->n_sacked; i++) {
		const struct tcp_range *r = &tcb->sacked[i];

		pipe += hole_pipe(tcb, pos, r->start, lost_above(tcb, cnt, bytes));
		cnt--;
		bytes -= r->end - r->start;
		pos = r->end;
	}
	if (SEQ_LT(pos, tcb->snd_max))
		pipe += hole_pipe(tcb, pos, tcb->snd_max, false);
	return pipe;
}

bool tcp_sack_next_hole(const struct tcb *tcb, uint32_t from, uint32_t *start, uint32_t *end,
			bool *lost, bool *below)
{
	uint32_t pos = SEQ_GT(from, tcb->snd_una) ? from : tcb->snd_una;
	uint32_t cnt = tcb->n_sacked, bytes = sb_bytes(tcb);
	uint8_t i;

	for (i = 0; i < tcb->n_sacked; i++) {
		const struct tcp_range *r = &tcb->sacked[i];

		if (SEQ_LT(pos, r->start)) {
			*start = pos;
			*end = r->start;
			*lost = lost_above(tcb, cnt, bytes) || rack_lost_at(tcb, pos);
			*below = true;
			return true;
		}
		if (SEQ_LT(pos, r->end))
			pos = r->end;
		cnt--;
		bytes -= r->end - r->start;
	}
	if (!SEQ_LT(pos, tcb->snd_max))
		return false;
	*start = pos;
	*end = tcb->snd_max;
	*lost = rack_lost_at(tcb, pos);
	*below = false;
	return true;
}

uint32_t tcp_sack_skip(const struct tcb *tcb, uint32_t *seq)
{
	for (uint8_t i = 0; i < tcb->n_sacked; i++) {
		const struct tcp_range *r = &tcb->sacked[i];

		if (SEQ_LT(*seq, r->start))
			return r->start - *seq;
		if (SEQ_LT(*seq, r->end))
			*seq = r->end;
	}
	return UINT32_MAX;
}
