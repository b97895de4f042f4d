/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_peer: the kernel side of the stress tests (test_stress_*.py). Runs in the
 * peer netns on the kernel stack; the programs under test connect to it.
 *
 *   stress_peer streams HOST PORT NCONN NWRITERS SEND
 *       Accepts NCONN connections, one thread each. A connection starts with the
 *       program's 4-byte connection id (network order); after it, every byte is
 *       from one of NWRITERS tagged writer streams (stress.h) and is checked at
 *       its position in its writer's stream. With SEND=1 a second thread sends
 *       the connection's recurrence stream (stress.h) until the program's EOF,
 *       then half-closes. Prints one line per connection when it ends:
 *         conn ID ok w0=N w1=N ... sent=N
 *         conn ID FAIL w0=N ... sent=N: what was wrong, where
 *       and exits 0 when every connection was ok.
 *
 *   stress_peer echo HOST PORT [PORT...]
 *       epoll echo server on each port: echoes what it reads, closes on EOF.
 *       Runs until killed. Listen backlog 65535 (the netns's somaxconn caps it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stress.h"

#define CHUNK 65536

static struct stress_lfsr lfsr;
static unsigned nwriters;
static bool do_send;

static void die(const char *what)
{
	fprintf(stderr, "stress_peer: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int listen_on(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, fd;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "stress_peer: bad address %s\n", host);
		exit(2);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	if (listen(fd, 65535) < 0)
		die("listen");
	return fd;
}

static void raise_nofile(void)
{
	struct rlimit rl = { 1 << 20, 1 << 20 };

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		rl.rlim_cur = rl.rlim_max = 65536 * 2;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- streams ------------------------------------------------------------------- */

struct conn {
	int fd;
	uint32_t id;
	pthread_t reader, sender;
	atomic_bool stop;   /* the program's EOF arrived: stop sending */
	uint64_t sent;
	int send_err;
	char err[256];      /* first thing found wrong, "" if none */
	struct stress_wstream w[STRESS_MAX_WRITERS];
};

static void *conn_send(void *arg)
{
	struct conn *c = arg;
	struct stress_rstream r;
	uint8_t *buf = malloc(CHUNK);

	stress_rstream_init(&r, c->id);
	while (!atomic_load(&c->stop)) {
		size_t n = 1 + (size_t)(r.pos * 2654435761u % CHUNK); /* varied sizes */
		size_t off = 0;

		stress_rstream_fill(&lfsr, &r, buf, n);
		while (off < n) {
			ssize_t k = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				c->send_err = errno;
				goto out;
			}
			off += (size_t)k;
			c->sent += (uint64_t)k;
		}
	}
	if (shutdown(c->fd, SHUT_WR) < 0)
		c->send_err = errno;
out:
	free(buf);
	return NULL;
}

static bool read_full(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = recv(fd, (char *)p + off, n - off, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		off += (size_t)k;
	}
	return true;
}

static void *conn_read(void *arg)
{
	struct conn *c = arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t off = 0; /* offset in the connection's byte stream after the id */
	uint32_t id_be;
	char line[512];
	int n, i;

	if (!read_full(c->fd, &id_be, sizeof(id_be))) {
		snprintf(c->err, sizeof(c->err), "no connection id");
		c->id = UINT32_MAX;
		goto report;
	}
	c->id = ntohl(id_be);
	for (i = 0; i < STRESS_MAX_WRITERS; i++)
		stress_wstream_init(&c->w[i], c->id, (uint32_t)i);
	if (do_send && pthread_create(&c->sender, NULL, conn_send, c) != 0)
		die("pthread_create");
	for (;;) {
		ssize_t k = recv(c->fd, buf, CHUNK, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			if (!c->err[0])
				snprintf(c->err, sizeof(c->err), "recv: %s after %llu bytes",
					 strerror(errno), (unsigned long long)off);
			break;
		}
		if (k == 0)
			break;
		for (ssize_t j = 0; j < k && !c->err[0]; j++) {
			unsigned wr = buf[j] >> 6;
			uint8_t want;

			if (wr >= nwriters) {
				snprintf(c->err, sizeof(c->err),
					 "stream byte %llu is 0x%02x: writer tag %u of %u",
					 (unsigned long long)(off + j), buf[j], wr, nwriters);
				break;
			}
			want = stress_wstream_next(&c->w[wr], wr);
			if (buf[j] != want)
				snprintf(c->err, sizeof(c->err),
					 "stream byte %llu: writer %u's byte %llu is 0x%02x, "
					 "expected 0x%02x", (unsigned long long)(off + j), wr,
					 (unsigned long long)(c->w[wr].pos - 1), buf[j], want);
		}
		off += (uint64_t)k;
	}
	atomic_store(&c->stop, true);
	if (do_send)
		pthread_join(c->sender, NULL);
	if (c->send_err && !c->err[0])
		snprintf(c->err, sizeof(c->err), "send: %s after %llu bytes",
			 strerror(c->send_err), (unsigned long long)c->sent);
report:
	n = snprintf(line, sizeof(line), "conn %u %s", c->id, c->err[0] ? "FAIL" : "ok");
	for (i = 0; i < (int)nwriters; i++)
		n += snprintf(line + n, sizeof(line) - n, " w%d=%llu", i,
			      (unsigned long long)c->w[i].pos);
	n += snprintf(line + n, sizeof(line) - n, " sent=%llu", (unsigned long long)c->sent);
	if (c->err[0])
		snprintf(line + n, sizeof(line) - n, ": %s", c->err);
	printf("%s\n", line);
	fflush(stdout);
	free(buf);
	return NULL;
}

static int streams(const char *host, int port, int nconn)
{
	/* static: reachable until exit, so LeakSanitizer does not count it */
	static struct conn *cs;
	int lfd = listen_on(host, port), i, bad = 0;

	cs = calloc((size_t)nconn, sizeof(*cs));

	for (i = 0; i < nconn; i++) {
		cs[i].fd = accept(lfd, NULL, NULL);
		if (cs[i].fd < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			die("accept");
		}
		if (pthread_create(&cs[i].reader, NULL, conn_read, &cs[i]) != 0)
			die("pthread_create");
	}
	close(lfd);
	for (i = 0; i < nconn; i++) {
		pthread_join(cs[i].reader, NULL);
		close(cs[i].fd);
		bad += cs[i].err[0] != 0;
	}
	return bad ? 1 : 0;
}

/* ---- echo ---------------------------------------------------------------------- */

static int echo(const char *host, char **ports, int nports)
{
	struct epoll_event ev, evs[256];
	static char buf[65536];
	int ep = epoll_create1(0), i, *lfds = calloc((size_t)nports, sizeof(int));

	if (ep < 0)
		die("epoll_create1");
	for (i = 0; i < nports; i++) {
		lfds[i] = listen_on(host, atoi(ports[i]));
		if (fcntl(lfds[i], F_SETFL, O_NONBLOCK) < 0)
			die("fcntl"); /* accept4() until EAGAIN */
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)1 << 32 | (uint32_t)lfds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, lfds[i], &ev) < 0)
			die("epoll_ctl");
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;

			if (evs[i].data.u64 >> 32) {
				int c;

				while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev.events = EPOLLIN;
					ev.data.u64 = (uint32_t)c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
						die("epoll_ctl");
				}
				if (errno != EAGAIN && errno != ECONNABORTED)
					die("accept4");
				continue;
			}
			for (;;) {
				ssize_t k = read(fd, buf, sizeof(buf)), w;

				if (k < 0 && errno == EAGAIN)
					break;
				if (k <= 0) {      /* EOF or reset: done with it */
					close(fd); /* also leaves the epoll set */
					break;
				}
				w = write(fd, buf, (size_t)k);
				if (w != k) {
					/* the tests echo a few bytes into an empty send
					 * buffer: a short write here is a broken test */
					fprintf(stderr, "stress_peer: echo wrote %zd of %zd\n",
						w, k);
					exit(2);
				}
			}
		}
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	stress_lfsr_init(&lfsr);
	if (argc == 7 && strcmp(argv[1], "streams") == 0) {
		nwriters = (unsigned)atoi(argv[5]);
		do_send = atoi(argv[6]) != 0;
		if (nwriters < 1 || nwriters > STRESS_MAX_WRITERS) {
			fprintf(stderr, "stress_peer: NWRITERS must be 1..%d\n",
				STRESS_MAX_WRITERS);
			return 2;
		}
		return streams(argv[2], atoi(argv[3]), atoi(argv[4]));
	}
	if (argc >= 4 && strcmp(argv[1], "echo") == 0)
		return echo(argv[2], argv + 3, argc - 3);
	fprintf(stderr, "usage: stress_peer streams HOST PORT NCONN NWRITERS SEND\n"
			"       stress_peer echo HOST PORT [PORT...]\n");
	return 2;
}
