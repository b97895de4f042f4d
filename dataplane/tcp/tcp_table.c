/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The 4-tuple table and the local port table (see tcp_table.h).
 *
 * The table is chained hashing over a power-of-two bucket array, the hash
 * rte_jhash_3words() keyed with part of the ISN secret so a peer cannot aim at one
 * chain. It is ours (not rte_hash) so unit tests need no EAL. Its size follows the
 * connections: it doubles when they outnumber the buckets and halves (down to the
 * size it started with) when they fall under a quarter of them, so chains stay
 * about one long at 100 connections or 100,000. A resize moves the chains a few
 * buckets per insert or remove (TABLE_MIGRATE), never all at once: the loop never
 * stalls on a rehash. Meanwhile a tuple's bucket is in the old array if its old
 * index is not yet migrated, else in the new one (table_chain()), and the old array
 * is freed when the last bucket has moved. The port table is three counters per
 * port: holders, holders that bound explicitly, holders without SO_REUSEADDR
 * (outside TIME_WAIT); 3 x 128 KiB, allocated once.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_byteorder.h>
#include <rte_jhash.h>

#include "dp.h"
#include "tcp/tcb.h"
#include "tcp/tcp_table.h"

#define TABLE_MIGRATE 16 /* old buckets moved per insert or remove while resizing */

static inline uint32_t tuple_hash(const struct tcp_stack *ts, uint32_t laddr, uint16_t lport,
				  uint32_t raddr, uint16_t rport)
{
	return rte_jhash_3words(raddr, laddr, (uint32_t)lport << 16 | rport,
				(uint32_t)ts->isn_key[1]);
}

int tcp_table_init(struct tcp_stack *ts, uint32_t nbuckets)
{
	ts->buckets = calloc(nbuckets, sizeof(*ts->buckets));
	ts->port_users = calloc(65536, sizeof(uint16_t));
	ts->port_bound = calloc(65536, sizeof(uint16_t));
	ts->port_excl = calloc(65536, sizeof(uint16_t));
	ts->port_rp = calloc(65536, sizeof(uint16_t));
	if (!ts->buckets || !ts->port_users || !ts->port_bound || !ts->port_excl ||
	    !ts->port_rp) {
		tcp_table_fini(ts);
		return -ENOMEM;
	}
	ts->bucket_mask = nbuckets - 1;
	ts->min_buckets = nbuckets;
	ts->old_buckets = NULL;
	ts->n_hashed = 0;
	return 0;
}

void tcp_table_fini(struct tcp_stack *ts)
{
	free(ts->buckets);
	free(ts->old_buckets);
	free(ts->port_users);
	free(ts->port_bound);
	free(ts->port_excl);
	free(ts->port_rp);
	ts->buckets = ts->old_buckets = NULL;
	ts->port_users = ts->port_bound = ts->port_excl = ts->port_rp = NULL;
}

uint32_t tcp_table_buckets(const struct tcp_stack *ts)
{
	return ts->bucket_mask + 1;
}

/* The chain that holds (or would hold) a tuple of hash h. */
static struct tcb **table_chain(const struct tcp_stack *ts, uint32_t h)
{
	if (ts->old_buckets != NULL && (h & ts->old_mask) >= ts->migrate_pos)
		return &ts->old_buckets[h & ts->old_mask];
	return &ts->buckets[h & ts->bucket_mask];
}

/* Move up to n old buckets into the new array; free the old one when done. */
static void table_migrate(struct tcp_stack *ts, uint32_t n)
{
	struct tcb *t, *next, **b;

	while (ts->old_buckets != NULL && n-- > 0) {
		for (t = ts->old_buckets[ts->migrate_pos]; t != NULL; t = next) {
			next = t->hnext;
			b = &ts->buckets[t->hash & ts->bucket_mask];
			t->hnext = *b;
			*b = t;
		}
		if (ts->migrate_pos++ == ts->old_mask) {
			free(ts->old_buckets);
			ts->old_buckets = NULL;
		}
	}
}

/* A step of the resize in progress, or the start of one the count asks for. A
 * failed allocation only leaves the chains longer. */
static void table_step(struct tcp_stack *ts)
{
	uint32_t nb = ts->bucket_mask + 1, want = nb;
	struct tcb **fresh;

	if (ts->old_buckets != NULL) {
		table_migrate(ts, TABLE_MIGRATE);
		return;
	}
	if (ts->n_hashed > nb && nb <= UINT32_MAX / 4)
		want = nb * 2;
	else if (ts->n_hashed < nb / 4 && nb > ts->min_buckets)
		want = nb / 2;
	if (want == nb || (fresh = calloc(want, sizeof(*fresh))) == NULL)
		return;
	ts->old_buckets = ts->buckets;
	ts->old_mask = ts->bucket_mask;
	ts->migrate_pos = 0;
	ts->buckets = fresh;
	ts->bucket_mask = want - 1;
}

struct tcb *tcp_table_lookup(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
			     uint32_t raddr_be, uint16_t rport_be)
{
	uint32_t h = tuple_hash(ts, laddr_be, lport_be, raddr_be, rport_be);
	struct tcb *t = *table_chain(ts, h);

	for (; t != NULL; t = t->hnext)
		if (t->hash == h && t->lport_be == lport_be && t->rport_be == rport_be &&
		    t->raddr_be == raddr_be && t->laddr_be == laddr_be)
			return t;
	return NULL;
}

void tcp_table_insert(struct tcp_stack *ts, struct tcb *tcb)
{
	struct tcb **b;

	table_step(ts);
	tcb->hash = tuple_hash(ts, tcb->laddr_be, tcb->lport_be, tcb->raddr_be, tcb->rport_be);
	b = table_chain(ts, tcb->hash);
	tcb->hnext = *b;
	*b = tcb;
	tcb->hashed = true;
	ts->n_hashed++;
}

void tcp_table_remove(struct tcp_stack *ts, struct tcb *tcb)
{
	struct tcb **p;

	if (!tcb->hashed)
		return;
	for (p = table_chain(ts, tcb->hash); *p != NULL; p = &(*p)->hnext) {
		if (*p == tcb) {
			*p = tcb->hnext;
			break;
		}
	}
	tcb->hnext = NULL;
	tcb->hashed = false;
	ts->n_hashed--;
	table_step(ts);
}

static void port_take(struct tcp_stack *ts, struct tcb *tcb, uint16_t port, bool bound)
{
	ts->port_users[port]++;
	if (bound)
		ts->port_bound[port]++;
	if (!tcb->reuseaddr)
		ts->port_excl[port]++;
	if (tcb->reuseport)
		ts->port_rp[port]++;
	tcb->lport_be = rte_cpu_to_be_16(port);
	tcb->port_held = true;
	tcb->bound = bound;
}

void tcp_port_inherit(struct tcp_stack *ts, struct tcb *child, const struct tcb *l)
{
	child->reuseaddr = l->reuseaddr;
	child->reuseport = l->reuseport;
	port_take(ts, child, rte_be_to_cpu_16(l->lport_be), true);
}

void tcp_port_release(struct tcp_stack *ts, struct tcb *tcb)
{
	uint16_t port = rte_be_to_cpu_16(tcb->lport_be);

	if (!tcb->port_held)
		return;
	ts->port_users[port]--;
	if (tcb->bound)
		ts->port_bound[port]--;
	if (!tcb->reuseaddr && tcb->state != SHUNT_SS_TIME_WAIT)
		ts->port_excl[port]--;
	if (tcb->reuseport)
		ts->port_rp[port]--;
	tcb->port_held = false;
}

void tcp_port_timewait(struct tcp_stack *ts, struct tcb *tcb)
{
	if (tcb->port_held && !tcb->reuseaddr)
		ts->port_excl[rte_be_to_cpu_16(tcb->lport_be)]--;
}

uint32_t tcp_rand(struct tcp_stack *ts)
{
	/* xorshift64: only spreads the search start, no secrecy needed */
	ts->rng ^= ts->rng << 13;
	ts->rng ^= ts->rng >> 7;
	ts->rng ^= ts->rng << 17;
	return (uint32_t)(ts->rng >> 32);
}

int tcp_port_bind(struct dp_ctx *ctx, struct tcb *tcb, uint32_t addr_be, uint16_t port_be)
{
	struct tcp_stack *ts = ctx->tcp;
	uint16_t port = rte_be_to_cpu_16(port_be);
	uint32_t lo = ctx->conf->eph_lo, hi = ctx->conf->eph_hi, n, i, start;

	if (tcb->port_held)
		return -EINVAL; /* Linux: bind on a bound socket */
	if (addr_be != 0 && addr_be != ctx->ip_be)
		return -EADDRNOTAVAIL;
	if (port != 0) {
		/* Linux inet_csk_bind_conflict(): SO_REUSEPORT on every holder (and on
		 * us) shares the port, listeners included; otherwise a listener blocks
		 * it even for SO_REUSEADDR. (Linux also asks for the same uid; shuntd
		 * does not know programs' uids.) */
		bool shared = tcb->reuseport && ts->port_rp[port] == ts->port_users[port];

		if (!shared && ts->listeners != NULL && ts->listeners[port] != NULL)
			return -EADDRINUSE;
		if (!shared && ts->port_users[port] != 0 &&
		    !(tcb->reuseaddr && ts->port_excl[port] == 0))
			return -EADDRINUSE;
		port_take(ts, tcb, port, true);
		return 0;
	}
	/* bind(port 0): Linux picks a port no one holds at all */
	n = hi - lo + 1;
	start = tcp_rand(ts) % n;
	for (i = 0; i < n; i++) {
		port = (uint16_t)(lo + (start + i) % n);
		if (ts->port_users[port] == 0) {
			port_take(ts, tcb, port, true);
			return 0;
		}
	}
	return -EADDRINUSE;
}

int tcp_port_connect(struct dp_ctx *ctx, struct tcb *tcb, uint32_t raddr_be, uint16_t rport_be)
{
	struct tcp_stack *ts = ctx->tcp;
	uint32_t lo = ctx->conf->eph_lo, hi = ctx->conf->eph_hi, n, i, start, idx;
	uint32_t laddr_be = ctx->ip_be;
	uint16_t port;

	tcb->laddr_be = laddr_be;
	tcb->raddr_be = raddr_be;
	tcb->rport_be = rport_be;
	if (tcb->port_held) {
		/* Linux __inet_hash_connect() -> check_established(): a bound port
		 * whose 4-tuple is taken cannot be used for that destination */
		if (tcp_table_lookup(ts, tcb->laddr_be, tcb->lport_be, raddr_be, rport_be))
			return -EADDRNOTAVAIL;
		tcp_table_insert(ts, tcb);
		return 0;
	}
	/* Ephemeral: a port may be shared by connections to different destinations
	 * (the 4-tuple is what must be unique), but not with a bind()er.
	 * RFC 6056 3.3.4 (double-hash port selection, as Linux
	 * __inet_hash_connect()): the search for a destination starts at a keyed
	 * hash of it plus a counter of its hash slot, which moves past each port
	 * taken. Successive connections to one destination so try the ports in
	 * turn from where the last one succeeded: the first port tried is free
	 * unless the range has come round to connections still open, instead of
	 * a search from a random start through every port already used for that
	 * destination (on average more of them the more connections it has). */
	n = hi - lo + 1;
	idx = rte_jhash_3words(raddr_be, rport_be, laddr_be, (uint32_t)ts->isn_key[0]) %
	      TCP_PORT_PERTURB;
	start = (rte_jhash_3words(raddr_be, rport_be, laddr_be,
				  (uint32_t)(ts->isn_key[0] >> 32)) +
		 ts->port_perturb[idx]) % n;
	for (i = 0; i < n; i++) {
		port = (uint16_t)(lo + (start + i) % n);
		if (ts->port_bound[port] != 0)
			continue;
		/* To our own address (local delivery): never the destination port
		 * itself, which would connect the socket to itself. */
		if (raddr_be == ctx->ip_be && rte_cpu_to_be_16(port) == rport_be)
			continue;
		if (tcp_table_lookup(ts, tcb->laddr_be, rte_cpu_to_be_16(port), raddr_be,
				     rport_be))
			continue;
		ts->port_perturb[idx] += i + 1;
		port_take(ts, tcb, port, false);
		tcp_table_insert(ts, tcb);
		return 0;
	}
	return -EADDRNOTAVAIL;
}
