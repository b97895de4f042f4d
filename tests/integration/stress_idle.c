/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_idle: does an idle connection give back the memory its past traffic
 * touched? One process opens N TCP connections, moves BYTES each way on every one
 * (sent and echoed back 4 KiB at a time, every byte compared), then keeps them
 * open and idle and watches its shared region's resident size until it is below
 * one 4 KiB page per connection, or LIMIT seconds pass. Every connection that moved
 * data has written at least one page of each of its two rings, so below one page
 * per connection means the rings of idle connections were given back. Then it exchanges once more on every
 * connection (the rings must still work after their pages were given back) and
 * closes them. Plain POSIX sockets; runs under `shunt` against
 * `stress_peer echo HOST PORT...`.
 *
 *   stress_idle HOST PORTBASE NPORTS N BYTES LIMIT
 *
 * Prints
 *   busy: N connections, B bytes each way; region Rss R kB; VmRSS V kB
 *   idle: after S s; region Rss R kB (P bytes per connection); VmRSS V kB
 *   again: every connection echoed after idling
 *   ok
 * and exits 0, or 1 with the reason (a wrong byte, an error, or the region never
 * shrinking: "idle: not given back").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stress_proc.h"

static uint8_t pattern(int conn, size_t i, int round)
{
	return (uint8_t)((size_t)conn * 131u + i * 7u + (size_t)round * 29u);
}

#define CHUNK 4096 /* echoed before the next is sent: the peer's writes never fall short */

/* Send len bytes of the pattern on fd, CHUNK at a time, each echo read back and
 * compared. Returns 0, an errno, or -1 for a wrong byte. */
static int exchange(int fd, int conn, size_t len, int round, uint8_t *buf)
{
	size_t off, got, i, k;
	ssize_t n;

	for (off = 0; off < len; off += k) {
		k = len - off < CHUNK ? len - off : CHUNK;
		for (i = 0; i < k; i++)
			buf[i] = pattern(conn, off + i, round);
		for (got = 0; got < k; got += (size_t)n) {
			n = send(fd, buf + got, k - got, MSG_NOSIGNAL);
			if (n <= 0)
				return errno ? errno : EIO;
		}
		for (got = 0; got < k; got += (size_t)n) {
			n = recv(fd, buf + CHUNK + got, k - got, 0);
			if (n <= 0)
				return n == 0 ? EPIPE : errno;
		}
		for (i = 0; i < k; i++)
			if (buf[CHUNK + i] != pattern(conn, off + i, round))
				return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct rlimit rl;
	/* static: reachable until exit, so LeakSanitizer does not count them */
	static int *fds;
	static uint8_t *buf;
	long size, busy, rss, pss;
	int portbase, nports, n, i, rc;
	double t0, limit;
	size_t bytes;

	if (argc != 7 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: stress_idle HOST PORTBASE NPORTS N BYTES LIMIT\n");
		return 2;
	}
	portbase = atoi(argv[2]);
	nports = atoi(argv[3]);
	n = atoi(argv[4]);
	bytes = (size_t)atol(argv[5]);
	limit = atof(argv[6]);
	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		perror("stress_idle: setrlimit");
		return 1;
	}
	fds = calloc((size_t)n, sizeof(*fds));
	buf = malloc(2 * CHUNK);
	if (fds == NULL || buf == NULL)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < n; i++) {
		a.sin_port = htons((uint16_t)(portbase + i % nports));
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "stress_idle: connection %d: %s\n", i, strerror(errno));
			return 1;
		}
		rc = exchange(fds[i], i, bytes, 0, buf);
		if (rc != 0) {
			fprintf(stderr, "stress_idle: connection %d: %s\n", i,
				rc < 0 ? "wrong data" : strerror(rc));
			return 1;
		}
	}
	region_kb(&size, &busy, &pss);
	printf("busy: %d connections, %zu bytes each way; region Rss %ld kB; VmRSS %ld kB\n",
	       n, bytes, busy, status_kb("VmRSS"));

	/* Idle: look every 100 ms until the region holds less than a page each. */
	t0 = now_s();
	do {
		struct timespec ts = { 0, 100000000 };

		nanosleep(&ts, NULL);
		region_kb(&size, &rss, &pss);
	} while (rss >= 4L * n && now_s() - t0 < limit);
	printf("idle: after %.1f s; region Rss %ld kB (%ld bytes per connection); VmRSS %ld kB\n",
	       now_s() - t0, rss, rss * 1024 / n, status_kb("VmRSS"));
	if (rss >= 4L * n) {
		fprintf(stderr, "stress_idle: idle: not given back (%ld kB, %ld kB after the "
			"traffic, %.0f s idle)\n", rss, busy, limit);
		return 1;
	}

	for (i = 0; i < n; i++) {
		rc = exchange(fds[i], i, bytes, 1, buf);
		if (rc != 0) {
			fprintf(stderr, "stress_idle: connection %d after idling: %s\n", i,
				rc < 0 ? "wrong data" : strerror(rc));
			return 1;
		}
	}
	printf("again: every connection echoed after idling\n");
	for (i = 0; i < n; i++)
		close(fds[i]);
	printf("ok\n");
	return 0;
}
