/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Sleeping until the dataplane changes something one thread waits for
 * (abi.h, "Waking"; docs/design.md).
 *
 *   shim_wait_until(word, sleepers, cond):
 *     cond? -> spin SHIM_WAIT_SPIN_NS re-checking -> loop:
 *       v = *word (acquire) -> sleepers++ -> seq_cst fence -> cond? -> FUTEX_WAIT(word, v)
 *       -> sleepers-- -> cond? -> EINTR / timeout / hang-up? -> repeat
 *
 * The fence pairs with the dataplane's seq_cst fence between publishing an event
 * (bumping *word with release) and reading *sleepers: either our re-check sees the
 * event, or the dataplane sees us counted and wakes the word, and FUTEX_WAIT, which
 * compares *word with v atomically against the wake, cannot miss it. v is read
 * before the re-check, so a change after the re-check fails the FUTEX_WAIT at once.
 * Only threads waiting on this word wake, and there is no limit on how many sleep.
 */
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <shunt/futex.h>

#include "real.h"
#include "shim.h"

#define WAIT_CTL_SLICE_NS 100000000 /* SHIM_WAIT_CTL: look for a hang-up this often */

int64_t shim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int shim_wait_until(uint32_t *word, uint32_t *sleepers, bool (*cond)(void *), void *arg,
		    int64_t timeout_ns, int flags)
{
	int64_t start, now, deadline = -1;
	struct timespec ts, *rel;
	uint32_t v;
	int rc;

	if (cond(arg))
		return 0;
	start = now = shim_now_ns();
	if (timeout_ns >= 0)
		deadline = start + timeout_ns;
	while (now - start < SHIM_WAIT_SPIN_NS && (deadline < 0 || now < deadline)) {
		shim_cpu_relax();
		if (cond(arg))
			return 0;
		now = shim_now_ns();
	}
	for (;;) {
		int64_t left = deadline < 0 ? -1 : deadline - now;

		if (deadline >= 0 && left <= 0)
			return -ETIMEDOUT;
		if (shim_is_lost())
			return -ENETDOWN; /* nobody will change the word (lost.c) */
		if ((flags & SHIM_WAIT_CTL) && (left < 0 || left > WAIT_CTL_SLICE_NS))
			left = WAIT_CTL_SLICE_NS;
		rel = NULL;
		if (left >= 0) {
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			rel = &ts;
		}
		/* acquire: what cond reads was published before the word moved past v */
		v = SHUNT_LOAD_ACQ(word);
		__atomic_fetch_add(sleepers, 1, __ATOMIC_SEQ_CST);
		SHUNT_FENCE(); /* sleepers before the re-check: Dekker with the dataplane */
		if (cond(arg)) {
			__atomic_fetch_sub(sleepers, 1, __ATOMIC_RELAXED);
			return 0;
		}
		rc = shunt_futex_wait(word, v, rel);
		__atomic_fetch_sub(sleepers, 1, __ATOMIC_RELAXED);
		if (cond(arg))
			return 0;
		if (shim_is_lost())
			return -ENETDOWN;
		if (rc == -EINTR && !(flags & SHIM_WAIT_NOINTR))
			return -EINTR;
		if ((flags & SHIM_WAIT_CTL) && rc == -ETIMEDOUT && shim_chan_dp_gone())
			return -EPIPE; /* shuntd went away: nobody will answer */
		now = shim_now_ns();
	}
}
