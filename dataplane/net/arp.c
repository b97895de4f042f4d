/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * ARP (RFC 826) and the neighbour table, with Linux's timing (ip-sysctl: arp
 * mcast_solicit 3, retrans_time 1 s, base_reachable_time 30 s).
 *
 * Receive:  eth_input() -> arp_input() -> merge/learn sender -> flush held packets
 *                                      -> reply in place to requests for us
 * Transmit: ipv4_output() -> arp_output() -> eth_output()       (resolved)
 *                                         -> hold + broadcast request (unresolved)
 * Timers:   loop -> arp_timer() -> re-probe / give up (tcp_notify_error EHOSTUNREACH)
 *                               -> REACHABLE -> STALE, free unused entries
 *
 * The table is fixed: ARP_ENTRIES entries chained from ARP_BUCKETS buckets by index,
 * allocated once in arp_init(); a full table evicts the least recently used entry
 * that holds no packets. Time is ctx->now_us only.
 *
 * tcp_notify_error() is only ever called from arp_timer(), never from inside
 * arp_output(): the latter runs under tcp's own output path, and reporting an error
 * there would re-enter tcp while it is in the middle of sending. So a packet for a
 * FAILED entry is held and reported at the next arp_timer() (the entry's deadline is
 * set to now), and held packets are detached from their entry before they are
 * reported, so tcp may send again from inside the callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "net/arp.h"
#include "net/eth.h"
#include "net/icmp.h"
#include "net/net.h"
#include "tcp/tcp.h"

static const struct rte_ether_addr arp_bcast = {
	.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
static const struct rte_ether_addr arp_zero;

static inline uint32_t
arp_bucket(uint32_t ip_be)
{
	return rte_hash_crc_4byte(ip_be, 0) & (ARP_BUCKETS - 1);
}

/* Lower the table's next deadline to when (it is a lower bound: a deadline that
 * moved later only costs arp_timer() a walk that finds nothing). */
static inline void
arp_deadline(struct arp_table *t, uint64_t when)
{
	if (when < t->next_deadline_us)
		t->next_deadline_us = when;
}

static struct arp_entry *
arp_lookup(struct arp_table *t, uint32_t ip_be)
{
	uint16_t i;

	for (i = t->buckets[arp_bucket(ip_be)]; i != ARP_NONE; i = t->e[i].next)
		if (t->e[i].ip_be == ip_be)
			return &t->e[i];
	return NULL;
}

/* Unlink e from its chain and put it on the free list. Its held queue must be
 * empty. */
static void
arp_entry_free(struct arp_table *t, struct arp_entry *e)
{
	uint16_t idx = (uint16_t)(e - t->e);
	uint16_t *p = &t->buckets[arp_bucket(e->ip_be)];

	while (*p != idx)
		p = &t->e[*p].next;
	*p = e->next;
	memset(e, 0, sizeof(*e));
	e->state = ARP_FREE;
	e->next = t->free_head;
	t->free_head = idx;
	t->n_used--;
}

/* A new entry for ip_be, linked, state FREE for the caller to set; NULL when every
 * entry is holding packets. */
static struct arp_entry *
arp_entry_alloc(struct arp_table *t, uint32_t ip_be, uint64_t now)
{
	struct arp_entry *e = NULL;
	uint32_t b;
	unsigned i;

	if (t->free_head == ARP_NONE) {
		/* Rare: evict the least recently used entry that holds nothing. */
		for (i = 0; i < ARP_ENTRIES; i++) {
			struct arp_entry *c = &t->e[i];

			if (c->state == ARP_INCOMPLETE || c->n_held != 0)
				continue;
			if (e == NULL || c->used_us < e->used_us)
				e = c;
		}
		if (e == NULL)
			return NULL;
		arp_entry_free(t, e);
	}
	e = &t->e[t->free_head];
	t->free_head = e->next;
	t->n_used++;
	memset(e, 0, sizeof(*e));
	e->ip_be = ip_be;
	e->used_us = now;
	e->confirmed_us = now;
	b = arp_bucket(ip_be);
	e->next = t->buckets[b];
	t->buckets[b] = (uint16_t)(e - t->e);
	arp_deadline(t, now + ARP_GC_US);
	return e;
}

/* Build and send one ARP packet from us. */
static int
arp_send(struct dp_ctx *ctx, uint16_t op, const struct rte_ether_addr *eth_dst,
	 const struct rte_ether_addr *tha, uint32_t tip_be)
{
	struct rte_arp_hdr *ah;
	struct rte_mbuf *m;

	m = rte_pktmbuf_alloc(ctx->pool);
	if (m == NULL) {
		ctx->net_stats.arp_req_nombuf++;
		return -ENOBUFS;
	}
	ah = (struct rte_arp_hdr *)rte_pktmbuf_append(m, sizeof(*ah));
	if (ah == NULL) { /* a pool whose buffers cannot hold 28 bytes */
		ctx->net_stats.arp_req_nombuf++;
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	ah->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = sizeof(uint32_t);
	ah->arp_opcode = rte_cpu_to_be_16(op);
	rte_ether_addr_copy(&ctx->mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = ctx->ip_be;
	rte_ether_addr_copy(tha, &ah->arp_data.arp_tha);
	ah->arp_data.arp_tip = tip_be;
	eth_output(ctx, m, eth_dst, RTE_ETHER_TYPE_ARP);
	return 0;
}

/* Broadcast request (resolution) or unicast request (refresh of a known entry, as
 * Linux's unicast probes). Linux leaves the target hardware address zero. */
static void
arp_request(struct dp_ctx *ctx, struct arp_entry *e, bool unicast)
{
	if (arp_send(ctx, RTE_ARP_OP_REQUEST, unicast ? &e->mac : &arp_bcast, &arp_zero,
		     e->ip_be) < 0)
		return;
	if (unicast)
		ctx->net_stats.arp_probe_tx++;
	else
		ctx->net_stats.arp_req_tx++;
}

void
arp_announce(struct dp_ctx *ctx)
{
	/* RFC 5227 2.3: a request with sender and target IP both ours. */
	if (arp_send(ctx, RTE_ARP_OP_REQUEST, &arp_bcast, &arp_zero, ctx->ip_be) == 0)
		ctx->net_stats.arp_announce_tx++;
}

static void
arp_flush(struct dp_ctx *ctx, struct arp_entry *e)
{
	unsigned i, n = e->n_held;

	e->n_held = 0;
	for (i = 0; i < n; i++) {
		eth_output(ctx, e->held[i], &e->mac, RTE_ETHER_TYPE_IPV4);
		e->held[i] = NULL;
	}
}

/* Report every held packet of e as undeliverable and free it. The queue is detached
 * first: tcp may send (and so call arp_output() on e) from the callback. */
static void
arp_report_held(struct dp_ctx *ctx, struct arp_entry *e, uint64_t *drop_counter)
{
	struct rte_mbuf *held[ARP_HOLD_MAX];
	unsigned i, n = e->n_held;

	/* Linux: the neighbour failure becomes an ICMP host unreachable from ourselves
	 * (ipv4_link_failure()), quoting the whole packet */
	const struct icmp_err local = {
		.from_be = ctx->ip_be, .type = ICMP_DEST_UNREACH, .code = 1, .info = 0,
	};

	memcpy(held, e->held, n * sizeof(held[0]));
	memset(e->held, 0, sizeof(e->held));
	e->n_held = 0;
	for (i = 0; i < n; i++) {
		(*drop_counter)++;
		tcp_notify_error(ctx, rte_pktmbuf_mtod(held[i], const uint8_t *),
				 rte_pktmbuf_data_len(held[i]), EHOSTUNREACH, &local);
		rte_pktmbuf_free(held[i]);
	}
}

/* The sender of an ARP packet told us its MAC (RFC 826 merge). A reply addressed to
 * us confirms reachability; anything else (a request, a gratuitous ARP) only makes
 * the entry usable, as Linux's NUD_STALE. Held packets go out now. */
static void
arp_learn(struct dp_ctx *ctx, struct arp_entry *e, const struct rte_ether_addr *sha,
	  bool confirm)
{
	struct arp_table *t = ctx->arp;
	uint64_t now = ctx->now_us;
	bool changed = !rte_is_same_ether_addr(&e->mac, sha);

	switch (e->state) {
	case ARP_INCOMPLETE:
	case ARP_FAILED:
	case ARP_FREE: /* just allocated */
		if (e->state != ARP_FREE)
			ctx->net_stats.arp_resolved++;
		rte_ether_addr_copy(sha, &e->mac);
		e->state = confirm ? ARP_REACHABLE : ARP_STALE;
		e->timer_us = now; /* a STALE entry may refresh on first use */
		break;
	case ARP_REACHABLE:
	case ARP_STALE:
		if (changed) {
			rte_ether_addr_copy(sha, &e->mac);
			e->state = confirm ? ARP_REACHABLE : ARP_STALE;
		} else if (confirm) {
			e->state = ARP_REACHABLE;
		}
		break;
	}
	if (confirm) {
		e->confirmed_us = now;
		arp_deadline(t, now + ARP_REACHABLE_US);
	}
	e->probes = 0;
	arp_flush(ctx, e);
}

void
arp_input(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	struct net_stats *st = &ctx->net_stats;
	struct arp_table *t = ctx->arp;
	struct rte_arp_hdr *ah;
	struct rte_ether_addr sha;
	struct arp_entry *e;
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t sip, tip;
	uint16_t op;
	bool for_us, merged = false;

	st->arp_rx++;
	if (len < sizeof(*ah)) {
		st->arp_drop_short++;
		goto drop;
	}
	ah = rte_pktmbuf_mtod(m, struct rte_arp_hdr *);
	if (ah->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    ah->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
	    ah->arp_hlen != RTE_ETHER_ADDR_LEN || ah->arp_plen != sizeof(uint32_t) ||
	    rte_is_multicast_ether_addr(&ah->arp_data.arp_sha)) {
		st->arp_drop_bad++;
		goto drop;
	}
	op = rte_be_to_cpu_16(ah->arp_opcode);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) {
		st->arp_drop_op++;
		goto drop;
	}
	sha = ah->arp_data.arp_sha;
	sip = ah->arp_data.arp_sip;
	tip = ah->arp_data.arp_tip;
	if (sip == ctx->ip_be) {
		/* Someone else uses our address (or our own announcement came back):
		 * learn nothing, answer nothing. */
		st->arp_drop_conflict++;
		goto drop;
	}
	for_us = tip == ctx->ip_be;
	/* RFC 826: merge into an existing entry whoever the target; add only when we
	 * are the target. Sender 0.0.0.0 is an RFC 5227 probe: nothing to learn. */
	if (sip != 0) {
		e = arp_lookup(t, sip);
		if (e == NULL && for_us) {
			e = arp_entry_alloc(t, sip, ctx->now_us);
			if (e == NULL)
				st->arp_drop_table_full++; /* learning only; the packet goes on */
		}
		if (e != NULL) {
			arp_learn(ctx, e, &sha, op == RTE_ARP_OP_REPLY && for_us);
			merged = true;
		}
	}
	if (op == RTE_ARP_OP_REQUEST) {
		st->arp_req_rx++;
		if (!for_us) {
			st->arp_drop_not_ours++;
			goto drop;
		}
		/* Reply in place: the request's target becomes our answer. */
		ah->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
		rte_ether_addr_copy(&sha, &ah->arp_data.arp_tha);
		ah->arp_data.arp_tip = sip;
		rte_ether_addr_copy(&ctx->mac, &ah->arp_data.arp_sha);
		ah->arp_data.arp_sip = ctx->ip_be;
		if (len > sizeof(*ah))
			rte_pktmbuf_trim(m, len - sizeof(*ah)); /* Ethernet padding */
		st->arp_reply_tx++;
		eth_output(ctx, m, &sha, RTE_ETHER_TYPE_ARP);
		return;
	}
	if (!merged)
		st->arp_drop_not_ours++; /* a reply we have no use for */
drop:
	rte_pktmbuf_free(m);
}

void
arp_output(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t nexthop_be)
{
	struct net_stats *st = &ctx->net_stats;
	struct arp_table *t = ctx->arp;
	uint64_t now = ctx->now_us;
	struct arp_entry *e;

	e = arp_lookup(t, nexthop_be);
	if (e == NULL) {
		e = arp_entry_alloc(t, nexthop_be, now);
		if (e == NULL) {
			st->arp_drop_table_full++;
			rte_pktmbuf_free(m);
			return;
		}
		e->state = ARP_INCOMPLETE;
		e->held[e->n_held++] = m;
		st->arp_held++;
		arp_request(ctx, e, false);
		e->probes = 1;
		e->timer_us = now + ARP_RETRANS_US;
		arp_deadline(t, e->timer_us);
		return;
	}
	switch (e->state) {
	case ARP_STALE:
		/* Still usable (the peer has not moved, most likely); ask it directly, at
		 * most once per retrans interval, and a reply makes it REACHABLE. */
		if (now >= e->timer_us) {
			arp_request(ctx, e, true);
			e->timer_us = now + ARP_RETRANS_US;
		}
		/* fall through */
	case ARP_REACHABLE:
		e->used_us = now;
		eth_output(ctx, m, &e->mac, RTE_ETHER_TYPE_IPV4);
		return;
	case ARP_FAILED:
		/* Reported from arp_timer(), see the file comment. */
		arp_deadline(t, now);
		/* fall through */
	default: /* ARP_INCOMPLETE */
		if (e->n_held == ARP_HOLD_MAX) {
			st->arp_drop_hold_full++;
			rte_pktmbuf_free(m);
			return;
		}
		e->held[e->n_held++] = m;
		st->arp_held++;
		return;
	}
}

void
arp_timer(struct dp_ctx *ctx)
{
	struct arp_table *t = ctx->arp;
	uint64_t now = ctx->now_us;
	unsigned i;

	if (t == NULL || now < t->next_deadline_us)
		return;
	/* Recomputed by the walk (and by anything tcp sends from a callback). */
	t->next_deadline_us = UINT64_MAX;
	for (i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &t->e[i];

		switch (e->state) {
		case ARP_FREE:
			break;
		case ARP_INCOMPLETE:
			if (now < e->timer_us) {
				arp_deadline(t, e->timer_us);
				break;
			}
			if (e->probes < ARP_PROBES) {
				arp_request(ctx, e, false);
				e->probes++;
				e->timer_us = now + ARP_RETRANS_US;
				arp_deadline(t, e->timer_us);
				break;
			}
			/* No answer to ARP_PROBES requests: the host is not there. */
			ctx->net_stats.arp_unresolved++;
			e->state = ARP_FAILED;
			e->timer_us = now + ARP_FAILED_US;
			arp_deadline(t, e->timer_us);
			arp_report_held(ctx, e, &ctx->net_stats.arp_drop_unresolved);
			break;
		case ARP_FAILED:
			/* Packets sent while FAILED fail now (tcp may send again from the
			 * callback: those wait for the next run, the deadline says when). */
			arp_report_held(ctx, e, &ctx->net_stats.arp_drop_failed);
			if (e->n_held != 0)
				arp_deadline(t, now);
			else if (now >= e->timer_us)
				arp_entry_free(t, e); /* the next packet resolves afresh */
			else
				arp_deadline(t, e->timer_us);
			break;
		case ARP_REACHABLE:
		case ARP_STALE:
			if (now >= e->used_us + ARP_GC_US) {
				ctx->net_stats.arp_expired++;
				arp_entry_free(t, e);
				break;
			}
			arp_deadline(t, e->used_us + ARP_GC_US);
			if (e->state == ARP_REACHABLE) {
				if (now >= e->confirmed_us + ARP_REACHABLE_US) {
					e->state = ARP_STALE;
					e->timer_us = now;
				} else {
					arp_deadline(t, e->confirmed_us + ARP_REACHABLE_US);
				}
			}
			break;
		}
	}
}

uint64_t
arp_next_deadline(const struct dp_ctx *ctx)
{
	return ctx->arp != NULL ? ctx->arp->next_deadline_us : UINT64_MAX;
}

int
arp_init(struct dp_ctx *ctx)
{
	struct arp_table *t;
	unsigned i;

	/* Once, at start: the hot path never allocates. */
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	for (i = 0; i < ARP_BUCKETS; i++)
		t->buckets[i] = ARP_NONE;
	for (i = 0; i < ARP_ENTRIES; i++)
		t->e[i].next = i + 1 < ARP_ENTRIES ? (uint16_t)(i + 1) : ARP_NONE;
	t->free_head = 0;
	t->next_deadline_us = UINT64_MAX;
	ctx->icmp_tokens = ICMP_RATE_BURST; /* net/'s init: the ICMP bucket starts full */
	ctx->icmp_stamp_us = ctx->now_us;
	ctx->arp = t;
	return 0;
}

void
arp_fini(struct dp_ctx *ctx)
{
	struct arp_table *t = ctx->arp;
	unsigned i, j;

	if (t == NULL)
		return;
	for (i = 0; i < ARP_ENTRIES; i++)
		for (j = 0; j < t->e[i].n_held; j++)
			rte_pktmbuf_free(t->e[i].held[j]);
	free(t);
	ctx->arp = NULL;
}
