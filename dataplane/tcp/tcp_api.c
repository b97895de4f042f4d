/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The TCP interface the rest of the dataplane calls (tcp.h), except tcp_input()
 * (tcp_in.c) and the timer entry points (tcp_timer.c).
 *
 *   tcp_init() -> tables, timer heap, ISN secret
 *   core/app.c: OPEN -> tcp_open() | BIND -> tcp_bind() -> tcp_port_bind()
 *     CONNECT -> tcp_connect() -> route_lookup(), tcp_port_connect(), tcp_isn(),
 *                SYN_SENT, tcp_send_syn(), RTO armed
 *     SEND -> tcp_app_send() -> tcp_output()      RECVD -> tcp_app_recvd() -> window update
 *     SHUTDOWN -> FIN queued -> tcp_output()       CLOSE -> tcp_app_close() (FIN or RST)
 *     SETOPT -> tcp_app_setopt()                   process gone -> tcp_app_abort()
 *     LISTEN -> tcp_app_listen() -> [autobind] tcp_listen_start(), LISTEN
 *     CLOSE / SHUTDOWN(RD) / DISCONNECT / abort of a listener -> tcp_listen_stop()
 *   net/icmp, arp -> tcp_notify_error()
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <shunt/ring.h>

#include "dp.h"
#include "core/sock.h"
#include "net/icmp.h"
#include "net/net.h"
#include "tcp/tcb.h"
#include "tcp/tcp.h"
#include "tcp/tcp_cc.h"
#include "tcp/tcp_isn.h"
#include "tcp/tcp_listen.h"
#include "tcp/tcp_out.h"
#include "tcp/tcp_pmtu.h"
#include "tcp/tcp_table.h"
#include "tcp/tcp_timer.h"
#include "tcp/tcp_wire.h"

#define TCP_BUCKETS   1024  /* the 4-tuple table's first and smallest size (power of two) */
#define TCP_HEAP_INIT 1024
#define TCP_SYNCNT_MAX 127  /* Linux MAX_TCP_SYNCNT */
#define TCP_DUMP_TCBS 64    /* control blocks listed by tcp_dump() */

int tcp_init(struct dp_ctx *ctx)
{
	struct tcp_stack *ts = calloc(1, sizeof(*ts));
	int rc;

	if (ts == NULL)
		return -ENOMEM;
	rc = tcp_isn_init(ts);
	if (rc == 0)
		rc = tcp_table_init(ts, TCP_BUCKETS);
	if (rc == 0)
		rc = tcp_listen_init(ts);
	if (rc == 0)
		rc = tcp_timer_init(ts, TCP_HEAP_INIT);
	if (rc != 0) {
		tcp_listen_fini(ts);
		tcp_table_fini(ts);
		free(ts);
		return rc;
	}
	ts->syncookies = true; /* Linux's default, net.ipv4.tcp_syncookies = 1 */
	ts->ts_on = ctx->conf == NULL || ctx->conf->timestamps != 0;
	ts->sack_on = ctx->conf == NULL || ctx->conf->sack != 0;
	ts->ws_on = ctx->conf == NULL || ctx->conf->window_scaling != 0;
	ts->rmem_max = ctx->conf != NULL ? ctx->conf->rmem_max : TCP_RMEM_MAX_DEFAULT;
	ts->mtu_probing = ctx->conf != NULL ? (uint8_t)ctx->conf->mtu_probing : 0;
	/* Linux's defaults: cubic, tcp_slow_start_after_idle = 1 */
	ts->cc_default = ctx->conf != NULL && tcp_cc_ops(ctx->conf->congestion) != NULL ?
				 (uint8_t)ctx->conf->congestion : SHUNT_CC_CUBIC;
	ts->ssai = ctx->conf == NULL || ctx->conf->slow_start_after_idle != 0;
	ts->ecn = ctx->conf != NULL ? (uint8_t)ctx->conf->ecn : 2; /* Linux's default */
	ts->ecn_fallback = ctx->conf == NULL || ctx->conf->ecn_fallback != 0;
	ctx->tcp = ts;
	return 0;
}

static bool synchronized_state(uint32_t st)
{
	return st >= SHUNT_SS_SYN_RECEIVED && st != SHUNT_SS_TIME_WAIT;
}

void tcp_fini(struct dp_ctx *ctx)
{
	struct tcp_stack *ts = ctx->tcp;

	if (ts == NULL)
		return;
	while (ts->all != NULL) {
		if (synchronized_state(ts->all->state))
			tcp_send_rst(ctx, ts->all);
		tcb_free(ctx, ts->all);
	}
	tcp_timer_fini(ts);
	tcp_listen_fini(ts);
	tcp_table_fini(ts);
	free(ts);
	ctx->tcp = NULL;
}

/* The sequence-space state a (re)connect starts from. */
static void tcb_reset_vars(const struct dp_ctx *ctx, struct tcb *tcb)
{
	tcb->rcv_ws = tcp_rcv_wscale(ctx, tcb->s);
	tcb->snd_ws = 0;
	tcb->ws_ok = tcb->ts_ok = false;
	tcb->ts_recent = 0;
	tcb->pmtu = 0;
	tcb->pmtu_gen = 0;
	tcb->pmtu_expires_us = UINT64_MAX;
	tcb->mtup_on = false;
	tcb->mtup_low = 0;
	tcb->rcv_mss = tcp_adv_mss(ctx, tcb);
	tcb->mss = TCP_MSS_DEFAULT;
	tcb->mss_clamp = 0;
	tcb->snd_wnd = tcb->snd_wnd_max = 0;
	tcb->fin_queued = tcb->fin_sent = false;
	tcb->n_ooo = 0;
	tcb->rx_fin_ooo = false;
	tcb->rcv_unacked = 0;
	tcb->ack_now = false;
	tcb->cwnd = 0;
	tcb->ssthresh = UINT32_MAX / 2;
	tcb->dupacks = 0;
	tcb->in_recovery = false;
	tcb->n_sacked = 0;
	tcb->rto_recover = false;
	tcb->ecn_flags = tcb->ecn_quick = 0;
	tcb->srtt_us = tcb->rttvar_us = 0;
	tcb->rto_us = TCP_RTO_INIT_US;
	tcb->rtt_valid = tcb->rtt_timing = false;
	tcb->nrexmit = tcb->npersist = tcb->probes_out = 0;
	tcb->rexmit_start_us = 0;
	tcb->soft_err = 0;
	tcb->syn_acked = false;
}

int tcp_open(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcp_stack *ts = ctx->tcp;
	struct tcb *tcb;
	int i;

	if (s->pcb != NULL)
		return -EINVAL;
	if (tcp_timer_reserve(ts, ts->n_tcbs + 1) < 0)
		return -ENOMEM;
	tcb = calloc(1, sizeof(*tcb));
	if (tcb == NULL)
		return -ENOMEM;
	tcb->s = s;
	tcb->heap_idx = UINT32_MAX;
	for (i = 0; i < TCP_T_N; i++)
		tcb->timer[i] = TCP_NO_TIMER;
	tcb->deadline = TCP_NO_TIMER;
	tcb->state = SHUNT_SS_CLOSED;
	tcb->syn_retries = (uint8_t)(ctx->conf != NULL ? ctx->conf->syn_retries : 6);
	tcb->keep_idle_s = TCP_KEEP_IDLE_S;
	tcb->keep_intvl_s = TCP_KEEP_INTVL_S;
	tcb->keep_cnt = TCP_KEEP_CNT;
	tcb_reset_vars(ctx, tcb);
	(void)tcp_cc_select(tcb, ts->cc_default, false);
	tcb->lnext = ts->all;
	if (ts->all)
		ts->all->lprev = tcb;
	ts->all = tcb;
	ts->n_tcbs++;
	s->pcb = tcb;
	dp_sock_set_state(ctx, s, SHUNT_SS_CLOSED);
	return 0;
}

int tcp_bind(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be,
	     uint32_t flags)
{
	struct tcb *tcb = s->pcb;
	int rc;

	(void)flags; /* a TCP socket keeps its port until close, bound or not */
	if (tcb == NULL || tcb->state != SHUNT_SS_CLOSED)
		return -EINVAL;
	rc = tcp_port_bind(ctx, tcb, addr_be, port_be);
	if (rc == 0) {
		tcb->addr_bound = addr_be != 0;
		tcb->laddr_be = addr_be; /* a listener matches SYNs to it (0: any) */
		tcb_stage_port(tcb);
		dp_sock_set_local(s, addr_be, tcb->lport_be);
	}
	return rc;
}

int tcp_app_listen(struct dp_ctx *ctx, struct dp_sock *s, uint32_t backlog)
{
	struct tcb *tcb = s->pcb;
	uint32_t b = tcp_listen_backlog(backlog, s->rx_size);
	int rc;

	if (tcb == NULL)
		return -EINVAL;
	if (tcb->state == SHUNT_SS_LISTEN) {
		tcb->backlog = b; /* Linux inet_listen() on a listener: the new backlog */
		return 0;
	}
	/* Linux inet_listen(): only an unconnected socket (SS_UNCONNECTED, TCP_CLOSE)
	 * may listen; one that connected or tried to (remote set until AF_UNSPEC
	 * dissolves it) is refused */
	if (tcb->state != SHUNT_SS_CLOSED || tcb->raddr_be != 0)
		return -EINVAL;
	if (!tcb->port_held) {
		/* inet_csk_listen_start() -> get_port(0): an unbound socket is given an
		 * ephemeral port, on 0.0.0.0 */
		rc = tcp_port_bind(ctx, tcb, 0, 0);
		if (rc != 0)
			return rc;
		tcb->laddr_be = 0;
		tcb->addr_bound = false;
		tcb_stage_port(tcb);
		dp_sock_set_local(s, 0, tcb->lport_be);
	}
	rc = tcp_listen_start(ctx, tcb, b);
	if (rc != 0)
		return rc;
	tcp_set_state(ctx, tcb, SHUNT_SS_LISTEN); /* publishes the port too */
	return 0;
}

int tcp_app_disconnect(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcb *tcb = s->pcb;
	bool need_reset;
	uint32_t old;

	if (tcb == NULL)
		return -EINVAL;
	old = tcb->state;
	/* Linux tcp_disconnect(): a listener stops (inet_csk_listen_stop()) */
	if (old == SHUNT_SS_LISTEN)
		tcp_listen_stop(ctx, tcb);
	/* tcp_need_reset(): the peer may think the connection is open */
	need_reset = old == SHUNT_SS_ESTABLISHED || old == SHUNT_SS_CLOSE_WAIT ||
		     old == SHUNT_SS_FIN_WAIT_1 || old == SHUNT_SS_FIN_WAIT_2 ||
		     old == SHUNT_SS_SYN_RECEIVED;
	if (need_reset) {
		tcp_send_rst(ctx, tcb);
		ctx->tcp_stats.tcp_conn_reset++;
	}
	tcp_timer_stop_all(ctx, tcb);
	tcp_table_remove(ctx->tcp, tcb);
	if (old == SHUNT_SS_TIME_WAIT)
		tcp_port_release(ctx->tcp, tcb); /* its port accounting already changed */
	tcb_reset_vars(ctx, tcb);
	tcb->raddr_be = 0;
	tcb->rport_be = 0;
	if (!tcb->addr_bound)
		tcb->laddr_be = 0; /* inet_reset_saddr(); the port stays (inet_num) */
	tcp_set_state(ctx, tcb, SHUNT_SS_CLOSED);
	dp_sock_set_remote(s, 0, 0);
	tcb_stage_port(tcb);
	/* getsockname shows inet_sport: the old port even once released (after a
	 * failed attempt), 0 only for a socket that never had one */
	dp_sock_set_local(s, tcb->laddr_be, tcb->lport_be);
	dp_sock_set_flags(ctx, s, 0, SHUNT_SF_RESET | SHUNT_SF_RX_EOF | SHUNT_SF_TX_SHUT);
	if (need_reset || old == SHUNT_SS_SYN_SENT)
		dp_sock_set_error(ctx, s, ECONNRESET);
	return 0;
}

int tcp_connect(struct dp_ctx *ctx, struct dp_sock *s, uint32_t dst_be, uint16_t dport_be)
{
	struct tcb *tcb = s->pcb;
	uint32_t nexthop;
	int rc;

	if (tcb == NULL)
		return -EINVAL;
	if (tcb->state == SHUNT_SS_SYN_SENT || tcb->state == SHUNT_SS_SYN_RECEIVED)
		return -EALREADY;
	if (tcb->state != SHUNT_SS_CLOSED)
		return -EISCONN;
	rc = route_lookup(ctx, dst_be, &nexthop);
	if (rc != 0)
		return rc;
	tcb_reset_vars(ctx, tcb);
	/* the destination's path MTU bounds the MSS we offer (Linux's advmss comes
	 * from the route, its exception included) and the one we send with */
	tcp_pmtu_init(ctx, tcb, dst_be);
	tcb->rcv_mss = tcp_adv_mss(ctx, tcb);
	/* Linux tcp_v4_connect() + tcp_connect_init(): until the SYN-ACK the MSS is
	 * TCP_MSS_DEFAULT (mss_clamp), or TCP_MAXSEG, within the route's, less the
	 * timestamp the SYN offers: what getsockopt(TCP_MAXSEG) reads meanwhile */
	tcb->mss = tcb->user_mss != 0 ? tcb->user_mss : TCP_MSS_DEFAULT;
	if (tcb->mss > tcb->rcv_mss)
		tcb->mss = tcb->rcv_mss;
	if (ctx->tcp->ts_on)
		tcb->mss -= 12;
	rc = tcp_port_connect(ctx, tcb, dst_be, dport_be);
	if (rc != 0)
		return rc;
	tcb->iss = tcp_isn(ctx->tcp, tcb->laddr_be, tcb->lport_be, dst_be, dport_be, ctx->now_us);
	tcb->snd_una = tcb->snd_nxt = tcb->snd_max = tcb->snd_sml = tcb->iss;
	tcb->rtt_start_us = ctx->now_us;
	tcb->rexmit_start_us = ctx->now_us; /* the SYN's: TCP_USER_TIMEOUT counts from it */
	tcb_stage_port(tcb);
	dp_sock_set_local(s, tcb->laddr_be, tcb->lport_be);
	dp_sock_set_remote(s, dst_be, dport_be);
	dp_sock_set_flags(ctx, s, 0, SHUNT_SF_RESET | SHUNT_SF_RX_EOF | SHUNT_SF_TX_SHUT);
	ctx->tcp_stats.tcp_conn_attempt++;
	tcp_set_state(ctx, tcb, SHUNT_SS_SYN_SENT);
	tcp_send_syn(ctx, tcb);
	tcp_timer_arm(ctx, tcb, TCP_T_REXMIT, TCP_RTO_INIT_US);
	tcb_publish_info(ctx, tcb, true);
	return 0;
}

/* The app wrote an impossible index: counted, the connection is reset. */
static bool app_broke(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->s == NULL || !tcb->s->broken)
		return false;
	ctx->tcp_stats.tcp_app_broken++;
	if (synchronized_state(tcb->state))
		tcp_send_rst(ctx, tcb);
	tcb_reset(ctx, tcb, ECONNRESET);
	return true;
}

void tcp_app_more(struct dp_sock *s, bool more)
{
	struct tcb *tcb = s->pcb;

	if (tcb != NULL)
		tcb->more = more;
}

void tcp_app_send(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcb *tcb = s->pcb;

	if (tcb == NULL)
		return;
	(void)dp_sock_tx_queued(s); /* validates tx_prod */
	if (app_broke(ctx, tcb))
		return;
	tcp_output(ctx, tcb);
}

void tcp_app_recvd(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcb *tcb = s->pcb;
	uint32_t old_wnd, new_wnd, grow, thresh;

	if (tcb == NULL)
		return;
	new_wnd = tcp_rcv_window(tcb); /* validates rx_cons */
	if (app_broke(ctx, tcb))
		return;
	if (tcb->state != SHUNT_SS_ESTABLISHED && tcb->state != SHUNT_SS_FIN_WAIT_1 &&
	    tcb->state != SHUNT_SS_FIN_WAIT_2)
		return;
	/* receiver SWS avoidance: announce a window that grew by a useful amount, or
	 * that reopened from below one MSS */
	old_wnd = SEQ_GT(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;
	grow = new_wnd > old_wnd ? new_wnd - old_wnd : 0;
	thresh = s->rx_size / 2 < 2u * tcb->rcv_mss ? s->rx_size / 2 : 2u * tcb->rcv_mss;
	if (grow >= thresh || (old_wnd < tcb->rcv_mss && new_wnd >= tcb->rcv_mss))
		tcp_send_ack(ctx, tcb);
}

/* Queue our FIN after what the app has written (ESTABLISHED / CLOSE_WAIT). */
static void queue_fin(struct dp_ctx *ctx, struct tcb *tcb)
{
	if (tcb->fin_queued)
		return;
	tcb->fin_seq = tcb->snd_una + dp_sock_tx_queued(tcb->s);
	tcb->fin_queued = true;
	dp_sock_set_flags(ctx, tcb->s, SHUNT_SF_TX_SHUT, 0);
	if (tcb->state == SHUNT_SS_ESTABLISHED)
		tcp_set_state(ctx, tcb, SHUNT_SS_FIN_WAIT_1);
	else if (tcb->state == SHUNT_SS_CLOSE_WAIT)
		tcp_set_state(ctx, tcb, SHUNT_SS_LAST_ACK);
	tcp_output(ctx, tcb);
}

int tcp_app_shutdown(struct dp_ctx *ctx, struct dp_sock *s, int how)
{
	struct tcb *tcb = s->pcb;

	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	if (tcb == NULL || tcb->state == SHUNT_SS_CLOSED)
		return -ENOTCONN;
	if (tcb->state == SHUNT_SS_LISTEN) {
		/* Linux inet_shutdown(): SHUT_WR leaves a listener alone; a shutdown of
		 * the receive side disconnects it (children reset, CLOSED, port kept) */
		return how == SHUT_WR ? 0 : tcp_app_disconnect(ctx, s);
	}
	if (how == SHUT_RD)
		return 0; /* Linux: reads return 0 once drained; the shim does that */
	switch (tcb->state) {
	case SHUNT_SS_SYN_SENT:
	case SHUNT_SS_SYN_RECEIVED:
		/* Linux tcp_shutdown() -> tcp_close_state(): the attempt is dropped */
		dp_sock_set_flags(ctx, s, SHUNT_SF_TX_SHUT, 0);
		tcb_close(ctx, tcb);
		return 0;
	case SHUNT_SS_ESTABLISHED:
	case SHUNT_SS_CLOSE_WAIT:
		queue_fin(ctx, tcb);
		return 0;
	default:
		return 0; /* FIN already queued */
	}
}

void tcp_app_close(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcb *tcb = s->pcb;
	bool unread;

	s->app_closed = true;
	if (tcb == NULL) {
		dp_sock_pcb_done(ctx, s); /* nothing of ours: the slot can go */
		return;
	}
	if (tcp_listen_unaccepted(tcb)) {
		/* a child the app never took (its process exited, or it named a slot
		 * it was not given): reset, as Linux resets what is left in an accept
		 * queue when the listener goes */
		tcp_listen_drop_child(ctx, tcb, true);
		return;
	}
	/* acquire on rx_cons: only compared, never used as an index */
	unread = SHUNT_LOAD_ACQ(&s->sh->rx_cons) != s->rx_prod;
	switch (tcb->state) {
	case SHUNT_SS_CLOSED:
		tcb_free(ctx, tcb);
		return;
	case SHUNT_SS_LISTEN:
		/* Linux tcp_close() -> inet_csk_listen_stop(): the children not yet
		 * accepted are reset; the listener itself sends nothing */
		tcp_listen_stop(ctx, tcb);
		tcb_close(ctx, tcb); /* app closed: frees the tcb and the slot */
		return;
	case SHUNT_SS_SYN_SENT:
	case SHUNT_SS_SYN_RECEIVED:
		tcb_close(ctx, tcb); /* Linux sends nothing for an unanswered SYN */
		return;
	case SHUNT_SS_TIME_WAIT:
		tcb_detach(ctx, tcb);
		return;
	default:
		break;
	}
	if (tcb->linger0 || unread) {
		/* RFC 2525 2.17 / Linux tcp_close(): data the app never read, or
		 * SO_LINGER 0, abort with RST */
		tcp_send_rst(ctx, tcb);
		ctx->tcp_stats.tcp_conn_reset++;
		tcb_reset(ctx, tcb, 0);
		return;
	}
	switch (tcb->state) {
	case SHUNT_SS_ESTABLISHED:
	case SHUNT_SS_CLOSE_WAIT:
		queue_fin(ctx, tcb);
		break;
	case SHUNT_SS_FIN_WAIT_2:
		/* orphaned: Linux gives the peer tcp_fin_timeout to finish */
		tcp_timer_arm(ctx, tcb, TCP_T_WAIT, TCP_FIN_TIMEOUT_US);
		break;
	default:
		break; /* FIN_WAIT_1, CLOSING, LAST_ACK: our FIN is on its way */
	}
}

int tcp_app_setopt(struct dp_ctx *ctx, struct dp_sock *s, uint32_t opt, uint64_t value)
{
	struct tcb *tcb = s->pcb;

	if (tcb == NULL)
		return -EINVAL;
	switch (opt) {
	case SHUNT_OPT_NODELAY:
		tcb->nodelay = value != 0;
		if (tcb->nodelay)
			tcp_output(ctx, tcb); /* Linux pushes what Nagle held back */
		return 0;
	case SHUNT_OPT_CORK:
		tcb->cork = value != 0;
		if (!tcb->cork)
			tcp_output(ctx, tcb); /* tcp_push_pending_frames() on uncork */
		return 0;
	case SHUNT_OPT_SYNCNT:
		if (value < 1 || value > TCP_SYNCNT_MAX)
			return -EINVAL;
		tcb->syn_retries = (uint8_t)value;
		return 0;
	case SHUNT_OPT_USER_TIMEOUT:
		if (value > INT32_MAX)
			return -EINVAL;
		tcb->user_timeout_us = value * 1000 > UINT32_MAX ? UINT32_MAX :
				       (uint32_t)(value * 1000);
		return 0;
	case SHUNT_OPT_RCVBUF:
		/* bounded by the ring; at least two MSS so a window can open */
		s->rcvbuf = value > s->rx_size ? s->rx_size :
			    value < 2u * tcb->rcv_mss ? 2u * tcb->rcv_mss : (uint32_t)value;
		return 0;
	case SHUNT_OPT_SNDBUF:
		s->sndbuf = value > s->tx_size ? s->tx_size : (uint32_t)value;
		return 0;
	case SHUNT_OPT_LINGER0:
		tcb->linger0 = value != 0;
		return 0;
	case SHUNT_OPT_REUSEADDR:
		if (tcb->port_held)
			return 0; /* Linux accepts it; it matters for the next bind only */
		tcb->reuseaddr = value != 0;
		return 0;
	case SHUNT_OPT_REUSEPORT:
		if (tcb->port_held)
			return 0; /* likewise: the port's sharing was decided at bind */
		tcb->reuseport = value != 0;
		return 0;
	case SHUNT_OPT_KEEPALIVE:
		/* tcp_set_keepalive(): (re)start on a connection, stop when turned off */
		tcb->keepalive = value != 0;
		if (!tcb->keepalive)
			tcp_timer_stop(ctx, tcb, TCP_T_KEEP);
		else if (tcb->state >= SHUNT_SS_ESTABLISHED)
			tcp_timer_arm(ctx, tcb, TCP_T_KEEP, (uint64_t)tcb->keep_idle_s * 1000000);
		return 0;
	case SHUNT_OPT_KEEPIDLE:
	case SHUNT_OPT_KEEPINTVL:
		if (value < 1 || value > TCP_KEEP_MAX_S)
			return -EINVAL; /* MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL */
		if (opt == SHUNT_OPT_KEEPINTVL) {
			tcb->keep_intvl_s = (uint32_t)value;
			return 0;
		}
		tcb->keep_idle_s = (uint32_t)value;
		/* Linux re-arms a running keepalive from the time already idle */
		if (tcb->keepalive && tcb->state >= SHUNT_SS_ESTABLISHED) {
			uint64_t idle = value * 1000000, elapsed = ctx->now_us - tcb->last_rx_us;

			tcp_timer_arm(ctx, tcb, TCP_T_KEEP, elapsed < idle ? idle - elapsed : 0);
		}
		return 0;
	case SHUNT_OPT_KEEPCNT:
		if (value < 1 || value > TCP_KEEP_MAX_CNT)
			return -EINVAL;
		tcb->keep_cnt = (uint8_t)value;
		return 0;
	case SHUNT_OPT_MAXSEG:
		/* do_tcp_setsockopt(): 0 or TCP_MIN_MSS..MAX_TCP_WINDOW, at any time; it
		 * bounds what the next SYN or SYN-ACK offers (tcp_mss_clamp()), never
		 * a connection already made */
		if (value != 0 && (value < TCP_MIN_MSS || value > TCP_MAX_WINDOW))
			return -EINVAL;
		tcb->user_mss = (uint16_t)value;
		if (tcb->state == SHUNT_SS_CLOSED || tcb->state == SHUNT_SS_LISTEN)
			tcb->rcv_mss = tcp_adv_mss(ctx, tcb);
		return 0;
	case SHUNT_OPT_TOS:
		/* __ip_sock_set_tos(): on a stream socket the ECN bits stay TCP's (set
		 * per segment by tcp_ecn.c) */
		if (value > 0xff)
			return -EINVAL;
		tcb->tos = (uint8_t)((value & ~(uint64_t)TCP_ECN_MASK) | (tcb->tos & TCP_ECN_MASK));
		return 0;
	case SHUNT_OPT_TTL:
		/* the shim passes what the placeholder reads back: 1..255 */
		if (value < 1 || value > 255)
			return -EINVAL;
		tcb->ttl = (uint8_t)value;
		return 0;
	case SHUNT_OPT_CONGESTION:
		/* tcp_set_congestion_control(): at any time; on a connection the new
		 * algorithm starts from the cwnd and ssthresh it finds */
		return tcp_cc_select(tcb, value < SHUNT_CC_MAX ? (uint32_t)value : SHUNT_CC_NONE,
				     tcb->state >= SHUNT_SS_ESTABLISHED);
	default:
		return -ENOPROTOOPT;
	}
}

void tcp_app_abort(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct tcb *tcb = s->pcb;

	if (tcb == NULL)
		return;
	if (tcb->state == SHUNT_SS_LISTEN)
		tcp_listen_stop(ctx, tcb); /* its children are reset and freed with it */
	if (synchronized_state(tcb->state)) {
		tcp_send_rst(ctx, tcb);
		ctx->tcp_stats.tcp_conn_reset++;
	}
	tcb_free(ctx, tcb);
}

void tcp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err,
		      const struct icmp_err *icmp)
{
	uint32_t ihl, src, dst, seq;
	uint16_t sport, dport;
	struct tcb *tcb;

	if (len < 20 || (ip[0] >> 4) != 4)
		goto ignore;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if (ihl < 20 || len < ihl + 8) /* RFC 792: 8 bytes of L4 header quoted */
		goto ignore;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	memcpy(&sport, ip + ihl, 2);
	memcpy(&dport, ip + ihl + 2, 2);
	seq = (uint32_t)ip[ihl + 4] << 24 | (uint32_t)ip[ihl + 5] << 16 |
	      (uint32_t)ip[ihl + 6] << 8 | ip[ihl + 7];
	/* our packet: we were the source; Linux ignores what names a TIME_WAIT */
	tcb = tcp_table_lookup(ctx->tcp, src, sport, dst, dport);
	if (tcb == NULL || tcb->state == SHUNT_SS_TIME_WAIT)
		goto ignore;
	/* RFC 5927 4.1: the quoted sequence number must be one we sent that is not
	 * yet acknowledged; Linux's between(seq, snd_una, snd_nxt) takes snd_nxt too
	 * (an ACK without data carries it) */
	if (SEQ_LT(seq, tcb->snd_una) || SEQ_GT(seq, tcb->snd_max)) {
		ctx->tcp_stats.tcp_icmp_out_of_window++;
		return;
	}
	ctx->tcp_stats.tcp_icmp_err++;
	if (icmp != NULL && icmp->type == ICMP_DEST_UNREACH &&
	    icmp->code == ICMP_UNREACH_NEEDFRAG) {
		/* Linux tcp_v4_err(): path MTU discovery (RFC 1191), never an error
		 * of the connection, not even in SYN_SENT; a half-open child ignores
		 * it (tcp_req_err(): our SYN-ACK is small) */
		if (!(tcb->state == SHUNT_SS_SYN_RECEIVED && tcb->listener != NULL))
			tcp_pmtu_reduced(ctx, tcb, icmp->info);
		return;
	}
	if (tcb->state == SHUNT_SS_SYN_RECEIVED && tcb->listener != NULL) {
		/* Linux tcp_req_err(): a hard error drops the half-open child silently
		 * (nobody has seen it) */
		ctx->tcp_stats.tcp_listen_child_icmp++;
		tcp_listen_drop_child(ctx, tcb, false);
		return;
	}
	if (tcb->state == SHUNT_SS_SYN_SENT || tcb->state == SHUNT_SS_SYN_RECEIVED) {
		/* Linux tcp_v4_err(): the connect fails at once, and the error is queued
		 * on the socket (ip_icmp_error()) for MSG_ERRQUEUE */
		ctx->tcp_stats.tcp_conn_refused += err == ECONNREFUSED;
		if (tcb->s != NULL)
			dp_sock_queue_error(ctx, tcb->s, err, icmp, dst, dport, ip + ihl,
					    len - ihl);
		tcb_reset(ctx, tcb, err);
		return;
	}
	/* synchronized: soft error (RFC 1122 4.2.3.9), reported only if we time out */
	tcb->soft_err = err;
	return;
ignore:
	ctx->tcp_stats.tcp_icmp_ignored++;
}

void tcp_dump(struct dp_ctx *ctx, FILE *f)
{
	const struct tcp_stats *s = &ctx->tcp_stats;
	const struct tcb *t;
	const uint8_t *l, *r;
	uint32_t n = 0;

	fprintf(f, "tcp:\n");
	TCP_STATS(DP_STAT_PRINT)
	if (ctx->tcp == NULL)
		return;
	/* The dump runs inside the loop: with 100,000 connections listing them all
	 * would stall traffic for a while, so only the newest TCP_DUMP_TCBS are. */
	fprintf(f, "  %-28s %u\n", "tcp_tcbs", ctx->tcp->n_tcbs);
	fprintf(f, "  %-28s %u\n", "tcp_buckets", tcp_table_buckets(ctx->tcp));
	for (t = ctx->tcp->all; t != NULL && n < TCP_DUMP_TCBS; t = t->lnext, n++) {
		l = (const uint8_t *)&t->laddr_be;
		r = (const uint8_t *)&t->raddr_be;
		fprintf(f, "  %u.%u.%u.%u:%u -> %u.%u.%u.%u:%u %s snd una=%u nxt=%u max=%u "
			"wnd=%u cwnd=%u ssthresh=%u sacked=%u%s rcv nxt=%u adv=%u ooo=%u srtt=%uus "
			"rto=%uus retrans=%u%s\n",
			l[0], l[1], l[2], l[3], (unsigned)__builtin_bswap16(t->lport_be),
			r[0], r[1], r[2], r[3], (unsigned)__builtin_bswap16(t->rport_be),
			tcp_state_name(t->state), t->snd_una - t->iss, t->snd_nxt - t->iss,
			t->snd_max - t->iss, t->snd_wnd, t->cwnd, t->ssthresh, t->n_sacked,
			t->in_recovery ? " recovery" : "", t->rcv_nxt - t->irs, t->rcv_adv - t->irs, t->n_ooo, t->srtt_us, t->rto_us,
			t->retrans, t->s == NULL ? " (detached)" : "");
	}
	if (ctx->tcp->n_tcbs > n)
		fprintf(f, "  ... and %u more\n", ctx->tcp->n_tcbs - n);
}
