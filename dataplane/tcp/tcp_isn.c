/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * RFC 6528 initial sequence numbers with SipHash-2-4 as F (see tcp_isn.h).
 *
 *   tcp_init() -> tcp_isn_init() -> getrandom(): ISN and SYN cookie secrets
 *   tcp_connect() -> tcp_isn() -> tcp_isn_siphash(4-tuple) + now_us / 4
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "tcp/tcb.h"
#include "tcp/tcp_isn.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t tcp_isn_siphash(const uint64_t key[2], const uint8_t *in, uint32_t len)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	uint32_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	while (left--)
		b |= (uint64_t)in[i + left] << (8 * left);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

int tcp_isn_init(struct tcp_stack *ts)
{
	uint64_t r[7];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno ? -errno : -EIO;
	ts->isn_key[0] = r[0];
	ts->isn_key[1] = r[1];
	ts->rng = r[2] | 1; /* xorshift must not start at 0 */
	ts->cookie_key[0][0] = r[3];
	ts->cookie_key[0][1] = r[4];
	ts->cookie_key[1][0] = r[5];
	ts->cookie_key[1][1] = r[6];
	memset(r, 0, sizeof(r));
	return 0;
}

uint32_t tcp_isn(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
		 uint32_t raddr_be, uint16_t rport_be, uint64_t now_us)
{
	uint8_t in[12];

	memcpy(in, &laddr_be, 4);
	memcpy(in + 4, &raddr_be, 4);
	memcpy(in + 8, &lport_be, 2);
	memcpy(in + 10, &rport_be, 2);
	return (uint32_t)tcp_isn_siphash(ts->isn_key, in, sizeof(in)) + (uint32_t)(now_us / 4);
}
