/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * IPv4 (RFC 791, host requirements RFC 1122 3.2.1).
 *
 * Receive:  eth_input() -> ipv4_input() -> tcp_input()          (L4 checksum verified)
 *                                       -> udp_input()          (L4 checksum verified)
 *                                       -> icmp_input()
 * Transmit: tcp/udp (a socket's TOS and TTL) -> ipv4_output_tos_ttl()
 *           icmp -> ipv4_output() -> route_lookup() -> arp_output() -> eth_output()
 *                                     -> lo_output()   (our own address, see lo.c)
 *
 * Receive checks, each with its counter: length, version, IHL, total length against
 * the frame (Ethernet padding is trimmed), header checksum (the port's verdict in
 * ol_flags when it gives one), fragments (we do not reassemble: TCP never sends
 * them with DF set, so a fragment is counted and dropped), destination (ours only;
 * broadcast/multicast are counted apart), source (no martians, so we never answer
 * one). Options are skipped. The TCP and UDP checksums are verified here so the
 * transports never compute checksums. Handing up, the IPv4 header stays in the
 * buffer right before the data (m->l3_len bytes), for icmp_send_unreach().
 *
 * Transmit builds a 20-byte header: DF for TCP/UDP (Linux's default
 * IP_PMTUDISC_WANT: path MTU discovery, pmtu.c), except toward a destination whose
 * path MTU is locked below PMTU_MIN, none for ICMP (Linux's ICMP socket uses
 * IP_PMTUDISC_DONT),
 * TTL 64, identification from a per-context counter. Checksums are offloaded when
 * the port advertises it: DPDK wants ol_flags, l2_len/l3_len and the pseudo-header
 * sum (not complemented) in the L4 checksum field; the IP checksum field zero.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dp.h"
#include "net/arp.h"
#include "net/icmp.h"
#include "net/ipv4.h"
#include "net/lo.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

/* The directed broadcast of our prefix; /31 and /32 have none (RFC 3021). */
static bool
ipv4_is_subnet_bcast(const struct dp_ctx *ctx, uint32_t a_be)
{
	return rte_be_to_cpu_32(~ctx->netmask_be) >= 3 && a_be == (ctx->ip_be | ~ctx->netmask_be);
}

static bool
ipv4_is_bcast_or_mcast(const struct dp_ctx *ctx, uint32_t a_be)
{
	uint32_t a = rte_be_to_cpu_32(a_be);

	return a == UINT32_MAX || (a >> 28) == 0xe || ipv4_is_subnet_bcast(ctx, a_be);
}

/* Broadcast, multicast, "this network" (0/8), loopback: never a valid source, and
 * answering one (RST, echo reply) would reach the wrong hosts (RFC 1122 3.2.1.3). */
static bool
ipv4_martian_src(const struct dp_ctx *ctx, uint32_t src_be)
{
	uint32_t src = rte_be_to_cpu_32(src_be);

	return (src >> 24) == 0 || (src >> 24) == 127 || ipv4_is_bcast_or_mcast(ctx, src_be);
}

/* Is the packet's L4 checksum right? Trusts the port's verdict when it has one
 * (NONE means the NIC checked the data and left the field unfilled: good). */
static bool
ipv4_l4_cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint8_t proto,
		 const void *l4, uint32_t l4_len)
{
	uint32_t sum;

	switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_BAD:
		return false;
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
	case RTE_MBUF_F_RX_L4_CKSUM_NONE:
		return true;
	default:
		break;
	}
	/* RFC 768: a zero UDP checksum means none was computed. */
	if (proto == IPPROTO_UDP && l4_len >= sizeof(struct rte_udp_hdr) &&
	    ((const struct rte_udp_hdr *)l4)->dgram_cksum == 0)
		return true;
	sum = rte_raw_cksum(l4, l4_len);
	sum += rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static bool
ipv4_hdr_cksum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return false;
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
	case RTE_MBUF_F_RX_IP_CKSUM_NONE:
		return true;
	default:
		/* Summing a header including its checksum gives 0xffff when it is right. */
		return rte_raw_cksum(ip, rte_ipv4_hdr_len(ip)) == 0xffff;
	}
}

void
ipv4_input(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	struct net_stats *st = &ctx->net_stats;
	const struct rte_ipv4_hdr *ip;
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t hlen, tot_len, src_be, dst_be;
	uint8_t proto;

	st->ip_rx++;
	if (len < sizeof(*ip)) {
		st->ip_drop_short++;
		goto drop;
	}
	ip = rte_pktmbuf_mtod(m, const struct rte_ipv4_hdr *);
	if ((ip->version_ihl >> 4) != 4) {
		st->ip_drop_version++;
		goto drop;
	}
	hlen = rte_ipv4_hdr_len(ip);
	if (hlen < sizeof(*ip) || hlen > len) {
		st->ip_drop_hlen++;
		goto drop;
	}
	tot_len = rte_be_to_cpu_16(ip->total_length);
	if (tot_len < hlen || tot_len > len) {
		st->ip_drop_len++;
		goto drop;
	}
	if (!ipv4_hdr_cksum_ok(m, ip)) {
		st->ip_drop_cksum++;
		goto drop;
	}
	if (ip->fragment_offset &
	    rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		st->ip_drop_frag++;
		goto drop;
	}
	src_be = ip->src_addr;
	dst_be = ip->dst_addr;
	if (dst_be != ctx->ip_be) {
		if (ipv4_is_bcast_or_mcast(ctx, dst_be))
			st->ip_drop_bcast++;
		else
			st->ip_drop_not_ours++;
		goto drop;
	}
	if (ipv4_martian_src(ctx, src_be)) {
		st->ip_drop_bad_src++;
		goto drop;
	}
	proto = ip->next_proto_id;
	m->l3_len = hlen;
	/* Trim the Ethernet padding so data_len is exactly the datagram. */
	if (len > tot_len)
		rte_pktmbuf_trim(m, len - tot_len);

	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		if (!ipv4_l4_cksum_ok(m, ip, proto, (const uint8_t *)ip + hlen,
				      tot_len - hlen)) {
			st->ip_drop_l4_cksum++;
			goto drop;
		}
	}
	/* ip stays in the headroom after adj: icmp_send_unreach() quotes it. */
	rte_pktmbuf_adj(m, hlen);
	switch (proto) {
	case IPPROTO_TCP:
		tcp_input(ctx, m, src_be, dst_be);
		return;
	case IPPROTO_UDP:
		udp_input(ctx, m, src_be, dst_be);
		return;
	case IPPROTO_ICMP:
		icmp_input(ctx, m, src_be);
		return;
	default:
		st->ip_drop_proto++;
		goto drop;
	}
drop:
	rte_pktmbuf_free(m);
}

/* Fill the L4 checksum of an outgoing packet (offloaded or in software). The L4
 * header follows ip in the first segment (the caller checked its length). The field
 * is written through memcpy: DPDK's headers are packed, and the L4 header after a
 * 20-byte IPv4 header is only 2-byte aligned anyway. */
static void
ipv4_l4_cksum_fill(struct dp_ctx *ctx, struct rte_mbuf *m, struct rte_ipv4_hdr *ip,
		   uint8_t proto, uint32_t l4_off, uint32_t l4_len)
{
	uint8_t *field;
	uint64_t off_flag = 0;
	uint16_t raw, v = 0;
	uint32_t sum;

	switch (proto) {
	case IPPROTO_TCP:
		field = (uint8_t *)ip + sizeof(*ip) + offsetof(struct rte_tcp_hdr, cksum);
		if (ctx->tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
			off_flag = RTE_MBUF_F_TX_TCP_CKSUM;
		break;
	case IPPROTO_UDP:
		field = (uint8_t *)ip + sizeof(*ip) + offsetof(struct rte_udp_hdr, dgram_cksum);
		if (ctx->tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
			off_flag = RTE_MBUF_F_TX_UDP_CKSUM;
		break;
	default: /* ICMP: no pseudo-header, never offloaded */
		field = (uint8_t *)ip + sizeof(*ip) + offsetof(struct rte_icmp_hdr, icmp_cksum);
		memcpy(field, &v, sizeof(v));
		rte_raw_cksum_mbuf(m, l4_off, l4_len, &raw);
		v = (uint16_t)~raw;
		memcpy(field, &v, sizeof(v));
		return;
	}
	memcpy(field, &v, sizeof(v));
	if (off_flag) {
		/* DPDK's contract: the NIC adds the data to the pseudo-header sum. */
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | off_flag;
		v = rte_ipv4_phdr_cksum(ip, m->ol_flags);
		memcpy(field, &v, sizeof(v));
		return;
	}
	/* rte_raw_cksum_mbuf walks a chain, so TCP may hand us multi-segment mbufs. */
	rte_raw_cksum_mbuf(m, l4_off, l4_len, &raw);
	sum = (uint32_t)raw + rte_ipv4_phdr_cksum(ip, 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	if (v == 0 && proto == IPPROTO_UDP)
		v = 0xffff; /* RFC 768: 0 would mean "no checksum" */
	memcpy(field, &v, sizeof(v));
}

int
ipv4_output(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be,
	    uint8_t proto)
{
	return ipv4_output_tos_ttl(ctx, m, src_be, dst_be, proto, 0, 0);
}

int
ipv4_output_tos_ttl(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be,
		    uint8_t proto, uint8_t tos, uint8_t ttl)
{
	struct net_stats *st = &ctx->net_stats;
	struct rte_ipv4_hdr *ip;
	uint32_t l4_len = rte_pktmbuf_pkt_len(m);
	uint32_t nexthop_be, min_l4;
	int rc;

	switch (proto) {
	case IPPROTO_TCP:
		min_l4 = sizeof(struct rte_tcp_hdr);
		break;
	case IPPROTO_UDP:
		min_l4 = sizeof(struct rte_udp_hdr);
		break;
	case IPPROTO_ICMP:
		min_l4 = sizeof(struct rte_icmp_hdr);
		break;
	default:
		min_l4 = UINT32_MAX;
		break;
	}
	/* The L4 header must sit in the first segment: we write its checksum field. */
	if (rte_pktmbuf_data_len(m) < min_l4 || min_l4 == UINT32_MAX) {
		st->ip_drop_bad_tx++;
		rc = -EINVAL;
		goto drop;
	}
	if (ctx->mtu != 0 && l4_len + sizeof(*ip) > ctx->mtu) {
		st->ip_drop_too_big++;
		rc = -EMSGSIZE;
		goto drop;
	}
	/* Our own address needs no route: it is delivered locally (see below). */
	if (dst_be != ctx->ip_be) {
		rc = route_lookup(ctx, dst_be, &nexthop_be);
		if (rc < 0) {
			st->ip_drop_noroute++;
			goto drop;
		}
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_prepend(m, sizeof(*ip));
	if (ip == NULL) {
		st->ip_drop_bad_tx++;
		rc = -ENOBUFS;
		goto drop;
	}
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->type_of_service = tos;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(l4_len + sizeof(*ip)));
	ip->packet_id = rte_cpu_to_be_16(ctx->ip_id++);
	/* a locked path MTU (below PMTU_MIN) lets routers fragment, as Linux's
	 * ip_dont_fragment() */
	ip->fragment_offset = proto == IPPROTO_ICMP || pmtu_locked(ctx, dst_be) ? 0 :
			      rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = ttl != 0 ? ttl : IPV4_TTL;
	ip->next_proto_id = proto;
	ip->hdr_checksum = 0;
	ip->src_addr = src_be;
	ip->dst_addr = dst_be;

	if (dst_be == ctx->ip_be) {
		/* Local delivery (lo.c): the packet stays in memory, so, as Linux's
		 * loopback, no TCP/UDP checksum is computed and the receive side is told
		 * not to verify it (RX_L4_CKSUM_GOOD, which ipv4_input() trusts like a
		 * NIC's verdict). Flags of an mbuf that came in from the port (an ICMP
		 * answer built in place) are replaced, not merged, but for those of its
		 * buffer. */
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		if (proto == IPPROTO_ICMP)
			ipv4_l4_cksum_fill(ctx, m, ip, proto, sizeof(*ip), l4_len);
		m->ol_flags = (m->ol_flags & NET_MBUF_BUF_FLAGS) | RTE_MBUF_F_RX_IP_CKSUM_GOOD |
			      RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		m->l2_len = 0;
		m->l3_len = sizeof(*ip);
		st->ip_tx++;
		lo_output(ctx, m);
		return 0;
	}
	m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK);
	m->l2_len = sizeof(struct rte_ether_hdr);
	m->l3_len = sizeof(*ip);
	ipv4_l4_cksum_fill(ctx, m, ip, proto, sizeof(*ip), l4_len);
	if (ctx->tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	else
		ip->hdr_checksum = rte_ipv4_cksum(ip);

	st->ip_tx++;
	arp_output(ctx, m, nexthop_be);
	return 0;
drop:
	rte_pktmbuf_free(m);
	return rc;
}
