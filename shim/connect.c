/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Where a socket lives, and the calls that decide it: bind, listen, connect,
 * shutdown (and, for UDP, the first sendto/sendmsg with an address, via io.c).
 *
 *   decision (undecided socket; TCP at connect, UDP at connect or first sendto,
 *   both at bind to the stack's own address):
 *     shim_sock_offloadable(dst)?
 *       no  -> SHIM_KERNEL: every later call goes to libc (identical behaviour)
 *       yes -> conn_make_shunt(): free-ring slot, OPEN, SETOPT replay, BIND replay
 *              (the placeholder's port) -> SHIM_SHUNT -> shim_epoll_sock_decided()
 *   bind()    -> stack address: decided now (OPEN + BIND, the dataplane answers)
 *             -> other: the placeholder binds (the kernel answers); an address that
 *                is neither 0.0.0.0 nor the stack's commits the socket to the kernel
 *   connect() -> TCP shunt: conn_stream_connect() = Linux __inet_stream_connect()
 *             -> UDP shunt: conn_dgram_connect() = inet_dgram_connect()
 *             -> shunt socket, not connected, destination elsewhere: back to the
 *                kernel (CLOSE the slot; the placeholder carries on)
 *   shutdown() -> inet_shutdown()
 *
 * One port space: Linux has one table of TCP ports, the shim two (the kernel's and
 * the dataplane's). Whenever a shunt TCP socket gets a port (BIND, or CONNECT's
 * ephemeral one), its placeholder binds 0.0.0.0 with that port too
 * (conn_hold_port), so the kernel refuses the app's other sockets that port with
 * its own SO_REUSEADDR rules.
 *
 * Every function returns 0 / -errno; the exported wrappers set errno. Each wrapper
 * holds the socket for the whole call (shim_sock_hold), a blocking connect too: a
 * close() meanwhile closes the socket when the call returns.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "real.h"
#include "shim.h"

bool shim_sock_offloadable(const struct shim_sock *s, uint32_t dst_be)
{
	/* A socket bound to another local address (127.0.0.1...) cannot use the stack. */
	if (s->bound && s->bind_addr.sin_addr.s_addr != 0 &&
	    s->bind_addr.sin_addr.s_addr != shim_g.welcome.stack_ip)
		return false;
	return shim_offload_match(shim_g.welcome.offload, shim_g.welcome.n_offload, dst_be);
}

/* Commit an undecided socket to the kernel. Caller holds s->lock. */
static void conn_decide_kernel(struct shim_sock *s)
{
	atomic_store_explicit(&s->kind, SHIM_KERNEL, memory_order_release);
	shim_epoll_sock_decided(s, false);
}

/* BIND on the dataplane, as the placeholder holds it (or as the app asks). A port
 * the kernel chose for bind(port 0) is only a wish: taken elsewhere, any will do. */
static int conn_bind_dp(struct shim_sock *s, const struct sockaddr_in *sin)
{
	struct shunt_inaddr a = { sin->sin_addr.s_addr, sin->sin_port, 0 };
	uint32_t flags = s->port_locked ? 0 : SHUNT_BINDF_UNLOCKED;
	int rc;

	rc = shim_chan_sync(s, SHUNT_CMD_BIND, flags, &a, 0);
	if (rc == -EADDRINUSE && !s->port_locked && a.port != 0) {
		a.port = 0;
		rc = shim_chan_sync(s, SHUNT_CMD_BIND, flags, &a, 0);
	}
	return rc;
}

int shim_sock_adopt_slot(struct shim_sock *s, struct shunt_region *r, uint32_t att,
			 uint32_t slot, uint32_t gen)
{
	struct shunt_sock *ss;

	/* the geometry checked below is the current attachment's */
	if (r != shim_g.r || att != atomic_load(&shim_g.att_gen) || slot >= shim_g.nsocks)
		return slot >= shim_g.nsocks && r == shim_g.r ? -EPROTO : -ENETDOWN;
	ss = shunt_region_sock(r, slot);
	s->r = r;
	s->att = att;
	s->slot = slot;
	s->gen = gen;
	s->ss = ss;
	for (uint32_t hwm = atomic_load(&shim_g.slot_hwm); hwm < slot + 1 &&
	     !atomic_compare_exchange_weak(&shim_g.slot_hwm, &hwm, slot + 1);)
		; /* lost.c resets the slots below it */
	/* The caller's acquire (reply.seq, or the listener's rx_prod) made the slot's
	 * [dp] fields visible: rings, indices. */
	if (ss->rx_size == 0 || (ss->rx_size & (ss->rx_size - 1)) != 0 ||
	    ss->tx_size == 0 || (ss->tx_size & (ss->tx_size - 1)) != 0 ||
	    ss->rx_off > shim_g.region_size - ss->rx_size ||
	    ss->tx_off > shim_g.region_size - ss->tx_size)
		return -EPROTO; /* a dataplane of another build: keep the process safe */
	s->rxbuf = (uint8_t *)r + ss->rx_off;
	s->txbuf = (uint8_t *)r + ss->tx_off;
	s->rx_size = ss->rx_size;
	s->tx_size = ss->tx_size;
	atomic_store(&s->sndbuf, s->tx_size);
	/* A new life for the record: no SEND of ours queued, nothing announced. The
	 * slot's [app] indices run on from its last user (abi.h): start from them. */
	atomic_store_explicit(&s->send_pos, 0, memory_order_relaxed);
	atomic_store_explicit(&s->rcv_ann, SHUNT_LOAD_RLX(&ss->rx_cons), memory_order_relaxed);
	atomic_store_explicit(&s->rcvbuf, 0, memory_order_relaxed);
	s->tx_job = NULL;
	return 0;
}

/* Turn s into a shunt socket: OPEN (the dataplane picks the slot), option and bind
 * replay. Caller holds s->lock. On failure the slot is handed back (CLOSE) and s
 * stays undecided. */
static int conn_make_shunt(int fd, struct shim_sock *s)
{
	/* one attachment for the whole: if shuntd goes away and comes back meanwhile,
	 * the adoption below refuses the slot (ENETDOWN) */
	struct shunt_region *r = shim_g.r;
	uint32_t att = atomic_load(&shim_g.att_gen), opts, slot, gen;
	int rc, opt;

	rc = shim_chan_open(r, s->type == SOCK_DGRAM ? SHUNT_SOCK_DGRAM : SHUNT_SOCK_STREAM,
			    &slot, &gen);
	if (rc < 0)
		return rc;
	rc = shim_sock_adopt_slot(s, r, att, slot, gen);
	if (rc < 0)
		goto fail;
	shim_share_own(s, fd);

	for (opts = s->optmask; opts != 0; opts &= opts - 1) {
		uint64_t v;

		opt = __builtin_ctz(opts);
		if (shim_opt_value(fd, s, opt, &v) < 0)
			continue;
		if (opt == SHUNT_OPT_SNDBUF)
			atomic_store(&s->sndbuf, v < s->tx_size ? (uint32_t)v : s->tx_size);
		rc = shim_chan_sync(s, SHUNT_CMD_SETOPT, (uint32_t)opt, NULL, v);
		if (rc < 0)
			SHIM_DEBUG("fd %d: option %d not taken by the dataplane: %d", fd, opt, rc);
	}
	if (s->bound) {
		rc = conn_bind_dp(s, &s->bind_addr);
		if (rc < 0)
			goto fail;
	}
	return 0;
fail:
	s->slot = slot; /* the slot OPEN gave, in the region it came from, adopted or */
	s->gen = gen;   /* not: CLOSE goes there (to nobody if that shuntd is gone) */
	s->r = r;
	s->att = att;
	(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
	return rc; /* s->ss stays: kind is not SHUNT, so nothing reads it */
}

/* conn_make_shunt() and its outcome for an undecided s. Caller holds s->lock.
 * Returns 0 (s is a shunt socket) or -errno (s stays undecided: the caller says). */
static int conn_decide_shunt(int fd, struct shim_sock *s)
{
	int rc;

	/* no fork between the slot and its kind (share.c: the child's bit is set on
	 * the sockets the table shows as shunt sockets) */
	shim_share_rdlock();
	rc = conn_make_shunt(fd, s);
	if (rc < 0) {
		shim_share_rdunlock();
		return rc;
	}
	atomic_store_explicit(&s->kind, SHIM_SHUNT, memory_order_release);
	shim_share_rdunlock();
	shim_epoll_sock_decided(s, false);
	shim_opt_decided_shunt(fd, s);
	SHIM_DEBUG("fd %d -> slot %u", fd, s->slot);
	return 0;
}

/* Errors that mean "no dataplane socket to be had": the kernel serves instead. */
static bool conn_no_slot(int rc)
{
	return rc == -ENOBUFS || rc == -EPROTO || rc == -EPIPE || rc == -ENETDOWN;
}

/* Decide an undecided s for destination dst. Caller holds s->lock. Returns the
 * kind, or -errno when the dataplane refused the bind replay (as bind() would). */
static int conn_decide(int fd, struct shim_sock *s, uint32_t dst_be)
{
	int rc;

	if (atomic_load(&s->kind) != SHIM_UNDECIDED)
		return atomic_load(&s->kind);
	/* attached already, or again in a fork child that let go of its parent's */
	if (shim_attach() && shim_sock_offloadable(s, dst_be)) {
		rc = conn_decide_shunt(fd, s);
		if (rc == 0)
			return SHIM_SHUNT;
		if (!conn_no_slot(rc))
			return rc;
		SHIM_WARN("fd %d: no dataplane socket (%s): using the kernel", fd, strerror(-rc));
	}
	conn_decide_kernel(s);
	return SHIM_KERNEL;
}

int shim_sock_decide_dgram(int fd, struct shim_sock *s, const struct sockaddr_in *dst)
{
	int kind;

	pthread_mutex_lock(&s->lock);
	kind = conn_decide(fd, s, dst->sin_addr.s_addr);
	pthread_mutex_unlock(&s->lock);
	return kind;
}

/* A shunt socket that is not connected goes back to the kernel (connect() to a
 * destination the stack does not serve): the slot is closed, the placeholder, which
 * holds every option and any bind to 0.0.0.0, is the socket again. Caller holds
 * s->lock. */
static void conn_back_to_kernel(int fd, struct shim_sock *s)
{
	atomic_store(&s->ph_listening, false); /* the placeholder is the whole socket now */
	atomic_store_explicit(&s->kind, SHIM_KERNEL, memory_order_release);
	/* Out of the epoll notifiers before the slot goes: once CLOSE is taken the
	 * slot may name another socket, whose notify[] entries are not ours to clear. */
	shim_epoll_sock_decided(s, true);
	(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
	SHIM_DEBUG("fd %d: slot %u closed, back to the kernel", fd, s->slot);
}

/* ---- bind / listen ------------------------------------------------------------------ */

/* A shunt TCP socket holds a port in the dataplane: bind the placeholder to
 * 0.0.0.0 and that port, so that the kernel refuses it to the app's other sockets
 * (bind() of 0.0.0.0:P while a shunt socket has P is EADDRINUSE in Linux, which has
 * one port table). Best effort: a placeholder already bound keeps its port, and a
 * port the kernel will not give (another process has it, or the dataplane shares it
 * between connections to different destinations) is simply not mirrored. Caller
 * holds s->lock. */
static void conn_hold_port(int fd, struct shim_sock *s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_storage st;
	socklen_t size;

	if (s->type != SOCK_STREAM || s->ph_bound)
		return;
	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	sin.sin_port = s->ss->local.port;
	if (sin.sin_port == 0)
		return;
	shim_addr_form(s->family, &sin, &st, &size); /* an IPv6 placeholder: [::]:port */
	if (real_bind(fd, (const struct sockaddr *)&st, size) == 0)
		s->ph_bound = true;
	else
		SHIM_DEBUG("fd %d: port %u not mirrored in the kernel: %s", fd,
			   ntohs(sin.sin_port), strerror(errno));
}

/* Linux __inet_bind()'s argument checks, for the binds the kernel does not see
 * (inet6_bind()'s for an IPv6 socket: 1 for an address that is not IPv4's). */
static int conn_bind_args(int fd, struct shim_sock *s, const struct sockaddr *addr,
			  socklen_t len, struct sockaddr_in *sin)
{
	int rc = shim_addr_in(s->family, fd, addr, len, sin);

	if (rc != 0 || s->family != AF_INET)
		return rc;
	if (sin->sin_family != AF_INET &&
	    !(sin->sin_family == AF_UNSPEC && sin->sin_addr.s_addr == 0))
		return -EAFNOSUPPORT;
	return 0;
}

/* Linux's inet_port_requires_bind_service(): binding a port below
 * net.ipv4.ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE. The dataplane
 * cannot tell, so the kernel is asked the same question with a throwaway socket
 * of the same type bound to 0.0.0.0 and that port: -EACCES if it says no. Any
 * other answer (the port busy in the kernel) is not this check's to give. */
static int conn_port_allowed(int type, uint16_t port_be)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = port_be };
	unsigned start = 1024;
	char buf[16];
	int fd, rc = 0;
	ssize_t n;

	if (port_be == 0)
		return 0; /* the dataplane picks an unprivileged one */
	fd = open("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = real_read(fd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			start = (unsigned)strtoul(buf, NULL, 10);
		}
		real_close(fd);
	}
	if (ntohs(port_be) >= start)
		return 0;
	fd = real_socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (real_bind(fd, (const struct sockaddr *)&sin, sizeof(sin)) < 0 && errno == EACCES)
		rc = -EACCES;
	real_close(fd);
	return rc;
}

/* bind() on a shunt socket: the dataplane holds the port (and the placeholder
 * mirrors it). Caller holds s->lock. */
static int conn_bind_shunt(int fd, struct shim_sock *s, const struct sockaddr_in *sin)
{
	int rc;

	/* __inet_bind(): the address is checked before "already bound" */
	if (sin->sin_addr.s_addr != 0 && sin->sin_addr.s_addr != shim_g.welcome.stack_ip)
		return -EADDRNOTAVAIL;
	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	if ((SHUNT_LOAD_RLX(&s->ss->flags) & SHUNT_SF_BOUND) ||
	    (s->type == SOCK_STREAM && SHUNT_LOAD_RLX(&s->ss->state) != SHUNT_SS_CLOSED))
		return -EINVAL; /* bound, or connected: "sk_state != TCP_CLOSE || inet_num" */
	rc = conn_port_allowed(s->type, sin->sin_port);
	if (rc < 0)
		return rc;
	s->port_locked = sin->sin_port != 0;
	rc = conn_bind_dp(s, sin);
	if (rc < 0)
		return rc;
	s->bound = true;
	s->bind_addr = *sin;
	s->bind_addr.sin_family = AF_INET;
	s->bind_addr.sin_port = s->ss->local.port;
	conn_hold_port(fd, s);
	return 0;
}

static int conn_bind(int fd, struct shim_sock *s, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in sin = { 0 }, asked = { 0 };
	struct sockaddr_storage st;
	socklen_t slen = sizeof(st);
	bool asked_ok;
	int rc, kind;

	pthread_mutex_lock(&s->lock);
	kind = atomic_load(&s->kind);
	if (kind == SHIM_SHUNT) {
		rc = conn_bind_args(fd, s, addr, len, &sin);
		if (rc == 0)
			rc = conn_bind_shunt(fd, s, &sin);
		else if (rc == 1)
			rc = -EINVAL; /* an IPv6 address on a socket bound in shunt */
		goto out;
	}
	/* what the program asked for, as IPv4 (parsed once: its port also says
	 * whether the port is locked below) */
	asked_ok = kind == SHIM_UNDECIDED && conn_bind_args(fd, s, addr, len, &asked) == 0;
	if (asked_ok && shim_attach() && shim_g.welcome.stack_ip != 0 &&
	    asked.sin_addr.s_addr == shim_g.welcome.stack_ip) {
		/* The stack's address is not the kernel's: the dataplane binds it now. */
		rc = conn_decide_shunt(fd, s);
		if (rc == 0) {
			rc = conn_bind_shunt(fd, s, &asked);
			if (rc < 0) {
				/* not bound after all: undecided again, as before the call */
				(void)shim_chan_async(s, SHUNT_CMD_CLOSE, 0);
				atomic_store_explicit(&s->kind, SHIM_UNDECIDED,
						      memory_order_release);
				shim_epoll_sock_decided(s, true);
			} else {
				s->bound_local = true;
			}
			goto out;
		}
		/* no dataplane socket: the kernel says what it thinks of the address */
	}
	rc = real_bind(fd, addr, len) < 0 ? -errno : 0;
	if (rc == 0 && kind == SHIM_UNDECIDED &&
	    real_getsockname(fd, (struct sockaddr *)&st, &slen) == 0 &&
	    shim_addr_in(s->family, fd, (struct sockaddr *)&st, slen, &sin) == 1) {
		conn_decide_kernel(s); /* an IPv6 address, or an IPv6-only socket */
	} else if (rc == 0 && kind == SHIM_UNDECIDED && sin.sin_family == AF_INET) {
		s->bound = true;
		s->ph_bound = true;
		s->bind_addr = sin; /* with the port the kernel chose for port 0 */
		s->port_locked = asked_ok && asked.sin_port != 0;
		if (sin.sin_addr.s_addr != 0) {
			conn_decide_kernel(s); /* another local address: never offloaded */
		} else if (s->type == SOCK_DGRAM && s->port_locked && shim_attach() &&
			   conn_decide_shunt(fd, s) == 0) {
			/* A UDP server on 0.0.0.0:P: shuntd receives for the stack's
			 * address, the placeholder (bound to P) for the kernel's. */
			atomic_store(&s->ph_listening, true);
			shim_epoll_sock_dual(s);
		}
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s;
	int rc;

	if (!shim_init() || (s = shim_sock_hold_kind(fd, false)) == NULL)
		return real_bind(fd, addr, len);
	rc = conn_bind(fd, s, addr, len);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

/* The dataplane listens (SHUNT_FEAT_LISTEN agreed)? */
static bool conn_dp_listens(void)
{
	return shim_g.r != NULL && (shim_g.r->features & SHUNT_FEAT_LISTEN) &&
	       !shim_is_lost(); /* shuntd gone: the kernel listens, as at start */
}

/* listen() in the dataplane: s becomes (or already is) a shunt socket bound to
 * 0.0.0.0 or the stack's address, and LISTEN gives it its backlog. Caller holds
 * s->lock. Returns 0, 1 when the kernel should listen instead (no dataplane socket
 * to be had), or -errno. */
static int conn_listen_shunt(int fd, struct shim_sock *s, int backlog)
{
	int rc;

	if (atomic_load(&s->kind) == SHIM_UNDECIDED) {
		rc = conn_decide_shunt(fd, s);
		if (rc < 0 && conn_no_slot(rc)) {
			conn_decide_kernel(s);
			return 1;
		}
		if (rc < 0)
			return rc;
	}
	/* Linux: a backlog above somaxconn (or negative, as unsigned) is somaxconn;
	 * the dataplane clamps */
	rc = shim_chan_sync(s, SHUNT_CMD_LISTEN, (uint32_t)backlog, NULL, 0);
	if (rc < 0)
		return rc;
	atomic_store_explicit(&s->listening, true, memory_order_release);
	conn_hold_port(fd, s); /* an unbound listener got its port from the dataplane */
	if (!s->bound) {
		s->bound = true;
		s->bind_addr.sin_family = AF_INET;
		s->bind_addr.sin_addr.s_addr = 0;
		s->bind_addr.sin_port = s->ss->local.port;
	}
	/* 0.0.0.0 is every address, the kernel's too (loopback at least): the
	 * placeholder, which holds the port, listens for those, and accept, poll and
	 * epoll serve both queues. Best effort: without the port, only the stack's. */
	if (!s->bound_local && s->ph_bound && real_listen(fd, backlog) == 0 &&
	    !atomic_exchange(&s->ph_listening, true))
		shim_epoll_sock_dual(s);
	return 0;
}

SHIM_EXPORT int listen(int fd, int backlog)
{
	struct shim_sock *s;
	int rc = 0;

	if (!shim_init() || (s = shim_sock_hold_kind(fd, false)) == NULL)
		return real_listen(fd, backlog);
	pthread_mutex_lock(&s->lock);
	if (s->type == SOCK_STREAM && conn_dp_listens() &&
	    ((atomic_load(&s->kind) == SHIM_UNDECIDED &&
	      (!s->bound || s->bind_addr.sin_addr.s_addr == 0) &&
	      (s->family == AF_INET || !shim_addr_v6only(fd))) ||
	     (atomic_load(&s->kind) == SHIM_SHUNT &&
	      (s->bound_local || atomic_load(&s->listening))))) {
		/* 0.0.0.0 or the stack's address: the dataplane listens */
		rc = conn_listen_shunt(fd, s, backlog);
		pthread_mutex_unlock(&s->lock);
		shim_sock_put(s);
		if (rc <= 0)
			return (int)shim_ret(rc);
		return real_listen(fd, backlog); /* no dataplane socket: the kernel's */
	}
	if (atomic_load(&s->kind) == SHIM_UNDECIDED) {
		conn_decide_kernel(s); /* listening sockets are the kernel's (for now) */
	} else if (atomic_load(&s->kind) == SHIM_SHUNT) {
		if (s->type == SOCK_DGRAM)
			rc = -EOPNOTSUPP; /* as Linux for UDP */
		else if (s->sstate != SHIM_SS_UNCONNECTED ||
			 SHUNT_LOAD_ACQ(&s->ss->state) != SHUNT_SS_CLOSED)
			rc = -EINVAL; /* connected or connecting: as Linux */
		else if (s->bound_local)
			rc = -EOPNOTSUPP; /* the dataplane has no passive open yet */
		else
			conn_back_to_kernel(fd, s); /* a failed connect: the kernel listens */
	}
	pthread_mutex_unlock(&s->lock);
	shim_sock_put(s);
	if (rc < 0)
		return (int)shim_ret(rc);
	return real_listen(fd, backlog);
}

/* ---- connect: TCP -------------------------------------------------------------------- */

static bool conn_state_syn(uint32_t st)
{
	return st == SHUNT_SS_SYN_SENT || st == SHUNT_SS_SYN_RECEIVED;
}

static bool conn_handshake_over(void *arg)
{
	struct shim_sock *s = arg;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq); /* pairs with the dp's release */
	return !conn_state_syn(SHUNT_LOAD_RLX(&s->ss->state));
}

/* Linux's tcp_disconnect(): connect(AF_UNSPEC), shutdown() while connecting, and
 * the end of a connect() that reported a failed attempt. The dataplane drops the
 * connection and shows the old port with the bound address (or 0.0.0.0); a port
 * the app bound stays bound in Linux (SOCK_BINDPORT_LOCK), so it is bound again
 * should the dataplane have let it go. sk_shutdown is cleared: so are our
 * shutdown flags. Caller holds s->lock. */
static int conn_stream_disconnect(struct shim_sock *s)
{
	uint16_t port;
	int rc;

	(void)SHUNT_LOAD_ACQ(&s->ss->ev_seq);
	port = s->ss->local.port;
	rc = shim_chan_sync(s, SHUNT_CMD_DISCONNECT, 0, NULL, 0);
	s->sstate = rc < 0 ? SHIM_SS_DISCONNECTING : SHIM_SS_UNCONNECTED;
	if (rc == 0) {
		s->ghost_port = port;
		atomic_store(&s->shut_rd, false);
		atomic_store(&s->shut_wr, false);
	}
	if (rc == 0 && s->bound && s->port_locked)
		(void)conn_bind_dp(s, &s->bind_addr);
	else if (rc == 0)
		s->bound = false;
	return rc;
}

/* Linux's __inet_stream_connect() on a shunt socket. sin has been copied in; len is
 * the caller's. Returns 0 or -errno. */
static int conn_stream_connect(int fd, struct shim_sock *s, const struct sockaddr_in *sin,
			       socklen_t len)
{
	int64_t timeo;
	int err, rc;

	pthread_mutex_lock(&s->lock);
	if (sin->sin_family == AF_UNSPEC) {
		err = conn_stream_disconnect(s);
		goto out_unlock;
	}
	switch (s->sstate) {
	case SHIM_SS_CONNECTED:
		err = -EISCONN;
		goto out_unlock;
	case SHIM_SS_CONNECTING:
		err = -EALREADY; /* and fall out to the wait, as Linux does */
		break;
	case SHIM_SS_UNCONNECTED:
		err = -EISCONN;
		if (SHUNT_LOAD_ACQ(&s->ss->state) != SHUNT_SS_CLOSED)
			goto out_unlock;
		err = -EINVAL;
		if (len < sizeof(*sin))
			goto out_unlock;
		err = -EAFNOSUPPORT;
		if (sin->sin_family != AF_INET)
			goto out_unlock;
		if (!s->bound_local && !shim_sock_offloadable(s, sin->sin_addr.s_addr)) {
			struct sockaddr_storage st;
			socklen_t size;

			conn_back_to_kernel(fd, s);
			pthread_mutex_unlock(&s->lock);
			shim_addr_form(s->family, sin, &st, &size); /* as the program gave it */
			return real_connect(fd, (const struct sockaddr *)&st, size) < 0 ? -errno : 0;
		}
		/* tcp_connect_init() clears sk_err: an old error does not outlive it */
		SHUNT_STORE_REL(&s->ss->err_seen, SHUNT_LOAD_ACQ(&s->ss->err_seq));
		{
			struct shunt_inaddr a = { sin->sin_addr.s_addr, sin->sin_port, 0 };

			err = shim_chan_sync(s, SHUNT_CMD_CONNECT, 0, &a, 0);
		}
		if (err < 0)
			goto out_unlock;
		s->ghost_port = 0;
		s->sstate = SHIM_SS_CONNECTING;
		conn_hold_port(fd, s);
		err = -EINPROGRESS;
		/* Linux holds the socket lock from the SYN to this check: whatever the
		 * answer, and however fast, a non-blocking connect() says EINPROGRESS
		 * and the outcome waits for the next call (or poll, or SO_ERROR). */
		if (atomic_load(&s->nonblock))
			goto out_unlock;
		break;
	default:
		err = -EINVAL;
		goto out_unlock;
	}
	pthread_mutex_unlock(&s->lock);

	/* Never hold the lock while sleeping: SO_ERROR, poll and close go on. */
	timeo = atomic_load(&s->nonblock) ? 0 : shim_sock_timeo_ns(fd, SO_SNDTIMEO);
	if (conn_state_syn(SHUNT_LOAD_ACQ(&s->ss->state))) {
		if (timeo == 0)
			return err;
		rc = shim_wait_sock(s, conn_handshake_over, s, timeo, 0);
		if (rc == -ETIMEDOUT)
			return err; /* EINPROGRESS: the handshake goes on */
		if (rc < 0)
			return rc;  /* EINTR (SA_RESTART was applied by the kernel already) */
	}

	pthread_mutex_lock(&s->lock);
	if (s->sstate != SHIM_SS_CONNECTING) {
		/* another thread finished it (or shutdown() dissolved it) meanwhile */
		err = s->sstate == SHIM_SS_CONNECTED ? -EISCONN : -ECONNABORTED;
		goto out_unlock;
	}
	if (SHUNT_LOAD_ACQ(&s->ss->state) == SHUNT_SS_CLOSED) {
		/* sock_error: refused, timed out, reset: report it once, then
		 * tcp_disconnect() (the source address goes, the port stays shown,
		 * sk_shutdown is cleared) and start afresh */
		err = shim_sock_take_error(s);
		err = err != 0 ? -err : -ECONNABORTED;
		(void)conn_stream_disconnect(s);
		goto out_unlock;
	}
	s->sstate = SHIM_SS_CONNECTED;
	err = 0;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* ---- connect: UDP ---------------------------------------------------------------------- */

/* Linux's inet_dgram_connect() -> ip4_datagram_connect() / udp_disconnect(). */
static int conn_dgram_connect(int fd, struct shim_sock *s, const struct sockaddr_in *sin,
			      socklen_t len)
{
	struct shunt_inaddr a = { sin->sin_addr.s_addr, sin->sin_port, 0 };
	int rc;

	pthread_mutex_lock(&s->lock);
	if (sin->sin_family == AF_UNSPEC) {
		rc = shim_chan_sync(s, SHUNT_CMD_DISCONNECT, 0, NULL, 0);
		goto out;
	}
	rc = -EINVAL;
	if (len < sizeof(*sin))
		goto out;
	rc = -EAFNOSUPPORT;
	if (sin->sin_family != AF_INET)
		goto out;
	if (!s->bound_local && !shim_sock_offloadable(s, sin->sin_addr.s_addr)) {
		conn_back_to_kernel(fd, s);
		pthread_mutex_unlock(&s->lock);
		return real_connect(fd, (const struct sockaddr *)sin, len) < 0 ? -errno : 0;
	}
	rc = shim_chan_sync(s, SHUNT_CMD_CONNECT, 0, &a, 0);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int conn_connect(int fd, struct shim_sock *s, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_in sin = { 0 };
	socklen_t slen = len; /* what the shunt paths see; the kernel gets the caller's */
	size_t n;
	int kind, rc;

	/* The syscall's own checks (move_addr_to_kernel), then sa_family. */
	if ((int)len < 0 || len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	kind = atomic_load_explicit(&s->kind, memory_order_acquire);
	if (s->family == AF_INET6) {
		/* IPv4-mapped destinations; on a shunt socket AF_UNSPEC too (it
		 * disconnects) and any other address is refused as __inet_stream_connect
		 * would; an undecided or kernel socket: the kernel */
		if (len < sizeof(sa_family_t))
			goto kernel;
		rc = shim_addr_in(AF_INET6, fd, addr, len, &sin);
		if (rc < 0 && kind == SHIM_SHUNT)
			return rc;
		if (rc != 0 && kind == SHIM_SHUNT) {
			sa_family_t fam;

			if (shim_copyin(&fam, addr, sizeof(fam)) < 0)
				return -EFAULT;
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = fam == AF_UNSPEC ? AF_UNSPEC : AF_INET6;
			slen = fam == AF_UNSPEC ? sizeof(sin) : 0; /* else: EINVAL/EISCONN there */
			goto decided;
		}
		if (rc != 0)
			goto kernel;
		slen = sizeof(sin);
		goto decide;
	}
	n = len < sizeof(sin) ? len : sizeof(sin);
	if (n > 0 && shim_copyin(&sin, addr, n) < 0)
		return -EFAULT;
	if (len < sizeof(sa_family_t))
		return -EINVAL;
decide:
	if (kind == SHIM_UNDECIDED) {
		if (sin.sin_family != AF_INET || slen < sizeof(sin))
			goto kernel; /* AF_UNSPEC, bad length, wrong family: the kernel says */
		pthread_mutex_lock(&s->lock);
		kind = conn_decide(fd, s, sin.sin_addr.s_addr);
		pthread_mutex_unlock(&s->lock);
		if (kind < 0)
			return kind; /* e.g. the bind replay failed: as bind() would have */
	}
decided:
	if (kind == SHIM_SHUNT && s->type == SOCK_DGRAM)
		return conn_dgram_connect(fd, s, &sin, slen);
	if (kind == SHIM_SHUNT)
		return conn_stream_connect(fd, s, &sin, slen);
kernel:
	return real_connect(fd, addr, len) < 0 ? -errno : 0;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct shim_sock *s;
	int rc;

	if (!shim_init() || (s = shim_sock_hold_kind(fd, false)) == NULL)
		return real_connect(fd, addr, len);
	rc = conn_connect(fd, s, addr, len);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

/* ---- shutdown ----------------------------------------------------------------------- */

/* Linux's inet_shutdown() on a shunt socket. */
static int conn_shutdown(struct shim_sock *s, int how)
{
	uint32_t st;
	int rc = 0;

	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	if (s->type == SOCK_DGRAM) {
		/* TCP_CLOSE (not connected): ENOTCONN, but the shutdown is recorded */
		if (how != SHUT_WR)
			atomic_store(&s->shut_rd, true);
		if (how != SHUT_RD)
			atomic_store(&s->shut_wr, true);
		/* a NOP round trip bumps ev_seq: blocked readers wake and see it */
		(void)shim_chan_sync(s, SHUNT_CMD_NOP, 0, NULL, 0);
		rc = SHUNT_LOAD_ACQ(&s->ss->flags) & SHUNT_SF_CONNECTED ? 0 : -ENOTCONN;
		goto out;
	}
	st = SHUNT_LOAD_ACQ(&s->ss->state);
	if (s->sstate == SHIM_SS_CONNECTING)
		s->sstate = (conn_state_syn(st) || st == SHUNT_SS_CLOSED) ?
			    SHIM_SS_DISCONNECTING : SHIM_SS_CONNECTED;
	if (st == SHUNT_SS_SYN_SENT) {
		/* tcp_disconnect(), and the socket may connect again */
		rc = conn_stream_disconnect(s);
		rc = 0;
		goto out;
	}
	if (how != SHUT_WR)
		atomic_store(&s->shut_rd, true);
	if (how != SHUT_RD)
		atomic_store(&s->shut_wr, true);
	if (st == SHUNT_SS_CLOSED) {
		rc = -ENOTCONN; /* Linux still records the shutdown, for poll's sake */
		goto out;
	}
	rc = shim_chan_sync(s, SHUNT_CMD_SHUTDOWN, (uint32_t)how, NULL, 0);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int shutdown(int fd, int how)
{
	struct shim_sock *s;
	int rc;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_shutdown(fd, how);
	rc = conn_shutdown(s, how);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

void shim_conn_atfork_child(void)
{
}
