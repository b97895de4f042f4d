/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Readiness of shunt sockets and the calls that wait for it: poll, ppoll, select,
 * pselect, __poll_chk, __ppoll_chk.
 *
 *   poll(fds) -> no shunt socket in the process (shim_shunt_live)? real_poll
 *             -> none among fds (one lookup per fd, no allocation)? real_poll
 *             -> poll_wait():
 *                  shunt revents (shim_poll_sock_events) -> something ready or
 *                  timeout 0? kernel fds polled with timeout 0, merged, done
 *                  -> spin -> the thread's notifier subscribed to each shunt
 *                  socket (notify.c) -> arm -> re-check -> ppoll(kernel fds +
 *                  wake socket, remaining time, sigmask) -> disarm -> recompute
 *                  -> unsubscribe on the way out
 *   select(sets) -> same core on a pollfd array built from the sets, results
 *                   folded back as Linux's POLLIN_SET / POLLOUT_SET / POLLEX_SET.
 *                   Any nfds: the sets are walked word by word (FD_ISSET aborts
 *                   past FD_SETSIZE under _FORTIFY_SOURCE), as the kernel does.
 *
 * Up to POLL_STACK_FDS entries live on the stack; only larger calls that do
 * involve a shunt socket allocate.
 *
 * A shunt socket's placeholder fd never reaches the kernel's poll: its answer
 * would be the unconnected socket's.
 */
#include <stdlib.h>
#include <string.h>

#include "real.h"
#include "shim.h"

#define POLL_STACK_FDS 128

uint32_t shim_poll_sock_events(struct shim_sock *s)
{
	struct shunt_sock *ss = s->ss;
	uint32_t ev = 0, st, fl, used, limit;
	bool shut_wr, rd_shut, err;

	if (s->type == SOCK_DGRAM)
		return shim_dgram_poll(s);
	(void)SHUNT_LOAD_ACQ(&ss->ev_seq); /* pairs with the dp's release */
	st = SHUNT_LOAD_ACQ(&ss->state);   /* the dp stores state and flags with release */
	fl = SHUNT_LOAD_ACQ(&ss->flags);
	err = shim_err_pending(s);
	if (st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED) {
		/* The dataplane publishes a failed attempt's error, RESET and CLOSED in
		 * one ev_seq step (docs/design.md), but it stores the fields one by one
		 * first, and we load them one by one: ev_seq only bounds how old they
		 * can be, not how new. Read in its staging window, error and RESET can
		 * show with SYN_SENT still there. Linux changes all three under the
		 * socket lock, so until the state moves the socket is connecting: no
		 * error, no reset. */
		fl = 0;
		err = false;
	}
	shut_wr = (fl & (SHUNT_SF_TX_SHUT | SHUNT_SF_RESET)) || atomic_load(&s->shut_wr);
	rd_shut = (fl & (SHUNT_SF_RX_EOF | SHUNT_SF_RESET)) || atomic_load(&s->shut_rd);

	/* tcp_poll(): sk_err, or anything on the error queue */
	if (err || shim_errq_pending(s))
		ev |= POLLERR;
	/* tcp_poll(): HUP when both directions are shut or the socket is closed */
	if ((rd_shut && shut_wr) || st == SHUNT_SS_CLOSED)
		ev |= POLLHUP;
	if (rd_shut)
		ev |= POLLIN | POLLRDNORM | POLLRDHUP;
	/* A connecting socket is neither readable nor writable. */
	if (st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED)
		return ev;
	if (SHUNT_LOAD_ACQ(&ss->rx_prod) != SHUNT_LOAD_RLX(&ss->rx_cons))
		ev |= POLLIN | POLLRDNORM;
	if (shut_wr || st == SHUNT_SS_CLOSED) {
		/* Linux reports a shut send side writable, so write() can say EPIPE */
		ev |= POLLOUT | POLLWRNORM;
	} else if (st >= SHUNT_SS_ESTABLISHED) {
		limit = atomic_load_explicit(&s->sndbuf, memory_order_relaxed);
		used = SHUNT_LOAD_RLX(&ss->tx_prod) -
		       SHUNT_LOAD_ACQ(&ss->tx_cons);
		if (used <= limit - limit / 3) /* at least a third free, as Linux */
			ev |= POLLOUT | POLLWRNORM;
	}
	/* No POLLIN for an error alone (tcp_poll() has none): POLLERR is reported
	 * whatever the caller asked for, and select() counts it as readable. */
	return ev;
}

/* Fill revents of the shunt entries (is_shunt[i]); returns how many are ready. */
static int poll_shunt(struct pollfd *fds, nfds_t n, struct shim_sock **socks)
{
	int ready = 0;
	nfds_t i;

	for (i = 0; i < n; i++) {
		if (socks[i] == NULL)
			continue;
		fds[i].revents = (short)(shim_poll_sock_events(socks[i]) &
					 ((uint32_t)(uint16_t)fds[i].events | POLLERR | POLLHUP));
		ready += fds[i].revents != 0;
	}
	return ready;
}

/* Copy kernel results back; returns how many kernel entries are ready. */
static int poll_merge(struct pollfd *fds, nfds_t n, struct shim_sock **socks,
		      const struct pollfd *kfds)
{
	int ready = 0;
	nfds_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (socks[i] != NULL)
			continue;
		fds[i].revents = kfds[k++].revents;
		ready += fds[i].revents != 0;
	}
	return ready;
}

/* A listener on 0.0.0.0 also listens on its placeholder (connect.c): its kernel
 * queue is polled with the kernel entries, after them, and folded into its
 * POLLIN. Returns how many entries that made ready. */
static int poll_merge_dual(struct pollfd *fds, nfds_t n, struct shim_sock **socks,
			   const struct pollfd *kdual)
{
	int ready = 0;
	nfds_t i, j = 0;

	for (i = 0; i < n; i++) {
		if (socks[i] == NULL || !atomic_load(&socks[i]->ph_listening))
			continue;
		if ((kdual[j++].revents & POLLIN) && (fds[i].events & POLLIN)) {
			ready += fds[i].revents == 0;
			fds[i].revents |= POLLIN;
		}
	}
	return ready;
}

/* The core with at least one shunt socket. timeout_ns < 0: forever. kfds has room
 * for the kernel entries, the placeholders of dual listeners and one more. */
static int poll_wait(struct pollfd *fds, nfds_t n, struct shim_sock **socks, nfds_t nshunt,
		     int64_t timeout_ns, const sigset_t *sigmask, struct pollfd *kfds)
{
	int64_t start = shim_now_ns(), deadline = -1, now;
	nfds_t nk = n - nshunt, nkk, i, k = 0;
	int ready, kready, rc;
	struct shim_notifier *nf = NULL;
	bool subscribed = false;

	for (i = 0; i < n; i++)
		if (socks[i] == NULL)
			kfds[k++] = fds[i];
	for (i = 0; i < n; i++) {
		if (socks[i] != NULL && atomic_load(&socks[i]->ph_listening)) {
			kfds[k].fd = fds[i].fd;
			kfds[k++].events = POLLIN;
		}
	}
	nkk = k; /* kernel entries, then dual listeners' placeholders */
	if (timeout_ns >= 0)
		deadline = start + timeout_ns;

	for (;;) {
		struct timespec ts, *tsp = NULL;
		int64_t left;

		ready = poll_shunt(fds, n, socks);
		now = shim_now_ns();
		if (ready > 0 || (deadline >= 0 && now >= deadline)) {
			kready = 0;
			if (nkk > 0) {
				struct timespec zero = { 0, 0 };

				for (i = 0; i < nkk; i++)
					kfds[i].revents = 0;
				kready = real_ppoll(kfds, nkk, &zero, NULL);
				if (kready < 0) {
					rc = -errno;
					goto out;
				}
				kready = poll_merge(fds, n, socks, kfds) +
					 poll_merge_dual(fds, n, socks, kfds + nk);
			}
			rc = ready + kready;
			goto out;
		}
		if (now - start < SHIM_WAIT_SPIN_NS && nkk == 0) {
			shim_cpu_relax();
			continue;
		}
		if (!subscribed) {
			/* the thread's notifier, subscribed to each shunt socket once per call;
			 * none once shuntd is gone: its sockets change no more (lost.c) */
			nf = shim_is_lost() ? NULL : shim_notify_thread();
			for (i = 0; nf != NULL && i < n; i++)
				if (socks[i] != NULL)
					(void)shim_notify_sub(socks[i], nf);
			subscribed = true;
		}
		if (nf != NULL)
			shim_notify_arm(nf);
		if (poll_shunt(fds, n, socks) > 0) {
			if (nf != NULL)
				shim_notify_disarm(nf);
			continue;
		}
		left = deadline < 0 ? -1 : deadline - now;
		if (nf == NULL && !shim_is_lost() && (left < 0 || left > 1000000))
			left = 1000000; /* no notifier: look again every millisecond */
		if (left >= 0) {
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		kfds[nkk].fd = nf != NULL ? shim_notify_fd(nf) : -1; /* -1: ignored */
		kfds[nkk].events = POLLIN;
		for (i = 0; i <= nkk; i++)
			kfds[i].revents = 0;
		kready = real_ppoll(kfds, nkk + 1, tsp, sigmask);
		if (nf != NULL)
			shim_notify_disarm(nf); /* keeps errno */
		if (kready < 0) {
			rc = -errno;
			goto out;
		}
		if (kready - ((kfds[nkk].revents & POLLIN) != 0) > 0) {
			/* a kernel fd is ready: report it with whatever shunt state is now */
			ready = poll_shunt(fds, n, socks);
			rc = ready + poll_merge(fds, n, socks, kfds) +
			     poll_merge_dual(fds, n, socks, kfds + nk);
			goto out;
		}
	}
out:
	for (i = 0; subscribed && nf != NULL && i < n; i++)
		if (socks[i] != NULL)
			shim_notify_unsub(socks[i], nf);
	return rc;
}

/* Look the fds up; returns how many are shunt sockets (socks[] filled unless
 * NULL: counting only). */
static nfds_t poll_classify(const struct pollfd *fds, nfds_t n, struct shim_sock **socks)
{
	nfds_t i, nshunt = 0;
	struct shim_sock *s;

	for (i = 0; i < n; i++) {
		s = fds[i].fd >= 0 ? shim_shunt_get(fds[i].fd) : NULL;
		if (socks != NULL)
			socks[i] = s;
		nshunt += s != NULL;
	}
	return nshunt;
}

/* No shunt socket anywhere in the process: the kernel answers, no fd looked at. */
static inline bool poll_none(void)
{
	return atomic_load_explicit(&shim_shunt_live, memory_order_relaxed) == 0;
}

static int64_t poll_ts_ns(const struct timespec *ts)
{
	return ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Returns the count or -errno; nshunt == 0 is the caller's kernel fast path. */
static int poll_common(struct pollfd *fds, nfds_t n, int64_t timeout_ns,
		       const sigset_t *sigmask, bool *kernel_only)
{
	struct shim_sock *stack_s[POLL_STACK_FDS], **socks = stack_s;
	struct pollfd stack_k[POLL_STACK_FDS + 1], *kfds = stack_k;
	void *heap = NULL;
	nfds_t nshunt;
	int rc;

	*kernel_only = false;
	if (n > POLL_STACK_FDS) {
		/* count first: a large set of kernel fds allocates nothing */
		if (poll_classify(fds, n, NULL) == 0) {
			*kernel_only = true;
			return 0;
		}
		heap = malloc(n * (sizeof(*socks) + sizeof(*kfds)) + sizeof(*kfds));
		if (heap == NULL)
			return -ENOMEM;
		kfds = heap;
		socks = (struct shim_sock **)(kfds + n + 1);
	}
	nshunt = poll_classify(fds, n, socks);
	if (nshunt == 0) {
		*kernel_only = true;
		rc = 0;
	} else {
		rc = poll_wait(fds, n, socks, nshunt, timeout_ns, sigmask, kfds);
	}
	free(heap);
	return rc;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	bool kernel_only;
	int rc;

	if (!shim_init() || poll_none())
		return real_poll(fds, n, timeout);
	rc = poll_common(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL,
			 &kernel_only);
	if (kernel_only)
		return real_poll(fds, n, timeout);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *sigmask)
{
	bool kernel_only;
	int rc;

	if (!shim_init() || poll_none())
		return real_ppoll(fds, n, ts, sigmask);
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return (int)shim_ret(-EINVAL);
	rc = poll_common(fds, n, poll_ts_ns(ts), sigmask, &kernel_only);
	if (kernel_only)
		return real_ppoll(fds, n, ts, sigmask);
	return (int)shim_ret(rc);
}

extern void __chk_fail(void) __attribute__((noreturn));
SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			    const sigset_t *sigmask, size_t fdslen);

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			    const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, sigmask);
}

/* ---- select ------------------------------------------------------------------------ */

#define SELECT_IN  (POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR)
#define SELECT_OUT (POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR)
#define SELECT_EX  (POLLPRI)

/* fd_set as the kernel sees it: nfds bits in unsigned longs (glibc's __fd_mask is
 * long: same object, unsigned view). */
#define SEL_BITS (8 * (int)sizeof(unsigned long))

static inline unsigned long *sel_words(fd_set *set)
{
	return (unsigned long *)(void *)set;
}

/* Word i of set, limited to the bits below nfds; 0 for a NULL set. */
static inline unsigned long sel_word(fd_set *set, int i, int nfds)
{
	unsigned long v;
	int rem;

	if (set == NULL)
		return 0;
	v = sel_words(set)[i];
	rem = nfds - i * SEL_BITS;
	if (rem < SEL_BITS)
		v &= (1ul << rem) - 1;
	return v;
}

static inline bool sel_isset(fd_set *set, int fd)
{
	return set != NULL && ((sel_words(set)[fd / SEL_BITS] >> (fd % SEL_BITS)) & 1);
}

static inline void sel_set(fd_set *set, int fd)
{
	sel_words(set)[fd / SEL_BITS] |= 1ul << (fd % SEL_BITS);
}

/* How many fds are in any set; *shunt: one of them is a shunt socket. */
static int select_scan(int nfds, fd_set *r, fd_set *w, fd_set *e, bool *shunt)
{
	int i, words = (nfds + SEL_BITS - 1) / SEL_BITS, n = 0;

	*shunt = false;
	for (i = 0; i < words; i++) {
		unsigned long m = sel_word(r, i, nfds) | sel_word(w, i, nfds) |
				  sel_word(e, i, nfds);

		n += __builtin_popcountl(m);
		for (; m != 0 && !*shunt; m &= m - 1)
			*shunt = shim_shunt_get(i * SEL_BITS + __builtin_ctzl(m)) != NULL;
	}
	return n;
}

/* select() on top of poll_common(). Returns the bit count or -errno. */
static int select_common(int nfds, fd_set *r, fd_set *w, fd_set *e, int npfd,
			 int64_t timeout_ns, const sigset_t *sigmask)
{
	struct pollfd stack_p[POLL_STACK_FDS], *pfd = stack_p;
	int words = (nfds + SEL_BITS - 1) / SEL_BITS, n = 0, i, rc, count = 0;
	bool kernel_only;

	if (npfd > POLL_STACK_FDS) {
		pfd = malloc((size_t)npfd * sizeof(*pfd));
		if (pfd == NULL)
			return -ENOMEM;
	}
	for (i = 0; i < words; i++) {
		unsigned long m = sel_word(r, i, nfds) | sel_word(w, i, nfds) |
				  sel_word(e, i, nfds);

		for (; m != 0 && n < npfd; m &= m - 1) {
			int fd = i * SEL_BITS + __builtin_ctzl(m);
			short ev = 0;

			if (sel_isset(r, fd))
				ev |= POLLIN;
			if (sel_isset(w, fd))
				ev |= POLLOUT;
			if (sel_isset(e, fd))
				ev |= POLLPRI;
			pfd[n].fd = fd;
			pfd[n].events = ev;
			pfd[n].revents = 0;
			n++;
		}
	}
	rc = poll_common(pfd, (nfds_t)n, timeout_ns, sigmask, &kernel_only);
	if (rc >= 0 && kernel_only) {
		/* the shunt socket was closed meanwhile: the kernel answers for the rest */
		struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };

		rc = real_ppoll(pfd, (nfds_t)n, timeout_ns < 0 ? NULL : &ts, sigmask) < 0 ?
		     -errno : 0;
	}
	if (rc < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents & POLLNVAL) {
			rc = -EBADF;
			goto out;
		}
	}
	/* as the kernel: every word up to nfds is written back */
	if (r != NULL)
		memset(r, 0, (size_t)words * sizeof(unsigned long));
	if (w != NULL)
		memset(w, 0, (size_t)words * sizeof(unsigned long));
	if (e != NULL)
		memset(e, 0, (size_t)words * sizeof(unsigned long));
	for (i = 0; i < n; i++) {
		short rev = pfd[i].revents;

		if ((pfd[i].events & POLLIN) && (rev & SELECT_IN)) {
			sel_set(r, pfd[i].fd);
			count++;
		}
		if ((pfd[i].events & POLLOUT) && (rev & SELECT_OUT)) {
			sel_set(w, pfd[i].fd);
			count++;
		}
		if ((pfd[i].events & POLLPRI) && (rev & SELECT_EX)) {
			sel_set(e, pfd[i].fd);
			count++;
		}
	}
	rc = count;
out:
	if (pfd != stack_p)
		free(pfd);
	return rc;
}

/* The sets hold a shunt socket: returns how many fds they hold; 0 means the
 * kernel answers alone. */
static int select_shunt(int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	bool shunt;
	int n;

	if (nfds <= 0 || poll_none())
		return 0;
	n = select_scan(nfds, r, w, e, &shunt);
	return shunt ? n : 0;
}

SHIM_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	int64_t start, timeout_ns = -1, left;
	int rc, npfd;

	if (!shim_init() || (npfd = select_shunt(nfds, r, w, e)) == 0)
		return real_select(nfds, r, w, e, tv);
	if (tv != NULL) {
		if (tv->tv_sec < 0 || tv->tv_usec < 0)
			return (int)shim_ret(-EINVAL);
		timeout_ns = (int64_t)tv->tv_sec * 1000000000 + (int64_t)tv->tv_usec * 1000;
	}
	start = shim_now_ns();
	rc = select_common(nfds, r, w, e, npfd, timeout_ns, NULL);
	if (tv != NULL) {
		/* Linux writes the time left back */
		left = timeout_ns - (shim_now_ns() - start);
		if (left < 0)
			left = 0;
		tv->tv_sec = left / 1000000000;
		tv->tv_usec = (left % 1000000000) / 1000;
	}
	return (int)shim_ret(rc);
}

SHIM_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
			const sigset_t *sigmask)
{
	int npfd;

	if (!shim_init() || (npfd = select_shunt(nfds, r, w, e)) == 0)
		return real_pselect(nfds, r, w, e, ts, sigmask);
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return (int)shim_ret(-EINVAL);
	return (int)shim_ret(select_common(nfds, r, w, e, npfd, poll_ts_ns(ts), sigmask));
}
