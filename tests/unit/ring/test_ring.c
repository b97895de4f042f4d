/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests for include/shunt/ring.h (command channel, ready ring) and bytering.h.
 *
 *   channel:  FIFO order, full (-EAGAIN) and empty, many laps across the 2^32 wrap of
 *             the free-running indices, partial pops, shunt_chan_empty()
 *   ready:    push/pop order and wrap, -ENOSPC when full (nothing written), partial
 *             pops
 *   hostile:  the dataplane-side functions facing an impossible index from the app
 *             return -EPROTO, leave their private index alone and read nothing out of
 *             bounds (the rings sit against PROT_NONE guard pages)
 *   bytering: write/read across the wrap at every offset and length
 *   stress:   one producer thread, one consumer thread, millions of commands in order
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shunt/abi.h>
#include <shunt/bytering.h>
#include <shunt/ring.h>

/* ---- memory with guard pages ---------------------------------------------------------- */

struct guarded {
	void *map;
	size_t maplen;
};

/* len bytes ending exactly at a PROT_NONE page and starting one page (or less) after
 * another, so any access outside [p, p + len) faults. len must keep p 64-aligned. */
static void *guarded_alloc(struct guarded *g, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (len + pg - 1) / pg * pg;
	char *m;

	g->maplen = body + 2 * pg;
	m = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m, pg, PROT_NONE), 0);
	ck_assert_int_eq(mprotect(m + pg + body, pg, PROT_NONE), 0);
	g->map = m;
	memset(m + pg, 0, body);
	return m + pg + body - len;
}

static void guarded_free(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

static struct shunt_cmd mkcmd(uint32_t seq)
{
	struct shunt_cmd c;

	memset(&c, 0, sizeof(c));
	c.op = SHUNT_CMD_SEND;
	c.sock = seq * 7u;
	c.seq = seq;
	c.value = (uint64_t)seq << 32 | ~seq;
	return c;
}

static void assert_cmd(const struct shunt_cmd *c, uint32_t seq)
{
	ck_assert_uint_eq(c->op, SHUNT_CMD_SEND);
	ck_assert_uint_eq(c->seq, seq);
	ck_assert_uint_eq(c->sock, seq * 7u);
	ck_assert_uint_eq(c->value, (uint64_t)seq << 32 | ~seq);
}

/* ---- command channel ------------------------------------------------------------------ */

static struct guarded chg;
static struct shunt_channel *ch;

static void chan_setup(void)
{
	ch = guarded_alloc(&chg, sizeof(*ch));
}

static void chan_teardown(void)
{
	guarded_free(&chg);
}

START_TEST(test_chan_empty)
{
	struct shunt_cmd out[4];
	uint32_t own = 0;

	ck_assert(shunt_chan_empty(ch, own));
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, 4), 0);
	ck_assert_uint_eq(own, 0);
	ck_assert_uint_eq(ch->cons, 0);
}
END_TEST

START_TEST(test_chan_fifo_full)
{
	struct shunt_cmd c, out[SHUNT_CMD_RING_SIZE];
	uint32_t own = 0, i;

	for (i = 0; i < SHUNT_CMD_RING_SIZE; i++) {
		c = mkcmd(i);
		ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	}
	c = mkcmd(999999);
	ck_assert_int_eq(shunt_chan_push(ch, &c), -EAGAIN);
	ck_assert_uint_eq(ch->prod, SHUNT_CMD_RING_SIZE);
	ck_assert(!shunt_chan_empty(ch, own));

	/* one out makes room for exactly one in */
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, 1), 1);
	assert_cmd(&out[0], 0);
	ck_assert_uint_eq(ch->cons, 1);
	c = mkcmd(SHUNT_CMD_RING_SIZE);
	ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	ck_assert_int_eq(shunt_chan_push(ch, &c), -EAGAIN);

	/* asking for more than is there returns what is there, in order */
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, SHUNT_CMD_RING_SIZE), SHUNT_CMD_RING_SIZE);
	for (i = 0; i < SHUNT_CMD_RING_SIZE; i++)
		assert_cmd(&out[i], i + 1);
	ck_assert_uint_eq(own, SHUNT_CMD_RING_SIZE + 1);
	ck_assert_uint_eq(ch->cons, own);
	ck_assert(shunt_chan_empty(ch, own));
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, 8), 0);
}
END_TEST

/* Many laps with uneven batch sizes, starting just below the 2^32 index wrap. */
START_TEST(test_chan_laps_wrap)
{
	static struct shunt_cmd out[SHUNT_CMD_RING_SIZE];
	const uint32_t start = UINT32_MAX - 3 * SHUNT_CMD_RING_SIZE / 2;
	uint32_t own = start, next_in = 0, next_out = 0;
	unsigned round;

	ch->prod = start;
	ch->cons = start;
	for (round = 0; next_out < 50u * SHUNT_CMD_RING_SIZE; round++) {
		unsigned burst = (round * 37u) % 300u + 1;
		unsigned k;
		int n;

		for (k = 0; k < burst; k++) {
			struct shunt_cmd c = mkcmd(next_in);
			int rc = shunt_chan_push(ch, &c);

			if (rc == -EAGAIN) {
				ck_assert_uint_eq(next_in - next_out, SHUNT_CMD_RING_SIZE);
				break;
			}
			ck_assert_int_eq(rc, 0);
			next_in++;
		}
		n = shunt_chan_pop(ch, &own, out, (round * 53u) % 257u);
		ck_assert_int_ge(n, 0);
		for (k = 0; k < (unsigned)n; k++)
			assert_cmd(&out[k], next_out++);
		ck_assert_uint_eq(own, start + next_out);
		ck_assert_uint_eq(ch->cons, own);
	}
	ck_assert(ch->prod < start); /* the indices did wrap */
}
END_TEST

/* ---- hostile producer index (dp side) ------------------------------------------------- */

static const uint32_t bad_prod_delta[] = {
	SHUNT_CMD_RING_SIZE + 1, SHUNT_CMD_RING_SIZE * 2, UINT32_MAX, UINT32_MAX / 2,
	(uint32_t)-SHUNT_CMD_RING_SIZE, 0x80000000u,
};

START_TEST(test_chan_hostile_prod)
{
	struct shunt_cmd out[SHUNT_CMD_RING_SIZE];
	uint32_t base = 12345, own = base;

	ch->cons = base;
	ch->prod = base + bad_prod_delta[_i]; /* the app's claim */
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, SHUNT_CMD_RING_SIZE), -EPROTO);
	ck_assert_uint_eq(own, base);
	ck_assert_uint_eq(ch->cons, base);
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, 1), -EPROTO);
}
END_TEST

/* A claim of exactly a full ring is legal: it pops everything, within bounds. */
START_TEST(test_chan_full_claim_in_bounds)
{
	static struct shunt_cmd out[SHUNT_CMD_RING_SIZE];
	uint32_t own = UINT32_MAX - 5;
	unsigned i;

	for (i = 0; i < SHUNT_CMD_RING_SIZE; i++)
		ch->ring[i] = mkcmd(i);
	ch->cons = own;
	ch->prod = own + SHUNT_CMD_RING_SIZE;
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, SHUNT_CMD_RING_SIZE),
			 SHUNT_CMD_RING_SIZE);
	/* entries start at (UINT32_MAX - 5) & mask */
	for (i = 0; i < SHUNT_CMD_RING_SIZE; i++)
		assert_cmd(&out[i], ((UINT32_MAX - 5) + i) & (SHUNT_CMD_RING_SIZE - 1));
}
END_TEST

/* The dp reads its consumer index from *own, never from the shared ch->cons, which a
 * hostile app may scribble on. */
START_TEST(test_chan_pop_ignores_shared_cons)
{
	struct shunt_cmd c = mkcmd(1), out[4];
	uint32_t own = 0;

	ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	ch->cons = 0xdeadbeef;
	ck_assert_int_eq(shunt_chan_pop(ch, &own, out, 4), 1);
	assert_cmd(&out[0], 1);
	ck_assert_uint_eq(own, 1);
	ck_assert_uint_eq(ch->cons, 1);
}
END_TEST

/* ---- ready ring (dp -> app) --------------------------------------------------------- */

static struct guarded rdg;
static struct shunt_notifier *nt;

static void ready_setup(void)
{
	nt = guarded_alloc(&rdg, sizeof(*nt));
}

static void ready_teardown(void)
{
	guarded_free(&rdg);
}

START_TEST(test_ready_push_pop_full)
{
	uint32_t own = 0, i, out[SHUNT_READY_RING + 8];

	ck_assert_uint_eq(shunt_ready_pop(nt, out, 8), 0);
	for (i = 0; i < SHUNT_READY_RING; i++)
		ck_assert_int_eq(shunt_ready_push(nt, &own, i * 3), 0);
	ck_assert_uint_eq(own, SHUNT_READY_RING);
	ck_assert_uint_eq(nt->ready_prod, SHUNT_READY_RING);
	/* full: the caller counts ready_lost; nothing moves, nothing is overwritten */
	ck_assert_int_eq(shunt_ready_push(nt, &own, 0xdead), -ENOSPC);
	ck_assert_uint_eq(own, SHUNT_READY_RING);
	ck_assert_uint_eq(nt->ready_prod, SHUNT_READY_RING);
	ck_assert_uint_eq(nt->ready[0], 0);
	/* partial pops, in order; room for exactly what was taken */
	ck_assert_uint_eq(shunt_ready_pop(nt, out, 5), 5);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(out[i], i * 3);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(shunt_ready_push(nt, &own, 1000 + i), 0);
	ck_assert_int_eq(shunt_ready_push(nt, &own, 0xdead), -ENOSPC);
	ck_assert_uint_eq(shunt_ready_pop(nt, out, SHUNT_READY_RING + 8), SHUNT_READY_RING);
	for (i = 0; i < SHUNT_READY_RING - 5; i++)
		ck_assert_uint_eq(out[i], (i + 5) * 3);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(out[SHUNT_READY_RING - 5 + i], 1000 + i);
	ck_assert_uint_eq(shunt_ready_pop(nt, out, 8), 0);
	ck_assert_uint_eq(nt->ready_cons, own);
}
END_TEST

/* Entries recycle through the wrap of the free-running indices. */
START_TEST(test_ready_wrap)
{
	uint32_t own = UINT32_MAX - 10, out[7], next = 0, got = 0;

	nt->ready_prod = nt->ready_cons = own;
	while (got < 20 * SHUNT_READY_RING) {
		unsigned k, n;

		for (k = 0; k < 11; k++)
			if (shunt_ready_push(nt, &own, next) == 0)
				next++;
		n = shunt_ready_pop(nt, out, 7);
		for (k = 0; k < n; k++, got++)
			ck_assert_uint_eq(out[k], got);
	}
	ck_assert(own < UINT32_MAX - 10); /* wrapped */
	ck_assert_uint_eq(own, UINT32_MAX - 10 + next);
}
END_TEST

static const uint32_t bad_cons_delta[] = {
	/* cons - prod as the app claims: ahead of the producer, or more than a ring
	 * behind */
	1, 2, SHUNT_READY_RING, 0x7fffffffu, (uint32_t)-(SHUNT_READY_RING + 1),
	0x80000000u, UINT32_MAX - SHUNT_READY_RING * 4,
};

START_TEST(test_ready_hostile_cons)
{
	uint32_t own = 500;
	unsigned i;

	for (i = 0; i < SHUNT_READY_RING; i++)
		nt->ready[i] = 0xabababab;
	nt->ready_prod = own;
	nt->ready_cons = own + bad_cons_delta[_i];
	ck_assert_int_eq(shunt_ready_push(nt, &own, 7), -EPROTO);
	ck_assert_uint_eq(own, 500);
	ck_assert_uint_eq(nt->ready_prod, 500);
	for (i = 0; i < SHUNT_READY_RING; i++)
		ck_assert_uint_eq(nt->ready[i], 0xabababab); /* nothing written */
}
END_TEST

/* The dp's producer index is its private copy: a scribbled ready_prod changes
 * nothing of what it pushes next. */
START_TEST(test_ready_push_ignores_shared_prod)
{
	uint32_t own = 3, out[4];

	nt->ready_cons = 3;
	nt->ready_prod = 0xdeadbeef;
	ck_assert_int_eq(shunt_ready_push(nt, &own, 42), 0);
	ck_assert_uint_eq(nt->ready_prod, 4);
	ck_assert_uint_eq(nt->ready[3], 42);
	ck_assert_uint_eq(shunt_ready_pop(nt, out, 4), 1);
	ck_assert_uint_eq(out[0], 42);
}
END_TEST

/* ---- bytering ---------------------------------------------------------------------------- */

#define BR_SIZE 64u

/* Every position over two laps (so the free-running pos wraps the mask) and every
 * length 0..size: the bytes land at (pos + k) & mask, nothing else changes, and
 * reading back yields them. */
START_TEST(test_bytering_every_offset)
{
	uint8_t ring[BR_SIZE + 16], src[BR_SIZE], dst[BR_SIZE + 1];
	uint32_t pos, len, k;

	for (k = 0; k < BR_SIZE; k++)
		src[k] = (uint8_t)(k * 13 + 1);
	for (pos = 0; pos < 2 * BR_SIZE; pos++) {
		for (len = 0; len <= BR_SIZE; len++) {
			uint32_t p = pos + 0xfffffff0u; /* also straddle the 2^32 wrap */

			memset(ring, 0xee, sizeof(ring));
			bytering_write(ring, BR_SIZE, p, src, len);
			for (k = 0; k < BR_SIZE; k++) {
				uint32_t rel = (k - (p & (BR_SIZE - 1))) & (BR_SIZE - 1);

				if (rel < len)
					ck_assert_uint_eq(ring[k], src[rel]);
				else
					ck_assert_uint_eq(ring[k], 0xee);
			}
			for (k = BR_SIZE; k < sizeof(ring); k++)
				ck_assert_uint_eq(ring[k], 0xee);
			memset(dst, 0x55, sizeof(dst));
			bytering_read(ring, BR_SIZE, p, dst, len);
			ck_assert_int_eq(memcmp(dst, src, len), 0);
			ck_assert_uint_eq(dst[len], 0x55);
		}
	}
}
END_TEST

/* A page-sized ring between guard pages: every start offset, the lengths that end
 * exactly at, just past, and far past the wrap. Any stray access faults. */
START_TEST(test_bytering_guarded)
{
	struct guarded g;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uint32_t size = (uint32_t)pg;
	uint8_t *ring = guarded_alloc(&g, pg);
	uint8_t *src = malloc(pg), *dst = malloc(pg);
	uint32_t off, j;

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	for (j = 0; j < size; j++)
		src[j] = (uint8_t)(j ^ (j >> 8));
	for (off = 0; off < size; off++) {
		uint32_t lens[] = { 1, size - off, size - off + 1, size };

		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			uint32_t len = lens[j] > size ? size : lens[j];

			bytering_write(ring, size, off + 3 * size, src, len);
			bytering_read(ring, size, off + 5 * size, dst, len);
			ck_assert_int_eq(memcmp(dst, src, len), 0);
		}
	}
	free(src);
	free(dst);
	guarded_free(&g);
}
END_TEST

/* ---- two-thread stress ----------------------------------------------------------------- */

#define STRESS_N 4000000u

struct stress {
	struct shunt_channel *ch;
	uint32_t errors;
	uint32_t first_bad;
};

static void *stress_producer(void *arg)
{
	struct stress *st = arg;
	uint32_t i = 0;

	while (i < STRESS_N) {
		struct shunt_cmd c = mkcmd(i);

		if (shunt_chan_push(st->ch, &c) == 0)
			i++;
		else
			sched_yield(); /* 2 cores, others busy: let the consumer run */
	}
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress *st = arg;
	struct shunt_cmd out[32];
	uint32_t own = 0, next = 0;

	while (next < STRESS_N) {
		int n = shunt_chan_pop(st->ch, &own, out, 32), k;

		if (n < 0) {
			st->errors++;
			return NULL;
		}
		if (n == 0) {
			sched_yield();
			continue;
		}
		for (k = 0; k < n; k++, next++) {
			/* every field, so a torn or early-read entry shows */
			if (out[k].seq != next || out[k].sock != next * 7u ||
			    out[k].value != ((uint64_t)next << 32 | ~next)) {
				if (st->errors++ == 0)
					st->first_bad = next;
			}
		}
	}
	return NULL;
}

START_TEST(test_stress_two_threads)
{
	struct stress st = { .ch = ch };
	pthread_t p, c;

	ck_assert_int_eq(pthread_create(&c, NULL, stress_consumer, &st), 0);
	ck_assert_int_eq(pthread_create(&p, NULL, stress_producer, &st), 0);
	ck_assert_int_eq(pthread_join(p, NULL), 0);
	ck_assert_int_eq(pthread_join(c, NULL), 0);
	ck_assert_msg(st.errors == 0, "%u bad entries, first at %u", st.errors, st.first_bad);
	ck_assert_uint_eq(ch->prod, STRESS_N);
	ck_assert_uint_eq(ch->cons, STRESS_N);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *t;

	t = tcase_create("chan");
	tcase_add_checked_fixture(t, chan_setup, chan_teardown);
	tcase_add_test(t, test_chan_empty);
	tcase_add_test(t, test_chan_fifo_full);
	tcase_add_test(t, test_chan_laps_wrap);
	tcase_add_loop_test(t, test_chan_hostile_prod, 0,
			    sizeof(bad_prod_delta) / sizeof(bad_prod_delta[0]));
	tcase_add_test(t, test_chan_full_claim_in_bounds);
	tcase_add_test(t, test_chan_pop_ignores_shared_cons);
	suite_add_tcase(s, t);

	t = tcase_create("ready");
	tcase_add_checked_fixture(t, ready_setup, ready_teardown);
	tcase_add_test(t, test_ready_push_pop_full);
	tcase_add_test(t, test_ready_wrap);
	tcase_add_loop_test(t, test_ready_hostile_cons, 0,
			    sizeof(bad_cons_delta) / sizeof(bad_cons_delta[0]));
	tcase_add_test(t, test_ready_push_ignores_shared_prod);
	suite_add_tcase(s, t);

	t = tcase_create("bytering");
	tcase_add_test(t, test_bytering_every_offset);
	tcase_add_test(t, test_bytering_guarded);
	suite_add_tcase(s, t);

	t = tcase_create("stress");
	tcase_add_checked_fixture(t, chan_setup, chan_teardown);
	tcase_set_timeout(t, 50);
	tcase_add_test(t, test_stress_two_threads);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
