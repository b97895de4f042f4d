/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests of the offload decision (shim/offload.c): a pure function of the
 * welcome's CIDR list and the destination.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>

#include "offload.h"

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

static struct shunt_ctl_cidr rules[2];

static void rules_setup(void)
{
	rules[0].addr = ip("10.77.0.0");
	rules[0].mask = ip("255.255.255.0");
	rules[1].addr = ip("172.16.0.0");
	rules[1].mask = ip("255.240.0.0");
}

START_TEST(test_inside_and_outside)
{
	ck_assert(shim_offload_match(rules, 2, ip("10.77.0.2")));
	ck_assert(shim_offload_match(rules, 2, ip("10.77.0.255")));
	ck_assert(!shim_offload_match(rules, 2, ip("10.77.1.2")));
	ck_assert(shim_offload_match(rules, 2, ip("172.31.255.1")));
	ck_assert(!shim_offload_match(rules, 2, ip("172.32.0.1")));
	ck_assert(!shim_offload_match(rules, 2, ip("8.8.8.8")));
}
END_TEST

START_TEST(test_count_bounds_the_list)
{
	ck_assert(!shim_offload_match(rules, 1, ip("172.16.0.1")));
	ck_assert(!shim_offload_match(rules, 0, ip("10.77.0.2")));
}
END_TEST

START_TEST(test_loopback_and_any_never)
{
	static const struct shunt_ctl_cidr all = { 0, 0 }; /* 0.0.0.0/0 */

	ck_assert(shim_offload_match(&all, 1, ip("10.1.2.3")));
	ck_assert(!shim_offload_match(&all, 1, ip("127.0.0.1")));
	ck_assert(!shim_offload_match(&all, 1, ip("127.255.0.9")));
	ck_assert(!shim_offload_match(&all, 1, ip("0.0.0.0")));
	ck_assert(shim_offload_match(&all, 1, ip("128.0.0.1")));
}
END_TEST

START_TEST(test_oversized_count_clamped)
{
	struct shunt_ctl_cidr many[SHUNT_CTL_MAX_OFFLOAD] = { 0 };
	int i;

	for (i = 0; i < SHUNT_CTL_MAX_OFFLOAD; i++) {
		many[i].addr = ip("192.0.2.1"); /* a /32 */
		many[i].mask = 0xffffffff;
	}
	/* a count beyond the array must not read past it */
	ck_assert(shim_offload_match(many, 1000, ip("192.0.2.1")));
	ck_assert(!shim_offload_match(many, 1000, ip("192.0.2.2")));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("shim_offload");
	TCase *tc = tcase_create("decision");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, rules_setup, NULL);
	tcase_add_test(tc, test_inside_and_outside);
	tcase_add_test(tc, test_count_bounds_the_list);
	tcase_add_test(tc, test_loopback_and_any_never);
	tcase_add_test(tc, test_oversized_count_clamped);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
