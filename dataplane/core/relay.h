/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Relays (ctl.h SHUNT_CTL_RELAY): shuntd carries a TCP socket between its rings
 * and a kernel socketpair whose other end the program holds in place of the
 * socket, for the calls the shim cannot see (stdio inside libc after a dup2 onto
 * 0, 1 or 2; an image without the shim). Slow path: a syscall per burst.
 *
 *   ctl.c RELAY -> relay_start(): the fd watched, SHUNT_HOLDER_RELAY set
 *   the socket changed (apps_wake)  -> relay_pump()
 *   the fd readable / writable / hung up (loop event) -> relay_event() -> relay_pump()
 *   relay_pump(): rx ring -> fd (then RECVD), peer's FIN -> shutdown(fd, SHUT_WR);
 *                 fd -> tx ring (then SEND), the fd's EOF -> SHUTDOWN(SHUT_WR);
 *                 every copy of the other end closed, all it wrote taken -> the
 *                 relay's hold released (the last hold: closed as close() would)
 */
#ifndef SHUNT_DP_RELAY_H
#define SHUNT_DP_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/loop.h"

struct dp_ctx;
struct dp_app;
struct dp_sock;

struct dp_relay {
	struct loop_src src;     /* LOOP_SRC_RELAY: fd, obj = this */
	struct dp_sock *s;
	uint32_t gen;            /* s's generation when the relay began */
	uint32_t events;         /* the interest registered now */
	uint32_t owner;          /* our tx_owner word: shuntd's pid */
	bool reader;             /* SHUNT_RELAYF_READ: what arrives goes at once */
	bool rx_shut;            /* the peer's FIN (or a reset) passed on: SHUT_WR done */
	bool tx_eof;             /* the other end's EOF: our FIN is queued */
	bool closed;             /* every copy of the other end closed, some of what it
				  * wrote still to take (the ring full): fd unwatched */
	bool dead;               /* over: freed by relays_reap(), not inside an event batch */
	struct dp_relay *next;   /* ctx's list */
};

/* Relay (slot, gen) of app through fd (taken, closed on failure), flags
 * SHUNT_RELAYF_*. Returns 0, -EBADF or -EINVAL (ctl.h). */
int relay_start(struct dp_ctx *ctx, struct dp_app *app, uint32_t slot, uint32_t gen, int fd,
		uint32_t flags);
/* s (with s->relay) changed: move what can move. */
void relay_pump(struct dp_ctx *ctx, struct dp_sock *s);
/* The loop's event on a relay's fd. */
void relay_event(struct dp_ctx *ctx, struct dp_relay *r, uint32_t events);
/* s's slot is being released or its app destroyed: the relay goes with it. */
void relay_drop(struct dp_ctx *ctx, struct dp_sock *s);
/* Free the relays that ended (housekeeping). */
void relays_reap(struct dp_ctx *ctx);

#endif /* SHUNT_DP_RELAY_H */
