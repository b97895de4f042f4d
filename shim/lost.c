/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * When shuntd goes away (stopped, killed, crashed, or it detached us): nothing
 * that waits on it may wait for ever. shuntd cannot say goodbye when it is killed,
 * but the kernel can: its end of our control connection closes.
 *
 *   attach (attach.c) -> shim_lost_watch(): a thread, every signal blocked, in
 *     poll() on the control socket for POLLHUP (no events asked: replies to
 *     notifier registrations are not ours to take)
 *   hang-up -> shim_lost_declare(), once:
 *     -> every slot the process has used: what the dataplane would have done to
 *        its connection had the network gone: a TCP connection or attempt is
 *        reset (state CLOSED, SHUNT_SF_RESET, error ECONNRESET, or ENETDOWN for
 *        one still connecting), a UDP socket gets ENETDOWN; ev_seq moves (release)
 *     -> shim_g.lost (release): every later wait ends at once (wait.c), every
 *        command fails with ENETDOWN (chan.c), a UDP socket is always ready
 *        (dgram.c) and its calls fail, accept() fails with ENETDOWN, and new
 *        sockets are the kernel's (shim_attach() says no)
 *     -> the threads asleep on a slot (futex), and the sync waits on every
 *        channel, are woken
 *     -> every notifier is shut for reading: poll, select, epoll and dual waits
 *        asleep on one wake up, and never sleep on one again
 *
 * The dataplane being dead, its [dp] fields are ours to write: nobody else does.
 * Each is written before the ev_seq release, as shuntd would publish it, so a
 * reader that acquires ev_seq sees the reset whole. The region stays mapped:
 * sockets keep pointing into it until the program closes them.
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

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
	atomic_store_explicit(&shim_g.lost, true, memory_order_release);
	SHUNT_FENCE();
	for (i = 0; i < hwm; i++) {
		struct shunt_sock *ss = shunt_region_sock(shim_g.r, i);

		if (SHUNT_LOAD_RLX(&ss->sleepers) != 0)
			(void)shunt_futex_wake(&ss->ev_seq);
	}
	for (i = 0; i < shim_g.nchannels; i++)
		(void)shunt_futex_wake(&shunt_region_channel(shim_g.r, i)->reply.seq);
	shim_notify_lost();
	pthread_mutex_unlock(&lost_lock);
	SHIM_WARN("shuntd went away: shunt sockets are reset, new sockets use the kernel");
}

void shim_lost_reattach_begin(void)
{
	pthread_mutex_lock(&lost_lock); /* not while the last loss is being declared */
}

void shim_lost_reattach_end(bool attached)
{
	if (attached) {
		atomic_store(&shim_g.slot_hwm, 0);
		shim_notify_reattach();
		atomic_fetch_add(&shim_g.att_gen, 1); /* the old sockets are dead for good */
		/* release: the new attachment (attach.c) before anyone acts on lost */
		atomic_store_explicit(&shim_g.lost, false, memory_order_release);
	}
	pthread_mutex_unlock(&lost_lock);
}

static void *lost_watch(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = { atomic_load(&shim_g.ctl_fd), 0, 0 };
		int n = real_poll(&p, 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && (p.revents & POLLNVAL) && p.fd != atomic_load(&shim_g.ctl_fd))
			continue; /* moved to another number meanwhile (attach.c) */
		if (n == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
			break;
		if (n < 0)
			break; /* cannot watch: as if gone, rather than never notice */
	}
	shim_lost_declare();
	return NULL;
}

int shim_lost_watch(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	int rc;

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
