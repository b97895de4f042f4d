/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Sleeping until the dataplane changes something (docs/design.md, "Waking").
 *
 *   shim_wait_until(cond):
 *     cond? -> spin SHIM_WAIT_SPIN_NS re-checking -> shim_wait_arm():
 *       take a free slot (process-private bitmap) -> armed_seq++ (release)
 *       -> seq_cst fence -> cond? -> sleep:
 *          no timeout, no flags: read(slot eventfd)  (kernel applies SA_RESTART)
 *          otherwise:            poll(slot eventfd [+ control socket], timeout)
 *       -> shim_wait_disarm() (drain, give the slot back) -> cond? -> repeat
 *
 * The fence pairs with the dataplane's seq_cst fence between publishing an event
 * and reading armed_seq (abi.h, Dekker): either our re-check sees the event or
 * the dataplane sees the slot armed and writes its eventfd. With every slot taken,
 * threads sleep 1 ms at a time instead (wait_sleep_fallback), watching the control
 * socket when asked to; a signal there is restarted when the kernel would have
 * restarted the blocking read() (wait_restartable). poll.c and epoll.c use
 * arm/disarm directly because they also wait on kernel fds.
 */
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define WAIT_FALLBACK_NS 1000000 /* sleep step without a slot */

_Static_assert(SHUNT_WAIT_SLOTS <= 32, "wait bitmap is a uint32_t");

static _Atomic uint32_t wait_busy; /* bit i: slot i taken by a thread of ours */

int64_t shim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void shim_wait_arm(struct shim_waiter *w)
{
	uint32_t busy = atomic_load_explicit(&wait_busy, memory_order_relaxed);
	const uint32_t all = SHUNT_WAIT_SLOTS == 32 ? ~0u : (1u << SHUNT_WAIT_SLOTS) - 1;
	struct shunt_wait_slot *ws;
	int bit;

	w->slot = -1;
	w->fd = -1;
	if (shim_unlikely(shim_g.r == NULL))
		return; /* not attached (a fork child that let go of its parent's region) */
	while ((busy & all) != all) {
		bit = __builtin_ctz(~busy);
		if (atomic_compare_exchange_weak_explicit(&wait_busy, &busy, busy | (1u << bit),
							  memory_order_acquire,
							  memory_order_relaxed)) {
			w->slot = bit;
			break;
		}
	}
	if (w->slot < 0)
		return;
	w->fd = atomic_load_explicit(&shim_g.wait_fd[w->slot], memory_order_relaxed);
	ws = &shim_g.r->wait[w->slot];
	/* release: only we write armed_seq while we hold the slot */
	SHUNT_STORE_REL(&ws->armed_seq, SHUNT_LOAD_RLX(&ws->armed_seq) + 1);
	/* seq_cst: armed_seq before the caller's re-check of its condition, pairing
	 * with the dataplane's fence between publishing and reading armed_seq */
	atomic_thread_fence(memory_order_seq_cst);
}

void shim_wait_disarm(struct shim_waiter *w, bool readable)
{
	uint64_t v;

	if (w->slot < 0)
		return;
	/* Only drain what poll() said is there, so the read cannot block. A wake that
	 * lands later stays in the counter: the next holder wakes once spuriously and
	 * re-checks, which every caller does anyway. */
	if (readable)
		(void)!real_read(w->fd, &v, sizeof(v));
	atomic_fetch_and_explicit(&wait_busy, ~(1u << w->slot), memory_order_release);
	w->slot = -1;
}

/* No slot was free: sleep one step. With SHIM_WAIT_CTL the sleep is a poll of the
 * control socket, so a dataplane that went away is seen here too. Returns 0,
 * -EINTR, or -EPIPE. */
static int wait_sleep_fallback(int64_t ns, int flags)
{
	struct timespec ts = { 0, ns < WAIT_FALLBACK_NS ? ns : WAIT_FALLBACK_NS };
	struct pollfd p;

	if (!(flags & SHIM_WAIT_CTL))
		return nanosleep(&ts, NULL) < 0 ? -errno : 0;
	p.fd = atomic_load(&shim_g.ctl_fd);
	p.events = 0; /* only the hang-up matters */
	p.revents = 0;
	if (real_ppoll(&p, 1, &ts, NULL) < 0)
		return -errno;
	return (p.revents & (POLLHUP | POLLERR)) ? -EPIPE : 0;
}

/* A signal cut the fallback's sleep in a wait that is, with a slot, a blocking
 * read(): would the kernel have restarted that read? It does when the handler has
 * SA_RESTART. Which signal it was is not known here, so: when every signal that
 * could have come (caught, not blocked in this thread) has SA_RESTART, as with
 * signal() or a program that asks for it everywhere; not when any lacks it (as
 * Python's handlers, which expect EINTR). Only asked after an EINTR. */
static bool wait_restartable(void)
{
	struct sigaction sa;
	sigset_t blocked;
	int sig;

	if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		return false;
	for (sig = 1; sig < NSIG; sig++) {
		if (sigismember(&blocked, sig) == 1 || sigaction(sig, NULL, &sa) < 0)
			continue;
		if (!(sa.sa_flags & SA_SIGINFO) &&
		    (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN))
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

int shim_wait_until(bool (*cond)(void *), void *arg, int64_t timeout_ns, int flags)
{
	int64_t start, now, deadline = -1;
	struct shim_waiter w;
	struct pollfd pfd[2];
	bool fallback;
	uint64_t v;
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
		shim_wait_arm(&w);
		if (cond(arg)) {
			shim_wait_disarm(&w, false);
			return 0;
		}
		rc = 0;
		fallback = w.slot < 0;
		if (fallback) {
			rc = wait_sleep_fallback(left < 0 ? WAIT_FALLBACK_NS : left, flags);
			if (rc == -EPIPE)
				return rc; /* shuntd went away: nobody will answer */
		} else if (left < 0 && flags == 0) {
			/* The kernel restarts this under SA_RESTART, or fails it with EINTR,
			 * exactly as it would a blocking call on a kernel socket. */
			if (real_read(w.fd, &v, sizeof(v)) < 0)
				rc = -errno;
			shim_wait_disarm(&w, false);
		} else {
			int ms = left < 0 ? -1 : (int)((left + 999999) / 1000000);
			nfds_t n = 1;

			pfd[0].fd = w.fd;
			pfd[0].events = POLLIN;
			pfd[0].revents = 0;
			if (flags & SHIM_WAIT_CTL) {
				pfd[1].fd = atomic_load(&shim_g.ctl_fd);
				pfd[1].events = 0; /* only the hang-up matters */
				pfd[1].revents = 0;
				n = 2;
			}
			if (real_poll(pfd, n, ms) < 0)
				rc = -errno;
			shim_wait_disarm(&w, rc == 0 && (pfd[0].revents & POLLIN));
			if (rc == 0 && n == 2 && (pfd[1].revents & (POLLHUP | POLLERR)))
				return -EPIPE; /* shuntd went away: nobody will answer */
		}
		if (cond(arg))
			return 0;
		/* The slot path's blocking read() had SA_RESTART applied by the kernel;
		 * the fallback's sleep never is, so it is applied here. */
		if (rc == -EINTR && !(flags & SHIM_WAIT_NOINTR) &&
		    !(fallback && left < 0 && flags == 0 && wait_restartable()))
			return -EINTR;
		now = shim_now_ns();
	}
}

void shim_wait_atfork_child(void)
{
	atomic_store(&wait_busy, 0);
}
