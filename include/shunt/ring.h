/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Single-producer single-consumer operations on the region's rings (abi.h), shared
 * by the shim and the dataplane so both run the code the unit tests exercise.
 *
 *   command channel: app pushes (shunt_chan_push), dp pops (shunt_chan_pop)
 *   ready ring:      dp pushes (shunt_ready_push), app pops (shunt_ready_pop)
 *
 * Indices are free-running; the producer reads the consumer's index (acquire) to
 * find space, writes the entry, then publishes its own index (release). The
 * consumer mirrors that. A channel has one producing thread at a time (the shim's
 * channel ownership, chan.c).
 *
 * The side that can be hostile is the app. Functions run by the dataplane take the
 * index it owns from its private copy (`*own`), never from shared memory, and treat
 * the other side's index as a claim to check: a claim beyond the ring is reported
 * as -EPROTO and the caller breaks that process.
 *
 * Shared fields are plain integers accessed with GCC's __atomic builtins (C11 does
 * not allow casting a plain object to an _Atomic type).
 */
#ifndef SHUNT_RING_H
#define SHUNT_RING_H

#include <errno.h>
#include <stdint.h>

#include "abi.h"

#define SHUNT_LOAD_ACQ(p)     __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define SHUNT_STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define SHUNT_LOAD_RLX(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define SHUNT_STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define SHUNT_FENCE()         __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* ---- command channel ----------------------------------------------------------- */

/* App side. Returns 0, or -EAGAIN when the ring is full. */
static inline int shunt_chan_push(struct shunt_channel *ch, const struct shunt_cmd *cmd)
{
	uint32_t prod = SHUNT_LOAD_RLX(&ch->prod); /* ours */
	uint32_t cons = SHUNT_LOAD_ACQ(&ch->cons); /* pairs with the dp's release in pop */

	if (prod - cons >= SHUNT_CMD_RING_SIZE)
		return -EAGAIN;
	ch->ring[prod & (SHUNT_CMD_RING_SIZE - 1)] = *cmd;
	SHUNT_STORE_REL(&ch->prod, prod + 1); /* publishes the entry */
	return 0;
}

/* Dataplane side: up to n commands into out[] (copied out of shared memory, so the
 * app cannot change one while it is processed). *own is the dp's private consumer
 * index. Returns the count, or -EPROTO when the app's producer index is impossible. */
static inline int shunt_chan_pop(struct shunt_channel *ch, uint32_t *own,
				 struct shunt_cmd *out, unsigned n)
{
	uint32_t cons = *own;
	uint32_t prod = SHUNT_LOAD_ACQ(&ch->prod); /* pairs with the app's release in push */
	uint32_t avail = prod - cons;
	unsigned i;

	if (avail > SHUNT_CMD_RING_SIZE)
		return -EPROTO;
	if (avail < n)
		n = avail;
	for (i = 0; i < n; i++)
		out[i] = ch->ring[(cons + i) & (SHUNT_CMD_RING_SIZE - 1)];
	*own = cons + n;
	SHUNT_STORE_REL(&ch->cons, cons + n); /* the entries may be overwritten now */
	return (int)n;
}

/* Dataplane side: nothing queued? (used before sleeping) */
static inline int shunt_chan_empty(struct shunt_channel *ch, uint32_t own)
{
	return SHUNT_LOAD_ACQ(&ch->prod) == own;
}

/* ---- ready ring (dp -> app) ---------------------------------------------------- */

/* Dataplane side. *own is the dp's private producer index. Returns 0, -ENOSPC when
 * the ring is full (the caller bumps ready_lost), or -EPROTO when the app's
 * consumer index is impossible. */
static inline int shunt_ready_push(struct shunt_notifier *n, uint32_t *own, uint32_t slot)
{
	uint32_t prod = *own;
	uint32_t cons = SHUNT_LOAD_ACQ(&n->ready_cons); /* pairs with the app's release in pop */

	if (prod - cons > SHUNT_READY_RING)
		return -EPROTO;
	if (prod - cons == SHUNT_READY_RING)
		return -ENOSPC;
	n->ready[prod & (SHUNT_READY_RING - 1)] = slot;
	*own = prod + 1;
	SHUNT_STORE_REL(&n->ready_prod, prod + 1); /* publishes the entry */
	return 0;
}

/* App side, one consumer at a time. Up to max slot numbers into out[]; returns how
 * many. */
static inline unsigned shunt_ready_pop(struct shunt_notifier *n, uint32_t *out, unsigned max)
{
	uint32_t cons = SHUNT_LOAD_RLX(&n->ready_cons); /* ours */
	uint32_t prod = SHUNT_LOAD_ACQ(&n->ready_prod); /* pairs with the dp's release in push */
	unsigned i, avail = prod - cons;

	if (avail > SHUNT_READY_RING) /* a dp from another build: start over */
		avail = SHUNT_READY_RING;
	if (avail > max)
		avail = max;
	for (i = 0; i < avail; i++)
		out[i] = n->ready[(cons + i) & (SHUNT_READY_RING - 1)];
	SHUNT_STORE_REL(&n->ready_cons, cons + avail); /* the entries may be overwritten */
	return avail;
}

#endif /* SHUNT_RING_H */
