/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Counters of the link and network layers, one per event or drop reason.
 * Add a counter by adding a line; dp.h's DP_STAT_* macros make the field and its
 * printout.
 */
#ifndef SHUNT_NET_STATS_H
#define SHUNT_NET_STATS_H

#include <stdint.h>

#define NET_STATS(X) \
	X(eth_drop_short) X(eth_drop_not_ours) X(eth_drop_proto) \
	X(arp_rx) X(arp_drop_bad) X(arp_req_rx) X(arp_reply_tx) X(arp_req_tx) \
	X(arp_resolved) X(arp_unresolved) X(arp_held) X(arp_drop_hold_full) \
	X(ip_rx) X(ip_drop_short) X(ip_drop_version) X(ip_drop_hlen) X(ip_drop_len) \
	X(ip_drop_cksum) X(ip_drop_frag) X(ip_drop_not_ours) X(ip_drop_proto) \
	X(ip_drop_l4_cksum) X(ip_tx) X(ip_drop_noroute) \
	X(icmp_rx) X(icmp_drop_short) X(icmp_drop_cksum) X(icmp_echo_reply_tx) \
	X(icmp_unreach_rx) X(icmp_drop_type)

struct net_stats {
#define NET_STAT_FIELD(name) uint64_t name;
	NET_STATS(NET_STAT_FIELD)
#undef NET_STAT_FIELD
};

#endif /* SHUNT_NET_STATS_H */
