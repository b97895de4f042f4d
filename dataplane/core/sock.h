/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * A dataplane socket: the dataplane's private record of one slot of an attached
 * process's region, binding the shared view (struct shunt_sock and its two byte
 * rings) to a protocol control block.
 *
 * The app can write anything anywhere in its region, including the [dp] fields.
 * So the dataplane keeps the authoritative copy of everything it publishes here
 * (rx_prod, tx_cons, state...) and only ever writes those shm fields, never reads
 * them back; it reads only [app] fields, through the validating accessors below.
 *
 * DPDK-free, so protocol unit tests link it with plain memory for the rings.
 */
#ifndef SHUNT_DP_SOCK_H
#define SHUNT_DP_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <shunt/abi.h>

struct dp_ctx;
struct dp_app;
struct dp_relay;
struct icmp_err;

/* Private copies of the slot's geometry (rx_buf..tx_size) are set when the slot is
 * allocated (core/app.c) and never read back from shunt_sock.rx_off/tx_off. An entry
 * of a slot never allocated is all zeroes (calloc'd, untouched): state FREE, gen 0. */
/* A process's bound on the bytes its sockets hold in their rings (`app_mem`):
 * what they hold as last seen (each socket's share in rx_acct/tx_acct), and the
 * bound, 0 for none. Shared by a process's sockets; NULL in unit tests is allowed. */
struct dp_memacct {
	uint64_t used;
	uint64_t bound;
	uint64_t limited; /* times a receive window was cut by the bound */
};

struct dp_sock {
	struct dp_app *app;    /* owning process; NULL in unit tests is allowed */
	uint32_t idx;          /* slot index in the app's region */
	uint32_t type;         /* SHUNT_SOCK_* */
	struct shunt_sock *sh; /* shared view */
	uint8_t *rx_buf;
	uint8_t *tx_buf;
	uint32_t rx_size;      /* power of two */
	uint32_t tx_size;      /* power of two */
	uint32_t gen;          /* published as shunt_sock.gen; bumped per allocation, never 0 */
	void *pcb;             /* protocol control block (struct tcb *), NULL if none */

	/* authoritative copies of [dp] fields */
	uint32_t state;        /* enum shunt_sock_state */
	uint32_t flags;        /* SHUNT_SF_* */
	uint32_t rx_prod;
	uint32_t tx_cons;
	uint32_t ev_seq;
	uint32_t err_seq;
	uint32_t eq_seq;

	/* app-controlled limits (SHUNT_OPT_RCVBUF/SNDBUF), already clamped to the rings */
	uint32_t rcvbuf;
	uint32_t sndbuf;

	bool app_closed;       /* SHUNT_CMD_CLOSE received: release when the pcb is done */
	bool broken;           /* the app corrupted an index: counted, socket reset */

	/* core/app.c bookkeeping */
	bool dirty;                  /* on the loop's dirty list (apps_wake) */
	bool punch_queued;           /* on the app's hole-punch queue */
	bool punched;                /* rings given back to the system since the last free */
	struct dp_sock *dirty_next;  /* dirty list, valid while dirty */
	struct dp_sock *qnext[2];    /* links in the app's queues (APP_Q_*): hole
				      * punching, valid while punch_queued, and idle
				      * trimming, valid while trim_queued */
	uint64_t freed_us;           /* when the slot was last freed */
	uint64_t punch_at_us;        /* when it joined the hole-punch queue */
	/* idle trimming (core/app.c app_trim): the rings of a live socket with no
	 * event for APP_TRIM_IDLE_US go back to the system */
	uint32_t rx_hi;              /* end of the bytes written into the rx ring, held
				      * data ahead of a gap included: never trim those */
	bool trim_queued;            /* on the app's trim queue */
	uint32_t trim_ev;            /* ev_seq when it joined the trim queue */
	uint64_t trim_since_us;      /* when it joined the trim queue */

	struct dp_relay *relay;      /* core/relay.c: carried through a socketpair, or NULL */

	struct dp_memacct *mem;      /* the process's bound, or NULL */
	uint32_t rx_acct;            /* bytes of ours in mem->used: rx ring... */
	uint32_t tx_acct;            /* ...and tx ring */
};

/* Bytes the app has queued beyond tx_cons (acquire on tx_prod, pairs with the
 * shim's release after copying into the ring). A value larger than the ring marks
 * the socket broken and returns 0. */
uint32_t dp_sock_tx_queued(struct dp_sock *s);
/* The protocol is done with n bytes at tx_cons (TCP: acknowledged): release them. */
void dp_sock_tx_release(struct dp_ctx *ctx, struct dp_sock *s, uint32_t n);

/* Free bytes in the receive ring (acquire on rx_cons, pairs with the shim's release
 * after reading), limited by rcvbuf. Invalid rx_cons marks the socket broken: 0.
 * What arriving data may fill. */
uint32_t dp_sock_rx_room(struct dp_sock *s);
/* dp_sock_rx_room() further limited by the process's bound (but never below what
 * makes SHUNT_MEM_FLOOR bytes held): what may be offered (the TCP window). */
uint32_t dp_sock_rx_space(struct dp_sock *s);
/* The socket holds nothing any more (it is being freed): its share of the
 * process's bound goes back. */
void dp_sock_mem_drop(struct dp_sock *s);
/* Copy len bytes into the receive ring at rx_prod + off (off > 0 for data held ahead
 * of a gap); the caller has checked off + len <= dp_sock_rx_space(). */
void dp_sock_rx_write(struct dp_sock *s, uint32_t off, const void *data, uint32_t len);
/* Publish n more bytes (release on rx_prod) and wake readers. */
void dp_sock_rx_commit(struct dp_ctx *ctx, struct dp_sock *s, uint32_t n);

/* Write error / flags without publishing: the next dp_sock_event() (or any of the
 * dp_sock_set_* below) makes them visible together with what it publishes, so a
 * reader never sees half of a change (an error without the state it ended in). */
void dp_sock_stage_error(struct dp_sock *s, int err);
void dp_sock_stage_flags(struct dp_sock *s, uint32_t set, uint32_t clear);

/* Publish state / flags / error / addresses; each bumps ev_seq and wakes waiters. */
void dp_sock_set_state(struct dp_ctx *ctx, struct dp_sock *s, uint32_t state);
void dp_sock_set_flags(struct dp_ctx *ctx, struct dp_sock *s, uint32_t set, uint32_t clear);
void dp_sock_set_error(struct dp_ctx *ctx, struct dp_sock *s, int err);
void dp_sock_set_local(struct dp_sock *s, uint32_t addr_be, uint16_t port_be);
void dp_sock_set_remote(struct dp_sock *s, uint32_t addr_be, uint16_t port_be);
/* Queue the ICMP error that ended a connect for MSG_ERRQUEUE (abi.h eq_*): the
 * failed segment's destination and its first transport bytes (l4, l4_len). */
void dp_sock_queue_error(struct dp_ctx *ctx, struct dp_sock *s, int err,
			 const struct icmp_err *icmp, uint32_t dst_be, uint16_t dport_be,
			 const uint8_t *l4, uint32_t l4_len);

/* Bump ev_seq (release) and ask the loop to wake whoever waits on the socket (its
 * sleepers and subscribed notifiers) at the end of the iteration. */
void dp_sock_event(struct dp_ctx *ctx, struct dp_sock *s);

/* The protocol no longer needs this socket's rings. If the app has closed it, the
 * slot is freed (it may be allocated again, with a new generation); otherwise it
 * stays until CLOSE. */
void dp_sock_pcb_done(struct dp_ctx *ctx, struct dp_sock *s);

/* core/app.c: put s on the loop's dirty list (once per iteration) so apps_wake()
 * wakes its waiters. Unit tests provide their own. */
void dp_app_sock_changed(struct dp_ctx *ctx, struct dp_sock *s);
/* core/app.c: allocate a slot of type in app for a socket the dataplane creates by
 * itself (a connection accepted by a listener): a new generation, every [dp]
 * field set, the [app] indices adopted, counted live, exactly as OPEN, but no
 * reply names it: the caller announces it. pcb is NULL (the protocol attaches
 * one). NULL when the process has no free slot (or is gone). Unit tests provide
 * their own. */
struct dp_sock *dp_app_sock_spawn(struct dp_ctx *ctx, struct dp_app *app, uint32_t type);
/* core/app.c: free slot s (the app closed it and the protocol is done with it).
 * Unit tests provide their own. */
void dp_app_release_slot(struct dp_ctx *ctx, struct dp_app *app, struct dp_sock *s);

#endif /* SHUNT_DP_SOCK_H */
