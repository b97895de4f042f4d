/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Relays (ctl.h SHUNT_CTL_RELAY): for the calls the shim cannot see. glibc's
 * stdio writes and reads through libc's own internal entry points, which no
 * preload intercepts: bash's `echo hi >&3` moves the socket onto fd 1 with
 * dup2 and writes with printf. Once a shunt socket lands on 0, 1 or 2, its
 * descriptors become one end of a kernel socketpair whose other end shuntd
 * carries to and from the connection: every call on them, seen or not, goes
 * through the kernel, and the socket lives until the last copy of that end is
 * closed, in any process, with the shim or without.
 *
 *   dup2/dup3/dup/F_DUPFD giving a shunt TCP socket fd <= 2, or an exec'd image
 *   inheriting one there (exec.c) -> shim_relay_stdio(fd):
 *     socketpair -> RELAY{slot, gen} + one end (attach.c's shim_ctl_call)
 *     -> every fd of the socket in this process dup3'd onto by the other end
 *        (its close-on-exec flag kept) -> the record is a kernel socket now
 *        (epoll.c moves its entries back into the kernel epolls) -> our holder
 *        bit goes: the relay holds it
 *
 * It costs a copy through the kernel each way, so it is done only where it must
 * be. Names (getsockname, getpeername) and options then answer for the
 * socketpair, not for the TCP connection (README).
 */
#include <fcntl.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

struct relay_fds {
	struct shim_sock *s;
	int with;  /* the socketpair end to put in place */
	int rc;
};

static void relay_replace(int fd, struct shim_file *f, void *arg)
{
	struct relay_fds *r = arg;
	int fl;

	if (f != &r->s->f || fd == r->with)
		return;
	fl = real_fcntl(fd, F_GETFD);
	if (fl < 0 || real_dup3(r->with, fd, (fl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		r->rc = -errno;
}

/* Relay s, which landed on fd: shuntd carries it through a socketpair from now
 * on (on stdin, as a reader's: ctl.h SHUNT_RELAYF_READ). 0 or -errno (then s is
 * as it was). Caller holds s->lock. */
static int relay_start(struct shim_sock *s, int fd)
{
	struct shunt_ctl_relay req = { .magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_RELAY,
				       .slot = s->slot, .gen = s->gen,
				       .flags = fd == 0 ? SHUNT_RELAYF_READ : 0 }, ans;
	struct relay_fds r = { .s = s };
	int sv[2];
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	n = shim_ctl_call(&req, sizeof(req), sv[1], &ans, sizeof(ans));
	real_close(sv[1]); /* shuntd has its own copy now */
	if (n == (ssize_t)sizeof(ans) && (ans.magic != SHUNT_ABI_MAGIC || ans.op != req.op ||
					  ans.slot != req.slot))
		n = -EPROTO;
	else if (n == (ssize_t)sizeof(ans))
		n = ans.status;
	else if (n >= 0)
		n = -EPROTO;
	if (n < 0) {
		real_close(sv[0]);
		return (int)n;
	}
	/* From here the relay holds the socket: every fd of it becomes the other end. */
	r.with = sv[0];
	shim_fdtab_foreach_arg(relay_replace, &r);
	real_close(sv[0]);
	atomic_store_explicit(&s->kind, SHIM_KERNEL, memory_order_release);
	shim_epoll_sock_decided(s, true);
	(void)shim_share_release(s); /* never the last: the relay's bit is set */
	if (r.rc < 0)
		SHIM_WARN("relay of slot %u: an fd could not be moved: %d", s->slot, r.rc);
	return 0;
}

void shim_relay_stdio(int fd)
{
	struct shim_file *f = shim_fdtab_get(fd);
	struct shim_sock *s;
	int rc;

	if (fd > 2 || f == NULL || f == &shim_fdtab_internal || f->type != SHIM_F_SOCK ||
	    !shim_g.share || getpid() != shim_g.owner_pid)
		return; /* (a vfork child: our memory is its parent's) */
	s = (struct shim_sock *)f;
	if (!shim_file_tryget(f))
		return;
	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->kind) == SHIM_SHUNT && s->type == SOCK_STREAM &&
	    !atomic_load(&s->listening) && !shim_sock_dead(s) &&
	    SHUNT_LOAD_ACQ(&s->ss->state) >= SHUNT_SS_ESTABLISHED) {
		rc = relay_start(s, fd);
		if (rc < 0)
			SHIM_WARN("fd %d: a shunt socket on a standard stream, not relayed (%d): "
				  "stdio on it reaches the placeholder", fd, rc);
		else
			SHIM_INFO("fd %d: a shunt socket on a standard stream: relayed "
				  "through shuntd", fd);
	}
	pthread_mutex_unlock(&s->lock);
	shim_sock_put(s);
}
