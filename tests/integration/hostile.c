/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * hostile: a program that attaches to shuntd the way the shim does (ctl.h, ABI
 * version 2) and then abuses its region (abi.h) and its control connection on
 * purpose, to show that it can only break itself:
 *
 *   0. negotiation: a version-1 hello and a hello with no common version are refused
 *      with -EPROTONOSUPPORT and shuntd's range; a hello requiring an unknown
 *      feature too; then a proper attach;
 *   1. control requests: NOTIFY_SET with a socketpair end (accepted), with a pipe
 *      (-EBADF), out of range (-EINVAL), with no fd or three fds, garbage (-EINVAL),
 *      NOTIFY_CLEAR: each answer is checked;
 *   2. opens a few sockets properly (OPEN answered in the channel's reply with slot
 *      and generation) and connects them to the peer's echo port, subscribed to a
 *      notifier with a ready ring it never reads;
 *   3. stale generations: STALE_N commands naming a live slot with a wrong
 *      generation, and commands on a slot closed and reopened with the old one
 *      (shuntd must refuse and count them: test_hostile.py reads the count);
 *   4. ROUNDS times: pushes a command on a random channel with random op, flags,
 *      slot (in and out of range, SHUNT_SOCK_NONE), generation, address (inside the
 *      test prefix or unroutable) and value; scribbles random values over [app]
 *      and [dp] fields of random sockets (indices, sleepers, notify[], notify_all),
 *      notifiers (flags, sleepers, the ready consumer), channels (sleepers), the
 *      control block (chan_hint), and sends random control requests;
 *   5. rewrites the control block's offsets and a channel's producer index so the
 *      ring is impossible (shuntd must detach it, not follow it);
 *   6. exits without saying goodbye.
 *
 *   hostile CONTROL_PATH PEER_IP PORT ROUNDS SEED
 *
 * Prints "hostile: pid P ... S stale commands" and exits 0 when every step ran and
 * every checked answer was right (3 otherwise); what matters besides is what shuntd
 * and the other programs attached to it do meanwhile (test_hostile.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
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

#include "ctlclient.h"

#define NCHAN   4    /* channels this program announces in chan_hint */
#define NHONEST 4    /* honest sockets */
#define STALE_N 500  /* stale-generation commands of step 3 */

static uint64_t rng;
static struct shunt_region *reg;
static struct shunt_channel *chans[NCHAN]; /* found once: the offsets are about to lie */
static struct shunt_sock *socks;           /* likewise */
static uint32_t nsocks, nnotifiers;
static int doorbell = -1;
static int ctl = -1;
static int detached;                /* shuntd stopped draining: it gave up on us */
static int failures;
static uint32_t seq;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "hostile: wrong answer: %s\n", what);
		failures++;
	}
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("hostile: connect to the control socket");
		exit(2);
	}
	return fd;
}

/* Step 0: hellos that must be refused with shuntd's own range. */
static void negotiation(const char *path)
{
	struct shunt_ctl_welcome w;
	uint32_t v1[4] = {SHUNT_ABI_MAGIC, 1, SHUNT_CTL_HELLO, (uint32_t)getpid()};
	struct shunt_ctl_hello h = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_HELLO,
				    .version_min = 3, .version_max = 9};
	int fd;

	fd = ctl_connect(path);
	check(send(fd, v1, sizeof(v1), 0) == sizeof(v1), "send a v1 hello");
	check(ctlc_recv_welcome(fd, &w, NULL, 5000) == sizeof(w) && w.status == -EPROTONOSUPPORT &&
	      w.version == SHUNT_ABI_VERSION && w.version_min == SHUNT_ABI_VERSION_MIN,
	      "a v1 hello is refused with -EPROTONOSUPPORT and shuntd's range");
	close(fd);

	fd = ctl_connect(path);
	check(send(fd, &h, sizeof(h), 0) == sizeof(h), "send a v3..9 hello");
	check(ctlc_recv_welcome(fd, &w, NULL, 5000) == sizeof(w) && w.status == -EPROTONOSUPPORT &&
	      w.version == SHUNT_ABI_VERSION && w.nfds == 0,
	      "no common version: -EPROTONOSUPPORT, no fds");
	close(fd);

	fd = ctl_connect(path);
	h.version_min = SHUNT_ABI_VERSION_MIN;
	h.version_max = 1000;
	h.features = 0x80000000u | SHUNT_FEAT_READY;
	h.required = 0x80000000u; /* a feature nobody knows */
	check(send(fd, &h, sizeof(h), 0) == sizeof(h), "send a hello requiring bit 31");
	check(ctlc_recv_welcome(fd, &w, NULL, 5000) == sizeof(w) && w.status == -EPROTONOSUPPORT &&
	      (w.features & 0x80000000u) == 0,
	      "a required unknown feature: -EPROTONOSUPPORT");
	close(fd);
}

static struct shunt_region *attach(const char *path)
{
	struct shunt_ctl_hello h = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_HELLO,
				    .version_min = SHUNT_ABI_VERSION_MIN,
				    .version_max = SHUNT_ABI_VERSION + 5, /* a newer shim */
				    .features = SHUNT_FEAT_READY | 0x40000000u,
				    .pid = (uint32_t)getpid()};
	struct shunt_ctl_welcome w;
	int fds[SHUNT_CTL_NFDS] = {-1, -1};
	void *r;

	ctl = ctl_connect(path);
	if (send(ctl, &h, sizeof(h), 0) != sizeof(h) ||
	    ctlc_recv_welcome(ctl, &w, fds, 5000) != sizeof(w) ||
	    w.status != 0 || fds[0] < 0) {
		fprintf(stderr, "hostile: attach refused (status %d)\n", w.status);
		exit(2);
	}
	check(w.version == SHUNT_ABI_VERSION, "the agreed version is the highest common");
	check(w.features == SHUNT_FEAT_READY, "the agreed features are offered & known");
	r = mmap(NULL, w.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds[SHUNT_CTL_FD_REGION], 0);
	if (r == MAP_FAILED) {
		perror("hostile: mmap");
		exit(2);
	}
	doorbell = fds[SHUNT_CTL_FD_DOORBELL];
	return r;
}

/* ---- control requests ------------------------------------------------------------ */

/* Send a request of len bytes with nfds fds; returns 0 or -1. */
static int ctl_send(const void *q, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)q, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (nfds > 0) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfds);
	}
	return sendmsg(ctl, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

/* Wait (up to 2 s) for one answer; returns its status, or 1 if none came. */
static int ctl_answer(uint32_t *idx)
{
	struct shunt_ctl_notify a;
	struct pollfd p = {.fd = ctl, .events = POLLIN};

	if (poll(&p, 1, 2000) != 1 || recv(ctl, &a, sizeof(a), 0) != sizeof(a) ||
	    a.magic != SHUNT_ABI_MAGIC)
		return 1;
	if (idx != NULL)
		*idx = a.idx;
	return a.status;
}

static int notify_req(uint32_t op, uint32_t idx, const int *fds, int nfds)
{
	struct shunt_ctl_notify q = {.magic = SHUNT_ABI_MAGIC, .op = op, .idx = idx};

	if (ctl_send(&q, sizeof(q), fds, nfds) < 0)
		return 1;
	return ctl_answer(NULL);
}

/* A fresh wake socket: *mine is our end, returns the end to hand over. */
static int wake_pair(int *mine)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		perror("hostile: socketpair");
		exit(2);
	}
	*mine = sv[0];
	return sv[1];
}

/* Step 1: every kind of request, each answer checked. Returns our end of notifier
 * 0's wake socket. */
static int control_requests(void)
{
	char garbage[40];
	int mine, other, pp[2], three[3], i;
	uint32_t idx = 0;

	/* fds sent are copies: close ours after sending */
	other = wake_pair(&mine);
	check(notify_req(SHUNT_CTL_NOTIFY_SET, 0, &other, 1) == 0, "NOTIFY_SET 0 accepted");
	close(other);
	if (pipe(pp) < 0)
		exit(2);
	check(notify_req(SHUNT_CTL_NOTIFY_SET, 1, &pp[0], 1) == -EBADF,
	      "NOTIFY_SET with a pipe: -EBADF");
	close(pp[0]);
	close(pp[1]);
	other = wake_pair(&i);
	close(i);
	check(notify_req(SHUNT_CTL_NOTIFY_SET, nnotifiers, &other, 1) == -EINVAL,
	      "NOTIFY_SET out of range: -EINVAL");
	check(notify_req(SHUNT_CTL_NOTIFY_SET, 2, NULL, 0) == -EBADF,
	      "NOTIFY_SET without an fd: -EBADF");
	for (i = 0; i < 3; i++)
		three[i] = other;
	check(notify_req(SHUNT_CTL_NOTIFY_SET, 2, three, 3) == -EBADF,
	      "NOTIFY_SET with three fds: -EBADF");
	close(other);
	check(notify_req(SHUNT_CTL_NOTIFY_CLEAR, 2, NULL, 0) == 0, "NOTIFY_CLEAR of an unset one");
	check(notify_req(SHUNT_CTL_NOTIFY_CLEAR, 0xffffffffu, NULL, 0) == -EINVAL,
	      "NOTIFY_CLEAR out of range: -EINVAL");
	check(notify_req(77, 0, NULL, 0) == -EINVAL, "an unknown op: -EINVAL");
	for (i = 0; i < (int)sizeof(garbage); i++)
		garbage[i] = (char)rnd();
	check(ctl_send(garbage, sizeof(garbage), NULL, 0) == 0 && ctl_answer(&idx) == -EINVAL,
	      "garbage: -EINVAL");
	check(ctl_send(garbage, 3, NULL, 0) == 0 && ctl_answer(NULL) == -EINVAL,
	      "a short request: -EINVAL");
	return mine;
}

/* ---- commands ---------------------------------------------------------------------- */

static void push_on(uint32_t ch, const struct shunt_cmd *c)
{
	int tries = 0;

	/* shuntd drains the ring; one that stays full for 100 ms has been detached
	 * (we broke it: that is the point), so stop waiting and keep scribbling */
	while (!detached && shunt_chan_push(chans[ch], c) == -EAGAIN)
		if (++tries > 1000)
			detached = 1;
		else
			usleep(100);
	/* the doorbell rule of abi.h, so an idle shuntd wakes and drains */
	SHUNT_FENCE();
	if (SHUNT_LOAD_RLX(&reg->dp_sleeping)) {
		uint64_t one = 1;

		if (write(doorbell, &one, sizeof(one)) < 0)
			detached = 1;
	}
}

/* A synchronous command on channel 0, answered in its reply (spins up to 2 s).
 * Returns the result, or 1 if no answer came. */
static int call(struct shunt_cmd *c, uint32_t *sock, uint32_t *gen)
{
	struct shunt_channel *ch = chans[0];
	int i;

	c->flags = SHUNT_CMDF_SYNC;
	c->seq = ++seq;
	push_on(0, c);
	for (i = 0; i < 20000 && SHUNT_LOAD_ACQ(&ch->reply.seq) != seq; i++)
		usleep(100);
	if (SHUNT_LOAD_ACQ(&ch->reply.seq) != seq)
		return 1;
	if (sock != NULL)
		*sock = ch->reply.sock;
	if (gen != NULL)
		*gen = ch->reply.gen;
	return ch->reply.result;
}

int main(int argc, char **argv)
{
	struct shunt_region *r;
	struct shunt_notifier *notif;
	struct shunt_cmd c;
	uint32_t peer, k, slots[NHONEST], gens[NHONEST], stale = 0, s2, g1, g2;
	unsigned long bytes = 0;
	long rounds;
	int n = 0, wake, rc;
	char drain[256];

	if (argc != 6) {
		fprintf(stderr, "usage: hostile CONTROL PEER_IP PORT ROUNDS SEED\n");
		return 2;
	}
	peer = inet_addr(argv[2]);
	rounds = atol(argv[4]);
	rng = strtoull(argv[5], NULL, 0) | 1;

	/* 0 */
	negotiation(argv[1]);
	r = attach(argv[1]);
	reg = r;
	/* read once, before we start lying to ourselves */
	nsocks = r->nsocks;
	nnotifiers = r->nnotifiers;
	for (k = 0; k < NCHAN; k++)
		chans[k] = shunt_region_channel(r, k);
	socks = shunt_region_sock(r, 0);
	notif = shunt_region_notifier(r, 0);
	SHUNT_STORE_REL(&r->chan_hint[0], NCHAN);

	/* 1 */
	wake = control_requests();
	notif[0].flags = SHUNT_NOTIFY_READY;

	/* 2: honest sockets, connected to the echo port, watched by notifier 0 */
	for (k = 0; k < NHONEST; k++) {
		memset(&c, 0, sizeof(c));
		c.op = SHUNT_CMD_OPEN;
		c.sock = SHUNT_SOCK_NONE;
		c.arg = SHUNT_SOCK_STREAM;
		rc = call(&c, &slots[n], &gens[n]);
		check(rc == 0 && slots[n] < nsocks && gens[n] != 0, "OPEN answered with a slot");
		if (rc != 0 || slots[n] >= nsocks)
			break;
		check(socks[slots[n]].gen == gens[n], "the slot shows its generation");
		socks[slots[n]].notify[0] = 1;
		memset(&c, 0, sizeof(c));
		c.op = SHUNT_CMD_CONNECT;
		c.sock = slots[n];
		c.gen = gens[n];
		c.addr.addr = peer;
		c.addr.port = htons((uint16_t)atoi(argv[3]));
		check(call(&c, NULL, NULL) == 0, "CONNECT accepted");
		n++;
	}
	notif[0].fd_sleepers = 1; /* and "asleep" on the wake socket for good */
	usleep(200000);

	/* 3: stale generations, on live slots and on a slot closed and reopened */
	if (n > 0) {
		for (k = 0; k < STALE_N; k++) {
			memset(&c, 0, sizeof(c));
			c.op = (uint16_t)(SHUNT_CMD_BIND +
					  rnd() % (SHUNT_CMD_DISCONNECT - SHUNT_CMD_BIND + 1));
			if (c.op == SHUNT_CMD_CLOSE)
				c.op = SHUNT_CMD_SEND;
			c.sock = slots[k % (uint32_t)n];
			c.gen = gens[k % (uint32_t)n] + 1 + rnd() % 1000;
			c.addr.addr = peer;
			if (k % 50 == 0) {
				check(call(&c, NULL, NULL) == -EBADF, "a stale command is -EBADF");
			} else {
				push_on(k % NCHAN, &c);
			}
			stale++;
		}
		memset(&c, 0, sizeof(c));
		c.op = SHUNT_CMD_OPEN;
		c.sock = SHUNT_SOCK_NONE;
		c.arg = SHUNT_SOCK_DGRAM;
		if (call(&c, &s2, &g1) == 0) {
			memset(&c, 0, sizeof(c));
			c.op = SHUNT_CMD_CLOSE;
			c.sock = s2;
			c.gen = g1;
			push_on(0, &c);
			memset(&c, 0, sizeof(c));
			c.op = SHUNT_CMD_OPEN;
			c.sock = SHUNT_SOCK_NONE;
			c.arg = SHUNT_SOCK_DGRAM;
			rc = call(&c, &k, &g2);
			check(rc == 0 && k == s2 && g2 != g1, "a freed slot comes back, new gen");
			memset(&c, 0, sizeof(c));
			c.op = SHUNT_CMD_CONNECT; /* with the first generation */
			c.sock = s2;
			c.gen = g1;
			c.addr.addr = peer;
			check(call(&c, NULL, NULL) == -EBADF, "the old generation is stale");
			stale++;
		}
	}

	/* 4: random commands, scribbles and control requests */
	for (k = 0; k < rounds; k++) {
		struct shunt_sock *sh;
		struct shunt_notifier *nt;
		uint32_t pick = n ? rnd() % (uint32_t)n : 0;

		memset(&c, 0, sizeof(c));
		c.op = (uint16_t)(rnd() % (SHUNT_CMD_MAX + 3));
		c.flags = (uint16_t)rnd();
		switch (rnd() % 8) {
		case 0: c.sock = rnd(); break;
		case 1: c.sock = SHUNT_SOCK_NONE; break;
		default: c.sock = (n ? slots[pick] : 0) + rnd() % 3; break;
		}
		c.gen = rnd() % 2 && n ? gens[pick] : rnd();
		c.seq = rnd();
		c.arg = rnd() % 4 == 0 ? rnd() : rnd() % 16;
		/* only addresses of the test's own namespaces, or unroutable ones */
		c.addr.addr = rnd() % 2 ? peer : htonl(0x0a4e0000u | (rnd() & 0xffff));
		c.addr.port = (uint16_t)rnd();
		c.value = (uint64_t)rnd() << 32 | rnd();
		push_on(rnd() % NCHAN, &c);

		sh = &socks[rnd() % (n && rnd() % 2 ? slots[pick] + 1 : nsocks)];
		nt = &notif[rnd() % 8];
		switch (rnd() % 12) {
		case 0: sh->tx_prod = rnd(); break;
		case 1: sh->rx_cons = rnd(); break;
		case 2: sh->err_seen = rnd(); sh->eq_seen = rnd(); break;
		case 3: sh->state = rnd(); sh->flags = rnd(); sh->gen = rnd(); break; /* [dp]: ignored */
		case 4: sh->rx_prod = rnd(); sh->tx_cons = rnd(); sh->rx_off = rnd(); break;
		case 5: sh->notify[rnd() % SHUNT_SOCK_NOTIFY] =
				rnd() % 2 ? rnd() : rnd() % (nnotifiers + 2); break;
		case 6: sh->notify_all = rnd() % 2; sh->sleepers = rnd() % 3; break;
		case 7: nt->flags = rnd(); nt->futex_sleepers = rnd() % 2; nt->fd_sleepers = rnd() % 2;
			nt->seq = rnd(); nt->ready_prod = rnd(); break;
		case 8: /* a lying ready ring detaches us: keep it for the last tenth */
			if (k > rounds / 10 * 9)
				nt->ready_cons += rnd() % 600;
			break;
		case 9: r->chan_hint[0] = rnd() % 2 ? rnd() : rnd() % 80;
			chans[rnd() % NCHAN]->sleepers = rnd() % 2; break;
		case 10: {
			struct shunt_ctl_notify q = {.magic = rnd() % 8 ? SHUNT_ABI_MAGIC : rnd(),
						     .op = 3 + rnd() % 3,
						     .idx = rnd() % 2 ? rnd() % 16 : rnd()};
			int mine, other = wake_pair(&mine), two[2] = {other, other};
			uint8_t msg[32] = {0}; /* room for the odd lengths sent */

			memcpy(msg, &q, sizeof(q));
			(void)ctl_send(msg, rnd() % 4 ? sizeof(q) : rnd() % 32, two,
				       (int)(rnd() % 3));
			close(other);
			close(mine);
			break;
		}
		default:
			memset((uint8_t *)r + r->bufs_off + (uint64_t)(rnd() % (n ? slots[pick] + 2 : 1)) *
			       (r->rx_buf_size + r->tx_buf_size), (int)rnd(), 64);
			break;
		}
		if (k % 64 == 0) {
			usleep(1000); /* let the dataplane interleave with the victim */
			while (recv(ctl, drain, sizeof(drain), MSG_DONTWAIT) > 0)
				; /* answers to the random requests */
			while (recv(wake, drain, sizeof(drain), MSG_DONTWAIT) > 0)
				bytes++;
		}
	}

	/* 5: impossible geometry and an impossible producer index */
	r->chan_off = 0x7fff00000000ull;
	r->notif_off = (uint64_t)rnd() << 20;
	r->socks_off = 8;
	r->bufs_off = ~0ull;
	r->chan_hint[0] = NCHAN;
	chans[0]->prod += SHUNT_CMD_RING_SIZE * 3;
	SHUNT_FENCE();
	if (SHUNT_LOAD_RLX(&reg->dp_sleeping)) {
		uint64_t one = 1;

		(void)!write(doorbell, &one, sizeof(one));
	}
	usleep(200000);
	printf("hostile: pid %d: %ld rounds done%s, %u stale commands, %lu wake bytes, "
	       "%d wrong answers\n", (int)getpid(), rounds,
	       detached ? " (detached on the way)" : "", stale, bytes, failures);
	return failures ? 3 : 0; /* 6: exit without closing anything */
}
