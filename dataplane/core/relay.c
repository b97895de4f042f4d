/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Relays: see relay.h. shuntd takes the program's side of the socket's rings:
 * it consumes the receive ring (rx_cons, by CAS as any reader does) and fills the
 * send ring (tx_prod, holding tx_owner as any sender does, under its own pid),
 * so a process of the region that still uses the rings directly meets it as it
 * would meet another thread. The fd is non-blocking: a program that stops
 * reading only stops its connection's window, never the loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <shunt/ctl.h>
#include <shunt/ring.h>

#include "core/app.h"
#include "core/log.h"
#include "core/relay.h"
#include "dp.h"

int relay_start(struct dp_ctx *ctx, struct dp_app *app, uint32_t slot, uint32_t gen, int fd,
		uint32_t flags)
{
	struct dp_relay *r;
	struct dp_sock *s;
	int type = 0, rc;
	socklen_t len = sizeof(type);

	rc = -EBADF;
	if (slot >= app->nsocks)
		goto fail;
	s = &app->socks[slot];
	if (s->gen != gen || s->state == SHUNT_SS_FREE || s->app_closed)
		goto fail;
	rc = -EINVAL;
	if (s->type != SHUNT_SOCK_STREAM || s->pcb == NULL || s->relay != NULL ||
	    s->state < SHUNT_SS_ESTABLISHED ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		goto fail;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	r->src.kind = LOOP_SRC_RELAY;
	r->src.fd = fd;
	r->src.obj = r;
	r->s = s;
	r->gen = gen;
	r->reader = (flags & SHUNT_RELAYF_READ) != 0;
	r->owner = (uint32_t)getpid(); /* alive while we are: no sender takes it over */
	r->events = EPOLLIN | EPOLLRDHUP;
	rc = loop_watch(ctx, &r->src, r->events);
	if (rc < 0) {
		free(r);
		goto fail;
	}
	r->next = ctx->relays;
	ctx->relays = r;
	s->relay = r;
	/* seq_cst RMW: against the members' own ANDs at close (share.c) */
	__atomic_fetch_or(&s->sh->holders, SHUNT_HOLDER_RELAY, __ATOMIC_SEQ_CST);
	app->stats.relays++;
	relay_pump(ctx, s);
	return 0;
fail:
	close(fd);
	return rc;
}

/* The relay is over: its fd closed, its hold given back (the last one, or the
 * process is gone: the socket is closed as close() would). */
static void relay_end(struct dp_ctx *ctx, struct dp_relay *r, bool release)
{
	struct dp_sock *s = r->s;
	uint64_t old;

	if (r->dead)
		return;
	if (!r->closed)
		loop_unwatch(ctx, &r->src);
	close(r->src.fd);
	r->dead = true;
	s->relay = NULL;
	if (!release)
		return;
	old = __atomic_fetch_and(&s->sh->holders, ~SHUNT_HOLDER_RELAY, __ATOMIC_SEQ_CST);
	/* once every member hung up nobody holds it, whatever bits the region says
	 * (a hostile one leaves bits of members that never were: appfuzz) */
	if (((old & ~SHUNT_HOLDER_RELAY) == 0 || s->app->gone) && s->state != SHUNT_SS_FREE &&
	    !s->app_closed)
		dp_app_close_slot(ctx, s->app, s);
}

void relay_drop(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (s->relay != NULL)
		relay_end(ctx, s->relay, false);
}

/* Receive ring -> fd. Returns true if it has to wait for the fd (EPOLLOUT). */
static bool relay_rx(struct dp_ctx *ctx, struct dp_relay *r)
{
	struct dp_sock *s = r->s;
	bool moved = false, blocked = false;

	/* A writer's relay reads for nobody while a process holds the socket itself:
	 * that one may be the reader (a child writes a request through stdout, its
	 * parent reads the answer). Alone, it reads for whoever has the other end. */
	if (!r->reader &&
	    (__atomic_load_n(&s->sh->holders, __ATOMIC_RELAXED) & ~SHUNT_HOLDER_RELAY) != 0)
		goto fin;
	for (;;) {
		/* acquire: pairs with the other readers' release of rx_cons */
		uint32_t cons = SHUNT_LOAD_ACQ(&s->sh->rx_cons), avail = s->rx_prod - cons, off;
		ssize_t n;

		if (avail == 0)
			break;
		if (avail > s->rx_size) { /* an impossible index: the socket's broken */
			s->broken = true;
			break;
		}
		off = cons & (s->rx_size - 1);
		if (avail > s->rx_size - off)
			avail = s->rx_size - off;
		n = send(r->src.fd, s->rx_buf + off, avail, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			blocked = true;
			break;
		}
		if (n < 0)
			n = (ssize_t)avail; /* nobody reads the other end again: dropped */
		/* release: our reads of the ring before the bytes are given back; a
		 * failed CAS means another reader took them too */
		(void)__atomic_compare_exchange_n(&s->sh->rx_cons, &cons, cons + (uint32_t)n, false,
						  __ATOMIC_RELEASE, __ATOMIC_RELAXED);
		moved = true;
	}
	if (moved && s->pcb != NULL)
		dp_app_sock_recvd(ctx, s);
fin:
	/* the peer's FIN (or a reset), once everything before it was passed on */
	if (!r->rx_shut && (s->flags & (SHUNT_SF_RX_EOF | SHUNT_SF_RESET)) &&
	    SHUNT_LOAD_ACQ(&s->sh->rx_cons) == s->rx_prod) {
		(void)shutdown(r->src.fd, (s->flags & SHUNT_SF_RESET) ? SHUT_RDWR : SHUT_WR);
		r->rx_shut = true;
	}
	return blocked;
}

/* Is every copy of the other end closed, rather than shut for writing? The kernel
 * shuts both directions of a unix stream socket at once when its peer is closed
 * (POLLHUP), only our reading at the peer's shutdown(SHUT_WR) (POLLRDHUP); a close
 * with bytes we sent still unread there reads as ECONNRESET (POLLERR until recv()
 * has taken it, POLLHUP as ever). Asked when the EOF is read, not taken from the
 * loop's event: the socket's changes run the relay too (apps_wake -> relay_pump),
 * and the program's last close may come after the event the loop took and before
 * our read, which would take it for a shutdown and send a FIN the socket's other
 * holders never asked for. (Once we passed the peer's FIN on, a shutdown(SHUT_WR)
 * there shuts both directions as well and counts as a close, as the loop's event
 * has always counted it: that FIN waits for the other holders.) */
static bool relay_closed(const struct dp_relay *r)
{
	struct pollfd p = { .fd = r->src.fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

/* Why relay_tx() stopped taking bytes from the fd. */
enum relay_tx_stop {
	RELAY_TX_DRY,  /* nothing more there for now */
	RELAY_TX_FULL, /* the send ring is full: the room the ACKs make brings us back */
	RELAY_TX_BUSY, /* another sender holds the ring: the fd's next look brings us back */
	RELAY_TX_DONE, /* nothing more to take: the fd read to its end, or a connection
			* that sends no more */
};

/* fd -> send ring. *hup: every copy of the other end is closed, as the loop's
 * event said or as the EOF read here turns out to be: a close, which leaves the
 * connection to its other holders, not a shutdown, which is its FIN. */
static enum relay_tx_stop relay_tx(struct dp_ctx *ctx, struct dp_relay *r, bool *hup)
{
	struct dp_sock *s = r->s;
	uint32_t owner = 0, limit = s->sndbuf != 0 && s->sndbuf < s->tx_size ? s->sndbuf : s->tx_size;
	enum relay_tx_stop stop = RELAY_TX_DRY;
	bool sent = false;

	if (r->tx_eof || s->pcb == NULL || (s->flags & (SHUNT_SF_TX_SHUT | SHUNT_SF_RESET)))
		return RELAY_TX_DONE;
	/* one sender at a time (shim/tx.c): another process's may be writing now */
	if (!__atomic_compare_exchange_n(&s->sh->tx_owner, &owner, r->owner, false,
					 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
		/* once every member hung up nobody is writing: an owner left there is
		 * stale (or garbage: appfuzz), and waiting for it would hold the
		 * socket, and its region, forever */
		if (!s->app->gone)
			return RELAY_TX_BUSY;
		__atomic_store_n(&s->sh->tx_owner, r->owner, __ATOMIC_RELAXED);
	}
	for (;;) {
		uint32_t prod = SHUNT_LOAD_RLX(&s->sh->tx_prod), queued = prod - s->tx_cons, off, room;
		ssize_t n;

		if (queued > s->tx_size) {
			/* the process wrote an impossible tx_prod: no ACK will ever make
			 * room. SEND has the protocol find it (the connection is reset) */
			dp_app_sock_send(ctx, s);
			stop = RELAY_TX_DONE;
			break;
		}
		if (queued >= limit) {
			stop = RELAY_TX_FULL;
			break;
		}
		off = prod & (s->tx_size - 1);
		room = limit - queued;
		if (room > s->tx_size - off)
			room = s->tx_size - off;
		n = recv(r->src.fd, s->tx_buf + off, room, MSG_DONTWAIT);
		if (n > 0) {
			/* release: the bytes before the index that covers them */
			SHUNT_STORE_REL(&s->sh->tx_prod, prod + (uint32_t)n);
			sent = true;
			continue;
		}
		if (n == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			if (!*hup)
				*hup = relay_closed(r);
			r->tx_eof = !*hup;
			stop = RELAY_TX_DONE;
		}
		break;
	}
	__atomic_store_n(&s->sh->tx_owner, 0, __ATOMIC_RELEASE);
	if (sent)
		dp_app_sock_send(ctx, s);
	if (r->tx_eof && s->pcb != NULL)
		(void)dp_app_sock_shutdown(ctx, s, SHUT_WR); /* the FIN after what was queued */
	return stop;
}

/* Move what can move both ways, and watch for what is missing. */
static void relay_run(struct dp_ctx *ctx, struct dp_relay *r, bool hup)
{
	uint32_t want = EPOLLRDHUP;
	enum relay_tx_stop stop;

	if (r->dead)
		return;
	if (r->s->gen != r->gen || r->s->state == SHUNT_SS_FREE) {
		relay_end(ctx, r, false); /* the slot went on without us (cannot happen) */
		return;
	}
	hup = hup || r->closed;
	if (relay_rx(ctx, r))
		want |= EPOLLOUT;
	stop = relay_tx(ctx, r, &hup);
	if (stop != RELAY_TX_FULL && !r->tx_eof)
		want |= EPOLLIN;
	/* every copy of the other end is closed: nobody holds it there. The relay
	 * ends once it took what was written there before the close (or nothing
	 * more can be sent): ended at once, it dropped the rest, from a program
	 * that wrote more than the ring holds and exited, or while another
	 * process's send held the ring. */
	if (hup && stop != RELAY_TX_FULL && stop != RELAY_TX_BUSY) {
		relay_end(ctx, r, true);
		return;
	}
	if (hup && stop == RELAY_TX_FULL && !r->closed) {
		/* the ACKs bring us back (relay_pump); the fd would report its
		 * hang-up at every look of the loop meanwhile */
		loop_unwatch(ctx, &r->src);
		r->closed = true;
	}
	if (!r->closed && want != r->events) {
		struct epoll_event ev = { .events = want, .data.ptr = &r->src };

		if (epoll_ctl(ctx->epfd, EPOLL_CTL_MOD, r->src.fd, &ev) == 0)
			r->events = want;
	}
}

void relay_pump(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (s->relay != NULL)
		relay_run(ctx, s->relay, false);
}

void relay_event(struct dp_ctx *ctx, struct dp_relay *r, uint32_t events)
{
	relay_run(ctx, r, (events & (EPOLLHUP | EPOLLERR)) != 0);
}

void relays_reap(struct dp_ctx *ctx)
{
	struct dp_relay **pp = &ctx->relays, *r;

	while ((r = *pp) != NULL) {
		if (r->dead) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
}
