/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Commands to the dataplane on per-thread channels (abi.h, "command channels").
 *
 *   shim_chan_async(s, op)  -> chan_take() -> chan_push() -> chan_give()
 *   shim_chan_send(s)       -> a SEND of s still queued? done : as async, noting
 *                              where the SEND went (s->send_pos)
 *   shim_chan_sync(s, op)   -> chan_take() -> seq = ++chan_seq[ch] -> chan_push()
 *                           -> shim_wait_until(reply.seq == seq) -> result
 *                           -> chan_give()
 *   chan_take(): the thread's own channel (given on its first command, back at
 *                thread exit through a pthread key destructor), held with a busy
 *                bit; nested use (a signal handler interrupting our own command)
 *                takes any free channel instead
 *   chan_push(): shunt_chan_push (full: doorbell, sleep, retry) -> seq_cst fence
 *                -> dp_sleeping? write(doorbell)
 *
 * The busy bit makes each channel single-producer, as ring.h needs, without a
 * lock anyone could be interrupted holding: a thread only ever waits for a bit
 * that another thread holds, and a handler never waits for its own thread's. The
 * fence in chan_doorbell pairs with the dataplane's fence between setting
 * dp_sleeping and re-checking the channels: either it sees our command, or we see
 * it asleep and ring.
 */
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shunt/futex.h>

#include "real.h"
#include "shim.h"

#define CHAN_FULL_SLEEP_NS 50000   /* ring full: let the dataplane drain it */
#define CHAN_FULL_CHECK    20000   /* ~1 s of full ring: is shuntd still there? */

_Static_assert(SHIM_MAX_CHANNELS == 64, "channel bitmaps are one uint64_t");

static _Atomic uint64_t chan_given; /* bit c: channel c is some thread's own */
static _Atomic uint64_t chan_busy;  /* bit c: a command is being pushed or awaited on c */
static uint32_t chan_seq[SHIM_MAX_CHANNELS]; /* last sync seq per channel, under busy */
static _Atomic uint64_t chan_seq_ok; /* bit c: chan_seq[c] was read from the channel */
static pthread_key_t chan_key;      /* value: own channel + 1, for the exit destructor */

static __thread int chan_own = -1;  /* this thread's channel; -1: none yet */
static __thread unsigned chan_depth; /* commands of this thread under way (nesting) */

static void chan_thread_exit(void *v)
{
	uint64_t bit = 1ull << ((uintptr_t)v - 1);

	atomic_fetch_and_explicit(&chan_given, ~bit, memory_order_release);
}

int shim_chan_init(void)
{
	return -pthread_key_create(&chan_key, chan_thread_exit);
}

/* This thread's channel: a free one of its own if any is left, else one shared
 * with other threads by tid (they take turns through the busy bit). */
static int chan_own_pick(void)
{
	uint32_t n = shim_g.nchannels;
	uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
	uint64_t given = atomic_load_explicit(&chan_given, memory_order_relaxed);
	int c;

	while ((given & all) != all) {
		c = __builtin_ctzll(~given);
		if (atomic_compare_exchange_weak_explicit(&chan_given, &given,
							  given | (1ull << c),
							  memory_order_acquire,
							  memory_order_relaxed)) {
			(void)pthread_setspecific(chan_key, (void *)(uintptr_t)(c + 1));
			return c;
		}
	}
	return (int)((uint32_t)gettid() % n);
}

static bool chan_try(int c)
{
	uint64_t bit = 1ull << c;

	/* acquire: pairs with chan_give()'s release, so the previous holder's ring
	 * writes and chan_seq[c] are ours to continue from */
	return !(atomic_fetch_or_explicit(&chan_busy, bit, memory_order_acquire) & bit);
}

/* Our channel c (an index among this process's own) in region r. */
static struct shunt_channel *chan_at(struct shunt_region *r, int c)
{
	return shunt_region_channel(r, shim_g.chan_base + (uint32_t)c);
}

/* Take a channel of region r for one command (and its answer). */
static int chan_take(struct shunt_region *r)
{
	uint32_t n = shim_g.nchannels, hint;
	int c;

	if (chan_own < 0 || (uint32_t)chan_own >= n)
		chan_own = chan_own_pick();
	if (chan_depth++ == 0) {
		/* Our own channel: only another thread sharing it can hold it. */
		while (!chan_try(chan_own))
			sched_yield();
		c = chan_own;
	} else {
		/* We interrupted a command of this very thread: any other channel. */
		for (c = 0;; c = (c + 1) % (int)n) {
			if (c != chan_own && chan_try(c))
				break;
			if (c == (int)n - 1)
				sched_yield();
		}
	}
	/* The dataplane polls our [0, chan_hint[member]): make sure it covers c.
	 * Only grows. */
	hint = SHUNT_LOAD_RLX(&r->chan_hint[shim_g.member]);
	while (hint < (uint32_t)c + 1 &&
	       !__atomic_compare_exchange_n(&r->chan_hint[shim_g.member], &hint, (uint32_t)c + 1,
					    false, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
	/* A channel another process (a former member with our index, or our image
	 * before exec) used: its sequence runs on from the last answer there. */
	if (!(atomic_load_explicit(&chan_seq_ok, memory_order_relaxed) & (1ull << c))) {
		chan_seq[c] = SHUNT_LOAD_ACQ(&chan_at(r, c)->reply.seq);
		atomic_fetch_or_explicit(&chan_seq_ok, 1ull << c, memory_order_relaxed);
	}
	return c;
}

static void chan_give(int c)
{
	atomic_fetch_and_explicit(&chan_busy, ~(1ull << c), memory_order_release);
	chan_depth--;
}

static void chan_doorbell(struct shunt_region *r)
{
	static const uint64_t one = 1;

	/* seq_cst: our prod store before the dp_sleeping load (Dekker with shuntd) */
	SHUNT_FENCE();
	if (SHUNT_LOAD_RLX(&r->dp_sleeping))
		(void)!real_write(atomic_load_explicit(&shim_g.doorbell_fd, memory_order_relaxed),
				  &one, sizeof(one));
}

bool shim_chan_dp_gone(void)
{
	struct pollfd p = { atomic_load(&shim_g.ctl_fd), 0, 0 };

	return real_poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

/* Push cmd on channel c (held) of region r; *at gets the entry's index. */
static int chan_push(struct shunt_region *r, int c, const struct shunt_cmd *cmd, uint32_t *at)
{
	struct shunt_channel *ch = chan_at(r, c);
	struct timespec ts = { 0, CHAN_FULL_SLEEP_NS };
	unsigned tries = 0;

	if (shim_is_lost())
		return -ENETDOWN; /* lost.c: nobody reads the channels */
	for (;;) {
		*at = SHUNT_LOAD_RLX(&ch->prod); /* ours: we hold the channel */
		if (shunt_chan_push(ch, cmd) == 0)
			break;
		chan_doorbell(r);
		if (++tries % CHAN_FULL_CHECK == 0 && shim_chan_dp_gone())
			return -EPIPE;
		nanosleep(&ts, NULL);
	}
	chan_doorbell(r);
	return 0;
}

int shim_chan_async(struct shim_sock *s, uint16_t op, uint32_t arg)
{
	struct shunt_cmd cmd = { .op = op, .sock = s->slot, .gen = s->gen, .arg = arg };
	uint32_t at;
	int c, rc;

	if (shim_sock_dead(s))
		return -ENETDOWN; /* its shuntd is gone (lost.c): nobody to tell */
	c = chan_take(s->r);
	rc = chan_push(s->r, c, &cmd, &at);
	chan_give(c);
	return rc;
}

/* A SEND of s sits on a channel, not yet taken by the dataplane. Its entry is
 * unconsumed while it lies in [cons, prod) of that channel. The window test
 * (rather than a signed difference) stays right however long ago it was noted. */
static bool chan_send_queued(struct shim_sock *s)
{
	uint64_t pos = atomic_load_explicit(&s->send_pos, memory_order_relaxed);
	struct shunt_channel *ch;
	uint32_t at, cons, prod;

	if (pos == 0)
		return false;
	ch = shunt_region_channel(s->r, (uint32_t)(pos >> 32));
	at = (uint32_t)pos - 1;
	/* acquire: pairs with the dp's release of cons after copying entries out */
	cons = SHUNT_LOAD_ACQ(&ch->cons);
	prod = SHUNT_LOAD_RLX(&ch->prod);
	return at - cons < prod - cons;
}

int shim_chan_send(struct shim_sock *s, bool more)
{
	struct shunt_cmd cmd = { .op = SHUNT_CMD_SEND, .sock = s->slot, .gen = s->gen,
				 .arg = more ? SHUNT_SENDF_MORE : 0 };
	uint32_t at;
	int c, rc;

	if (shim_sock_dead(s))
		return -ENETDOWN;
	/* MSG_MORE, and the first send after one, change what the dataplane holds
	 * back: never thinned away */
	if (more || atomic_load_explicit(&s->more_sent, memory_order_relaxed)) {
		atomic_store_explicit(&s->more_sent, more, memory_order_relaxed);
		return shim_chan_async(s, SHUNT_CMD_SEND, cmd.arg);
	}
	/* seq_cst: the caller's tx_prod store before our load of the channel's cons.
	 * If the SEND is still queued, the dataplane takes it later and reads tx_prod
	 * then (tcp_app_send -> tcp_output), our bytes included; its fence between
	 * popping a burst and acting on it (core/app.c) is the other half. */
	SHUNT_FENCE();
	if (chan_send_queued(s))
		return 0;
	c = chan_take(s->r);
	rc = chan_push(s->r, c, &cmd, &at);
	/* Noted while we hold the channel, so no later entry's position is overwritten
	 * by an earlier one's. */
	if (rc == 0)
		atomic_store_explicit(&s->send_pos,
				      (uint64_t)(shim_g.chan_base + (uint32_t)c) << 32 | (at + 1),
				      memory_order_relaxed);
	chan_give(c);
	return rc;
}

struct chan_sync_wait {
	struct shunt_channel *ch;
	struct shunt_region *r;
	uint32_t seq;
};

static bool chan_answered(const struct chan_sync_wait *cw)
{
	/* acquire: pairs with the dp's release of reply.seq after the reply fields */
	return SHUNT_LOAD_ACQ(&cw->ch->reply.seq) == cw->seq;
}

/* Answered, or nobody will answer: shuntd went away, or came back since (a new
 * attachment: this region's shuntd is gone for good, lost.c). */
static bool chan_sync_done(void *arg)
{
	struct chan_sync_wait *cw = arg;

	return chan_answered(cw) || shim_is_lost() || cw->r != shim_g.r;
}

/* Push cmd on a channel of region r and wait for its answer. Returns the result,
 * or -EPIPE if the dataplane hung up; *reply gets the whole answer. */
static int chan_call(struct shunt_region *r, struct shunt_cmd *cmd, struct shunt_reply *reply)
{
	struct chan_sync_wait cw;
	uint32_t at;
	int c = chan_take(r), rc;

	cw.ch = chan_at(r, c);
	cw.r = r;
	cmd->flags |= SHUNT_CMDF_SYNC;
	cmd->seq = cw.seq = ++chan_seq[c];
	rc = chan_push(r, c, cmd, &at);
	if (rc == 0) {
		/* Uninterruptible (the answer is microseconds away) but not unbounded: a
		 * dataplane that hangs up never answers. */
		rc = shim_wait_until(&cw.ch->reply.seq, &cw.ch->sleepers, chan_sync_done, &cw,
				     -1, SHIM_WAIT_NOINTR | SHIM_WAIT_CTL);
	}
	if (rc == 0 && !chan_answered(&cw))
		rc = -ENETDOWN; /* woken by the loss, not by an answer */
	if (rc == 0) {
		*reply = cw.ch->reply; /* after the acquire of reply.seq in chan_answered */
		rc = reply->result;
	}
	chan_give(c);
	return rc;
}

int shim_chan_sync(struct shim_sock *s, uint16_t op, uint32_t arg,
		   const struct shunt_inaddr *addr, uint64_t value)
{
	struct shunt_cmd cmd = { .op = op, .sock = s->slot, .gen = s->gen, .arg = arg,
				 .value = value };
	struct shunt_reply reply;

	if (shim_sock_dead(s))
		return -ENETDOWN;
	if (addr != NULL)
		cmd.addr = *addr;
	if (op == SHUNT_CMD_SETOPT && arg == SHUNT_OPT_RCVBUF) {
		/* the receive window's limit, for io_recvd(); the dataplane clamps it to
		 * [2 * MSS, ring]: a smaller one here only means more RECVDs */
		atomic_store_explicit(&s->rcvbuf, value > UINT32_MAX ? UINT32_MAX : (uint32_t)value,
				      memory_order_relaxed);
	}
	return chan_call(s->r, &cmd, &reply);
}

int shim_chan_open(struct shunt_region *r, uint32_t type, uint32_t *slot, uint32_t *gen)
{
	struct shunt_cmd cmd = { .op = SHUNT_CMD_OPEN, .sock = SHUNT_SOCK_NONE, .arg = type };
	struct shunt_reply reply;
	int rc = chan_call(r, &cmd, &reply);

	if (rc < 0)
		return rc;
	if (reply.sock >= shim_g.nsocks || reply.gen == 0)
		return -EPROTO; /* a dataplane of another build: keep the process safe */
	*slot = reply.sock;
	*gen = reply.gen;
	return 0;
}

void shim_chan_atfork_child(void)
{
	/* The child's only thread is the one that forked: it keeps no channel of the
	 * parent's; its own are those of its member (share.c), or of its next
	 * attachment. */
	atomic_store(&chan_given, 0);
	atomic_store(&chan_busy, 0);
	atomic_store(&chan_seq_ok, 0);
	memset(chan_seq, 0, sizeof(chan_seq));
	chan_own = -1;
	chan_depth = 0;
	(void)pthread_setspecific(chan_key, NULL);
}
