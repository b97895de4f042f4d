/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * accept() and accept4() on shunt listeners (listen() is in connect.c).
 *
 *   accept4(fd) -> a kernel socket or not ours: real_accept4
 *               -> a shunt listener: acc_pop() a struct shunt_accept record from
 *                  its rx ring (CAS on rx_cons: one accepter per record)
 *                  -> acc_install(): a placeholder kernel socket (with the
 *                     SOCK_NONBLOCK/SOCK_CLOEXEC asked), a socket record pointed
 *                     at the slot the dataplane set up, into the fd table
 *                  -> the peer's address through the value-result length
 *               -> a 0.0.0.0 listener's placeholder listens too (loopback and the
 *                  kernel's other addresses): its queue next (acc_kernel)
 *               -> queues empty: EAGAIN (non-blocking), or sleep on the listener's
 *                  futex, or with a listening placeholder on both queues in one
 *                  ppoll (SO_RCVTIMEO bounds it, as Linux's inet_csk_accept)
 *
 * The contract of each call is Linux's accept(2): -EINVAL on a socket that does
 * not listen, -EINVAL for unknown flags, the peer address truncated to the
 * caller's length with the full length reported, EINTR / SA_RESTART as a blocking
 * socket call.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include <shunt/bytering.h>

#include "real.h"
#include "shim.h"

/* The listener has a record queued, or stopped listening (then accept says so). */
static bool acc_ready(void *arg)
{
	struct shim_sock *l = arg;

	(void)SHUNT_LOAD_ACQ(&l->ss->ev_seq); /* pairs with the dp's release */
	return SHUNT_LOAD_ACQ(&l->ss->rx_prod) != SHUNT_LOAD_RLX(&l->ss->rx_cons) ||
	       SHUNT_LOAD_RLX(&l->ss->state) != SHUNT_SS_LISTEN;
}

/* Take one record. Returns 0, -EAGAIN when the queue is empty, -EIO if the
 * dataplane's index is impossible. */
static int acc_pop(struct shim_sock *l, struct shunt_accept *rec)
{
	struct shunt_sock *ss = l->ss;

	for (;;) {
		uint32_t cons = SHUNT_LOAD_RLX(&ss->rx_cons);
		uint32_t prod = SHUNT_LOAD_ACQ(&ss->rx_prod); /* pairs with the dp's release */

		if (prod == cons)
			return -EAGAIN;
		if (prod - cons > l->rx_size || (prod - cons) % sizeof(*rec) != 0)
			return -EIO;
		bytering_read(l->rxbuf, l->rx_size, cons, rec, sizeof(*rec));
		/* release: our read of the record before the dp may reuse its bytes */
		if (__atomic_compare_exchange_n(&ss->rx_cons, &cons, cons + sizeof(*rec), false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return 0;
	}
}

/* Give the accepted slot an fd of its own. Returns the fd or -errno; on failure
 * the slot is closed (the dataplane resets the connection, as Linux does when
 * accept() cannot allocate the new file). */
static int acc_install(int lfd, struct shim_sock *l, const struct shunt_accept *rec,
		       int flags, struct sockaddr *addr, socklen_t *alen, socklen_t len)
{
	struct sockaddr_in peer = { .sin_family = AF_INET };
	struct shim_sock *s;
	struct shim_file *prev;
	struct shunt_sock *ss;
	int fd, err, rc;

	if (l->r != shim_g.r || rec->sock >= shim_g.nsocks)
		return l->r != shim_g.r ? -ENETDOWN : -EIO;
	ss = shunt_region_sock(l->r, rec->sock);
	s = shim_sock_alloc();
	if (s == NULL)
		return -ENOMEM;
	rc = shim_sock_adopt_slot(s, l->r, l->att, rec->sock, rec->gen);
	if (rc < 0)
		goto fail_sock;
	fd = real_socket(l->family, SOCK_STREAM | (flags & (SOCK_NONBLOCK | SOCK_CLOEXEC)), 0);
	if (fd < 0) {
		rc = -errno;
		goto fail_sock;
	}
	shim_share_own(s, fd);
	s->type = SOCK_STREAM;
	s->family = l->family;
	atomic_store(&s->nonblock, (flags & SOCK_NONBLOCK) != 0);
	shim_opt_inherit(lfd, l, fd, s); /* the options, as Linux's sk_clone_lock() */
	s->sstate = SHIM_SS_CONNECTED;
	s->bound = true;
	s->bind_addr.sin_family = AF_INET;
	s->bind_addr.sin_addr.s_addr = ss->local.addr;
	s->bind_addr.sin_port = ss->local.port;
	peer.sin_addr.s_addr = ss->remote.addr;
	peer.sin_port = ss->remote.port;
	atomic_store_explicit(&s->kind, SHIM_SHUNT, memory_order_release);
	shim_epoll_sock_decided(s, false);
	prev = shim_fdtab_swap(fd, &s->f, &err);
	if (err < 0) {
		real_close(fd);
		shim_sock_put(s); /* closes the slot: CLOSE */
		return err;
	}
	if (prev != NULL && prev != &shim_fdtab_internal)
		shim_file_put(prev); /* an fd closed behind our back */
	if (addr != NULL) {
		/* move_addr_to_user(): as much as fits, and the full length; a fault
		 * undoes the accept (the new file is put) with EFAULT */
		if (shim_addr_out(s->family, &peer, addr, &len) < 0 ||
		    shim_copyout(alen, &len, sizeof(len)) < 0) {
			(void)close(fd);
			return -EFAULT;
		}
	}
	return fd;
fail_sock:
	s->slot = rec->sock;
	s->gen = rec->gen;
	s->r = l->r;
	s->att = l->att;
	(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
	shim_sock_free(s);
	return rc;
}

/* The kernel's queue of a listener whose placeholder listens too (0.0.0.0):
 * a connection there now? Returns the accepted fd, -EAGAIN, or -errno. A
 * connection another thread takes between our poll and our accept makes that
 * accept block until the next one, as with any program that polls then accepts
 * on a blocking socket. */
static int acc_kernel(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int nfd;

	if (real_poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return -EAGAIN;
	nfd = real_accept4(fd, addr, alen, flags);
	return nfd < 0 ? -errno : nfd;
}

static int acc_accept(int fd, struct shim_sock *l, struct sockaddr *addr, socklen_t *alen,
		      int flags)
{
	struct shunt_accept rec;
	int64_t timeo = -2;
	socklen_t len = 0;
	int rc;

	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (l->type != SOCK_STREAM)
		return -EOPNOTSUPP; /* sock_no_accept() */
	if (addr != NULL) {
		if (shim_copyin(&len, alen, sizeof(len)) < 0)
			return -EFAULT;
		if ((int)len < 0)
			return -EINVAL;
	}
	for (;;) {
		if (shim_sock_dead(l))
			return -ENETDOWN; /* shuntd went away (lost.c) */
		if (!atomic_load_explicit(&l->listening, memory_order_acquire) ||
		    SHUNT_LOAD_ACQ(&l->ss->state) != SHUNT_SS_LISTEN)
			return -EINVAL; /* inet_accept(): not listening */
		/* no fork between taking a record and installing its fd (share.c) */
		shim_share_rdlock();
		rc = acc_pop(l, &rec);
		if (rc == 0)
			rc = acc_install(fd, l, &rec, flags, addr, alen, len);
		shim_share_rdunlock();
		if (rc != -EAGAIN)
			return rc;
		if (atomic_load(&l->ph_listening)) {
			rc = acc_kernel(fd, addr, alen, flags);
			if (rc != -EAGAIN)
				return rc;
		}
		if (atomic_load(&l->nonblock))
			return -EAGAIN;
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_RCVTIMEO);
		if (atomic_load(&l->ph_listening))
			rc = shim_wait_dual(fd, l, acc_ready, l, timeo);
		else
			rc = shim_wait_sock(l, acc_ready, l, timeo, 0);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc < 0)
			return rc;
	}
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	struct shim_sock *l;
	int rc;

	if (!shim_init() || (l = shim_shunt_hold(fd)) == NULL)
		return real_accept4(fd, addr, alen, flags);
	rc = acc_accept(fd, l, addr, alen, flags);
	shim_sock_put(l);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	struct shim_sock *l;
	int rc;

	if (!shim_init() || (l = shim_shunt_hold(fd)) == NULL)
		return real_accept(fd, addr, alen);
	rc = acc_accept(fd, l, addr, alen, 0);
	shim_sock_put(l);
	return (int)shim_ret(rc);
}
