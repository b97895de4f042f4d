/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The program under test: plain socket code, run under LD_PRELOAD=libshunt.so.
 * One scenario per invocation: `shim_client CASE PEER_IP`; exit status 0 means
 * every CHECK held. Most cases run against the real shuntd and kernel peers
 * (tests/integration/test_shim_semantics.py: PEER_IP is the kernel peer, STACK
 * shuntd's stack); a few run against tests/unit/shim/fake_dp.c, for states the
 * real dataplane cannot be made to show (test_shim_preload.c). The destination
 * port says what the peer does, the same in both worlds:
 *
 *   TCP 7 echo, 9 closed (RST), 11 SYNs dropped, 13 "hello" then FIN,
 *   15 echo whose first SYN of every two is dropped (connect takes ~1 s),
 *   17 ICMP host unreachable from PEER_IP; UDP 7 echo, 9 closed (ICMP port
 *   unreachable). fake_dp only: 19 established at once, 21 refused at once,
 *   23 refused in two steps, 25 counts SENDs and RECVDs.
 *
 *   main(case, peer) -> case function -> libc socket calls -> (libshunt.so)
 *                    -> shuntd or fake_dp
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHECK(c) do { \
	if (!(c)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed (errno %d: %s)\n", __FILE__, __LINE__, \
			#c, errno, strerror(errno)); \
		exit(1); \
	} \
} while (0)

#define STACK "10.77.0.2" /* the stack's own address (shuntd's and fake_dp's) */

static const char *peer_ip; /* argv[2]: where the ports above are served */

static struct sockaddr_in dst(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connected(int port)
{
	struct sockaddr_in a = dst(peer_ip, port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	return fd;
}

/* poll() revents of fd for events, without waiting */
static short revents(int fd, short events)
{
	struct pollfd p = { fd, events, 0 };

	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

/* Wait (bounded: the CHECK after it fails) until fd is readable. */
static void readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN));
}

/* Wait until at least n bytes are queued on fd (bounded). */
static void queued(int fd, int n)
{
	int q = -1, i;

	for (i = 0; i < 5000; i++) {
		CHECK(ioctl(fd, FIONREAD, &q) == 0);
		if (q >= n)
			return;
		usleep(1000);
	}
	CHECK(q >= n);
}

/* Echo msg and check it comes back whole. */
static void echo(int fd, const char *msg)
{
	char buf[64] = { 0 };
	size_t n = strlen(msg);

	CHECK(write(fd, msg, n) == (ssize_t)n);
	CHECK(recv(fd, buf, n, MSG_WAITALL) == (ssize_t)n);
	CHECK(memcmp(buf, msg, n) == 0);
}

/* ---- blocking connect, echo, bulk transfer, EOF -------------------------------- */

#define BULK (1 << 20) /* more than both rings (shuntd's default: 256 KiB each) */

static void *bulk_reader(void *arg)
{
	int fd = *(int *)arg;
	static unsigned char buf[BULK];
	size_t got = 0;
	size_t i;

	while (got < BULK) {
		ssize_t n = read(fd, buf + got, BULK - got);

		CHECK(n > 0);
		got += (size_t)n;
	}
	for (i = 0; i < BULK; i++)
		CHECK(buf[i] == (unsigned char)(i * 7));
	return NULL;
}

static void case_blocking_echo(void)
{
	static unsigned char out[BULK];
	int fd = connected(7);
	pthread_t th;
	char b;
	size_t i;

	echo(fd, "ping");
	for (i = 0; i < BULK; i++)
		out[i] = (unsigned char)(i * 7);
	CHECK(pthread_create(&th, NULL, bulk_reader, &fd) == 0);
	CHECK(send(fd, out, BULK, 0) == BULK); /* > both rings: must block and resume */
	pthread_join(th, NULL);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK(read(fd, &b, 1) == 0); /* the peer closed after echoing everything */
	CHECK(send(fd, "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE);
	CHECK(close(fd) == 0);
}

/* ---- non-blocking connect --------------------------------------------------------- */

/* Port 15 drops the first SYN: the attempt is still on for a second while the
 * checks of the connecting state run. */
static void case_nonblock_connect(void)
{
	struct sockaddr_in a = dst(peer_ip, 15), name;
	socklen_t len = sizeof(name);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p = { fd, POLLOUT, 0 };
	int err = -1;
	char c;

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EALREADY);
	CHECK(getpeername(fd, (struct sockaddr *)&name, &len) == -1 && errno == ENOTCONN);
	CHECK(recv(fd, &c, 1, 0) == -1 && errno == EAGAIN);
	CHECK(poll(&p, 1, 0) == 0); /* connecting: not writable */
	CHECK(poll(&p, 1, 5000) == 1 && p.revents == POLLOUT);
	len = sizeof(err);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EISCONN);
	len = sizeof(name);
	CHECK(getsockname(fd, (struct sockaddr *)&name, &len) == 0 && len == sizeof(name));
	CHECK(name.sin_family == AF_INET && name.sin_addr.s_addr == inet_addr(STACK) &&
	      name.sin_port != 0);
	len = sizeof(name);
	CHECK(getpeername(fd, (struct sockaddr *)&name, &len) == 0);
	CHECK(name.sin_addr.s_addr == inet_addr(peer_ip) && name.sin_port == htons(15));
	CHECK(recv(fd, &c, 1, 0) == -1 && errno == EAGAIN);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
}

/* ---- refused -------------------------------------------------------------------------- */

static void case_refused_nonblock(void)
{
	struct sockaddr_in a = dst(peer_ip, 9);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(int);
	int err = -1;

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	CHECK(poll(&p, 1, 2000) == 1 && p.revents == (POLLOUT | POLLERR | POLLHUP));
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
	/* error consumed: Linux says ECONNABORTED, then a new attempt starts */
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == ECONNABORTED);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	close(fd);
}

static void case_refused_blocking(void)
{
	struct sockaddr_in a = dst(peer_ip, 9);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == ECONNREFUSED);
	CHECK(send(fd, "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE);
	close(fd);
}

/* ---- timeouts and signals ---------------------------------------------------------- */

static void case_sndtimeo(void)
{
	struct sockaddr_in a = dst(peer_ip, 11);
	struct timeval tv = { 0, 200000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int64_t t0;

	CHECK(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0);
	t0 = ms_now();
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	CHECK(ms_now() - t0 >= 190 && ms_now() - t0 < 2000);
	close(fd);
}

static volatile sig_atomic_t got_sig;

static void on_alarm(int sig)
{
	(void)sig;
	got_sig++;
}

static void alarm_in_ms(int ms, bool restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };
	struct itimerval it = { { 0, 0 }, { 0, ms * 1000 } };

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

static void case_signal_eintr(void)
{
	struct sockaddr_in a = dst(peer_ip, 11);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int64_t t0 = ms_now();

	alarm_in_ms(100, false);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINTR);
	CHECK(got_sig == 1 && ms_now() - t0 >= 90);
	close(fd);
}

static void case_signal_restart(void)
{
	struct sockaddr_in a = dst(peer_ip, 15);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	alarm_in_ms(15, true); /* lands while connect sleeps (first SYN dropped: ~1 s) */
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(got_sig == 1);
	echo(fd, "after-signal");
	close(fd);
}

/* ---- epoll ---------------------------------------------------------------------------- */

static int ep_wait_data(int ep, int ms, uint64_t *ids, int max)
{
	struct epoll_event ev[8];
	int n = epoll_wait(ep, ev, 8, ms), i;

	CHECK(n >= 0 && n <= max);
	for (i = 0; i < n; i++)
		ids[i] = ev[i].data.u64;
	return n;
}

static bool has(const uint64_t *ids, int n, uint64_t id)
{
	int i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static void case_epoll(void)
{
	struct epoll_event ev = { 0 };
	struct sockaddr_in a = dst(peer_ip, 15);
	int ep = epoll_create1(EPOLL_CLOEXEC), pp[2], fd = connected(7), late;
	uint64_t ids[8];
	char buf[16];
	int n;

	CHECK(ep >= 0 && pipe(pp) == 0);
	ev.events = EPOLLIN;
	ev.data.u64 = 1;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1 && errno == EEXIST);
	ev.data.u64 = 2;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev) == 0);
	CHECK(ep_wait_data(ep, 0, ids, 2) == 0);
	CHECK(write(pp[1], "p", 1) == 1);
	n = ep_wait_data(ep, 1000, ids, 2);
	CHECK(n == 1 && ids[0] == 2);

	/* level-triggered: reported while unread */
	CHECK(send(fd, "abc", 3, 0) == 3);
	readable(fd); /* the echo is back */
	n = ep_wait_data(ep, 1000, ids, 2);
	CHECK(n == 2 && has(ids, n, 1) && has(ids, n, 2));
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(n == 2 && has(ids, n, 1));

	/* edge-triggered: once, then again only after something new happened */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.u64 = 1;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(has(ids, n, 1));
	n = ep_wait_data(ep, 50, ids, 2);
	CHECK(n == 1 && ids[0] == 2);
	CHECK(send(fd, "d", 1, 0) == 1);
	queued(fd, 4); /* "abc" and the echo of "d" */
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(has(ids, n, 1));

	/* one-shot: once until re-armed with MOD */
	ev.events = EPOLLIN | EPOLLONESHOT;
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(has(ids, n, 1));
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(!has(ids, n, 1));
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	n = ep_wait_data(ep, 0, ids, 2);
	CHECK(has(ids, n, 1));
	CHECK(recv(fd, buf, sizeof(buf), 0) == 4);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == -1 && errno == ENOENT);

	/* registered before connect(): must follow the socket into the shim (port
	 * 15: still connecting for a second, so the first look sees nothing) */
	late = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ev.events = EPOLLOUT;
	ev.data.u64 = 3;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, late, &ev) == 0);
	CHECK(read(pp[0], buf, 1) == 1); /* quiet the pipe */
	CHECK(connect(late, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	CHECK(ep_wait_data(ep, 0, ids, 2) == 0); /* not the placeholder's POLLOUT|POLLHUP */
	n = ep_wait_data(ep, 5000, ids, 2);
	CHECK(n == 1 && ids[0] == 3);

	/* close() takes a socket out of the interest list */
	close(late);
	CHECK(ep_wait_data(ep, 0, ids, 2) == 0);
	close(fd);
	close(ep);
	close(pp[0]);
	close(pp[1]);
}

/* ---- select -------------------------------------------------------------------------- */

static void case_select(void)
{
	int fd = connected(7), pp[2], mx;
	struct timeval tv = { 0, 50000 };
	fd_set r, w;
	char buf[8];

	CHECK(pipe(pp) == 0);
	mx = (fd > pp[0] ? fd : pp[0]) + 1;
	FD_ZERO(&r);
	FD_SET(fd, &r);
	FD_SET(pp[0], &r);
	CHECK(select(mx, &r, NULL, NULL, &tv) == 0);
	CHECK(!FD_ISSET(fd, &r) && !FD_ISSET(pp[0], &r));
	CHECK(write(pp[1], "p", 1) == 1);
	FD_SET(fd, &r);
	FD_SET(pp[0], &r);
	tv.tv_sec = 1;
	CHECK(select(mx, &r, NULL, NULL, &tv) == 1 && FD_ISSET(pp[0], &r) && !FD_ISSET(fd, &r));
	CHECK(send(fd, "s", 1, 0) == 1);
	readable(fd); /* the echo is back */
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(pp[0], &r);
	FD_SET(fd, &w);
	tv.tv_sec = 1;
	CHECK(select(mx, &r, &w, NULL, &tv) == 3);
	CHECK(FD_ISSET(fd, &r) && FD_ISSET(pp[0], &r) && FD_ISSET(fd, &w));
	CHECK(recv(fd, buf, sizeof(buf), 0) == 1);
	close(fd);
	close(pp[0]);
	close(pp[1]);
}

/* ---- dup ------------------------------------------------------------------------------- */

static void case_dup(void)
{
	int fd = connected(7), d, d2, d3;

	d = dup(fd);
	CHECK(d >= 0);
	CHECK(close(fd) == 0);
	echo(d, "via-dup");
	d2 = dup2(d, 200);
	CHECK(d2 == 200);
	CHECK(close(d) == 0);
	echo(d2, "via-dup2");
	d3 = fcntl(d2, F_DUPFD_CLOEXEC, 300);
	CHECK(d3 >= 300);
	CHECK(close(d2) == 0);
	echo(d3, "via-fcntl");
	CHECK(close(d3) == 0);
	CHECK(send(d3, "x", 1, MSG_NOSIGNAL) == -1 && errno == EBADF);
}

/* ---- names, options, eof, nonblocking I/O ----------------------------------------------- */

/* A TCP port nobody holds in the kernel right now (the kernel picks it). */
static int free_port(void)
{
	struct sockaddr_in a = dst("0.0.0.0", 0);
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0 && a.sin_port != 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void case_bind_opts(void)
{
	int port = free_port();
	struct sockaddr_in a = dst(peer_ip, 7), b = dst("0.0.0.0", port), name;
	socklen_t len = sizeof(name);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, v = 0;

	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	CHECK(bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&name, &len) == 0 &&
	      name.sin_port == htons(port)); /* before the decision: the placeholder */
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	len = sizeof(name);
	CHECK(getsockname(fd, (struct sockaddr *)&name, &len) == 0);
	CHECK(name.sin_port == htons(port) && name.sin_addr.s_addr == inet_addr(STACK));
	len = sizeof(v);
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v == 1);
	len = sizeof(v);
	/* the dataplane's, as Linux's mss_cache: the peer's 1460 less 12 bytes of
	 * timestamps (an unconnected placeholder would say 536) */
	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, &len) == 0 && v == 1448);
	CHECK(bind(fd, (struct sockaddr *)&b, sizeof(b)) == -1 && errno == EINVAL);
	/* argument errors as Linux */
	CHECK(connect(fd, (struct sockaddr *)&a, 1) == -1 && errno == EINVAL);
	CHECK(connect(fd, NULL, sizeof(a)) == -1 && errno == EFAULT);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET6;
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EAFNOSUPPORT);
	close(fd);
}

static void case_eof(void)
{
	int fd = connected(13), n = -1;
	struct pollfd p = { fd, POLLRDHUP, 0 }; /* the FIN may come after "hello" */
	char buf[16];

	CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLRDHUP));
	CHECK(revents(fd, POLLIN | POLLRDHUP) == (POLLIN | POLLRDHUP));
	CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 5);
	CHECK(recv(fd, buf, sizeof(buf), MSG_PEEK) == 5);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 0);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 0);
	close(fd);
}

static void case_nonblock_io(void)
{
	int fd = connected(7), fl;
	char buf[8];

	fl = fcntl(fd, F_GETFL);
	CHECK(fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
	CHECK(read(fd, buf, sizeof(buf)) == -1 && errno == EAGAIN);
	CHECK(recv(fd, buf, sizeof(buf), 0) == -1 && errno == EAGAIN);
	CHECK(fcntl(fd, F_SETFL, fl) == 0);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	echo(fd, "blocking-again");
	close(fd);
}

/* ---- the kernel still works -------------------------------------------------------------- */

static void kernel_roundtrip(void)
{
	struct sockaddr_in a = dst("127.0.0.1", 0);
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, s;
	struct pollfd p;
	char buf[8];

	CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
	s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	CHECK(write(c, "k", 1) == 1);
	p.fd = s;
	p.events = POLLIN;
	CHECK(poll(&p, 1, 1000) == 1);
	CHECK(read(s, buf, sizeof(buf)) == 1 && buf[0] == 'k');
	CHECK(send(s, "back", 4, 0) == 4 && recv(c, buf, 4, MSG_WAITALL) == 4);
	close(s);
	close(c);
	close(l);
}

static void case_loopback(void)
{
	kernel_roundtrip();
}

/* ---- the shim's own fds ------------------------------------------------------------------- */

static void case_internal_fds(void)
{
	int fd = connected(7), i, found = 0, fds[8];
	struct pollfd p = { fd, POLLIN, 0 };
	char c;

	/* A poll() that sleeps gives this thread a notifier, registered at shuntd with
	 * a wake socket (the shim keeps its end for the life of the attachment). */
	CHECK(poll(&p, 1, 50) == 0);
	/* Open per the kernel, closed per libc: those are the shim's. */
	for (i = 3; i < 256; i++) {
		if (syscall(SYS_fcntl, i, F_GETFD) >= 0 && fcntl(i, F_GETFD) == -1 &&
		    errno == EBADF) {
			CHECK(close(i) == -1 && errno == EBADF);
			if (found < 8)
				fds[found] = i;
			found++;
		}
	}
	/* ABI v2: the control socket, the doorbell eventfd, the epoll instance the
	 * watcher of shuntd's hang-up sleeps on (lost.c), and one wake socket per
	 * notifier registered (notify.c): here this thread's, from the poll above.
	 * Blocking calls on one socket sleep on futexes and hold no fd. */
	CHECK(found == 4);
	/* dup2 onto each of them: the app gets the number, the shim moves away */
	for (i = 0; i < found; i++) {
		CHECK(dup2(1, fds[i]) == fds[i]);
		CHECK(syscall(SYS_fcntl, fds[i], F_GETFD) >= 0 && fcntl(fds[i], F_GETFD) >= 0);
		CHECK(close(fds[i]) == 0);
	}
	echo(fd, "still-fine");
	/* the moved wake socket still wakes a poll */
	CHECK(send(fd, "w", 1, 0) == 1);
	readable(fd);
	CHECK(recv(fd, &c, 1, 0) == 1 && c == 'w');
	close(fd);
	fd = connected(7);
	echo(fd, "new-socket");
	close(fd);
}

/* An epoll holding a shunt socket has fds of its own (a private dup of itself, a
 * wake eventfd, and the wake socket of the notifier it takes with its first shunt
 * socket, registered at shuntd: ABI v2, notify.c): dup2 onto each of them moves it
 * out of the way, and the epoll still reports the socket. */
static void case_internal_epoll_fds(void)
{
	int fd = connected(7), ep = epoll_create1(0), i, moved = 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd }, out;
	bool before[256], added[256];

	for (i = 0; i < 256; i++)
		before[i] = syscall(SYS_fcntl, i, F_GETFD) >= 0;
	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	/* new since the ADD: the epoll's own (a moved one lands on a new number, so
	 * take the set first) */
	for (i = 0; i < 256; i++)
		added[i] = !before[i] && i != ep && syscall(SYS_fcntl, i, F_GETFD) >= 0;
	for (i = 3; i < 256; i++) {
		if (!added[i])
			continue;
		CHECK(fcntl(i, F_GETFD) == -1 && errno == EBADF); /* invisible to libc */
		CHECK(dup2(1, i) == i);
		CHECK(close(i) == 0);
		moved++;
	}
	CHECK(moved == 3);
	CHECK(epoll_wait(ep, &out, 1, 0) == 0);
	CHECK(send(fd, "x", 1, 0) == 1); /* the echo makes it readable */
	CHECK(epoll_wait(ep, &out, 1, 2000) == 1 && out.data.fd == fd);
	/* registered before connect(), then decided: the epoll must take the
	 * placeholder out of its kernel set through its own (moved) fd, or the
	 * unconnected placeholder would report itself at once */
	{
		struct sockaddr_in a = dst(peer_ip, 7);
		int s2 = socket(AF_INET, SOCK_STREAM, 0);
		struct epoll_event e2 = { .events = EPOLLIN, .data.fd = s2 };
		char c;

		CHECK(recv(fd, &c, 1, 0) == 1);
		CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s2, &e2) == 0);
		CHECK(connect(s2, (struct sockaddr *)&a, sizeof(a)) == 0);
		CHECK(epoll_wait(ep, &out, 1, 0) == 0);
		CHECK(send(s2, "y", 1, 0) == 1);
		CHECK(epoll_wait(ep, &out, 1, 2000) == 1 && out.data.fd == s2);
		close(s2);
	}
	close(ep);
	close(fd);
}

/* ---- UDP ---------------------------------------------------------------------------------- */

static int udp_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	CHECK(fd >= 0);
	return fd;
}

static void name_is(int fd, bool peer, const char *ip, int port)
{
	struct sockaddr_in n;
	socklen_t len = sizeof(n);

	memset(&n, 0xff, sizeof(n));
	CHECK((peer ? getpeername(fd, (struct sockaddr *)&n, &len) :
		      getsockname(fd, (struct sockaddr *)&n, &len)) == 0);
	CHECK(len == sizeof(n) && n.sin_family == AF_INET);
	CHECK(n.sin_addr.s_addr == inet_addr(ip));
	if (port >= 0)
		CHECK(n.sin_port == htons(port));
}

static int name_port(int fd)
{
	struct sockaddr_in n;
	socklen_t len = sizeof(n);

	CHECK(getsockname(fd, (struct sockaddr *)&n, &len) == 0);
	return ntohs(n.sin_port);
}

/* sendmmsg/recvmmsg, by name and through syscall() as libuv (dig, Node) makes them:
 * the batch goes through the dataplane, and the echo comes back as a batch. */
/* Options shunt keeps but does not apply: the program is told once per option
 * (with SHUNT_LOG), never for the ones it applies; the harness counts the lines. */
/* SO_PRIORITY and TCP_WINDOW_CLAMP are kept but not applied (said once each);
 * IP_TOS, IP_TTL and TCP_MAXSEG are applied (never said). */
static void case_unapplied_opt(void)
{
	struct sockaddr_in a = dst(peer_ip, 7);
	int fd = socket(AF_INET, SOCK_STREAM, 0), prio = 3, clamp = 20000, tos = 0x10;
	int ttl = 9, mss = 1000, one = 1, v = 0;
	socklen_t len = sizeof(v);

	/* IP_TOS first: Linux sets the priority from it (rt_tos2priority()) */
	CHECK(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) == 0);
	CHECK(setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof(prio)) == 0); /* undecided */
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);       /* said now */
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, sizeof(clamp)) == 0);
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, sizeof(clamp)) == 0);
	CHECK(setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) == 0);
	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
	CHECK(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == 0);
	/* and getsockopt answers as Linux would, from the placeholder */
	CHECK(getsockopt(fd, IPPROTO_IP, IP_TTL, &v, &len) == 0 && v == 9);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_PRIORITY, &v, &len) == 0 && v == 3);
	close(fd);
}

static void case_udp_mmsg(void)
{
	struct sockaddr_in a = dst(peer_ip, 7);
	struct mmsghdr m[3];
	struct iovec iov[3];
	char out[3][8] = {"one", "two", "three"}, in[3][8];
	struct timespec tmo = {5, 0};
	int fd = udp_sock(), i, round;

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	for (round = 0; round < 2; round++) {
		memset(m, 0, sizeof(m));
		for (i = 0; i < 3; i++) {
			iov[i].iov_base = out[i];
			iov[i].iov_len = strlen(out[i]);
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		if (round == 0)
			CHECK(sendmmsg(fd, m, 3, 0) == 3);
		else
			CHECK(syscall(SYS_sendmmsg, fd, m, 3, 0) == 3);
		CHECK(m[0].msg_len == 3 && m[1].msg_len == 3 && m[2].msg_len == 5);
		readable(fd);
		memset(m, 0, sizeof(m));
		memset(in, 0, sizeof(in));
		for (i = 0; i < 3; i++) {
			iov[i].iov_base = in[i];
			iov[i].iov_len = sizeof(in[i]);
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		/* the echoes may trickle in: WAITFORONE returns what is there after one */
		for (i = 0; i < 3;) {
			int n = round == 0 ?
				recvmmsg(fd, m + i, 3 - i, MSG_WAITFORONE, &tmo) :
				(int)syscall(SYS_recvmmsg, fd, m + i, 3 - i, MSG_WAITFORONE, &tmo);

			CHECK(n >= 1);
			if (n < 1)
				break;
			i += n;
		}
		CHECK(memcmp(in[0], "one", 4) == 0 && memcmp(in[1], "two", 4) == 0 &&
		      memcmp(in[2], "three", 6) == 0);
		CHECK(m[2].msg_len == 5);
		/* nothing left: a non-blocking batch fails with EAGAIN, as Linux */
		CHECK(recvmmsg(fd, m, 3, MSG_DONTWAIT, NULL) == -1 && errno == EAGAIN);
	}
	/* other system calls through syscall() still reach the kernel */
	CHECK(syscall(SYS_getpid) == getpid());
	CHECK(syscall(SYS_close, -1) == -1 && errno == EBADF);
	close(fd);
}

static void case_udp_basic(void)
{
	struct sockaddr_in a = dst(peer_ip, 7), from, bad;
	socklen_t flen = sizeof(from);
	static char big[2000], back[2000];
	struct iovec iov;
	struct msghdr mh;
	char buf[64];
	int fd = udp_sock(), n = -1, i;

	name_is(fd, false, "0.0.0.0", 0); /* undecided: the placeholder */
	CHECK(getpeername(fd, (struct sockaddr *)&from, &flen) == -1 && errno == ENOTCONN);
	CHECK(send(fd, "x", 1, 0) == -1 && errno == EDESTADDRREQ);
	CHECK(sendto(fd, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)) == 5);
	name_is(fd, false, "0.0.0.0", -1); /* implicitly bound: any address, a port */
	CHECK(name_port(fd) != 0);
	readable(fd);
	CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 5); /* the next datagram */
	CHECK(recv(fd, buf, 2, MSG_PEEK) == 2);
	flen = sizeof(from);
	CHECK(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 5);
	CHECK(memcmp(buf, "hello", 5) == 0 && flen == sizeof(from));
	CHECK(from.sin_family == AF_INET && from.sin_addr.s_addr == a.sin_addr.s_addr &&
	      from.sin_port == htons(7));
	CHECK(ioctl(fd, FIONREAD, &n) == 0 && n == 0);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);

	/* a zero-length datagram is a datagram */
	CHECK(sendto(fd, "", 0, 0, (struct sockaddr *)&a, sizeof(a)) == 0);
	readable(fd);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 0);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);

	/* truncation: recvmsg says MSG_TRUNC, recv(MSG_TRUNC) the real length */
	CHECK(sendto(fd, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)) == 10);
	readable(fd);
	iov.iov_base = buf;
	iov.iov_len = 4;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_name = &from;
	mh.msg_namelen = sizeof(from);
	CHECK(recvmsg(fd, &mh, 0) == 4 && (mh.msg_flags & MSG_TRUNC));
	CHECK(mh.msg_namelen == sizeof(from) && from.sin_port == htons(7));
	CHECK(recv(fd, buf, 4, MSG_DONTWAIT) == -1 && errno == EAGAIN); /* the rest is gone */
	CHECK(sendto(fd, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)) == 10);
	readable(fd);
	CHECK(recv(fd, buf, 4, MSG_TRUNC) == 10);

	/* sizes: the MTU payload passes whole, one byte more is EMSGSIZE (no fragments) */
	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = (char)(i * 13);
	CHECK(sendto(fd, big, 1473, 0, (struct sockaddr *)&a, sizeof(a)) == -1 &&
	      errno == EMSGSIZE);
	CHECK(sendto(fd, big, 70000, 0, (struct sockaddr *)&a, sizeof(a)) == -1 &&
	      errno == EMSGSIZE);
	CHECK(sendto(fd, big, 1472, 0, (struct sockaddr *)&a, sizeof(a)) == 1472);
	readable(fd);
	CHECK(recv(fd, back, sizeof(back), 0) == 1472 && memcmp(big, back, 1472) == 0);

	/* many records: both rings wrap, every datagram comes back whole and in order */
	for (i = 0; i < 300; i++) {
		int len = 1 + (i * 37) % 1400;

		big[0] = (char)i;
		CHECK(sendto(fd, big, (size_t)len, 0, (struct sockaddr *)&a, sizeof(a)) == len);
		if (i % 3 == 2) {
			int k;

			for (k = i - 2; k <= i; k++) {
				int l = 1 + (k * 37) % 1400;

				readable(fd);
				CHECK(recv(fd, back, sizeof(back), 0) == l && back[0] == (char)k);
				CHECK(memcmp(back + 1, big + 1, (size_t)l - 1) == 0);
			}
		}
	}

	/* argument errors as udp_sendmsg() */
	CHECK(send(fd, "x", 1, 0) == -1 && errno == EDESTADDRREQ);
	CHECK(getpeername(fd, (struct sockaddr *)&from, &flen) == -1 && errno == ENOTCONN);
	bad = dst(peer_ip, 0);
	CHECK(sendto(fd, "x", 1, 0, (struct sockaddr *)&bad, sizeof(bad)) == -1 && errno == EINVAL);
	CHECK(sendto(fd, "x", 1, 0, (struct sockaddr *)&a, 8) == -1 && errno == EINVAL);
	bad = a;
	bad.sin_family = AF_INET6;
	CHECK(sendto(fd, "x", 1, 0, (struct sockaddr *)&bad, sizeof(bad)) == -1 &&
	      errno == EAFNOSUPPORT);
	CHECK(listen(fd, 1) == -1 && errno == EOPNOTSUPP);
	close(fd);
}

static void case_udp_connect(void)
{
	struct sockaddr_in a = dst(peer_ip, 7), r = dst(peer_ip, 9), none = { .sin_family = AF_UNSPEC };
	struct pollfd p;
	socklen_t len;
	char buf[16];
	int fd = udp_sock(), err = -1, port;

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	name_is(fd, false, STACK, -1);
	name_is(fd, true, peer_ip, 7);
	port = name_port(fd);
	CHECK(send(fd, "abc", 3, 0) == 3);
	readable(fd);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK(write(fd, "wxyz", 4) == 4);
	readable(fd);
	CHECK(read(fd, buf, sizeof(buf)) == 4 && memcmp(buf, "wxyz", 4) == 0);

	/* connect again: a new association, same port */
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == 0);
	name_is(fd, true, peer_ip, 9);
	CHECK(name_port(fd) == port);
	/* ICMP port unreachable: the next call fails once with ECONNREFUSED */
	CHECK(send(fd, "q", 1, 0) == 1);
	p.fd = fd;
	p.events = 0; /* only POLLERR can wake it */
	CHECK(poll(&p, 1, 5000) == 1 && p.revents == POLLERR);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == ECONNREFUSED);
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	CHECK(send(fd, "q", 1, 0) == 1);
	CHECK(poll(&p, 1, 5000) == 1 && p.revents == POLLERR); /* the ICMP is in */
	CHECK(send(fd, "q", 1, 0) == -1 && errno == ECONNREFUSED); /* and not sent */
	CHECK(send(fd, "q", 1, 0) == 1);
	CHECK(poll(&p, 1, 5000) == 1 && p.revents == POLLERR);
	len = sizeof(err);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0);
	p.events = POLLOUT;
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT);

	/* AF_UNSPEC dissolves the association and the implicit bind */
	CHECK(connect(fd, (struct sockaddr *)&none, sizeof(none)) == 0);
	CHECK(getpeername(fd, (struct sockaddr *)buf, &len) == -1 && errno == ENOTCONN);
	name_is(fd, false, "0.0.0.0", 0);
	/* inet_send_prepare() binds a port even for a send that then fails */
	CHECK(send(fd, "x", 1, 0) == -1 && errno == EDESTADDRREQ);
	name_is(fd, false, "0.0.0.0", -1);
	CHECK(name_port(fd) != 0);
	/* not bound any more: bind() may choose, but only the stack's address */
	r = dst("10.77.0.3", 0);
	CHECK(bind(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == EADDRNOTAVAIL);
	r = dst(STACK, 0);
	CHECK(bind(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == EINVAL);
	CHECK(sendto(fd, "back", 4, 0, (struct sockaddr *)&a, sizeof(a)) == 4);
	readable(fd);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 4);
	close(fd);

	/* the kind of socket is the placeholder's */
	fd = udp_sock();
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	len = sizeof(err);
	CHECK(getsockopt(fd, SOL_SOCKET, SO_TYPE, &err, &len) == 0 && err == SOCK_DGRAM);
	CHECK(shutdown(fd, SHUT_RD) == 0); /* connected: recorded, and reads see EOF */
	CHECK(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) == -1 && errno == EAGAIN);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 0);
	close(fd);
	fd = udp_sock();
	CHECK(sendto(fd, "u", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1);
	CHECK(shutdown(fd, SHUT_WR) == -1 && errno == ENOTCONN); /* recorded all the same */
	CHECK(sendto(fd, "u", 1, MSG_NOSIGNAL, (struct sockaddr *)&a, sizeof(a)) == -1 &&
	      errno == EPIPE);
	close(fd);
}

static void case_udp_bind(void)
{
	struct sockaddr_in s5000 = dst(STACK, 5000), s5001 = dst(STACK, 5001),
			   any = dst("0.0.0.0", 0), a = dst(peer_ip, 7), from;
	socklen_t flen = sizeof(from);
	int x = udp_sock(), y = udp_sock(), c = udp_sock(), d = udp_sock(), f = udp_sock();
	int one = 1, port;
	char buf[8];

	CHECK(bind(x, (struct sockaddr *)&s5000, sizeof(s5000)) == 0); /* decided now */
	name_is(x, false, STACK, 5000);
	CHECK(bind(y, (struct sockaddr *)&s5000, sizeof(s5000)) == -1 && errno == EADDRINUSE);
	CHECK(bind(x, (struct sockaddr *)&s5001, sizeof(s5001)) == -1 && errno == EINVAL);
	CHECK(bind(x, (struct sockaddr *)&s5001, 4) == -1 && errno == EINVAL);
	CHECK(setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(bind(c, (struct sockaddr *)&s5001, sizeof(s5001)) == 0);
	CHECK(bind(d, (struct sockaddr *)&s5001, sizeof(s5001)) == 0);
	/* y failed to bind and is still usable */
	CHECK(sendto(y, "y", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1);
	readable(y);
	CHECK(recvfrom(y, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen) == 1);

	/* bind(0.0.0.0:0): the kernel's port is kept when the stack takes the socket */
	CHECK(bind(f, (struct sockaddr *)&any, sizeof(any)) == 0);
	port = name_port(f);
	CHECK(port != 0);
	CHECK(sendto(f, "f", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1);
	name_is(f, false, "0.0.0.0", port);
	readable(f);
	CHECK(recv(f, buf, sizeof(buf), 0) == 1 && buf[0] == 'f');
	close(x);
	close(y);
	close(c);
	close(d);
	close(f);
	/* closed: the port is free again */
	x = udp_sock();
	CHECK(bind(x, (struct sockaddr *)&s5000, sizeof(s5000)) == 0);
	close(x);
}

static void case_udp_epoll(void)
{
	struct sockaddr_in a = dst(peer_ip, 7);
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	int ep = epoll_create1(0), fd = udp_sock(), n;
	struct timeval tv = { 1, 0 };
	struct pollfd p = { fd, POLLIN | POLLOUT, 0 };
	fd_set r;
	char buf[8];

	ev.data.u64 = 42;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0); /* before the decision */
	CHECK(sendto(fd, "e", 1, 0, (struct sockaddr *)&a, sizeof(a)) == 1);
	n = epoll_wait(ep, out, 4, 2000);
	CHECK(n == 1 && out[0].data.u64 == 42 && out[0].events == EPOLLIN);
	CHECK(poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLOUT));
	FD_ZERO(&r);
	FD_SET(fd, &r);
	CHECK(select(fd + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &r));
	CHECK(recv(fd, buf, sizeof(buf), 0) == 1);
	CHECK(epoll_wait(ep, out, 4, 0) == 0);
	p.revents = 0;
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLOUT);
	close(fd);
	close(ep);
}

/* ---- TCP: connect(AF_UNSPEC), back to the kernel, bind to the stack's address ------------- */

static void case_tcp_unspec(void)
{
	struct sockaddr_in a = dst(peer_ip, 7), b = dst("0.0.0.0", 45556), name;
	struct sockaddr none = { .sa_family = AF_UNSPEC };
	socklen_t len = sizeof(name);
	int fd = connected(7), port;

	echo(fd, "before");
	port = name_port(fd);
	CHECK(connect(fd, &none, sizeof(none)) == 0);
	CHECK(getpeername(fd, (struct sockaddr *)&name, &len) == -1 && errno == ENOTCONN);
	name_is(fd, false, "0.0.0.0", port); /* tcp_disconnect() leaves inet_sport */
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	echo(fd, "after");
	close(fd);

	/* a port the app bound survives the dissolve, as SOCK_BINDPORT_LOCK */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(connect(fd, &none, sizeof(none)) == 0);
	CHECK(name_port(fd) == 45556);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	name_is(fd, false, STACK, 45556);
	echo(fd, "rebound");
	CHECK(listen(fd, 1) == -1 && errno == EINVAL); /* connected */
	close(fd);
}

static void case_tcp_back_to_kernel(void)
{
	struct sockaddr_in r = dst(peer_ip, 9), k = dst("127.0.0.1", 0);
	struct epoll_event ev = { .events = EPOLLOUT, .data.u64 = 7 }, out[2];
	socklen_t len = sizeof(k);
	int l = socket(AF_INET, SOCK_STREAM, 0), fd = socket(AF_INET, SOCK_STREAM, 0), s;
	int ep = epoll_create1(0);
	char buf[8];

	CHECK(l >= 0 && bind(l, (struct sockaddr *)&k, sizeof(k)) == 0 && listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&k, &len) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == ECONNREFUSED);
	/* refused by the stack: a connect elsewhere is the kernel's again */
	CHECK(connect(fd, (struct sockaddr *)&k, sizeof(k)) == 0);
	s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	CHECK(write(fd, "k", 1) == 1 && read(s, buf, 1) == 1 && buf[0] == 'k');
	CHECK(epoll_wait(ep, out, 2, 1000) == 1 && out[0].data.u64 == 7);
	name_is(fd, true, "127.0.0.1", ntohs(k.sin_port));
	close(s);
	close(fd);
	close(l);
	close(ep);
}

static void case_tcp_bind_local(void)
{
	struct sockaddr_in a = dst(peer_ip, 7), b = dst(STACK, 45557), z = dst(STACK, 0),
			   other = dst("10.77.0.3", 45557), name;
	socklen_t len = sizeof(name);
	int fd = socket(AF_INET, SOCK_STREAM, 0), g = socket(AF_INET, SOCK_STREAM, 0);
	int h = socket(AF_INET, SOCK_STREAM, 0);

	name_is(fd, false, "0.0.0.0", 0);
	CHECK(bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0); /* the stack binds it */
	name_is(fd, false, STACK, 45557);
	CHECK(getpeername(fd, (struct sockaddr *)&name, &len) == -1 && errno == ENOTCONN);
	CHECK(bind(g, (struct sockaddr *)&b, sizeof(b)) == -1 && errno == EADDRINUSE);
	CHECK(bind(fd, (struct sockaddr *)&other, sizeof(other)) == -1 && errno == EADDRNOTAVAIL);
	CHECK(bind(fd, (struct sockaddr *)&z, sizeof(z)) == -1 && errno == EINVAL);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	name_is(fd, false, STACK, 45557);
	name_is(fd, true, peer_ip, 7);
	echo(fd, "bound");
	CHECK(bind(h, (struct sockaddr *)&z, sizeof(z)) == 0);
	CHECK(name_port(h) != 0);
	/* g is still a fresh socket */
	CHECK(connect(g, (struct sockaddr *)&a, sizeof(a)) == 0);
	echo(g, "g");
	close(fd);
	close(g);
	close(h);
}

static void case_shutdown_connecting(void)
{
	struct sockaddr_in s = dst(peer_ip, 11);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CHECK(connect(fd, (struct sockaddr *)&s, sizeof(s)) == -1 && errno == EINPROGRESS);
	CHECK(shutdown(fd, SHUT_RDWR) == 0); /* tcp_disconnect() */
	CHECK(connect(fd, (struct sockaddr *)&s, sizeof(s)) == -1 && errno == EINPROGRESS);
	CHECK(shutdown(fd, SHUT_RD) == 0);
	close(fd);
}

/* ---- Linux's connect() protocol to the letter ------------------------------------------ */

#define RDALL (POLLIN | POLLOUT | POLLRDHUP)

static int so_error(int fd)
{
	socklen_t len = sizeof(int);
	int err = -1;

	CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
	return err;
}

static void wait_out(int fd)
{
	struct pollfd p = { fd, POLLOUT, 0 };

	CHECK(poll(&p, 1, 2000) == 1);
}

/* The SYN went out with the socket locked: EINPROGRESS however fast the answer. */
static void case_nb_instant(void)
{
	struct sockaddr_in ok = dst(peer_ip, 19), no = dst(peer_ip, 21);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CHECK(connect(fd, (struct sockaddr *)&ok, sizeof(ok)) == -1 && errno == EINPROGRESS);
	CHECK(connect(fd, (struct sockaddr *)&ok, sizeof(ok)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&ok, sizeof(ok)) == -1 && errno == EISCONN);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(connect(fd, (struct sockaddr *)&no, sizeof(no)) == -1 && errno == EINPROGRESS);
	CHECK(connect(fd, (struct sockaddr *)&no, sizeof(no)) == -1 && errno == ECONNREFUSED);
	close(fd);
}

/* An attempt ends in steps (error, RESET, CLOSED): poll shows it whole, or not yet. */
static void case_torn_refusal(void)
{
	struct sockaddr_in a = dst(peer_ip, 23);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct pollfd p = { fd, POLLOUT, 0 };
	int64_t t0 = ms_now();

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	CHECK(poll(&p, 1, 2000) == 1 && p.revents == (POLLOUT | POLLERR | POLLHUP));
	CHECK(ms_now() - t0 >= 40); /* CLOSED comes 50 ms after the SYN */
	CHECK(so_error(fd) == ECONNREFUSED);
	close(fd);
}

/* The call that reports a failed attempt ends in tcp_disconnect(). */
static void case_failed_disconnect(void)
{
	struct sockaddr_in r = dst(peer_ip, 9), b = dst(STACK, 45559);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), port;

	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == EINPROGRESS);
	wait_out(fd);
	/* seen through poll and SO_ERROR only: the reset socket's flags */
	CHECK(revents(fd, RDALL) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR));
	CHECK(so_error(fd) == ECONNREFUSED);
	CHECK(revents(fd, RDALL) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP));
	port = name_port(fd);
	name_is(fd, false, STACK, port);
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == ECONNABORTED);
	/* the source address goes, the port stays shown, sk_shutdown is cleared */
	name_is(fd, false, "0.0.0.0", port);
	CHECK(revents(fd, RDALL) == (POLLOUT | POLLHUP));
	close(fd);

	/* a blocking one does the same, and a shutdown recorded before is cleared */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == ECONNREFUSED);
	CHECK(revents(fd, RDALL) == (POLLOUT | POLLHUP));
	CHECK(shutdown(fd, SHUT_RDWR) == -1 && errno == ENOTCONN);
	CHECK(revents(fd, RDALL) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP));
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == ECONNREFUSED);
	CHECK(revents(fd, RDALL) == (POLLOUT | POLLHUP));
	close(fd);

	/* an address bind() named stays */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&b, sizeof(b)) == 0);
	CHECK(connect(fd, (struct sockaddr *)&r, sizeof(r)) == -1 && errno == ECONNREFUSED);
	name_is(fd, false, STACK, 45559);
	close(fd);
}

struct errq_hdr {
	struct sock_extended_err ee;
	struct sockaddr_in offender;
};

/* recvmsg(MSG_ERRQUEUE) into a 64-byte buffer and controllen bytes of control. */
static ssize_t errq_read(int fd, uint8_t *data, struct sockaddr_in *name, void *control,
			 size_t controllen, struct msghdr *m)
{
	static struct iovec iov;

	iov.iov_base = data;
	iov.iov_len = 64;
	memset(m, 0, sizeof(*m));
	m->msg_name = name;
	m->msg_namelen = sizeof(*name);
	m->msg_iov = &iov;
	m->msg_iovlen = 1;
	m->msg_control = control;
	m->msg_controllen = controllen;
	return recvmsg(fd, m, MSG_ERRQUEUE);
}

#define SLOTS 256 /* shuntd's max_sockets (its default) */

/* The ICMP error that ended a connect waits on the error queue, POLLERR with it. */
static void case_errqueue(void)
{
	struct sockaddr_in a = dst(peer_ip, 17), name, k = dst("127.0.0.1", 0);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), port, ep;
	union {
		char buf[CMSG_SPACE(sizeof(struct errq_hdr)) + 16];
		struct cmsghdr align;
	} cb;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 }, out;
	socklen_t nlen = sizeof(name);
	struct errq_hdr eh;
	struct cmsghdr *cm;
	struct msghdr m;
	uint8_t data[64];
	static int many[SLOTS];
	ssize_t qlen;
	int i;
	uint16_t p16;

	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	port = name_port(fd);
	wait_out(fd);
	CHECK(so_error(fd) == EHOSTUNREACH);
	/* SO_ERROR read: the queued error keeps POLLERR */
	CHECK(revents(fd, RDALL) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLERR));
	ep = epoll_create1(0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(epoll_wait(ep, &out, 1, 0) == 1 && (out.events & EPOLLERR));
	memset(data, 0, sizeof(data));
	/* the quoted segment: the SYN's header as far as the ICMP carried it (Linux
	 * quotes all of it; RFC 792 promises 8 bytes) */
	qlen = errq_read(fd, data, &name, cb.buf, sizeof(cb.buf), &m);
	CHECK(qlen >= 8);
	CHECK(m.msg_flags == MSG_ERRQUEUE);
	CHECK(m.msg_namelen == sizeof(name) && name.sin_family == AF_INET);
	CHECK(name.sin_addr.s_addr == inet_addr(peer_ip) && name.sin_port == htons(17));
	memcpy(&p16, data, 2);
	CHECK(p16 == htons(port));
	memcpy(&p16, data + 2, 2);
	CHECK(p16 == htons(17));
	CHECK(m.msg_controllen == CMSG_SPACE(sizeof(eh)));
	cm = CMSG_FIRSTHDR(&m);
	CHECK(cm != NULL && cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR);
	CHECK(cm->cmsg_len == CMSG_LEN(sizeof(eh)));
	memcpy(&eh, CMSG_DATA(cm), sizeof(eh));
	CHECK(eh.ee.ee_errno == EHOSTUNREACH && eh.ee.ee_origin == SO_EE_ORIGIN_ICMP);
	CHECK(eh.ee.ee_type == 3 && eh.ee.ee_code == 1 && eh.ee.ee_pad == 0);
	CHECK(eh.ee.ee_info == 0 && eh.ee.ee_data == 0);
	CHECK(eh.offender.sin_family == AF_INET && eh.offender.sin_port == 0);
	CHECK(eh.offender.sin_addr.s_addr == inet_addr(peer_ip));
	CHECK(CMSG_NXTHDR(&m, cm) == NULL);
	/* read: gone, and POLLERR with it; never blocks */
	CHECK(errq_read(fd, data, &name, cb.buf, sizeof(cb.buf), &m) == -1 && errno == EAGAIN);
	CHECK(revents(fd, RDALL) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP));
	CHECK(epoll_wait(ep, &out, 1, 0) == 1 && !(out.events & EPOLLERR));
	close(ep);
	close(fd);

	/* a blocking connect: disconnected, and still POLLERR; truncated reads */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EHOSTUNREACH);
	CHECK(revents(fd, RDALL) == (POLLOUT | POLLHUP | POLLERR));
	CHECK(errq_read(fd, data, &name, cb.buf, 20, &m) == qlen);
	CHECK(m.msg_flags == (MSG_ERRQUEUE | MSG_CTRUNC) && m.msg_controllen == 20);
	cm = CMSG_FIRSTHDR(&m);
	CHECK(cm != NULL && cm->cmsg_len == 20 && cm->cmsg_type == IP_RECVERR);
	CHECK(revents(fd, RDALL) == (POLLOUT | POLLHUP));
	close(fd);

	/* recv() and recvfrom() read it too, cut to their buffer; and reading it takes
	 * the pending error with it (sock_dequeue_err_skb()) */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	wait_out(fd);
	CHECK(recv(fd, data, 4, MSG_ERRQUEUE) == 4);
	CHECK(recv(fd, data, 4, MSG_ERRQUEUE) == -1 && errno == EAGAIN);
	CHECK(so_error(fd) == 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == ECONNABORTED);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EINPROGRESS);
	wait_out(fd);
	memset(&name, 0, sizeof(name));
	CHECK(recvfrom(fd, data, sizeof(data), MSG_ERRQUEUE, (struct sockaddr *)&name,
		       &nlen) == qlen);
	CHECK(nlen == sizeof(name) && name.sin_port == htons(17));
	close(fd);

	/* an entry nobody read does not outlive its socket: the slot's next user
	 * starts with none (every slot of the region is used once below, so the
	 * errored socket's slot is among them: its CLOSE is taken before the first
	 * OPEN below is answered, one channel in order) */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1 && errno == EHOSTUNREACH);
	close(fd);
	for (i = 0; i < SLOTS; i++) {
		struct sockaddr_in z = dst(STACK, 0);

		many[i] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(bind(many[i], (struct sockaddr *)&z, sizeof(z)) == 0); /* OPEN, BIND */
	}
	for (i = 0; i < SLOTS; i++) {
		CHECK(!(revents(many[i], RDALL) & POLLERR));
		CHECK(recv(many[i], data, 4, MSG_ERRQUEUE) == -1 && errno == EAGAIN);
		close(many[i]);
	}

	/* a kernel socket's error queue is the kernel's */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(bind(fd, (struct sockaddr *)&k, sizeof(k)) == 0);
	CHECK(recv(fd, data, sizeof(data), MSG_ERRQUEUE) == -1 && errno == EAGAIN);
	close(fd);
}

/* One port space: the kernel refuses the app a port a shunt socket holds. */
static void case_port_held(void)
{
	struct sockaddr_in b, anyb, c, anyc, any;
	int fd = connected(7), k = socket(AF_INET, SOCK_STREAM, 0), s1, one = 1, pb, pc;

	/* ports nobody else holds in the kernel: the placeholders mirror them there */
	pb = free_port();
	while ((pc = free_port()) == pb)
		;
	b = dst(STACK, pb);
	anyb = dst("0.0.0.0", pb);
	c = dst(STACK, pc);
	anyc = dst("0.0.0.0", pc);

	/* the ephemeral port CONNECT chose */
	any = dst("0.0.0.0", name_port(fd));
	CHECK(bind(k, (struct sockaddr *)&any, sizeof(any)) == -1 && errno == EADDRINUSE);
	close(k);
	close(fd);
	/* a port bound on the stack's address */
	s1 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(s1, (struct sockaddr *)&b, sizeof(b)) == 0);
	k = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(k, (struct sockaddr *)&anyb, sizeof(anyb)) == -1 && errno == EADDRINUSE);
	close(k);
	close(s1);
	/* both with SO_REUSEADDR, neither listening: shared, as Linux */
	s1 = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(s1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(bind(s1, (struct sockaddr *)&c, sizeof(c)) == 0);
	k = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(setsockopt(k, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(bind(k, (struct sockaddr *)&anyc, sizeof(anyc)) == 0);
	close(k);
	close(s1);
}

/* ---- close_range / closefrom -------------------------------------------------------------- */

static void after_mass_close(int fd, int d)
{
	CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
	CHECK(fcntl(d, F_GETFD) == -1 && errno == EBADF);
	CHECK(send(d, "x", 1, MSG_NOSIGNAL) == -1 && errno == EBADF);
	fd = connected(7); /* the shim's own fds survived */
	echo(fd, "alive");
	close(fd);
}

static void case_close_range(void)
{
	int fd = connected(7), d = dup2(fd, 900);

	CHECK(d == 900);
	CHECK(close_range(5, 3, 0) == -1 && errno == EINVAL);
	CHECK(close_range(3, ~0u, 0) == 0);
	after_mass_close(fd, d);
}

static void case_closefrom(void)
{
	int fd = connected(7), d = dup2(fd, 901);

	CHECK(d == 901);
	closefrom(3);
	after_mass_close(fd, d);
}

/* ---- fork and vfork ------------------------------------------------------------------------ */

static void child_ok(pid_t pid)
{
	int st;

	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A fork child shares the parent's socket, as in Linux (nothing to read: EAGAIN);
 * closing its copies (close, close_range, closefrom, as subprocess does) leaves
 * the parent's connection alone, and a socket of the child's own works. */
static void case_fork_close(void)
{
	int fd = connected(7), d = dup(fd);
	char c;
	pid_t pid;

	echo(fd, "before");
	pid = fork();
	if (pid == 0) {
		int n;

		CHECK(recv(fd, &c, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN);
		CHECK(close(fd) == 0);
		CHECK(close_range((unsigned)d, (unsigned)d, 0) == 0);
		n = connected(7);
		echo(n, "child's own");
		CHECK(close(n) == 0);
		closefrom(3);
		exit(0);
	}
	child_ok(pid);
	echo(fd, "parent-after-child");
	echo(d, "dup-after-child");
	close(d);
	close(fd);
}

/* A vfork child (posix_spawn, CPython's subprocess) shares our memory and runs no
 * atfork handler: its close/close_range/closefrom/dup2 must not touch the table. */
static void case_vfork_close(void)
{
	int fd = connected(7), d = dup(fd), round;
	pid_t pid;

	for (round = 0; round < 3; round++) {
		pid = vfork();
		if (pid == 0) {
			if (round == 0) {
				close(fd);
				close_range(3, ~0u, 0);
			} else if (round == 1) {
				dup2(0, d);
				closefrom(3);
			} else {
				dup3(d, fd, O_CLOEXEC);
				close(d);
			}
			_exit(0);
		}
		child_ok(pid);
		CHECK(fcntl(fd, F_GETFD) >= 0 && fcntl(d, F_GETFD) >= 0);
		echo(fd, "parent-fd");
		echo(d, "parent-dup");
	}
	close(d);
	close(fd);
}

/* Each of the exec family keeps an inheritable shunt socket for the new image (its
 * shim joins the region and finds it by the placeholder's inode): execl, execlp
 * and execle after fork, execv from a vfork child (its dup2s and closes are its
 * own). The echo server returns what each wrote, in order, to the parent: sh's
 * `>&N` puts the socket on fd 1, a relay, which must leave the answers to the
 * process that holds the socket itself (ctl.h SHUNT_RELAYF_READ). */
static void case_exec_family(void)
{
	extern char **environ;
	int fd = connected(7), round;
	char cmd[64], buf[8] = { 0 };
	pid_t pid;

	for (round = 0; round < 4; round++) {
		snprintf(cmd, sizeof(cmd), "printf %c >&%d", "lpev"[round], fd);
		if (round == 3) {
			char *argv[] = { "sh", "-c", cmd, NULL };

			pid = vfork();
			if (pid == 0) {
				execv("/bin/sh", argv);
				_exit(127);
			}
		} else {
			pid = fork();
			if (pid == 0) {
				if (round == 0)
					execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
				else if (round == 1)
					execlp("sh", "sh", "-c", cmd, (char *)NULL);
				else
					execle("/bin/sh", "sh", "-c", cmd, (char *)NULL, environ);
				_exit(127);
			}
		}
		child_ok(pid);
	}
	CHECK(recv(fd, buf, 4, MSG_WAITALL) == 4);
	CHECK(memcmp(buf, "lpev", 4) == 0);
	echo(fd, "parent-after-execs");
	close(fd);
}

/* A relay's end closed by its last holder is a close, never a shutdown, however
 * busy the socket is: each round a fork child moves the socket onto its stdout (a
 * relay), writes a byte there and exits, while the parent, which holds the socket
 * itself, keeps echoing on it, so that the socket changes (and shuntd runs the
 * relay) while the child's close is on its way. One taken for a shutdown was a
 * FIN: the peer's EOF, the parent's next send EPIPE (exec_family's SIGPIPE, now
 * and then). */
#define RELAY_ROUNDS 50

static void case_relay_close(void)
{
	struct timeval tv = { 5, 0 };
	int fd = connected(7), round, got = 0, st;
	pid_t pid, w;
	char c;

	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	for (round = 0; round < RELAY_ROUNDS; round++) {
		pid = fork();
		if (pid == 0) {
			CHECK(dup2(fd, 1) == 1);
			CHECK(write(1, "c", 1) == 1);
			_exit(0);
		}
		CHECK(pid > 0);
		do { /* ping until the child is gone; its byte comes back among ours */
			CHECK(send(fd, "p", 1, MSG_NOSIGNAL) == 1);
			do {
				CHECK(recv(fd, &c, 1, 0) == 1);
				got += c == 'c';
			} while (c != 'p');
		} while ((w = waitpid(pid, &st, WNOHANG)) == 0);
		CHECK(w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (; got < RELAY_ROUNDS; got++)
		CHECK(recv(fd, &c, 1, 0) == 1 && c == 'c');
	echo(fd, "parent-after-relays");
	close(fd);
}

/* Is thread tid asleep in the kernel ('S' in /proc)? */
static bool thread_sleeping(pid_t tid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the state follows the command name */
	return p != NULL && p[1] == ' ' && p[2] == 'S';
}

/* Wait until thread tid has been asleep for a few looks in a row (a bounded wait:
 * the test fails later if it never sleeps). */
static void until_asleep(pid_t tid)
{
	int seen = 0, i;

	for (i = 0; i < 2000 && seen < 3; i++) {
		seen = thread_sleeping(tid) ? seen + 1 : 0;
		usleep(2000);
	}
}

/* Every other thread of the process asleep (until_asleep each). */
static void others_asleep(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid > 0 && tid != gettid())
			until_asleep(tid);
	}
	closedir(d);
}

/* ---- close() against a call blocked on the same socket ------------------------------------ */

struct blocked_recv {
	int fd;
	ssize_t rc;
	int err;
	_Atomic pid_t tid;
};

static void *blocked_recv_fn(void *arg)
{
	struct blocked_recv *b = arg;
	char buf[64];

	atomic_store(&b->tid, gettid());
	b->rc = recv(b->fd, buf, sizeof(buf), 0);
	b->err = errno;
	return NULL;
}

/* As Linux: the blocked recv() goes on (close does not wake it with data) and ends
 * by its timeout; meanwhile new sockets take the fd number, and never share its
 * record or slot. */
static void case_close_blocked(void)
{
	struct timeval tv = { 0, 300000 };
	int round, i;

	for (round = 0; round < 4; round++) {
		struct blocked_recv b = { .fd = connected(7) };
		pthread_t th;
		int n[4];

		CHECK(setsockopt(b.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
		CHECK(pthread_create(&th, NULL, blocked_recv_fn, &b) == 0);
		while (atomic_load(&b.tid) == 0)
			usleep(1000);
		until_asleep(b.tid); /* asleep in recv */
		CHECK(close(b.fd) == 0);
		for (i = 0; i < 4; i++) {
			n[i] = connected(7);
			echo(n[i], "new-on-old-number");
		}
		pthread_join(th, NULL);
		CHECK(b.rc == -1 && b.err == EAGAIN);
		for (i = 0; i < 4; i++) {
			echo(n[i], "after");
			close(n[i]);
		}
	}
}

/* Closes of one fd, and dup2 onto it, racing: each drops the reference it took out
 * of the table, never one twice. The socket's dup must stay its own, and a new
 * socket must get a record of its own. */
#define RACERS 3

struct race {
	int fd, other;
	_Atomic int go;
};

struct racer {
	struct race *r;
	bool dup;
};

static void *race_fn(void *arg)
{
	struct racer *me = arg;

	while (!atomic_load(&me->r->go))
		;
	if (me->dup)
		dup2(me->r->other, me->r->fd);
	else
		close(me->r->fd);
	return NULL;
}

static void case_close_race(void)
{
	struct sockaddr_in a = dst(peer_ip, 7), name;
	int i, j, d, n, k = socket(AF_INET, SOCK_STREAM, 0);

	for (i = 0; i < 1500; i++) {
		struct race r = { .fd = socket(AF_INET, SOCK_STREAM, 0), .other = k };
		struct racer me[RACERS];
		pthread_t th[RACERS];
		socklen_t len = sizeof(name);

		d = dup(r.fd);
		CHECK(r.fd >= 0 && d >= 0);
		for (j = 0; j < RACERS; j++) {
			me[j].r = &r;
			me[j].dup = j == 0 && (i & 1);
			CHECK(pthread_create(&th[j], NULL, race_fn, &me[j]) == 0);
		}
		atomic_store(&r.go, 1);
		close(r.fd);
		for (j = 0; j < RACERS; j++)
			pthread_join(th[j], NULL);
		close(r.fd); /* dup2's copy, if it came last */
		n = socket(AF_INET, SOCK_STREAM, 0);
		/* d still names its socket; n is another, undecided one */
		CHECK(connect(d, (struct sockaddr *)&a, sizeof(a)) == 0);
		CHECK(n >= 0);
		CHECK(getsockname(n, (struct sockaddr *)&name, &len) == 0 && name.sin_port == 0);
		close(d);
		close(n);
	}
	close(k);
}

/* ---- more sleepers than wait slots ------------------------------------------------------- */

#define SLEEPERS 16 /* SHUNT_WAIT_SLOTS: the next sleeper has none */

struct signal_then_send {
	pthread_t target;
	pid_t tid;
	int fd;
	atomic_bool in_recv; /* the target is past its last other call before recv() */
};

/* Signal the target once it is asleep in recv(), then give it data once the
 * signal was handled: the order does not depend on how busy the machine is.
 * Asleep counts only after in_recv: the target also sleeps before that, in
 * pthread_create() (ASan's waits for the new thread), and a signal sent then is
 * handled before recv() even starts. */
static void *signal_then_send_fn(void *arg)
{
	struct signal_then_send *a = arg;

	int i;

	while (!atomic_load(&a->in_recv))
		usleep(1000);
	until_asleep(a->tid);
	CHECK(pthread_kill(a->target, SIGALRM) == 0);
	/* the handler ran, and the target is back asleep (in recv again, restarted
	 * or called anew after EINTR): only then the data */
	for (i = 0; i < 5000 && got_sig == 0; i++)
		usleep(1000);
	until_asleep(a->tid);
	CHECK(send(a->fd, "z", 1, 0) == 1);
	return NULL;
}

/* A blocking recv() that found no free wait slot behaves as one that did: a signal
 * with SA_RESTART does not end it, one without ends it with EINTR. */
static void case_slotless_signal(void)
{
	struct blocked_recv b[SLEEPERS];
	pthread_t th[SLEEPERS], late;
	int fd = connected(7), i, round;
	struct signal_then_send sts = { .target = pthread_self(), .tid = gettid(), .fd = fd };
	sigset_t alrm, old;
	char c;

	/* SIGALRM is for the main thread only: the other threads are made with it
	 * blocked */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	CHECK(pthread_sigmask(SIG_BLOCK, &alrm, &old) == 0);
	for (i = 0; i < SLEEPERS; i++) {
		b[i].fd = connected(7);
		atomic_store(&b[i].tid, 0);
		CHECK(pthread_create(&th[i], NULL, blocked_recv_fn, &b[i]) == 0);
	}
	for (i = 0; i < SLEEPERS; i++) {
		while (atomic_load(&b[i].tid) == 0)
			usleep(1000);
		until_asleep(b[i].tid); /* every wait slot taken */
	}
	for (round = 0; round < 2; round++) {
		bool restart = round == 0;
		struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };

		got_sig = 0;
		atomic_store(&sts.in_recv, false);
		sigemptyset(&sa.sa_mask);
		CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
		CHECK(pthread_create(&late, NULL, signal_then_send_fn, &sts) == 0);
		CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
		atomic_store(&sts.in_recv, true);
		if (restart) {
			CHECK(recv(fd, &c, 1, 0) == 1 && c == 'z');
		} else {
			CHECK(recv(fd, &c, 1, 0) == -1 && errno == EINTR);
			CHECK(recv(fd, &c, 1, 0) == 1 && c == 'z');
		}
		CHECK(got_sig == 1);
		pthread_join(late, NULL);
		CHECK(pthread_sigmask(SIG_BLOCK, &alrm, NULL) == 0);
	}
	CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL) == 0);
	for (i = 0; i < SLEEPERS; i++)
		CHECK(send(b[i].fd, "w", 1, 0) == 1);
	for (i = 0; i < SLEEPERS; i++) {
		pthread_join(th[i], NULL);
		CHECK(b[i].rc == 1);
		close(b[i].fd);
	}
	close(fd);
}

/* ---- no dataplane: everything on the kernel (stderr checked by the runner) ---------------- */

static void case_nodp(void)
{
	struct sockaddr_in a = dst(peer_ip, 7);
	int fd;

	kernel_roundtrip();
	kernel_roundtrip(); /* the message comes once */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	/* the kernel decides; only a plain kernel errno or EINPROGRESS can come back */
	CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS ||
	      errno == ENETUNREACH || errno == EHOSTUNREACH || errno == ECONNREFUSED);
	close(fd);
}

/* ---- epoll wake-ups, fairness, dup'd epoll fds ----------------------------------- */

/* A connected socket to port 13 once "hello" is there to read. */
static int hello_ready(void)
{
	int fd = connected(13);
	struct pollfd p = { fd, POLLIN, 0 };

	CHECK(poll(&p, 1, 2000) == 1 && (p.revents & POLLIN));
	return fd;
}

struct ep_waiter {
	int ep, timeout_ms, n;
	_Atomic pid_t tid;
	uint64_t id;
	int64_t took_ms;
	volatile bool done;
};

static void *ep_waiter_run(void *arg)
{
	struct ep_waiter *a = arg;
	struct epoll_event ev;
	int64_t t0 = ms_now();

	atomic_store(&a->tid, gettid());
	a->n = epoll_wait(a->ep, &ev, 1, a->timeout_ms);
	a->took_ms = ms_now() - t0;
	a->id = a->n == 1 ? ev.data.u64 : 0;
	a->done = true;
	return NULL;
}

/* Wait until the waiter sleeps in epoll_wait (bounded). */
static void waiter_asleep(struct ep_waiter *a)
{
	int i;

	for (i = 0; i < 5000 && atomic_load(&a->tid) == 0; i++)
		usleep(1000);
	until_asleep(a->tid);
}

/* Linux wakes a thread asleep in epoll_wait when another adds (or re-arms with MOD)
 * an entry that is ready; so must the shim, whatever the sleeper sleeps in. */
static void case_ep_wake(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct ep_waiter a = { .timeout_ms = -1 };
	int pp[2], fd = hello_ready(), i;
	pthread_t th;

	/* (a) the epoll holds only a pipe: the waiter is in the kernel alone */
	a.ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(a.ep >= 0 && pipe(pp) == 0);
	ev.data.u64 = 2;
	CHECK(epoll_ctl(a.ep, EPOLL_CTL_ADD, pp[0], &ev) == 0);
	CHECK(pthread_create(&th, NULL, ep_waiter_run, &a) == 0);
	waiter_asleep(&a);
	ev.data.u64 = 1;
	CHECK(epoll_ctl(a.ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	for (i = 0; i < 200 && !a.done; i++)
		usleep(5000);
	if (!a.done)
		CHECK(write(pp[1], "x", 1) == 1); /* let it go, then fail */
	pthread_join(th, NULL);
	CHECK(i < 200 && a.n == 1 && a.id == 1);

	/* (b) EPOLLONESHOT re-armed with MOD while the socket already has data */
	ev.events = EPOLLIN | EPOLLONESHOT;
	CHECK(epoll_ctl(a.ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	a.n = epoll_wait(a.ep, &ev, 1, 0);
	CHECK(a.n == 1 && ev.data.u64 == 1);
	a.timeout_ms = 3000;
	a.done = false;
	atomic_store(&a.tid, 0);
	CHECK(pthread_create(&th, NULL, ep_waiter_run, &a) == 0);
	waiter_asleep(&a);
	ev.events = EPOLLIN | EPOLLONESHOT;
	ev.data.u64 = 1;
	CHECK(epoll_ctl(a.ep, EPOLL_CTL_MOD, fd, &ev) == 0);
	pthread_join(th, NULL);
	CHECK(a.n == 1 && a.id == 1 && a.took_ms < 1000);
	close(fd);
	close(a.ep);
	close(pp[0]);
	close(pp[1]);
}

/* Level-triggered entries take turns with maxevents 1, as on Linux's ready list:
 * two shunt sockets, and a shunt socket with a kernel fd. */
static void case_ep_fair(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0), a = hello_ready(), b = hello_ready(), pp[2], i;
	int seen[4] = { 0 };

	CHECK(ep >= 0 && pipe(pp) == 0);
	ev.data.u64 = 1;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
	ev.data.u64 = 2;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev) == 0);
	for (i = 0; i < 10; i++) {
		CHECK(epoll_wait(ep, &ev, 1, 1000) == 1 && ev.data.u64 >= 1 && ev.data.u64 <= 2);
		seen[ev.data.u64]++;
	}
	CHECK(seen[1] == 5 && seen[2] == 5);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, b, NULL) == 0);
	CHECK(write(pp[1], "p", 1) == 1);
	ev.data.u64 = 3;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev) == 0);
	seen[1] = seen[3] = 0;
	for (i = 0; i < 10; i++) {
		CHECK(epoll_wait(ep, &ev, 1, 1000) == 1);
		CHECK(ev.data.u64 == 1 || ev.data.u64 == 3);
		seen[ev.data.u64]++;
	}
	CHECK(seen[1] >= 4 && seen[3] >= 4);
	close(a);
	close(b);
	close(ep);
	close(pp[0]);
	close(pp[1]);
}

/* The epoll's first fd number is not its name: dup it, close the original, let a
 * socket take the number, and use the dup. */
static void case_ep_dup(void)
{
	struct sockaddr_in a13 = dst(peer_ip, 13);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
	int ep = epoll_create1(0), d, s;

	CHECK(ep >= 0);
	d = dup(ep);
	CHECK(d >= 0 && close(ep) == 0);
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s == ep); /* the lowest free number */
	CHECK(epoll_ctl(d, EPOLL_CTL_ADD, s, &ev) == 0);
	CHECK(connect(s, (struct sockaddr *)&a13, sizeof(a13)) == 0);
	CHECK(epoll_wait(d, &ev, 1, 2000) == 1 && ev.data.u64 == 7);
	close(s);
	close(d);
}

/* An epoll holding only shunt sockets answers from the ready list alone: 1000
 * epoll_wait(0) on a readable socket each report it (level-triggered), and the
 * test that runs this counts the kernel's epoll_wait calls under strace. */
static void case_ep_shunt_only(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 9 };
	int ep = epoll_create1(0), fd = connected(7), i;

	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(send(fd, "x", 1, 0) == 1);
	CHECK(epoll_wait(ep, &ev, 1, 2000) == 1 && ev.data.u64 == 9);
	for (i = 0; i < 1000; i++)
		CHECK(epoll_wait(ep, &ev, 1, 0) == 1 && ev.data.u64 == 9 &&
		      (ev.events & EPOLLIN));
	close(fd);
	close(ep);
}

/* ---- recv(MSG_TRUNC), select past FD_SETSIZE ------------------------------------- */

/* tcp(7): MSG_TRUNC discards the bytes instead of copying them (with MSG_PEEK it
 * only counts them), so the buffer may be NULL. */
static void case_recv_trunc(void)
{
	int fd = hello_ready();
	char buf[8] = { 0 };

	CHECK(recv(fd, NULL, 4, MSG_PEEK | MSG_TRUNC) == 4);
	CHECK(recv(fd, NULL, 3, MSG_TRUNC) == 3);
	CHECK(recv(fd, buf, sizeof(buf), 0) == 2 && memcmp(buf, "lo", 2) == 0);
	close(fd);
}

#define BIG_FD 2000
#define BIG_WORDS (BIG_FD / (8 * sizeof(unsigned long)) + 1)

/* select() with nfds past FD_SETSIZE and a shunt socket in the set: the shim, not
 * the placeholder, answers (an idle socket is not readable). */
static void case_select_big(void)
{
	struct rlimit rl;
	unsigned long r[BIG_WORDS];
	const unsigned bits = 8 * sizeof(unsigned long);
	struct timeval tv = { 0, 100000 };
	int fd = connected(7);
	char c;

	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max <= BIG_FD) {
		close(fd);
		return; /* cannot have fd 2000 here */
	}
	if (rl.rlim_cur <= BIG_FD) {
		rl.rlim_cur = BIG_FD + 1;
		CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	CHECK(dup2(fd, BIG_FD) == BIG_FD && close(fd) == 0);
	memset(r, 0, sizeof(r));
	r[BIG_FD / bits] |= 1ul << (BIG_FD % bits);
	CHECK(select(BIG_FD + 1, (fd_set *)r, NULL, NULL, &tv) == 0);
	CHECK(send(BIG_FD, "x", 1, 0) == 1);
	r[BIG_FD / bits] |= 1ul << (BIG_FD % bits);
	tv.tv_sec = 2;
	CHECK(select(BIG_FD + 1, (fd_set *)r, NULL, NULL, &tv) == 1);
	CHECK(r[BIG_FD / bits] == 1ul << (BIG_FD % bits));
	CHECK(recv(BIG_FD, &c, 1, 0) == 1 && c == 'x');
	close(BIG_FD);
}

/* ---- per-call cost: allocations and commands ---------------------------------------- */

/* Every allocation of the process counted (the shim's included). */
static _Atomic long allocs;

#ifdef __SANITIZE_ADDRESS__
/* -Dsanitize=true: ASan owns malloc, and memory from __libc_malloc would reach its free()
 * as "not malloc'ed" (even ld.so's dlerror buffers, while ASan starts up). Its allocator
 * calls a hook on every allocation instead (declared in LLVM's allocator_interface.h,
 * which gcc does not ship). */
int __sanitizer_install_malloc_and_free_hooks(
	void (*malloc_hook)(const volatile void *, size_t),
	void (*free_hook)(const volatile void *));

static void count_malloc(const volatile void *p, size_t n)
{
	(void)p; (void)n;
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
}

static void count_free(const volatile void *p)
{
	(void)p;
}

__attribute__((constructor)) static void count_install(void)
{
	__sanitizer_install_malloc_and_free_hooks(count_malloc, count_free);
}
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);

void *malloc(size_t n)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	atomic_fetch_add_explicit(&allocs, 1, memory_order_relaxed);
	return __libc_calloc(n, m);
}
#endif

/* poll() of many kernel fds, poll() and select() with a shunt socket among them:
 * no allocation per call. */
static void case_poll_noalloc(void)
{
	struct pollfd p[101];
	int pp[2], fd, i, k;
	fd_set r;
	long before;

	CHECK(pipe(pp) == 0);
	for (i = 0; i < 100; i++)
		p[i] = (struct pollfd){ pp[0], POLLIN, 0 };
	fd = socket(AF_INET, SOCK_STREAM, 0); /* attached, no shunt socket yet */
	others_asleep(); /* the shim's watcher (lost.c) has started: its allocations,
			  * ASan's for a new thread, are not poll()'s */
	before = atomic_load(&allocs);
	for (k = 0; k < 50; k++)
		CHECK(poll(p, 100, 0) == 0);
	CHECK(atomic_load(&allocs) == before);
	close(fd);

	fd = connected(7);
	p[100] = (struct pollfd){ fd, POLLOUT, 0 };
	before = atomic_load(&allocs);
	for (k = 0; k < 50; k++)
		CHECK(poll(p, 101, 0) == 1 && p[100].revents == POLLOUT);
	for (k = 0; k < 50; k++) {
		struct timeval tv = { 0, 0 };

		FD_ZERO(&r);
		FD_SET(fd, &r);
		FD_SET(pp[0], &r);
		CHECK(select((fd > pp[0] ? fd : pp[0]) + 1, &r, NULL, NULL, &tv) == 0);
	}
	CHECK(atomic_load(&allocs) == before);
	close(fd);
	close(pp[0]);
	close(pp[1]);
}

static struct tcp_info tcp_info_of(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	CHECK(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0);
	return ti;
}

/* Every command queued before now has been taken: SEND, RECVD and CLOSE are
 * asynchronous, but SETOPT is answered, and the dataplane takes the one channel
 * in order. Counters read after this include every command the calls made. */
static void cmds_taken(int fd)
{
	int one = 1;

	CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0);
}

/* SEND only when none is queued, RECVD only when the window may have opened.
 * Port 25 echoes only when it takes a SEND, and counts SENDs in
 * tcpi_total_retrans and RECVDs in tcpi_rttvar; the RECVDs are counted once the
 * dataplane has taken them (cmds_taken), not when the last recv() returns. */
static void case_cmd_thin(void)
{
	static char buf[8000];
	struct timeval tv = { 2, 0 };
	int fd = connected(25), i;
	uint32_t recvd;

	CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	for (i = 0; i < 2000; i++)
		CHECK(send(fd, "s", 1, 0) == 1);
	/* every byte comes back: no SEND was skipped that the dataplane needed */
	CHECK(recv(fd, buf, 2000, MSG_WAITALL) == 2000);
	CHECK(tcp_info_of(fd).tcpi_total_retrans < 1000);

	/* 8000 bytes queued, read 100 at a time: RECVD after each 2 * MSS freed and
	 * once drained, not 80 times */
	memset(buf, 'r', sizeof(buf));
	CHECK(send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
	CHECK(recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_WAITALL) == (ssize_t)sizeof(buf));
	cmds_taken(fd);
	recvd = tcp_info_of(fd).tcpi_rttvar;
	for (i = 0; i < 80; i++)
		CHECK(recv(fd, buf, 100, 0) == 100);
	cmds_taken(fd);
	recvd = tcp_info_of(fd).tcpi_rttvar - recvd;
	CHECK(recvd >= 1 && recvd <= 5);
	close(fd);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "blocking_echo", case_blocking_echo },
	{ "ep_shunt_only", case_ep_shunt_only },
	{ "nonblock_connect", case_nonblock_connect },
	{ "refused_nonblock", case_refused_nonblock },
	{ "refused_blocking", case_refused_blocking },
	{ "sndtimeo", case_sndtimeo },
	{ "signal_eintr", case_signal_eintr },
	{ "signal_restart", case_signal_restart },
	{ "epoll", case_epoll },
	{ "select", case_select },
	{ "dup", case_dup },
	{ "bind_opts", case_bind_opts },
	{ "eof", case_eof },
	{ "nonblock_io", case_nonblock_io },
	{ "loopback", case_loopback },
	{ "internal_fds", case_internal_fds },
	{ "internal_epoll_fds", case_internal_epoll_fds },
	{ "nodp", case_nodp },
	{ "udp_basic", case_udp_basic },
	{ "udp_mmsg", case_udp_mmsg },
	{ "unapplied_opt", case_unapplied_opt },
	{ "udp_connect", case_udp_connect },
	{ "udp_bind", case_udp_bind },
	{ "udp_epoll", case_udp_epoll },
	{ "tcp_unspec", case_tcp_unspec },
	{ "tcp_back_to_kernel", case_tcp_back_to_kernel },
	{ "tcp_bind_local", case_tcp_bind_local },
	{ "shutdown_connecting", case_shutdown_connecting },
	{ "nb_instant", case_nb_instant },
	{ "torn_refusal", case_torn_refusal },
	{ "failed_disconnect", case_failed_disconnect },
	{ "errqueue", case_errqueue },
	{ "port_held", case_port_held },
	{ "close_range", case_close_range },
	{ "closefrom", case_closefrom },
	{ "fork_close", case_fork_close },
	{ "vfork_close", case_vfork_close },
	{ "exec_family", case_exec_family },
	{ "relay_close", case_relay_close },
	{ "close_blocked", case_close_blocked },
	{ "close_race", case_close_race },
	{ "slotless_signal", case_slotless_signal },
	{ "ep_wake", case_ep_wake },
	{ "ep_fair", case_ep_fair },
	{ "ep_dup", case_ep_dup },
	{ "recv_trunc", case_recv_trunc },
	{ "select_big", case_select_big },
	{ "poll_noalloc", case_poll_noalloc },
	{ "cmd_thin", case_cmd_thin },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s CASE PEER_IP\n", argv[0]);
		return 2;
	}
	peer_ip = argv[2];
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].fn();
			return 0;
		}
	}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
