/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * net/ unit tests: EAL (no hugepages) and one mempool per binary, link-time fakes
 * (dp_tx, tcp_input, tcp_notify_error, udp_input, udp_notify_error), packet
 * builders, and main() running one Check suite per module (eth, arp, ipv4, icmp,
 * route, lo, pmtu) without fork: a forked child cannot safely use the parent's EAL memory.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "dp.h"
#include "net/net.h"
#include "net/icmp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "net_test.h"

const struct rte_ether_addr t_our_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 2 } };
const struct rte_ether_addr t_peer_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 1 } };
const struct rte_ether_addr t_far_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 9 } };

struct t_fakes fk;
struct dp_ctx tctx;
static struct rte_mempool *t_pool;
static unsigned t_pool_avail;

/* ---- fakes ---- */

void
dp_tx(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	ck_assert_ptr_eq(ctx, &tctx);
	if (fk.n_tx == T_MAX_TX) {
		rte_pktmbuf_free(m);
		ck_abort_msg("more than %d frames sent", T_MAX_TX);
	}
	fk.tx[fk.n_tx++] = m;
}

void
dp_tx_flush(struct dp_ctx *ctx)
{
	(void)ctx;
}

static void
t_record(struct t_rec *r, const void *p, uint32_t len)
{
	r->len = len;
	memcpy(r->data, p, len < sizeof(r->data) ? len : sizeof(r->data));
}

void
tcp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be)
{
	struct t_rec *r;

	ck_assert_ptr_eq(ctx, &tctx);
	ck_assert_uint_lt(fk.n_tcp, T_MAX_REC);
	r = &fk.tcp[fk.n_tcp++];
	t_record(r, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_data_len(m));
	r->src_be = src_be;
	r->dst_be = dst_be;
	rte_pktmbuf_free(m);
}

void
tcp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err,
		 const struct icmp_err *icmp)
{
	struct t_rec *r;

	ck_assert_ptr_eq(ctx, &tctx);
	ck_assert_uint_lt(fk.n_err, T_MAX_REC);
	r = &fk.err[fk.n_err++];
	t_record(r, ip, len);
	r->err = err;
	ck_assert_ptr_nonnull(icmp);
	r->icmp = *icmp;
}

void
udp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be)
{
	struct t_rec *r;

	ck_assert_ptr_eq(ctx, &tctx);
	/* Counted always, recorded while there is room (the rate-limit test floods). */
	if (fk.n_udp < T_MAX_REC) {
		r = &fk.udp[fk.n_udp];
		t_record(r, rte_pktmbuf_mtod(m, void *), rte_pktmbuf_data_len(m));
		r->src_be = src_be;
		r->dst_be = dst_be;
	}
	fk.n_udp++;
	if (fk.udp_closed)
		icmp_send_unreach(ctx, m, ICMP_UNREACH_PORT);
	else
		rte_pktmbuf_free(m);
}

void
udp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err)
{
	struct t_rec *r;

	ck_assert_ptr_eq(ctx, &tctx);
	ck_assert_uint_lt(fk.n_uerr, T_MAX_REC);
	r = &fk.uerr[fk.n_uerr++];
	t_record(r, ip, len);
	r->err = err;
}

/* ---- fixture ---- */

void
t_fakes_clear(void)
{
	unsigned i;

	for (i = 0; i < fk.n_tx; i++)
		rte_pktmbuf_free(fk.tx[i]);
	memset(&fk, 0, sizeof(fk));
}

void
t_setup(void)
{
	memset(&tctx, 0, sizeof(tctx));
	memset(&fk, 0, sizeof(fk));
	tctx.now_us = T_US;
	tctx.pool = t_pool;
	tctx.mac = t_our_mac;
	tctx.ip_be = T_OUR_IP;
	tctx.netmask_be = T_IP(255, 255, 255, 0);
	tctx.mtu = 1500;
	ck_assert_int_eq(arp_init(&tctx), 0);
	t_pool_avail = rte_mempool_avail_count(t_pool);
}

void
t_teardown(void)
{
	t_fakes_clear();
	lo_fini(&tctx);
	arp_fini(&tctx);
	ck_assert_uint_eq(rte_mempool_avail_count(t_pool), t_pool_avail);
}

/* ---- helpers ---- */

struct rte_mbuf *
t_mbuf(const void *bytes, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	void *p;

	ck_assert_ptr_nonnull(m);
	p = rte_pktmbuf_append(m, len);
	ck_assert(len == 0 || p != NULL);
	if (len)
		memcpy(p, bytes, len);
	return m;
}

void
t_rx(const void *bytes, uint32_t len)
{
	eth_input(&tctx, t_mbuf(bytes, len));
}

uint64_t
t_drops(void)
{
	uint64_t n = 0;

#define T_DROP(name) if (strstr(#name, "_drop_")) n += tctx.net_stats.name;
	NET_STATS(T_DROP)
#undef T_DROP
	return n;
}

const uint8_t *
t_tx_data(unsigned i, uint32_t *len)
{
	ck_assert_uint_lt(i, fk.n_tx);
	ck_assert_uint_eq(fk.tx[i]->nb_segs, 1);
	*len = rte_pktmbuf_data_len(fk.tx[i]);
	return rte_pktmbuf_mtod(fk.tx[i], const uint8_t *);
}

uint32_t
t_sum(const void *p, uint32_t len, uint32_t sum)
{
	const uint8_t *b = p;
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

uint16_t
t_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void
t_put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

uint32_t
t_eth(uint8_t *b, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
      uint16_t type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	t_put16(b + 12, type);
	return 14;
}

void
t_ip_fix_cksum(uint8_t *ip)
{
	uint32_t hlen = (ip[0] & 0xf) * 4;

	ip[10] = ip[11] = 0;
	t_put16(ip + 10, (uint16_t)~t_fold(t_sum(ip, hlen, 0)));
}

uint32_t
t_ip(uint8_t *b, uint32_t src_be, uint32_t dst_be, uint8_t proto, const void *l4,
     uint32_t l4_len)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	t_put16(b + 2, (uint16_t)(20 + l4_len));
	t_put16(b + 4, 0x1111);
	t_put16(b + 6, 0x4000);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, &src_be, 4);
	memcpy(b + 16, &dst_be, 4);
	t_ip_fix_cksum(b);
	memcpy(b + 20, l4, l4_len);
	return 20 + l4_len;
}

static uint32_t
t_phdr_sum(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint32_t l4_len)
{
	uint32_t sum = t_sum(&src_be, 4, 0);

	sum = t_sum(&dst_be, 4, sum);
	return sum + proto + l4_len;
}

uint32_t
t_tcp(uint8_t *b, uint32_t src_be, uint32_t dst_be, const void *payload, uint32_t plen)
{
	memset(b, 0, 20);
	t_put16(b, 40000);
	t_put16(b + 2, 80);
	b[7] = 1;       /* seq 1 */
	b[11] = 1;      /* ack 1 */
	b[12] = 5 << 4; /* data offset */
	b[13] = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
	t_put16(b + 14, 1000);
	memcpy(b + 20, payload, plen);
	t_put16(b + 16, (uint16_t)~t_fold(t_sum(b, 20 + plen,
					       t_phdr_sum(src_be, dst_be, 6, 20 + plen))));
	return 20 + plen;
}

uint32_t
t_tcp_frame(uint8_t *b, const void *payload, uint32_t plen)
{
	uint8_t seg[1500];
	uint32_t n = t_tcp(seg, T_PEER_IP, T_OUR_IP, payload, plen);

	t_eth(b, &t_our_mac, &t_peer_mac, RTE_ETHER_TYPE_IPV4);
	return 14 + t_ip(b + 14, T_PEER_IP, T_OUR_IP, IPPROTO_TCP, seg, n);
}

uint32_t
t_arp(uint8_t *b, const struct rte_ether_addr *eth_dst, uint16_t op,
      const struct rte_ether_addr *sha, uint32_t sip_be, const struct rte_ether_addr *tha,
      uint32_t tip_be)
{
	uint8_t *a = b + 14;

	t_eth(b, eth_dst, sha, RTE_ETHER_TYPE_ARP);
	t_put16(a, 1);
	t_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	t_put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, &sip_be, 4);
	memcpy(a + 18, tha, 6);
	memcpy(a + 24, &tip_be, 4);
	return 42;
}

void
t_seed_arp(uint32_t ip_be, const struct rte_ether_addr *mac)
{
	uint8_t f[64];
	uint32_t n = t_arp(f, &t_our_mac, RTE_ARP_OP_REPLY, mac, ip_be, &t_our_mac, T_OUR_IP);

	t_rx(f, n);
	ck_assert_uint_eq(fk.n_tx, 0);
	t_fakes_clear();
}

struct rte_mbuf *
t_tcp_mbuf(uint32_t src_be, uint32_t dst_be, uint32_t plen)
{
	uint8_t seg[1500], payload[1500];
	struct rte_mbuf *m;
	uint32_t i, n;

	for (i = 0; i < plen; i++)
		payload[i] = (uint8_t)('a' + i % 26);
	n = t_tcp(seg, src_be, dst_be, payload, plen);
	seg[16] = seg[17] = 0; /* ipv4_output's job */
	m = t_mbuf(seg, n);
	ck_assert_uint_ge(rte_pktmbuf_headroom(m), NET_HEADROOM);
	return m;
}

int
main(void)
{
	char prefix[64], rundir[PATH_MAX];
	char *eal[] = { "test_net", "--no-huge", "-m", "64", "--no-pci", "-l", "0",
			"--log-level=error", "--no-shconf", "--no-telemetry", prefix, NULL };
	SRunner *sr;
	int failed;

	/* a prefix of our own, so parallel runs never meet; its directory goes at exit */
	snprintf(prefix, sizeof(prefix), "--file-prefix=shunt_unit_net_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return 1;
	}
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	t_pool = rte_pktmbuf_pool_create("test_net", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	if (t_pool == NULL) {
		fprintf(stderr, "mempool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	sr = srunner_create(eth_suite());
	srunner_add_suite(sr, arp_suite());
	srunner_add_suite(sr, ipv4_suite());
	srunner_add_suite(sr, icmp_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, lo_suite());
	srunner_add_suite(sr, pmtu_suite());
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_mempool_free(t_pool);
	rte_eal_cleanup();
	(void)rmdir(rundir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
