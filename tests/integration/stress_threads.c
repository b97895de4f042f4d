/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * stress_threads: many threads sending and receiving on shared TCP sockets, every
 * byte checked. Plain POSIX sockets and pthreads; runs under `shunt` (or on the
 * kernel, as the control) against `stress_peer streams ... NWRITERS 1`.
 *
 *   stress_threads HOST PORT NSOCK WRITERS READERS SECONDS
 *
 * Opens NSOCK connections (each starts with its 4-byte id), then runs WRITERS +
 * READERS threads per socket for SECONDS:
 *   - writers send the socket's tagged writer streams (stress.h) in send() calls
 *     of varied size (1 byte .. 64 KiB); a short send is continued, so each
 *     writer's stream reaches the peer whole while writers interleave freely;
 *     the peer checks every byte at its position in its writer's stream;
 *   - readers recv() pieces of varied size from the socket's recurrence stream
 *     and check that every byte of a piece follows from the four before it (a
 *     corrupted byte, or a piece that is not contiguous in the stream, fails),
 *     and add the piece to the socket's byte histogram.
 * Then writers stop, each socket is half-closed, readers read to EOF, and the
 * histogram of each socket must equal that of the first N bytes of its stream.
 * A recv() must return ONE contiguous piece of the stream, as Linux's does (it
 * holds the socket lock for the whole call); the histogram tells whether bytes
 * were lost or only handed out of order. Prints per socket:
 *   sock ID ok w0=N w1=N ... recv=N sends=N recvs=N seamed=N
 * (the test compares the w counts and recv with what the peer says) or "sock ID FAIL ...: why",
 * and exits 0 when every socket is ok.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

#define MAX_IO 65536

struct sock {
	int fd;
	uint32_t id;
	struct stress_wstream w[STRESS_MAX_WRITERS]; /* writer i uses only w[i] */
	uint64_t sends[STRESS_MAX_WRITERS];
	pthread_mutex_t lock;          /* the fields below */
	uint64_t hist[256];
	uint64_t recvd, recvs;
	uint64_t seamed;               /* recv() calls that were not one piece */
	char err[512];
};

struct worker {
	struct sock *s;
	unsigned idx; /* writer id, or reader number */
	pthread_t t;
};

static struct stress_lfsr lfsr;
static atomic_bool stop;

static void sock_fail(struct sock *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sock_fail(struct sock *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->err[0]) {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Mostly small sends (as a request/response program makes), some large ones
 * (which fill the send buffer and are split by both stacks). */
static size_t io_size(uint32_t *x)
{
	uint32_t r = rnd(x);

	if (r % 8 == 0)
		return 1 + (r >> 8) % MAX_IO;
	return 1 + (r >> 8) % 1500;
}

static void *writer(void *arg)
{
	struct worker *wk = arg;
	struct sock *s = wk->s;
	struct stress_wstream *w = &s->w[wk->idx];
	uint32_t x = 0x1234567u + s->id * 131u + wk->idx;
	uint8_t *buf = malloc(MAX_IO);

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		size_t n = io_size(&x), off = 0;

		stress_wstream_fill(w, wk->idx, buf, n);
		while (off < n) {
			ssize_t k = send(s->fd, buf + off, n - off, MSG_NOSIGNAL);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				sock_fail(s, "writer %u: send: %s", wk->idx,
					  k < 0 ? strerror(errno) : "returned 0");
				w->pos -= n - off; /* those never left */
				goto out;
			}
			off += (size_t)k;
		}
		s->sends[wk->idx]++;
	}
out:
	free(buf);
	return NULL;
}

static void *reader(void *arg)
{
	struct worker *wk = arg;
	struct sock *s = wk->s;
	uint32_t x = 0x7654321u + s->id * 137u + wk->idx;
	uint8_t *buf = malloc(MAX_IO);
	uint64_t hist[256] = { 0 }, recvd = 0, recvs = 0;

	for (;;) {
		size_t want = io_size(&x);
		ssize_t k = recv(s->fd, buf, want, 0);
		size_t bad;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			sock_fail(s, "reader %u: recv: %s", wk->idx, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		recvs++;
		if ((size_t)k > want) {
			sock_fail(s, "reader %u: recv returned %zd for %zu", wk->idx, k, want);
			break;
		}
		bad = stress_rstream_check(&lfsr, buf, (size_t)k);
		if (bad < (size_t)k) {
			/* Where does the recurrence hold again? A seam (pieces of the
			 * stream joined, bytes between them gone to another reader)
			 * resumes at once and for long; a corrupted byte breaks it again
			 * four bytes later, where it leaves the window. */
			size_t at = bad, pieces = 1, shortest = bad;
			char where[96];
			int wl = 0;

			while (at < (size_t)k) {
				size_t next = at + stress_rstream_check(&lfsr, buf + at,
									(size_t)k - at);

				if (next - at < shortest)
					shortest = next - at;
				if (wl < (int)sizeof(where) - 24)
					wl += snprintf(where + wl, sizeof(where) - wl, "%s%zu",
						       pieces > 1 ? "," : "", at);
				pieces++;
				at = next;
			}
			pthread_mutex_lock(&s->lock);
			s->seamed++;
			pthread_mutex_unlock(&s->lock);
			sock_fail(s, "reader %u: a recv() of %zd bytes returned %zu pieces of "
				  "the stream, each contiguous but not with each other (new "
				  "piece at byte %s; shortest %zu bytes)", wk->idx, k, pieces,
				  where, shortest);
		}
		for (ssize_t i = 0; i < k; i++)
			hist[buf[i]]++;
		recvd += (uint64_t)k;
	}
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < 256; i++)
		s->hist[i] += hist[i];
	s->recvd += recvd;
	s->recvs += recvs;
	pthread_mutex_unlock(&s->lock);
	free(buf);
	return NULL;
}

/* The histogram of the first s->recvd bytes of the socket's stream. */
static void sock_final_check(struct sock *s)
{
	uint64_t want[256] = { 0 }, left = s->recvd;
	struct stress_rstream r;
	uint8_t *buf = malloc(MAX_IO);

	stress_rstream_init(&r, s->id);
	while (left > 0) {
		size_t n = left < MAX_IO ? (size_t)left : MAX_IO;

		stress_rstream_fill(&lfsr, &r, buf, n);
		for (size_t i = 0; i < n; i++)
			want[buf[i]]++;
		left -= n;
	}
	free(buf);
	for (int i = 0; i < 256; i++)
		if (want[i] != s->hist[i]) {
			/* this says more than a seam does: it replaces it */
			snprintf(s->err, sizeof(s->err), "the %llu bytes received are not the "
				 "first %llu bytes of the stream: byte value 0x%02x came %llu "
				 "times, expected %llu (and %llu recv() calls were not one "
				 "piece)", (unsigned long long)s->recvd,
				 (unsigned long long)s->recvd, i, (unsigned long long)s->hist[i],
				 (unsigned long long)want[i], (unsigned long long)s->seamed);
			return;
		}
	if (s->seamed) {
		size_t l = strlen(s->err);

		snprintf(s->err + l, sizeof(s->err) - l, "; %llu such recv() calls, no byte "
			 "lost (the histogram of all bytes received matches)",
			 (unsigned long long)s->seamed);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned nsock, nw, nr, i, j, bad = 0;
	/* static: reachable until exit, so LeakSanitizer does not count them */
	static struct sock *socks;
	static struct worker *wks;
	struct timespec ts;
	double secs;

	if (argc != 7) {
		fprintf(stderr, "usage: stress_threads HOST PORT NSOCK WRITERS READERS SECONDS\n");
		return 2;
	}
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	nsock = (unsigned)atoi(argv[3]);
	nw = (unsigned)atoi(argv[4]);
	nr = (unsigned)atoi(argv[5]);
	secs = atof(argv[6]);
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || nsock == 0 || nw == 0 ||
	    nw > STRESS_MAX_WRITERS || nr == 0) {
		fprintf(stderr, "stress_threads: bad arguments\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	stress_lfsr_init(&lfsr);
	socks = calloc(nsock, sizeof(*socks));
	wks = calloc((size_t)nsock * (nw + nr), sizeof(*wks));
	for (i = 0; i < nsock; i++) {
		struct sock *s = &socks[i];
		uint32_t id_be = htonl(i);

		s->id = i;
		pthread_mutex_init(&s->lock, NULL);
		for (j = 0; j < nw; j++)
			stress_wstream_init(&s->w[j], i, j);
		s->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			fprintf(stderr, "stress_threads: socket %u: connect: %s\n", i,
				strerror(errno));
			return 1;
		}
		if (send(s->fd, &id_be, sizeof(id_be), MSG_NOSIGNAL) != sizeof(id_be)) {
			fprintf(stderr, "stress_threads: socket %u: send id: %s\n", i,
				strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < nsock; i++)
		for (j = 0; j < nw + nr; j++) {
			struct worker *wk = &wks[i * (nw + nr) + j];

			wk->s = &socks[i];
			wk->idx = j < nw ? j : j - nw;
			if (pthread_create(&wk->t, NULL, j < nw ? writer : reader, wk) != 0) {
				fprintf(stderr, "stress_threads: pthread_create failed\n");
				return 1;
			}
		}
	fprintf(stderr, "stress_threads: %u sockets, %u threads running for %.1f s\n",
		nsock, nsock * (nw + nr), secs);
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		; /* the duration of the run: what the test measures over */
	atomic_store(&stop, true);
	for (i = 0; i < nsock; i++) {
		for (j = 0; j < nw; j++)
			pthread_join(wks[i * (nw + nr) + j].t, NULL);
		if (shutdown(socks[i].fd, SHUT_WR) < 0)
			sock_fail(&socks[i], "shutdown: %s", strerror(errno));
	}
	for (i = 0; i < nsock; i++) {
		struct sock *s = &socks[i];
		uint64_t sends = 0;
		char line[1024];
		int n;

		for (j = nw; j < nw + nr; j++)
			pthread_join(wks[i * (nw + nr) + j].t, NULL);
		sock_final_check(s); /* also after a seam: were bytes lost, or moved? */
		close(s->fd);
		for (j = 0; j < nw; j++)
			sends += s->sends[j];
		n = snprintf(line, sizeof(line), "sock %u %s", s->id, s->err[0] ? "FAIL" : "ok");
		for (j = 0; j < nw; j++)
			n += snprintf(line + n, sizeof(line) - n, " w%u=%llu", j,
				      (unsigned long long)s->w[j].pos);
		n += snprintf(line + n, sizeof(line) - n,
			      " recv=%llu sends=%llu recvs=%llu seamed=%llu",
			      (unsigned long long)s->recvd, (unsigned long long)sends,
			      (unsigned long long)s->recvs, (unsigned long long)s->seamed);
		if (s->err[0])
			snprintf(line + n, sizeof(line) - n, ": %s", s->err);
		printf("%s\n", line);
		bad += s->err[0] != 0;
	}
	return bad ? 1 : 0;
}
