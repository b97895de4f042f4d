/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Ethernet II framing.
 *
 * Receive:  loop -> eth_input() -> arp_input() | ipv4_input()
 * Transmit: arp/ipv4 -> eth_output() -> dp_tx()
 *
 * We accept frames addressed to our MAC or to broadcast (ARP requests). Multicast is
 * dropped: the stack joins no group. VLAN tags are not handled (the port strips them
 * or the frame is counted as eth_drop_proto). Mbufs are single-segment on receive: a
 * chained one is counted and dropped rather than read past its first segment.
 */
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "net/arp.h"
#include "net/eth.h"
#include "net/ipv4.h"
#include "net/net.h"

void
eth_input(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	struct net_stats *st = &ctx->net_stats;
	const struct rte_ether_hdr *eh;
	uint16_t type;

	if (m->nb_segs != 1) {
		st->eth_drop_multiseg++;
		goto drop;
	}
	if (rte_pktmbuf_data_len(m) < sizeof(*eh)) {
		st->eth_drop_short++;
		goto drop;
	}
	eh = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (!rte_is_same_ether_addr(&eh->dst_addr, &ctx->mac) &&
	    !rte_is_broadcast_ether_addr(&eh->dst_addr)) {
		if (rte_is_multicast_ether_addr(&eh->dst_addr))
			st->eth_drop_mcast++;
		else
			st->eth_drop_not_ours++;
		goto drop;
	}
	type = rte_be_to_cpu_16(eh->ether_type);
	m->l2_len = sizeof(*eh);
	switch (type) {
	case RTE_ETHER_TYPE_ARP:
		rte_pktmbuf_adj(m, sizeof(*eh));
		arp_input(ctx, m);
		return;
	case RTE_ETHER_TYPE_IPV4:
		rte_pktmbuf_adj(m, sizeof(*eh));
		ipv4_input(ctx, m);
		return;
	default:
		st->eth_drop_proto++;
		goto drop;
	}
drop:
	rte_pktmbuf_free(m);
}

void
eth_output(struct dp_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
	   uint16_t ethertype)
{
	struct rte_ether_hdr *eh;

	eh = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eh));
	if (eh == NULL) {
		ctx->net_stats.eth_drop_headroom++;
		rte_pktmbuf_free(m);
		return;
	}
	rte_ether_addr_copy(dst, &eh->dst_addr);
	rte_ether_addr_copy(&ctx->mac, &eh->src_addr);
	eh->ether_type = rte_cpu_to_be_16(ethertype);
	m->l2_len = sizeof(*eh);
	dp_tx(ctx, m);
}
