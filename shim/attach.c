/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Attaching to shuntd, once per process, lazily (first AF_INET stream socket).
 *
 *   shim_attach() -> once (attach_lock, attach_done) -> attach_try():
 *     socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) -> connect(SHUNT_CONTROL)
 *     -> send shunt_ctl_hello (the versions and features we speak)
 *     -> recvmsg shunt_ctl_welcome + SCM_RIGHTS fds -> check magic, the agreed
 *        version and features, status, nfds -> mmap region -> check its header
 *     -> keep ctl and doorbell fds (CLOEXEC, protected in the fd table)
 *
 * Any failure leaves shim_g.attached false for the life of the process: every
 * socket is then a plain kernel socket, and with SHUNT_LOG set the shim says so
 * once. When shuntd goes away later (lost.c), new sockets are the kernel's until
 * it is back: attach_again() tries once a second, and a new attachment (its own
 * region, channels, notifiers) serves the sockets made from then on. The control connection stays open: it carries the notifier registrations
 * (notify.c), and its hang-up tells shuntd the process is gone, and tells sync
 * waits (chan.c) that the dataplane is.
 *
 * fork(): the child closes its copies of these fds and unmaps the region
 * (shim_attach_atfork_child), so it never writes the parent's channels or wakes on
 * the parent's futexes; its next socket attaches again, as a process of its own.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define ATTACH_TIMEOUT_S 2 /* a control socket that accepts but never answers */
#define ATTACH_RETRY_NS 1000000000 /* after a loss: is shuntd back? once a second */
#define ATTACH_CTL_TIMEOUT_MS 2000 /* a request's answer (shuntd answers within a ms) */

/* A once that a fork child can reset (pthread_once cannot be). */
static pthread_mutex_t attach_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool attach_done;
static char attach_why[128]; /* a reason that needs numbers in it */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER; /* one request at a time */
static __thread bool ctl_inside; /* a handler must not wait for our own request */

static bool attach_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off % SHUNT_CACHE_LINE == 0 && off <= size && len <= size - off;
}

/* Check the region header against what the welcome promised. Returns a reason or
 * NULL. The dataplane is trusted not to be hostile, but a mismatched build is not. */
static const char *attach_check_region(const struct shunt_region *r, uint64_t size,
				       const struct shunt_ctl_welcome *w)
{
	if (r->magic != SHUNT_ABI_MAGIC || r->version != w->version ||
	    r->features != w->features)
		return "region magic/version mismatch";
	if (r->region_size != size)
		return "region size mismatch";
	if (r->nsocks == 0 || r->nchannels < 1 || r->nnotifiers < 1)
		return "bad region geometry";
	if (!attach_range_ok(r->chan_off, (uint64_t)r->nchannels * sizeof(struct shunt_channel),
			     size) ||
	    !attach_range_ok(r->notif_off,
			     (uint64_t)r->nnotifiers * sizeof(struct shunt_notifier), size) ||
	    !attach_range_ok(r->socks_off, (uint64_t)r->nsocks * sizeof(struct shunt_sock),
			     size) ||
	    r->bufs_off > size)
		return "region layout out of bounds";
	return NULL;
}

/* The geometry of member `member` of region r into shim_g: its channels and
 * notifiers (abi.h, "Sharing"). Returns NULL or why it cannot be. */
const char *shim_attach_member(struct shunt_region *r, uint32_t member)
{
	uint32_t cpm = r->nchannels, npm = r->nnotifiers;

	shim_g.share = (r->features & SHUNT_FEAT_SHARE) != 0;
	if (shim_g.share) {
		cpm = r->chan_per_member;
		npm = r->notif_per_member;
		if (member >= SHUNT_MAX_MEMBERS || cpm == 0 || npm == 0 ||
		    (uint64_t)cpm * SHUNT_MAX_MEMBERS > r->nchannels ||
		    (uint64_t)npm * SHUNT_MAX_MEMBERS > r->nnotifiers)
			return "bad member geometry";
	} else if (member != 0) {
		return "a member of a region that is not shared";
	}
	shim_g.member = member;
	shim_g.chan_base = member * cpm;
	shim_g.notif_base = member * npm;
	shim_g.nchannels = cpm < SHIM_MAX_CHANNELS ? cpm : SHIM_MAX_CHANNELS;
	shim_g.nnotifiers = npm < SHIM_MAX_NOTIFIERS ? npm : SHIM_MAX_NOTIFIERS;
	return NULL;
}

/* On ctl, which said hello (or JOIN with SHUNT_JOINF_FDS): take the welcome and
 * its fds, map the region, check it, and make it shim_g's attachment as member
 * `member`. Returns 0, or -errno with *why set; on failure every fd it received
 * is closed, ctl is not. */
static int attach_welcome(int ctl, uint32_t member, const char **why)
{
	struct shunt_ctl_welcome w;
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHUNT_CTL_NFDS)];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf) };
	struct timeval tv = { 0, 0 };
	int fds[SHUNT_CTL_NFDS], nfds = 0, rc, i;
	struct cmsghdr *cm;
	struct stat st;
	void *map = MAP_FAILED;
	ssize_t n;

	n = real_recvmsg(ctl, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		*why = "receive welcome";
		return -errno;
	}
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		int k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (nfds < SHUNT_CTL_NFDS)
				fds[nfds++] = fd;
			else
				real_close(fd);
		}
	}
	rc = -EPROTO;
	*why = "bad welcome";
	if (n != (ssize_t)sizeof(w) || w.magic != SHUNT_ABI_MAGIC || w.op != SHUNT_CTL_WELCOME)
		goto fail;
	if (w.status == -EPROTONOSUPPORT) {
		snprintf(attach_why, sizeof(attach_why),
			 "no common ABI: libshunt speaks versions %u-%u, shuntd %u-%u",
			 SHUNT_ABI_VERSION_MIN, SHUNT_ABI_VERSION, w.version_min, w.version);
		*why = attach_why;
		rc = w.status;
		goto fail;
	}
	if (w.status == 0 && (w.version < SHUNT_ABI_VERSION_MIN || w.version > SHUNT_ABI_VERSION ||
			      (w.features & ~SHUNT_FEAT_KNOWN) != 0)) {
		*why = "shuntd agreed to a version or features it was not offered";
		goto fail;
	}
	if (w.status < 0) {
		*why = "attach refused";
		rc = w.status;
		goto fail;
	}
	if ((msg.msg_flags & MSG_CTRUNC) || w.nfds != SHUNT_CTL_NFDS || nfds != SHUNT_CTL_NFDS) {
		*why = "wrong number of fds";
		goto fail;
	}
	if (fstat(fds[SHUNT_CTL_FD_REGION], &st) < 0 || (uint64_t)st.st_size < w.region_size ||
	    w.region_size < sizeof(struct shunt_region)) {
		*why = "region smaller than announced";
		goto fail;
	}
	map = mmap(NULL, w.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fds[SHUNT_CTL_FD_REGION], 0);
	if (map == MAP_FAILED) {
		*why = "mmap";
		goto fail_errno;
	}
	*why = attach_check_region(map, w.region_size, &w);
	if (*why == NULL)
		*why = shim_attach_member(map, member);
	if (*why != NULL)
		goto fail;

	real_close(fds[SHUNT_CTL_FD_REGION]); /* the mapping keeps the memfd alive */
	if (w.n_offload > SHUNT_CTL_MAX_OFFLOAD)
		w.n_offload = SHUNT_CTL_MAX_OFFLOAD;
	shim_g.welcome = w;
	shim_g.r = map;
	shim_g.region_size = w.region_size;
	shim_g.nsocks = shim_g.r->nsocks;
	/* no timeout from now on: notify.c polls before it reads */
	(void)real_setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	atomic_store(&shim_g.ctl_fd, ctl);
	atomic_store(&shim_g.doorbell_fd, fds[SHUNT_CTL_FD_DOORBELL]);
	for (i = 1; i < SHUNT_CTL_NFDS; i++)
		(void)shim_fdtab_swap(fds[i], &shim_fdtab_internal, &rc);
	(void)shim_fdtab_swap(ctl, &shim_fdtab_internal, &rc);
	return 0;

fail_errno:
	rc = -errno;
fail:
	if (map != MAP_FAILED)
		munmap(map, w.region_size);
	for (i = 0; i < nfds; i++)
		real_close(fds[i]);
	return rc;
}

int shim_attach_connect(const char **why)
{
	struct timeval tv = { ATTACH_TIMEOUT_S, 0 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int ctl, rc;

	ctl = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ctl < 0) {
		*why = "socket";
		return -errno;
	}
	memcpy(sun.sun_path, shim_g.ctl_path, sizeof(sun.sun_path) - 1);
	(void)real_setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)real_setsockopt(ctl, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (real_connect(ctl, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		*why = "connect";
		rc = -errno;
		real_close(ctl);
		return rc;
	}
	return ctl;
}

/* Returns 0, or -errno with *why set. On failure every fd it received is closed. */
static int attach_try(const char **why)
{
	struct shunt_ctl_hello hello = {
		.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_HELLO,
		.version_min = SHUNT_ABI_VERSION_MIN, .version_max = SHUNT_ABI_VERSION,
		.features = SHUNT_FEAT_KNOWN, .required = 0, .pid = (uint32_t)getpid()
	};
	int ctl = shim_attach_connect(why), rc;

	if (ctl < 0)
		return ctl;
	if (real_send(ctl, &hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello)) {
		*why = "send hello";
		rc = -errno;
		goto fail;
	}
	rc = attach_welcome(ctl, 0, why);
	if (rc == 0)
		return 0;
fail:
	real_close(ctl);
	return rc;
}

int shim_attach_joined(int ctl, uint32_t member, const char **why)
{
	struct timeval tv = { ATTACH_TIMEOUT_S, 0 };
	int rc;

	pthread_mutex_lock(&attach_lock);
	(void)real_setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = attach_welcome(ctl, member, why);
	if (rc == 0) {
		shim_g.attached = true;
		if (shim_lost_watch() < 0)
			SHIM_WARN("no thread to watch shuntd");
	}
	atomic_store_explicit(&attach_done, true, memory_order_release);
	pthread_mutex_unlock(&attach_lock);
	return rc;
}

static void attach_once(void)
{
	const char *why = "?";
	int rc = attach_try(&why);

	if (rc == 0) {
		shim_g.attached = true;
		if (shim_lost_watch() < 0)
			SHIM_WARN("no thread to watch shuntd: if it goes away, blocked calls "
				  "notice only when they next command it");
		SHIM_INFO("attached to %s: ABI %u, features %#x, %u sockets, %u offload rules",
			  shim_g.ctl_path, shim_g.r->version, shim_g.r->features,
			  shim_g.nsocks, shim_g.welcome.n_offload);
		return;
	}
	/* Said once, whatever the level, as long as SHUNT_LOG is set. */
	if (shim_log_level > SHIM_LOG_OFF)
		shim_log(shim_log_level, "no dataplane at %s (%s: %s): using the kernel",
			 shim_g.ctl_path, why, strerror(-rc));
}

/* shuntd went away (lost.c): is it back? Tried at most once a second, by the
 * sockets created meanwhile (which are the kernel's until it is). The old
 * region stays mapped and the old control and doorbell fds open (the old
 * sockets point there; their numbers are never reused under a late caller). */
static bool attach_again(void)
{
	static _Atomic int64_t last_try;
	int64_t now = shim_now_ns(), since;
	const char *why = "?";
	int rc;

	/* a second after the loss, and after the last try: no thread of the old
	 * attachment is still inside a command by then (chan.c gives up at once) */
	since = atomic_load(&last_try) > atomic_load(&shim_g.lost_at_ns) ?
		atomic_load(&last_try) : atomic_load(&shim_g.lost_at_ns);
	if (now - since < ATTACH_RETRY_NS)
		return false;
	pthread_mutex_lock(&attach_lock);
	if (shim_is_lost() && now - atomic_load(&last_try) >= ATTACH_RETRY_NS) {
		atomic_store(&last_try, now);
		shim_lost_reattach_begin();
		rc = attach_try(&why);
		shim_lost_reattach_end(rc == 0);
		if (rc == 0) {
			SHIM_INFO("shuntd is back at %s: attached again", shim_g.ctl_path);
			if (shim_lost_watch() < 0)
				SHIM_WARN("no thread to watch shuntd");
		}
	}
	pthread_mutex_unlock(&attach_lock);
	return !shim_is_lost();
}

bool shim_attach(void)
{
	/* acquire: pairs with the release below; shim_g is then fully visible */
	if (shim_likely(atomic_load_explicit(&attach_done, memory_order_acquire))) {
		if (shim_likely(!shim_is_lost()))
			return shim_g.attached;
		return shim_g.attached && attach_again(); /* gone: the kernel's, or back */
	}
	pthread_mutex_lock(&attach_lock);
	if (!atomic_load_explicit(&attach_done, memory_order_relaxed)) {
		attach_once();
		atomic_store_explicit(&attach_done, true, memory_order_release);
	}
	pthread_mutex_unlock(&attach_lock);
	return shim_g.attached && !shim_is_lost();
}

void shim_attach_drop_fd(_Atomic int *slot)
{
	int fd = atomic_load(slot), err;

	if (fd < 0)
		return;
	(void)shim_fdtab_swap(fd, NULL, &err);
	real_close(fd);
	atomic_store(slot, -1);
}

void shim_attach_atfork_child(bool shared)
{
	pthread_mutex_init(&attach_lock, NULL);
	pthread_mutex_init(&ctl_lock, NULL);
	ctl_inside = false;
	if (shared)
		return; /* share.c: the attachment goes on, as a member's */
	/* The control connection is shared with the parent: closing our copy does
	 * not hang it up; shuntd sees the parent leave when the parent does. */
	shim_attach_drop_fd(&shim_g.ctl_fd);
	shim_attach_drop_fd(&shim_g.doorbell_fd);
	shim_attach_drop_fd(&shim_g.lost_epfd); /* the parent's watcher is not ours */
	if (shim_g.r != NULL)
		munmap(shim_g.r, shim_g.region_size);
	shim_g.r = NULL;
	shim_g.nchannels = shim_g.nnotifiers = shim_g.nsocks = 0;
	shim_g.region_size = 0;
	memset(&shim_g.welcome, 0, sizeof(shim_g.welcome)); /* no offload rules now */
	shim_g.attached = false;
	atomic_store(&shim_g.lost, false); /* the child attaches afresh */
	atomic_store(&shim_g.slot_hwm, 0);
	atomic_store(&attach_done, false);
}

bool shim_ctl_busy(void)
{
	return ctl_inside;
}

ssize_t shim_ctl_call(const void *req, size_t len, int fd, void *ans, size_t alen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = { (void *)req, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	char stale[64];
	ssize_t n;
	int ctl;

	if (ctl_inside)
		return -EAGAIN;
	if (fd >= 0)
		shunt_ctl_put_fds(&msg, cbuf.buf, sizeof(cbuf.buf), &fd, 1);
	ctl_inside = true;
	pthread_mutex_lock(&ctl_lock);
	ctl = atomic_load(&shim_g.ctl_fd);
	/* an answer that came after its request timed out: not ours */
	while (real_recv(ctl, stale, sizeof(stale), MSG_DONTWAIT) > 0)
		;
	if (real_sendmsg(ctl, &msg, MSG_NOSIGNAL) != (ssize_t)len) {
		n = -errno;
		goto out;
	}
	do {
		struct pollfd p = { ctl, POLLIN, 0 };

		/* shuntd answers from its housekeeping (about every millisecond) */
		n = real_poll(&p, 1, ATTACH_CTL_TIMEOUT_MS);
		if (n == 0) {
			n = -ETIMEDOUT;
			goto out;
		}
		if (n > 0)
			n = real_recv(ctl, ans, alen, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
out:
	pthread_mutex_unlock(&ctl_lock);
	ctl_inside = false;
	return n;
}

/* Move *slot (one of our fds) to a fresh number so the app can have fd. */
static int attach_move(_Atomic int *slot, int fd)
{
	int nf, err;

	if (atomic_load(slot) != fd)
		return 1;
	nf = real_fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nf < 0)
		return -errno;
	(void)shim_fdtab_swap(nf, &shim_fdtab_internal, &err);
	atomic_store(slot, nf);
	/* A thread asleep on the old number keeps its file reference: the dataplane
	 * writes the same eventfd, so it still wakes. The caller's dup2 closes fd. */
	(void)shim_fdtab_swap(fd, NULL, &err);
	return 0;
}

int shim_attach_relocate(int fd)
{
	int rc;

	rc = attach_move(&shim_g.ctl_fd, fd);
	if (rc <= 0)
		return rc;
	rc = attach_move(&shim_g.doorbell_fd, fd);
	if (rc <= 0)
		return rc;
	rc = attach_move(&shim_g.lost_epfd, fd);
	if (rc <= 0)
		return rc;
	rc = shim_notify_relocate(fd);
	if (rc <= 0)
		return rc;
	/* not the attachment's: one of an epoll instance's own fds */
	rc = shim_epoll_relocate(fd);
	return rc < 0 ? rc : 0;
}
