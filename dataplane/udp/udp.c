/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * UDP (RFC 768; socket semantics as Linux's net/ipv4/udp.c), see udp.h.
 *
 *   udp_input(): header checked -> udp_lookup() by local port: a connected socket
 *                whose peer matches beats an unconnected one; a connected socket
 *                never sees other peers (POSIX connect) -> udp_deliver() writes a
 *                record into the rx ring, or drops it (rcvbuf full, counted)
 *                no socket -> icmp_send_unreach(port)
 *   udp_app_send(): every record between tx_cons and tx_prod is checked (length,
 *                fits, destination) -> implicit bind -> mbuf -> ipv4_output()
 *
 * Ports: one chain per local port, array-indexed, so lookup is O(sockets on that
 * port). Ephemeral ports come from the configured range, like TCP's, but in UDP's
 * own space (TCP and UDP ports are independent, as in Linux).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <shunt/bytering.h>

#include "core/sock.h"
#include "dp.h"
#include "net/icmp.h"
#include "net/net.h"
#include "udp/udp.h"

#define UDP_MAX_PAYLOAD 65507u /* 65535 - IPv4 header - UDP header */
#define UDP_NPORTS 65536

struct udp_stats {
	UDP_STATS(DP_STAT_FIELD)
};

struct udp_pcb {
	struct udp_pcb *next;   /* chain of the local port */
	struct dp_sock *s;
	uint32_t laddr_be;      /* 0: any (the stack has one address) */
	uint16_t lport;         /* host order; 0: unbound */
	uint32_t raddr_be;      /* connected peer, 0 if none */
	uint16_t rport_be;
	bool user_bound;        /* bind() named the port: disconnect keeps it */
	bool addr_locked;       /* bind() named the address: disconnect keeps it */
	bool reuseaddr;
	uint8_t tos;            /* IP_TOS, the whole byte (Linux keeps ECN bits only for TCP) */
	uint8_t ttl;            /* IP_TTL; 0: the default */
};

struct udp_stack {
	struct udp_pcb *ports[UDP_NPORTS];
	uint32_t next_eph;
	uint32_t n_pcbs;    /* open UDP sockets (SIGUSR1: a leak shows here) */
	struct udp_stats stats;
};

static struct udp_stack *udp_of(struct dp_ctx *ctx)
{
	return ctx->udp;
}

int udp_init(struct dp_ctx *ctx)
{
	struct udp_stack *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return -ENOMEM;
	u->next_eph = (uint32_t)rand();
	ctx->udp = u;
	return 0;
}

void udp_fini(struct dp_ctx *ctx)
{
	free(ctx->udp);
	ctx->udp = NULL;
}

/* ---- port table ---------------------------------------------------------------- */

static void udp_port_link(struct udp_stack *u, struct udp_pcb *p, uint16_t port)
{
	p->lport = port;
	p->next = u->ports[port];
	u->ports[port] = p;
	dp_sock_stage_flags(p->s, SHUNT_SF_BOUND, 0);
}

static void udp_port_unlink(struct udp_stack *u, struct udp_pcb *p)
{
	struct udp_pcb **pp;

	if (p->lport == 0)
		return;
	for (pp = &u->ports[p->lport]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	p->lport = 0;
	p->next = NULL;
	dp_sock_stage_flags(p->s, 0, SHUNT_SF_BOUND);
}

/* May p bind port? Linux: two sockets share a port only if both set SO_REUSEADDR. */
static bool udp_port_free_for(const struct udp_stack *u, uint16_t port, const struct udp_pcb *p)
{
	const struct udp_pcb *q;

	for (q = u->ports[port]; q != NULL; q = q->next)
		if (!(p->reuseaddr && q->reuseaddr))
			return false;
	return true;
}

static int udp_autobind(struct dp_ctx *ctx, struct udp_pcb *p)
{
	struct udp_stack *u = udp_of(ctx);
	uint32_t lo = ctx->conf->eph_lo, n = ctx->conf->eph_hi - lo + 1, i;

	for (i = 0; i < n; i++) {
		uint16_t port = (uint16_t)(lo + (u->next_eph + i) % n);

		if (u->ports[port] == NULL) {
			u->next_eph += i + 1;
			udp_port_link(u, p, port);
			dp_sock_set_local(p->s, p->laddr_be, htons(port));
			return 0;
		}
	}
	return -EAGAIN; /* Linux: every ephemeral UDP port is taken */
}

/* ---- app commands -------------------------------------------------------------- */

int udp_open(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct udp_pcb *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -ENOMEM;
	p->s = s;
	s->pcb = p;
	udp_of(ctx)->n_pcbs++;
	return 0;
}

int udp_bind(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be,
	     uint32_t flags)
{
	struct udp_stack *u = udp_of(ctx);
	struct udp_pcb *p = s->pcb;
	uint16_t port = ntohs(port_be);

	if (p->lport != 0)
		return -EINVAL; /* already bound, as Linux */
	if (addr_be != 0 && addr_be != ctx->ip_be)
		return -EADDRNOTAVAIL;
	p->laddr_be = addr_be;
	if (port == 0) {
		int rc = udp_autobind(ctx, p);

		return rc == -EAGAIN ? -EADDRINUSE : rc;
	}
	if (!udp_port_free_for(u, port, p))
		return -EADDRINUSE;
	p->user_bound = !(flags & SHUNT_BINDF_UNLOCKED);
	p->addr_locked = addr_be != 0;
	udp_port_link(u, p, port);
	dp_sock_set_local(s, addr_be, port_be);
	return 0;
}

int udp_connect(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be)
{
	struct udp_pcb *p = s->pcb;
	uint32_t nexthop;
	int rc;

	rc = route_lookup(ctx, addr_be, &nexthop);
	if (rc < 0)
		return rc;
	/* ip4_datagram_connect: the source address is chosen, the port bound */
	if (p->laddr_be == 0)
		p->laddr_be = ctx->ip_be;
	if (p->lport == 0) {
		rc = udp_autobind(ctx, p);
		if (rc < 0)
			return rc;
	}
	p->raddr_be = addr_be;
	p->rport_be = port_be;
	dp_sock_set_local(s, p->laddr_be, htons(p->lport));
	dp_sock_set_remote(s, addr_be, port_be);
	dp_sock_set_flags(ctx, s, SHUNT_SF_CONNECTED, 0);
	return 0;
}

int udp_disconnect(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct udp_pcb *p = s->pcb;

	/* __udp_disconnect: forget the peer; the source address unless bind() named
	 * one (SOCK_BINDADDR_LOCK), the port unless bind() named it (BINDPORT_LOCK). */
	p->raddr_be = 0;
	p->rport_be = 0;
	if (!p->addr_locked)
		p->laddr_be = 0;
	if (!p->user_bound)
		udp_port_unlink(udp_of(ctx), p);
	dp_sock_set_remote(s, 0, 0);
	dp_sock_set_local(s, p->laddr_be, htons(p->lport));
	dp_sock_set_flags(ctx, s, 0, SHUNT_SF_CONNECTED);
	return 0;
}

int udp_app_setopt(struct dp_ctx *ctx, struct dp_sock *s, uint32_t opt, uint64_t value)
{
	struct udp_pcb *p = s->pcb;

	(void)ctx;
	switch (opt) {
	case SHUNT_OPT_REUSEADDR:
		p->reuseaddr = value != 0;
		return 0;
	case SHUNT_OPT_RCVBUF:
		s->rcvbuf = value < s->rx_size ? (uint32_t)value : s->rx_size;
		return 0;
	case SHUNT_OPT_SNDBUF:
		s->sndbuf = value < s->tx_size ? (uint32_t)value : s->tx_size;
		return 0;
	case SHUNT_OPT_TOS:
		if (value > 0xff)
			return -EINVAL;
		p->tos = (uint8_t)value;
		return 0;
	case SHUNT_OPT_TTL:
		if (value < 1 || value > 255)
			return -EINVAL;
		p->ttl = (uint8_t)value;
		return 0;
	default:
		return 0; /* TCP options on a UDP socket: the shim answers them */
	}
}

void udp_app_close(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct udp_pcb *p = s->pcb;

	if (p == NULL)
		return;
	udp_port_unlink(udp_of(ctx), p);
	free(p);
	udp_of(ctx)->n_pcbs--;
	dp_sock_pcb_done(ctx, s);
}

/* ---- send ------------------------------------------------------------------------- */

/* Send one datagram of len bytes at tx ring position pos. */
static int udp_output(struct dp_ctx *ctx, struct udp_pcb *p, uint32_t pos, uint32_t len,
		      uint32_t dst_be, uint16_t dport_be)
{
	struct udp_stack *u = udp_of(ctx);
	struct dp_sock *s = p->s;
	struct rte_udp_hdr *uh;
	struct rte_mbuf *m;
	uint8_t *payload;
	int rc;

	/* One segment of the default mbuf size; IP fragmentation is not done yet, so
	 * a datagram must fit the MTU (EMSGSIZE is reported by the shim before). */
	if (len + sizeof(*uh) + sizeof(struct rte_ipv4_hdr) > ctx->mtu) {
		u->stats.udp_tx_too_big++;
		return -EMSGSIZE;
	}
	m = rte_pktmbuf_alloc(ctx->pool);
	if (m == NULL) {
		u->stats.udp_drop_nombuf++;
		return -ENOBUFS;
	}
	uh = (struct rte_udp_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*uh) + len));
	if (uh == NULL) {
		rte_pktmbuf_free(m);
		u->stats.udp_drop_nombuf++;
		return -ENOBUFS;
	}
	uh->src_port = htons(p->lport);
	uh->dst_port = dport_be;
	uh->dgram_len = htons((uint16_t)(sizeof(*uh) + len));
	uh->dgram_cksum = 0; /* ipv4_output() fills it */
	payload = (uint8_t *)(uh + 1);
	bytering_read(s->tx_buf, s->tx_size, pos, payload, len);
	m->l4_len = sizeof(*uh);
	rc = ipv4_output_tos_ttl(ctx, m, ctx->ip_be, dst_be, IPPROTO_UDP, p->tos, p->ttl);
	if (rc < 0)
		u->stats.udp_tx_noroute++;
	else
		u->stats.udp_tx++;
	return rc;
}

/* The app wrote an impossible index or record: the socket is dead, said once.
 * The pcb stays (commands keep working on it) until the app closes it. */
static void udp_broke(struct dp_ctx *ctx, struct dp_sock *s)
{
	if (s->flags & SHUNT_SF_RESET)
		return;
	udp_of(ctx)->stats.udp_app_broken++;
	dp_sock_set_error(ctx, s, EPROTO);
	dp_sock_set_flags(ctx, s, SHUNT_SF_RESET, 0);
}

void udp_app_send(struct dp_ctx *ctx, struct dp_sock *s)
{
	struct udp_stack *u = udp_of(ctx);
	struct udp_pcb *p = s->pcb;
	uint32_t queued;
	uint32_t done = 0;

	if (s->broken) {
		udp_broke(ctx, s);
		return;
	}
	queued = dp_sock_tx_queued(s);
	if (s->broken) {
		udp_broke(ctx, s);
		return;
	}

	while (done + sizeof(struct shunt_dgram) <= queued) {
		struct shunt_dgram d;
		uint32_t pos = s->tx_cons + done;
		uint32_t off = pos & (s->tx_size - 1);
		uint32_t rec;
		uint32_t dst;
		uint16_t dport;

		if (s->tx_size - off < sizeof(d)) {
			/* records never straddle the end: the writer skipped the tail */
			done += s->tx_size - off;
			continue;
		}
		bytering_read(s->tx_buf, s->tx_size, pos, &d, sizeof(d));
		if (d.len == SHUNT_DGRAM_WRAP) {
			done += s->tx_size - off;
			continue;
		}
		rec = (uint32_t)sizeof(d) + ((d.len + 7u) & ~7u);
		if (d.len > UDP_MAX_PAYLOAD || rec > queued - done || rec > s->tx_size - off) {
			u->stats.udp_tx_bad_record++;
			s->broken = true;
			udp_broke(ctx, s);
			return;
		}
		dst = d.peer.addr != 0 ? d.peer.addr : p->raddr_be;
		dport = d.peer.addr != 0 ? d.peer.port : p->rport_be;
		if (dst != 0 && dport != 0 && (p->lport != 0 || udp_autobind(ctx, p) == 0)) {
			int rc = udp_output(ctx, p, pos + sizeof(d), d.len, dst, dport);

			/* Like the kernel, a datagram that cannot leave is lost; on a
			 * connected socket the reason is reported at the next call. */
			if (rc < 0 && rc != -ENOBUFS && p->raddr_be != 0)
				dp_sock_set_error(ctx, s, -rc);
		}
		done += rec;
	}
	if (done > queued)
		done = queued;
	dp_sock_tx_release(ctx, s, done);
}

/* ---- receive ---------------------------------------------------------------------- */

static struct udp_pcb *udp_lookup(struct udp_stack *u, uint16_t dport, uint32_t src_be,
				  uint16_t sport_be)
{
	struct udp_pcb *p, *best = NULL;

	for (p = u->ports[dport]; p != NULL; p = p->next) {
		if (p->raddr_be != 0) {
			if (p->raddr_be == src_be && p->rport_be == sport_be)
				return p; /* an exact connected match wins */
			continue;         /* connected to someone else: never */
		}
		if (best == NULL)
			best = p;
	}
	return best;
}

static void udp_deliver(struct dp_ctx *ctx, struct udp_pcb *p, const uint8_t *data,
			uint32_t len, uint32_t src_be, uint16_t sport_be, uint32_t dst_be)
{
	struct udp_stack *u = udp_of(ctx);
	struct dp_sock *s = p->s;
	struct shunt_dgram d = {.len = len};
	uint32_t rec = (uint32_t)sizeof(d) + ((len + 7u) & ~7u);
	uint32_t off = s->rx_prod & (s->rx_size - 1);
	uint32_t skip = 0;
	uint32_t space = dp_sock_rx_space(s);

	/* A record never wraps: if it does not fit before the end, mark the tail
	 * skipped and start at 0 (the reader follows SHUNT_DGRAM_WRAP). */
	if (s->rx_size - off < rec)
		skip = s->rx_size - off;
	if (skip + rec > space) {
		u->stats.udp_drop_rcvbuf++;
		return;
	}
	if (skip != 0) {
		if (skip >= sizeof(d)) {
			struct shunt_dgram w = {.len = SHUNT_DGRAM_WRAP};

			dp_sock_rx_write(s, 0, &w, sizeof(w));
		}
		/* publish the skip together with the record below */
	}
	d.peer.addr = src_be;
	d.peer.port = sport_be;
	d.dst = dst_be; /* for IP_PKTINFO */
	dp_sock_rx_write(s, skip, &d, sizeof(d));
	dp_sock_rx_write(s, skip + (uint32_t)sizeof(d), data, len);
	dp_sock_rx_commit(ctx, s, skip + rec);
	u->stats.udp_rx++;
}

void udp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be)
{
	struct udp_stack *u = udp_of(ctx);
	const struct rte_udp_hdr *uh;
	struct udp_pcb *p;
	uint16_t ulen;

	if (rte_pktmbuf_data_len(m) < sizeof(*uh)) {
		u->stats.udp_drop_short++;
		goto drop;
	}
	uh = rte_pktmbuf_mtod(m, const struct rte_udp_hdr *);
	ulen = ntohs(uh->dgram_len);
	if (ulen < sizeof(*uh) || ulen > rte_pktmbuf_data_len(m)) {
		u->stats.udp_drop_len++;
		goto drop;
	}
	p = udp_lookup(u, ntohs(uh->dst_port), src_be, uh->src_port);
	if (p == NULL) {
		u->stats.udp_drop_no_port++;
		icmp_send_unreach(ctx, m, 3); /* port unreachable; takes m */
		return;
	}
	udp_deliver(ctx, p, (const uint8_t *)(uh + 1), ulen - (uint32_t)sizeof(*uh), src_be,
		    uh->src_port, dst_be);
drop:
	rte_pktmbuf_free(m);
}

void udp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err)
{
	struct udp_stack *u = udp_of(ctx);
	const struct rte_ipv4_hdr *iph = (const struct rte_ipv4_hdr *)ip;
	const struct rte_udp_hdr *uh;
	struct udp_pcb *p;
	uint32_t hl;

	if (len < sizeof(*iph))
		return;
	hl = (uint32_t)(iph->version_ihl & 0xf) * 4;
	if (hl < sizeof(*iph) || len < hl + sizeof(*uh))
		return;
	uh = (const struct rte_udp_hdr *)(ip + hl);
	/* Linux (__udp4_lib_err): the error goes to the socket the datagram came from,
	 * and is reported only if it is connected (inet->recverr is off by default). */
	for (p = u->ports[ntohs(uh->src_port)]; p != NULL; p = p->next) {
		if (p->raddr_be == iph->dst_addr && p->rport_be == uh->dst_port) {
			u->stats.udp_icmp_err++;
			dp_sock_set_error(ctx, p->s, err);
			return;
		}
	}
}

void udp_dump(struct dp_ctx *ctx, FILE *f)
{
	const struct udp_stats *s = &udp_of(ctx)->stats;

	fprintf(f, "udp:\n");
	fprintf(f, "  %-28s %u\n", "udp_pcbs", udp_of(ctx)->n_pcbs);
	UDP_STATS(DP_STAT_PRINT)
}
