/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP input below tcp_input(): the mbuf-free entry points, so unit tests drive the
 * state machine with crafted bytes.
 *
 *   tcp_input(m) -> tcp_input_ecn() -> tcp_wire_parse() -> tcp_table_lookup()
 *                -> tcp_segment_arrives() (RFC 9293 3.10.7) | tcp_reply_rst()
 */
#ifndef SHUNT_TCP_IN_H
#define SHUNT_TCP_IN_H

#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_seg;

/* len bytes from a TCP header on, checksum verified, sent by src to dst. */
void tcp_input_bytes(struct dp_ctx *ctx, const uint8_t *buf, uint32_t len, uint32_t src_be,
		     uint32_t dst_be);
/* The same, with the ECN field (TCP_ECN_*) of the IPv4 header it came in;
 * tcp_input_bytes() passes Not-ECT. */
void tcp_input_ecn(struct dp_ctx *ctx, const uint8_t *buf, uint32_t len, uint32_t src_be,
		   uint32_t dst_be, uint8_t ecn);
/* One segment for tcb. tcb may be freed on return. */
/* RACK marked data lost outside an ACK (the reorder timer): start loss recovery if
 * none runs, and send what it allows. */
void tcp_loss_marked(struct dp_ctx *ctx, struct tcb *tcb);
void tcp_segment_arrives(struct dp_ctx *ctx, struct tcb *tcb, const struct tcp_seg *seg);

#endif /* SHUNT_TCP_IN_H */
