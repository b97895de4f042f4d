/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * A fake shuntd for the shim's tests, for what the real one cannot be made to do
 * on demand (every other shim scenario runs against the real shuntd and kernel
 * peers: tests/integration/test_shim_semantics.py). The region, control protocol
 * and wake protocol exactly as abi.h / ctl.h say (version 2, no features: the
 * notifiers keep no ready rings, so epoll rescans), with no network behind it.
 * What happens to a TCP connection is scripted by its destination port:
 *
 *   19  ESTABLISHED at once, before CONNECT is answered (a real SYN-ACK cannot
 *       beat the answer to the command that sent the SYN)
 *   21  refused at once, before CONNECT is answered (likewise)
 *   23  refused in two steps, as shuntd publishes it but slower: error and RESET
 *       after 20 ms (still SYN_SENT), CLOSED 30 ms later, so the half-published
 *       refusal lasts long enough to be seen
 *   25  ESTABLISHED after 50 ms, then echoes only when it takes a SEND (as shuntd
 *       reads tx_prod then), so a SEND the shim wrongly skips strands bytes; SENDs
 *       taken are counted in `retrans` and RECVDs in `rttvar_us` (TCP_INFO:
 *       tcpi_total_retrans, tcpi_rttvar): how many commands the shim sends
 *   other ports: SYN_SENT forever
 *
 * OPEN allocates a slot (most recently freed first), bumps its generation and
 * adopts the slot's [app] indices; every other command must name the slot's
 * current generation, or it is dropped (a synchronous one answered -EBADF).
 * DISCONNECT is tcp_app_disconnect(): CLOSED, flags cleared, the port kept and
 * shown, ECONNRESET pending if it dropped an attempt or a connection. SETOPT is
 * answered and otherwise ignored; BIND, SHUTDOWN and UDP sockets are refused
 * (EINVAL): no scenario here needs them.
 *
 *   main -> loop: serve every client -> idle? dp_sleeping, fence, re-check
 *        -> poll(listen, stdin, control conns, doorbells; 0 or 1 ms)
 *        -> accept -> client_new (hello -> memfd, seal, doorbell, welcome + fds)
 *        -> control conn readable -> client_ctl (NOTIFY_SET / CLEAR, or hang-up)
 *   client_poll: channels [0, chan_hint) -> chan_pop -> cmd() -> scripted steps
 *        -> client_wake: notifier seqs, one fence, FUTEX_WAKE / wake-socket byte
 *
 * Usage: fake_dp CONTROL_PATH. Exits on SIGTERM or when stdin reaches EOF (so it
 * never outlives the test that started it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <shunt/abi.h>
#include <shunt/bytering.h>
#include <shunt/ctl.h>
#include <shunt/futex.h>
#include <shunt/ring.h>

#define FD_NSOCKS    64
#define FD_NCHAN     8
#define FD_NNOTIF    64
#define FD_BUF       16384
#define FD_CLIENTS   8
#define FD_FEATURES  0u /* no SHUNT_FEAT_READY: no ready rings to fill */
#define FD_STACK_IP  "10.77.0.2"
#define FD_BURST     64

_Static_assert(FD_NNOTIF <= 64, "pending notifiers are one uint64_t");
_Static_assert(FD_NCHAN <= 32, "replied channels are one uint32_t");

/* Private copies of everything the fake publishes in a slot (never read back). */
struct fsock {
	uint32_t state, flags, rx_prod, tx_cons, ev_seq, err_seq, eq_seq, gen;
	uint32_t retrans, rttvar; /* SEND / RECVD counters of port 25 */
	uint16_t port;            /* destination, host order: the script */
	int64_t due_ms;           /* scripted step; 0 = none */
	bool dirty;               /* changed in this iteration: wake its watchers */
};

struct client {
	int ctl, memfd, doorbell;
	int wake_fd[FD_NNOTIF];   /* NOTIFY_SET sockets; -1: none */
	struct shunt_region *r;
	size_t size;
	uint64_t bufs_off;
	uint32_t chan_cons[FD_NCHAN];
	uint32_t notif_seq[FD_NNOTIF];
	uint32_t free[FD_NSOCKS], nfree; /* free slots, a stack */
	struct fsock s[FD_NSOCKS];
	uint32_t replied;          /* bit c: channel c's reply moved this iteration */
	bool changed;              /* a socket or a reply moved this iteration */
	uint16_t eph;
	unsigned drop_stale, drop_bad; /* commands refused, by reason */
};

static struct client *clients[FD_CLIENTS];
static volatile sig_atomic_t stop;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t align(size_t v)
{
	return (v + 4095) & ~(size_t)4095;
}

/* Publish socket i's state and flags and step ev_seq (release: covers every [dp]
 * field written before it). */
static void ev(struct client *c, uint32_t i)
{
	struct shunt_sock *sh = shunt_region_sock(c->r, i);

	sh->state = c->s[i].state;
	sh->flags = c->s[i].flags;
	SHUNT_STORE_REL(&sh->ev_seq, ++c->s[i].ev_seq);
	c->s[i].dirty = true;
	c->changed = true;
}

static void set_error(struct client *c, uint32_t i, int err)
{
	struct shunt_sock *sh = shunt_region_sock(c->r, i);

	sh->error = err;
	SHUNT_STORE_REL(&sh->err_seq, ++c->s[i].err_seq);
}

static void client_free(struct client *c)
{
	int i;

	if (c->drop_stale != 0 || c->drop_bad != 0)
		fprintf(stderr, "fake_dp: client dropped %u stale commands, %u bad claims\n",
			c->drop_stale, c->drop_bad);
	if (c->r != NULL)
		munmap(c->r, c->size);
	close(c->memfd);
	close(c->doorbell);
	for (i = 0; i < FD_NNOTIF; i++)
		if (c->wake_fd[i] >= 0)
			close(c->wake_fd[i]);
	close(c->ctl);
	free(c);
}

static void welcome_init(struct shunt_ctl_welcome *w, int32_t status)
{
	memset(w, 0, sizeof(*w));
	w->magic = SHUNT_ABI_MAGIC;
	w->op = SHUNT_CTL_WELCOME;
	w->status = status;
	w->version = SHUNT_ABI_VERSION;
	w->version_min = SHUNT_ABI_VERSION_MIN;
	w->features = FD_FEATURES;
}

/* Agree on a version and features (ctl.h). Returns 0, or -EPROTONOSUPPORT after
 * answering so (our range and features, no fds), or -EPROTO for no hello. */
static int client_hello(int ctl, uint32_t *features)
{
	struct shunt_ctl_hello h;
	struct shunt_ctl_welcome w;

	if (recv(ctl, &h, sizeof(h), 0) != sizeof(h) || h.magic != SHUNT_ABI_MAGIC ||
	    h.op != SHUNT_CTL_HELLO)
		return -EPROTO;
	if (h.version_min > SHUNT_ABI_VERSION || h.version_max < SHUNT_ABI_VERSION_MIN ||
	    (h.required & ~FD_FEATURES) != 0) {
		welcome_init(&w, -EPROTONOSUPPORT);
		(void)!send(ctl, &w, sizeof(w), MSG_NOSIGNAL);
		return -EPROTONOSUPPORT;
	}
	*features = h.features & FD_FEATURES;
	return 0;
}

static struct client *client_new(int ctl)
{
	struct shunt_ctl_welcome w;
	struct client *c = calloc(1, sizeof(*c));
	struct timeval tv = { 2, 0 }; /* a peer that connects and never says hello */
	size_t chan_off, notif_off, socks_off, bufs_off;
	uint32_t features = 0, i;
	int fds[SHUNT_CTL_NFDS];
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr a;
	} cb;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			      .msg_controllen = sizeof(cb.buf) };
	struct cmsghdr *cm;

	if (c == NULL) {
		close(ctl);
		return NULL;
	}
	c->ctl = ctl;
	c->memfd = c->doorbell = -1;
	for (i = 0; i < FD_NNOTIF; i++)
		c->wake_fd[i] = -1;
	(void)setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (client_hello(ctl, &features) < 0)
		goto fail;
	chan_off = align(sizeof(struct shunt_region));
	notif_off = align(chan_off + FD_NCHAN * sizeof(struct shunt_channel));
	socks_off = align(notif_off + FD_NNOTIF * sizeof(struct shunt_notifier));
	bufs_off = align(socks_off + FD_NSOCKS * sizeof(struct shunt_sock));
	c->size = bufs_off + (size_t)FD_NSOCKS * 2 * FD_BUF;
	c->bufs_off = bufs_off;
	c->memfd = memfd_create("fake-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->memfd < 0 || ftruncate(c->memfd, (off_t)c->size) < 0 ||
	    fcntl(c->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	c->r = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	if (c->r == MAP_FAILED)
		goto fail;
	c->r->magic = SHUNT_ABI_MAGIC;
	c->r->version = SHUNT_ABI_VERSION;
	c->r->features = features;
	c->r->nsocks = FD_NSOCKS;
	c->r->region_size = c->size;
	c->r->nchannels = FD_NCHAN;
	c->r->nnotifiers = FD_NNOTIF;
	c->r->rx_buf_size = FD_BUF;
	c->r->tx_buf_size = FD_BUF;
	c->r->chan_off = chan_off;
	c->r->notif_off = notif_off;
	c->r->socks_off = socks_off;
	c->r->bufs_off = bufs_off;
	/* slot 0 on top: the first OPEN gets it */
	for (i = 0; i < FD_NSOCKS; i++)
		c->free[c->nfree++] = FD_NSOCKS - 1 - i;
	/* nonblocking on purpose: the shim must cope */
	c->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->doorbell < 0)
		goto fail;
	c->eph = 40000;

	welcome_init(&w, 0);
	w.features = features;
	w.region_size = c->size;
	w.nfds = SHUNT_CTL_NFDS;
	w.stack_ip = inet_addr(FD_STACK_IP);
	w.prefix_len = 24;
	w.n_offload = 1;
	w.offload[0].addr = inet_addr("10.77.0.0");
	w.offload[0].mask = htonl(0xffffff00);
	w.eph_lo = 40000;
	w.eph_hi = 50000;
	fds[SHUNT_CTL_FD_REGION] = c->memfd;
	fds[SHUNT_CTL_FD_DOORBELL] = c->doorbell;
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(ctl, &msg, MSG_NOSIGNAL) != sizeof(w))
		goto fail;
	return c;
fail:
	c->r = c->r == MAP_FAILED ? NULL : c->r;
	client_free(c);
	return NULL;
}

/* Answer the synchronous command m taken from channel ch: result, slot and
 * generation, then seq with release (covers the three, and every change the
 * command made before it). */
static void reply(struct client *c, uint32_t ch, const struct shunt_cmd *m, int rc,
		  uint32_t slot, uint32_t gen)
{
	struct shunt_reply *rp = &shunt_region_channel(c->r, ch)->reply;

	rp->result = rc;
	rp->sock = slot;
	rp->gen = gen;
	SHUNT_STORE_REL(&rp->seq, m->seq); /* pairs with the shim's acquire in chan_sync_done */
	c->replied |= 1u << ch;
	c->changed = true;
}

/* OPEN: take a free slot, give it a new generation and every [dp] field, adopt its
 * [app] indices (abi.h: they are never reset), publish. Returns the slot, or
 * -errno. */
static int sock_open(struct client *c, uint32_t type)
{
	struct shunt_sock *sh;
	struct fsock *s;
	uint32_t i;

	if (type != SHUNT_SOCK_STREAM)
		return -EINVAL;
	if (c->nfree == 0)
		return -ENOBUFS;
	i = c->free[--c->nfree];
	s = &c->s[i];
	sh = shunt_region_sock(c->r, i);
	if (++s->gen == 0)
		s->gen = 1;
	s->state = SHUNT_SS_CLOSED;
	s->flags = 0;
	s->port = 0;
	s->due_ms = 0;
	s->retrans = s->rttvar = 0;
	/* acquire: whatever the app's last use of the slot published */
	s->rx_prod = SHUNT_LOAD_ACQ(&sh->rx_cons);
	s->tx_cons = SHUNT_LOAD_ACQ(&sh->tx_prod);
	s->err_seq = SHUNT_LOAD_ACQ(&sh->err_seen);
	s->eq_seq = SHUNT_LOAD_ACQ(&sh->eq_seen);
	sh->error = 0;
	sh->gen = s->gen;
	sh->type = type;
	memset(&sh->local, 0, sizeof(sh->local));
	memset(&sh->remote, 0, sizeof(sh->remote));
	sh->mss = sh->srtt_us = sh->rttvar_us = sh->rto_us = sh->snd_cwnd = sh->retrans = 0;
	sh->rx_off = c->bufs_off + (uint64_t)i * 2 * FD_BUF;
	sh->tx_off = sh->rx_off + FD_BUF;
	sh->rx_size = FD_BUF;
	sh->tx_size = FD_BUF;
	sh->rx_prod = s->rx_prod;
	sh->tx_cons = s->tx_cons;
	sh->err_seq = s->err_seq;
	sh->eq_seq = s->eq_seq;
	ev(c, i); /* release: all of the above, before the reply names the slot */
	return (int)i;
}

/* Echo what the app queued on TCP socket i into its rx ring, as far as it fits.
 * The app's indices are claims: one beyond the ring moves nothing. */
static void tcp_echo(struct client *c, uint32_t i)
{
	struct fsock *s = &c->s[i];
	struct shunt_sock *sh = shunt_region_sock(c->r, i);
	uint8_t *rx = (uint8_t *)c->r + c->bufs_off + (uint64_t)i * 2 * FD_BUF;
	uint8_t *tx = rx + FD_BUF;
	/* acquire: pairs with the shim's release of tx_prod after writing the bytes,
	 * and of rx_cons after reading them out */
	uint32_t tx_n = SHUNT_LOAD_ACQ(&sh->tx_prod) - s->tx_cons;
	uint32_t used = s->rx_prod - SHUNT_LOAD_ACQ(&sh->rx_cons);
	uint32_t n;
	static uint8_t tmp[FD_BUF];

	if (tx_n > FD_BUF || used > FD_BUF) {
		c->drop_bad++;
		return;
	}
	n = tx_n < FD_BUF - used ? tx_n : FD_BUF - used;
	if (n == 0)
		return;
	bytering_read(tx, FD_BUF, s->tx_cons, tmp, n);
	bytering_write(rx, FD_BUF, s->rx_prod, tmp, n);
	s->rx_prod += n;
	s->tx_cons += n;
	SHUNT_STORE_REL(&sh->rx_prod, s->rx_prod); /* the bytes before the index */
	SHUNT_STORE_REL(&sh->tx_cons, s->tx_cons);
}

/* One command m, copied out of channel ch. */
static void cmd(struct client *c, uint32_t ch, const struct shunt_cmd *m)
{
	struct shunt_sock *sh;
	struct fsock *s;
	int rc = 0;

	if (m->op == SHUNT_CMD_OPEN) {
		rc = sock_open(c, m->arg);
		if (m->flags & SHUNT_CMDF_SYNC)
			reply(c, ch, m, rc < 0 ? rc : 0, rc < 0 ? SHUNT_SOCK_NONE : (uint32_t)rc,
			      rc < 0 ? 0 : c->s[rc].gen);
		return;
	}
	if (m->sock >= FD_NSOCKS || c->s[m->sock].state == SHUNT_SS_FREE ||
	    m->gen != c->s[m->sock].gen) {
		c->drop_stale++; /* closed, maybe reopened: not this socket any more */
		if (m->flags & SHUNT_CMDF_SYNC)
			reply(c, ch, m, -EBADF, 0, 0);
		return;
	}
	s = &c->s[m->sock];
	sh = shunt_region_sock(c->r, m->sock);
	switch (m->op) {
	case SHUNT_CMD_CONNECT:
		if (s->state != SHUNT_SS_CLOSED) {
			rc = -EISCONN;
			break;
		}
		s->port = ntohs(m->addr.port);
		s->flags = 0;
		s->state = SHUNT_SS_SYN_SENT;
		sh->local.addr = inet_addr(FD_STACK_IP);
		if (sh->local.port == 0) {
			sh->local.port = htons(c->eph++);
			s->flags |= SHUNT_SF_BOUND; /* as the dataplane: a port is held */
		}
		sh->remote = m->addr;
		sh->mss = 1460;
		s->retrans = s->rttvar = 0;
		sh->retrans = 0;
		sh->rttvar_us = 0;
		s->due_ms = 0;
		if (s->port == 19) {
			s->state = SHUNT_SS_ESTABLISHED;
		} else if (s->port == 21) {
			set_error(c, m->sock, ECONNREFUSED);
			s->flags |= SHUNT_SF_RESET;
			s->state = SHUNT_SS_CLOSED;
		} else if (s->port == 23 || s->port == 25) {
			s->due_ms = now_ms() + (s->port == 23 ? 20 : 50);
		}
		break;
	case SHUNT_CMD_DISCONNECT:
		/* as tcp_app_disconnect(): the port stays shown, the source address
		 * goes, sk_shutdown and the error flags are cleared */
		if (s->state == SHUNT_SS_SYN_SENT || s->state == SHUNT_SS_ESTABLISHED)
			set_error(c, m->sock, ECONNRESET);
		s->state = SHUNT_SS_CLOSED;
		s->due_ms = 0;
		s->flags = 0;
		sh->local.addr = 0;
		memset(&sh->remote, 0, sizeof(sh->remote));
		break;
	case SHUNT_CMD_CLOSE:
		/* nothing to finish without a network: free the slot now; the
		 * generation makes any later command naming it stale */
		s->state = SHUNT_SS_FREE;
		s->due_ms = 0;
		c->free[c->nfree++] = m->sock;
		break;
	case SHUNT_CMD_SEND:
		if (s->port == 25 && s->state == SHUNT_SS_ESTABLISHED) {
			sh->retrans = ++s->retrans;
			tcp_echo(c, m->sock);
		}
		break;
	case SHUNT_CMD_RECVD:
		if (s->port == 25)
			sh->rttvar_us = ++s->rttvar;
		break;
	case SHUNT_CMD_SETOPT: /* answered: the shim's barrier (cmds_taken) */
	case SHUNT_CMD_NOP:
		break;
	default: /* BIND, SHUTDOWN: no scenario here uses them */
		rc = -EINVAL;
	}
	/* as shuntd: what the command changed is in place before the answer, so a
	 * shim that sees the reply never reads the state from before it */
	ev(c, m->sock);
	if (m->flags & SHUNT_CMDF_SYNC)
		reply(c, ch, m, rc, m->sock, m->gen);
}

/* The scripted steps of ports 23 and 25. */
static void sock_run(struct client *c, uint32_t i, int64_t now)
{
	struct fsock *s = &c->s[i];

	if (s->due_ms == 0 || now < s->due_ms || s->state != SHUNT_SS_SYN_SENT)
		return;
	s->due_ms = 0;
	if (s->port == 23 && !(s->flags & SHUNT_SF_RESET)) {
		set_error(c, i, ECONNREFUSED);
		s->flags |= SHUNT_SF_RESET;
		s->due_ms = now + 30; /* CLOSED comes later */
	} else if (s->port == 23) {
		s->state = SHUNT_SS_CLOSED;
	} else {
		s->state = SHUNT_SS_ESTABLISHED;
	}
	ev(c, i);
}

/* Bit k of *pend: notifier k watches a socket that changed. notify[] entries are
 * claims (index + 1); one out of range is counted and skipped. */
static void sock_watchers(struct client *c, struct shunt_sock *sh, uint64_t *pend)
{
	int k;

	if (SHUNT_LOAD_RLX(&sh->notify_all) != 0) {
		*pend = ~0ull >> (64 - FD_NNOTIF);
		return;
	}
	for (k = 0; k < SHUNT_SOCK_NOTIFY; k++) {
		uint32_t e = SHUNT_LOAD_RLX(&sh->notify[k]);

		if (e == 0)
			continue;
		if (e > FD_NNOTIF) {
			c->drop_bad++;
			continue;
		}
		*pend |= 1ull << (e - 1);
	}
}

/* End of an iteration (abi.h, "Waking"): everything is published; step the seq of
 * every notifier watching a changed socket, one seq_cst fence (Dekker with the
 * shim's sleepers++ -> fence -> re-check), then one wake call per target that has
 * sleepers: changed sockets, channels with a new reply, notifiers. */
static void client_wake(struct client *c)
{
	static const char one = 1;
	uint64_t pend = 0;
	uint32_t i;
	int k;

	if (!c->changed)
		return; /* no fence, no syscall */
	c->changed = false;
	for (i = 0; i < FD_NSOCKS; i++)
		if (c->s[i].dirty)
			sock_watchers(c, shunt_region_sock(c->r, i), &pend);
	for (k = 0; k < FD_NNOTIF; k++)
		if (pend & (1ull << k))
			SHUNT_STORE_REL(&shunt_region_notifier(c->r, (uint32_t)k)->seq,
					++c->notif_seq[k]);
	SHUNT_FENCE();
	for (i = 0; i < FD_NSOCKS; i++) {
		struct shunt_sock *sh = shunt_region_sock(c->r, i);

		if (!c->s[i].dirty)
			continue;
		c->s[i].dirty = false;
		if (SHUNT_LOAD_RLX(&sh->sleepers) != 0)
			(void)shunt_futex_wake(&sh->ev_seq);
	}
	for (i = 0; i < FD_NCHAN; i++) {
		struct shunt_channel *ch = shunt_region_channel(c->r, i);

		if ((c->replied & (1u << i)) && SHUNT_LOAD_RLX(&ch->sleepers) != 0)
			(void)shunt_futex_wake(&ch->reply.seq);
	}
	c->replied = 0;
	for (k = 0; k < FD_NNOTIF; k++) {
		struct shunt_notifier *n = shunt_region_notifier(c->r, (uint32_t)k);

		if (!(pend & (1ull << k)))
			continue;
		if (SHUNT_LOAD_RLX(&n->futex_sleepers) != 0)
			(void)shunt_futex_wake(&n->seq);
		/* MSG_DONTWAIT: a full wake socket already holds a wake-up */
		if (SHUNT_LOAD_RLX(&n->fd_sleepers) != 0 && c->wake_fd[k] >= 0)
			(void)!send(c->wake_fd[k], &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

/* Channels the app may use: [0, chan_hint), at most nchannels. */
static uint32_t client_nchan(struct client *c)
{
	uint32_t hint = SHUNT_LOAD_ACQ(&c->r->chan_hint[0]); /* pairs with the shim's CAS release */

	return hint < FD_NCHAN ? hint : FD_NCHAN;
}

/* Returns 1 if it took commands, 0 if not, -EPROTO if the app broke a channel
 * (the caller drops the process). */
static int client_poll(struct client *c)
{
	struct shunt_cmd m[FD_BURST];
	uint32_t ch, nch = client_nchan(c), i;
	int64_t now = now_ms();
	int busy = 0, n, k;

	for (ch = 0; ch < nch; ch++) {
		while ((n = shunt_chan_pop(shunt_region_channel(c->r, ch), &c->chan_cons[ch], m,
					   FD_BURST)) > 0) {
			/* seq_cst: the shim's tx_prod store before its check that a SEND
			 * is queued (chan.c shim_chan_send) against our pop before our
			 * reading of tx_prod */
			SHUNT_FENCE();
			for (k = 0; k < n; k++)
				cmd(c, ch, &m[k]);
			busy = 1;
		}
		if (n < 0)
			return n;
	}
	for (i = 0; i < FD_NSOCKS; i++)
		if (c->s[i].state != SHUNT_SS_FREE)
			sock_run(c, i, now);
	client_wake(c);
	return busy;
}

static bool client_idle(struct client *c)
{
	uint32_t ch, nch = client_nchan(c);

	for (ch = 0; ch < nch; ch++)
		if (!shunt_chan_empty(shunt_region_channel(c->r, ch), c->chan_cons[ch]))
			return false;
	return true;
}

/* One request on the control connection (ctl.h): NOTIFY_SET with one fd, or
 * NOTIFY_CLEAR, answered with the same struct and a status. Returns -EPIPE when
 * the process hung up, else 0. */
static int client_ctl(struct client *c)
{
	struct shunt_ctl_notify q;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr a;
	} cb;
	struct iovec iov = { &q, sizeof(q) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			      .msg_controllen = sizeof(cb.buf) };
	struct cmsghdr *cm;
	int fd = -1, nfd = 0, k;
	ssize_t n = recvmsg(c->ctl, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (n == 0)
		return -EPIPE; /* the process went away */
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int)); k++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (nfd++ == 0)
				fd = f;
			else
				close(f); /* one fd per request */
		}
	}
	if (n != sizeof(q) || q.magic != SHUNT_ABI_MAGIC || q.idx >= FD_NNOTIF ||
	    (msg.msg_flags & MSG_CTRUNC)) {
		q.status = -EINVAL;
	} else if (q.op == SHUNT_CTL_NOTIFY_SET && fd >= 0) {
		if (c->wake_fd[q.idx] >= 0)
			close(c->wake_fd[q.idx]);
		c->wake_fd[q.idx] = fd;
		fd = -1;
		q.status = 0;
	} else if (q.op == SHUNT_CTL_NOTIFY_CLEAR) {
		if (c->wake_fd[q.idx] >= 0)
			close(c->wake_fd[q.idx]);
		c->wake_fd[q.idx] = -1;
		q.status = 0;
	} else {
		q.status = -EINVAL;
	}
	if (fd >= 0)
		close(fd);
	if (n >= (ssize_t)sizeof(q))
		(void)!send(c->ctl, &q, sizeof(q), MSG_NOSIGNAL | MSG_DONTWAIT);
	return 0;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pollfd pfd[2 + 2 * FD_CLIENTS];
	int at[FD_CLIENTS]; /* where client i's fds are in pfd[]; -1: none */
	int lfd, i;

	if (argc != 2)
		return 2;
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	strncpy(sun.sun_path, argv[1], sizeof(sun.sun_path) - 1);
	unlink(argv[1]);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 8) < 0) {
		perror("fake_dp");
		return 1;
	}
	while (!stop) {
		bool busy = false;
		int n = 0;

		for (i = 0; i < FD_CLIENTS; i++) {
			int rc;

			if (clients[i] == NULL)
				continue;
			rc = client_poll(clients[i]);
			if (rc < 0) { /* a hostile or broken process: cut it off alone */
				client_free(clients[i]);
				clients[i] = NULL;
			}
			busy |= rc > 0;
		}
		if (!busy) {
			/* adaptive idle, as shuntd: announce sleep, fence, re-check, sleep */
			for (i = 0; i < FD_CLIENTS; i++)
				if (clients[i] != NULL)
					SHUNT_STORE_REL(&clients[i]->r->dp_sleeping, 1);
			SHUNT_FENCE(); /* pairs with the shim's fence in chan_doorbell */
			for (i = 0; i < FD_CLIENTS; i++)
				if (clients[i] != NULL && !client_idle(clients[i]))
					busy = true;
		}
		/* The control connections are polled for input every iteration: the shim
		 * sends NOTIFY_SET whenever a thread first waits on several sockets, and
		 * waits for the answer. */
		pfd[n++] = (struct pollfd){ lfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ 0, POLLIN, 0 }; /* stdin EOF: the test is gone */
		for (i = 0; i < FD_CLIENTS; i++) {
			at[i] = -1;
			if (clients[i] == NULL)
				continue;
			at[i] = n;
			pfd[n++] = (struct pollfd){ clients[i]->ctl, POLLIN, 0 };
			pfd[n++] = (struct pollfd){ clients[i]->doorbell, POLLIN, 0 };
		}
		poll(pfd, (nfds_t)n, busy ? 0 : 1);
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			char b;

			if (read(0, &b, 1) <= 0)
				break;
		}
		for (i = 0; i < FD_CLIENTS; i++) {
			struct client *c = clients[i];
			uint64_t v;

			if (c == NULL)
				continue;
			SHUNT_STORE_REL(&c->r->dp_sleeping, 0);
			if (pfd[at[i] + 1].revents & POLLIN)
				(void)!read(c->doorbell, &v, sizeof(v));
			if ((pfd[at[i]].revents & (POLLIN | POLLHUP | POLLERR)) && client_ctl(c) < 0) {
				client_free(c);
				clients[i] = NULL;
			}
		}
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			for (i = 0; cfd >= 0 && i < FD_CLIENTS; i++) {
				if (clients[i] == NULL) {
					clients[i] = client_new(cfd);
					break;
				}
			}
			if (cfd >= 0 && i == FD_CLIENTS)
				close(cfd);
		}
	}
	for (i = 0; i < FD_CLIENTS; i++)
		if (clients[i] != NULL)
			client_free(clients[i]);
	unlink(argv[1]);
	return 0;
}
