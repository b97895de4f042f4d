/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Passive open: listeners, their children, and the accept records announced in a
 * listener's receive ring (abi.h, struct shunt_accept).
 *
 *   LISTEN -> tcp_app_listen() (tcp_api.c) -> tcp_listen_start()
 *   tcp_input_bytes(), no 4-tuple match -> tcp_listen_lookup() -> listen_input()
 *     (tcp_in.c) -> tcp_listen_acceptq_check() / tcp_listen_synq_full()
 *     -> dp_app_sock_spawn() + tcp_open() -> tcp_listen_add_child() -> SYN-ACK
 *     | SYN queue full: a SYN cookie's SYN-ACK, no child (tcp_syncookie.h); the
 *       ACK that returns a good cookie makes the child, SYN_RECEIVED -> ESTABLISHED
 *   final ACK (synchronized(), SYN_RECEIVED) -> tcp_listen_acceptq_check() (drop)
 *     | ESTABLISHED -> tcp_listen_announce(): record + rx_prod (release)
 *   CLOSE / abort / disconnect of the listener -> tcp_listen_stop(): the children
 *     not yet accepted are reset and their slots freed
 *   tcb_free() -> tcp_listen_forget()
 *
 * The app takes records by a CAS on the listener's rx_cons and tells us nothing:
 * a child is accepted once rx_cons has moved past its record (acc_pos). Every
 * reader of rx_cons here treats it as untrusted (an impossible value counts as a
 * full queue and breaks nothing else).
 */
#ifndef SHUNT_TCP_LISTEN_H
#define SHUNT_TCP_LISTEN_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct tcb;
struct tcp_stack;

int tcp_listen_init(struct tcp_stack *ts);
void tcp_listen_fini(struct tcp_stack *ts);

/* The listener a SYN to laddr:lport may open a connection on: the port's
 * listener if it is bound to 0.0.0.0 or to laddr. NULL otherwise. O(1). */
/* The listener for a SYN (or cookie ACK) from raddr:rport to laddr:lport: the
 * port's listener, or one member of its SO_REUSEPORT group picked by a hash of the
 * peer; NULL if none is bound to 0.0.0.0 or laddr. */
struct tcb *tcp_listen_lookup(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
			      uint32_t raddr_be, uint16_t rport_be);

/* listen()'s backlog as Linux keeps it: <= 0 is 0, above somaxconn is somaxconn;
 * further bounded so that backlog + 1 records fit the ring of rx_size bytes. */
uint32_t tcp_listen_backlog(uint32_t arg, uint32_t rx_size);

/* tcb (bound, CLOSED) becomes the listener of its port. 0 or -EADDRINUSE (the
 * port already has one: Linux refuses a second listener without SO_REUSEPORT). */
int tcp_listen_start(struct dp_ctx *ctx, struct tcb *tcb, uint32_t backlog);
/* The listener stops: every child not yet accepted is reset (RST to the peer) and
 * its slot freed; accepted ones become ordinary connections. The listener leaves
 * the port's table entry; its state and port are the caller's business. */
void tcp_listen_stop(struct dp_ctx *ctx, struct tcb *l);

/* May one more connection be announced on l? 0; -ENOBUFS when more than backlog
 * records wait (Linux sk_acceptq_is_full()); -EIO when the app wrote an
 * impossible rx_cons. Forgets the children the app took since the last look. */
int tcp_listen_acceptq_check(struct tcb *l);
/* Are there more half-open children than backlog? */
bool tcp_listen_synq_full(const struct tcb *l);

/* c (SYN_RECEIVED) joins l's half-open children. */
void tcp_listen_add_child(struct tcb *l, struct tcb *c);
/* c (just ESTABLISHED, its listener's queue not full) is announced: its record
 * goes into the listener's rx ring and rx_prod moves (release), waking the app. */
void tcp_listen_announce(struct dp_ctx *ctx, struct tcb *c);
/* Is c a child the app has not accepted yet? Forgets the accepted ones first. */
bool tcp_listen_unaccepted(struct tcb *c);
/* Drop child c the app never saw accepted: RST to the peer if rst, then the tcb
 * and its slot are freed. */
void tcp_listen_drop_child(struct dp_ctx *ctx, struct tcb *c, bool rst);

/* tcb is being freed: a child leaves its listener's queue; a listener's children
 * are left as ordinary connections (tcp_listen_stop() first resets them where
 * that is wanted). */
void tcp_listen_forget(struct dp_ctx *ctx, struct tcb *tcb);

#endif /* SHUNT_TCP_LISTEN_H */
