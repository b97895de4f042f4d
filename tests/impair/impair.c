/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * impair: a netem for this kernel (which has no sch_netem), on NFQUEUE.
 *
 *   impair [--seed N] [--mark M] QUEUE:SPEC [QUEUE:SPEC ...]
 *
 * Each QUEUE is one direction of the path under test, fed by an iptables rule
 * (tests/impair/impair.py attaches them in the peer netns, the same way on a
 * veth and on shuntd's tap):
 *   mangle PREROUTING  -i DEV -m mark ! --mark M -j NFQUEUE --queue-num Q_TO_PEER
 *   mangle POSTROUTING -o DEV -m mark ! --mark M -j NFQUEUE --queue-num Q_FROM_PEER
 * SPEC is impair_model.h's "loss=10%,delay=50ms,...".
 *
 * Call flow: main() -> loop() -> recv_all() -> nfq_handle_packet() -> on_packet()
 *   -> impair_decide() -> verdict now (drop, or accept if nothing waits) or
 *   hold(); loop() -> release_due() -> accept() in release order -> send_dup().
 *
 * Packets are held in the kernel, not copied: the tool keeps only their ids and
 * gives each its verdict (NF_ACCEPT) when its time comes, so nothing is rewritten.
 * A duplicate is the only copy made: the packet's bytes re-sent through a raw socket
 * whose SO_MARK the rules skip; the kernel routes it like the original (out of DEV,
 * or to the local peer through lo). Verdicts are given in release order, so the
 * order on the wire is the order of the verdicts.
 *
 * Prints "impair: ready ..." once every queue is bound (attach the rules after
 * that: a queue nobody listens on drops). SIGUSR1 prints the counters as one JSON
 * line; SIGTERM/SIGINT accept everything still held (nothing is lost on the way
 * out), print the counters and exit 0. The kernel's own drops for each queue (its
 * queue full, our socket too slow) are read from /proc/net/netfilter/
 * nfnetlink_queue and printed with the counters: they must stay 0.
 */
#include "impair_model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>

#define MAX_QUEUES 8
#define COPY_META 128            /* enough for the IP header's length field */
#define RCVBUF (16 << 20)        /* room for bursts while we sleep */

struct held {
	uint32_t id;
	uint64_t release_ns;
	bool reorder;
	uint8_t *copy;           /* the packet's bytes, for a duplicate; else NULL */
	uint32_t len;
};

struct counters {
	uint64_t seen, passed, drop_loss, drop_burst, drop_buffer, drop_limit;
	uint64_t delayed, reordered, duplicated, dup_failed, verdict_failed, max_held;
};

struct queue {
	uint16_t num;
	char spec_text[256];
	struct impair_dir dir;
	struct nfq_q_handle *qh;
	struct held *ring;       /* FIFO in release order, capacity spec.limit */
	uint32_t head, count, cap;
	struct held back;        /* a reordered packet waiting to be overtaken */
	bool back_used;
	uint64_t back_deadline_ns;
	struct counters c;
};

static struct queue queues[MAX_QUEUES];
static unsigned nqueues;
static int raw4 = -1, raw6 = -1;
static uint64_t now_ns;          /* read once per batch by loop() */
static volatile sig_atomic_t want_stats, want_exit;

static uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_stats = 1;
	else
		want_exit = 1;
}

/* The packet's length from its IP header (we may have copied only its start). */
static uint32_t ip_len(const uint8_t *p, int n)
{
	if (n >= 20 && (p[0] >> 4) == 4)
		return ((uint32_t)p[2] << 8) | p[3];
	if (n >= 40 && (p[0] >> 4) == 6)
		return 40 + (((uint32_t)p[4] << 8) | p[5]);
	return n > 0 ? (uint32_t)n : 0;
}

/* Re-send a copy through a raw socket marked so that our rules let it by. */
static void send_dup(struct queue *q, const uint8_t *p, uint32_t len)
{
	ssize_t r = -1;
	if (len >= 20 && (p[0] >> 4) == 4) {
		struct sockaddr_in to = { .sin_family = AF_INET };
		memcpy(&to.sin_addr, p + 16, 4);
		r = sendto(raw4, p, len, 0, (struct sockaddr *)&to, sizeof(to));
	} else if (len >= 40 && (p[0] >> 4) == 6) {
		struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
		memcpy(&to.sin6_addr, p + 24, 16);
		r = sendto(raw6, p, len, 0, (struct sockaddr *)&to, sizeof(to));
	}
	if (r == (ssize_t)len)
		q->c.duplicated++;
	else
		q->c.dup_failed++;
}

static void verdict(struct queue *q, uint32_t id, uint32_t v)
{
	if (nfq_set_verdict(q->qh, id, v, 0, NULL) < 0)
		q->c.verdict_failed++;
}

static void accept_held(struct queue *q, struct held *h)
{
	verdict(q, h->id, NF_ACCEPT);
	q->c.passed++;
	if (h->copy) {
		send_dup(q, h->copy, h->len);
		free(h->copy);
		h->copy = NULL;
	}
}

static uint32_t held_count(const struct queue *q)
{
	return q->count + (q->back_used ? 1 : 0);
}

/* Release, in order, every held packet whose time has come. A packet flagged for
 * reordering steps aside when it reaches the head and goes right after the next
 * one released (or at its deadline if none comes). */
static void release_due(struct queue *q, bool all)
{
	while (q->count) {
		struct held *h = &q->ring[q->head];
		if (!all && h->release_ns > now_ns)
			break;
		struct held cur = *h;
		q->head = (q->head + 1) % q->cap;
		q->count--;
		if (cur.reorder && !q->back_used && !all) {
			q->back = cur;
			q->back_used = true;
			q->back_deadline_ns = now_ns + q->dir.spec.reorder_max_ns;
			q->c.reordered++;
			continue;
		}
		accept_held(q, &cur);
		if (q->back_used) {
			accept_held(q, &q->back);
			q->back_used = false;
		}
	}
	if (q->back_used && (all || q->back_deadline_ns <= now_ns)) {
		accept_held(q, &q->back);
		q->back_used = false;
	}
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg,
		     struct nfq_data *nfa, void *arg)
{
	struct queue *q = arg;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *payload = NULL;
	int n = nfq_get_payload(nfa, &payload);
	struct impair_decision d;
	(void)qh;
	(void)msg;

	if (!ph)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	uint32_t len = ip_len(payload, n);
	q->c.seen++;
	impair_decide(&q->dir, now_ns, len, &d);
	switch (d.fate) {
	case IMPAIR_DROP_LOSS:
		q->c.drop_loss++;
		goto drop;
	case IMPAIR_DROP_BURST:
		q->c.drop_burst++;
		goto drop;
	case IMPAIR_DROP_BUFFER:
		q->c.drop_buffer++;
		goto drop;
	case IMPAIR_PASS:
		break;
	}
	if (!q->count && !q->back_used && !d.reorder && d.release_ns <= now_ns) {
		/* the fast path: nothing to wait for, nothing ahead of it */
		verdict(q, id, NF_ACCEPT);
		q->c.passed++;
		if (d.dup && n > 0 && (uint32_t)n >= len)
			send_dup(q, payload, len);
		else if (d.dup)
			q->c.dup_failed++;
		return 0;
	}
	if (q->count == q->cap) {
		q->c.drop_limit++;
		goto drop;
	}
	struct held *h = &q->ring[(q->head + q->count) % q->cap];
	*h = (struct held){ .id = id, .release_ns = d.release_ns, .reorder = d.reorder };
	if (d.dup && n > 0 && (uint32_t)n >= len && (h->copy = malloc(len))) {
		memcpy(h->copy, payload, len);
		h->len = len;
	} else if (d.dup) {
		q->c.dup_failed++;
	}
	q->count++;
	q->c.delayed++;
	if (held_count(q) > q->c.max_held)
		q->c.max_held = held_count(q);
	return 0;
drop:
	verdict(q, id, NF_DROP);
	return 0;
}

/* The kernel's drops for queue num: queue_dropped (queue full) and
 * queue_user_dropped (our socket's buffer full), from this netns's proc file. */
static void kernel_drops(uint16_t num, uint64_t *full, uint64_t *user)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned qn, portid, total, mode, range;
	unsigned long long qd, ud;
	char line[256];

	*full = *user = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %u %u %u %u %llu %llu", &qn, &portid, &total, &mode,
			   &range, &qd, &ud) == 7 && qn == num) {
			*full = qd;
			*user = ud;
		}
	fclose(f);
}

static void print_stats(void)
{
	printf("{");
	for (unsigned i = 0; i < nqueues; i++) {
		struct queue *q = &queues[i];
		struct counters *c = &q->c;
		uint64_t kfull, kuser;
		kernel_drops(q->num, &kfull, &kuser);
		printf("%s\"%u\": {\"spec\": \"%s\", \"seen\": %" PRIu64 ", \"passed\": %" PRIu64
		       ", \"drop_loss\": %" PRIu64 ", \"drop_burst\": %" PRIu64
		       ", \"drop_buffer\": %" PRIu64 ", \"drop_limit\": %" PRIu64
		       ", \"delayed\": %" PRIu64 ", \"reordered\": %" PRIu64
		       ", \"duplicated\": %" PRIu64 ", \"dup_failed\": %" PRIu64
		       ", \"verdict_failed\": %" PRIu64 ", \"max_held\": %" PRIu64
		       ", \"held\": %u, \"kernel_queue_full\": %" PRIu64
		       ", \"kernel_socket_full\": %" PRIu64 "}",
		       i ? ", " : "", q->num, q->spec_text, c->seen, c->passed, c->drop_loss,
		       c->drop_burst, c->drop_buffer, c->drop_limit, c->delayed, c->reordered,
		       c->duplicated, c->dup_failed, c->verdict_failed, c->max_held,
		       held_count(q), kfull, kuser);
	}
	printf("}\n");
	fflush(stdout);
}

/* Drain the netlink socket without blocking; each message runs on_packet(). */
static int recv_all(struct nfq_handle *h, int fd, uint8_t *buf, size_t size)
{
	for (;;) {
		ssize_t r = recv(fd, buf, size, MSG_DONTWAIT);
		if (r > 0) {
			nfq_handle_packet(h, (char *)buf, (int)r);
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r < 0 && errno == ENOBUFS)
			continue; /* counted by the kernel (kernel_socket_full) */
		fprintf(stderr, "impair: recv: %s\n", r ? strerror(errno) : "EOF");
		return -1;
	}
}

static int loop(struct nfq_handle *h)
{
	int fd = nfq_fd(h);
	size_t size = 0x10000 + 4096;
	uint8_t *buf = malloc(size);
	int rc = 0;

	if (!buf)
		return -1;
	while (!want_exit) {
		uint64_t next = UINT64_MAX;
		now_ns = clock_ns();
		for (unsigned i = 0; i < nqueues; i++) {
			struct queue *q = &queues[i];
			if (q->count && q->ring[q->head].release_ns < next)
				next = q->ring[q->head].release_ns;
			if (q->back_used && q->back_deadline_ns < next)
				next = q->back_deadline_ns;
		}
		/* ppoll: a nanosecond timeout, so a delay is not rounded to whole ms */
		struct timespec ts, *tsp = NULL;
		if (next != UINT64_MAX) {
			uint64_t wait = next > now_ns ? next - now_ns : 0;
			ts.tv_sec = (time_t)(wait / 1000000000ull);
			ts.tv_nsec = (long)(wait % 1000000000ull);
			tsp = &ts;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = ppoll(&pfd, 1, tsp, NULL);
		if (pr < 0 && errno != EINTR) {
			perror("impair: ppoll");
			rc = -1;
			break;
		}
		now_ns = clock_ns();
		if (pr > 0 && recv_all(h, fd, buf, size) < 0) {
			rc = -1;
			break;
		}
		for (unsigned i = 0; i < nqueues; i++)
			release_due(&queues[i], false);
		if (want_stats) {
			want_stats = 0;
			print_stats();
		}
	}
	free(buf);
	return rc;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: impair [--seed N] [--mark M] QUEUE:SPEC [QUEUE:SPEC ...]\n"
		"  SPEC: comma-separated loss=PCT burst=PCT/LEN delay=T jitter=T\n"
		"        reorder=PCT reorder_max=T dup=PCT rate=R buffer=BYTES limit=N\n"
		"  (PCT as 10 or 10%%; T in us, ms (default) or s; R in bit/kbit/mbit/gbit)\n"
		"  --mark: the SO_MARK of duplicates, which the rules must skip (0x494d)\n");
}

static int open_raw(int family, uint32_t mark)
{
	int s = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0) {
		fprintf(stderr, "impair: raw socket (family %d): %s\n", family, strerror(errno));
		return -1;
	}
	return s;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "mark", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	uint32_t mark = 0x494d;
	struct nfq_handle *h = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			mark = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		default:
			usage();
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind == argc || argc - optind > MAX_QUEUES) {
		usage();
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		struct queue *q = &queues[nqueues];
		struct impair_spec spec;
		char err[256], *end;
		unsigned long num = strtoul(argv[i], &end, 10);
		if (end == argv[i] || *end != ':' || num > 65535) {
			fprintf(stderr, "impair: '%s': expected QUEUE:SPEC\n", argv[i]);
			return 2;
		}
		if (impair_spec_parse(end + 1, &spec, err, sizeof(err)) < 0) {
			fprintf(stderr, "impair: queue %lu: %s\n", num, err);
			return 2;
		}
		q->num = (uint16_t)num;
		snprintf(q->spec_text, sizeof(q->spec_text), "%s", end + 1);
		impair_dir_init(&q->dir, &spec, seed + nqueues);
		q->cap = spec.limit;
		q->ring = calloc(q->cap, sizeof(*q->ring));
		if (!q->ring) {
			perror("impair: calloc");
			return 1;
		}
		nqueues++;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	raw4 = open_raw(AF_INET, mark);
	raw6 = open_raw(AF_INET6, mark);
	if (raw4 < 0 || raw6 < 0)
		goto out;
	h = nfq_open();
	if (!h) {
		fprintf(stderr, "impair: nfq_open: %s (root? CONFIG_NETFILTER_NETLINK_QUEUE?)\n",
			strerror(errno));
		goto out;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(h), RCVBUF);
	int one = 1;
	setsockopt(nfq_fd(h), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	for (unsigned i = 0; i < nqueues; i++) {
		struct queue *q = &queues[i];
		bool dup = q->dir.spec.dup > 0;
		q->qh = nfq_create_queue(h, q->num, on_packet, q);
		if (!q->qh) {
			fprintf(stderr, "impair: queue %u: cannot bind (in use?): %s\n", q->num,
				strerror(errno));
			goto out;
		}
		/* Whole packets only when a duplicate may need them. The queue's kernel
		 * limit matches ours, so the kernel never drops before we decide. */
		if (nfq_set_mode(q->qh, NFQNL_COPY_PACKET, dup ? 0xffff : COPY_META) < 0 ||
		    nfq_set_queue_maxlen(q->qh, q->cap + 1024) < 0) {
			fprintf(stderr, "impair: queue %u: cannot configure: %s\n", q->num,
				strerror(errno));
			goto out;
		}
	}
	printf("impair: ready seed=%" PRIu64 " queues=%u\n", seed, nqueues);
	fflush(stdout);
	rc = loop(h) < 0 ? 1 : 0;
	now_ns = clock_ns();
	for (unsigned i = 0; i < nqueues; i++)
		release_due(&queues[i], true); /* whatever is held goes now */
	print_stats();
out:
	for (unsigned i = 0; i < nqueues; i++)
		if (queues[i].qh)
			nfq_destroy_queue(queues[i].qh);
	if (h)
		nfq_close(h);
	return rc;
}
