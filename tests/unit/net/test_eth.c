/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * eth suite: golden ARP exchange through eth_input(), destination filtering,
 * ethertype dispatch, chained mbufs, and every truncation of valid frames.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_mbuf.h>

#include "net/eth.h"
#include "net/net.h"
#include "net_test.h"

/* An ARP request from 10.77.0.1 (02:00:00:00:00:01) for 10.77.0.2, padded to 60. */
static const uint8_t arp_req[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x0a, 0x4d, 0x00, 0x02,
};

/* Our reply: unicast back, padding gone. */
static const uint8_t arp_rep[42] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00,
	0x00, 0x00, 0x00, 0x02, 0x0a, 0x4d, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00,
	0x00, 0x01, 0x0a, 0x4d, 0x00, 0x01,
};

/* Echo request 10.77.0.1 -> 10.77.0.2, id 0x1234 seq 1, "abcdefgh" (checksums by
 * hand-run RFC 1071). */
static const uint8_t icmp_echo_req[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01,
	0x7a, 0x6f, 0x0a, 0x4d, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x02, 0x08, 0x00,
	0x54, 0x35, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
	0x67, 0x68,
};

START_TEST(eth_arp_request_golden_reply)
{
	uint32_t len;
	const uint8_t *d;

	t_rx(arp_req, sizeof(arp_req));
	ck_assert_uint_eq(fk.n_tx, 1);
	d = t_tx_data(0, &len);
	ck_assert_uint_eq(len, sizeof(arp_rep));
	ck_assert_mem_eq(d, arp_rep, sizeof(arp_rep));
	ck_assert_uint_eq(fk.tx[0]->l2_len, 14);
	ck_assert_uint_eq(tctx.net_stats.arp_req_rx, 1);
	ck_assert_uint_eq(tctx.net_stats.arp_reply_tx, 1);
	ck_assert_uint_eq(t_drops(), 0);
}
END_TEST

/* Every strict prefix of a frame that is only valid whole is dropped, counted once,
 * and reaches nobody. */
static void
t_truncations(const uint8_t *frame, uint32_t full)
{
	uint32_t len;

	for (len = 0; len < full; len++) {
		uint64_t drops = t_drops();

		t_rx(frame, len);
		ck_assert_msg(t_drops() == drops + 1, "len %u: drops %llu -> %llu", len,
			      (unsigned long long)drops, (unsigned long long)t_drops());
		ck_assert_uint_eq(fk.n_tx, 0);
		ck_assert_uint_eq(fk.n_tcp, 0);
		ck_assert_uint_eq(fk.n_err, 0);
		ck_assert_uint_eq(fk.n_udp, 0);
		ck_assert_uint_eq(fk.n_uerr, 0);
	}
}

START_TEST(eth_truncated_every_length)
{
	uint8_t tcp[128], icmp_err[128], quote[64], seg[64];
	uint32_t n, e;

	/* ARP is whole at 42 bytes: the rest of arp_req is padding. */
	t_truncations(arp_req, 42);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_short, 14);
	ck_assert_uint_eq(tctx.net_stats.arp_drop_short, 28);

	t_truncations(icmp_echo_req, sizeof(icmp_echo_req));
	n = t_tcp_frame(tcp, "hello", 5);
	t_truncations(tcp, n);

	/* An ICMP error quoting our SYN: a truncated one must not reach tcp either. */
	t_ip(quote, T_OUR_IP, T_PEER_IP, IPPROTO_TCP, seg, t_tcp(seg, T_OUR_IP, T_PEER_IP, "", 0));
	memset(icmp_err, 0, sizeof(icmp_err));
	icmp_err[14 + 20] = 3;
	icmp_err[14 + 20 + 1] = 3;
	memcpy(icmp_err + 14 + 28, quote, 28); /* IP header + 8 bytes, as routers do */
	{
		uint8_t *ih = icmp_err + 14 + 20;
		uint16_t c = (uint16_t)~t_fold(t_sum(ih, 8 + 28, 0));

		ih[2] = c >> 8;
		ih[3] = c & 0xff;
	}
	t_eth(icmp_err, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	e = 14 + t_ip(icmp_err + 14, T_PEER_IP, T_OUR_IP, IPPROTO_ICMP, icmp_err + 14 + 20,
		      8 + 28);
	t_truncations(icmp_err, e);
	/* ...and whole, it does (the builders are right). */
	t_rx(icmp_err, e);
	ck_assert_uint_eq(fk.n_err, 1);
	ck_assert_int_eq(fk.err[0].err, ECONNREFUSED);
}
END_TEST

START_TEST(eth_filters_destination)
{
	uint8_t f[128];
	uint32_t n = t_tcp_frame(f, "x", 1);
	static const struct rte_ether_addr mcast = { .addr_bytes = { 1, 0, 0x5e, 0, 0, 1 } };
	static const struct rte_ether_addr other = { .addr_bytes = { 2, 0, 0, 0, 0, 7 } };

	memcpy(f, &mcast, 6);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_mcast, 1);
	memcpy(f, &other, 6);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_not_ours, 1);
	ck_assert_uint_eq(fk.n_tcp, 0);
	/* Broadcast is accepted at this layer (IPv4 then takes it, it is for us). */
	memset(f, 0xff, 6);
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tcp, 1);
	memcpy(f, &t_our_mac, 6);
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tcp, 2);
	ck_assert_uint_eq(t_drops(), 2);
}
END_TEST

START_TEST(eth_unknown_ethertype)
{
	uint8_t f[128];
	uint32_t n = t_tcp_frame(f, "x", 1);

	f[12] = 0x86; /* IPv6 */
	f[13] = 0xdd;
	t_rx(f, n);
	f[12] = 0x81; /* 802.1Q: the port strips tags or we do not take them */
	f[13] = 0x00;
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_proto, 2);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

START_TEST(eth_chained_mbuf_dropped)
{
	uint8_t f[128];
	uint32_t n = t_tcp_frame(f, "x", 1);
	struct rte_mbuf *a = t_mbuf(f, 40), *b = t_mbuf(f + 40, n - 40);

	ck_assert_int_eq(rte_pktmbuf_chain(a, b), 0);
	eth_input(&tctx, a);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_multiseg, 1);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

START_TEST(eth_output_prepends_header)
{
	struct rte_mbuf *m = t_mbuf("\x45payload", 8);
	uint32_t len;
	const uint8_t *d;
	static const uint8_t hdr[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00 };

	eth_output(&tctx, m, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	ck_assert_uint_eq(fk.n_tx, 1);
	d = t_tx_data(0, &len);
	ck_assert_uint_eq(len, 22);
	ck_assert_mem_eq(d, hdr, 14);
	ck_assert_mem_eq(d + 14, "\x45payload", 8);
	ck_assert_uint_eq(fk.tx[0]->l2_len, 14);
}
END_TEST

START_TEST(eth_output_no_headroom)
{
	struct rte_mbuf *m = t_mbuf("", 0);

	rte_pktmbuf_prepend(m, rte_pktmbuf_headroom(m));
	eth_output(&tctx, m, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(tctx.net_stats.eth_drop_headroom, 1);
}
END_TEST

Suite *
eth_suite(void)
{
	Suite *s = suite_create("eth");
	TCase *tc = tcase_create("eth");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, eth_arp_request_golden_reply);
	tcase_add_test(tc, eth_truncated_every_length);
	tcase_add_test(tc, eth_filters_destination);
	tcase_add_test(tc, eth_unknown_ethertype);
	tcase_add_test(tc, eth_chained_mbuf_dropped);
	tcase_add_test(tc, eth_output_prepends_header);
	tcase_add_test(tc, eth_output_no_headroom);
	suite_add_tcase(s, tc);
	return s;
}
