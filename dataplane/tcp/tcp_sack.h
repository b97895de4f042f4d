/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The send side's SACK scoreboard (RFC 2018, RFC 6675 2-4): what the peer reported
 * holding above snd_una, kept as tcb->sacked[] (sorted, disjoint, merged; a fixed
 * array, nothing allocated), and the RFC 6675 questions asked of it: IsLost(),
 * the holes NextSeg() picks from, and pipe. Loss recovery itself (when to enter,
 * cwnd) is tcp_in.c's, what to send tcp_out.c's.
 *
 *   process_ack() -> tcp_sack_update(seg)   blocks of every ACK, before snd_una moves
 *                 -> tcp_sack_advance()     after snd_una moved: trim, reneging
 *   tcp_output() in recovery -> tcp_sack_pipe(), tcp_sack_next_hole()
 *   go-back-N after an RTO, tcp_retransmit_head() -> tcp_sack_skip()
 */
#ifndef SHUNT_TCP_SACK_H
#define SHUNT_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_seg;

/* Take seg's SACK blocks (SEG.ACK >= SND.UNA, snd_una not yet moved). RFC 2018 and
 * Linux's tcp_is_sackblock_valid(): a block counts only inside (SEG.ACK, snd_max];
 * a D-SACK (RFC 2883: a first block below SEG.ACK or inside the second block) is
 * counted as such and SACKs nothing new. Returns the bytes newly SACKed. */
uint32_t tcp_sack_update(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);
/* seg's first block is a D-SACK (RFC 2883 4). */
bool tcp_sack_dsack(const struct tcp_seg *seg);
/* seg's block i reports data we sent beyond SEG.ACK (and is no D-SACK). */
bool tcp_sack_block_valid(const struct tcb *tcb, const struct tcp_seg *seg, uint8_t i);
/* snd_una has moved: forget what it covers. A range it stops at or inside was
 * SACKed but is not acknowledged: the peer reneged (RFC 2018 8), and the whole
 * scoreboard goes (what it holds can no longer be trusted). */
void tcp_sack_advance(struct dp_ctx *ctx, struct tcb *tcb);
/* Bytes SACKed above snd_una (the scoreboard's total). */
uint32_t tcp_sack_bytes(const struct tcb *tcb);
/* RFC 6675 IsLost(seq): DupThresh ranges, or more than (DupThresh - 1) * SMSS
 * bytes, SACKed above seq. */
bool tcp_sack_is_lost(const struct tcb *tcb, uint32_t seq);
/* RFC 6675 SetPipe(): bytes in [snd_una, snd_max) not SACKed and not lost
 * (IsLost, or RACK's rack_lost_end), plus those whose last transmission is a
 * retransmission not known lost (tcp_rack.c). */
uint32_t tcp_sack_pipe(const struct tcb *tcb);
/* The first run of bytes not SACKed at or after from (and snd_una), below snd_max:
 * [*start, *end). *lost: IsLost(*start) (the same for the whole run: nothing in it
 * is SACKed), or RACK judged *start lost; *below: a SACKed range lies above it (NextSeg rule 3's condition).
 * false if every byte up to snd_max is SACKed or acknowledged. */
bool tcp_sack_next_hole(const struct tcb *tcb, uint32_t from, uint32_t *start, uint32_t *end,
			bool *lost, bool *below);
/* If *seq is in a SACKed range, move it to the range's end; then the bytes from
 * *seq to the next SACKed range (UINT32_MAX if none lies above). */
uint32_t tcp_sack_skip(const struct tcb *tcb, uint32_t *seq);

#endif /* SHUNT_TCP_SACK_H */
