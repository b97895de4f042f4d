/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * SYN cookies (see tcp_syncookie.h): Linux's net/ipv4/syncookies.c, the cookie
 * and its timestamp options, with SipHash-2-4 keyed by ts->cookie_key[].
 *
 *   tcp_syncookie_make()  -> cookie_hash(0) + sseq + count << 24 + (cookie_hash(1) + idx)
 *   tcp_syncookie_check() -> strip cookie_hash(0) + sseq, age from the top 8 bits,
 *                            strip cookie_hash(1) at that count: the index remains
 */
#include <string.h>

#include "tcp/tcb.h"
#include "tcp/tcp_isn.h"
#include "tcp/tcp_syncookie.h"

#define COOKIE_BITS 24 /* Linux COOKIEBITS: the count lives above them */
#define COOKIE_MASK ((1u << COOKIE_BITS) - 1)
#define TS_BITS     6  /* Linux TSBITS: options in TSval's low bits */
#define TS_MASK     ((1u << TS_BITS) - 1)
#define TS_SACK     (1u << 4)            /* Linux TS_OPT_SACK */
#define TS_ECN      (1u << 5)            /* Linux TS_OPT_ECN */

/* Linux msstab[]: the MSS values a cookie can carry (1440: PPPoE). */
static const uint16_t msstab[] = { 536, 1300, 1440, 1460 };
#define MSSTAB_N (sizeof(msstab) / sizeof(msstab[0]))

static uint32_t cookie_count(uint64_t now_us)
{
	return (uint32_t)(now_us / TCP_SYNCOOKIE_PERIOD_US);
}

/* Linux cookie_hash(): SipHash of the 4-tuple and count under secret c. */
static uint32_t cookie_hash(const struct tcp_stack *ts, int c, uint32_t saddr_be,
			    uint16_t sport_be, uint32_t daddr_be, uint16_t dport_be, uint32_t count)
{
	uint8_t in[16];

	memcpy(in, &saddr_be, 4);
	memcpy(in + 4, &daddr_be, 4);
	memcpy(in + 8, &sport_be, 2);
	memcpy(in + 10, &dport_be, 2);
	memcpy(in + 12, &count, 4);
	return (uint32_t)tcp_isn_siphash(ts->cookie_key[c], in, sizeof(in));
}

uint32_t tcp_syncookie_make(const struct tcp_stack *ts, uint32_t saddr_be, uint16_t sport_be,
			    uint32_t daddr_be, uint16_t dport_be, uint32_t sseq, uint16_t *mss,
			    uint64_t now_us)
{
	uint32_t count = cookie_count(now_us), idx;
	uint16_t m = *mss ? *mss : 536;

	/* Linux __cookie_v4_init_sequence(): the largest entry <= the MSS, else 0 */
	for (idx = MSSTAB_N - 1; idx > 0; idx--)
		if (m >= msstab[idx])
			break;
	*mss = msstab[idx];
	return cookie_hash(ts, 0, saddr_be, sport_be, daddr_be, dport_be, 0) + sseq +
	       (count << COOKIE_BITS) +
	       ((cookie_hash(ts, 1, saddr_be, sport_be, daddr_be, dport_be, count) + idx) &
		COOKIE_MASK);
}

uint16_t tcp_syncookie_check(const struct tcp_stack *ts, uint32_t saddr_be, uint16_t sport_be,
			     uint32_t daddr_be, uint16_t dport_be, uint32_t sseq,
			     uint32_t cookie, uint64_t now_us)
{
	uint32_t count = cookie_count(now_us), diff, idx;

	/* Linux check_tcp_syn_cookie(): what remains is (count << 24) + (H1 + idx) */
	cookie -= cookie_hash(ts, 0, saddr_be, sport_be, daddr_be, dport_be, 0) + sseq;
	diff = (count - (cookie >> COOKIE_BITS)) & (UINT32_MAX >> COOKIE_BITS);
	if (diff >= TCP_SYNCOOKIE_MAX_AGE)
		return 0;
	idx = (cookie - cookie_hash(ts, 1, saddr_be, sport_be, daddr_be, dport_be, count - diff)) &
	      COOKIE_MASK;
	/* a forged or mistaken cookie leaves a 24-bit index that is < 4 once in 2^22 */
	return idx < MSSTAB_N ? msstab[idx] : 0;
}

uint32_t tcp_syncookie_tsval(uint32_t now_ms, uint8_t snd_ws, bool sack_ok, bool ecn_ok)
{
	/* Linux cookie_init_timestamp(): never ahead of the clock, so the TSvals we
	 * send later are not older than this one for the peer's PAWS */
	uint32_t ts = (now_ms & ~TS_MASK) | (snd_ws & TCP_SYNCOOKIE_NO_WS) |
		      (sack_ok ? TS_SACK : 0) | (ecn_ok ? TS_ECN : 0);

	if (SEQ_GT(ts, now_ms))
		ts -= TS_MASK + 1;
	return ts;
}

uint8_t tcp_syncookie_ts_ws(uint32_t tsecr)
{
	/* Linux cookie_timestamp_decode() */
	return (uint8_t)(tsecr & TCP_SYNCOOKIE_NO_WS);
}

bool tcp_syncookie_ts_sack(uint32_t tsecr)
{
	return (tsecr & TS_SACK) != 0;
}

bool tcp_syncookie_ts_ecn(uint32_t tsecr)
{
	return (tsecr & TS_ECN) != 0;
}
