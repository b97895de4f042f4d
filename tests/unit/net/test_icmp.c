/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * icmp suite: golden echo reply, checksum, errors quoting our SYN mapped to Linux's
 * errno, and quotes that must not reach tcp.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_mbuf.h>

#include "net/icmp.h"
#include "net/net.h"
#include "net_test.h"

static const uint8_t icmp_echo_req[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x01,
	0x7a, 0x6f, 0x0a, 0x4d, 0x00, 0x01, 0x0a, 0x4d, 0x00, 0x02, 0x08, 0x00,
	0x54, 0x35, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
	0x67, 0x68,
};

/* Our reply: identification 0 (first packet of the context), no DF, TTL 64. */
static const uint8_t icmp_echo_rep[50] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x08, 0x00, 0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x40, 0x01,
	0x66, 0x3d, 0x0a, 0x4d, 0x00, 0x02, 0x0a, 0x4d, 0x00, 0x01, 0x00, 0x00,
	0x5c, 0x35, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
	0x67, 0x68,
};

START_TEST(icmp_echo_golden)
{
	uint32_t len;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	t_rx(icmp_echo_req, sizeof(icmp_echo_req));
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert_mem_eq(t_tx_data(0, &len), icmp_echo_rep, sizeof(icmp_echo_rep));
	ck_assert_uint_eq(len, sizeof(icmp_echo_rep));
	ck_assert_uint_eq(tctx.net_stats.icmp_echo_reply_tx, 1);
}
END_TEST

START_TEST(icmp_echo_bad_checksum)
{
	uint8_t f[64];

	memcpy(f, icmp_echo_req, sizeof(icmp_echo_req));
	f[sizeof(icmp_echo_req) - 1] ^= 1;
	t_seed_arp(T_PEER_IP, &t_peer_mac);
	t_rx(f, sizeof(icmp_echo_req));
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_cksum, 1);
}
END_TEST

static uint8_t quote[128];
static uint32_t quote_len;

/* Our SYN to the peer, as a router quotes it. */
static void
our_syn(void)
{
	uint8_t seg[64];

	quote_len = t_ip(quote, T_OUR_IP, T_PEER_IP, IPPROTO_TCP, seg,
			 t_tcp(seg, T_OUR_IP, T_PEER_IP, "", 0));
}

/* Receive an ICMP error type/code from the gateway quoting qlen bytes of quote,
 * with word (the header's second 32-bit word: a next-hop MTU, a pointer). */
static void
icmp_error_word(uint8_t type, uint8_t code, uint32_t word, uint32_t qlen)
{
	uint8_t f[256], msg[160];
	uint16_t c;
	uint32_t n;

	memset(msg, 0, 8);
	msg[0] = type;
	msg[1] = code;
	msg[4] = (uint8_t)(word >> 24);
	msg[5] = (uint8_t)(word >> 16);
	msg[6] = (uint8_t)(word >> 8);
	msg[7] = (uint8_t)word;
	memcpy(msg + 8, quote, qlen);
	c = (uint16_t)~t_fold(t_sum(msg, 8 + qlen, 0));
	msg[2] = c >> 8;
	msg[3] = c & 0xff;
	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	n = 14 + t_ip(f + 14, T_IP(10, 77, 0, 1), T_OUR_IP, IPPROTO_ICMP, msg, 8 + qlen);
	t_rx(f, n);
}

static void
icmp_error(uint8_t type, uint8_t code, uint32_t qlen)
{
	icmp_error_word(type, code, 0, qlen);
}

/* RFC 1191: fragmentation needed carries the next hop's MTU in the low 16 bits of
 * the second word (the high 16 are unused), handed to TCP as info, EMSGSIZE. */
START_TEST(icmp_frag_needed_gives_the_mtu)
{
	our_syn();
	icmp_error_word(ICMP_DEST_UNREACH, ICMP_UNREACH_NEEDFRAG, 0xabcd0000u | 1280, quote_len);
	ck_assert_uint_eq(fk.n_err, 1);
	ck_assert_int_eq(fk.err[0].err, EMSGSIZE);
	ck_assert_uint_eq(fk.err[0].icmp.code, ICMP_UNREACH_NEEDFRAG);
	ck_assert_uint_eq(fk.err[0].icmp.info, 1280);
	/* a router of RFC 792's days says 0 */
	icmp_error_word(ICMP_DEST_UNREACH, ICMP_UNREACH_NEEDFRAG, 0, quote_len);
	ck_assert_uint_eq(fk.err[1].icmp.info, 0);
}
END_TEST

START_TEST(icmp_port_unreachable_refuses)
{
	our_syn();
	icmp_error(ICMP_DEST_UNREACH, 3, quote_len);
	ck_assert_uint_eq(fk.n_err, 1);
	ck_assert_int_eq(fk.err[0].err, ECONNREFUSED);
	ck_assert_uint_eq(fk.err[0].icmp.from_be, T_IP(10, 77, 0, 1)); /* the sender */
	ck_assert_uint_eq(fk.err[0].icmp.type, ICMP_DEST_UNREACH);
	ck_assert_uint_eq(fk.err[0].icmp.code, 3);
	ck_assert_uint_eq(fk.err[0].len, quote_len);
	ck_assert_mem_eq(fk.err[0].data, quote, quote_len);
	ck_assert_uint_eq(tctx.net_stats.icmp_unreach_rx, 1);
	ck_assert_uint_eq(t_drops(), 0);
	/* RFC 792 minimum: IP header + 8 bytes is enough. */
	icmp_error(ICMP_DEST_UNREACH, 3, 28);
	ck_assert_uint_eq(fk.n_err, 2);
	ck_assert_uint_eq(fk.err[1].len, 28);
}
END_TEST

START_TEST(icmp_linux_errno_mapping)
{
	static const int want[ICMP_UNREACH_NCODES] = {
		ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
		ENETUNREACH, EHOSTDOWN, ENONET, ENETUNREACH, EHOSTUNREACH, ENETUNREACH,
		EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
	};
	unsigned code;

	our_syn();
	for (code = 0; code < ICMP_UNREACH_NCODES; code++) {
		ck_assert_int_eq(icmp_unreach_errno((uint8_t)code), want[code]);
		icmp_error(ICMP_DEST_UNREACH, (uint8_t)code, quote_len);
		ck_assert_uint_eq(fk.n_err, code + 1);
		ck_assert_int_eq(fk.err[code].err, want[code]);
	}
	icmp_error(ICMP_DEST_UNREACH, ICMP_UNREACH_NCODES, quote_len);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_code, 1);
	icmp_error(ICMP_TIME_EXCEEDED, 0, quote_len);
	ck_assert_int_eq(fk.err[ICMP_UNREACH_NCODES].err, EHOSTUNREACH);
	icmp_error(ICMP_PARAMETERPROB, 0, quote_len);
	ck_assert_int_eq(fk.err[ICMP_UNREACH_NCODES + 1].err, EPROTO);
	ck_assert_uint_eq(fk.n_err, ICMP_UNREACH_NCODES + 2);
	ck_assert_uint_eq(tctx.net_stats.icmp_time_exceeded_rx, 1);
	ck_assert_uint_eq(tctx.net_stats.icmp_param_prob_rx, 1);
}
END_TEST

START_TEST(icmp_bad_quotes_ignored)
{
	our_syn();
	icmp_error(ICMP_DEST_UNREACH, 3, 27); /* IP header + 7 */
	icmp_error(ICMP_DEST_UNREACH, 3, 12); /* not even the header */
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_quote, 2);
	quote[0] = 0x46; /* IHL 6: 24 + 8 needed */
	icmp_error(ICMP_DEST_UNREACH, 3, 28);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_quote, 3);
	our_syn();
	quote[9] = 47; /* GRE: nothing of ours */
	icmp_error(ICMP_DEST_UNREACH, 3, quote_len);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_quote_proto, 1);
	our_syn();
	memcpy(quote + 12, &(uint32_t){ T_IP(10, 77, 0, 7) }, 4); /* not something we sent */
	icmp_error(ICMP_DEST_UNREACH, 3, quote_len);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_quote_src, 1);
	ck_assert_uint_eq(fk.n_err, 0);
	ck_assert_uint_eq(fk.n_uerr, 0);
}
END_TEST

START_TEST(icmp_error_for_udp_goes_to_udp)
{
	uint8_t udp[8] = { 0x9c, 0x40, 0, 53, 0, 8, 0, 0 };

	quote_len = t_ip(quote, T_OUR_IP, T_PEER_IP, IPPROTO_UDP, udp, sizeof(udp));
	icmp_error(ICMP_DEST_UNREACH, 3, quote_len);
	ck_assert_uint_eq(fk.n_uerr, 1);
	ck_assert_uint_eq(fk.n_err, 0);
	ck_assert_int_eq(fk.uerr[0].err, ECONNREFUSED);
	ck_assert_uint_eq(fk.uerr[0].len, quote_len);
	ck_assert_mem_eq(fk.uerr[0].data, quote, quote_len);
}
END_TEST

/* A UDP datagram of plen payload bytes from the peer to a closed port. */
static uint32_t
udp_frame(uint8_t *f, uint32_t plen)
{
	uint8_t udp[1500];

	memset(udp, 'u', sizeof(udp));
	udp[0] = 0x9c;
	udp[1] = 0x40;
	udp[2] = 0x27;
	udp[3] = 0x0f; /* 9999 */
	udp[4] = (uint8_t)((8 + plen) >> 8);
	udp[5] = (uint8_t)(8 + plen);
	udp[6] = udp[7] = 0;
	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	return 14 + t_ip(f + 14, T_PEER_IP, T_OUR_IP, IPPROTO_UDP, udp, 8 + plen);
}

START_TEST(icmp_port_unreachable_sent_for_closed_udp_port)
{
	uint8_t f[1600];
	uint32_t n, len;
	const uint8_t *d, *ip;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	fk.udp_closed = true;
	n = udp_frame(f, 4);
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tx, 1);
	d = t_tx_data(0, &len);
	ip = d + 14;
	ck_assert_uint_eq(len, 14 + 20 + 8 + (n - 14));
	ck_assert_mem_eq(d, &t_peer_mac, 6);
	ck_assert_uint_eq(ip[9], IPPROTO_ICMP);
	ck_assert_uint_eq(ip[6] & 0x40, 0); /* no DF on ICMP */
	ck_assert_mem_eq(ip + 12, &(uint32_t){ T_OUR_IP }, 4);
	ck_assert_mem_eq(ip + 16, &(uint32_t){ T_PEER_IP }, 4);
	ck_assert_uint_eq(t_fold(t_sum(ip, 20, 0)), 0xffff);
	ck_assert_uint_eq(ip[20], ICMP_DEST_UNREACH);
	ck_assert_uint_eq(ip[21], ICMP_UNREACH_PORT);
	ck_assert_mem_eq(ip + 24, "\0\0\0\0", 4);
	ck_assert_uint_eq(t_fold(t_sum(ip + 20, len - 34, 0)), 0xffff);
	ck_assert_mem_eq(ip + 28, f + 14, n - 14); /* the datagram, header and all */
	ck_assert_uint_eq(tctx.net_stats.icmp_unreach_tx, 1);
}
END_TEST

static bool ext_freed;

static void
ext_free(void *addr, void *opaque)
{
	(void)addr;
	(void)opaque;
	ext_freed = true;
}

static uint8_t ext_buf[RTE_PKTMBUF_HEADROOM + 128];
static struct rte_mbuf_ext_shared_info ext_shinfo = { .free_cb = ext_free };

/* A frame in an external buffer (a PMD's, as mlx5's MPRQ gives). */
static struct rte_mbuf *
ext_mbuf(const uint8_t *f, uint32_t n)
{
	struct rte_mbuf *m = t_mbuf(NULL, 0);

	ck_assert_uint_le(n, sizeof(ext_buf) - RTE_PKTMBUF_HEADROOM);
	rte_mbuf_ext_refcnt_set(&ext_shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, ext_buf, 0, sizeof(ext_buf), &ext_shinfo);
	m->data_off = RTE_PKTMBUF_HEADROOM;
	memcpy(ext_buf + RTE_PKTMBUF_HEADROOM, f, n);
	m->data_len = (uint16_t)n;
	m->pkt_len = n;
	ext_freed = false;
	return m;
}

/* An answer built in a received mbuf keeps RTE_MBUF_F_EXTERNAL, or freeing it
 * returns the mbuf to the pool still pointing at that buffer, which is never given
 * back (found by tests/fuzz, regress/icmp-unreach-extbuf). */
START_TEST(icmp_unreach_keeps_external_buffer)
{
	uint8_t f[128];

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	fk.udp_closed = true;
	eth_input(&tctx, ext_mbuf(f, udp_frame(f, 4)));
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert(RTE_MBUF_HAS_EXTBUF(fk.tx[0]));
	t_fakes_clear();
	ck_assert(ext_freed);
}
END_TEST

/* The same for an echo request claiming our own address: the reply is delivered
 * locally (ipv4_output() replaces the RX flags) and dropped there as an echo reply. */
START_TEST(icmp_echo_to_ourselves_keeps_external_buffer)
{
	uint8_t f[sizeof(icmp_echo_req)];

	memcpy(f, icmp_echo_req, sizeof(f));
	memcpy(f + 26, &(uint32_t){ T_OUR_IP }, 4);
	t_ip_fix_cksum(f + 14);
	eth_input(&tctx, ext_mbuf(f, sizeof(f)));
	ck_assert_uint_eq(tctx.net_stats.icmp_echo_reply_tx, 1);
	ck_assert_uint_eq(lo_input_burst(&tctx, 8), 1);
	ck_assert(ext_freed);
}
END_TEST

START_TEST(icmp_unreach_quote_capped_at_576)
{
	uint8_t f[1600];
	uint32_t len;
	const uint8_t *d;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	fk.udp_closed = true;
	t_rx(f, udp_frame(f, 1000));
	ck_assert_uint_eq(fk.n_tx, 1);
	d = t_tx_data(0, &len);
	ck_assert_uint_eq(len, 14 + ICMP_ERR_MAX);
	ck_assert_uint_eq((uint32_t)(d[16] << 8 | d[17]), ICMP_ERR_MAX);
	ck_assert_mem_eq(d + 14 + 28, f + 14, ICMP_ERR_MAX - 28);
	ck_assert_uint_eq(t_fold(t_sum(d + 34, ICMP_ERR_MAX - 20, 0)), 0xffff);
}
END_TEST

START_TEST(icmp_unreach_rate_limited)
{
	uint8_t f[128];
	uint32_t n;
	unsigned i;

	t_seed_arp(T_PEER_IP, &t_peer_mac);
	fk.udp_closed = true;
	n = udp_frame(f, 0);
	for (i = 0; i < ICMP_RATE_BURST + 10; i++)
		t_rx(f, n);
	ck_assert_uint_eq(fk.n_tx, ICMP_RATE_BURST);
	ck_assert_uint_eq(tctx.net_stats.icmp_unreach_ratelimited, 10);
	t_fakes_clear();
	fk.udp_closed = true;
	tctx.now_us += ICMP_RATE_TOKEN_US;
	t_rx(f, n);
	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tx, 1);
	ck_assert_uint_eq(tctx.net_stats.icmp_unreach_ratelimited, 11);
}
END_TEST

START_TEST(icmp_other_types_counted)
{
	our_syn();
	icmp_error(0, 0, 8);                  /* echo reply: we ping nobody */
	icmp_error(ICMP_SOURCE_QUENCH, 0, quote_len); /* RFC 6633: ignored */
	icmp_error(5, 1, quote_len);          /* redirect */
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_type, 3);
	icmp_error(8, 0, 0);                  /* a 4-byte echo is still an echo */
	ck_assert_uint_eq(fk.n_err, 0);
	ck_assert_uint_eq(tctx.net_stats.icmp_rx, 4);
}
END_TEST

START_TEST(icmp_short_message)
{
	uint8_t f[64];
	uint32_t n;

	t_eth(f, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	n = 14 + t_ip(f + 14, T_PEER_IP, T_OUR_IP, IPPROTO_ICMP, "\x08\x00\xf7", 3);
	t_rx(f, n);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_short, 1);
	ck_assert_uint_eq(fk.n_tx, 0);
}
END_TEST

Suite *
icmp_suite(void)
{
	Suite *s = suite_create("icmp");
	TCase *tc = tcase_create("icmp");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, icmp_echo_golden);
	tcase_add_test(tc, icmp_echo_bad_checksum);
	tcase_add_test(tc, icmp_port_unreachable_refuses);
	tcase_add_test(tc, icmp_frag_needed_gives_the_mtu);
	tcase_add_test(tc, icmp_unreach_keeps_external_buffer);
	tcase_add_test(tc, icmp_echo_to_ourselves_keeps_external_buffer);
	tcase_add_test(tc, icmp_linux_errno_mapping);
	tcase_add_test(tc, icmp_bad_quotes_ignored);
	tcase_add_test(tc, icmp_error_for_udp_goes_to_udp);
	tcase_add_test(tc, icmp_port_unreachable_sent_for_closed_udp_port);
	tcase_add_test(tc, icmp_unreach_quote_capped_at_576);
	tcase_add_test(tc, icmp_unreach_rate_limited);
	tcase_add_test(tc, icmp_other_types_counted);
	tcase_add_test(tc, icmp_short_message);
	suite_add_tcase(s, tc);
	return s;
}
