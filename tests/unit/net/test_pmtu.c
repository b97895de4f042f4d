/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * pmtu suite: the path MTU per destination as Linux's __ip_rt_update_pmtu() keeps
 * it (lowered only, the floor of 552 locked, expiry after 600 s, a full set), and
 * the DF bit ipv4_output() sets from it.
 */
#include <netinet/in.h>

#include "net/net.h"
#include "net_test.h"

#define DST T_IP(10, 99, 0, 7)

START_TEST(pmtu_port_mtu_until_told)
{
	uint64_t exp = 0;

	ck_assert_uint_eq(pmtu_get(&tctx, DST, &exp), 1500);
	ck_assert_uint_eq(exp, UINT64_MAX);
	/* an MTU at or above the path's is no news: nothing kept */
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1500), 1500);
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 9000), 1500);
	ck_assert_uint_eq(tctx.pmtu.n, 0);
	ck_assert_uint_eq(tctx.net_stats.ip_pmtu_not_lower, 2);
	ck_assert_uint_eq(tctx.pmtu.gen, 0);
}
END_TEST

START_TEST(pmtu_lowered_per_destination_then_expires)
{
	uint64_t exp = 0;
	uint32_t gen;

	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1280), 1280);
	ck_assert_uint_eq(pmtu_get(&tctx, DST, &exp), 1280);
	ck_assert_uint_eq(exp, T_US + PMTU_EXPIRES_US);
	ck_assert(!pmtu_locked(&tctx, DST));
	/* another destination keeps the port's */
	ck_assert_uint_eq(pmtu_get(&tctx, T_IP(10, 99, 0, 8), NULL), 1500);
	gen = tctx.pmtu.gen;
	ck_assert_uint_ne(gen, 0);
	/* raising it again takes no ICMP: it only goes down */
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1400), 1280);
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1000), 1000);
	ck_assert_uint_eq(tctx.pmtu.gen, gen + 1);
	/* the same news in the first half of its life changes nothing */
	tctx.now_us += PMTU_EXPIRES_US / 2 - 1;
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1000), 1000);
	ck_assert_uint_eq(tctx.pmtu.gen, gen + 1);
	tctx.now_us += 2;
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 1000), 1000);
	ck_assert_uint_eq(tctx.pmtu.gen, gen + 2);
	ck_assert_uint_eq(pmtu_get(&tctx, DST, &exp), 1000);
	ck_assert_uint_eq(exp, tctx.now_us + PMTU_EXPIRES_US);
	/* mtu_expires later the port's MTU is the path's again */
	tctx.now_us = exp;
	ck_assert_uint_eq(pmtu_get(&tctx, DST, &exp), 1500);
	ck_assert_uint_eq(exp, UINT64_MAX);
	ck_assert_uint_eq(tctx.pmtu.n, 1);
}
END_TEST

START_TEST(pmtu_below_min_is_locked_at_552)
{
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 300), PMTU_MIN);
	ck_assert(pmtu_locked(&tctx, DST));
	ck_assert_uint_eq(tctx.net_stats.ip_pmtu_below_min, 1);
	/* locked: no further news until it expires */
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 500), PMTU_MIN);
	ck_assert_uint_eq(tctx.net_stats.ip_pmtu_not_lower, 1);
	/* 0 (a router of RFC 792's days, no MTU said) is below the floor too */
	ck_assert_uint_eq(pmtu_update(&tctx, T_IP(10, 99, 0, 9), 0), PMTU_MIN);
	ck_assert(pmtu_locked(&tctx, T_IP(10, 99, 0, 9)));
	tctx.now_us += PMTU_EXPIRES_US;
	ck_assert(!pmtu_locked(&tctx, DST));
	ck_assert_uint_eq(pmtu_get(&tctx, DST, NULL), 1500);
}
END_TEST

START_TEST(pmtu_never_above_the_port)
{
	/* a path already below 552 stays where it is, locked */
	tctx.mtu = 500;
	ck_assert_uint_eq(pmtu_update(&tctx, DST, 100), 500);
	ck_assert(pmtu_locked(&tctx, DST));
	tctx.mtu = 1500;
	ck_assert_uint_eq(pmtu_update(&tctx, T_IP(10, 99, 0, 9), 1400), 1400);
	tctx.mtu = 1300; /* the port shrank since: it bounds every path */
	ck_assert_uint_eq(pmtu_get(&tctx, T_IP(10, 99, 0, 9), NULL), 1300);
}
END_TEST

START_TEST(pmtu_full_set_gives_up_the_oldest)
{
	uint32_t d[DP_PMTU_SETS * DP_PMTU_WAYS + 1];
	unsigned i, kept = 0;

	/* more destinations than entries: every one is kept until its set fills, then
	 * the one that expires first goes */
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		d[i] = T_IP(10, 100, i >> 8, i & 0xff);
		tctx.now_us++;
		ck_assert_uint_eq(pmtu_update(&tctx, d[i], 1200), 1200);
	}
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		kept += pmtu_get(&tctx, d[i], NULL) == 1200;
	ck_assert_uint_eq(kept + tctx.net_stats.ip_pmtu_evicted, sizeof(d) / sizeof(d[0]));
	ck_assert_uint_ge(tctx.net_stats.ip_pmtu_evicted, 1);
	ck_assert_uint_le(tctx.pmtu.n, DP_PMTU_SETS * DP_PMTU_WAYS);
	ck_assert_uint_eq(pmtu_get(&tctx, d[sizeof(d) / sizeof(d[0]) - 1], NULL), 1200);
}
END_TEST

/* ipv4_output(): DF on TCP to a path that is not locked, clear once it is. */
START_TEST(pmtu_locked_path_sends_without_df)
{
	uint32_t len;
	const uint8_t *d;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 5), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	pmtu_update(&tctx, T_PEER_IP, 1280);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 5), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	pmtu_update(&tctx, T_PEER_IP, 68);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 5), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq(fk.n_tx, 3);
	d = t_tx_data(0, &len);
	ck_assert_uint_eq(d[14 + 6], 0x40);
	d = t_tx_data(1, &len);
	ck_assert_uint_eq(d[14 + 6], 0x40);
	d = t_tx_data(2, &len);
	ck_assert_uint_eq(d[14 + 6], 0);
}
END_TEST

Suite *
pmtu_suite(void)
{
	Suite *s = suite_create("pmtu");
	TCase *tc = tcase_create("pmtu");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, pmtu_port_mtu_until_told);
	tcase_add_test(tc, pmtu_lowered_per_destination_then_expires);
	tcase_add_test(tc, pmtu_below_min_is_locked_at_552);
	tcase_add_test(tc, pmtu_never_above_the_port);
	tcase_add_test(tc, pmtu_full_set_gives_up_the_oldest);
	tcase_add_test(tc, pmtu_locked_path_sends_without_df);
	suite_add_tcase(s, tc);
	return s;
}
