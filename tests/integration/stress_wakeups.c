/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_wakeups: N threads each blocked in recv() on its own TCP socket; data
 * reaches one socket at a time, and each time exactly that thread must wake.
 * Plain POSIX sockets and pthreads, no hook into any socket layer: wake-ups are
 * counted by the kernel's per-thread scheduling statistics
 * (/proc/self/task/TID/schedstat, third field: times the thread got a CPU; a
 * thread asleep in recv() gets one only when it is woken). Runs under `shunt` (or on the kernel, as the control)
 * against `stress_peer echo`.
 *
 *   stress_wakeups HOST PORT NTHREADS ALLOW
 *
 * 1. NTHREADS connections; thread j blocks in recv() on connection j.
 * 2. Once every thread is asleep (state S in /proc/self/task/TID/stat), the main
 *    thread takes the baseline, then for each thread k in a shuffled order (one
 *    round each): sends one byte on connection k (the peer echoes it), waits
 *    until thread k reports that its recv() returned it, and reads every
 *    thread's counter again.
 * 3. In round r, the still-blocked threads (addressed in a later round) were not
 *    addressed: any growth of their counter is a wake-up meant for another
 *    socket. Thread k's counter must have grown (it slept and was woken: this
 *    shows the measurement sees wake-ups at all).
 *
 * Fails (exit 1) when a recv() returns in another thread's round or returns the
 * wrong data, when the addressed thread's wake-up is not seen, or when a thread
 * was woken more than ALLOW times in total while not addressed. Why a constant,
 * and why small: a thread blocked on socket j has nothing to do until socket j
 * changes, so each such wake-up is wasted; Linux (the control) does none. ALLOW
 * is not per round: a wait primitive may return spuriously once in a while (a
 * wake left in a futex word or eventfd by an earlier waiter, a lock handed over
 * on the way into recv()), but a design that wakes waiters of other sockets does
 * it on every event, so its count grows with the rounds (thread k sees up to
 * NTHREADS - 1 of them) and exceeds any constant. Prints
 *   rounds=N unaddressed=TOTAL max_thread=M threads_over=K rounds_with_others=R
 *   max_others_in_round=X addressed_seen=N
 * and one line per thread over ALLOW.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_S 20 /* every thread must be asleep within this */
#define ROUND_S  10 /* the addressed thread must return within this */

struct waiter {
	int fd;
	pthread_t t;
	atomic_int tid;
	atomic_int returned_in; /* round in which recv() returned, -1 before */
	uint8_t expect;
	int got;                /* bytes recv() returned */
	uint8_t byte;
	int err;
	long last;              /* times it ran, at the last reading */
	long unaddressed;       /* growth while another thread was addressed */
	int pos;                /* its round */
};

static struct waiter *ws;
static int nthreads;
static atomic_int round_now = -1;
static sem_t ready, done, finish;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	uint8_t buf[16];
	ssize_t k;

	atomic_store(&w->tid, gettid());
	sem_post(&ready);
	do
		k = recv(w->fd, buf, sizeof(buf), 0);
	while (k < 0 && errno == EINTR);
	w->got = (int)k;
	w->err = k < 0 ? errno : 0;
	if (k > 0)
		w->byte = buf[0];
	atomic_store(&w->returned_in, atomic_load(&round_now));
	sem_post(&done);
	while (sem_wait(&finish) < 0 && errno == EINTR)
		;
	return NULL;
}

/* How many times thread tid got a CPU: the third field of
 * /proc/self/task/TID/schedstat (sched_info_arrive() counts it each time the
 * thread is switched in), or -1. A thread asleep in recv() gains exactly one per
 * wake-up, counted when it runs, not when it next sleeps (which is when
 * voluntary_ctxt_switches would count it: too late for a snapshot). */
static long runs(int tid)
{
	char path[64], buf[256];
	unsigned long long run_ns, wait_ns, n;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	if (sscanf(buf, "%llu %llu %llu", &run_ns, &wait_ns, &n) != 3)
		return -1;
	return (long)n;
}

/* The state letter of /proc/self/task/TID/stat (after "(comm) "). */
static char task_state(int tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stress_wakeups: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	/* static: reachable until exit, so LeakSanitizer does not count them */
	static int *order;
	int i, r, allow, over = 0, rounds_with_others = 0, max_others = 0;
	long total = 0, max_thread = 0;
	pthread_attr_t attr;
	uint32_t x = 0x2545f491u;
	int64_t deadline;
	bool asleep;

	if (argc != 5) {
		fprintf(stderr, "usage: stress_wakeups HOST PORT NTHREADS ALLOW\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	nthreads = atoi(argv[3]);
	allow = atoi(argv[4]);
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || nthreads < 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	ws = calloc((size_t)nthreads, sizeof(*ws));
	order = calloc((size_t)nthreads, sizeof(*order));
	sem_init(&ready, 0, 0);
	sem_init(&done, 0, 0);
	sem_init(&finish, 0, 0);

	for (i = 0; i < nthreads; i++) {
		ws[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (ws[i].fd < 0 || connect(ws[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			return fail("connection %d: connect: %s", i, strerror(errno));
		ws[i].returned_in = -1;
		ws[i].expect = (uint8_t)(i * 7 + 1);
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&ws[i].t, &attr, waiter_main, &ws[i]) != 0)
			return fail("pthread_create %d failed", i);
	for (i = 0; i < nthreads; i++)
		sem_wait(&ready);

	/* Every thread asleep at once: from here on a counter grows only by a wake-up. */
	deadline = now_ns() + (int64_t)SETTLE_S * 1000000000;
	do {
		asleep = true;
		for (i = 0; i < nthreads && asleep; i++)
			asleep = task_state(ws[i].tid) == 'S';
		if (!asleep) {
			if (now_ns() > deadline)
				return fail("thread %d (tid %d) not asleep after %d s", i - 1,
					    ws[i - 1].tid, SETTLE_S);
			sched_yield(); /* polling the condition: let them get there */
		}
	} while (!asleep);
	for (i = 0; i < nthreads; i++) {
		ws[i].last = runs(ws[i].tid);
		order[i] = i;
	}
	for (i = nthreads - 1; i > 0; i--) { /* shuffled: not the order they slept in */
		int j, t;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		j = (int)(x % (uint32_t)(i + 1));
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	for (i = 0; i < nthreads; i++)
		ws[order[i]].pos = i;
	for (r = 0; r < nthreads; r++) {
		struct waiter *k = &ws[order[r]];
		struct timespec until;
		int others = 0;
		long v;

		atomic_store(&round_now, r);
		if (send(k->fd, &k->expect, 1, MSG_NOSIGNAL) != 1)
			return fail("round %d: send to connection %d failed (errno %d)", r,
				    order[r], errno);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ROUND_S;
		while (sem_timedwait(&done, &until) < 0) {
			if (errno != EINTR)
				return fail("round %d: thread %d did not return from recv() "
					    "within %d s", r, order[r], ROUND_S);
		}
		for (i = 0; i < nthreads; i++) {
			int in = atomic_load(&ws[i].returned_in);

			if (i == order[r] && in != r)
				return fail("round %d: thread %d's recv() returned in round %d",
					    r, i, in);
			if (i != order[r] && in == r)
				return fail("round %d: thread %d's recv() returned, but "
					    "connection %d was addressed", r, i, order[r]);
		}
		if (k->got != 1 || k->byte != k->expect)
			return fail("round %d: thread %d's recv() returned %d byte(s), not the "
				    "one sent (errno %d)", r, order[r], k->got, k->err);
		for (i = r; i < nthreads; i++) {
			struct waiter *w = &ws[order[i]];

			v = runs(w->tid);
			if (v < 0)
				return fail("cannot read thread %d's counters", order[i]);
			if (i == r && v == w->last)
				return fail("round %d: thread %d returned from recv() but did not "
					    "run (schedstat %ld): is /proc measuring?", r,
					    order[r], v);
			if (i > r) {
				w->unaddressed += v - w->last;
				others += v > w->last;
			}
			w->last = v;
		}
		rounds_with_others += others > 0;
		if (others > max_others)
			max_others = others;
	}
	for (i = 0; i < nthreads; i++) {
		total += ws[i].unaddressed;
		if (ws[i].unaddressed > max_thread)
			max_thread = ws[i].unaddressed;
		if (ws[i].unaddressed > allow) {
			over++;
			printf("thread %d: woken %ld times while other sockets were addressed "
			       "(in the %d rounds before its own)\n", i, ws[i].unaddressed,
			       ws[i].pos);
		}
	}
	printf("rounds=%d unaddressed=%ld max_thread=%ld threads_over=%d rounds_with_others=%d "
	       "max_others_in_round=%d addressed_seen=%d allow=%d\n", nthreads, total,
	       max_thread, over, rounds_with_others, max_others, nthreads, allow);
	for (i = 0; i < nthreads; i++)
		sem_post(&finish);
	for (i = 0; i < nthreads; i++) {
		pthread_join(ws[i].t, NULL);
		close(ws[i].fd);
	}
	return over ? 1 : 0;
}
