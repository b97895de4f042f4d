/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP wire format: a checked parser for the header and options of received
 * segments, and a builder for the header and options we send. Knows nothing of
 * connection state and nothing of mbufs (DPDK-free), so it is tested on golden bytes.
 *
 *   tcp_input() -> tcp_wire_parse(bytes, len) -> struct tcp_seg (host order)
 *   tcp_xmit()  -> tcp_wire_build(struct tcp_hdr_out) -> bytes
 *
 * The parser checks the length and the data offset before it reads any field, and
 * never reads past len. Malformed options end option parsing (what was understood
 * so far is kept), as Linux's tcp_parse_options() does; they do not drop the segment.
 */
#ifndef SHUNT_TCP_WIRE_H
#define SHUNT_TCP_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_HDR_LEN     20
#define TCP_HDR_MAX     60
#define TCP_OPT_EOL     0
#define TCP_OPT_NOP     1
#define TCP_OPT_MSS     2
#define TCP_OPT_WS      3
#define TCP_OPT_SACKOK  4
#define TCP_OPT_SACK    5
#define TCP_OPT_TS      8
#define TCP_WS_MAX      14 /* RFC 7323 2.3 */
#define TCP_SACK_MAX    4  /* blocks in 40 option bytes (RFC 2018 3) */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40 /* RFC 3168 */
#define TCP_CWR 0x80

/* A parsed segment. Ports in network order, numbers in host order. */
struct tcp_seg {
	uint16_t sport_be;
	uint16_t dport_be;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;    /* TCP_* */
	uint8_t ecn;      /* the IPv4 header's ECN field (TCP_ECN_*, tcp_ecn.h): set by
			   * tcp_input(), not by the parser */
	uint16_t wnd;     /* raw, unscaled */
	uint16_t hdr_len; /* bytes, options included */
	const uint8_t *data;
	uint32_t len;     /* payload bytes */

	/* options; meaningful only where has_* is set */
	uint16_t mss;     /* 0: absent */
	bool has_ws;
	uint8_t ws;       /* clamped to TCP_WS_MAX */
	bool sack_ok;
	bool has_ts;
	uint32_t tsval;
	uint32_t tsecr;
	/* SACK blocks (RFC 2018 3), in the order the peer sent them (the first may be a
	 * D-SACK, RFC 2883): [left, right) edges, host order. Only a SACK option of
	 * 2 + 8n bytes, n >= 1, is taken (at most TCP_SACK_MAX blocks fit in 40 bytes);
	 * a malformed one is skipped by its length. Edges are not checked here: that
	 * needs the connection's send sequence space (tcp_sack.c). */
	uint8_t nsack;
	uint32_t sack[TCP_SACK_MAX][2];
};

/* Parse len bytes starting at a TCP header. Returns 0, -EMSGSIZE when len is
 * shorter than a header, -EBADMSG when the data offset is below 5 words or
 * beyond len. Options are parsed only on segments that may carry them. */
int tcp_wire_parse(const uint8_t *buf, uint32_t len, struct tcp_seg *seg);

/* What to write. Options are laid out as Linux does so peers see familiar bytes:
 *   SYN:  MSS, [SACK_PERM + TS | NOP NOP TS | NOP NOP SACK_PERM], NOP WS (each only
 *         when set)
 *   else: NOP NOP TS (when set), NOP NOP SACK + blocks (when any: at most 3 with a
 *         timestamp, 4 without, as 40 option bytes allow)                          */
struct tcp_hdr_out {
	uint16_t sport_be;
	uint16_t dport_be;
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t wnd;   /* already scaled */
	uint16_t mss;   /* 0: no MSS option */
	bool has_ws;
	uint8_t ws;
	bool sack_ok;
	bool has_ts;
	uint32_t tsval;
	uint32_t tsecr;
	uint8_t nsack;  /* SACK blocks below (not in a SYN); capped as said above */
	uint32_t sack[TCP_SACK_MAX][2]; /* [left, right) edges, host order */
};

/* Header length tcp_wire_build() will write for h (a multiple of 4, <= 60). */
uint32_t tcp_wire_hdr_len(const struct tcp_hdr_out *h);
/* Write the header and options into buf (cap bytes). The checksum field is left 0
 * (ipv4_output fills it). Returns the header length, or -ENOSPC. */
int tcp_wire_build(uint8_t *buf, uint32_t cap, const struct tcp_hdr_out *h);

#endif /* SHUNT_TCP_WIRE_H */
