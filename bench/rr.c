/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * rr: the benchmark's TCP workloads, the same binary on both sides of a world.
 *
 *   rr serve PORT                   echo server: every message back, one thread per
 *                                   connection is not needed (one client at a time)
 *   rr rr HOST PORT N SIZE          one connection, N request/response round trips
 *                                   of SIZE bytes; prints latency percentiles (us)
 *   rr conn HOST PORT N             N times connect + one round trip + close;
 *                                   prints connections per second
 *
 * Output is one JSON object on stdout, read by bench/run.py. Plain blocking
 * sockets, TCP_NODELAY, no tricks: what an ordinary program does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RR_MAX_SIZE 65536

static uint64_t rr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn)) rr_die(const char *what)
{
	fprintf(stderr, "rr: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Read or write exactly n bytes; 0 at EOF before anything, -1 on error. */
static int rr_full(int fd, char *buf, size_t n, int writing)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 && done == 0 ? 0 : -1;
		done += (size_t)r;
	}
	return 1;
}

static int rr_connect(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		rr_die("socket");
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "rr: bad address %s\n", host);
		exit(2);
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		rr_die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void __attribute__((noreturn)) rr_serve(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	static char buf[RR_MAX_SIZE];

	if (ls < 0)
		rr_die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 128) < 0)
		rr_die("bind/listen");
	for (;;) {
		int c = accept(ls, NULL, NULL);
		ssize_t n;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			rr_die("accept");
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		while ((n = read(c, buf, sizeof(buf))) > 0)
			if (rr_full(c, buf, (size_t)n, 1) < 0)
				break;
		close(c);
	}
}

static int rr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int rr_rr(const char *host, int port, long n, long size)
{
	static char buf[RR_MAX_SIZE];
	uint64_t *lat = calloc((size_t)n, sizeof(*lat)), t0, total = 0;
	int fd = rr_connect(host, port);
	long i;

	if (lat == NULL)
		rr_die("calloc");
	memset(buf, 'r', (size_t)size);
	for (i = 0; i < n; i++) {
		t0 = rr_now_ns();
		if (rr_full(fd, buf, (size_t)size, 1) <= 0 || rr_full(fd, buf, (size_t)size, 0) <= 0)
			rr_die("round trip");
		lat[i] = rr_now_ns() - t0;
		total += lat[i];
	}
	close(fd);
	qsort(lat, (size_t)n, sizeof(*lat), rr_cmp);
	printf("{\"n\": %ld, \"size\": %ld, \"mean_us\": %.2f, \"p50_us\": %.2f, "
	       "\"p99_us\": %.2f, \"ops_per_s\": %.0f}\n", n, size, total / 1e3 / n,
	       lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, n / (total / 1e9));
	free(lat);
	return 0;
}

static int rr_conn(const char *host, int port, long n)
{
	char b = 'c';
	uint64_t t0 = rr_now_ns();
	long i;

	for (i = 0; i < n; i++) {
		int fd = rr_connect(host, port);

		if (rr_full(fd, &b, 1, 1) <= 0 || rr_full(fd, &b, 1, 0) <= 0)
			rr_die("round trip");
		close(fd);
	}
	printf("{\"n\": %ld, \"conns_per_s\": %.0f}\n", n, n / ((rr_now_ns() - t0) / 1e9));
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		rr_serve(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "rr") == 0) {
		long size = atol(argv[5]);

		if (size < 1 || size > RR_MAX_SIZE || atol(argv[4]) < 1)
			return 2;
		return rr_rr(argv[2], atoi(argv[3]), atol(argv[4]), size);
	}
	if (argc == 5 && strcmp(argv[1], "conn") == 0 && atol(argv[4]) > 0)
		return rr_conn(argv[2], atoi(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: rr serve PORT | rr rr HOST PORT N SIZE | rr conn HOST PORT N\n");
	return 2;
}
