/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Socket records and descriptors: socket, close, close_range, closefrom and the
 * dup family (bind, connect and the decision are in connect.c).
 *
 *   socket(AF_INET, SOCK_STREAM or SOCK_DGRAM) -> real_socket -> shim_attach()
 *                -> undecided record
 *   close(fd) -> fd table entry out -> real_close(fd) -> shim_file_put()
 *                -> last fd: CLOSE, interest lists, record back on the free list
 *   close_range(lo, hi) -> the shim's own fds cut out of the range -> entries of the
 *                closed fds out of the table -> real close_range on each piece
 *
 * Every fd of a socket is a real dup of its placeholder kernel socket, so the fd
 * numbers are the kernel's and the placeholder answers what the shim does not.
 * fork(): the child's locks are reset (init.c); both processes then share the same
 * slots with no coordination, which is safe only if one of them stops using them.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
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
	s->type = SOCK_STREAM;
	s->sstate = SHIM_SS_UNCONNECTED;
	s->optmask = 0;
	s->bound = s->bound_local = s->port_locked = s->ph_bound = false;
	s->ghost_port = 0;
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

int shim_copyin(void *dst, const void *src, size_t len)
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
	if (fd < 0 || domain != AF_INET)
		return fd;
	if (!((type & 0xf) == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) &&
	    !((type & 0xf) == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP)))
		return fd;
	if (!shim_attach())
		return fd;
	s = shim_sock_alloc();
	if (s == NULL)
		return fd; /* a plain kernel socket: still correct */
	s->type = type & 0xf;
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

/* ---- close_range / closefrom ----------------------------------------------------------- */

static int sock_cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The shim's own fds in [lo, hi], sorted. Returns how many. */
static int sock_internal_fds(unsigned lo, unsigned hi, int *out)
{
	int n = 0, i, fd;

	fd = atomic_load(&shim_g.ctl_fd);
	if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
		out[n++] = fd;
	fd = atomic_load(&shim_g.doorbell_fd);
	if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
		out[n++] = fd;
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++) {
		fd = atomic_load(&shim_g.wait_fd[i]);
		if (fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
			out[n++] = fd;
	}
	qsort(out, (size_t)n, sizeof(*out), sock_cmp_int);
	return n;
}

/* close_range(2) without touching the shim's fds: the range is closed piece by piece
 * around them, and every tracked fd it closes leaves the table first (as close()). */
static int sock_close_range(unsigned lo, unsigned hi, int flags)
{
	int internal[2 + SHUNT_WAIT_SLOTS], n, i;
	unsigned from = lo;

	if (lo > hi || (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) != 0)
		return -EINVAL;
	if (flags & CLOSE_RANGE_CLOEXEC) /* nothing closes now; ours are CLOEXEC already */
		return real_close_range(lo, hi, flags) < 0 ? -errno : 0;
	n = sock_internal_fds(lo, hi, internal);
	shim_fdtab_drop_range(lo, hi);
	for (i = 0; i < n; i++) {
		if ((unsigned)internal[i] > from &&
		    real_close_range(from, (unsigned)internal[i] - 1, flags) < 0)
			return -errno;
		from = (unsigned)internal[i] + 1;
	}
	if ((n == 0 || (unsigned)internal[n - 1] < hi) && real_close_range(from, hi, flags) < 0)
		return -errno;
	return 0;
}

SHIM_EXPORT int close_range(unsigned lo, unsigned hi, int flags)
{
	if (!shim_init())
		return real_close_range(lo, hi, flags);
	return (int)shim_ret(sock_close_range(lo, hi, flags));
}

SHIM_EXPORT void closefrom(int lo)
{
	if (lo < 0)
		lo = 0;
	if (!shim_init()) {
		(void)real_close_range((unsigned)lo, ~0u, 0);
		return;
	}
	(void)sock_close_range((unsigned)lo, ~0u, 0);
}
