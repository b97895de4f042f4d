/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Attached processes: one shared region each (include/shunt/abi.h), its command
 * channels, its socket slots and the eventfds that wake it.
 *
 *   ctl.c: app_create() on attach ... app_destroy() on hang-up
 *   loop:  apps_poll()   drain every channel, dispatch commands to tcp_*()
 *          apps_wake()   wake armed wait slots of apps something happened to
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

#define APP_STATS(X) \
	X(cmd_rx) X(cmd_drop_bad_op) X(cmd_drop_bad_sock) X(cmd_drop_not_open) \
	X(cmd_drop_busy) X(ring_broken) X(wakeups) X(slots_released)

struct app_stats {
	APP_STATS(DP_STAT_FIELD)
};

struct dp_app {
	struct dp_app *next;       /* apps list */
	struct dp_app *wake_next;  /* wake list, valid while wake_pending */
	bool wake_pending;
	bool broken;               /* corrupted a ring: destroyed at the next housekeeping */
	bool gone;                 /* the process hung up: its sockets finish as orphans */
	uint32_t live;             /* slots not FREE: a gone app is freed when 0 */

	pid_t pid;
	int ctl_fd;                /* control connection: hang-up = process gone */
	struct loop_src ctl_src;   /* ctl_fd in the loop's epoll set */
	struct loop_src bell_src;  /* doorbell_fd in the loop's epoll set */
	int memfd;
	int doorbell_fd;           /* app -> dp eventfd */
	int wait_fd[SHUNT_WAIT_SLOTS];

	struct shunt_region *r;    /* the mapping; never trusted for geometry */
	/* Where the rings are, computed once at creation: the offsets in the control
	 * block are app-writable and must never be followed again. */
	struct shunt_channel *chan[SHUNT_MAX_CHANNELS];
	struct shunt_free_ring *free_ring;
	size_t size;
	/* geometry: private copies, the app cannot change them */
	uint32_t nsocks;
	uint32_t rx_size;
	uint32_t tx_size;
	uint32_t nchannels;
	uint32_t free_size;
	/* indices the dataplane owns */
	uint32_t chan_cons[SHUNT_MAX_CHANNELS];
	uint32_t free_prod;
	uint32_t woken[SHUNT_WAIT_SLOTS];

	struct dp_sock *socks;     /* nsocks entries */
	struct app_stats stats;
};

struct dp_apps {
	struct dp_app *list;
	struct dp_app *wake_list;
	unsigned count;
};

int apps_init(struct dp_ctx *ctx);
/* Reset every connection of every app and free them (shutdown). */
void apps_fini(struct dp_ctx *ctx);

/* Create the region and eventfds for a process that said hello on ctl_fd. */
int app_create(struct dp_ctx *ctx, int ctl_fd, pid_t pid, struct dp_app **out);
/* The process hung up: every socket it held is closed as by close() (as Linux does
 * at exit: queued data and the FIN still go out); the region stays mapped until
 * the last of them is done, then ctl_reap() frees it. */
void app_detach(struct dp_ctx *ctx, struct dp_app *app);
/* Reset every connection of app at once and free it (shutdown, corrupted region,
 * or a gone app with nothing left). */
void app_destroy(struct dp_ctx *ctx, struct dp_app *app);
/* Is app ready to be freed by ctl_reap()? */
bool app_reapable(const struct dp_app *app);

/* Drain commands of every app; returns how many were processed. */
unsigned apps_poll(struct dp_ctx *ctx);
/* Wake the armed wait slots of every app on the wake list. */
void apps_wake(struct dp_ctx *ctx);
/* Announce a sleep to every app (dp_sleeping = 1, fence) and return true if every
 * channel is still empty; false means work arrived: do not sleep. */
bool apps_prepare_sleep(struct dp_ctx *ctx);
void apps_end_sleep(struct dp_ctx *ctx);

void apps_dump(struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_DP_APP_H */
