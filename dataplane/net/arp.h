/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ARP (RFC 826) inside net/: the neighbour table and the calls eth and ipv4 make into
 * it. arp_init/fini/timer/next_deadline/announce are in net.h.
 *
 * Entry states (Linux's NUD_* names, simplified):
 *   FREE -> INCOMPLETE (a packet needs it; broadcast request every second)
 *   INCOMPLETE -> REACHABLE (reply) | STALE (request from it) | FAILED (3 probes)
 *   REACHABLE -> STALE (30 s since confirmed)
 *   STALE -> REACHABLE (reply; a STALE entry in use sends a unicast request each second)
 *   FAILED -> FREE (after ARP_FAILED_US; packets meanwhile fail at once)
 *   REACHABLE | STALE -> FREE (unused for ARP_GC_US)
 */
#ifndef SHUNT_NET_ARP_H
#define SHUNT_NET_ARP_H

#include <stdint.h>

#include <rte_ether.h>

struct dp_ctx;
struct rte_mbuf;

#define ARP_ENTRIES 256          /* fixed table; a full table evicts the LRU resolved entry */
#define ARP_BUCKETS 128          /* hash chains, power of two */
#define ARP_HOLD_MAX 8           /* packets held per unresolved next hop */
#define ARP_PROBES 3             /* Linux mcast_solicit */
#define ARP_RETRANS_US 1000000ull   /* Linux retrans_time_ms */
#define ARP_REACHABLE_US 30000000ull /* Linux base_reachable_time_ms */
#define ARP_GC_US 60000000ull    /* unused entries are freed after this */
#define ARP_FAILED_US 3000000ull /* a FAILED entry answers EHOSTUNREACH this long */
#define ARP_NONE UINT16_MAX

enum arp_state {
	ARP_FREE,
	ARP_INCOMPLETE,
	ARP_REACHABLE,
	ARP_STALE,
	ARP_FAILED,
};

struct arp_entry {
	uint32_t ip_be;
	uint16_t next;        /* hash chain, or free list; ARP_NONE ends it */
	uint8_t state;        /* enum arp_state */
	uint8_t probes;       /* requests sent in this INCOMPLETE round */
	uint8_t n_held;
	struct rte_ether_addr mac;
	uint64_t timer_us;    /* INCOMPLETE: next probe; STALE: next refresh allowed;
			       * FAILED: freed at; REACHABLE: unused */
	uint64_t confirmed_us; /* last reply or request from it */
	uint64_t used_us;     /* last packet sent through it */
	struct rte_mbuf *held[ARP_HOLD_MAX]; /* data at the IPv4 header, oldest first */
};

/* The ARP table. */
struct arp_table {
	uint64_t next_deadline_us; /* lower bound of every entry's next timer work */
	uint16_t buckets[ARP_BUCKETS];
	uint16_t free_head;
	uint16_t n_used;
	struct arp_entry e[ARP_ENTRIES];
};

/* An ARP frame: m's data starts at the ARP header. Takes ownership. */
void arp_input(struct dp_ctx *ctx, struct rte_mbuf *m);

/* Send m (data at its IPv4 header) to nexthop_be: now if resolved, else held until
 * the reply, or dropped with tcp_notify_error(EHOSTUNREACH) when resolution fails.
 * Takes ownership. */
void arp_output(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t nexthop_be);

#endif /* SHUNT_NET_ARP_H */
