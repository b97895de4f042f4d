/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Socket life cycle: socket, bind, listen, connect, shutdown, close and the dup
 * family, and the per-socket records behind them.
 *
 *   socket(AF_INET, SOCK_STREAM) -> real_socket -> shim_attach() -> undecided record
 *   connect() -> undecided: shim_offload_match()?
 *                  no  -> SHIM_KERNEL -> real_connect (identical behaviour)
 *                  yes -> sock_make_shunt(): free-ring slot, OPEN, SETOPT replay, BIND
 *                         replay -> SHIM_SHUNT -> shim_epoll_sock_decided()
 *             -> shunt: sock_stream_connect() = Linux __inet_stream_connect()
 *   close(fd) -> fd table entry out -> real_close(fd) -> shim_file_put()
 *                -> last fd: CLOSE, interest lists, record back on the free list
 *
 * Every fd of a socket is a real dup of its placeholder kernel socket, so the fd
 * numbers are the kernel's and the placeholder answers what the shim does not.
 * fork(): the child's locks are reset (init.c); both processes then share the same
 * slots with no coordination, which is safe only if one of them stops using them.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

static pthread_mutex_t sock_alloc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shim_sock *sock_free_list;

struct shim_sock *shim_sock_alloc(void)
{
	struct shim_sock *s;

	pthread_mutex_lock(&sock_alloc_lock);
	s = sock_free_list;
	if (s != NULL)
		sock_free_list = s->next_free;
	pthread_mutex_unlock(&sock_alloc_lock);
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return NULL;
	}
	s->f.type = SHIM_F_SOCK;
	atomic_store(&s->f.refs, 1);
	atomic_store(&s->kind, SHIM_UNDECIDED);
	atomic_store(&s->nonblock, false);
	atomic_store(&s->shut_rd, false);
	atomic_store(&s->shut_wr, false);
	s->sstate = SHIM_SS_UNCONNECTED;
	s->optmask = 0;
	s->bound = s->bound_local = false;
	s->ss = NULL;
	s->ep_items = NULL;
	s->next_free = NULL;
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

static void sock_free(struct shim_sock *s)
{
	pthread_mutex_lock(&sock_alloc_lock);
	s->next_free = sock_free_list;
	sock_free_list = s;
	pthread_mutex_unlock(&sock_alloc_lock);
}

void shim_sock_put(struct shim_sock *s)
{
	if (atomic_fetch_sub_explicit(&s->f.refs, 1, memory_order_acq_rel) != 1)
		return;
	shim_epoll_sock_closed(s);
	/* The dataplane finishes the connection (FIN, or RST with SO_LINGER 0) and
	 * pushes the slot back on the free ring when it is done with it. */
	if (atomic_load(&s->kind) == SHIM_SHUNT)
		(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
	sock_free(s);
}

void shim_file_put(struct shim_file *f)
{
	if (f->type == SHIM_F_SOCK)
		shim_sock_put((struct shim_sock *)f);
	else if (f->type == SHIM_F_EPOLL)
		shim_epoll_put(f);
}

void shim_fd_dup_track(int oldfd, int newfd)
{
	struct shim_file *f = shim_fdtab_get(oldfd), *prev;
	int err;

	if (f == &shim_fdtab_internal)
		f = NULL;
	if (f != NULL)
		atomic_fetch_add(&f->refs, 1);
	prev = shim_fdtab_swap(newfd, f, &err);
	if (err < 0 && f != NULL) /* cannot track: the new fd acts as a kernel fd */
		atomic_fetch_sub(&f->refs, 1);
	if (prev != NULL && prev != &shim_fdtab_internal)
		shim_file_put(prev);
}

int shim_sock_take_error(struct shim_sock *s)
{
	uint32_t seq = SHUNT_LOAD_ACQ(&s->ss->err_seq); /* pairs with the dp's release */

	if (seq == SHUNT_LOAD_RLX(&s->ss->err_seen))
		return 0;
	SHUNT_STORE_REL(&s->ss->err_seen, seq);
	return s->ss->error;
}

int64_t shim_sock_timeo_ns(int fd, int optname)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (real_getsockopt(fd, SOL_SOCKET, optname, &tv, &len) < 0 ||
	    (tv.tv_sec == 0 && tv.tv_usec == 0))
		return -1;
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void sock_atfork_one(int fd, struct shim_file *f)
{
	(void)fd;
	if (f->type == SHIM_F_SOCK)
		pthread_mutex_init(&((struct shim_sock *)f)->lock, NULL);
}

void shim_sock_atfork_child(void)
{
	pthread_mutex_init(&sock_alloc_lock, NULL);
	shim_fdtab_foreach(sock_atfork_one);
}

/* Copy a user address in as the kernel would: -EFAULT instead of a crash. */
static int sock_copyin(void *dst, const void *src, size_t len)
{
	struct iovec l = { dst, len }, r = { (void *)src, len };
	ssize_t n;

	if (src == NULL)
		return -EFAULT;
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, src, len); /* no way to check: trust the program */
		return 0;
	}
	return -EFAULT;
}

/* ---- socket ------------------------------------------------------------------------ */

SHIM_EXPORT int socket(int domain, int type, int protocol)
{
	struct shim_sock *s;
	struct shim_file *prev;
	int fd, err;

	if (!shim_init())
		return real_socket(domain, type, protocol);
	fd = real_socket(domain, type, protocol);
	if (fd < 0 || domain != AF_INET || (type & 0xf) != SOCK_STREAM ||
	    (protocol != 0 && protocol != IPPROTO_TCP))
		return fd;
	if (!shim_attach())
		return fd;
	s = shim_sock_alloc();
	if (s == NULL)
		return fd; /* a plain kernel socket: still correct */
	atomic_store(&s->nonblock, (type & SOCK_NONBLOCK) != 0);
	prev = shim_fdtab_swap(fd, &s->f, &err);
	if (err < 0) {
		sock_free(s);
		return fd;
	}
	/* An entry left by an fd closed behind our back (close_range, raw syscall). */
	if (prev != NULL && prev != &shim_fdtab_internal)
		shim_file_put(prev);
	return fd;
}

/* ---- bind / listen ------------------------------------------------------------------ */

static int sock_bind(int fd, struct shim_sock *s, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in sin;
	int rc;

	if (atomic_load(&s->kind) == SHIM_SHUNT)
		return -EINVAL; /* connected or connecting: Linux says EINVAL too */
	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->kind) == SHIM_UNDECIDED && len >= sizeof(sin) &&
	    sock_copyin(&sin, addr, sizeof(sin)) == 0 && sin.sin_family == AF_INET &&
	    shim_g.welcome.stack_ip != 0 && sin.sin_addr.s_addr == shim_g.welcome.stack_ip) {
		/* The stack's address is not the kernel's: remember it for the replay. */
		if (s->bound) {
			rc = -EINVAL;
		} else {
			s->bound = s->bound_local = true;
			s->bind_addr = sin;
			rc = 0;
		}
		goto out;
	}
	rc = real_bind(fd, addr, len) < 0 ? -errno : 0;
	if (rc == 0 && len >= sizeof(sin) && sock_copyin(&sin, addr, sizeof(sin)) == 0 &&
	    sin.sin_family == AF_INET) {
		s->bound = true;
		s->bind_addr = sin;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s;

	if (!shim_init() || (s = shim_sock_get(fd)) == NULL ||
	    atomic_load(&s->kind) == SHIM_KERNEL)
		return real_bind(fd, addr, len);
	return (int)shim_ret(sock_bind(fd, s, addr, len));
}

/* Commit an undecided socket to the kernel. Caller holds s->lock. */
static void sock_decide_kernel(struct shim_sock *s)
{
	atomic_store_explicit(&s->kind, SHIM_KERNEL, memory_order_release);
	shim_epoll_sock_decided(s);
}

SHIM_EXPORT int listen(int fd, int backlog)
{
	struct shim_sock *s;

	if (!shim_init() || (s = shim_sock_get(fd)) == NULL)
		return real_listen(fd, backlog);
	if (atomic_load(&s->kind) == SHIM_SHUNT)
		return (int)shim_ret(-EINVAL);
	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->kind) == SHIM_UNDECIDED && !s->bound_local)
		sock_decide_kernel(s); /* listening sockets are the kernel's (for now) */
	pthread_mutex_unlock(&s->lock);
	return real_listen(fd, backlog);
}

/* ---- connect ------------------------------------------------------------------------ */

/* Turn s into a shunt socket: slot, OPEN, option and bind replay. Caller holds
 * s->lock. On failure the slot is handed back (CLOSE) and s stays undecided. */
static int sock_make_shunt(int fd, struct shim_sock *s)
{
	struct shunt_region *r = shim_g.r;
	int64_t slot;
	uint32_t opts;
	int rc, opt;

	slot = shunt_free_pop(shim_g.free, r->free_ring_size);
	if (slot < 0)
		return (int)slot;
	if ((uint64_t)slot >= r->nsocks)
		return -EPROTO; /* a corrupt free ring: lose the entry, keep the process */
	s->slot = (uint32_t)slot;
	s->ss = shunt_region_sock(r, s->slot);
	s->rxbuf = shunt_region_rxbuf(r, s->slot);
	s->txbuf = shunt_region_txbuf(r, s->slot);
	s->rx_size = r->rx_buf_size;
	s->tx_size = r->tx_buf_size;
	atomic_store(&s->sndbuf, s->tx_size);
	/* Sync numbers continue from the slot's last user so an old done_seq never
	 * answers a new command. OPEN resets the dp's ring indices to 0; ours too. */
	s->seq = SHUNT_LOAD_RLX(&s->ss->done_seq);
	SHUNT_STORE_REL(&s->ss->rx_cons, 0);
	SHUNT_STORE_REL(&s->ss->tx_prod, 0);
	atomic_store(&s->tx_head, 0);
	rc = shim_chan_sync(s, SHUNT_CMD_OPEN, SHUNT_SOCK_STREAM, NULL, 0);
	if (rc < 0)
		goto fail;
	SHUNT_STORE_REL(&s->ss->err_seen, SHUNT_LOAD_ACQ(&s->ss->err_seq));

	for (opts = s->optmask; opts != 0; opts &= opts - 1) {
		uint64_t v;

		opt = __builtin_ctz(opts);
		if (shim_opt_value(fd, opt, &v) < 0)
			continue;
		if (opt == SHUNT_OPT_SNDBUF)
			atomic_store(&s->sndbuf, v < s->tx_size ? (uint32_t)v : s->tx_size);
		rc = shim_chan_sync(s, SHUNT_CMD_SETOPT, (uint32_t)opt, NULL, v);
		if (rc < 0)
			SHIM_DEBUG("fd %d: option %d not taken by the dataplane: %d", fd, opt, rc);
	}
	if (s->bound && (s->bind_addr.sin_port != 0 || s->bind_addr.sin_addr.s_addr != 0)) {
		struct shunt_inaddr a = { s->bind_addr.sin_addr.s_addr, s->bind_addr.sin_port, 0 };

		rc = shim_chan_sync(s, SHUNT_CMD_BIND, 0, &a, 0);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
	s->ss = NULL;
	return rc;
}

static bool sock_state_syn(uint32_t st)
{
	return st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED;
}

static bool sock_handshake_over(void *arg)
{
	struct shim_sock *s = arg;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	return !sock_state_syn(SHUNT_LOAD_RLX(&s->ss->state));
}

/* Linux's __inet_stream_connect() on a shunt socket. addr has been copied in; len
 * is the caller's. Returns 0 or -errno. */
static int sock_stream_connect(int fd, struct shim_sock *s, const struct sockaddr_in *sin,
			       socklen_t len)
{
	int64_t timeo;
	int err, rc;

	if (sin->sin_family == AF_UNSPEC) {
		pthread_mutex_lock(&s->lock);
		rc = shim_chan_sync(s, SHUNT_CMD_DISCONNECT, 0, NULL, 0);
		s->sstate = rc < 0 ? SHIM_SS_DISCONNECTING : SHIM_SS_UNCONNECTED;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	switch (s->sstate) {
	case SHIM_SS_CONNECTED:
		err = -EISCONN;
		goto out_unlock;
	case SHIM_SS_CONNECTING:
		err = -EALREADY; /* and fall out to the wait, as Linux does */
		break;
	case SHIM_SS_UNCONNECTED:
		err = -EISCONN;
		if (SHUNT_LOAD_ACQ(&s->ss->state) != SHUNT_SS_CLOSED)
			goto out_unlock;
		err = -EINVAL;
		if (len < sizeof(*sin))
			goto out_unlock;
		err = -EAFNOSUPPORT;
		if (sin->sin_family != AF_INET)
			goto out_unlock;
		{
			struct shunt_inaddr a = { sin->sin_addr.s_addr, sin->sin_port, 0 };

			err = shim_chan_sync(s, SHUNT_CMD_CONNECT, 0, &a, 0);
		}
		if (err < 0)
			goto out_unlock;
		s->sstate = SHIM_SS_CONNECTING;
		err = -EINPROGRESS;
		break;
	default:
		err = -EINVAL;
		goto out_unlock;
	}
	pthread_mutex_unlock(&s->lock);

	/* Never hold the lock while sleeping: SO_ERROR, poll and close go on. */
	timeo = atomic_load(&s->nonblock) ? 0 : shim_sock_timeo_ns(fd, SO_SNDTIMEO);
	if (sock_state_syn(SHUNT_LOAD_ACQ(&s->ss->state))) {
		if (timeo == 0)
			return err;
		rc = shim_wait_until(sock_handshake_over, s, timeo, 0);
		if (rc == -ETIMEDOUT)
			return err; /* EINPROGRESS: the handshake goes on */
		if (rc < 0)
			return rc;  /* EINTR (SA_RESTART was applied by the kernel already) */
	}

	pthread_mutex_lock(&s->lock);
	if (SHUNT_LOAD_ACQ(&s->ss->state) == SHUNT_SS_CLOSED) {
		/* refused, timed out, reset: report it once, then start afresh */
		err = shim_sock_take_error(s);
		err = err != 0 ? -err : -ECONNABORTED;
		s->sstate = SHIM_SS_UNCONNECTED;
		goto out_unlock;
	}
	s->sstate = SHIM_SS_CONNECTED;
	err = 0;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int sock_connect(int fd, struct shim_sock *s, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in sin = { 0 };
	size_t n;
	int kind, rc;

	/* The syscall's own checks (move_addr_to_kernel), then sa_family. */
	if ((int)len < 0 || len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	n = len < sizeof(sin) ? len : sizeof(sin);
	if (n > 0 && sock_copyin(&sin, addr, n) < 0)
		return -EFAULT;
	if (len < sizeof(sa_family_t))
		return -EINVAL;

	kind = atomic_load_explicit(&s->kind, memory_order_acquire);
	if (kind == SHIM_UNDECIDED) {
		if (sin.sin_family != AF_INET || len < sizeof(sin))
			goto kernel; /* AF_UNSPEC, bad length, wrong family: the kernel says */
		pthread_mutex_lock(&s->lock);
		kind = atomic_load(&s->kind);
		if (kind == SHIM_UNDECIDED) {
			bool local_bind = !s->bound || s->bind_addr.sin_addr.s_addr == 0 ||
					  s->bind_addr.sin_addr.s_addr == shim_g.welcome.stack_ip;

			rc = -ENOENT;
			if (local_bind && shim_offload_match(shim_g.welcome.offload,
							     shim_g.welcome.n_offload,
							     sin.sin_addr.s_addr))
				rc = sock_make_shunt(fd, s);
			if (rc == 0) {
				atomic_store_explicit(&s->kind, SHIM_SHUNT, memory_order_release);
				shim_epoll_sock_decided(s);
				SHIM_DEBUG("fd %d -> slot %u", fd, s->slot);
			} else if (rc == -ENOENT || rc == -ENOBUFS || rc == -EPROTO ||
				   rc == -EPIPE) {
				if (rc != -ENOENT)
					SHIM_WARN("fd %d: no dataplane socket (%s): using the kernel",
						  fd, strerror(-rc));
				sock_decide_kernel(s);
			} else {
				pthread_mutex_unlock(&s->lock);
				return rc; /* e.g. the bind replay failed: as bind() would have */
			}
			kind = atomic_load(&s->kind);
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (kind == SHIM_SHUNT)
		return sock_stream_connect(fd, s, &sin, len);
kernel:
	return real_connect(fd, addr, len) < 0 ? -errno : 0;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s;

	if (!shim_init() || (s = shim_sock_get(fd)) == NULL ||
	    atomic_load(&s->kind) == SHIM_KERNEL)
		return real_connect(fd, addr, len);
	return (int)shim_ret(sock_connect(fd, s, addr, len));
}

/* ---- shutdown ----------------------------------------------------------------------- */

/* Linux's inet_shutdown() on a shunt socket. */
static int sock_shutdown(struct shim_sock *s, int how)
{
	uint32_t st;
	int rc = 0;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	st = SHUNT_LOAD_ACQ(&s->ss->state);
	if (s->sstate == SHIM_SS_CONNECTING)
		s->sstate = (sock_state_syn(st) || st == SHUNT_SS_CLOSED) ?
			    SHIM_SS_DISCONNECTING : SHIM_SS_CONNECTED;
	if (st == SHUNT_SS_SYN_SENT) {
		rc = shim_chan_sync(s, SHUNT_CMD_DISCONNECT, 0, NULL, 0);
		s->sstate = rc < 0 ? SHIM_SS_DISCONNECTING : SHIM_SS_UNCONNECTED;
		rc = 0;
		goto out;
	}
	if (how != SHUT_WR)
		atomic_store(&s->shut_rd, true);
	if (how != SHUT_RD)
		atomic_store(&s->shut_wr, true);
	if (st == SHUNT_SS_CLOSED) {
		rc = -ENOTCONN; /* Linux still records the shutdown, for poll's sake */
		goto out;
	}
	rc = shim_chan_sync(s, SHUNT_CMD_SHUTDOWN, (uint32_t)how, NULL, 0);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int shutdown(int fd, int how)
{
	struct shim_sock *s;

	if (!shim_init() || (s = shim_shunt_get(fd)) == NULL)
		return real_shutdown(fd, how);
	return (int)shim_ret(sock_shutdown(s, how));
}

/* ---- close and the dup family -------------------------------------------------------- */

SHIM_EXPORT int close(int fd)
{
	struct shim_file *f;
	int err, rc;

	if (!shim_init() || (f = shim_fdtab_get(fd)) == NULL)
		return real_close(fd);
	if (f == &shim_fdtab_internal)
		return (int)shim_ret(-EBADF); /* ours: as if it were not open (Onload) */
	/* Out of the table first: once real_close returns, the number can be reused. */
	(void)shim_fdtab_swap(fd, NULL, &err);
	rc = real_close(fd);
	shim_file_put(f);
	return rc;
}

SHIM_EXPORT int dup(int fd)
{
	struct shim_file *f;
	int nf;

	if (!shim_init() || (f = shim_fdtab_get(fd)) == NULL)
		return real_dup(fd);
	if (f == &shim_fdtab_internal)
		return (int)shim_ret(-EBADF);
	nf = real_dup(fd);
	if (nf >= 0)
		shim_fd_dup_track(fd, nf);
	return nf;
}

/* dup2/dup3: newfd may be one of ours (move it away first) or a tracked file (it
 * loses that reference when the kernel closes it). */
static int sock_dup_to(int oldfd, int newfd, int flags, bool is_dup3)
{
	int rc;

	if (shim_fdtab_get(oldfd) == &shim_fdtab_internal)
		return -EBADF;
	if (oldfd == newfd)
		return is_dup3 ? -EINVAL : (real_dup2(oldfd, newfd) < 0 ? -errno : newfd);
	if (shim_fdtab_get(newfd) == &shim_fdtab_internal) {
		rc = shim_attach_relocate(newfd);
		if (rc < 0)
			return rc;
	}
	rc = is_dup3 ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	if (rc < 0)
		return -errno;
	shim_fd_dup_track(oldfd, newfd);
	return rc;
}

SHIM_EXPORT int dup2(int oldfd, int newfd)
{
	if (!shim_init())
		return real_dup2(oldfd, newfd);
	return (int)shim_ret(sock_dup_to(oldfd, newfd, 0, false));
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (!shim_init())
		return real_dup3(oldfd, newfd, flags);
	return (int)shim_ret(sock_dup_to(oldfd, newfd, flags, true));
}
