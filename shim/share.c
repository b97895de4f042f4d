/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Sockets shared by processes: one region, many members (abi.h, "Sharing";
 * docs/design.md, "The process model").
 *
 *   fork():
 *     prepare (parent, share_lock taken): a free member bit claimed in the region
 *       -> a control connection for the child, JOIN sent on it now (so it is in
 *          shuntd's queue before this process can go away)
 *       -> the child's bit OR'd into the holders of every shunt socket we hold
 *     child:  that connection is its own (the parent's copy is closed), the
 *             member's channels and notifiers are its own; the sockets stay shunt
 *             sockets; a watcher thread for its connection
 *     parent: its copy of the child's connection closed (a failed fork: that
 *             hang-up gives the claimed bits back)
 *   close(), last descriptor in this process -> shim_share_release(): our bit
 *     out of holders (atomic AND); the one who clears the last bit sends CLOSE
 *   a member's connection hangs up (exit, crash, exec without the shim's help)
 *     -> shuntd clears its bit everywhere and closes what it alone held
 *
 * A socket's [app] words that two processes write (holders, tx_owner, rx_cons,
 * notify[]) are in the region and written with atomics; what stays private
 * (channel bitmaps, notifiers, the fd table) is per process, and a fork child
 * starts those afresh on its own member's ranges. exec: exec.c.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

/* Held from prepare to the parent handler: one fork at a time makes a member. */
static pthread_mutex_t share_lock = PTHREAD_MUTEX_INITIALIZER;
/* Writers: a fork (prepare to the handlers), a spawn (exec.c). Readers: whatever
 * changes the fd table together with the kernel's fds or makes a shunt socket
 * (a slot, then its kind; an accept record, then its fd): a fork sees either
 * none of it or all of it, so the bits it sets match the child's fds. glibc's
 * rwlocks prefer readers, so a signal handler may take it again. */
static pthread_rwlock_t share_rw = PTHREAD_RWLOCK_INITIALIZER;

void shim_share_rdlock(void)
{
	(void)pthread_rwlock_rdlock(&share_rw);
}

void shim_share_rdunlock(void)
{
	(void)pthread_rwlock_unlock(&share_rw);
}

void shim_share_wrlock(void)
{
	(void)pthread_rwlock_wrlock(&share_rw);
}

void shim_share_wrunlock(void)
{
	(void)pthread_rwlock_unlock(&share_rw);
}
static struct {
	bool active;      /* a child is being made: ctl and member are its */
	int ctl;
	uint32_t member;
} share_fork;

void shim_share_own(struct shim_sock *s, int fd)
{
	struct stat st;

	__atomic_store_n(&s->ss->holders, shim_share_bit(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->ss->tx_owner, 0, __ATOMIC_RELAXED);
	if (shim_g.share && fstat(fd, &st) == 0)
		__atomic_store_n(&s->ss->ph_ino, (uint64_t)st.st_ino, __ATOMIC_RELAXED);
}

bool shim_share_release(struct shim_sock *s)
{
	uint64_t bit = shim_share_bit(), old;

	if (!shim_g.share || shim_sock_dead(s))
		return true;
	/* seq_cst RMW: against the others' (and shuntd's, for a gone member) own
	 * ANDs, exactly one of us sees the last bit go */
	old = __atomic_fetch_and(&s->ss->holders, ~bit, __ATOMIC_SEQ_CST);
	return (old & ~bit) == 0;
}

int shim_share_claim(uint32_t *member)
{
	struct shunt_region *r = shim_g.r;
	uint64_t m = __atomic_load_n(&r->members, __ATOMIC_RELAXED);

	for (;;) {
		/* 0 is the attaching process's for good; 63 is the relay's (abi.h) */
		uint64_t free_bits = ~m & ~1ull & (SHUNT_HOLDER_RELAY - 1);
		uint32_t b;

		if (free_bits == 0)
			return -EUSERS;
		b = (uint32_t)__builtin_ctzll(free_bits);
		if (__atomic_compare_exchange_n(&r->members, &m, m | (1ull << b), false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			*member = b;
			return 0;
		}
	}
}

int shim_share_join(uint32_t member, uint32_t flags, bool cloexec)
{
	struct shunt_ctl_join j = { .magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_JOIN,
				    .member = member, .flags = flags };
	const char *why = "?";
	int ctl, rc;

	memcpy(j.key, shim_g.r->join_key, sizeof(j.key));
	ctl = shim_attach_connect(&why);
	if (ctl < 0)
		return ctl;
	if (real_send(ctl, &j, sizeof(j), MSG_NOSIGNAL) != (ssize_t)sizeof(j) ||
	    (!cloexec && real_fcntl(ctl, F_SETFD, 0) < 0)) {
		rc = -errno;
		real_close(ctl);
		return rc;
	}
	return ctl;
}

/* Give back a member bit that nobody joined with (shuntd gives back the bits of
 * members that joined, once it has swept them). */
static void share_unclaim(uint32_t member)
{
	__atomic_fetch_and(&shim_g.r->members, ~(1ull << member), __ATOMIC_RELEASE);
}

static void share_hold(int fd, struct shim_file *f, void *arg)
{
	struct shim_sock *s = (struct shim_sock *)f;
	uint64_t bit = *(uint64_t *)arg;

	(void)fd;
	if (f->type != SHIM_F_SOCK || atomic_load(&s->kind) != SHIM_SHUNT || shim_sock_dead(s))
		return;
	__atomic_fetch_or(&s->ss->holders, bit, __ATOMIC_SEQ_CST);
}

void shim_share_prepare(void)
{
	uint32_t member;
	uint64_t bit;
	int ctl, err;

	pthread_mutex_lock(&share_lock);
	pthread_rwlock_wrlock(&share_rw);
	share_fork.active = false;
	if (!atomic_load(&shim_ready))
		return;
	/* Nothing to share (no shunt socket): the child attaches on its own if it
	 * ever opens one. */
	if (!shim_g.attached || !shim_g.share || shim_is_lost() || shim_g.r == NULL ||
	    atomic_load(&shim_shunt_live) == 0)
		return;
	if (shim_share_claim(&member) < 0) {
		SHIM_WARN("fork: %d processes share this region already: the child's "
			  "copies of the shunt sockets are unconnected", SHUNT_MAX_MEMBERS);
		return;
	}
	ctl = shim_share_join(member, 0, true);
	if (ctl < 0) {
		share_unclaim(member);
		return;
	}
	/* Before the child exists: whatever the parent closes from now on, the
	 * child's bit keeps it open for the child. */
	bit = 1ull << member;
	shim_fdtab_foreach_arg(share_hold, &bit);
	(void)shim_fdtab_swap(ctl, &shim_fdtab_internal, &err); /* the child's copy too */
	share_fork.ctl = ctl;
	share_fork.member = member;
	share_fork.active = true;
}

void shim_share_parent(void)
{
	int err;

	if (share_fork.active) {
		/* the child's now (or, if fork failed, its hang-up gives the bits back) */
		(void)shim_fdtab_swap(share_fork.ctl, NULL, &err);
		real_close(share_fork.ctl);
		share_fork.active = false;
	}
	pthread_rwlock_unlock(&share_rw);
	pthread_mutex_unlock(&share_lock);
}

bool shim_share_forked(void)
{
	return share_fork.active;
}

void shim_share_child(void)
{
	const char *why;

	pthread_mutex_init(&share_lock, NULL);
	pthread_rwlock_init(&share_rw, NULL);
	if (!share_fork.active)
		return;
	share_fork.active = false;
	/* The parent's connection is the parent's life: our copy would hide its
	 * hang-up from shuntd. Ours is the one made for us. */
	shim_attach_drop_fd(&shim_g.ctl_fd);
	shim_attach_drop_fd(&shim_g.lost_epfd); /* the parent's watcher is not ours */
	atomic_store(&shim_g.ctl_fd, share_fork.ctl);
	why = shim_attach_member(shim_g.r, share_fork.member);
	if (why != NULL) /* checked at attach: cannot happen */
		SHIM_ERR("fork: member %u: %s", share_fork.member, why);
	if (shim_lost_watch() < 0)
		SHIM_WARN("fork: no thread to watch shuntd");
}
