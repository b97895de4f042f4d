/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * flood: TCP SYNs as fast as this machine sends them, for a while (issue 9's SYN
 * flood; synflood.py sends a counted few from spoofed sources, this one a rate).
 *
 *   flood SRC DST PORT SECONDS [PORT_SPAN]
 *
 * SYNs from SRC (random source ports, random sequence numbers) to DST:PORT, or to
 * a port drawn from [PORT, PORT + PORT_SPAN) for each SYN, through a raw socket,
 * 64 to a sendmmsg(), until SECONDS have passed. Run in the peer netns with SRC
 * the peer's own address, the answers (RSTs, SYN-ACKs) come back to a kernel that
 * has no socket for them, as in a flood from a real host. Prints "flood: started"
 * once the first SYNs are out, and "flood: N SYNs in S s (R/s)" at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

struct pkt {
	struct iphdr ip;
	struct tcphdr tcp;
};

static uint64_t rng = 88172645463325252ull;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/* RFC 1071 over n bytes (read with memcpy: no aliasing of the headers). */
static uint16_t csum(const void *p, size_t n, uint32_t sum)
{
	const uint8_t *b = p;
	uint16_t w;

	for (; n > 1; n -= 2, b += 2) {
		memcpy(&w, b, 2);
		sum += w;
	}
	if (n)
		sum += *b;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void build(struct pkt *p, uint32_t src, uint32_t dst, uint16_t dport)
{
	/* the pseudo header's words, summed as the bytes lie in memory */
	uint32_t sum = (src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16) +
		       htons(IPPROTO_TCP) + htons(sizeof(p->tcp));

	memset(p, 0, sizeof(*p));
	p->ip.version = 4;
	p->ip.ihl = 5;
	p->ip.tot_len = htons(sizeof(*p));
	p->ip.id = (uint16_t)next_rand();
	p->ip.ttl = 64;
	p->ip.protocol = IPPROTO_TCP;
	p->ip.saddr = src;
	p->ip.daddr = dst;
	p->tcp.source = htons((uint16_t)(1024 + next_rand() % 64000));
	p->tcp.dest = htons(dport);
	p->tcp.seq = next_rand();
	p->tcp.doff = 5;
	p->tcp.syn = 1;
	p->tcp.window = htons(65535);
	p->tcp.check = csum(&p->tcp, sizeof(p->tcp), sum);
	/* the kernel fills the IP checksum of a raw IPPROTO_RAW packet */
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct pkt pkts[BATCH];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct in_addr src, dst;
	unsigned long span = 1, sent = 0;
	double start, secs, t;
	unsigned port;
	int fd, n, i;

	if (argc < 5 || inet_pton(AF_INET, argv[1], &src) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst) != 1 || (port = (unsigned)atoi(argv[3])) == 0 ||
	    port > 65535 || (secs = atof(argv[4])) <= 0 ||
	    (argc > 5 && ((span = strtoul(argv[5], NULL, 10)) == 0 || port + span > 65536))) {
		fprintf(stderr, "usage: flood SRC DST PORT SECONDS [PORT_SPAN]\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		perror("flood: socket");
		return 1;
	}
	rng ^= (uint64_t)getpid() << 32 | (uint64_t)time(NULL);
	to.sin_addr = dst;
	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = &pkts[i];
		iov[i].iov_len = sizeof(pkts[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof(to);
	}
	/* the first batch is out: whoever waits for the flood may go */
	start = now_s();
	do {
		for (i = 0; i < BATCH; i++)
			build(&pkts[i], src.s_addr, dst.s_addr,
			      (uint16_t)(port + (span > 1 ? next_rand() % span : 0)));
		n = sendmmsg(fd, msgs, BATCH, 0);
		if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			perror("flood: sendmmsg");
			return 1;
		}
		if (n > 0 && sent == 0) {
			printf("flood: started\n");
			fflush(stdout);
		}
		if (n > 0)
			sent += (unsigned long)n;
		t = now_s() - start;
	} while (t < secs);
	printf("flood: %lu SYNs in %.2f s (%.0f/s)\n", sent, t, (double)sent / t);
	return 0;
}
