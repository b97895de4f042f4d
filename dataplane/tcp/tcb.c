/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Control block lifecycle and the one state transition (see tcb.h).
 *
 *   tcp_set_state() -> log, port accounting, dp_sock_set_state()
 *   tcb_reset() -> dp_sock_set_error() + SHUNT_SF_RESET -> tcb_close()
 *   tcb_close() -> [listener] tcp_listen_stop(), timers off, table/port out, CLOSED
 *                -> [app closed] tcb_free()
 *   tcb_free()  -> tcb_detach() -> dp_sock_pcb_done()
 */
#include <stdlib.h>

#include "dp.h"
#include "core/log.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_table.h"
#include "tcp/tcp_timer.h"

static const char *const state_names[] = {
	[SHUNT_SS_FREE] = "FREE",
	[SHUNT_SS_CLOSED] = "CLOSED",
	[SHUNT_SS_LISTEN] = "LISTEN",
	[SHUNT_SS_SYN_SENT] = "SYN_SENT",
	[SHUNT_SS_SYN_RECEIVED] = "SYN_RECEIVED",
	[SHUNT_SS_ESTABLISHED] = "ESTABLISHED",
	[SHUNT_SS_FIN_WAIT_1] = "FIN_WAIT_1",
	[SHUNT_SS_FIN_WAIT_2] = "FIN_WAIT_2",
	[SHUNT_SS_CLOSE_WAIT] = "CLOSE_WAIT",
	[SHUNT_SS_CLOSING] = "CLOSING",
	[SHUNT_SS_LAST_ACK] = "LAST_ACK",
	[SHUNT_SS_TIME_WAIT] = "TIME_WAIT",
};

bool tcp_range_insert(struct tcp_range *r, uint8_t *n, uint8_t max, uint32_t start,
		      uint32_t end, uint8_t *at)
{
	uint8_t i, j, cnt = *n;

	for (i = 0; i < cnt && SEQ_LT(r[i].end, start); i++)
		;
	*at = i;
	if (i < cnt && SEQ_LEQ(r[i].start, end)) {
		/* overlaps or touches range i: widen it, then swallow the ranges it reaches */
		if (SEQ_LT(start, r[i].start))
			r[i].start = start;
		if (SEQ_GT(end, r[i].end))
			r[i].end = end;
		for (j = i + 1; j < cnt && SEQ_LEQ(r[j].start, r[i].end); j++)
			if (SEQ_GT(r[j].end, r[i].end))
				r[i].end = r[j].end;
		if (j > i + 1) {
			uint8_t gone = j - i - 1;

			for (; j < cnt; j++)
				r[j - gone] = r[j];
			*n = cnt - gone;
		}
		return true;
	}
	if (cnt == max)
		return false;
	for (j = cnt; j > i; j--)
		r[j] = r[j - 1];
	r[i].start = start;
	r[i].end = end;
	*n = cnt + 1;
	return true;
}

const char *tcp_state_name(uint32_t state)
{
	return state <= SHUNT_SS_TIME_WAIT ? state_names[state] : "?";
}

void tcp_set_state(struct dp_ctx *ctx, struct tcb *tcb, uint32_t state)
{
	if (tcb->state == state)
		return;
	DP_DEBUG("tcp: %u.%u.%u.%u:%u %s -> %s", ((uint8_t *)&tcb->raddr_be)[0],
		((uint8_t *)&tcb->raddr_be)[1], ((uint8_t *)&tcb->raddr_be)[2],
		((uint8_t *)&tcb->raddr_be)[3], (unsigned)__builtin_bswap16(tcb->rport_be),
		tcp_state_name(tcb->state), tcp_state_name(state));
	if (state == SHUNT_SS_TIME_WAIT)
		tcp_port_timewait(ctx->tcp, tcb);
	tcb->state = state;
	if (tcb->s != NULL)
		dp_sock_set_state(ctx, tcb->s, state);
}

void tcb_publish_info(const struct dp_ctx *ctx, struct tcb *tcb, bool force)
{
	struct shunt_sock *sh;

	if (tcb->s == NULL || (!force && ctx->now_us < tcb->info_due_us))
		return;
	tcb->info_due_us = ctx->now_us + TCB_INFO_PERIOD_US;
	sh = tcb->s->sh;
	sh->mss = tcb->mss;
	sh->srtt_us = tcb->srtt_us;
	sh->rttvar_us = tcb->rttvar_us;
	sh->rto_us = tcb->rto_us;
	sh->snd_cwnd = tcb->cwnd;
	sh->retrans = tcb->retrans;
}

void tcb_stage_port(struct tcb *tcb)
{
	if (tcb->s != NULL)
		dp_sock_stage_flags(tcb->s, tcb->port_held ? SHUNT_SF_BOUND : 0,
				    tcb->port_held ? 0 : SHUNT_SF_BOUND);
}

void tcb_detach(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct dp_sock *s = tcb->s;

	if (s == NULL)
		return;
	tcb->s = NULL;
	dp_sock_pcb_done(ctx, s); /* clears s->pcb; frees the slot if the app closed */
}

void tcb_free(struct dp_ctx *ctx, struct tcb *tcb)
{
	struct tcp_stack *ts = ctx->tcp;

	tcp_timer_stop_all(ctx, tcb);
	tcp_listen_forget(ctx, tcb);
	tcp_table_remove(ts, tcb);
	tcp_port_release(ts, tcb);
	tcb_detach(ctx, tcb);
	if (tcb->lprev)
		tcb->lprev->lnext = tcb->lnext;
	else
		ts->all = tcb->lnext;
	if (tcb->lnext)
		tcb->lnext->lprev = tcb->lprev;
	ts->n_tcbs--;
	free(tcb);
}

void tcb_close(struct dp_ctx *ctx, struct tcb *tcb)
{
	/* a listener closed by a reset (its app broke its ring) stops listening:
	 * left in the port's list, SYNs would reach a CLOSED tcb, and once a later
	 * connect() moved its port, the freed tcb (appfuzz seed 1) */
	if (tcb->state == SHUNT_SS_LISTEN)
		tcp_listen_stop(ctx, tcb);
	tcp_timer_stop_all(ctx, tcb);
	tcp_table_remove(ctx->tcp, tcb);
	tcp_port_release(ctx->tcp, tcb);
	tcb_stage_port(tcb);
	tcp_set_state(ctx, tcb, SHUNT_SS_CLOSED);
	/* the app may still read what arrived and must see CLOSED; it frees the tcb
	 * with its close, unless it already closed */
	if (tcb->s == NULL || tcb->s->app_closed)
		tcb_free(ctx, tcb);
}

void tcb_reset(struct dp_ctx *ctx, struct tcb *tcb, int err)
{
	struct dp_sock *s = tcb->s;
	bool was_closed = tcb->state == SHUNT_SS_CLOSED;

	/* error, RESET and CLOSED reach the app in one ev_seq step */
	if (s != NULL && err != 0) {
		dp_sock_stage_error(s, err);
		dp_sock_stage_flags(s, SHUNT_SF_RESET, 0);
	}
	tcb_close(ctx, tcb); /* publishes CLOSED, and the two above with it */
	if (s != NULL && err != 0 && was_closed)
		dp_sock_event(ctx, s); /* no state change carried them */
}
