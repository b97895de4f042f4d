/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * When shuntd goes away (stopped, killed, crashed, or it detached us): nothing
 * that waits on it may wait for ever. shuntd cannot say goodbye when it is killed,
 * but the kernel can: its end of our control connection closes.
 *
 *   attach (attach.c) -> shim_lost_watch(): a thread, every signal blocked, in
 *     epoll_wait() on a private epoll instance holding the control socket, for
 *     its hang-up (no events asked: replies to notifier registrations are not
 *     ours to take). An epoll instance watches the open file, not an fd number:
 *     poll() would look the number up again on every wake-up, and miss the
 *     hang-up once the program dup2()s onto the control fd's number (attach.c
 *     moves ours away first).
 *   hang-up -> shim_lost_declare(), once:
 *     -> every slot the process has used: what the dataplane would have done to
 *        its connection had the network gone: a TCP connection or attempt is
 *        reset (state CLOSED, SHUNT_SF_RESET, error ECONNRESET, or ENETDOWN for
 *        one still connecting), a UDP socket gets ENETDOWN; ev_seq moves (release)
 *     -> shim_g.lost (release): every later wait ends at once (wait.c), every
 *        command fails with ENETDOWN (chan.c), a UDP socket reports its ENETDOWN
 *        once, then its sends fail and its reads find nothing (dgram.c), accept()
 *        fails with ENETDOWN, and new sockets are the kernel's (shim_attach()
 *        says no; after a second it looks whether shuntd is back, attach.c)
 *     -> the threads asleep on a slot (futex), and the sync waits on every
 *        channel, are woken
 *     -> every notifier is shut for reading: poll, select, epoll and dual waits
 *        asleep on one wake up, and none sleeps on one again (they sleep on the
 *        kernel's fds alone)
 *
 * The dataplane being dead, its [dp] fields are ours to write: nobody else does.
 * Each is written before the ev_seq release, as shuntd would publish it, so a
 * reader that acquires ev_seq sees the reset whole. The region stays mapped:
 * sockets keep pointing into it until the program closes them.
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

#include <shunt/futex.h>

#include "real.h"
#include "shim.h"

static pthread_mutex_t lost_lock = PTHREAD_MUTEX_INITIALIZER;

/* What shuntd's death does to one slot's socket (see above). */
static void lost_reset(struct shunt_sock *ss)
{
	uint32_t st = SHUNT_LOAD_ACQ(&ss->state);
	int err = 0;

	if (st == SHUNT_SS_FREE)
		return;
	if (ss->type == SHUNT_SOCK_DGRAM)
		err = ENETDOWN;
	else if (st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED)
		err = ENETDOWN;
	else if (st != SHUNT_SS_CLOSED && st != SHUNT_SS_LISTEN)
		err = ECONNRESET;
	if (err != 0) {
		ss->error = err;
		ss->err_seq++;
	}
	SHUNT_STORE_REL(&ss->tx_trim, 0); /* a trim that will never finish (tx.c) */
	if (ss->type != SHUNT_SOCK_DGRAM && st != SHUNT_SS_CLOSED) {
		ss->flags |= SHUNT_SF_RESET;
		SHUNT_STORE_REL(&ss->state, SHUNT_SS_CLOSED);
	}
	/* release: the fields above before the new ev_seq */
	SHUNT_STORE_REL(&ss->ev_seq, SHUNT_LOAD_RLX(&ss->ev_seq) + 1);
}

void shim_lost_declare(void)
{
	uint32_t i, hwm;

	pthread_mutex_lock(&lost_lock);
	if (atomic_load_explicit(&shim_g.lost, memory_order_relaxed) || shim_g.r == NULL) {
		pthread_mutex_unlock(&lost_lock);
		return;
	}
	hwm = atomic_load(&shim_g.slot_hwm);
	if (hwm > shim_g.nsocks)
		hwm = shim_g.nsocks;
	for (i = 0; i < hwm; i++)
		lost_reset(shunt_region_sock(shim_g.r, i));
	/* Woken only once lost is set, so a woken thread sees both the reset and the
	 * flag (accept() says ENETDOWN, not EINVAL). The fence orders our stores
	 * before the sleepers loads (wait.c's Dekker). */
	atomic_store(&shim_g.lost_at_ns, shim_now_ns());
	atomic_store_explicit(&shim_g.lost, true, memory_order_release);
	SHUNT_FENCE();
	/* a slot adopted (accept) while we reset: it saw no loss yet, reset it too */
	for (; i < atomic_load(&shim_g.slot_hwm) && i < shim_g.nsocks; i++)
		lost_reset(shunt_region_sock(shim_g.r, i));
	hwm = i;
	SHUNT_FENCE();
	for (i = 0; i < hwm; i++) {
		struct shunt_sock *ss = shunt_region_sock(shim_g.r, i);

		if (SHUNT_LOAD_RLX(&ss->sleepers) != 0)
			(void)shunt_futex_wake(&ss->ev_seq);
	}
	for (i = 0; i < shim_g.nchannels; i++)
		(void)shunt_futex_wake(&shunt_region_channel(shim_g.r,
							     shim_g.chan_base + i)->reply.seq);
	shim_notify_lost();
	pthread_mutex_unlock(&lost_lock);
	SHIM_WARN("shuntd went away: shunt sockets are reset, new sockets use the kernel");
}

void shim_lost_atfork_child(void)
{
	pthread_mutex_init(&lost_lock, NULL); /* a parent's thread may have held it */
}

void shim_lost_reattach_begin(void)
{
	pthread_mutex_lock(&lost_lock); /* not while the last loss is being declared */
}

void shim_lost_reattach_end(bool attached)
{
	if (attached) {
		atomic_store(&shim_g.slot_hwm, 0);
		/* first: from now on the old notifiers are stale, so their owners neither
		 * give back nor use bits of the bitmap cleared below */
		atomic_fetch_add(&shim_g.att_gen, 1); /* the old sockets are dead for good */
		atomic_fetch_add(&shim_g.notif_gen, 1);
		shim_notify_reattach();
		/* release: the new attachment (attach.c) before anyone acts on lost */
		atomic_store_explicit(&shim_g.lost, false, memory_order_release);
	}
	pthread_mutex_unlock(&lost_lock);
}

static void *lost_watch(void *arg)
{
	struct timespec pause = { 0, 100000000 };
	struct epoll_event ev;
	int n;

	(void)arg;
	for (;;) {
		/* the number is read again after an error: attach.c may have moved it */
		n = real_epoll_wait(atomic_load(&shim_g.lost_epfd), &ev, 1, -1);
		if (n == 1)
			break; /* EPOLLHUP or EPOLLERR: the only events it can have */
		if (n < 0 && errno != EINTR)
			nanosleep(&pause, NULL); /* EBADF while moved, or no memory: again */
	}
	shim_lost_declare();
	return NULL;
}

int shim_lost_watch(void)
{
	struct epoll_event ev = { .events = 0 }; /* EPOLLHUP | EPOLLERR are implied */
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc, ep, err;

	ep = real_epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	if (real_epoll_ctl(ep, EPOLL_CTL_ADD, atomic_load(&shim_g.ctl_fd), &ev) < 0) {
		rc = -errno;
		real_close(ep);
		return rc;
	}
	(void)shim_fdtab_swap(ep, &shim_fdtab_internal, &err);
	atomic_store(&shim_g.lost_epfd, ep); /* the last attachment's stays open, unused */

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits it: no signals */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rc = pthread_create(&t, &attr, lost_watch, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}
