/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Data transfer: read, write, readv, writev, send, recv, sendto, recvfrom, sendmsg,
 * recvmsg and glibc's fortified __read_chk, __recv_chk, __recvfrom_chk. The TCP
 * byte stream is here; UDP records are in dgram.c.
 *
 *   UDP sendto/sendmsg with an address on an undecided socket -> io_send_sock()
 *                 -> shim_sock_decide_dgram() (connect.c) -> shunt or kernel
 *   kernel fd  -> one fd-table lookup -> real_*()
 *   shunt send -> io_send(): state checks (Linux tcp_sendmsg_locked order)
 *                 -> become the sender (tx.c) -> copy into the tx ring ->
 *                 publish tx_prod (release) -> SEND unless one is still queued
 *                 (shim_chan_send) -> blocking: wait for space
 *   shunt recv -> io_recv(): copy from the rx ring (not with MSG_TRUNC) -> advance
 *                 rx_cons (CAS, release) -> RECVD if the window may have opened
 *                 (io_recvd) -> nothing there: EOF / error / wait
 *                 (Linux tcp_recvmsg_locked order)
 *   MSG_ERRQUEUE (recv, recvfrom, recvmsg) on a shunt socket -> shim_errq_recv()
 *
 * The fast path (data or space there) takes no lock and makes no syscall besides
 * the command push, and pushes only the commands the dataplane needs. Concurrent
 * senders on one socket take turns filling the ring (tx.c, as Linux's socket
 * lock), and a signal handler sending on the socket its thread is sending on
 * finishes the interrupted piece first; concurrent receivers copy and then claim
 * with a CAS (a loser copies again).
 */
#include <limits.h>
#include <string.h>

#include <shunt/bytering.h>

#include "real.h"
#include "shim.h"

/* Walk iov (skipping its first skip bytes) against n bytes of a byte ring at pos,
 * copying out of the ring (to_ring false) or into it. */
static void io_copy(uint8_t *ring, uint32_t size, uint32_t pos, uint32_t n,
		    const struct iovec *iov, int iovcnt, size_t skip, bool to_ring)
{
	int i;

	for (i = 0; i < iovcnt && n > 0; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *base;
		uint32_t k;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		base = (uint8_t *)iov[i].iov_base + skip;
		k = l - skip < n ? (uint32_t)(l - skip) : n;
		if (to_ring)
			bytering_write(ring, size, pos, base, k);
		else
			bytering_read(ring, size, pos, base, k);
		pos += k;
		n -= k;
		skip = 0;
	}
}

void shim_io_copy_out(const struct shim_sock *s, uint32_t pos, uint32_t n,
		      const struct iovec *iov, int iovcnt, size_t skip)
{
	io_copy(s->rxbuf, s->rx_size, pos, n, iov, iovcnt, skip, false);
}

void shim_io_copy_in(struct shim_sock *s, uint32_t pos, uint32_t n,
		     const struct iovec *iov, int iovcnt, size_t skip)
{
	io_copy(s->txbuf, s->tx_size, pos, n, iov, iovcnt, skip, true);
}

int shim_iov_len(const struct iovec *iov, int iovcnt, size_t *len)
{
	size_t total = 0;
	int i;

	if (iovcnt < 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	*len = total;
	return 0;
}

bool shim_io_changed(void *arg)
{
	struct shim_io_wait *w = arg;
	struct shunt_sock *ss = w->s->ss;

	if (SHUNT_LOAD_ACQ(&ss->ev_seq) != w->ev_seq)
		return true;
	return SHUNT_LOAD_ACQ(w->tx ? &ss->tx_cons : &ss->rx_prod) != w->idx;
}

/* ---- receive ---------------------------------------------------------------------- */

/* A read took rx_cons from before to after while rx_prod was prod: tell the
 * dataplane (RECVD) when its window may have opened usefully, as Linux's
 * tcp_cleanup_rbuf() decides to send a window update: the free space grew by
 * min(window/2, 2 * MSS) since the last RECVD, or the window was small before the
 * read (below half, or below one MSS: a zero window reopens), or the app drained
 * the ring. tcp_app_recvd() makes the final decision; a RECVD it does not need
 * only costs a command, a missing one stalls the peer until its persist timer. */
static void io_recvd(struct shim_sock *s, uint32_t before, uint32_t after, uint32_t prod)
{
	uint32_t limit = atomic_load_explicit(&s->rcvbuf, memory_order_relaxed);
	uint32_t used = prod - before, win, mss, thresh;

	if (after != prod) {
		if (limit == 0 || limit > s->rx_size)
			limit = s->rx_size;
		win = used < limit ? limit - used : 0;
		mss = SHUNT_LOAD_RLX(&s->ss->mss);
		if (mss == 0)
			mss = 536; /* RFC 9293's default until the dataplane says */
		thresh = limit / 2 < 2 * mss ? limit / 2 : 2 * mss;
		if (win >= limit / 2 && win >= mss &&
		    after - atomic_load_explicit(&s->rcv_ann, memory_order_relaxed) < thresh)
			return;
	}
	atomic_store_explicit(&s->rcv_ann, after, memory_order_relaxed);
	(void)shim_chan_async(s, SHUNT_CMD_RECVD, 0);
}

static ssize_t io_recv(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
		       int flags)
{
	struct shunt_sock *ss = s->ss;
	bool nonblock = (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
	bool peek = flags & MSG_PEEK;
	bool discard = flags & MSG_TRUNC; /* tcp(7): the data is dropped, not copied */
	int64_t timeo = -2; /* read from the placeholder only if we must sleep */
	size_t len, target, copied = 0;
	struct shim_io_wait w = { .s = s };
	uint32_t next = 0; /* rx position after the bytes we claimed */
	int rc;

	rc = shim_iov_len(iov, iovcnt, &len);
	if (rc < 0)
		return rc;
	if (flags & MSG_OOB)
		return -EINVAL; /* no urgent data is ever queued */
	if (atomic_load_explicit(&s->listening, memory_order_relaxed))
		return -ENOTCONN; /* tcp_recvmsg(): its ring holds accept records */
	if (len == 0)
		return 0;
	target = (flags & MSG_WAITALL) ? len : 1;

	for (;;) {
		uint32_t cons, prod, avail, n, st, fl;

		/* Acquire ev_seq, state and flags before rx_prod: the dataplane stores
		 * state and flags with release after committing the bytes before them,
		 * so RX_EOF (or CLOSED) seen here comes with an rx_prod at least as new
		 * and EOF is never reported while bytes are queued. */
		w.ev_seq = SHUNT_LOAD_ACQ(&ss->ev_seq);
		st = SHUNT_LOAD_ACQ(&ss->state);
		fl = SHUNT_LOAD_ACQ(&ss->flags);
		cons = SHUNT_LOAD_RLX(&ss->rx_cons);
		prod = SHUNT_LOAD_ACQ(&ss->rx_prod); /* pairs with the dp's release */
		avail = prod - cons;
		if (avail > s->rx_size)
			return -EIO; /* the dataplane broke the ring */
		if (copied > 0 && !peek && cons != next)
			break; /* another reader took the bytes after ours: what we have is
				* one contiguous piece, as Linux's socket lock makes it */
		if (peek) {
			n = avail < len ? avail : (uint32_t)len;
			if (!discard)
				shim_io_copy_out(s, cons, n, iov, iovcnt, 0);
			copied = n;
		} else if (avail > 0) {
			n = avail < len - copied ? avail : (uint32_t)(len - copied);
			if (!discard)
				shim_io_copy_out(s, cons, n, iov, iovcnt, copied);
			/* release: our reads of the bytes happen before the dp may reuse them */
			if (!__atomic_compare_exchange_n(&ss->rx_cons, &cons, cons + n, false,
							 __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
				if (copied > 0)
					break; /* they took the bytes after ours: keep one piece */
				continue; /* another reader took them: copy again */
			}
			copied += n;
			next = cons + n;
			io_recvd(s, cons, cons + n, prod);
			if (copied < len)
				continue; /* more may have arrived meanwhile */
		}
		if (copied >= target)
			break;
		if (copied > 0 && !peek) {
			if ((fl & (SHUNT_SF_RX_EOF | SHUNT_SF_RESET)) || shim_err_pending(s) ||
			    st == SHUNT_SS_CLOSED || nonblock || atomic_load(&s->shut_rd))
				break;
		} else {
			if (fl & SHUNT_SF_RX_EOF)
				break; /* SOCK_DONE: the peer's FIN */
			if (shim_err_pending(s)) {
				rc = shim_sock_take_error(s);
				if (rc != 0 && copied == 0)
					return -rc;
				break;
			}
			if ((fl & SHUNT_SF_RESET) || atomic_load(&s->shut_rd))
				break; /* RCV_SHUTDOWN */
			if (st == SHUNT_SS_CLOSED)
				return copied > 0 ? (ssize_t)copied : -ENOTCONN;
			if (nonblock)
				return copied > 0 ? (ssize_t)copied : -EAGAIN;
		}
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_RCVTIMEO);
		w.idx = prod;
		w.tx = false;
		rc = shim_wait_sock(s, shim_io_changed, &w, timeo, 0);
		if (rc == -ETIMEDOUT)
			return copied > 0 ? (ssize_t)copied : -EAGAIN;
		if (rc < 0)
			return copied > 0 ? (ssize_t)copied : rc;
	}
	return (ssize_t)copied;
}

/* ---- send --------------------------------------------------------------------------- */

/* EPIPE as Linux's sk_stream_error(): a pending error first, else EPIPE + SIGPIPE. */
static int io_send_error(struct shim_sock *s, int flags)
{
	int err = shim_sock_take_error(s);

	if (err != 0)
		return -err;
	if (!(flags & MSG_NOSIGNAL))
		raise(SIGPIPE);
	return -EPIPE;
}

static bool io_connect_over(void *arg)
{
	struct shim_io_wait *w = arg;
	uint32_t st;

	(void)SHUNT_LOAD_ACQ(&w->s->ss->ev_seq);
	st = SHUNT_LOAD_RLX(&w->s->ss->state);
	return st != SHUNT_SS_SYN_SENT && st != SHUNT_SS_SYN_RECEIVED;
}

bool shim_mem_cap(const struct shim_sock *s, uint32_t used, uint32_t *n)
{
	uint64_t avail = __atomic_load_n(&s->r->mem_avail, __ATOMIC_RELAXED);
	uint32_t floor = used < SHUNT_MEM_FLOOR ? SHUNT_MEM_FLOOR - used : 0;

	if (avail < floor)
		avail = floor;
	if (*n <= avail)
		return false;
	*n = (uint32_t)avail;
	return true;
}

#define IO_MEM_SLICE_NS 10000000 /* a sender short of process memory looks again */

int shim_wait_mem(struct shim_sock *s, struct shim_io_wait *w, int64_t timeo,
		  bool mem_short, int64_t *waited)
{
	int64_t slice = timeo;
	int rc;

	if (!mem_short)
		return shim_wait_sock(s, shim_io_changed, w, timeo, 0);
	/* Memory comes back when any socket of the process drains, which this one's
	 * futex does not hear of: wait in slices (Linux's sk_stream_wait_memory is
	 * woken by the global pool instead). */
	if (slice < 0 || slice - *waited > IO_MEM_SLICE_NS)
		slice = IO_MEM_SLICE_NS;
	else
		slice -= *waited;
	rc = shim_wait_sock(s, shim_io_changed, w, slice, 0);
	if (rc != -ETIMEDOUT)
		return rc;
	*waited += slice;
	return timeo >= 0 && *waited >= timeo ? -ETIMEDOUT : 0;
}

/* shim_txjob.fill for the byte stream. */
static void io_fill(struct shim_sock *s, const struct shim_txjob *j)
{
	shim_io_copy_in(s, j->head, j->end - j->head, j->iov, j->iovcnt, j->skip);
}

static ssize_t io_send(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
		       int flags)
{
	struct shunt_sock *ss = s->ss;
	bool nonblock = (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
	int64_t timeo = -2;
	size_t len, sent = 0;
	struct shim_io_wait w = { .s = s, .tx = true };
	int64_t waited = 0;
	int rc;

	rc = shim_iov_len(iov, iovcnt, &len);
	if (rc < 0)
		return rc;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP; /* urgent data: not supported by the dataplane */

	for (;;) {
		uint32_t st, fl, head, cons, used, limit, n, guard;
		bool nested, mem_short;

		w.ev_seq = SHUNT_LOAD_ACQ(&ss->ev_seq);
		st = SHUNT_LOAD_ACQ(&ss->state); /* pairs with the dp's release */
		fl = SHUNT_LOAD_ACQ(&ss->flags);
		if (st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED) {
			/* sk_stream_wait_connect() */
			if (shim_err_pending(s))
				return -shim_sock_take_error(s);
			if (nonblock)
				return -EAGAIN;
			if (timeo == -2)
				timeo = shim_sock_timeo_ns(fd, SO_SNDTIMEO);
			rc = shim_wait_sock(s, io_connect_over, &w, timeo, 0);
			if (rc == -ETIMEDOUT)
				return -EAGAIN;
			if (rc < 0)
				return rc;
			continue;
		}
		if (st < SHUNT_SS_ESTABLISHED || shim_err_pending(s) ||
		    (fl & (SHUNT_SF_TX_SHUT | SHUNT_SF_RESET)) || atomic_load(&s->shut_wr)) {
			if (sent > 0)
				return (ssize_t)sent;
			return io_send_error(s, flags);
		}
		if (sent == len)
			return (ssize_t)sent; /* also len == 0: nothing to queue */

		limit = atomic_load_explicit(&s->sndbuf, memory_order_relaxed);
		nested = shim_tx_enter(s, &guard);
		head = SHUNT_LOAD_RLX(&ss->tx_prod); /* ours while we are the sender */
		cons = SHUNT_LOAD_ACQ(&ss->tx_cons); /* pairs with the dp's release */
		used = head - cons;
		n = used < limit ? limit - used : 0;
		if (n > len - sent)
			n = (uint32_t)(len - sent);
		if ((int32_t)(guard - head) < (int32_t)n)
			n = (int32_t)(guard - head) > 0 ? guard - head : 0;
		mem_short = shim_mem_cap(s, used, &n);
		if (n > 0) {
			struct shim_txjob job = { .head = head, .end = head + n,
						  .fill = io_fill, .iov = iov,
						  .iovcnt = iovcnt, .skip = sent };

			rc = shim_tx_run(s, &job); /* release on tx_prod: the bytes first */
			shim_tx_leave(s, nested);
			if (rc < 0)
				continue; /* a handler sent first: our place moved */
			sent += n;
			rc = shim_chan_send(s, (flags & MSG_MORE) != 0);
			if (rc < 0)
				return sent > 0 ? (ssize_t)sent : rc;
			continue;
		}
		shim_tx_leave(s, nested);
		if (nested && sent > 0)
			return (ssize_t)sent; /* a handler may not wrap onto what it helped */
		if (nonblock)
			return sent > 0 ? (ssize_t)sent : -EAGAIN;
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_SNDTIMEO);
		w.idx = cons;
		rc = shim_wait_mem(s, &w, timeo, mem_short, &waited);
		if (rc == -ETIMEDOUT)
			return sent > 0 ? (ssize_t)sent : -EAGAIN;
		if (rc < 0)
			return sent > 0 ? (ssize_t)sent : rc;
	}
}

/* ---- entry points --------------------------------------------------------------------- */

/* A destination given to sendto/sendmsg, checked as Linux's udp_sendmsg() does.
 * Returns 1 with *sin filled, 0 if there is none, or -errno. */
static int io_dgram_dst(const void *addr, socklen_t alen, struct sockaddr_in *sin)
{
	if (addr == NULL)
		return 0;
	if ((int)alen < 0 || alen > sizeof(struct sockaddr_storage))
		return -EINVAL; /* move_addr_to_kernel() */
	if (alen < sizeof(*sin))
		return -EINVAL;
	if (shim_copyin(sin, addr, sizeof(*sin)) < 0)
		return -EFAULT;
	if (sin->sin_family != AF_INET && sin->sin_family != AF_UNSPEC)
		return -EAFNOSUPPORT;
	return 1;
}

/* The socket a send goes through: a shunt socket, held (the caller puts it), or
 * NULL for the kernel. An undecided UDP socket is decided by its first
 * destination. *rc gets an error. */
static struct shim_sock *io_send_sock(int fd, const void *addr, socklen_t alen,
				      struct sockaddr_in *sin, bool *has_dst, long *rc)
{
	struct shim_sock *s = shim_sock_hold_kind(fd, false);
	int kind, d;

	*rc = 0;
	*has_dst = false;
	if (s == NULL)
		return NULL;
	kind = atomic_load_explicit(&s->kind, memory_order_acquire);
	if (kind == SHIM_KERNEL || (kind == SHIM_UNDECIDED && s->type != SOCK_DGRAM))
		goto kernel;
	if (s->type == SOCK_DGRAM) {
		d = io_dgram_dst(addr, alen, sin);
		if (d < 0 && kind == SHIM_UNDECIDED)
			goto kernel; /* the kernel says the same */
		if (d < 0) {
			*rc = d;
			return s;
		}
		*has_dst = d == 1;
		if (kind == SHIM_UNDECIDED) {
			if (!*has_dst)
				goto kernel; /* EDESTADDRREQ from the kernel */
			kind = shim_sock_decide_dgram(fd, s, sin);
			if (kind < 0) {
				*rc = kind;
				return s;
			}
		} else if (*has_dst && atomic_load(&s->ph_listening) &&
			   !shim_sock_offloadable(s, sin->sin_addr.s_addr)) {
			/* a UDP server on 0.0.0.0 answering a client the kernel
			 * reaches (loopback): from the placeholder, same port */
			goto kernel;
		}
	}
	if (kind == SHIM_SHUNT)
		return s;
kernel:
	shim_sock_put(s);
	return NULL;
}

/* Send on a shunt socket, either type. */
ssize_t shim_io_send(int fd, struct shim_sock *s, const struct iovec *iov, int cnt, int flags)
{
	return s->type == SOCK_DGRAM ? shim_dgram_send(fd, s, iov, cnt, flags, NULL) :
				       io_send(fd, s, iov, cnt, flags);
}

static ssize_t io_send_any(int fd, struct shim_sock *s, const struct iovec *iov, int cnt,
			   int flags, const struct sockaddr_in *dst)
{
	if (s->type == SOCK_DGRAM)
		return shim_dgram_send(fd, s, iov, cnt, flags, dst);
	/* A connected TCP socket ignores the destination, as Linux's tcp_sendmsg. */
	return io_send(fd, s, iov, cnt, flags);
}

/* Receive on a shunt socket, either type. */
static ssize_t io_recv_any(int fd, struct shim_sock *s, const struct iovec *iov, int cnt,
			   int flags, struct sockaddr_in *src, uint32_t *dst, int *oflags)
{
	*oflags = 0;
	if (s->type == SOCK_DGRAM)
		return shim_dgram_recv(fd, s, iov, cnt, flags, src, dst, oflags);
	return io_recv(fd, s, iov, cnt, flags);
}

/* recvfrom()/recvmsg()'s address: Linux copies min(len, size) and reports the
 * size; TCP reports none. */
static void io_put_name(struct shim_sock *s, const struct sockaddr_in *src, void *addr,
			socklen_t *alen)
{
	socklen_t l;

	if (s->type != SOCK_DGRAM) {
		*alen = 0;
		return;
	}
	l = *alen < sizeof(*src) ? *alen : (socklen_t)sizeof(*src);
	if ((int)*alen >= 0)
		memcpy(addr, src, l);
	*alen = sizeof(*src);
}

/* The end of a wrapper that holds s (shim_shunt_hold, io_send_sock): the call's
 * reference goes (closing the socket if a close() came meanwhile), errno is set. */
static ssize_t io_done(struct shim_sock *s, ssize_t rc)
{
	shim_sock_put(s);
	return shim_ret(rc);
}

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct shim_sock *s;
	struct iovec v = { buf, n };
	int of;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_read(fd, buf, n);
	return io_done(s, io_recv_any(fd, s, &v, 1, 0, NULL, NULL, &of));
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct shim_sock *s;
	struct iovec v = { (void *)buf, n };

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_write(fd, buf, n);
	return io_done(s, io_send_any(fd, s, &v, 1, 0, NULL));
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct shim_sock *s;
	int of;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_readv(fd, iov, cnt);
	return io_done(s, io_recv_any(fd, s, iov, cnt, 0, NULL, NULL, &of));
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct shim_sock *s;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_writev(fd, iov, cnt);
	return io_done(s, io_send_any(fd, s, iov, cnt, 0, NULL));
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct shim_sock *s;
	struct iovec v = { (void *)buf, n };

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_send(fd, buf, n, flags);
	return io_done(s, io_send_any(fd, s, &v, 1, flags, NULL));
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct shim_sock *s;
	struct iovec v = { buf, n };
	int of;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_recv(fd, buf, n, flags);
	if (flags & MSG_ERRQUEUE) {
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

		return io_done(s, shim_errq_recv(s, &m));
	}
	return io_done(s, io_recv_any(fd, s, &v, 1, flags, NULL, NULL, &of));
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	struct shim_sock *s;
	struct iovec v = { (void *)buf, n };
	struct sockaddr_in sin;
	bool has_dst;
	long rc;

	if (!shim_init() ||
	    (s = io_send_sock(fd, addr, alen, &sin, &has_dst, &rc)) == NULL)
		return real_sendto(fd, buf, n, flags, addr, alen);
	if (rc < 0)
		return io_done(s, rc);
	return io_done(s, io_send_any(fd, s, &v, 1, flags, has_dst ? &sin : NULL));
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
			     socklen_t *alen)
{
	struct shim_sock *s;
	struct iovec v = { buf, n };
	struct sockaddr_in src;
	ssize_t rc;
	int of;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_recvfrom(fd, buf, n, flags, addr, alen);
	if (flags & MSG_ERRQUEUE) {
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

		if (addr != NULL && alen != NULL) {
			m.msg_name = addr;
			m.msg_namelen = *alen;
		}
		rc = shim_errq_recv(s, &m);
		if (rc >= 0 && m.msg_name != NULL)
			*alen = m.msg_namelen;
		return io_done(s, rc);
	}
	rc = io_recv_any(fd, s, &v, 1, flags, &src, NULL, &of);
	if (rc >= 0 && addr != NULL && alen != NULL)
		io_put_name(s, &src, addr, alen);
	return io_done(s, rc);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct shim_sock *s;
	struct sockaddr_in sin;
	bool has_dst;
	long rc;

	if (!shim_init() ||
	    (s = io_send_sock(fd, msg->msg_name, msg->msg_name != NULL ? msg->msg_namelen : 0,
			      &sin, &has_dst, &rc)) == NULL)
		return real_sendmsg(fd, msg, flags);
	if (rc < 0)
		return io_done(s, rc);
	return io_done(s, io_send_any(fd, s, msg->msg_iov, (int)msg->msg_iovlen, flags,
				    has_dst ? &sin : NULL));
}

/* recvmsg() on a UDP socket bound to 0.0.0.0 (ph_listening): a datagram in
 * shuntd's ring, else one on the placeholder read with the program's own msghdr,
 * so its control messages (IP_PKTINFO, timestamps...) come through as from Linux;
 * blocking: wait on both. Returns bytes, or -errno; *done tells the caller the
 * msghdr is already filled (the kernel's datagram). */
static ssize_t io_recvmsg_dual(int fd, struct shim_sock *s, struct msghdr *msg, int flags,
			       struct sockaddr_in *src, uint32_t *dst, int *of, bool *done)
{
	bool nonblock = (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
	int64_t timeo = -2;
	ssize_t rc;

	*done = false;
	for (;;) {
		rc = shim_dgram_recv(fd, s, msg->msg_iov, (int)msg->msg_iovlen,
				     flags | MSG_DONTWAIT | SHIM_MSG_RING_ONLY, src, dst, of);
		if (rc != -EAGAIN)
			return rc;
		rc = real_recvmsg(fd, msg, flags | MSG_DONTWAIT);
		if (rc >= 0) {
			*done = true;
			return rc;
		}
		if (errno != EAGAIN)
			return -errno;
		if (nonblock)
			return -EAGAIN;
		if (timeo == -2)
			timeo = shim_sock_timeo_ns(fd, SO_RCVTIMEO);
		rc = shim_wait_dual(fd, s, shim_dgram_readable, s, timeo);
		if (rc == -ETIMEDOUT)
			return -EAGAIN;
		if (rc < 0)
			return rc;
	}
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct shim_sock *s;
	struct sockaddr_in src;
	uint32_t dst = 0;
	bool done = false;
	ssize_t rc;
	int of;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_recvmsg(fd, msg, flags);
	if (flags & MSG_ERRQUEUE)
		return io_done(s, shim_errq_recv(s, msg)); /* ip_recv_error(), before anything */
	of = 0;
	if (s->type == SOCK_DGRAM && atomic_load(&s->ph_listening)) {
		rc = io_recvmsg_dual(fd, s, msg, flags, &src, &dst, &of, &done);
		if (done)
			return io_done(s, rc);
	} else {
		rc = io_recv_any(fd, s, msg->msg_iov, (int)msg->msg_iovlen, flags, &src, &dst,
				 &of);
	}
	if (rc >= 0) {
		if (msg->msg_name != NULL)
			io_put_name(s, &src, msg->msg_name, &msg->msg_namelen);
		else
			msg->msg_namelen = 0;
		if (s->type == SOCK_DGRAM)
			shim_cmsg_dgram(s, msg, dst, &of);
		else
			msg->msg_controllen = 0; /* tcp_recvmsg(): none of ours */
		msg->msg_flags = of;
	}
	return io_done(s, rc);
}

/* glibc's _FORTIFY_SOURCE entry points: the same, after the buffer-size check. */
extern void __chk_fail(void) __attribute__((noreturn));
SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen);

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				   struct sockaddr *addr, socklen_t *alen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, addr, alen);
}
