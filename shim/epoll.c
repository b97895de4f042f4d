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
 *   epoll_wait -> no shunt entries? real_epoll_pwait (our wake eventfd filtered out)
 *              -> shunt entry ready, or a kernel fd? ep_collect(): shunt entries
 *                 (only those if no kernel fd was ever added and nothing woke the
 *                 kernel side: no syscall)
 *                 (LT; ET: only after ev_seq moved; ONESHOT: disabled until MOD)
 *                 and real_epoll_wait(0), in alternating order; reported entries
 *                 go to the tail of the list (Linux's ready list is a FIFO)
 *              -> the instance's notifier (notify.c; every shunt entry subscribed
 *                 to it) -> arm -> re-check -> ppoll([epfd, wake socket]) ->
 *                 disarm -> again
 *
 * Waking: a thread asleep in the kernel (real_epoll_pwait with no shunt entry, or
 * ppoll on the epfd) must learn that a shunt entry became reportable without the
 * dataplane doing anything: ADD or MOD of a ready shunt entry, the first shunt
 * entry, a socket that becomes a shunt socket while registered. Each instance that
 * ever holds a socket of ours gets an eventfd registered in its kernel epoll with
 * EP_WAKE_COOKIE as data (filtered out of every result); those events write it.
 *
 * fds: real calls use the caller's epfd (any dup names the same epoll); the shim's
 * own calls outside epoll_ctl/epoll_wait (connect() deciding a socket) use a private
 * F_DUPFD_CLOEXEC copy, kfd. kfd and the eventfd are internal fds (fdtab).
 *
 * One process-wide mutex (ep_lock) guards every interest list; lock order is
 * s->lock, then ep_lock. Items are keyed by (fd, socket) as Linux keys by
 * (fd, file), and go when the socket's last fd closes, as in Linux. An item is
 * found from its socket (the few instances that watch it), and the interest and
 * ready lists are doubly linked, so epoll_ctl costs the same with 10 items or
 * 20,000 (a server adding every accepted connection would otherwise pay for all
 * the ones before it).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

struct shim_epoll;
struct shim_epitem;

/* The lists an item is on: its instance's interest list (every item, in report
 * order) and, in rd_mode, its instance's ready list (the items that may report). */
enum { EP_ALL, EP_RD, EP_NLISTS };

struct ep_link {
	struct shim_epitem *next, *prev;
};

struct ep_list {
	struct shim_epitem *head, *tail;
};

struct shim_epitem {
	struct shim_epoll *ep;
	struct shim_sock *s;
	int fd;
	uint32_t events;    /* EPOLL* asked for, with EPOLLET / EPOLLONESHOT */
	epoll_data_t data;
	uint32_t last_seq;  /* EPOLLET: ev_seq when last reported */
	bool et_pending;    /* EPOLLET: report once more whatever ev_seq says (ADD/MOD) */
	bool disabled;      /* EPOLLONESHOT fired */
	bool subbed;        /* subscribed to ep's notifier (the socket is a shunt one) */
	bool on_rd;         /* on ep's ready list */
	struct ep_link link[EP_NLISTS];
	struct shim_epitem *s_next; /* the socket's items (one per instance, mostly) */
};

/* epoll_data of the wake eventfd: "SHNTWAKE", no pointer or small fd looks so. */
#define EP_WAKE_COOKIE 0x53484e5457414b45ull

struct shim_epoll {
	struct shim_file f;
	struct ep_list items;  /* head: reported first; reported ones go last */
	unsigned nshunt;       /* items whose socket is a shunt socket */
	_Atomic int kfd;       /* private dup of the kernel epoll, -1 until needed */
	_Atomic int wakefd;    /* eventfd in the kernel epoll, -1 until needed */
	bool kfirst;           /* next collect asks the kernel first (fairness) */
	_Atomic unsigned nkernel; /* fds added to the kernel epoll through us, less those
				   * deleted: 0 lets a collect skip the kernel; too high
				   * (a closed fd) is only slower */
	bool kunknown;         /* adopted: what the kernel epoll holds is not known */
	bool nf_ok;            /* nf is ours: shunt items are subscribed to it */
	bool rd_mode;          /* nf keeps a ready ring: only the ready list is looked at */
	uint32_t lost_seen;    /* nf's ready_lost when we last took everything in */
	struct shim_notifier nf; /* what a waiter sleeps on for the shunt items */
	uint32_t gone_att;       /* 1 + the attachment whose loss made us rescan every item */
	struct ep_list rd;     /* ready list: items that may report */
	struct shim_epoll *live_next; /* instances with internal fds, under ep_lock */
	struct shim_epoll *next_free;
};

_Atomic unsigned shim_shunt_live;

static pthread_mutex_t ep_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_epoll *ep_free_list; /* records are type-stable, as sockets */
static struct shim_epoll *ep_live;      /* instances with kfd/wakefd */

/* A real epoll_ctl on ep's kernel epoll that succeeded: keep nkernel. */
static void ep_kcount(struct shim_epoll *ep, int op)
{
	if (ep == NULL)
		return;
	if (op == EPOLL_CTL_ADD)
		atomic_fetch_add_explicit(&ep->nkernel, 1, memory_order_relaxed);
	else if (op == EPOLL_CTL_DEL) {
		unsigned n = atomic_load_explicit(&ep->nkernel, memory_order_relaxed);

		while (n > 0 && !atomic_compare_exchange_weak_explicit(&ep->nkernel, &n, n - 1,
								       memory_order_relaxed,
								       memory_order_relaxed))
			;
	}
}

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
	ep->items = (struct ep_list){ NULL, NULL };
	ep->nshunt = 0;
	atomic_store(&ep->kfd, -1);
	atomic_store(&ep->wakefd, -1);
	ep->kfirst = false;
	atomic_store(&ep->nkernel, 0);
	ep->kunknown = false;
	ep->nf_ok = false;
	ep->rd_mode = false;
	ep->gone_att = 0;
	ep->rd = (struct ep_list){ NULL, NULL };
	ep->live_next = NULL;
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
	struct shim_epoll *ep;
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", epfd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return NULL;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventpoll]") != 0)
		return NULL;
	ep = ep_track(epfd);
	if (ep != NULL)
		ep->kunknown = true; /* it may hold kernel fds we never saw */
	return ep;
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

/* ---- internal fds --------------------------------------------------------------------- */

/* Give ep its private epoll dup and its wake eventfd (registered in the kernel
 * epoll through the caller's epfd), once. Returns 0 or -errno. */
static int ep_prepare(struct shim_epoll *ep, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EP_WAKE_COOKIE };
	int kfd = -1, wfd = -1, err, rc = 0;

	if (atomic_load_explicit(&ep->wakefd, memory_order_acquire) >= 0)
		return 0;
	pthread_mutex_lock(&ep_lock);
	if (atomic_load(&ep->wakefd) >= 0)
		goto out;
	kfd = real_fcntl(epfd, F_DUPFD_CLOEXEC, 0);
	if (kfd < 0)
		goto fail;
	wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wfd < 0 || real_epoll_ctl(kfd, EPOLL_CTL_ADD, wfd, &ev) < 0)
		goto fail;
	(void)shim_fdtab_swap(kfd, &shim_fdtab_internal, &err);
	(void)shim_fdtab_swap(wfd, &shim_fdtab_internal, &err);
	atomic_store(&ep->kfd, kfd);
	/* release: kfd is set before a reader that acquires wakefd >= 0 uses it */
	atomic_store_explicit(&ep->wakefd, wfd, memory_order_release);
	ep->live_next = ep_live;
	ep_live = ep;
	goto out;
fail:
	rc = -errno;
	if (wfd >= 0)
		(void)real_close(wfd);
	if (kfd >= 0)
		(void)real_close(kfd);
out:
	pthread_mutex_unlock(&ep_lock);
	return rc;
}

/* A shunt entry of ep may be reportable: wake whoever sleeps in the kernel. */
static void ep_wake(struct shim_epoll *ep)
{
	static const uint64_t one = 1;
	int wfd = atomic_load_explicit(&ep->wakefd, memory_order_relaxed);

	if (wfd >= 0)
		(void)!real_write(wfd, &one, sizeof(one));
}

/* Drop the wake event from n kernel results (draining the eventfd). Returns the
 * events left. */
static int ep_filter(struct shim_epoll *ep, struct epoll_event *evs, int n)
{
	int wfd = atomic_load_explicit(&ep->wakefd, memory_order_relaxed);
	uint64_t v;
	int i, k = 0;

	if (wfd < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == EP_WAKE_COOKIE) {
			(void)!real_read(wfd, &v, sizeof(v));
			continue;
		}
		evs[k++] = evs[i];
	}
	return k;
}

/* Close ep's internal fds (its last fd is gone). ep_lock held. */
static void ep_release_fds(struct shim_epoll *ep)
{
	struct shim_epoll **pp;
	int kfd = atomic_load(&ep->kfd), wfd = atomic_load(&ep->wakefd), err;

	if (wfd < 0)
		return;
	for (pp = &ep_live; *pp != NULL; pp = &(*pp)->live_next) {
		if (*pp == ep) {
			*pp = ep->live_next;
			break;
		}
	}
	atomic_store(&ep->wakefd, -1);
	atomic_store(&ep->kfd, -1);
	/* out of the table first: once closed, the numbers are the app's again */
	(void)shim_fdtab_swap(wfd, NULL, &err);
	(void)shim_fdtab_swap(kfd, NULL, &err);
	(void)real_close(wfd);
	(void)real_close(kfd);
}

int shim_epoll_relocate(int fd)
{
	struct shim_epoll *ep;
	_Atomic int *slot = NULL;
	int nf, err, rc = 1;

	pthread_mutex_lock(&ep_lock);
	for (ep = ep_live; ep != NULL && slot == NULL; ep = ep->live_next) {
		if (atomic_load(&ep->kfd) == fd)
			slot = &ep->kfd;
		else if (atomic_load(&ep->wakefd) == fd)
			slot = &ep->wakefd;
	}
	if (slot != NULL) {
		/* The kernel keys the eventfd's registration by (file, number): it stays
		 * registered, with its cookie, while the new number holds the file. */
		nf = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (nf < 0) {
			rc = -errno;
		} else {
			(void)shim_fdtab_swap(nf, &shim_fdtab_internal, &err);
			atomic_store(slot, nf);
			(void)shim_fdtab_swap(fd, NULL, &err);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&ep_lock);
	return rc;
}

/* ---- interest lists (ep_lock held) ---------------------------------------------------- */

static void ep_list_append(struct ep_list *l, struct shim_epitem *it, int k)
{
	it->link[k].next = NULL;
	it->link[k].prev = l->tail;
	if (l->tail != NULL)
		l->tail->link[k].next = it;
	else
		l->head = it;
	l->tail = it;
}

static void ep_list_remove(struct ep_list *l, struct shim_epitem *it, int k)
{
	struct ep_link *lk = &it->link[k];

	if (lk->prev != NULL)
		lk->prev->link[k].next = lk->next;
	else
		l->head = lk->next;
	if (lk->next != NULL)
		lk->next->link[k].prev = lk->prev;
	else
		l->tail = lk->prev;
	lk->next = lk->prev = NULL;
}

/* b's items after a's; b is left empty. */
static void ep_list_splice(struct ep_list *a, struct ep_list *b, int k)
{
	if (b->head == NULL)
		return;
	b->head->link[k].prev = a->tail;
	if (a->tail != NULL)
		a->tail->link[k].next = b->head;
	else
		a->head = b->head;
	a->tail = b->tail;
	b->head = b->tail = NULL;
}

/* ---- ready lists ----------------------------------------------------------------------- */

/* With SHUNT_FEAT_READY an instance's notifier keeps a ready ring: the dataplane
 * pushes the slot of every socket that changed, and epoll_wait looks only at the
 * items those name (and at the ones it reported level-triggered last time), so it
 * costs O(ready), not O(registered). ep_slot_map turns a slot back into our socket
 * record; a stale entry (the slot reused meanwhile) only costs a look. */
static struct shim_sock **ep_slot_map; /* ep_slot_n entries, under ep_lock */
static uint32_t ep_slot_n;              /* nsocks when it was made (an attachment
					 * after shuntd came back may have more) */

static void ep_map_set(struct shim_sock *s, bool on)
{
	if (on && ep_slot_n < shim_g.nsocks) {
		struct shim_sock **m = realloc(ep_slot_map, shim_g.nsocks * sizeof(*m));

		if (m != NULL) {
			memset(m + ep_slot_n, 0, (shim_g.nsocks - ep_slot_n) * sizeof(*m));
			ep_slot_map = m;
			ep_slot_n = shim_g.nsocks;
		}
	}
	if (ep_slot_map == NULL || s->slot >= ep_slot_n)
		return;
	if (on)
		ep_slot_map[s->slot] = s;
	else if (ep_slot_map[s->slot] == s)
		ep_slot_map[s->slot] = NULL;
}

static void ep_rd_add(struct shim_epitem *it)
{
	struct shim_epoll *ep = it->ep;

	if (!ep->rd_mode || it->on_rd)
		return;
	it->on_rd = true;
	ep_list_append(&ep->rd, it, EP_RD);
}

/* Off the ready list, wherever it is on it. */
static void ep_rd_del(struct shim_epitem *it)
{
	if (!it->on_rd)
		return;
	ep_list_remove(&it->ep->rd, it, EP_RD);
	it->on_rd = false;
}

/* Everything on the list, as after a lost notification. */
static void ep_rd_all(struct shim_epoll *ep)
{
	struct shim_epitem *it;

	for (it = ep->items.head; it != NULL; it = it->link[EP_ALL].next)
		if (atomic_load(&it->s->kind) == SHIM_SHUNT)
			ep_rd_add(it);
}

/* Take in what the dataplane pushed since the last look. */
/* ep's notifier is stale: registered with a shuntd that went away (its items'
 * subscriptions are dead, and always ready), or a fork parent's (they are the
 * parent's, and so is its ready ring). Forget it without unsubscribing: the next
 * ep_notifier() takes one of ours and subscribes every item again; until then
 * every item is looked at. Returns true if it was. ep_lock held. */
static bool ep_nf_stale(struct shim_epoll *ep)
{
	struct shim_epitem *it;

	if (!ep->nf_ok || ep->nf.att == atomic_load(&shim_g.notif_gen))
		return false;
	for (it = ep->items.head; it != NULL; it = it->link[EP_ALL].next)
		it->subbed = false;
	ep->nf_ok = false;
	ep->rd_mode = false;
	ep_rd_all(ep);
	return true;
}

static void ep_rd_refill(struct shim_epoll *ep)
{
	uint32_t slots[64], lost;
	unsigned n, i;
	struct shim_epitem *it;

	(void)ep_nf_stale(ep);
	if (!ep->rd_mode)
		return;
	while ((n = shunt_ready_pop(ep->nf.n, slots, 64)) > 0) {
		for (i = 0; i < n; i++) {
			struct shim_sock *s;

			if (ep_slot_map == NULL || slots[i] >= ep_slot_n ||
			    (s = ep_slot_map[slots[i]]) == NULL)
				continue;
			for (it = s->ep_items; it != NULL; it = it->s_next)
				if (it->ep == ep)
					ep_rd_add(it);
		}
	}
	/* acquire: pairs with the dp's release of ready_lost after a push failed */
	lost = SHUNT_LOAD_ACQ(&ep->nf.n->ready_lost);
	if (lost != ep->lost_seen) {
		ep->lost_seen = lost;
		ep_rd_all(ep);
	}
}

/* Subscribe / unsubscribe a shunt item to its instance's notifier, once the
 * instance has one (ep_notifier()). ep_lock held. */
static void ep_sub(struct shim_epitem *it)
{
	if (it->ep->nf_ok && !it->subbed) {
		(void)shim_notify_sub(it->s, &it->ep->nf);
		it->subbed = true;
	}
	ep_rd_add(it); /* whatever it is now, look once */
}

static void ep_unsub(struct shim_epitem *it)
{
	if (it->subbed) {
		shim_notify_unsub(it->s, &it->ep->nf);
		it->subbed = false;
	}
	ep_rd_del(it);
}

/* The instance's notifier, taken with its first shunt item (or the first time a
 * waiter must sleep), with every shunt item subscribed to it and on the ready
 * list; later items subscribe as they come. ep_lock held.
 * NULL if none can be had (the waiter then looks again every millisecond). */
static struct shim_notifier *ep_notifier(struct shim_epoll *ep)
{
	struct shim_epitem *it;

	(void)ep_nf_stale(ep);
	if (!ep->nf_ok) {
		bool rd = (shim_g.r->features & SHUNT_FEAT_READY) != 0;

		if (shim_notify_get(&ep->nf, rd ? SHUNT_NOTIFY_READY : 0) < 0)
			return NULL;
		ep->nf_ok = true;
		ep->rd_mode = rd;
		ep->lost_seen = SHUNT_LOAD_ACQ(&ep->nf.n->ready_lost);
		for (it = ep->items.head; it != NULL; it = it->link[EP_ALL].next)
			if (atomic_load(&it->s->kind) == SHIM_SHUNT)
				ep_sub(it);
	}
	return &ep->nf;
}

/* Every item of s is on s->ep_items: look among those, not among ep's. */
static struct shim_epitem *ep_find(struct shim_epoll *ep, int fd, struct shim_sock *s)
{
	struct shim_epitem *it;

	for (it = s->ep_items; it != NULL; it = it->s_next)
		if (it->ep == ep && it->fd == fd)
			return it;
	return NULL;
}

static void ep_unlink(struct shim_epitem *it, bool from_ep, bool from_sock)
{
	struct shim_epitem **pp;

	if (from_ep)
		ep_list_remove(&it->ep->items, it, EP_ALL);
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
	ep_unsub(it);
	free(it);
}

/* Out of its epoll's list, nshunt already adjusted by the caller. ep_lock held. */
static void ep_unlink_plain(struct shim_epitem *it)
{
	ep_unsub(it);
	ep_list_remove(&it->ep->items, it, EP_ALL);
	free(it);
}

void shim_epoll_sock_decided(struct shim_sock *s, bool was_shunt)
{
	struct shim_epitem *it, *next;
	bool shunt = atomic_load(&s->kind) == SHIM_SHUNT;
	bool undecided = atomic_load(&s->kind) == SHIM_UNDECIDED;

	if (shunt)
		atomic_fetch_add_explicit(&shim_shunt_live, 1, memory_order_relaxed);
	else if (was_shunt)
		atomic_fetch_sub_explicit(&shim_shunt_live, 1, memory_order_relaxed);
	pthread_mutex_lock(&ep_lock);
	if (shunt || was_shunt)
		ep_map_set(s, shunt);
	for (it = s->ep_items; it != NULL; it = next) {
		next = it->s_next;
		if (shunt) {
			/* The placeholder must never report to the kernel epoll again. */
			(void)real_epoll_ctl(atomic_load(&it->ep->kfd), EPOLL_CTL_DEL, it->fd, NULL);
			it->ep->nshunt++;
			it->et_pending = true;
			(void)ep_notifier(it->ep);
			ep_sub(it);
			/* a waiter may sleep in the kernel, blind to shunt entries */
			ep_wake(it->ep);
		} else if (was_shunt) {
			/* Back to the kernel (connect() elsewhere after a failure) or to
			 * undecided (a failed bind): the placeholder is the socket again and
			 * the kernel epoll watches it; an undecided socket stays listed. */
			struct epoll_event ev = { .events = it->events, .data = it->data };

			it->ep->nshunt--;
			ep_unsub(it);
			if (!it->disabled &&
			    real_epoll_ctl(atomic_load(&it->ep->kfd), EPOLL_CTL_ADD, it->fd,
					   &ev) == 0)
				ep_kcount(it->ep, EPOLL_CTL_ADD);
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

void shim_epoll_sock_dual(struct shim_sock *s)
{
	struct shim_epitem *it;

	pthread_mutex_lock(&ep_lock);
	for (it = s->ep_items; it != NULL; it = it->s_next) {
		struct epoll_event ev = { .events = it->events, .data = it->data };

		if (!it->disabled &&
		    real_epoll_ctl(atomic_load(&it->ep->kfd), EPOLL_CTL_ADD, it->fd, &ev) == 0)
			ep_kcount(it->ep, EPOLL_CTL_ADD);
	}
	pthread_mutex_unlock(&ep_lock);
}

void shim_epoll_sock_closed(struct shim_sock *s)
{
	struct shim_epitem *it, *next;

	if (atomic_load(&s->kind) == SHIM_SHUNT)
		atomic_fetch_sub_explicit(&shim_shunt_live, 1, memory_order_relaxed);
	pthread_mutex_lock(&ep_lock);
	if (atomic_load(&s->kind) == SHIM_SHUNT)
		ep_map_set(s, false);
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
	for (it = ep->items.head; it != NULL; it = next) {
		next = it->link[EP_ALL].next;
		ep_unlink(it, false, true);
	}
	ep->items = (struct ep_list){ NULL, NULL };
	if (ep->nf_ok)
		shim_notify_put(&ep->nf);
	ep->nf_ok = false;
	ep->rd_mode = false;
	ep->rd = (struct ep_list){ NULL, NULL };
	ep_release_fds(ep);
	ep->next_free = ep_free_list;
	ep_free_list = ep;
	pthread_mutex_unlock(&ep_lock);
}

void shim_epoll_atfork_child(void)
{
	pthread_mutex_init(&ep_lock, NULL);
}

/* ---- epoll_ctl ---------------------------------------------------------------------------- */

static int ep_ctl(struct shim_epoll *ep, int epfd, int op, int fd, struct shim_sock *s,
		  struct epoll_event *ev)
{
	struct shim_epitem *it;
	bool wake = false;
	int kind, rc = 0;

	if (op == EPOLL_CTL_ADD && atomic_load(&s->kind) != SHIM_KERNEL) {
		rc = ep_prepare(ep, epfd);
		if (rc < 0)
			return rc;
	}
	pthread_mutex_lock(&s->lock);
	kind = atomic_load(&s->kind);
	if (kind == SHIM_KERNEL) {
		pthread_mutex_unlock(&s->lock);
		if (real_epoll_ctl(epfd, op, fd, ev) < 0)
			return -errno;
		ep_kcount(ep, op);
		return 0;
	}
	if (kind == SHIM_UNDECIDED) {
		/* The kernel validates and holds it until connect() decides. */
		if (real_epoll_ctl(epfd, op, fd, ev) < 0) {
			rc = -errno;
			goto out;
		}
		ep_kcount(ep, op);
	} else {
		if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL) {
			rc = -EINVAL;
			goto out;
		}
		if (op != EPOLL_CTL_DEL && ev == NULL) {
			rc = -EFAULT;
			goto out;
		}
		/* a listener whose placeholder listens too: the kernel epoll watches
		 * that side (connections through the kernel's addresses) */
		if (atomic_load(&s->ph_listening) && real_epoll_ctl(epfd, op, fd, ev) == 0)
			ep_kcount(ep, op);
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
				(void)real_epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
			break;
		}
		it->ep = ep;
		it->s = s;
		it->fd = fd;
		it->events = ev->events;
		it->data = ev->data;
		it->et_pending = true;
		it->subbed = false;
		it->on_rd = false;
		ep_list_append(&ep->items, it, EP_ALL); /* reported after the older ones */
		it->s_next = s->ep_items;
		s->ep_items = it;
		if (kind == SHIM_SHUNT) {
			/* the first shunt entry: a waiter may be in the kernel alone */
			wake = ep->nshunt == 0;
			ep->nshunt++;
			(void)ep_notifier(ep);
			ep_sub(it);
		}
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
		if (kind == SHIM_SHUNT)
			ep_rd_add(it);
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
	/* ep_poll_callback() on ADD/MOD of a ready entry: whoever sleeps must see it */
	if (rc == 0 && kind == SHIM_SHUNT && op != EPOLL_CTL_DEL &&
	    (wake || (shim_poll_sock_events(s) & (ev->events | EPOLLERR | EPOLLHUP)) != 0))
		ep_wake(ep);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct shim_epoll *ep;
	struct shim_sock *s;

	if (!shim_init() || (s = shim_sock_get(fd)) == NULL ||
	    atomic_load(&s->kind) == SHIM_KERNEL) {
		int rc = real_epoll_ctl(epfd, op, fd, ev);

		if (rc == 0 && shim_ready)
			ep_kcount(ep_get(epfd), op);
		return rc;
	}
	ep = ep_get(epfd);
	if (ep == NULL)
		ep = ep_adopt(epfd);
	if (ep == NULL) {
		/* not an epoll we can hold a shunt socket in: let the kernel say why */
		if (atomic_load(&s->kind) == SHIM_UNDECIDED)
			return real_epoll_ctl(epfd, op, fd, ev);
		return (int)shim_ret(real_fcntl(epfd, F_GETFD) < 0 ? -EBADF : -EINVAL);
	}
	return (int)shim_ret(ep_ctl(ep, epfd, op, fd, s, ev));
}

/* ---- epoll_wait ---------------------------------------------------------------------------- */

/* Ready shunt entries into out[] (up to max). With commit false nothing changes
 * and only the count matters. With commit, ET/ONESHOT bookkeeping is done and the
 * reported entries move to the tail, in order, so the next call starts with the
 * ones not reported (Linux re-queues a reported LT item at the end of its ready
 * list: with maxevents 1, two ready sockets take turns). ep_lock held. */
/* What item it reports now (0: nothing), and the ev_seq that answer is for. */
static uint32_t ep_item_events(struct shim_epitem *it, uint32_t *seq)
{
	uint32_t rev;

	if (it->disabled || atomic_load_explicit(&it->s->kind, memory_order_acquire) != SHIM_SHUNT)
		return 0;
	*seq = SHUNT_LOAD_ACQ(&it->s->ss->ev_seq);
	rev = shim_poll_sock_events(it->s) & (it->events | EPOLLERR | EPOLLHUP);
	if ((it->events & EPOLLET) && !it->et_pending && *seq == it->last_seq)
		return 0;
	return rev;
}

static int ep_harvest_rd(struct shim_epoll *ep, struct epoll_event *out, int max,
			 bool commit);

static int ep_harvest(struct shim_epoll *ep, struct epoll_event *out, int max, bool commit)
{
	struct ep_list moved = { NULL, NULL };
	struct shim_epitem *it, *next;
	int n = 0;

	if (ep->rd_mode)
		return ep_harvest_rd(ep, out, max, commit);

	for (it = ep->items.head; it != NULL && n < max; it = next) {
		uint32_t seq = 0, rev;

		next = it->link[EP_ALL].next;
		rev = ep_item_events(it, &seq);
		if (rev == 0 || !commit) {
			n += rev != 0;
			continue;
		}
		it->last_seq = seq;
		it->et_pending = false;
		if (it->events & EPOLLONESHOT)
			it->disabled = true;
		out[n].events = rev;
		out[n].data = it->data;
		n++;
		ep_list_remove(&ep->items, it, EP_ALL);
		ep_list_append(&moved, it, EP_ALL);
	}
	ep_list_splice(&ep->items, &moved, EP_ALL); /* the reported ones go last */
	return n;
}

/* ep_harvest() on the ready list only: the same rules, but an item that has
 * nothing to report leaves the list (the next change of its socket brings it back),
 * a reported level-triggered one goes to the list's tail, and a reported
 * edge-triggered or one-shot one leaves it. ep_lock held. */
static int ep_harvest_rd(struct shim_epoll *ep, struct epoll_event *out, int max,
			 bool commit)
{
	struct ep_list todo, keep = { NULL, NULL };
	struct shim_epitem *it, *next;
	int n = 0;

	if (shim_is_lost() && ep->gone_att != atomic_load(&shim_g.att_gen) + 1) {
		/* shuntd went away: no ready ring will say what changed (lost.c) */
		ep_rd_all(ep);
		ep->gone_att = atomic_load(&shim_g.att_gen) + 1;
	}
	ep_rd_refill(ep);
	todo = ep->rd;
	ep->rd = (struct ep_list){ NULL, NULL };
	for (it = todo.head; it != NULL; it = next) {
		uint32_t seq = 0, rev;

		next = it->link[EP_RD].next;
		if (n >= max) { /* not looked at: stays, in order */
			ep_list_append(&keep, it, EP_RD);
			continue;
		}
		rev = ep_item_events(it, &seq);
		if (rev == 0) {
			it->on_rd = false;
			continue;
		}
		n++;
		if (!commit) {
			ep_list_append(&keep, it, EP_RD);
			continue;
		}
		it->last_seq = seq;
		it->et_pending = false;
		if (it->events & EPOLLONESHOT)
			it->disabled = true;
		out[n - 1].events = rev;
		out[n - 1].data = it->data;
		if (it->events & (EPOLLET | EPOLLONESHOT)) {
			it->on_rd = false;
			continue;
		}
		/* level-triggered: reported, and looked at again after the others */
		ep_list_append(&ep->rd, it, EP_RD);
	}
	/* the ones not reported go first next time, then the reported ones */
	ep_list_splice(&keep, &ep->rd, EP_RD);
	ep->rd = keep;
	return n;
}

/* Everything reportable now, shunt entries and kernel fds, into evs. The side
 * that goes first alternates, so neither starves the other when maxevents is
 * small. Returns the count or -errno. */
static int ep_collect(struct shim_epoll *ep, int epfd, struct epoll_event *evs, int max,
		      bool kernel_ready)
{
	bool kfirst;
	int n = 0, k;

	/* Nothing of the kernel's to report: no kernel call at all. */
	if (!kernel_ready && !ep->kunknown &&
	    atomic_load_explicit(&ep->nkernel, memory_order_relaxed) == 0) {
		pthread_mutex_lock(&ep_lock);
		n = ep_harvest(ep, evs, max, true);
		pthread_mutex_unlock(&ep_lock);
		return n;
	}

	pthread_mutex_lock(&ep_lock);
	kfirst = ep->kfirst;
	ep->kfirst = !kfirst;
	if (!kfirst)
		n = ep_harvest(ep, evs, max, true);
	pthread_mutex_unlock(&ep_lock);
	if (n < max) {
		k = real_epoll_wait(epfd, evs + n, max - n, 0);
		if (k < 0 && n == 0)
			return -errno;
		if (k > 0)
			n += ep_filter(ep, evs + n, k);
	}
	if (kfirst && n < max) {
		pthread_mutex_lock(&ep_lock);
		n += ep_harvest(ep, evs + n, max - n, true);
		pthread_mutex_unlock(&ep_lock);
	}
	return n;
}

static bool ep_shunt_ready(struct shim_epoll *ep)
{
	int n;

	pthread_mutex_lock(&ep_lock);
	n = ep_harvest(ep, NULL, 1, false);
	pthread_mutex_unlock(&ep_lock);
	return n > 0;
}

static int ep_wait(struct shim_epoll *ep, int epfd, struct epoll_event *evs, int max,
		   int64_t timeout_ns, const sigset_t *sigmask)
{
	int64_t deadline = -1, now;
	bool kernel_ready = false;
	struct shim_notifier *nf;
	int n;

	if (max <= 0)
		return -EINVAL;
	if (timeout_ns >= 0)
		deadline = shim_now_ns() + timeout_ns;
	for (;;) {
		struct pollfd pfd[2];
		struct timespec ts, *tsp = NULL;
		int64_t left;

		now = shim_now_ns();
		if (kernel_ready || ep_shunt_ready(ep) || (deadline >= 0 && now >= deadline)) {
			n = ep_collect(ep, epfd, evs, max, kernel_ready);
			if (n != 0 || (deadline >= 0 && now >= deadline))
				return n;
			kernel_ready = false; /* another thread took it, or our wake: on */
		}
		pthread_mutex_lock(&ep_lock);
		/* none once shuntd is gone: its items change no more, and its wake
		 * sockets are shut (always ready) (lost.c) */
		nf = shim_is_lost() ? NULL : ep_notifier(ep);
		pthread_mutex_unlock(&ep_lock);
		if (nf != NULL)
			shim_notify_arm(nf);
		if (ep_shunt_ready(ep)) {
			if (nf != NULL)
				shim_notify_disarm(nf);
			continue;
		}
		left = deadline < 0 ? -1 : deadline - now;
		if (nf == NULL && !shim_is_lost() && (left < 0 || left > 1000000))
			left = 1000000;
		if (left >= 0) {
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		pfd[0].fd = epfd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = nf != NULL ? shim_notify_fd(nf) : -1;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = real_ppoll(pfd, 2, tsp, sigmask);
		if (nf != NULL)
			shim_notify_disarm(nf); /* keeps errno */
		if (n < 0)
			return -errno;
		kernel_ready = (pfd[0].revents & POLLIN) != 0;
	}
}

/* epoll_wait's common part. kcall makes the caller's own call to the kernel: with
 * no shunt entry that is all there is, bar our wake event. */
struct ep_kcall {
	int kind; /* 0 epoll_pwait, 1 epoll_pwait2 */
	int timeout;
	const struct timespec *ts;
};

static int ep_kernel(int epfd, struct epoll_event *evs, int max, const struct ep_kcall *kc,
		     const sigset_t *sigmask)
{
	if (kc->kind == 0)
		return real_epoll_pwait(epfd, evs, max, kc->timeout, sigmask);
	return real_epoll_pwait2(epfd, evs, max, kc->ts, sigmask);
}

static int ep_wait_any(int epfd, struct epoll_event *evs, int max, int64_t timeout_ns,
		       const struct ep_kcall *kc, const sigset_t *sigmask)
{
	struct shim_epoll *ep;
	int64_t start = 0;
	int n;

	if (!shim_init() || (ep = ep_get(epfd)) == NULL)
		return ep_kernel(epfd, evs, max, kc, sigmask);
	if (__atomic_load_n(&ep->nshunt, __ATOMIC_RELAXED) == 0) {
		/* The kernel alone, but a shunt entry may come while we sleep: its ADD
		 * creates the wake eventfd if need be and writes it, after storing
		 * wakefd, so ep_filter() below knows it whenever its event is there. */
		if (timeout_ns > 0)
			start = shim_now_ns();
		n = ep_kernel(epfd, evs, max, kc, sigmask);
		if (n <= 0)
			return n;
		n = ep_filter(ep, evs, n);
		if (n > 0 || timeout_ns == 0)
			return n;
		/* Only our wake: a shunt entry came. Wait on for what is left. */
		if (timeout_ns > 0) {
			timeout_ns -= shim_now_ns() - start;
			if (timeout_ns < 0)
				timeout_ns = 0;
		}
	}
	return (int)shim_ret(ep_wait(ep, epfd, evs, max, timeout_ns, sigmask));
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
	struct ep_kcall kc = { 0, timeout, NULL };

	return ep_wait_any(epfd, evs, max, timeout < 0 ? -1 : (int64_t)timeout * 1000000,
			   &kc, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
			    const sigset_t *sigmask)
{
	struct ep_kcall kc = { 0, timeout, NULL };

	return ep_wait_any(epfd, evs, max, timeout < 0 ? -1 : (int64_t)timeout * 1000000,
			   &kc, sigmask);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *evs, int max,
			     const struct timespec *ts, const sigset_t *sigmask)
{
	struct ep_kcall kc = { 1, 0, ts };

	if (ts != NULL && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000))
		return (int)shim_ret(-EINVAL);
	return ep_wait_any(epfd, evs, max,
			   ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec,
			   &kc, sigmask);
}
