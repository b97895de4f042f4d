/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * servcheck: one server-side case (bind/listen/accept and the calls servers make),
 * run with the plain socket API (so libshunt.so interposes it when preloaded),
 * printing ONE JSON object of what it observed (obs.c). test_server_diff.py runs
 * each case once through the kernel and once through shunt and compares them.
 *
 *   servcheck CASE IP PORT CTLPATH [key=value ...]
 *
 * The server listens on IP:PORT (key bind=any: 0.0.0.0:PORT). Its clients are
 * kernel sockets in the peer netns, driven through servpeer.py's control socket
 * CTLPATH; each request and its reply is a step ("peer OP"), so what the kernel
 * clients saw (RST, EOF, data, a connect still pending) is compared too. An
 * accepted peer address is printed as the number of the client it belongs to, so
 * ephemeral ports do not differ between the worlds.
 *
 * Keys (default): bind (stack | any) addr (full | short | zero | null) a4 (0)
 * fl (0: 1 = SOCK_NONBLOCK, 2 = SOCK_CLOEXEC) wait (poll | select | epoll)
 * restart (0) relisten (0) reuse (0) full (0) et (0) call (recv | send | epoll | poll
 * | select).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "obs.h"

static const char *srv_ip;
static long srv_port;
static FILE *ctl;
static char reply[8192];

static void do_listen(int fd, int backlog);
static int accept_ready(int lfd);

/* ---- the kernel clients (servpeer.py) --------------------------------------------- */

/* One request {"op": OP, <fields>}; the reply line is left in `reply`. */
static void peer_raw(const char *op, const char *fmt, va_list ap)
{
	fprintf(ctl, "{\"op\": \"%s\"%s", op, *fmt ? ", " : "");
	vfprintf(ctl, fmt, ap);
	fprintf(ctl, "}\n");
	fflush(ctl);
	if (fgets(reply, sizeof(reply), ctl) == NULL) {
		fprintf(stderr, "servcheck: servpeer went away during %s\n", op);
		exit(3);
	}
	reply[strcspn(reply, "\n")] = '\0';
}

/* A request recorded as a step "peer OP" with the reply as it came. */
static void peer(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer(const char *op, const char *fmt, ...)
{
	char name[64];
	va_list ap;

	t0();
	va_start(ap, fmt);
	peer_raw(op, fmt, ap);
	va_end(ap);
	snprintf(name, sizeof(name), "peer %s", op);
	step(name, 0, 0);
	field("\"reply\": %s", reply);
	end();
}

/* The same, not recorded (bookkeeping such as "whose"). */
static void peer_quiet(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_quiet(const char *op, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	peer_raw(op, fmt, ap);
	va_end(ap);
}

/* An integer field of the last reply; def if absent or null. */
static long reply_int(const char *key, long def)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(reply, pat);
	if (p == NULL)
		return def;
	p += strlen(pat);
	return (*p == '-' || (*p >= '0' && *p <= '9')) ? strtol(p, NULL, 10) : def;
}

/* n clients connect to the server, each waited for up to wait_ms before the next. */
static void peer_connect(int n, int wait_ms)
{
	peer("connect", "\"ip\": \"%s\", \"port\": %ld, \"n\": %d, \"wait_ms\": %d",
	     srv_ip, srv_port, n, wait_ms);
}

static void peer_connect_later(int n, int delay_ms)
{
	peer("connect", "\"ip\": \"%s\", \"port\": %ld, \"n\": %d, \"delay_ms\": %d",
	     srv_ip, srv_port, n, delay_ms);
}

static void ctl_open(const char *path)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (ctl = fdopen(fd, "r+")) == NULL) {
		fprintf(stderr, "servcheck: cannot reach servpeer at %s: %s\n", path,
			strerror(errno));
		exit(3);
	}
}

/* ---- observed server calls ------------------------------------------------------- */

/* The accepted peer's address: its IP and which client (by number) it is. */
static void put_client(const char *name, const struct sockaddr_in *a)
{
	char ip[INET_ADDRSTRLEN];

	if (a->sin_family != AF_INET) {
		field("\"%s\": {\"family\": %d}", name, a->sin_family);
		return;
	}
	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	peer_quiet("whose", "\"port\": %u", ntohs(a->sin_port));
	field("\"%s\": {\"addr\": \"%s\", \"client\": %ld}", name, ip, reply_int("id", -1));
}

/* A listening socket on bind_ip:port; -1 (closed, and said) if bind fails. */
static int listener(int type, const char *bind_ip, long port, int backlog)
{
	int fd = do_socket(type);

	if (opt_int("reuse", 0))
		do_setint("SO_REUSEADDR", fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (do_bind(fd, bind_ip, port) < 0) {
		do_close(fd);
		return -1;
	}
	do_listen(fd, backlog);
	return fd;
}

static const char *bind_ip(void)
{
	return strcmp(opt_str("bind", "stack"), "any") == 0 ? "0.0.0.0" : srv_ip;
}

enum addr_mode { ADDR_FULL, ADDR_SHORT, ADDR_ZERO, ADDR_NULL };

static enum addr_mode addr_mode(void)
{
	const char *m = opt_str("addr", "full");

	return strcmp(m, "short") == 0 ? ADDR_SHORT : strcmp(m, "zero") == 0 ? ADDR_ZERO :
	       strcmp(m, "null") == 0	 ? ADDR_NULL :
					   ADDR_FULL;
}

/* accept or accept4 with the address buffer `mode` asks for. What the call wrote is
 * printed: the length it reported, the bytes it was allowed to write (family, then
 * the client's port as the client's number, then the address), and whether it left
 * the rest of the buffer alone. */
static int do_accept_as(const char *op, int lfd, enum addr_mode mode, bool a4, int flags)
{
	static const socklen_t in_len[] = { sizeof(struct sockaddr_in), 4, 0, 0 };
	union {
		struct sockaddr_in sin;
		unsigned char b[32];
	} u;
	socklen_t len = in_len[mode];
	struct sockaddr *ap = mode == ADDR_NULL ? NULL : (struct sockaddr *)&u;
	socklen_t *lp = mode == ADDR_NULL ? NULL : &len;
	int fd, e;
	size_t i;
	bool untouched = true;

	memset(&u, 0xAA, sizeof(u));
	t0();
	fd = a4 ? accept4(lfd, ap, lp, flags) : accept(lfd, ap, lp);
	e = errno;
	step(op, fd < 0 ? -1 : 0, e);
	if (fd >= 0 && mode != ADDR_NULL) {
		field("\"len\": %u", len);
		for (i = in_len[mode]; i < sizeof(u.b); i++)
			untouched = untouched && u.b[i] == 0xAA;
		field("\"untouched\": %s", untouched ? "true" : "false");
		if (mode == ADDR_FULL) {
			put_client("peer", &u.sin);
		} else if (mode == ADDR_SHORT) {
			peer_quiet("whose", "\"port\": %u", ntohs(u.sin.sin_port));
			field("\"family\": %u, \"client\": %ld", u.sin.sin_family,
			      reply_int("id", -1));
		}
	}
	end();
	errno = e;
	return fd;
}

static int do_accept(int lfd)
{
	return do_accept_as("accept", lfd, ADDR_FULL, false, 0);
}

static void do_listen(int fd, int backlog)
{
	int rc, e;

	t0();
	rc = listen(fd, backlog);
	e = errno;
	step("listen", rc, e);
	field("\"backlog\": %d", backlog);
	end();
}

static void do_getint(const char *op, int fd, int level, int name)
{
	int v = -1, rc, e;
	socklen_t len = sizeof(v);

	t0();
	rc = getsockopt(fd, level, name, &v, &len);
	e = errno;
	step(op, rc, e);
	if (rc == 0)
		field("\"value\": %d", v);
	end();
}

static void do_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL), fd_fl = fcntl(fd, F_GETFD);

	t0();
	step("flags", fl < 0 || fd_fl < 0 ? -1 : 0, errno);
	field("\"nonblock\": %d, \"cloexec\": %d", (fl & O_NONBLOCK) != 0,
	      (fd_fl & FD_CLOEXEC) != 0);
	end();
}

/* Names of an accepted socket: ours as an address, the peer's as a client. */
static void do_accepted_names(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int rc, e;

	do_name(fd, false);
	memset(&a, 0, sizeof(a));
	t0();
	rc = getpeername(fd, (struct sockaddr *)&a, &len);
	e = errno;
	step("getpeername", rc, e);
	if (rc == 0)
		put_client("name", &a);
	end();
}

static void do_send(const char *op, int fd, const char *msg, int flags)
{
	ssize_t n;
	int e;

	t0();
	n = send(fd, msg, strlen(msg), flags);
	e = errno;
	step(op, (long)n, e);
	end();
}

/* One recv; with MSG_DONTWAIT it does not wait. Our own printable data only. */
static ssize_t do_recv(const char *op, int fd, size_t n, int flags)
{
	char buf[512];
	ssize_t got;
	int e;

	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	t0();
	got = recv(fd, buf, n, flags);
	e = errno;
	step(op, (long)got, e);
	if (got >= 0) {
		buf[got] = '\0';
		field("\"data\": \"%s\"", buf);
	}
	end();
	return got;
}

static void do_shutdown(int fd, int how)
{
	int rc, e;

	t0();
	rc = shutdown(fd, how);
	e = errno;
	step(how == SHUT_WR ? "shutdown_wr" : how == SHUT_RD ? "shutdown_rd" : "shutdown_rdwr",
	     rc, e);
	end();
}

static void do_linger(int fd, int on, int secs)
{
	struct linger l = { on, secs };
	int rc, e;

	t0();
	rc = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	e = errno;
	step("SO_LINGER", rc, e);
	field("\"onoff\": %d, \"linger\": %d", on, secs);
	end();
}

/* Client `id` and the accepted fd exchange a line each way. */
static void exchange(int fd, int id)
{
	struct pollfd p = { fd, POLLIN, 0 };

	peer("send", "\"id\": %d, \"data\": \"ping %d\"", id, id);
	(void)poll(&p, 1, 3000); /* the fd may be non-blocking */
	do_recv("recv", fd, 64, 0);
	do_send("send", fd, "pong", MSG_NOSIGNAL);
	peer("recv", "\"id\": %d, \"n\": 64", id);
}

/* ---- cases ----------------------------------------------------------------------- */

/* A listener on the stack's address (*lfd) and the one client it accepted. */
static int one_client(int *lfd)
{
	*lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8);
	peer_connect(1, 2000);
	return do_accept(*lfd);
}

/* bind/listen/accept (or accept4 with flags) with the address buffer `addr`. */
static void case_accept(void)
{
	int lfd = listener(SOCK_STREAM, bind_ip(), srv_port, 8), fd;
	int fl = (int)opt_int("fl", 0);
	int flags = ((fl & 1) ? SOCK_NONBLOCK : 0) | ((fl & 2) ? SOCK_CLOEXEC : 0);

	do_names(lfd);
	do_getint("SO_ACCEPTCONN", lfd, SOL_SOCKET, SO_ACCEPTCONN);
	peer_connect(1, 2000);
	fd = do_accept_as("accept", lfd, addr_mode(), opt_int("a4", 0) != 0, flags);
	if (fd >= 0) {
		do_flags(fd);
		do_accepted_names(fd);
		do_getint("SO_ACCEPTCONN", fd, SOL_SOCKET, SO_ACCEPTCONN);
		if (flags & SOCK_NONBLOCK)
			do_recv("recv_empty", fd, 64, 0);
		exchange(fd, 0);
		do_close(fd);
		peer("recv", "\"id\": 0, \"n\": 64");
	}
	do_close(lfd);
}

/* What accept and listen refuse. */
static void case_badargs(void)
{
	int fd = do_socket(SOCK_STREAM), lfd, ufd;

	do_accept(fd);                 /* never listened */
	do_bind(fd, srv_ip, srv_port);
	do_accept(fd);                 /* bound, not listening */
	do_listen(fd, 4);
	do_accept_as("accept4_badflags", fd, ADDR_FULL, true, 0x1000);
	do_close(fd);
	ufd = do_socket(SOCK_DGRAM);
	do_bind(ufd, srv_ip, srv_port);
	do_listen(ufd, 4);
	do_accept(ufd);
	do_close(ufd);
	/* A bad address buffer: EFAULT, and the connection is gone (the client sees
	 * its end, as the kernel closes the socket it could not hand over). */
	lfd = listener(SOCK_STREAM, srv_ip, srv_port + 1, 4);
	srv_port++;
	peer_connect(1, 2000);
	{
		socklen_t len = sizeof(struct sockaddr_in);
		int rc, e;

		t0();
		rc = accept(lfd, (struct sockaddr *)8, &len);
		e = errno;
		step("accept_efault", rc < 0 ? -1 : 0, e);
		end();
		if (rc >= 0)
			close(rc);
	}
	peer("drain", "\"id\": 0, \"ms\": 3000");
	do_nonblock(lfd);
	do_accept(lfd);
	do_close(lfd);
}

/* A non-blocking listener: EAGAIN, readiness with poll/select/epoll, then one. */
static void case_nonblock(void)
{
	int lfd = listener(SOCK_STREAM | SOCK_NONBLOCK, bind_ip(), srv_port, 8), fd;
	const char *mode = opt_str("wait", "poll");

	do_accept(lfd);
	do_wait(mode, lfd, POLLIN | POLLOUT, 0);
	peer_connect_later(1, 300);
	do_wait(mode, lfd, POLLIN, 3000);
	fd = do_accept(lfd);
	do_accept(lfd);
	do_wait("poll", lfd, POLLIN | POLLOUT, 0);
	if (fd >= 0) {
		do_flags(fd); /* not inherited from the listener */
		exchange(fd, 0);
		do_close(fd);
	}
	do_close(lfd);
}

/* A blocking accept cut by SIGALRM at 300 ms; the client comes at 800 ms. */
static void case_signal(void)
{
	int lfd = listener(SOCK_STREAM, bind_ip(), srv_port, 8), fd;

	peer_connect_later(1, 800);
	obs_alarm_in(300, opt_int("restart", 0) != 0);
	fd = do_accept(lfd);
	printf(", \"%02d handler_ran\": %d", ++step_no, (int)obs_alarms);
	if (fd < 0)
		fd = do_accept(lfd);
	if (fd >= 0) {
		exchange(fd, 0);
		do_close(fd);
	}
	do_close(lfd);
}

/* listen(fd, 1): two connections fit the accept queue; later clients wait (their
 * SYNs are dropped) and are served, by their SYN retransmissions, once there is
 * room. relisten=1: listen(fd, 8) again first, and everyone fits at once. */
static void case_backlog(void)
{
	int lfd = listener(SOCK_STREAM, srv_ip, srv_port, 1), fd[4], i, got = 0;
	bool relisten = opt_int("relisten", 0) != 0;

	if (relisten)
		do_listen(lfd, 8);
	peer_connect(4, 300);
	do_nonblock(lfd);
	/* relisten: all four are in, or about to be (their last ACK on the way) */
	while (got < 4 && (fd[got] = relisten ? accept_ready(lfd) : do_accept(lfd)) >= 0)
		got++;
	fcntl(lfd, F_SETFL, 0);
	for (; got < 4; got++) {
		fd[got] = do_accept(lfd);
		if (fd[got] < 0)
			break;
	}
	for (i = 0; i < 4; i++)
		peer("wait", "\"id\": %d, \"ms\": 5000", i);
	for (i = 0; i < got; i++) {
		do_send("send", fd[i], "served", MSG_NOSIGNAL);
		do_close(fd[i]);
	}
	for (i = 0; i < 4; i++)
		peer("recv", "\"id\": %d, \"n\": 64", i);
	do_close(lfd);
}

/* The server closes first (its side goes to TIME_WAIT), then restarts on the same
 * port: bind needs SO_REUSEADDR (reuse=1) as on Linux. */
static void case_reuseaddr(void)
{
	int lfd, fd = one_client(&lfd);

	if (fd < 0)
		return;
	do_shutdown(fd, SHUT_WR);
	peer("recv", "\"id\": 0, \"n\": 64");
	peer("close", "\"id\": 0");
	do_recv("recv_eof", fd, 64, 0); /* the client's FIN: now in TIME_WAIT */
	do_close(fd);
	do_close(lfd);
	lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8);
	if (lfd < 0)
		return;
	peer_connect(1, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) {
		exchange(fd, 1);
		do_close(fd);
	}
	do_close(lfd);
}

/* Two SO_REUSEPORT listeners share the port (a third without the option may not
 * join); 16 clients are spread over both, each accepted exactly once. */
static void case_reuseport(void)
{
	int l[2], plain, i, n[2] = { 0, 0 }, total = 0, fd;
	struct pollfd p[2];

	for (i = 0; i < 2; i++) {
		l[i] = do_socket(SOCK_STREAM | SOCK_NONBLOCK);
		do_setint("SO_REUSEPORT", l[i], SOL_SOCKET, SO_REUSEPORT, 1);
		do_bind(l[i], srv_ip, srv_port);
		do_listen(l[i], 32);
	}
	plain = do_socket(SOCK_STREAM);
	do_bind(plain, srv_ip, srv_port);
	do_close(plain);
	peer_connect(16, 2000);
	while (total < 16) {
		for (i = 0; i < 2; i++)
			p[i] = (struct pollfd){ l[i], POLLIN, 0 };
		if (poll(p, 2, 3000) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			while ((fd = accept(l[i], NULL, NULL)) >= 0) {
				n[i]++;
				total++;
				close(fd);
			}
		}
	}
	t0();
	step("accepted", total, 0);
	field("\"total\": %d, \"each_got_some\": %s", total,
	      n[0] > 0 && n[1] > 0 ? "true" : "false");
	end();
	do_close(l[0]);
	do_close(l[1]);
}

/* MSG_PEEK leaves the data; MSG_DONTWAIT on an empty queue. */
static void case_peek(void)
{
	int lfd, fd = one_client(&lfd);

	if (fd < 0)
		return;
	peer("send", "\"id\": 0, \"data\": \"hello world\"");
	do_wait("poll", fd, POLLIN, 3000);
	do_recv("peek5", fd, 5, MSG_PEEK);
	do_recv("peek", fd, 100, MSG_PEEK);
	do_recv("recv", fd, 100, 0);
	do_recv("recv_dontwait", fd, 100, MSG_DONTWAIT);
	do_close(fd);
	do_close(lfd);
}

/* MSG_WAITALL waits for the second half (sent 300 ms later), and returns short at
 * EOF. */
static void case_waitall(void)
{
	int lfd, fd = one_client(&lfd);

	if (fd < 0)
		return;
	peer("send", "\"id\": 0, \"data\": \"abc\"");
	peer("send", "\"id\": 0, \"data\": \"defgh\", \"delay_ms\": 300");
	do_recv("recv_waitall", fd, 8, MSG_WAITALL);
	peer("send", "\"id\": 0, \"data\": \"xy\"");
	peer("shut", "\"id\": 0, \"how\": \"wr\"");
	do_recv("recv_waitall_eof", fd, 8, MSG_WAITALL);
	do_close(fd);
	do_close(lfd);
}

/* shutdown(SHUT_WR) from each side in turn; the other direction keeps working. */
static void case_halfclose(void)
{
	int lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8), fd;

	peer_connect(2, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) { /* the server half-closes */
		do_shutdown(fd, SHUT_WR);
		peer("recv", "\"id\": 0, \"n\": 64");
		peer("send", "\"id\": 0, \"data\": \"after\"");
		do_recv("recv", fd, 64, 0);
		do_send("send_after_shut", fd, "no", MSG_NOSIGNAL);
		do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
		do_close(fd);
		peer("recv", "\"id\": 0, \"n\": 64");
	}
	fd = do_accept(lfd);
	if (fd >= 0) { /* the client half-closes */
		peer("shut", "\"id\": 1, \"how\": \"wr\"");
		do_recv("recv_eof", fd, 64, 0);
		do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
		do_send("send", fd, "still", MSG_NOSIGNAL);
		peer("recv", "\"id\": 1, \"n\": 64");
		do_close(fd);
		peer("recv", "\"id\": 1, \"n\": 64");
	}
	do_close(lfd);
}

/* close() with unread data resets the connection; so does SO_LINGER {1, 0}. */
static void case_unread(void)
{
	int lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8), fd;

	peer_connect(2, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) {
		peer("send", "\"id\": 0, \"data\": \"unread\"");
		do_wait("poll", fd, POLLIN, 3000);
		do_close(fd);
		peer("recv", "\"id\": 0, \"n\": 64");
		peer("send", "\"id\": 0, \"data\": \"more\"");
	}
	fd = do_accept(lfd);
	if (fd >= 0) {
		do_linger(fd, 1, 0);
		do_close(fd);
		peer("recv", "\"id\": 1, \"n\": 64");
	}
	do_close(lfd);
}

/* SO_LINGER {1, 2}: close() waits for the data to be acknowledged: 2 s when the
 * client's window is full (full=1: the client does not read), at once when its
 * buffer took everything (full=0: 50,000 bytes). Everything sent arrives. */
static void case_linger(void)
{
	static char chunk[10000];
	long sent = 0, limit = opt_int("full", 0) ? 1L << 30 : 50000;
	ssize_t n;
	int lfd, fd = one_client(&lfd);

	if (fd < 0)
		return;
	memset(chunk, 'y', sizeof(chunk));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (sent < limit && (n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL)) > 0)
		sent += n;
	fcntl(fd, F_SETFL, 0);
	do_linger(fd, 1, 2);
	do_close(fd);
	peer_quiet("drain", "\"id\": 0, \"ms\": 10000");
	t0();
	step("client_drained", 0, 0);
	field("\"all_arrived\": %s, \"then_eof\": %s",
	      reply_int("bytes", -1) == sent ? "true" : "false",
	      strstr(reply, "\"eof\"") ? "true" : "false");
	end();
	do_close(lfd);
}

/* A listener on 0.0.0.0: its names, and those of what it accepts. */
static void case_names(void)
{
	int lfd = listener(SOCK_STREAM, "0.0.0.0", srv_port, 8), fd;

	do_names(lfd);
	peer_connect(1, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) {
		do_accepted_names(fd);
		do_close(fd);
	}
	do_close(lfd);
}

/* listen() on an unbound socket binds an ephemeral port on 0.0.0.0, reachable. */
static void case_autobind(void)
{
	int lfd = do_socket(SOCK_STREAM), fd;

	do_listen(lfd, 8);
	srv_port = ntohs((uint16_t)do_name(lfd, false));
	peer_connect(1, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) {
		exchange(fd, 0);
		do_close(fd);
	}
	do_close(lfd);
}

/* Port conflicts between listeners, and the port free again after close. */
static void case_inuse(void)
{
	int a = listener(SOCK_STREAM, srv_ip, srv_port, 8);
	int b = do_socket(SOCK_STREAM), c = do_socket(SOCK_STREAM), d;

	do_bind(b, srv_ip, srv_port);
	do_bind(c, "0.0.0.0", srv_port);
	do_close(a);
	do_bind(b, srv_ip, srv_port);
	do_listen(b, 8);
	peer_connect(1, 2000);
	d = do_accept(b);
	if (d >= 0)
		do_close(d);
	do_close(b);
	do_close(c);
}

static volatile sig_atomic_t pipes;

static void on_pipe(int sig)
{
	(void)sig;
	pipes++;
}

/* After the client's RST: ECONNRESET once, then EPIPE with SIGPIPE unless
 * MSG_NOSIGNAL; after our SHUT_WR: EPIPE. */
static void case_sigpipe(void)
{
	int lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8), fd;

	signal(SIGPIPE, on_pipe);
	peer_connect(2, 2000);
	fd = do_accept(lfd);
	if (fd >= 0) {
		peer("close", "\"id\": 0, \"linger0\": true");
		do_wait("poll", fd, POLLIN, 3000);
		do_wait("poll", fd, POLLIN | POLLOUT | POLLRDHUP, 0);
		do_so_error(fd);
		do_send("send", fd, "x", 0);
		do_send("send_nosignal", fd, "x", MSG_NOSIGNAL);
		do_send("send_signal", fd, "x", 0);
		do_recv("recv", fd, 64, 0);
		printf(", \"%02d sigpipes\": %d", ++step_no, (int)pipes);
		do_close(fd);
	}
	fd = do_accept(lfd);
	if (fd >= 0) {
		do_shutdown(fd, SHUT_WR);
		do_send("send_nosignal", fd, "x", MSG_NOSIGNAL);
		do_send("send_signal", fd, "x", 0);
		printf(", \"%02d sigpipes\": %d", ++step_no, (int)pipes);
		do_close(fd);
	}
	signal(SIGPIPE, SIG_IGN);
	do_close(lfd);
}

static void do_epoll_wait(const char *op, int ep, int ms)
{
	struct epoll_event out;
	int rc, e;

	memset(&out, 0, sizeof(out));
	t0();
	rc = epoll_wait(ep, &out, 1, ms);
	e = errno;
	step(op, rc, e);
	put_events("events", rc > 0 ? out.events : 0, true);
	end();
}

static int do_epoll_add(const char *op, int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { 0 };
	int rc, e;

	ev.events = events;
	t0();
	rc = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	e = errno;
	step(op, rc, e);
	end();
	return rc;
}

/* accept on a non-blocking listener once it is readable (the client's connect
 * returns before the server has its final ACK: the kernel's over a veth has it
 * already, shuntd a moment later, as any stack across a real link). */
static int accept_ready(int lfd)
{
	struct pollfd p = { lfd, POLLIN, 0 };

	(void)poll(&p, 1, 3000);
	return do_accept(lfd);
}

/* epoll on a listener, level- or edge-triggered (et=1), and EPOLLEXCLUSIVE: the
 * first client makes it ready (again and again when level-triggered), the second
 * wakes an edge-triggered wait once more. */
static void case_epoll(void)
{
	int lfd = listener(SOCK_STREAM | SOCK_NONBLOCK, srv_ip, srv_port, 8), fd;
	int ep = epoll_create1(EPOLL_CLOEXEC), ex = epoll_create1(EPOLL_CLOEXEC), i;

	do_epoll_add("epoll_ctl", ep, lfd, EPOLLIN | (opt_int("et", 0) ? EPOLLET : 0));
	do_epoll_add("epoll_ctl_exclusive", ex, lfd, EPOLLIN | EPOLLEXCLUSIVE);
	do_epoll_wait("epoll_wait_empty", ep, 0);
	peer_connect(1, 2000);
	do_epoll_wait("epoll_wait", ep, 3000);
	do_epoll_wait("epoll_wait_again", ep, 0);
	do_epoll_wait("epoll_wait_exclusive", ex, 3000);
	peer_connect(1, 2000);
	do_epoll_wait("epoll_wait_second", ep, 3000);
	for (i = 0; i < 2; i++)
		if ((fd = accept_ready(lfd)) >= 0)
			close(fd);
	do_accept(lfd);
	do_epoll_wait("epoll_wait_drained", ep, 0);
	close(ex);
	close(ep);
	do_close(lfd);
}

/* Four threads blocked in accept() on one listener: four clients, one each. */
static int th_lfd;
static int th_port[4];

static void *acceptor(void *arg)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = accept(th_lfd, (struct sockaddr *)&a, &len);

	*(int *)arg = fd < 0 ? -errno : ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void case_threads(void)
{
	pthread_t t[4];
	int i, j, ok = 1;

	th_lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, acceptor, &th_port[i]);
	peer_connect_later(4, 300);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++)
		for (j = 0; j < i; j++)
			ok = ok && th_port[i] > 0 && th_port[i] != th_port[j];
	t0();
	step("accepted", 0, 0);
	field("\"distinct\": %s", ok && th_port[0] > 0 ? "true" : "false");
	end();
	do_close(th_lfd);
}

/* A listener closed with two connections it never accepted: both are reset. */
static void case_pending(void)
{
	int lfd = listener(SOCK_STREAM, srv_ip, srv_port, 8);

	peer_connect(2, 2000);
	do_wait("poll", lfd, POLLIN, 3000);
	do_close(lfd);
	peer("recv", "\"id\": 0, \"n\": 64");
	peer("recv", "\"id\": 1, \"n\": 64");
}

/* Options servers set on a listener, and what the accepted socket inherits. */
static void case_opts(void)
{
	int lfd = do_socket(SOCK_STREAM), fd;

	do_setint("TCP_NODELAY", lfd, IPPROTO_TCP, TCP_NODELAY, 1);
	do_setint("SO_KEEPALIVE", lfd, SOL_SOCKET, SO_KEEPALIVE, 1);
	do_setint("TCP_DEFER_ACCEPT", lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
	do_getint("TCP_DEFER_ACCEPT", lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT);
	do_bind(lfd, srv_ip, srv_port);
	do_listen(lfd, 8);
	do_setint("TCP_FASTOPEN", lfd, IPPROTO_TCP, TCP_FASTOPEN, 16);
	do_getint("TCP_FASTOPEN", lfd, IPPROTO_TCP, TCP_FASTOPEN);
	do_getint("SO_ACCEPTCONN", lfd, SOL_SOCKET, SO_ACCEPTCONN);
	peer_connect(1, 2000);
	peer("send", "\"id\": 0, \"data\": \"first\"");
	fd = do_accept(lfd);
	if (fd >= 0) {
		do_getint("TCP_NODELAY", fd, IPPROTO_TCP, TCP_NODELAY);
		do_getint("SO_KEEPALIVE", fd, SOL_SOCKET, SO_KEEPALIVE);
		do_getint("SO_ACCEPTCONN", fd, SOL_SOCKET, SO_ACCEPTCONN);
		do_recv("recv", fd, 64, 0);
		do_close(fd);
	}
	do_close(lfd);
}

/* A blocking call cut by SIGALRM at 200 ms, with SA_RESTART (restart=1) or
 * without: recv and send restart or fail with EINTR; epoll_wait, poll and select
 * fail with EINTR either way (signal(7)). The client sends (or reads) at 600 ms,
 * so a restarted call returns then. */
static void case_sigcalls(void)
{
	static char chunk[65536];
	bool restart = opt_int("restart", 0) != 0;
	const char *call = opt_str("call", "recv");
	int lfd, fd = one_client(&lfd), rc, e;
	ssize_t n;

	if (fd < 0)
		return;
	if (strcmp(call, "send") == 0) {
		/* full, and staying full: the client does not read, and not one byte
		 * more fits 200 ms later (Linux grows its send buffer while the
		 * client's window opens) */
		do {
			while (send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
				;
			sleep_ms(200);
		} while (send(fd, chunk, 1, MSG_NOSIGNAL | MSG_DONTWAIT) > 0);
		peer("drain_later", "\"id\": 0, \"delay_ms\": 600");
	} else {
		peer("send", "\"id\": 0, \"data\": \"late\", \"delay_ms\": 600");
	}
	obs_alarm_in(200, restart);
	t0();
	if (strcmp(call, "recv") == 0) {
		char buf[16];

		n = recv(fd, buf, sizeof(buf), 0);
	} else if (strcmp(call, "send") == 0) {
		n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		n = n > 0 ? 1 : n; /* how much fitted differs; that it went does not */
	} else if (strcmp(call, "epoll") == 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN }, out;

		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
		n = epoll_wait(ep, &out, 1, 3000);
		e = errno;
		close(ep);
		errno = e;
	} else if (strcmp(call, "poll") == 0) {
		struct pollfd p = { fd, POLLIN, 0 };

		n = poll(&p, 1, 3000);
	} else {
		fd_set r;
		struct timeval tv = { 3, 0 };

		FD_ZERO(&r);
		FD_SET(fd, &r);
		n = select(fd + 1, &r, NULL, NULL, &tv);
	}
	e = errno;
	rc = n < 0 ? -1 : (int)n;
	step(call, rc, e);
	end();
	printf(", \"%02d handler_ran\": %d", ++step_no, (int)obs_alarms);
	do_close(fd);
	do_close(lfd);
}

/* writev with IOV_MAX (1024) iovecs of 1 to 64 bytes, then one more than that
 * (EINVAL); the client's SHA-256 of what arrived is compared, so every byte is. */
static void case_writev(void)
{
	static char buf[1024 * 64];
	static struct iovec iov[1025];
	int lfd, fd = one_client(&lfd), i;
	size_t off = 0;
	ssize_t n;

	if (fd < 0)
		return;
	for (i = 0; i < 1025; i++) {
		size_t len = 1 + (size_t)(i * 7) % 64;

		memset(buf + off, 'A' + i % 26, len);
		iov[i].iov_base = buf + off;
		iov[i].iov_len = len;
		off += len;
	}
	t0();
	n = writev(fd, iov, 1025);
	step("writev_1025", n < 0 ? -1 : n, errno);
	end();
	t0();
	n = writev(fd, iov, 1024);
	step("writev_1024", n < 0 ? -1 : n, errno);
	end();
	do_shutdown(fd, SHUT_WR);
	peer("drain", "\"id\": 0, \"ms\": 5000, \"hash\": true");
	do_close(fd);
	do_close(lfd);
}

/* ---- main ------------------------------------------------------------------------ */

static const struct obs_case cases[] = {
	{ "accept", case_accept },     { "badargs", case_badargs },
	{ "nonblock", case_nonblock }, { "signal", case_signal },
	{ "backlog", case_backlog },   { "reuseaddr", case_reuseaddr },
	{ "reuseport", case_reuseport }, { "peek", case_peek },
	{ "waitall", case_waitall },   { "halfclose", case_halfclose },
	{ "unread", case_unread },     { "linger", case_linger },
	{ "names", case_names },       { "autobind", case_autobind },
	{ "inuse", case_inuse },       { "sigpipe", case_sigpipe },
	{ "epoll", case_epoll },       { "threads", case_threads },
	{ "pending", case_pending },   { "opts", case_opts },
	{ "sigcalls", case_sigcalls }, { "writev", case_writev },
};

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: servcheck CASE IP PORT CTLPATH [key=value ...]\n");
		return 2;
	}
	if (obs_args(argc, argv, 5) < 0)
		return 2;
	srv_ip = argv[2];
	srv_port = strtol(argv[3], NULL, 0);
	(void)addr_of(srv_ip, srv_port);
	signal(SIGPIPE, SIG_IGN);
	ctl_open(argv[4]);
	if (strcmp(argv[1], "signal") != 0)
		obs_watchdog(40);
	return obs_run(cases, sizeof(cases) / sizeof(cases[0]), argv[1]);
}
