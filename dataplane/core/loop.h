/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The poll-mode loop and its epoll set (see docs/design.md, "Dataplane loop").
 * Slow-path fds (control socket, per-app control connections and doorbells, the
 * port's RX interrupt fd) live in one epoll set: read without waiting every
 * millisecond while busy, and slept on while idle (`idle = adaptive`).
 */
#ifndef SHUNT_DP_LOOP_H
#define SHUNT_DP_LOOP_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

struct dp_ctx;

enum loop_src_kind {
	LOOP_SRC_LISTEN = 1,  /* control socket: accept */
	LOOP_SRC_PENDING,     /* accepted control connection before its hello */
	LOOP_SRC_APP_CTL,     /* an attached app's control connection: requests, hang-up */
	LOOP_SRC_DOORBELL,    /* an attached app's doorbell: nothing to do but wake */
	LOOP_SRC_RELAY,       /* a relay's socketpair end (core/relay.c) */
};

/* What an epoll event points at. */
struct loop_src {
	enum loop_src_kind kind;
	int fd;
	void *obj;
};

/* Set by signal handlers, read by the loop. */
extern volatile sig_atomic_t loop_stop;
extern volatile sig_atomic_t loop_dump;

int loop_init(struct dp_ctx *ctx);
void loop_fini(struct dp_ctx *ctx);
int loop_watch(struct dp_ctx *ctx, struct loop_src *src, uint32_t events);
void loop_unwatch(struct dp_ctx *ctx, struct loop_src *src);
/* Run until loop_stop is set. */
void loop_run(struct dp_ctx *ctx);
/* Counters of every module, to f. */
void loop_dump_all(struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_DP_LOOP_H */
