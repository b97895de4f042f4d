/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Path MTU discovery for TCP as Linux does it with IP_PMTUDISC_WANT, its default:
 * every segment leaves with DF (net/ipv4.c); a router that cannot forward one
 * answers with ICMP fragmentation needed and its next hop's MTU (RFC 1191).
 *
 *   icmp_input() -> tcp_notify_error() -> [4-tuple names a connection, quoted seq
 *                   in [snd_una, snd_max] (RFC 5927 4.1, Linux tcp_v4_err())]
 *                -> tcp_pmtu_reduced() -> pmtu_update() (per destination, net/pmtu.c)
 *                                      -> MSS = tcp_mtu_to_mss(), go-back-N now
 *   tcp_connect(), listen_child_new() -> tcp_pmtu_init()
 *   tcp_output() -> tcp_pmtu_sync() (Linux tcp_current_mss(): another connection's
 *                   ICMP, or the path MTU expired)
 *   RTO (tcp_timer.c) -> tcp_pmtu_on_rto() (tcp_mtu_probing = 1: black holes)
 *
 * Linux's tcp_simple_retransmit() marks lost what in flight is larger than the new
 * MSS and resends it at once, in the Loss state but without touching cwnd: "we do
 * not increase the amount of data in the network, but units changed". We have no
 * per-segment sizes outside RACK's log, so when the flight exceeds the new MSS it
 * is sent again from snd_una, as after an RTO but with cwnd, ssthresh and the
 * backoff as they were.
 */
#include <errno.h>

#include "dp.h"
#include "net/net.h"
#include "tcp/tcb.h"
#include "tcp/tcp.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_rack.h"
#include "tcp/tcp_timer.h"

/* Linux retransmits_timed_out(sk, tcp_retries1, 0): the time TCP_RETRIES1 RTOs
 * take backing off from TCP_RTO_MIN */
#define TCP_BLACKHOLE_US (((2u << TCP_RETRIES1) - 1) * (uint64_t)TCP_RTO_MIN_US)

/* TCP and IPv4 headers with the options every segment carries */
static uint32_t hdr_len(const struct tcb *tcb)
{
	return 40 + (tcb->ts_ok ? 12u : 0u);
}

uint16_t tcp_mtu_to_mss(const struct dp_ctx *ctx, const struct tcb *tcb, uint32_t pmtu)
{
	uint32_t m = (pmtu != 0 ? pmtu : ctx->mtu != 0 ? ctx->mtu : 1500) - 40;

	if (tcb->mss_clamp != 0 && m > tcb->mss_clamp)
		m = tcb->mss_clamp;
	/* Linux's floor is tcp_min_snd_mss (48); ours keeps a silly peer MSS or ICMP
	 * from leaving less than 64 bytes of data */
	if (m < 64 + 12)
		m = 64 + 12;
	/* tcp_sync_mss(): with probing on, never above the search's low end */
	if (tcb->mtup_on && tcb->mtup_low != 0 && m + 40 > tcb->mtup_low)
		m = tcb->mtup_low - 40;
	return (uint16_t)(m - (hdr_len(tcb) - 40));
}

void tcp_pmtu_init(const struct dp_ctx *ctx, struct tcb *tcb, uint32_t dst_be)
{
	tcb->pmtu = pmtu_get(ctx, dst_be, &tcb->pmtu_expires_us);
	tcb->pmtu_gen = ctx->pmtu.gen;
}

/* The MSS for tcb->pmtu, once the peer's SYN said its own (before that the SYN's
 * answer decides, take_syn() -> tcp_mtu_to_mss()). */
static void sync_mss(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->mss_clamp != 0)
		tcb->mss = tcp_mtu_to_mss(ctx, tcb, tcb->pmtu);
	tcb_publish_info(ctx, tcb, true);
}

void tcp_pmtu_sync_slow(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint16_t mtu = pmtu_get(ctx, tcb->raddr_be, &tcb->pmtu_expires_us);

	tcb->pmtu_gen = ctx->pmtu.gen;
	if (mtu == tcb->pmtu)
		return;
	tcb->pmtu = mtu;
	ctx->tcp_stats.tcp_pmtu_sync++;
	sync_mss(ctx, tcb);
}

/* Linux tcp_simple_retransmit(): the flight again, at the new MSS, now. */
static void simple_retransmit(struct dp_ctx *ctx, struct tcb *tcb)
{
	ctx->tcp_stats.tcp_pmtu_rexmit++;
	/* every transmission so far is lost (RACK judges only the new ones), and no
	 * probe is out */
	tcp_rack_on_rto(tcb);
	tcp_timer_stop(ctx, tcb, TCP_T_LOSS);
	if (tcb->in_recovery && tcb->sack_ok) {
		/* SACK recovery goes on, every hole lost: NextSeg resends them from
		 * snd_una in segments of the new size */
		tcb->rxt_next = tcb->snd_una;
		tcb->rack_lost = true;
		tcb->rack_lost_end = tcb->snd_max;
	} else {
		/* Linux's Loss state: as after an RTO (RFC 6675 5.1 with SACK: no SACK
		 * recovery before the recovery point), what the peer SACKed skipped */
		if (tcb->sack_ok) {
			tcb->recover = tcb->snd_max;
			tcb->rto_recover = true;
		}
		tcb->dupacks = 0;
		tcb->snd_nxt = tcb->snd_una;
		if (tcb->fin_sent && SEQ_LEQ(tcb->snd_una, tcb->fin_seq))
			tcb->fin_sent = false;
	}
	tcb->rtt_timing = false; /* Karn */
	tcp_output(ctx, tcb);
	/* the head went again: its RTO counts from now (tcp_xmit_retransmit_queue()) */
	tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, tcb->rto_us);
}

void tcp_pmtu_reduced(struct dp_ctx *ctx, struct tcb *tcb, uint32_t mtu)
{
	uint16_t path, old_mss = tcb->mss;

	/* Linux tcp_v4_mtu_reduced(): not for a listener or a closed socket */
	if (tcb->state == SHUNT_SS_LISTEN || tcb->state == SHUNT_SS_CLOSED)
		return;
	path = pmtu_update(ctx, tcb->raddr_be, mtu);
	/* "something is about to be wrong": the path cannot take what DF needs */
	if (mtu < path && !pmtu_locked(ctx, tcb->raddr_be))
		tcb->soft_err = EMSGSIZE;
	if (tcb->pmtu != 0 && tcb->pmtu <= path) {
		/* icsk_pmtu_cookie already as small: the usual retransmission repairs */
		ctx->tcp_stats.tcp_pmtu_not_lower++;
		return;
	}
	tcb->pmtu = path;
	tcb->pmtu_gen = ctx->pmtu.gen;
	(void)pmtu_get(ctx, tcb->raddr_be, &tcb->pmtu_expires_us);
	ctx->tcp_stats.tcp_pmtu_lowered++;
	sync_mss(ctx, tcb);
	if (tcp_state_sends_data(tcb->state) && tcb->s != NULL && tcb->mss < old_mss &&
	    tcb->snd_max - tcb->snd_una > tcb->mss)
		simple_retransmit(ctx, tcb);
}

/* Linux tcp_mss_to_mtu(): the path MTU a segment of mss bytes of data needs */
static uint32_t mss_to_mtu(const struct tcb *tcb, uint32_t mss)
{
	return mss + hdr_len(tcb);
}

void tcp_pmtu_on_rto(struct dp_ctx *ctx, struct tcb *tcb)
{
	uint32_t mss;

	if (ctx->tcp->mtu_probing == 0 || tcb->nrexmit == 0 || tcb->mss_clamp == 0 ||
	    ctx->now_us - tcb->rexmit_start_us < TCP_BLACKHOLE_US)
		return;
	if (!tcb->mtup_on) {
		/* tcp_mtup_init() + tcp_mtu_probing(): the search starts at
		 * tcp_base_mss */
		tcb->mtup_on = true;
		tcb->mtup_low = (uint16_t)mss_to_mtu(tcb, TCP_BASE_MSS);
	} else {
		mss = (uint32_t)tcp_mtu_to_mss(ctx, tcb, tcb->mtup_low) >> 1;
		if (mss > TCP_BASE_MSS)
			mss = TCP_BASE_MSS;
		if (mss < TCP_MTU_PROBE_FLOOR)
			mss = TCP_MTU_PROBE_FLOOR;
		tcb->mtup_low = (uint16_t)mss_to_mtu(tcb, mss);
	}
	ctx->tcp_stats.tcp_mtu_blackhole++;
	sync_mss(ctx, tcb);
}
