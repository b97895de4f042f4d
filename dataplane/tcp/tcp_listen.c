/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Listeners and their children (see tcp_listen.h).
 *
 *   tcp_listen_start()   listeners[port] = tcb, backlog
 *   tcp_listen_add_child() -> syn_q        tcp_listen_announce() -> acc_q + record
 *   listen_prune(): children whose record the app took leave acc_q (ordinary now)
 *   tcp_listen_stop() -> tcp_listen_drop_child() each -> RST, tcb_free() -> slot freed
 *
 * The port table is a direct array (512 KiB, once): one listener per port, as
 * Linux allows without SO_REUSEPORT, and our one address means a listener on
 * 0.0.0.0 and one on the stack's address would always conflict.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_byteorder.h>

#include <shunt/ring.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_out.h"

#define ACC_REC ((uint32_t)sizeof(struct shunt_accept))

int tcp_listen_init(struct tcp_stack *ts)
{
	ts->listeners = calloc(65536, sizeof(*ts->listeners));
	return ts->listeners == NULL ? -ENOMEM : 0;
}

void tcp_listen_fini(struct tcp_stack *ts)
{
	free(ts->listeners);
	ts->listeners = NULL;
}

struct tcb *tcp_listen_lookup(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
			      uint32_t raddr_be, uint16_t rport_be)
{
	struct tcb *l, *pick = NULL;
	uint32_t n = 0, h;

	/* One listener, or an SO_REUSEPORT group: each matching member in turn by a
	 * hash of the peer (Linux reuseport_select_sock), so one client's SYNs and
	 * ACK all reach the same listener. */
	h = (raddr_be * 0x9e3779b1u) ^ ((uint32_t)rport_be * 0x85ebca6bu);
	h ^= h >> 15;
	for (l = ts->listeners[rte_be_to_cpu_16(lport_be)]; l != NULL; l = l->rpnext)
		if (l->laddr_be == 0 || l->laddr_be == laddr_be)
			n++;
	if (n == 0)
		return NULL;
	h %= n;
	for (l = ts->listeners[rte_be_to_cpu_16(lport_be)]; l != NULL; l = l->rpnext) {
		if (l->laddr_be != 0 && l->laddr_be != laddr_be)
			continue;
		if (h-- == 0) {
			pick = l;
			break;
		}
	}
	return pick;
}

/* Take l out of its port's listener list. */
static void listen_unhook(struct tcp_stack *ts, struct tcb *l)
{
	struct tcb **pp = &ts->listeners[rte_be_to_cpu_16(l->lport_be)];

	for (; *pp != NULL; pp = &(*pp)->rpnext) {
		if (*pp == l) {
			*pp = l->rpnext;
			break;
		}
	}
	l->rpnext = NULL;
}

uint32_t tcp_listen_backlog(uint32_t arg, uint32_t rx_size)
{
	/* Linux __sys_listen(): `if ((unsigned int)backlog > somaxconn) backlog =
	 * somaxconn`, so a negative backlog means somaxconn too */
	uint32_t b = arg > TCP_SOMAXCONN ? TCP_SOMAXCONN : arg;
	uint32_t cap = rx_size / ACC_REC - 1; /* backlog + 1 records must fit the ring */

	return b > cap ? cap : b;
}

int tcp_listen_start(struct dp_ctx *ctx, struct tcb *tcb, uint32_t backlog)
{
	struct tcb **slot = &ctx->tcp->listeners[rte_be_to_cpu_16(tcb->lport_be)], *l;
	bool member = false;

	for (l = *slot; l != NULL; l = l->rpnext) {
		if (l == tcb)
			member = true; /* listen() again: only the backlog changes */
		else if (!(l->reuseport && tcb->reuseport))
			return -EADDRINUSE;
	}
	if (!member) {
		tcb->rpnext = *slot;
		*slot = tcb;
	}
	tcb->backlog = backlog;
	tcb->synq_overflowed = false;
	return 0;
}

/* Take c off its listener's queue (syn_q or acc_q); c names no listener after. */
static void listen_unlink(struct tcb *c)
{
	struct tcb *l = c->listener;

	if (l == NULL)
		return;
	if (c->cprev != NULL)
		c->cprev->cnext = c->cnext;
	else if (c->acc_queued)
		l->acc_head = c->cnext;
	else
		l->syn_q = c->cnext;
	if (c->cnext != NULL)
		c->cnext->cprev = c->cprev;
	else if (c->acc_queued)
		l->acc_tail = c->cprev;
	if (!c->acc_queued)
		l->syn_qlen--;
	c->cnext = c->cprev = NULL;
	c->listener = NULL;
	c->acc_queued = false;
}

/* Forget the children whose records the app has taken (rx_cons moved past them),
 * and count the records still queued. false if rx_cons is impossible (more than
 * the ring holds, or not on a record boundary). */
static bool listen_prune(struct tcb *l, uint32_t *queued)
{
	struct dp_sock *s = l->s;
	uint32_t cons, used;
	struct tcb *c;

	*queued = 0;
	if (s == NULL)
		return true;
	/* acquire: pairs with the shim's release CAS on rx_cons after it read the
	 * record; only compared, never used as an index */
	cons = SHUNT_LOAD_ACQ(&s->sh->rx_cons);
	used = s->rx_prod - cons;
	if (used > s->rx_size || used % ACC_REC != 0)
		return false;
	while ((c = l->acc_head) != NULL && (int32_t)(cons - c->acc_pos) > 0)
		listen_unlink(c); /* accepted: an ordinary connection from now on */
	*queued = used / ACC_REC;
	return true;
}

int tcp_listen_acceptq_check(struct tcb *l)
{
	uint32_t queued;

	if (!listen_prune(l, &queued))
		return -EIO;
	/* Linux sk_acceptq_is_full(): ack_backlog > max_ack_backlog */
	return queued > l->backlog ? -ENOBUFS : 0;
}

bool tcp_listen_synq_full(const struct tcb *l)
{
	/* Linux inet_csk_reqsk_queue_is_full(): qlen > max_ack_backlog (6.x) */
	return l->syn_qlen > l->backlog;
}

void tcp_listen_add_child(struct tcb *l, struct tcb *c)
{
	c->listener = l;
	c->acc_queued = false;
	c->cprev = NULL;
	c->cnext = l->syn_q;
	if (l->syn_q != NULL)
		l->syn_q->cprev = c;
	l->syn_q = c;
	l->syn_qlen++;
}

void tcp_listen_announce(struct dp_ctx *ctx, struct tcb *c)
{
	struct tcb *l = c->listener;
	struct dp_sock *ls = l->s;
	struct shunt_accept rec;

	listen_unlink(c);
	if (ls == NULL || c->s == NULL)
		return; /* cannot happen: a listener and its children keep their slots */
	rec.sock = c->s->idx;
	rec.gen = c->s->gen;
	c->listener = l;
	c->acc_queued = true;
	c->acc_pos = ls->rx_prod;
	c->cnext = NULL;
	c->cprev = l->acc_tail;
	if (l->acc_tail != NULL)
		l->acc_tail->cnext = c;
	else
		l->acc_head = c;
	l->acc_tail = c;
	/* The child's slot is complete (state, addresses, rings): the release on the
	 * listener's rx_prod in dp_sock_rx_commit() publishes it with the record.
	 * Room: at most backlog + 1 records are queued, and the backlog is bounded by
	 * the ring (tcp_listen_backlog()). */
	dp_sock_rx_write(ls, 0, &rec, ACC_REC);
	dp_sock_rx_commit(ctx, ls, ACC_REC);
	ctx->tcp_stats.tcp_conn_accepted++;
}

bool tcp_listen_unaccepted(struct tcb *c)
{
	uint32_t queued;

	if (c->listener == NULL)
		return false;
	(void)listen_prune(c->listener, &queued);
	return c->listener != NULL;
}

void tcp_listen_drop_child(struct dp_ctx *ctx, struct tcb *c, bool rst)
{
	/* Linux inet_csk_listen_stop() -> inet_child_forget(): a child still queued
	 * is aborted; tcp_disconnect() resets a peer that may think it open */
	if (rst && c->state >= SHUNT_SS_SYN_RECEIVED && c->state != SHUNT_SS_TIME_WAIT) {
		tcp_send_rst(ctx, c);
		ctx->tcp_stats.tcp_listen_child_reset++;
	}
	listen_unlink(c);
	if (c->s != NULL)
		c->s->app_closed = true; /* nobody will: the slot goes with the tcb */
	tcb_free(ctx, c);
}

void tcp_listen_stop(struct dp_ctx *ctx, struct tcb *l)
{
	uint32_t queued;
	uint16_t port = rte_be_to_cpu_16(l->lport_be);

	(void)listen_prune(l, &queued); /* the accepted ones are the app's to keep */
	while (l->syn_q != NULL)
		tcp_listen_drop_child(ctx, l->syn_q, true);
	while (l->acc_head != NULL)
		tcp_listen_drop_child(ctx, l->acc_head, true);
	(void)port;
	listen_unhook(ctx->tcp, l);
}

void tcp_listen_forget(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcb **qs[2] = { &tcb->syn_q, &tcb->acc_head };
	struct tcb *c;
	uint16_t port;
	int i;

	listen_unlink(tcb);
	for (i = 0; i < 2; i++) {
		while ((c = *qs[i]) != NULL) {
			*qs[i] = c->cnext;
			c->cnext = c->cprev = NULL;
			c->listener = NULL;
			c->acc_queued = false;
		}
	}
	tcb->acc_tail = NULL;
	tcb->syn_qlen = 0;
	port = rte_be_to_cpu_16(tcb->lport_be);
	if (ctx->tcp->listeners != NULL && ctx->tcp->listeners[port] != NULL)
		listen_unhook(ctx->tcp, tcb);
}
