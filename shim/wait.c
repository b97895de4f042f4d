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
 * threads sleep 1 ms at a time instead. poll.c and epoll.c use arm/disarm directly
 * because they also wait on kernel fds.
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

static int wait_sleep_fallback(int64_t ns)
{
	struct timespec ts = { 0, ns < WAIT_FALLBACK_NS ? ns : WAIT_FALLBACK_NS };

	if (nanosleep(&ts, NULL) < 0)
		return -errno;
	return 0;
}

int shim_wait_until(bool (*cond)(void *), void *arg, int64_t timeout_ns, int flags)
{
	int64_t start, now, deadline = -1;
	struct shim_waiter w;
	struct pollfd pfd[2];
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
		if (w.slot < 0) {
			rc = wait_sleep_fallback(left < 0 ? WAIT_FALLBACK_NS : left);
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
		if (rc == -EINTR && !(flags & SHIM_WAIT_NOINTR))
			return -EINTR;
		now = shim_now_ns();
	}
}

void shim_wait_atfork_child(void)
{
	atomic_store(&wait_busy, 0);
}
