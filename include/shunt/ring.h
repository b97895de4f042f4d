/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Single-producer single-consumer operations on the region's rings (abi.h), shared
 * by the shim and the dataplane so both run the code the unit tests exercise.
 *
 *   command channel: app pushes (shunt_chan_push), dp pops (shunt_chan_pop)
 *   free ring:       dp pushes (shunt_free_push), app pops (shunt_free_pop)
 *
 * Indices are free-running; the producer reads the consumer's index (acquire) to
 * find space, writes the entry, then publishes its own index (release). The
 * consumer mirrors that. Several threads on one side must serialise themselves
 * (the shim holds a lock per channel).
 *
 * The side that can be hostile is the app. Functions run by the dataplane take the
 * index it owns from its private copy (`*own`), never from shared memory, and treat
 * the other side's index as a claim to check: a claim beyond the ring is reported
 * as -EPROTO and the caller breaks that process.
 */
#ifndef SHUNT_RING_H
#define SHUNT_RING_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

#include "abi.h"

#define SHUNT_LOAD_ACQ(p)     atomic_load_explicit((_Atomic uint32_t *)(p), memory_order_acquire)
#define SHUNT_STORE_REL(p, v) atomic_store_explicit((_Atomic uint32_t *)(p), (v), memory_order_release)
#define SHUNT_LOAD_RLX(p)     atomic_load_explicit((_Atomic uint32_t *)(p), memory_order_relaxed)

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

/* ---- free ring ------------------------------------------------------------------- */

/* Dataplane side. *own is the dp's private producer index. The ring is sized to
 * hold every slot, so it can only be "full" if the app lies about its consumer
 * index: -EPROTO. */
static inline int shunt_free_push(struct shunt_free_ring *fr, uint32_t size, uint32_t *own,
				  uint32_t slot)
{
	uint32_t prod = *own;
	uint32_t cons = SHUNT_LOAD_ACQ(&fr->cons); /* pairs with the app's release in pop */

	if (prod - cons >= size)
		return -EPROTO;
	fr->ring[prod & (size - 1)] = slot;
	*own = prod + 1;
	SHUNT_STORE_REL(&fr->prod, prod + 1); /* publishes the slot */
	return 0;
}

/* App side. Returns a slot index, or -ENOBUFS when none is free. */
static inline int64_t shunt_free_pop(struct shunt_free_ring *fr, uint32_t size)
{
	uint32_t cons = SHUNT_LOAD_RLX(&fr->cons); /* ours */
	uint32_t prod = SHUNT_LOAD_ACQ(&fr->prod); /* pairs with the dp's release in push */
	uint32_t slot;

	if (prod == cons)
		return -ENOBUFS;
	slot = fr->ring[cons & (size - 1)];
	SHUNT_STORE_REL(&fr->cons, cons + 1);
	return slot;
}

#endif /* SHUNT_RING_H */
