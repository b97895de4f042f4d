/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_signal: a signal handler that calls send() on a TCP socket while the
 * code it interrupted is inside send(). POSIX lists send() as async-signal-safe,
 * so a program may do this; a socket layer that takes a lock (or waits for an
 * earlier sender) inside send() deadlocks when the handler interrupts its own
 * thread there. Runs under `shunt` (or on the kernel, as the control) against
 * `stress_peer streams HOST PORT NCONN 2 0`.
 *
 *   stress_signal HOST PORT same|other SECONDS INTERVAL_US STALL_SECONDS
 *
 * The main thread sends writer 0's tagged stream (stress.h) on socket 0 in send()
 * calls of 1 byte .. 32 KiB for SECONDS. SIGALRM (setitimer, every INTERVAL_US,
 * SA_RESTART) runs a handler that sends one record of 16..256 bytes of writer 1's
 * stream: on socket 0 too ("same"), or on socket 1 ("other"). Both finish short
 * sends, so the peer can check every byte of both streams on each connection.
 *
 * A watchdog thread (SIGALRM blocked) fails the run when neither the main thread
 * nor the handler completes a send for STALL_SECONDS: it prints where each one is
 * and exits 3 (a hang, reported instead of waited out). On success prints
 *   sock ID w0=N w1=N            (bytes of each writer on that socket)
 *   signals=N in_send=N main_calls=N handler_records=N
 * where in_send counts the signals that arrived while the main thread was inside
 * send(), and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

#define MAIN_MAX 32768

static int fds[2];
static int hfd;                          /* the handler's socket */
static struct stress_wstream wmain, whandler;
static uint32_t hrnd = 0x2545f491u;      /* the handler's sizes; only it touches it */

static atomic_bool main_in_send, handler_in_send;
static atomic_ulong main_calls, handler_records, signals, in_send;
static atomic_int handler_err, main_err;
static double stall_s;
static int64_t t0;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Whole record or an error; only async-signal-safe calls. */
static int send_all(int fd, const uint8_t *p, size_t n, struct stress_wstream *w)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = send(fd, p + off, n - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->pos -= n - off; /* never left */
			return k < 0 ? errno : EIO;
		}
		off += (size_t)k;
	}
	return 0;
}

static void on_alarm(int sig)
{
	int saved = errno, err;
	uint8_t rec[256];
	size_t n = 16 + rnd(&hrnd) % 241;

	(void)sig;
	atomic_fetch_add(&signals, 1);
	if (atomic_load(&main_in_send))
		atomic_fetch_add(&in_send, 1);
	if (atomic_load(&handler_err) == 0) {
		atomic_store(&handler_in_send, true);
		stress_wstream_fill(&whandler, 1, rec, n);
		err = send_all(hfd, rec, n, &whandler);
		atomic_store(&handler_in_send, false);
		if (err)
			atomic_store(&handler_err, err);
		else
			atomic_fetch_add(&handler_records, 1);
	}
	errno = saved;
}

static void say(const char *s)
{
	(void)!write(2, s, strlen(s));
}

/* Progress is a completed send by either side. */
static void *watchdog(void *arg)
{
	struct timespec step = { 0, 50 * 1000000 };
	unsigned long last = 0;
	int64_t since = now_ns();

	(void)arg;
	for (;;) {
		unsigned long p = atomic_load(&main_calls) + atomic_load(&handler_records);
		int64_t t = now_ns();

		if (p != last) {
			last = p;
			since = t;
		} else if (t - since > (int64_t)(stall_s * 1e9)) {
			char msg[512];

			snprintf(msg, sizeof(msg),
				 "stress_signal: HANG: no send() completed for %.1f s, %.2f s into "
				 "the run: main thread %s send(), signal handler %s send(); "
				 "signals %lu (%lu while main was inside send()), main sends %lu, "
				 "handler records %lu\n",
				 stall_s, (double)(t - t0) / 1e9,
				 atomic_load(&main_in_send) ? "INSIDE" : "not in",
				 atomic_load(&handler_in_send) ? "INSIDE" : "not in",
				 atomic_load(&signals), atomic_load(&in_send),
				 atomic_load(&main_calls), atomic_load(&handler_records));
			say(msg);
			_exit(3);
		}
		nanosleep(&step, NULL); /* the watchdog's sampling period */
	}
	return NULL;
}

static int connect_to(const struct sockaddr_in *a, uint32_t id)
{
	uint32_t id_be = htonl(id);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 ||
	    send(fd, &id_be, sizeof(id_be), MSG_NOSIGNAL) != sizeof(id_be)) {
		fprintf(stderr, "stress_signal: connection %u: %s\n", id, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct itimerval it = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	sigset_t set;
	pthread_t wd;
	/* static: reachable until exit, so LeakSanitizer does not count it */
	static uint8_t *buf;
	uint32_t x = 0x9e3779b9u;
	bool other;
	double secs;
	int64_t end;
	int interval_us, err;

	if (argc != 7 || (strcmp(argv[3], "same") && strcmp(argv[3], "other"))) {
		fprintf(stderr, "usage: stress_signal HOST PORT same|other SECONDS INTERVAL_US "
			"STALL_SECONDS\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
		return 2;
	other = strcmp(argv[3], "other") == 0;
	secs = atof(argv[4]);
	interval_us = atoi(argv[5]);
	stall_s = atof(argv[6]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	fds[0] = connect_to(&a, 0);
	fds[1] = other ? connect_to(&a, 1) : -1;
	hfd = other ? fds[1] : fds[0];
	stress_wstream_init(&wmain, 0, 0);
	stress_wstream_init(&whandler, other ? 1 : 0, 1);
	buf = malloc(MAIN_MAX);

	/* The watchdog never takes SIGALRM: created with it blocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&wd, NULL, watchdog, NULL) != 0)
		return 1;
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	it.it_interval.tv_usec = interval_us;
	it.it_value.tv_usec = interval_us;
	t0 = now_ns();
	end = t0 + (int64_t)(secs * 1e9);
	setitimer(ITIMER_REAL, &it, NULL);

	while (now_ns() < end) {
		uint32_t r = rnd(&x);
		size_t n = r % 4 == 0 ? 1 + (r >> 8) % MAIN_MAX : 1 + (r >> 8) % 2048;

		stress_wstream_fill(&wmain, 0, buf, n);
		atomic_store(&main_in_send, true);
		err = send_all(fds[0], buf, n, &wmain);
		atomic_store(&main_in_send, false);
		if (err) {
			atomic_store(&main_err, err);
			break;
		}
		atomic_fetch_add(&main_calls, 1);
	}

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* no handler from here on */
	if (atomic_load(&main_err) || atomic_load(&handler_err)) {
		fprintf(stderr, "stress_signal: send failed: main %s, handler %s\n",
			strerror(atomic_load(&main_err)), strerror(atomic_load(&handler_err)));
		return 1;
	}
	if (other) {
		printf("sock 0 w0=%llu w1=0\n", (unsigned long long)wmain.pos);
		printf("sock 1 w0=0 w1=%llu\n", (unsigned long long)whandler.pos);
	} else {
		printf("sock 0 w0=%llu w1=%llu\n", (unsigned long long)wmain.pos,
		       (unsigned long long)whandler.pos);
	}
	printf("signals=%lu in_send=%lu main_calls=%lu handler_records=%lu\n",
	       atomic_load(&signals), atomic_load(&in_send), atomic_load(&main_calls),
	       atomic_load(&handler_records));
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0 && (shutdown(fds[i], SHUT_WR) < 0 || close(fds[i]) < 0)) {
			fprintf(stderr, "stress_signal: shutdown/close: %s\n", strerror(errno));
			return 1;
		}
	return 0;
}
