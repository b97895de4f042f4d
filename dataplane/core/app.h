/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Attached processes: one shared region each (include/shunt/abi.h, version 2), its
 * command channels, its socket slots (allocated here, with generations) and its
 * notifiers.
 *
 *   ctl.c: app_create() on attach (member 0), app_member_join() on JOIN
 *          app_member_gone() on a member's hang-up ... the last: app_detach()
 *          ... app_destroy() once its sockets are done
 *          app_notifier_set() / app_notifier_clear() on NOTIFY_SET / NOTIFY_CLEAR
 *   loop:  apps_poll()      drain each member's channels [base, base + chan_hint[m]),
 *                           dispatch to tcp_*() / udp_*()
 *          apps_wake()      wake what waits on the sockets that changed this iteration
 *          apps_housekeep() give the rings of long-free slots back to the system
 *          apps_prepare_sleep() / apps_end_sleep() around an idle sleep
 */
#ifndef SHUNT_DP_APP_H
#define SHUNT_DP_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <shunt/abi.h>

#include "core/loop.h"
#include "core/sock.h"
#include "dp.h"

/* What this dataplane implements of SHUNT_FEAT_* (the welcome answers offered & this). */
#define APP_FEATURES (SHUNT_FEAT_READY | SHUNT_FEAT_LISTEN | SHUNT_FEAT_SHARE)

#define APP_NCHANNELS  64   /* command channels per member */
#define APP_NNOTIFIERS 1024 /* notifiers per member */
#define APP_PUNCH_DELAY_US 1000000 /* a slot free this long gives its rings back */
#define APP_TRIM_IDLE_US   1000000 /* a live socket this long without an event, too */

#define APP_STATS(X) \
	X(cmd_rx) X(cmd_drop_bad_op) X(cmd_drop_bad_sock) X(cmd_drop_stale) \
	X(cmd_drop_not_open) X(open_nobufs) X(ring_broken) \
	X(futex_wakes) X(futex_wake_fail) X(notify_sends) X(notify_send_fail) X(ready_lost) \
	X(notify_drop_bad_idx) X(notify_drop_unregistered) \
	X(ctl_notify_set) X(ctl_notify_clear) X(ctl_drop_bad) X(ctl_answer_lost) \
	X(slots_allocated) X(slots_released) X(holes_punched) X(hole_punch_fail) \
	X(slots_spawned) X(spawn_nobufs) X(cmd_listen) \
	X(members_joined) X(members_gone) X(member_closes) X(relays)

struct app_stats {
	APP_STATS(DP_STAT_FIELD)
};

/* A FIFO of sockets linked through dp_sock.qnext[APP_Q_*]: a socket can be on
 * one queue of each kind. */
enum { APP_Q_PUNCH, APP_Q_TRIM };

struct app_sockq {
	struct dp_sock *head, *tail;
};

/* The dataplane's private side of a notifier (abi.h). Zeroes (calloc) = unused. */
struct app_notifier {
	bool registered;      /* a wake socket was set (SHUNT_CTL_NOTIFY_SET) */
	uint8_t member;       /* by this member, while registered */
	bool touched;         /* on the app's touched list this iteration */
	int fd;               /* the wake socket, valid while registered */
	uint32_t reg_pos;     /* index in app->reg_list while registered */
	uint32_t seq;         /* private copy of shunt_notifier.seq */
	uint32_t ready_prod;  /* private copy of shunt_notifier.ready_prod */
	uint32_t ready_lost;  /* private copy of shunt_notifier.ready_lost */
	uint32_t touched_next; /* next index on the touched list (UINT32_MAX: end) */
};

/* One process of a region (abi.h, "Sharing"): the one that attached (0), or one
 * that joined (a fork child, an exec'd image). Its control connection is its
 * life: requests and notifier registrations come on it, and its hang-up is that
 * process gone. */
struct dp_member {
	struct dp_app *app;
	uint32_t idx;
	bool live;                 /* joined, connection up */
	pid_t pid;                 /* SO_PEERCRED of the connection (logs only) */
	int ctl_fd;
	struct loop_src ctl_src;   /* ctl_fd in the loop's epoll set */
	uint32_t chan_seen;        /* highest chan_hint[idx] seen, clamped */
	uint32_t chan_rr;          /* first channel of the next poll (round robin) */
};

struct dp_app {
	struct dp_app *next;       /* apps list */
	struct dp_app *wake_next;  /* list of apps with touched notifiers, valid while wake_pending */
	bool wake_pending;
	bool broken;               /* corrupted a ring: destroyed at the next housekeeping */
	bool gone;                 /* the process hung up: its sockets finish as orphans */
	uint32_t live;             /* slots allocated: a gone app is freed when 0 */

	pid_t pid;                 /* the process that attached (member 0), for the logs */
	struct dp_member members[SHUNT_MAX_MEMBERS];
	uint64_t joined;           /* bit m: members[m] is live (private) */
	uint64_t join_key[2];      /* as published in the region */
	struct loop_src bell_src;  /* doorbell_fd in the loop's epoll set */
	int memfd;
	int doorbell_fd;           /* app -> dp eventfd */

	struct shunt_region *r;    /* the mapping; never trusted for geometry */
	/* Where things are, computed once at creation: the offsets in the control
	 * block and in the slots are app-writable and never followed again. */
	struct shunt_channel *chan;   /* [nchannels] */
	struct shunt_notifier *notif; /* [nnotifiers] */
	struct shunt_sock *shsocks;   /* [nsocks] */
	size_t size;
	uint64_t bufs_off;
	/* geometry and agreement: private copies, the app cannot change them */
	uint32_t version;
	uint32_t features;
	uint32_t nsocks;
	uint32_t rx_size;
	uint32_t tx_size;
	uint32_t nchannels;
	uint32_t nnotifiers;
	uint32_t chan_per_member;  /* member m: channels [m * this, (m + 1) * this) */
	uint32_t notif_per_member; /* and notifiers likewise */

	/* channels: indices the dataplane owns */
	uint32_t *chan_cons;       /* nchannels entries */

	/* slots: a LIFO of freed ones (recently touched pages first), then the never
	 * used ones from fresh up (so creation writes nothing per slot) */
	struct dp_sock *socks;     /* nsocks entries, initialised on allocation */
	uint32_t *free_stack;      /* nsocks entries */
	uint32_t nfree;
	uint32_t fresh;            /* slots [fresh, nsocks) were never allocated */
	uint32_t slot_hwm;         /* as published in the region */
	struct app_sockq punchq;   /* freed slots waiting for hole punching */
	struct app_sockq trimq;    /* live sockets that had an event, in the order
				    * they joined (app_trim) */

	/* notifiers */
	struct app_notifier *notifiers; /* nnotifiers entries */
	uint32_t *reg_list;        /* indices of the registered notifiers, nreg of them */
	uint32_t nreg;
	uint32_t touched_head;     /* touched notifiers this iteration (UINT32_MAX: none) */

	struct app_stats stats;
	struct dp_memacct mem;     /* the app_mem bound and what the rings hold */
	uint64_t mem_avail_pub;    /* mem_avail as last published */
};

struct dp_apps {
	struct dp_app *list;
	struct dp_app *wake_list;  /* apps with touched notifiers (apps_wake) */
	struct dp_sock *dirty;     /* sockets changed this iteration (apps_wake) */
	unsigned count;
};

int apps_init(struct dp_ctx *ctx);
/* Reset every connection of every app and free them (shutdown). */
void apps_fini(struct dp_ctx *ctx);

/* Create the region and doorbell for a process that said hello on ctl_fd, with the
 * agreed version and features (ctl.c negotiates them); it is member 0, whose
 * ctl_src the caller watches. */
int app_create(struct dp_ctx *ctx, int ctl_fd, pid_t pid, uint32_t version,
	       uint32_t features, struct dp_app **out);
/* The app whose region shows key, still served; NULL if none. */
struct dp_app *app_find_key(struct dp_ctx *ctx, const uint64_t key[2]);
/* A process on ctl_fd joins app as member idx (SHUNT_CTL_JOIN). Returns the
 * member (the caller watches its ctl_src), or NULL with *why: the bit is not
 * claimed in the region, or that member is live already. */
struct dp_member *app_member_join(struct dp_app *app, uint32_t idx, int ctl_fd, pid_t pid,
				  const char **why);
/* Member m's connection hung up: its notifiers are forgotten, its holder bits
 * swept (a socket it alone held is closed as by close()), and its bit given back.
 * The last member gone: app_detach(). */
void app_member_gone(struct dp_ctx *ctx, struct dp_app *app, struct dp_member *m);
/* Every process of app is gone: every socket still held is closed as by close()
 * (as Linux does at exit: queued data and the FIN still go out); the region stays
 * mapped until the last of them is done, then ctl_reap() frees it. */
void app_detach(struct dp_ctx *ctx, struct dp_app *app);
/* Reset every connection of app at once and free it (shutdown, corrupted region,
 * or a gone app with nothing left). */
void app_destroy(struct dp_ctx *ctx, struct dp_app *app);
/* What a command does to s, for the dataplane acting as the program (core/relay.c):
 * tx_prod advanced, rx_cons advanced, shutdown(how); and s held by nobody any
 * more: closed as close() would. */
void dp_app_sock_send(struct dp_ctx *ctx, struct dp_sock *s);
void dp_app_sock_recvd(struct dp_ctx *ctx, struct dp_sock *s);
int dp_app_sock_shutdown(struct dp_ctx *ctx, struct dp_sock *s, int how);
void dp_app_close_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s);
/* Is app ready to be freed by ctl_reap()? */
bool app_reapable(const struct dp_app *app);

/* Notifier idx of member m is woken by a byte on fd (a socket; ownership passes to
 * the app, closed on error too). Returns 0, -EINVAL (idx out of m's range) or
 * -EBADF (not a socket). A previous fd of idx is closed. */
int app_notifier_set(struct dp_app *app, const struct dp_member *m, uint32_t idx, int fd);
/* Forget notifier idx's wake socket. Returns 0 or -EINVAL (idx out of m's range). */
int app_notifier_clear(struct dp_app *app, const struct dp_member *m, uint32_t idx);

/* Drain commands of every app; returns how many were processed. */
unsigned apps_poll(struct dp_ctx *ctx);
/* Wake whatever waits on the sockets changed in this iteration: threads asleep on a
 * socket, notifiers subscribed to it (ready ring, seq, futex or wake socket). */
void apps_wake(struct dp_ctx *ctx);
/* Slow path (loop housekeeping): punch the rings of slots free for a while, and
 * those of sockets idle for a while, out of the memfd, a bounded number per call. */
void apps_housekeep(struct dp_ctx *ctx);
/* When apps_housekeep() next has something to do (ctx->now_us scale), UINT64_MAX if
 * nothing waits: the loop's idle sleep ends then. */
uint64_t apps_next_deadline(const struct dp_ctx *ctx);
/* Announce a sleep to every app (dp_sleeping = 1, fence) and return true if every
 * channel is still empty; false means work arrived: do not sleep. */
bool apps_prepare_sleep(struct dp_ctx *ctx);
void apps_end_sleep(struct dp_ctx *ctx);

void apps_dump(struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_DP_APP_H */
