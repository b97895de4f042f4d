/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The UDP data path of shunt sockets: datagrams as struct shunt_dgram records in
 * the byte rings (abi.h: header, payload, padding to 8; a record never wraps, the
 * writer skips the tail and marks it SHUNT_DGRAM_WRAP when 16 bytes are left).
 *
 *   send: shim_dgram_send() (Linux udp_sendmsg order: size, destination, pending
 *         error, shutdown) -> become the sender (tx.c) -> WRAP mark, header,
 *         payload -> publish tx_prod (release) -> SEND
 *         -> no room: EAGAIN or wait for tx_cons
 *   recv: shim_dgram_recv() (Linux udp_recvmsg: pending error first) -> follow a
 *         WRAP -> copy the record out -> claim it with a CAS on rx_cons (release)
 *         -> empty: EAGAIN, 0 after SHUT_RD, or wait for rx_prod. No RECVD: UDP
 *         has no window; the dataplane reads rx_cons when it delivers.
 *   poll: shim_dgram_poll() = udp_poll() / datagram_poll()
 *
 * One datagram per call in both directions, whatever the iovec; concurrent
 * senders and receivers on one socket work as in io.c (tx.c; CAS on rx_cons).
 */
#include <string.h>

#include <shunt/bytering.h>

#include "real.h"
#include "shim.h"

#define DGRAM_HDR ((uint32_t)sizeof(struct shunt_dgram))

static uint32_t dgram_rec_len(uint32_t len)
{
	return DGRAM_HDR + ((len + 7u) & ~7u);
}


/* ---- receive ---------------------------------------------------------------------- */

/* The record at the head of the rx ring: its header position (after any skipped
 * tail) and header. Returns 1 if one is there, 0 if the ring is empty, -EIO if the
 * dataplane broke the format. */
static int dgram_peek_head(struct shim_sock *s, uint32_t cons, uint32_t prod, uint32_t *pos,
			   struct shunt_dgram *d)
{
	uint32_t avail = prod - cons, p = cons, off;

	if (avail == 0)
		return 0;
	if (avail > s->rx_size)
		return -EIO;
	off = p & (s->rx_size - 1);
	if (s->rx_size - off < DGRAM_HDR) {
		p += s->rx_size - off; /* too little room for a header: skipped */
	} else {
		bytering_read(s->rxbuf, s->rx_size, p, d, DGRAM_HDR);
		if (d->len == SHUNT_DGRAM_WRAP)
			p += s->rx_size - off;
	}
	if (p != cons) {
		if (p - cons + DGRAM_HDR > avail)
			return -EIO;
		bytering_read(s->rxbuf, s->rx_size, p, d, DGRAM_HDR);
	}
	off = p & (s->rx_size - 1);
	if (d->len == SHUNT_DGRAM_WRAP || d->len > 65535 ||
	    p - cons + dgram_rec_len(d->len) > avail ||
	    dgram_rec_len(d->len) > s->rx_size - off)
		return -EIO;
	*pos = p;
	return 1;
}

int shim_dgram_next_len(struct shim_sock *s)
{
	struct shunt_dgram d;
	uint32_t pos, cons, prod;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq);
	cons = SHUNT_LOAD_RLX(&s->ss->rx_cons);
	prod = SHUNT_LOAD_ACQ(&s->ss->rx_prod); /* pairs with the dp's release */
	return dgram_peek_head(s, cons, prod, &pos, &d) == 1 ? (int)d.len : 0;
}

bool shim_dgram_readable(void *arg)
{
	struct shim_sock *s = arg;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	return SHUNT_LOAD_ACQ(&s->ss->rx_prod) != SHUNT_LOAD_RLX(&s->ss->rx_cons) ||
	       shim_err_pending(s);
}

/* One datagram from the placeholder's kernel queue, without blocking. Returns its
 * length (as shim_dgram_recv), -EAGAIN when there is none, or -errno. */
static ssize_t dgram_recv_kernel(int fd, const struct iovec *iov, int iovcnt, int flags,
				 struct sockaddr_in *src, int *oflags)
{
	struct sockaddr_in from;
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from),
			    .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t k = real_recvmsg(fd, &m, (flags & (MSG_PEEK | MSG_TRUNC)) | MSG_DONTWAIT);

	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (src != NULL)
		*src = from;
	*oflags |= m.msg_flags & MSG_TRUNC;
	return k;
}

ssize_t shim_dgram_recv(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
			int flags, struct sockaddr_in *src, uint32_t *dst, int *oflags)
{
	struct shunt_sock *ss = s->ss;
	bool nonblock = (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
	struct shim_io_wait w = { .s = s, .tx = false };
	int64_t timeo = -2; /* read from the placeholder only if we must sleep */
	size_t len;
	int rc;

	rc = shim_iov_len(iov, iovcnt, &len);
	if (rc < 0)
		return rc;
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN; /* ICMP errors are never queued (IP_RECVERR is off) */
	*oflags = 0;

	for (;;) {
		struct shunt_dgram d;
		uint32_t cons, prod, pos, n;

		w.ev_seq = SHUNT_LOAD_ACQ(&ss->ev_seq);
		/* __skb_recv_udp(): the pending error comes before any queued datagram */
		if (shim_err_pending(s)) {
			rc = shim_sock_take_error(s);
			if (rc != 0)
				return -rc;
		}
		cons = SHUNT_LOAD_RLX(&ss->rx_cons);
		prod = SHUNT_LOAD_ACQ(&ss->rx_prod); /* pairs with the dp's release */
		rc = dgram_peek_head(s, cons, prod, &pos, &d);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			n = d.len < len ? d.len : (uint32_t)len;
			shim_io_copy_out(s, pos + DGRAM_HDR, n, iov, iovcnt, 0);
			if (!(flags & MSG_PEEK)) {
				/* release: our reads of the record before the dp may reuse it */
				if (!__atomic_compare_exchange_n(&ss->rx_cons, &cons,
								 pos + dgram_rec_len(d.len), false,
								 __ATOMIC_RELEASE,
								 __ATOMIC_RELAXED))
					continue; /* another reader took it: look again */
			}
			if (src != NULL) {
				memset(src, 0, sizeof(*src));
				src->sin_family = AF_INET;
				src->sin_addr.s_addr = d.peer.addr;
				src->sin_port = d.peer.port;
			}
			if (dst != NULL)
				*dst = d.dst;
			if (n < d.len)
				*oflags |= MSG_TRUNC;
			return (flags & MSG_TRUNC) ? (ssize_t)d.len : (ssize_t)n;
		}
		if (atomic_load(&s->ph_listening) && !(flags & SHIM_MSG_RING_ONLY)) {
			/* bound to 0.0.0.0: the kernel's addresses (loopback) reach the
			 * placeholder, which holds the same port */
			rc = dgram_recv_kernel(fd, iov, iovcnt, flags, src, oflags);
			if (rc != -EAGAIN)
				return rc;
		}
		if (nonblock)
			return -EAGAIN;
		/* shuntd went away (lost.c): its ENETDOWN was reported above, once, as
		 * Linux reports sk_err; nothing more will come through it, so a blocking
		 * reader fails rather than wait for ever, unless the kernel's side (0.0.0.0)
		 * still serves it */
		if (shim_sock_dead(s) && !atomic_load(&s->ph_listening))
			return -ENETDOWN;
		/* __skb_wait_for_more_packets(): a blocking reader gets 0 once the
		 * receive side is shut; a non-blocking one still EAGAIN */
		if (atomic_load(&s->shut_rd))
			return 0;
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_RCVTIMEO);
		w.idx = prod;
		if (atomic_load(&s->ph_listening))
			rc = shim_wait_dual(fd, s, shim_io_changed, &w, timeo);
		else
			rc = shim_wait_sock(s, shim_io_changed, &w, timeo, 0);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc < 0)
			return rc;
	}
}

/* ---- send --------------------------------------------------------------------------- */

/* shim_txjob.fill for one record: the WRAP mark if the tail is skipped and has
 * room for one, the header, the payload. */
static void dgram_fill(struct shim_sock *s, const struct shim_txjob *j)
{
	if (j->gap >= DGRAM_HDR) {
		struct shunt_dgram wrap = { .len = SHUNT_DGRAM_WRAP };

		bytering_write(s->txbuf, s->tx_size, j->head, &wrap, DGRAM_HDR);
	}
	bytering_write(s->txbuf, s->tx_size, j->head + j->gap, &j->d, DGRAM_HDR);
	shim_io_copy_in(s, j->head + j->gap + DGRAM_HDR, j->d.len, j->iov, j->iovcnt, 0);
}

ssize_t shim_dgram_send(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
			int flags, const struct sockaddr_in *dst)
{
	struct shunt_sock *ss = s->ss;
	bool nonblock = (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
	struct shim_io_wait w = { .s = s, .tx = true };
	int64_t waited = 0;
	struct shunt_dgram d = { 0 };
	int64_t timeo = -2;
	uint32_t rec;
	size_t len;
	int rc;

	rc = shim_iov_len(iov, iovcnt, &len);
	if (rc < 0)
		return rc;
	/* inet_send_prepare(): an unbound socket gets its port now, not when the
	 * dataplane gets round to the datagram (getsockname must see it) */
	(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
	if (shim_unlikely(ss->local.port == 0)) {
		struct shunt_inaddr any = { 0, 0, 0 };

		pthread_mutex_lock(&s->lock);
		(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
		rc = ss->local.port == 0 ? shim_chan_sync(s, SHUNT_CMD_BIND, 0, &any, 0) : 0;
		pthread_mutex_unlock(&s->lock);
		if (rc < 0 && rc != -EINVAL)
			return -EAGAIN; /* as Linux when no port is left */
	}
	if (len > 0xffff)
		return -EMSGSIZE;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (dst != NULL) {
		if (dst->sin_port == 0)
			return -EINVAL;
		/* 0.0.0.0 means "this host" to Linux; in a record it means the connected
		 * peer. The stack cannot loop a datagram back to the program's host. */
		if (dst->sin_addr.s_addr == 0)
			return -ENETUNREACH;
		d.peer.addr = dst->sin_addr.s_addr;
		d.peer.port = dst->sin_port;
	} else if (!(SHUNT_LOAD_ACQ(&ss->flags) & SHUNT_SF_CONNECTED)) {
		return -EDESTADDRREQ;
	}
	d.len = (uint32_t)len;
	rec = dgram_rec_len(d.len);

	for (;;) {
		uint32_t head, cons, used, limit, off, skip, guard, need;
		bool nested, mem_short;

		w.ev_seq = SHUNT_LOAD_ACQ(&ss->ev_seq);
		/* sock_alloc_send_pskb(): pending error, then SEND_SHUTDOWN (no SIGPIPE) */
		if (shim_err_pending(s)) {
			rc = shim_sock_take_error(s);
			if (rc != 0)
				return -rc;
		}
		if (atomic_load(&s->shut_wr))
			return -EPIPE;
		/* Linux fragments up to 65507 bytes; the dataplane does not (yet). */
		if (len > SHIM_UDP_MAX_PAYLOAD)
			return -EMSGSIZE;

		limit = atomic_load_explicit(&s->sndbuf, memory_order_relaxed);
		nested = shim_tx_enter(s, &guard);
		head = SHUNT_LOAD_RLX(&ss->tx_prod); /* ours while we are the sender */
		cons = SHUNT_LOAD_ACQ(&ss->tx_cons); /* pairs with the dp's release */
		used = head - cons;
		off = head & (s->tx_size - 1);
		skip = s->tx_size - off < rec ? s->tx_size - off : 0;
		need = skip + rec;
		mem_short = shim_mem_cap(s, used, &need);
		/* As sock_alloc_send_pskb(): room while below sndbuf, whatever the size. */
		if (used < limit && used + skip + rec <= s->tx_size && !mem_short &&
		    (int32_t)(guard - head) >= (int32_t)(skip + rec)) {
			struct shim_txjob job = { .head = head, .end = head + skip + rec,
						  .fill = dgram_fill, .iov = iov,
						  .iovcnt = iovcnt, .d = d, .gap = skip };

			rc = shim_tx_run(s, &job); /* release on tx_prod: the record first */
			shim_tx_leave(s, nested);
			if (rc < 0)
				continue; /* a handler sent first: our place moved */
			rc = shim_chan_async(s, SHUNT_CMD_SEND, 0);
			return rc < 0 ? rc : (ssize_t)len;
		}
		shim_tx_leave(s, nested);
		if (nonblock)
			return -EAGAIN;
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_SNDTIMEO);
		w.idx = cons;
		rc = shim_wait_mem(s, &w, timeo, mem_short, &waited);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc < 0)
			return rc;
	}
}

/* ---- readiness ------------------------------------------------------------------------ */

uint32_t shim_dgram_poll(struct shim_sock *s)
{
	struct shunt_sock *ss = s->ss;
	uint32_t ev = 0, used, limit;
	bool rd = atomic_load(&s->shut_rd), wr = atomic_load(&s->shut_wr);

	(void)SHUNT_LOAD_ACQ(&ss->ev_seq); /* pairs with the dp's release */
	if (shim_sock_dead(s)) /* lost.c: the error once; sends fail at once, so
				* writable; nothing more to read through shunt */
		return POLLOUT | POLLWRNORM | (shim_err_pending(s) ? POLLERR : 0);
	if (shim_err_pending(s) || shim_errq_pending(s))
		ev |= POLLERR;
	if (rd)
		ev |= POLLRDHUP | POLLIN | POLLRDNORM;
	if (rd && wr)
		ev |= POLLHUP;
	if (SHUNT_LOAD_ACQ(&ss->rx_prod) != SHUNT_LOAD_RLX(&ss->rx_cons))
		ev |= POLLIN | POLLRDNORM;
	/* sock_writeable(): less than half the send buffer in use */
	limit = atomic_load_explicit(&s->sndbuf, memory_order_relaxed);
	used = SHUNT_LOAD_RLX(&ss->tx_prod) -
	       SHUNT_LOAD_ACQ(&ss->tx_cons);
	if (used < limit / 2)
		ev |= POLLOUT | POLLWRNORM | POLLWRBAND;
	return ev;
}
