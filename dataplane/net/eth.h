/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Ethernet inside net/: the output half (eth_input() is in net.h).
 */
#ifndef SHUNT_NET_ETH_H
#define SHUNT_NET_ETH_H

#include <stdint.h>

struct dp_ctx;
struct rte_mbuf;
struct rte_ether_addr;

/* Prepend an Ethernet header (dst, our MAC, ethertype in host order) to m, whose data
 * starts at the L3 header, set m->l2_len and queue it with dp_tx(). Takes ownership
 * (no headroom: freed and counted as eth_drop_headroom). */
void eth_output(struct dp_ctx *ctx, struct rte_mbuf *m, const struct rte_ether_addr *dst,
		uint16_t ethertype);

#endif /* SHUNT_NET_ETH_H */
