/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The control socket server (see ctl.h). Slow path only: it runs from the loop's
 * epoll set, never per packet. Every message is checked (size, magic, op, version
 * range) before anything is created for it; the peer's pid comes from SO_PEERCRED,
 * not from what it claims. Every socket here is non-blocking (accept4 with
 * SOCK_NONBLOCK) and every call also says MSG_DONTWAIT: a process that stops
 * reading can never stall the dataplane, it only loses its answers (counted).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <shunt/ctl.h>

#include "core/app.h"
#include "core/ctl.h"
#include "core/log.h"
#include "core/relay.h"
#include "dp.h"

/* An accepted connection before its first message (a hello or a JOIN). Freed by
 * ctl_reap(), never inside an event batch that may still hold its event. */
struct ctl_pending {
	struct loop_src src;
	struct ctl_pending *next;
	bool done;                 /* spoke or hung up: src is unwatched, fd passed on */
};

struct dp_ctl {
	struct loop_src listen_src;
	struct ctl_pending *pending;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Create the parent directory of path (one level, as /run/shunt). */
static void ctl_mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	(void)mkdir(dir, 0755);
}

int ctl_open(struct dp_ctx *ctx)
{
	struct sockaddr_un sun;
	struct dp_ctl *ctl;
	int fd, rc;

	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return -ENOMEM;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", ctx->conf->control);
	snprintf(ctl->path, sizeof(ctl->path), "%s", ctx->conf->control);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_errno;
	/* A live shuntd on the path keeps it; a stale file from a crash is replaced. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		DP_ERR("another shuntd is serving %s", ctl->path);
		close(fd);
		free(ctl);
		return -EADDRINUSE;
	}
	close(fd);
	ctl_mkdir_parent(ctl->path);
	(void)unlink(ctl->path);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
		goto fail;
	}
	/* Any local user may attach, as any user may open a kernel socket. */
	(void)chmod(ctl->path, 0666);
	ctl->listen_src.kind = LOOP_SRC_LISTEN;
	ctl->listen_src.fd = fd;
	ctl->listen_src.obj = ctl;
	rc = loop_watch(ctx, &ctl->listen_src, EPOLLIN);
	if (rc < 0) {
		close(fd);
		(void)unlink(ctl->path);
		goto fail;
	}
	ctx->ctl = ctl;
	return 0;

fail_errno:
	rc = -errno;
fail:
	DP_ERR("control socket %s: %s", ctl->path, strerror(-rc));
	free(ctl);
	return rc;
}

void ctl_close(struct dp_ctx *ctx)
{
	struct dp_ctl *ctl = ctx->ctl;

	if (ctl == NULL)
		return;
	loop_unwatch(ctx, &ctl->listen_src);
	close(ctl->listen_src.fd);
	(void)unlink(ctl->path);
	while (ctl->pending != NULL) {
		struct ctl_pending *p = ctl->pending;

		ctl->pending = p->next;
		if (!p->done)
			close(p->src.fd);
		free(p);
	}
	free(ctl);
	ctx->ctl = NULL;
}

static void ctl_accept(struct dp_ctx *ctx, struct dp_ctl *ctl)
{
	struct ctl_pending *p;
	int fd;

	for (;;) {
		fd = accept4(ctl->listen_src.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or a transient error the next event retries */
		p = calloc(1, sizeof(*p));
		if (p == NULL) {
			close(fd);
			continue;
		}
		p->src.kind = LOOP_SRC_PENDING;
		p->src.fd = fd;
		p->src.obj = p;
		if (loop_watch(ctx, &p->src, EPOLLIN | EPOLLRDHUP) < 0) {
			close(fd);
			free(p);
			continue;
		}
		p->next = ctl->pending;
		ctl->pending = p;
	}
}

/* Send the welcome: on success (status 0) with the agreed version and features and
 * the region's fds; on refusal with the dataplane's own range and features and no
 * fds. Returns 0 or -errno. */
static int ctl_send_welcome(struct dp_ctx *ctx, int fd, const struct dp_app *app, int status)
{
	const struct dp_conf *conf = ctx->conf;
	struct shunt_ctl_welcome w;
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHUNT_CTL_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[SHUNT_CTL_NFDS];
	unsigned i;

	memset(&w, 0, sizeof(w));
	w.magic = SHUNT_ABI_MAGIC;
	w.op = SHUNT_CTL_WELCOME;
	w.status = status;
	w.version = SHUNT_ABI_VERSION;
	w.version_min = SHUNT_ABI_VERSION_MIN;
	w.features = APP_FEATURES;
	if (status == 0) {
		w.version = app->version;
		w.features = app->features;
		w.region_size = app->size;
		w.nfds = SHUNT_CTL_NFDS;
		w.stack_ip = conf->ip_be;
		w.prefix_len = conf->prefix_len;
		w.n_offload = conf->n_offload;
		for (i = 0; i < conf->n_offload && i < SHUNT_CTL_MAX_OFFLOAD; i++) {
			w.offload[i].addr = conf->offload[i].addr_be;
			w.offload[i].mask = conf->offload[i].mask_be;
		}
		w.eph_lo = conf->eph_lo;
		w.eph_hi = conf->eph_hi;

		fds[SHUNT_CTL_FD_REGION] = app->memfd;
		fds[SHUNT_CTL_FD_DOORBELL] = app->doorbell_fd;
		shunt_ctl_put_fds(&msg, u.buf, sizeof(u.buf), fds, SHUNT_CTL_NFDS);
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(w))
		return -errno;
	return 0;
}

/* Agree on a version and features (ctl.h, "Negotiation"): the highest version both
 * speak, the features both know. Returns 0, or -EPROTONOSUPPORT when there is no
 * common version or a feature the shim requires is missing. */
static int ctl_negotiate(const struct shunt_ctl_hello *h, uint32_t *version,
			 uint32_t *features)
{
	uint32_t lo = h->version_min > SHUNT_ABI_VERSION_MIN ? h->version_min
							      : SHUNT_ABI_VERSION_MIN;
	uint32_t hi = h->version_max < SHUNT_ABI_VERSION ? h->version_max : SHUNT_ABI_VERSION;

	*version = hi;
	*features = h->features & APP_FEATURES;
	if (h->version_min > h->version_max || hi < lo)
		return -EPROTONOSUPPORT;
	if ((h->required & ~*features) != 0)
		return -EPROTONOSUPPORT;
	return 0;
}

/* The hello of ABI version 1 (16 bytes: magic, version, op, pid): recognised only
 * to refuse it with a clear line in the log. */
#define CTL_HELLO_V1_SIZE 16

/* Watch a member's control connection. Returns 0 or -errno. */
static int ctl_watch_member(struct dp_ctx *ctx, struct dp_member *m)
{
	m->ctl_src.kind = LOOP_SRC_APP_CTL;
	m->ctl_src.fd = m->ctl_fd;
	m->ctl_src.obj = m;
	return loop_watch(ctx, &m->ctl_src, EPOLLIN | EPOLLRDHUP);
}

/* A JOIN (ctl.h) on fd from pid: the process becomes a member of the region it
 * names. Refused by closing the connection: the process notices as when shuntd
 * goes away, and the member it claimed is given back when its claimer leaves. */
static void ctl_join(struct dp_ctx *ctx, int fd, pid_t pid, const struct shunt_ctl_join *j)
{
	struct dp_member *m;
	struct dp_app *app;
	const char *why = "no region has that key";

	app = app_find_key(ctx, j->key);
	if (app == NULL || (m = app_member_join(app, j->member, fd, pid, &why)) == NULL) {
		DP_WARN("control: pid %d: JOIN as member %u refused: %s", (int)pid, j->member,
			why);
		close(fd);
		/* nobody will join with that bit now: give it back, unless it is live */
		if (app != NULL && j->member > 0 && j->member < SHUNT_MAX_MEMBERS &&
		    !(app->joined & (1ull << j->member)))
			__atomic_fetch_and(&app->r->members, ~(1ull << j->member),
					   __ATOMIC_RELEASE);
		return;
	}
	if (((j->flags & SHUNT_JOINF_FDS) && ctl_send_welcome(ctx, fd, app, 0) < 0) ||
	    ctl_watch_member(ctx, m) < 0) {
		/* an exec that failed closes the new image's connection at once */
		DP_INFO("control: pid %d: member %u left before its JOIN was answered",
			(int)pid, j->member);
		app_member_gone(ctx, app, m); /* as if it had hung up: its bits are swept */
	}
}

/* A pending connection spoke (or hung up): attach it, join it, or drop it. */
static void ctl_hello(struct dp_ctx *ctx, struct ctl_pending *pending)
{
	union {
		struct shunt_ctl_hello h;
		struct shunt_ctl_join j;
		char buf[256]; /* a later version's longer hello: its first fields count */
	} u;
	const struct shunt_ctl_hello *h = &u.h;
	uint32_t version, features;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct dp_app *app = NULL;
	int fd = pending->src.fd;
	ssize_t n;
	int rc;

	if (pending->done)
		return;
	memset(&u, 0, sizeof(u));
	n = recv(fd, u.buf, sizeof(u.buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_unwatch(ctx, &pending->src);
	pending->done = true; /* freed by ctl_reap(): this batch may hold its event */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		cred.pid = 0;
	if (n == CTL_HELLO_V1_SIZE && h->magic == SHUNT_ABI_MAGIC) {
		DP_WARN("control: pid %d speaks ABI version %u only (a 16-byte hello); this "
			"shuntd speaks %u..%u: refused", (int)cred.pid, u.h.op,
			SHUNT_ABI_VERSION_MIN, SHUNT_ABI_VERSION);
		(void)ctl_send_welcome(ctx, fd, NULL, -EPROTONOSUPPORT);
		goto drop;
	}
	if (n == (ssize_t)sizeof(u.j) && u.j.magic == SHUNT_ABI_MAGIC &&
	    u.j.op == SHUNT_CTL_JOIN) {
		ctl_join(ctx, fd, cred.pid, &u.j);
		return;
	}
	if (n < (ssize_t)sizeof(*h) || h->magic != SHUNT_ABI_MAGIC || h->op != SHUNT_CTL_HELLO) {
		DP_WARN("control: dropped a connection with a malformed hello (%zd bytes)", n);
		goto drop;
	}
	if (cred.pid == 0)
		cred.pid = (pid_t)h->pid;
	if (ctl_negotiate(h, &version, &features) < 0) {
		DP_WARN("control: pid %d refused: it speaks ABI %u..%u (features %#x, requires "
			"%#x), this shuntd speaks %u..%u (features %#x)", (int)cred.pid,
			h->version_min, h->version_max, h->features, h->required,
			SHUNT_ABI_VERSION_MIN, SHUNT_ABI_VERSION, APP_FEATURES);
		(void)ctl_send_welcome(ctx, fd, NULL, -EPROTONOSUPPORT);
		goto drop;
	}
	rc = app_create(ctx, fd, cred.pid, version, features, &app);
	if (rc < 0) {
		(void)ctl_send_welcome(ctx, fd, NULL, rc);
		goto drop;
	}
	rc = ctl_send_welcome(ctx, fd, app, 0);
	app->bell_src.kind = LOOP_SRC_DOORBELL;
	app->bell_src.fd = app->doorbell_fd;
	app->bell_src.obj = app;
	if (rc == 0)
		rc = ctl_watch_member(ctx, &app->members[0]);
	if (rc == 0)
		rc = loop_watch(ctx, &app->bell_src, EPOLLIN);
	if (rc < 0) {
		/* freed by ctl_reap() at housekeeping, never inside this event batch,
		 * which may still hold events pointing at other apps */
		DP_WARN("control: pid %d: cannot complete the attach: %s", (int)cred.pid,
			strerror(-rc));
		app->broken = true;
	}
	return;
drop:
	close(fd);
}

/* Take every connection waiting, and the first message of each: before the last
 * member of a region is declared gone, a JOIN it sent (a fork child's, sent
 * before fork() returned) must be seen, or the child's sockets would be closed
 * under it. Each such JOIN is in its connection's queue already. */
static void ctl_flush_pending(struct dp_ctx *ctx)
{
	struct dp_ctl *ctl = ctx->ctl;
	struct ctl_pending *p;

	ctl_accept(ctx, ctl);
	for (p = ctl->pending; p != NULL; p = p->next)
		ctl_hello(ctx, p);
}

#define CTL_MAX_FDS 8          /* fds accepted with one request (one is valid) */
#define CTL_REQUESTS_PER_EVENT 16 /* then the next event (level-triggered) goes on */

/* One NOTIFY_SET / NOTIFY_CLEAR request (n bytes at q, fds[nfds] that came with
 * it, all ours to keep or close): act on it and fill q->status. */
static void ctl_notify(struct dp_app *app, struct dp_member *m, struct shunt_ctl_notify *q,
		       ssize_t n, int *fds, int nfds)
{
	int i, keep = -1;

	if (n != (ssize_t)sizeof(*q) || q->magic != SHUNT_ABI_MAGIC) {
		app->stats.ctl_drop_bad++;
		if (n != (ssize_t)sizeof(*q))
			memset(q, 0, sizeof(*q));
		q->magic = SHUNT_ABI_MAGIC;
		q->status = -EINVAL;
		goto close_fds;
	}
	switch (q->op) {
	case SHUNT_CTL_NOTIFY_SET:
		if (nfds != 1) {
			app->stats.ctl_drop_bad++;
			q->status = -EBADF;
			break;
		}
		keep = 0;
		q->status = app_notifier_set(app, m, q->idx, fds[0]); /* takes fds[0] */
		if (q->status < 0)
			app->stats.ctl_drop_bad++;
		break;
	case SHUNT_CTL_NOTIFY_CLEAR:
		q->status = app_notifier_clear(app, m, q->idx);
		if (q->status < 0)
			app->stats.ctl_drop_bad++;
		break;
	default:
		app->stats.ctl_drop_bad++;
		q->status = -EINVAL;
		break;
	}
close_fds:
	for (i = 0; i < nfds; i++)
		if (i != keep)
			close(fds[i]);
}

/* A RELAY request (ctl.h) and the fds that came with it (one is the relay's end,
 * which relay_start() takes): act on it and fill q->status. */
static void ctl_relay(struct dp_ctx *ctx, struct dp_app *app, struct shunt_ctl_relay *q,
		      int *fds, int nfds)
{
	int i;

	if (nfds != 1 || !(app->features & SHUNT_FEAT_SHARE)) {
		app->stats.ctl_drop_bad++;
		q->status = nfds != 1 ? -EBADF : -EINVAL;
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		return;
	}
	q->status = relay_start(ctx, app, q->slot, q->gen, fds[0], q->flags);
	if (q->status < 0)
		app->stats.ctl_drop_bad++;
}

/* recv() returned 0: the peer hung up, or sent an empty message (SOCK_SEQPACKET
 * delivers those as 0 bytes too)? */
static bool ctl_hung_up(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	/* a failed poll says nothing: a real hang-up shows again at the next event */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Hang-up, or requests, on an attached app's control connection. Requests are
 * answered one by one; garbage gets an error answer, never a detach; the
 * connection closing (recv 0, or an error) is the process going away. */
static void ctl_app_event(struct dp_ctx *ctx, struct dp_member *m)
{
	struct dp_app *app = m->app;
	int k;

	if (!m->live)
		return; /* gone earlier in this event batch */
	for (k = 0; k < CTL_REQUESTS_PER_EVENT; k++) {
		union {
			struct shunt_ctl_notify q;
			struct shunt_ctl_relay r;
			char buf[64]; /* a longer message is garbage, seen as such */
		} u;
		union {
			char buf[CMSG_SPACE(sizeof(int) * CTL_MAX_FDS)];
			struct cmsghdr align;
		} c;
		struct iovec iov = {.iov_base = u.buf, .iov_len = sizeof(u.buf)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
				     .msg_controllen = sizeof(c.buf)};
		struct cmsghdr *cm;
		int fds[CTL_MAX_FDS], nfds = 0;
		ssize_t n;

		memset(&u, 0, sizeof(u));
		n = recvmsg(m->ctl_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			/* a reset: it went away with an answer unread (a welcome to an
			 * exec'd image without the shim), a hang-up like any other */
			if (errno != ECONNRESET)
				DP_WARN("pid %d: control connection: %s", (int)m->pid,
					strerror(errno));
			break;
		}
		if (n == 0 && ctl_hung_up(m->ctl_fd))
			break;
		/* Every fd that arrived is ours: the ones that did not fit were closed by
		 * the kernel (MSG_CTRUNC), the rest are kept or closed below. */
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t i, cnt;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < cnt; i++) {
				int f;

				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (nfds < CTL_MAX_FDS)
					fds[nfds++] = f;
				else
					close(f);
			}
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			n = -1; /* longer than any request: garbage */
		if (n == (ssize_t)sizeof(u.r) && u.r.magic == SHUNT_ABI_MAGIC &&
		    u.r.op == SHUNT_CTL_RELAY) {
			ctl_relay(ctx, app, &u.r, fds, nfds);
			if (send(m->ctl_fd, &u.r, sizeof(u.r), MSG_DONTWAIT | MSG_NOSIGNAL) !=
			    (ssize_t)sizeof(u.r))
				app->stats.ctl_answer_lost++;
			continue;
		}
		ctl_notify(app, m, &u.q, n, fds, nfds);
		if (send(m->ctl_fd, &u.q, sizeof(u.q), MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(u.q))
			app->stats.ctl_answer_lost++;
	}
	if (k == CTL_REQUESTS_PER_EVENT)
		return; /* more next time: the epoll set is level-triggered */
	loop_unwatch(ctx, &m->ctl_src);
	if (app->joined == 1ull << m->idx) {
		ctl_flush_pending(ctx); /* a JOIN for this region may be waiting */
		if (app->joined == 1ull << m->idx)
			loop_unwatch(ctx, &app->bell_src);
	}
	app_member_gone(ctx, app, m);
}

void ctl_event(struct dp_ctx *ctx, struct loop_src *src, uint32_t events)
{
	switch (src->kind) {
	case LOOP_SRC_LISTEN:
		ctl_accept(ctx, src->obj);
		break;
	case LOOP_SRC_PENDING:
		ctl_hello(ctx, src->obj);
		break;
	case LOOP_SRC_APP_CTL:
		ctl_app_event(ctx, src->obj); /* a struct dp_member */
		break;
	case LOOP_SRC_RELAY:
		relay_event(ctx, src->obj, events);
		break;
	default:
		break;
	}
}

void ctl_reap(struct dp_ctx *ctx)
{
	struct ctl_pending **pp = ctx->ctl != NULL ? &ctx->ctl->pending : NULL, *p;
	struct dp_app *app, *next;

	relays_reap(ctx);
	while (pp != NULL && (p = *pp) != NULL) {
		if (p->done) {
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
	for (app = ctx->apps->list; app != NULL; app = next) {
		next = app->next;
		if (!app_reapable(app))
			continue;
		if (!app->gone) {
			uint32_t j;

			for (j = 0; j < SHUNT_MAX_MEMBERS; j++)
				if (app->members[j].live)
					loop_unwatch(ctx, &app->members[j].ctl_src);
			loop_unwatch(ctx, &app->bell_src);
		}
		app_destroy(ctx, app);
	}
}
