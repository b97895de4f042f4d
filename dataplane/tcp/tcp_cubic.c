/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * CUBIC (RFC 9438) as Linux's net/ipv4/tcp_cubic.c runs it, in bytes where Linux
 * counts segments:
 *   - beta 717/1024 (~0.7): ssthresh = cwnd * beta at a loss, W_max = cwnd, or
 *     cwnd * (1 + beta) / 2 below the last W_max (fast convergence, 4.7);
 *   - in congestion avoidance cwnd heads for W_cubic(t + delay_min) (4.2), where t
 *     runs from the first ACK after the loss (the epoch), K = cbrt((W_max -
 *     cwnd_epoch) / C) with C = 0.4 segments / s^3; it grows by (target - cwnd) /
 *     cwnd segments per segment acked, at most one per two acked;
 *   - the Reno-friendly region (4.3): W_est grows by alpha = 3 (1 - beta) / (1 +
 *     beta) segments per cwnd acked from cwnd_epoch; cwnd follows it while it is
 *     the larger;
 *   - with no W_max yet (never a loss) it grows at least 5 % per RTT (Linux);
 *   - slow start as Linux's tcp_slow_start(): cwnd += acked up to ssthresh, and
 *     HyStart as Linux's default (hystart_detect 3), once cwnd is 16 segments:
 *     a round whose smallest of 8 RTT samples exceeds delay_min by delay_min / 8
 *     (clamped to 4..16 ms), or whose ACKs, each within 2 ms of the last, span
 *     more than delay_min / 2 from the round's start (the ACK train: the pipe is
 *     full; shunt does not pace, as Linux without pacing), ends slow start
 *     (ssthresh = cwnd);
 *   - after idle the epoch moves by the idle time (CA_EVENT_TX_START), so the
 *     curve does not jump; an RTO forgets W_max (Linux bictcp_reset() on Loss);
 *   - cwnd grows only while the connection is cwnd-limited (Linux
 *     tcp_is_cwnd_limited(), from the flight before the ACK).
 * Differs from RFC 9438 as Linux does: alpha stays 3 (1 - beta) / (1 + beta) past
 * W_max, ssthresh comes from cwnd (not FlightSize), and an RTO resets W_max.
 */
#include <string.h>

#include "tcp/tcb.h"
#include "tcp/tcp_cc.h"

#define CUBIC_BETA        717u   /* / CUBIC_BETA_SCALE: Linux's beta */
#define CUBIC_BETA_SCALE  1024u
#define CUBIC_C           0.4    /* RFC 9438 4.1, segments / s^3 */
#define HYSTART_LOW_SEGS  16u    /* Linux hystart_low_window */
#define HYSTART_SAMPLES   8u     /* Linux HYSTART_MIN_SAMPLES */
#define HYSTART_DELAY_MIN 4000u  /* us: Linux HYSTART_DELAY_MIN */
#define HYSTART_DELAY_MAX 16000u /* us: Linux HYSTART_DELAY_MAX */
#define HYSTART_ACK_DELTA 2000u  /* us: Linux hystart_ack_delta_us */

struct cubic {
	uint64_t epoch_us;     /* when the epoch began; 0: none (Linux epoch_start) */
	double k_s;            /* K, seconds */
	double w_est;          /* W_est, bytes (Linux tcp_cwnd) */
	uint32_t w_max;        /* bytes; 0: none (Linux last_max_cwnd) */
	uint32_t origin;       /* W_cubic(K), bytes (Linux bic_origin_point) */
	uint32_t delay_min_us; /* smallest RTT seen; 0: none */
	uint32_t curr_rtt_us;  /* HyStart: the round's smallest RTT sample */
	uint32_t end_seq;      /* HyStart: the round ends when snd_una passes it */
	uint32_t round_us;     /* HyStart: when the round started (low 32 bits of us) */
	uint32_t last_ack_us;  /* HyStart: the last ACK of the train */
	uint8_t samples;       /* HyStart: samples taken this round */
	bool found;            /* HyStart ended slow start */
};
_Static_assert(sizeof(struct cubic) <= sizeof(((struct tcb *)0)->cc_priv), "cubic state");

static struct cubic *cubic_of(struct tcb *tcb)
{
	return (struct cubic *)(void *)tcb->cc_priv;
}

static double cubic_alpha(void)
{
	double b = (double)CUBIC_BETA / CUBIC_BETA_SCALE;

	return 3.0 * (1.0 - b) / (1.0 + b);
}

/* v^(1/3) for v >= 0 by Newton's method from above (no libm in the dataplane);
 * once per epoch. */
static double cubic_cbrt(double v)
{
	double x = 1.0;
	int i;

	if (v <= 0)
		return 0;
	while (x * x * x < v)
		x *= 2;
	for (i = 0; i < 24; i++)
		x = (2.0 * x + v / (x * x)) / 3.0;
	return x;
}

static void hystart_reset(struct tcb *tcb, struct cubic *c, uint64_t now_us)
{
	c->round_us = c->last_ack_us = (uint32_t)now_us;
	c->end_seq = tcb->snd_max;
	c->curr_rtt_us = UINT32_MAX;
	c->samples = 0;
}

static void cubic_reset(struct tcb *tcb, uint64_t now_us)
{
	struct cubic *c = cubic_of(tcb);

	memset(c, 0, sizeof(*c));
	hystart_reset(tcb, c, now_us);
}

/* at ESTABLISHED lsnd_us is now (tcp_cc_init()); on a switch, the last send */
static void cubic_init(struct tcb *tcb)
{
	cubic_reset(tcb, tcb->lsnd_us);
}

/* Linux hystart_update(): the ACK train, then the delay. */
static void hystart_update(struct tcb *tcb, struct cubic *c, uint32_t rtt_us, uint64_t now_us)
{
	uint32_t thresh = c->delay_min_us >> 3, now = (uint32_t)now_us;

	if (SEQ_GT(tcb->snd_una, c->end_seq))
		hystart_reset(tcb, c, now_us);
	if (now - c->last_ack_us <= HYSTART_ACK_DELTA) {
		c->last_ack_us = now;
		if (now - c->round_us > c->delay_min_us / 2) {
			c->found = true;
			tcb->ssthresh = tcb->cwnd;
			return;
		}
	}
	if (c->curr_rtt_us > rtt_us)
		c->curr_rtt_us = rtt_us;
	if (c->samples < HYSTART_SAMPLES) {
		c->samples++;
		return;
	}
	thresh = thresh < HYSTART_DELAY_MIN ? HYSTART_DELAY_MIN :
		 thresh > HYSTART_DELAY_MAX ? HYSTART_DELAY_MAX : thresh;
	if (c->curr_rtt_us > c->delay_min_us + thresh) {
		c->found = true;
		tcb->ssthresh = tcb->cwnd;
	}
}

/* Linux cubictcp_acked(): the RTT of this ACK (RACK's, from the transmit log,
 * else the smoothed one) feeds delay_min and HyStart; none for a second after a
 * loss (the queue is draining). */
static void cubic_rtt(struct tcb *tcb, struct cubic *c, uint64_t now_us)
{
	uint32_t rtt = tcb->rack_valid ? tcb->rack_rtt_us : tcb->rtt_valid ? tcb->srtt_us : 0;

	if (rtt == 0 || (c->epoch_us != 0 && now_us - c->epoch_us < 1000000))
		return;
	if (c->delay_min_us == 0 || c->delay_min_us > rtt)
		c->delay_min_us = rtt;
	if (!c->found && tcb->cwnd < tcb->ssthresh && tcb->cwnd >= HYSTART_LOW_SEGS * tcb->mss)
		hystart_update(tcb, c, rtt, now_us);
}

/* Linux bictcp_update(): bytes to ack for each SMSS cwnd grows by. */
static uint64_t cubic_update(struct tcb *tcb, struct cubic *c, uint32_t acked, uint64_t now_us)
{
	double mss = tcb->mss, cwnd = tcb->cwnd, t, d, target, cnt, est;

	if (c->epoch_us == 0) {
		c->epoch_us = now_us ? now_us : 1;
		c->w_est = cwnd;
		if (c->w_max <= tcb->cwnd) {
			c->k_s = 0;
			c->origin = tcb->cwnd;
		} else {
			c->k_s = cubic_cbrt((double)(c->w_max - tcb->cwnd) / mss / CUBIC_C);
			c->origin = c->w_max;
		}
	}
	/* W_cubic(t + RTT) (RFC 9438 4.2, Linux: RTT = delay_min) */
	t = (double)(now_us - c->epoch_us + c->delay_min_us) / 1e6;
	d = t - c->k_s;
	target = (double)c->origin + CUBIC_C * d * d * d * mss;
	cnt = target > cwnd ? cwnd * mss / (target - cwnd) : 100.0 * cwnd;
	if (c->w_max == 0 && cnt > 20.0 * mss)
		cnt = 20.0 * mss; /* no loss yet: at least 5 % per RTT */
	/* Reno-friendly region (RFC 9438 4.3) */
	c->w_est += cubic_alpha() * acked * mss / cwnd;
	est = c->w_est;
	if (est > cwnd && cwnd * mss / (est - cwnd) < cnt)
		cnt = cwnd * mss / (est - cwnd);
	if (cnt < 2.0 * mss)
		cnt = 2.0 * mss; /* at most 1.5x per RTT */
	return cnt > 1e15 ? (uint64_t)1e15 : (uint64_t)cnt;
}

static void cubic_cong_avoid(struct tcb *tcb, uint32_t acked, uint32_t flight, uint64_t now_us)
{
	struct cubic *c = cubic_of(tcb);
	uint64_t cnt, n;

	cubic_rtt(tcb, c, now_us);
	/* Linux tcp_is_cwnd_limited(): slow start while cwnd < 2 * flight; else the
	 * window was full (less than a segment left) */
	if (tcb->cwnd < tcb->ssthresh ? tcb->cwnd >= 2u * (uint64_t)flight :
					(uint64_t)flight + tcb->mss < tcb->cwnd)
		return;
	if (tcb->cwnd < tcb->ssthresh) {
		/* tcp_slow_start(): the rest of the acked bytes count in CA */
		uint32_t room = tcb->ssthresh - tcb->cwnd;

		n = acked < room ? acked : room;
		tcb->cwnd += (uint32_t)n;
		acked -= (uint32_t)n;
		if (acked == 0)
			return;
	}
	cnt = cubic_update(tcb, c, acked, now_us);
	/* tcp_cong_avoid_ai(): credits taken at a larger cnt first give one step */
	if (tcb->cc_acc >= cnt) {
		tcb->cc_acc = 0;
		tcb->cwnd += tcb->mss;
	}
	tcb->cc_acc += acked;
	if (tcb->cc_acc >= cnt) {
		n = tcb->cc_acc / cnt;
		tcb->cc_acc -= (uint32_t)(n * cnt);
		tcb->cwnd += (uint32_t)(n * tcb->mss);
	}
}

/* Linux bictcp_recalc_ssthresh() */
static uint32_t cubic_ssthresh(struct tcb *tcb)
{
	struct cubic *c = cubic_of(tcb);
	uint32_t ss;

	c->epoch_us = 0; /* the epoch ends */
	if (tcb->cwnd < c->w_max) /* fast convergence */
		c->w_max = (uint32_t)((uint64_t)tcb->cwnd * (CUBIC_BETA_SCALE + CUBIC_BETA) /
				      (2 * CUBIC_BETA_SCALE));
	else
		c->w_max = tcb->cwnd;
	ss = (uint32_t)((uint64_t)tcb->cwnd * CUBIC_BETA / CUBIC_BETA_SCALE);
	return ss > 2u * tcb->mss ? ss : 2u * tcb->mss;
}

static void cubic_event(struct tcb *tcb, enum tcp_cc_event ev, uint64_t now_us)
{
	struct cubic *c = cubic_of(tcb);

	if (ev == TCP_CC_EV_LOSS) {
		cubic_reset(tcb, now_us); /* bictcp_reset() + bictcp_hystart_reset() */
		return;
	}
	/* TX_START: idle since lsnd_us; the curve resumes where it was */
	if (c->epoch_us != 0 && now_us > tcb->lsnd_us) {
		c->epoch_us += now_us - tcb->lsnd_us;
		if (c->epoch_us > now_us)
			c->epoch_us = now_us;
	}
}

const struct tcp_cc_ops tcp_cc_cubic = {
	.name = "cubic",
	.init = cubic_init,
	.ssthresh = cubic_ssthresh,
	.cong_avoid = cubic_cong_avoid,
	.event = cubic_event,
};
