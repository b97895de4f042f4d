/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * obs: what conncheck (client cases) and servcheck (server cases) share: key=value
 * arguments, and the ONE JSON object each prints of what it observed. diffbed.py
 * runs a case through the kernel and through shunt and compares the two objects.
 *
 * The object maps "NN op" (NN = step number, so keys stay ordered and unique) to
 * {"rc": N, "errno": "ENAME" | null, "ms": N, ...}: rc and errno of the call, its
 * duration in ms, and what it returned (addresses as {"addr", "port"}, poll
 * revents as a list of names, SO_ERROR as an errno name, received bytes as text).
 * The last key is "end": the case ran to its end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
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

#include "obs.h"

#define KV_MAX 32

static struct {
	const char *k[KV_MAX];
	const char *v[KV_MAX];
	int n;
} kv;

int step_no;
static bool first_key = true;
static int64_t step_t0;

/* ---- arguments ---------------------------------------------------------------------- */

const char *opt_str(const char *key, const char *def)
{
	int i;

	for (i = 0; i < kv.n; i++)
		if (strcmp(kv.k[i], key) == 0)
			return kv.v[i];
	return def;
}

long opt_int(const char *key, long def)
{
	const char *v = opt_str(key, NULL);

	return v == NULL ? def : strtol(v, NULL, 0);
}

struct sockaddr_in addr_of(const char *ip, long port)
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

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *errno_name(int e)
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
void step(const char *op, long rc, int err)
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

void field(const char *fmt, ...)
{
	va_list ap;

	printf(", ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void end(void)
{
	printf("}");
	fflush(stdout);
}

/* Start timing the next call. */
void t0(void)
{
	step_t0 = now_ms();
}

void fin(void)
{
	printf("%s\"end\": true}\n", first_key ? "{" : ", ");
	fflush(stdout);
}

/* ---- observed calls ------------------------------------------------------------------ */

void put_sin(const char *name, const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];

	if (a->sin_family != AF_INET) {
		field("\"%s\": {\"family\": %d}", name, a->sin_family);
		return;
	}
	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	field("\"%s\": {\"addr\": \"%s\", \"port\": %u}", name, ip, ntohs(a->sin_port));
}

int do_name(int fd, bool peer)
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

void do_names(int fd)
{
	do_name(fd, false);
	do_name(fd, true);
}

int do_so_error(int fd)
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

void put_events(const char *name, unsigned ev, bool epoll)
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
void do_wait(const char *mode, int fd, short events, int ms)
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

void do_setint(const char *op, int fd, int level, int name, int v)
{
	int rc, e;

	t0();
	rc = setsockopt(fd, level, name, &v, sizeof(v));
	e = errno;
	step(op, rc, e);
	field("\"value\": %d", v);
	end();
}

int do_socket(int type)
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

int do_bind(int fd, const char *ip, long port)
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

void do_nonblock(int fd)
{
	int rc, e;

	t0();
	rc = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	e = errno;
	step("O_NONBLOCK", rc, e);
	end();
}

void do_recv_nowait(int fd)
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

void do_close(int fd)
{
	int rc, e;

	t0();
	rc = close(fd);
	e = errno;
	step("close", rc, e);
	end();
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int obs_args(int argc, char **argv, int first)
{
	int a;

	for (a = first; a < argc && kv.n < KV_MAX; a++) {
		char *eq = strchr(argv[a], '=');

		if (eq == NULL) {
			fprintf(stderr, "%s: not key=value: %s\n", argv[0], argv[a]);
			return -1;
		}
		*eq = '\0';
		kv.k[kv.n] = argv[a];
		kv.v[kv.n++] = eq + 1;
	}
	return 0;
}

static void on_watchdog(int sig)
{
	static const char msg[] = ", \"watchdog\": true}\n";

	(void)sig;
	(void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(4);
}

void obs_watchdog(unsigned secs)
{
	signal(SIGALRM, on_watchdog);
	alarm(secs);
}

int obs_run(const struct obs_case *cases, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(cases[i].name, name) == 0) {
			cases[i].fn();
			fin();
			return 0;
		}
	}
	fprintf(stderr, "unknown case %s\n", name);
	return 2;
}

volatile sig_atomic_t obs_alarms;

static void on_alarm(int sig)
{
	(void)sig;
	obs_alarms++;
}

void obs_alarm_in(long ms, bool restart)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}
