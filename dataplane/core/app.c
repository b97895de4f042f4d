/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Attached processes (see app.h).
 *
 *   app_create(): memfd -> ftruncate (sparse) -> seal -> mmap -> control block only
 *   apps_poll() -> app_poll() -> per live member, shunt_chan_pop() per channel of
 *     its range in use (chan_hint[m])
 *     -> app_cmd() -> OPEN: app_open() (slot from the free stack, gen bumped)
 *                  -> others: (slot, gen) checked -> tcp_*() / udp_*()
 *   tcp listener, SYN -> dp_app_sock_spawn() (a slot as OPEN makes, no reply; the
 *     accept record in the listener's rx ring names it)
 *     -> app_reply() (SYNC) -> channel reply, futex wake if it has sleepers
 *   dp_sock_event() -> dp_app_sock_changed() (dirty list)
 *     ... apps_wake() -> app_wake_sock(): futex on ev_seq, notify[] -> app_notify()
 *                     -> app_wake_notifiers(): seq, futex, byte on the wake socket
 *   tcp/udp done with a closed socket -> dp_sock_pcb_done() -> dp_app_release_slot()
 *     ... apps_housekeep() -> app_punch(): fallocate(PUNCH_HOLE) its rings
 *   a socket's event -> apps_wake() -> app_trim_enqueue() (once, while queued)
 *     ... apps_housekeep() -> app_trim(): idle a second since? punch its rings
 *
 * Memory follows use: a region reserves every slot's rings, but creation writes
 * only the control block, and the private per-slot arrays are calloc'd (lazily
 * zeroed) and written only when a slot is allocated; slots are handed out from a
 * LIFO of freed ones (pages already touched) before never-used ones, and the rings
 * of a slot free for APP_PUNCH_DELAY_US go back to the system.
 *
 * Everything read from the region is checked: slot numbers against the private
 * nsocks, generations against the private ones, ring indices by ring.h, notifier
 * indices against nnotifiers and the registered set. A process that corrupts a ring
 * is marked broken and detached; one that sends a bad command only gets it counted
 * (and, if synchronous, answered with an error).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shunt/futex.h>
#include <shunt/ring.h>

#include "core/app.h"
#include "core/log.h"
#include "core/relay.h"
#include "dp.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define APP_CMD_BURST 32   /* commands per channel per loop iteration */
#define APP_PUNCH_BUDGET 16 /* hole punches per housekeeping pass, all apps */
#define APP_TRIM_BUDGET  64      /* idle sockets trimmed per pass, all apps */
#define APP_TRIM_LOOKS   256     /* trim queue entries looked at per pass, all apps */
#define APP_PAGE 4096ul
#define APP_NONE UINT32_MAX

static size_t app_align(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Zeroed memory for a per-slot array: fresh anonymous pages, which cost nothing
 * until written (calloc would too, but not under MALLOC_PERTURB_ or other malloc
 * tuning, which zero every byte up front). NULL on failure. */
static void *app_lazy_zalloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void app_lazy_free(void *p, size_t len)
{
	if (p != NULL)
		munmap(p, len);
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

/* Write the control block of a fresh region and remember where everything is. The
 * rest of a new memfd reads as zeroes: channels empty, notifiers idle, sockets FREE
 * with generation 0, and it stays unbacked until someone writes it. */
static void app_region_init(struct dp_app *app, size_t chan_off, size_t notif_off,
			    size_t socks_off, size_t bufs_off)
{
	struct shunt_region *r = app->r;

	r->magic = SHUNT_ABI_MAGIC;
	r->version = app->version;
	r->features = app->features;
	r->nsocks = app->nsocks;
	r->region_size = app->size;
	r->nchannels = app->nchannels;
	r->nnotifiers = app->nnotifiers;
	r->rx_buf_size = app->rx_size;
	r->tx_buf_size = app->tx_size;
	r->chan_off = chan_off;
	r->notif_off = notif_off;
	r->socks_off = socks_off;
	r->bufs_off = bufs_off;
	r->chan_per_member = app->chan_per_member;
	r->notif_per_member = app->notif_per_member;
	r->join_key[0] = app->join_key[0];
	r->join_key[1] = app->join_key[1];
	r->members = 1; /* member 0: the process attaching */
	r->dp_epoch = (uint32_t)getpid();
	r->mem_avail = app->mem.bound ? app->mem.bound : UINT64_MAX;
	app->mem_avail_pub = r->mem_avail;

	/* The only time the dataplane follows the region's offsets: while it alone has
	 * the mapping. From here on the app can rewrite them. */
	app->chan = shunt_region_channel(r, 0);
	app->notif = shunt_region_notifier(r, 0);
	app->shsocks = shunt_region_sock(r, 0);
	app->bufs_off = bufs_off;
}

/* Release what app_create() made; app is not (or no longer) on any list. */
static void app_free(struct dp_app *app)
{
	uint32_t j;

	if (app->notifiers != NULL && app->reg_list != NULL)
		for (j = 0; j < app->nreg; j++)
			close(app->notifiers[app->reg_list[j]].fd);
	if (app->r != NULL)
		munmap(app->r, app->size);
	if (app->memfd >= 0)
		close(app->memfd);
	if (app->doorbell_fd >= 0)
		close(app->doorbell_fd);
	for (j = 0; j < SHUNT_MAX_MEMBERS; j++)
		if (app->members[j].live)
			close(app->members[j].ctl_fd);
	free(app->chan_cons);
	app_lazy_free(app->socks, (size_t)app->nsocks * sizeof(*app->socks));
	app_lazy_free(app->free_stack, (size_t)app->nsocks * sizeof(*app->free_stack));
	app_lazy_free(app->notifiers, (size_t)app->nnotifiers * sizeof(*app->notifiers));
	app_lazy_free(app->reg_list, (size_t)app->nnotifiers * sizeof(*app->reg_list));
	free(app);
}

int app_create(struct dp_ctx *ctx, int ctl_fd, pid_t pid, uint32_t version,
	       uint32_t features, struct dp_app **out)
{
	const struct dp_conf *conf = ctx->conf;
	struct dp_app *app;
	size_t chan_off, notif_off, socks_off, bufs_off;
	int rc = -ENOMEM;

	app = calloc(1, sizeof(*app));
	if (app == NULL)
		return -ENOMEM;
	app->pid = pid;
	app->memfd = app->doorbell_fd = -1;
	app->version = version;
	app->features = features;
	app->nsocks = conf->max_sockets;
	app->mem.bound = (uint64_t)conf->app_mem << 20;
	app->rx_size = conf->rx_buf;
	app->tx_size = conf->tx_buf;
	app->chan_per_member = APP_NCHANNELS;
	app->notif_per_member = APP_NNOTIFIERS;
	/* Sharing: room for every member; it costs address space only (the memfd is
	 * sparse, and the private arrays are zero pages until written) */
	if (features & SHUNT_FEAT_SHARE) {
		app->nchannels = APP_NCHANNELS * SHUNT_MAX_MEMBERS;
		app->nnotifiers = APP_NNOTIFIERS * SHUNT_MAX_MEMBERS;
	} else {
		app->nchannels = APP_NCHANNELS;
		app->nnotifiers = APP_NNOTIFIERS;
	}
	app->touched_head = APP_NONE;
	if (getrandom(app->join_key, sizeof(app->join_key), 0) != sizeof(app->join_key))
		goto fail_errno;

	chan_off = app_align(sizeof(struct shunt_region), APP_PAGE);
	notif_off = app_align(chan_off + app->nchannels * sizeof(struct shunt_channel), APP_PAGE);
	socks_off = app_align(notif_off + app->nnotifiers * sizeof(struct shunt_notifier),
			      APP_PAGE);
	bufs_off = app_align(socks_off + (size_t)app->nsocks * sizeof(struct shunt_sock),
			     APP_PAGE);
	app->size = bufs_off + (size_t)app->nsocks * (app->rx_size + app->tx_size);

	/* nothing is written per slot here: a dp_sock is initialised when its slot is
	 * allocated, the free stack filled as slots are freed */
	app->socks = app_lazy_zalloc((size_t)app->nsocks * sizeof(*app->socks));
	app->free_stack = app_lazy_zalloc((size_t)app->nsocks * sizeof(*app->free_stack));
	app->notifiers = app_lazy_zalloc((size_t)app->nnotifiers * sizeof(*app->notifiers));
	app->reg_list = app_lazy_zalloc((size_t)app->nnotifiers * sizeof(*app->reg_list));
	app->chan_cons = calloc(app->nchannels, sizeof(*app->chan_cons));
	if (app->socks == NULL || app->free_stack == NULL || app->notifiers == NULL ||
	    app->reg_list == NULL || app->chan_cons == NULL)
		goto fail;

	app->memfd = memfd_create("shunt-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (app->memfd < 0 || ftruncate(app->memfd, (off_t)app->size) < 0)
		goto fail_errno;
	/* Sealed: the process can neither shrink the region under us (SIGBUS in the
	 * dataplane) nor grow it. Punching holes stays possible (only F_SEAL_WRITE
	 * forbids it), and reads of a hole return zeroes. */
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
	app_region_init(app, chan_off, notif_off, socks_off, bufs_off);
	app->members[0] = (struct dp_member){ .app = app, .idx = 0, .live = true, .pid = pid,
					      .ctl_fd = ctl_fd };
	app->joined = 1;

	app->next = ctx->apps->list;
	ctx->apps->list = app;
	ctx->apps->count++;
	*out = app;
	DP_INFO("attached pid %d: ABI v%u, features %#x, %u sockets, %zu MiB region (sparse)",
		(int)pid, version, features, app->nsocks, app->size >> 20);
	return 0;

fail_errno:
	rc = -errno;
fail:
	DP_ERR("cannot attach pid %d: %s", (int)pid, strerror(-rc));
	app->members[0].live = false; /* the caller owns ctl_fd on failure */
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
	int (*listen)(struct dp_ctx *, struct dp_sock *, uint32_t); /* NULL: -EOPNOTSUPP */
};

static const struct app_proto app_protos[] = {
	[SHUNT_SOCK_STREAM] = {
		.open = tcp_open, .bind = tcp_bind, .connect = tcp_connect,
		.disconnect = tcp_app_disconnect, .send = tcp_app_send,
		.recvd = tcp_app_recvd, .shutdown = tcp_app_shutdown,
		.close = tcp_app_close, .setopt = tcp_app_setopt, .abort = tcp_app_abort,
		.listen = tcp_app_listen,
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

void dp_app_sock_send(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (s->type == SHUNT_SOCK_STREAM)
		tcp_app_more(s, false);
	app_proto_of(s)->send(ctx, s);
}

void dp_app_sock_recvd(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (app_proto_of(s)->recvd != NULL)
		app_proto_of(s)->recvd(ctx, s);
}

int dp_app_sock_shutdown(struct dp_ctx *ctx, struct dp_sock *s, int how)
{
	return app_proto_of(s)->shutdown != NULL ? app_proto_of(s)->shutdown(ctx, s, how) : 0;
}

/* Nobody holds s any more: close it as close() would (its protocol finishes the
 * connection and releases the slot via dp_sock_pcb_done(), or now). */
void dp_app_close_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	s->app_closed = true;
	if (s->pcb != NULL)
		app_proto_of(s)->close(ctx, s);
	if (s->pcb == NULL && s->state != SHUNT_SS_FREE)
		dp_app_release_slot(ctx, app, s);
}

void app_detach(struct dp_ctx *ctx, struct dp_app *app)
{
	uint32_t i;

	app->gone = true;
	for (i = 0; i < app->fresh; i++) { /* slots above fresh were never allocated */
		struct dp_sock *s = &app->socks[i];

		/* a relay holds it for whoever has the other end, shim or not */
		if (s->state == SHUNT_SS_FREE || s->app_closed || s->relay != NULL)
			continue;
		dp_app_close_slot(ctx, app, s);
	}
	DP_INFO("pid %d hung up: %u socket(s) finishing", (int)app->pid, app->live);
}

struct dp_app *app_find_key(struct dp_ctx *ctx, const uint64_t key[2])
{
	struct dp_app *app;

	for (app = ctx->apps->list; app != NULL; app = app->next)
		if (!app->gone && !app->broken && (app->features & SHUNT_FEAT_SHARE) &&
		    app->join_key[0] == key[0] && app->join_key[1] == key[1])
			return app;
	return NULL;
}

struct dp_member *app_member_join(struct dp_app *app, uint32_t idx, int ctl_fd, pid_t pid,
				  const char **why)
{
	struct dp_member *m;

	if (idx == 0 || idx >= SHUNT_MAX_MEMBERS) {
		*why = "no such member";
		return NULL;
	}
	if (app->joined & (1ull << idx)) {
		*why = "that member is live";
		return NULL;
	}
	/* relaxed: the claim was made before the JOIN was sent, and the connection
	 * ordered it before our read of the message */
	if (!(__atomic_load_n(&app->r->members, __ATOMIC_RELAXED) & (1ull << idx))) {
		*why = "that member was not claimed";
		return NULL;
	}
	/* The member's channels were emptied when its last user left (or are fresh):
	 * chan_cons is where that one stopped, and any command already pushed by
	 * the new member is after it. */
	m = &app->members[idx];
	*m = (struct dp_member){ .app = app, .idx = idx, .live = true, .pid = pid,
				 .ctl_fd = ctl_fd };
	app->joined |= 1ull << idx;
	app->stats.members_joined++;
	DP_INFO("pid %d's region: member %u joined (connection from pid %d)", (int)app->pid,
		idx, (int)pid);
	return m;
}

/* Member m is gone: clear its bit in every socket's holders; a socket that was
 * held by it alone is closed as by close(). Its notifiers' subscriptions go too.
 * The words are app-written: a lie can only close a socket of this region early,
 * or keep one until the region ends. */
static void app_member_sweep(struct dp_ctx *ctx, struct dp_app *app, uint32_t m)
{
	uint64_t bit = 1ull << m, old;
	uint32_t i, k, lo = m * app->notif_per_member + 1, hi = lo + app->notif_per_member;

	for (i = 0; i < app->fresh; i++) {
		struct dp_sock *s = &app->socks[i];
		struct shunt_sock *sh = &app->shsocks[i];

		if (s->state == SHUNT_SS_FREE || s->app_closed)
			continue;
		for (k = 0; k < SHUNT_SOCK_NOTIFY; k++) {
			uint32_t e = SHUNT_LOAD_RLX(&sh->notify[k]);

			if (e >= lo && e < hi) /* notifier index + 1: one of m's */
				(void)__atomic_compare_exchange_n(&sh->notify[k], &e, 0, false,
								  __ATOMIC_RELAXED,
								  __ATOMIC_RELAXED);
		}
		/* most sockets are not m's: a load, not a write to every slot's line */
		if (!(__atomic_load_n(&sh->holders, __ATOMIC_RELAXED) & bit))
			continue;
		/* seq_cst RMW: against the shim's own AND of its bit at close(), exactly
		 * one of us sees the last bit go and closes */
		old = __atomic_fetch_and(&sh->holders, ~bit, __ATOMIC_SEQ_CST);
		if ((old & bit) && (old & ~bit) == 0) {
			app->stats.member_closes++;
			dp_app_close_slot(ctx, app, s);
		}
	}
}

static void app_cmd(struct dp_ctx *ctx, struct dp_app *app, uint32_t ch,
		    const struct shunt_cmd *c);
static uint32_t app_chan_range(struct dp_app *app, struct dp_member *m);

/* Member m is gone: what it queued is still done (a CLOSE from its last close, a
 * SEND of its last bytes), as for a process that exits; an OPEN nobody will learn
 * of is not. At most a ring's worth per channel: a process that hung up but goes
 * on pushing gets no more. */
static void app_member_drain(struct dp_ctx *ctx, struct dp_app *app, struct dp_member *m)
{
	struct shunt_cmd cmds[APP_CMD_BURST];
	uint32_t base = m->idx * app->chan_per_member, nch = app_chan_range(app, m), ch;
	int n, i, total;

	for (ch = base; ch < base + nch && !app->broken; ch++) {
		for (total = 0; total < SHUNT_CMD_RING_SIZE; total += n) {
			n = shunt_chan_pop(&app->chan[ch], &app->chan_cons[ch], cmds, APP_CMD_BURST);
			if (n < 0) {
				app->stats.ring_broken++;
				app->broken = true;
			}
			if (n <= 0)
				break;
			SHUNT_FENCE(); /* as app_poll_member(): our cons before tx_prod reads */
			for (i = 0; i < n && !app->broken; i++)
				if (cmds[i].op != SHUNT_CMD_OPEN)
					app_cmd(ctx, app, ch, &cmds[i]);
		}
	}
}

void app_member_gone(struct dp_ctx *ctx, struct dp_app *app, struct dp_member *m)
{
	uint32_t j, ch, base = m->idx * app->chan_per_member;

	app_member_drain(ctx, app, m);
	m->live = false;
	close(m->ctl_fd);
	m->ctl_fd = -1;
	app->joined &= ~(1ull << m->idx);
	app->stats.members_gone++;
	/* its notifiers wake nobody now */
	for (j = 0; j < app->nreg;) {
		uint32_t idx = app->reg_list[j];

		if (app->notifiers[idx].member == m->idx)
			(void)app_notifier_clear(app, m, idx); /* moves the last entry to j */
		else
			j++;
	}
	if (app->joined == 0) {
		app_detach(ctx, app);
		return;
	}
	DP_INFO("pid %d (member %u of pid %d's region) hung up", (int)m->pid, m->idx,
		(int)app->pid);
	app_member_sweep(ctx, app, m->idx);
	/* What it left on its channels is dropped: a next member with this index
	 * starts on empty channels (app_member_join). */
	for (ch = base; ch < base + app->chan_per_member; ch++)
		app->chan_cons[ch] = SHUNT_LOAD_ACQ(&app->chan[ch].prod);
	/* the index may be claimed again, now that nothing of the old member is left */
	__atomic_fetch_and(&app->r->members, ~(1ull << m->idx), __ATOMIC_RELEASE);
}

bool app_reapable(const struct dp_app *app)
{
	return app->broken || (app->gone && app->live == 0);
}

void app_destroy(struct dp_ctx *ctx, struct dp_app *app)
{
	const struct app_stats *st = &app->stats;
	struct dp_sock **sp;
	struct dp_app **pp;
	uint32_t i;

	/* Every connection still held goes: the peer gets a RST, as when a process
	 * dies with open sockets and the kernel has unread data (it is the only safe
	 * choice: nobody will read or write again). */
	for (i = 0; i < app->fresh; i++) {
		struct dp_sock *s = &app->socks[i];

		relay_drop(ctx, s);
		if (s->pcb != NULL)
			app_proto_of(s)->abort(ctx, s);
		s->pcb = NULL;
	}
	/* nothing of this app may stay on the loop's lists: they outlive it */
	for (sp = &ctx->apps->dirty; *sp != NULL;) {
		if ((*sp)->app == app)
			*sp = (*sp)->dirty_next;
		else
			sp = &(*sp)->dirty_next;
	}
	for (pp = &ctx->apps->wake_list; *pp != NULL; pp = &(*pp)->wake_next) {
		if (*pp == app) {
			*pp = app->wake_next;
			break;
		}
	}
	for (pp = &ctx->apps->list; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == app) {
			*pp = app->next;
			ctx->apps->count--;
			break;
		}
	}
	DP_INFO("freed pid %d's region%s: %llu commands, refused %llu (bad op %llu, bad "
		"socket %llu, stale %llu, not open %llu, no slot %llu); %llu futex wakes, "
		"%llu notifier sends, %llu ready entries lost", (int)app->pid,
		app->broken ? " (it corrupted the region)" : "",
		(unsigned long long)st->cmd_rx,
		(unsigned long long)(st->cmd_drop_bad_op + st->cmd_drop_bad_sock +
				     st->cmd_drop_stale + st->cmd_drop_not_open +
				     st->open_nobufs),
		(unsigned long long)st->cmd_drop_bad_op,
		(unsigned long long)st->cmd_drop_bad_sock,
		(unsigned long long)st->cmd_drop_stale,
		(unsigned long long)st->cmd_drop_not_open,
		(unsigned long long)st->open_nobufs,
		(unsigned long long)st->futex_wakes,
		(unsigned long long)st->notify_sends,
		(unsigned long long)st->ready_lost);
	app_free(app);
}

/* ---- slots ------------------------------------------------------------------------ */

void dp_app_sock_changed(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	s->dirty_next = ctx->apps->dirty;
	ctx->apps->dirty = s;
}

/* Take a slot: the most recently freed one (its pages are likely still touched), or
 * the next never-used one. NULL when every slot is in use. */
static struct dp_sock *app_slot_take(struct dp_app *app)
{
	uint32_t i;

	if (app->nfree > 0)
		i = app->free_stack[--app->nfree];
	else if (app->fresh < app->nsocks)
		i = app->fresh++;
	else
		return NULL;
	return &app->socks[i];
}

/* Make slot i a fresh socket of type: a new generation, every [dp] field set, the
 * [app] indices adopted as they are now (abi.h, "A slot's life"). Published by the
 * caller's reply (reply.seq release) and by ev_seq. */
static void app_slot_init(struct dp_app *app, struct dp_sock *s, uint32_t type)
{
	uint32_t i = (uint32_t)(s - app->socks);
	struct shunt_sock *sh = &app->shsocks[i];
	uint64_t rx_off = app->bufs_off + (uint64_t)i * (app->rx_size + app->tx_size);

	s->app = app;
	s->idx = i;
	s->type = type;
	s->sh = sh;
	s->rx_buf = (uint8_t *)app->r + rx_off;
	s->tx_buf = s->rx_buf + app->rx_size;
	s->rx_size = app->rx_size;
	s->tx_size = app->tx_size;
	if (++s->gen == 0) /* never 0: a zero generation names no socket */
		s->gen = 1;
	s->pcb = NULL;
	s->relay = NULL;
	s->state = SHUNT_SS_CLOSED;
	s->flags = 0;
	/* The [app] indices, read once: untrusted start values. A lie shows later as
	 * an impossible index in dp_sock_rx_space()/dp_sock_tx_queued() and breaks
	 * only this socket. ev_seq runs on in our private copy. */
	s->rx_prod = SHUNT_LOAD_RLX(&sh->rx_cons);
	s->rx_hi = s->rx_prod;
	s->tx_cons = SHUNT_LOAD_RLX(&sh->tx_prod);
	s->err_seq = SHUNT_LOAD_RLX(&sh->err_seen);
	s->eq_seq = SHUNT_LOAD_RLX(&sh->eq_seen);
	s->rcvbuf = 0;
	s->sndbuf = 0;
	s->app_closed = false;
	s->broken = false;
	s->punched = false;
	s->mem = &app->mem;
	s->rx_acct = s->tx_acct = 0;

	sh->state = SHUNT_SS_CLOSED;
	sh->flags = 0;
	sh->error = 0;
	sh->err_seq = s->err_seq;
	sh->gen = s->gen;
	sh->type = type;
	sh->cc = SHUNT_CC_NONE; /* TCP sets it (tcp_cc_select) */
	memset(&sh->local, 0, sizeof(sh->local));
	memset(&sh->remote, 0, sizeof(sh->remote));
	sh->mss = sh->srtt_us = sh->rttvar_us = sh->rto_us = sh->snd_cwnd = sh->retrans = 0;
	sh->rx_off = rx_off;
	sh->tx_off = rx_off + app->rx_size;
	sh->rx_size = app->rx_size;
	sh->tx_size = app->tx_size;
	sh->eq_seq = s->eq_seq;
	sh->eq_errno = 0;
	sh->eq_type = sh->eq_code = sh->eq_len = sh->eq_pad = 0;
	sh->eq_info = sh->eq_offender = 0;
	memset(&sh->eq_dst, 0, sizeof(sh->eq_dst));
	sh->rx_prod = s->rx_prod;
	sh->tx_cons = s->tx_cons;
	/* [app] from now on: the process that gets the socket sets its bit */
	__atomic_store_n(&sh->holders, 0, __ATOMIC_RELAXED);
	if (i + 1 > app->slot_hwm) {
		app->slot_hwm = i + 1;
		SHUNT_STORE_REL(&app->r->slot_hwm, app->slot_hwm);
	}
}

static void app_q_push(struct app_sockq *q, struct dp_sock *s, int k)
{
	s->qnext[k] = NULL;
	if (q->tail != NULL)
		q->tail->qnext[k] = s;
	else
		q->head = s;
	q->tail = s;
}

/* Take the head of q (not empty). */
static struct dp_sock *app_q_pop(struct app_sockq *q, int k)
{
	struct dp_sock *s = q->head;

	q->head = s->qnext[k];
	if (q->head == NULL)
		q->tail = NULL;
	return s;
}

/* Append s to app's hole-punch queue, as having joined it at at_us. */
static void app_punch_enqueue(struct dp_app *app, struct dp_sock *s, uint64_t at_us)
{
	s->punch_queued = true;
	s->punch_at_us = at_us;
	app_q_push(&app->punchq, s, APP_Q_PUNCH);
}

/* Put slot s back on the free stack and, once, on the hole-punch queue. */
static void app_slot_put(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	app->free_stack[app->nfree++] = s->idx;
	s->freed_us = ctx->now_us;
	if (!s->punch_queued)
		app_punch_enqueue(app, s, ctx->now_us);
}

void dp_app_release_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	if (s->state == SHUNT_SS_FREE) { /* twice would put it on the stack twice */
		DP_ERR("%s: pid %d slot %u released twice", __func__, (int)app->pid, s->idx);
		return;
	}
	relay_drop(ctx, s);
	s->app_closed = false;
	s->broken = false;
	s->pcb = NULL;
	dp_sock_mem_drop(s);
	dp_sock_set_state(ctx, s, SHUNT_SS_FREE);
	app->stats.slots_released++;
	app->live--;
	app_slot_put(ctx, app, s);
}

/* OPEN: allocate a slot of the given type. Returns 0 with *out set, or -errno. */
static int app_open(struct dp_ctx *ctx, struct dp_app *app, const struct shunt_cmd *c,
		    struct dp_sock **out)
{
	struct dp_sock *s;
	int rc;

	if (c->sock != SHUNT_SOCK_NONE) {
		app->stats.cmd_drop_bad_sock++;
		return -EINVAL;
	}
	if (c->arg != SHUNT_SOCK_STREAM && c->arg != SHUNT_SOCK_DGRAM)
		return -EPROTONOSUPPORT;
	s = app_slot_take(app);
	if (s == NULL) {
		app->stats.open_nobufs++;
		return -ENOBUFS;
	}
	app_slot_init(app, s, c->arg);
	rc = app_proto_of(s)->open(ctx, s);
	if (rc < 0) {
		s->pcb = NULL;
		s->state = SHUNT_SS_FREE;
		SHUNT_STORE_REL(&s->sh->state, SHUNT_SS_FREE);
		app_slot_put(ctx, app, s);
		return rc;
	}
	app->live++;
	app->stats.slots_allocated++;
	dp_sock_event(ctx, s);
	*out = s;
	return 0;
}

struct dp_sock *dp_app_sock_spawn(struct dp_ctx *ctx, struct dp_app *app, uint32_t type)
{
	struct dp_sock *s;

	if (app == NULL || app->gone || app->broken)
		return NULL; /* nobody would ever accept it */
	s = app_slot_take(app);
	if (s == NULL) {
		app->stats.spawn_nobufs++;
		return NULL;
	}
	app_slot_init(app, s, type);
	app->live++;
	app->stats.slots_allocated++;
	app->stats.slots_spawned++;
	dp_sock_event(ctx, s);
	return s;
}

/* ---- commands --------------------------------------------------------------------- */

/* Answer a synchronous command in the channel it came from. */
static void app_reply(struct dp_app *app, uint32_t ch, uint32_t seq, int result,
		      uint32_t sock, uint32_t gen)
{
	struct shunt_channel *c = &app->chan[ch];

	c->reply.result = result;
	c->reply.sock = sock;
	c->reply.gen = gen;
	/* release: a shim that acquires reply.seq == seq sees the fields above, and
	 * everything the command published (for OPEN, the whole slot) */
	SHUNT_STORE_REL(&c->reply.seq, seq);
	/* seq_cst: our reply.seq store before our sleepers load, pairing with the
	 * shim's fence between sleepers++ and its re-check of reply.seq (abi.h,
	 * "Waking"): either it sees the answer or we see it asleep */
	SHUNT_FENCE();
	if (SHUNT_LOAD_RLX(&c->sleepers) != 0) {
		if (shunt_futex_wake(&c->reply.seq) < 0)
			app->stats.futex_wake_fail++;
		else
			app->stats.futex_wakes++;
	}
}

static void app_cmd(struct dp_ctx *ctx, struct dp_app *app, uint32_t ch,
		    const struct shunt_cmd *c)
{
	const struct app_proto *proto;
	struct dp_sock *s = NULL;
	uint32_t sock = c->sock, gen = c->gen;
	int rc = 0;

	app->stats.cmd_rx++;
	if (c->op == SHUNT_CMD_NOP)
		goto reply; /* names no socket: answers 0 (a liveness probe) */
	if (c->op == SHUNT_CMD_OPEN) {
		rc = app_open(ctx, app, c, &s);
		sock = rc == 0 ? s->idx : SHUNT_SOCK_NONE;
		gen = rc == 0 ? s->gen : 0;
		goto reply;
	}
	if (c->sock >= app->nsocks) {
		app->stats.cmd_drop_bad_sock++;
		rc = -EBADF;
		goto reply;
	}
	s = &app->socks[c->sock];
	if (c->gen != s->gen) {
		/* the socket it meant was closed (maybe the slot reopened): never act on
		 * the slot's current socket */
		app->stats.cmd_drop_stale++;
		rc = -EBADF;
		goto reply;
	}
	if (s->state == SHUNT_SS_FREE || s->app_closed) {
		app->stats.cmd_drop_not_open++;
		rc = -EBADF;
		goto reply;
	}
	proto = app_proto_of(s);
	if (s->pcb == NULL && c->op != SHUNT_CMD_CLOSE) {
		/* only after the protocol let go early: the socket can only be closed */
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
		if (s->type == SHUNT_SOCK_STREAM)
			tcp_app_more(s, (c->arg & SHUNT_SENDF_MORE) != 0);
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
	case SHUNT_CMD_LISTEN:
		/* only for a process that agreed on SHUNT_FEAT_LISTEN; Linux answers
		 * EOPNOTSUPP for listen() on a datagram socket */
		if (!(app->features & SHUNT_FEAT_LISTEN)) {
			app->stats.cmd_drop_bad_op++;
			rc = -EINVAL;
			break;
		}
		app->stats.cmd_listen++;
		rc = proto->listen != NULL ? proto->listen(ctx, s, c->arg) : -EOPNOTSUPP;
		break;
	case SHUNT_CMD_CLOSE:
		/* the app forgot the socket; a SYNC flag still gets its answer */
		s->app_closed = true;
		if (s->pcb != NULL)
			proto->close(ctx, s); /* releases via dp_sock_pcb_done() when done */
		if (s->pcb == NULL && s->state != SHUNT_SS_FREE)
			dp_app_release_slot(ctx, app, s);
		break;
	default:
		app->stats.cmd_drop_bad_op++;
		rc = -EINVAL;
		break;
	}
reply:
	if (c->flags & SHUNT_CMDF_SYNC)
		app_reply(app, ch, c->seq, rc, sock, gen);
}

/* Member m's channels that may hold commands: [0, chan_hint[m]) of its range as
 * the app says (read once, clamped to the range), never fewer than it said
 * before (it only grows; a shim that lowers it would only hide its own commands,
 * this keeps them found). */
static uint32_t app_chan_range(struct dp_app *app, struct dp_member *m)
{
	uint32_t hint = SHUNT_LOAD_ACQ(&app->r->chan_hint[m->idx]);

	if (hint > app->chan_per_member)
		hint = app->chan_per_member;
	if (hint > m->chan_seen)
		m->chan_seen = hint;
	return m->chan_seen;
}

static unsigned app_poll_member(struct dp_ctx *ctx, struct dp_app *app, struct dp_member *m)
{
	struct shunt_cmd cmds[APP_CMD_BURST];
	uint32_t nch = app_chan_range(app, m), base = m->idx * app->chan_per_member, ch, k;
	unsigned total = 0;
	int n, i;

	if (nch == 0)
		return 0;
	/* round robin: a different channel goes first each time, so a busy thread's
	 * channel cannot always delay the others' by a full burst */
	ch = m->chan_rr < nch ? m->chan_rr : 0;
	m->chan_rr = ch + 1;
	for (k = 0; k < nch; k++, ch = ch + 1 < nch ? ch + 1 : 0) {
		uint32_t c = base + ch;

		n = shunt_chan_pop(&app->chan[c], &app->chan_cons[c], cmds, APP_CMD_BURST);
		if (n < 0) {
			app->stats.ring_broken++;
			app->broken = true;
			return total;
		}
		if (n == 0)
			continue;
		/* seq_cst: our cons store before our reads of tx_prod in the commands,
		 * pairing with the shim's fence between publishing tx_prod and reading
		 * cons to decide that a SEND is still queued (so it may skip another):
		 * either it sees the SEND consumed, or we see its new bytes. */
		SHUNT_FENCE();
		for (i = 0; i < n; i++) {
			app_cmd(ctx, app, c, &cmds[i]);
			if (app->broken)
				return total + (unsigned)i + 1;
		}
		total += (unsigned)n;
	}
	return total;
}

static unsigned app_poll(struct dp_ctx *ctx, struct dp_app *app)
{
	uint64_t live = app->joined;
	unsigned total = 0;

	while (live != 0 && !app->broken) {
		uint32_t m = (uint32_t)__builtin_ctzll(live);

		live &= live - 1;
		total += app_poll_member(ctx, app, &app->members[m]);
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

/* ---- notifiers -------------------------------------------------------------------- */

/* Is idx one of member m's notifiers? */
static bool app_notifier_mine(const struct dp_app *app, const struct dp_member *m,
			      uint32_t idx)
{
	return idx < app->nnotifiers && idx / app->notif_per_member == m->idx;
}

int app_notifier_set(struct dp_app *app, const struct dp_member *m, uint32_t idx, int fd)
{
	struct app_notifier *n;
	struct stat st;
	int domain;
	socklen_t len = sizeof(domain);

	if (!app_notifier_mine(app, m, idx)) {
		close(fd);
		return -EINVAL;
	}
	/* a socket of our own kind only: a byte on anything else (a pipe could block
	 * nothing but a TCP socket would leave the machine) is not a wake-up */
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX) {
		close(fd);
		return -EBADF;
	}
	n = &app->notifiers[idx];
	if (n->registered) {
		close(n->fd);
	} else {
		n->registered = true;
		n->reg_pos = app->nreg;
		app->reg_list[app->nreg++] = idx;
	}
	n->fd = fd;
	n->member = (uint8_t)m->idx;
	app->stats.ctl_notify_set++;
	return 0;
}

int app_notifier_clear(struct dp_app *app, const struct dp_member *m, uint32_t idx)
{
	struct app_notifier *n;
	uint32_t last;

	if (!app_notifier_mine(app, m, idx))
		return -EINVAL;
	n = &app->notifiers[idx];
	app->stats.ctl_notify_clear++;
	if (!n->registered)
		return 0;
	close(n->fd);
	n->fd = -1;
	n->registered = false;
	last = app->reg_list[--app->nreg];
	app->reg_list[n->reg_pos] = last;
	app->notifiers[last].reg_pos = n->reg_pos;
	return 0;
}

/* Socket slot changed and notifier idx (untrusted: from notify[]) watches it: push
 * the slot into its ready ring if it keeps one, and mark it for the wake-up pass. */
static void app_notify(struct dp_ctx *ctx, struct dp_app *app, uint32_t idx, uint32_t slot)
{
	struct shunt_notifier *shn;
	struct app_notifier *n;
	int rc;

	if (idx >= app->nnotifiers) {
		app->stats.notify_drop_bad_idx++;
		return;
	}
	n = &app->notifiers[idx];
	if (!n->registered) {
		app->stats.notify_drop_unregistered++;
		return;
	}
	shn = &app->notif[idx];
	if ((app->features & SHUNT_FEAT_READY) &&
	    (SHUNT_LOAD_RLX(&shn->flags) & SHUNT_NOTIFY_READY)) {
		rc = shunt_ready_push(shn, &n->ready_prod, slot);
		if (rc == -ENOSPC) {
			/* the app rescans everything it watches when it sees this move */
			n->ready_lost++;
			SHUNT_STORE_REL(&shn->ready_lost, n->ready_lost);
			app->stats.ready_lost++;
		} else if (rc < 0) {
			app->stats.ring_broken++;
			app->broken = true;
			return;
		}
	}
	if (n->touched)
		return;
	n->touched = true;
	n->touched_next = app->touched_head;
	app->touched_head = idx;
	if (!app->wake_pending) {
		app->wake_pending = true;
		app->wake_next = ctx->apps->wake_list;
		ctx->apps->wake_list = app;
	}
}

/* After the fence of apps_wake(): wake the threads asleep on s, then its notifiers. */
static void app_wake_sock(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s)
{
	struct shunt_sock *sh = s->sh;
	uint32_t v[SHUNT_SOCK_NOTIFY], k, j;

	if (SHUNT_LOAD_RLX(&sh->sleepers) != 0) {
		if (shunt_futex_wake(&sh->ev_seq) < 0)
			app->stats.futex_wake_fail++;
		else
			app->stats.futex_wakes++;
	}
	for (k = 0; k < SHUNT_SOCK_NOTIFY; k++) {
		v[k] = SHUNT_LOAD_RLX(&sh->notify[k]); /* read once: the app may change it */
		if (v[k] == 0)
			continue;
		for (j = 0; j < k && v[j] != v[k]; j++)
			;
		if (j < k)
			continue; /* the same notifier twice: one entry */
		app_notify(ctx, app, v[k] - 1, s->idx);
		if (app->broken)
			return;
	}
	if (SHUNT_LOAD_RLX(&sh->notify_all) == 0)
		return;
	/* more watchers than notify[] holds: every registered notifier of the process */
	for (j = 0; j < app->nreg; j++) {
		uint32_t idx = app->reg_list[j];

		for (k = 0; k < SHUNT_SOCK_NOTIFY && v[k] != idx + 1; k++)
			;
		if (k < SHUNT_SOCK_NOTIFY)
			continue; /* done above */
		app_notify(ctx, app, idx, s->idx);
		if (app->broken)
			return;
	}
}

/* s had an event: it joins the back of app's trim queue, idle from now on. A socket
 * already queued stays where it is; app_trim() sees that it moved since. */
static void app_trim_enqueue(struct dp_app *app, struct dp_sock *s, uint64_t now_us)
{
	s->trim_queued = true;
	s->trim_ev = s->ev_seq;
	s->trim_since_us = now_us;
	app_q_push(&app->trimq, s, APP_Q_TRIM);
}

/* Announce to every notifier of app touched this iteration. */
static void app_wake_notifiers(struct dp_app *app)
{
	uint32_t idx;

	if (app->broken || app->gone)
		goto clear;
	for (idx = app->touched_head; idx != APP_NONE; idx = app->notifiers[idx].touched_next) {
		struct app_notifier *n = &app->notifiers[idx];

		n->seq++;
		/* release: a shim that acquires seq sees the ready entries pushed and the
		 * socket states published before it */
		SHUNT_STORE_REL(&app->notif[idx].seq, n->seq);
	}
	/* seq_cst: our seq stores before our sleepers loads, pairing with the shim's
	 * fence between futex_sleepers++/fd_sleepers++ and its re-check of seq */
	SHUNT_FENCE();
	for (idx = app->touched_head; idx != APP_NONE; idx = app->notifiers[idx].touched_next) {
		struct app_notifier *n = &app->notifiers[idx];
		struct shunt_notifier *shn = &app->notif[idx];

		if (SHUNT_LOAD_RLX(&shn->futex_sleepers) != 0) {
			if (shunt_futex_wake(&shn->seq) < 0)
				app->stats.futex_wake_fail++;
			else
				app->stats.futex_wakes++;
		}
		if (SHUNT_LOAD_RLX(&shn->fd_sleepers) != 0 && n->registered) {
			/* never blocks; a full socket already holds a pending byte */
			if (send(n->fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
				app->stats.notify_sends++;
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
				app->stats.notify_send_fail++;
		}
	}
clear:
	for (idx = app->touched_head; idx != APP_NONE; idx = app->notifiers[idx].touched_next)
		app->notifiers[idx].touched = false;
	app->touched_head = APP_NONE;
}

/* mem_avail for the shim's senders: what app_mem leaves, once per iteration of a
 * process whose sockets changed, written only when it changed. */
static void app_publish_mem(struct dp_app *app)
{
	uint64_t avail = UINT64_MAX;

	if (app->mem.bound != 0)
		avail = app->mem.bound > app->mem.used ? app->mem.bound - app->mem.used : 0;
	if (avail != app->mem_avail_pub) {
		app->mem_avail_pub = avail;
		__atomic_store_n(&app->r->mem_avail, avail, __ATOMIC_RELAXED);
	}
}

void apps_wake(struct dp_ctx *ctx)
{
	struct dp_apps *apps = ctx->apps;
	struct dp_sock *s, *next;
	struct dp_app *app;

	/* A relay run here may change its socket again (the FIN of its fd's EOF,
	 * the close of its last hold): that puts the socket back on apps->dirty,
	 * which the next pass takes. (Emptied only after the walk, the list lost
	 * it while its dirty flag stayed set: none of its later changes woke
	 * anybody or ran its relay.) The passes end: each of those is made once. */
	while ((s = apps->dirty) != NULL) {
		apps->dirty = NULL;
		/* seq_cst: our ev_seq (and state, index) stores before our loads of
		 * sleepers and notify[], pairing with the shim's fence between
		 * announcing itself (sleepers++, a notify[] entry) and re-checking the
		 * socket (abi.h, "Waking") */
		SHUNT_FENCE();
		for (; s != NULL; s = next) {
			next = s->dirty_next;
			s->dirty = false;
			s->dirty_next = NULL;
			app = s->app;
			if (s->relay != NULL && !app->broken)
				relay_pump(ctx, s); /* also for a gone app: the relay holds it */
			if (!app->gone && !app->broken) {
				app_publish_mem(app);
				app_wake_sock(ctx, app, s);
				if (!s->trim_queued && s->state != SHUNT_SS_FREE)
					app_trim_enqueue(app, s, ctx->now_us);
			}
		}
	}
	for (app = apps->wake_list; app != NULL; app = app->wake_next) {
		app->wake_pending = false;
		app_wake_notifiers(app);
	}
	apps->wake_list = NULL;
}

/* ---- housekeeping ------------------------------------------------------------------- */

/* Punch [off, off + len) of app's memfd. Returns 0 or -1 (counted). */
static int app_punch_range(struct dp_app *app, uint64_t off, uint32_t len)
{
	if (fallocate(app->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) < 0) {
		app->stats.hole_punch_fail++;
		return -1;
	}
	app->stats.holes_punched++;
	return 0;
}

/* Give the rings of slots free for APP_PUNCH_DELAY_US back to the system, at most
 * *budget of them. The queue is in order of joining it; a slot reallocated since
 * leaves it, one freed again since goes to the back. */
static void app_punch(struct dp_ctx *ctx, struct dp_app *app, unsigned *budget)
{
	struct dp_sock *s;

	while (*budget > 0 && (s = app->punchq.head) != NULL) {
		if (ctx->now_us - s->punch_at_us < APP_PUNCH_DELAY_US)
			return; /* nothing behind it joined earlier */
		app_q_pop(&app->punchq, APP_Q_PUNCH);
		s->punch_queued = false;
		if (s->state != SHUNT_SS_FREE || s->punched)
			continue; /* in use again (or done): its release queues it anew */
		if (ctx->now_us - s->freed_us < APP_PUNCH_DELAY_US) {
			app_punch_enqueue(app, s, s->freed_us); /* freed again since */
			(*budget)--;
			continue;
		}
		(*budget)--;
		if (app_punch_range(app, app->bufs_off +
				    (uint64_t)s->idx * (app->rx_size + app->tx_size),
				    app->rx_size + app->tx_size) == 0)
			s->punched = true;
	}
}

/* Memory follows the data in flight: the rings of a live socket that has had no
 * event for APP_TRIM_IDLE_US and holds nothing go back to the system, so an idle
 * connection costs its slot, not the pages its past traffic touched. The receive
 * ring is ours alone to write: it is punched when the app has read everything
 * (rx_cons == rx_prod) and nothing is held ahead of a gap (rx_hi). The send ring
 * is the app's to write: abi.h's tx_trim / tx_writing pairing keeps a writer out
 * while it is punched, and only an empty one (tx_prod == tx_cons) is.
 *
 * Which sockets to look at comes from the trim queue, not from a scan of the
 * slots: a socket joins it at its first event after it was last trimmed (in
 * apps_wake(), once per iteration at most), so the queue is in order of joining.
 * At its head, one that had another event since goes to the back, idle from now
 * (each busy socket is requeued at most once a second); one that had none is
 * trimmed and leaves the queue until its next event. Idle connections cost
 * nothing here, and housekeeping runs when the head is due (apps_next_deadline()),
 * also while the loop sleeps. At most *looks entries are looked at and *budget
 * sockets trimmed per pass. */
static void app_trim(struct dp_ctx *ctx, struct dp_app *app, unsigned *budget,
		     unsigned *looks)
{
	struct dp_sock *s;

	while (*budget > 0 && *looks > 0 && (s = app->trimq.head) != NULL) {
		struct shunt_sock *sh = s->sh;
		uint64_t rx_off;

		if (ctx->now_us - s->trim_since_us < APP_TRIM_IDLE_US)
			return; /* nothing behind it joined earlier */
		(*looks)--;
		app_q_pop(&app->trimq, APP_Q_TRIM);
		s->trim_queued = false;
		if (s->state == SHUNT_SS_FREE || s->broken)
			continue; /* freed: app_punch() has its rings */
		if (s->ev_seq != s->trim_ev) { /* something happened: idle from now */
			app_trim_enqueue(app, s, ctx->now_us);
			continue;
		}
		(*budget)--;
		rx_off = app->bufs_off + (uint64_t)s->idx * (app->rx_size + app->tx_size);
		/* acquire: the app's reads of the ring happened before its rx_cons store */
		if (SHUNT_LOAD_ACQ(&sh->rx_cons) == s->rx_prod && s->rx_hi == s->rx_prod)
			(void)app_punch_range(app, rx_off, s->rx_size);
		SHUNT_STORE_RLX(&sh->tx_trim, 1);
		SHUNT_FENCE(); /* tx_trim before reading tx_writing: Dekker with tx.c */
		/* acquire: a writer that left published its tx_prod before */
		if (SHUNT_LOAD_ACQ(&sh->tx_writing) == 0 &&
		    SHUNT_LOAD_ACQ(&sh->tx_prod) == s->tx_cons)
			(void)app_punch_range(app, rx_off + app->rx_size, s->tx_size);
		/* release: the punch is complete before a writer waiting on it goes on */
		SHUNT_STORE_REL(&sh->tx_trim, 0);
	}
}

void apps_housekeep(struct dp_ctx *ctx)
{
	unsigned budget = APP_PUNCH_BUDGET, looks = APP_TRIM_LOOKS;
	struct dp_app *app;

	for (app = ctx->apps->list; app != NULL && budget > 0; app = app->next)
		if (!app->broken && !app->gone)
			app_punch(ctx, app, &budget);
	budget = APP_TRIM_BUDGET;
	for (app = ctx->apps->list; app != NULL && budget > 0 && looks > 0; app = app->next)
		if (!app->broken && !app->gone)
			app_trim(ctx, app, &budget, &looks);
}

uint64_t apps_next_deadline(const struct dp_ctx *ctx)
{
	uint64_t next = UINT64_MAX;
	const struct dp_app *app;

	for (app = ctx->apps->list; app != NULL; app = app->next) {
		if (app->broken || app->gone)
			continue;
		if (app->punchq.head != NULL &&
		    app->punchq.head->punch_at_us + APP_PUNCH_DELAY_US < next)
			next = app->punchq.head->punch_at_us + APP_PUNCH_DELAY_US;
		if (app->trimq.head != NULL &&
		    app->trimq.head->trim_since_us + APP_TRIM_IDLE_US < next)
			next = app->trimq.head->trim_since_us + APP_TRIM_IDLE_US;
	}
	return next;
}

/* ---- sleeping --------------------------------------------------------------------- */

bool apps_prepare_sleep(struct dp_ctx *ctx)
{
	struct dp_app *app;
	uint32_t ch, nch;
	uint64_t live;

	for (app = ctx->apps->list; app != NULL; app = app->next)
		SHUNT_STORE_REL(&app->r->dp_sleeping, 1);
	/* seq_cst: our dp_sleeping stores before our reads of chan_hint and the
	 * producers' indices, pairing with the shim's fence between its push (after
	 * raising chan_hint) and its dp_sleeping check. */
	SHUNT_FENCE();
	for (app = ctx->apps->list; app != NULL; app = app->next) {
		if (app->broken)
			return false;
		if (app->gone)
			continue;
		for (live = app->joined; live != 0; live &= live - 1) {
			struct dp_member *m = &app->members[__builtin_ctzll(live)];
			uint32_t base = m->idx * app->chan_per_member;

			nch = app_chan_range(app, m); /* the range apps_poll() drains */
			for (ch = base; ch < base + nch; ch++)
				if (!shunt_chan_empty(&app->chan[ch], app->chan_cons[ch]))
					return false;
		}
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

		fprintf(f, "app pid %d: ABI v%u features %#x, %u/%u sockets in use (%u slots "
			"ever used), %u notifiers registered, %u member(s)%s%s\n",
			(int)app->pid, app->version, app->features, app->live, app->nsocks,
			app->fresh, app->nreg, (unsigned)__builtin_popcountll(app->joined),
			app->gone ? ", gone" : "", app->broken ? ", broken" : "");
		APP_STATS(DP_STAT_PRINT)
		fprintf(f, "  mem_held                     %llu\n  mem_bound                    %llu\n"
			"  mem_limited                  %llu\n",
			(unsigned long long)app->mem.used, (unsigned long long)app->mem.bound,
			(unsigned long long)app->mem.limited);
	}
}
