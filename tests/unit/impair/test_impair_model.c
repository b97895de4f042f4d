/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The impairment tool's model (tests/impair/impair_model.h): spec parsing with
 * its errors, and what impair_decide() does to streams of packets with the time
 * passed in: loss rates and burst lengths, delay and jitter (release times never
 * going backwards), the rate limiter's spacing and tail drop, duplication and
 * reordering rates, and the same decisions for the same seed.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "impair_model.h"

#define MS 1000000ull

static struct impair_dir D;

static void dir_of(const char *spec, uint64_t seed)
{
	struct impair_spec s;
	char err[128] = "";

	ck_assert_msg(impair_spec_parse(spec, &s, err, sizeof(err)) == 0, "%s: %s", spec, err);
	impair_dir_init(&D, &s, seed);
}

START_TEST(parse_values)
{
	struct impair_spec s;
	char err[128];

	ck_assert_int_eq(impair_spec_parse("loss=10%,delay=50ms,jitter=5ms,dup=1,reorder=2%,"
					   "reorder_max=10ms,rate=100mbit,buffer=30000,"
					   "limit=500", &s, err, sizeof(err)), 0);
	ck_assert(s.loss > 0.099 && s.loss < 0.101);
	ck_assert_uint_eq(s.delay_ns, 50 * MS);
	ck_assert_uint_eq(s.jitter_ns, 5 * MS);
	ck_assert(s.dup > 0.0099 && s.dup < 0.0101);
	ck_assert(s.reorder > 0.0199 && s.reorder < 0.0201);
	ck_assert_uint_eq(s.reorder_max_ns, 10 * MS);
	ck_assert_uint_eq(s.rate_bps, 100000000ull);
	ck_assert_uint_eq(s.buffer_bytes, 30000);
	ck_assert_uint_eq(s.limit, 500);
	ck_assert_int_eq(impair_spec_parse("delay=1s", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.delay_ns, 1000 * MS);
	ck_assert_int_eq(impair_spec_parse("delay=250us", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.delay_ns, 250000);
	ck_assert_int_eq(impair_spec_parse("", &s, err, sizeof(err)), 0); /* nothing */
	ck_assert(s.loss == 0 && s.delay_ns == 0 && s.rate_bps == 0);
}
END_TEST

START_TEST(parse_errors)
{
	static const char *bad[] = { "loss", "loss=abc", "loss=150%", "nosuch=1",
				     "delay=5parsecs", "rate=fast", "loss=-3" };
	struct impair_spec s;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(impair_spec_parse(bad[i], &s, err, sizeof(err)) == -1, "%s", bad[i]);
		ck_assert_msg(err[0] != '\0', "%s: no reason given", bad[i]);
	}
}
END_TEST

/* Count the fates of n packets of len bytes, one every gap_ns. */
static unsigned fates(unsigned n, uint32_t len, uint64_t gap_ns, enum impair_fate f)
{
	struct impair_decision d;
	unsigned i, k = 0;

	for (i = 0; i < n; i++) {
		impair_decide(&D, (uint64_t)i * gap_ns, len, &d);
		k += d.fate == f;
	}
	return k;
}

START_TEST(loss_rate)
{
	unsigned lost;

	dir_of("loss=10%", 1);
	lost = fates(100000, 100, 1000, IMPAIR_DROP_LOSS);
	ck_assert_msg(lost > 9500 && lost < 10500, "lost %u of 100000", lost);
	dir_of("loss=0", 1);
	ck_assert_uint_eq(fates(10000, 100, 1000, IMPAIR_PASS), 10000);
	dir_of("loss=100%", 1);
	ck_assert_uint_eq(fates(10000, 100, 1000, IMPAIR_DROP_LOSS), 10000);
}
END_TEST

START_TEST(burst_lengths)
{
	struct impair_decision d;
	unsigned i, lost = 0, runs = 0;
	bool prev = false;

	dir_of("burst=5%/4", 7);
	for (i = 0; i < 200000; i++) {
		impair_decide(&D, (uint64_t)i * 1000, 100, &d);
		if (d.fate == IMPAIR_DROP_BURST) {
			lost++;
			runs += !prev;
		}
		prev = d.fate == IMPAIR_DROP_BURST;
	}
	ck_assert_msg(lost > 8000 && lost < 12000, "lost %u of 200000", lost);
	ck_assert_msg(runs > 0 && (double)lost / runs > 3.0 && (double)lost / runs < 5.0,
		      "%u lost in %u runs", lost, runs);
}
END_TEST

START_TEST(delay_jitter_in_order)
{
	struct impair_decision d;
	uint64_t last = 0;
	unsigned i;

	dir_of("delay=50ms,jitter=5ms", 3);
	for (i = 0; i < 10000; i++) {
		uint64_t now = (uint64_t)i * 100000; /* 10,000 packets/s */

		impair_decide(&D, now, 100, &d);
		ck_assert_int_eq(d.fate, IMPAIR_PASS);
		ck_assert_msg(d.release_ns >= last, "released before the one ahead");
		/* never before delay - jitter; later only to keep the order */
		ck_assert_uint_ge(d.release_ns, now + 45 * MS);
		ck_assert_uint_le(d.release_ns, now + 55 * MS);
		last = d.release_ns;
	}
}
END_TEST

START_TEST(rate_spacing_and_tail_drop)
{
	struct impair_decision d;
	uint64_t prev = 0;
	unsigned i, dropped = 0;

	/* 1 Mbit/s: a 1250-byte packet takes 10 ms on the link */
	dir_of("rate=1mbit,buffer=12500", 5);
	for (i = 0; i < 5; i++) {
		impair_decide(&D, 0, 1250, &d);
		ck_assert_int_eq(d.fate, IMPAIR_PASS);
		if (i > 0)
			ck_assert_uint_eq(d.release_ns - prev, 10 * MS);
		prev = d.release_ns;
	}
	/* a burst far beyond the 12,500-byte buffer: the tail is dropped */
	for (i = 0; i < 100; i++) {
		impair_decide(&D, 0, 1250, &d);
		dropped += d.fate == IMPAIR_DROP_BUFFER;
	}
	ck_assert_msg(dropped >= 90, "only %u of 100 dropped past the buffer", dropped);
}
END_TEST

START_TEST(dup_and_reorder_rates)
{
	struct impair_decision d;
	unsigned i, dups = 0, reord = 0;

	dir_of("dup=10%,reorder=5%", 11);
	for (i = 0; i < 100000; i++) {
		impair_decide(&D, (uint64_t)i * 1000, 100, &d);
		ck_assert_int_eq(d.fate, IMPAIR_PASS);
		dups += d.dup;
		reord += d.reorder;
	}
	ck_assert_msg(dups > 9500 && dups < 10500, "%u duplicated", dups);
	ck_assert_msg(reord > 4500 && reord < 5500, "%u reordered", reord);
}
END_TEST

START_TEST(same_seed_same_decisions)
{
	struct impair_decision a[1000], b[1000];
	unsigned i;

	dir_of("loss=10%,burst=2%/3,delay=5ms,jitter=2ms,dup=5%,reorder=5%", 42);
	for (i = 0; i < 1000; i++)
		impair_decide(&D, (uint64_t)i * 50000, 200, &a[i]);
	dir_of("loss=10%,burst=2%/3,delay=5ms,jitter=2ms,dup=5%,reorder=5%", 42);
	for (i = 0; i < 1000; i++)
		impair_decide(&D, (uint64_t)i * 50000, 200, &b[i]);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(a[i].fate, b[i].fate);
		ck_assert_uint_eq(a[i].release_ns, b[i].release_ns);
		ck_assert_int_eq(a[i].dup, b[i].dup);
		ck_assert_int_eq(a[i].reorder, b[i].reorder);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("impair_model");
	TCase *tc = tcase_create("model");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, parse_values);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, loss_rate);
	tcase_add_test(tc, burst_lengths);
	tcase_add_test(tc, delay_jitter_in_order);
	tcase_add_test(tc, rate_spacing_and_tail_drop);
	tcase_add_test(tc, dup_and_reorder_rates);
	tcase_add_test(tc, same_seed_same_decisions);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
