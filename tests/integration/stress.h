/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Self-checking byte streams shared by the stress programs (stress_*.c) and their
 * kernel peer (stress_peer.c). Header-only, plain C11, no shunt headers: the
 * programs use nothing but the POSIX socket API.
 *
 * Two streams, because the two directions are checked under different rules:
 *
 * 1. Tagged writer streams (program -> peer). Several threads write to ONE socket
 *    at once, and neither Linux nor shunt promises that one send() lands in the
 *    stream as one piece (Linux drops the socket lock while it waits for send
 *    buffer space; shunt copies in pieces when its ring is full). So every BYTE
 *    carries its writer: bits 7..6 the writer id (0..3), bits 5..0 the next six
 *    bits of that writer's own xorshift32 sequence. The peer, which reads the
 *    stream in order, splits it by writer and checks each writer's bytes against
 *    its generator: every byte is checked at its exact position within its
 *    writer's stream, whatever the interleaving of writers.
 *
 * 2. The recurrence stream (peer -> program). One writer (the peer), several
 *    readers in the program. Which reader gets which piece is not observable, so
 *    no reader knows where its piece starts; instead every byte after the first
 *    four of a piece is a function of the four before it: the stream is the bit
 *    sequence of a maximal-length LFSR, a(n) = a(n-1) ^ a(n-2) ^ a(n-22) ^ a(n-32)
 *    (characteristic polynomial x^32+x^31+x^30+x^10+1, the reciprocal of the
 *    primitive x^32+x^22+x^2+x+1; period 2^32-1 bits), eight bits per byte. A
 *    recv() that returns a corrupted byte, or bytes that are not contiguous in
 *    the stream (a seam where another reader's piece was taken out), breaks the
 *    recurrence (each such byte passes by chance with probability 1/256). The
 *    first four bytes of each piece are covered by the totals: the histogram of
 *    every byte received on a socket must equal that of the first N bytes of its
 *    stream, N being what the peer says it sent.
 */
#ifndef SHUNT_STRESS_H
#define SHUNT_STRESS_H

#include <stddef.h>
#include <stdint.h>

#define STRESS_MAX_WRITERS 4 /* two tag bits */

/* ---- tagged writer streams ----------------------------------------------------- */

struct stress_wstream {
	uint32_t x;   /* xorshift32 state, never 0 */
	uint64_t pos; /* bytes produced or checked so far */
};

static inline void stress_wstream_init(struct stress_wstream *w, uint32_t conn,
				       uint32_t writer)
{
	w->x = (conn + 1) * 0x9e3779b1u ^ (writer + 1) * 0x85ebca6bu;
	if (w->x == 0)
		w->x = 1;
	w->pos = 0;
}

static inline uint8_t stress_wstream_next(struct stress_wstream *w, uint32_t writer)
{
	uint32_t x = w->x;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	w->x = x;
	w->pos++;
	return (uint8_t)(writer << 6 | (x & 63));
}

static inline void stress_wstream_fill(struct stress_wstream *w, uint32_t writer,
				       uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stress_wstream_next(w, writer);
}

/* ---- the recurrence stream ----------------------------------------------------- */

/* The LFSR is linear, so the next byte is a GF(2)-linear function of the last
 * four: T[k][v] is the next byte when byte k of the state (k = 0 the newest) is v
 * and the rest are zero. */
struct stress_lfsr {
	uint8_t t[4][256];
};

/* One bit step: state bit 0 is a(n-1), bit 31 is a(n-32). */
static inline uint32_t stress_lfsr_bit(uint32_t s)
{
	uint32_t b = (s ^ s >> 1 ^ s >> 21 ^ s >> 31) & 1;

	return s << 1 | b;
}

static inline void stress_lfsr_init(struct stress_lfsr *l)
{
	for (int k = 0; k < 4; k++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t s = v << (8 * k);

			for (int i = 0; i < 8; i++)
				s = stress_lfsr_bit(s);
			l->t[k][v] = (uint8_t)s;
		}
}

/* The byte that follows the four bytes whose last is p[3]. */
static inline uint8_t stress_lfsr_next(const struct stress_lfsr *l, const uint8_t *p)
{
	return l->t[0][p[3]] ^ l->t[1][p[2]] ^ l->t[2][p[1]] ^ l->t[3][p[0]];
}

/* The state the stream of connection conn starts from (its first four bytes
 * come after it). */
static inline uint32_t stress_lfsr_seed(uint32_t conn)
{
	uint32_t s = (conn + 1) * 0x27d4eb2fu;

	return s ? s : 1;
}

/* Generator of a connection's stream: ctx[] holds the last four bytes. */
struct stress_rstream {
	uint8_t last[4];
	uint64_t pos;
};

static inline void stress_rstream_init(struct stress_rstream *r, uint32_t conn)
{
	uint32_t s = stress_lfsr_seed(conn);

	r->last[0] = (uint8_t)(s >> 24);
	r->last[1] = (uint8_t)(s >> 16);
	r->last[2] = (uint8_t)(s >> 8);
	r->last[3] = (uint8_t)s;
	r->pos = 0;
}

static inline void stress_rstream_fill(const struct stress_lfsr *l, struct stress_rstream *r,
				       uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = stress_lfsr_next(l, r->last);

		r->last[0] = r->last[1];
		r->last[1] = r->last[2];
		r->last[2] = r->last[3];
		r->last[3] = b;
		buf[i] = b;
	}
	r->pos += n;
}

/* Check a piece received from the stream: returns the offset of the first byte
 * that does not follow from the four before it, or n when all do. */
static inline size_t stress_rstream_check(const struct stress_lfsr *l, const uint8_t *buf,
					  size_t n)
{
	for (size_t i = 4; i < n; i++)
		if (stress_lfsr_next(l, buf + i - 4) != buf[i])
			return i;
	return n;
}

#endif /* SHUNT_STRESS_H */
