/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Counters of the link and network layers, one per event or drop reason.
 * Names: <layer>_drop_<reason> counts a packet freed for that reason (a dropped packet
 * counts in exactly one *_drop_* counter); anything else counts an event. Add a
 * counter by adding a line; dp.h's DP_STAT_* macros make the field and its printout.
 */
#ifndef SHUNT_NET_STATS_H
#define SHUNT_NET_STATS_H

#include <stdint.h>

#define NET_STATS(X) \
	X(eth_drop_short) X(eth_drop_not_ours) X(eth_drop_proto) X(eth_drop_mcast) \
	X(eth_drop_multiseg) X(eth_drop_headroom) \
	X(arp_rx) X(arp_drop_bad) X(arp_req_rx) X(arp_reply_tx) X(arp_req_tx) \
	X(arp_resolved) X(arp_unresolved) X(arp_held) X(arp_drop_hold_full) \
	X(arp_drop_short) X(arp_drop_op) X(arp_drop_not_ours) X(arp_drop_conflict) \
	X(arp_req_nombuf) X(arp_drop_table_full) X(arp_drop_unresolved) \
	X(arp_drop_failed) X(arp_probe_tx) X(arp_announce_tx) X(arp_expired) \
	X(ip_rx) X(ip_drop_short) X(ip_drop_version) X(ip_drop_hlen) X(ip_drop_len) \
	X(ip_drop_cksum) X(ip_drop_frag) X(ip_drop_not_ours) X(ip_drop_proto) \
	X(ip_drop_l4_cksum) X(ip_tx) X(ip_drop_noroute) X(ip_drop_bcast) \
	X(ip_drop_bad_src) X(ip_drop_too_big) X(ip_drop_bad_tx) \
	X(ip_local_out) X(ip_local_in) X(ip_drop_local_full) X(ip_drop_local_seg) \
	X(ip_drop_local_stop) \
	X(icmp_rx) X(icmp_drop_short) X(icmp_drop_cksum) X(icmp_echo_reply_tx) \
	X(icmp_unreach_rx) X(icmp_drop_type) X(icmp_time_exceeded_rx) \
	X(icmp_param_prob_rx) X(icmp_drop_code) X(icmp_drop_quote) \
	X(icmp_drop_quote_proto) X(icmp_drop_quote_src) X(icmp_unreach_tx) \
	X(icmp_unreach_ratelimited) X(icmp_unreach_bad_call) \
	X(ip_pmtu_learned) X(ip_pmtu_below_min) X(ip_pmtu_not_lower) X(ip_pmtu_evicted)

struct net_stats {
#define NET_STAT_FIELD(name) uint64_t name;
	NET_STATS(NET_STAT_FIELD)
#undef NET_STAT_FIELD
};

#endif /* SHUNT_NET_STATS_H */
