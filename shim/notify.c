/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Notifiers: what a wait on several sockets sleeps on (abi.h, "notifiers").
 *
 *   shim_notify_get(nf) -> a free index (bitmap) -> registered already? reuse :
 *       socketpair(AF_UNIX, SOCK_DGRAM) -> NOTIFY_SET + the dp's end over the control
 *       socket -> answer -> close the dp's end here -> keep ours (internal fd)
 *   shim_notify_thread() -> the calling thread's, got once, put at thread exit
 *   shim_notify_sub(s, nf) -> CAS an empty s->ss->notify[] entry to idx + 1, or
 *       notify_all++ when all are taken
 *   shim_notify_arm() -> fd_sleepers++ -> fence -> (caller re-checks, sleeps in
 *       poll() on the wake socket) -> shim_notify_disarm() -> fd_sleepers--, drain
 *
 * A registration lives as long as the attachment: a notifier given back keeps its
 * wake socket at shuntd, so the next user of the index costs no control round
 * trip. A new user skips whatever is left in the ready ring (cons = prod): entries
 * pushed late for the previous user name sockets it does not watch, and it ignores
 * those.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <shunt/futex.h>

#include "real.h"
#include "shim.h"

#define NOTIFY_WORDS (SHIM_MAX_NOTIFIERS / 64)

static _Atomic uint64_t notify_busy[NOTIFY_WORDS];  /* bit: index in use */
static _Atomic int notify_fd[SHIM_MAX_NOTIFIERS];    /* our wake socket; 0: unregistered */
static pthread_key_t notify_key;
static pthread_once_t notify_key_once = PTHREAD_ONCE_INIT;

static __thread struct shim_notifier notify_mine;
static __thread bool notify_mine_ok;

/* One NOTIFY_SET / NOTIFY_CLEAR request and its answer (attach.c). Returns the
 * answer's status, or -errno. */
static int notify_ctl(uint32_t op, uint32_t idx, int fd)
{
	struct shunt_ctl_notify req = { SHUNT_ABI_MAGIC, op, idx, 0 }, ans;
	ssize_t n = shim_ctl_call(&req, sizeof(req), fd, &ans, sizeof(ans));

	if (n < 0)
		return (int)n;
	if (n != (ssize_t)sizeof(ans) || ans.magic != SHUNT_ABI_MAGIC || ans.op != op ||
	    ans.idx != idx)
		return -EPROTO;
	return ans.status;
}

/* Give notifier idx a wake socket at shuntd. Returns 0 or -errno. */
static int notify_register(uint32_t idx)
{
	int sv[2], rc, err;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	rc = notify_ctl(SHUNT_CTL_NOTIFY_SET, shim_g.notif_base + idx, sv[1]);
	real_close(sv[1]); /* shuntd has its own copy now; ours would only keep it alive */
	if (rc < 0) {
		real_close(sv[0]);
		return rc;
	}
	(void)shim_fdtab_swap(sv[0], &shim_fdtab_internal, &err);
	atomic_store(&notify_fd[idx], sv[0] + 1);
	return 0;
}

int shim_notify_get(struct shim_notifier *nf, uint32_t flags)
{
	uint32_t w, nwords = (shim_g.nnotifiers + 63) / 64;
	int rc;

	if (!shim_g.attached || shim_ctl_busy())
		return -EAGAIN; /* a handler inside our own registration */
	for (w = 0; w < nwords; w++) {
		uint64_t busy = atomic_load_explicit(&notify_busy[w], memory_order_relaxed);
		uint64_t all = shim_g.nnotifiers - w * 64 >= 64 ? ~0ull :
			       (1ull << (shim_g.nnotifiers - w * 64)) - 1;

		while ((busy & all) != all) {
			int b = __builtin_ctzll(~busy);

			if (!atomic_compare_exchange_weak_explicit(&notify_busy[w], &busy,
								   busy | (1ull << b),
								   memory_order_acquire,
								   memory_order_relaxed))
				continue;
			nf->idx = w * 64 + (uint32_t)b;
			nf->gidx = shim_g.notif_base + nf->idx;
			nf->att = atomic_load(&shim_g.notif_gen);
			nf->n = shunt_region_notifier(shim_g.r, nf->gidx);
			if (atomic_load(&notify_fd[nf->idx]) == 0) {
				rc = notify_register(nf->idx);
				if (rc < 0) {
					atomic_fetch_and(&notify_busy[w], ~(1ull << b));
					return rc;
				}
			}
			SHUNT_STORE_RLX(&nf->n->flags, flags);
			/* skip what was pushed for the previous user */
			SHUNT_STORE_REL(&nf->n->ready_cons, SHUNT_LOAD_ACQ(&nf->n->ready_prod));
			return 0;
		}
	}
	return -ENOSPC;
}

/* A notifier of an attachment that is gone: its index means nothing now. */
static bool notify_stale(const struct shim_notifier *nf)
{
	return nf->att != atomic_load(&shim_g.notif_gen);
}

void shim_notify_put(struct shim_notifier *nf)
{
	if (notify_stale(nf))
		return; /* the bitmap was cleared when the new attachment came */
	atomic_fetch_and_explicit(&notify_busy[nf->idx / 64], ~(1ull << (nf->idx % 64)),
				  memory_order_release);
}

static void notify_thread_exit(void *v)
{
	(void)v;
	if (notify_mine_ok)
		shim_notify_put(&notify_mine);
	notify_mine_ok = false;
}

static void notify_key_init(void)
{
	(void)pthread_key_create(&notify_key, notify_thread_exit);
}

struct shim_notifier *shim_notify_thread(void)
{
	if (notify_mine_ok && notify_stale(&notify_mine))
		notify_mine_ok = false; /* registered with a shuntd that went away */
	if (notify_mine_ok)
		return &notify_mine;
	pthread_once(&notify_key_once, notify_key_init);
	if (shim_notify_get(&notify_mine, 0) < 0)
		return NULL;
	notify_mine_ok = true;
	(void)pthread_setspecific(notify_key, &notify_mine);
	return &notify_mine;
}

int shim_notify_fd(const struct shim_notifier *nf)
{
	return notify_stale(nf) ? -1 : atomic_load(&notify_fd[nf->idx]) - 1;
}

int shim_notify_sub(struct shim_sock *s, const struct shim_notifier *nf)
{
	uint32_t *e = s->ss->notify;
	int i;

	for (i = 0; i < SHUNT_SOCK_NOTIFY; i++) {
		uint32_t zero = 0;

		if (SHUNT_LOAD_RLX(&e[i]) == 0 &&
		    __atomic_compare_exchange_n(&e[i], &zero, nf->gidx + 1, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return 0;
	}
	__atomic_fetch_add(&s->ss->notify_all, 1, __ATOMIC_SEQ_CST);
	return 0;
}

void shim_notify_unsub(struct shim_sock *s, const struct shim_notifier *nf)
{
	uint32_t *e = s->ss->notify;
	int i;

	for (i = 0; i < SHUNT_SOCK_NOTIFY; i++) {
		uint32_t mine = nf->gidx + 1;

		if (SHUNT_LOAD_RLX(&e[i]) == mine &&
		    __atomic_compare_exchange_n(&e[i], &mine, 0, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return;
	}
	/* never below 0, whatever another thread does meanwhile */
	for (uint32_t all = SHUNT_LOAD_RLX(&s->ss->notify_all); all > 0;)
		if (__atomic_compare_exchange_n(&s->ss->notify_all, &all, all - 1, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			break;
}

void shim_notify_arm(struct shim_notifier *nf)
{
	__atomic_fetch_add(&nf->n->fd_sleepers, 1, __ATOMIC_SEQ_CST);
	SHUNT_FENCE(); /* fd_sleepers before the caller's re-check: Dekker with shuntd */
}

void shim_notify_disarm(struct shim_notifier *nf)
{
	char buf[64];
	int fd = shim_notify_fd(nf), e = errno;

	__atomic_fetch_sub(&nf->n->fd_sleepers, 1, __ATOMIC_RELAXED);
	while (fd >= 0 && real_recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	errno = e; /* the caller's sleep (ppoll) may have failed: its errno stands */
}

/* ppoll() cut by a signal, in a wait the kernel would have restarted if it were
 * a blocking accept()/recv() (no timeout): would it have? It does when the
 * handler has SA_RESTART. Which signal it was is not known here, so: when every
 * signal that could have come (caught, not blocked in this thread; not the fault
 * signals, which cannot cut a sleep) has SA_RESTART, as with signal() or a program
 * that asks for it everywhere; not when any lacks it (Python's handlers, which
 * expect EINTR). */
static bool notify_restartable(void)
{
	struct sigaction sa;
	sigset_t blocked;
	int sig;

	if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0)
		return false;
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
		    sigismember(&blocked, sig) == 1 || sigaction(sig, NULL, &sa) < 0)
			continue;
		if (!(sa.sa_flags & SA_SIGINFO) &&
		    (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN))
			continue;
		if (!(sa.sa_flags & SA_RESTART))
			return false;
	}
	return true;
}

int shim_wait_dual(int fd, struct shim_sock *s, bool (*cond)(void *), void *arg,
		   int64_t timeo)
{
	struct shim_notifier *nf = shim_is_lost() ? NULL : shim_notify_thread();
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
	struct timespec ts, *tsp = NULL;
	int rc = 0;

	if (nf != NULL) {
		(void)shim_notify_sub(s, nf);
		shim_notify_arm(nf);
		p[1].fd = shim_notify_fd(nf);
	}
	if (timeo >= 0) {
		ts.tv_sec = timeo / 1000000000;
		ts.tv_nsec = timeo % 1000000000;
		tsp = &ts;
	} else if (nf == NULL && !shim_is_lost()) {
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000; /* no notifier: look again every millisecond */
		tsp = &ts;
	}
	if (!cond(arg)) {
		rc = real_ppoll(p, 2, tsp, NULL);
		rc = rc < 0 ? -errno : rc == 0 && timeo >= 0 ? -ETIMEDOUT : 0;
		/* without a timeout, SA_RESTART restarts a blocking socket call */
		if (rc == -EINTR && timeo < 0 && notify_restartable())
			rc = 0;
	}
	if (nf != NULL) {
		shim_notify_disarm(nf);
		shim_notify_unsub(s, nf);
	}
	return rc;
}

int shim_notify_relocate(int fd)
{
	uint32_t i;
	int nf, err;

	for (i = 0; i < SHIM_MAX_NOTIFIERS; i++) {
		if (atomic_load(&notify_fd[i]) != fd + 1)
			continue;
		nf = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (nf < 0)
			return -errno;
		(void)shim_fdtab_swap(nf, &shim_fdtab_internal, &err);
		atomic_store(&notify_fd[i], nf + 1);
		(void)shim_fdtab_swap(fd, NULL, &err);
		return 0; /* the caller's dup2 closes fd */
	}
	return 1;
}

void shim_notify_lost(void)
{
	uint32_t i;

	for (i = 0; i < SHIM_MAX_NOTIFIERS; i++) {
		int fd = atomic_load(&notify_fd[i]) - 1;

		if (fd >= 0)
			(void)real_shutdown(fd, SHUT_RD);
	}
}

void shim_notify_reattach(void)
{
	uint32_t i;

	for (i = 0; i < NOTIFY_WORDS; i++)
		atomic_store(&notify_busy[i], 0);
	for (i = 0; i < SHIM_MAX_NOTIFIERS; i++)
		atomic_store(&notify_fd[i], 0); /* the old wake socket stays open, unused */
}

void shim_notify_atfork_child(void)
{
	uint32_t i;
	int err;

	/* every notifier taken so far is the parent's (epoll instances see theirs
	 * stale and take one of ours, share.c) */
	atomic_fetch_add(&shim_g.notif_gen, 1);
	for (i = 0; i < NOTIFY_WORDS; i++)
		atomic_store(&notify_busy[i], 0);
	for (i = 0; i < SHIM_MAX_NOTIFIERS; i++) {
		int fd = atomic_load(&notify_fd[i]) - 1;

		if (fd < 0)
			continue;
		(void)shim_fdtab_swap(fd, NULL, &err);
		real_close(fd);
		atomic_store(&notify_fd[i], 0);
	}
	notify_mine_ok = false;
}
