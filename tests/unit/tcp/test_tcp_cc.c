/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * tcp_cc: the congestion control algorithms on a bare tcb with a fake clock.
 * CUBIC's window against RFC 9438's W_cubic(t) = C (t - K)^3 + W_max, its
 * Reno-friendly region, ssthresh and W_max after a loss (beta, fast
 * convergence), the RTO's reset, HyStart; reno's numbers as before; the restart
 * window after idle. A round trip here is a cwnd of bytes acked a segment at a
 * time over rtt_us, the sender refilling the window after each ACK (cwnd-limited).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_cc.h"

#define MSS 1000u

static struct dp_ctx ctx;
static struct tcp_stack ts;
static struct tcb T;

static void cc_setup(uint32_t cc, uint32_t rtt_us)
{
	memset(&ctx, 0, sizeof(ctx));
	memset(&ts, 0, sizeof(ts));
	memset(&T, 0, sizeof(T));
	ctx.tcp = &ts;
	ts.ssai = true;
	ctx.now_us = 1000000;
	T.mss = MSS;
	T.rto_us = 200000;
	T.rtt_valid = true;
	T.srtt_us = rtt_us;
	ck_assert_int_eq(tcp_cc_select(&T, cc, false), 0);
	T.cwnd = 10 * MSS;
	T.ssthresh = UINT32_MAX / 2;
	tcp_cc_init(&T, ctx.now_us);
}

/* one ACK of one segment, the window full before it and refilled after */
static void ack_one(void)
{
	T.snd_max = T.snd_una + T.cwnd;
	T.snd_una += MSS;
	tcp_cc_on_ack(&ctx, &T, MSS, T.snd_max - T.snd_una + MSS);
	T.snd_max = T.snd_una + T.cwnd;
}

static void round_trip(uint32_t rtt_us)
{
	uint32_t n = T.cwnd / MSS, i;

	for (i = 0; i < n; i++) {
		ctx.now_us += rtt_us / n;
		ack_one();
	}
}

/* a loss with cwnd w: ssthresh from the algorithm, recovery leaves cwnd = ssthresh */
static void loss_at(uint32_t w)
{
	T.cwnd = w;
	T.snd_max = T.snd_una + w;
	T.ssthresh = tcp_loss_ssthresh(&T);
	T.cwnd = T.ssthresh;
}

static double w_cubic(double t_s, double k_s, double w_max)
{
	double d = t_s - k_s;

	return 0.4 * d * d * d * MSS + w_max;
}

START_TEST(cubic_ssthresh_beta_and_w_max)
{
	cc_setup(SHUNT_CC_CUBIC, 100000);
	T.cwnd = 100 * MSS;
	T.snd_max = T.snd_una + 40 * MSS; /* FlightSize is not what counts (Linux) */
	ck_assert_uint_eq(tcp_loss_ssthresh(&T), 100u * MSS * 717 / 1024);
	/* never below 2 SMSS */
	T.cwnd = 2 * MSS;
	ck_assert_uint_eq(tcp_loss_ssthresh(&T), 2 * MSS);
}
END_TEST

/* RFC 9438 4.7: a loss below the last W_max lowers W_max to cwnd (1 + beta) / 2,
 * seen in K: the curve's plateau is reached at the lowered W_max */
START_TEST(cubic_fast_convergence)
{
	uint32_t w = 90 * MSS, rtt = 500000; /* a long RTT: W_est stays below */
	double wmax = (double)w * (1024 + 717) / 2048, k = 0;
	uint64_t epoch;

	cc_setup(SHUNT_CC_CUBIC, rtt);
	loss_at(100 * MSS); /* W_max = 100 segments */
	loss_at(w);         /* below it: fast convergence */
	ck_assert_uint_eq(T.ssthresh, w * 717u / 1024);
	while (0.4 * k * k * k < (wmax - T.cwnd) / MSS)
		k += 0.001;
	/* at K cwnd is at the lowered W_max (76.5 segments); with W_max = 90 it
	 * would be at 89.8 then (K = 4.07 s) */
	epoch = ctx.now_us;
	while ((double)(ctx.now_us - epoch) / 1e6 < k)
		round_trip(rtt);
	ck_assert_msg(T.cwnd >= wmax - 3 * MSS && T.cwnd <= wmax + 3 * MSS, "cwnd %u, W_max %.0f",
		      T.cwnd, wmax);
}
END_TEST

/* The window follows W_cubic(t): concave up to W_max at K, convex past it. */
START_TEST(cubic_window_curve)
{
	double wmax = 100.0 * MSS, k, t;
	uint64_t epoch;
	uint32_t rtt = 100000;

	cc_setup(SHUNT_CC_CUBIC, rtt);
	T.srtt_us = rtt;
	loss_at(100 * MSS);
	ck_assert_uint_eq(T.cwnd, 100u * MSS * 717 / 1024);
	k = 0;
	while (0.4 * k * k * k < (wmax - T.cwnd) / MSS)
		k += 0.0005;
	ck_assert(k > 4.2 && k < 4.23); /* cbrt(100 * 0.3 / 0.4) = 4.217 s */
	epoch = ctx.now_us;
	while ((t = (double)(ctx.now_us - epoch) / 1e6) < 7.0) {
		round_trip(rtt);
		t = (double)(ctx.now_us - epoch) / 1e6;
		/* within two segments of the curve one RTT ahead (the target) */
		ck_assert_msg(T.cwnd <= w_cubic(t + 0.1, k, wmax) + 2 * MSS &&
				      T.cwnd >= w_cubic(t, k, wmax) - 2 * MSS,
			      "t %.2f: cwnd %u, W_cubic %.0f", t, T.cwnd, w_cubic(t, k, wmax));
		if (getenv("CC_TRACE"))
			fprintf(stderr, "t %.2f cwnd %u wc %.0f\n", t, T.cwnd, w_cubic(t, k, wmax));
		if (t < k - 2.0) /* concave: below W_max well before K */
			ck_assert_uint_lt(T.cwnd, (uint32_t)wmax - MSS);
	}
	ck_assert_uint_gt(T.cwnd, (uint32_t)(wmax + 10 * MSS)); /* convex past K */
}
END_TEST

/* RFC 9438 4.3: with a short RTT Reno's estimate W_est (alpha = 3 (1 - beta) /
 * (1 + beta) segments per RTT) outgrows W_cubic, and cwnd follows it. */
START_TEST(cubic_reno_friendly_region)
{
	double alpha = 3.0 * (1 - 717.0 / 1024) / (1 + 717.0 / 1024), west;
	uint32_t rtt = 2000, w0, i;

	cc_setup(SHUNT_CC_CUBIC, rtt);
	loss_at(20 * MSS);
	w0 = T.cwnd;
	for (i = 0; i < 200; i++)
		round_trip(rtt);
	west = w0 + 200 * alpha * MSS;
	ck_assert_msg(T.cwnd >= west - 3 * MSS && T.cwnd <= west + 3 * MSS, "cwnd %u, W_est %.0f",
		      T.cwnd, west);
	/* 0.4 s after the loss W_cubic is still below W_max = 20 segments */
	ck_assert_uint_gt(T.cwnd, 40 * MSS);
}
END_TEST

/* Slow start as Linux's tcp_slow_start(): each acked byte, up to ssthresh. */
START_TEST(cubic_slow_start_and_cwnd_limited)
{
	cc_setup(SHUNT_CC_CUBIC, 100000);
	T.ssthresh = 15 * MSS;
	round_trip(100000);
	ck_assert_uint_ge(T.cwnd, 15 * MSS);
	ck_assert_uint_lt(T.cwnd, 16 * MSS);
	/* application-limited (half the window in flight): no growth */
	T.cwnd = 30 * MSS;
	T.snd_max = T.snd_una + 10 * MSS;
	T.snd_una += MSS;
	tcp_cc_on_ack(&ctx, &T, MSS, 10 * MSS);
	ck_assert_uint_eq(T.cwnd, 30 * MSS);
	/* ... in slow start too (Linux: cwnd < 2 * what was in flight) */
	T.ssthresh = UINT32_MAX / 2;
	tcp_cc_on_ack(&ctx, &T, MSS, 15 * MSS);
	ck_assert_uint_eq(T.cwnd, 30 * MSS);
	tcp_cc_on_ack(&ctx, &T, MSS, 16 * MSS);
	ck_assert_uint_eq(T.cwnd, 31 * MSS);
}
END_TEST

/* Linux bictcp_state(TCP_CA_Loss): an RTO forgets W_max; the next epoch starts
 * at the current cwnd (K = 0), not at the curve left by the earlier loss. */
START_TEST(cubic_rto_forgets_w_max)
{
	uint32_t rtt = 100000, with_rto, without;
	int rto;

	for (rto = 1; rto >= 0; rto--) {
		cc_setup(SHUNT_CC_CUBIC, rtt);
		loss_at(100 * MSS);
		if (rto)
			tcp_cc_on_rto(&T, ctx.now_us);
		T.cwnd = T.ssthresh = 40 * MSS;
		round_trip(rtt);
		round_trip(rtt);
		if (rto)
			with_rto = T.cwnd;
		else
			without = T.cwnd;
	}
	/* after the RTO: K = 0 from 40 segments and no W_max, Linux's 5 % per RTT
	 * (40 -> 42 -> 44); remembering W_max = 100 the concave curve pulls harder */
	ck_assert_uint_eq(with_rto, 44 * MSS);
	ck_assert_uint_gt(without, with_rto + 2 * MSS);
}
END_TEST

/* HyStart (delay): RTT samples rising by more than delay_min / 8, clamped to 4..16
 * ms, in a round end slow start at the cwnd of the moment. A 200 ms path: the
 * threshold is 16 ms, and ACKs 3 ms apart or more are no train. */
static void hystart_setup(uint32_t rtt_us)
{
	cc_setup(SHUNT_CC_CUBIC, rtt_us);
	T.cwnd = 16 * MSS;
	T.rack_valid = true;
	T.rack_rtt_us = rtt_us;
}

START_TEST(cubic_hystart_delay_exit)
{
	uint32_t i;

	hystart_setup(200000);
	round_trip(200000); /* delay_min 200 ms; cwnd 32 */
	ck_assert_uint_eq(ctx.tcp_stats.tcp_hystart_exit, 0);
	ck_assert_uint_eq(T.ssthresh, UINT32_MAX / 2);
	T.rack_rtt_us = 200000 + 17000; /* above 200 + 16 ms */
	for (i = 0; i < 12 && T.ssthresh == UINT32_MAX / 2; i++) {
		ctx.now_us += 200000 / 32;
		ack_one();
	}
	ck_assert_uint_eq(ctx.tcp_stats.tcp_hystart_exit, 1);
	ck_assert_uint_eq(T.ssthresh, T.cwnd);
	/* a rise below the threshold (clamped to 16 ms, not 25) does not end it */
	hystart_setup(200000);
	round_trip(200000);
	T.rack_rtt_us = 200000 + 15000;
	round_trip(200000);
	round_trip(200000);
	ck_assert_uint_eq(T.ssthresh, UINT32_MAX / 2);
	ck_assert_uint_eq(T.cwnd, 128 * MSS);
}
END_TEST

/* HyStart (ACK train): ACKs each within 2 ms of the last, for longer than
 * delay_min / 2 since the round began: the pipe is full. */
START_TEST(cubic_hystart_ack_train_exit)
{
	uint32_t i;

	hystart_setup(10000);
	for (i = 0; i < 16 && T.ssthresh == UINT32_MAX / 2; i++) {
		ctx.now_us += 10000 / 16; /* 625 us apart */
		ack_one();
	}
	/* the round began at the first ACK (past end_seq); more than 5 ms =
	 * delay_min / 2 after it: the 10th */
	ck_assert_uint_eq(i, 10);
	ck_assert_uint_eq(ctx.tcp_stats.tcp_hystart_exit, 1);
	ck_assert_uint_eq(T.ssthresh, T.cwnd);
	ck_assert_uint_eq(T.cwnd, 25 * MSS); /* this ACK grows it no more */
}
END_TEST

/* reno: RFC 5681 as before: ssthresh = max(FlightSize / 2, 2 SMSS), slow start one
 * SMSS per ACK at most, congestion avoidance SMSS * SMSS / cwnd. */
START_TEST(reno_unchanged)
{
	cc_setup(SHUNT_CC_RENO, 100000);
	T.cwnd = 100 * MSS;
	T.snd_max = T.snd_una + 40 * MSS;
	ck_assert_uint_eq(tcp_loss_ssthresh(&T), 20 * MSS);
	T.snd_max = T.snd_una + 3 * MSS;
	ck_assert_uint_eq(tcp_loss_ssthresh(&T), 2 * MSS);
	T.cwnd = 10 * MSS;
	T.ssthresh = 20 * MSS;
	tcp_cc_on_ack(&ctx, &T, 3 * MSS, 0);
	ck_assert_uint_eq(T.cwnd, 11 * MSS);
	T.cwnd = 20 * MSS;
	tcp_cc_on_ack(&ctx, &T, MSS, 0);
	ck_assert_uint_eq(T.cwnd, 20 * MSS + MSS * MSS / (20 * MSS));
}
END_TEST

/* tcp_slow_start_after_idle: idle for more than an RTO, cwnd halves per RTO idle
 * down to min(IW, cwnd); ssthresh keeps 3/4 of it (Linux tcp_cwnd_restart()). */
START_TEST(restart_after_idle)
{
	cc_setup(SHUNT_CC_RENO, 100000);
	T.cwnd = 100 * MSS;
	T.ssthresh = 50 * MSS;
	T.snd_una = T.snd_max = 5000;
	tcp_cc_data_sent(&ctx, &T);
	ctx.now_us += T.rto_us; /* not more than an RTO: kept */
	T.snd_una = T.snd_max;
	tcp_cc_data_sent(&ctx, &T);
	ck_assert_uint_eq(T.cwnd, 100 * MSS);
	ctx.now_us += 3 * T.rto_us + T.rto_us / 2; /* three halvings */
	tcp_cc_data_sent(&ctx, &T);
	ck_assert_uint_eq(T.cwnd, 100 * MSS / 8);
	ck_assert_uint_eq(T.ssthresh, 75 * MSS);
	ck_assert_uint_eq(ctx.tcp_stats.tcp_cwnd_restart, 1);
	ctx.now_us += 100 * (uint64_t)T.rto_us; /* never below the IW */
	tcp_cc_data_sent(&ctx, &T);
	ck_assert_uint_eq(T.cwnd, 10 * MSS);
	/* data in flight: no restart */
	T.cwnd = 100 * MSS;
	T.snd_max = T.snd_una + MSS;
	ctx.now_us += 100 * (uint64_t)T.rto_us;
	tcp_cc_data_sent(&ctx, &T);
	ck_assert_uint_eq(T.cwnd, 100 * MSS);
	/* turned off */
	ts.ssai = false;
	T.snd_max = T.snd_una;
	ctx.now_us += 100 * (uint64_t)T.rto_us;
	tcp_cc_data_sent(&ctx, &T);
	ck_assert_uint_eq(T.cwnd, 100 * MSS);
}
END_TEST

/* CA_EVENT_TX_START: idle time does not count on the curve. */
START_TEST(cubic_idle_shifts_epoch)
{
	uint32_t rtt = 100000, c_busy, c_idle;

	cc_setup(SHUNT_CC_CUBIC, rtt);
	ts.ssai = false;
	loss_at(100 * MSS);
	round_trip(rtt);
	round_trip(rtt);
	c_busy = T.cwnd;
	/* idle 3 s, then sending again: the curve resumes from where it was */
	T.snd_max = T.snd_una;
	tcp_cc_data_sent(&ctx, &T);
	ctx.now_us += 3000000;
	tcp_cc_data_sent(&ctx, &T);
	round_trip(rtt);
	c_idle = T.cwnd;
	ck_assert_uint_le(c_idle, c_busy + 3 * MSS);
}
END_TEST

START_TEST(names_and_select)
{
	ck_assert_uint_eq(tcp_cc_find("cubic"), SHUNT_CC_CUBIC);
	ck_assert_uint_eq(tcp_cc_find("reno"), SHUNT_CC_RENO);
	ck_assert_uint_eq(tcp_cc_find("bbr"), SHUNT_CC_NONE);
	ck_assert_uint_eq(tcp_cc_find(""), SHUNT_CC_NONE);
	memset(&T, 0, sizeof(T));
	ck_assert_int_eq(tcp_cc_select(&T, SHUNT_CC_NONE, false), -ENOENT);
	ck_assert_int_eq(tcp_cc_select(&T, SHUNT_CC_MAX, false), -ENOENT);
	ck_assert_int_eq(tcp_cc_select(&T, SHUNT_CC_RENO, true), 0);
	ck_assert_uint_eq(T.cc, SHUNT_CC_RENO);
}
END_TEST

static Suite *cc_suite(void)
{
	Suite *s = suite_create("tcp_cc");
	TCase *c = tcase_create("cc");

	tcase_add_test(c, cubic_ssthresh_beta_and_w_max);
	tcase_add_test(c, cubic_fast_convergence);
	tcase_add_test(c, cubic_window_curve);
	tcase_add_test(c, cubic_reno_friendly_region);
	tcase_add_test(c, cubic_slow_start_and_cwnd_limited);
	tcase_add_test(c, cubic_rto_forgets_w_max);
	tcase_add_test(c, cubic_hystart_delay_exit);
	tcase_add_test(c, cubic_hystart_ack_train_exit);
	tcase_add_test(c, reno_unchanged);
	tcase_add_test(c, restart_after_idle);
	tcase_add_test(c, cubic_idle_shifts_epoch);
	tcase_add_test(c, names_and_select);
	suite_add_tcase(s, c);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
