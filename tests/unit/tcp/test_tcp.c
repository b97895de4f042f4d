/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP state machine, output, timers, table and ISN, driven by crafted segments and
 * a fake clock (tcp_test.h). One suite per module: tcp_in/out (handshake, data,
 * close, reset), tcp_timer (SYN/RTO/persist/delayed ACK/TIME_WAIT), tcp_table,
 * tcp_isn, tcp_api (options, ICMP errors).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <shunt/bytering.h>

#include "net/net.h"
#include "tcp/tcp.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp_in.h"
#include "tcp/tcp_isn.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_table.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_sack.h"
#include "tcp/tcp_syncookie.h"
#include "tcp/tcp_wire.h"
#include "tcp_test.h"

static struct env E;

static void setup(void)
{
	env_init(&E, 262144);
}

static void teardown(void)
{
	env_fini(&E);
}

/* Peer options for a segment after the handshake: timestamps echoing our last. */
static struct popt pts(uint16_t wnd)
{
	struct popt o = { .wnd = wnd, .ts = true };

	o.tsval = 500 + (uint32_t)((E.ctx.now_us - 1000000) / 1000);
	o.tsecr = fake_ntx ? last_tx()->seg.h.tsval : (uint32_t)(E.ctx.now_us / 1000);
	return o;
}

/* Pure ACK from the peer; window 512 << 7 = 64 KiB. */
static void peer_ack(uint32_t ack)
{
	struct popt o = pts(512);

	env_peer(&E, TCP_ACK, E.pnxt, ack, &o, NULL, 0);
}

static void peer_data(uint32_t seq, const void *d, uint32_t len)
{
	struct popt o = pts(512);

	env_peer(&E, TCP_ACK | TCP_PSH, seq, E.iss + 1, &o, d, len);
}

static void set_time(uint64_t abs_us)
{
	E.ctx.now_us = abs_us;
	tcp_timer_run(&E.ctx);
}

static void check_payload(const struct fake_seg *f, uint32_t len, uint8_t seed)
{
	uint32_t i;

	ck_assert_uint_eq(f->seg.len, len);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(f->data[i], (uint8_t)(seed + i));
}

/* ---- handshake --------------------------------------------------------------- */

START_TEST(handshake_options_and_numbers)
{
	const struct fake_seg *f;
	struct tcb *t;
	uint16_t lport;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_SYN_SENT);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	ck_assert_int_eq(fake_ntx, 1);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN);
	ck_assert_uint_eq(f->seg.src_be, E.ctx.ip_be);
	ck_assert_uint_eq(f->seg.dst_be, E.peer_be);
	ck_assert_uint_eq(f->seg.h.dport_be, E.pport_be);
	lport = ntohs(f->seg.h.sport_be);
	ck_assert(lport >= 32768 && lport <= 60999);
	ck_assert_uint_eq(f->seg.h.mss, 1460);
	ck_assert(f->seg.h.has_ws);
	ck_assert_uint_eq(f->seg.h.ws, 3); /* 256 KiB ring */
	ck_assert(f->seg.h.has_ts);
	ck_assert_uint_eq(f->seg.h.tsval, 1000);
	ck_assert_uint_eq(f->seg.h.tsecr, 0);
	ck_assert(f->seg.h.sack_ok); /* offered, as Linux: MSS, SACK_PERM, TS, NOP, WS */
	ck_assert_uint_eq(f->seg.h.wnd, 65535);
	ck_assert_uint_eq(E.sh->local.addr, E.ctx.ip_be);
	ck_assert_uint_eq(E.sh->local.port, f->seg.h.sport_be);
	ck_assert_uint_eq(E.sh->remote.addr, E.peer_be);
	ck_assert_uint_eq(E.sh->remote.port, E.pport_be);
	E.iss = f->seg.h.seq;

	/* SYN-ACK 100 ms later, echoing our TSval */
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .tsecr = 1000, .mss = 1460,
			  .ws = true, .wscale = 7 };
	E.ctx.now_us += 100000;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert_int_eq(fake_ntx, 2);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_ACK);
	ck_assert_uint_eq(f->seg.h.seq, E.iss + 1);
	ck_assert_uint_eq(f->seg.h.ack, E.irs + 1);
	ck_assert_uint_eq(f->seg.h.wnd, 262144 >> 3);
	ck_assert(f->seg.h.has_ts);
	ck_assert_uint_eq(f->seg.h.tsval, 1100);
	ck_assert_uint_eq(f->seg.h.tsecr, 500);
	t = env_tcb(&E);
	ck_assert_uint_eq(t->snd_ws, 7);
	ck_assert_uint_eq(t->rcv_ws, 3);
	ck_assert_uint_eq(t->mss, 1448);
	ck_assert_uint_eq(t->cwnd, 14480); /* RFC 6928 IW10 */
	ck_assert_uint_eq(t->snd_wnd, 65535); /* SYN-ACK window is not scaled */
	ck_assert_uint_eq(E.sh->mss, 1448);
	ck_assert_uint_eq(E.sh->srtt_us, 100000);
	ck_assert_uint_eq(E.sh->rto_us, 300000);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_conn_established, 1);
	/* all timers idle */
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), UINT64_MAX);
}
END_TEST

/* With Linux's default buffers (tcp_rmem[2] 6 MiB) our SYN is a Linux SYN, byte
 * for byte in its options: mss 1460, sackOK, TS val/ecr, nop, wscale 7. */
START_TEST(syn_options_as_linux)
{
	static const uint8_t want[20] = {
		0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x03, 0xe8,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
	};
	uint8_t b[TCP_HDR_MAX];

	E.ctx.tcp->rmem_max = 6291456;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &last_tx()->seg.h), 40);
	ck_assert_int_eq(memcmp(b + TCP_HDR_LEN, want, sizeof(want)), 0);
	ck_assert_uint_eq(env_tcb(&E)->rcv_ws, 7);
	/* a bigger rmem_max (net.core.rmem_max 32 MiB): as Linux, a bigger scale */
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	E.ctx.tcp->rmem_max = 33554432;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.ws, 10);
}
END_TEST

/* net.ipv4.tcp_window_scaling, tcp_sack, tcp_timestamps = 0 (one per loop): our SYN
 * leaves that option out, and a SYN-ACK offering it anyway does not turn it on
 * (Linux tcp_parse_options() ignores it). */
START_TEST(syn_options_follow_sysctls)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .tsecr = 1000, .mss = 1460,
			  .ws = true, .wscale = 7, .sack = true };
	const struct tcp_hdr_out *h;
	struct tcb *t;

	E.ctx.tcp->ws_on = _i != 0;
	E.ctx.tcp->sack_on = _i != 1;
	E.ctx.tcp->ts_on = _i != 2;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	h = &last_tx()->seg.h;
	ck_assert_uint_eq(h->mss, 1460);
	ck_assert(h->has_ws == (_i != 0));
	ck_assert(h->sack_ok == (_i != 1));
	ck_assert(h->has_ts == (_i != 2));
	E.iss = h->seq;
	o.tsecr = h->tsval;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	t = env_tcb(&E);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert(t->ws_ok == (_i != 0));
	ck_assert_uint_eq(t->rcv_ws, _i != 0 ? 3 : 0);
	ck_assert_uint_eq(t->snd_ws, _i != 0 ? 7 : 0);
	ck_assert(t->sack_ok == (_i != 1));
	ck_assert(t->ts_ok == (_i != 2));
	ck_assert(last_tx()->seg.h.has_ts == (_i != 2));
}
END_TEST

/* TCP_MAXSEG (Linux user_mss): 0 or 88..32767; it bounds the MSS our SYN offers
 * and the one we send with (mss_clamp = min(user_mss, the peer's)). */
START_TEST(maxseg_bounds_syn_and_mss)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .tsecr = 1000, .mss = 1460,
			  .ws = true, .wscale = 7 };

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 87), -EINVAL);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 32768), -EINVAL);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 1000), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.mss, 1000);
	ck_assert_uint_eq(E.sh->mss, 1000 - 12); /* while connecting, as Linux's mss_cache */
	E.iss = last_tx()->seg.h.seq;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(env_tcb(&E)->mss, 1000 - 12);
	ck_assert_uint_eq(E.sh->mss, 1000 - 12); /* what getsockopt(TCP_MAXSEG) reads */
	/* set on a connection: kept for the next, this one's MSS stays */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 500), 0);
	ck_assert_uint_eq(env_tcb(&E)->mss, 1000 - 12);
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.mss, 500);
	/* above the route's: the route's */
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 9000), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.mss, 1460);
	ck_assert_uint_eq(E.sh->mss, 1460 - 12);
	/* none: Linux's TCP_MSS_DEFAULT less the timestamp until the SYN-ACK */
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 0), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.mss, 1460);
	ck_assert_uint_eq(E.sh->mss, 536 - 12);
}
END_TEST

/* IP_TOS (ECN bits masked, as Linux for a stream socket) and IP_TTL are in the
 * IPv4 header of every segment, the SYN and a RST included. */
START_TEST(tos_ttl_every_segment)
{
	int i;

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TOS, 0xb9), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TTL, 7), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TTL, 0), -EINVAL);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TTL, 256), -EINVAL);
	env_establish(&E, 100000);
	env_app_write(&E, 3000, 1);
	tcp_app_disconnect(&E.ctx, &E.s); /* a RST */
	ck_assert_int_ge(fake_ntx, 3);
	ck_assert_uint_eq(last_tx()->seg.h.flags & TCP_RST, TCP_RST);
	for (i = 0; i < fake_ntx; i++) {
		ck_assert_uint_eq(fake_tx[i].seg.tos, 0xb8);
		ck_assert_uint_eq(fake_tx[i].seg.ttl, 7);
	}
	/* the SYN too (env_establish() reset the record) */
	fake_ntx = 0;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN);
	ck_assert_uint_eq(last_tx()->seg.tos, 0xb8);
	ck_assert_uint_eq(last_tx()->seg.ttl, 7);
}
END_TEST

START_TEST(handshake_no_options)
{
	struct tcb *t;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, NULL, NULL, 0);
	t = env_tcb(&E);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert(!t->ts_ok && !t->ws_ok);
	ck_assert_uint_eq(t->rcv_ws, 0); /* peer did not scale: neither do we */
	ck_assert_uint_eq(t->mss, 536);  /* no MSS option */
	ck_assert(!last_tx()->seg.h.has_ts);
	ck_assert_uint_eq(last_tx()->seg.h.wnd, 65535);
}
END_TEST

START_TEST(syn_sent_rst_refused)
{
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	/* RST without ACK, or with an unacceptable ACK: ignored */
	env_peer(&E, TCP_RST, 0, 0, NULL, NULL, 0);
	env_peer(&E, TCP_RST | TCP_ACK, 0, E.iss + 7, NULL, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_SYN_SENT);
	ck_assert_int_eq(fake_ntx, 1); /* no RST answers an RST */
	env_peer(&E, TCP_RST | TCP_ACK, 0, E.iss + 1, NULL, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ECONNREFUSED);
	ck_assert_uint_eq(E.sh->err_seq, 1);
	ck_assert(E.s.flags & SHUNT_SF_RESET);
	ck_assert_ptr_nonnull(E.s.pcb); /* app has not closed: the tcb waits for it */
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), UINT64_MAX);
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_ptr_null(E.s.pcb);
	ck_assert_int_eq(fake_released, 1);
}
END_TEST

START_TEST(refusal_published_in_one_step)
{
	struct popt o = { .wnd = 0 };
	uint32_t seq0;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	seq0 = E.sh->ev_seq;
	env_peer(&E, TCP_RST | TCP_ACK, 0, E.iss + 1, &o, NULL, 0);
	/* a reader between two steps would see an error on a connecting socket */
	ck_assert_uint_eq(E.sh->ev_seq, seq0 + 1);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ECONNREFUSED);
	ck_assert(E.sh->flags & SHUNT_SF_RESET);
}
END_TEST

START_TEST(syn_sent_bad_ack_gets_rst)
{
	const struct fake_seg *f;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 100, NULL, NULL, 0);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(f->seg.h.seq, E.iss + 100);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_SYN_SENT);
}
END_TEST

START_TEST(connect_errors)
{
	fake_route_rc = -ENETUNREACH;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), -ENETUNREACH);
	fake_route_rc = 0;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), -EALREADY);
	E.iss = fake_tx[0].seg.h.seq;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, NULL, NULL, 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), -EISCONN);
}
END_TEST

/* ---- data ---------------------------------------------------------------------- */

START_TEST(data_out_nagle_and_release)
{
	env_establish(&E, 100000);
	env_app_write(&E, 3000, 7);
	/* Nagle with Minshall's refinement (Linux tcp_nagle_check): no short segment
	 * is in flight, so the 104-byte tail goes out with the two full segments */
	ck_assert_int_eq(fake_ntx, 3);
	ck_assert_uint_eq(fake_tx[0].seg.h.seq, E.iss + 1);
	ck_assert_uint_eq(fake_tx[0].seg.h.ack, E.irs + 1);
	check_payload(&fake_tx[0], 1448, 7);
	ck_assert_uint_eq(fake_tx[1].seg.h.seq, E.iss + 1 + 1448);
	check_payload(&fake_tx[1], 1448, (uint8_t)(7 + 1448));
	ck_assert_uint_eq(fake_tx[1].seg.h.flags, TCP_ACK);
	ck_assert_uint_eq(fake_tx[2].seg.h.seq, E.iss + 1 + 2896);
	ck_assert_uint_eq(fake_tx[2].seg.h.flags, TCP_ACK | TCP_PSH);
	check_payload(&fake_tx[2], 104, (uint8_t)(7 + 2896));

	/* a second short write waits while that short segment is unacknowledged */
	env_app_write(&E, 100, (uint8_t)(7 + 3000));
	ck_assert_int_eq(fake_ntx, 3);
	peer_ack(E.iss + 1 + 2896); /* the full ones: the short one is still out */
	ck_assert_uint_eq(E.s.tx_cons, 2896);
	ck_assert_uint_eq(E.sh->tx_cons, 2896);
	ck_assert_int_eq(fake_ntx, 3);
	/* slow start: cwnd grew by one MSS for the ACK */
	ck_assert_uint_eq(env_tcb(&E)->cwnd, 14480 + 1448);

	peer_ack(E.iss + 1 + 3000); /* the short one: the held bytes go */
	ck_assert_uint_eq(E.sh->tx_cons, 3000);
	ck_assert_int_eq(fake_ntx, 4);
	ck_assert_uint_eq(fake_tx[3].seg.h.seq, E.iss + 1 + 3000);
	check_payload(&fake_tx[3], 100, (uint8_t)(7 + 3000));

	peer_ack(E.iss + 1 + 3100);
	ck_assert_uint_eq(E.sh->tx_cons, 3100);
	ck_assert(!tcp_timer_armed(env_tcb(&E), TCP_T_REXMIT));
}
END_TEST

/* TCP_CORK and MSG_MORE (Linux TCP_NAGLE_CORK): a short tail waits, NODELAY or
 * not, until uncorked, a send without MSG_MORE, or the FIN. */
START_TEST(data_out_cork_and_more)
{
	env_establish(&E, 100000);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CORK, 1), 0);
	env_app_write(&E, 3000, 1);
	ck_assert_int_eq(fake_ntx, 2); /* the two full segments; the tail waits */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CORK, 0), 0);
	ck_assert_int_eq(fake_ntx, 3); /* uncorked: pushed */
	check_payload(&fake_tx[2], 104, (uint8_t)(1 + 2896));
	peer_ack(E.iss + 1 + 3000);

	tcp_app_more(&E.s, true);       /* send(..., MSG_MORE) */
	env_app_write(&E, 100, 9);
	ck_assert_int_eq(fake_ntx, 3);
	tcp_app_more(&E.s, false);      /* the next send without it */
	env_app_write(&E, 50, (uint8_t)(9 + 100));
	ck_assert_int_eq(fake_ntx, 4);
	check_payload(&fake_tx[3], 150, 9);
	peer_ack(E.iss + 1 + 3150);

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CORK, 1), 0);
	env_app_write(&E, 10, 3);
	ck_assert_int_eq(fake_ntx, 4);
	ck_assert_int_eq(tcp_app_shutdown(&E.ctx, &E.s, SHUT_WR), 0); /* the FIN pushes */
	ck_assert_int_ge(fake_ntx, 5);
	check_payload(&fake_tx[4], 10, 3);
}
END_TEST

START_TEST(data_out_nodelay_and_wrap)
{
	env_establish(&E, 100000);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	/* start near the ring's end so the second segment wraps */
	E.s.tx_cons = E.sh->tx_cons = E.sh->tx_prod = 262144 - 1000;
	env_app_write(&E, 3000, 1);
	ck_assert_int_eq(fake_ntx, 3);
	check_payload(&fake_tx[0], 1448, 1);
	check_payload(&fake_tx[1], 1448, (uint8_t)(1 + 1448));
	check_payload(&fake_tx[2], 104, (uint8_t)(1 + 2896));
	ck_assert_uint_eq(fake_tx[2].seg.h.flags, TCP_ACK | TCP_PSH);
}
END_TEST

START_TEST(data_out_respects_peer_window)
{
	struct popt o;

	env_establish(&E, 100000);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	o = pts(16); /* 16 << 7 = 2048 bytes */
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
	env_app_write(&E, 5000, 0);
	/* one full segment fits; the 600-byte rest of the window is a runt below half
	 * the largest window offered, so sender SWS avoidance holds it */
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(fake_tx[0].seg.len, 1448);
}
END_TEST

START_TEST(data_in_order_delayed_ack)
{
	uint8_t a[1448];
	uint32_t i;

	env_establish(&E, 100000);
	for (i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 3);
	peer_data(E.pnxt, a, 100);
	ck_assert_uint_eq(E.sh->rx_prod, 100);
	ck_assert_int_eq(memcmp(E.s.rx_buf, a, 100), 0);
	ck_assert_int_eq(fake_ntx, 0); /* ACK delayed */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rx_fastpath, 1);
	set_time(E.ctx.now_us + 39999);
	ck_assert_int_eq(fake_ntx, 0);
	set_time(E.ctx.now_us + 1);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 101);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);

	/* two full segments: the second is ACKed at once */
	peer_data(E.pnxt + 100, a, 1448);
	ck_assert_int_eq(fake_ntx, 1);
	peer_data(E.pnxt + 1548, a, 1448);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1 + 2996);
	ck_assert_uint_eq(E.sh->rx_prod, 2996);
	ck_assert_int_eq(memcmp(E.s.rx_buf + 1548, a, 1448), 0);

	/* a duplicate is answered with an immediate ACK and not delivered twice */
	peer_data(E.pnxt + 100, a, 1448);
	ck_assert_int_eq(fake_ntx, 3);
	ck_assert_uint_eq(E.sh->rx_prod, 2996);
}
END_TEST

START_TEST(data_in_out_of_order)
{
	env_establish(&E, 100000);
	peer_data(E.pnxt + 100, "BBBBBBBBBB", 10);
	ck_assert_uint_eq(E.sh->rx_prod, 0);
	ck_assert_int_eq(fake_ntx, 1); /* immediate duplicate ACK */
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1);
	ck_assert_uint_eq(env_tcb(&E)->n_ooo, 1);
	peer_data(E.pnxt + 200, "CCCCC", 5);
	ck_assert_uint_eq(env_tcb(&E)->n_ooo, 2);
	ck_assert_int_eq(fake_ntx, 2);

	/* fill the first gap with 100 bytes of 'A' */
	char a[100];
	memset(a, 'A', sizeof(a));
	peer_data(E.pnxt, a, 100);
	ck_assert_uint_eq(E.sh->rx_prod, 110);
	ck_assert_int_eq(fake_ntx, 3); /* gap filled: ACK at once */
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 111);
	ck_assert_int_eq(memcmp(E.s.rx_buf + 100, "BBBBBBBBBB", 10), 0);
	ck_assert_uint_eq(env_tcb(&E)->n_ooo, 1);

	/* the second gap */
	char g[90];
	memset(g, 'g', sizeof(g));
	peer_data(E.pnxt + 110, g, 90);
	ck_assert_uint_eq(E.sh->rx_prod, 205);
	ck_assert_int_eq(memcmp(E.s.rx_buf + 200, "CCCCC", 5), 0);
	ck_assert_uint_eq(env_tcb(&E)->n_ooo, 0);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 206);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ooo_rx, 2);
}
END_TEST

START_TEST(window_update_after_read)
{
	uint8_t a[1448] = { 0 };
	uint32_t sent = 0, n;
	int before;

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_RCVBUF, 8192), 0);
	env_establish(&E, 100000);
	while (sent < 8192) {
		n = 8192 - sent < 1448 ? 8192 - sent : 1448;
		peer_data(E.pnxt + sent, a, n);
		sent += n;
	}
	ck_assert_uint_eq(E.sh->rx_prod, 8192);
	set_time(E.ctx.now_us + 40000); /* flush the delayed ACK */
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1 + 8192);
	ck_assert_uint_eq(last_tx()->seg.h.wnd, 0);
	/* data beyond the window is not taken */
	peer_data(E.pnxt + 8192, a, 100);
	ck_assert_uint_eq(E.sh->rx_prod, 8192);

	before = fake_ntx;
	env_app_read(&E, 1000); /* grows by less than min(ring/2, 2 MSS): silent */
	ck_assert_int_eq(fake_ntx, before);
	env_app_read(&E, 2000);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1 + 8192);
	/* SO_RCVBUF before connect() chose the scale (Linux: window_clamp is the
	 * buffer): 8 KiB needs none */
	ck_assert_uint_eq(env_tcb(&E)->rcv_ws, 0);
	ck_assert_uint_eq(last_tx()->seg.h.wnd, 3000);
}
END_TEST


/* ---- passive open (tcp_listen.c, listen_input) -------------------------------- */

#define LPORT 8080

static void listen_on(uint32_t backlog)
{
	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, 0, htons(LPORT), 0), 0);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, backlog), 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_LISTEN);
}

/* The child for peer port pport, or NULL. */
static struct tcb *child_of(uint16_t pport)
{
	return tcp_table_lookup(E.ctx.tcp, E.ctx.ip_be, htons(LPORT), E.peer_be, htons(pport));
}

/* A SYN from the peer's port pport with sequence irs and options o (may be NULL). */
static struct tcb *peer_syn_opts(uint16_t pport, uint32_t irs, const struct popt *o)
{
	E.pport_be = htons(pport);
	env_peer(&E, TCP_SYN, irs, 0, o, NULL, 0);
	return child_of(pport);
}

/* A SYN from the peer's port pport with sequence irs (Linux-like options if opts). */
static struct tcb *peer_syn(uint16_t pport, uint32_t irs, bool opts)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .ws = true,
			  .wscale = 7 };

	return peer_syn_opts(pport, irs, opts ? &o : NULL);
}

/* The peer's handshake ACK (with len bytes of data) for child c. */
static void peer_final_ack(uint16_t pport, const struct tcb *c, const void *d, uint32_t len)
{
	/* echoes the SYN-ACK's TSval (sent when the child was made) */
	struct popt o = { .wnd = 502, .ts = c->ts_ok, .tsval = 701, .tsecr = c->ts_ok ?
			  (uint32_t)(c->rtt_start_us / 1000) : 0 };

	E.pport_be = htons(pport);
	env_peer(&E, TCP_ACK | (len ? TCP_PSH : 0), c->irs + 1, c->iss + 1, &o, d, len);
}

/* Record i (0-based from the listener's first) of the accept queue. */
static struct shunt_accept acc_record(uint32_t i)
{
	struct shunt_accept rec;

	bytering_read(E.s.rx_buf, E.s.rx_size, i * 8, &rec, sizeof(rec));
	return rec;
}

START_TEST(listen_state_and_backlog)
{
	struct tcb *t = env_tcb(&E);
	uint16_t port;

	/* unbound: Linux autobinds to an ephemeral port on 0.0.0.0 */
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 5), 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_LISTEN);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_LISTEN);
	port = ntohs(E.sh->local.port);
	ck_assert(port >= 32768 && port <= 60999);
	ck_assert_uint_eq(E.sh->local.addr, 0);
	ck_assert(E.sh->flags & SHUNT_SF_BOUND);
	ck_assert_uint_eq(t->backlog, 5);
	ck_assert_ptr_eq(tcp_listen_lookup(E.ctx.tcp, E.ctx.ip_be, E.sh->local.port, E.peer_be,
					   E.pport_be), t);
	/* again: only the backlog changes (somaxconn caps; (unsigned)-1 is above it) */
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 100), 0);
	ck_assert_uint_eq(t->backlog, 100);
	ck_assert_uint_eq(ntohs(E.sh->local.port), port);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 1u << 20), 0);
	ck_assert_uint_eq(t->backlog, 4096);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, (uint32_t)-1), 0);
	ck_assert_uint_eq(t->backlog, 4096);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 0), 0);
	ck_assert_uint_eq(t->backlog, 0);
	/* a small ring bounds it: backlog + 1 records must fit */
	ck_assert_uint_eq(tcp_listen_backlog(4096, 4096), 511);
	/* a listener cannot connect or bind; nothing was sent */
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), -EISCONN);
	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, 0, htons(LPORT), 0), -EINVAL);
	ck_assert_int_eq(fake_ntx, 0);
}
END_TEST

START_TEST(listen_refused_when_connecting_or_connected)
{
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 5), -EINVAL); /* SYN_SENT */
	E.iss = last_tx()->seg.h.seq;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, NULL, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 5), -EINVAL);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
}
END_TEST

START_TEST(listen_syn_gets_synack)
{
	const struct fake_seg *f;
	struct dp_sock *cs;
	struct tcb *c;

	listen_on(8);
	c = peer_syn(40000, 5000, true);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(fake_spawned, 1);
	ck_assert_int_eq(fake_ntx, 1);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(f->seg.src_be, E.ctx.ip_be);
	ck_assert_uint_eq(f->seg.dst_be, E.peer_be);
	ck_assert_uint_eq(ntohs(f->seg.h.sport_be), LPORT);
	ck_assert_uint_eq(ntohs(f->seg.h.dport_be), 40000);
	/* its own ISN, RFC 6528 over the child's 4-tuple */
	ck_assert_uint_eq(f->seg.h.seq, tcp_isn(E.ctx.tcp, E.ctx.ip_be, htons(LPORT), E.peer_be,
						htons(40000), E.ctx.now_us));
	ck_assert_uint_eq(f->seg.h.seq, c->iss);
	ck_assert_uint_eq(f->seg.h.ack, 5001);
	/* what the SYN offered, answered as Linux: MSS, WS, TS; no SACK (not offered) */
	ck_assert_uint_eq(f->seg.h.mss, 1460);
	ck_assert(f->seg.h.has_ws);
	ck_assert_uint_eq(f->seg.h.ws, 1); /* 64 KiB ring */
	ck_assert(f->seg.h.has_ts);
	ck_assert_uint_eq(f->seg.h.tsval, 1000);
	ck_assert_uint_eq(f->seg.h.tsecr, 700);
	ck_assert(!f->seg.h.sack_ok);
	ck_assert_uint_eq(f->seg.h.wnd, 65535); /* never scaled in a SYN */
	ck_assert_uint_eq(c->mss, 1448);
	ck_assert_uint_eq(c->snd_ws, 7);
	/* the child's slot: SYN_RECEIVED, both addresses */
	cs = fake_slot_sock(FAKE_SLOT_BASE);
	ck_assert_ptr_eq(cs->pcb, c);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_SYN_RECEIVED);
	ck_assert_uint_eq(cs->sh->local.addr, E.ctx.ip_be);
	ck_assert_uint_eq(ntohs(cs->sh->local.port), LPORT);
	ck_assert_uint_eq(cs->sh->remote.addr, E.peer_be);
	ck_assert_uint_eq(ntohs(cs->sh->remote.port), 40000);
	/* nothing announced yet */
	ck_assert_uint_eq(E.s.rx_prod, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_child, 1);

	/* a SYN without options: none answered, MSS still offered */
	c = peer_syn(40001, 9000, false);
	ck_assert_ptr_nonnull(c);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(f->seg.h.mss, 1460);
	ck_assert(!f->seg.h.has_ws && !f->seg.h.has_ts);
	ck_assert_uint_eq(c->mss, 536);
	ck_assert_uint_eq(c->rcv_ws, 0);

	/* the peer's SYN again (our SYN-ACK lost): the SYN-ACK again */
	fake_ntx = 0;
	E.pport_be = htons(40001);
	env_peer(&E, TCP_SYN, 9000, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.seq, c->iss);
	ck_assert_int_eq(fake_spawned, 2);
}
END_TEST

/* The SYN-ACK answers only what the stack allows (net.ipv4.tcp_sack,
 * tcp_timestamps, tcp_window_scaling), whatever the SYN offered. */
START_TEST(listen_synack_follows_sysctls)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .ws = true,
			  .wscale = 7, .sack = true };
	const struct tcp_hdr_out *h;
	struct tcb *c;

	listen_on(8);
	E.ctx.tcp->sack_on = false;
	E.ctx.tcp->ts_on = false;
	c = peer_syn_opts(40000, 5000, &o);
	ck_assert_ptr_nonnull(c);
	h = &last_tx()->seg.h;
	ck_assert_uint_eq(h->flags, TCP_SYN | TCP_ACK);
	ck_assert(h->mss == 1460 && h->has_ws && !h->sack_ok && !h->has_ts);
	ck_assert(c->ws_ok && !c->sack_ok && !c->ts_ok);
	ck_assert_uint_eq(c->mss, 1460); /* no timestamp to make room for */

	E.ctx.tcp->ws_on = false;
	E.ctx.tcp->sack_on = true;
	c = peer_syn_opts(40001, 9000, &o);
	ck_assert_ptr_nonnull(c);
	h = &last_tx()->seg.h;
	ck_assert_uint_eq(h->flags, TCP_SYN | TCP_ACK);
	ck_assert(!h->has_ws && h->sack_ok && !h->has_ts);
	ck_assert(!c->ws_ok && c->rcv_ws == 0 && c->snd_ws == 0 && c->sack_ok);
}
END_TEST

/* A child inherits TCP_MAXSEG, IP_TOS and IP_TTL (sk_clone_lock()); its SYN-ACK,
 * and a cookie SYN-ACK, carry them. */
START_TEST(listen_child_inherits_maxseg_tos_ttl)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .ws = true,
			  .wscale = 7 };
	const struct fake_seg *f;
	struct tcb *c;

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TOS, 0x10), 0);
	listen_on(0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_MAXSEG, 1200), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_TTL, 9), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, SHUNT_CC_CUBIC), 0);
	c = peer_syn(40000, 5000, true);
	ck_assert_uint_eq(c->cc, SHUNT_CC_CUBIC); /* inherited (Linux sk_clone_lock()) */
	ck_assert_uint_eq(fake_slot_sock(FAKE_SLOT_BASE)->sh->cc, SHUNT_CC_CUBIC);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, SHUNT_CC_RENO), 0);
	ck_assert_ptr_nonnull(c);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(f->seg.h.mss, 1200);
	ck_assert(f->seg.tos == 0x10 && f->seg.ttl == 9);
	ck_assert_uint_eq(c->mss, 1200 - 12);
	ck_assert(c->user_mss == 1200 && c->tos == 0x10 && c->ttl == 9);
	/* the SYN queue (backlog 0) is full: a cookie, as the listener would send */
	E.pport_be = htons(40001);
	env_peer(&E, TCP_SYN, 9000, 0, &o, NULL, 0);
	f = last_tx();
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 1);
	ck_assert_uint_eq(f->seg.h.mss, 1200);
	ck_assert(f->seg.tos == 0x10 && f->seg.ttl == 9);
}
END_TEST

START_TEST(listen_ack_establishes_and_announces)
{
	struct shunt_accept rec;
	struct dp_sock *cs;
	struct tcb *c;
	uint32_t ev0;

	listen_on(8);
	c = peer_syn(40000, 5000, true);
	cs = fake_slot_sock(FAKE_SLOT_BASE);
	ev0 = E.sh->ev_seq;
	E.ctx.now_us += 20000;
	peer_final_ack(40000, c, "hello", 5);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_ESTABLISHED);
	/* one record, published by the listener's rx_prod and ev_seq */
	ck_assert_uint_eq(E.s.rx_prod, 8);
	ck_assert_uint_eq(E.sh->rx_prod, 8);
	ck_assert_uint_gt(E.sh->ev_seq, ev0);
	rec = acc_record(0);
	ck_assert_uint_eq(rec.sock, cs->idx);
	ck_assert_uint_eq(rec.gen, cs->gen);
	ck_assert_uint_eq(cs->sh->gen, cs->gen);
	/* the data that came with the ACK is in the child's ring */
	ck_assert_uint_eq(cs->sh->rx_prod, 5);
	ck_assert_int_eq(memcmp(cs->rx_buf, "hello", 5), 0);
	ck_assert_uint_eq(cs->sh->local.addr, E.ctx.ip_be);
	ck_assert_uint_eq(cs->sh->remote.addr, E.peer_be);
	ck_assert_uint_eq(c->srtt_us, 20000); /* RTT from the SYN-ACK's timestamp */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_conn_accepted, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_conn_established, 1);
	ck_assert_uint_eq(c->syn_qlen + env_tcb(&E)->syn_qlen, 0);

	/* the app takes it and it is an ordinary socket: it sends, and closes */
	E.sh->rx_cons = 8;
	ck_assert(!tcp_listen_unaccepted(c));
	fake_ntx = 0;
	cs->sh->rx_cons = 5;
	tcp_app_close(&E.ctx, cs);
	ck_assert_uint_eq(last_tx()->seg.h.flags & (TCP_FIN | TCP_RST), TCP_FIN);
	ck_assert_uint_eq(c->state, SHUNT_SS_FIN_WAIT_1);
}
END_TEST

START_TEST(listen_acceptq_full_drops_ack_until_accept)
{
	struct tcb *a, *b, *c;

	listen_on(1); /* backlog 1: two records may wait (Linux: > backlog is full) */
	a = peer_syn(40000, 1000, true);
	b = peer_syn(40001, 2000, true);
	peer_final_ack(40000, a, NULL, 0);
	ck_assert_uint_eq(E.s.rx_prod, 8);
	c = peer_syn(40002, 3000, true);
	ck_assert_ptr_nonnull(c);
	peer_final_ack(40001, b, NULL, 0);
	ck_assert_uint_eq(E.s.rx_prod, 16);
	/* full: the third handshake's ACK is dropped silently, C stays half-open */
	fake_ntx = 0;
	peer_final_ack(40002, c, "x", 1);
	ck_assert_uint_eq(c->state, SHUNT_SS_SYN_RECEIVED);
	ck_assert_uint_eq(E.s.rx_prod, 16);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_ack_full, 1);
	/* and a new SYN is dropped too */
	ck_assert_ptr_null(peer_syn(40003, 4000, true));
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_full, 1);
	/* the app accepts one: the retransmitted ACK completes */
	E.sh->rx_cons += 8;
	peer_final_ack(40002, c, "x", 1);
	ck_assert_uint_eq(c->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.s.rx_prod, 24);
	ck_assert_uint_eq(acc_record(2).sock, c->s->idx);
	ck_assert_uint_eq(c->s->sh->rx_prod, 1);
	ck_assert(!tcp_listen_unaccepted(a));
	ck_assert(tcp_listen_unaccepted(b));
}
END_TEST

START_TEST(listen_synq_full_drops_syn)
{
	E.ctx.tcp->syncookies = false; /* Linux tcp_syncookies = 0 */
	listen_on(0); /* Linux still lets one through: qlen > backlog is full */
	ck_assert_ptr_nonnull(peer_syn(40000, 1000, true));
	fake_ntx = 0;
	ck_assert_ptr_null(peer_syn(40001, 2000, true));
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_int_eq(fake_spawned, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_synq, 1);
	/* no slot: dropped, counted */
	fake_spawn_fail = true;
	E.ctx.now_us += 1;
	tcp_app_listen(&E.ctx, &E.s, 8);
	ck_assert_ptr_null(peer_syn(40002, 3000, true));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_noslot, 1);
	ck_assert_int_eq(fake_ntx, 0);
}
END_TEST

START_TEST(listen_close_resets_queued_children)
{
	struct tcb *a, *b, *c;
	struct dp_sock *as, *bs, *cs;
	int i, rsts = 0;

	listen_on(4);
	a = peer_syn(40000, 1000, true);
	b = peer_syn(40001, 2000, true);
	c = peer_syn(40002, 3000, false);
	as = a->s;
	bs = b->s;
	cs = c->s;
	peer_final_ack(40000, a, NULL, 0);
	peer_final_ack(40001, b, NULL, 0);
	E.sh->rx_cons = 8; /* the app accepted A only */
	fake_ntx = 0;
	tcp_app_close(&E.ctx, &E.s);
	/* B (queued) and C (half-open) are reset; A is the app's */
	for (i = 0; i < fake_ntx; i++) {
		const struct fake_seg *f = &fake_tx[i];

		ck_assert(f->seg.h.flags & TCP_RST);
		ck_assert(f->seg.h.dport_be == htons(40001) || f->seg.h.dport_be == htons(40002));
		rsts++;
	}
	ck_assert_int_eq(rsts, 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_child_reset, 2);
	ck_assert_uint_eq(bs->sh->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_FREE);
	ck_assert_ptr_null(child_of(40001));
	ck_assert_ptr_null(child_of(40002));
	ck_assert_uint_eq(as->sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_ptr_eq(child_of(40000), a);
	ck_assert_int_eq(fake_released, 3); /* B, C and the listener */
	/* the port has no listener: a SYN draws a RST */
	fake_ntx = 0;
	ck_assert_ptr_null(peer_syn(40005, 7000, false));
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.ack, 7001);
	/* A holds the port it inherited: no plain bind() gets it */
	ck_assert_uint_eq(E.ctx.tcp->port_users[LPORT], 1);
}
END_TEST

START_TEST(listen_unaccepted_child_reset_on_exit)
{
	struct tcb *a;
	struct dp_sock *as;

	/* app_detach() closes every slot: a child the app never took is reset */
	listen_on(4);
	a = peer_syn(40000, 1000, true);
	as = a->s;
	peer_final_ack(40000, a, NULL, 0);
	fake_ntx = 0;
	as->app_closed = true;
	tcp_app_close(&E.ctx, as);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(as->sh->state, SHUNT_SS_FREE);
	ck_assert_ptr_null(child_of(40000));
	/* a RST to a half-open child drops it silently (back to LISTEN) */
	a = peer_syn(40001, 2000, false);
	as = a->s;
	fake_ntx = 0;
	E.pport_be = htons(40001);
	env_peer(&E, TCP_RST, 2001, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(as->sh->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_LISTEN);
}
END_TEST

START_TEST(listen_broken_ring_stops_listening)
{
	struct tcb *a;
	struct dp_sock *as;

	/* appfuzz seed 1: an app that writes an impossible rx_cons on a listener
	 * has it reset; it must leave the port's list, not stay there CLOSED (a
	 * later connect() moved its port, and a SYN then reached the freed tcb) */
	listen_on(4);
	a = peer_syn(40000, 1000, true);
	as = a->s;
	E.sh->rx_cons = 12345; /* not a record boundary, more than was queued */
	fake_ntx = 0;
	tcp_app_recvd(&E.ctx, &E.s);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_app_broken, 1);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_ptr_null(tcp_listen_lookup(E.ctx.tcp, E.ctx.ip_be, htons(LPORT),
					     E.peer_be, htons(40001)));
	/* its half-open child went with it, reset */
	ck_assert_uint_eq(as->sh->state, SHUNT_SS_FREE);
	ck_assert_uint_eq(last_tx()->seg.h.flags & TCP_RST, TCP_RST);
	/* a new SYN to the port draws a RST, no child */
	fake_spawned = 0;
	ck_assert_ptr_null(peer_syn(40001, 2000, false));
	ck_assert_int_eq(fake_spawned, 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
}
END_TEST

START_TEST(listen_synack_retransmit_then_give_up)
{
	static const uint64_t at_s[] = { 1, 3, 7, 15, 31 };
	uint64_t t0 = E.ctx.now_us;
	struct dp_sock *cs;
	struct tcb *c;
	int i;

	listen_on(4);
	c = peer_syn(40000, 1000, true);
	cs = c->s;
	for (i = 0; i < 5; i++) {
		fake_ntx = 0;
		set_time(t0 + at_s[i] * 1000000 - 1);
		ck_assert_int_eq(fake_ntx, 0);
		set_time(t0 + at_s[i] * 1000000);
		ck_assert_int_eq(fake_ntx, 1);
		ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
		ck_assert_uint_eq(last_tx()->seg.h.seq, c->iss);
	}
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_synack_rexmit, 5);
	/* 32 s after the fifth: dropped without a word, slot freed */
	fake_ntx = 0;
	set_time(t0 + 63000000 - 1);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_SYN_RECEIVED);
	set_time(t0 + 63000000);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_FREE);
	ck_assert_ptr_null(child_of(40000));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_synack_timeout, 1);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 0);
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), UINT64_MAX);
}
END_TEST

START_TEST(listen_no_match_gets_rst)
{
	static uint8_t buf[TCP_HDR_MAX];
	struct tcp_hdr_out h = { .sport_be = htons(40000), .dport_be = htons(LPORT),
				 .seq = 1000, .flags = TCP_SYN, .wnd = 1000 };
	int hl;

	/* nobody listens on the port: RST, as before */
	E.pport_be = htons(40000);
	hl = tcp_wire_build(buf, sizeof(buf), &h);
	tcp_input_bytes(&E.ctx, buf, (uint32_t)hl, E.peer_be, E.ctx.ip_be);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.ack, 1001);
	/* a listener bound to our address does not take a SYN sent elsewhere */
	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, E.ctx.ip_be, htons(LPORT), 0), 0);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 4), 0);
	fake_ntx = 0;
	tcp_input_bytes(&E.ctx, buf, (uint32_t)hl, E.peer_be, inet_addr("10.77.0.255"));
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_int_eq(fake_spawned, 0);
	/* ... but one sent to it */
	tcp_input_bytes(&E.ctx, buf, (uint32_t)hl, E.peer_be, E.ctx.ip_be);
	ck_assert_int_eq(fake_spawned, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	/* an ACK to the listener (no such connection) draws <SEQ=SEG.ACK><CTL=RST> */
	h.flags = TCP_ACK;
	h.sport_be = htons(40009);
	h.ack = 4242;
	hl = tcp_wire_build(buf, sizeof(buf), &h);
	tcp_input_bytes(&E.ctx, buf, (uint32_t)hl, E.peer_be, E.ctx.ip_be);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(last_tx()->seg.h.seq, 4242);
}
END_TEST

/* ---- SYN cookies (tcp_syncookie.c, listen_cookie_syn/ack) ------------------------ */

/* A SYN from pport while the SYN queue is full: no child, one SYN-ACK (returned)
 * whose ISN is a cookie. o: the SYN's options (NULL: none). */
static const struct fake_seg *cookie_syn(uint16_t pport, uint32_t irs, const struct popt *o)
{
	int n = fake_ntx, spawned = fake_spawned;

	E.pport_be = htons(pport);
	env_peer(&E, TCP_SYN, irs, 0, o, NULL, 0);
	ck_assert_ptr_null(child_of(pport));
	ck_assert_int_eq(fake_spawned, spawned);
	ck_assert_int_eq(fake_ntx, n + 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.ack, irs + 1);
	return last_tx();
}

/* The peer's ACK completing a cookie handshake (tsecr echoes the SYN-ACK if ts). */
static void cookie_ack(uint16_t pport, uint32_t irs, uint32_t cookie, bool ts, uint32_t tsecr,
		       const void *d, uint32_t len)
{
	struct popt o = { .wnd = 1000, .ts = ts, .tsval = 800, .tsecr = tsecr };

	E.pport_be = htons(pport);
	env_peer(&E, TCP_ACK | (len ? TCP_PSH : 0), irs + 1, cookie + 1, &o, d, len);
}

START_TEST(syncookie_make_check)
{
	static const uint16_t mss_in[] = { 0, 100, 536, 1299, 1300, 1439, 1440, 1459, 1460, 9000 };
	static const uint16_t mss_out[] = { 536, 536, 536, 536, 1300, 1300, 1440, 1440, 1460, 1460 };
	struct tcp_stack *ts = E.ctx.tcp;
	uint32_t a = E.peer_be, b = E.ctx.ip_be, c1, c2;
	uint16_t p = htons(40000), q = htons(LPORT), m;
	uint64_t t0 = 1000000; /* minute 0 */
	unsigned i;

	for (i = 0; i < sizeof(mss_in) / sizeof(mss_in[0]); i++) {
		m = mss_in[i];
		c1 = tcp_syncookie_make(ts, a, p, b, q, 5000, &m, t0);
		ck_assert_uint_eq(m, mss_out[i]);
		ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1, t0), mss_out[i]);
	}
	m = 1460;
	c1 = tcp_syncookie_make(ts, a, p, b, q, 5000, &m, t0);
	/* good this minute and the next (MAX_SYNCOOKIE_AGE 2), not after */
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1, 120000000 - 1), 1460);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1, 120000000), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1, t0 + 180000000), 0);
	/* bound to the 4-tuple, the peer's ISN and itself */
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, htons(40001), b, q, 5000, c1, t0), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, htons(81), 5000, c1, t0), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a + 1, p, b, q, 5000, c1, t0), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 4999, c1, t0), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5100, c1, t0), 0);
	/* as in Linux, the peer's ISN is added: one more is one index less */
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5001, c1, t0), 1440);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1 + 1, t0), 0);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1 ^ 0x80000000u, t0), 0);
	/* keyed: another secret makes another cookie */
	ts->cookie_key[1][0] ^= 1;
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c1, t0), 0);
	ts->cookie_key[1][0] ^= 1;
	m = 1460;
	c2 = tcp_syncookie_make(ts, a, p, b, q, 5000, &m, t0 + 60000000);
	ck_assert_uint_ne(c1, c2);
	ck_assert_uint_eq(tcp_syncookie_check(ts, a, p, b, q, 5000, c2, t0 + 60000000), 1460);

	/* TSval: the shift in the low 4 bits, SACK in bit 4, never ahead of the clock */
	ck_assert_uint_eq(tcp_syncookie_tsval(1000, 7, false, false), 967);      /* 1000 & ~63 = 960 */
	ck_assert_uint_eq(tcp_syncookie_tsval(1000, 15, false, false), 975);
	ck_assert_uint_eq(tcp_syncookie_tsval(1031, 3, false, false), 1027);
	ck_assert_uint_eq(tcp_syncookie_tsval(967, 7, false, false), 967);
	ck_assert_uint_eq(tcp_syncookie_ts_ws(967), 7);
	ck_assert(!tcp_syncookie_ts_sack(967));
	ck_assert_uint_eq(tcp_syncookie_tsval(1000, 7, true, false), 983); /* 960 | 16 | 7 */
	ck_assert(tcp_syncookie_ts_sack(983));
	ck_assert_uint_eq(tcp_syncookie_ts_ws(983), 7);
	ck_assert_uint_eq(tcp_syncookie_ts_ws(tcp_syncookie_tsval(5, TCP_SYNCOOKIE_NO_WS,
								  false, false)),
			  TCP_SYNCOOKIE_NO_WS);
	ck_assert_uint_eq(tcp_syncookie_tsval(5, 14, false, false), (uint32_t)(14 - 64));
}
END_TEST

START_TEST(syncookie_only_when_synq_full)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .ws = true,
			  .wscale = 7 };
	const struct fake_seg *f;
	uint16_t mss = 1460;
	struct tcb *a;

	listen_on(0); /* one half-open child fills the SYN queue */
	a = peer_syn(40000, 1000, true);
	ck_assert_ptr_nonnull(a);
	/* not full: the ordinary SYN-ACK, with state and an RFC 6528 ISN */
	ck_assert_uint_eq(last_tx()->seg.h.seq, tcp_isn(E.ctx.tcp, E.ctx.ip_be, htons(LPORT),
							E.peer_be, htons(40000), E.ctx.now_us));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 0);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 1);

	/* full: a SYN cookie, no child, no slot, no timer */
	E.ctx.now_us += 1500;
	f = cookie_syn(40001, 2000, &o);
	ck_assert_uint_eq(f->seg.h.seq, tcp_syncookie_make(E.ctx.tcp, E.peer_be, htons(40001),
							   E.ctx.ip_be, htons(LPORT), 2000,
							   &mss, E.ctx.now_us));
	ck_assert_uint_eq(f->seg.src_be, E.ctx.ip_be);
	ck_assert_uint_eq(f->seg.dst_be, E.peer_be);
	ck_assert_uint_eq(ntohs(f->seg.h.sport_be), LPORT);
	ck_assert_uint_eq(ntohs(f->seg.h.dport_be), 40001);
	ck_assert_uint_eq(f->seg.h.mss, 1460); /* ours, as in any SYN-ACK */
	ck_assert_uint_eq(f->seg.h.wnd, 65535);
	ck_assert(f->seg.h.has_ts);
	ck_assert_uint_eq(f->seg.h.tsecr, 700);
	ck_assert_uint_eq(f->seg.h.tsval, tcp_syncookie_tsval(1001, 7, false, false));
	ck_assert_uint_eq(f->seg.h.tsval & 0x3f, 7);
	ck_assert(f->seg.h.has_ws);
	ck_assert_uint_eq(f->seg.h.ws, 3); /* the 256 KiB ring of the listener's process */
	ck_assert(!f->seg.h.sack_ok);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_synq, 0);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 1);
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), a->deadline);
	/* without timestamps: no window scaling offered (it could not come back) */
	f = cookie_syn(40002, 3000, NULL);
	ck_assert(!f->seg.h.has_ts && !f->seg.h.has_ws);
	ck_assert_uint_eq(f->seg.h.mss, 1460);
	o.ts = false;
	f = cookie_syn(40003, 4000, &o);
	ck_assert(!f->seg.h.has_ts && !f->seg.h.has_ws);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 3);
	/* the half-open child's SYN again is its SYN-ACK again, not a cookie */
	E.pport_be = htons(40000);
	env_peer(&E, TCP_SYN, 1000, 0, NULL, NULL, 0);
	ck_assert_uint_eq(last_tx()->seg.h.seq, a->iss);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 3);
}
END_TEST

START_TEST(syncookie_ack_establishes_child)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .ws = true,
			  .wscale = 7 };
	const struct fake_seg *f;
	struct shunt_accept rec;
	uint32_t cookie, tsval;
	struct dp_sock *cs;
	struct tcb *c;

	listen_on(0);
	ck_assert_ptr_nonnull(peer_syn(40000, 1000, true));
	f = cookie_syn(40001, 2000, &o);
	cookie = f->seg.h.seq;
	tsval = f->seg.h.tsval;
	ck_assert_uint_eq(E.s.rx_prod, 0);
	/* 90 s later (the next minute): still good */
	E.ctx.now_us += 90000000;
	fake_ntx = 0;
	cookie_ack(40001, 2000, cookie, true, tsval, "hello", 5);
	c = child_of(40001);
	ck_assert_ptr_nonnull(c);
	cs = c->s;
	ck_assert_uint_eq(c->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(cs->sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_conn_established, 1);
	/* the handshake from the cookie: numbers, MSS 1460 (less the timestamp), the
	 * peer's shift from TSecr, ours as the SYN-ACK said */
	ck_assert_uint_eq(c->iss, cookie);
	ck_assert_uint_eq(c->irs, 2000);
	ck_assert_uint_eq(c->snd_una, cookie + 1);
	ck_assert_uint_eq(c->rcv_nxt, 2001 + 5);
	ck_assert_uint_eq(c->mss, 1448);
	ck_assert(c->ts_ok && c->ws_ok);
	ck_assert_uint_eq(c->snd_ws, 7);
	ck_assert_uint_eq(c->rcv_ws, 3);
	ck_assert_uint_eq(c->snd_wnd, 1000u << 7);
	ck_assert_uint_eq(c->ts_recent, 800);
	ck_assert(!tcp_timer_armed(c, TCP_T_REXMIT));
	/* announced: one record naming the child's slot */
	ck_assert_uint_eq(E.s.rx_prod, 8);
	rec = acc_record(0);
	ck_assert_uint_eq(rec.sock, cs->idx);
	ck_assert_uint_eq(rec.gen, cs->gen);
	ck_assert_uint_eq(cs->sh->local.addr, E.ctx.ip_be);
	ck_assert_uint_eq(ntohs(cs->sh->local.port), LPORT);
	ck_assert_uint_eq(cs->sh->remote.addr, E.peer_be);
	ck_assert_uint_eq(ntohs(cs->sh->remote.port), 40001);
	ck_assert(cs->sh->flags & SHUNT_SF_BOUND);
	/* the data on the ACK is in the child's ring; nothing sent yet (delayed ACK) */
	ck_assert_uint_eq(cs->sh->rx_prod, 5);
	ck_assert_int_eq(memcmp(cs->rx_buf, "hello", 5), 0);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_child, 1);

	/* the app takes it; it sends as any connection, at cookie + 1 */
	E.sh->rx_cons = 8;
	ck_assert(!tcp_listen_unaccepted(c));
	cs->sh->rx_cons = 5;
	tcp_app_close(&E.ctx, cs);
	ck_assert_uint_eq(last_tx()->seg.h.flags & (TCP_FIN | TCP_RST), TCP_FIN);
	ck_assert_uint_eq(last_tx()->seg.h.seq, cookie + 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, 2006);
	ck_assert(last_tx()->seg.h.has_ts);

	/* no timestamps, MSS 1400: MSS 1300 from the cookie, no scaling */
	o = (struct popt){ .wnd = 5000, .mss = 1400, .ws = true, .wscale = 7 };
	f = cookie_syn(40002, 3000, &o);
	cookie = f->seg.h.seq;
	cookie_ack(40002, 3000, cookie, false, 0, NULL, 0);
	c = child_of(40002);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(c->mss, 1300);
	ck_assert(!c->ts_ok && !c->ws_ok);
	ck_assert_uint_eq(c->rcv_ws, 0);
	ck_assert_uint_eq(c->snd_ws, 0);
	ck_assert_uint_eq(c->snd_wnd, 1000);
	ck_assert_uint_eq(acc_record(1).sock, c->s->idx);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 0);
	/* the same ACK again is the child's now, not a second child */
	cookie_ack(40002, 3000, cookie, false, 0, NULL, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 2);
	ck_assert_uint_eq(E.s.rx_prod, 16);
}
END_TEST

START_TEST(syncookie_bad_ack_gets_rst)
{
	struct popt o = { .wnd = 64240, .mss = 1460 };
	uint32_t cookie;
	uint64_t t0, i;

	listen_on(0);
	/* no cookie sent yet: an ACK is only "bad in LISTEN", not a failed cookie */
	E.pport_be = htons(40009);
	env_peer(&E, TCP_ACK, 1, 4242, NULL, NULL, 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 0);

	ck_assert_ptr_nonnull(peer_syn(40000, 1000, false));
	t0 = E.ctx.now_us;
	cookie = cookie_syn(40001, 2000, &o)->seg.h.seq;
	/* a wrong cookie: RST <SEQ=SEG.ACK>, no child */
	fake_ntx = 0;
	cookie_ack(40001, 2000, cookie + 1, false, 0, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(last_tx()->seg.h.seq, cookie + 2);
	ck_assert_uint_eq(ntohs(last_tx()->seg.h.dport_be), 40001);
	ck_assert_ptr_null(child_of(40001));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 1);
	/* another 4-tuple's cookie, or the right one with another SEG.SEQ */
	cookie_ack(40002, 2000, cookie, false, 0, NULL, 0);
	ck_assert_ptr_null(child_of(40002));
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	cookie_ack(40001, 1999, cookie, false, 0, NULL, 0);
	ck_assert_ptr_null(child_of(40001));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 3);
	ck_assert_int_eq(fake_spawned, 1);

	/* 3 minutes on (the half-open child timed out meanwhile): new cookies keep
	 * the listener checking, and the old cookie is too old */
	for (i = 1; i <= 180; i++)
		set_time(t0 + i * 1000000);
	ck_assert_uint_eq(env_tcb(&E)->syn_qlen, 0);
	ck_assert_ptr_nonnull(peer_syn(40003, 5000, false));
	(void)cookie_syn(40004, 6000, &o);
	fake_ntx = 0;
	cookie_ack(40001, 2000, cookie, false, 0, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(last_tx()->seg.h.seq, cookie + 1);
	ck_assert_ptr_null(child_of(40001));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 4);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 0);
	/* 2 minutes after the last cookie went out, ACKs are not checked any more:
	 * the RST of LISTEN, not a failed cookie */
	set_time(E.ctx.now_us + 120000001);
	cookie_ack(40001, 2000, cookie, false, 0, NULL, 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_failed, 4);
	ck_assert_int_eq(fake_spawned, 2);
}
END_TEST

START_TEST(syncookie_acceptq_full_drops_ack)
{
	struct popt o = { .wnd = 64240, .mss = 1460 };
	uint32_t cookie;
	struct tcb *a, *c;

	listen_on(0);
	a = peer_syn(40000, 1000, false);
	cookie = cookie_syn(40001, 2000, &o)->seg.h.seq;
	/* A completes: its record waits, and with backlog 0 the queue is full */
	peer_final_ack(40000, a, NULL, 0);
	ck_assert_uint_eq(a->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.s.rx_prod, 8);
	/* the cookie ACK is good but dropped, silently, as a child's would be */
	fake_ntx = 0;
	cookie_ack(40001, 2000, cookie, false, 0, "x", 1);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_ptr_null(child_of(40001));
	ck_assert_int_eq(fake_spawned, 1);
	ck_assert_uint_eq(E.s.rx_prod, 8);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_listen_drop_ack_full, 1);
	/* the app accepts A: the retransmitted ACK makes the child */
	E.sh->rx_cons = 8;
	cookie_ack(40001, 2000, cookie, false, 0, "x", 1);
	c = child_of(40001);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.s.rx_prod, 16);
	ck_assert_uint_eq(acc_record(1).sock, c->s->idx);
	ck_assert_uint_eq(c->s->sh->rx_prod, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 2);
}
END_TEST

/* ---- timers ------------------------------------------------------------------------ */

START_TEST(syn_retransmit_backoff_timeout)
{
	static const uint64_t at_s[] = { 1, 3, 7, 15, 31, 63 };
	uint64_t t0 = E.ctx.now_us;
	unsigned i;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	for (i = 0; i < 6; i++) {
		ck_assert_uint_eq(tcp_next_deadline(&E.ctx), t0 + at_s[i] * 1000000);
		set_time(t0 + at_s[i] * 1000000 - 1);
		ck_assert_int_eq(fake_ntx, 1 + (int)i);
		set_time(t0 + at_s[i] * 1000000);
		ck_assert_int_eq(fake_ntx, 2 + (int)i);
		ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN);
		ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss);
	}
	set_time(t0 + 127000000 - 1);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_SYN_SENT);
	set_time(t0 + 127000000);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
	ck_assert_int_eq(fake_ntx, 7); /* no RST on timeout */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_conn_timeout, 1);
}
END_TEST

START_TEST(syn_retransmit_syncnt)
{
	uint64_t t0 = E.ctx.now_us;

	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_SYNCNT, 2), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_SYNCNT, 0), -EINVAL);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	set_time(t0 + 1000000);
	set_time(t0 + 3000000);
	ck_assert_int_eq(fake_ntx, 3);
	set_time(t0 + 7000000 - 1);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_SYN_SENT);
	set_time(t0 + 7000000);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
}
END_TEST

START_TEST(rto_retransmit_and_backoff)
{
	uint64_t t0;
	struct tcb *t;

	env_establish(&E, 100000); /* rto = 100 + 4 * 50 = 300 ms */
	t = env_tcb(&E);
	ck_assert_uint_eq(t->rto_us, 300000);
	t0 = E.ctx.now_us;
	env_app_write(&E, 1000, 9);
	ck_assert_int_eq(fake_ntx, 1);
	set_time(t0 + 299999);
	ck_assert_int_eq(fake_ntx, 1);
	set_time(t0 + 300000);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	check_payload(last_tx(), 1000, 9);
	ck_assert_uint_eq(t->cwnd, 1448);         /* RFC 5681 loss window */
	ck_assert_uint_eq(t->ssthresh, 2 * 1448); /* max(flight / 2, 2 SMSS) */
	ck_assert_uint_eq(t->rto_us, 600000);     /* backed off */
	ck_assert_uint_eq(E.sh->retrans, 1);
	set_time(t0 + 300000 + 599999);
	ck_assert_int_eq(fake_ntx, 2);
	set_time(t0 + 900000);
	ck_assert_int_eq(fake_ntx, 3);
	ck_assert_uint_eq(t->rto_us, 1200000);
	peer_ack(E.iss + 1001);
	ck_assert_uint_eq(E.sh->tx_cons, 1000);
	ck_assert(!tcp_timer_armed(t, TCP_T_REXMIT));
	ck_assert_uint_eq(t->nrexmit, 0);
}
END_TEST

/* TCP_CONGESTION: the stack's default published at open, the option switches it
 * (an id shunt lacks is -ENOENT and changes nothing); an RTO takes ssthresh from
 * the algorithm once per loss (cubic: cwnd * 717 / 1024), backed-off RTOs of
 * the same head keep it (Linux tcp_enter_loss()). */
START_TEST(congestion_option_and_rto)
{
	uint64_t t0;
	struct tcb *t = env_tcb(&E);

	ck_assert_uint_eq(E.sh->cc, SHUNT_CC_RENO); /* env's conf: reno */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, SHUNT_CC_CUBIC), 0);
	ck_assert_uint_eq(E.sh->cc, SHUNT_CC_CUBIC);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, SHUNT_CC_NONE),
			 -ENOENT);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, 1ull << 32), -ENOENT);
	ck_assert_uint_eq(E.sh->cc, SHUNT_CC_CUBIC);
	env_establish(&E, 100000);
	ck_assert_uint_eq(t->cc, SHUNT_CC_CUBIC);
	t0 = E.ctx.now_us;
	env_app_write(&E, 1000, 9);
	set_time(t0 + 300000);
	ck_assert_uint_eq(t->cwnd, 1448);
	ck_assert_uint_eq(t->ssthresh, 10u * 1448 * 717 / 1024);
	set_time(t0 + 900000); /* backed off: the same loss */
	ck_assert_uint_eq(t->rto_us, 1200000);
	ck_assert_uint_eq(t->ssthresh, 10u * 1448 * 717 / 1024);
	/* switched on a connection: cwnd and ssthresh stay */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_CONGESTION, SHUNT_CC_RENO), 0);
	ck_assert(t->cwnd == 1448 && t->ssthresh == 10u * 1448 * 717 / 1024);
	ck_assert_uint_eq(E.sh->cc, SHUNT_CC_RENO);
}
END_TEST

/* the stack's default: the `congestion` key (conf) for every new socket */
START_TEST(congestion_default_from_conf)
{
	E.conf.congestion = SHUNT_CC_CUBIC;
	tcp_fini(&E.ctx);
	ck_assert_int_eq(tcp_init(&E.ctx), 0);
	E.s.pcb = NULL;
	ck_assert_int_eq(tcp_open(&E.ctx, &E.s), 0);
	ck_assert_uint_eq(E.sh->cc, SHUNT_CC_CUBIC);
	ck_assert_uint_eq(env_tcb(&E)->cc, SHUNT_CC_CUBIC);
}
END_TEST

START_TEST(rtt_estimate_rfc6298)
{
	struct tcb *t;
	struct popt o;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	ck_assert_uint_eq(t->srtt_us, 100000);
	ck_assert_uint_eq(t->rttvar_us, 50000);
	env_app_write(&E, 1000, 0);
	o = pts(512);
	o.tsecr = last_tx()->seg.h.tsval;
	E.ctx.now_us += 200000; /* R' = 200 ms */
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1001, &o, NULL, 0);
	/* RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5 ms; SRTT = 7/8 * 100 + 1/8 * 200 */
	ck_assert_uint_eq(t->rttvar_us, 62500);
	ck_assert_uint_eq(t->srtt_us, 112500);
	ck_assert_uint_eq(t->rto_us, 112500 + 4 * 62500);
	ck_assert_uint_eq(E.sh->rto_us, 362500);
}
END_TEST

START_TEST(info_published_at_most_every_10ms)
{
	struct tcb *t;
	uint32_t cwnd0;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1);
	env_advance(&E, TCB_INFO_PERIOD_US); /* past the handshake's publication */
	env_app_write(&E, 1000, 0);
	peer_ack(E.iss + 1 + 1000);         /* publishes: due */
	cwnd0 = E.sh->snd_cwnd;
	ck_assert_uint_eq(cwnd0, t->cwnd);
	env_app_write(&E, 1000, 0);
	peer_ack(E.iss + 1 + 2000);         /* cwnd grew, but within 10 ms: not written */
	ck_assert_uint_ne(t->cwnd, cwnd0);
	ck_assert_uint_eq(E.sh->snd_cwnd, cwnd0);
	env_advance(&E, TCB_INFO_PERIOD_US);
	env_app_write(&E, 1000, 0);
	peer_ack(E.iss + 1 + 3000);
	ck_assert_uint_eq(E.sh->snd_cwnd, t->cwnd);
}
END_TEST

static void keepalive_on(uint64_t idle_s, uint64_t intvl_s, uint64_t cnt)
{
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPIDLE, idle_s), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPINTVL, intvl_s), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPCNT, cnt), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPALIVE, 1), 0);
}

START_TEST(keepalive_probes_then_resets)
{
	uint64_t t0;

	env_establish(&E, 100000);
	keepalive_on(10, 2, 3);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPCNT, 0), -EINVAL);
	t0 = env_tcb(&E)->last_rx_us;
	fake_ntx = 0;
	set_time(t0 + 9999999);
	ck_assert_int_eq(fake_ntx, 0);
	/* idle 10 s: a probe at snd_una - 1, then every 2 s */
	set_time(t0 + 10000000);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss);
	ck_assert_uint_eq(last_tx()->seg.len, 0);
	set_time(t0 + 12000000);
	set_time(t0 + 14000000);
	ck_assert_int_eq(fake_ntx, 3);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	/* three unanswered: RST and ETIMEDOUT at the next interval, as Linux */
	set_time(t0 + 16000000);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
	ck_assert(last_tx()->seg.h.flags & TCP_RST);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_keepalive_probe, 3);
}
END_TEST

START_TEST(keepalive_answered_keeps_connection)
{
	uint64_t t;
	int i;

	env_establish(&E, 100000);
	keepalive_on(10, 2, 2);
	t = E.ctx.now_us;
	for (i = 0; i < 5; i++) {
		t += 10000000;
		set_time(t);
		ck_assert_uint_eq(last_tx()->seg.len, 0); /* a probe went out */
		peer_ack(E.iss + 1);                      /* and is answered */
	}
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_keepalive_probe, 5);
	/* off: no more probes */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_KEEPALIVE, 0), 0);
	ck_assert(!tcp_timer_armed(env_tcb(&E), TCP_T_KEEP));
}
END_TEST

START_TEST(rto_floor_is_200ms)
{
	env_establish(&E, 1000); /* 1 ms RTT: 1 + 4 * 0.5 = 3 ms, floored */
	ck_assert_uint_eq(env_tcb(&E)->rto_us, 200000);
}
END_TEST

START_TEST(fast_retransmit_newreno)
{
	struct tcb *t;
	int before;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	env_app_write(&E, 10 * 1448, 0);
	ck_assert_int_eq(fake_ntx, 10);
	peer_ack(E.iss + 1 + 1448);
	before = fake_ntx;
	peer_ack(E.iss + 1 + 1448);
	peer_ack(E.iss + 1 + 1448);
	ck_assert_int_eq(fake_ntx, before);
	peer_ack(E.iss + 1 + 1448); /* third duplicate */
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1 + 1448);
	ck_assert_uint_eq(last_tx()->seg.len, 1448);
	ck_assert(t->in_recovery);
	ck_assert_uint_eq(t->ssthresh, 9 * 1448 / 2);
	ck_assert_uint_eq(t->cwnd, 9 * 1448 / 2 + 3 * 1448);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_fast_rexmit, 1);
	/* partial ACK: the next hole goes at once */
	peer_ack(E.iss + 1 + 3 * 1448);
	ck_assert_int_eq(fake_ntx, before + 2);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1 + 3 * 1448);
	ck_assert(t->in_recovery);
	/* full ACK ends recovery: cwnd = min(ssthresh, flight + SMSS) */
	peer_ack(E.iss + 1 + 10 * 1448);
	ck_assert(!t->in_recovery);
	ck_assert_uint_eq(t->cwnd, 1448);
	ck_assert_uint_eq(E.sh->tx_cons, 10 * 1448);
}
END_TEST

/* ---- SACK on the send side (RFC 2018, RFC 6675) ------------------------------------ */

#define SMSS 1448u
/* Our sequence number k segments after the SYN. */
#define SQ(k) (E.iss + 1 + (uint32_t)((k) * SMSS))

/* Pure ACK from the peer with n SACK blocks {left, right}. */
static void peer_sack(uint32_t ack, uint8_t n, const uint32_t (*blk)[2])
{
	struct popt o = pts(512);

	o.nsack = n;
	if (n)
		memcpy(o.sack_blk, blk, n * sizeof(*blk));
	env_peer(&E, TCP_ACK, E.pnxt, ack, &o, NULL, 0);
}

/* A peer with SACK, ten full segments in flight (NODELAY), nothing acked yet. */
static struct tcb *sack_ten_out(void)
{
	E.peer_sack = true;
	env_establish(&E, 100000);
	ck_assert(env_tcb(&E)->sack_ok);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	env_app_write(&E, 10 * SMSS, 0);
	ck_assert_int_eq(fake_ntx, 10);
	/* their ACKs come a round trip later (RACK times them; the probe timeout,
	 * 2 RTT, is not due yet) */
	env_advance(&E, 100000);
	return env_tcb(&E);
}

static void check_range(const struct tcb *t, int i, uint32_t start, uint32_t end)
{
	ck_assert_int_lt(i, t->n_sacked);
	ck_assert_uint_eq(t->sacked[i].start, start);
	ck_assert_uint_eq(t->sacked[i].end, end);
}

/* No segment sent from index first on overlaps [a, b) (what the peer SACKed). */
static void check_not_resent(int first, uint32_t a, uint32_t b)
{
	for (int i = first; i < fake_ntx; i++) {
		const struct fake_seg *f = &fake_tx[i];
		uint32_t s = f->seg.h.seq, e = s + f->seg.len;

		if (f->seg.len == 0)
			continue;
		ck_assert_msg(SEQ_LEQ(e, a) || SEQ_GEQ(s, b),
			      "segment %d [%u, %u) resends SACKed [%u, %u)", i, s - E.iss,
			      e - E.iss, a - E.iss, b - E.iss);
	}
}

/* The scoreboard: blocks merge and bridge, out-of-window blocks and D-SACKs add
 * nothing, an ACK trims it, an ACK that stops at SACKed data (reneging) clears it,
 * and a full board gives up its highest range. */
START_TEST(sack_scoreboard)
{
	struct tcb *t = sack_ten_out();
	struct tcp_seg seg;
	int i;

	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	ck_assert_uint_eq(t->snd_una, SQ(1));
	ck_assert_uint_eq(t->n_sacked, 1);
	check_range(t, 0, SQ(2), SQ(3));
	peer_sack(SQ(1), 2, (const uint32_t[][2]){ { SQ(5), SQ(6) }, { SQ(2), SQ(3) } });
	ck_assert_uint_eq(t->n_sacked, 2);
	check_range(t, 1, SQ(5), SQ(6));
	/* a block touching both neighbours merges the three */
	peer_sack(SQ(1), 2, (const uint32_t[][2]){ { SQ(3), SQ(5) }, { SQ(2), SQ(6) } });
	ck_assert_uint_eq(t->n_sacked, 1);
	check_range(t, 0, SQ(2), SQ(6));
	/* ... which the second block already covered: the first was a D-SACK */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_dsack_rx, 1);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(7), SQ(8) } });
	/* a block straddling a range and a hole, partly inside another */
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(5) + 100, SQ(7) + 100 } });
	ck_assert_uint_eq(t->n_sacked, 1);
	check_range(t, 0, SQ(2), SQ(8));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_blocks_rx, 7);

	/* outside (SEG.ACK, snd_max]: past what we sent, at the ACK, empty, reversed
	 * (3 blocks fit beside a timestamp) */
	peer_sack(SQ(1), 3, (const uint32_t[][2]){ { SQ(9), SQ(10) + 1 }, { SQ(1), SQ(1) + 10 },
						{ SQ(9), SQ(9) } });
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(9) + 10, SQ(9) } });
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_ignored, 4);
	ck_assert_uint_eq(t->n_sacked, 1);
	check_range(t, 0, SQ(2), SQ(8));
	/* a D-SACK below the ACK: counted, nothing SACKed, not a duplicate ACK */
	i = t->dupacks;
	peer_sack(SQ(1), 2, (const uint32_t[][2]){ { SQ(0), SQ(1) }, { SQ(2), SQ(8) } });
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_dsack_rx, 2);
	ck_assert_int_eq(t->dupacks, i);
	check_range(t, 0, SQ(2), SQ(8));

	/* the hole is filled: the ACK takes the range away */
	peer_sack(SQ(8), 0, NULL);
	ck_assert_uint_eq(t->n_sacked, 0);
	peer_sack(SQ(8), 1, (const uint32_t[][2]){ { SQ(9), SQ(10) } });
	check_range(t, 0, SQ(9), SQ(10));
	/* an ACK that stops where SACKed data starts: the peer reneged */
	peer_sack(SQ(9), 0, NULL);
	ck_assert_uint_eq(t->n_sacked, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_reneging, 1);

	/* 17 disjoint one-byte blocks: the 17th, above all, is not kept; one lower
	 * down pushes out the highest */
	memset(&seg, 0, sizeof(seg));
	seg.flags = TCP_ACK;
	seg.ack = t->snd_una;
	for (i = 0; i < TCP_SACKED_MAX + 1; i++) {
		seg.nsack = 1;
		seg.sack[0][0] = t->snd_una + 20 + 20 * (uint32_t)i;
		seg.sack[0][1] = seg.sack[0][0] + 1;
		tcp_sack_update(&E.ctx, t, &seg);
	}
	ck_assert_uint_eq(t->n_sacked, TCP_SACKED_MAX);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_full, 1);
	check_range(t, TCP_SACKED_MAX - 1, t->snd_una + 20 * TCP_SACKED_MAX,
		    t->snd_una + 20 * TCP_SACKED_MAX + 1);
	seg.sack[0][0] = t->snd_una + 10;
	seg.sack[0][1] = t->snd_una + 11;
	ck_assert_uint_eq(tcp_sack_update(&E.ctx, t, &seg), 1);
	ck_assert_uint_eq(t->n_sacked, TCP_SACKED_MAX);
	check_range(t, 0, t->snd_una + 10, t->snd_una + 11);
	check_range(t, TCP_SACKED_MAX - 1, t->snd_una + 20 * (TCP_SACKED_MAX - 1),
		    t->snd_una + 20 * (TCP_SACKED_MAX - 1) + 1);
}
END_TEST

/* RFC 6675 with one segment lost out of ten: the third duplicate ACK (which also
 * makes IsLost true) retransmits the hole and nothing else; then pipe decides:
 * new data goes only as SACKs take segments out of the network (PRR, RFC 6937: in
 * proportion to what they deliver), never a SACKed
 * byte; the ACK of RecoveryPoint ends recovery. */
START_TEST(sack_recovery_hole_pipe_exit)
{
	struct tcb *t = sack_ten_out();
	int before;

	peer_sack(SQ(1), 0, NULL);                 /* segment 0 arrives, 1 is lost */
	before = fake_ntx;
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(4) } });
	ck_assert_int_eq(fake_ntx, before);
	ck_assert(!t->in_recovery);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(5) } });
	ck_assert(t->in_recovery);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_recoveries, 1);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(1));
	check_payload(last_tx(), SMSS, (uint8_t)SMSS);
	ck_assert_uint_eq(t->recover, SQ(10));
	ck_assert_uint_eq(t->ssthresh, 9 * SMSS / 2);     /* FlightSize / 2 */
	/* pipe: the retransmission, segments 5..9; PRR (RFC 6937): one SMSS
	 * delivered, half of it may go (ssthresh / RecoverFS), the retransmission
	 * took more: cwnd = pipe */
	ck_assert_uint_eq(tcp_sack_pipe(t), 6 * SMSS);
	ck_assert_uint_eq(t->cwnd, 6 * SMSS);
	ck_assert_uint_eq(t->prr_delivered, SMSS);
	ck_assert_uint_eq(t->prr_out, SMSS);

	/* more data: nothing may go yet */
	env_app_write(&E, 10 * SMSS, 10);
	ck_assert_int_eq(fake_ntx, before + 1);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(6) } });
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(7) } });
	ck_assert_int_eq(fake_ntx, before + 1);     /* 3 delivered: 1.5 SMSS, 1 sent */
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(8) } });
	ck_assert_int_eq(fake_ntx, before + 2);     /* 4 delivered: 2, 1 sent: one more */
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(10));
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(9) } });
	ck_assert_int_eq(fake_ntx, before + 3);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(11));
	check_not_resent(before, SQ(2), SQ(9));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_rexmits, 1);
	ck_assert_uint_eq(t->retrans, 1);

	/* a partial ACK: the retransmission arrived, nothing is SACKed above segment
	 * 9. Nothing sent after it was delivered, so RACK cannot call it lost, and
	 * with SACK Linux does not resend it on NewReno's partial ACK rule either
	 * (tcp_newreno_mark_lost() is for peers without SACK): it is in flight, as
	 * the catch-up ACKs of a reordered flight say of each next segment */
	before = fake_ntx;
	peer_sack(SQ(9), 0, NULL);
	ck_assert(t->in_recovery);
	check_not_resent(before, SQ(0), SQ(12)); /* PRR's room went to new data */
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(12));
	ck_assert_uint_eq(t->retrans, 1);
	/* RecoveryPoint acknowledged: out, cwnd = ssthresh (Linux, with SACK) */
	before = fake_ntx;
	peer_sack(SQ(10), 0, NULL);
	ck_assert(!t->in_recovery);
	ck_assert_uint_eq(t->cwnd, 9 * SMSS / 2);  /* flight was 3 SMSS */
	ck_assert_int_eq(fake_ntx, before + 1);    /* and it sends by cwnd again */
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(13));
	ck_assert_uint_eq(t->n_sacked, 0);
	ck_assert_uint_eq(t->retrans, 1);
}
END_TEST

/* IsLost(snd_una) alone (more than 2 SMSS SACKed above the hole in one ACK) starts
 * recovery without three duplicates; two holes: the lost one first (rule 1), then
 * new data (rule 2), and the hole not yet lost not even when no new data is left
 * (no rule 3, as Linux with RACK). */
START_TEST(sack_recovery_islost_and_rules)
{
	struct tcb *t = sack_ten_out();
	int before = fake_ntx;

	/* a path known to reorder (as after a D-SACK): RACK gives segment 6 a
	 * quarter RTT more before it calls it lost, and RFC 6675's rules decide
	 * meanwhile (rack_lost_holes_in_recovery has it without) */
	t->rack_reord = true;
	env_app_write(&E, SMSS, 10); /* an 11th segment, beyond cwnd */
	ck_assert_int_eq(fake_ntx, before);
	/* holes: segment 0 (lost: 3 segments SACKed above... and more), segment 6
	 * (only segment 7's SMSS above: not lost); 8 and 9 still in flight */
	peer_sack(SQ(0), 2, (const uint32_t[][2]){ { SQ(1), SQ(6) }, { SQ(7), SQ(8) } });
	ck_assert_int_eq(t->dupacks, 1);
	ck_assert(t->in_recovery);
	ck_assert(tcp_sack_is_lost(t, SQ(0)));
	ck_assert(!tcp_sack_is_lost(t, SQ(6)));
	/* segment 0 at once; then cwnd 5 SMSS, pipe: rexmit 1 + hole 6 (not lost) 1
	 * + 8, 9: 4; one segment may go: new data before the hole not lost */
	ck_assert_uint_eq(t->cwnd, 5 * SMSS);
	ck_assert_int_eq(fake_ntx, before + 2);
	ck_assert_uint_eq(fake_tx[before].seg.h.seq, SQ(0));
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(10));
	/* segment 8 SACKed: room for one more and no new data. RFC 6675's rule 3
	 * would resend segment 6, not lost; Linux with RACK does not (most such
	 * resends were spurious: D-SACKs at 1% loss went from 8 to 373 with it), and
	 * segment 6 waits for RACK's reorder window */
	peer_sack(SQ(0), 2, (const uint32_t[][2]){ { SQ(7), SQ(9) }, { SQ(1), SQ(6) } });
	ck_assert_int_eq(fake_ntx, before + 2);
	check_not_resent(before, SQ(1), SQ(6));
	check_not_resent(before, SQ(7), SQ(9));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_rexmits, 1);
}
END_TEST

/* RFC 3042 Limited Transmit with SACK (RFC 6675 5 steps 1-2): the first and the
 * second duplicate ACK each let one new segment out beyond cwnd; the third starts
 * recovery. */
START_TEST(sack_limited_transmit)
{
	struct tcb *t = sack_ten_out();
	int before;

	env_app_write(&E, 4 * SMSS, 10);
	ck_assert_int_eq(fake_ntx, 10);
	peer_sack(SQ(1), 0, NULL);                 /* cwnd 11 SMSS: segments 10, 11 */
	ck_assert_int_eq(fake_ntx, 12);
	before = fake_ntx;
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(12));
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(4) } });
	ck_assert_int_eq(fake_ntx, before + 2);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(13));
	ck_assert(!t->in_recovery);
	/* a duplicate that SACKs nothing new is no duplicate: nothing goes */
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(4) } });
	ck_assert_int_eq(fake_ntx, before + 2);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(5) } });
	ck_assert(t->in_recovery);
	ck_assert_uint_eq(fake_tx[before + 2].seg.h.seq, SQ(1));
	check_not_resent(before, SQ(2), SQ(5));
}
END_TEST

/* An RTO in recovery keeps the scoreboard (RFC 6675 5.1): go-back-N from snd_una
 * resends the holes only, and no new recovery starts before RecoveryPoint. */
START_TEST(sack_rto_skips_sacked)
{
	struct tcb *t = sack_ten_out();
	int before;

	peer_sack(SQ(1), 0, NULL);
	peer_sack(SQ(1), 2, (const uint32_t[][2]){ { SQ(5), SQ(10) }, { SQ(2), SQ(4) } });
	ck_assert(t->in_recovery);
	ck_assert_uint_eq(t->n_sacked, 2);
	before = fake_ntx;
	env_advance(&E, t->rto_us);
	ck_assert(!t->in_recovery);
	ck_assert(t->rto_recover);
	ck_assert_uint_eq(t->n_sacked, 2);
	ck_assert_uint_eq(t->cwnd, SMSS);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(1));
	/* the first hole arrives: the second goes next, then nothing (all else SACKed) */
	peer_sack(SQ(4), 1, (const uint32_t[][2]){ { SQ(5), SQ(10) } });
	ck_assert_int_eq(fake_ntx, before + 2);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(4));
	ck_assert_uint_eq(last_tx()->seg.len, SMSS);
	ck_assert(!t->in_recovery);
	check_not_resent(before, SQ(2), SQ(4));
	check_not_resent(before, SQ(5), SQ(10));
	peer_sack(SQ(10), 0, NULL);
	ck_assert(!t->rto_recover);
	ck_assert_uint_eq(E.sh->tx_cons, 10 * SMSS);
}
END_TEST

/* Segments sent from index first on that start at seq. */
static int count_sent(int first, uint32_t seq)
{
	int n = 0;

	for (int i = first; i < fake_ntx; i++)
		if (fake_tx[i].seg.len != 0 && fake_tx[i].seg.h.seq == seq)
			n++;
	return n;
}

/* RACK (RFC 8985 6.2): one SACKed segment above a hole is enough. Not at once:
 * the hole gets a reordering window (a quarter of the 100 ms RTT) to arrive; then
 * the reorder timer calls it lost and recovery starts, where DupThresh (three
 * SACKed segments) would have waited for two more. */
START_TEST(rack_one_sack_marks_hole_lost)
{
	struct tcb *t = sack_ten_out();
	int before;

	peer_sack(SQ(1), 0, NULL);
	before = fake_ntx;
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	ck_assert(!t->in_recovery);
	ck_assert_int_eq(count_sent(before, SQ(1)), 0);
	ck_assert(tcp_timer_armed(t, TCP_T_LOSS));
	ck_assert(!t->loss_tlp);
	env_advance(&E, 20000);
	ck_assert_int_eq(count_sent(before, SQ(1)), 0); /* still inside the window */
	env_advance(&E, 6000);
	ck_assert(t->in_recovery);
	ck_assert(!tcp_sack_is_lost(t, SQ(1)));         /* RACK's call, not DupThresh's */
	ck_assert_int_eq(count_sent(before, SQ(1)), 1);
	ck_assert_uint_ge(E.ctx.tcp_stats.tcp_rack_lost, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
	check_not_resent(before, SQ(2), SQ(3));
}
END_TEST

/* In recovery RACK has no reordering window: the holes below the highest SACKed
 * segment are all lost as soon as it is SACKed, without DupThresh SACKed segments
 * above each (RFC 6675 would call segment 6 not lost). */
START_TEST(rack_lost_holes_in_recovery)
{
	struct tcb *t = sack_ten_out();
	int before = fake_ntx;

	peer_sack(SQ(0), 2, (const uint32_t[][2]){ { SQ(1), SQ(6) }, { SQ(7), SQ(8) } });
	ck_assert(t->in_recovery);
	ck_assert(!tcp_sack_is_lost(t, SQ(6)));
	ck_assert_int_eq(count_sent(before, SQ(0)), 1);
	ck_assert_int_eq(count_sent(before, SQ(6)), 1);
	check_not_resent(before, SQ(1), SQ(6));
	check_not_resent(before, SQ(7), SQ(8));
}
END_TEST

/* A lost retransmission (RFC 8985 6.2): new data sent after the retransmission
 * is SACKed a round trip later while the retransmitted hole is not: it is sent
 * again at once, where RFC 6675 (each hole once per recovery) waits for the RTO. */
START_TEST(rack_lost_retransmission)
{
	struct tcb *t = sack_ten_out();
	int before, mid;

	env_app_write(&E, 10 * SMSS, 10);
	peer_sack(SQ(1), 0, NULL);
	before = fake_ntx;
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(5) } });
	ck_assert(t->in_recovery);
	ck_assert_int_eq(count_sent(before, SQ(1)), 1);
	/* more SACKs let new data out behind the retransmission (the ACK of
	 * segment 0 had let 10 and 11 out) */
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(9) } });
	ck_assert_int_eq(count_sent(before, SQ(12)), 1);
	ck_assert_int_eq(count_sent(before, SQ(1)), 1);
	/* a round trip later segment 12 is SACKed, segment 1 is not */
	mid = fake_ntx;
	env_advance(&E, 100000);
	peer_sack(SQ(1), 2, (const uint32_t[][2]){ { SQ(12), SQ(13) }, { SQ(2), SQ(12) } });
	ck_assert_int_eq(count_sent(before, SQ(1)), 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rack_relost, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
	ck_assert(t->in_recovery);
	check_not_resent(mid, SQ(2), SQ(13));
}
END_TEST

/* RFC 8985 6.2 step 2: a reordered original. Segment 1 is resent after one SACK
 * and the reordering window; the original then arrives, later than min_RTT after
 * the resend, and the peer's ACK echoes the original's timestamp. That ACK says
 * nothing of the resend, so RACK stays dated from the original burst: segments
 * 4..9, sent with it, are not called lost (dated from the resend, all of them
 * were, and went again). Seen in a capture of 1% reordering on the tap. */
START_TEST(rack_ack_of_reordered_original)
{
	struct tcb *t = sack_ten_out();
	uint32_t orig_ts = fake_tx[1].seg.h.tsval;
	uint64_t lost;
	struct popt o;
	int before;

	peer_sack(SQ(1), 0, NULL);
	before = fake_ntx;
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	env_advance(&E, 26000);
	ck_assert_int_eq(count_sent(before, SQ(1)), 1);
	before = fake_ntx;
	env_advance(&E, 101000);
	o = pts(512);
	o.tsecr = orig_ts;
	lost = E.ctx.tcp_stats.tcp_rack_lost;
	env_peer(&E, TCP_ACK, E.pnxt, SQ(3), &o, NULL, 0);
	ck_assert_uint_eq(t->snd_una, SQ(3));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rack_lost, lost);
	/* segment 3 goes by RFC 6582's partial-ACK rule (nothing SACKed above) */
	check_not_resent(before, SQ(4), SQ(10));
}
END_TEST

/* Tail loss probe (RFC 8985 7): the last two segments are lost and nothing else is
 * left to send. Two SRTTs later (not an RTO later) the last segment goes again;
 * its SACK shows the one before it lost, and RACK repairs it. The probe's ACK
 * without a D-SACK says the probe repaired a loss: cwnd is reduced (7.4.2). */
START_TEST(tlp_probes_tail)
{
	struct tcb *t = sack_ten_out();
	uint32_t cwnd;
	int before;

	peer_sack(SQ(8), 0, NULL);
	before = fake_ntx;
	ck_assert(tcp_timer_armed(t, TCP_T_LOSS));
	ck_assert(t->loss_tlp);
	ck_assert_uint_lt(t->timer[TCP_T_LOSS], t->timer[TCP_T_REXMIT]);
	env_advance(&E, 2 * t->srtt_us + TCP_TLP_MIN_US);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(9));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_tlp_probes, 1);
	ck_assert(t->tlp_out);
	/* the probe is SACKed a round trip later: segment 8, sent before it, is lost */
	env_advance(&E, 100000);
	peer_sack(SQ(8), 1, (const uint32_t[][2]){ { SQ(9), SQ(10) } });
	ck_assert_int_eq(count_sent(before, SQ(8)), 1);
	ck_assert(t->in_recovery);
	cwnd = t->cwnd;
	peer_sack(SQ(10), 0, NULL);
	ck_assert(!t->tlp_out);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_tlp_repaired, 1);
	ck_assert_uint_le(t->cwnd, cwnd);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
}
END_TEST

/* One segment in flight: the probe timeout (2 SRTT + 200 ms for the peer's delayed
 * ACK) is longer than the RTO, so the probe goes in the RTO's place (Linux:
 * min(PTO, RTO)): the segment is resent, but cwnd and the RTO are untouched. */
START_TEST(tlp_in_place_of_rto)
{
	struct tcb *t;
	uint32_t cwnd, rto;
	int before;

	E.peer_sack = true;
	env_establish(&E, 100000);
	t = env_tcb(&E);
	env_app_write(&E, 100, 0);
	before = fake_ntx;
	cwnd = t->cwnd;
	rto = t->rto_us;
	ck_assert(tcp_timer_armed(t, TCP_T_LOSS));
	env_advance(&E, rto);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(0));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_tlp_probes, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
	ck_assert_uint_eq(t->cwnd, cwnd);
	ck_assert_uint_eq(t->rto_us, rto);
	/* unanswered, the RTO follows a full RTO later, backed off */
	env_advance(&E, rto);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 1);
	ck_assert_uint_eq(t->rto_us, 2 * rto);
}
END_TEST

/* After an RTO, a lost retransmission of the go-back-N would cost a second, backed
 * off, RTO (RFC 6675 5.1 allows no SACK recovery before the recovery point). RACK
 * sees it lost (segment 2, resent after it, is SACKed) and the rest is repaired as
 * a SACK recovery. */
START_TEST(rack_repairs_go_back_n)
{
	struct tcb *t = sack_ten_out();
	int before = fake_ntx;

	env_advance(&E, t->rto_us);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 1);
	ck_assert(t->rto_recover);
	ck_assert_int_eq(count_sent(before, SQ(0)), 1);
	env_advance(&E, 100000);
	peer_sack(SQ(1), 0, NULL);                 /* cwnd 2: segments 1 and 2 */
	ck_assert_int_eq(count_sent(before, SQ(1)), 1);
	ck_assert_int_eq(count_sent(before, SQ(2)), 1);
	env_advance(&E, 100000);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rack_rto_repair, 1);
	ck_assert(!t->rto_recover);
	ck_assert(t->in_recovery);
	ck_assert_int_eq(count_sent(before, SQ(1)), 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 1);
	/* and the recovery ends when everything outstanding at the RTO is in */
	peer_sack(SQ(10), 0, NULL);
	ck_assert(!t->in_recovery);
	ck_assert_uint_eq(E.sh->tx_cons, 10 * SMSS);
}
END_TEST

/* ---- undo (tcp_undo.c): reductions the peer shows were not needed ----------------- */

/* The peer's ACK with timestamps echoing tsecr (pts() echoes our last TSval). */
static void peer_ack_echo(uint32_t ack, uint32_t tsecr, uint8_t n, const uint32_t (*blk)[2])
{
	struct popt o = pts(512);

	o.tsecr = tsecr;
	o.nsack = n;
	if (n)
		memcpy(o.sack_blk, blk, n * sizeof(*blk));
	env_peer(&E, TCP_ACK, E.pnxt, ack, &o, NULL, 0);
}

/* Eifel (RFC 3522, Linux tcp_try_undo_loss()): the RTO fired because the ACKs
 * were lost, not the data. The first ACK after it echoes the TSval of an original
 * transmission, older than the retransmission's: the RTO was spurious, so cwnd
 * and ssthresh are what they were, and the go-back-N stops (nothing else of the
 * flight is resent). */
START_TEST(undo_spurious_rto_eifel)
{
	struct tcb *t = sack_ten_out();
	uint32_t orig_ts = fake_tx[fake_ntx - 1].seg.h.tsval, cwnd = t->cwnd, ssthresh = t->ssthresh;
	int before = fake_ntx;

	env_advance(&E, t->rto_us);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 1);
	ck_assert_uint_eq(t->cwnd, SMSS);
	ck_assert_uint_lt(t->ssthresh, ssthresh);
	ck_assert_uint_gt(last_tx()->seg.h.tsval, orig_ts);
	env_app_write(&E, 4 * SMSS, 10);
	peer_ack_echo(SQ(10), orig_ts, 0, NULL);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rto_undo, 1);
	ck_assert(!t->rto_recover);
	ck_assert_uint_ge(t->cwnd, cwnd);
	ck_assert_uint_eq(t->ssthresh, ssthresh);
	check_not_resent(before + 1, SQ(0), SQ(10));
	/* and the restored window sends the new data at once */
	ck_assert_int_eq(count_sent(before, SQ(10)), 1);
	ck_assert_int_eq(count_sent(before, SQ(13)), 1);
}
END_TEST

/* The same RTO when the ACK echoes the retransmission: the loss was real, the
 * reduction stands and the go-back-N goes on. */
START_TEST(undo_not_for_real_rto)
{
	struct tcb *t = sack_ten_out();
	uint32_t ssthresh = t->ssthresh;
	int before = fake_ntx;

	env_advance(&E, t->rto_us);
	peer_ack_echo(SQ(1), last_tx()->seg.h.tsval, 0, NULL);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rto_undo, 0);
	ck_assert(t->rto_recover);
	ck_assert_uint_lt(t->ssthresh, ssthresh);
	ck_assert_uint_le(t->cwnd, 2 * SMSS);
	ck_assert_int_eq(count_sent(before, SQ(1)), 1); /* the go-back-N goes on */
}
END_TEST

/* D-SACK (RFC 2883 4, Linux tcp_try_undo_dsack()): segment 0 was only delayed;
 * the fast retransmission of it comes back as a duplicate, so the recovery's cut
 * is taken back, even after the recovery ended. */
START_TEST(undo_recovery_by_dsack)
{
	struct tcb *t = sack_ten_out();
	uint32_t cwnd = t->cwnd, ssthresh = t->ssthresh, rexmit_ts;

	peer_sack(SQ(0), 1, (const uint32_t[][2]){ { SQ(1), SQ(5) } });
	ck_assert(t->in_recovery);
	ck_assert_uint_lt(t->ssthresh, cwnd);
	rexmit_ts = last_tx()->seg.h.tsval;
	/* the original arrives: everything is acknowledged, echoing the retransmission's
	 * TSval (the same millisecond as the original's, so Eifel cannot tell) */
	peer_ack_echo(SQ(10), rexmit_ts, 0, NULL);
	ck_assert(!t->in_recovery);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_dsack_undo, 0);
	ck_assert_uint_lt(t->cwnd, cwnd);
	/* then the retransmission, reported as a duplicate */
	peer_ack_echo(SQ(10), rexmit_ts, 1, (const uint32_t[][2]){ { SQ(0), SQ(1) } });
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_dsack_undo, 1);
	ck_assert_uint_ge(t->cwnd, cwnd);
	ck_assert_uint_ge(t->ssthresh, ssthresh > cwnd * 3 / 4 ? ssthresh : cwnd * 3 / 4);
}
END_TEST

/* A D-SACK of only part of what the recovery resent undoes nothing: the rest may
 * have been needed. And ECE proves congestion: no undo after it (Linux: prior_ssthresh = 0). */
START_TEST(undo_needs_every_rexmit_dsacked)
{
	struct tcb *t = sack_ten_out();
	uint32_t cwnd = t->cwnd, ts;

	/* two holes, 0 and 5, both resent */
	peer_sack(SQ(0), 2, (const uint32_t[][2]){ { SQ(6), SQ(10) }, { SQ(1), SQ(5) } });
	ck_assert(t->in_recovery);
	ck_assert_int_eq(count_sent(10, SQ(0)), 1);
	ck_assert_int_eq(count_sent(10, SQ(5)), 1);
	ts = last_tx()->seg.h.tsval;
	peer_ack_echo(SQ(10), ts, 1, (const uint32_t[][2]){ { SQ(0), SQ(1) } });
	ck_assert(!t->in_recovery);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_dsack_undo, 0);
	ck_assert_uint_lt(t->cwnd, cwnd);
}
END_TEST

/* An RTO inside a fast recovery does not cut ssthresh again (Linux
 * tcp_enter_loss(): the recovery already cut for this loss); cwnd still falls to
 * one segment. */
START_TEST(rto_in_recovery_keeps_ssthresh)
{
	struct tcb *t = sack_ten_out();
	uint32_t ssthresh;

	/* cubic: ssthresh from cwnd (reno's, from FlightSize, would not tell) */
	ck_assert_int_eq(tcp_cc_select(t, SHUNT_CC_CUBIC, true), 0);
	peer_sack(SQ(0), 1, (const uint32_t[][2]){ { SQ(1), SQ(5) } });
	ck_assert(t->in_recovery);
	ssthresh = t->ssthresh;
	t->cwnd = 3 * SMSS; /* as PRR leaves it after more losses: a second cut would start from here */
	env_advance(&E, t->rto_us);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 1);
	ck_assert_uint_eq(t->ssthresh, ssthresh);
	ck_assert_uint_eq(t->cwnd, SMSS);
	/* outside a recovery an RTO cuts */
	peer_ack_echo(SQ(10), last_tx()->seg.h.tsval, 0, NULL);
	env_app_write(&E, 4 * SMSS, 10);
	env_advance(&E, t->rto_us);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 2);
	ck_assert_uint_lt(t->ssthresh, ssthresh);
}
END_TEST

/* ---- segment-level cases (issue 9), each against RFC 9293 / RFC 5961 and Linux -- */

/* Bring a fresh connection to state st the way a peer would. rcv_nxt is returned. */
static uint32_t reach_state(uint32_t st)
{
	struct popt o;

	env_establish(&E, 100000);
	o = pts(512);
	switch (st) {
	case SHUNT_SS_FIN_WAIT_1:
		tcp_app_close(&E.ctx, &E.s);
		return E.irs + 1;
	case SHUNT_SS_FIN_WAIT_2:
		tcp_app_close(&E.ctx, &E.s);
		peer_ack(E.iss + 2);
		return E.irs + 1;
	case SHUNT_SS_CLOSING:
		tcp_app_close(&E.ctx, &E.s);
		env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 1, &o, NULL, 0);
		return E.irs + 2;
	case SHUNT_SS_CLOSE_WAIT:
		env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 1, &o, NULL, 0);
		return E.irs + 2;
	case SHUNT_SS_LAST_ACK:
		env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 1, &o, NULL, 0);
		tcp_app_close(&E.ctx, &E.s);
		return E.irs + 2;
	case SHUNT_SS_TIME_WAIT:
		tcp_app_close(&E.ctx, &E.s);
		peer_ack(E.iss + 2);
		o = pts(512);
		env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 2, &o, NULL, 0);
		return E.irs + 2;
	}
	return E.irs + 1;
}

/* RST in every synchronized state (RFC 9293 3.10.7.4 second, RFC 5961 3.2): the
 * one at RCV.NXT ends the connection; one elsewhere in the window draws a
 * challenge ACK, except in TIME_WAIT, where Linux drops it without a word; one
 * outside the window is dropped in every state. */
START_TEST(rst_in_each_state)
{
	static const uint32_t states[] = { SHUNT_SS_ESTABLISHED, SHUNT_SS_FIN_WAIT_1,
					   SHUNT_SS_FIN_WAIT_2,  SHUNT_SS_CLOSING,
					   SHUNT_SS_CLOSE_WAIT,  SHUNT_SS_LAST_ACK,
					   SHUNT_SS_TIME_WAIT };
	uint32_t nxt, st;
	struct tcb *t;
	int before;

	for (unsigned i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		st = states[i];
		/* outside the window, then in it but not exact */
		nxt = reach_state(st);
		t = env_tcb(&E) != NULL ? env_tcb(&E) :
		    tcp_table_lookup(E.ctx.tcp, E.ctx.ip_be, E.sh->local.port, E.peer_be,
				     E.pport_be);
		ck_assert_ptr_nonnull(t);
		ck_assert_msg(t->state == st, "state %u, not %u", t->state, st);
		before = fake_ntx;
		env_peer(&E, TCP_RST, nxt + (1u << 30), 0, NULL, NULL, 0);
		ck_assert_int_eq(fake_ntx, before);
		ck_assert_uint_eq(t->state, st);
		env_peer(&E, TCP_RST, nxt + 100, 0, NULL, NULL, 0);
		ck_assert_uint_eq(t->state, st);
		if (st == SHUNT_SS_TIME_WAIT) {
			ck_assert_int_eq(fake_ntx, before);
		} else {
			ck_assert_int_eq(fake_ntx, before + 1);
			ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK);
			ck_assert_uint_eq(last_tx()->seg.h.ack, nxt);
		}
		/* exact: the connection is over, nothing sent */
		before = fake_ntx;
		env_peer(&E, TCP_RST, nxt, 0, NULL, NULL, 0);
		ck_assert_int_eq(fake_ntx, before);
		ck_assert_ptr_null(tcp_table_lookup(E.ctx.tcp, E.ctx.ip_be, E.sh->local.port,
						    E.peer_be, E.pport_be));
		teardown();
		setup();
	}
}
END_TEST

/* An old duplicate (data already received) is acknowledged at once and not
 * delivered again, with a D-SACK for it when SACK is on (RFC 2883, Linux); data
 * beyond the right edge of the window is acknowledged and not taken. */
START_TEST(old_duplicate_and_beyond_window)
{
	static uint8_t d[1000];
	uint32_t prod;
	struct tcb *t;

	E.peer_sack = true;
	env_establish(&E, 1000);
	t = env_tcb(&E);
	peer_data(E.pnxt, d, sizeof(d));
	prod = E.sh->rx_prod;
	ck_assert_uint_eq(prod, sizeof(d));
	fake_ntx = 0;
	peer_data(E.pnxt, d, sizeof(d));
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.pnxt + sizeof(d));
	ck_assert_uint_eq(E.sh->rx_prod, prod);
	ck_assert_uint_eq(last_tx()->seg.h.nsack, 1);
	ck_assert_uint_eq(last_tx()->seg.h.sack[0][0], E.pnxt);
	ck_assert_uint_eq(last_tx()->seg.h.sack[0][1], E.pnxt + sizeof(d));
	/* beyond the window: acknowledged (RCV.NXT), neither delivered nor held */
	fake_ntx = 0;
	peer_data(t->rcv_adv + 100, d, sizeof(d));
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.pnxt + sizeof(d));
	ck_assert_uint_eq(E.sh->rx_prod, prod);
	ck_assert_uint_eq(t->n_ooo, 0);
}
END_TEST

/* RFC 7323 2.3: a window scale above 14 is taken as 14. */
START_TEST(peer_wscale_clamped_to_14)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .mss = 1460, .ws = true,
			  .wscale = 15 };
	const struct fake_seg *syn;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	syn = last_tx();
	E.iss = syn->seg.h.seq;
	o.tsecr = syn->seg.h.tsval;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(env_tcb(&E)->snd_ws, 14);
	/* a later window is scaled by 14 */
	o = pts(2);
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(env_tcb(&E)->snd_wnd, 2u << 14);
}
END_TEST

/* Data and FIN in one segment: the data is delivered, the FIN takes one more
 * sequence number, and the ACK covers both (CLOSE_WAIT). */
START_TEST(fin_with_data)
{
	struct popt o;

	env_establish(&E, 1000);
	o = pts(512);
	fake_ntx = 0;
	env_peer(&E, TCP_ACK | TCP_PSH | TCP_FIN, E.pnxt, E.iss + 1, &o, "bye", 3);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSE_WAIT);
	ck_assert_uint_eq(E.sh->rx_prod, 3);
	ck_assert_int_eq(memcmp(E.s.rx_buf, "bye", 3), 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.pnxt + 4);
}
END_TEST

/* RFC 7323 5.3 with the 32-bit timestamp clock wrapping: a TSval just past 2^32
 * is newer than one just below it (PAWS compares modulo 2^32), and an older one
 * is still rejected after the wrap. */
START_TEST(paws_timestamps_wrap)
{
	static uint8_t d[100];
	struct popt o;
	uint32_t prod;

	env_establish(&E, 1000);
	o = pts(512);
	/* the peer's clock runs forward in steps under 2^31 up to the wrap */
	o.tsval = 0x60000000u;
	env_peer(&E, TCP_ACK | TCP_PSH, E.pnxt, E.iss + 1, &o, d, sizeof(d));
	o.tsval = 0xc0000000u;
	env_peer(&E, TCP_ACK | TCP_PSH, E.pnxt + 100, E.iss + 1, &o, d, sizeof(d));
	o.tsval = 0xfffffff0u;
	env_peer(&E, TCP_ACK | TCP_PSH, E.pnxt + 200, E.iss + 1, &o, d, sizeof(d));
	ck_assert_uint_eq(E.sh->rx_prod, 3 * sizeof(d));
	o.tsval = 0x10;     /* wrapped: newer */
	env_peer(&E, TCP_ACK | TCP_PSH, E.pnxt + 300, E.iss + 1, &o, d, sizeof(d));
	ck_assert_uint_eq(E.sh->rx_prod, 4 * sizeof(d));
	ck_assert_uint_eq(env_tcb(&E)->ts_recent, 0x10);
	prod = E.sh->rx_prod;
	o.tsval = 0xffffff00u; /* before the wrap: old, rejected with an ACK */
	fake_ntx = 0;
	env_peer(&E, TCP_ACK | TCP_PSH, E.pnxt + 400, E.iss + 1, &o, d, sizeof(d));
	ck_assert_uint_eq(E.sh->rx_prod, prod);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_drop_paws, 1);
	ck_assert_int_eq(fake_ntx, 1);
}
END_TEST

/* TIME_WAIT reuse (Linux tcp_timewait_state_process(), TCP_TW_SYN): the server
 * closed first and holds the 4-tuple in TIME_WAIT; a new SYN from the same client
 * port beyond the old sequence space opens a new connection at once, its ISN past
 * what the old one sent; an old SYN does not. */
START_TEST(time_wait_reuse_by_new_syn)
{
	struct popt o = { .wnd = 502, .ts = true, .tsval = 702 };
	struct dp_sock *cs;
	struct tcb *c, *n;
	uint32_t old_nxt;
	int before;

	listen_on(8);
	c = peer_syn(40000, 5000, true);
	E.ctx.now_us += 20000;
	peer_final_ack(40000, c, NULL, 0);
	E.sh->rx_cons = 8;
	cs = fake_slot_sock(FAKE_SLOT_BASE);
	tcp_app_close(&E.ctx, cs);
	ck_assert_uint_eq(c->state, SHUNT_SS_FIN_WAIT_1);
	o.tsecr = last_tx()->seg.h.tsval;
	E.pport_be = htons(40000);
	env_peer(&E, TCP_ACK | TCP_FIN, c->irs + 1, c->iss + 2, &o, NULL, 0);
	ck_assert_uint_eq(c->state, SHUNT_SS_TIME_WAIT);
	ck_assert_ptr_null(c->s);
	old_nxt = c->snd_nxt;
	/* an old SYN (not past RCV.NXT, no newer timestamp): no new connection */
	before = fake_ntx;
	o.tsval = 702;
	env_peer(&E, TCP_SYN, c->irs, 0, &o, NULL, 0);
	ck_assert_ptr_eq(child_of(40000), c);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_tw_reused, 0);
	/* a new one: a child in SYN_RECEIVED, its SYN-ACK's ISN past the old one */
	before = fake_ntx;
	o.tsval = 800;
	env_peer(&E, TCP_SYN, 5000 + 1000000, 0, &o, NULL, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_tw_reused, 1);
	n = child_of(40000);
	ck_assert_ptr_nonnull(n);
	ck_assert_uint_eq(n->state, SHUNT_SS_SYN_RECEIVED);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.seq, old_nxt + 65537);
	ck_assert_uint_eq(last_tx()->seg.h.ack, 5000 + 1000000 + 1);
}
END_TEST

/* A peer that did not negotiate SACK gets NewReno even if it sends blocks anyway:
 * they are not taken, three duplicates retransmit the head, cwnd inflates. */
START_TEST(no_sack_peer_gets_newreno)
{
	struct tcb *t;
	int before;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	ck_assert(!t->sack_ok);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1), 0);
	env_app_write(&E, 10 * SMSS, 0);
	peer_sack(SQ(1), 0, NULL);
	before = fake_ntx;
	for (int k = 3; k <= 5; k++)
		peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(k) } });
	ck_assert_uint_eq(t->n_sacked, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_blocks_rx, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_sack_recoveries, 0);
	ck_assert(t->in_recovery);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(1));
	ck_assert_uint_eq(t->cwnd, 9 * SMSS / 2 + 3 * SMSS); /* RFC 6582 inflation */
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(6) } });
	ck_assert_uint_eq(t->cwnd, 9 * SMSS / 2 + 4 * SMSS);
	/* partial ACK: NewReno resends the next segment, SACKed or not */
	peer_sack(SQ(3), 0, NULL);
	ck_assert_uint_eq(last_tx()->seg.h.seq, SQ(3));
}
END_TEST

START_TEST(zero_window_persist)
{
	struct popt o;
	uint64_t t0;

	env_establish(&E, 100000);
	o = pts(0);
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
	t0 = E.ctx.now_us;
	env_app_write(&E, 1000, 0);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert(tcp_timer_armed(env_tcb(&E), TCP_T_PERSIST));
	set_time(t0 + 300000);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss); /* snd_una - 1 */
	ck_assert_uint_eq(last_tx()->seg.len, 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK);
	set_time(t0 + 300000 + 599999);
	ck_assert_int_eq(fake_ntx, 1);
	set_time(t0 + 900000);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_persist_probe, 2);
	/* the peer's answer opens the window: the data goes */
	o = pts(512);
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
	ck_assert_int_eq(fake_ntx, 3);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	ck_assert_uint_eq(last_tx()->seg.len, 1000);
	ck_assert(!tcp_timer_armed(env_tcb(&E), TCP_T_PERSIST));
}
END_TEST

START_TEST(user_timeout)
{
	uint64_t t0;

	env_establish(&E, 100000);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_USER_TIMEOUT, 1000), 0);
	t0 = E.ctx.now_us;
	env_app_write(&E, 100, 0);
	set_time(t0 + 300000);  /* rexmit 1 */
	set_time(t0 + 900000);  /* rexmit 2, next clamped to t0 + 1 s */
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), t0 + 1000000);
	set_time(t0 + 1000000);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
}
END_TEST

START_TEST(user_timeout_syn_sent)
{
	uint64_t t0 = E.ctx.now_us;

	/* Linux: with TCP_USER_TIMEOUT 1500 ms, SYNs at 0 and 1 s, ETIMEDOUT at 1.5 s
	 * (the 2 s RTO is clamped to what is left), before syn_retries runs out */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_USER_TIMEOUT, 1500), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	set_time(t0 + 1000000);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), t0 + 1500000);
	set_time(t0 + 1499999);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	set_time(t0 + 1500000);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
	ck_assert_int_eq(fake_ntx, 2);
}
END_TEST

/* ---- close ------------------------------------------------------------------------- */

/* An established connection closed by the app, and by the peer after it: TIME_WAIT
 * of time_wait_ms. */
static void active_close_to_time_wait(unsigned time_wait_ms)
{
	struct popt o;

	env_establish(&E, 100000);
	E.conf.time_wait_ms = time_wait_ms; /* read when TIME_WAIT starts */
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_FIN_WAIT_1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_FIN);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	peer_ack(E.iss + 2);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_FIN_WAIT_2);
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 2, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_TIME_WAIT);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 2);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK);
}

START_TEST(active_close_time_wait)
{
	struct popt o;

	active_close_to_time_wait(60000);
	/* rings released at once, the tcb lingers */
	ck_assert_ptr_null(E.s.pcb);
	ck_assert_int_eq(fake_released, 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 1);
	/* a retransmitted FIN is ACKed again */
	int before = fake_ntx;
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 2, &o, NULL, 0);
	ck_assert_int_eq(fake_ntx, before + 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 2);
	set_time(E.ctx.now_us + 60000000 - 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 1);
	set_time(E.ctx.now_us + 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
	ck_assert_uint_eq(tcp_next_deadline(&E.ctx), UINT64_MAX);
}
END_TEST

/* SACK-permitted in both SYNs: an ACK for out-of-order data carries SACK blocks,
 * the run holding the segment that came last first (RFC 2018 4). */
START_TEST(sack_blocks_for_holes)
{
	static uint8_t d[2000];
	const struct fake_seg *f;

	E.peer_sack = true;
	env_establish(&E, 1000);
	ck_assert(env_tcb(&E)->sack_ok);
	peer_data(E.pnxt + 1000, d, 500);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.ack, E.pnxt);
	ck_assert_uint_eq(f->seg.h.nsack, 1);
	ck_assert_uint_eq(f->seg.h.sack[0][0], E.pnxt + 1000);
	ck_assert_uint_eq(f->seg.h.sack[0][1], E.pnxt + 1500);
	peer_data(E.pnxt + 2000, d, 300);
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.nsack, 2);
	ck_assert_uint_eq(f->seg.h.sack[0][0], E.pnxt + 2000);
	ck_assert_uint_eq(f->seg.h.sack[0][1], E.pnxt + 2300);
	ck_assert_uint_eq(f->seg.h.sack[1][0], E.pnxt + 1000);
	ck_assert_uint_eq(f->seg.h.sack[1][1], E.pnxt + 1500);
	peer_data(E.pnxt + 1500, d, 200); /* grows the first run */
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.sack[0][0], E.pnxt + 1000);
	ck_assert_uint_eq(f->seg.h.sack[0][1], E.pnxt + 1700);
	peer_data(E.pnxt, d, 1000); /* the hole fills up to the second run */
	f = last_tx();
	ck_assert_uint_eq(f->seg.h.ack, E.pnxt + 1700);
	ck_assert_uint_eq(f->seg.h.nsack, 1);
	ck_assert_uint_eq(f->seg.h.sack[0][0], E.pnxt + 2000);
	ck_assert_uint_eq(f->seg.h.sack[0][1], E.pnxt + 2300);
}
END_TEST

/* Without SACK-permitted from the peer, no blocks; a SYN with it gets it back. */
START_TEST(sack_only_if_offered)
{
	static uint8_t d[500];
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460, .sack = true };

	env_establish(&E, 1000);
	ck_assert(!env_tcb(&E)->sack_ok);
	peer_data(E.pnxt + 1000, d, 500);
	ck_assert_uint_eq(last_tx()->seg.h.nsack, 0);
	env_fini(&E);
	env_init(&E, 262144);
	listen_on(8);
	E.pport_be = htons(40100);
	env_peer(&E, TCP_SYN, 9000, 0, &o, NULL, 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert(last_tx()->seg.h.sack_ok);
	ck_assert(child_of(40100)->sack_ok);
}
END_TEST

/* time_wait_ms shortens TIME_WAIT (the churn test's 0.5 s). */
START_TEST(time_wait_configured)
{
	active_close_to_time_wait(500);
	set_time(E.ctx.now_us + 500000 - 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 1);
	set_time(E.ctx.now_us + 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
}
END_TEST

START_TEST(shutdown_wr_fin_after_data)
{
	struct popt o;

	env_establish(&E, 100000);
	E.sh->tx_prod = 100; /* queued without SEND yet */
	ck_assert_int_eq(tcp_app_shutdown(&E.ctx, &E.s, SHUT_WR), 0);
	ck_assert(E.s.flags & SHUNT_SF_TX_SHUT);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_PSH | TCP_FIN);
	ck_assert_uint_eq(last_tx()->seg.len, 100);
	/* bytes the app adds after SHUT_WR are never sent */
	env_app_write(&E, 50, 0);
	ck_assert_int_eq(fake_ntx, 1);
	peer_ack(E.iss + 102);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_FIN_WAIT_2);
	ck_assert_uint_eq(E.sh->tx_cons, 100);
	/* the app can still read: data then FIN */
	peer_data(E.pnxt, "xyz", 3);
	ck_assert_uint_eq(E.sh->rx_prod, 3);
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt + 3, E.iss + 102, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_TIME_WAIT);
	ck_assert(E.s.flags & SHUNT_SF_RX_EOF);
	ck_assert_ptr_nonnull(E.s.pcb); /* app still holds it */
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_ptr_null(E.s.pcb);
	ck_assert_int_eq(fake_released, 1);
}
END_TEST

START_TEST(passive_close_last_ack)
{
	struct popt o;

	env_establish(&E, 100000);
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSE_WAIT);
	ck_assert(E.sh->flags & SHUNT_SF_RX_EOF);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 2);
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_LAST_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_FIN);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 2);
	E.pnxt++; /* the peer's FIN took a sequence number */
	peer_ack(E.iss + 2);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
	ck_assert_int_eq(fake_released, 1);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
}
END_TEST

START_TEST(fin_wait_2_timeout)
{
	env_establish(&E, 100000);
	tcp_app_close(&E.ctx, &E.s);
	peer_ack(E.iss + 2);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_FIN_WAIT_2);
	set_time(E.ctx.now_us + 60000000);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
}
END_TEST

START_TEST(close_unread_sends_rst)
{
	env_establish(&E, 100000);
	peer_data(E.pnxt, "abc", 3);
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
	ck_assert_int_eq(fake_released, 1);
}
END_TEST

START_TEST(close_linger0_sends_rst)
{
	env_establish(&E, 100000);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_LINGER0, 1), 0);
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
}
END_TEST

START_TEST(fin_out_of_order_held)
{
	struct popt o;

	env_establish(&E, 100000);
	o = pts(512);
	/* "def" + FIN arrive before "abc" */
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt + 3, E.iss + 1, &o, "def", 3);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert(!(E.sh->flags & SHUNT_SF_RX_EOF));
	peer_data(E.pnxt, "abc", 3);
	ck_assert_uint_eq(E.sh->rx_prod, 6);
	ck_assert_int_eq(memcmp(E.s.rx_buf, "abcdef", 6), 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSE_WAIT);
	ck_assert(E.sh->flags & SHUNT_SF_RX_EOF);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1 + 6 + 1);
}
END_TEST

START_TEST(data_after_close_resets)
{
	env_establish(&E, 100000);
	tcp_app_close(&E.ctx, &E.s);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_FIN_WAIT_1);
	peer_data(E.pnxt, "late", 4);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(E.ctx.tcp->n_tcbs, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_drop_after_close, 1);
}
END_TEST

START_TEST(simultaneous_open)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .mss = 1460, .ws = true,
			  .wscale = 7 };

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	env_peer(&E, TCP_SYN, E.irs, 0, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_RECEIVED);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1);
	o = pts(512);
	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(env_tcb(&E)->snd_wnd, 512u << 7);
}
END_TEST

/* ---- resets ------------------------------------------------------------------------ */

START_TEST(rst_established_and_challenge)
{
	env_establish(&E, 100000);
	env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_int_eq(fake_ntx, 1); /* RFC 5961 challenge ACK */
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.irs + 1);
	env_peer(&E, TCP_RST, E.pnxt, 0, NULL, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ECONNRESET);
	ck_assert(E.sh->flags & SHUNT_SF_RESET);
	ck_assert_int_eq(fake_ntx, 1);
}
END_TEST

/* Linux __tcp_oow_rate_limited(): one challenge ACK per tcp_invalid_ratelimit
 * (500 ms) per connection; the next in-window RST inside it draws nothing. */
START_TEST(challenge_ack_rate_limited)
{
	env_establish(&E, 100000);
	env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	env_peer(&E, TCP_RST, E.pnxt + 20, 0, NULL, NULL, 0);
	env_peer(&E, TCP_SYN, E.pnxt + 30, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_challenge_ack_skipped, 2);
	E.ctx.now_us += 499000;
	env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	E.ctx.now_us += 1000;
	env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_challenge_ack, 2);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
}
END_TEST

/* Linux tcp_oow_rate_limited(): the duplicate ACK for an out-of-window segment
 * shares that limit, except for one that carries data (not an ACK loop). */
START_TEST(oow_ack_rate_limited)
{
	uint32_t far;

	env_establish(&E, 100000);
	far = E.pnxt + (1u << 30);
	env_peer(&E, TCP_ACK, far, E.iss + 1, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	env_peer(&E, TCP_ACK, far, E.iss + 1, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_oow_ack_skipped, 1);
	env_peer(&E, TCP_ACK, far, E.iss + 1, NULL, "data", 4);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(last_tx()->seg.h.ack, E.pnxt);
	E.conf.invalid_ratelimit = 0; /* sysctl -w net.ipv4.tcp_invalid_ratelimit=0 */
	env_peer(&E, TCP_ACK, far, E.iss + 1, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, 3);
}
END_TEST

/* tcp_challenge_ack_limit below INT_MAX: a host-wide budget per second, drawn in
 * [limit/2, limit*3/2) (Linux tcp_send_challenge_ack()). */
START_TEST(challenge_ack_host_limit)
{
	int sent;

	E.conf.invalid_ratelimit = 0;
	E.conf.challenge_ack_limit = 4;
	env_establish(&E, 100000);
	E.ctx.now_us = (E.ctx.now_us / 1000000 + 1) * 1000000; /* a second starts */
	for (int i = 0; i < 20; i++)
		env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	sent = fake_ntx;
	ck_assert_msg(sent >= 2 && sent <= 5, "%d challenge ACKs in a second, limit 4", sent);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_challenge_ack_skipped, 20u - (unsigned)sent);
	E.ctx.now_us += 1000000;
	env_peer(&E, TCP_RST, E.pnxt + 10, 0, NULL, NULL, 0);
	ck_assert_int_eq(fake_ntx, sent + 1);
}
END_TEST

START_TEST(rst_close_wait_epipe)
{
	struct popt o;

	env_establish(&E, 100000);
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt, E.iss + 1, &o, NULL, 0);
	env_peer(&E, TCP_RST, E.pnxt + 1, 0, NULL, NULL, 0);
	ck_assert_int_eq(E.sh->error, EPIPE);
}
END_TEST

START_TEST(rst_for_no_connection)
{
	struct tcp_hdr_out h = { .sport_be = htons(999), .dport_be = htons(4444), .seq = 5,
				 .ack = 77, .flags = TCP_ACK };
	uint8_t b[64];
	int n;

	n = tcp_wire_build(b, sizeof(b), &h);
	tcp_input_bytes(&E.ctx, b, (uint32_t)n, E.peer_be, E.ctx.ip_be);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST);
	ck_assert_uint_eq(last_tx()->seg.h.seq, 77);
	ck_assert_uint_eq(last_tx()->seg.h.sport_be, htons(4444));
	ck_assert_uint_eq(last_tx()->seg.h.dport_be, htons(999));
	ck_assert_uint_eq(last_tx()->seg.dst_be, E.peer_be);

	h.flags = TCP_SYN;
	h.seq = 100;
	n = tcp_wire_build(b, sizeof(b), &h);
	tcp_input_bytes(&E.ctx, b, (uint32_t)n, E.peer_be, E.ctx.ip_be);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_RST | TCP_ACK);
	ck_assert_uint_eq(last_tx()->seg.h.seq, 0);
	ck_assert_uint_eq(last_tx()->seg.h.ack, 101);

	h.flags = TCP_RST;
	n = tcp_wire_build(b, sizeof(b), &h);
	tcp_input_bytes(&E.ctx, b, (uint32_t)n, E.peer_be, E.ctx.ip_be);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_drop_no_conn, 3);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rst_tx, 2);

	/* malformed input is counted, not answered */
	tcp_input_bytes(&E.ctx, b, 10, E.peer_be, E.ctx.ip_be);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_drop_short, 1);
	ck_assert_int_eq(fake_ntx, 2);
}
END_TEST

/* ---- ICMP errors ------------------------------------------------------------------- */

static void quote(uint8_t *ip, uint32_t seq)
{
	memset(ip, 0, 28);
	ip[0] = 0x45;
	memcpy(ip + 12, &E.ctx.ip_be, 4);
	memcpy(ip + 16, &E.peer_be, 4);
	memcpy(ip + 20, &E.sh->local.port, 2);
	memcpy(ip + 22, &E.pport_be, 2);
	ip[24] = seq >> 24;
	ip[25] = (seq >> 16) & 0xff;
	ip[26] = (seq >> 8) & 0xff;
	ip[27] = seq & 0xff;
}

static const struct icmp_err icmp_host = { .from_be = 0x0100000a, .type = 3, .code = 1 };

START_TEST(icmp_error_syn_sent)
{
	uint8_t ip[28];

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	quote(ip, E.iss + 5); /* not a sequence number we sent */
	tcp_notify_error(&E.ctx, ip, sizeof(ip), EHOSTUNREACH, &icmp_host);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	tcp_notify_error(&E.ctx, ip, 27, EHOSTUNREACH, &icmp_host); /* truncated quote */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_icmp_out_of_window, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_icmp_ignored, 1);
	ck_assert_uint_eq(E.sh->eq_seq, 0);
	quote(ip, E.iss);
	tcp_notify_error(&E.ctx, ip, sizeof(ip), EHOSTUNREACH, &icmp_host);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, EHOSTUNREACH);
	/* queued for MSG_ERRQUEUE as Linux does: who, what, to where, the quote */
	ck_assert_uint_eq(E.sh->eq_seq, 1);
	ck_assert_int_eq(E.sh->eq_errno, EHOSTUNREACH);
	ck_assert_uint_eq(E.sh->eq_type, 3);
	ck_assert_uint_eq(E.sh->eq_code, 1);
	ck_assert_uint_eq(E.sh->eq_offender, 0x0100000a);
	ck_assert_uint_eq(E.sh->eq_dst.addr, E.peer_be);
	ck_assert_uint_eq(E.sh->eq_dst.port, E.pport_be);
	ck_assert_uint_eq(E.sh->eq_len, 8);
	ck_assert_mem_eq(E.sh->eq_data, ip + 20, 8);
}
END_TEST

START_TEST(icmp_error_established_soft)
{
	uint8_t ip[28];

	env_establish(&E, 100000);
	env_app_write(&E, 100, 0);
	quote(ip, E.iss + 1);
	tcp_notify_error(&E.ctx, ip, sizeof(ip), ENETUNREACH, &icmp_host);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(E.sh->err_seq, 0);
	ck_assert_int_eq(env_tcb(&E)->soft_err, ENETUNREACH);
	ck_assert_uint_eq(E.sh->eq_seq, 0); /* nothing queued for a soft error */
}
END_TEST

/* ---- path MTU (tcp_pmtu.c) --------------------------------------------------------- */

/* ICMP fragmentation needed from the router, next-hop MTU mtu, quoting seq. */
static void frag_needed(uint32_t seq, uint32_t mtu)
{
	struct icmp_err icmp = { .from_be = 0xfe4d0a0a, .type = 3, .code = 4, .info = mtu };
	uint8_t ip[28];

	quote(ip, seq);
	tcp_notify_error(&E.ctx, ip, sizeof(ip), EMSGSIZE, &icmp);
}

/* Linux tcp_mtu_to_mss(): pmtu - 40 within the peer's MSS, less the timestamps */
START_TEST(pmtu_mss_arithmetic)
{
	struct tcb *t;

	env_establish(&E, 100000); /* the peer said 1460, timestamps on */
	t = env_tcb(&E);
	ck_assert_uint_eq(t->mss_clamp, 1460);
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 0), 1448);    /* the port's 1500 */
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 1500), 1448);
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 9000), 1448); /* the peer's MSS bounds */
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 1280), 1228);
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 552), 500);
	t->ts_ok = false;
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 1280), 1240);
	t->user_mss = 1000; /* TCP_MAXSEG takes effect with the next SYN only */
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 1280), 1240);
	t->mss_clamp = 1000;
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 1280), 1000);
	ck_assert_uint_eq(tcp_mtu_to_mss(&E.ctx, t, 68), 76); /* never below 64 + 12 */
}
END_TEST

/* RFC 1191 + Linux tcp_v4_mtu_reduced() / tcp_simple_retransmit(): the MSS drops to
 * the path's at once and the flight goes again in segments of that size, cwnd,
 * ssthresh and the RTO as they were. */
START_TEST(pmtu_frag_needed_lowers_mss_and_resends)
{
	uint32_t cwnd, ssthresh, rto, seq;
	struct tcb *t;
	int i, n0;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	env_app_write(&E, 10 * 1448, 0);
	ck_assert_int_eq(fake_ntx, 10); /* IW10 */
	cwnd = t->cwnd;
	ssthresh = t->ssthresh;
	rto = t->rto_us;
	E.ctx.now_us += 1000;
	n0 = fake_ntx;
	frag_needed(E.iss + 1 + 1448, 1280); /* the router quotes the second segment */
	ck_assert_uint_eq(t->pmtu, 1280);
	ck_assert_uint_eq(t->mss, 1228);
	ck_assert_uint_eq(E.sh->mss, 1228); /* TCP_MAXSEG and TCP_INFO read it */
	ck_assert_uint_eq(pmtu_get(&E.ctx, E.peer_be, NULL), 1280);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_lowered, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_rexmit, 1);
	/* go-back-N from snd_una in 1228-byte segments: the whole flight (cwnd) */
	ck_assert_int_eq(fake_ntx - n0, 12);
	seq = E.iss + 1;
	for (i = n0; i < fake_ntx; i++) {
		ck_assert_uint_eq(fake_tx[i].seg.h.seq, seq);
		ck_assert_uint_eq(fake_tx[i].seg.len, i < fake_ntx - 1 ? 1228 : 10 * 1448 - 11 * 1228);
		seq += fake_tx[i].seg.len;
	}
	ck_assert_uint_eq(seq, E.iss + 1 + cwnd);
	ck_assert_uint_eq(t->cwnd, cwnd);
	ck_assert_uint_eq(t->ssthresh, ssthresh);
	ck_assert_uint_eq(t->rto_us, rto);
	ck_assert_uint_eq(t->nrexmit, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
	ck_assert_int_eq(E.sh->error, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	/* more data follows at the new size as the peer acknowledges */
	env_app_write(&E, 5000, 0);
	n0 = fake_ntx;
	peer_ack(E.iss + 1 + 2 * 1228);
	ck_assert_int_gt(fake_ntx, n0);
	for (i = n0; i < fake_ntx; i++)
		ck_assert_uint_le(fake_tx[i].seg.len, 1228);
	/* the same news again, or a larger MTU, changes nothing */
	n0 = fake_ntx;
	frag_needed(E.iss + 1 + 3 * 1228, 1280);
	frag_needed(E.iss + 1 + 3 * 1228, 1400);
	ck_assert_uint_eq(t->mss, 1228);
	ck_assert_int_eq(fake_ntx, n0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_not_lower, 2);
}
END_TEST

/* In SACK recovery the recovery goes on: every hole is lost and goes again from
 * snd_una at the new size, what the peer SACKed not at all, cwnd as it was. */
START_TEST(pmtu_frag_needed_in_sack_recovery)
{
	struct tcb *t = sack_ten_out();
	uint32_t cwnd;
	int before, i;

	peer_sack(SQ(1), 0, NULL);
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(3) } });
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(4) } });
	peer_sack(SQ(1), 1, (const uint32_t[][2]){ { SQ(2), SQ(5) } });
	ck_assert(t->in_recovery);
	cwnd = t->cwnd;
	before = fake_ntx;
	frag_needed(SQ(1), 1280);
	ck_assert_uint_eq(t->mss, 1228);
	ck_assert(t->in_recovery);
	ck_assert_uint_eq(t->cwnd, cwnd);
	ck_assert_int_gt(fake_ntx, before + 1);
	ck_assert_uint_eq(fake_tx[before].seg.h.seq, SQ(1));
	ck_assert_uint_eq(fake_tx[before].seg.len, 1228);
	ck_assert_uint_eq(fake_tx[before + 1].seg.h.seq, SQ(1) + 1228);
	for (i = before; i < fake_ntx; i++)
		ck_assert_uint_le(fake_tx[i].seg.len, 1228);
	check_not_resent(before, SQ(2), SQ(5));
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_rexmit_timeout, 0);
}
END_TEST

/* RFC 5927 4.1 and Linux tcp_v4_err(): only a quote of what is in flight counts;
 * one that fails changes nothing, not even the destination's path MTU. */
START_TEST(pmtu_frag_needed_validated)
{
	struct icmp_err icmp = { .from_be = 0xfe4d0a0a, .type = 3, .code = 4, .info = 1280 };
	uint8_t ip[28];
	struct tcb *t;
	uint16_t port;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	env_app_write(&E, 4 * 1448, 0);
	peer_ack(E.iss + 1 + 1448);
	fake_ntx = 0;
	frag_needed(E.iss + 1, 1280);                /* below snd_una: acknowledged */
	frag_needed(E.iss + 1 + 4 * 1448 + 1, 1280); /* beyond snd_nxt: never sent */
	frag_needed(E.iss + 1 + 0x40000000, 1280);   /* far off */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_icmp_out_of_window, 3);
	/* a quote of another connection's ports */
	quote(ip, E.iss + 1 + 1448);
	port = (uint16_t)(E.sh->local.port + 1);
	memcpy(ip + 20, &port, 2);
	tcp_notify_error(&E.ctx, ip, sizeof(ip), EMSGSIZE, &icmp);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_icmp_ignored, 1);
	ck_assert_uint_eq(t->mss, 1448);
	ck_assert_uint_eq(t->pmtu, 1500);
	ck_assert_uint_eq(E.ctx.pmtu.n, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_lowered, 0);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_int_eq(t->soft_err, 0);
	/* both ends of [snd_una, snd_nxt] are in, as Linux's between() */
	frag_needed(E.iss + 1 + 4 * 1448, 1400);
	ck_assert_uint_eq(t->mss, 1400 - 52);
	frag_needed(E.iss + 1 + 1448, 1300);
	ck_assert_uint_eq(t->mss, 1300 - 52);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_lowered, 2);
}
END_TEST

/* Linux: below min_pmtu (552), 0 included, the path MTU is 552, locked. */
START_TEST(pmtu_frag_needed_below_min_or_zero)
{
	struct tcb *t;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	env_app_write(&E, 2000, 0);
	frag_needed(E.iss + 1, 0);
	ck_assert_uint_eq(t->pmtu, 552);
	ck_assert_uint_eq(t->mss, 500);
	ck_assert(pmtu_locked(&E.ctx, E.peer_be));
	/* locked: a later 300 changes nothing */
	frag_needed(E.iss + 1, 300);
	ck_assert_uint_eq(t->mss, 500);
	ck_assert_int_eq(t->soft_err, 0);
}
END_TEST

/* The peer's SYN-ACK to our SYN (syn_tx: its index in fake_tx), MSS 1460. */
static void pmtu_synack(int syn_tx)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .mss = 1460, .ws = true,
			  .wscale = 7 };

	E.iss = fake_tx[syn_tx].seg.h.seq;
	o.tsecr = fake_tx[syn_tx].seg.h.tsval;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
}

/* Linux tcp_v4_err(): fragmentation needed is never fatal, not in SYN_SENT either;
 * the MSS after the SYN-ACK follows the path. */
START_TEST(pmtu_frag_needed_syn_sent)
{
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	frag_needed(last_tx()->seg.h.seq, 1280);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	ck_assert_int_eq(E.sh->error, 0);
	ck_assert_uint_eq(E.sh->eq_seq, 0);
	pmtu_synack(0);
	ck_assert_uint_eq(env_tcb(&E)->mss, 1228);
}
END_TEST

/* Per destination, as Linux's route exception: a new connection starts from the
 * learned path MTU (its SYN offers MSS 1240, as Linux's advmss), and one already open
 * follows the path when it next sends; 600 s later the port's MTU is back. */
START_TEST(pmtu_per_destination_and_expiry)
{
	struct tcb *t;
	uint64_t exp;

	ck_assert_uint_eq(pmtu_update(&E.ctx, E.peer_be, 1280), 1280);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.mss, 1240);
	E.ctx.now_us += 100000;
	pmtu_synack(fake_ntx - 1);
	t = env_tcb(&E);
	ck_assert_uint_eq(t->mss, 1228);
	/* another connection's ICMP lowers the destination's: this one follows */
	pmtu_update(&E.ctx, E.peer_be, 1200);
	(void)pmtu_get(&E.ctx, E.peer_be, &exp);
	fake_ntx = 0;
	env_app_write(&E, 3000, 0);
	ck_assert_uint_eq(t->mss, 1148);
	ck_assert_uint_eq(fake_tx[0].seg.len, 1148);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_pmtu_sync, 1);
	peer_ack(E.iss + 3001);
	/* mtu_expires after: the port's MTU, the peer's MSS */
	E.ctx.now_us = exp - 1;
	env_app_write(&E, 1, 0);
	ck_assert_uint_eq(t->mss, 1148);
	peer_ack(E.iss + 3002);
	E.ctx.now_us = exp;
	fake_ntx = 0;
	env_app_write(&E, 3000, 0);
	ck_assert_uint_eq(t->pmtu, 1500);
	ck_assert_uint_eq(t->mss, 1448);
	ck_assert_uint_eq(fake_tx[0].seg.len, 1448);
}
END_TEST

/* The RTO times at which the head goes again, from t0: 300 ms doubling. */
static void rto_until(uint64_t t0, uint64_t until)
{
	uint64_t at = t0, rto = 300000;

	while (at + rto <= until) {
		at += rto;
		rto *= 2;
		set_time(at);
	}
}

/* tcp_mtu_probing = 0, Linux's default: RTOs never touch the MSS. */
START_TEST(mtu_probing_0_leaves_mss)
{
	uint64_t t0;

	env_establish(&E, 100000);
	t0 = E.ctx.now_us;
	env_app_write(&E, 1448, 0);
	rto_until(t0, t0 + 40000000);
	ck_assert_uint_ge(env_tcb(&E)->nrexmit, 6);
	ck_assert_uint_eq(env_tcb(&E)->mss, 1448);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_mtu_blackhole, 0);
}
END_TEST

/* tcp_mtu_probing = 1: Linux's tcp_mtu_probing() once the head has gone unanswered
 * for tcp_retries1 (3) RTOs backed off from 200 ms (3 s): MSS 1024 (tcp_base_mss),
 * then half at each further RTO, down to 48; the retransmission goes at the new size. */
START_TEST(mtu_probing_1_black_hole)
{
	struct tcb *t;
	uint64_t t0;

	E.ctx.tcp->mtu_probing = 1;
	env_establish(&E, 100000);
	t = env_tcb(&E);
	t0 = E.ctx.now_us;
	env_app_write(&E, 3000, 0);
	/* RTOs at 0.3, 0.9, 2.1 s: under 3 s since the first send */
	rto_until(t0, t0 + 2100000);
	ck_assert_uint_eq(t->nrexmit, 3);
	ck_assert_uint_eq(t->mss, 1448);
	/* 4.5 s: a black hole is suspected */
	fake_ntx = 0;
	rto_until(t0, t0 + 4500000);
	ck_assert_uint_eq(t->mss, 1024);
	ck_assert_uint_eq(E.sh->mss, 1024);
	ck_assert_uint_eq(last_tx()->seg.len, 1024);
	ck_assert_uint_eq(last_tx()->seg.h.seq, E.iss + 1);
	/* 9.3 s: half */
	rto_until(t0, t0 + 9300000);
	ck_assert_uint_eq(t->mss, 512);
	ck_assert_uint_eq(last_tx()->seg.len, 512);
	rto_until(t0, t0 + 18900000);
	ck_assert_uint_eq(t->mss, 256);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_mtu_blackhole, 3);
	/* the floor */
	t->mtup_low = 48 + 52;
	rto_until(t0, t0 + 38100000);
	ck_assert_uint_eq(t->mss, 48);
	/* what gets through is acknowledged: the MSS stays (no upward search) */
	peer_ack(E.iss + 1 + 48);
	ck_assert_uint_eq(t->nrexmit, 0);
	ck_assert_uint_eq(t->mss, 48);
}
END_TEST

/* ---- table / ports ------------------------------------------------------------------ */

struct sock2 {
	struct dp_sock s;
	struct shunt_sock *sh;
};

static void sock2_open(struct sock2 *x)
{
	memset(x, 0, sizeof(*x));
	x->sh = aligned_alloc(64, sizeof(*x->sh));
	memset(x->sh, 0, sizeof(*x->sh));
	x->s.sh = x->sh;
	x->s.rx_size = x->s.tx_size = 4096;
	x->s.rx_buf = calloc(1, 4096);
	x->s.tx_buf = calloc(1, 4096);
	ck_assert_int_eq(tcp_open(&E.ctx, &x->s), 0);
}

static void sock2_close(struct sock2 *x)
{
	x->s.app_closed = true;
	tcp_app_abort(&E.ctx, &x->s);
	free(x->s.rx_buf);
	free(x->s.tx_buf);
	free(x->sh);
}

START_TEST(bind_conflicts)
{
	struct sock2 a, b;

	sock2_open(&a);
	sock2_open(&b);
	ck_assert_int_eq(tcp_bind(&E.ctx, &a.s, inet_addr("10.9.9.9"), htons(5000), 0),
			 -EADDRNOTAVAIL);
	ck_assert_int_eq(tcp_bind(&E.ctx, &a.s, E.ctx.ip_be, htons(5000), 0), 0);
	ck_assert_uint_eq(a.sh->local.port, htons(5000));
	ck_assert_int_eq(tcp_bind(&E.ctx, &a.s, 0, htons(5001), 0), -EINVAL);
	ck_assert_int_eq(tcp_bind(&E.ctx, &b.s, 0, htons(5000), 0), -EADDRINUSE);
	/* SO_REUSEADDR on one side only is not enough */
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &b.s, SHUNT_OPT_REUSEADDR, 1), 0);
	ck_assert_int_eq(tcp_bind(&E.ctx, &b.s, 0, htons(5000), 0), -EADDRINUSE);
	/* port 0 picks a free ephemeral port */
	ck_assert_int_eq(tcp_bind(&E.ctx, &b.s, 0, 0, 0), 0);
	ck_assert(ntohs(b.sh->local.port) >= 32768 && ntohs(b.sh->local.port) <= 60999);
	sock2_close(&a);
	sock2_close(&b);
	/* released: the port is free again */
	sock2_open(&a);
	ck_assert_int_eq(tcp_bind(&E.ctx, &a.s, 0, htons(5000), 0), 0);
	sock2_close(&a);
}
END_TEST

START_TEST(bound_port_taken_4tuple)
{
	struct sock2 a, b;

	sock2_open(&a);
	sock2_open(&b);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &a.s, SHUNT_OPT_REUSEADDR, 1), 0);
	ck_assert_int_eq(tcp_app_setopt(&E.ctx, &b.s, SHUNT_OPT_REUSEADDR, 1), 0);
	ck_assert_int_eq(tcp_bind(&E.ctx, &a.s, 0, htons(5000), 0), 0);
	ck_assert_int_eq(tcp_bind(&E.ctx, &b.s, 0, htons(5000), 0), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &a.s, E.peer_be, E.pport_be), 0);
	/* Linux: the same 4-tuple again is EADDRNOTAVAIL, another destination is fine */
	ck_assert_int_eq(tcp_connect(&E.ctx, &b.s, E.peer_be, E.pport_be), -EADDRNOTAVAIL);
	ck_assert_int_eq(tcp_connect(&E.ctx, &b.s, E.peer_be, htons(ntohs(E.pport_be) + 1)), 0);
	sock2_close(&a);
	sock2_close(&b);
}
END_TEST

START_TEST(ephemeral_exhaustion)
{
	struct sock2 a, b, c;

	E.conf.eph_lo = 40000;
	E.conf.eph_hi = 40001;
	sock2_open(&a);
	sock2_open(&b);
	sock2_open(&c);
	ck_assert_int_eq(tcp_connect(&E.ctx, &a.s, E.peer_be, E.pport_be), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &b.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_ne(a.sh->local.port, b.sh->local.port);
	ck_assert_int_eq(tcp_connect(&E.ctx, &c.s, E.peer_be, E.pport_be), -EADDRNOTAVAIL);
	/* another destination may share the ports */
	ck_assert_int_eq(tcp_connect(&E.ctx, &c.s, E.peer_be, htons(81)), 0);
	sock2_close(&a);
	sock2_close(&b);
	sock2_close(&c);
}
END_TEST

/* RFC 6056 double-hash selection: successive connections to one destination take
 * successive ports (the first port tried is free: no search through the ones
 * already used for it), and wrap at the end of the range; another destination
 * has a sequence of its own. */
START_TEST(ephemeral_successive_ports)
{
	enum { N = 300 };
	static struct sock2 x[N + 1];
	struct tcb *t;
	uint16_t prev = 0, p;
	uint32_t i, range;

	E.conf.eph_lo = 40000;
	E.conf.eph_hi = 40199; /* N wraps round it */
	range = E.conf.eph_hi - E.conf.eph_lo + 1;
	for (i = 0; i < N; i++) {
		sock2_open(&x[i]);
		t = x[i].s.pcb;
		ck_assert_int_eq(tcp_port_connect(&E.ctx, t, E.peer_be, E.pport_be), 0);
		p = ntohs(t->lport_be);
		ck_assert(p >= E.conf.eph_lo && p <= E.conf.eph_hi);
		if (i > 0 && i < range)
			ck_assert_uint_eq(p, prev == E.conf.eph_hi ? E.conf.eph_lo : prev + 1);
		if (i == range - 1) { /* every port taken: free the first 100 */
			uint32_t j;

			for (j = 0; j < 100; j++)
				sock2_close(&x[j]);
		}
		prev = p;
	}
	/* another destination: its own start, all its ports free */
	sock2_open(&x[N]);
	t = x[N].s.pcb;
	ck_assert_int_eq(tcp_port_connect(&E.ctx, t, E.peer_be, htons(81)), 0);
	for (i = 100; i <= N; i++)
		sock2_close(&x[i]);
}
END_TEST

/* The 4-tuple table follows the connections: 20,000 of them make it grow from 1,024
 * buckets to at least 16,384 (moved a few buckets at a time, every tuple found at
 * every step of the way), and removing them shrinks it back to 1,024. */
START_TEST(table_grows_and_shrinks)
{
	enum { N = 20000 };
	struct tcp_stack ts = { 0 };
	struct tcb *t = calloc(N, sizeof(*t));
	uint32_t i, j;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(tcp_table_init(&ts, 1024), 0);
	for (i = 0; i < N; i++) {
		t[i].laddr_be = E.ctx.ip_be;
		t[i].lport_be = htons(80);
		t[i].raddr_be = htonl(0x0a000000u + i / 1000);
		t[i].rport_be = htons((uint16_t)(1024 + i % 1000));
		tcp_table_insert(&ts, &t[i]);
		if (i % 997 == 0) /* mid-resize too: everything inserted so far is found */
			for (j = 0; j <= i; j++)
				ck_assert_ptr_eq(tcp_table_lookup(&ts, t[j].laddr_be, t[j].lport_be,
								  t[j].raddr_be, t[j].rport_be),
						 &t[j]);
	}
	ck_assert_uint_ge(tcp_table_buckets(&ts), 16384);
	ck_assert_ptr_null(tcp_table_lookup(&ts, E.ctx.ip_be, htons(81), t[0].raddr_be,
					    t[0].rport_be));
	for (i = 0; i < N; i++) {
		tcp_table_remove(&ts, &t[i]);
		ck_assert_ptr_null(tcp_table_lookup(&ts, t[i].laddr_be, t[i].lport_be,
						    t[i].raddr_be, t[i].rport_be));
		if (i % 997 == 0 && i + 1 < N)
			ck_assert_ptr_eq(tcp_table_lookup(&ts, t[N - 1].laddr_be, t[N - 1].lport_be,
							  t[N - 1].raddr_be, t[N - 1].rport_be),
					 &t[N - 1]);
	}
	ck_assert_uint_eq(tcp_table_buckets(&ts), 1024);
	tcp_table_fini(&ts);
	free(t);
}
END_TEST

/* ---- ISN -------------------------------------------------------------------------- */

START_TEST(isn_rfc6528)
{
	static const uint64_t key[2] = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL };
	uint8_t in[15];
	uint32_t a, b, c, i;

	/* SipHash-2-4 reference vectors (Aumasson & Bernstein), lengths 0 and 15 */
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	ck_assert_uint_eq(tcp_isn_siphash(key, in, 0), 0x726fdb47dd0e0e31ULL);
	ck_assert_uint_eq(tcp_isn_siphash(key, in, 15), 0xa129ca6149be45e5ULL);

	a = tcp_isn(E.ctx.tcp, 1, 2, 3, 4, 1000000);
	b = tcp_isn(E.ctx.tcp, 1, 2, 3, 4, 1000400);
	c = tcp_isn(E.ctx.tcp, 1, 2, 3, 5, 1000000);
	ck_assert_uint_eq(b - a, 100); /* M ticks every 4 us */
	ck_assert_uint_ne(a, c);
}
END_TEST

/* ---- regressions found in review ------------------------------------------------ */

START_TEST(fin_acked_after_rto_rewind)
{
	struct tcb *t;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1);
	env_app_write(&E, 3000, 1);
	tcp_app_shutdown(&E.ctx, &E.s, SHUT_WR);
	env_advance(&E, t->rto_us + 1); /* the peer's ACK was lost: RTO rewinds snd_nxt */
	peer_ack(E.iss + 1 + 3000 + 1); /* the peer had it all: acks data and FIN */
	ck_assert_uint_eq(t->state, SHUNT_SS_FIN_WAIT_2);
	ck_assert_uint_eq(E.sh->tx_cons, 3000); /* the FIN is not a ring byte */
	ck_assert_uint_eq(E.sh->tx_prod, 3000);
}
END_TEST

START_TEST(syn_not_counted_again_when_snd_una_wraps_to_iss)
{
	struct tcb *t;

	env_establish(&E, 100000);
	t = env_tcb(&E);
	tcp_app_setopt(&E.ctx, &E.s, SHUNT_OPT_NODELAY, 1);
	/* After 2^32 bytes snd_una equals iss again; place iss 100 bytes ahead to get
	 * there without sending 4 GiB. */
	t->iss = t->snd_una + 100;
	env_app_write(&E, 100, 1);
	peer_ack(t->snd_una + 100);
	ck_assert_uint_eq(t->snd_una, t->iss);
	env_app_write(&E, 100, 2);
	peer_ack(t->snd_una + 100);
	ck_assert_uint_eq(E.sh->tx_prod - E.sh->tx_cons, 0);
}
END_TEST

START_TEST(tiny_peer_mss_clamped)
{
	struct popt o = { .wnd = 65535, .ts = true, .tsval = 500, .mss = 8 };

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	o.tsecr = last_tx()->seg.h.tsval;
	env_peer(&E, TCP_SYN | TCP_ACK, E.irs, E.iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(env_tcb(&E)->mss, 64);
}
END_TEST

START_TEST(fin_alone_beyond_gap_delivered_when_gap_fills)
{
	uint8_t d[100];
	struct popt o;

	memset(d, 'a', sizeof(d));
	env_establish(&E, 100000);
	o = pts(512);
	env_peer(&E, TCP_ACK | TCP_FIN, E.pnxt + 100, E.iss + 1, &o, NULL, 0);
	peer_data(E.pnxt, d, 100); /* in order, no OOO data held: fast-path shaped */
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSE_WAIT);
	ck_assert(E.sh->flags & SHUNT_SF_RX_EOF);
}
END_TEST

START_TEST(window_never_exceeds_ring_space)
{
	struct tcb *t;
	uint32_t adv;

	E.s.rcvbuf = 262144 - 5; /* space not a multiple of the scale unit */
	env_establish(&E, 100000);
	t = env_tcb(&E);
	ck_assert_uint_gt(t->rcv_ws, 0);
	tcp_send_ack(&E.ctx, t);
	adv = (uint32_t)last_tx()->seg.h.wnd << t->rcv_ws;
	ck_assert_uint_le(adv, dp_sock_rx_space(&E.s));
	ck_assert_uint_gt(adv + (1u << t->rcv_ws), dp_sock_rx_space(&E.s));
}
END_TEST

/* The peer answers with its window shut. */
static void peer_zero_window_ack(void)
{
	struct popt o = pts(0);

	env_peer(&E, TCP_ACK, E.pnxt, E.iss + 1, &o, NULL, 0);
}

/* Established, the peer's window shut, 1000 bytes waiting: the persist timer runs. */
static void zero_window_with_data(void)
{
	env_establish(&E, 100000);
	peer_zero_window_ack();
	env_app_write(&E, 1000, 0);
}

START_TEST(persist_gives_up_on_silent_peer_only)
{
	int i;

	/* a peer that answers every probe with a zero window keeps a live socket open */
	zero_window_with_data();
	for (i = 0; i < 20; i++) {
		env_advance(&E, 130000000); /* past any backoff: one probe */
		peer_zero_window_ack();
	}
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_ESTABLISHED);
	/* a silent peer: TCP_RETRIES2 unanswered probes end it with ETIMEDOUT */
	for (i = 0; i < 16; i++)
		env_advance(&E, 130000000);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ETIMEDOUT);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_persist_timeout, 1);
}
END_TEST

START_TEST(persist_orphan_limited_even_if_peer_answers)
{
	int i;

	zero_window_with_data();
	E.s.app_closed = true; /* closed with data queued: an orphan */
	for (i = 0; i < 12 && E.s.pcb != NULL; i++) {
		env_advance(&E, 130000000);
		if (E.s.pcb == NULL)
			break;
		peer_zero_window_ack();
	}
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_persist_timeout, 1);
}
END_TEST

START_TEST(disconnect_resets_and_keeps_port)
{
	uint16_t lport;

	env_establish(&E, 100000);
	lport = E.sh->local.port;
	fake_ntx = 0;
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	/* Linux tcp_disconnect(): RST to the peer, ECONNRESET pending, CLOSED */
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert(last_tx()->seg.h.flags & TCP_RST);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_int_eq(E.sh->error, ECONNRESET);
	ck_assert_uint_eq(E.sh->remote.addr, 0);
	ck_assert_uint_eq(E.sh->local.addr, 0);   /* address forgotten */
	ck_assert_uint_eq(E.sh->local.port, lport); /* port kept */
	/* and it connects again, from the same port */
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	ck_assert_uint_eq(last_tx()->seg.h.sport_be, lport);
}
END_TEST

START_TEST(disconnect_after_failure_keeps_port_shown)
{
	struct popt o = { .wnd = 0 };
	uint16_t lport;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	E.iss = last_tx()->seg.h.seq;
	lport = E.sh->local.port;
	ck_assert(E.sh->flags & SHUNT_SF_BOUND);
	env_peer(&E, TCP_RST | TCP_ACK, 0, E.iss + 1, &o, NULL, 0); /* refused */
	ck_assert(!(E.sh->flags & SHUNT_SF_BOUND)); /* released: bind() may follow */
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert_uint_eq(E.sh->local.addr, E.ctx.ip_be); /* until connect() reports it */
	fake_ntx = 0;
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	/* the connect() error path: no RST, no new error, 0.0.0.0 and the old port */
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(E.sh->err_seq, 1);
	ck_assert_uint_eq(E.sh->local.addr, 0);
	ck_assert_uint_eq(E.sh->local.port, lport);
	ck_assert(!(E.sh->flags & SHUNT_SF_RESET));
	ck_assert(!(E.sh->flags & SHUNT_SF_BOUND));
	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, 0, htons(5555), 0), 0); /* as Linux */
	ck_assert(E.sh->flags & SHUNT_SF_BOUND);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_SYN_SENT);
	ck_assert_uint_eq(E.sh->local.port, htons(5555));
}
END_TEST

START_TEST(disconnect_syn_sent_no_rst)
{
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	fake_ntx = 0;
	ck_assert_int_eq(tcp_app_disconnect(&E.ctx, &E.s), 0);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_int_eq(E.sh->error, ECONNRESET);
	ck_assert_uint_eq(E.sh->state, SHUNT_SS_CLOSED);
	ck_assert(!tcp_timer_armed(env_tcb(&E), TCP_T_REXMIT));
}
END_TEST

static Suite *tcp_suite(void)
{
	Suite *s = suite_create("tcp");
	TCase *in = tcase_create("tcp_in_out");
	TCase *tm = tcase_create("tcp_timer");
	TCase *cl = tcase_create("tcp_close");
	TCase *api = tcase_create("tcp_api");
	TCase *tb = tcase_create("tcp_table_isn");

	tcase_add_checked_fixture(in, setup, teardown);
	tcase_add_test(in, handshake_options_and_numbers);
	tcase_add_test(in, syn_options_as_linux);
	tcase_add_loop_test(in, syn_options_follow_sysctls, 0, 3);
	tcase_add_test(in, maxseg_bounds_syn_and_mss);
	tcase_add_test(in, tos_ttl_every_segment);
	tcase_add_test(in, handshake_no_options);
	tcase_add_test(in, syn_sent_rst_refused);
	tcase_add_test(in, refusal_published_in_one_step);
	tcase_add_test(in, syn_sent_bad_ack_gets_rst);
	tcase_add_test(in, data_out_nagle_and_release);
	tcase_add_test(in, data_out_cork_and_more);
	tcase_add_test(in, data_out_nodelay_and_wrap);
	tcase_add_test(in, data_out_respects_peer_window);
	tcase_add_test(in, data_in_order_delayed_ack);
	tcase_add_test(in, data_in_out_of_order);
	tcase_add_test(in, window_update_after_read);
	tcase_add_test(in, rst_established_and_challenge);
	tcase_add_test(in, challenge_ack_rate_limited);
	tcase_add_test(in, oow_ack_rate_limited);
	tcase_add_test(in, challenge_ack_host_limit);
	tcase_add_test(in, rst_close_wait_epipe);
	tcase_add_test(in, rst_for_no_connection);
	suite_add_tcase(s, in);

	tcase_add_checked_fixture(tm, setup, teardown);
	tcase_add_test(tm, syn_retransmit_backoff_timeout);
	tcase_add_test(tm, syn_retransmit_syncnt);
	tcase_add_test(tm, rto_retransmit_and_backoff);
	tcase_add_test(tm, rtt_estimate_rfc6298);
	tcase_add_test(tm, rto_floor_is_200ms);
	tcase_add_test(tm, fast_retransmit_newreno);
	tcase_add_test(tm, zero_window_persist);
	tcase_add_test(tm, user_timeout);
	tcase_add_test(tm, user_timeout_syn_sent);
	tcase_add_test(tm, info_published_at_most_every_10ms);
	tcase_add_test(tm, keepalive_probes_then_resets);
	tcase_add_test(tm, keepalive_answered_keeps_connection);
	suite_add_tcase(s, tm);

	tcase_add_checked_fixture(cl, setup, teardown);
	tcase_add_test(cl, active_close_time_wait);
	tcase_add_test(cl, time_wait_configured);
	tcase_add_test(cl, sack_blocks_for_holes);
	tcase_add_test(cl, sack_only_if_offered);
	tcase_add_test(cl, shutdown_wr_fin_after_data);
	tcase_add_test(cl, passive_close_last_ack);
	tcase_add_test(cl, fin_wait_2_timeout);
	tcase_add_test(cl, close_unread_sends_rst);
	tcase_add_test(cl, close_linger0_sends_rst);
	tcase_add_test(cl, fin_out_of_order_held);
	tcase_add_test(cl, data_after_close_resets);
	tcase_add_test(cl, simultaneous_open);
	tcase_add_test(cl, fin_acked_after_rto_rewind);
	tcase_add_test(cl, syn_not_counted_again_when_snd_una_wraps_to_iss);
	tcase_add_test(cl, tiny_peer_mss_clamped);
	tcase_add_test(cl, fin_alone_beyond_gap_delivered_when_gap_fills);
	tcase_add_test(cl, window_never_exceeds_ring_space);
	tcase_add_test(cl, persist_gives_up_on_silent_peer_only);
	tcase_add_test(cl, persist_orphan_limited_even_if_peer_answers);
	tcase_add_test(cl, disconnect_resets_and_keeps_port);
	tcase_add_test(cl, disconnect_syn_sent_no_rst);
	tcase_add_test(cl, disconnect_after_failure_keeps_port_shown);
	suite_add_tcase(s, cl);

	tcase_add_checked_fixture(api, setup, teardown);
	tcase_add_test(api, connect_errors);
	tcase_add_test(api, icmp_error_syn_sent);
	tcase_add_test(api, icmp_error_established_soft);
	tcase_add_test(api, pmtu_mss_arithmetic);
	tcase_add_test(api, pmtu_frag_needed_lowers_mss_and_resends);
	tcase_add_test(api, pmtu_frag_needed_validated);
	tcase_add_test(api, pmtu_frag_needed_in_sack_recovery);
	tcase_add_test(api, pmtu_frag_needed_below_min_or_zero);
	tcase_add_test(api, pmtu_frag_needed_syn_sent);
	tcase_add_test(api, pmtu_per_destination_and_expiry);
	tcase_add_test(api, mtu_probing_0_leaves_mss);
	tcase_add_test(api, congestion_option_and_rto);
	tcase_add_test(api, congestion_default_from_conf);
	tcase_add_test(api, mtu_probing_1_black_hole);
	suite_add_tcase(s, api);

	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_add_test(tb, bind_conflicts);
	tcase_add_test(tb, bound_port_taken_4tuple);
	tcase_add_test(tb, ephemeral_exhaustion);
	tcase_add_test(tb, table_grows_and_shrinks);
	tcase_add_test(tb, ephemeral_successive_ports);
	tcase_add_test(tb, isn_rfc6528);
	suite_add_tcase(s, tb);

	TCase *sk = tcase_create("tcp_sack");
	tcase_add_checked_fixture(sk, setup, teardown);
	tcase_add_test(sk, sack_scoreboard);
	tcase_add_test(sk, sack_recovery_hole_pipe_exit);
	tcase_add_test(sk, sack_recovery_islost_and_rules);
	tcase_add_test(sk, sack_rto_skips_sacked);
	tcase_add_test(sk, sack_limited_transmit);
	tcase_add_test(sk, no_sack_peer_gets_newreno);
	suite_add_tcase(s, sk);

	TCase *rk = tcase_create("tcp_rack");
	tcase_add_checked_fixture(rk, setup, teardown);
	tcase_add_test(rk, rack_one_sack_marks_hole_lost);
	tcase_add_test(rk, rack_lost_holes_in_recovery);
	tcase_add_test(rk, rack_lost_retransmission);
	tcase_add_test(rk, rack_ack_of_reordered_original);
	tcase_add_test(rk, tlp_probes_tail);
	tcase_add_test(rk, tlp_in_place_of_rto);
	tcase_add_test(rk, rack_repairs_go_back_n);
	tcase_add_test(rk, undo_spurious_rto_eifel);
	tcase_add_test(rk, undo_not_for_real_rto);
	tcase_add_test(rk, undo_recovery_by_dsack);
	tcase_add_test(rk, undo_needs_every_rexmit_dsacked);
	tcase_add_test(rk, rto_in_recovery_keeps_ssthresh);
	suite_add_tcase(s, rk);

	TCase *sg = tcase_create("tcp_segments");
	tcase_add_checked_fixture(sg, setup, teardown);
	tcase_add_test(sg, rst_in_each_state);
	tcase_add_test(sg, old_duplicate_and_beyond_window);
	tcase_add_test(sg, peer_wscale_clamped_to_14);
	tcase_add_test(sg, fin_with_data);
	tcase_add_test(sg, paws_timestamps_wrap);
	tcase_add_test(sg, time_wait_reuse_by_new_syn);
	suite_add_tcase(s, sg);

	TCase *ls = tcase_create("tcp_listen");
	tcase_add_checked_fixture(ls, setup, teardown);
	tcase_add_test(ls, listen_state_and_backlog);
	tcase_add_test(ls, listen_refused_when_connecting_or_connected);
	tcase_add_test(ls, listen_syn_gets_synack);
	tcase_add_test(ls, listen_synack_follows_sysctls);
	tcase_add_test(ls, listen_child_inherits_maxseg_tos_ttl);
	tcase_add_test(ls, listen_ack_establishes_and_announces);
	tcase_add_test(ls, listen_acceptq_full_drops_ack_until_accept);
	tcase_add_test(ls, listen_synq_full_drops_syn);
	tcase_add_test(ls, listen_close_resets_queued_children);
	tcase_add_test(ls, listen_unaccepted_child_reset_on_exit);
	tcase_add_test(ls, listen_broken_ring_stops_listening);
	tcase_add_test(ls, listen_synack_retransmit_then_give_up);
	tcase_add_test(ls, listen_no_match_gets_rst);
	tcase_add_test(ls, syncookie_make_check);
	tcase_add_test(ls, syncookie_only_when_synq_full);
	tcase_add_test(ls, syncookie_ack_establishes_child);
	tcase_add_test(ls, syncookie_bad_ack_gets_rst);
	tcase_add_test(ls, syncookie_acceptq_full_drops_ack);
	suite_add_tcase(s, ls);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tcp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
