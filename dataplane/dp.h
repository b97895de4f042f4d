/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The dataplane's per-lcore context. Everything the hot loop touches hangs off one
 * struct dp_ctx (no file-scope state), so a second lcore is a second context.
 *
 * Conventions (all of dataplane/):
 *  - Addresses and ports are kept in network byte order, named *_be where a reader
 *    could doubt it; lengths and sequence numbers in host order.
 *  - Time is ctx->now_us (microseconds, monotonic), read once per loop iteration by
 *    the loop only. Protocol code takes `now` from the context or as an argument and
 *    never reads a clock, so unit tests drive a fake one.
 *  - Functions return 0 / -errno; bursts return counts. A function that takes an
 *    mbuf owns it: it sends it, queues it or frees it, on every path.
 *  - Every drop is counted where it happens, by reason (see the *_STATS lists).
 */
#ifndef SHUNT_DP_H
#define SHUNT_DP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_ether.h>

#include "conf.h"
#include "core/syn_guard.h"
#include "net/net_stats.h"
#include "tcp/tcp_stats.h"

struct rte_mbuf;
struct rte_mempool;
struct arp_table;
struct tcp_stack;
struct udp_stack;
struct dp_apps;
struct dp_ctl;

/* Counter lists are X-macros: one line adds a counter, its field and its printout. */
#define DP_STAT_FIELD(name) uint64_t name;
#define DP_STAT_PRINT(name) if (s->name) fprintf(f, "  %-28s %llu\n", #name, (unsigned long long)s->name);

#define PORT_STATS(X) \
	X(rx_packets) X(rx_bytes) X(tx_packets) X(tx_bytes) \
	X(tx_drop_full) X(tx_drop_nombuf) X(rx_bursts) X(idle_sleeps)

struct port_stats {
	PORT_STATS(DP_STAT_FIELD)
};

#define DP_TX_BURST 32

struct dp_txq {
	uint16_t n;
	struct rte_mbuf *pkts[DP_TX_BURST];
};

/* Local delivery (net/lo.c): packets to our own address, queued by ipv4_output() and
 * fed back to ipv4_input() by the loop, as Linux's loopback queues through
 * netif_rx(). Indices are free-running, masked; bounded like netdev_max_backlog. */
#define DP_LO_QUEUE 1024

struct dp_loq {
	uint32_t head; /* next to deliver */
	uint32_t tail; /* next free */
	struct rte_mbuf *pkts[DP_LO_QUEUE];
};

/* Path MTUs learned from ICMP "fragmentation needed" (net/pmtu.c), per destination,
 * as Linux keeps them in the route's next-hop exceptions: DP_PMTU_WAYS entries per
 * set, a set chosen by the destination. An entry with dst_be 0 is free. */
#define DP_PMTU_SETS 64
#define DP_PMTU_WAYS 4

struct dp_pmtu_entry {
	uint32_t dst_be;
	uint16_t mtu;
	bool locked;         /* below PMTU_MIN: Linux's RTAX_MTU lock */
	uint64_t expires_us;
};

struct dp_pmtu {
	uint32_t gen;        /* bumped on every change: connections resync their MSS */
	uint32_t n;          /* entries in use, expired ones included */
	struct dp_pmtu_entry e[DP_PMTU_SETS][DP_PMTU_WAYS];
};

struct dp_ctx {
	uint64_t now_us; /* the loop's clock, read once per iteration */
	const struct dp_conf *conf;

	/* port */
	uint16_t port_id;
	uint16_t queue_id;
	struct rte_mempool *pool;
	struct rte_ether_addr mac;
	uint64_t tx_offloads;  /* RTE_ETH_TX_OFFLOAD_* enabled on the port */
	uint64_t rx_offloads;  /* RTE_ETH_RX_OFFLOAD_* enabled on the port */
	uint16_t mtu;
	struct syn_guard syn_guard; /* net_tap: the kernel-side SYN bucket */
	struct dp_txq txq;
	struct dp_loq loq;     /* local delivery (net/lo.c) */

	/* addressing, network order */
	uint32_t ip_be;
	uint32_t netmask_be;
	uint32_t gateway_be; /* 0: none */

	/* protocol state, owned by each module */
	struct arp_table *arp;
	struct tcp_stack *tcp;
	struct udp_stack *udp;
	struct dp_apps *apps;
	struct dp_ctl *ctl;
	struct dp_relay *relays; /* core/relay.c: every relay, ended ones until reaped */
	int epfd;  /* the loop's epoll set: rx interrupt, control, doorbells */
	int rx_fd; /* the port's RX interrupt fd in that set, or -1 */

	/* net/ state that is not ARP's */
	uint16_t ip_id;          /* IPv4 identification (ipv4_output) */
	uint16_t icmp_tokens;    /* ICMP error rate bucket (icmp_send_unreach) */
	uint64_t icmp_stamp_us;
	struct dp_pmtu pmtu;     /* path MTUs per destination (pmtu.c) */

	/* counters */
	struct port_stats port_stats;
	struct net_stats net_stats;
	struct tcp_stats tcp_stats;
};

/* core/port.c: queue m for transmission (sent when DP_TX_BURST are queued or at the
 * end of the loop iteration). Takes ownership. */
void dp_tx(struct dp_ctx *ctx, struct rte_mbuf *m);
/* core/port.c: send whatever is queued. */
void dp_tx_flush(struct dp_ctx *ctx);

#endif /* SHUNT_DP_H */
