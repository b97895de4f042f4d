/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The control socket server (see ctl.h). Slow path only: it runs from the loop's
 * epoll set, never per packet. Every message is checked (size, magic, version)
 * before anything is created for it; the peer's pid comes from SO_PEERCRED, not
 * from what it claims.
 */
#include <errno.h>
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
#include "dp.h"

struct dp_ctl {
	struct loop_src listen_src;
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
	free(ctl);
	ctx->ctl = NULL;
}

static void ctl_accept(struct dp_ctx *ctx, struct dp_ctl *ctl)
{
	struct loop_src *pending;
	int fd;

	for (;;) {
		fd = accept4(ctl->listen_src.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or a transient error the next event retries */
		pending = calloc(1, sizeof(*pending));
		if (pending == NULL) {
			close(fd);
			continue;
		}
		pending->kind = LOOP_SRC_PENDING;
		pending->fd = fd;
		if (loop_watch(ctx, pending, EPOLLIN | EPOLLRDHUP) < 0) {
			close(fd);
			free(pending);
		}
	}
}

/* Send the welcome and the fds. Returns 0 or -errno. */
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
	struct cmsghdr *cm;
	int fds[SHUNT_CTL_NFDS];
	unsigned i;

	memset(&w, 0, sizeof(w));
	w.magic = SHUNT_ABI_MAGIC;
	w.version = SHUNT_ABI_VERSION;
	w.op = SHUNT_CTL_WELCOME;
	w.status = status;
	if (status == 0) {
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
		for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
			fds[SHUNT_CTL_FD_WAIT0 + i] = app->wait_fd[i];
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(w))
		return -errno;
	return 0;
}

/* A pending connection spoke (or hung up): attach it or drop it. */
static void ctl_hello(struct dp_ctx *ctx, struct loop_src *pending)
{
	struct shunt_ctl_hello h;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct dp_app *app = NULL;
	int fd = pending->fd;
	ssize_t n;
	int rc;

	n = recv(fd, &h, sizeof(h), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_unwatch(ctx, pending);
	free(pending);
	if (n != (ssize_t)sizeof(h) || h.magic != SHUNT_ABI_MAGIC || h.op != SHUNT_CTL_HELLO) {
		DP_WARN("control: dropped a connection with a malformed hello (%zd bytes)", n);
		goto drop;
	}
	if (h.version != SHUNT_ABI_VERSION) {
		DP_WARN("control: refused ABI version %u (this shuntd speaks %u)", h.version,
			SHUNT_ABI_VERSION);
		(void)ctl_send_welcome(ctx, fd, NULL, -EPROTONOSUPPORT);
		goto drop;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		cred.pid = (pid_t)h.pid;
	rc = app_create(ctx, fd, cred.pid, &app);
	if (rc < 0) {
		(void)ctl_send_welcome(ctx, fd, NULL, rc);
		goto drop;
	}
	rc = ctl_send_welcome(ctx, fd, app, 0);
	app->ctl_src.kind = LOOP_SRC_APP_CTL;
	app->ctl_src.fd = fd;
	app->ctl_src.obj = app;
	app->bell_src.kind = LOOP_SRC_DOORBELL;
	app->bell_src.fd = app->doorbell_fd;
	app->bell_src.obj = app;
	if (rc < 0 || loop_watch(ctx, &app->ctl_src, EPOLLIN | EPOLLRDHUP) < 0 ||
	    loop_watch(ctx, &app->bell_src, EPOLLIN) < 0) {
		/* freed by ctl_reap() at housekeeping, never inside this event batch,
		 * which may still hold events pointing at other apps */
		DP_WARN("control: pid %d: cannot complete the attach", (int)cred.pid);
		app->broken = true;
	}
	return;
drop:
	close(fd);
}

/* Anything on an attached app's control connection is its hang-up (the protocol
 * has nothing after the welcome) or a protocol violation: either way it detaches. */
static void ctl_app_event(struct dp_ctx *ctx, struct dp_app *app)
{
	char b[64];
	ssize_t n = recv(app->ctl_fd, b, sizeof(b), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		DP_WARN("pid %d: unexpected control message: detaching", (int)app->pid);
	loop_unwatch(ctx, &app->ctl_src);
	loop_unwatch(ctx, &app->bell_src);
	app_detach(ctx, app);
}

void ctl_event(struct dp_ctx *ctx, struct loop_src *src, uint32_t events)
{
	(void)events;
	switch (src->kind) {
	case LOOP_SRC_LISTEN:
		ctl_accept(ctx, src->obj);
		break;
	case LOOP_SRC_PENDING:
		ctl_hello(ctx, src);
		break;
	case LOOP_SRC_APP_CTL:
		ctl_app_event(ctx, src->obj);
		break;
	default:
		break;
	}
}

void ctl_reap(struct dp_ctx *ctx)
{
	struct dp_app *app, *next;

	for (app = ctx->apps->list; app != NULL; app = next) {
		next = app->next;
		if (!app_reapable(app))
			continue;
		if (!app->gone) {
			loop_unwatch(ctx, &app->ctl_src);
			loop_unwatch(ctx, &app->bell_src);
		}
		app_destroy(ctx, app);
	}
}
