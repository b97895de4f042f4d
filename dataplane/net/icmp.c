/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ICMP (RFC 792, RFC 1122 3.2.2): the messages a TCP host must act on.
 *
 *   ipv4_input() -> icmp_input() -> echo request: ipv4_output() (same mbuf)
 *                                -> unreachable / time exceeded / parameter problem:
 *                                   quote validated -> tcp_notify_error(icmp_err)
 *                                                   -> udp_notify_error()
 *   udp_input() (no socket) -> icmp_send_unreach() -> ipv4_output() (same mbuf)
 *
 * Errors are mapped to errno as Linux does (icmp_err_convert[] in net/ipv4/icmp.c,
 * and tcp_v4_err() for time exceeded / parameter problem); whether an error is
 * fatal (SYN_SENT) or soft is TCP's decision (RFC 1122 4.2.3.9, RFC 5927 checks on
 * the quoted sequence number). We check only what is ours to check: the quote holds
 * a whole IPv4 header plus the 8 bytes of ports and sequence number (RFC 792), it is
 * a TCP or UDP packet, and we sent it. Source quench is ignored (RFC 6633); redirects are
 * ignored (a host on one prefix with one gateway has nothing to redirect).
 */
#include <errno.h>
#include <netinet/in.h>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "net/arp.h"
#include "net/icmp.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* Bytes of the offending datagram's transport header an ICMP error must quote. */
#define ICMP_QUOTE_L4 8

int
icmp_unreach_errno(uint8_t code)
{
	static const int map[ICMP_UNREACH_NCODES] = {
		[0] = ENETUNREACH,   /* net unreachable */
		[1] = EHOSTUNREACH,  /* host unreachable */
		[2] = ENOPROTOOPT,   /* protocol unreachable */
		[3] = ECONNREFUSED,  /* port unreachable */
		[4] = EMSGSIZE,      /* fragmentation needed and DF set */
		[5] = EOPNOTSUPP,    /* source route failed */
		[6] = ENETUNREACH,   /* destination network unknown */
		[7] = EHOSTDOWN,     /* destination host unknown */
		[8] = ENONET,        /* source host isolated */
		[9] = ENETUNREACH,   /* network administratively prohibited */
		[10] = EHOSTUNREACH, /* host administratively prohibited */
		[11] = ENETUNREACH,  /* network unreachable for TOS */
		[12] = EHOSTUNREACH, /* host unreachable for TOS */
		[13] = EHOSTUNREACH, /* communication administratively prohibited */
		[14] = EHOSTUNREACH, /* host precedence violation */
		[15] = EHOSTUNREACH, /* precedence cutoff in effect */
	};

	return code < ICMP_UNREACH_NCODES ? map[code] : 0;
}

/* Validate the datagram quoted after the 8-byte ICMP header and report err for it.
 * Frees nothing: the caller owns m. */
static void
icmp_error_deliver(struct dp_ctx *ctx, const uint8_t *quote, uint32_t qlen, int err,
		   const struct icmp_err *icmp)
{
	struct net_stats *st = &ctx->net_stats;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)quote;
	uint32_t hlen;

	if (qlen < sizeof(*ip) || (ip->version_ihl >> 4) != 4) {
		st->icmp_drop_quote++;
		return;
	}
	hlen = rte_ipv4_hdr_len(ip);
	if (hlen < sizeof(*ip) || qlen < hlen + ICMP_QUOTE_L4) {
		st->icmp_drop_quote++;
		return;
	}
	if (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP) {
		st->icmp_drop_quote_proto++;
		return;
	}
	if (ip->src_addr != ctx->ip_be) {
		st->icmp_drop_quote_src++;
		return;
	}
	if (ip->next_proto_id == IPPROTO_TCP)
		tcp_notify_error(ctx, quote, qlen, err, icmp);
	else
		udp_notify_error(ctx, quote, qlen, err);
}

/* Linux's global ICMP limit (icmp_global_allow()): a bucket of ICMP_RATE_BURST tokens
 * refilled one per ICMP_RATE_TOKEN_US, so a port scan cannot make us flood. */
static bool
icmp_rate_ok(struct dp_ctx *ctx)
{
	uint64_t add = (ctx->now_us - ctx->icmp_stamp_us) / ICMP_RATE_TOKEN_US;

	if (add != 0) {
		ctx->icmp_stamp_us += add * ICMP_RATE_TOKEN_US;
		add += ctx->icmp_tokens;
		ctx->icmp_tokens = add > ICMP_RATE_BURST ? ICMP_RATE_BURST : (uint16_t)add;
	}
	if (ctx->icmp_tokens == 0)
		return false;
	ctx->icmp_tokens--;
	return true;
}

void
icmp_send_unreach(struct dp_ctx *ctx, struct rte_mbuf *m, uint8_t code)
{
	struct net_stats *st = &ctx->net_stats;
	const uint32_t quote_max = ICMP_ERR_MAX - sizeof(struct rte_ipv4_hdr) -
				   sizeof(struct rte_icmp_hdr);
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *ih;
	uint32_t dst_be;

	/* The quoted header must be where ipv4_input() left it. */
	if (m->l3_len < sizeof(*ip) || rte_pktmbuf_headroom(m) < m->l3_len + sizeof(*ih)) {
		st->icmp_unreach_bad_call++;
		goto drop;
	}
	if (!icmp_rate_ok(ctx)) {
		st->icmp_unreach_ratelimited++;
		goto drop;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, m->l3_len);
	dst_be = ip->src_addr;
	if (rte_pktmbuf_data_len(m) > quote_max)
		rte_pktmbuf_trim(m, rte_pktmbuf_data_len(m) - quote_max);
	ih = (struct rte_icmp_hdr *)rte_pktmbuf_prepend(m, sizeof(*ih));
	ih->icmp_type = ICMP_DEST_UNREACH;
	ih->icmp_code = code;
	ih->icmp_cksum = 0;
	ih->icmp_ident = 0; /* "unused", must be zero (RFC 792) */
	ih->icmp_seq_nb = 0;
	/* RX verdicts of the datagram mean nothing for the error */
	m->ol_flags &= NET_MBUF_BUF_FLAGS;
	if (ipv4_output(ctx, m, ctx->ip_be, dst_be, IPPROTO_ICMP) == 0)
		st->icmp_unreach_tx++;
	return;
drop:
	rte_pktmbuf_free(m);
}

void
icmp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be)
{
	struct net_stats *st = &ctx->net_stats;
	struct rte_icmp_hdr *ih;
	uint32_t len = rte_pktmbuf_data_len(m);
	struct icmp_err icmp;
	const uint8_t *quote;
	int err;

	st->icmp_rx++;
	if (len < sizeof(*ih)) {
		st->icmp_drop_short++;
		goto out;
	}
	ih = rte_pktmbuf_mtod(m, struct rte_icmp_hdr *);
	/* The checksum covers the whole message; a right one sums to 0xffff. */
	if (rte_raw_cksum(ih, len) != 0xffff) {
		st->icmp_drop_cksum++;
		goto out;
	}
	quote = (const uint8_t *)ih + sizeof(*ih);
	switch (ih->icmp_type) {
	case RTE_IP_ICMP_ECHO_REQUEST:
		/* Same identifier, sequence and data (RFC 792); ipv4_output() redoes the
		 * checksum and a fresh IP header (options are not echoed). */
		ih->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
		ih->icmp_code = 0;
		if (ipv4_output(ctx, m, ctx->ip_be, src_be, IPPROTO_ICMP) == 0)
			st->icmp_echo_reply_tx++;
		return;
	case ICMP_DEST_UNREACH:
		err = icmp_unreach_errno(ih->icmp_code);
		if (err == 0) {
			st->icmp_drop_code++;
			goto out;
		}
		st->icmp_unreach_rx++;
		break;
	case ICMP_TIME_EXCEEDED:
		st->icmp_time_exceeded_rx++;
		err = EHOSTUNREACH;
		break;
	case ICMP_PARAMETERPROB:
		st->icmp_param_prob_rx++;
		err = EPROTO;
		break;
	default: /* echo reply, source quench, redirect, timestamp...: nothing to do */
		st->icmp_drop_type++;
		goto out;
	}
	icmp.from_be = src_be;
	icmp.type = ih->icmp_type;
	icmp.code = ih->icmp_code;
	/* the second 32-bit word: next-hop MTU of a "fragmentation needed" (RFC 1191),
	 * pointer of a parameter problem; Linux reports it as ee_info */
	icmp.info = ih->icmp_type == ICMP_DEST_UNREACH ? rte_be_to_cpu_16(ih->icmp_seq_nb) :
		    ih->icmp_type == ICMP_PARAMETERPROB ? ((const uint8_t *)ih)[4] : 0;
	icmp_error_deliver(ctx, quote, len - sizeof(*ih), err, &icmp);
out: /* delivered or counted as a drop */
	rte_pktmbuf_free(m);
}
