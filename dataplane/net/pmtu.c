/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Path MTU per destination (RFC 1191), as Linux keeps it: an ICMP "fragmentation
 * needed" that TCP has validated against a connection lowers the path MTU of the
 * destination it quoted, for every connection to it and for those opened later,
 * until it expires (net.ipv4.route.mtu_expires, 600 s) and the port's MTU is the
 * path's again.
 *
 *   icmp_input() -> tcp_notify_error() -> [quote validated] pmtu_update()
 *   tcp_connect(), a listener's child, tcp_output() -> pmtu_get()
 *   ipv4_output() -> pmtu_locked(): DF stays clear below the floor
 *
 * The table is Linux's next-hop exceptions (fib_nh_exception) reduced to what one
 * port with one gateway needs: DP_PMTU_SETS sets of DP_PMTU_WAYS entries in the
 * context, no allocation; a full set gives up the entry that expires first. What
 * Linux does with an MTU below net.ipv4.route.min_pmtu (552), 0 included (RFC 1191's
 * plateau table went with ip_rt_frag_needed() in Linux 3.6): the path MTU becomes
 * min(current, 552), locked, and packets to it leave without DF so that a router
 * on a smaller link may fragment them.
 */
#include "dp.h"
#include "net/net.h"

static uint16_t pmtu_port_mtu(const struct dp_ctx *ctx)
{
	return ctx->mtu != 0 ? ctx->mtu : 1500;
}

static struct dp_pmtu_entry *pmtu_set(const struct dp_ctx *ctx, uint32_t dst_be)
{
	/* Fibonacci hashing: the top bits of the product pick the set */
	uint32_t h = (dst_be * 2654435769u) >> (32 - 6);

	_Static_assert(DP_PMTU_SETS == 1 << 6, "set index is 6 bits");
	return (struct dp_pmtu_entry *)ctx->pmtu.e[h];
}

/* dst's live entry, or NULL */
static const struct dp_pmtu_entry *pmtu_find(const struct dp_ctx *ctx, uint32_t dst_be)
{
	const struct dp_pmtu_entry *set;
	unsigned i;

	if (ctx->pmtu.n == 0 || dst_be == 0)
		return NULL;
	set = pmtu_set(ctx, dst_be);
	for (i = 0; i < DP_PMTU_WAYS; i++)
		if (set[i].dst_be == dst_be)
			return ctx->now_us < set[i].expires_us ? &set[i] : NULL;
	return NULL;
}

uint16_t pmtu_get(const struct dp_ctx *ctx, uint32_t dst_be, uint64_t *expires_us)
{
	const struct dp_pmtu_entry *e = pmtu_find(ctx, dst_be);
	uint16_t port = pmtu_port_mtu(ctx);

	if (expires_us != NULL)
		*expires_us = e != NULL ? e->expires_us : UINT64_MAX;
	/* the port's MTU may have shrunk since (it bounds every path) */
	return e != NULL && e->mtu < port ? e->mtu : port;
}

bool pmtu_locked(const struct dp_ctx *ctx, uint32_t dst_be)
{
	const struct dp_pmtu_entry *e = pmtu_find(ctx, dst_be);

	return e != NULL && e->locked;
}

uint16_t pmtu_update(struct dp_ctx *ctx, uint32_t dst_be, uint32_t mtu)
{
	struct net_stats *st = &ctx->net_stats;
	struct dp_pmtu_entry *set = pmtu_set(ctx, dst_be), *e = NULL;
	const struct dp_pmtu_entry *live = pmtu_find(ctx, dst_be);
	uint16_t old = pmtu_get(ctx, dst_be, NULL);
	bool lock = false;
	unsigned i;

	/* Linux __ip_rt_update_pmtu(): a locked path MTU stays until it expires; a
	 * larger MTU than the path's is no news */
	if ((live != NULL && live->locked) || old < mtu || (live == NULL && old == mtu)) {
		st->ip_pmtu_not_lower++;
		return old;
	}
	if (mtu < PMTU_MIN) {
		lock = true;
		mtu = old < PMTU_MIN ? old : PMTU_MIN;
		st->ip_pmtu_below_min++;
	}
	/* the same news again refreshes the entry only in its second half of life */
	if (live != NULL && live->mtu == mtu && !lock &&
	    ctx->now_us + PMTU_EXPIRES_US / 2 < live->expires_us)
		return old;
	for (i = 0; i < DP_PMTU_WAYS && e == NULL; i++)
		if (set[i].dst_be == dst_be)
			e = &set[i];
	for (i = 0; i < DP_PMTU_WAYS && e == NULL; i++)
		if (set[i].dst_be == 0)
			e = &set[i];
	if (e == NULL) {
		/* a full set: the entry that expires first (an expired one if any) */
		e = &set[0];
		for (i = 1; i < DP_PMTU_WAYS; i++)
			if (set[i].expires_us < e->expires_us)
				e = &set[i];
		st->ip_pmtu_evicted++;
	}
	if (e->dst_be == 0)
		ctx->pmtu.n++;
	e->dst_be = dst_be;
	e->mtu = (uint16_t)mtu;
	e->locked = lock;
	e->expires_us = ctx->now_us + PMTU_EXPIRES_US;
	ctx->pmtu.gen++;
	st->ip_pmtu_learned++;
	return (uint16_t)mtu;
}
