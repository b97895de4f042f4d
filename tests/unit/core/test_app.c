/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests of core/app.c and core/sock.c: the dataplane side of the shared-memory
 * ABI, version 2. A region is created exactly as for a real process; the test plays
 * the shim through include/shunt/ring.h, with TCP replaced by link-time fakes that
 * record what they were asked to do.
 *
 *   slots:     OPEN allocates (LIFO reuse, generations, -ENOBUFS), adopts the [app]
 *              indices, publishes the ring geometry; stale generations refused
 *   channels:  chan_hint range, replies per channel, hostile indices
 *   waking:    futex wakes only with sleepers, ready rings (overflow, hostile
 *              consumer), notifier dedupe, untrusted notify[] entries
 *   memory:    a 65536-slot region costs one page; freed rings are punched out
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include <shunt/bytering.h>
#include <shunt/ctl.h>
#include <shunt/futex.h>
#include <shunt/ring.h>

#include "core/app.h"
#include "core/log.h"
#include "core/relay.h"
#include "dp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* ---- link-time fakes for tcp.h ------------------------------------------------ */

static int fake_open, fake_connect, fake_close, fake_abort, fake_send, fake_shutdown;

/* The loop's epoll set, for the relays: a real one when the test makes ctx.epfd. */
int loop_watch(struct dp_ctx *ctx, struct loop_src *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_unwatch(struct dp_ctx *ctx, struct loop_src *src)
{
	(void)epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}
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

void tcp_app_more(struct dp_sock *s, bool more)
{
	(void)s;
	(void)more;
}

void tcp_app_send(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx;
	fake_send++;
	(void)dp_sock_tx_queued(s); /* validates tx_prod as TCP would */
}

static int fake_listen;
static uint32_t fake_listen_backlog;

int tcp_app_listen(struct dp_ctx *ctx, struct dp_sock *s, uint32_t backlog)
{
	(void)ctx; (void)s;
	fake_listen++;
	fake_listen_backlog = backlog;
	return 0;
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
	(void)how;
	fake_shutdown++;
	dp_sock_set_flags(ctx, s, SHUNT_SF_TX_SHUT, 0); /* as tcp_api.c's queue_fin() */
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

#define NSOCKS 8
#define RX 4096u
#define TX 8192u

static struct dp_conf conf;
static struct dp_ctx ctx;
static struct dp_app *app;
static struct shunt_region *r;
static uint32_t seq;

static void setup(void)
{
	memset(&conf, 0, sizeof(conf));
	memset(&ctx, 0, sizeof(ctx));
	conf.max_sockets = NSOCKS;
	conf.rx_buf = RX;
	conf.tx_buf = TX;
	ctx.conf = &conf;
	ctx.now_us = 5000000;
	fake_open = fake_connect = fake_close = fake_abort = fake_send = fake_shutdown = 0;
	ctx.epfd = -1;
	fake_connect_rc = 0;
	fake_close_keeps_pcb = false;
	fake_listen = 0;
	fake_listen_backlog = 0;
	dp_log_set_level(DP_LOG_ERR);
	ck_assert_int_eq(apps_init(&ctx), 0);
	ck_assert_int_eq(app_create(&ctx, -1, 1234, SHUNT_ABI_VERSION, SHUNT_FEAT_READY, &app), 0);
	r = app->r;
	r->chan_hint[0] = 1; /* the shim's first thread takes channel 0 */
}

static void teardown(void)
{
	apps_fini(&ctx);
}

static struct shunt_channel *chan(uint32_t i)
{
	return shunt_region_channel(r, i);
}

static void push_on(uint32_t ch, uint16_t op, uint32_t sock, uint32_t gen, uint32_t arg,
		    uint16_t flags)
{
	struct shunt_cmd c = {.op = op, .flags = flags, .sock = sock, .gen = gen, .seq = ++seq,
			      .arg = arg};

	c.addr.addr = 0x0100a8c0; /* 192.168.0.1, network order on little-endian */
	c.addr.port = 0x5000;     /* 80 */
	ck_assert_int_eq(shunt_chan_push(chan(ch), &c), 0);
}

static void push(uint16_t op, uint32_t sock, uint32_t gen, uint32_t arg, uint16_t flags)
{
	push_on(0, op, sock, gen, arg, flags);
}

static struct shunt_sock *shsock(uint32_t s)
{
	return shunt_region_sock(r, s);
}

/* OPEN as the shim does it; returns the slot, its generation in *gen. */
static uint32_t open_sock(uint32_t *gen)
{
	struct shunt_reply *rep = &chan(0)->reply;

	push(SHUNT_CMD_OPEN, SHUNT_SOCK_NONE, 0, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_uint_eq(rep->seq, seq);
	ck_assert_int_eq(rep->result, 0);
	ck_assert_uint_lt(rep->sock, NSOCKS);
	ck_assert_uint_ne(rep->gen, 0);
	ck_assert_uint_eq(shsock(rep->sock)->gen, rep->gen);
	if (gen != NULL)
		*gen = rep->gen;
	return rep->sock;
}

static void close_sock(uint32_t s, uint32_t gen)
{
	push(SHUNT_CMD_CLOSE, s, gen, 0, 0);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
}

/* Pages of [p, p + len) resident in memory (private or shared mapping). */
static size_t resident(const void *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n, i, cnt = 0;
	uintptr_t a = (uintptr_t)p & ~(pg - 1);
	unsigned char *vec;

	len += (uintptr_t)p - a;
	n = (len + pg - 1) / pg;
	vec = malloc(n);
	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)a, len, vec), 0);
	for (i = 0; i < n; i++)
		cnt += vec[i] & 1;
	free(vec);
	return cnt;
}

static uint64_t memfd_bytes(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* ---- region ---------------------------------------------------------------------- */

START_TEST(test_region_layout)
{
	ck_assert_uint_eq(r->magic, SHUNT_ABI_MAGIC);
	ck_assert_uint_eq(r->version, SHUNT_ABI_VERSION);
	ck_assert_uint_eq(r->features, SHUNT_FEAT_READY);
	ck_assert_uint_eq(r->nsocks, NSOCKS);
	ck_assert_uint_eq(r->rx_buf_size, RX);
	ck_assert_uint_eq(r->tx_buf_size, TX);
	ck_assert_uint_eq(r->nchannels, 64);
	ck_assert_uint_eq(r->nnotifiers, 1024);
	/* everything inside the region, in order, page-aligned, without overlap */
	ck_assert_uint_ge(r->chan_off, sizeof(*r));
	ck_assert_uint_ge(r->notif_off, r->chan_off + 64 * sizeof(struct shunt_channel));
	ck_assert_uint_ge(r->socks_off, r->notif_off + 1024 * sizeof(struct shunt_notifier));
	ck_assert_uint_ge(r->bufs_off, r->socks_off + NSOCKS * sizeof(struct shunt_sock));
	ck_assert_uint_eq(r->bufs_off % 4096, 0);
	ck_assert_uint_eq(r->region_size, r->bufs_off + NSOCKS * (RX + TX));
	/* a fresh region: every slot FREE with generation 0, nothing allocated */
	ck_assert_uint_eq(shsock(NSOCKS - 1)->gen, 0);
	ck_assert_uint_eq(shsock(0)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(app->live, 0);
}
END_TEST

/* 65536 slots of 256 KiB rings: 32 GiB reserved, one page written. The private
 * per-slot array is not written either. A slot's rings come back to the system
 * a second after it is freed (a hole punched in the sealed memfd). */
START_TEST(test_region_sparse_and_punched)
{
	struct dp_app *big;
	struct shunt_channel *ch;
	struct shunt_cmd c = {.op = SHUNT_CMD_OPEN, .flags = SHUNT_CMDF_SYNC,
			      .sock = SHUNT_SOCK_NONE, .seq = 1, .arg = SHUNT_SOCK_STREAM};
	struct shunt_sock *sh;
	uint8_t *rx;
	uint32_t slot, gen;

	conf.max_sockets = 65536;
	conf.rx_buf = conf.tx_buf = 262144;
	ck_assert_int_eq(app_create(&ctx, -1, 99, SHUNT_ABI_VERSION, 0, &big), 0);
	ck_assert_uint_ge(big->size, 32ull << 30);
	ck_assert_uint_le(memfd_bytes(big->memfd), 8192);
	ck_assert_uint_le(resident(big->socks, 65536 * sizeof(*big->socks)), 2);
	ck_assert_uint_le(resident(big->free_stack, 65536 * sizeof(uint32_t)), 2);

	big->r->chan_hint[0] = 1;
	ch = shunt_region_channel(big->r, 0);
	ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	apps_poll(&ctx);
	ck_assert_int_eq(ch->reply.result, 0);
	slot = ch->reply.sock;
	gen = ch->reply.gen;
	sh = shunt_region_sock(big->r, slot);
	ck_assert_uint_eq(sh->rx_size, 262144);
	rx = (uint8_t *)big->r + sh->rx_off;
	memset(rx, 0xaa, 262144);
	memset(rx + 262144, 0xbb, 262144); /* its tx ring follows */
	ck_assert_uint_ge(memfd_bytes(big->memfd), 512u << 10);

	c.op = SHUNT_CMD_CLOSE;
	c.flags = 0;
	c.sock = slot;
	c.gen = gen;
	ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	apps_poll(&ctx);
	ck_assert_uint_eq(sh->state, SHUNT_SS_FREE);
	apps_housekeep(&ctx); /* too soon */
	ck_assert_uint_eq(big->stats.holes_punched, 0);
	ctx.now_us += APP_PUNCH_DELAY_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(big->stats.hole_punch_fail, 0);
	ck_assert_uint_eq(big->stats.holes_punched, 1);
	ck_assert_uint_le(memfd_bytes(big->memfd), 128u << 10);
	ck_assert_uint_eq(rx[0], 0);      /* a hole reads as zeroes */
	ck_assert_uint_eq(rx[524287], 0);
	apps_housekeep(&ctx);             /* once only */
	ck_assert_uint_eq(big->stats.holes_punched, 1);
	app_destroy(&ctx, big);
}
END_TEST

/* A slot reallocated before its delay is not punched; freed again, it is, later. */
START_TEST(test_punch_skips_reused_slot)
{
	uint32_t g1, g2, s = open_sock(&g1);

	close_sock(s, g1);
	ck_assert_uint_eq(open_sock(&g2), s); /* LIFO: the slot just freed */
	ctx.now_us += APP_PUNCH_DELAY_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(app->stats.holes_punched, 0);
	close_sock(s, g2);
	apps_housekeep(&ctx);
	ck_assert_uint_eq(app->stats.holes_punched, 0);
	ctx.now_us += APP_PUNCH_DELAY_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(app->stats.holes_punched, 1);
}
END_TEST

/* A live socket idle for APP_TRIM_IDLE_US gives back the pages of its rings: the
 * receive ring once the app has read it all, the send ring once it is empty and no
 * writer is inside (tx_writing); the socket still works afterwards. */
START_TEST(test_idle_socket_trimmed)
{
	uint32_t g, s = open_sock(&g);
	struct dp_sock *ds = &app->socks[s];
	struct shunt_sock *sh = shsock(s);
	uint8_t *rx = (uint8_t *)r + sh->rx_off, *tx = (uint8_t *)r + sh->tx_off;
	uint64_t before;

	ds->pcb = (void *)1; /* a connection the trim must leave alone but for pages */
	memset(tx, 0xbb, sh->tx_size); /* the app's past sends, all consumed */
	dp_sock_rx_write(ds, 0, "abcd", 4);
	dp_sock_rx_commit(&ctx, ds, 4);
	memset(rx + 4, 0xaa, sh->rx_size - 4); /* past traffic's pages */
	before = memfd_bytes(app->memfd);
	ck_assert_uint_ge(before, 2 * (uint64_t)sh->rx_size);

	sh->tx_writing = 1;   /* the app is inside send() */
	apps_wake(&ctx);      /* its events: on the trim queue, idle from now */
	apps_housekeep(&ctx);
	ctx.now_us += APP_TRIM_IDLE_US;
	apps_housekeep(&ctx); /* unread data: the rx ring stays; a writer: tx stays */
	ck_assert_mem_eq(rx, "abcd", 4);
	ck_assert_uint_eq(tx[0], 0xbb);
	ck_assert_uint_eq(sh->tx_trim, 0); /* never left raised */

	sh->rx_cons = sh->rx_prod;   /* the app read it, still inside send() */
	dp_sock_event(&ctx, ds);     /* an event: idle time starts again */
	apps_wake(&ctx);
	apps_housekeep(&ctx);
	ctx.now_us += APP_TRIM_IDLE_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(rx[0], 0);       /* punched */
	ck_assert_uint_eq(tx[0], 0xbb);    /* not while a writer is inside */

	sh->tx_writing = 0;
	dp_sock_event(&ctx, ds);
	apps_wake(&ctx);
	apps_housekeep(&ctx);
	ctx.now_us += APP_TRIM_IDLE_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(tx[0], 0);
	ck_assert_uint_le(memfd_bytes(app->memfd), before - 2 * (uint64_t)sh->rx_size + 4096);
	ck_assert_uint_eq(app->stats.hole_punch_fail, 0);

	dp_sock_rx_write(ds, 0, "efgh", 4); /* the ring works on */
	dp_sock_rx_commit(&ctx, ds, 4);
	ck_assert_mem_eq(rx + 4, "efgh", 4);
	ds->pcb = NULL;
	close_sock(s, g);
}
END_TEST

/* Which sockets the trim looks at comes from a queue that events fill, not from a
 * scan of the slots: a socket is due a second after its first event, one with
 * another event since goes to the back, and once trimmed it waits for its next
 * event. The loop's sleep ends when the head is due (apps_next_deadline). */
START_TEST(test_trim_queue_follows_events)
{
	uint32_t ga, gb, a = open_sock(&ga), b = open_sock(&gb);
	struct dp_sock *da = &app->socks[a], *db = &app->socks[b];
	uint8_t *rxa = (uint8_t *)r + shsock(a)->rx_off, *rxb = (uint8_t *)r + shsock(b)->rx_off;
	uint64_t t0 = ctx.now_us;

	da->pcb = db->pcb = (void *)1;
	memset(rxa, 0xaa, 4096); /* past traffic's pages, all read */
	memset(rxb, 0xbb, 4096);
	ck_assert_uint_eq(apps_next_deadline(&ctx), UINT64_MAX); /* nothing queued yet */
	apps_wake(&ctx); /* the OPENs' events */
	ck_assert_uint_eq(apps_next_deadline(&ctx), t0 + APP_TRIM_IDLE_US);

	ctx.now_us = t0 + APP_TRIM_IDLE_US / 2;
	dp_sock_event(&ctx, da); /* a is busy: its idle second starts again */
	apps_wake(&ctx);
	ctx.now_us = t0 + APP_TRIM_IDLE_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(rxb[0], 0);    /* b: idle a second, punched */
	ck_assert_uint_eq(rxa[0], 0xaa); /* a: back of the queue */
	ck_assert_uint_eq(apps_next_deadline(&ctx), t0 + 2 * APP_TRIM_IDLE_US);

	ctx.now_us = t0 + 2 * APP_TRIM_IDLE_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(rxa[0], 0);
	ck_assert_uint_eq(apps_next_deadline(&ctx), UINT64_MAX); /* both wait for events */

	memset(rxb, 0xbb, 4096);
	dp_sock_event(&ctx, db);
	apps_wake(&ctx);
	ck_assert_uint_eq(apps_next_deadline(&ctx), ctx.now_us + APP_TRIM_IDLE_US);
	ctx.now_us += APP_TRIM_IDLE_US;
	apps_housekeep(&ctx);
	ck_assert_uint_eq(rxb[0], 0);
	ck_assert_uint_eq(app->stats.hole_punch_fail, 0);
	da->pcb = db->pcb = NULL;
	close_sock(a, ga);
	close_sock(b, gb);
}
END_TEST

/* app_mem: what a process's sockets hold counts against one bound; a window is
 * offered only within it, but never below SHUNT_MEM_FLOOR held, arriving data is
 * still taken up to the ring, and what is read, acknowledged or freed goes back. */
START_TEST(test_app_mem_bound)
{
	uint32_t g1, g2, s1, s2;
	struct dp_sock *d1, *d2;
	static uint8_t junk[68 << 10];

	/* a process of its own, with 256 KiB rings (the fixture's are 4 KiB) */
	conf.rx_buf = conf.tx_buf = 262144;
	conf.app_mem = 1;
	ck_assert_int_eq(app_create(&ctx, -1, 4321, SHUNT_ABI_VERSION, 0, &app), 0);
	ck_assert_uint_eq(app->mem.bound, 1 << 20);
	r = app->r;
	r->chan_hint[0] = 1;
	s1 = open_sock(&g1);
	s2 = open_sock(&g2);
	d1 = &app->socks[s1];
	d2 = &app->socks[s2];
	app->mem.bound = 64 << 10;
	ck_assert_uint_eq(dp_sock_rx_space(d1), d1->rx_size > (64u << 10) ? 64u << 10 :
			  d1->rx_size);
	dp_sock_rx_write(d1, 0, junk, 60 << 10);
	dp_sock_rx_commit(&ctx, d1, 60 << 10);
	ck_assert_uint_eq(app->mem.used, 60 << 10);
	ck_assert_uint_eq(dp_sock_rx_space(d1), 4 << 10);              /* what is left */
	ck_assert_uint_eq(dp_sock_rx_space(d2), SHUNT_MEM_FLOOR);      /* left, or floor */
	ck_assert_uint_ge(dp_sock_rx_room(d1), 8 << 10);              /* the ring takes more */
	dp_sock_rx_write(d1, 0, junk, 8 << 10);
	dp_sock_rx_commit(&ctx, d1, 8 << 10);
	ck_assert_uint_eq(dp_sock_rx_space(d1), 0);                    /* over the bound */
	ck_assert_uint_eq(dp_sock_rx_space(d2), SHUNT_MEM_FLOOR);      /* the floor stays */
	ck_assert_uint_gt(app->mem.limited, 0);
	apps_wake(&ctx);
	ck_assert_uint_eq(r->mem_avail, 0);

	shsock(s1)->rx_cons = shsock(s1)->rx_prod; /* the app read it all */
	ck_assert_uint_eq(dp_sock_rx_space(d1), d1->rx_size > (64u << 10) ? 64u << 10 :
			  d1->rx_size);
	ck_assert_uint_eq(app->mem.used, 0);

	shsock(s2)->tx_prod += 10 << 10; /* the app queued 10 KiB to send */
	ck_assert_uint_eq(dp_sock_tx_queued(d2), 10 << 10);
	ck_assert_uint_eq(app->mem.used, 10 << 10);
	dp_sock_event(&ctx, d2);
	apps_wake(&ctx);
	ck_assert_uint_eq(r->mem_avail, 54 << 10);
	dp_sock_tx_release(&ctx, d2, 4 << 10);      /* 4 KiB acknowledged */
	ck_assert_uint_eq(app->mem.used, 6 << 10);
	close_sock(s2, g2);                         /* freed with 6 KiB queued */
	ck_assert_uint_eq(app->mem.used, 0);
	close_sock(s1, g1);
}
END_TEST

/* ---- slots ------------------------------------------------------------------------- */

START_TEST(test_open_allocates_and_replies)
{
	uint32_t gen, s = open_sock(&gen);
	struct shunt_sock *sh = shsock(s);

	ck_assert_int_eq(fake_open, 1);
	ck_assert_uint_eq(sh->state, SHUNT_SS_CLOSED);
	ck_assert_uint_eq(sh->type, SHUNT_SOCK_STREAM);
	ck_assert_uint_eq(sh->rx_off, r->bufs_off + (uint64_t)s * (RX + TX));
	ck_assert_uint_eq(sh->tx_off, sh->rx_off + RX);
	ck_assert_uint_eq(sh->rx_size, RX);
	ck_assert_uint_eq(sh->tx_size, TX);
	ck_assert_ptr_eq(app->socks[s].rx_buf, (uint8_t *)r + sh->rx_off);
	ck_assert_uint_eq(app->live, 1);

	fake_connect_rc = -ENETUNREACH;
	push(SHUNT_CMD_CONNECT, s, gen, 0, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(fake_connect, 1);
	ck_assert_uint_eq(fake_connect_addr, 0x0100a8c0);
	ck_assert_uint_eq(fake_connect_port, 0x5000);
	ck_assert_uint_eq(chan(0)->reply.seq, seq);
	ck_assert_int_eq(chan(0)->reply.result, -ENETUNREACH);
	/* the OPEN marked the socket for the wake pass */
	ck_assert_ptr_eq(ctx.apps->dirty, &app->socks[s]);
}
END_TEST

/* The [app] fields are never reset: a slot starts from what they say. */
START_TEST(test_open_adopts_app_indices)
{
	struct shunt_sock *sh = shsock(0); /* the first slot a fresh region hands out */
	uint32_t s;

	sh->rx_cons = 1000;
	sh->tx_prod = 70000;
	sh->err_seen = 5;
	sh->eq_seen = 7;
	sh->rx_prod = 12345; /* [dp] fields the app scribbled: overwritten */
	sh->state = 77;
	s = open_sock(NULL);
	ck_assert_uint_eq(s, 0);
	ck_assert_uint_eq(sh->rx_prod, 1000);
	ck_assert_uint_eq(sh->tx_cons, 70000);
	ck_assert_uint_eq(sh->err_seq, 5);
	ck_assert_uint_eq(sh->eq_seq, 7);
	ck_assert_uint_eq(sh->state, SHUNT_SS_CLOSED);
	ck_assert_uint_eq(app->socks[0].rx_prod, 1000);
	ck_assert_uint_eq(app->socks[0].tx_cons, 70000);
	ck_assert_uint_eq(dp_sock_rx_space(&app->socks[0]), RX);
	ck_assert_uint_eq(dp_sock_tx_queued(&app->socks[0]), 0);
	ck_assert(!app->socks[0].broken);
}
END_TEST

START_TEST(test_open_nobufs_then_reuse)
{
	uint32_t gens[NSOCKS], slots[NSOCKS], i, gen, seen = 0;

	for (i = 0; i < NSOCKS; i++) {
		slots[i] = open_sock(&gens[i]);
		ck_assert_uint_eq(seen & (1u << slots[i]), 0);
		seen |= 1u << slots[i];
	}
	push(SHUNT_CMD_OPEN, SHUNT_SOCK_NONE, 0, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, -ENOBUFS);
	ck_assert_uint_eq(chan(0)->reply.sock, SHUNT_SOCK_NONE);
	ck_assert_uint_eq(app->stats.open_nobufs, 1);
	/* freed slots come back most recent first, each with a new generation */
	close_sock(slots[2], gens[2]);
	close_sock(slots[5], gens[5]);
	ck_assert_uint_eq(open_sock(&gen), slots[5]);
	ck_assert_uint_eq(gen, gens[5] + 1);
	ck_assert_uint_eq(open_sock(&gen), slots[2]);
	ck_assert_uint_eq(gen, gens[2] + 1);
	ck_assert_uint_eq(app->live, NSOCKS);
}
END_TEST

START_TEST(test_open_bad_type_or_sock)
{
	push(SHUNT_CMD_OPEN, SHUNT_SOCK_NONE, 0, 9, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, -EPROTONOSUPPORT);
	push(SHUNT_CMD_OPEN, 3, 0, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC); /* OPEN names no slot */
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, -EINVAL);
	ck_assert_uint_eq(app->stats.cmd_drop_bad_sock, 1);
	ck_assert_uint_eq(app->live, 0);
	ck_assert_int_eq(fake_open, 0);
}
END_TEST

START_TEST(test_stale_generation_refused)
{
	uint32_t g1, g2, s = open_sock(&g1);

	push(SHUNT_CMD_CONNECT, s, g1 + 1, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, -EBADF);
	ck_assert_uint_eq(app->stats.cmd_drop_stale, 1);
	/* closed and reopened: the old handle's commands never reach the new socket */
	close_sock(s, g1);
	ck_assert_uint_eq(open_sock(&g2), s);
	ck_assert_uint_ne(g2, g1);
	push(SHUNT_CMD_CONNECT, s, g1, 0, SHUNT_CMDF_SYNC);
	push(SHUNT_CMD_SEND, s, g1, 0, 0);
	push(SHUNT_CMD_CLOSE, s, g1, 0, 0);
	ck_assert_uint_eq(apps_poll(&ctx), 3);
	ck_assert_uint_eq(app->stats.cmd_drop_stale, 4);
	ck_assert_int_eq(fake_connect + fake_send + fake_close, 1); /* the first close */
	ck_assert_uint_eq(shsock(s)->state, SHUNT_SS_CLOSED);
	push(SHUNT_CMD_CONNECT, s, g2, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, 0);
	ck_assert_int_eq(fake_connect, 1);
}
END_TEST

/* SIGUSR1's dump names the app, its sockets in use and the drop counters. */
START_TEST(test_dump_counts)
{
	uint32_t gen, s = open_sock(&gen);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	push(SHUNT_CMD_SEND, s, gen + 3, 0, 0);
	apps_poll(&ctx);
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	apps_dump(&ctx, f);
	fclose(f);
	ck_assert_msg(strstr(text, "app pid 1234: ABI v2 features 0x1, 1/8 sockets in use") != NULL,
		      "%s", text);
	ck_assert_msg(strstr(text, "cmd_drop_stale") != NULL, "%s", text);
	free(text);
}
END_TEST

START_TEST(test_close_waits_for_pcb)
{
	uint32_t gen, s = open_sock(&gen);

	fake_close_keeps_pcb = true; /* TCP still needs the rings (FIN exchange) */
	close_sock(s, gen);
	ck_assert_uint_ne(shsock(s)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(app->nfree, 0);
	/* commands on a closed socket are refused */
	push(SHUNT_CMD_CONNECT, s, gen, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_int_eq(chan(0)->reply.result, -EBADF);
	ck_assert_uint_eq(app->stats.cmd_drop_not_open, 1);
	ck_assert_int_eq(fake_connect, 0);
	/* TCP finishes: the slot is freed */
	dp_sock_pcb_done(&ctx, &app->socks[s]);
	ck_assert_uint_eq(shsock(s)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(app->nfree, 1);
	ck_assert_uint_eq(app->live, 0);
}
END_TEST

START_TEST(test_bad_slot_counted)
{
	push(SHUNT_CMD_CONNECT, NSOCKS, 1, 0, SHUNT_CMDF_SYNC); /* out of range */
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(chan(0)->reply.result, -EBADF); /* answered: the reply is the channel's */
	push(SHUNT_CMD_CONNECT, 0xffffffffu, 0, 0, 0);
	push(SHUNT_CMD_SEND, 3, 0, 0, 0);                 /* never opened */
	ck_assert_uint_eq(apps_poll(&ctx), 2);
	ck_assert_uint_eq(app->stats.cmd_drop_bad_sock, 2);
	ck_assert_uint_eq(app->stats.cmd_drop_not_open, 1);
	ck_assert_int_eq(fake_connect + fake_send, 0);
	ck_assert(!app->broken);
}
END_TEST

START_TEST(test_bad_opcode_answered)
{
	uint32_t gen, s = open_sock(&gen);

	push(SHUNT_CMD_MAX + 7, s, gen, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_uint_eq(app->stats.cmd_drop_bad_op, 1);
	ck_assert_int_eq(chan(0)->reply.result, -EINVAL);
}
END_TEST

/* ---- channels ------------------------------------------------------------------------ */

START_TEST(test_chan_hint_range)
{
	r->chan_hint[0] = 0;
	app->members[0].chan_seen = 0; /* as before any hint */
	push(SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 0); /* channel 0 not announced: not looked at */
	ck_assert(apps_prepare_sleep(&ctx));
	apps_end_sleep(&ctx);

	r->chan_hint[0] = 3;
	push_on(2, SHUNT_CMD_OPEN, SHUNT_SOCK_NONE, 0, SHUNT_SOCK_STREAM, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 2);
	/* each command is answered in its own channel */
	ck_assert_uint_eq(chan(0)->reply.seq, seq - 1);
	ck_assert_uint_eq(chan(2)->reply.seq, seq);
	ck_assert_int_eq(chan(2)->reply.result, 0);
	ck_assert_uint_eq(chan(1)->reply.seq, 0);

	/* a hint beyond nchannels is nchannels; one that shrinks does not hide channels */
	r->chan_hint[0] = 100000;
	push_on(63, SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_uint_eq(app->members[0].chan_seen, 64);
	r->chan_hint[0] = 1;
	push_on(40, SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, 0);
	ck_assert(!apps_prepare_sleep(&ctx));
	apps_end_sleep(&ctx);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
}
END_TEST

/* Bursts of 32 per channel per poll, so one busy channel cannot starve another. */
START_TEST(test_chan_bursts_fair)
{
	unsigned i;

	r->chan_hint[0] = 2;
	for (i = 0; i < 100; i++)
		push_on(0, SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, 0);
	push_on(1, SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 33);
	ck_assert_uint_eq(chan(1)->reply.seq, seq);
	ck_assert_uint_eq(apps_poll(&ctx) + apps_poll(&ctx) + apps_poll(&ctx), 68);
}
END_TEST

START_TEST(test_hostile_producer_breaks_app)
{
	struct shunt_channel *ch = chan(0);

	ch->prod = SHUNT_CMD_RING_SIZE + 5; /* claims more than the ring holds */
	ck_assert_uint_eq(apps_poll(&ctx), 0);
	ck_assert(app->broken);
	ck_assert_uint_eq(app->stats.ring_broken, 1);
	ck_assert(!apps_prepare_sleep(&ctx)); /* a broken app is reaped, not slept on */
}
END_TEST

START_TEST(test_hostile_tx_prod_breaks_socket)
{
	uint32_t gen, s = open_sock(&gen);

	shsock(s)->tx_prod = TX + 1; /* more than the tx ring */
	push(SHUNT_CMD_SEND, s, gen, 0, 0);
	apps_poll(&ctx);
	ck_assert_int_eq(fake_send, 1);
	ck_assert(app->socks[s].broken); /* seen by the accessor; TCP reacts (its tests) */
	ck_assert(!app->broken);         /* only that socket */
}
END_TEST

START_TEST(test_offsets_rewritten_by_app_ignored)
{
	uint32_t gen, s = open_sock(&gen);
	struct shunt_channel *ch = chan(0); /* the shim's own pointer */
	struct shunt_sock *sh = shsock(s); /* before the offsets are rewritten */
	uint8_t *rx = (uint8_t *)r + sh->rx_off;
	struct shunt_cmd c = {.op = SHUNT_CMD_CLOSE, .sock = s, .gen = gen};

	/* a hostile app points every offset anywhere */
	r->chan_off = 0x7fff00000000ull;
	r->notif_off = 0x7fff00000000ull;
	r->socks_off = 8;
	r->bufs_off = 1ull << 40;
	sh->rx_off = 1ull << 41;
	sh->rx_size = 1u << 31;
	dp_sock_rx_write(&app->socks[s], 0, "abc", 3);
	ck_assert_mem_eq(rx, "abc", 3);
	ck_assert_int_eq(shunt_chan_push(ch, &c), 0);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_uint_eq(app->socks[s].state, SHUNT_SS_FREE);
	ck_assert(apps_prepare_sleep(&ctx));
	apps_end_sleep(&ctx);
}
END_TEST

START_TEST(test_rx_ring_publication)
{
	uint32_t s = open_sock(NULL);
	struct dp_sock *ds = &app->socks[s];
	struct shunt_sock *sh = shsock(s);
	uint8_t data[3000], out[3000];
	unsigned i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	ck_assert_uint_eq(dp_sock_rx_space(ds), RX);
	/* advance to near the end so the write wraps */
	ds->rx_prod = sh->rx_cons = 3000;
	dp_sock_rx_write(ds, 0, data, sizeof(data));
	dp_sock_rx_commit(&ctx, ds, sizeof(data));
	ck_assert_uint_eq(sh->rx_prod, 6000);
	ck_assert_uint_eq(dp_sock_rx_space(ds), RX - 3000);
	bytering_read((uint8_t *)r + sh->rx_off, sh->rx_size, 3000, out, sizeof(out));
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

START_TEST(test_sleep_handshake)
{
	ck_assert(apps_prepare_sleep(&ctx));
	ck_assert_uint_eq(r->dp_sleeping, 1);
	apps_end_sleep(&ctx);
	ck_assert_uint_eq(r->dp_sleeping, 0);
	push(SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, 0);
	ck_assert(!apps_prepare_sleep(&ctx)); /* a queued command forbids the sleep */
	apps_end_sleep(&ctx);
}
END_TEST

/* ---- waking ------------------------------------------------------------------------ */

struct waiter {
	uint32_t *word;
	uint32_t *sleepers;
	uint32_t seen;
	int woke;
};

/* A shim thread blocking on a futex word, announced in *sleepers (abi.h "Waking"). */
static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	__atomic_fetch_add(w->sleepers, 1, __ATOMIC_SEQ_CST);
	SHUNT_FENCE();
	while (SHUNT_LOAD_ACQ(w->word) == w->seen)
		(void)shunt_futex_wait(w->word, w->seen, NULL);
	__atomic_fetch_sub(w->sleepers, 1, __ATOMIC_SEQ_CST);
	w->woke = 1;
	return NULL;
}

START_TEST(test_futex_wake_only_with_sleepers)
{
	uint32_t gen, s = open_sock(&gen);
	struct shunt_sock *sh = shsock(s);
	struct waiter w = {.word = &sh->ev_seq, .sleepers = &sh->sleepers};
	pthread_t t;

	apps_wake(&ctx); /* the OPEN's event: nobody sleeps, no syscall */
	ck_assert_uint_eq(app->stats.futex_wakes, 0);
	ck_assert_ptr_null(ctx.apps->dirty);

	w.seen = SHUNT_LOAD_ACQ(&sh->ev_seq);
	ck_assert_int_eq(pthread_create(&t, NULL, waiter_main, &w), 0);
	while (SHUNT_LOAD_ACQ(&sh->sleepers) == 0)
		usleep(100);
	usleep(20000); /* very likely in FUTEX_WAIT by now; correct either way */
	dp_sock_set_state(&ctx, &app->socks[s], SHUNT_SS_ESTABLISHED);
	dp_sock_event(&ctx, &app->socks[s]); /* twice in one iteration: one wake */
	apps_wake(&ctx);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(w.woke);
	ck_assert_uint_eq(app->stats.futex_wakes, 1);

	/* the reply's futex: only when the channel has sleepers */
	push(SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_uint_eq(app->stats.futex_wakes, 1);
	chan(0)->sleepers = 1;
	push(SHUNT_CMD_NOP, SHUNT_SOCK_NONE, 0, 0, SHUNT_CMDF_SYNC);
	apps_poll(&ctx);
	ck_assert_uint_eq(app->stats.futex_wakes, 2);
	ck_assert_uint_eq(app->stats.futex_wake_fail, 0);
}
END_TEST

/* A notifier with a wake socket (the other end in *peer). */
static void notifier_register(uint32_t idx, uint32_t flags, int *peer)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(app_notifier_set(app, &app->members[0], idx, sv[0]), 0);
	shunt_region_notifier(r, idx)->flags = flags;
	*peer = sv[1];
}

static int bytes_pending(int fd)
{
	char b[64];
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	return n < 0 ? 0 : (int)n;
}

START_TEST(test_ready_ring_push_and_overflow)
{
	uint32_t s = open_sock(NULL), i, out[SHUNT_READY_RING + 1];
	struct shunt_notifier *n = shunt_region_notifier(r, 5);
	int peer;

	apps_wake(&ctx);
	notifier_register(5, SHUNT_NOTIFY_READY, &peer);
	shsock(s)->notify[2] = 5 + 1;
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(n->ready_prod, 1);
	ck_assert_uint_eq(n->ready[0], s);
	ck_assert_uint_eq(n->seq, 1);
	ck_assert_int_eq(bytes_pending(peer), 0); /* nobody asleep: no byte, no syscall */
	ck_assert_uint_eq(app->stats.notify_sends + app->stats.futex_wakes, 0);

	/* the app does not consume: the ring fills, then entries are lost (counted) */
	for (i = 0; i < SHUNT_READY_RING + 2; i++) {
		dp_sock_event(&ctx, &app->socks[s]);
		apps_wake(&ctx);
	}
	ck_assert_uint_eq(n->ready_prod, SHUNT_READY_RING);
	ck_assert_uint_eq(n->ready_lost, 3);
	ck_assert_uint_eq(app->stats.ready_lost, 3);
	ck_assert_uint_eq(shunt_ready_pop(n, out, SHUNT_READY_RING + 1), SHUNT_READY_RING);
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(n->ready_prod, SHUNT_READY_RING + 1);

	/* without SHUNT_NOTIFY_READY (poll): seq only */
	n->flags = 0;
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(n->ready_prod, SHUNT_READY_RING + 1);
	ck_assert_uint_eq(n->seq, SHUNT_READY_RING + 5);

	/* an impossible consumer index breaks the process */
	n->flags = SHUNT_NOTIFY_READY;
	n->ready_cons = n->ready_prod + 7;
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert(app->broken);
	ck_assert_uint_eq(app->stats.ring_broken, 1);
	close(peer);
}
END_TEST

/* Without SHUNT_FEAT_READY agreed, no ready ring is written whatever flags say. */
START_TEST(test_ready_needs_feature)
{
	uint32_t s = open_sock(NULL);
	int peer;

	app->features = 0;
	notifier_register(1, SHUNT_NOTIFY_READY, &peer);
	shsock(s)->notify[0] = 2;
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(shunt_region_notifier(r, 1)->ready_prod, 0);
	ck_assert_uint_eq(shunt_region_notifier(r, 1)->seq, 1);
	close(peer);
}
END_TEST

/* Two sockets watched by one notifier (one of them twice): one announcement, one
 * byte, one entry per socket. */
START_TEST(test_notifier_dedupe)
{
	uint32_t a = open_sock(NULL), b = open_sock(NULL);
	struct shunt_notifier *n = shunt_region_notifier(r, 3);
	int peer;

	apps_wake(&ctx);
	notifier_register(3, SHUNT_NOTIFY_READY, &peer);
	shsock(a)->notify[0] = 4;
	shsock(a)->notify[3] = 4;
	shsock(b)->notify[1] = 4;
	n->fd_sleepers = 1;
	dp_sock_event(&ctx, &app->socks[a]);
	dp_sock_event(&ctx, &app->socks[b]);
	dp_sock_event(&ctx, &app->socks[a]);
	apps_wake(&ctx);
	ck_assert_uint_eq(n->seq, 1);
	ck_assert_uint_eq(n->ready_prod, 2);
	ck_assert_uint_eq(app->stats.notify_sends, 1);
	ck_assert_int_eq(bytes_pending(peer), 1);
	/* futex sleepers get a FUTEX_WAKE, once */
	n->futex_sleepers = 1;
	n->fd_sleepers = 0;
	dp_sock_event(&ctx, &app->socks[a]);
	dp_sock_event(&ctx, &app->socks[b]);
	apps_wake(&ctx);
	ck_assert_uint_eq(app->stats.futex_wakes, 1);
	ck_assert_uint_eq(app->stats.notify_sends, 1);
	close(peer);
}
END_TEST

/* notify[] entries are untrusted; notify_all reaches every registered notifier. */
START_TEST(test_notify_entries_untrusted)
{
	uint32_t s = open_sock(NULL);
	int p1, p2;

	apps_wake(&ctx);
	notifier_register(1, 0, &p1);
	notifier_register(1000, SHUNT_NOTIFY_READY, &p2);
	shsock(s)->notify[0] = 2000;      /* beyond nnotifiers */
	shsock(s)->notify[1] = 0xffffffffu;
	shsock(s)->notify[2] = 11;        /* not registered */
	shsock(s)->notify[3] = 2;         /* notifier 1 */
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(app->stats.notify_drop_bad_idx, 2);
	ck_assert_uint_eq(app->stats.notify_drop_unregistered, 1);
	ck_assert_uint_eq(shunt_region_notifier(r, 1)->seq, 1);
	ck_assert_uint_eq(shunt_region_notifier(r, 1000)->seq, 0);
	ck_assert(!app->broken);

	shsock(s)->notify_all = 1;
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(shunt_region_notifier(r, 1)->seq, 2);
	ck_assert_uint_eq(shunt_region_notifier(r, 1000)->seq, 1);
	ck_assert_uint_eq(shunt_region_notifier(r, 1000)->ready_prod, 1);

	/* cleared: no longer notified */
	ck_assert_int_eq(app_notifier_clear(app, &app->members[0], 1000), 0);
	ck_assert_int_eq(app_notifier_clear(app, &app->members[0], 1000), 0);
	dp_sock_event(&ctx, &app->socks[s]);
	apps_wake(&ctx);
	ck_assert_uint_eq(shunt_region_notifier(r, 1000)->seq, 1);
	ck_assert_uint_eq(shunt_region_notifier(r, 1)->seq, 3);
	close(p1);
	close(p2);
}
END_TEST

START_TEST(test_notifier_set_validation)
{
	int sv[2], pp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(pp), 0);
	ck_assert_int_eq(app_notifier_set(app, &app->members[0], 1024, sv[0]), -EINVAL);
	ck_assert_int_eq(app_notifier_set(app, &app->members[0], 0, pp[0]), -EBADF); /* not a socket */
	ck_assert_int_eq(app_notifier_clear(app, &app->members[0], 5000), -EINVAL);
	ck_assert_int_eq(app->nreg, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(app_notifier_set(app, &app->members[0], 7, sv[0]), 0);
	ck_assert_int_eq(app_notifier_set(app, &app->members[0], 7, sv[1]), 0); /* replaces (closes) the first */
	ck_assert_int_eq(app->nreg, 1);
	close(pp[1]);
}
END_TEST

/* ---- life -------------------------------------------------------------------------- */

START_TEST(test_destroy_aborts_connections)
{
	int peer;

	open_sock(NULL);
	open_sock(NULL);
	notifier_register(2, 0, &peer);
	app_destroy(&ctx, app);
	ck_assert_int_eq(fake_abort, 2);
	ck_assert_ptr_null(ctx.apps->list);
	ck_assert_ptr_null(ctx.apps->dirty); /* its sockets left the dirty list */
	ck_assert_uint_eq(ctx.apps->count, 0);
	ck_assert_int_eq(bytes_pending(peer), 0);
	ck_assert_int_eq(recv(peer, &peer, 1, MSG_DONTWAIT), 0); /* its wake socket closed */
	close(peer);
}
END_TEST

/* A socket the dataplane makes by itself (a listener's child) is a slot exactly as
 * OPEN makes one, without a reply; LISTEN needs SHUNT_FEAT_LISTEN. */
/* ---- sharing: members and relays (SHUNT_FEAT_SHARE) --------------------------------- */

/* A region shared by processes: app is replaced by one that agreed on sharing. */
static void share_setup(void)
{
	apps_fini(&ctx);
	ck_assert_int_eq(apps_init(&ctx), 0);
	ck_assert_int_eq(app_create(&ctx, -1, 1234, SHUNT_ABI_VERSION,
				    SHUNT_FEAT_READY | SHUNT_FEAT_LISTEN | SHUNT_FEAT_SHARE, &app), 0);
	r = app->r;
	r->chan_hint[0] = 1;
	ck_assert_uint_eq(r->chan_per_member, APP_NCHANNELS);
	ck_assert_uint_eq(r->nchannels, APP_NCHANNELS * SHUNT_MAX_MEMBERS);
	ck_assert_uint_eq(r->members, 1); /* member 0: the attaching process */
}

/* share_setup() with the loop's epoll, which relays register their fds with. */
static void relay_setup(void)
{
	share_setup();
	ctx.epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(ctx.epfd, 0);
}

/* A member joins on a connection of its own (one end of a socketpair here). */
static struct dp_member *join(uint32_t idx, int *peer)
{
	struct dp_member *m;
	const char *why = NULL;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	*peer = sv[1];
	m = app_member_join(app, idx, sv[0], 99, &why);
	ck_assert_msg(m != NULL, "join %u: %s", idx, why);
	return m;
}

START_TEST(test_member_join_rules)
{
	const char *why = NULL;
	int peer;

	share_setup();
	ck_assert_ptr_null(app_member_join(app, 1, -1, 99, &why)); /* not claimed */
	ck_assert_ptr_null(app_member_join(app, 0, -1, 99, &why)); /* 0 is the attacher's */
	ck_assert_ptr_null(app_member_join(app, SHUNT_MAX_MEMBERS, -1, 99, &why));
	r->members |= 1ull << 5; /* claimed by a parent for its child */
	(void)join(5, &peer);
	ck_assert_ptr_null(app_member_join(app, 5, -1, 99, &why)); /* live already */
	ck_assert_ptr_eq(app_find_key(&ctx, app->join_key), app);
	ck_assert_ptr_null(app_find_key(&ctx, (uint64_t[2]){ app->join_key[0] + 1, 0 }));
	close(peer);
}
END_TEST

/* A member's commands go on its own channels, polled once it joined; a gone
 * member's leftovers are done (an OPEN excepted), and its index can be claimed
 * again on empty channels. */
START_TEST(test_member_channels)
{
	struct dp_member *m;
	uint32_t gen, s;
	int peer;

	share_setup();
	s = open_sock(&gen);
	r->members |= 1ull << 2;
	r->chan_hint[2] = 1;
	push_on(2 * APP_NCHANNELS, SHUNT_CMD_SEND, s, gen, 0, 0);
	ck_assert_uint_eq(apps_poll(&ctx), 0); /* not joined yet: not polled */
	m = join(2, &peer);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(fake_send, 1);
	/* what it queued before it went is still done (its last bytes), but an
	 * OPEN whose answer nobody will read is not */
	push_on(2 * APP_NCHANNELS, SHUNT_CMD_SEND, s, gen, 0, 0);
	push_on(2 * APP_NCHANNELS, SHUNT_CMD_OPEN, SHUNT_SOCK_NONE, 0, SHUNT_SOCK_STREAM,
		SHUNT_CMDF_SYNC);
	app_member_gone(&ctx, app, m);
	ck_assert_int_eq(fake_send, 2);
	ck_assert_int_eq(fake_open, 1);
	ck_assert_uint_eq(r->members & (1ull << 2), 0); /* given back */
	ck_assert_uint_eq(apps_poll(&ctx), 0);          /* nothing left on its channels */
	r->members |= 1ull << 2;
	(void)join(2, &peer);
	ck_assert_uint_eq(apps_poll(&ctx), 0);
	ck_assert_int_eq(fake_send, 2);
	close(peer);
}
END_TEST

/* A member that goes away lets go of what it held: a socket another member still
 * holds goes on, one it alone held is closed as close() would; a socket only the
 * last member held goes with the region's detach. */
START_TEST(test_member_sweep)
{
	struct dp_member *m;
	uint32_t g1, g2, s1, s2;
	int peer;

	share_setup();
	s1 = open_sock(&g1);
	s2 = open_sock(&g2);
	r->members |= 1ull << 1;
	m = join(1, &peer);
	shsock(s1)->holders = 1ull << 0 | 1ull << 1; /* shared by parent and child */
	shsock(s2)->holders = 1ull << 1;             /* the child's alone */
	shsock(s1)->notify[0] = APP_NNOTIFIERS + 3;  /* one of the child's notifiers */
	app_member_gone(&ctx, app, m);
	close(peer);
	ck_assert_uint_eq(shsock(s1)->holders, 1ull << 0);
	ck_assert_uint_eq(shsock(s1)->notify[0], 0); /* the child's subscription gone */
	ck_assert_uint_eq(shsock(s2)->holders, 0);
	ck_assert_int_eq(fake_close, 1);             /* s2 only */
	ck_assert_uint_eq(shsock(s2)->state, SHUNT_SS_FREE);
	ck_assert_uint_ne(shsock(s1)->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(app->stats.member_closes, 1);
	app_member_gone(&ctx, app, &app->members[0]); /* the last: detach */
	ck_assert(app->gone);
	ck_assert_int_eq(fake_close, 2);
}
END_TEST

/* A relay carries a connected socket between its rings and a socketpair: what
 * arrives comes out of the other end, what is written there is sent, the other
 * end's EOF is a FIN, and its last close releases the relay's hold. The events
 * are those the loop's epoll gives. */
START_TEST(test_relay)
{
	struct dp_sock *ds;
	struct dp_relay *rl;
	uint32_t gen, s;
	char buf[16];
	int sv[2];

	relay_setup();
	s = open_sock(&gen);
	ds = &app->socks[s];
	shsock(s)->holders = 1ull << 0; /* as the shim sets it at OPEN */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(relay_start(&ctx, app, s, gen, dup(sv[1]), 0), -EINVAL); /* not connected */
	ds->state = SHUNT_SS_ESTABLISHED;
	ck_assert_int_eq(relay_start(&ctx, app, s, gen + 1, dup(sv[1]), 0), -EBADF); /* stale */
	ck_assert_int_eq(relay_start(&ctx, app, s, gen, sv[1], 0), 0);
	rl = ds->relay;
	ck_assert_ptr_nonnull(rl);
	ck_assert_uint_eq(shsock(s)->holders & SHUNT_HOLDER_RELAY, SHUNT_HOLDER_RELAY);
	/* a writer's relay (no SHUNT_RELAYF_READ) leaves what arrives to a process
	 * that holds the socket itself: it may be the reader */
	dp_sock_rx_write(ds, 0, "hel", 3);
	dp_sock_rx_commit(&ctx, ds, 3);
	apps_wake(&ctx);
	ck_assert_int_eq(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_uint_eq(shsock(s)->rx_cons, ds->rx_prod - 3);
	shsock(s)->holders &= ~1ull; /* the shim lets go: the relay alone holds it */

	/* the peer's bytes: out of the other end, the ring read */
	dp_sock_rx_write(ds, 0, "lo", 2);
	dp_sock_rx_commit(&ctx, ds, 2);
	apps_wake(&ctx);
	ck_assert_int_eq(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_uint_eq(shsock(s)->rx_cons, ds->rx_prod);

	/* the program's bytes: into the send ring, SEND */
	ck_assert_int_eq(send(sv[0], "world", 5, 0), 5);
	relay_event(&ctx, rl, EPOLLIN);
	ck_assert_uint_eq(shsock(s)->tx_prod - ds->tx_cons, 5);
	ck_assert_int_eq(memcmp(ds->tx_buf + (ds->tx_cons & (ds->tx_size - 1)), "world", 5), 0);
	ck_assert_int_eq(fake_send, 1);
	ck_assert_uint_eq(shsock(s)->tx_owner, 0); /* given back */

	/* the program's shutdown(SHUT_WR) there: the connection's FIN */
	ck_assert_int_eq(shutdown(sv[0], SHUT_WR), 0);
	relay_event(&ctx, rl, EPOLLIN | EPOLLRDHUP);
	ck_assert_int_eq(fake_shutdown, 1);
	ck_assert_ptr_nonnull(ds->relay);

	/* the peer's FIN passes on once the ring is read */
	dp_sock_set_flags(&ctx, ds, SHUNT_SF_RX_EOF, 0);
	apps_wake(&ctx);
	ck_assert_int_eq(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), 0);

	/* its last close: the relay's hold released, the last one: closed */
	close(sv[0]);
	relay_event(&ctx, rl, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
	ck_assert_int_eq(fake_shutdown, 1);
	ck_assert_ptr_null(ds->relay);
	ck_assert_uint_eq(shsock(s)->holders, 0);
	ck_assert_int_eq(fake_close, 1);
	relays_reap(&ctx);
	ck_assert_ptr_null(ctx.relays);
	close(ctx.epfd);
}
END_TEST

/* A connected socket with a relay (flags: SHUNT_RELAYF_*) on *peer's other end,
 * held by member 0 too (a parent holding the socket itself). */
static struct dp_sock *relayed(uint32_t *slot, uint32_t flags, int *peer)
{
	struct dp_sock *ds;
	uint32_t gen;
	int sv[2];

	*slot = open_sock(&gen);
	ds = &app->socks[*slot];
	ds->state = SHUNT_SS_ESTABLISHED;
	shsock(*slot)->holders = 1ull << 0;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(relay_start(&ctx, app, *slot, gen, sv[1], flags), 0);
	ck_assert_ptr_nonnull(ds->relay);
	*peer = sv[0];
	return ds;
}

/* The peer's bytes arrive on ds: the socket changed, apps_wake() runs its relay. */
static void relay_rx_arrives(struct dp_sock *ds, const char *bytes)
{
	uint32_t n = (uint32_t)strlen(bytes);

	dp_sock_rx_write(ds, 0, bytes, n);
	dp_sock_rx_commit(&ctx, ds, n);
	apps_wake(&ctx);
}

/* A relayed socket whose process, having written holders, tx_owner or tx_prod,
 * hung up (every member: app_detach() leaves the socket to the relay); then the
 * relay's other end writes "x" and closes. The relay must end and close the
 * socket whatever the region says (appfuzz: else the region was never freed). */
static struct dp_sock *relay_orphaned(uint64_t holders, uint32_t owner, uint32_t tx_ahead)
{
	struct dp_sock *ds;
	uint32_t s;
	int peer;

	relay_setup();
	ds = relayed(&s, 0, &peer);
	shsock(s)->holders = holders | SHUNT_HOLDER_RELAY;
	shsock(s)->tx_owner = owner;
	shsock(s)->tx_prod = ds->tx_cons + tx_ahead;
	app_member_gone(&ctx, app, &app->members[0]);
	ck_assert(app->gone);
	ck_assert_int_eq(fake_close, 0); /* the relay holds it for its other end */
	fake_send = 0;
	ck_assert_int_eq(send(peer, "x", 1, 0), 1);
	close(peer);
	relay_event(&ctx, ds->relay, EPOLLIN | EPOLLRDHUP | EPOLLHUP);
	ck_assert_ptr_null(ds->relay);
	ck_assert_int_eq(fake_close, 1);
	relays_reap(&ctx);
	close(ctx.epfd);
	return ds;
}

START_TEST(test_relay_outlives_process)
{
	(void)relay_orphaned(1ull << 40 | 1ull << 0, 0, 0); /* member 40 never joined */
}
END_TEST

START_TEST(test_relay_outlives_process_owner)
{
	struct dp_sock *ds = relay_orphaned(1ull << 0, 4242, 0); /* a sender never done */

	ck_assert_uint_eq(ds->sh->tx_prod - ds->tx_cons, 1); /* what it left is sent */
}
END_TEST

START_TEST(test_relay_broken_tx_prod)
{
	/* more than the ring holds: no ACK will ever make room, SEND finds it */
	struct dp_sock *ds = relay_orphaned(1ull << 0, 0, TX + 77);

	(void)ds;
	ck_assert_int_eq(fake_send, 1);
}
END_TEST

/* The other end's EOF is a FIN only if it was a shutdown: a close is told apart
 * when the EOF is read, however the relay came to read it. A close the loop has
 * not seen yet, found by the run a change of the socket made (taken for a
 * shutdown, it was a FIN, and the parent's next write got EPIPE: shim_semantics'
 * exec_family), and a close with bytes unread there (ECONNRESET) only let go of
 * the relay's hold: the parent keeps the connection. */
START_TEST(test_relay_close)
{
	struct dp_sock *ds;
	uint32_t s;
	int peer;

	relay_setup();

	/* the program wrote, then closed; the loop has not looked at the fd since */
	ds = relayed(&s, 0, &peer);
	ck_assert_int_eq(send(peer, "bye", 3, 0), 3);
	close(peer);
	relay_rx_arrives(ds, "echo");
	ck_assert_int_eq(fake_send, 1); /* what it wrote before its close is sent */
	ck_assert_uint_eq(shsock(s)->tx_prod - ds->tx_cons, 3);
	ck_assert_int_eq(fake_shutdown, 0);
	ck_assert_ptr_null(ds->relay);
	ck_assert_uint_eq(shsock(s)->holders, 1ull << 0);
	ck_assert_int_eq(fake_close, 0);
	ck_assert_uint_eq(shsock(s)->rx_cons, ds->rx_prod - 4); /* left to the parent */

	/* a reader's relay passed bytes on that the program closed unread */
	ds = relayed(&s, SHUNT_RELAYF_READ, &peer);
	relay_rx_arrives(ds, "unread");
	ck_assert_uint_eq(shsock(s)->rx_cons, ds->rx_prod);
	close(peer);
	relay_event(&ctx, ds->relay, EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	ck_assert_int_eq(fake_shutdown, 0);
	ck_assert_ptr_null(ds->relay);
	ck_assert_uint_eq(shsock(s)->holders, 1ull << 0);
	relays_reap(&ctx);
	close(ctx.epfd);
}
END_TEST

/* A close of the other end ends the relay once it took all that was written
 * there before: while another process's send holds the ring, the next look at
 * the fd takes it; beyond the room in the ring (a program that wrote more and
 * exited), the room the ACKs make does, and meanwhile the fd, whose hang-up the
 * loop would see at every look, is not watched. */
START_TEST(test_relay_close_drains)
{
	const uint32_t hup = EPOLLIN | EPOLLRDHUP | EPOLLHUP;
	struct dp_sock *ds;
	uint32_t s, at;
	int peer;

	relay_setup();

	/* the parent is in send(): it holds the ring */
	ds = relayed(&s, 0, &peer);
	shsock(s)->tx_owner = 4242;
	ck_assert_int_eq(send(peer, "c", 1, 0), 1);
	close(peer);
	relay_event(&ctx, ds->relay, hup);
	ck_assert_ptr_nonnull(ds->relay);
	ck_assert_uint_eq(shsock(s)->tx_prod, ds->tx_cons);
	shsock(s)->tx_owner = 0; /* its send is done */
	relay_event(&ctx, ds->relay, hup);
	ck_assert_uint_eq(shsock(s)->tx_prod - ds->tx_cons, 1);
	ck_assert_ptr_null(ds->relay);
	ck_assert_uint_eq(shsock(s)->holders, 1ull << 0);
	ck_assert_int_eq(fake_shutdown, 0);

	/* more than the ring takes (a send buffer of 4 bytes) */
	ds = relayed(&s, 0, &peer);
	ds->sndbuf = 4;
	at = ds->tx_cons;
	ck_assert_int_eq(send(peer, "abcdef", 6, 0), 6);
	close(peer);
	relay_event(&ctx, ds->relay, hup);
	ck_assert_ptr_nonnull(ds->relay);
	ck_assert(ds->relay->closed);
	ck_assert_uint_eq(shsock(s)->tx_prod - ds->tx_cons, 4);
	dp_sock_tx_release(&ctx, ds, 4); /* the ACK */
	apps_wake(&ctx);
	ck_assert_uint_eq(shsock(s)->tx_prod - at, 6);
	ck_assert_int_eq(memcmp(ds->tx_buf + (at & (ds->tx_size - 1)), "abcdef", 6), 0);
	ck_assert_ptr_null(ds->relay);
	ck_assert_uint_eq(shsock(s)->holders, 1ull << 0);
	ck_assert_int_eq(fake_shutdown, 0);
	relays_reap(&ctx);
	close(ctx.epfd);
}
END_TEST

/* A shutdown(SHUT_WR) of the other end found the same way is the FIN, and the
 * change of the socket it makes (TX_SHUT) inside apps_wake() is woken as any
 * other, and so are the later ones: it is not left marked dirty on a list
 * already dropped. */
START_TEST(test_relay_shutdown_wakes)
{
	struct dp_sock *ds;
	uint64_t wakes;
	uint32_t s;
	int peer;

	relay_setup();
	ds = relayed(&s, 0, &peer);
	shsock(s)->sleepers = 1; /* the parent waits in recv() */
	ck_assert_int_eq(shutdown(peer, SHUT_WR), 0);
	relay_rx_arrives(ds, "x");
	ck_assert_int_eq(fake_shutdown, 1);
	ck_assert_ptr_nonnull(ds->relay);
	ck_assert(!ds->dirty); /* TX_SHUT's change woken, not left marked */
	wakes = app->stats.futex_wakes;
	relay_rx_arrives(ds, "y");
	ck_assert_uint_eq(app->stats.futex_wakes, wakes + 1);
	close(peer);
	relays_reap(&ctx);
	close(ctx.epfd);
}
END_TEST

START_TEST(test_spawn_and_listen)
{
	struct shunt_reply *rep = &chan(0)->reply;
	struct dp_sock *s;
	struct shunt_sock *sh;
	uint32_t l, lgen, gen0, live0;

	l = open_sock(&lgen);
	/* the app's indices of the next slot, as a previous life left them */
	sh = shsock(l + 1);
	sh->rx_cons = 13;
	sh->tx_prod = 77;
	sh->err_seen = 4;
	gen0 = app->socks[l + 1].gen;
	live0 = app->live;
	s = dp_app_sock_spawn(&ctx, app, SHUNT_SOCK_STREAM);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->idx, l + 1);
	ck_assert_uint_eq(s->gen, gen0 + 1);
	ck_assert_uint_eq(sh->gen, s->gen);
	ck_assert_uint_eq(sh->state, SHUNT_SS_CLOSED);
	ck_assert_uint_eq(sh->type, SHUNT_SOCK_STREAM);
	ck_assert_uint_eq(sh->rx_prod, 13);
	ck_assert_uint_eq(sh->tx_cons, 77);
	ck_assert_uint_eq(sh->err_seq, 4);
	ck_assert_uint_eq(sh->rx_size, RX);
	ck_assert_uint_eq(sh->tx_off, sh->rx_off + RX);
	ck_assert_ptr_null(s->pcb);
	ck_assert_uint_eq(app->live, live0 + 1);
	ck_assert_uint_eq(app->stats.slots_spawned, 1);
	ck_assert_int_eq(fake_open, 1); /* the listener's only: TCP attaches its own pcb */
	/* the app names it with (slot, gen) from the record and closes it */
	close_sock(s->idx, s->gen);
	ck_assert_uint_eq(sh->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(app->live, live0);

	/* LISTEN without the feature agreed: an unknown command */
	push(SHUNT_CMD_LISTEN, l, lgen, 5, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(rep->result, -EINVAL);
	ck_assert_int_eq(fake_listen, 0);
	app->features |= SHUNT_FEAT_LISTEN;
	push(SHUNT_CMD_LISTEN, l, lgen, 5, SHUNT_CMDF_SYNC);
	ck_assert_uint_eq(apps_poll(&ctx), 1);
	ck_assert_int_eq(rep->result, 0);
	ck_assert_int_eq(fake_listen, 1);
	ck_assert_uint_eq(fake_listen_backlog, 5);

	/* no slot left: NULL, counted */
	while (app->nfree > 0 || app->fresh < app->nsocks)
		ck_assert_ptr_nonnull(dp_app_sock_spawn(&ctx, app, SHUNT_SOCK_STREAM));
	ck_assert_ptr_null(dp_app_sock_spawn(&ctx, app, SHUNT_SOCK_STREAM));
	ck_assert_uint_eq(app->stats.spawn_nobufs, 1);
}
END_TEST

START_TEST(test_detach_lets_orphans_finish)
{
	uint32_t ga, gb, a = open_sock(&ga), b = open_sock(&gb);

	/* b was closed by the app already and is finishing; a is still open */
	fake_close_keeps_pcb = true;
	close_sock(b, gb);
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
	apps_wake(&ctx); /* a gone app's sockets are dropped from the dirty list */
	ck_assert_ptr_null(ctx.apps->dirty);
}
END_TEST

static Suite *app_suite(void)
{
	Suite *s = suite_create("core_app");
	TCase *tc = tcase_create("region");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_region_layout);
	tcase_add_test(tc, test_region_sparse_and_punched);
	tcase_add_test(tc, test_punch_skips_reused_slot);
	tcase_add_test(tc, test_idle_socket_trimmed);
	tcase_add_test(tc, test_trim_queue_follows_events);
	tcase_add_test(tc, test_app_mem_bound);
	tcase_add_test(tc, test_open_allocates_and_replies);
	tcase_add_test(tc, test_open_adopts_app_indices);
	tcase_add_test(tc, test_open_nobufs_then_reuse);
	tcase_add_test(tc, test_open_bad_type_or_sock);
	tcase_add_test(tc, test_stale_generation_refused);
	tcase_add_test(tc, test_dump_counts);
	tcase_add_test(tc, test_close_waits_for_pcb);
	tcase_add_test(tc, test_bad_slot_counted);
	tcase_add_test(tc, test_bad_opcode_answered);
	tcase_add_test(tc, test_chan_hint_range);
	tcase_add_test(tc, test_chan_bursts_fair);
	tcase_add_test(tc, test_hostile_producer_breaks_app);
	tcase_add_test(tc, test_hostile_tx_prod_breaks_socket);
	tcase_add_test(tc, test_offsets_rewritten_by_app_ignored);
	tcase_add_test(tc, test_rx_ring_publication);
	tcase_add_test(tc, test_sleep_handshake);
	tcase_add_test(tc, test_futex_wake_only_with_sleepers);
	tcase_add_test(tc, test_ready_ring_push_and_overflow);
	tcase_add_test(tc, test_ready_needs_feature);
	tcase_add_test(tc, test_notifier_dedupe);
	tcase_add_test(tc, test_notify_entries_untrusted);
	tcase_add_test(tc, test_notifier_set_validation);
	tcase_add_test(tc, test_destroy_aborts_connections);
	tcase_add_test(tc, test_detach_lets_orphans_finish);
	tcase_add_test(tc, test_spawn_and_listen);
	tcase_add_test(tc, test_member_join_rules);
	tcase_add_test(tc, test_member_channels);
	tcase_add_test(tc, test_member_sweep);
	tcase_add_test(tc, test_relay);
	tcase_add_test(tc, test_relay_outlives_process);
	tcase_add_test(tc, test_relay_outlives_process_owner);
	tcase_add_test(tc, test_relay_broken_tx_prod);
	tcase_add_test(tc, test_relay_close);
	tcase_add_test(tc, test_relay_close_drains);
	tcase_add_test(tc, test_relay_shutdown_wakes);
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
