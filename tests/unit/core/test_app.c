/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests of core/app.c and core/sock.c: the dataplane side of the shared-memory
 * ABI. A region is created exactly as for a real process; the test plays the shim
 * through include/shunt/ring.h, with TCP replaced by link-time fakes that record
 * what they were asked to do.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include <shunt/bytering.h>
#include <shunt/ring.h>

#include "core/app.h"
#include "core/log.h"
#include "dp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* ---- link-time fakes for tcp.h ------------------------------------------------ */

static int fake_open, fake_connect, fake_close, fake_abort, fake_send;
static int fake_connect_rc;
static uint32_t fake_connect_addr;
static uint16_t fake_connect_port;
static bool fake_close_keeps_pcb;
static int fake_pcb_token;

int tcp_open(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx;
	fake_open++;
	s->pcb = &fake_pcb_token;
	return 0;
}

int tcp_bind(struct dp_ctx *ctx, struct dp_sock *s, uint32_t a, uint16_t p, uint32_t f)
{
	(void)ctx; (void)s; (void)a; (void)p; (void)f;
	return 0;
}

int tcp_connect(struct dp_ctx *ctx, struct dp_sock *s, uint32_t a, uint16_t p)
{
	(void)ctx; (void)s;
	fake_connect++;
	fake_connect_addr = a;
	fake_connect_port = p;
	return fake_connect_rc;
}

void tcp_app_send(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx;
	fake_send++;
	(void)dp_sock_tx_queued(s); /* validates tx_prod as TCP would */
}

void tcp_app_recvd(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx; (void)s;
}

int tcp_app_disconnect(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx; (void)s;
	return 0;
}

int tcp_app_shutdown(struct dp_ctx *ctx, struct dp_sock *s, int how)
{
	(void)ctx; (void)s; (void)how;
	return 0;
}

void tcp_app_close(struct dp_ctx *ctx, struct dp_sock *s)
{
	fake_close++;
	if (!fake_close_keeps_pcb)
		dp_sock_pcb_done(ctx, s);
}

int tcp_app_setopt(struct dp_ctx *ctx, struct dp_sock *s, uint32_t o, uint64_t v)
{
	(void)ctx; (void)s; (void)o; (void)v;
	return 0;
}

void tcp_app_abort(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx;
	fake_abort++;
	s->pcb = NULL;
}

/* udp.h: datagram sockets are not exercised here, only linked */
int udp_open(struct dp_ctx *c, struct dp_sock *s) { (void)c; (void)s; return 0; }
int udp_bind(struct dp_ctx *c, struct dp_sock *s, uint32_t a, uint16_t p, uint32_t f)
{ (void)c; (void)s; (void)a; (void)p; (void)f; return 0; }
int udp_connect(struct dp_ctx *c, struct dp_sock *s, uint32_t a, uint16_t p)
{ (void)c; (void)s; (void)a; (void)p; return 0; }
int udp_disconnect(struct dp_ctx *c, struct dp_sock *s) { (void)c; (void)s; return 0; }
void udp_app_send(struct dp_ctx *c, struct dp_sock *s) { (void)c; (void)s; }
void udp_app_close(struct dp_ctx *c, struct dp_sock *s) { dp_sock_pcb_done(c, s); }
int udp_app_setopt(struct dp_ctx *c, struct dp_sock *s, uint32_t o, uint64_t v)
{ (void)c; (void)s; (void)o; (void)v; return 0; }

/* ---- fixture ---------------------------------------------------------------------- */

static struct dp_conf conf;
static struct dp_ctx ctx;
static struct dp_app *app;
static struct shunt_region *r;
static uint32_t seq;

static void setup(void)
{
	memset(&conf, 0, sizeof(conf));
	memset(&ctx, 0, sizeof(ctx));
	conf.max_sockets = 8;
	conf.rx_buf = 4096;
	conf.tx_buf = 8192;
	ctx.conf = &conf;
	fake_open = fake_connect = fake_close = fake_abort = fake_send = 0;
	fake_connect_rc = 0;
	fake_close_keeps_pcb = false;
	dp_log_set_level(DP_LOG_ERR);
	ck_assert_int_eq(apps_init(&ctx), 0);
	ck_assert_int_eq(app_create(&ctx, -1, 1234, &app), 0);
	r = app->r;
}

static void teardown(void)
{
	apps_fini(&ctx);
}

static void push(uint16_t op, uint32_t sock, uint32_t arg, uint16_t flags)
{
	struct shunt_cmd c = {.op = op, .flags = flags, .sock = sock, .seq = ++seq, .arg = arg};

	c.addr.addr = 0x0100a8c0; /* 192.168.0.1, network order on little-endian */
	c.addr.port = 0x5000;     /* 80 */
	ck_assert_int_eq(shunt_chan_push(shunt_region_channel(r, 0), &c), 0);
}

/* Pop a free slot and open it as the shim would. */
static uint32_t open_sock(void)
{
	int64_t slot = shunt_free_pop(shunt_region_free(r), r->free_ring_size);
	struct shunt_sock *sh;

	ck_assert_int_ge(slot, 0);
	sh = shunt_region_sock(r, (uint32_t)slot);
	sh->rx_cons = 0;
	sh->tx_prod = 0;
	push(SHUNT_CMD_OPEN, (uint32_t)slot, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_uint_eq(sh->done_seq, seq);
	ck_assert_int_eq(sh->done_result, 0);
	return (uint32_t)slot;
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(test_region_layout)
{
	uint32_t i, seen = 0;

	ck_assert_uint_eq(r->magic, SHUNT_ABI_MAGIC);
	ck_assert_uint_eq(r->version, SHUNT_ABI_VERSION);
	ck_assert_uint_eq(r->nsocks, 8);
	ck_assert_uint_eq(r->rx_buf_size, 4096);
	ck_assert_uint_eq(r->tx_buf_size, 8192);
	ck_assert_uint_eq(r->nchannels, 1);
	ck_assert_uint_ge(r->free_ring_size, 8);
	/* everything inside the region, in order, without overlap */
	ck_assert_uint_ge(r->chan_off, sizeof(*r));
	ck_assert_uint_ge(r->free_off, r->chan_off + sizeof(struct shunt_channel));
	ck_assert_uint_ge(r->socks_off, r->free_off + sizeof(struct shunt_free_ring) + 8 * 4);
	ck_assert_uint_ge(r->bufs_off, r->socks_off + 8 * sizeof(struct shunt_sock));
	ck_assert_uint_eq(r->region_size, r->bufs_off + 8 * (4096 + 8192));
	ck_assert_ptr_eq(shunt_region_txbuf(r, 7) + 8192, (uint8_t *)r + r->region_size);
	/* every slot on the free ring exactly once */
	for (i = 0; i < 8; i++) {
		int64_t s = shunt_free_pop(shunt_region_free(r), r->free_ring_size);

		ck_assert_int_ge(s, 0);
		ck_assert_int_lt(s, 8);
		ck_assert_uint_eq(seen & (1u << s), 0);
		seen |= 1u << s;
	}
	ck_assert_int_eq(shunt_free_pop(shunt_region_free(r), r->free_ring_size), -ENOBUFS);
}
END_TEST

START_TEST(test_open_connect_reply)
{
	uint32_t s = open_sock();
	struct shunt_sock *sh = shunt_region_sock(r, s);

	ck_assert_int_eq(fake_open, 1);
	ck_assert_uint_eq(sh->state, SHUNT_SS_CLOSED);
	ck_assert_uint_eq(sh->type, SHUNT_SOCK_STREAM);

	fake_connect_rc = -ENETUNREACH;
	push(SHUNT_CMD_CONNECT, s, 0, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(fake_connect, 1);
	ck_assert_uint_eq(fake_connect_addr, 0x0100a8c0);
	ck_assert_uint_eq(fake_connect_port, 0x5000);
	ck_assert_uint_eq(sh->done_seq, seq);
	ck_assert_int_eq(sh->done_result, -ENETUNREACH);
	/* the app was marked for a wake-up */
	ck_assert_ptr_eq(ctx.apps->wake_list, app);
}
END_TEST

START_TEST(test_open_busy_slot_refused)
{
	uint32_t s = open_sock();

	push(SHUNT_CMD_OPEN, s, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(shunt_region_sock(r, s)->done_result, -EBUSY);
	ck_assert_uint_eq(app->stats.cmd_drop_busy, 1);
}
END_TEST

START_TEST(test_close_returns_slot)
{
	uint32_t s = open_sock();
	int64_t again;
	uint32_t i;

	push(SHUNT_CMD_CLOSE, s, 0, 0);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(fake_close, 1);
	ck_assert_uint_eq(shunt_region_sock(r, s)->state, SHUNT_SS_FREE);
	/* drain the other 7, then the closed one comes back */
	for (i = 0; i < 7; i++)
		ck_assert_int_ge(shunt_free_pop(shunt_region_free(r), r->free_ring_size), 0);
	again = shunt_free_pop(shunt_region_free(r), r->free_ring_size);
	ck_assert_int_eq(again, s);
}
END_TEST

START_TEST(test_close_waits_for_pcb)
{
	uint32_t s = open_sock();
	uint32_t before = shunt_region_free(r)->prod;

	fake_close_keeps_pcb = true; /* TCP still needs the rings (FIN exchange) */
	push(SHUNT_CMD_CLOSE, s, 0, 0);
	apps_poll(&ctx);
	ck_assert_uint_ne(shunt_region_sock(r, s)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(shunt_region_free(r)->prod, before);
	/* commands on a closed socket are refused */
	push(SHUNT_CMD_CONNECT, s, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(shunt_region_sock(r, s)->done_result, -EBADF);
	ck_assert_int_eq(fake_connect, 0);
	/* TCP finishes: the slot is released */
	dp_sock_pcb_done(&ctx, &app->socks[s]);
	ck_assert_uint_eq(shunt_region_sock(r, s)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(shunt_region_free(r)->prod, before + 1);
}
END_TEST

START_TEST(test_bad_slot_counted)
{
	push(SHUNT_CMD_CONNECT, 8, 0, SHUNT_CMDF_SYNC);   /* out of range */
	push(SHUNT_CMD_CONNECT, 0xffffffffu, 0, 0);
	push(SHUNT_CMD_SEND, 3, 0, 0);                     /* never opened */
	ck_assert_uint_eq(apps_poll(&ctx), 3);
	ck_assert_uint_eq(app->stats.cmd_drop_bad_sock, 2);
	ck_assert_uint_eq(app->stats.cmd_drop_not_open, 1);
	ck_assert_int_eq(fake_connect + fake_send, 0);
	ck_assert(!app->broken);
}
END_TEST

START_TEST(test_bad_opcode_answered)
{
	uint32_t s = open_sock();

	push(SHUNT_CMD_MAX + 7, s, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_uint_eq(app->stats.cmd_drop_bad_op, 1);
	ck_assert_int_eq(shunt_region_sock(r, s)->done_result, -EINVAL);
}
END_TEST

START_TEST(test_hostile_producer_breaks_app)
{
	struct shunt_channel *ch = shunt_region_channel(r, 0);

	ch->prod = SHUNT_CMD_RING_SIZE + 5; /* claims more than the ring holds */
	ck_assert_uint_eq(apps_poll(&ctx), 0);
	ck_assert(app->broken);
	ck_assert_uint_eq(app->stats.ring_broken, 1);
	ck_assert(!apps_prepare_sleep(&ctx)); /* a broken app is reaped, not slept on */
}
END_TEST

START_TEST(test_hostile_tx_prod_breaks_socket)
{
	uint32_t s = open_sock();
	struct shunt_sock *sh = shunt_region_sock(r, s);

	sh->tx_prod = 8192 + 1; /* more than the tx ring */
	push(SHUNT_CMD_SEND, s, 0, 0);
	apps_poll(&ctx);
	ck_assert_int_eq(fake_send, 1);
	ck_assert(app->socks[s].broken); /* seen by the accessor; TCP reacts (its tests) */
	ck_assert(!app->broken);         /* only that socket */
}
END_TEST

START_TEST(test_offsets_rewritten_by_app_ignored)
{
	uint32_t s = open_sock();
	struct shunt_channel *ch = shunt_region_channel(r, 0);

	/* a hostile app points the control block's offsets anywhere */
	r->chan_off = 0x7fff00000000ull;
	r->free_off = 0x7fff00000000ull;
	{
		struct shunt_cmd c = {.op = SHUNT_CMD_CLOSE, .sock = s};

		ck_assert_int_eq(shunt_chan_push(ch, &c), 0); /* the shim's own pointer */
	}
	ck_assert_uint_eq(apps_poll(&ctx), 1);  /* and the slot goes back to the real ring */
	ck_assert_uint_eq(shunt_region_sock(r, s)->state, SHUNT_SS_FREE);
	ck_assert(apps_prepare_sleep(&ctx));
	apps_end_sleep(&ctx);
}
END_TEST

START_TEST(test_rx_ring_publication)
{
	uint32_t s = open_sock();
	struct dp_sock *ds = &app->socks[s];
	struct shunt_sock *sh = shunt_region_sock(r, s);
	uint8_t data[3000], out[3000];
	unsigned i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	ck_assert_uint_eq(dp_sock_rx_space(ds), 4096);
	/* advance to near the end so the write wraps */
	ds->rx_prod = sh->rx_cons = 3000;
	dp_sock_rx_write(ds, 0, data, sizeof(data));
	dp_sock_rx_commit(&ctx, ds, sizeof(data));
	ck_assert_uint_eq(sh->rx_prod, 6000);
	ck_assert_uint_eq(dp_sock_rx_space(ds), 4096 - 3000);
	bytering_read(shunt_region_rxbuf(r, s), 4096, 3000, out, sizeof(out));
	ck_assert_mem_eq(out, data, sizeof(data));
	/* rcvbuf limits the space */
	ds->rcvbuf = 3500;
	ck_assert_uint_eq(dp_sock_rx_space(ds), 500);
	/* a consumer index beyond the producer is a lie */
	sh->rx_cons = 7000;
	ck_assert_uint_eq(dp_sock_rx_space(ds), 0);
	ck_assert(ds->broken);
}
END_TEST

START_TEST(test_wake_armed_slots_only)
{
	uint32_t s = open_sock();
	struct pollfd p[2] = {{.fd = app->wait_fd[0], .events = POLLIN},
			      {.fd = app->wait_fd[1], .events = POLLIN}};
	uint64_t v;

	apps_wake(&ctx); /* the OPEN reply queued a wake: nothing armed, nothing written */
	ck_assert_int_eq(poll(p, 2, 0), 0);

	r->wait[1].armed_seq++; /* a thread arms slot 1 */
	dp_sock_set_state(&ctx, &app->socks[s], SHUNT_SS_ESTABLISHED);
	apps_wake(&ctx);
	ck_assert_int_eq(poll(p, 2, 0), 1);
	ck_assert(p[1].revents & POLLIN);
	ck_assert_uint_eq(r->wait[1].woken_seq, r->wait[1].armed_seq);
	ck_assert_int_eq(read(app->wait_fd[1], &v, sizeof(v)), sizeof(v));
	/* woken once: a second event does not write again until re-armed */
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_int_eq(poll(p, 2, 0), 0);
	ck_assert_uint_eq(app->stats.wakeups, 1);
}
END_TEST

START_TEST(test_sleep_handshake)
{
	ck_assert(apps_prepare_sleep(&ctx));
	ck_assert_uint_eq(r->dp_sleeping, 1);
	apps_end_sleep(&ctx);
	ck_assert_uint_eq(r->dp_sleeping, 0);
	push(SHUNT_CMD_NOP, 0, 0, 0);
	ck_assert(!apps_prepare_sleep(&ctx)); /* a queued command forbids the sleep */
	apps_end_sleep(&ctx);
}
END_TEST

START_TEST(test_destroy_aborts_connections)
{
	open_sock();
	open_sock();
	app_destroy(&ctx, app);
	ck_assert_int_eq(fake_abort, 2);
	ck_assert_ptr_null(ctx.apps->list);
	ck_assert_uint_eq(ctx.apps->count, 0);
}
END_TEST

START_TEST(test_detach_lets_orphans_finish)
{
	uint32_t a = open_sock(), b = open_sock();

	/* b was closed by the app already and is finishing; a is still open */
	fake_close_keeps_pcb = true;
	push(SHUNT_CMD_CLOSE, b, 0, 0);
	apps_poll(&ctx);
	ck_assert_int_eq(fake_close, 1);
	app_detach(&ctx, app);
	/* as at exit(): a is closed gracefully, nothing is reset */
	ck_assert_int_eq(fake_close, 2);
	ck_assert_int_eq(fake_abort, 0);
	ck_assert(!app_reapable(app));
	ck_assert_uint_eq(apps_poll(&ctx), 0); /* a gone app's ring is not read */
	dp_sock_pcb_done(&ctx, &app->socks[a]);
	ck_assert(!app_reapable(app));
	dp_sock_pcb_done(&ctx, &app->socks[b]);
	ck_assert(app_reapable(app));
}
END_TEST

static Suite *app_suite(void)
{
	Suite *s = suite_create("core_app");
	TCase *tc = tcase_create("region");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_region_layout);
	tcase_add_test(tc, test_open_connect_reply);
	tcase_add_test(tc, test_open_busy_slot_refused);
	tcase_add_test(tc, test_close_returns_slot);
	tcase_add_test(tc, test_close_waits_for_pcb);
	tcase_add_test(tc, test_bad_slot_counted);
	tcase_add_test(tc, test_bad_opcode_answered);
	tcase_add_test(tc, test_hostile_producer_breaks_app);
	tcase_add_test(tc, test_hostile_tx_prod_breaks_socket);
	tcase_add_test(tc, test_offsets_rewritten_by_app_ignored);
	tcase_add_test(tc, test_rx_ring_publication);
	tcase_add_test(tc, test_wake_armed_slots_only);
	tcase_add_test(tc, test_sleep_handshake);
	tcase_add_test(tc, test_destroy_aborts_connections);
	tcase_add_test(tc, test_detach_lets_orphans_finish);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(app_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
