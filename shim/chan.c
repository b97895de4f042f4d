/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Commands to the dataplane on channel 0 (abi.h, "command channels").
 *
 *   shim_chan_async(s, op)  -> shim_chan_push()
 *   shim_chan_send(s)       -> a SEND of s still queued? done : chan_push(), noting
 *                              where the SEND went (s->send_pos)
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

/* Push cmd; with pos, the index of its entry goes to *pos + 1, set under the lock
 * (so that a later entry's position never gets overwritten by an earlier one). */
static int chan_push(const struct shunt_cmd *cmd, _Atomic uint32_t *pos)
{
	struct timespec ts = { 0, CHAN_FULL_SLEEP_NS };
	unsigned tries = 0;
	uint32_t at;
	int rc;

	pthread_mutex_lock(&chan_lock);
	for (;;) {
		at = SHUNT_LOAD_RLX(&shim_g.chan->prod); /* ours: we are the producer */
		rc = shunt_chan_push(shim_g.chan, cmd);
		if (rc != -EAGAIN)
			break;
		pthread_mutex_unlock(&chan_lock);
		chan_doorbell();
		if (++tries % CHAN_FULL_CHECK == 0 && chan_dp_gone())
			return -EPIPE;
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&chan_lock);
	}
	if (rc == 0 && pos != NULL)
		atomic_store_explicit(pos, at + 1, memory_order_relaxed);
	pthread_mutex_unlock(&chan_lock);
	chan_doorbell();
	return rc;
}

int shim_chan_push(const struct shunt_cmd *cmd)
{
	return chan_push(cmd, NULL);
}

/* A SEND of s sits on the channel, not yet taken by the dataplane. pos - 1 is its
 * entry; it is unconsumed while it lies in [cons, prod). The window test (rather
 * than a signed difference) stays right however long ago pos was written. */
static bool chan_send_queued(struct shim_sock *s)
{
	uint32_t pos = atomic_load_explicit(&s->send_pos, memory_order_relaxed);
	uint32_t cons, prod;

	if (pos == 0)
		return false;
	/* acquire: pairs with the dp's release of cons after copying entries out */
	cons = SHUNT_LOAD_ACQ(&shim_g.chan->cons);
	prod = SHUNT_LOAD_RLX(&shim_g.chan->prod);
	return pos - 1 - cons < prod - cons;
}

int shim_chan_send(struct shim_sock *s)
{
	struct shunt_cmd c = { .op = SHUNT_CMD_SEND, .sock = s->slot };

	/* seq_cst: the caller's tx_prod store before our load of the channel's cons.
	 * If the SEND is still queued, the dataplane takes it later and reads tx_prod
	 * then (tcp_app_send -> tcp_output), our bytes included. The dataplane pops a
	 * burst (storing cons) before it acts on it; its own fence between the two
	 * would make this exact on every CPU. Without one, a store-load reordering
	 * there can at worst leave our bytes for the next tcp_output, which every ACK
	 * of the bytes in flight runs. */
	atomic_thread_fence(memory_order_seq_cst);
	if (chan_send_queued(s))
		return 0;
	return chan_push(&c, &s->send_pos);
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
	if (op == SHUNT_CMD_OPEN) {
		/* a new life for the record: no SEND of ours queued, nothing announced */
		atomic_store_explicit(&s->send_pos, 0, memory_order_relaxed);
		atomic_store_explicit(&s->rcv_ann, 0, memory_order_relaxed);
		atomic_store_explicit(&s->rcvbuf, 0, memory_order_relaxed);
	} else if (op == SHUNT_CMD_SETOPT && arg == SHUNT_OPT_RCVBUF) {
		/* the receive window's limit, for io_recvd(); the dataplane clamps it to
		 * [2 * MSS, ring]: a smaller one here only means more RECVDs */
		atomic_store_explicit(&s->rcvbuf, value > UINT32_MAX ? UINT32_MAX : (uint32_t)value,
				      memory_order_relaxed);
	}
	rc = shim_chan_push(&c);
	if (rc < 0)
		return rc;
	/* Uninterruptible (the answer is microseconds away) but not unbounded: a
	 * dataplane that hangs up never answers. */
	rc = shim_wait_until(chan_sync_done, &cw, -1, SHIM_WAIT_NOINTR | SHIM_WAIT_CTL);
	if (rc < 0)
		return rc;
	/* app_reply() stores done_result, then done_seq with release: our acquire of
	 * done_seq in chan_sync_done() makes done_result, and everything the command
	 * changed before the reply, visible here. */
	return s->ss->done_result;
}

void shim_chan_atfork_child(void)
{
	pthread_mutex_init(&chan_lock, NULL);
}
