/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP header and option parsing and building (see tcp_wire.h for the contract).
 *
 *   tcp_wire_parse(): length check -> data offset check -> fixed fields -> options
 *   tcp_wire_build(): fixed fields -> options in Linux's order -> padding
 */
#include <errno.h>
#include <string.h>

#include "tcp/tcp_wire.h"

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* Options live in opt[0, n). Every read is preceded by a check that the bytes exist;
 * a kind/length that does not fit ends parsing (RFC 9293 3.2: a receiver must be
 * prepared for any option and for malformed ones). */
static void parse_options(const uint8_t *opt, uint32_t n, struct tcp_seg *seg)
{
	uint32_t i = 0;

	while (i < n) {
		uint8_t kind = opt[i];
		uint8_t olen;

		if (kind == TCP_OPT_EOL)
			return;
		if (kind == TCP_OPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2)
			return;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			return;
		switch (kind) {
		case TCP_OPT_MSS:
			/* RFC 9293 3.7.1: only in SYN segments */
			if (olen == 4 && (seg->flags & TCP_SYN))
				seg->mss = rd16(opt + i + 2);
			break;
		case TCP_OPT_WS:
			if (olen == 3 && (seg->flags & TCP_SYN)) {
				seg->has_ws = true;
				/* RFC 7323 2.3: a shift above 14 is used as 14 */
				seg->ws = opt[i + 2] > TCP_WS_MAX ? TCP_WS_MAX : opt[i + 2];
			}
			break;
		case TCP_OPT_SACKOK:
			if (olen == 2 && (seg->flags & TCP_SYN))
				seg->sack_ok = true;
			break;
		case TCP_OPT_TS:
			if (olen == 10) {
				seg->has_ts = true;
				seg->tsval = rd32(opt + i + 2);
				seg->tsecr = rd32(opt + i + 6);
			}
			break;
		case TCP_OPT_SACK:
			/* RFC 2018 3: length 2 + 8n; not in a SYN (nothing sent yet) */
			if (!(seg->flags & TCP_SYN) && olen >= 10 && (olen - 2) % 8 == 0) {
				uint32_t k, nb = (olen - 2u) / 8;

				for (k = 0; k < nb && k < TCP_SACK_MAX; k++) {
					seg->sack[k][0] = rd32(opt + i + 2 + 8 * k);
					seg->sack[k][1] = rd32(opt + i + 6 + 8 * k);
				}
				seg->nsack = (uint8_t)k;
			}
			break;
		default:
			break; /* unknown: skipped by its length */
		}
		i += olen;
	}
}

int tcp_wire_parse(const uint8_t *buf, uint32_t len, struct tcp_seg *seg)
{
	uint32_t off;

	memset(seg, 0, sizeof(*seg));
	if (len < TCP_HDR_LEN)
		return -EMSGSIZE;
	off = (uint32_t)(buf[12] >> 4) * 4;
	if (off < TCP_HDR_LEN || off > len)
		return -EBADMSG;

	seg->sport_be = (uint16_t)(buf[0] | buf[1] << 8); /* bytes as they are: network order */
	seg->dport_be = (uint16_t)(buf[2] | buf[3] << 8);
	seg->seq = rd32(buf + 4);
	seg->ack = rd32(buf + 8);
	seg->flags = buf[13];
	seg->wnd = rd16(buf + 14);
	seg->hdr_len = (uint16_t)off;
	seg->data = buf + off;
	seg->len = len - off;
	parse_options(buf + TCP_HDR_LEN, off - TCP_HDR_LEN, seg);
	return 0;
}

/* SACK blocks that fit beside the other options (40 bytes in all). */
static uint32_t wire_nsack(const struct tcp_hdr_out *h)
{
	uint32_t max = h->has_ts ? 3 : 4;

	if (h->flags & TCP_SYN)
		return 0;
	return h->nsack < max ? h->nsack : max;
}

uint32_t tcp_wire_hdr_len(const struct tcp_hdr_out *h)
{
	uint32_t n = TCP_HDR_LEN;

	if (h->flags & TCP_SYN) {
		if (h->mss)
			n += 4;
		if (h->has_ts)
			n += 12; /* SACK_PERM + TS, or NOP NOP TS */
		else if (h->sack_ok)
			n += 4;  /* NOP NOP SACK_PERM */
		if (h->has_ws)
			n += 4;
	} else {
		if (h->has_ts)
			n += 12;
		if (wire_nsack(h) > 0)
			n += 4 + 8 * wire_nsack(h); /* NOP NOP SACK len, the blocks */
	}
	return n;
}

int tcp_wire_build(uint8_t *buf, uint32_t cap, const struct tcp_hdr_out *h)
{
	uint32_t n = tcp_wire_hdr_len(h);
	uint8_t *o = buf + TCP_HDR_LEN;

	if (cap < n)
		return -ENOSPC;
	memcpy(buf, &h->sport_be, 2);
	memcpy(buf + 2, &h->dport_be, 2);
	wr32(buf + 4, h->seq);
	wr32(buf + 8, h->ack);
	buf[12] = (uint8_t)((n / 4) << 4);
	buf[13] = h->flags;
	wr16(buf + 14, h->wnd);
	wr16(buf + 16, 0); /* checksum: ipv4_output() */
	wr16(buf + 18, 0); /* urgent pointer: we never send urgent data */

	if ((h->flags & TCP_SYN) && h->mss) {
		o[0] = TCP_OPT_MSS;
		o[1] = 4;
		wr16(o + 2, h->mss);
		o += 4;
	}
	if (h->has_ts) {
		if ((h->flags & TCP_SYN) && h->sack_ok) {
			o[0] = TCP_OPT_SACKOK;
			o[1] = 2;
		} else {
			o[0] = TCP_OPT_NOP;
			o[1] = TCP_OPT_NOP;
		}
		o[2] = TCP_OPT_TS;
		o[3] = 10;
		wr32(o + 4, h->tsval);
		wr32(o + 8, h->tsecr);
		o += 12;
	} else if ((h->flags & TCP_SYN) && h->sack_ok) {
		o[0] = TCP_OPT_NOP;
		o[1] = TCP_OPT_NOP;
		o[2] = TCP_OPT_SACKOK;
		o[3] = 2;
		o += 4;
	}
	if ((h->flags & TCP_SYN) && h->has_ws) {
		o[0] = TCP_OPT_NOP;
		o[1] = TCP_OPT_WS;
		o[2] = 3;
		o[3] = h->ws;
		o += 4;
	}
	if (wire_nsack(h) > 0) {
		uint32_t i, k = wire_nsack(h);

		o[0] = TCP_OPT_NOP;
		o[1] = TCP_OPT_NOP;
		o[2] = TCP_OPT_SACK;
		o[3] = (uint8_t)(2 + 8 * k);
		o += 4;
		for (i = 0; i < k; i++) {
			wr32(o, h->sack[i][0]);
			wr32(o + 4, h->sack[i][1]);
			o += 8;
		}
	}
	return (int)n;
}
