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
 * The object is described in obs.c. Every fd a case opens is closed
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

#include "obs.h"

static struct sockaddr_in dst;

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

/* A blocking connect interrupted by SIGALRM (with or without SA_RESTART). */
static void case_signal(void)
{
	int fd = do_socket(SOCK_STREAM);

	do_setopts(fd);
	obs_alarm_in(opt_int("itimer_ms", 300), opt_int("restart", 0) != 0);
	do_connect("connect", fd, &dst);
	printf(", \"%02d handler_ran\": %d", ++step_no, (int)obs_alarms);
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

	if (fds == NULL)
		exit(3);
	t0(); /* the step below times the whole loop */
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

static const struct obs_case cases[] = {
	{ "blocking", case_blocking },	 { "nonblock", case_nonblock },
	{ "signal", case_signal },	 { "args", case_args },
	{ "bind", case_bind },		 { "inuse", case_inuse },
	{ "exhaust", case_exhaust },	 { "unspec", case_unspec },
	{ "listen", case_listen },	 { "udp_unconn", case_udp_unconn },
	{ "udp_conn", case_udp_conn },	 { "udp_port0", case_udp_port0 },	 { "udp_refused", case_udp_refused },
};

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: conncheck CASE IP PORT [key=value ...]\n");
		return 2;
	}
	if (obs_args(argc, argv, 4) < 0)
		return 2;
	dst = addr_of(argv[2], strtol(argv[3], NULL, 0));
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "signal") != 0)
		obs_watchdog(30);
	return obs_run(cases, sizeof(cases) / sizeof(cases[0]), argv[1]);
}
