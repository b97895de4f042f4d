/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests of udp/udp.c: binding and ports, connect and AF_UNSPEC dissolve,
 * datagram records in both rings (including wrap markers), peer filtering of
 * connected sockets, port unreachable, ICMP errors. IPv4 output, routing and ICMP
 * are link-time fakes that record what they get; mbufs come from a real mempool
 * (EAL without hugepages).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <shunt/bytering.h>

#include "core/sock.h"
#include "dp.h"
#include "net/icmp.h"
#include "net/net.h"
#include "udp/udp.h"

#define IP_US   0x0200000au  /* 10.0.0.2 on little-endian */
#define IP_PEER 0x0100000au  /* 10.0.0.1 */
#define IP_OTHER 0x0300000au /* 10.0.0.3 */

/* ---- fakes ---------------------------------------------------------------------- */

#define MAX_OUT 8
static struct rte_mbuf *out[MAX_OUT];
static uint32_t out_dst[MAX_OUT];
static int n_out, n_unreach, route_rc;

static uint8_t out_tos[MAX_OUT], out_ttl[MAX_OUT];

int ipv4_output_tos_ttl(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src, uint32_t dst,
			uint8_t proto, uint8_t tos, uint8_t ttl)
{
	(void)ctx; (void)src;
	ck_assert_int_eq(proto, IPPROTO_UDP);
	ck_assert_int_lt(n_out, MAX_OUT);
	out_dst[n_out] = dst;
	out_tos[n_out] = tos;
	out_ttl[n_out] = ttl;
	out[n_out++] = m;
	return 0;
}

int route_lookup(const struct dp_ctx *ctx, uint32_t dst, uint32_t *nexthop)
{
	(void)ctx;
	*nexthop = dst;
	return route_rc;
}

void icmp_send_unreach(struct dp_ctx *ctx, struct rte_mbuf *m, uint8_t code)
{
	(void)ctx;
	ck_assert_int_eq(code, 3);
	n_unreach++;
	rte_pktmbuf_free(m);
}

void dp_app_sock_changed(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx; (void)s;
}

void dp_app_release_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	(void)ctx; (void)app; (void)s;
}

/* ---- fixture --------------------------------------------------------------------- */

static struct rte_mempool *pool;
static struct dp_conf conf;
static struct dp_ctx ctx;

struct tsock {
	struct dp_sock s;
	struct shunt_sock sh;
	uint8_t rx[1024];
	uint8_t tx[1024];
};

/* Every tsock of a test: teardown() closes and frees them (LeakSanitizer checks). */
#define MAX_TSOCKS 16
static struct tsock *tsocks[MAX_TSOCKS];
static int n_tsocks;

static struct tsock *tsock_new(void)
{
	struct tsock *t = aligned_alloc(64, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	ck_assert_int_lt(n_tsocks, MAX_TSOCKS);
	tsocks[n_tsocks++] = t;
	memset(t, 0, sizeof(*t));
	t->s.sh = &t->sh;
	t->s.rx_buf = t->rx;
	t->s.tx_buf = t->tx;
	t->s.rx_size = sizeof(t->rx);
	t->s.tx_size = sizeof(t->tx);
	t->s.type = SHUNT_SOCK_DGRAM;
	ck_assert_int_eq(udp_open(&ctx, &t->s), 0);
	return t;
}

static void setup(void)
{
	memset(&conf, 0, sizeof(conf));
	memset(&ctx, 0, sizeof(ctx));
	conf.eph_lo = 40000;
	conf.eph_hi = 40003;
	ctx.conf = &conf;
	ctx.pool = pool;
	ctx.ip_be = IP_US;
	ctx.mtu = 1500;
	n_out = n_unreach = route_rc = 0;
	ck_assert_int_eq(udp_init(&ctx), 0);
}

static void teardown(void)
{
	int i;

	for (i = 0; i < n_out; i++)
		rte_pktmbuf_free(out[i]);
	for (i = 0; i < n_tsocks; i++)
		udp_app_close(&ctx, &tsocks[i]->s); /* frees the pcb unless a test did */
	udp_fini(&ctx);
	for (i = 0; i < n_tsocks; i++)
		free(tsocks[i]);
	n_tsocks = 0;
}

/* The shim's side of a send: one record at tx_prod. */
static void app_send(struct tsock *t, uint32_t addr, uint16_t port, const void *p, uint32_t len)
{
	struct shunt_dgram d = {.len = len, .peer = {.addr = addr, .port = htons(port)}};
	uint32_t rec = (uint32_t)sizeof(d) + ((len + 7) & ~7u);
	uint32_t off = t->sh.tx_prod & (sizeof(t->tx) - 1);

	if (sizeof(t->tx) - off < rec) { /* skip the tail, mark it */
		struct shunt_dgram w = {.len = SHUNT_DGRAM_WRAP};

		if (sizeof(t->tx) - off >= sizeof(w))
			bytering_write(t->tx, sizeof(t->tx), t->sh.tx_prod, &w, sizeof(w));
		t->sh.tx_prod += (uint32_t)sizeof(t->tx) - off;
	}
	bytering_write(t->tx, sizeof(t->tx), t->sh.tx_prod, &d, sizeof(d));
	bytering_write(t->tx, sizeof(t->tx), t->sh.tx_prod + sizeof(d), p, len);
	t->sh.tx_prod += rec;
}

/* The shim's side of a receive: the next record's header and payload. */
static uint32_t app_recv(struct tsock *t, struct shunt_dgram *d, void *p)
{
	uint32_t off = t->sh.rx_cons & (sizeof(t->rx) - 1);

	ck_assert_uint_ne(t->sh.rx_cons, t->sh.rx_prod);
	if (sizeof(t->rx) - off < sizeof(*d)) {
		t->sh.rx_cons += (uint32_t)sizeof(t->rx) - off;
		off = 0;
	}
	bytering_read(t->rx, sizeof(t->rx), t->sh.rx_cons, d, sizeof(*d));
	if (d->len == SHUNT_DGRAM_WRAP) {
		t->sh.rx_cons += (uint32_t)sizeof(t->rx) - off;
		bytering_read(t->rx, sizeof(t->rx), t->sh.rx_cons, d, sizeof(*d));
	}
	bytering_read(t->rx, sizeof(t->rx), t->sh.rx_cons + sizeof(*d), p, d->len);
	t->sh.rx_cons += (uint32_t)sizeof(*d) + ((d->len + 7) & ~7u);
	return d->len;
}

/* A datagram from src:sport to our dport. */
static void peer_send(uint32_t src, uint16_t sport, uint16_t dport, const void *p, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_udp_hdr *uh;

	ck_assert_ptr_nonnull(m);
	uh = (struct rte_udp_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*uh) + len));
	uh->src_port = htons(sport);
	uh->dst_port = htons(dport);
	uh->dgram_len = htons((uint16_t)(sizeof(*uh) + len));
	uh->dgram_cksum = 0;
	memcpy(uh + 1, p, len);
	udp_input(&ctx, m, src, IP_US);
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_bind_rules)
{
	struct tsock *a = tsock_new(), *b = tsock_new(), *c = tsock_new();

	ck_assert_int_eq(udp_bind(&ctx, &a->s, 0, htons(5000), 0), 0);
	ck_assert_uint_eq(ntohs(a->sh.local.port), 5000);
	ck_assert_int_eq(udp_bind(&ctx, &a->s, 0, htons(5001), 0), -EINVAL);      /* bound */
	ck_assert_int_eq(udp_bind(&ctx, &b->s, 0, htons(5000), 0), -EADDRINUSE);
	ck_assert_int_eq(udp_bind(&ctx, &b->s, IP_OTHER, htons(5002), 0), -EADDRNOTAVAIL);
	ck_assert_int_eq(udp_bind(&ctx, &b->s, IP_US, 0, 0), 0);                   /* ephemeral */
	ck_assert_uint_ge(ntohs(b->sh.local.port), 40000);
	ck_assert_uint_le(ntohs(b->sh.local.port), 40003);
	ck_assert_uint_eq(b->sh.local.addr, IP_US);
	/* SO_REUSEADDR on both: shared */
	udp_app_setopt(&ctx, &a->s, SHUNT_OPT_REUSEADDR, 1);
	udp_app_setopt(&ctx, &c->s, SHUNT_OPT_REUSEADDR, 1);
	ck_assert_int_eq(udp_bind(&ctx, &c->s, 0, htons(5000), 0), 0);
	/* close frees the port */
	udp_app_close(&ctx, &a->s);
	udp_app_close(&ctx, &c->s);
	ck_assert_int_eq(udp_bind(&ctx, &tsock_new()->s, 0, htons(5000), 0), 0);
}
END_TEST

START_TEST(test_ephemeral_exhaustion)
{
	int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(udp_connect(&ctx, &tsock_new()->s, IP_PEER, htons(53)), 0);
	ck_assert_int_eq(udp_connect(&ctx, &tsock_new()->s, IP_PEER, htons(53)), -EAGAIN);
}
END_TEST

START_TEST(test_connect_and_dissolve)
{
	struct tsock *t = tsock_new(), *u = tsock_new();
	uint16_t port;

	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_PEER, htons(7)), 0);
	ck_assert(t->sh.flags & SHUNT_SF_CONNECTED);
	ck_assert_uint_eq(t->sh.remote.addr, IP_PEER);
	ck_assert_uint_eq(ntohs(t->sh.remote.port), 7);
	ck_assert_uint_eq(t->sh.local.addr, IP_US);
	port = ntohs(t->sh.local.port);
	ck_assert_uint_ge(port, 40000);
	/* re-connect changes the peer, keeps the port */
	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_OTHER, htons(8)), 0);
	ck_assert_uint_eq(t->sh.remote.addr, IP_OTHER);
	ck_assert_uint_eq(ntohs(t->sh.local.port), port);
	/* AF_UNSPEC: peer gone, and the implicit port with it (Linux) */
	ck_assert_int_eq(udp_disconnect(&ctx, &t->s), 0);
	ck_assert(!(t->sh.flags & SHUNT_SF_CONNECTED));
	ck_assert_uint_eq(t->sh.remote.addr, 0);
	ck_assert_uint_eq(t->sh.local.port, 0);
	ck_assert_uint_eq(t->sh.local.addr, 0);
	/* a port the kernel chose for bind(port 0) does not survive it either */
	{
		struct tsock *w = tsock_new();

		ck_assert_int_eq(udp_bind(&ctx, &w->s, 0, htons(6001), SHUNT_BINDF_UNLOCKED), 0);
		ck_assert_int_eq(udp_connect(&ctx, &w->s, IP_PEER, htons(7)), 0);
		ck_assert_int_eq(udp_disconnect(&ctx, &w->s), 0);
		ck_assert_uint_eq(w->sh.local.port, 0);
	}
	/* a port named by bind() survives the dissolve, the address too if named */
	ck_assert_int_eq(udp_bind(&ctx, &u->s, 0, htons(6000), 0), 0);
	ck_assert_int_eq(udp_connect(&ctx, &u->s, IP_PEER, htons(7)), 0);
	ck_assert_int_eq(udp_disconnect(&ctx, &u->s), 0);
	ck_assert_uint_eq(ntohs(u->sh.local.port), 6000);
	/* no route */
	route_rc = -ENETUNREACH;
	ck_assert_int_eq(udp_connect(&ctx, &tsock_new()->s, IP_PEER, htons(7)), -ENETUNREACH);
}
END_TEST

START_TEST(test_send_records)
{
	struct tsock *t = tsock_new();
	const struct rte_udp_hdr *uh;
	char big[300];
	int i;

	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_PEER, htons(7)), 0);
	app_send(t, 0, 0, "hello", 5);                    /* to the connected peer */
	app_send(t, IP_OTHER, 99, "abc", 3);              /* sendto another address */
	app_send(t, 0, 0, big, sizeof(big));              /* records of 320 bytes */
	app_send(t, 0, 0, big, sizeof(big));
	udp_app_send(&ctx, &t->s);
	ck_assert_int_eq(n_out, 4);
	ck_assert_uint_eq(t->sh.tx_cons, t->sh.tx_prod);
	app_send(t, 0, 0, big, sizeof(big));              /* at 688: does not fit, wraps */
	app_send(t, 0, 0, big, sizeof(big));
	udp_app_send(&ctx, &t->s);
	ck_assert_int_eq(n_out, 6);
	ck_assert_uint_eq(t->sh.tx_cons, t->sh.tx_prod);
	uh = rte_pktmbuf_mtod(out[0], const struct rte_udp_hdr *);
	ck_assert_uint_eq(ntohs(uh->dst_port), 7);
	ck_assert_uint_eq(uh->src_port, t->sh.local.port);
	ck_assert_uint_eq(ntohs(uh->dgram_len), 8 + 5);
	ck_assert_mem_eq(uh + 1, "hello", 5);
	ck_assert_uint_eq(out_dst[0], IP_PEER);
	uh = rte_pktmbuf_mtod(out[1], const struct rte_udp_hdr *);
	ck_assert_uint_eq(ntohs(uh->dst_port), 99);
	ck_assert_uint_eq(out_dst[1], IP_OTHER);
	for (i = 2; i < 6; i++) {
		uh = rte_pktmbuf_mtod(out[i], const struct rte_udp_hdr *);
		ck_assert_uint_eq(ntohs(uh->dgram_len), 8 + sizeof(big));
		ck_assert_mem_eq(uh + 1, big, sizeof(big));
	}
}
END_TEST

/* IP_TOS (the whole byte: Linux keeps the ECN bits out of it only for TCP) and
 * IP_TTL are in every datagram's header; none set: 0 and the default. */
START_TEST(test_tos_ttl)
{
	struct tsock *t = tsock_new();

	app_send(t, IP_PEER, 53, "q", 1);
	udp_app_send(&ctx, &t->s);
	ck_assert_uint_eq(out_tos[0], 0);
	ck_assert_uint_eq(out_ttl[0], 0);
	ck_assert_int_eq(udp_app_setopt(&ctx, &t->s, SHUNT_OPT_TOS, 0xb9), 0);
	ck_assert_int_eq(udp_app_setopt(&ctx, &t->s, SHUNT_OPT_TTL, 3), 0);
	ck_assert_int_eq(udp_app_setopt(&ctx, &t->s, SHUNT_OPT_TTL, 0), -EINVAL);
	app_send(t, IP_PEER, 53, "q", 1);
	udp_app_send(&ctx, &t->s);
	ck_assert_int_eq(n_out, 2);
	ck_assert_uint_eq(out_tos[1], 0xb9);
	ck_assert_uint_eq(out_ttl[1], 3);
}
END_TEST

START_TEST(test_unconnected_send_autobinds)
{
	struct tsock *t = tsock_new();

	app_send(t, IP_PEER, 53, "q", 1);
	udp_app_send(&ctx, &t->s);
	ck_assert_int_eq(n_out, 1);
	ck_assert_uint_ge(ntohs(t->sh.local.port), 40000);
}
END_TEST

START_TEST(test_bad_record_breaks_socket)
{
	struct tsock *t = tsock_new();
	struct shunt_dgram d = {.len = 70000, .peer = {.addr = IP_PEER, .port = htons(7)}};

	bytering_write(t->tx, sizeof(t->tx), 0, &d, sizeof(d));
	t->sh.tx_prod = 64;
	udp_app_send(&ctx, &t->s);
	ck_assert(t->s.broken);
	ck_assert_int_eq(n_out, 0);
	ck_assert_int_eq(t->sh.error, EPROTO);
	ck_assert(t->sh.flags & SHUNT_SF_RESET);
	/* the pcb survives: later commands on the socket are safe, and said once */
	ck_assert_ptr_nonnull(t->s.pcb);
	udp_app_send(&ctx, &t->s);
	ck_assert_uint_eq(t->sh.err_seq, 1);
	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_PEER, htons(7)), 0);
	udp_app_close(&ctx, &t->s);
}
END_TEST

START_TEST(test_receive_and_wrap)
{
	struct tsock *t = tsock_new();
	struct shunt_dgram d;
	char buf[400], big[300];
	int i;

	memset(big, 'y', sizeof(big));
	ck_assert_int_eq(udp_bind(&ctx, &t->s, 0, htons(5000), 0), 0);
	peer_send(IP_PEER, 1234, 5000, "ping", 4);
	ck_assert_uint_eq(app_recv(t, &d, buf), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_uint_eq(d.peer.addr, IP_PEER);
	ck_assert_uint_eq(ntohs(d.peer.port), 1234);
	/* records of 320 bytes in a 1 KiB ring: the fourth has to wrap */
	for (i = 0; i < 6; i++) {
		peer_send(IP_OTHER, 99, 5000, big, sizeof(big));
		ck_assert_uint_eq(app_recv(t, &d, buf), sizeof(big));
		ck_assert_mem_eq(buf, big, sizeof(big));
	}
	ck_assert_uint_eq(t->sh.rx_cons, t->sh.rx_prod);
}
END_TEST

START_TEST(test_rcvbuf_full_drops)
{
	struct tsock *t = tsock_new();
	char big[300];
	int i;

	memset(big, 'z', sizeof(big));
	ck_assert_int_eq(udp_bind(&ctx, &t->s, 0, htons(5000), 0), 0);
	for (i = 0; i < 5; i++)
		peer_send(IP_PEER, 1, 5000, big, sizeof(big));
	/* 3 records of 16 + 304 fit in 1024; the 4th would need the 64-byte tail
	 * plus 320 */
	ck_assert_uint_eq(t->sh.rx_prod, 3 * 320);
}
END_TEST

START_TEST(test_connected_filters_peers)
{
	struct tsock *t = tsock_new();
	struct shunt_dgram d;
	char buf[16];

	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_PEER, htons(7)), 0);
	peer_send(IP_OTHER, 7, ntohs(t->sh.local.port), "no", 2);   /* wrong host */
	peer_send(IP_PEER, 8, ntohs(t->sh.local.port), "no", 2);    /* wrong port */
	ck_assert_uint_eq(t->sh.rx_prod, 0);
	ck_assert_int_eq(n_unreach, 2); /* nobody else listens: port unreachable */
	peer_send(IP_PEER, 7, ntohs(t->sh.local.port), "yes", 3);
	ck_assert_uint_eq(app_recv(t, &d, buf), 3);
	ck_assert_mem_eq(buf, "yes", 3);
}
END_TEST

START_TEST(test_no_socket_port_unreachable)
{
	peer_send(IP_PEER, 1, 4444, "x", 1);
	ck_assert_int_eq(n_unreach, 1);
}
END_TEST

START_TEST(test_icmp_error_connected_only)
{
	struct tsock *t = tsock_new(), *u = tsock_new();
	uint8_t quote[28];
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)quote;
	struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(quote + 20);

	ck_assert_int_eq(udp_connect(&ctx, &t->s, IP_PEER, htons(7)), 0);
	ck_assert_int_eq(udp_bind(&ctx, &u->s, 0, htons(5000), 0), 0);
	memset(quote, 0, sizeof(quote));
	ip->version_ihl = 0x45;
	ip->src_addr = IP_US;
	ip->dst_addr = IP_PEER;
	uh->src_port = t->sh.local.port;
	uh->dst_port = htons(7);
	udp_notify_error(&ctx, quote, sizeof(quote), ECONNREFUSED);
	ck_assert_int_eq(t->sh.error, ECONNREFUSED);
	ck_assert_uint_eq(t->sh.err_seq, 1);
	/* unconnected: ignored, as Linux without IP_RECVERR */
	uh->src_port = htons(5000);
	udp_notify_error(&ctx, quote, sizeof(quote), ECONNREFUSED);
	ck_assert_uint_eq(u->sh.err_seq, 0);
	/* truncated quotes are ignored */
	udp_notify_error(&ctx, quote, 24, ECONNREFUSED);
	ip->version_ihl = 0x4f;
	udp_notify_error(&ctx, quote, sizeof(quote), ECONNREFUSED);
	ck_assert_uint_eq(t->sh.err_seq, 1);
}
END_TEST

START_TEST(test_short_and_bad_length_dropped)
{
	struct tsock *t = tsock_new();
	struct rte_mbuf *m;
	struct rte_udp_hdr *uh;

	ck_assert_int_eq(udp_bind(&ctx, &t->s, 0, htons(5000), 0), 0);
	m = rte_pktmbuf_alloc(pool);
	rte_pktmbuf_append(m, 4);
	udp_input(&ctx, m, IP_PEER, IP_US);
	m = rte_pktmbuf_alloc(pool);
	uh = (struct rte_udp_hdr *)rte_pktmbuf_append(m, 12);
	uh->src_port = htons(1);
	uh->dst_port = htons(5000);
	uh->dgram_len = htons(40); /* longer than the packet */
	udp_input(&ctx, m, IP_PEER, IP_US);
	ck_assert_uint_eq(t->sh.rx_prod, 0);
	ck_assert_int_eq(n_unreach, 0);
}
END_TEST

static Suite *udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("udp");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bind_rules);
	tcase_add_test(tc, test_ephemeral_exhaustion);
	tcase_add_test(tc, test_connect_and_dissolve);
	tcase_add_test(tc, test_send_records);
	tcase_add_test(tc, test_tos_ttl);
	tcase_add_test(tc, test_unconnected_send_autobinds);
	tcase_add_test(tc, test_bad_record_breaks_socket);
	tcase_add_test(tc, test_receive_and_wrap);
	tcase_add_test(tc, test_rcvbuf_full_drops);
	tcase_add_test(tc, test_connected_filters_peers);
	tcase_add_test(tc, test_no_socket_port_unreachable);
	tcase_add_test(tc, test_icmp_error_connected_only);
	tcase_add_test(tc, test_short_and_bad_length_dropped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char prefix[64], rundir[PATH_MAX];
	char *eal[] = {"test_udp", "--no-huge", "-m", "64", "--no-pci", "-l", "0", "--no-shconf",
		       "--no-telemetry", "--log-level=*:error", prefix, NULL};
	SRunner *sr;
	int failed;

	/* a prefix of our own, so parallel runs never meet; its directory goes at exit */
	snprintf(prefix, sizeof(prefix), "--file-prefix=shunt_unit_udp_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		return 99;
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	pool = rte_pktmbuf_pool_create("test_udp", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 99;
	sr = srunner_create(udp_suite());
	srunner_set_fork_status(sr, CK_NOFORK); /* the EAL does not survive fork */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rte_eal_cleanup();
	(void)rmdir(rundir);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
