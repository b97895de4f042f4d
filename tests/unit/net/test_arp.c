/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * arp suite: resolution with held packets, the give-up at Linux's timing with
 * EHOSTUNREACH per held packet, FAILED and its expiry, REACHABLE -> STALE refresh,
 * garbage collection, RFC 826 learning rules, announcements, malformed packets.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_mbuf.h>

#include "net/arp.h"
#include "net/net.h"
#include "net_test.h"

static const struct rte_ether_addr t_bcast = {
	.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct rte_ether_addr t_zero;

/* Our broadcast request for 10.77.0.9. */
static const uint8_t arp_req_far[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x0a, 0x4d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x0a, 0x4d, 0x00, 0x09,
};

/* Our gratuitous ARP (RFC 5227 announcement). */
static const uint8_t arp_announce_frame[42] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x0a, 0x4d, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x0a, 0x4d, 0x00, 0x02,
};

static void
send_tcp(uint32_t dst_be, uint32_t plen)
{
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, dst_be, plen), T_OUR_IP,
				     dst_be, IPPROTO_TCP), 0);
}

/* Is TX frame i an IPv4 frame to mac with IPv4 total length 20 + 20 + plen? */
static void
assert_ip_frame(unsigned i, const struct rte_ether_addr *mac, uint32_t plen)
{
	uint32_t len;
	const uint8_t *d = t_tx_data(i, &len);

	ck_assert_uint_eq(len, 14 + 40 + plen);
	ck_assert_mem_eq(d, mac, 6);
	ck_assert_uint_eq(d[12], 0x08);
	ck_assert_uint_eq(d[13], 0x00);
	ck_assert_uint_eq((uint32_t)(d[16] << 8 | d[17]), 40 + plen);
}

/* Is TX frame i an ARP request for tip, sent to eth_dst? */
static void
assert_arp_req(unsigned i, const struct rte_ether_addr *eth_dst, uint32_t tip_be)
{
	uint8_t want[42];
	uint32_t len;
	const uint8_t *d = t_tx_data(i, &len);

	t_arp(want, eth_dst, RTE_ARP_OP_REQUEST, &t_our_mac, T_OUR_IP, &t_zero, tip_be);
	ck_assert_uint_eq(len, 42);
	ck_assert_mem_eq(d, want, 42);
}

static void
far_replies(void)
{
	uint8_t f[64];

	t_rx(f, t_arp(f, &t_our_mac, RTE_ARP_OP_REPLY, &t_far_mac, T_FAR_IP, &t_our_mac,
		      T_OUR_IP));
}

START_TEST(arp_holds_then_flushes_in_order)
{
	uint32_t len;
	unsigned i;

	send_tcp(T_FAR_IP, 1);
	send_tcp(T_FAR_IP, 2);
	send_tcp(T_FAR_IP, 3);
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert_mem_eq(t_tx_data(0, &len), arp_req_far, sizeof(arp_req_far));
	ck_assert_uint_eq(tctx.net_stats.arp_held, 3);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 1);
	ck_assert_uint_eq(arp_next_deadline(&tctx), T_US + 1000000);

	tctx.now_us += 500000;
	far_replies();
	ck_assert_uint_eq(fk.n_tx, 4);
	for (i = 0; i < 3; i++)
		assert_ip_frame(1 + i, &t_far_mac, i + 1);
	ck_assert_uint_eq(tctx.net_stats.arp_resolved, 1);

	/* Resolved now: straight out, no request. */
	send_tcp(T_FAR_IP, 4);
	ck_assert_uint_eq(fk.n_tx, 5);
	assert_ip_frame(4, &t_far_mac, 4);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 1);
	/* No probe is ever due for it. */
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_err, 0);
}
END_TEST

START_TEST(arp_hold_queue_bounded)
{
	unsigned i;

	for (i = 0; i < ARP_HOLD_MAX + 2; i++)
		send_tcp(T_FAR_IP, 1);
	ck_assert_uint_eq(tctx.net_stats.arp_held, ARP_HOLD_MAX);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_hold_full, 2);
	far_replies();
	ck_assert_uint_eq(fk.n_tx, 1 + ARP_HOLD_MAX);
}
END_TEST

START_TEST(arp_gives_up_after_three_probes)
{
	const uint64_t t0 = tctx.now_us;
	unsigned i;

	send_tcp(T_FAR_IP, 0);
	send_tcp(T_FAR_IP, 7);
	ck_assert_uint_eq(fk.n_tx, 1);
	assert_arp_req(0, &t_bcast, T_FAR_IP);

	tctx.now_us = t0 + 999999;
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_tx, 1);
	tctx.now_us = t0 + 1000000;
	ck_assert_uint_eq(arp_next_deadline(&tctx), tctx.now_us);
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_tx, 2);
	assert_arp_req(1, &t_bcast, T_FAR_IP);
	tctx.now_us = t0 + 2000000;
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_tx, 3);
	assert_arp_req(2, &t_bcast, T_FAR_IP);
	tctx.now_us = t0 + 2999999;
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_err, 0);
	ck_assert_uint_eq(arp_next_deadline(&tctx), t0 + 3000000);

	/* Third second without an answer: both packets fail, no fourth request. */
	tctx.now_us = t0 + 3000000;
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_tx, 3);
	ck_assert_uint_eq(fk.n_err, 2);
	for (i = 0; i < 2; i++) {
		const uint8_t *ip = fk.err[i].data;

		ck_assert_int_eq(fk.err[i].err, EHOSTUNREACH);
		/* as Linux: a host unreachable from ourselves */
		ck_assert_uint_eq(fk.err[i].icmp.from_be, T_OUR_IP);
		ck_assert_uint_eq(fk.err[i].icmp.type, 3);
		ck_assert_uint_eq(fk.err[i].icmp.code, 1);
		ck_assert_uint_eq(fk.err[i].len, 40 + (i == 0 ? 0 : 7));
		ck_assert_uint_eq(ip[0], 0x45);
		ck_assert_uint_eq(ip[9], IPPROTO_TCP);
		ck_assert_mem_eq(ip + 16, &(uint32_t){ T_FAR_IP }, 4);
	}
	ck_assert_uint_eq(tctx.net_stats.arp_unresolved, 1);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_unresolved, 2);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 3);

	/* FAILED for a while: a new packet fails at the next timer run, not from
	 * inside ipv4_output() (tcp is on the stack there), and probes nothing. */
	tctx.now_us = t0 + 4000000;
	send_tcp(T_FAR_IP, 1);
	ck_assert_uint_eq(fk.n_err, 2);
	ck_assert_uint_eq(arp_next_deadline(&tctx), tctx.now_us);
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_err, 3);
	ck_assert_int_eq(fk.err[2].err, EHOSTUNREACH);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_failed, 1);
	ck_assert_uint_eq(fk.n_tx, 3);

	/* Then forgotten: the next packet resolves afresh. */
	tctx.now_us = t0 + 3000000 + ARP_FAILED_US;
	arp_timer(&tctx);
	send_tcp(T_FAR_IP, 1);
	ck_assert_uint_eq(fk.n_tx, 4);
	assert_arp_req(3, &t_bcast, T_FAR_IP);
}
END_TEST

START_TEST(arp_answer_to_failed_entry_delivers)
{
	const uint64_t t0 = tctx.now_us;

	unsigned i;

	send_tcp(T_FAR_IP, 1);
	for (i = 1; i <= ARP_PROBES; i++) {
		tctx.now_us = t0 + i * ARP_RETRANS_US;
		arp_timer(&tctx);
	}
	ck_assert_uint_eq(tctx.net_stats.arp_unresolved, 1);
	ck_assert_uint_eq(fk.n_err, 1);
	t_fakes_clear();
	send_tcp(T_FAR_IP, 2); /* held in FAILED, waiting for the timer */
	far_replies();
	ck_assert_uint_eq(fk.n_tx, 1);
	assert_ip_frame(0, &t_far_mac, 2);
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_err, 0);
}
END_TEST

START_TEST(arp_reachable_goes_stale_and_refreshes)
{
	const uint64_t t0 = tctx.now_us;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_uint_eq(arp_next_deadline(&tctx), t0 + ARP_REACHABLE_US);
	tctx.now_us = t0 + ARP_REACHABLE_US - 1;
	arp_timer(&tctx);
	send_tcp(T_PEER_IP, 1);
	ck_assert_uint_eq(fk.n_tx, 1);
	assert_ip_frame(0, &t_peer_mac, 1);

	tctx.now_us = t0 + ARP_REACHABLE_US;
	arp_timer(&tctx);
	send_tcp(T_PEER_IP, 2);
	/* STALE: still used, and a unicast request asks the peer directly. */
	ck_assert_uint_eq(fk.n_tx, 3);
	assert_arp_req(1, &t_peer_mac, T_PEER_IP);
	assert_ip_frame(2, &t_peer_mac, 2);
	ck_assert_uint_eq(tctx.net_stats.arp_probe_tx, 1);
	send_tcp(T_PEER_IP, 3); /* at most one probe per second */
	ck_assert_uint_eq(fk.n_tx, 4);

	/* The reply makes it REACHABLE: no more probes. */
	t_fakes_clear();
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	tctx.now_us += 2000000;
	send_tcp(T_PEER_IP, 4);
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert_uint_eq(tctx.net_stats.arp_probe_tx, 1);
}
END_TEST

START_TEST(arp_unused_entries_freed)
{
	const uint64_t t0 = tctx.now_us;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	tctx.now_us = t0 + ARP_GC_US - 1;
	arp_timer(&tctx);
	ck_assert_uint_eq(tctx.net_stats.arp_expired, 0);
	tctx.now_us = t0 + ARP_GC_US;
	ck_assert_uint_le(arp_next_deadline(&tctx), tctx.now_us);
	arp_timer(&tctx);
	ck_assert_uint_eq(tctx.net_stats.arp_expired, 1);
	send_tcp(T_PEER_IP, 1);
	ck_assert_uint_eq(fk.n_tx, 1);
	assert_arp_req(0, &t_bcast, T_PEER_IP);
	ck_assert_uint_eq(tctx.net_stats.arp_held, 1);
}
END_TEST

START_TEST(arp_used_entries_kept)
{
	const uint64_t t0 = tctx.now_us;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	tctx.now_us = t0 + ARP_GC_US / 2;
	send_tcp(T_PEER_IP, 1);
	tctx.now_us = t0 + ARP_GC_US;
	arp_timer(&tctx);
	ck_assert_uint_eq(tctx.net_stats.arp_expired, 0);
	tctx.now_us = t0 + ARP_GC_US / 2 + ARP_GC_US;
	arp_timer(&tctx);
	ck_assert_uint_eq(tctx.net_stats.arp_expired, 1);
}
END_TEST

START_TEST(arp_learns_from_request_to_us_only)
{
	uint8_t f[64];
	static const struct rte_ether_addr x_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 5 } };

	/* A request for someone else teaches nothing (RFC 826: no merge, not target). */
	t_rx(f, t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &x_mac, T_IP(10, 77, 0, 5), &t_zero,
		      T_IP(10, 77, 0, 6)));
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_not_ours, 1);
	send_tcp(T_IP(10, 77, 0, 5), 1);
	assert_arp_req(0, &t_bcast, T_IP(10, 77, 0, 5));
	t_fakes_clear();

	/* Now that we know it, its request for someone else updates it (merge). */
	t_rx(f, t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &x_mac, T_IP(10, 77, 0, 5), &t_zero,
		      T_IP(10, 77, 0, 6)));
	ck_assert_uint_eq(fk.n_tx, 1); /* the held packet */
	assert_ip_frame(0, &x_mac, 1);
	t_fakes_clear();

	/* A request to us: answered and learned (STALE: used, then refreshed). */
	t_rx(f, t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &t_peer_mac, T_PEER_IP, &t_zero,
		      T_OUR_IP));
	ck_assert_uint_eq(fk.n_tx, 1);
	t_fakes_clear();
	send_tcp(T_PEER_IP, 1);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 1); /* no broadcast for the peer */
	ck_assert_uint_eq(fk.n_tx, 2);
	assert_arp_req(0, &t_peer_mac, T_PEER_IP);
	assert_ip_frame(1, &t_peer_mac, 1);
}
END_TEST

START_TEST(arp_mac_change_followed)
{
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	t_seed_arp(T_PEER_IP, &t_far_mac);
	send_tcp(T_PEER_IP, 1);
	assert_ip_frame(0, &t_far_mac, 1);
}
END_TEST

START_TEST(arp_rejects_malformed_and_conflicts)
{
	uint8_t f[64];
	uint32_t n;

	n = t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &t_peer_mac, T_PEER_IP, &t_zero, T_OUR_IP);
	f[14 + 4] = 8; /* hardware length */
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_bad, 1);
	f[14 + 4] = 6;
	f[14 + 2] = 0x86; /* protocol IPv6 */
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_bad, 2);
	f[14 + 2] = 0x08;
	f[14 + 7] = 3; /* RARP request */
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_op, 1);
	/* A multicast sender hardware address is never learned. */
	n = t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &t_bcast, T_PEER_IP, &t_zero, T_OUR_IP);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_bad, 3);
	/* Someone claiming our address: no reply, nothing learned. */
	n = t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &t_peer_mac, T_OUR_IP, &t_zero, T_OUR_IP);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_conflict, 1);
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(t_drops(), 5);
}
END_TEST

START_TEST(arp_probe_from_zero_answered_not_learned)
{
	uint8_t f[64];
	uint32_t len;
	const uint8_t *d;

	/* RFC 5227 probe for our address: we defend it, and learn nothing from 0.0.0.0. */
	t_rx(f, t_arp(f, &t_bcast, RTE_ARP_OP_REQUEST, &t_peer_mac, 0, &t_zero, T_OUR_IP));
	ck_assert_uint_eq(fk.n_tx, 1);
	d = t_tx_data(0, &len);
	ck_assert_uint_eq(d[14 + 7], RTE_ARP_OP_REPLY);
	ck_assert_mem_eq(d, &t_peer_mac, 6);
	ck_assert_mem_eq(d + 14 + 24, &(uint32_t){ 0 }, 4);
	ck_assert_uint_eq(tctx.arp->n_used, 0);
}
END_TEST

START_TEST(arp_announce_golden)
{
	uint32_t len;

	arp_announce(&tctx);
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert_mem_eq(t_tx_data(0, &len), arp_announce_frame, sizeof(arp_announce_frame));
	ck_assert_uint_eq(len, sizeof(arp_announce_frame));
	ck_assert_uint_eq(tctx.net_stats.arp_announce_tx, 1);
}
END_TEST

START_TEST(arp_table_full_evicts_lru)
{
	struct rte_ether_addr mac = t_peer_mac;
	unsigned i;

	/* Fill every entry with a resolved neighbour, the first one used least recently. */
	for (i = 0; i < ARP_ENTRIES; i++) {
		mac.addr_bytes[5] = (uint8_t)i;
		tctx.now_us = T_US + i;
		t_seed_arp(T_IP(10, 77, 1 + i / 200, 1 + i % 200), &mac);
	}
	ck_assert_uint_eq(tctx.arp->n_used, ARP_ENTRIES);
	tctx.netmask_be = T_IP(255, 255, 0, 0);
	send_tcp(T_IP(10, 77, 9, 9), 1); /* needs a new entry: the oldest goes */
	ck_assert_uint_eq(fk.n_tx, 1);
	assert_arp_req(0, &t_bcast, T_IP(10, 77, 9, 9));
	t_fakes_clear();
	send_tcp(T_IP(10, 77, 1, 1), 1);
	assert_arp_req(0, &t_bcast, T_IP(10, 77, 1, 1));
	t_fakes_clear();
	send_tcp(T_IP(10, 77, 1, 3), 1); /* a younger one is still there */
	mac.addr_bytes[5] = 2;
	assert_ip_frame(0, &mac, 1);
}
END_TEST

START_TEST(arp_deadline_none_when_empty)
{
	ck_assert_uint_eq(arp_next_deadline(&tctx), UINT64_MAX);
	arp_timer(&tctx);
	ck_assert_uint_eq(fk.n_tx, 0);
}
END_TEST

Suite *
arp_suite(void)
{
	Suite *s = suite_create("arp");
	TCase *tc = tcase_create("arp");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, arp_holds_then_flushes_in_order);
	tcase_add_test(tc, arp_hold_queue_bounded);
	tcase_add_test(tc, arp_gives_up_after_three_probes);
	tcase_add_test(tc, arp_answer_to_failed_entry_delivers);
	tcase_add_test(tc, arp_reachable_goes_stale_and_refreshes);
	tcase_add_test(tc, arp_unused_entries_freed);
	tcase_add_test(tc, arp_used_entries_kept);
	tcase_add_test(tc, arp_learns_from_request_to_us_only);
	tcase_add_test(tc, arp_mac_change_followed);
	tcase_add_test(tc, arp_rejects_malformed_and_conflicts);
	tcase_add_test(tc, arp_probe_from_zero_answered_not_learned);
	tcase_add_test(tc, arp_announce_golden);
	tcase_add_test(tc, arp_table_full_evicts_lru);
	tcase_add_test(tc, arp_deadline_none_when_empty);
	suite_add_tcase(s, tc);
	return s;
}
