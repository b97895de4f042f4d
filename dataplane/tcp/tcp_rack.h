/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * RACK-TLP (RFC 8985): loss detection by time, as Linux does it by default.
 *
 * The tx ring holds bytes, not segments, so the per-segment transmit times RACK
 * needs are kept as a short log in the tcb (tcb->sent[], in the order sent): a
 * record is a run of sequence space sent in one burst, with its time and whether
 * it was a retransmission. Bursts sent within a fraction of the RTT share one
 * record; when the log is full the oldest record goes (its bytes are then left to
 * RFC 6675's IsLost() and the RTO, as before RACK).
 *
 *   send_seg()            -> tcp_rack_sent()      log [seq, end) at now
 *   process_ack()         -> tcp_rack_on_ack()    RACK.xmit_ts/rtt from what the
 *                                                  ACK delivered; the log trimmed;
 *                                                  tcp_rack_detect()
 *   tcp_rack_detect()     -> records sent before RACK.xmit_ts and older than
 *                            RACK.rtt + reo_wnd are lost: originals move
 *                            rack_lost_end, retransmissions are flagged (and
 *                            rack_relost says where the first one starts);
 *                            records not yet old enough arm the reorder timer
 *   tcp_sack_next_hole/pipe: holes below rack_lost_end are lost
 *   sack_output()         -> tcp_rack_live_rexmit(): a hole whose last
 *                            transmission is a retransmission not known lost is
 *                            in flight, not sent again
 *   TCP_T_LOSS            -> reorder timeout (tcp_rack_detect) or the tail loss
 *                            probe (tcp_out.c tcp_send_tlp)
 */
#ifndef SHUNT_TCP_RACK_H
#define SHUNT_TCP_RACK_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_seg;

/* [seq, end) (data and/or FIN) was just sent; rexmit: it had been sent before. */
void tcp_rack_sent(const struct dp_ctx *ctx, struct tcb *tcb, uint32_t seq, uint32_t end,
		   bool rexmit);
/* After the scoreboard took seg's blocks and snd_una moved from old_una: RFC 8985
 * 6.2 steps 1-5. Returns true if it marked something lost. */
bool tcp_rack_on_ack(struct dp_ctx *ctx, struct tcb *tcb, uint32_t old_una,
		     const struct tcp_seg *seg);
/* RFC 8985 6.2 step 5 (and the reorder timer's work): mark what is lost, arm the
 * reorder timer for what may still arrive. Returns true if it marked something. */
bool tcp_rack_detect(struct dp_ctx *ctx, struct tcb *tcb);
/* An RTO: every record is lost (RFC 8985 6.3, Linux tcp_rack_mark_lost in Loss). */
void tcp_rack_on_rto(struct tcb *tcb);
/* If the last transmission of seq is a retransmission RACK does not know lost,
 * the end of what that retransmission covers; else seq. */
uint32_t tcp_rack_live_rexmit(const struct tcb *tcb, uint32_t seq);
/* Bytes of [a, b) whose last transmission is a retransmission not known lost
 * (RFC 6675 SetPipe's "retransmitted" octets, Linux retrans_out). */
uint32_t tcp_rack_rexmit_bytes(const struct tcb *tcb, uint32_t a, uint32_t b);
/* RFC 8985 7.2: arm the probe timeout when a tail loss probe may be due. */
void tcp_rack_schedule_tlp(struct dp_ctx *ctx, struct tcb *tcb);

#endif /* SHUNT_TCP_RACK_H */
