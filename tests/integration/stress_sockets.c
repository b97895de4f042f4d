/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_sockets: one process opens, uses and closes TOTAL TCP sockets in waves of
 * WAVE open at once, and reports its memory after each wave. Plain POSIX sockets;
 * runs under `shunt` (or on the kernel) against `stress_peer echo HOST PORT...`.
 *
 *   stress_sockets HOST PORTBASE NPORTS TOTAL WAVE [hold] [burst=N]
 *
 * With `hold`, after the first wave's echoes (all WAVE connections open) it prints
 * "holding N" and waits for SIGUSR1 before closing them, so that the test can
 * measure the server that holds them.
 *
 * With `burst=N`, no step touches more than N sockets at once, so no more than
 * about N segments are ever in flight toward the server (a NIC's queue is finite;
 * the tap of the test bed drops what overflows it): the wave is opened N sockets
 * at a time (connect, send, read the echoes), and closed N at a time, each one
 * first shut down for writing and read to its end (recv() must return 0: the
 * server closed its side too) before close().
 *
 * Each wave: socket() + connect() WAVE sockets (socket i of the run to port
 * PORTBASE + i % NPORTS: closed client ports sit in TIME_WAIT, and a local port
 * can be reused only toward another destination), send each an 8-byte token,
 * read each one's echo back (every byte compared), close them all (each of these
 * steps over the whole wave, or over N sockets at a time with burst=N). After each
 * wave the number of open descriptors must be back to what it was before the
 * first wave (no descriptor leaked), and the process prints
 *   wave N: S sockets (T in all) in X s; fds F; VmRSS R kB, VmHWM H kB;
 *   region Size Z kB, Rss R kB, Pss P kB
 * (the region: mappings of the shim's "shunt-region" memfd, from
 * /proc/self/smaps; none on the kernel). Memory is reported, not judged.
 * Exit 0 when every exchange was right and nothing leaked, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stress_proc.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* opendir's own */
}

static uint64_t token(uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;

	return x ^ x >> 31;
}

static int fail(uint64_t i, const char *what, int err)
{
	fprintf(stderr, "stress_sockets: socket %llu of the run: %s: %s%s\n",
		(unsigned long long)i, what, err ? strerror(err) : "wrong data",
		err == ENETUNREACH ? " (a socket the stack did not take stays on the kernel, "
				     "which has no route here)" : "");
	return 1;
}

/* Open fds[0..n) (socket i of the run is first + i) and echo a token on each,
 * `burst` sockets at a time. 0, or 1 after saying what failed. */
static int open_wave(int *fds, unsigned long n, unsigned long burst, uint64_t first,
		     struct sockaddr_in *a, int portbase, unsigned long nports)
{
	unsigned long c, i, end;

	for (c = 0; c < n; c = end) {
		end = n - c < burst ? n : c + burst;
		for (i = c; i < end; i++) {
			uint64_t g = first + i;

			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			if (fds[i] < 0)
				return fail(g, "socket", errno);
			a->sin_port = htons((uint16_t)(portbase + g % nports));
			if (connect(fds[i], (struct sockaddr *)a, sizeof(*a)) < 0)
				return fail(g, "connect", errno);
		}
		for (i = c; i < end; i++) {
			uint64_t t = token(first + i);

			if (send(fds[i], &t, sizeof(t), MSG_NOSIGNAL) != sizeof(t))
				return fail(first + i, "send", errno);
		}
		for (i = c; i < end; i++) {
			uint64_t t = 0;
			ssize_t k = recv(fds[i], &t, sizeof(t), MSG_WAITALL);

			if (k < 0)
				return fail(first + i, "recv", errno);
			if (k != sizeof(t) || t != token(first + i))
				return fail(first + i, "recv", 0);
		}
	}
	return 0;
}

/* Close fds[0..n): at once, or (paced) `burst` at a time, each shut down for
 * writing and read to the server's EOF first. 0, or 1 after saying what failed. */
static int close_wave(int *fds, unsigned long n, unsigned long burst, bool paced,
		      uint64_t first)
{
	unsigned long c, i, end;
	char b;

	for (c = 0; c < n; c = end) {
		end = n - c < burst ? n : c + burst;
		for (i = c; paced && i < end; i++)
			if (shutdown(fds[i], SHUT_WR) < 0)
				return fail(first + i, "shutdown", errno);
		for (i = c; paced && i < end; i++) {
			ssize_t k = recv(fds[i], &b, 1, 0);

			if (k != 0)
				return fail(first + i, "recv (the server's EOF)", k < 0 ? errno : 0);
		}
		for (i = c; i < end; i++)
			if (close(fds[i]) < 0)
				return fail(first + i, "close", errno);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned long total, wave, nports, burst = 0, done = 0;
	/* static: reachable until exit, so LeakSanitizer does not count them */
	static int *fds;
	int base_fds, portbase, w = 0, i;
	struct rlimit rl;
	double t_all;
	bool hold = false, paced, bad = argc < 6;
	sigset_t usr1;

	for (i = 6; i < argc; i++) {
		if (strcmp(argv[i], "hold") == 0)
			hold = true;
		else if (strncmp(argv[i], "burst=", 6) == 0 && atol(argv[i] + 6) > 0)
			burst = strtoul(argv[i] + 6, NULL, 10);
		else
			bad = true;
	}
	if (bad) {
		fprintf(stderr, "usage: stress_sockets HOST PORTBASE NPORTS TOTAL WAVE [hold] "
			"[burst=N]\n");
		return 2;
	}
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL); /* taken by sigwait() below */
	portbase = atoi(argv[2]);
	nports = strtoul(argv[3], NULL, 10);
	total = strtoul(argv[4], NULL, 10);
	wave = strtoul(argv[5], NULL, 10);
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || nports == 0 || wave == 0)
		return 2;
	paced = burst != 0;
	if (!paced)
		burst = wave;
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* WAVE sockets at once, plus what the process (and the shim) already holds. */
	rl.rlim_cur = rl.rlim_max = wave + 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < wave + 1024) {
		rl.rlim_cur = wave + 1024;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			perror("stress_sockets: setrlimit(RLIMIT_NOFILE)");
			return 1;
		}
	}
	fds = calloc(wave, sizeof(*fds));

	/* The first AF_INET socket attaches the shim (its control socket, region and
	 * eventfds stay open for good): the baseline is taken after it. */
	close(socket(AF_INET, SOCK_STREAM, 0));
	base_fds = count_fds();
	t_all = now_s();
	while (done < total) {
		unsigned long n = total - done < wave ? total - done : wave;
		long size, rss, pss;
		double t0 = now_s();
		int nfds;

		if (open_wave(fds, n, burst, done, &a, portbase, nports) != 0)
			return 1;
		if (hold && w == 0) {
			int sig;

			printf("holding %lu\n", n);
			sigwait(&usr1, &sig);
		}
		if (close_wave(fds, n, burst, paced, done) != 0)
			return 1;
		done += n;
		w++;
		nfds = count_fds();
		region_kb(&size, &rss, &pss);
		printf("wave %d: %lu sockets (%lu in all) in %.2f s; fds %d; VmRSS %ld kB, "
		       "VmHWM %ld kB; region Size %ld kB, Rss %ld kB, Pss %ld kB\n", w, n, done,
		       now_s() - t0, nfds, status_kb("VmRSS"), status_kb("VmHWM"), size, rss,
		       pss);
		if (nfds != base_fds) {
			fprintf(stderr, "stress_sockets: after wave %d, %d descriptors are open, "
				"%d before the first wave\n", w, nfds, base_fds);
			return 1;
		}
	}
	printf("total=%lu waves=%d seconds=%.1f fds=%d ok\n", done, w, now_s() - t_all, base_fds);
	return 0;
}
