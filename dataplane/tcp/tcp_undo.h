/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Undo: a cwnd reduction that proves spurious is taken back, as Linux's
 * tcp_try_undo_*() do. Each reduction (a fast recovery, an RTO that cuts) opens
 * an episode that remembers cwnd and ssthresh from before it; the episode is
 * undone when the peer shows it had what we resent:
 *
 *   Eifel (RFC 3522, timestamps): an ACK echoing a TSval older than the episode's
 *     first retransmission was sent by an original transmission;
 *   D-SACK (RFC 2883 section 4, RFC 3708): every byte the episode retransmitted
 *     came back as a duplicate, so none was needed.
 *
 *   tcp_undo_begin()        <- sack_enter_recovery(), NewReno's fast retransmit,
 *                              on_rexmit() when an RTO cuts
 *   tcp_undo_rto()          <- on_rexmit(): the go-back-N of an RTO runs
 *   tcp_undo_retransmitted()<- send_seg(), for every retransmission
 *   tcp_undo_dsack()        <- process_ack(), the ACK's D-SACK block
 *   tcp_undo_after_rto()    <- process_ack(), an ACK advancing snd_una in an RTO's
 *                              recovery: Eifel says the RTO was spurious (Linux
 *                              tcp_process_loss() -> tcp_try_undo_loss())
 *   tcp_undo_recovery()     <- recovery_exit(): Linux tcp_try_undo_recovery()
 *   tcp_undo_by_dsack()     <- process_ack(), last: Linux tcp_try_undo_dsack(), in
 *                              a recovery or after it
 *   tcp_undo_cancel()       <- an ECE cut (Linux: prior_ssthresh = 0, ECN proves
 *                              congestion)
 *
 * Where shunt differs from Linux: no F-RTO (RFC 5682: Linux's tcp_frto = 2 also
 * undoes an RTO when new data sent after it is acknowledged without timestamps)
 * and no undo on a partial ACK (tcp_try_undo_partial()).
 */
#ifndef SHUNT_TCP_UNDO_H
#define SHUNT_TCP_UNDO_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_seg;

/* A reduction begins: call before cwnd and ssthresh change. */
void tcp_undo_begin(struct tcb *tcb);
/* An RTO's go-back-N begins (whether or not it cut: an RTO inside a recovery
 * keeps the recovery's episode, as Linux's tcp_enter_loss() does). */
void tcp_undo_rto(struct tcb *tcb);
void tcp_undo_cancel(struct tcb *tcb);
void tcp_undo_retransmitted(struct tcb *tcb, uint32_t len, uint32_t tsval);
void tcp_undo_dsack(struct tcb *tcb, const struct tcp_seg *seg);
void tcp_undo_after_rto(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);
void tcp_undo_recovery(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);
void tcp_undo_by_dsack(struct dp_ctx *ctx, struct tcb *tcb);

#endif /* SHUNT_TCP_UNDO_H */
