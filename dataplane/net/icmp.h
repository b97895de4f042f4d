/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ICMP (RFC 792): echo replies, delivery of errors to the transports, and the one
 * error we send (destination unreachable, for UDP's closed ports).
 */
#ifndef SHUNT_NET_ICMP_H
#define SHUNT_NET_ICMP_H

#include <stdint.h>

struct dp_ctx;
struct rte_mbuf;

/* ICMP type 3 / 11 / 12 constants DPDK 22.11's rte_icmp.h does not name. */
#define ICMP_DEST_UNREACH 3
#define ICMP_SOURCE_QUENCH 4
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12
#define ICMP_UNREACH_NCODES 16 /* codes 0..15 (RFC 792, 1122, 1812) */
#define ICMP_UNREACH_PORT 3
#define ICMP_UNREACH_NEEDFRAG 4 /* fragmentation needed and DF set (RFC 1191) */
#define ICMP_ERR_MAX 576        /* an error we send, IP header included (RFC 1812 4.3.2.3) */
#define ICMP_RATE_TOKEN_US 1000 /* Linux icmp_msgs_per_sec = 1000 */
#define ICMP_RATE_BURST 50      /* Linux icmp_msgs_burst */

/* An ICMP message addressed to us: m's data starts at the ICMP header and covers
 * exactly the message (IP padding trimmed). src_be is the sender. Takes ownership. */
void icmp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be);

/* Answer a datagram addressed to us with ICMP destination unreachable (code),
 * quoting its IPv4 header and as much data as fits in ICMP_ERR_MAX (RFC 1122 3.2.2).
 * m is as ipv4_input() hands it up: data at the L4 header, its IPv4 header (m->l3_len
 * bytes) right before it in the buffer. Rate limited as Linux's global ICMP limit.
 * Takes ownership. */
void icmp_send_unreach(struct dp_ctx *ctx, struct rte_mbuf *m, uint8_t code);

/* Linux's errno for a destination-unreachable code (icmp_err_convert[] in
 * net/ipv4/icmp.c); 0 for a code out of range. Exposed for tests. */
int icmp_unreach_errno(uint8_t code);

#endif /* SHUNT_NET_ICMP_H */
