/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ipv4 suite: every receive check with its counter, the port's checksum verdicts,
 * delivery to tcp with the header at data start, and the header ipv4_output() builds
 * with and without checksum offload.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "net/net.h"
#include "net_test.h"

#define IPO 14 /* IPv4 header offset in a frame */

static uint8_t f[256];
static uint32_t n;

static void
tcp_frame(void)
{
	n = t_tcp_frame(f, "payload", 7);
}

/* Feed f with ol_flags set as the port would. */
static void
rx_flags(uint64_t ol_flags)
{
	struct rte_mbuf *m = t_mbuf(f, n);

	m->ol_flags = ol_flags;
	eth_input(&tctx, m);
}

START_TEST(ip_tcp_delivered_header_first_padding_trimmed)
{
	uint8_t seg[64];
	uint32_t sl = t_tcp(seg, T_PEER_IP, T_OUR_IP, "hi", 2);

	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	n = 14 + t_ip(f + IPO, T_PEER_IP, T_OUR_IP, IPPROTO_TCP, seg, sl);
	ck_assert_uint_lt(n, 60);
	memset(f + n, 0xee, 60 - n);
	n = 60; /* Ethernet minimum: the rest is padding */
	t_rx(f, n);
	ck_assert_uint_eq(t_drops(), 0);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(fk.tcp[0].len, sl);
	ck_assert_mem_eq(fk.tcp[0].data, seg, sl);
	ck_assert_uint_eq(fk.tcp[0].src_be, T_PEER_IP);
	ck_assert_uint_eq(fk.tcp[0].dst_be, T_OUR_IP);
	ck_assert_uint_eq(tctx.net_stats.ip_rx, 1);
	ck_assert_uint_eq(t_drops(), 0);
}
END_TEST

START_TEST(ip_tcp_bad_checksum_dropped)
{
	tcp_frame();
	f[n - 1] ^= 0x01;
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tcp, 0);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_l4_cksum, 1);
}
END_TEST

START_TEST(ip_options_skipped)
{
	uint8_t seg[64];
	uint32_t sl = t_tcp(seg, T_PEER_IP, T_OUR_IP, "opt", 3);

	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	t_ip(f + IPO, T_PEER_IP, T_OUR_IP, IPPROTO_TCP, "", 0);
	f[IPO] = 0x46;                         /* IHL 6: four bytes of options */
	memset(f + IPO + 20, 1, 4);            /* NOPs */
	memcpy(f + IPO + 24, seg, sl);
	f[IPO + 2] = 0;
	f[IPO + 3] = (uint8_t)(24 + sl);
	t_ip_fix_cksum(f + IPO);
	n = IPO + 24 + sl;
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(fk.tcp[0].len, sl);
	ck_assert_mem_eq(fk.tcp[0].data, seg, sl);
}
END_TEST

START_TEST(ip_bad_header_checksum)
{
	tcp_frame();
	f[IPO + 10] ^= 0x10;
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_cksum, 1);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

START_TEST(ip_bad_version_and_ihl)
{
	tcp_frame();
	f[IPO] = 0x65;
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_version, 1);

	f[IPO] = 0x44; /* IHL 4 < 5 */
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_hlen, 1);

	tcp_frame();
	f[IPO] = 0x4f; /* 60 bytes of header in a 47-byte packet */
	t_rx(f, IPO + 47);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_hlen, 2);
	ck_assert_uint_eq(fk.n_tcp, 0);
	ck_assert_uint_eq(t_drops(), 3);
}
END_TEST

START_TEST(ip_total_length_checked)
{
	tcp_frame();
	f[IPO + 3] += 1; /* one byte more than the frame holds */
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_len, 1);
	f[IPO + 2] = 0;
	f[IPO + 3] = 19; /* shorter than the header */
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_len, 2);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

START_TEST(ip_fragments_dropped)
{
	tcp_frame();
	f[IPO + 6] = 0x20; /* MF */
	f[IPO + 7] = 0;
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	f[IPO + 6] = 0x40; /* DF, offset 8 * 185 */
	f[IPO + 7] = 185;
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_frag, 2);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

static void
set_addr(unsigned off, uint32_t a_be)
{
	tcp_frame();
	memcpy(f + IPO + off, &a_be, 4);
	t_ip_fix_cksum(f + IPO);
	rx_flags(RTE_MBUF_F_RX_L4_CKSUM_GOOD); /* the TCP sum no longer matters */
}

START_TEST(ip_destination_and_source_checked)
{
	set_addr(16, T_IP(10, 77, 0, 255));
	set_addr(16, T_IP(255, 255, 255, 255));
	set_addr(16, T_IP(224, 0, 0, 1));
	ck_assert_uint_eq(tctx.net_stats.ip_drop_bcast, 3);
	set_addr(16, T_IP(10, 77, 0, 3));
	ck_assert_uint_eq(tctx.net_stats.ip_drop_not_ours, 1);
	set_addr(12, T_IP(10, 77, 0, 255));
	set_addr(12, T_IP(127, 0, 0, 1));
	set_addr(12, T_IP(0, 0, 0, 0));
	set_addr(12, T_IP(239, 1, 2, 3));
	ck_assert_uint_eq(tctx.net_stats.ip_drop_bad_src, 4);
	ck_assert_uint_eq(fk.n_tcp, 0);
	set_addr(12, T_IP(192, 0, 2, 1)); /* off-link source: fine */
	ck_assert_uint_eq(fk.n_tcp, 1);
}
END_TEST

START_TEST(ip_udp_delivered_and_unknown_protocols_counted)
{
	uint8_t udp[12] = { 0x9c, 0x40, 0, 53, 0, 12, 0, 0, 'd', 'n', 's', '!' };

	/* Checksum 0: none computed (RFC 768), delivered as is. */
	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	n = 14 + t_ip(f + IPO, T_PEER_IP, T_OUR_IP, IPPROTO_UDP, udp, sizeof(udp));
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_udp, 1);
	ck_assert_uint_eq(fk.udp[0].len, sizeof(udp));
	ck_assert_mem_eq(fk.udp[0].data, udp, sizeof(udp));
	ck_assert_uint_eq(fk.udp[0].src_be, T_PEER_IP);
	ck_assert_uint_eq(fk.udp[0].dst_be, T_OUR_IP);
	/* A checksum that is present is verified: wrong, then right. */
	f[IPO + 20 + 6] = 0x12;
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_l4_cksum, 1);
	{
		uint32_t sum = t_sum(f + IPO + 12, 8, 0) + IPPROTO_UDP + sizeof(udp);
		uint16_t c;

		f[IPO + 20 + 6] = f[IPO + 20 + 7] = 0;
		c = (uint16_t)~t_fold(t_sum(f + IPO + 20, sizeof(udp), sum));
		f[IPO + 20 + 6] = c >> 8;
		f[IPO + 20 + 7] = c & 0xff;
	}
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_udp, 2);
	f[IPO + 9] = 47; /* GRE */
	t_ip_fix_cksum(f + IPO);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_proto, 1);
	ck_assert_uint_eq(fk.n_udp, 2);
	ck_assert_uint_eq(fk.n_tcp, 0);
}
END_TEST

START_TEST(ip_rx_offload_flags_trusted)
{
	tcp_frame();
	rx_flags(RTE_MBUF_F_RX_IP_CKSUM_BAD);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_cksum, 1);
	rx_flags(RTE_MBUF_F_RX_L4_CKSUM_BAD);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_l4_cksum, 1);
	ck_assert_uint_eq(fk.n_tcp, 0);

	/* GOOD verdicts skip the software check (the sums here are wrong). */
	f[IPO + 10] ^= 0x10;
	f[n - 1] ^= 0x01;
	rx_flags(RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	ck_assert_uint_eq(fk.n_tcp, 1);
	/* UNKNOWN falls back to software. */
	rx_flags(RTE_MBUF_F_RX_IP_CKSUM_GOOD);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_l4_cksum, 2);
	rx_flags(0);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_cksum, 2);
	ck_assert_uint_eq(fk.n_tcp, 1);
}
END_TEST

/* Check TX frame 0 is our TCP segment of plen bytes to dst via mac. */
static const uint8_t *
check_tcp_tx(const struct rte_ether_addr *mac, uint32_t dst_be, uint32_t plen)
{
	uint32_t len;
	const uint8_t *d = t_tx_data(0, &len);
	const uint8_t *ip = d + IPO;

	ck_assert_uint_eq(len, 14 + 40 + plen);
	ck_assert_mem_eq(d, mac, 6);
	ck_assert_mem_eq(d + 6, &t_our_mac, 6);
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(ip[1], 0);
	ck_assert_uint_eq((uint32_t)(ip[2] << 8 | ip[3]), 40 + plen);
	ck_assert_uint_eq(ip[6], 0x40); /* DF */
	ck_assert_uint_eq(ip[7], 0);
	ck_assert_uint_eq(ip[8], 64);
	ck_assert_uint_eq(ip[9], IPPROTO_TCP);
	ck_assert_mem_eq(ip + 12, &(uint32_t){ T_OUR_IP }, 4);
	ck_assert_mem_eq(ip + 16, &dst_be, 4);
	ck_assert_uint_eq(fk.tx[0]->l2_len, 14);
	ck_assert_uint_eq(fk.tx[0]->l3_len, 20);
	return ip;
}

START_TEST(ip_output_software_checksums)
{
	const uint8_t *ip;
	uint32_t sum;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 5), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq(fk.n_tx, 1);
	ip = check_tcp_tx(&t_peer_mac, T_PEER_IP, 5);
	ck_assert_uint_eq(t_fold(t_sum(ip, 20, 0)), 0xffff);
	/* TCP: pseudo-header + segment sums to 0xffff. */
	sum = t_sum(ip + 12, 8, 0) + IPPROTO_TCP + 25;
	ck_assert_uint_eq(t_fold(t_sum(ip + 20, 25, sum)), 0xffff);
	ck_assert_uint_eq(fk.tx[0]->ol_flags & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK |
						RTE_MBUF_F_TX_IPV4), 0);
	ck_assert_uint_eq(tctx.net_stats.ip_tx, 1);

	/* Identification counts up. */
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 0), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq((uint32_t)(t_tx_data(1, &sum)[IPO + 5] -
				     t_tx_data(0, &sum)[IPO + 5]), 1);
}
END_TEST

START_TEST(ip_output_offloaded_checksums)
{
	const uint8_t *ip;
	uint32_t phdr;

	tctx.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 5), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ip = check_tcp_tx(&t_peer_mac, T_PEER_IP, 5);
	ck_assert_uint_eq(fk.tx[0]->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
						RTE_MBUF_F_TX_L4_MASK),
			  RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM);
	ck_assert_uint_eq(ip[10], 0); /* the NIC fills it */
	ck_assert_uint_eq(ip[11], 0);
	/* DPDK's contract: the L4 field holds the pseudo-header sum, not complemented. */
	phdr = t_fold(t_sum(ip + 12, 8, 0) + IPPROTO_TCP + 25);
	ck_assert_uint_eq((uint32_t)(ip[20 + 16] << 8 | ip[20 + 17]), phdr);
}
END_TEST

START_TEST(ip_output_ip_offload_only)
{
	const uint8_t *ip;
	uint32_t sum;

	tctx.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 3), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ip = check_tcp_tx(&t_peer_mac, T_PEER_IP, 3);
	ck_assert_uint_eq(fk.tx[0]->ol_flags & RTE_MBUF_F_TX_L4_MASK, 0);
	ck_assert(fk.tx[0]->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
	sum = t_sum(ip + 12, 8, 0) + IPPROTO_TCP + 23;
	ck_assert_uint_eq(t_fold(t_sum(ip + 20, 23, sum)), 0xffff);
}
END_TEST

START_TEST(ip_output_no_route)
{
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_IP(192, 0, 2, 1), 1),
				     T_OUR_IP, T_IP(192, 0, 2, 1), IPPROTO_TCP), -ENETUNREACH);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_noroute, 1);
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 0);
}
END_TEST

START_TEST(ip_output_via_gateway)
{
	tctx.gateway_be = T_PEER_IP;
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_IP(192, 0, 2, 1), 1),
				     T_OUR_IP, T_IP(192, 0, 2, 1), IPPROTO_TCP), 0);
	check_tcp_tx(&t_peer_mac, T_IP(192, 0, 2, 1), 1);
}
END_TEST

START_TEST(ip_output_rejects_bad_segments)
{
	struct rte_mbuf *m = t_mbuf("short", 5);

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	ck_assert_int_eq(ipv4_output(&tctx, m, T_OUR_IP, T_PEER_IP, IPPROTO_TCP), -EINVAL);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_bad_tx, 1);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 1461), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), -EMSGSIZE);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_too_big, 1);
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_PEER_IP, 1460), T_OUR_IP,
				     T_PEER_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq(fk.n_tx, 1);
}
END_TEST

Suite *
ipv4_suite(void)
{
	Suite *s = suite_create("ipv4");
	TCase *tc = tcase_create("ipv4");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, ip_tcp_delivered_header_first_padding_trimmed);
	tcase_add_test(tc, ip_tcp_bad_checksum_dropped);
	tcase_add_test(tc, ip_options_skipped);
	tcase_add_test(tc, ip_bad_header_checksum);
	tcase_add_test(tc, ip_bad_version_and_ihl);
	tcase_add_test(tc, ip_total_length_checked);
	tcase_add_test(tc, ip_fragments_dropped);
	tcase_add_test(tc, ip_destination_and_source_checked);
	tcase_add_test(tc, ip_udp_delivered_and_unknown_protocols_counted);
	tcase_add_test(tc, ip_rx_offload_flags_trusted);
	tcase_add_test(tc, ip_output_software_checksums);
	tcase_add_test(tc, ip_output_offloaded_checksums);
	tcase_add_test(tc, ip_output_ip_offload_only);
	tcase_add_test(tc, ip_output_no_route);
	tcase_add_test(tc, ip_output_via_gateway);
	tcase_add_test(tc, ip_output_rejects_bad_segments);
	suite_add_tcase(s, tc);
	return s;
}
