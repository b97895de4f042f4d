/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Link-time fakes and the harness for the TCP unit tests (see tcp_test.h):
 * tcp_xmit() records segments (payload copied out of the ring at send time),
 * route_lookup() answers fake_route_rc, the app hooks count.
 */
#include <limits.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <shunt/bytering.h>

#include "net/net.h"
#include "tcp/tcp.h"
#include "tcp/tcp_in.h"
#include "tcp/tcp_wire.h"
#include "tcp_test.h"

struct fake_seg fake_tx[FAKE_TX_MAX];
int fake_ntx;
int fake_route_rc;
int fake_released;
struct fake_slot fake_slots[FAKE_SLOTS];
int fake_spawned;
bool fake_spawn_fail;

struct dp_sock *dp_app_sock_spawn(struct dp_ctx *ctx, struct dp_app *app, uint32_t type)
{
	struct fake_slot *f;
	int i;

	(void)ctx;
	if (fake_spawn_fail)
		return NULL;
	for (i = 0; i < FAKE_SLOTS && fake_slots[i].used; i++)
		;
	if (i == FAKE_SLOTS)
		return NULL;
	f = &fake_slots[i];
	f->used = true;
	/* as app_slot_init(): new generation, [dp] fields, [app] indices adopted */
	f->s.app = app;
	f->s.idx = FAKE_SLOT_BASE + (uint32_t)i;
	f->s.type = type;
	f->s.sh = f->sh;
	f->s.rx_size = f->s.tx_size = FAKE_SLOT_RING;
	f->s.gen++;
	f->s.pcb = NULL;
	f->s.state = SHUNT_SS_CLOSED;
	f->s.flags = 0;
	f->s.rx_prod = f->sh->rx_cons;
	f->s.rx_hi = f->s.rx_prod;
	f->s.tx_cons = f->sh->tx_prod;
	f->s.err_seq = f->sh->err_seen;
	f->s.app_closed = false;
	f->s.broken = false;
	f->s.rcvbuf = f->s.sndbuf = 0;
	f->sh->gen = f->s.gen;
	f->sh->type = type;
	f->sh->state = SHUNT_SS_CLOSED;
	f->sh->rx_prod = f->s.rx_prod;
	f->sh->tx_cons = f->s.tx_cons;
	memset(&f->sh->local, 0, sizeof(f->sh->local));
	memset(&f->sh->remote, 0, sizeof(f->sh->remote));
	fake_spawned++;
	return &f->s;
}

struct dp_sock *fake_slot_sock(uint32_t idx)
{
	ck_assert_uint_ge(idx, FAKE_SLOT_BASE);
	ck_assert_uint_lt(idx, FAKE_SLOT_BASE + FAKE_SLOTS);
	return &fake_slots[idx - FAKE_SLOT_BASE].s;
}

int tcp_xmit(struct dp_ctx *ctx, const struct tcp_txseg *seg)
{
	struct fake_seg *f;

	(void)ctx;
	ck_assert_int_lt(fake_ntx, FAKE_TX_MAX);
	f = &fake_tx[fake_ntx++];
	f->seg = *seg;
	ck_assert_uint_le(seg->len, sizeof(f->data));
	if (seg->len)
		bytering_read(seg->s->tx_buf, seg->s->tx_size, seg->pos, f->data, seg->len);
	return 0;
}

int route_lookup(const struct dp_ctx *ctx, uint32_t dst_be, uint32_t *nexthop_be)
{
	(void)ctx;
	*nexthop_be = dst_be;
	return fake_route_rc;
}

void dp_app_sock_changed(struct dp_ctx *ctx, struct dp_sock *s)
{
	(void)ctx;
	(void)s;
}

void dp_app_release_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	(void)ctx;
	(void)app;
	fake_released++;
	for (int i = 0; i < FAKE_SLOTS; i++) {
		if (s == &fake_slots[i].s) {
			/* as dp_app_release_slot(): FREE, may be spawned again */
			ck_assert(fake_slots[i].used);
			fake_slots[i].used = false;
			s->pcb = NULL;
			s->app_closed = false;
			dp_sock_set_state(ctx, s, SHUNT_SS_FREE);
		}
	}
}

void env_init(struct env *e, uint32_t ring)
{
	memset(e, 0, sizeof(*e));
	fake_ntx = 0;
	fake_route_rc = 0;
	fake_released = 0;
	e->conf.syn_retries = 6;
	e->conf.timestamps = e->conf.sack = e->conf.window_scaling = 1;
	/* rmem_max 0: the window scale follows the ring (256 KiB: 3), which the tests
	 * of windows count in; those of the SYN's options set Linux's */
	e->conf.time_wait_ms = 60000;
	/* the tests of loss recovery count cwnd in Reno's numbers; those of CUBIC and
	 * of the restart after idle select them (tcp_cc tests) */
	e->conf.congestion = SHUNT_CC_RENO;
	e->conf.slow_start_after_idle = 0;
	e->conf.invalid_ratelimit = 500;  /* Linux's defaults */
	e->conf.challenge_ack_limit = INT_MAX;
	e->conf.eph_lo = 32768;
	e->conf.eph_hi = 60999;
	e->ctx.conf = &e->conf;
	e->ctx.now_us = 1000000;
	e->ctx.mtu = 1500;
	e->ctx.ip_be = inet_addr("10.77.0.2");
	e->peer_be = inet_addr("10.77.0.1");
	e->pport_be = htons(80);
	e->sh = aligned_alloc(64, sizeof(*e->sh));
	memset(e->sh, 0, sizeof(*e->sh));
	e->s.sh = e->sh;
	e->s.type = SHUNT_SOCK_STREAM;
	e->s.rx_size = e->s.tx_size = ring;
	e->s.rx_buf = calloc(1, ring);
	e->s.tx_buf = calloc(1, ring);
	e->s.app = (struct dp_app *)e; /* any non-NULL: slot release is counted */
	fake_spawned = 0;
	fake_spawn_fail = false;
	for (int i = 0; i < FAKE_SLOTS; i++) {
		struct fake_slot *f = &fake_slots[i];

		memset(f, 0, sizeof(*f));
		f->sh = aligned_alloc(64, sizeof(*f->sh));
		memset(f->sh, 0, sizeof(*f->sh));
		f->s.rx_buf = calloc(1, FAKE_SLOT_RING);
		f->s.tx_buf = calloc(1, FAKE_SLOT_RING);
	}
	ck_assert_int_eq(tcp_init(&e->ctx), 0);
	ck_assert_int_eq(tcp_open(&e->ctx, &e->s), 0);
	e->irs = 1000000;
	e->pnxt = e->irs + 1;
}

void env_fini(struct env *e)
{
	tcp_fini(&e->ctx);
	for (int i = 0; i < FAKE_SLOTS; i++) {
		free(fake_slots[i].s.rx_buf);
		free(fake_slots[i].s.tx_buf);
		free(fake_slots[i].sh);
	}
	free(e->s.rx_buf);
	free(e->s.tx_buf);
	free(e->sh);
}

void env_peer(struct env *e, uint8_t flags, uint32_t seq, uint32_t ack, const struct popt *o,
	      const void *data, uint32_t len)
{
	env_peer_ecn(e, flags, seq, ack, o, data, len, 0);
}

void env_peer_ecn(struct env *e, uint8_t flags, uint32_t seq, uint32_t ack,
		  const struct popt *o, const void *data, uint32_t len, uint8_t ecn)
{
	static uint8_t buf[TCP_HDR_MAX + 65536];
	struct tcp_hdr_out h = {
		.sport_be = e->pport_be, .dport_be = e->s.sh->local.port,
		.seq = seq, .ack = ack, .flags = flags, .wnd = o ? o->wnd : 65535,
	};
	int hl;

	if (o) {
		h.has_ts = o->ts;
		h.tsval = o->tsval;
		h.tsecr = o->tsecr;
		h.mss = o->mss;
		h.has_ws = o->ws;
		h.ws = o->wscale;
		h.sack_ok = o->sack;
		h.nsack = o->nsack;
		memcpy(h.sack, o->sack_blk, sizeof(h.sack));
	}
	hl = tcp_wire_build(buf, sizeof(buf), &h);
	ck_assert_int_gt(hl, 0);
	if (len)
		memcpy(buf + hl, data, len);
	tcp_input_ecn(&e->ctx, buf, (uint32_t)hl + len, e->peer_be, e->ctx.ip_be, ecn);
}

struct tcb *env_tcb(struct env *e)
{
	return e->s.pcb;
}

const struct fake_seg *last_tx(void)
{
	ck_assert_int_gt(fake_ntx, 0);
	return &fake_tx[fake_ntx - 1];
}

void env_establish(struct env *e, uint64_t rtt_us)
{
	const struct fake_seg *syn;
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .mss = 1460, .ws = true,
			  .wscale = 7 };

	ck_assert_int_eq(tcp_connect(&e->ctx, &e->s, e->peer_be, e->pport_be), 0);
	syn = last_tx();
	e->iss = syn->seg.h.seq;
	o.tsecr = syn->seg.h.tsval;
	o.sack = e->peer_sack;
	e->ctx.now_us += rtt_us;
	fake_ntx = 0;
	env_peer(e, TCP_SYN | TCP_ACK | (e->peer_ecn ? TCP_ECE : 0), e->irs, e->iss + 1, &o,
		 NULL, 0);
	ck_assert_uint_eq(e->s.state, SHUNT_SS_ESTABLISHED);
	fake_ntx = 0;
}

void env_app_write(struct env *e, uint32_t len, uint8_t seed)
{
	uint32_t prod = e->sh->tx_prod, i;

	for (i = 0; i < len; i++)
		e->s.tx_buf[(prod + i) & (e->s.tx_size - 1)] = (uint8_t)(seed + i);
	e->sh->tx_prod = prod + len;
	tcp_app_send(&e->ctx, &e->s);
}

void env_app_read(struct env *e, uint32_t n)
{
	e->sh->rx_cons += n;
	tcp_app_recvd(&e->ctx, &e->s);
}

void env_advance(struct env *e, uint64_t us)
{
	e->ctx.now_us += us;
	tcp_timer_run(&e->ctx);
}
