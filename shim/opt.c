/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Options and descriptor control: getsockopt, setsockopt, getsockname, getpeername,
 * fcntl, fcntl64, ioctl.
 *
 *   setsockopt(shunt) -> real_setsockopt(placeholder) (Linux validates, stores)
 *                     -> option the dataplane acts on? SETOPT (value read back)
 *   setsockopt(undecided) -> placeholder; remembered for the replay at connect()
 *   getsockopt(shunt) -> SO_ERROR, TCP_INFO, TCP_MAXSEG, TCP_CONGESTION from the
 *                        shared socket;
 *                        the rest from the placeholder
 *   fcntl/ioctl -> O_NONBLOCK mirrored on the placeholder (so F_GETFL answers) and
 *                  in the record; F_DUPFD* tracked; FIONREAD/SIOCOUTQ from the rings
 *
 * Every wrapper that reads or writes the record holds it for the call
 * (shim_sock_hold): a close() meanwhile cannot recycle it under us.
 */
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>

#include "real.h"
#include "shim.h"

int shim_opt_map(int level, int optname)
{
	if (level == SOL_SOCKET) {
		switch (optname) {
		case SO_RCVBUF:
			return SHUNT_OPT_RCVBUF;
		case SO_SNDBUF:
			return SHUNT_OPT_SNDBUF;
		case SO_LINGER:
			return SHUNT_OPT_LINGER0;
		case SO_REUSEADDR:
			return SHUNT_OPT_REUSEADDR;
		case SO_KEEPALIVE:
			return SHUNT_OPT_KEEPALIVE;
		case SO_REUSEPORT:
			return SHUNT_OPT_REUSEPORT;
		}
	} else if (level == IPPROTO_TCP) {
		switch (optname) {
		case TCP_NODELAY:
			return SHUNT_OPT_NODELAY;
		case TCP_SYNCNT:
			return SHUNT_OPT_SYNCNT;
		case TCP_USER_TIMEOUT:
			return SHUNT_OPT_USER_TIMEOUT;
		case TCP_KEEPIDLE:
			return SHUNT_OPT_KEEPIDLE;
		case TCP_KEEPINTVL:
			return SHUNT_OPT_KEEPINTVL;
		case TCP_KEEPCNT:
			return SHUNT_OPT_KEEPCNT;
		case TCP_CORK:
			return SHUNT_OPT_CORK;
		case TCP_MAXSEG:
			return SHUNT_OPT_MAXSEG;
		case TCP_CONGESTION:
			return SHUNT_OPT_CONGESTION;
		}
	} else if (level == IPPROTO_IP) {
		switch (optname) {
		case IP_TOS:
			return SHUNT_OPT_TOS;
		case IP_TTL:
			return SHUNT_OPT_TTL;
		}
	}
	return 0;
}

static const char *const opt_cc_names[SHUNT_CC_MAX] = SHUNT_CC_NAMES;

/* SHUNT_CC_* of a TCP_CONGESTION name as Linux reads it: at most
 * SHUNT_CC_NAME_MAX - 1 bytes of val, up to a NUL. val is readable: the
 * placeholder took it. */
static uint32_t opt_cc_find(const void *val, socklen_t len)
{
	char name[SHUNT_CC_NAME_MAX];
	uint32_t i;

	const char *v = val;
	socklen_t n;

	/* byte by byte up to the NUL, as strncpy_from_user() read it */
	for (n = 0; n < len && n < sizeof(name) - 1 && v[n] != '\0'; n++)
		name[n] = v[n];
	name[n] = '\0';
	for (i = 0; i < SHUNT_CC_MAX; i++)
		if (opt_cc_names[i] != NULL && strcmp(name, opt_cc_names[i]) == 0)
			return i;
	return SHUNT_CC_NONE;
}

/* setsockopt(TCP_CONGESTION) on the placeholder, which says EINVAL, EFAULT, EPERM
 * and ENOENT as Linux's do_tcp_setsockopt() does; a name the kernel has but shunt
 * does not (bbr, vegas...) is put back and fails as a module Linux cannot load
 * does: ENOENT. */
static int opt_set_cc(int fd, const void *val, socklen_t len)
{
	char old[SHUNT_CC_NAME_MAX] = "";
	socklen_t olen = sizeof(old) - 1;

	(void)real_getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, old, &olen);
	if (real_setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, val, len) < 0)
		return -errno;
	if (opt_cc_find(val, len) != SHUNT_CC_NONE)
		return 0;
	(void)real_setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, old, (socklen_t)strlen(old));
	return -ENOENT;
}

int shim_opt_value(int fd, const struct shim_sock *s, int opt, uint64_t *value)
{
	static const int level[SHUNT_OPT_MAX] = {
		[SHUNT_OPT_NODELAY] = IPPROTO_TCP, [SHUNT_OPT_SYNCNT] = IPPROTO_TCP,
		[SHUNT_OPT_USER_TIMEOUT] = IPPROTO_TCP, [SHUNT_OPT_RCVBUF] = SOL_SOCKET,
		[SHUNT_OPT_SNDBUF] = SOL_SOCKET, [SHUNT_OPT_LINGER0] = SOL_SOCKET,
		[SHUNT_OPT_REUSEADDR] = SOL_SOCKET, [SHUNT_OPT_KEEPALIVE] = SOL_SOCKET,
		[SHUNT_OPT_KEEPIDLE] = IPPROTO_TCP, [SHUNT_OPT_KEEPINTVL] = IPPROTO_TCP,
		[SHUNT_OPT_KEEPCNT] = IPPROTO_TCP, [SHUNT_OPT_CORK] = IPPROTO_TCP,
		[SHUNT_OPT_REUSEPORT] = SOL_SOCKET, [SHUNT_OPT_TOS] = IPPROTO_IP,
		[SHUNT_OPT_TTL] = IPPROTO_IP,
	};
	static const int name[SHUNT_OPT_MAX] = {
		[SHUNT_OPT_NODELAY] = TCP_NODELAY, [SHUNT_OPT_SYNCNT] = TCP_SYNCNT,
		[SHUNT_OPT_USER_TIMEOUT] = TCP_USER_TIMEOUT, [SHUNT_OPT_RCVBUF] = SO_RCVBUF,
		[SHUNT_OPT_SNDBUF] = SO_SNDBUF, [SHUNT_OPT_LINGER0] = SO_LINGER,
		[SHUNT_OPT_REUSEADDR] = SO_REUSEADDR, [SHUNT_OPT_KEEPALIVE] = SO_KEEPALIVE,
		[SHUNT_OPT_KEEPIDLE] = TCP_KEEPIDLE, [SHUNT_OPT_KEEPINTVL] = TCP_KEEPINTVL,
		[SHUNT_OPT_KEEPCNT] = TCP_KEEPCNT, [SHUNT_OPT_CORK] = TCP_CORK,
		[SHUNT_OPT_REUSEPORT] = SO_REUSEPORT, [SHUNT_OPT_TOS] = IP_TOS,
		[SHUNT_OPT_TTL] = IP_TTL,
	};
	struct linger lg;
	socklen_t len;
	int v;

	if (opt <= 0 || opt >= SHUNT_OPT_MAX)
		return -EINVAL;
	if (opt == SHUNT_OPT_CONGESTION) {
		char cc[SHUNT_CC_NAME_MAX];

		len = sizeof(cc);
		if (real_getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, &len) < 0)
			return -errno;
		*value = opt_cc_find(cc, len);
		return *value != SHUNT_CC_NONE ? 0 : -ENOENT;
	}
	if (opt == SHUNT_OPT_MAXSEG) {
		*value = s->user_mss;
		return 0;
	}
	if (opt == SHUNT_OPT_LINGER0) {
		len = sizeof(lg);
		if (real_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) < 0)
			return -errno;
		*value = lg.l_onoff && lg.l_linger == 0;
		return 0;
	}
	len = sizeof(v);
	if (real_getsockopt(fd, level[opt], name[opt], &v, &len) < 0)
		return -errno;
	*value = opt == SHUNT_OPT_NODELAY || opt == SHUNT_OPT_REUSEADDR ||
		 opt == SHUNT_OPT_KEEPALIVE || opt == SHUNT_OPT_CORK ||
		 opt == SHUNT_OPT_REUSEPORT ? v != 0 : (uint64_t)v;
	return 0;
}

/* Copy an int-sized answer out as Linux's sock_getsockopt() does. */
static int opt_put(void *val, socklen_t *len, const void *src, socklen_t size)
{
	socklen_t l = *len;

	if ((int)l < 0)
		return -EINVAL;
	if (l > size)
		l = size;
	memcpy(val, src, l);
	*len = l;
	return 0;
}

/* Linux TCP_* state numbers (include/net/tcp_states.h) for tcpi_state. */
static uint8_t opt_linux_state(uint32_t st)
{
	static const uint8_t map[] = {
		[SHUNT_SS_FREE] = 7, [SHUNT_SS_CLOSED] = 7, [SHUNT_SS_LISTEN] = 10,
		[SHUNT_SS_SYN_SENT] = 2, [SHUNT_SS_SYN_RECEIVED] = 3,
		[SHUNT_SS_ESTABLISHED] = 1, [SHUNT_SS_FIN_WAIT_1] = 4,
		[SHUNT_SS_FIN_WAIT_2] = 5, [SHUNT_SS_CLOSE_WAIT] = 8, [SHUNT_SS_CLOSING] = 11,
		[SHUNT_SS_LAST_ACK] = 9, [SHUNT_SS_TIME_WAIT] = 6,
	};

	return st < sizeof(map) ? map[st] : 7;
}

static int opt_get(int fd, struct shim_sock *s, int level, int name, void *val, socklen_t *len)
{
	struct shunt_sock *ss = s->ss;
	int v;

	if (level == SOL_SOCKET && name == SO_ERROR) {
		v = shim_sock_take_error(s);
		return opt_put(val, len, &v, sizeof(v));
	}
	if (level == SOL_SOCKET && name == SO_ACCEPTCONN) {
		/* the dataplane listens, not the placeholder */
		v = atomic_load_explicit(&s->listening, memory_order_relaxed);
		return opt_put(val, len, &v, sizeof(v));
	}
	/* do_tcp_getsockopt(): the connection's MSS, but TCP_MAXSEG as set on a socket
	 * that is CLOSED or LISTENing, which the placeholder answers (536, Linux's
	 * mss_cache before a connection, when none was set) */
	if (level == IPPROTO_TCP && name == TCP_MAXSEG && SHUNT_LOAD_ACQ(&ss->mss) != 0 &&
	    ss->state != SHUNT_SS_CLOSED && ss->state != SHUNT_SS_LISTEN) {
		v = (int)ss->mss;
		return opt_put(val, len, &v, sizeof(v));
	}
	/* do_tcp_getsockopt(): the name, in a TCP_CA_NAME_MAX buffer, cut to optlen;
	 * the dataplane's (its default may not be the kernel's); an older one says
	 * nothing and the placeholder answers */
	if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		char buf[SHUNT_CC_NAME_MAX] = { 0 };
		uint32_t cc;

		(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
		cc = ss->cc;

		if (cc < SHUNT_CC_MAX && opt_cc_names[cc] != NULL) {
			memcpy(buf, opt_cc_names[cc], strlen(opt_cc_names[cc]));
			return opt_put(val, len, buf, sizeof(buf));
		}
	}
	if (level == IPPROTO_TCP && name == TCP_INFO) {
		struct tcp_info ti;
		uint32_t mss;

		memset(&ti, 0, sizeof(ti));
		(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
		mss = ss->mss;
		ti.tcpi_state = opt_linux_state(ss->state);
		ti.tcpi_rto = ss->rto_us;
		ti.tcpi_snd_mss = mss;
		ti.tcpi_rcv_mss = mss;
		ti.tcpi_rtt = ss->srtt_us;
		ti.tcpi_rttvar = ss->rttvar_us;
		ti.tcpi_snd_cwnd = mss != 0 ? ss->snd_cwnd / mss : 0;
		ti.tcpi_total_retrans = ss->retrans;
		if ((int)*len < 0)
			return -EINVAL;
		return opt_put(val, len, &ti, sizeof(ti));
	}
	return real_getsockopt(fd, level, name, val, len) < 0 ? -errno : 0;
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct shim_sock *s;

	int rc;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_getsockopt(fd, level, name, val, len);
	rc = opt_get(fd, s, level, name, val, len);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

/* What an accepted socket inherits of its listener: Linux's sk_clone_lock() copies
 * the whole socket, so every option set on the listener reads back the same on
 * the child. The dataplane copies those it acts on into the child's tcb
 * (tcp_in.c); these are copied from the listener's placeholder to the child's,
 * those the listener had set only, so an accept costs no syscall for them
 * otherwise. */
static const struct {
	int level, name;
} opt_inherited[] = {
	{ SOL_SOCKET, SO_KEEPALIVE },	   { SOL_SOCKET, SO_RCVBUF },
	{ SOL_SOCKET, SO_REUSEADDR },	   { IPPROTO_IPV6, IPV6_TCLASS },
	{ SOL_SOCKET, SO_SNDBUF },	   { SOL_SOCKET, SO_LINGER },
	{ SOL_SOCKET, SO_RCVTIMEO_OLD },   { SOL_SOCKET, SO_SNDTIMEO_OLD },
	{ SOL_SOCKET, SO_PRIORITY },	   { SOL_SOCKET, SO_OOBINLINE },
	{ IPPROTO_TCP, TCP_NODELAY },	   { IPPROTO_TCP, TCP_CORK },
	{ IPPROTO_TCP, TCP_KEEPIDLE },	   { IPPROTO_TCP, TCP_KEEPINTVL },
	{ IPPROTO_TCP, TCP_KEEPCNT },	   { IPPROTO_TCP, TCP_USER_TIMEOUT },
	{ IPPROTO_TCP, TCP_MAXSEG },	   { IPPROTO_IP, IP_TOS },
	{ IPPROTO_IP, IP_TTL },
};

static void opt_note_inherited(struct shim_sock *s, int level, int name)
{
	unsigned i;

	if (level == SOL_SOCKET && name == SO_RCVTIMEO_NEW)
		name = SO_RCVTIMEO_OLD; /* one value in the kernel, read back either way */
	if (level == SOL_SOCKET && name == SO_SNDTIMEO_NEW)
		name = SO_SNDTIMEO_OLD;
	for (i = 0; i < sizeof(opt_inherited) / sizeof(opt_inherited[0]); i++)
		if (opt_inherited[i].level == level && opt_inherited[i].name == name)
			atomic_fetch_or(&s->inherit, 1u << i);
}

/* IP_PKTINFO and IP_RECVORIGDSTADDR: what recvmsg() on a datagram reports (cmsg.c).
 * Called after the placeholder took the value, so it is a valid one. */
static void opt_note_cmsg(struct shim_sock *s, int level, int name, const void *val,
			  socklen_t len)
{
	unsigned bit = level != SOL_IP		    ? 0 :
		       name == IP_PKTINFO	    ? SHIM_CMSG_PKTINFO :
		       name == IP_RECVORIGDSTADDR ? SHIM_CMSG_ORIGDSTADDR :
						    0;
	int on = 0;

	if (bit == 0)
		return;
	if (len >= sizeof(int))
		memcpy(&on, val, sizeof(on));
	else if (len > 0)
		on = *(const unsigned char *)val; /* ip_setsockopt() takes a char too */
	if (on)
		atomic_fetch_or(&s->cmsg_want, bit);
	else
		atomic_fetch_and(&s->cmsg_want, ~bit);
}

void shim_opt_inherit(int lfd, struct shim_sock *l, int fd, struct shim_sock *s)
{
	uint32_t bits = atomic_load(&l->inherit);
	unsigned char v[64];
	socklen_t len;
	unsigned i;

	for (; bits != 0; bits &= bits - 1) {
		i = (unsigned)__builtin_ctz(bits);
		len = sizeof(v);
		if (real_getsockopt(lfd, opt_inherited[i].level, opt_inherited[i].name, v,
				    &len) < 0)
			continue;
		if (opt_inherited[i].level == SOL_SOCKET &&
		    (opt_inherited[i].name == SO_RCVBUF || opt_inherited[i].name == SO_SNDBUF)) {
			int b;

			memcpy(&b, v, sizeof(b));
			b /= 2; /* reads back doubled, as it was set */
			memcpy(v, &b, sizeof(b));
		}
		(void)real_setsockopt(fd, opt_inherited[i].level, opt_inherited[i].name, v, len);
	}
	atomic_store(&s->inherit, atomic_load(&l->inherit));
	atomic_store(&s->linger_s, atomic_load(&l->linger_s));
	if (atomic_load(&l->sndbuf) < s->tx_size)
		atomic_store(&s->sndbuf, atomic_load(&l->sndbuf));
}

/* Options shunt does not apply are still set on the placeholder, so setsockopt and
 * getsockopt answer as Linux; what they would change, shunt does not do. Rather
 * than lie in silence, say so once per option with SHUNT_LOG (as Onload does). The
 * socket timeouts are applied by the shim itself. */
static bool opt_applied(int level, int name)
{
	if (shim_opt_map(level, name) != 0)
		return true;
	if (level == SOL_IP && (name == IP_PKTINFO || name == IP_RECVORIGDSTADDR))
		return true; /* cmsg.c */
	return level == SOL_SOCKET && (name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD ||
				       name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW);
}

#define OPT_SEEN_MAX 32
static pthread_mutex_t opt_seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int opt_seen[OPT_SEEN_MAX][2];
static unsigned opt_nseen;

static void opt_say_unapplied(int fd, int level, int name)
{
	unsigned i;
	bool said = false;

	if (shim_log_level < SHIM_LOG_WARN)
		return;
	pthread_mutex_lock(&opt_seen_lock);
	for (i = 0; i < opt_nseen; i++)
		said |= opt_seen[i][0] == level && opt_seen[i][1] == name;
	if (!said && opt_nseen < OPT_SEEN_MAX) {
		opt_seen[opt_nseen][0] = level;
		opt_seen[opt_nseen][1] = name;
		opt_nseen++;
	}
	pthread_mutex_unlock(&opt_seen_lock);
	if (!said)
		SHIM_WARN("fd %d: socket option level %d name %d is kept but not applied by "
			  "shunt", fd, level, name);
}

void shim_opt_decided_shunt(int fd, struct shim_sock *s)
{
	unsigned i;

	for (i = 0; i < s->n_unapplied; i++)
		opt_say_unapplied(fd, s->unapplied[i][0], s->unapplied[i][1]);
	s->n_unapplied = 0;
}

static int opt_set(int fd, struct shim_sock *s, int level, int name, const void *val,
		   socklen_t len)
{
	int opt, rc;
	uint64_t v;

	if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		if ((rc = opt_set_cc(fd, val, len)) < 0)
			return rc;
	} else if (real_setsockopt(fd, level, name, val, len) < 0) {
		return -errno;
	}
	opt_note_inherited(s, level, name);
	opt_note_cmsg(s, level, name, val, len);
	if (level == IPPROTO_TCP && name == TCP_MAXSEG && len >= sizeof(int)) {
		int mss;

		memcpy(&mss, val, sizeof(mss)); /* the placeholder took it: 0..32767 */
		pthread_mutex_lock(&s->lock);
		s->user_mss = (uint16_t)mss;
		pthread_mutex_unlock(&s->lock);
	}
	if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger lg;
		socklen_t l = sizeof(lg);

		/* as the placeholder normalised it: close() lingers on it (sock.c) */
		if (real_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l) == 0)
			atomic_store(&s->linger_s, lg.l_onoff ? lg.l_linger : -1);
	}
	opt = shim_opt_map(level, name);
	if (!opt_applied(level, name)) {
		pthread_mutex_lock(&s->lock);
		if (atomic_load(&s->kind) == SHIM_SHUNT) {
			opt_say_unapplied(fd, level, name);
		} else if (atomic_load(&s->kind) == SHIM_UNDECIDED &&
			   s->n_unapplied < SHIM_UNAPPLIED_MAX) {
			/* said only if the socket turns out to be shunt's */
			s->unapplied[s->n_unapplied][0] = (int16_t)level;
			s->unapplied[s->n_unapplied][1] = (int16_t)name;
			s->n_unapplied++;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (opt == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	rc = 0;
	if (atomic_load(&s->kind) == SHIM_UNDECIDED) {
		s->optmask |= SHIM_OPTBIT(opt); /* replayed at connect() */
	} else if (atomic_load(&s->kind) == SHIM_SHUNT && shim_opt_value(fd, s, opt, &v) == 0) {
		if (opt == SHUNT_OPT_SNDBUF)
			atomic_store(&s->sndbuf, v < s->tx_size ? (uint32_t)v : s->tx_size);
		rc = shim_chan_sync(s, SHUNT_CMD_SETOPT, (uint32_t)opt, NULL, v);
		if (rc == -EOPNOTSUPP || rc == -ENOPROTOOPT)
			rc = 0; /* the placeholder holds it; the dataplane ignores it */
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

SHIM_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct shim_sock *s;

	int rc;

	if (!shim_init() || (s = shim_sock_hold_kind(fd, false)) == NULL)
		return real_setsockopt(fd, level, name, val, len);
	rc = opt_set(fd, s, level, name, val, len);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

/* ---- names ------------------------------------------------------------------------------ */

static int opt_name(struct shim_sock *s, bool peer, struct sockaddr *addr, socklen_t *alen)
{
	struct shunt_sock *ss = s->ss;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	uint32_t st;

	if ((int)*alen < 0)
		return -EINVAL;
	(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
	st = ss->state;
	if (s->type == SOCK_DGRAM) {
		bool conn = (ss->flags & SHUNT_SF_CONNECTED) != 0;

		/* inet_getname(): no peer without a destination port, even when
		 * connect() to port 0 associated the socket */
		if (peer && (!conn || ss->remote.port == 0))
			return -ENOTCONN;
		sin.sin_addr.s_addr = peer ? ss->remote.addr : ss->local.addr;
		sin.sin_port = peer ? ss->remote.port : ss->local.port;
		/* Linux: the source address chosen by connect() is forgotten when the
		 * association goes, unless bind() set it (SOCK_BINDADDR_LOCK). */
		if (!peer && !conn)
			sin.sin_addr.s_addr = s->bound ? s->bind_addr.sin_addr.s_addr : 0;
		goto out;
	}
	if (peer) {
		/* inet_getname(): no peer while SYN_SENT or CLOSED */
		if (ss->remote.port == 0 || st == SHUNT_SS_CLOSED || st == SHUNT_SS_SYN_SENT)
			return -ENOTCONN;
		sin.sin_addr.s_addr = ss->remote.addr;
		sin.sin_port = ss->remote.port;
	} else {
		sin.sin_addr.s_addr = ss->local.addr;
		sin.sin_port = ss->local.port;
		if (sin.sin_port == 0 && st == SHUNT_SS_CLOSED)
			sin.sin_port = s->ghost_port; /* tcp_disconnect() leaves inet_sport */
	}
out:
	return shim_addr_out(s->family, &sin, addr, alen);
}

SHIM_EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *alen)
{
	struct shim_sock *s;

	int rc;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_getsockname(fd, addr, alen);
	rc = opt_name(s, false, addr, alen);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

SHIM_EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *alen)
{
	struct shim_sock *s;

	int rc;

	if (!shim_init() || (s = shim_shunt_hold(fd)) == NULL)
		return real_getpeername(fd, addr, alen);
	rc = opt_name(s, true, addr, alen);
	shim_sock_put(s);
	return (int)shim_ret(rc);
}

/* ---- fcntl / ioctl --------------------------------------------------------------------- */

static int opt_fcntl(int (*fn)(int, int, ...), int fd, int cmd, long arg)
{
	struct shim_file *f;
	int rc;

	if (!shim_init() || (f = shim_fdtab_get(fd)) == NULL)
		return fn(fd, cmd, arg);
	if (f == &shim_fdtab_internal)
		return (int)shim_ret(-EBADF);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) {
		shim_share_rdlock(); /* the table and the kernel's fds together (share.c) */
		rc = fn(fd, cmd, arg);
		if (rc >= 0)
			shim_fd_dup_track(fd, rc);
		shim_share_rdunlock();
		return rc;
	}
	rc = fn(fd, cmd, arg);
	if (rc < 0)
		return rc;
	switch (cmd) {
	case F_SETFL:
		if (f->type == SHIM_F_SOCK) {
			struct shim_sock *s = shim_sock_hold(fd);

			if (s != NULL) {
				atomic_store(&s->nonblock, (arg & O_NONBLOCK) != 0);
				shim_sock_put(s);
			}
		}
		break;
	}
	return rc;
}

/* With _FILE_OFFSET_BITS=64 glibc's header renames fcntl to fcntl64; both libc
 * symbols exist, so both are defined here under their exact names. */
SHIM_EXPORT int shim_fcntl(int fd, int cmd, ...) __asm__("fcntl");
SHIM_EXPORT int shim_fcntl64(int fd, int cmd, ...) __asm__("fcntl64");

SHIM_EXPORT int shim_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long); /* as glibc: every argument fits a long */
	va_end(ap);
	return opt_fcntl(real_fcntl, fd, cmd, arg);
}

SHIM_EXPORT int shim_fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return opt_fcntl(real_fcntl64, fd, cmd, arg);
}

SHIM_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct shim_sock *s;
	va_list ap;
	void *arg;
	int rc, v;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!shim_init() || (s = shim_sock_hold_kind(fd, false)) == NULL)
		return real_ioctl(fd, req, arg);
	if (atomic_load_explicit(&s->kind, memory_order_acquire) == SHIM_SHUNT &&
	    (req == FIONREAD || req == SIOCOUTQ)) {
		if (req == FIONREAD && s->type == SOCK_DGRAM)
			v = shim_dgram_next_len(s); /* udp_ioctl(): the next datagram */
		else if (req == FIONREAD)
			v = (int)(SHUNT_LOAD_ACQ(&s->ss->rx_prod) - SHUNT_LOAD_RLX(&s->ss->rx_cons));
		else
			v = (int)(SHUNT_LOAD_RLX(&s->ss->tx_prod) - SHUNT_LOAD_ACQ(&s->ss->tx_cons));
		shim_sock_put(s);
		memcpy(arg, &v, sizeof(v));
		return 0;
	}
	rc = real_ioctl(fd, req, arg);
	if (rc == 0 && req == FIONBIO) {
		memcpy(&v, arg, sizeof(v));
		atomic_store(&s->nonblock, v != 0);
	}
	shim_sock_put(s);
	return rc;
}
