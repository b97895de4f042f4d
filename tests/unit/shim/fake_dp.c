/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * A fake shuntd for the shim's tests, for what the real one cannot be made to do
 * on demand (every other shim scenario runs against the real shuntd and kernel
 * peers: tests/integration/test_shim_semantics.py). The region, control protocol
 * and wake protocol exactly as abi.h / ctl.h say, with no network behind it.
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
 * DISCONNECT is tcp_app_disconnect(): CLOSED, flags cleared, the port kept and
 * shown, ECONNRESET pending if it dropped an attempt or a connection. SETOPT is
 * answered and otherwise ignored; BIND, SHUTDOWN and UDP sockets are refused
 * (EINVAL): no scenario here needs them.
 *
 *   main -> loop: poll(listen, control conns, doorbells; 1 ms) with dp_sleeping
 *        -> accept -> client_new (memfd, seal, eventfds, welcome + SCM_RIGHTS)
 *        -> client_poll: pop commands -> cmd() -> scripted steps -> wake armed slots
 *
 * Usage: fake_dp CONTROL_PATH. Exits on SIGTERM or when stdin reaches EOF (so it
 * never outlives the test that started it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
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
#include <shunt/ring.h>

#define FD_NSOCKS   64
#define FD_BUF      16384
#define FD_CLIENTS  8
#define FD_STACK_IP "10.77.0.2"

struct fsock {
	uint32_t state, flags, rx_prod, tx_cons, ev_seq, err_seq;
	uint16_t port;        /* destination, host order: the script */
	int64_t due_ms;       /* scripted step; 0 = none */
};

struct client {
	int ctl, memfd, doorbell, wait[SHUNT_WAIT_SLOTS];
	struct shunt_region *r;
	size_t size;
	uint32_t chan_cons, free_prod, woken[SHUNT_WAIT_SLOTS];
	struct fsock s[FD_NSOCKS];
	bool dirty;
	uint16_t eph;
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

static void ev(struct client *c, uint32_t i)
{
	struct shunt_sock *sh = shunt_region_sock(c->r, i);

	sh->state = c->s[i].state;
	sh->flags = c->s[i].flags;
	SHUNT_STORE_REL(&sh->ev_seq, ++c->s[i].ev_seq);
	c->dirty = true;
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

	if (c->r != NULL)
		munmap(c->r, c->size);
	close(c->memfd);
	close(c->doorbell);
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
		close(c->wait[i]);
	close(c->ctl);
	free(c);
}

static struct client *client_new(int ctl)
{
	struct shunt_ctl_hello h;
	struct shunt_ctl_welcome w;
	struct client *c = calloc(1, sizeof(*c));
	size_t chan_off, free_off, socks_off, bufs_off;
	int fds[SHUNT_CTL_NFDS], i;
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr a;
	} cb;
	struct iovec iov = { &w, sizeof(w) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			      .msg_controllen = sizeof(cb.buf) };
	struct cmsghdr *cm;

	c->ctl = ctl;
	if (recv(ctl, &h, sizeof(h), 0) != sizeof(h) || h.magic != SHUNT_ABI_MAGIC)
		goto fail;
	chan_off = align(sizeof(struct shunt_region));
	free_off = align(chan_off + sizeof(struct shunt_channel));
	socks_off = align(free_off + sizeof(struct shunt_free_ring) + FD_NSOCKS * 4);
	bufs_off = align(socks_off + FD_NSOCKS * sizeof(struct shunt_sock));
	c->size = bufs_off + (size_t)FD_NSOCKS * 2 * FD_BUF;
	c->memfd = memfd_create("fake-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (c->memfd < 0 || ftruncate(c->memfd, (off_t)c->size) < 0 ||
	    fcntl(c->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	c->r = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd, 0);
	if (c->r == MAP_FAILED)
		goto fail;
	c->r->magic = SHUNT_ABI_MAGIC;
	c->r->version = SHUNT_ABI_VERSION;
	c->r->region_size = c->size;
	c->r->nsocks = FD_NSOCKS;
	c->r->rx_buf_size = FD_BUF;
	c->r->tx_buf_size = FD_BUF;
	c->r->nchannels = 1;
	c->r->free_ring_size = FD_NSOCKS;
	c->r->chan_off = chan_off;
	c->r->free_off = free_off;
	c->r->socks_off = socks_off;
	c->r->bufs_off = bufs_off;
	for (i = 0; i < FD_NSOCKS; i++)
		shunt_free_push(shunt_region_free(c->r), FD_NSOCKS, &c->free_prod, (uint32_t)i);
	/* nonblocking on purpose: the shim must cope (it clears it on the wait fds) */
	c->doorbell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
		c->wait[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->eph = 40000;

	memset(&w, 0, sizeof(w));
	w.magic = SHUNT_ABI_MAGIC;
	w.version = SHUNT_ABI_VERSION;
	w.op = SHUNT_CTL_WELCOME;
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
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++)
		fds[SHUNT_CTL_FD_WAIT0 + i] = c->wait[i];
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

static void reply(struct client *c, uint32_t i, uint32_t seq, int rc)
{
	struct shunt_sock *sh = shunt_region_sock(c->r, i);

	/* as shuntd: what the command changed is in place before the answer, so a
	 * shim that sees done_seq never reads the state from before (an OPEN of a
	 * recycled slot would otherwise show FREE, and connect() say EISCONN) */
	sh->state = c->s[i].state;
	sh->flags = c->s[i].flags;
	sh->done_result = rc;
	SHUNT_STORE_REL(&sh->done_seq, seq);
	ev(c, i);
}

/* Echo what the app queued on TCP socket i into its rx ring, as far as it fits. */
static void tcp_echo(struct client *c, uint32_t i)
{
	struct fsock *s = &c->s[i];
	struct shunt_sock *sh = shunt_region_sock(c->r, i);
	uint32_t tx = SHUNT_LOAD_ACQ(&sh->tx_prod) - s->tx_cons;
	uint32_t space = FD_BUF - (s->rx_prod - SHUNT_LOAD_ACQ(&sh->rx_cons));
	uint32_t n = tx < space ? tx : space;
	static uint8_t tmp[FD_BUF];

	if (n == 0)
		return;
	bytering_read(shunt_region_txbuf(c->r, i), FD_BUF, s->tx_cons, tmp, n);
	bytering_write(shunt_region_rxbuf(c->r, i), FD_BUF, s->rx_prod, tmp, n);
	s->rx_prod += n;
	s->tx_cons += n;
	SHUNT_STORE_REL(&sh->rx_prod, s->rx_prod);
	SHUNT_STORE_REL(&sh->tx_cons, s->tx_cons);
	ev(c, i);
}

static void cmd(struct client *c, const struct shunt_cmd *m)
{
	struct shunt_sock *sh;
	struct fsock *s;
	int rc = 0;

	if (m->sock >= FD_NSOCKS)
		return;
	s = &c->s[m->sock];
	sh = shunt_region_sock(c->r, m->sock);
	switch (m->op) {
	case SHUNT_CMD_OPEN:
		if (m->arg != SHUNT_SOCK_STREAM) {
			rc = -EINVAL;
			break;
		}
		s->state = SHUNT_SS_CLOSED;
		s->flags = 0;
		s->rx_prod = s->tx_cons = 0;
		s->port = 0;
		s->due_ms = 0;
		sh->rx_prod = 0;
		sh->tx_cons = 0;
		memset(&sh->local, 0, sizeof(sh->local));
		memset(&sh->remote, 0, sizeof(sh->remote));
		sh->type = m->arg;
		break;
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
			sh->flags |= SHUNT_SF_BOUND; /* as the dataplane: a port is held */
		}
		sh->remote = m->addr;
		sh->mss = 1460;
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
		s->state = SHUNT_SS_FREE;
		s->due_ms = 0;
		ev(c, m->sock);
		shunt_free_push(shunt_region_free(c->r), FD_NSOCKS, &c->free_prod, m->sock);
		return;
	case SHUNT_CMD_SEND:
		if (s->port == 25 && s->state == SHUNT_SS_ESTABLISHED) {
			sh->retrans++;
			tcp_echo(c, m->sock);
		}
		break;
	case SHUNT_CMD_RECVD:
		if (s->port == 25)
			sh->rttvar_us++;
		break;
	case SHUNT_CMD_SETOPT: /* answered: the shim's barrier (cmds_taken) */
	case SHUNT_CMD_NOP:
		break;
	default: /* BIND, SHUTDOWN: no scenario here uses them */
		rc = -EINVAL;
	}
	if (m->flags & SHUNT_CMDF_SYNC)
		reply(c, m->sock, m->seq, rc);
	else
		ev(c, m->sock);
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

static void wake(struct client *c)
{
	static const uint64_t one = 1;
	int i;

	if (!c->dirty)
		return;
	c->dirty = false;
	atomic_thread_fence(memory_order_seq_cst);
	for (i = 0; i < SHUNT_WAIT_SLOTS; i++) {
		uint32_t armed = SHUNT_LOAD_ACQ(&c->r->wait[i].armed_seq);

		if (armed == c->woken[i])
			continue;
		c->woken[i] = armed;
		SHUNT_STORE_REL(&c->r->wait[i].woken_seq, armed);
		(void)!write(c->wait[i], &one, sizeof(one));
	}
}

static bool client_poll(struct client *c)
{
	struct shunt_cmd m[64];
	int64_t now = now_ms();
	bool busy = false;
	uint32_t i;
	int n, k;

	while ((n = shunt_chan_pop(shunt_region_channel(c->r, 0), &c->chan_cons, m, 64)) > 0) {
		for (k = 0; k < n; k++)
			cmd(c, &m[k]);
		busy = true;
	}
	for (i = 0; i < FD_NSOCKS; i++)
		if (c->s[i].state != SHUNT_SS_FREE)
			sock_run(c, i, now);
	wake(c);
	return busy;
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

		for (i = 0; i < FD_CLIENTS; i++)
			if (clients[i] != NULL)
				busy |= client_poll(clients[i]);
		if (busy)
			continue;
		/* adaptive idle, as shuntd: announce sleep, fence, re-check, sleep */
		for (i = 0; i < FD_CLIENTS; i++)
			if (clients[i] != NULL)
				SHUNT_STORE_REL(&clients[i]->r->dp_sleeping, 1);
		atomic_thread_fence(memory_order_seq_cst);
		for (i = 0; i < FD_CLIENTS; i++)
			if (clients[i] != NULL &&
			    !shunt_chan_empty(shunt_region_channel(clients[i]->r, 0),
					      clients[i]->chan_cons))
				busy = true;
		pfd[n++] = (struct pollfd){ lfd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ 0, POLLIN, 0 }; /* stdin EOF: the test is gone */
		for (i = 0; i < FD_CLIENTS; i++) {
			if (clients[i] == NULL)
				continue;
			pfd[n++] = (struct pollfd){ clients[i]->ctl, POLLIN, 0 };
			pfd[n++] = (struct pollfd){ clients[i]->doorbell, POLLIN, 0 };
		}
		if (!busy)
			poll(pfd, (nfds_t)n, 1);
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			char b;

			if (read(0, &b, 1) <= 0)
				break;
		}
		for (i = 0; i < FD_CLIENTS; i++) {
			struct client *c = clients[i];
			uint64_t v;
			char b[16];

			if (c == NULL)
				continue;
			SHUNT_STORE_REL(&c->r->dp_sleeping, 0);
			(void)!read(c->doorbell, &v, sizeof(v));
			if (recv(c->ctl, b, sizeof(b), MSG_DONTWAIT) == 0) {
				client_free(c); /* the process went away */
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
