/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * appfuzz: the application side of issue 9's fuzzing. For SECONDS it runs one
 * hostile "life" after another, each a child process that attaches to shuntd the
 * way the shim does (ctl.h, every feature: READY, LISTEN, SHARE) and then, from a
 * PRNG seeded by SEED and the life's number, mixes
 *
 *   - commands that mean something (OPEN, BIND, CONNECT to the peer, to a closed
 *     port, to its own listener through the stack's address, LISTEN, SEND with
 *     bytes or datagram records really written into the send ring, RECVD with
 *     bytes really taken, accept records taken, SHUTDOWN, SETOPT, DISCONNECT,
 *     CLOSE, NOP), on the slots and generations it was given, some synchronous;
 *   - commands that do not: unknown ops and flags, slots out of range, stale and
 *     random generations, random args, values and addresses (only the test's own
 *     prefix or unroutable ones);
 *   - garbage written over its own region: [app] and [dp] fields of its sockets
 *     (ring indices, holders, notify[], sleepers), the contents of its rings
 *     (datagram records with lying lengths), notifiers and their ready rings,
 *     channel sleepers, chan_hint, members, the reply; and, rarely, an impossible
 *     command producer index or ready consumer (shuntd must cut the region off);
 *   - control requests: NOTIFY_SET/CLEAR on random notifiers, RELAY of random or
 *     live sockets, JOINs (on a member bit it claimed, on one it did not, with a
 *     wrong key), short and garbage messages;
 *   - the doorbell, as abi.h says, after every command.
 * A life ends by exiting without a goodbye, by _exit in the middle of a command
 * burst, or by the parent's SIGKILL at a random moment (so a process dies with
 * commands queued, a relay open, a joined member, sockets in every state).
 *
 *   appfuzz CONTROL PEER_IP PORT SECONDS SEED
 *
 * PORT is a kernel echo server at PEER_IP (so connections carry real data). The
 * parent prints "appfuzz: seed SEED" first, one line per life ("life N pid P seed
 * S: how it ended"; every choice of a life comes from S, so the same SEED replays
 * the same run up to timing: what shuntd answered, and when a SIGKILL lands) and
 * a summary; it exits 0 if
 * every life ran (killed by us, or exited 0), 3 if a life saw shuntd answer a
 * checked command wrongly (a stale generation, a slot out of range, a NOP, an
 * OPEN), 4 if a life itself crashed. What matters besides is what shuntd and the
 * well-behaved programs beside it do meanwhile (test_appfuzz.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shunt/bytering.h>
#include <shunt/ctl.h>
#include <shunt/ring.h>

#include "ctlclient.h"

#define NCHAN   4   /* channels a life uses (of member 0, and of a joined member) */
#define NTAB    24  /* sockets a life keeps track of */
#define NNOTIF  8   /* notifiers it plays with */
#define LIFE_MS 1500 /* longest life */

struct fsock {
	uint32_t slot, gen, type;
	int used, listening;
};

/* Everything a life found at attach, before it started lying to itself: the
 * fuzzer never follows the region's offsets after that. */
static struct life {
	uint64_t rng;
	const char *path;
	struct shunt_region *r;
	uint64_t region_size;
	struct shunt_channel *chans[2][NCHAN]; /* member 0's, the joined member's */
	struct shunt_notifier *notif;
	struct shunt_sock *socks;
	uint8_t *base;
	uint32_t nsocks, nnotifiers, chan_per_member, stack_ip, peer, port, listen_port;
	int doorbell, ctl, join_ctl, joined_member;
	struct fsock tab[NTAB];
	uint32_t seq;
	int stalled;     /* replies stopped coming: shuntd cut us off */
	int wrong;       /* checked answers that were wrong */
	unsigned long cmds, scribbles, ctls;
} L;

static uint32_t rnd(void)
{
	/* xorshift64*: small, seedable, good enough to pick cases */
	L.rng ^= L.rng >> 12;
	L.rng ^= L.rng << 25;
	L.rng ^= L.rng >> 27;
	return (uint32_t)((L.rng * 0x2545f4914f6cdd1dull) >> 32);
}

static uint64_t mix(uint64_t x)
{
	/* splitmix64: a life's seed from the run's seed and its number */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wrong(const char *what, int got)
{
	fprintf(stderr, "appfuzz: pid %d: wrong answer: %s (got %d)\n", (int)getpid(), what, got);
	L.wrong++;
}

/* ---- control connection ------------------------------------------------------------ */

static int ctl_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", L.path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send len bytes with nfds copies of fd; returns 0 or -1. */
static int ctl_send(int ctl, const void *q, size_t len, int fd, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)q, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[3] = {fd, fd, fd};

	if (nfds > 0)
		shunt_ctl_put_fds(&msg, u.buf, sizeof(u.buf), fds, (unsigned)nfds);
	return sendmsg(ctl, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
}

static int attach(void)
{
	struct shunt_ctl_hello h = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_HELLO,
				    .version_min = SHUNT_ABI_VERSION_MIN,
				    .version_max = SHUNT_ABI_VERSION,
				    .features = SHUNT_FEAT_KNOWN, .pid = (uint32_t)getpid()};
	struct shunt_ctl_welcome w;
	int fds[SHUNT_CTL_NFDS] = {-1, -1};
	uint32_t k;
	void *r;

	L.ctl = ctl_connect();
	if (L.ctl < 0 || send(L.ctl, &h, sizeof(h), 0) != sizeof(h) ||
	    ctlc_recv_welcome(L.ctl, &w, fds, 10000) != sizeof(w) || w.status != 0 || fds[0] < 0) {
		fprintf(stderr, "appfuzz: pid %d: attach refused\n", (int)getpid());
		return -1;
	}
	r = mmap(NULL, w.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fds[SHUNT_CTL_FD_REGION], 0);
	if (r == MAP_FAILED)
		return -1;
	close(fds[SHUNT_CTL_FD_REGION]);
	L.r = r;
	L.region_size = w.region_size;
	L.base = r;
	L.doorbell = fds[SHUNT_CTL_FD_DOORBELL];
	L.stack_ip = w.stack_ip;
	L.nsocks = L.r->nsocks;
	L.chan_per_member = L.r->chan_per_member;
	L.nnotifiers = L.r->notif_per_member < NNOTIF ? L.r->notif_per_member : NNOTIF;
	for (k = 0; k < NCHAN; k++)
		L.chans[0][k] = shunt_region_channel(L.r, k);
	L.notif = shunt_region_notifier(L.r, 0);
	L.socks = shunt_region_sock(L.r, 0);
	SHUNT_STORE_REL(&L.r->chan_hint[0], NCHAN);
	return 0;
}

/* ---- commands ------------------------------------------------------------------------ */

static void doorbell(void)
{
	uint64_t one = 1;

	/* abi.h: publish, fence, and ring only if the dataplane sleeps */
	SHUNT_FENCE();
	if (SHUNT_LOAD_RLX(&L.r->dp_sleeping) && write(L.doorbell, &one, sizeof(one)) < 0)
		L.stalled = 1;
}

static void push(int member, uint32_t ch, const struct shunt_cmd *c)
{
	int tries = 0;

	/* a ring full for 50 ms: shuntd stopped draining it (we broke it) */
	while (!L.stalled && shunt_chan_push(L.chans[member][ch], c) == -EAGAIN) {
		doorbell();
		if (++tries > 500)
			L.stalled = 1;
		else
			usleep(100);
	}
	L.cmds++;
	doorbell();
}

/* A synchronous command on member 0's channel 0. Returns its result, or 1 if no
 * answer came within 300 ms (shuntd is busy, or cut us off). */
static int call(struct shunt_cmd *c, uint32_t *sock, uint32_t *gen)
{
	struct shunt_channel *ch = L.chans[0][0];
	uint64_t end;

	if (L.stalled)
		return 1;
	c->flags |= SHUNT_CMDF_SYNC;
	c->seq = ++L.seq;
	push(0, 0, c);
	end = now_ms() + 300;
	while (SHUNT_LOAD_ACQ(&ch->reply.seq) != L.seq && now_ms() < end)
		usleep(50);
	if (SHUNT_LOAD_ACQ(&ch->reply.seq) != L.seq)
		return 1;
	if (sock != NULL)
		*sock = ch->reply.sock;
	if (gen != NULL)
		*gen = ch->reply.gen;
	return ch->reply.result;
}

static struct fsock *pick(void)
{
	uint32_t i = rnd() % NTAB, k;

	for (k = 0; k < NTAB; k++)
		if (L.tab[(i + k) % NTAB].used)
			return &L.tab[(i + k) % NTAB];
	return NULL;
}

static struct fsock *tab_add(uint32_t slot, uint32_t gen, uint32_t type)
{
	uint32_t k;

	for (k = 0; k < NTAB; k++)
		if (!L.tab[k].used) {
			L.tab[k] = (struct fsock){.slot = slot, .gen = gen, .type = type, .used = 1};
			return &L.tab[k];
		}
	return NULL;
}

static void cmd_init(struct shunt_cmd *c, uint16_t op, const struct fsock *f)
{
	memset(c, 0, sizeof(*c));
	c->op = op;
	c->sock = f != NULL ? f->slot : SHUNT_SOCK_NONE;
	c->gen = f != NULL ? f->gen : 0;
}

static void do_open(void)
{
	struct shunt_cmd c;
	uint32_t slot = 0, gen = 0, type = rnd() % 3 ? SHUNT_SOCK_STREAM : SHUNT_SOCK_DGRAM;
	int rc;

	cmd_init(&c, SHUNT_CMD_OPEN, NULL);
	c.arg = rnd() % 16 ? type : rnd();
	rc = call(&c, &slot, &gen);
	if (rc == 0 && (slot >= L.nsocks || gen == 0))
		wrong("OPEN answered with an impossible slot or generation", (int)slot);
	if (rc == 0 && c.arg != SHUNT_SOCK_STREAM && c.arg != SHUNT_SOCK_DGRAM)
		wrong("OPEN of an unknown type succeeded", (int)c.arg);
	if (rc != 0 || slot >= L.nsocks)
		return;
	/* the shim's part: it is this member's alone */
	__atomic_store_n(&L.socks[slot].holders, 1ull, __ATOMIC_RELAXED);
	if (tab_add(slot, gen, c.arg) == NULL) {
		cmd_init(&c, SHUNT_CMD_CLOSE, &(struct fsock){.slot = slot, .gen = gen});
		push(0, rnd() % NCHAN, &c);
	}
}

static uint32_t some_addr(void)
{
	switch (rnd() % 6) {
	case 0: return 0;
	case 1: return L.stack_ip;
	case 2: return htonl(0x0a4e0000u | (rnd() & 0xffff)); /* 10.78/16: no route */
	case 3: return htonl(0x0a4d0000u | (rnd() & 0xff));   /* 10.77.0/24: the bed */
	default: return L.peer;
	}
}

static uint16_t some_port(void)
{
	switch (rnd() % 5) {
	case 0: return 0;
	case 1: return htons((uint16_t)L.port);
	case 2: return htons((uint16_t)L.listen_port);
	default: return (uint16_t)rnd();
	}
}

/* Bytes or datagram records into a socket's send ring, then SEND (or a lie). */
static void do_send(struct fsock *f)
{
	struct shunt_sock *sh = &L.socks[f->slot];
	uint32_t size = sh->tx_size, prod = SHUNT_LOAD_RLX(&sh->tx_prod);
	uint32_t cons = SHUNT_LOAD_ACQ(&sh->tx_cons), space, n, k;
	uint8_t buf[2048];
	struct shunt_cmd c;

	/* the [dp] geometry read now: it may be garbage we wrote; keep inside the map */
	if (size == 0 || (size & (size - 1)) || sh->tx_off >= L.region_size ||
	    size > L.region_size - sh->tx_off)
		goto cmd;
	space = size - (prod - cons) <= size ? size - (prod - cons) : 0;
	n = rnd() % sizeof(buf);
	if (n > space)
		n = space;
	for (k = 0; k < n; k++)
		buf[k] = (uint8_t)rnd();
	if (f->type == SHUNT_SOCK_DGRAM && n >= sizeof(struct shunt_dgram)) {
		struct shunt_dgram *d = (struct shunt_dgram *)buf;

		d->len = rnd() % 4 ? (n - 16) & ~7u : rnd();
		d->dst = rnd() % 4 ? 0 : rnd();
		d->peer.addr = rnd() % 3 ? 0 : some_addr();
		d->peer.port = some_port();
		if (rnd() % 4)
			n = (uint32_t)sizeof(*d) + ((d->len + 7) & ~7u) <= n ?
			    (uint32_t)sizeof(*d) + ((d->len + 7) & ~7u) : n;
	}
	bytering_write(L.base + sh->tx_off, size, prod, buf, n);
	switch (rnd() % 10) {
	case 0: prod += rnd(); break;               /* more than the ring holds */
	case 1: prod = cons - rnd() % 64; break;    /* behind the consumer */
	default: prod += n; break;
	}
	SHUNT_STORE_REL(&sh->tx_prod, prod);
cmd:
	cmd_init(&c, SHUNT_CMD_SEND, f);
	c.arg = rnd() % 4 ? 0 : (rnd() % 2 ? SHUNT_SENDF_MORE : rnd());
	push(0, rnd() % NCHAN, &c);
}

/* Take what arrived (bytes, or accept records of a listener), then RECVD. */
static void do_recv(struct fsock *f)
{
	struct shunt_sock *sh = &L.socks[f->slot];
	uint32_t size = sh->rx_size, cons = SHUNT_LOAD_RLX(&sh->rx_cons);
	uint32_t prod = SHUNT_LOAD_ACQ(&sh->rx_prod), avail = prod - cons;
	struct shunt_cmd c;

	if (f->listening && size != 0 && !(size & (size - 1)) && sh->rx_off < L.region_size &&
	    size <= L.region_size - sh->rx_off && avail >= sizeof(struct shunt_accept) &&
	    avail <= size) {
		struct shunt_accept a;

		bytering_read(L.base + sh->rx_off, size, cons, &a, sizeof(a));
		SHUNT_STORE_REL(&sh->rx_cons, cons + (uint32_t)sizeof(a));
		if (a.sock < L.nsocks) {
			__atomic_store_n(&L.socks[a.sock].holders, 1ull, __ATOMIC_RELAXED);
			if (tab_add(a.sock, a.gen, SHUNT_SOCK_STREAM) == NULL) {
				cmd_init(&c, SHUNT_CMD_CLOSE,
					 &(struct fsock){.slot = a.sock, .gen = a.gen});
				push(0, 0, &c);
			}
		}
		return;
	}
	switch (rnd() % 8) {
	case 0: cons += rnd(); break;          /* more than arrived */
	case 1: cons -= rnd() % 4096; break;   /* going back */
	default: cons += avail <= size ? avail : 0; break;
	}
	SHUNT_STORE_REL(&sh->rx_cons, cons);
	cmd_init(&c, SHUNT_CMD_RECVD, f);
	push(0, rnd() % NCHAN, &c);
}

static void do_close(struct fsock *f)
{
	struct shunt_cmd c;

	cmd_init(&c, SHUNT_CMD_CLOSE, f);
	if (rnd() % 2)
		(void)call(&c, NULL, NULL);
	else
		push(0, rnd() % NCHAN, &c);
	f->used = 0;
}

/* A command that means something, on a socket of ours. */
static void meaningful(void)
{
	struct fsock *f = pick();
	struct shunt_cmd c;
	int rc;

	if (f == NULL || rnd() % 10 == 0) {
		do_open();
		return;
	}
	switch (rnd() % 14) {
	case 0:
		cmd_init(&c, SHUNT_CMD_BIND, f);
		c.addr.addr = rnd() % 2 ? 0 : some_addr();
		c.addr.port = rnd() % 3 ? htons((uint16_t)L.listen_port) : some_port();
		c.arg = rnd() % 4 ? 0 : rnd();
		(void)call(&c, NULL, NULL);
		break;
	case 1:
		cmd_init(&c, SHUNT_CMD_LISTEN, f);
		c.arg = rnd() % 4 ? rnd() % 8 : rnd();
		rc = call(&c, NULL, NULL);
		if (rc == 0)
			f->listening = 1;
		break;
	case 2:
	case 3:
		cmd_init(&c, SHUNT_CMD_CONNECT, f);
		c.addr.addr = rnd() % 3 ? L.peer : (rnd() % 2 ? L.stack_ip : some_addr());
		c.addr.port = rnd() % 3 ? htons((uint16_t)L.port) : some_port();
		if (c.addr.addr == L.stack_ip && rnd() % 2)
			c.addr.port = htons((uint16_t)L.listen_port);
		if (rnd() % 2)
			(void)call(&c, NULL, NULL);
		else
			push(0, rnd() % NCHAN, &c);
		break;
	case 4:
	case 5:
	case 6:
		do_send(f);
		break;
	case 7:
	case 8:
		do_recv(f);
		break;
	case 9:
		cmd_init(&c, SHUNT_CMD_SHUTDOWN, f);
		c.arg = rnd() % 4 ? rnd() % 3 : rnd();
		(void)call(&c, NULL, NULL);
		break;
	case 10:
		cmd_init(&c, SHUNT_CMD_SETOPT, f);
		c.arg = rnd() % 8 ? 1 + rnd() % (SHUNT_OPT_MAX - 1) : rnd();
		switch (rnd() % 4) {
		case 0: c.value = rnd() % 2; break;
		case 1: c.value = rnd() % 70000; break;
		case 2: c.value = (uint64_t)rnd() << 32 | rnd(); break;
		default: c.value = (uint64_t)-(int64_t)(rnd() % 3); break;
		}
		(void)call(&c, NULL, NULL);
		break;
	case 11:
		cmd_init(&c, SHUNT_CMD_DISCONNECT, f);
		(void)call(&c, NULL, NULL);
		break;
	case 12:
		do_close(f);
		break;
	default:
		cmd_init(&c, SHUNT_CMD_NOP, NULL);
		rc = call(&c, NULL, NULL);
		if (rc != 1 && rc != 0)
			wrong("a NOP answered non-zero", rc);
		break;
	}
}

/* A command that must be refused (checked when synchronous), or a random one. */
static void senseless(void)
{
	struct fsock *f = pick();
	struct shunt_cmd c;
	int rc;

	memset(&c, 0, sizeof(c));
	switch (rnd() % 4) {
	case 0: /* a stale generation: no slot's generation reaches bit 31 here */
		if (f == NULL)
			return;
		cmd_init(&c, (uint16_t)(SHUNT_CMD_BIND + rnd() % (SHUNT_CMD_MAX - 1)), f);
		c.gen ^= 0x80000000u;
		rc = call(&c, NULL, NULL);
		if (rc != 1 && rc != -EBADF)
			wrong("a stale generation was not -EBADF", rc);
		break;
	case 1: /* a slot out of range */
		cmd_init(&c, (uint16_t)(SHUNT_CMD_BIND + rnd() % (SHUNT_CMD_MAX - 1)), NULL);
		c.sock = L.nsocks + rnd() % 1000;
		if (rnd() % 4 == 0)
			c.sock = SHUNT_SOCK_NONE - rnd() % 2;
		c.gen = rnd();
		rc = call(&c, NULL, NULL);
		if (rc != 1 && rc != -EBADF)
			wrong("a slot out of range was not -EBADF", rc);
		break;
	case 2: /* an unknown op on a live socket */
		if (f == NULL)
			return;
		cmd_init(&c, (uint16_t)(SHUNT_CMD_MAX + rnd() % 1000), f);
		rc = call(&c, NULL, NULL);
		if (rc != 1 && rc != -EINVAL && rc != -EBADF)
			wrong("an unknown op was not -EINVAL", rc);
		break;
	default: /* anything, on any channel, of either member */
		c.op = (uint16_t)(rnd() % (SHUNT_CMD_MAX + 3));
		c.flags = (uint16_t)rnd();
		c.sock = rnd() % 4 == 0 ? rnd() : (f != NULL ? f->slot + rnd() % 3 : rnd() % 64);
		c.gen = rnd() % 2 && f != NULL ? f->gen : rnd() % 8;
		c.seq = rnd();
		c.arg = rnd() % 4 == 0 ? rnd() : rnd() % 16;
		c.addr.addr = some_addr();
		c.addr.port = some_port();
		c.value = (uint64_t)rnd() << 32 | rnd();
		c.pad = rnd();
		c.rsvd = rnd();
		push(L.joined_member > 0 && rnd() % 2 ? 1 : 0, rnd() % NCHAN, &c);
		break;
	}
}

/* ---- garbage over the region -------------------------------------------------------- */

static void scribble(int late)
{
	struct fsock *f = pick();
	uint32_t slot = f != NULL && rnd() % 4 ? f->slot : rnd() % (L.nsocks < 64 ? L.nsocks : 64);
	struct shunt_sock *sh = &L.socks[slot];
	struct shunt_notifier *nt = &L.notif[rnd() % L.nnotifiers];
	struct shunt_channel *ch = L.chans[0][rnd() % NCHAN];

	L.scribbles++;
	switch (rnd() % 16) {
	case 0: sh->tx_prod = rnd(); break;
	case 1: sh->rx_cons = rnd(); break;
	case 2: sh->err_seen = rnd(); sh->eq_seen = rnd(); break;
	case 3: /* [dp] fields: the dataplane never reads them back */
		sh->state = rnd(); sh->flags = rnd(); sh->gen = rnd(); sh->rx_off = rnd();
		sh->rx_size = rnd(); sh->tx_size = rnd(); break;
	case 4: sh->rx_prod = rnd(); sh->tx_cons = rnd(); sh->tx_trim = rnd(); break;
	case 5: sh->notify[rnd() % SHUNT_SOCK_NOTIFY] = rnd() % 2 ? rnd() : rnd() % (L.nnotifiers + 2);
		break;
	case 6: sh->notify_all = rnd() % 2; sh->sleepers = rnd() % 3;
		sh->tx_writing = rnd() % 2; sh->tx_owner = rnd(); break;
	case 7: __atomic_store_n(&sh->holders, rnd() % 2 ? (uint64_t)rnd() << 32 | rnd() :
				 rnd() % 4, __ATOMIC_RELAXED);
		sh->ph_ino = rnd(); break;
	case 8: nt->flags = rnd(); nt->futex_sleepers = rnd() % 2; nt->fd_sleepers = rnd() % 2;
		nt->seq = rnd(); nt->ready_prod = rnd(); nt->ready[rnd() % SHUNT_READY_RING] = rnd();
		break;
	case 9: /* a lying ready consumer may cut the region off: late in a life only */
		if (late)
			nt->ready_cons += rnd() % 600;
		break;
	case 10: L.r->chan_hint[rnd() % 2] = rnd() % 2 ? rnd() : rnd() % 80;
		ch->sleepers = rnd() % 2;
		ch->reply.result = (int32_t)rnd(); break;
	case 11: /* members: bits nobody joined with */
		__atomic_fetch_or(&L.r->members, 1ull << (rnd() % 64), __ATOMIC_RELAXED);
		break;
	case 12: /* an impossible command producer index cuts the region off */
		if (late && rnd() % 4 == 0)
			ch->prod += SHUNT_CMD_RING_SIZE + rnd() % 1000;
		break;
	case 13: /* the [dp] geometry of the control block: read once, at creation */
		L.r->nsocks = rnd(); L.r->socks_off = rnd(); L.r->bufs_off = rnd();
		L.r->mem_avail = rnd(); L.r->slot_hwm = rnd(); break;
	default: { /* the contents of a ring, where the slot's rings were */
		uint64_t off = sh->tx_off, len = 64 + rnd() % 512;

		if (rnd() % 2)
			off = sh->rx_off;
		off += rnd() % 8192;
		if (off < L.region_size && len <= L.region_size - off &&
		    off >= (uint64_t)((uint8_t *)&L.socks[L.nsocks] - L.base))
			memset(L.base + off, (int)rnd(), len);
		break;
	}
	}
}

/* ---- control requests --------------------------------------------------------------- */

static int wake_pair(int *mine, int type)
{
	int sv[2];

	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	*mine = sv[0];
	return sv[1];
}

static void drain(int fd)
{
	char buf[512];

	while (fd >= 0 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void control(void)
{
	int mine = -1, other, k;

	L.ctls++;
	switch (rnd() % 6) {
	case 0:
	case 1: { /* NOTIFY_SET / CLEAR, in range or not */
		struct shunt_ctl_notify q = {.magic = SHUNT_ABI_MAGIC,
					     .op = rnd() % 3 ? SHUNT_CTL_NOTIFY_SET
							     : SHUNT_CTL_NOTIFY_CLEAR,
					     .idx = rnd() % 8 ? rnd() % L.nnotifiers : rnd()};

		other = wake_pair(&mine, rnd() % 4 ? SOCK_DGRAM : SOCK_STREAM);
		if (other < 0)
			return;
		(void)ctl_send(L.ctl, &q, sizeof(q), other, rnd() % 8 ? 1 : (int)(rnd() % 4));
		close(other);
		close(mine); /* its wakes go nowhere: shuntd's sends must not block */
		break;
	}
	case 2: { /* RELAY of one of ours (live or not), or of anything */
		struct fsock *f = pick();
		struct shunt_ctl_relay q = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_RELAY,
					    .slot = f != NULL ? f->slot : rnd(),
					    .gen = f != NULL && rnd() % 4 ? f->gen : rnd(),
					    .flags = rnd() % 3 ? rnd() % 2 : rnd()};
		char junk[300];

		other = wake_pair(&mine, SOCK_STREAM);
		if (other < 0)
			return;
		(void)ctl_send(L.ctl, &q, sizeof(q), other, 1);
		close(other);
		for (k = 0; k < (int)sizeof(junk); k++)
			junk[k] = (char)rnd();
		(void)!write(mine, junk, rnd() % sizeof(junk));
		if (rnd() % 2)
			shutdown(mine, SHUT_WR);
		drain(mine);
		if (rnd() % 2)
			close(mine); /* let go; else it dies with us */
		break;
	}
	case 3: { /* JOIN as a member, claimed or not, with the key or not */
		struct shunt_ctl_join j = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_JOIN,
					   .member = 1 + rnd() % 4, .flags = rnd() % 2};
		uint32_t m;

		if (L.join_ctl >= 0) { /* the joined member hangs up: it is gone */
			close(L.join_ctl);
			L.join_ctl = -1;
			L.joined_member = 0;
			break;
		}
		if (rnd() % 8 == 0)
			j.member = rnd();
		memcpy(j.key, (const void *)L.r->join_key, sizeof(j.key));
		if (rnd() % 6 == 0)
			j.key[rnd() % 2] ^= 1ull << (rnd() % 64);
		if (rnd() % 4 && j.member < SHUNT_MAX_MEMBERS)
			__atomic_fetch_or(&L.r->members, 1ull << j.member, __ATOMIC_ACQ_REL);
		L.join_ctl = ctl_connect();
		if (L.join_ctl < 0)
			break;
		{
			uint8_t msg[40] = {0}; /* room for the odd lengths sent */

			memcpy(msg, &j, sizeof(j));
			(void)ctl_send(L.join_ctl, msg, rnd() % 8 ? sizeof(j) : rnd() % sizeof(msg),
				       -1, 0);
		}
		if (j.flags & SHUNT_JOINF_FDS) {
			struct shunt_ctl_welcome w;
			int fds[SHUNT_CTL_NFDS] = {-1, -1};

			(void)ctlc_recv_welcome(L.join_ctl, &w, fds, 300);
			for (k = 0; k < SHUNT_CTL_NFDS; k++)
				if (fds[k] >= 0)
					close(fds[k]);
		}
		m = j.member;
		if (m >= 1 && m < SHUNT_MAX_MEMBERS && L.chan_per_member >= NCHAN) {
			L.joined_member = (int)m;
			for (k = 0; k < NCHAN; k++)
				L.chans[1][k] = L.chans[0][0] + m * L.chan_per_member + (uint32_t)k;
			SHUNT_STORE_REL(&L.r->chan_hint[m], NCHAN);
		}
		break;
	}
	case 4: { /* garbage and short messages */
		uint8_t msg[64];

		for (k = 0; k < (int)sizeof(msg); k++)
			msg[k] = (uint8_t)rnd();
		if (rnd() % 2)
			memcpy(msg, &(uint32_t){SHUNT_ABI_MAGIC}, 4);
		(void)ctl_send(L.ctl, msg, 1 + rnd() % sizeof(msg), -1, 0);
		break;
	}
	default: /* a second hello on the attached connection */
		{
			struct shunt_ctl_hello h = {.magic = SHUNT_ABI_MAGIC, .op = SHUNT_CTL_HELLO,
						    .version_min = rnd() % 4,
						    .version_max = rnd() % 4,
						    .features = rnd()};

			(void)ctl_send(L.ctl, &h, sizeof(h), -1, 0);
		}
		break;
	}
	drain(L.ctl);
}

/* ---- a life ------------------------------------------------------------------------- */

static int life(uint64_t seed, uint32_t budget_ms)
{
	uint64_t start, k;
	uint32_t die_at;

	L.rng = seed | 1;
	die_at = rnd() % 4 == 0 ? rnd() % budget_ms : budget_ms + 1;
	L.join_ctl = -1;
	if (attach() < 0)
		return 2;
	/* a life's own listener port, so connections to the stack's address meet it */
	L.listen_port = 20000 + rnd() % 20000;
	start = now_ms();
	for (k = 0; !L.stalled && now_ms() - start < budget_ms; k++) {
		uint32_t what = rnd() % 100;
		int late = now_ms() - start > budget_ms * 9 / 10;

		if (what < 45)
			meaningful();
		else if (what < 70)
			senseless();
		else if (what < 94)
			scribble(late);
		else
			control();
		if (now_ms() - start >= die_at)
			_exit(0); /* gone in the middle of it all, no goodbye */
		if (k % 32 == 0)
			usleep(200); /* let shuntd interleave with the programs beside us */
	}
	printf("appfuzz: pid %d: %lu commands, %lu scribbles, %lu control requests%s, "
	       "%d wrong answers\n", (int)getpid(), L.cmds, L.scribbles, L.ctls,
	       L.stalled ? " (cut off)" : "", L.wrong);
	fflush(stdout);
	return L.wrong ? 3 : 0; /* exits without closing anything */
}

int main(int argc, char **argv)
{
	uint64_t seed, start, lives = 0, killed = 0;
	long secs;
	int rc = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: appfuzz CONTROL PEER_IP PORT SECONDS SEED\n");
		return 2;
	}
	/* shuntd closes a relay's end or a control connection when it likes */
	signal(SIGPIPE, SIG_IGN);
	L.path = argv[1];
	L.peer = inet_addr(argv[2]);
	L.port = (uint32_t)atoi(argv[3]);
	secs = atol(argv[4]);
	seed = strtoull(argv[5], NULL, 0);
	printf("appfuzz: seed %llu\n", (unsigned long long)seed);
	fflush(stdout);
	start = now_ms();
	do {
		uint64_t ls = mix(seed + lives);
		uint32_t budget, kill_at;
		int st;
		pid_t pid;

		L.rng = ls | 1;
		budget = 100 + rnd() % LIFE_MS;
		kill_at = rnd() % 3 == 0 ? rnd() % budget : 0; /* SIGKILL mid-life */
		pid = fork();
		if (pid < 0) {
			perror("appfuzz: fork");
			return 2;
		}
		if (pid == 0)
			_exit(life(ls, budget));
		if (kill_at != 0) {
			usleep(kill_at * 1000u);
			kill(pid, SIGKILL);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		printf("appfuzz: life %llu pid %d seed %llu: %s %d\n", (unsigned long long)lives,
		       (int)pid, (unsigned long long)ls,
		       WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st)
									 : WTERMSIG(st));
		fflush(stdout);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && kill_at != 0)
			killed++;
		else if (WIFSIGNALED(st))
			rc = 4; /* the fuzzer itself crashed: its bug, but a bug */
		else if (WEXITSTATUS(st) == 3 && rc == 0)
			rc = 3;
		else if (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3)
			rc = 4;
		lives++;
	} while (now_ms() - start < (uint64_t)secs * 1000);
	printf("appfuzz: seed %llu: %llu lives (%llu killed mid-life), exit %d\n",
	       (unsigned long long)seed, (unsigned long long)lives,
	       (unsigned long long)killed, rc);
	return rc;
}
