/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Commands to the dataplane on channel 0 (abi.h, "command channels").
 *
 *   shim_chan_async(s, op)  -> shim_chan_push()
 *   shim_chan_sync(s, op)   -> seq = ++s->seq -> shim_chan_push()
 *                           -> shim_wait_until(done_seq reached) -> done_result
 *   shim_chan_push(): lock -> shunt_chan_push (full: unlock, doorbell, sleep, retry)
 *                     -> unlock -> seq_cst fence -> dp_sleeping? write(doorbell)
 *
 * One process-private mutex serialises the single-producer ring; per-thread
 * channels are a later step (abi.h). The fence pairs with the dataplane's fence
 * between setting dp_sleeping and re-checking the rings: either it sees our
 * command, or we see it asleep and ring.
 */
#include <time.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define CHAN_FULL_SLEEP_NS 50000   /* ring full: let the dataplane drain it */
#define CHAN_FULL_CHECK    20000   /* ~1 s of full ring: is shuntd still there? */

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;

static void chan_doorbell(void)
{
	static const uint64_t one = 1;

	/* seq_cst: our prod store before the dp_sleeping load (Dekker with shuntd) */
	atomic_thread_fence(memory_order_seq_cst);
	if (SHUNT_LOAD_RLX(&shim_g.r->dp_sleeping))
		(void)!real_write(atomic_load_explicit(&shim_g.doorbell_fd, memory_order_relaxed),
				  &one, sizeof(one));
}

static bool chan_dp_gone(void)
{
	struct pollfd p = { atomic_load(&shim_g.ctl_fd), 0, 0 };

	return real_poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

int shim_chan_push(const struct shunt_cmd *cmd)
{
	struct timespec ts = { 0, CHAN_FULL_SLEEP_NS };
	unsigned tries = 0;
	int rc;

	pthread_mutex_lock(&chan_lock);
	while ((rc = shunt_chan_push(shim_g.chan, cmd)) == -EAGAIN) {
		pthread_mutex_unlock(&chan_lock);
		chan_doorbell();
		if (++tries % CHAN_FULL_CHECK == 0 && chan_dp_gone())
			return -EPIPE;
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&chan_lock);
	}
	pthread_mutex_unlock(&chan_lock);
	chan_doorbell();
	return rc;
}

int shim_chan_async(struct shim_sock *s, uint16_t op, uint32_t arg)
{
	struct shunt_cmd c = { .op = op, .sock = s->slot, .arg = arg };

	return shim_chan_push(&c);
}

struct chan_sync_wait {
	struct shunt_sock *ss;
	uint32_t seq;
};

static bool chan_sync_done(void *arg)
{
	struct chan_sync_wait *cw = arg;

	/* acquire: see shim_chan_sync() on what this pairs with */
	return (int32_t)(SHUNT_LOAD_ACQ(&cw->ss->done_seq) - cw->seq) >= 0;
}

int shim_chan_sync(struct shim_sock *s, uint16_t op, uint32_t arg,
		   const struct shunt_inaddr *addr, uint64_t value)
{
	struct shunt_cmd c = { .op = op, .flags = SHUNT_CMDF_SYNC, .sock = s->slot,
			       .seq = ++s->seq, .arg = arg, .value = value };
	struct chan_sync_wait cw = { s->ss, c.seq };
	int rc;

	if (addr != NULL)
		c.addr = *addr;
	rc = shim_chan_push(&c);
	if (rc < 0)
		return rc;
	/* Uninterruptible (the answer is microseconds away) but not unbounded: a
	 * dataplane that hangs up never answers. */
	rc = shim_wait_until(chan_sync_done, &cw, -1, SHIM_WAIT_NOINTR | SHIM_WAIT_CTL);
	if (rc < 0)
		return rc;
	/* The dataplane stores done_result, then done_seq, then bumps ev_seq (release).
	 * The acquire load of done_seq orders our reads after it; together with the
	 * acquire of ev_seq below, done_result and the state the command changed are
	 * visible (x86 TSO makes this exact; see the report on release of done_seq). */
	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq);
	return s->ss->done_result;
}

void shim_chan_atfork_child(void)
{
	pthread_mutex_init(&chan_lock, NULL);
}
