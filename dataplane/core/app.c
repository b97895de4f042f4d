/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Attached processes (see app.h).
 *
 *   app_create(): memfd -> size -> seal -> mmap -> header, channels, free ring
 *                 (every slot pushed), sockets FREE -> eventfds
 *   apps_poll() -> app_poll_channel() -> shunt_chan_pop() -> app_cmd() -> tcp_*()
 *                                                          -> app_reply() (SYNC)
 *   dp_sock_event() -> dp_app_wake_later() ... apps_wake() -> write(wait eventfd)
 *   tcp done with a closed socket -> dp_sock_pcb_done() -> dp_app_release_slot()
 *
 * Everything read from the region is checked: slot numbers against the private
 * nsocks, ring indices by ring.h, socket state against the dataplane's own copy.
 * A process that corrupts a ring is marked broken and detached; one that sends a
 * bad command only gets it counted (and, if synchronous, answered with an error).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shunt/ring.h>

#include "core/app.h"
#include "core/log.h"
#include "dp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define APP_CMD_BURST 64 /* commands per channel per loop iteration */
#define APP_PAGE 4096ul

static size_t app_align(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t app_pow2(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

int apps_init(struct dp_ctx *ctx)
{
	ctx->apps = calloc(1, sizeof(*ctx->apps));
	return ctx->apps == NULL ? -ENOMEM : 0;
}

void apps_fini(struct dp_ctx *ctx)
{
	if (ctx->apps == NULL)
		return;
	while (ctx->apps->list != NULL)
		app_destroy(ctx, ctx->apps->list);
	free(ctx->apps);
	ctx->apps = NULL;
}

/* Lay out and initialise a fresh region of the geometry in app. */
static void app_region_init(struct dp_app *app, size_t chan_off, size_t free_off,
			    size_t socks_off, size_t bufs_off)
{
	struct shunt_region *r = app->r;
	struct shunt_free_ring *fr;
	uint32_t i;

	r->magic = SHUNT_ABI_MAGIC;
	r->version = SHUNT_ABI_VERSION;
	r->region_size = app->size;
	r->nsocks = app->nsocks;
	r->rx_buf_size = app->rx_size;
	r->tx_buf_size = app->tx_size;
	r->nchannels = app->nchannels;
	r->free_ring_size = app->free_size;
	r->chan_off = chan_off;
	r->free_off = free_off;
	r->socks_off = socks_off;
	r->bufs_off = bufs_off;
	r->dp_epoch = (uint32_t)getpid();

	/* The only time the dataplane follows the region's offsets: while it alone has
	 * the mapping. From here on the app can rewrite them. */
	for (i = 0; i < app->nchannels; i++)
		app->chan[i] = shunt_region_channel(r, i);
	app->free_ring = shunt_region_free(r);

	/* A new memfd reads as zeroes: rings empty, sockets FREE, slots unarmed. */
	fr = app->free_ring;
	for (i = 0; i < app->nsocks; i++)
		(void)shunt_free_push(fr, app->free_size, &app->free_prod, i);

	for (i = 0; i < app->nsocks; i++) {
		struct dp_sock *s = &app->socks[i];

		s->app = app;
		s->idx = i;
		s->sh = shunt_region_sock(r, i);
		s->rx_buf = shunt_region_rxbuf(r, i);
		s->tx_buf = shunt_region_txbuf(r, i);
		s->rx_size = app->rx_size;
		s->tx_size = app->tx_size;
		s->state = SHUNT_SS_FREE;
	}
}

/* Release what app_create() made; app is not (or no longer) on any list. */
static void app_free(struct dp_app *app)
{
	int i;

	if (app->r != NULL)
		munmap(app->r, app->size);
	if (app->memfd >= 0)
		close(app->memfd);
	if (app->doorbell_fd >= 0)
		close(app->doorbell_fd);
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
		if (app->wait_fd[i] >= 0)
			close(app->wait_fd[i]);
	if (app->ctl_fd >= 0)
		close(app->ctl_fd);
	free(app->socks);
	free(app);
}

int app_create(struct dp_ctx *ctx, int ctl_fd, pid_t pid, struct dp_app **out)
{
	const struct dp_conf *conf = ctx->conf;
	struct dp_app *app;
	size_t chan_off, free_off, socks_off, bufs_off;
	int i, rc = -ENOMEM;

	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return -ENOMEM;
	app->ctl_fd = ctl_fd;
	app->pid = pid;
	app->memfd = app->doorbell_fd = -1;
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
		app->wait_fd[i] = -1;
	app->nsocks = conf->max_sockets;
	app->rx_size = conf->rx_buf;
	app->tx_size = conf->tx_buf;
	app->nchannels = 1;
	app->free_size = app_pow2(app->nsocks);

	chan_off = app_align(sizeof(struct shunt_region), APP_PAGE);
	free_off = app_align(chan_off + app->nchannels * sizeof(struct shunt_channel), APP_PAGE);
	socks_off = app_align(free_off + sizeof(struct shunt_free_ring) +
			      app->free_size * sizeof(uint32_t), APP_PAGE);
	bufs_off = app_align(socks_off + app->nsocks * sizeof(struct shunt_sock), APP_PAGE);
	app->size = bufs_off + (size_t)app->nsocks * (app->rx_size + app->tx_size);

	app->socks = calloc(app->nsocks, sizeof(*app->socks));
	if (app->socks == NULL)
		goto fail;

	app->memfd = memfd_create("shunt-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (app->memfd < 0 || ftruncate(app->memfd, (off_t)app->size) < 0)
		goto fail_errno;
	/* Sealed: the process can neither shrink the region under us (SIGBUS in the
	 * dataplane) nor grow it. */
	if (fcntl(app->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail_errno;
	app->r = mmap(NULL, app->size, PROT_READ | PROT_WRITE, MAP_SHARED, app->memfd, 0);
	if (app->r == MAP_FAILED) {
		app->r = NULL;
		goto fail_errno;
	}
	app->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (app->doorbell_fd < 0)
		goto fail_errno;
	/* Blocking for the reader: the shim's blocking read() is how it sleeps. A write
	 * only blocks at a counter of 2^64 - 2, which one-per-wake never reaches. */
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++) {
		app->wait_fd[i] = eventfd(0, EFD_CLOEXEC);
		if (app->wait_fd[i] < 0)
			goto fail_errno;
	}
	app_region_init(app, chan_off, free_off, socks_off, bufs_off);

	app->next = ctx->apps->list;
	ctx->apps->list = app;
	ctx->apps->count++;
	*out = app;
	DP_INFO("attached pid %d: %u sockets, %zu MiB region", (int)pid, app->nsocks,
		app->size >> 20);
	return 0;

fail_errno:
	rc = -errno;
fail:
	DP_ERR("cannot attach pid %d: %s", (int)pid, strerror(-rc));
	app->ctl_fd = -1; /* the caller owns it on failure */
	app_free(app);
	return rc;
}


/* What each socket type does with a command. A NULL entry means the command has no
 * meaning for the type and succeeds without effect (the shim answers for it). */
struct app_proto {
	int (*open)(struct dp_ctx *, struct dp_sock *);
	int (*bind)(struct dp_ctx *, struct dp_sock *, uint32_t, uint16_t, uint32_t);
	int (*connect)(struct dp_ctx *, struct dp_sock *, uint32_t, uint16_t);
	int (*disconnect)(struct dp_ctx *, struct dp_sock *);
	void (*send)(struct dp_ctx *, struct dp_sock *);
	void (*recvd)(struct dp_ctx *, struct dp_sock *);
	int (*shutdown)(struct dp_ctx *, struct dp_sock *, int);
	void (*close)(struct dp_ctx *, struct dp_sock *);
	int (*setopt)(struct dp_ctx *, struct dp_sock *, uint32_t, uint64_t);
	void (*abort)(struct dp_ctx *, struct dp_sock *);
};

static const struct app_proto app_protos[] = {
	[SHUNT_SOCK_STREAM] = {
		.open = tcp_open, .bind = tcp_bind, .connect = tcp_connect,
		.disconnect = tcp_app_disconnect, .send = tcp_app_send,
		.recvd = tcp_app_recvd, .shutdown = tcp_app_shutdown,
		.close = tcp_app_close, .setopt = tcp_app_setopt, .abort = tcp_app_abort,
	},
	[SHUNT_SOCK_DGRAM] = {
		.open = udp_open, .bind = udp_bind, .connect = udp_connect,
		.disconnect = udp_disconnect, .send = udp_app_send,
		.close = udp_app_close, .setopt = udp_app_setopt, .abort = udp_app_close,
	},
};

static const struct app_proto *app_proto_of(const struct dp_sock *s)
{
	return &app_protos[s->type];
}

void app_detach(struct dp_ctx *ctx, struct dp_app *app)
{
	uint32_t i;

	app->gone = true;
	for (i = 0; i < app->nsocks; i++) {
		struct dp_sock *s = &app->socks[i];

		if (s->state == SHUNT_SS_FREE || s->app_closed)
			continue;
		s->app_closed = true;
		if (s->pcb != NULL)
			app_proto_of(s)->close(ctx, s);
		if (s->pcb == NULL && s->state != SHUNT_SS_FREE)
			dp_app_release_slot(ctx, app, s);
	}
	DP_INFO("pid %d hung up: %u socket(s) finishing", (int)app->pid, app->live);
}

bool app_reapable(const struct dp_app *app)
{
	return app->broken || (app->gone && app->live == 0);
}

void app_destroy(struct dp_ctx *ctx, struct dp_app *app)
{
	struct dp_app **pp;
	uint32_t i;

	/* Every connection still held goes: the peer gets a RST, as when a process
	 * dies with open sockets and the kernel has unread data (it is the only safe
	 * choice: nobody will read or write again). */
	for (i = 0; i < app->nsocks; i++) {
		struct dp_sock *s = &app->socks[i];

		if (s->pcb != NULL)
			app_proto_of(s)->abort(ctx, s);
		s->pcb = NULL;
	}
	for (pp = &ctx->apps->list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == app) {
			*pp = app->next;
			ctx->apps->count--;
			break;
		}
	}
	for (pp = &ctx->apps->wake_list; *pp != NULL; pp = &(*pp)->wake_next) {
		if (*pp == app) {
			*pp = app->wake_next;
			break;
		}
	}
	DP_INFO("freed pid %d's region%s: %llu commands, refused %llu (bad op %llu, bad "
		"socket %llu, not open %llu, busy %llu)", (int)app->pid,
		app->broken ? " (it corrupted the region)" : "",
		(unsigned long long)app->stats.cmd_rx,
		(unsigned long long)(app->stats.cmd_drop_bad_op + app->stats.cmd_drop_bad_sock +
				     app->stats.cmd_drop_not_open + app->stats.cmd_drop_busy),
		(unsigned long long)app->stats.cmd_drop_bad_op,
		(unsigned long long)app->stats.cmd_drop_bad_sock,
		(unsigned long long)app->stats.cmd_drop_not_open,
		(unsigned long long)app->stats.cmd_drop_busy);
	app_free(app);
}

void dp_app_wake_later(struct dp_ctx *ctx, struct dp_app *app)
{
	if (app->wake_pending)
		return;
	app->wake_pending = true;
	app->wake_next = ctx->apps->wake_list;
	ctx->apps->wake_list = app;
}

void dp_app_release_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	s->app_closed = false;
	s->broken = false;
	s->pcb = NULL;
	dp_sock_set_state(ctx, s, SHUNT_SS_FREE);
	app->stats.slots_released++;
	app->live--;
	if (shunt_free_push(app->free_ring, app->free_size, &app->free_prod,
			    s->idx) < 0) {
		app->stats.ring_broken++;
		app->broken = true;
	}
}

/* OPEN: the slot becomes a socket of the given type with fresh rings. */
static int app_sock_open(struct dp_ctx *ctx, struct dp_sock *s, uint32_t type)
{
	struct shunt_sock *sh = s->sh;

	if (type != SHUNT_SOCK_STREAM && type != SHUNT_SOCK_DGRAM)
		return -EPROTONOSUPPORT;
	s->type = type;
	s->flags = 0;
	s->rx_prod = 0;
	s->tx_cons = 0;
	s->rcvbuf = 0;
	s->sndbuf = 0;
	s->app_closed = false;
	s->broken = false;
	sh->type = type;
	sh->flags = 0;
	sh->rx_prod = 0;
	sh->tx_cons = 0;
	memset(&sh->local, 0, sizeof(sh->local));
	memset(&sh->remote, 0, sizeof(sh->remote));
	sh->mss = sh->srtt_us = sh->rttvar_us = sh->rto_us = sh->snd_cwnd = sh->retrans = 0;
	s->state = SHUNT_SS_CLOSED;
	sh->state = SHUNT_SS_CLOSED;
	return app_proto_of(s)->open(ctx, s);
}

static void app_reply(struct dp_ctx *ctx, struct dp_sock *s, uint32_t seq, int result)
{
	s->sh->done_result = result;
	/* release: a shim that acquires done_seq == seq sees done_result */
	SHUNT_STORE_REL(&s->sh->done_seq, seq);
	dp_sock_event(ctx, s);
}

static void app_cmd(struct dp_ctx *ctx, struct dp_app *app, const struct shunt_cmd *c)
{
	const struct app_proto *proto;
	struct dp_sock *s;
	int rc = 0;

	app->stats.cmd_rx++;
	if (c->sock >= app->nsocks) {
		app->stats.cmd_drop_bad_sock++;
		return; /* no socket to answer in */
	}
	s = &app->socks[c->sock];
	if (c->op == SHUNT_CMD_OPEN) {
		if (s->state != SHUNT_SS_FREE) {
			app->stats.cmd_drop_busy++;
			rc = -EBUSY;
		} else {
			rc = app_sock_open(ctx, s, c->arg);
			if (rc < 0) {
				s->state = SHUNT_SS_FREE;
				s->sh->state = SHUNT_SS_FREE;
			} else {
				app->live++;
			}
		}
		goto reply;
	}
	if (s->state == SHUNT_SS_FREE || s->app_closed) {
		app->stats.cmd_drop_not_open++;
		rc = -EBADF;
		goto reply;
	}
	proto = app_proto_of(s);
	if (s->pcb == NULL && c->op != SHUNT_CMD_CLOSE) {
		/* only after a failed re-open: the socket can only be closed */
		app->stats.cmd_drop_not_open++;
		rc = -EBADF;
		goto reply;
	}
	/* A socket whose app wrote an impossible ring index (s->broken) is reset by
	 * its protocol, which reports it once (tcp_app_broken, udp_app_broken). */
	switch (c->op) {
	case SHUNT_CMD_BIND:
		rc = proto->bind(ctx, s, c->addr.addr, c->addr.port, c->arg);
		break;
	case SHUNT_CMD_CONNECT:
		rc = proto->connect(ctx, s, c->addr.addr, c->addr.port);
		break;
	case SHUNT_CMD_DISCONNECT:
		rc = proto->disconnect(ctx, s);
		break;
	case SHUNT_CMD_SEND:
		proto->send(ctx, s);
		break;
	case SHUNT_CMD_RECVD:
		if (proto->recvd != NULL)
			proto->recvd(ctx, s);
		break;
	case SHUNT_CMD_SHUTDOWN:
		if (proto->shutdown != NULL)
			rc = proto->shutdown(ctx, s, (int)c->arg);
		break;
	case SHUNT_CMD_SETOPT:
		rc = proto->setopt(ctx, s, c->arg, c->value);
		break;
	case SHUNT_CMD_CLOSE:
		s->app_closed = true;
		if (s->pcb != NULL)
			proto->close(ctx, s); /* releases via dp_sock_pcb_done() when done */
		if (s->pcb == NULL && s->state != SHUNT_SS_FREE)
			dp_app_release_slot(ctx, app, s);
		return; /* the app forgot the socket: nothing to answer */
	case SHUNT_CMD_NOP:
		break;
	default:
		app->stats.cmd_drop_bad_op++;
		rc = -EINVAL;
		break;
	}
reply:
	if (c->flags & SHUNT_CMDF_SYNC)
		app_reply(ctx, s, c->seq, rc);
}

static unsigned app_poll(struct dp_ctx *ctx, struct dp_app *app)
{
	struct shunt_cmd cmds[APP_CMD_BURST];
	unsigned total = 0;
	uint32_t ch;
	int n, i;

	for (ch = 0; ch < app->nchannels; ch++) {
		n = shunt_chan_pop(app->chan[ch], &app->chan_cons[ch], cmds,
				   APP_CMD_BURST);
		if (n < 0) {
			app->stats.ring_broken++;
			app->broken = true;
			return total;
		}
		/* seq_cst: our cons store before our reads of tx_prod in the commands,
		 * pairing with the shim's fence between publishing tx_prod and reading
		 * cons to decide that a SEND is still queued (so it may skip another):
		 * either it sees the SEND consumed, or we see its new bytes. */
		if (n > 0)
			atomic_thread_fence(memory_order_seq_cst);
		for (i = 0; i < n; i++)
			app_cmd(ctx, app, &cmds[i]);
		total += (unsigned)n;
	}
	return total;
}

unsigned apps_poll(struct dp_ctx *ctx)
{
	struct dp_app *app;
	unsigned n = 0;

	for (app = ctx->apps->list; app != NULL; app = app->next)
		if (!app->broken && !app->gone)
			n += app_poll(ctx, app);
	return n;
}

void apps_wake(struct dp_ctx *ctx)
{
	struct dp_app *app = ctx->apps->wake_list;
	static const uint64_t one = 1;
	unsigned i;

	if (app == NULL)
		return;
	/* seq_cst: orders our ev_seq stores before the armed_seq loads, pairing with
	 * the shim's fence between arming and re-checking (abi.h, wait slots). */
	atomic_thread_fence(memory_order_seq_cst);
	for (; app != NULL; app = app->wake_next) {
		app->wake_pending = false;
		if (app->gone)
			continue; /* nobody left to wake */
		for (i = 0; i < SHUNT_WAIT_SLOTS; i++) {
			uint32_t armed = SHUNT_LOAD_ACQ(&app->r->wait[i].armed_seq);

			if (armed == app->woken[i])
				continue;
			app->woken[i] = armed;
			SHUNT_STORE_REL(&app->r->wait[i].woken_seq, armed);
			if (write(app->wait_fd[i], &one, sizeof(one)) == sizeof(one))
				app->stats.wakeups++;
		}
	}
	ctx->apps->wake_list = NULL;
}

bool apps_prepare_sleep(struct dp_ctx *ctx)
{
	struct dp_app *app;
	uint32_t ch;

	for (app = ctx->apps->list; app != NULL; app = app->next)
		SHUNT_STORE_REL(&app->r->dp_sleeping, 1);
	/* seq_cst: our dp_sleeping stores before our reads of the producers' indices,
	 * pairing with the shim's fence between its push and its dp_sleeping check. */
	atomic_thread_fence(memory_order_seq_cst);
	for (app = ctx->apps->list; app != NULL; app = app->next) {
		if (app->broken)
			return false;
		if (app->gone)
			continue;
		for (ch = 0; ch < app->nchannels; ch++)
			if (!shunt_chan_empty(app->chan[ch], app->chan_cons[ch]))
				return false;
	}
	return true;
}

void apps_end_sleep(struct dp_ctx *ctx)
{
	struct dp_app *app;
	uint64_t v;

	for (app = ctx->apps->list; app != NULL; app = app->next) {
		if (app->gone)
			continue;
		SHUNT_STORE_REL(&app->r->dp_sleeping, 0);
		/* drain the doorbell; its count means nothing beyond "look" */
		if (read(app->doorbell_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			app->broken = true;
	}
}

void apps_dump(struct dp_ctx *ctx, FILE *f)
{
	struct dp_app *app;

	if (ctx->apps == NULL)
		return; /* at exit, after apps_fini() */
	for (app = ctx->apps->list; app != NULL; app = app->next) {
		const struct app_stats *s = &app->stats;
		uint32_t i, open = 0;

		for (i = 0; i < app->nsocks; i++)
			open += app->socks[i].state != SHUNT_SS_FREE;
		fprintf(f, "app pid %d: %u/%u sockets in use\n", (int)app->pid, open, app->nsocks);
		APP_STATS(DP_STAT_PRINT)
	}
}
