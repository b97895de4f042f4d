/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Socket records and descriptors: socket, close, close_range, closefrom and the
 * dup family (bind, connect and the decision are in connect.c).
 *
 *   socket(AF_INET, SOCK_STREAM or SOCK_DGRAM) -> real_socket -> shim_attach()
 *                -> undecided record
 *   close(fd) -> fd table entry out -> real_close(fd) -> shim_file_put(what
 *                the table gave back) -> last reference: interest lists, CLOSE,
 *                record back on the free list
 *   close_range(lo, hi) -> the shim's own fds cut out of the range -> entries of the
 *                closed fds out of the table -> real close_range on each piece
 *
 * Every fd of a socket is a real dup of its placeholder kernel socket, so the fd
 * numbers are the kernel's and the placeholder answers what the shim does not.
 *
 * References (f.refs): one per fd naming the record, one per call using it
 * (shim_sock_hold(), as Linux's fdget()). A call blocked in recv() when another
 * thread closes the fd goes on, as in Linux, and the socket is closed (CLOSE, slot
 * released) when that call returns.
 *
 * fork(): the child shares the parent's shunt sockets as a member of the region
 * (share.c), and the last holder's close closes them; when it cannot (no room
 * for another member, an older shuntd), its copies become their placeholders
 * (kind kernel: closing them closes only the fd) and the attachment is dropped
 * (attach.c). A vfork()/CLONE_VM child shares our memory and runs no atfork
 * handler: close and the dup family then make the real call only
 * (shim_g.owner_pid); its exec is exec.c's.
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
	atomic_store(&s->listening, false);
	atomic_store(&s->linger_s, -1);
	atomic_store(&s->more_sent, false);
	atomic_store(&s->ph_listening, false);
	atomic_store(&s->inherit, 0);
	atomic_store(&s->cmsg_want, 0);
	s->type = SOCK_STREAM;
	s->family = AF_INET;
	s->sstate = SHIM_SS_UNCONNECTED;
	s->optmask = 0;
	s->bound = s->bound_local = s->port_locked = s->ph_bound = false;
	s->ghost_port = 0;
	/* s->ss is left as it was (NULL when fresh): a reader that holds no reference
	 * (poll's snapshot) may still look at it; it points into the region. */
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

/* Lingering close (tcp_close -> sk_stream_wait_close): done once the connection
 * is no longer sending what was queued and its FIN (not ESTABLISHED, CLOSE_WAIT,
 * FIN_WAIT_1, CLOSING or LAST_ACK), or the slot is gone. */
static bool sock_linger_done(void *arg)
{
	struct shim_sock *s = arg;
	uint32_t st;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	st = SHUNT_LOAD_RLX(&s->ss->state);
	return SHUNT_LOAD_RLX(&s->ss->gen) != s->gen || st == SHUNT_SS_FREE ||
	       st == SHUNT_SS_FIN_WAIT_2 || st == SHUNT_SS_TIME_WAIT || st == SHUNT_SS_CLOSED;
}

void shim_sock_put(struct shim_sock *s)
{
	int linger;

	if (atomic_fetch_sub_explicit(&s->f.refs, 1, memory_order_acq_rel) != 1)
		return;
	shim_epoll_sock_closed(s);
	/* The dataplane finishes the connection (FIN, or RST with SO_LINGER 0) and
	 * frees the slot when it is done with it. */
	/* Shared with other processes (share.c): the last of them closes it. */
	if (atomic_load(&s->kind) == SHIM_SHUNT && shim_share_release(s)) {
		(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
		/* SO_LINGER with a timeout: close() returns once the data and the FIN
		 * are acknowledged, or the time is up (socket(7)); a signal ends the
		 * wait early, as in Linux. The slot's memory stays mapped meanwhile. */
		linger = atomic_load(&s->linger_s);
		if (linger > 0 && s->type == SOCK_STREAM && !atomic_load(&s->listening))
			(void)shim_wait_sock(s, sock_linger_done, s,
					     (int64_t)linger * 1000000000, 0);
	}
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

	/* oldfd closed by another thread meanwhile: newfd names what the kernel made
	 * of it, and the shim forgets it (a race in the program too) */
	if (f == &shim_fdtab_internal || (f != NULL && !shim_file_tryget(f)))
		f = NULL;
	prev = shim_fdtab_swap(newfd, f, &err);
	if (err < 0 && f != NULL) /* cannot track: the new fd acts as a kernel fd */
		atomic_fetch_sub(&f->refs, 1);
	if (prev != NULL && prev != &shim_fdtab_internal)
		shim_file_put(prev);
	if (newfd <= 2 && f != NULL)
		shim_relay_stdio(newfd); /* stdio writes there from inside libc */
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

/* First pass: unless the child shares them (share.c), every inherited shunt
 * socket becomes its placeholder; the references are counted again from the
 * table (the parent's other threads, and their calls, do not exist here). */
static void sock_atfork_reset(int fd, struct shim_file *f, void *arg)
{
	struct shim_sock *s = (struct shim_sock *)f;
	bool shared = *(bool *)arg;

	(void)fd;
	if (f->type != SHIM_F_SOCK)
		return;
	pthread_mutex_init(&s->lock, NULL);
	if (atomic_load(&s->kind) == SHIM_SHUNT && !shared)
		atomic_store(&s->kind, SHIM_KERNEL); /* the slot is the parent's */
	s->tx_job = NULL; /* a parent thread's; the slot's tx_owner is the parent's too */
	/* a SEND the parent queued is the parent's: ours must not wait on it */
	atomic_store_explicit(&s->send_pos, 0, memory_order_relaxed);
	atomic_store(&f->refs, 0);
}

static void sock_atfork_count(int fd, struct shim_file *f)
{
	(void)fd;
	if (f->type == SHIM_F_SOCK)
		atomic_fetch_add(&f->refs, 1);
}

void shim_sock_atfork_child(bool shared)
{
	pthread_mutex_init(&sock_alloc_lock, NULL);
	shim_fdtab_foreach_arg(sock_atfork_reset, &shared);
	shim_fdtab_foreach(sock_atfork_count);
}

/* A tracked fd is involved: is this our memory, or a vfork()/CLONE_VM child's view
 * of its parent's? getpid() is only asked then, never on the kernel-fd path. */
static bool sock_foreign(void)
{
	return shim_unlikely(getpid() != shim_g.owner_pid);
}

/* Copy len bytes between our memory and the program's, checked by the kernel
 * (process_vm_readv/writev) so a bad address is -EFAULT, not a crash. */
static int sock_copy(void *dst, const void *src, size_t len, bool out)
{
	struct iovec l = { out ? (void *)src : dst, len }, r = { out ? dst : (void *)src, len };
	ssize_t n;

	if (len == 0)
		return 0;
	if ((out ? dst : src) == NULL)
		return -EFAULT;
	n = out ? process_vm_writev(getpid(), &l, 1, &r, 1, 0) :
		  process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
		memcpy(dst, src, len); /* no way to check: trust the program */
		return 0;
	}
	return -EFAULT;
}

int shim_copyin(void *dst, const void *src, size_t len)
{
	return sock_copy(dst, src, len, false);
}

int shim_copyout(void *dst, const void *src, size_t len)
{
	return sock_copy(dst, src, len, true);
}

void shim_sock_free(struct shim_sock *s)
{
	sock_free(s);
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
	if (fd < 0 || (domain != AF_INET && domain != AF_INET6))
		return fd;
	if (!((type & 0xf) == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) &&
	    !((type & 0xf) == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP)))
		return fd;
	if (domain == AF_INET6 && (type & 0xf) != SOCK_STREAM)
		return fd; /* IPv4-mapped UDP is not offloaded (README) */
	if (!shim_attach())
		return fd;
	s = shim_sock_alloc();
	if (s == NULL)
		return fd; /* a plain kernel socket: still correct */
	s->type = type & 0xf;
	s->family = domain;
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
	if (sock_foreign())
		return real_close(fd); /* a vfork child: the table is its parent's */
	/* Out of the table first: once real_close returns, the number can be reused.
	 * The reference dropped is the one the table gave back: a racing close or
	 * dup2 onto fd took (and drops) the one it got. */
	/* the table and the kernel's fds change together, not across a fork (share.c) */
	shim_share_rdlock();
	f = shim_fdtab_swap(fd, NULL, &err);
	if (f == &shim_fdtab_internal) {
		/* closed by another thread and reused by attach.c meanwhile: ours */
		(void)shim_fdtab_swap(fd, f, &err);
		shim_share_rdunlock();
		return (int)shim_ret(-EBADF);
	}
	rc = real_close(fd);
	shim_share_rdunlock();
	if (f != NULL)
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
	if (sock_foreign())
		return real_dup(fd);
	shim_share_rdlock();
	nf = real_dup(fd);
	if (nf >= 0)
		shim_fd_dup_track(fd, nf);
	shim_share_rdunlock();
	return nf;
}

/* dup2/dup3: newfd may be one of ours (move it away first) or a tracked file (it
 * loses that reference when the kernel closes it). */
static int sock_dup_to(int oldfd, int newfd, int flags, bool is_dup3)
{
	struct shim_file *fo = shim_fdtab_get(oldfd), *fn = shim_fdtab_get(newfd);
	int rc;

	if (fo == &shim_fdtab_internal)
		return -EBADF;
	if ((fo != NULL || fn != NULL) && sock_foreign()) {
		/* a vfork child (posix_spawn file actions): its fds, our memory */
		rc = is_dup3 ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
		return rc < 0 ? -errno : rc;
	}
	if (oldfd == newfd)
		return is_dup3 ? -EINVAL : (real_dup2(oldfd, newfd) < 0 ? -errno : newfd);
	if (fn == &shim_fdtab_internal) {
		rc = shim_attach_relocate(newfd);
		if (rc < 0)
			return rc;
	}
	shim_share_rdlock(); /* the table and the kernel's fds together (share.c) */
	rc = is_dup3 ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	if (rc < 0) {
		rc = -errno;
		shim_share_rdunlock();
		return rc;
	}
	shim_fd_dup_track(oldfd, newfd);
	shim_share_rdunlock();
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

/* close_range(2) without touching the shim's fds (every fd the table marks as
 * ours: attach.c's, and any other module's): the range is closed piece by piece
 * around them, and every tracked fd it closes leaves the table first (as close()). */
static int sock_close_range(unsigned lo, unsigned hi, int flags)
{
	unsigned from = lo;
	int own;

	if (lo > hi || (flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)) != 0)
		return -EINVAL;
	if (flags & CLOSE_RANGE_CLOEXEC) /* nothing closes now; ours are CLOEXEC already */
		return real_close_range(lo, hi, flags) < 0 ? -errno : 0;
	/* A vfork child (CPython's subprocess with close_fds): closing its own copies
	 * of the fds, ours included, must not touch the parent's table. */
	if (sock_foreign())
		return real_close_range(lo, hi, flags) < 0 ? -errno : 0;
	shim_share_rdlock(); /* the table and the kernel's fds together (share.c) */
	shim_fdtab_drop_range(lo, hi);
	while ((own = shim_fdtab_next_internal(from, hi)) >= 0) {
		if ((unsigned)own > from && real_close_range(from, (unsigned)own - 1, flags) < 0)
			goto fail;
		from = (unsigned)own + 1;
	}
	if (from <= hi && from >= lo && real_close_range(from, hi, flags) < 0)
		goto fail;
	shim_share_rdunlock();
	return 0;
fail:
	own = -errno;
	shim_share_rdunlock();
	return own;
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
