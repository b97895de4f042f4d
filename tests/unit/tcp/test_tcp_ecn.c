/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ECN (tcp_ecn.c) with crafted segments and the fake clock: the handshake's
 * ECN-setup flags in both open directions, the fallback on a resent SYN, ECT(0)
 * only on new data, ECE from a CE mark until CWR, one cwnd cut per window on ECE
 * and CWR on the next new data, and the SYN cookie's ECN bit.
 */
#include <check.h>
#include <arpa/inet.h>

#include "tcp/tcp.h"
#include "tcp/tcp_ecn.h"
#include "tcp/tcp_in.h"
#include "tcp/tcp_syncookie.h"
#include "tcp/tcp_table.h"
#include "tcp/tcp_wire.h"
#include "tcp_test.h"

#define LPORT 8080
#define ECE_CWR (TCP_ECE | TCP_CWR)

static struct env E;

static void setup(void)
{
	env_init(&E, 65536);
	E.ctx.tcp->ecn = 1;
	E.ctx.tcp->ecn_fallback = true;
}

static void teardown(void)
{
	env_fini(&E);
}

static uint8_t ecn_of(const struct fake_seg *f)
{
	return f->seg.tos & TCP_ECN_MASK;
}

/* ESTABLISHED with ECN agreed (or not, when the SYN-ACK says no) */
static void establish(bool agree)
{
	E.peer_ecn = agree;
	env_establish(&E, 10000);
}

/* The peer's data [pnxt, pnxt + len) acking what we sent so far. */
static void peer_data(uint8_t flags, uint32_t len, uint8_t ecn)
{
	static const uint8_t d[1448];

	env_peer_ecn(&E, TCP_ACK | flags, E.pnxt, env_tcb(&E)->snd_una, NULL, d, len, ecn);
	E.pnxt += len;
}

static void peer_ack(uint8_t flags, uint32_t ack)
{
	env_peer(&E, TCP_ACK | flags, E.pnxt, ack, NULL, NULL, 0);
}

START_TEST(syn_asks_with_ecn_1_not_2)
{
	const struct fake_seg *f;

	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	f = last_tx();
	/* Linux tcp_ecn_send_syn(): ECE and CWR, and the SYN itself not ECT */
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | ECE_CWR);
	ck_assert_uint_eq(ecn_of(f), TCP_ECN_NOT_ECT);
	tcp_fini(&E.ctx);

	E.conf.ecn = 2; /* Linux's default: accept only */
	ck_assert_int_eq(tcp_init(&E.ctx), 0);
	E.s.pcb = NULL;
	ck_assert_int_eq(tcp_open(&E.ctx, &E.s), 0);
	fake_ntx = 0;
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN);
}
END_TEST

START_TEST(synack_decides)
{
	const struct fake_seg *f;

	establish(true);
	ck_assert(env_tcb(&E)->ecn_flags & TCP_ECN_OK);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_negotiated, 1);
	/* new data is ECT(0); the pure ACK of the handshake was not */
	env_app_write(&E, 1000, 1);
	f = last_tx();
	ck_assert_uint_eq(f->seg.len, 1000);
	ck_assert_uint_eq(ecn_of(f), TCP_ECN_ECT0);
	ck_assert_uint_eq(f->seg.h.flags & ECE_CWR, 0);
	peer_data(0, 100, TCP_ECN_ECT0);
	env_advance(&E, TCP_DACK_US);
	f = last_tx();
	ck_assert_uint_eq(f->seg.len, 0);
	ck_assert_uint_eq(ecn_of(f), TCP_ECN_NOT_ECT);
}
END_TEST

START_TEST(synack_without_ece_or_with_cwr_refuses)
{
	struct popt o = { .wnd = 65535, .mss = 1460 };

	establish(false);
	ck_assert_uint_eq(env_tcb(&E)->ecn_flags, 0);
	env_app_write(&E, 1000, 1);
	ck_assert_uint_eq(ecn_of(last_tx()), TCP_ECN_NOT_ECT);
	tcp_app_abort(&E.ctx, &E.s);

	/* ECE with CWR is a reflected SYN, not an answer (tcp_ecn_rcv_synack()) */
	E.s.pcb = NULL;
	ck_assert_int_eq(tcp_open(&E.ctx, &E.s), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, htons(81)), 0);
	E.pport_be = htons(81);
	env_peer(&E, TCP_SYN | TCP_ACK | ECE_CWR, E.irs, last_tx()->seg.h.seq + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.s.state, SHUNT_SS_ESTABLISHED);
	ck_assert_uint_eq(env_tcb(&E)->ecn_flags, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_negotiated, 0);
}
END_TEST

START_TEST(resent_syn_falls_back)
{
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, E.pport_be), 0);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | ECE_CWR);
	fake_ntx = 0;
	env_advance(&E, TCP_RTO_INIT_US);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN); /* RFC 3168 6.1.1.1 */
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_syn_fallback, 1);
	ck_assert_uint_eq(env_tcb(&E)->ecn_flags, 0);
	/* with tcp_ecn_fallback = 0 it keeps asking */
	tcp_app_abort(&E.ctx, &E.s);
	E.ctx.tcp->ecn_fallback = false;
	E.s.pcb = NULL;
	ck_assert_int_eq(tcp_open(&E.ctx, &E.s), 0);
	ck_assert_int_eq(tcp_connect(&E.ctx, &E.s, E.peer_be, htons(81)), 0);
	fake_ntx = 0;
	env_advance(&E, TCP_RTO_INIT_US);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_SYN | ECE_CWR);
}
END_TEST

/* A SYN to the listener from port pport, in an IP header with ecn. */
static const struct fake_seg *listen_syn(uint16_t pport, uint8_t flags, uint8_t ecn)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460 };

	E.pport_be = htons(pport);
	fake_ntx = 0;
	env_peer_ecn(&E, TCP_SYN | flags, 5000, 0, &o, NULL, 0, ecn);
	ck_assert_int_eq(fake_ntx, 1);
	return last_tx();
}

START_TEST(listener_accepts_when_asked)
{
	const struct fake_seg *f;

	E.ctx.tcp->ecn = 2;
	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, 0, htons(LPORT), 0), 0);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 8), 0);
	/* Linux tcp_ecn_make_synack(): ECE alone, the SYN-ACK not ECT */
	f = listen_syn(40000, ECE_CWR, TCP_ECN_NOT_ECT);
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | TCP_ACK | TCP_ECE);
	ck_assert_uint_eq(ecn_of(f), TCP_ECN_NOT_ECT);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_negotiated, 1);
	/* not asked, asked with ECE alone, or by an ECT-marked SYN: no */
	ck_assert_uint_eq(listen_syn(40001, 0, TCP_ECN_NOT_ECT)->seg.h.flags, TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(listen_syn(40002, TCP_ECE, TCP_ECN_NOT_ECT)->seg.h.flags,
			  TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(listen_syn(40003, ECE_CWR, TCP_ECN_ECT0)->seg.h.flags,
			  TCP_SYN | TCP_ACK);
	/* tcp_ecn = 0: never */
	E.ctx.tcp->ecn = 0;
	ck_assert_uint_eq(listen_syn(40004, ECE_CWR, TCP_ECN_NOT_ECT)->seg.h.flags,
			  TCP_SYN | TCP_ACK);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_negotiated, 1);
	/* the SYN-ACK sent again keeps its ECE */
	fake_ntx = 0;
	env_advance(&E, TCP_RTO_INIT_US);
	for (int i = 0; i < fake_ntx; i++)
		if (ntohs(fake_tx[i].seg.h.dport_be) == 40000)
			ck_assert_uint_eq(fake_tx[i].seg.h.flags, TCP_SYN | TCP_ACK | TCP_ECE);
}
END_TEST

START_TEST(ce_echoed_until_cwr)
{
	const struct fake_seg *f;
	struct tcb *tcb;

	establish(true);
	tcb = env_tcb(&E);
	/* ECT(0) data: a delayed ACK as ever */
	peer_data(0, 100, TCP_ECN_ECT0);
	ck_assert_int_eq(fake_ntx, 0);
	env_advance(&E, TCP_DACK_US);
	ck_assert_uint_eq(last_tx()->seg.h.flags & TCP_ECE, 0);
	/* CE: acknowledged at once with ECE (Linux quick-ack mode), the next too */
	fake_ntx = 0;
	peer_data(0, 100, TCP_ECN_CE);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_ECE);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_ce_rx, 1);
	peer_data(0, 100, TCP_ECN_ECT0);
	ck_assert_int_eq(fake_ntx, 2);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_ECE);
	/* then delayed again, and still ECE, on data of ours too */
	peer_data(0, 100, TCP_ECN_ECT0);
	ck_assert_int_eq(fake_ntx, 2);
	env_app_write(&E, 500, 3);
	f = last_tx();
	ck_assert_uint_eq(f->seg.len, 500);
	ck_assert_uint_eq(f->seg.h.flags & TCP_ECE, TCP_ECE);
	/* CWR on data: ECE stops, the ACK goes at once */
	fake_ntx = 0;
	peer_data(TCP_CWR, 100, TCP_ECN_ECT0);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.h.flags & TCP_ECE, 0);
	ck_assert_uint_eq(tcb->ecn_flags & TCP_ECN_DEMAND_CWR, 0);
	/* CE again, then CWR on a pure ACK (Linux accepts it there too) */
	peer_data(0, 100, TCP_ECN_CE);
	ck_assert_uint_eq(last_tx()->seg.h.flags, TCP_ACK | TCP_ECE);
	peer_ack(TCP_CWR, tcb->snd_max);
	ck_assert_uint_eq(tcb->ecn_flags & TCP_ECN_DEMAND_CWR, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_cwr_rx, 2);
	/* without ECN agreed, CE means nothing */
	tcb->ecn_flags = 0;
	fake_ntx = 0;
	peer_data(0, 100, TCP_ECN_CE);
	ck_assert_int_eq(fake_ntx, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_ce_rx, 2);
}
END_TEST

START_TEST(ece_cuts_once_per_window)
{
	struct tcb *tcb;
	uint32_t mss, want;
	int i, cwr = 0;

	establish(true);
	tcb = env_tcb(&E);
	mss = tcb->mss;
	env_app_write(&E, 20 * mss, 1); /* IW: 10 segments go */
	ck_assert_int_eq(fake_ntx, 10);
	for (i = 0; i < fake_ntx; i++)
		ck_assert_uint_eq(ecn_of(&fake_tx[i]), TCP_ECN_ECT0);
	/* ECE on the ACK of the first: ssthresh as for a loss, cwnd to it */
	want = tcp_loss_ssthresh(tcb);
	fake_ntx = 0;
	peer_ack(TCP_ECE, tcb->snd_una + mss);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_cwnd_reduced, 1);
	ck_assert_uint_eq(tcb->ssthresh, want);
	ck_assert_uint_le(tcb->cwnd, want + mss); /* at most one ACK's growth on top */
	ck_assert_int_eq(fake_ntx, 0);            /* 9 in flight: over cwnd */
	/* the first new data after the cut carries CWR, only it */
	peer_ack(0, tcb->snd_una + 5 * mss);
	for (i = 0; i < fake_ntx; i++)
		cwr += (fake_tx[i].seg.h.flags & TCP_CWR) != 0;
	ck_assert_int_gt(fake_ntx, 0);
	ck_assert_uint_eq(fake_tx[0].seg.h.flags & TCP_CWR, TCP_CWR);
	ck_assert_int_eq(cwr, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_cwr_tx, 1);
	/* more ECE inside the same window: no second cut */
	peer_ack(TCP_ECE, tcb->snd_una + mss);
	peer_ack(TCP_ECE, tcb->snd_una + mss);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_cwnd_reduced, 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_ece_rx, 3);
	/* past what was in flight at the cut: ECE cuts again */
	ck_assert(SEQ_GT(tcb->snd_max, tcb->ecn_high));
	peer_ack(0, tcb->ecn_high + mss);
	ck_assert_uint_eq(tcb->ecn_flags & TCP_ECN_IN_CWR, 0);
	/* Linux tcp_end_cwnd_reduction(): ssthresh, then this ACK's growth */
	ck_assert(tcb->cwnd >= tcb->ssthresh && tcb->cwnd <= tcb->ssthresh + mss);
	ck_assert(tcb->snd_una != tcb->snd_max);
	peer_ack(TCP_ECE, tcb->snd_una + 1);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_ecn_cwnd_reduced, 2);
}
END_TEST

START_TEST(retransmission_not_ect)
{
	struct tcb *tcb;

	establish(true);
	tcb = env_tcb(&E);
	env_app_write(&E, 1000, 1);
	ck_assert_uint_eq(ecn_of(last_tx()), TCP_ECN_ECT0);
	fake_ntx = 0;
	env_advance(&E, tcb->rto_us);
	ck_assert_int_eq(fake_ntx, 1);
	ck_assert_uint_eq(last_tx()->seg.len, 1000);
	ck_assert_uint_eq(ecn_of(last_tx()), TCP_ECN_NOT_ECT); /* RFC 3168 6.1.5 */
}
END_TEST

START_TEST(cookie_carries_ecn)
{
	struct popt o = { .wnd = 64240, .ts = true, .tsval = 700, .mss = 1460 };
	const struct fake_seg *f;
	uint32_t tsval, iss;
	struct tcb *c;

	ck_assert(tcp_syncookie_ts_ecn(tcp_syncookie_tsval(1000, 7, false, true)));
	ck_assert(!tcp_syncookie_ts_ecn(tcp_syncookie_tsval(1000, 7, true, false)));
	ck_assert_uint_le(tcp_syncookie_tsval(1000, 15, true, true), 1000);

	ck_assert_int_eq(tcp_bind(&E.ctx, &E.s, 0, htons(LPORT), 0), 0);
	ck_assert_int_eq(tcp_app_listen(&E.ctx, &E.s, 0), 0); /* 0: the SYN queue is full */
	E.pport_be = htons(40000);
	env_peer(&E, TCP_SYN | ECE_CWR, 5000, 0, &o, NULL, 0);
	f = last_tx();
	if (E.ctx.tcp_stats.tcp_syncookies_sent == 0) {
		/* a backlog of 0 still takes one: fill it, then the cookie */
		E.pport_be = htons(40001);
		env_peer(&E, TCP_SYN | ECE_CWR, 5000, 0, &o, NULL, 0);
		f = last_tx();
	}
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_sent, 1);
	ck_assert_uint_eq(f->seg.h.flags, TCP_SYN | TCP_ACK | TCP_ECE);
	tsval = f->seg.h.tsval;
	iss = f->seg.h.seq;
	ck_assert(tcp_syncookie_ts_ecn(tsval));
	o.tsval = 701;
	o.tsecr = tsval;
	env_peer(&E, TCP_ACK, 5001, iss + 1, &o, NULL, 0);
	ck_assert_uint_eq(E.ctx.tcp_stats.tcp_syncookies_ok, 1);
	c = tcp_table_lookup(E.ctx.tcp, E.ctx.ip_be, htons(LPORT), E.peer_be, E.pport_be);
	ck_assert_ptr_nonnull(c);
	ck_assert(c->ecn_flags & TCP_ECN_OK);
}
END_TEST

static Suite *ecn_suite(void)
{
	Suite *s = suite_create("tcp_ecn");
	TCase *t = tcase_create("ecn");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, syn_asks_with_ecn_1_not_2);
	tcase_add_test(t, synack_decides);
	tcase_add_test(t, synack_without_ece_or_with_cwr_refuses);
	tcase_add_test(t, resent_syn_falls_back);
	tcase_add_test(t, listener_accepts_when_asked);
	tcase_add_test(t, ce_echoed_until_cwr);
	tcase_add_test(t, ece_cuts_once_per_window);
	tcase_add_test(t, retransmission_not_ect);
	tcase_add_test(t, cookie_carries_ecn);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ecn_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
