/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Link-time fakes and the harness for the TCP unit tests (see tcp_test.h):
 * tcp_xmit() records segments (payload copied out of the ring at send time),
 * route_lookup() answers fake_route_rc, the app hooks count.
 */
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
	(void)s;
	fake_released++;
}

void env_init(struct env *e, uint32_t ring)
{
	memset(e, 0, sizeof(*e));
	fake_ntx = 0;
	fake_route_rc = 0;
	fake_released = 0;
	e->conf.syn_retries = 6;
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
	ck_assert_int_eq(tcp_init(&e->ctx), 0);
	ck_assert_int_eq(tcp_open(&e->ctx, &e->s), 0);
	e->irs = 1000000;
	e->pnxt = e->irs + 1;
}

void env_fini(struct env *e)
{
	tcp_fini(&e->ctx);
	free(e->s.rx_buf);
	free(e->s.tx_buf);
	free(e->sh);
}

void env_peer(struct env *e, uint8_t flags, uint32_t seq, uint32_t ack, const struct popt *o,
	      const void *data, uint32_t len)
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
	}
	hl = tcp_wire_build(buf, sizeof(buf), &h);
	ck_assert_int_gt(hl, 0);
	if (len)
		memcpy(buf + hl, data, len);
	tcp_input_bytes(&e->ctx, buf, (uint32_t)hl + len, e->peer_be, e->ctx.ip_be);
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
	e->ctx.now_us += rtt_us;
	fake_ntx = 0;
	env_peer(e, TCP_SYN | TCP_ACK, e->irs, e->iss + 1, &o, NULL, 0);
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
