/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * hostile: a program that attaches to shuntd the way the shim does (ctl.h) and then
 * abuses its region (abi.h) on purpose, to show that it can only break itself:
 *
 *   1. opens a few sockets properly and connects them to the peer's echo port;
 *   2. ROUNDS times: pushes a command with random op, flags, slot (in and out of
 *      range), address (inside the test prefix or unroutable) and value, and
 *      scribbles random values over random [app] and [dp] fields of random
 *      sockets, the wait slots and the free ring's consumer index;
 *   3. rewrites the control block's offsets and the channel's producer index so
 *      the ring is impossible (shuntd must detach it, not follow it);
 *   4. exits without saying goodbye.
 *
 *   hostile CONTROL_PATH PEER_IP PORT ROUNDS SEED
 *
 * Exit 0 when every step ran; what matters is what shuntd and the other programs
 * attached to it do meanwhile (tests/integration/test_hostile.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <shunt/ctl.h>
#include <shunt/ring.h>

static uint64_t rng;
static struct shunt_channel *chan; /* found once: the offsets are about to lie */
static struct shunt_region *reg;
static int doorbell = -1;
static int detached;                /* shuntd stopped draining: it gave up on us */

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static struct shunt_region *attach(const char *path, int *ctl_fd)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct shunt_ctl_hello h = {SHUNT_ABI_MAGIC, SHUNT_ABI_VERSION, SHUNT_CTL_HELLO, 0};
	struct shunt_ctl_welcome w;
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHUNT_CTL_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	int fd, fds[SHUNT_CTL_NFDS];
	void *r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, &h, sizeof(h), 0) != sizeof(h) || recvmsg(fd, &msg, 0) != sizeof(w) ||
	    w.status != 0 || (cm = CMSG_FIRSTHDR(&msg)) == NULL) {
		perror("hostile: attach");
		exit(2);
	}
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	r = mmap(NULL, w.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds[SHUNT_CTL_FD_REGION], 0);
	if (r == MAP_FAILED) {
		perror("hostile: mmap");
		exit(2);
	}
	*ctl_fd = fd;
	doorbell = fds[SHUNT_CTL_FD_DOORBELL];
	return r;
}


static void push(const struct shunt_cmd *c)
{
	int tries = 0;

	/* shuntd drains the ring; one that stays full for 100 ms has been detached
	 * (we broke it: that is the point), so stop waiting and keep scribbling */
	while (!detached && shunt_chan_push(chan, c) == -EAGAIN)
		if (++tries > 1000)
			detached = 1;
		else
			usleep(100);
	/* the doorbell rule of abi.h, so an idle shuntd wakes and drains */
	atomic_thread_fence(memory_order_seq_cst);
	if (SHUNT_LOAD_RLX(&reg->dp_sleeping)) {
		uint64_t one = 1;

		if (write(doorbell, &one, sizeof(one)) < 0)
			detached = 1;
	}
}

int main(int argc, char **argv)
{
	struct shunt_region *r;
	struct shunt_cmd c;
	uint32_t peer, nsocks, i, k, slots[4];
	long rounds;
	int ctl, n = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: hostile CONTROL PEER_IP PORT ROUNDS SEED\n");
		return 2;
	}
	peer = inet_addr(argv[2]);
	rounds = atol(argv[4]);
	rng = strtoull(argv[5], NULL, 0) | 1;
	r = attach(argv[1], &ctl);
	reg = r;
	nsocks = r->nsocks; /* read once, before we start lying to ourselves */
	chan = shunt_region_channel(r, 0);

	/* 1: honest sockets, connected to the echo port */
	for (i = 0; i < 4; i++) {
		int64_t s = shunt_free_pop(shunt_region_free(r), r->free_ring_size);

		if (s < 0)
			break;
		slots[n++] = (uint32_t)s;
		memset(&c, 0, sizeof(c));
		c.op = SHUNT_CMD_OPEN;
		c.sock = (uint32_t)s;
		c.arg = SHUNT_SOCK_STREAM;
		push(&c);
		c.op = SHUNT_CMD_CONNECT;
		c.addr.addr = peer;
		c.addr.port = htons((uint16_t)atoi(argv[3]));
		push(&c);
	}
	usleep(200000);

	/* 2: random commands and scribbles */
	for (k = 0; k < rounds; k++) {
		struct shunt_sock *sh;

		memset(&c, 0, sizeof(c));
		c.op = (uint16_t)(rnd() % (SHUNT_CMD_MAX + 3));
		c.flags = (uint16_t)rnd();
		c.sock = rnd() % 4 == 0 ? rnd() : (n ? slots[rnd() % n] : 0) + rnd() % 3;
		c.seq = rnd();
		c.arg = rnd() % 4 == 0 ? rnd() : rnd() % 16;
		/* only addresses of the test's own namespaces, or unroutable ones */
		c.addr.addr = rnd() % 2 ? peer : htonl(0x0a4e0000u | (rnd() & 0xffff));
		c.addr.port = (uint16_t)rnd();
		c.value = (uint64_t)rnd() << 32 | rnd();
		push(&c);

		sh = shunt_region_sock(r, rnd() % nsocks);
		switch (rnd() % 8) {
		case 0: sh->tx_prod = rnd(); break;
		case 1: sh->rx_cons = rnd(); break;
		case 2: sh->err_seen = rnd(); break;
		case 3: sh->state = rnd(); sh->flags = rnd(); break;  /* [dp] fields: ignored */
		case 4: sh->rx_prod = rnd(); sh->tx_cons = rnd(); break;
		case 5: r->wait[rnd() % SHUNT_WAIT_SLOTS].armed_seq = rnd(); break;
		case 6: /* a lying free ring detaches us: keep it for the last tenth */
			if (k > rounds / 10 * 9)
				shunt_region_free(r)->cons += rnd() % 3;
			break;
		default: memset(shunt_region_txbuf(r, rnd() % nsocks), (int)rnd(), 64); break;
		}
		if (k % 64 == 0)
			usleep(1000); /* let the dataplane interleave with the victim */
	}

	/* 3: impossible geometry and an impossible producer index */
	r->chan_off = 0x7fff00000000ull;
	r->free_off = (uint64_t)rnd() << 20;
	r->socks_off = 8;
	chan->prod += SHUNT_CMD_RING_SIZE * 3;
	usleep(200000);
	printf("hostile: %ld rounds done%s\n", rounds, detached ? " (detached on the way)" : "");
	return 0; /* 4: exit without closing anything */
}
