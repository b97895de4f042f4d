/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The send side of a shunt socket: one writer at a time fills the tx ring and
 * publishes tx_prod, as Linux's socket lock serialises senders, and a signal
 * handler that sends on a socket its own thread is in the middle of sending on
 * finishes the interrupted job instead of waiting for it (it never could: the
 * interrupted code runs again only once the handler returns).
 *
 *   io_send / shim_dgram_send:
 *     shim_tx_enter(s) -> owner == 0: CAS to our tid
 *                      -> owner == our tid: nested (a handler): tx_help() runs the
 *                         interrupted job to completion
 *                      -> another thread: yield until it leaves
 *     job = { head = tx_prod, end, fill } -> shim_tx_run(s, &job):
 *        s->tx_job = &job -> signal fence -> head still tx_prod? -> tx_writer_in
 *        (the dataplane is not trimming the ring) -> fill(job) -> CAS tx_prod
 *        head -> end (release; a failed CAS means a handler did it) -> tx_writer_out
 *     shim_tx_leave(s)
 *
 * Why a helped job is safe to finish twice: fill() writes the same bytes from the
 * same source to the same ring positions, so the interrupted copy, when it goes
 * on, rewrites what is there. It could only do harm if the handler's own data
 * wrapped round the ring onto those positions: a nested sender is bounded by
 * guard = helped job's head + ring size (shim_tx_enter's *guard).
 *
 * The owner word (shunt_sock.tx_owner, in the region: senders of every process
 * sharing the socket take turns on it, by tid) is taken with acquire and given
 * back with release. The job pointer is touched only by the owner thread and by
 * handlers running on that same thread, so signal fences (compiler ordering) are
 * enough for it; tx_prod is published with release for the dataplane.
 */
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "shim.h"

#define TX_OWNER_CHECK 1024 /* yields between looks at whether the owner lives */

static __thread pid_t tx_tid;
/* The sockets this thread is sending on now, innermost last: its own send, and
 * a signal handler's on another socket inside it (a nested handler is rare; past
 * TX_DEPTH one is not remembered, and is taken as fresh). owner == our tid with s
 * not here is a stale owner word: an exec'd image whose tid is that of the
 * thread that held it, or a fork child's copy of its parent's tid. */
#define TX_DEPTH 4
static __thread struct shim_sock *tx_in[TX_DEPTH];
static __thread unsigned tx_depth;

static pid_t tx_self(void)
{
	if (tx_tid == 0)
		tx_tid = gettid();
	return tx_tid;
}

void shim_tx_atfork_child(void)
{
	tx_tid = 0; /* the child's thread has a tid of its own */
	tx_depth = 0;
}

static bool tx_inside(const struct shim_sock *s)
{
	unsigned i;

	for (i = 0; i < tx_depth && i < TX_DEPTH; i++)
		if (tx_in[i] == s)
			return true;
	return false;
}

static void tx_push(struct shim_sock *s)
{
	if (tx_depth < TX_DEPTH)
		tx_in[tx_depth] = s;
	atomic_signal_fence(memory_order_seq_cst); /* the entry, then the depth */
	tx_depth++;
	atomic_signal_fence(memory_order_seq_cst); /* before a handler can look */
}

static void tx_pop(void)
{
	atomic_signal_fence(memory_order_seq_cst);
	tx_depth--;
	atomic_signal_fence(memory_order_seq_cst);
}

/* Enter / leave the send ring as a writer (abi.h tx_trim / tx_writing): the
 * dataplane may be giving an idle ring's pages back to the system, and must not
 * while we write and publish. Dekker: our count, a fence, then its flag. */
static void tx_writer_in(struct shim_sock *s)
{
	struct shunt_sock *ss = s->ss;
	unsigned spins = 0;

	__atomic_fetch_add(&ss->tx_writing, 1, __ATOMIC_SEQ_CST);
	SHUNT_FENCE();
	while (SHUNT_LOAD_ACQ(&ss->tx_trim) != 0) { /* one fallocate away */
		shim_cpu_relax();
		if (shim_sock_dead(s) ||
		    (++spins % (1u << 20) == 0 && shim_chan_dp_gone()))
			break; /* nobody will clear it; nobody will read the ring either */
	}
}

static void tx_writer_out(struct shim_sock *s)
{
	/* release: tx_prod is published before the dataplane may see us gone */
	__atomic_fetch_sub(&s->ss->tx_writing, 1, __ATOMIC_RELEASE);
}

/* Run j to completion if it is still the unpublished head of the stream. */
static void tx_help(struct shim_sock *s, struct shim_txjob *j)
{
	uint32_t head = j->head;

	if (j->done || SHUNT_LOAD_RLX(&s->ss->tx_prod) != head)
		return;
	tx_writer_in(s);
	j->fill(s, j);
	if (__atomic_compare_exchange_n(&s->ss->tx_prod, &head, j->end, false,
					__ATOMIC_RELEASE, __ATOMIC_RELAXED))
		j->done = true;
	tx_writer_out(s);
	atomic_signal_fence(memory_order_seq_cst);
}

bool shim_tx_enter(struct shim_sock *s, uint32_t *guard)
{
	pid_t me = tx_self(), owner;
	struct shim_txjob *j;

	for (unsigned waits = 0;;) {
		owner = 0;
		/* Announced before the owner word can be ours: a handler that finds the
		 * word ours finds s among ours too, so it helps instead of taking over
		 * what this thread is about to write. */
		tx_push(s);
		if (__atomic_compare_exchange_n(&s->ss->tx_owner, (uint32_t *)&owner, (uint32_t)me,
						false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			*guard = SHUNT_LOAD_RLX(&s->ss->tx_prod) + s->tx_size;
			return false;
		}
		tx_pop();
		if (owner == me && tx_inside(s))
			break;
		if (owner == me) { /* stale: ours to take (see tx_in) */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			tx_push(s);
			*guard = SHUNT_LOAD_RLX(&s->ss->tx_prod) + s->tx_size;
			return false;
		}
		if (owner == 0)
			continue;
		sched_yield(); /* another thread is copying: it will be done soon */
		/* ... unless it died holding the socket (a process killed in send(),
		 * or a thread gone at exec): kill() finds a thread by its tid */
		if (++waits % TX_OWNER_CHECK == 0 && kill(owner, 0) < 0 && errno == ESRCH)
			(void)__atomic_compare_exchange_n(&s->ss->tx_owner, (uint32_t *)&owner, 0,
							  false, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED);
	}
	/* We interrupted our own thread's send on this socket. */
	j = s->tx_job;
	atomic_signal_fence(memory_order_seq_cst);
	*guard = SHUNT_LOAD_RLX(&s->ss->tx_prod) + s->tx_size;
	if (j != NULL) {
		tx_help(s, j);
		*guard = j->head + s->tx_size;
	}
	return true;
}

void shim_tx_leave(struct shim_sock *s, bool nested)
{
	if (nested)
		return;
	/* the word first: until it is given back, a handler must find s ours */
	__atomic_store_n(&s->ss->tx_owner, 0, __ATOMIC_RELEASE);
	tx_pop();
}

int shim_tx_run(struct shim_sock *s, struct shim_txjob *j)
{
	struct shim_txjob *prev = s->tx_job;
	uint32_t head = j->head;

	j->done = false;
	s->tx_job = j;
	atomic_signal_fence(memory_order_seq_cst);
	/* A handler may have sent between our reading tx_prod and announcing j: then
	 * j's place in the stream is gone; the caller computes again. */
	if (SHUNT_LOAD_RLX(&s->ss->tx_prod) != head && !j->done) {
		s->tx_job = prev;
		return -EAGAIN;
	}
	tx_help(s, j); /* our own job, the way a handler would finish it */
	s->tx_job = prev;
	/* A failed CAS with done unset cannot happen (only this thread's handlers
	 * publish while we own the socket, and they set done); done is the answer. */
	return j->done ? 0 : -EAGAIN;
}
