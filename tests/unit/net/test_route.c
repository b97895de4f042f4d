/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * route suite: on-link, via gateway, no route.
 */
#include <errno.h>

#include "net/net.h"
#include "net_test.h"

START_TEST(route_on_link)
{
	uint32_t nh = 0;

	tctx.gateway_be = T_PEER_IP;
	ck_assert_int_eq(route_lookup(&tctx, T_IP(10, 77, 0, 200), &nh), 0);
	ck_assert_uint_eq(nh, T_IP(10, 77, 0, 200));
}
END_TEST

START_TEST(route_via_gateway)
{
	uint32_t nh = 0;

	tctx.gateway_be = T_PEER_IP;
	ck_assert_int_eq(route_lookup(&tctx, T_IP(10, 77, 1, 2), &nh), 0);
	ck_assert_uint_eq(nh, T_PEER_IP);
	ck_assert_int_eq(route_lookup(&tctx, T_IP(8, 8, 8, 8), &nh), 0);
	ck_assert_uint_eq(nh, T_PEER_IP);
}
END_TEST

START_TEST(route_none_without_gateway)
{
	uint32_t nh = 12345;

	ck_assert_int_eq(route_lookup(&tctx, T_IP(10, 77, 1, 2), &nh), -ENETUNREACH);
	ck_assert_uint_eq(nh, 12345);
	ck_assert_int_eq(route_lookup(&tctx, T_IP(10, 77, 0, 1), &nh), 0);
	ck_assert_uint_eq(nh, T_IP(10, 77, 0, 1));
}
END_TEST

Suite *
route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, route_on_link);
	tcase_add_test(tc, route_via_gateway);
	tcase_add_test(tc, route_none_without_gateway);
	suite_add_tcase(s, tc);
	return s;
}
