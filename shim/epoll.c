/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * epoll over a mix of kernel fds and shunt sockets: epoll_create, epoll_create1,
 * epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2.
 *
 * The epoll fd is a real kernel epoll holding the kernel fds. Shunt sockets live
 * in a shim-side interest list per epoll instance (struct shim_epoll). A socket
 * added while undecided is in both; when connect() decides, it moves
 * (shim_epoll_sock_decided): out of the kernel epoll if it became a shunt socket,
 * out of the shim list if it became a kernel one. So both orders asyncio uses
 * (register then connect, connect then register) work.
 *
 *   epoll_wait -> no shunt entries? real_epoll_pwait
 *              -> harvest shunt entries (LT; ET: only after ev_seq moved; ONESHOT:
 *                 disabled until MOD) -> any, or timeout 0? + real_epoll_wait(0)
 *              -> arm a wait slot -> re-check -> ppoll([epfd, slot eventfd]) ->
 *                 disarm -> again
 *
 * One process-wide mutex (ep_lock) guards every interest list; lock order is
 * s->lock, then ep_lock. Items are keyed by (fd, socket) as Linux keys by
 * (fd, file), and go when the socket's last fd closes, as in Linux.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

struct shim_epoll;

struct shim_epitem {
	struct shim_epoll *ep;
	struct shim_sock *s;
	int fd;
	uint32_t events;    /* EPOLL* asked for, with EPOLLET / EPOLLONESHOT */
	epoll_data_t data;
	uint32_t last_seq;  /* EPOLLET: ev_seq when last reported */
	bool et_pending;    /* EPOLLET: report once more whatever ev_seq says (ADD/MOD) */
	bool disabled;      /* EPOLLONESHOT fired */
	struct shim_epitem *ep_next;
	struct shim_epitem *s_next;
};

struct shim_epoll {
	struct shim_file f;
	int epfd;              /* a number naming the kernel epoll (the first one) */
	struct shim_epitem *items;
	unsigned nshunt;       /* items whose socket is a shunt socket */
	struct shim_epoll *next_free;
};

static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_epoll *ep_free_list; /* records are type-stable, as sockets */

static struct shim_epoll *ep_get(int fd)
{
	struct shim_file *f = shim_fdtab_get(fd);

	return f != NULL && f->type == SHIM_F_EPOLL ? (struct shim_epoll *)f : NULL;
}

/* Track a new kernel epoll fd. Failure only means shunt sockets cannot join it. */
static struct shim_epoll *ep_track(int epfd)
{
	struct shim_epoll *ep;
	struct shim_file *prev;
	int err;

	pthread_mutex_lock(&ep_lock);
	ep = ep_free_list;
	if (ep != NULL)
		ep_free_list = ep->next_free;
	pthread_mutex_unlock(&ep_lock);
	if (ep == NULL && (ep = calloc(1, sizeof(*ep))) == NULL)
		return NULL;
	ep->f.type = SHIM_F_EPOLL;
	atomic_store(&ep->f.refs, 1);
	ep->epfd = epfd;
	ep->items = NULL;
	ep->nshunt = 0;
	prev = shim_fdtab_swap(epfd, &ep->f, &err);
	if (err < 0) {
		free(ep);
		return NULL;
	}
	if (prev != NULL && prev != &shim_fdtab_internal)
		shim_file_put(prev);
	return ep;
}

/* An epoll fd created before the shim was initialised: adopt it on first use. */
static struct shim_epoll *ep_adopt(int epfd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", epfd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return NULL;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventpoll]") != 0)
		return NULL;
	return ep_track(epfd);
}

SHIM_EXPORT int epoll_create(int size)
{
	int fd;

	if (!shim_init())
		return real_epoll_create(size);
	fd = real_epoll_create(size);
	if (fd >= 0)
		(void)ep_track(fd);
	return fd;
}

SHIM_EXPORT int epoll_create1(int flags)
{
	int fd;

	if (!shim_init())
		return real_epoll_create1(flags);
	fd = real_epoll_create1(flags);
	if (fd >= 0)
		(void)ep_track(fd);
	return fd;
}

/* ---- interest lists (ep_lock held) ---------------------------------------------------- */

static struct shim_epitem *ep_find(struct shim_epoll *ep, int fd, struct shim_sock *s)
{
	struct shim_epitem *it;

	for (it = ep->items; it != NULL; it = it->ep_next)
		if (it->fd == fd && it->s == s)
			return it;
	return NULL;
}

static void ep_unlink(struct shim_epitem *it, bool from_ep, bool from_sock)
{
	struct shim_epitem **pp;

	if (from_ep) {
		for (pp = &it->ep->items; *pp != NULL; pp = &(*pp)->ep_next) {
			if (*pp == it) {
				*pp = it->ep_next;
				break;
			}
		}
	}
	if (from_sock) {
		for (pp = &it->s->ep_items; *pp != NULL; pp = &(*pp)->s_next) {
			if (*pp == it) {
				*pp = it->s_next;
				break;
			}
		}
	}
	if (atomic_load(&it->s->kind) == SHIM_SHUNT)
		it->ep->nshunt--;
	free(it);
}

/* Out of its epoll's list, nshunt already adjusted by the caller. ep_lock held. */
static void ep_unlink_plain(struct shim_epitem *it)
{
	struct shim_epitem **pp;

	for (pp = &it->ep->items; *pp != NULL; pp = &(*pp)->ep_next) {
		if (*pp == it) {
			*pp = it->ep_next;
			break;
		}
	}
	free(it);
}

void shim_epoll_sock_decided(struct shim_sock *s, bool was_shunt)
{
	struct shim_epitem *it, *next;
	bool shunt = atomic_load(&s->kind) == SHIM_SHUNT;
	bool undecided = atomic_load(&s->kind) == SHIM_UNDECIDED;

	pthread_mutex_lock(&ep_lock);
	for (it = s->ep_items; it != NULL; it = next) {
		next = it->s_next;
		if (shunt) {
			/* The placeholder must never report to the kernel epoll again. */
			(void)real_epoll_ctl(it->ep->epfd, EPOLL_CTL_DEL, it->fd, NULL);
			it->ep->nshunt++;
			it->et_pending = true;
		} else if (was_shunt) {
			/* Back to the kernel (connect() elsewhere after a failure) or to
			 * undecided (a failed bind): the placeholder is the socket again and
			 * the kernel epoll watches it; an undecided socket stays listed. */
			struct epoll_event ev = { .events = it->events, .data = it->data };

			it->ep->nshunt--;
			if (!it->disabled)
				(void)real_epoll_ctl(it->ep->epfd, EPOLL_CTL_ADD, it->fd, &ev);
			if (!undecided)
				ep_unlink_plain(it);
		} else {
			ep_unlink(it, true, false);
		}
	}
	if (!shunt && !undecided)
		s->ep_items = NULL;
	pthread_mutex_unlock(&ep_lock);
}

void shim_epoll_sock_closed(struct shim_sock *s)
{
	struct shim_epitem *it, *next;

	pthread_mutex_lock(&ep_lock);
	for (it = s->ep_items; it != NULL; it = next) {
		next = it->s_next;
		ep_unlink(it, true, false);
	}
	s->ep_items = NULL;
	pthread_mutex_unlock(&ep_lock);
}

void shim_epoll_put(struct shim_file *f)
{
	struct shim_epoll *ep = (struct shim_epoll *)f;
	struct shim_epitem *it, *next;

	if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&ep_lock);
	for (it = ep->items; it != NULL; it = next) {
		next = it->ep_next;
		ep_unlink(it, false, true);
	}
	ep->items = NULL;
	ep->next_free = ep_free_list;
	ep_free_list = ep;
	pthread_mutex_unlock(&ep_lock);
}

void shim_epoll_atfork_child(void)
{
	pthread_mutex_init(&ep_lock, NULL);
}

/* ---- epoll_ctl ---------------------------------------------------------------------------- */

static int ep_ctl(struct shim_epoll *ep, int op, int fd, struct shim_sock *s,
		  struct epoll_event *ev)
{
	struct shim_epitem *it;
	int kind, rc = 0;

	pthread_mutex_lock(&s->lock);
	kind = atomic_load(&s->kind);
	if (kind == SHIM_KERNEL) {
		pthread_mutex_unlock(&s->lock);
		return real_epoll_ctl(ep->epfd, op, fd, ev) < 0 ? -errno : 0;
	}
	if (kind == SHIM_UNDECIDED) {
		/* The kernel validates and holds it until connect() decides. */
		if (real_epoll_ctl(ep->epfd, op, fd, ev) < 0) {
			rc = -errno;
			goto out;
		}
	} else {
		if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) {
			rc = -EINVAL;
			goto out;
		}
		if (op != EPOLL_CTL_DEL && ev == NULL) {
			rc = -EFAULT;
			goto out;
		}
	}
	pthread_mutex_lock(&ep_lock);
	it = ep_find(ep, fd, s);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (it != NULL) {
			rc = -EEXIST;
			break;
		}
		it = calloc(1, sizeof(*it));
		if (it == NULL) {
			rc = -ENOMEM;
			if (kind == SHIM_UNDECIDED)
				(void)real_epoll_ctl(ep->epfd, EPOLL_CTL_DEL, fd, NULL);
			break;
		}
		it->ep = ep;
		it->s = s;
		it->fd = fd;
		it->events = ev->events;
		it->data = ev->data;
		it->et_pending = true;
		it->ep_next = ep->items;
		ep->items = it;
		it->s_next = s->ep_items;
		s->ep_items = it;
		if (kind == SHIM_SHUNT)
			ep->nshunt++;
		break;
	case EPOLL_CTL_MOD:
		if (it == NULL) {
			rc = -ENOENT;
			break;
		}
		if (ev->events & EPOLLEXCLUSIVE) {
			rc = -EINVAL;
			break;
		}
		it->events = ev->events;
		it->data = ev->data;
		it->disabled = false;
		it->et_pending = true; /* Linux re-checks readiness on MOD */
		break;
	case EPOLL_CTL_DEL:
		if (it == NULL) {
			rc = -ENOENT;
			break;
		}
		ep_unlink(it, true, true);
		break;
	}
	pthread_mutex_unlock(&ep_lock);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct shim_epoll *ep;
	struct shim_sock *s;

	if (!shim_init() || (s = shim_sock_get(fd)) == NULL ||
	    atomic_load(&s->kind) == SHIM_KERNEL)
		return real_epoll_ctl(epfd, op, fd, ev);
	ep = ep_get(epfd);
	if (ep == NULL)
		ep = ep_adopt(epfd);
	if (ep == NULL) {
		/* not an epoll we can hold a shunt socket in: let the kernel say why */
		if (atomic_load(&s->kind) == SHIM_UNDECIDED)
			return real_epoll_ctl(epfd, op, fd, ev);
		return (int)shim_ret(real_fcntl(epfd, F_GETFD) < 0 ? -EBADF : -EINVAL);
	}
	return (int)shim_ret(ep_ctl(ep, op, fd, s, ev));
}

/* ---- epoll_wait ---------------------------------------------------------------------------- */

/* Ready shunt entries into out[] (up to max). With commit false nothing changes
 * (ET/ONESHOT bookkeeping) and only the count matters. ep_lock held. */
static int ep_harvest(struct shim_epoll *ep, struct epoll_event *out, int max, bool commit)
{
	struct shim_epitem *it;
	int n = 0;

	for (it = ep->items; it != NULL && n < max; it = it->ep_next) {
		uint32_t seq, rev;

		if (it->disabled || atomic_load_explicit(&it->s->kind, memory_order_acquire) !=
				    SHIM_SHUNT)
			continue;
		seq = SHUNT_LOAD_ACQ(&it->s->ss->ev_seq);
		rev = shim_poll_sock_events(it->s) & (it->events | EPOLLERR | EPOLLHUP);
		if (rev == 0)
			continue;
		if ((it->events & EPOLLET) && !it->et_pending && seq == it->last_seq)
			continue;
		if (commit) {
			it->last_seq = seq;
			it->et_pending = false;
			if (it->events & EPOLLONESHOT)
				it->disabled = true;
			out[n].events = rev;
			out[n].data = it->data;
		}
		n++;
	}
	return n;
}

static int ep_wait(int epfd, struct epoll_event *evs, int max, int64_t timeout_ns,
		   const sigset_t *sigmask)
{
	struct shim_epoll *ep = ep_get(epfd);
	int64_t deadline = -1, now;
	bool kernel_ready = false;
	struct shim_waiter w;
	int n, k;

	if (max <= 0)
		return -EINVAL;
	if (timeout_ns >= 0)
		deadline = shim_now_ns() + timeout_ns;
	for (;;) {
		struct pollfd pfd[2];
		struct timespec ts, *tsp = NULL;
		int64_t left;

		pthread_mutex_lock(&ep_lock);
		n = ep_harvest(ep, evs, max, true);
		pthread_mutex_unlock(&ep_lock);
		now = shim_now_ns();
		if (n > 0 || kernel_ready || (deadline >= 0 && now >= deadline)) {
			k = n < max ? real_epoll_wait(epfd, evs + n, max - n, 0) : 0;
			if (k < 0 && n == 0)
				return -errno;
			if (k > 0)
				n += k;
			if (n > 0 || (deadline >= 0 && now >= deadline))
				return n;
			kernel_ready = false; /* another thread took it: wait on */
		}
		shim_wait_arm(&w);
		pthread_mutex_lock(&ep_lock);
		n = ep_harvest(ep, NULL, 1, false);
		pthread_mutex_unlock(&ep_lock);
		if (n > 0) {
			shim_wait_disarm(&w, false);
			continue;
		}
		left = deadline < 0 ? -1 : deadline - now;
		if (w.slot < 0 && (left < 0 || left > 1000000))
			left = 1000000;
		if (left >= 0) {
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		pfd[0].fd = epfd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = w.fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (real_ppoll(pfd, 2, tsp, sigmask) < 0) {
			int err = errno;

			shim_wait_disarm(&w, false);
			return -err;
		}
		shim_wait_disarm(&w, (pfd[1].revents & POLLIN) != 0);
		kernel_ready = (pfd[0].revents & POLLIN) != 0;
	}
}

/* Shunt entries present? Otherwise the kernel alone answers (the fast path). */
static bool ep_has_shunt(int epfd)
{
	struct shim_epoll *ep = ep_get(epfd);

	return ep != NULL && __atomic_load_n(&ep->nshunt, __ATOMIC_RELAXED) != 0;
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	if (!shim_init() || !ep_has_shunt(epfd))
		return real_epoll_wait(epfd, evs, max, timeout);
	return (int)shim_ret(ep_wait(epfd, evs, max,
				     timeout < 0 ? -1 : (int64_t)timeout * 1000000, NULL));
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
			    const sigset_t *sigmask)
{
	if (!shim_init() || !ep_has_shunt(epfd))
		return real_epoll_pwait(epfd, evs, max, timeout, sigmask);
	return (int)shim_ret(ep_wait(epfd, evs, max,
				     timeout < 0 ? -1 : (int64_t)timeout * 1000000, sigmask));
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *evs, int max,
			     const struct timespec *ts, const sigset_t *sigmask)
{
	if (!shim_init() || !ep_has_shunt(epfd))
		return real_epoll_pwait2(epfd, evs, max, ts, sigmask);
	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return (int)shim_ret(-EINVAL);
	return (int)shim_ret(ep_wait(epfd, evs, max,
				     ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000000000 +
				     ts->tv_nsec, sigmask));
}
