/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * conncheck: one connect()/UDP case, run with the plain socket API (so libshunt.so
 * interposes it when preloaded), printing ONE JSON object of what it observed.
 * diffbed.py runs each case once through the kernel and once through shunt and
 * compares the two objects.
 *
 *   conncheck CASE IP PORT [key=value ...]
 *
 * The object maps "NN op" (NN = step number, so keys stay ordered and unique) to
 * {"rc": N, "errno": "ENAME" | null, "ms": N, ...}: rc and errno of the call, its
 * duration in ms, and what it returned (addresses as {"addr", "port"}, poll
 * revents as a list of names, SO_ERROR as an errno name, received bytes as text).
 * The last key is "end": the case ran to its end. Every fd a case opens is closed
 * before it returns; a SIGALRM watchdog ends a case stuck for 30 s.
 *
 * Keys (default): syncnt (none) utimeo ms (none) sndtimeo ms (none) again (0)
 * echo (0: send/recv one line after a successful connect) alr (0) wait (poll |
 * select | epoll) wait_ms (3000) soerr (1) retry (1) restart (0) itimer_ms (300) nb_after (0)
 * bindaddr bindport reuse (0) port2 closed n (70) sleep_ms (300).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define KV_MAX 32

static struct {
	const char *k[KV_MAX];
	const char *v[KV_MAX];
	int n;
} kv;

static struct sockaddr_in dst;
static int step_no;
static bool first_key = true;
static int64_t step_t0;

/* ---- arguments ---------------------------------------------------------------------- */

static const char *opt_str(const char *key, const char *def)
{
	int i;

	for (i = 0; i < kv.n; i++)
		if (strcmp(kv.k[i], key) == 0)
			return kv.v[i];
	return def;
}

static long opt_int(const char *key, long def)
{
	const char *v = opt_str(key, NULL);

	return v == NULL ? def : strtol(v, NULL, 0);
}

static struct sockaddr_in addr_of(const char *ip, long port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "conncheck: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

/* ---- output ------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *errno_name(int e)
{
	static char buf[16];

	switch (e) {
#define E(x) case x: return #x
	E(EPERM); E(ENOENT); E(EINTR); E(EBADF); E(EAGAIN); E(ENOMEM); E(EACCES);
	E(EFAULT); E(EBUSY); E(EINVAL); E(EMFILE); E(EPIPE); E(ENOTSOCK);
	E(EDESTADDRREQ); E(EMSGSIZE); E(EPROTOTYPE); E(ENOPROTOOPT);
	E(EPROTONOSUPPORT); E(EOPNOTSUPP); E(EAFNOSUPPORT); E(EADDRINUSE);
	E(EADDRNOTAVAIL); E(ENETDOWN); E(ENETUNREACH); E(ENETRESET); E(ECONNABORTED);
	E(ECONNRESET); E(ENOBUFS); E(EISCONN); E(ENOTCONN); E(ETIMEDOUT);
	E(ECONNREFUSED); E(EHOSTDOWN); E(EHOSTUNREACH); E(EALREADY); E(EINPROGRESS);
	E(EPROTO); E(ENOSYS);
#undef E
	}
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Open step `op`: the caller then adds fields with field() and closes with end(). */
static void step(const char *op, long rc, int err)
{
	int64_t ms = now_ms() - step_t0;

	printf("%s\"%02d %s\": {\"rc\": %ld, \"errno\": ", first_key ? "{" : ", ",
	       ++step_no, op, rc);
	first_key = false;
	if (rc < 0)
		printf("\"%s\"", errno_name(err));
	else
		printf("null");
	printf(", \"ms\": %lld", (long long)ms);
}

static void field(const char *fmt, ...)
{
	va_list ap;

	printf(", ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void end(void)
{
	printf("}");
	fflush(stdout);
}

/* Start timing the next call. */
static void t0(void)
{
	step_t0 = now_ms();
}

static void fin(void)
{
	printf("%s\"end\": true}\n", first_key ? "{" : ", ");
	fflush(stdout);
}

/* ---- observed calls ------------------------------------------------------------------ */

static void put_sin(const char *name, const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];

	if (a->sin_family != AF_INET) {
		field("\"%s\": {\"family\": %d}", name, a->sin_family);
		return;
	}
	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	field("\"%s\": {\"addr\": \"%s\", \"port\": %u}", name, ip, ntohs(a->sin_port));
}

static int do_connect_len(const char *op, int fd, const void *a, socklen_t len)
{
	int rc, e;

	t0();
	rc = connect(fd, a, len);
	e = errno;
	step(op, rc, e);
	end();
	errno = e;
	return rc;
}

static int do_connect(const char *op, int fd, const struct sockaddr_in *a)
{
	return do_connect_len(op, fd, a, sizeof(*a));
}

static int do_name(int fd, bool peer)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int rc, e;

	memset(&a, 0, sizeof(a));
	t0();
	rc = peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
		    getsockname(fd, (struct sockaddr *)&a, &len);
	e = errno;
	step(peer ? "getpeername" : "getsockname", rc, e);
	if (rc == 0) {
		put_sin("name", &a);
		field("\"len\": %u", len);
	}
	end();
	return a.sin_port;
}

static void do_names(int fd)
{
	do_name(fd, false);
	do_name(fd, true);
}

static int do_so_error(int fd)
{
	int v = -1, rc, e;
	socklen_t len = sizeof(v);

	t0();
	rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len);
	e = errno;
	step("SO_ERROR", rc, e);
	if (rc == 0)
		field("\"value\": \"%s\"", v == 0 ? "0" : errno_name(v));
	end();
	return v;
}

static void put_events(const char *name, unsigned ev, bool epoll)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ POLLIN, "IN" }, { POLLPRI, "PRI" }, { POLLOUT, "OUT" }, { POLLERR, "ERR" },
		{ POLLHUP, "HUP" }, { POLLNVAL, "NVAL" }, { POLLRDNORM, "RDNORM" },
		{ POLLRDBAND, "RDBAND" }, { POLLWRNORM, "WRNORM" }, { POLLWRBAND, "WRBAND" },
		{ POLLRDHUP, "RDHUP" },
	};
	bool first = true;
	size_t i;

	printf(", \"%s\": [", name);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(ev & names[i].bit))
			continue;
		printf("%s\"%s%s\"", first ? "" : ", ", epoll ? "EPOLL" : "POLL", names[i].name);
		first = false;
		ev &= ~names[i].bit;
	}
	if (ev)
		printf("%s\"0x%x\"", first ? "" : ", ", ev);
	printf("]");
}

/* Wait for fd with poll, select or epoll; events is in poll bits. */
static void do_wait(const char *mode, int fd, short events, int ms)
{
	int rc, e;

	t0();
	if (strcmp(mode, "select") == 0) {
		fd_set r, w, x;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		FD_ZERO(&r);
		FD_ZERO(&w);
		FD_ZERO(&x);
		if (events & POLLIN)
			FD_SET(fd, &r);
		if (events & POLLOUT)
			FD_SET(fd, &w);
		FD_SET(fd, &x);
		rc = select(fd + 1, &r, &w, &x, &tv);
		e = errno;
		step("select", rc, e);
		field("\"r\": %d, \"w\": %d, \"x\": %d", FD_ISSET(fd, &r) ? 1 : 0,
		      FD_ISSET(fd, &w) ? 1 : 0, FD_ISSET(fd, &x) ? 1 : 0);
	} else if (strcmp(mode, "epoll") == 0) {
		struct epoll_event ev = { 0 }, out = { 0 };
		int ep = epoll_create1(EPOLL_CLOEXEC);

		ev.events = (uint32_t)(unsigned short)events;
		ev.data.fd = fd;
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			e = errno;
			step("epoll_ctl", -1, e);
			if (ep >= 0)
				close(ep);
			end();
			return;
		}
		rc = epoll_wait(ep, &out, 1, ms);
		e = errno;
		step("epoll_wait", rc, e);
		put_events("revents", rc > 0 ? out.events : 0, true);
		close(ep);
	} else {
		struct pollfd p = { fd, events, 0 };

		rc = poll(&p, 1, ms);
		e = errno;
		step("poll", rc, e);
		put_events("revents", (unsigned short)p.revents, false);
	}
	end();
}

static void do_setint(const char *op, int fd, int level, int name, int v)
{
	int rc, e;

	t0();
	rc = setsockopt(fd, level, name, &v, sizeof(v));
	e = errno;
	step(op, rc, e);
	field("\"value\": %d", v);
	end();
}

static void do_setopts(int fd)
{
	long v;

	if ((v = opt_int("reuse", 0)) != 0)
		do_setint("SO_REUSEADDR", fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if ((v = opt_int("syncnt", -1)) >= 0)
		do_setint("TCP_SYNCNT", fd, IPPROTO_TCP, TCP_SYNCNT, (int)v);
	if ((v = opt_int("utimeo", -1)) >= 0)
		do_setint("TCP_USER_TIMEOUT", fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)v);
	if ((v = opt_int("sndtimeo", -1)) >= 0) {
		struct timeval tv = { v / 1000, (v % 1000) * 1000 };
		int rc, e;

		t0();
		rc = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		e = errno;
		step("SO_SNDTIMEO", rc, e);
		field("\"value\": %ld", v);
		end();
	}
}

static int do_socket(int type)
{
	int fd, e;

	t0();
	fd = socket(AF_INET, type, 0);
	e = errno;
	step("socket", fd < 0 ? -1 : 0, e);
	end();
	if (fd < 0)
		exit(3);
	return fd;
}

static int do_bind(int fd, const char *ip, long port)
{
	struct sockaddr_in a = addr_of(ip, port);
	int rc, e;

	t0();
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	e = errno;
	step("bind", rc, e);
	put_sin("to", &a);
	end();
	return rc;
}

static void do_nonblock(int fd)
{
	int rc, e;

	t0();
	rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	e = errno;
	step("O_NONBLOCK", rc, e);
	end();
}

/* Send a line and read it back from the echo server (TCP or UDP). */
static void do_echo(int fd, const char *msg)
{
	char buf[256];
	ssize_t n;
	int e;
	struct pollfd p = { fd, POLLIN, 0 };

	t0();
	n = send(fd, msg, strlen(msg), MSG_NOSIGNAL);
	e = errno;
	step("send", (long)n, e);
	end();
	if (n < 0)
		return;
	(void)poll(&p, 1, 3000);
	t0();
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	e = errno;
	step("recv", (long)n, e);
	if (n >= 0) {
		buf[n] = '\0';
		field("\"data\": \"%s\"", buf); /* our own printable messages only */
	}
	end();
}

static void do_recv_nowait(int fd)
{
	char buf[256];
	ssize_t n;
	int e;

	t0();
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	e = errno;
	step("recv_nowait", (long)n, e);
	if (n >= 0) {
		buf[n] = '\0';
		field("\"data\": \"%s\"", buf);
	}
	end();
}

static void do_close(int fd)
{
	int rc, e;

	t0();
	rc = close(fd);
	e = errno;
	step("close", rc, e);
	end();
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- TCP cases ---------------------------------------------------------------------- */

/* Blocking connect with options; then names, SO_ERROR, poll, optionally more. */
static void case_blocking(void)
{
	int fd = do_socket(SOCK_STREAM);
	const char *ba = opt_str("bindaddr", NULL);
	int rc;

	do_setopts(fd);
	if (ba != NULL) {
		do_bind(fd, ba, opt_int("bindport", 0));
		do_name(fd, false);
	}
	rc = do_connect("connect", fd, &dst);
	do_names(fd);
	do_so_error(fd);
	do_so_error(fd);
	do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
	if (rc == 0 && opt_int("echo", 0))
		do_echo(fd, "hello");
	if (opt_int("again", 0)) {
		do_connect("connect_again", fd, &dst);
		if (opt_int("port2", 0)) {
			struct sockaddr_in b = dst;

			b.sin_port = htons((uint16_t)opt_int("port2", 0));
			do_connect("connect_other", fd, &b);
		}
		do_names(fd);
	}
	do_close(fd);
}

/* Non-blocking protocol: EINPROGRESS, EALREADY, readiness, SO_ERROR, re-connects. */
static void case_nonblock(void)
{
	int fd = do_socket(SOCK_STREAM | SOCK_NONBLOCK);
	const char *mode = opt_str("wait", "poll");
	int ms = (int)opt_int("wait_ms", 3000);

	do_setopts(fd);
	do_connect("connect", fd, &dst);
	if (opt_int("alr", 0))
		do_connect("connect_pending", fd, &dst);
	do_wait(mode, fd, POLLOUT, ms);
	if (opt_int("soerr", 1)) {
		do_so_error(fd);
		do_so_error(fd);
	}
	do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
	do_connect("connect_2", fd, &dst);
	do_so_error(fd);
	if (opt_int("retry", 1)) {
		do_connect("connect_3", fd, &dst);
		do_wait(mode, fd, POLLOUT, ms);
		do_so_error(fd);
	}
	do_names(fd);
	do_close(fd);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A blocking connect interrupted by SIGALRM (with or without SA_RESTART). */
static void case_signal(void)
{
	struct sigaction sa;
	struct itimerval it;
	long ms = opt_int("itimer_ms", 300);
	int fd = do_socket(SOCK_STREAM);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = opt_int("restart", 0) ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	do_setopts(fd);
	setitimer(ITIMER_REAL, &it, NULL);
	do_connect("connect", fd, &dst);
	printf(", \"%02d handler_ran\": %d", ++step_no, (int)alarms);
	if (opt_int("nb_after", 0)) {
		do_nonblock(fd);
		do_connect("connect_nb", fd, &dst);
		do_wait("poll", fd, POLLOUT, (int)opt_int("wait_ms", 5000));
	}
	do_connect("connect_2", fd, &dst);
	do_so_error(fd);
	do_names(fd);
	do_close(fd);
}

/* Argument errors: on a fresh socket, on a connected one, on one whose connect failed. */
static void bad_args(int fd)
{
	struct sockaddr_in a = dst;
	struct sockaddr_in6 a6;

	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	a.sin_family = AF_INET6;
	do_connect_len("connect_af_inet6_len16", fd, &a, sizeof(a));
	do_connect_len("connect_sockaddr_in6", fd, &a6, sizeof(a6));
	do_connect_len("connect_len8", fd, &dst, 8);
	do_connect_len("connect_len1", fd, &dst, 1);
	do_connect_len("connect_len0", fd, &dst, 0);
	do_connect_len("connect_len200", fd, &dst, 200);
	do_connect_len("connect_efault", fd, (void *)8, sizeof(dst));
	do_connect_len("connect_null", fd, NULL, sizeof(dst));
}

static void case_args(void)
{
	struct sockaddr_in c = dst;
	int fd, p[2];

	fd = do_socket(SOCK_STREAM);
	bad_args(fd);
	do_names(fd);
	do_close(fd);
	do_connect("connect_ebadf", 1000, &dst);
	if (pipe(p) == 0) {
		do_connect("connect_enotsock", p[0], &dst);
		close(p[0]);
		close(p[1]);
	}
	fd = do_socket(SOCK_STREAM);
	do_connect("connect_ok", fd, &dst);
	bad_args(fd);
	do_close(fd);
	fd = do_socket(SOCK_STREAM);
	c.sin_port = htons((uint16_t)opt_int("closed", 0));
	do_connect("connect_refused", fd, &c);
	bad_args(fd);
	do_names(fd);
	do_close(fd);
}

/* bind() before connect, then names at every step. */
static void case_bind(void)
{
	int fd = do_socket(SOCK_STREAM);

	do_setopts(fd);
	do_name(fd, false);
	do_bind(fd, opt_str("bindaddr", "0.0.0.0"), opt_int("bindport", 0));
	do_names(fd);
	do_bind(fd, opt_str("bindaddr", "0.0.0.0"), opt_int("bindport", 0));
	if (do_connect("connect", fd, &dst) == 0)
		do_echo(fd, "bound");
	do_names(fd);
	do_close(fd);
}

/* EADDRINUSE: two sockets on one local port; a connect whose 4-tuple is taken. */
static void case_inuse(void)
{
	const char *ba = opt_str("bindaddr", "10.77.0.2");
	const char *ba2 = opt_str("bindaddr2", ba);
	long port = opt_int("bindport", 41300);
	struct sockaddr_in b = dst;
	int s1, s2;

	s1 = do_socket(SOCK_STREAM);
	do_setopts(s1);
	do_bind(s1, ba, port);
	do_connect("connect_1", s1, &dst);
	do_name(s1, false);
	s2 = do_socket(SOCK_STREAM);
	do_setopts(s2);
	if (do_bind(s2, ba2, port) == 0) {
		do_connect("connect_same_4tuple", s2, &dst);
		b.sin_port = htons((uint16_t)opt_int("port2", 0));
		do_connect("connect_other_dst", s2, &b);
		do_names(s2);
	}
	do_close(s2);
	do_close(s1);
}

/* Ephemeral ports exhausted for one destination, not for another. */
static void case_exhaust(void)
{
	long n = opt_int("n", 70), i, ok = 0;
	int *fds = calloc((size_t)n, sizeof(int));
	int fd, rc = 0, e = 0, last_port = 0;
	struct sockaddr_in b = dst;
	int64_t t;

	if (fds == NULL)
		exit(3);
	t = now_ms();
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0)
			break;
		rc = connect(fds[i], (struct sockaddr *)&dst, sizeof(dst));
		e = errno;
		if (rc < 0)
			break;
		ok++;
	}
	step_t0 = t;
	step("connects", rc, e);
	field("\"ok\": %ld", ok);
	end();
	if (i < n)
		do_names(fds[i]);
	fd = do_socket(SOCK_STREAM);
	b.sin_port = htons((uint16_t)opt_int("port2", 0));
	if (do_connect("connect_other_dst", fd, &b) == 0) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);

		if (getsockname(fd, (struct sockaddr *)&a, &len) == 0)
			last_port = ntohs(a.sin_port);
	}
	(void)last_port;
	do_names(fd);
	do_close(fd);
	for (i = 0; i < n && i <= ok; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

/* connect(AF_UNSPEC) on a connected TCP socket, then a new connect. */
static void case_unspec(void)
{
	struct sockaddr u;
	int fd = do_socket(SOCK_STREAM);

	memset(&u, 0, sizeof(u));
	u.sa_family = AF_UNSPEC;
	do_connect("connect", fd, &dst);
	do_names(fd);
	do_connect_len("connect_unspec", fd, &u, sizeof(u));
	do_names(fd);
	do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
	do_so_error(fd);
	do_connect("connect_again", fd, &dst);
	do_names(fd);
	do_echo(fd, "again");
	do_close(fd);
}

/* connect() on a listening socket. */
static void case_listen(void)
{
	int fd = do_socket(SOCK_STREAM);
	int rc, e;

	do_bind(fd, "0.0.0.0", 0);
	t0();
	rc = listen(fd, 4);
	e = errno;
	step("listen", rc, e);
	end();
	do_connect("connect", fd, &dst);
	do_close(fd);
}

/* ---- UDP cases ---------------------------------------------------------------------- */

static void do_sendto(int fd, const char *msg, const struct sockaddr_in *to)
{
	ssize_t n;
	int e;

	t0();
	n = sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)to,
		   to ? sizeof(*to) : 0);
	e = errno;
	step(to ? "sendto" : "sendto_null", (long)n, e);
	end();
}

static void do_recvfrom(int fd, int wait_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[256];
	ssize_t n;
	int e;

	if (wait_ms > 0)
		(void)poll(&p, 1, wait_ms);
	memset(&from, 0, sizeof(from));
	t0();
	n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &len);
	e = errno;
	step("recvfrom", (long)n, e);
	if (n >= 0) {
		buf[n] = '\0';
		field("\"data\": \"%s\"", buf);
		put_sin("from", &from);
	}
	end();
}

static void do_msg_pair(int fd, const char *msg)
{
	struct sockaddr_in from;
	struct iovec iov = { (void *)msg, strlen(msg) };
	struct msghdr m;
	struct pollfd p = { fd, POLLIN, 0 };
	char buf[256];
	ssize_t n;
	int e;

	memset(&m, 0, sizeof(m));
	m.msg_name = &dst;
	m.msg_namelen = sizeof(dst);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	t0();
	n = sendmsg(fd, &m, 0);
	e = errno;
	step("sendmsg", (long)n, e);
	end();
	(void)poll(&p, 1, 3000);
	memset(&m, 0, sizeof(m));
	memset(&from, 0, sizeof(from));
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf) - 1;
	m.msg_name = &from;
	m.msg_namelen = sizeof(from);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	t0();
	n = recvmsg(fd, &m, MSG_DONTWAIT);
	e = errno;
	step("recvmsg", (long)n, e);
	if (n >= 0) {
		buf[n] = '\0';
		field("\"data\": \"%s\", \"namelen\": %u, \"flags\": %d", buf, m.msg_namelen,
		      m.msg_flags);
		put_sin("from", &from);
	}
	end();
}

/* Unconnected: sendto/recvfrom/sendmsg/recvmsg, implicit bind, no default peer. */
static void case_udp_unconn(void)
{
	int fd = do_socket(SOCK_DGRAM);
	const char *ba = opt_str("bindaddr", NULL);

	do_names(fd);
	if (ba != NULL) {
		do_bind(fd, ba, opt_int("bindport", 0));
		do_names(fd);
	}
	do_sendto(fd, "dgram-1", &dst);
	do_name(fd, false);
	do_recvfrom(fd, 3000);
	do_msg_pair(fd, "dgram-2");
	do_sendto(fd, "nowhere", NULL);
	do_recv_nowait(fd);
	do_close(fd);
}

/* Connected: the stored peer, filtering, re-connect, AF_UNSPEC dissolve. */
static void case_udp_conn(void)
{
	struct sockaddr_in b = dst;
	struct sockaddr u;
	char req[64];
	int fd = do_socket(SOCK_DGRAM), helper, port;

	b.sin_port = htons((uint16_t)opt_int("port2", 0));
	memset(&u, 0, sizeof(u));
	u.sa_family = AF_UNSPEC;
	do_connect("connect", fd, &dst);
	port = ntohs((uint16_t)do_name(fd, false));
	do_name(fd, true);
	/* A datagram from another peer (port2, asked by a helper socket) must be dropped. */
	helper = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(req, sizeof(req), "fwd 10.77.0.2 %d", port);
	if (helper >= 0) {
		t0();
		step("helper_sendto", (long)sendto(helper, req, strlen(req), 0,
						   (struct sockaddr *)&b, sizeof(b)), errno);
		end();
		close(helper);
	}
	sleep_ms(opt_int("sleep_ms", 300));
	do_echo(fd, "ping");
	do_recv_nowait(fd);
	do_connect("connect_other", fd, &b);
	do_names(fd);
	do_echo(fd, "pong");
	do_connect_len("connect_unspec", fd, &u, sizeof(u));
	do_names(fd);
	do_sendto(fd, "nopeer", NULL);
	do_sendto(fd, "dgram-3", &dst);
	do_recvfrom(fd, 3000);
	do_close(fd);
}

/* connect() to port 0 associates a UDP socket but names no peer: getpeername()
 * is ENOTCONN in Linux (inet_getname: no inet_dport). */
static void case_udp_port0(void)
{
	struct sockaddr_in z = dst;
	int fd = do_socket(SOCK_DGRAM);

	z.sin_port = 0;
	do_connect("connect", fd, &z);
	do_names(fd);
	do_close(fd);
}

/* ICMP port unreachable: a connected socket's next send/recv says ECONNREFUSED; an
 * unconnected one hears nothing. */
static void case_udp_refused(void)
{
	int fd = do_socket(SOCK_DGRAM);
	long ms = opt_int("sleep_ms", 300);

	if (opt_int("connected", 1))
		do_connect("connect", fd, &dst);
	do_sendto(fd, "x", opt_int("connected", 1) ? NULL : &dst);
	sleep_ms(ms);
	do_wait("poll", fd, POLLIN | POLLOUT, 0);
	do_so_error(fd);
	do_sendto(fd, "y", opt_int("connected", 1) ? NULL : &dst);
	sleep_ms(ms);
	do_recv_nowait(fd);
	do_recv_nowait(fd);
	do_sendto(fd, "z", opt_int("connected", 1) ? NULL : &dst);
	sleep_ms(ms); /* z's ICMP error is in: the next send reports it */
	do_sendto(fd, "w", opt_int("connected", 1) ? NULL : &dst);
	do_so_error(fd);
	do_names(fd);
	do_close(fd);
}

/* ---- main --------------------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "blocking", case_blocking },	 { "nonblock", case_nonblock },
	{ "signal", case_signal },	 { "args", case_args },
	{ "bind", case_bind },		 { "inuse", case_inuse },
	{ "exhaust", case_exhaust },	 { "unspec", case_unspec },
	{ "listen", case_listen },	 { "udp_unconn", case_udp_unconn },
	{ "udp_conn", case_udp_conn },	 { "udp_port0", case_udp_port0 },	 { "udp_refused", case_udp_refused },
};

static void on_watchdog(int sig)
{
	static const char msg[] = ", \"watchdog\": true}\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(4);
}

int main(int argc, char **argv)
{
	size_t i;
	int a;

	if (argc < 4) {
		fprintf(stderr, "usage: conncheck CASE IP PORT [key=value ...]\n");
		return 2;
	}
	for (a = 4; a < argc && kv.n < KV_MAX; a++) {
		char *eq = strchr(argv[a], '=');

		if (eq == NULL) {
			fprintf(stderr, "conncheck: not key=value: %s\n", argv[a]);
			return 2;
		}
		*eq = '\0';
		kv.k[kv.n] = argv[a];
		kv.v[kv.n++] = eq + 1;
	}
	dst = addr_of(argv[2], strtol(argv[3], NULL, 0));
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "signal") != 0) {
		signal(SIGALRM, on_watchdog);
		alarm(30);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, argv[1]) == 0) {
			cases[i].fn();
			fin();
			return 0;
		}
	}
	fprintf(stderr, "conncheck: unknown case %s\n", argv[1]);
	return 2;
}
