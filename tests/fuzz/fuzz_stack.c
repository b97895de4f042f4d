/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The stack a fuzz input meets (see fuzz_stack.h): the modules shuntd links, driven
 * as main.c and loop.c drive them, with the clock and the application played here.
 *
 *   fuzz_stack_init()   once: rte_eal_init(--no-huge, --vdev=net_null0), port_init()
 *   fuzz_stack_start()  per input: arp/tcp/udp/apps_init() as main.c, fixed secrets,
 *                       app_create() (the region of one process, no control socket),
 *                       an ARP reply, OPEN/BIND/LISTEN, OPEN/BIND/CONNECT + the
 *                       peer's SYN-ACK + SEND, OPEN/BIND of a datagram socket
 *   fuzz_stack_rx()     eth_input() on an mbuf whose data is a heap buffer of exactly
 *                       the frame, then fuzz_stack_step(): loop_run()'s body
 *   fuzz_stack_stop()   main.c's shutdown order, then every mbuf back in the pool
 *
 * What goes out reaches the net_null PMD through dp_tx_flush(), which frees it: the
 * TX path is the real one down to rte_eth_tx_burst().
 *
 * A received frame's mbuf points at a malloc'd buffer (an external buffer, freed
 * with the mbuf) rather than at the pool's 2 KiB data room: a read past the frame,
 * or of a frame already freed, is then an AddressSanitizer report instead of a read
 * of stale pool memory. Its headroom is the PMDs' (RTE_PKTMBUF_HEADROOM), its
 * tailroom zero.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <shunt/abi.h>
#include <shunt/ring.h>

#include "conf.h"
#include "core/app.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "dp.h"
#include "net/net.h"
#include "tcp/tcb.h"
#include "tcp/tcp.h"
#include "tcp/tcp_wire.h"
#include "udp/udp.h"
#include "fuzz_stack.h"

#define FUZZ_MBUFS     2047
#define FUZZ_SOCKETS   16
#define FUZZ_RING      65536
#define FUZZ_BACKLOG   16
#define FUZZ_APP_CHUNK 1000

const struct rte_ether_addr fuzz_our_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 2 } };
const struct rte_ether_addr fuzz_peer_mac = { .addr_bytes = { 2, 0, 0, 0, 0, 1 } };

/* An application socket as the shim knows it: slot and generation. */
struct fuzz_sock {
	uint32_t slot, gen;
	bool open;
};

static struct {
	struct dp_ctx port;    /* what port_init() set: copied into every fresh ctx */
	char rundir[PATH_MAX];
	bool dump;             /* SHUNT_FUZZ_DUMP is set */
	struct dp_conf conf;
	struct dp_ctx ctx;
	struct dp_app *app;
	uint32_t seq;          /* of the last synchronous command */
	uint32_t tx_pattern;   /* bytes the app has written on the connection */
	struct fuzz_sock listener, conn, udp;
} fz;

static void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz_stack: %s\n", what);
	abort();
}

static void fuzz_eal_cleanup(void)
{
	rte_eal_cleanup();
	(void)rmdir(fz.rundir);
}

int fuzz_stack_init(void)
{
	char prefix[64];
	char *eal[] = { "fuzz_rx", "--no-huge", "-m", "128", "--no-pci", "-l", "0",
			"--log-level=error", "--no-shconf", "--no-telemetry",
			"--vdev=net_null0", prefix, NULL };
	uint16_t port_id;

	/* a prefix of our own, so parallel fuzzers (-jobs) never meet; tools/clean.sh
	 * knows the name */
	snprintf(prefix, sizeof(prefix), "--file-prefix=shunt_unit_fuzz_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		fprintf(stderr, "fuzz_stack: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	snprintf(fz.rundir, sizeof(fz.rundir), "%s", rte_eal_get_runtime_dir());
	atexit(fuzz_eal_cleanup);
	fz.dump = getenv("SHUNT_FUZZ_DUMP") != NULL;
	dp_log_set_level(fz.dump ? DP_LOG_DEBUG : DP_LOG_ERR);
	RTE_ETH_FOREACH_DEV(port_id)
		break;
	if (rte_eth_dev_count_avail() == 0 || port_init(&fz.port, port_id, FUZZ_MBUFS) < 0) {
		fprintf(stderr, "fuzz_stack: no net_null port\n");
		return -1;
	}
	/* the address the corpus is written for, whatever net_null made up */
	fz.port.mac = fuzz_our_mac;
	return 0;
}

/* ---- the application's side: commands as the shim pushes them --------------- */

static struct shunt_channel *fuzz_chan(void)
{
	return shunt_region_channel(fz.app->r, 0);
}

static void fuzz_push(uint16_t op, const struct fuzz_sock *s, uint32_t arg, uint32_t addr_be,
		      uint16_t port_be, uint16_t flags)
{
	struct shunt_cmd c = { .op = op, .flags = flags, .arg = arg,
			       .sock = s != NULL ? s->slot : SHUNT_SOCK_NONE,
			       .gen = s != NULL ? s->gen : 0, .seq = ++fz.seq };

	c.addr.addr = addr_be;
	c.addr.port = port_be;
	if (shunt_chan_push(fuzz_chan(), &c) < 0)
		fuzz_die("command channel full");
}

/* A synchronous command during set-up: it must succeed. */
static void fuzz_sync(uint16_t op, struct fuzz_sock *s, uint32_t arg, uint32_t addr_be,
		      uint16_t port_be)
{
	const struct shunt_reply *rep = &fuzz_chan()->reply;

	fuzz_push(op, s, arg, addr_be, port_be, SHUNT_CMDF_SYNC);
	apps_poll(&fz.ctx);
	if (SHUNT_LOAD_ACQ(&rep->seq) != fz.seq || rep->result != 0) {
		fprintf(stderr, "fuzz_stack: set-up command %u answered %d\n", op, rep->result);
		abort();
	}
}

static void fuzz_open(struct fuzz_sock *s, uint32_t type)
{
	const struct shunt_reply *rep = &fuzz_chan()->reply;

	fuzz_sync(SHUNT_CMD_OPEN, NULL, type, 0, 0);
	s->slot = rep->sock;
	s->gen = rep->gen;
	s->open = true;
}

static struct shunt_sock *fuzz_sh(const struct fuzz_sock *s)
{
	return shunt_region_sock(fz.app->r, s->slot);
}

/* The app writes n bytes on the connection and says so (SEND): bytes counting up,
 * copied from a pattern (a byte loop would cost more than the input's frames). */
static void fuzz_app_write(uint32_t n)
{
	static uint8_t pattern[FUZZ_RING + 256];
	struct shunt_sock *sh = fuzz_sh(&fz.conn);
	uint8_t *ring = (uint8_t *)fz.app->r + sh->tx_off;
	uint32_t prod = SHUNT_LOAD_RLX(&sh->tx_prod);
	uint32_t room = sh->tx_size - (prod - SHUNT_LOAD_ACQ(&sh->tx_cons));
	uint32_t at = prod & (sh->tx_size - 1), first;
	const uint8_t *src;

	if (pattern[1] == 0)
		for (uint32_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)i;
	if (n > room)
		n = room;
	src = pattern + (fz.tx_pattern & 0xff);
	first = n < sh->tx_size - at ? n : sh->tx_size - at;
	memcpy(ring + at, src, first);
	memcpy(ring, src + first, n - first);
	fz.tx_pattern += n;
	SHUNT_STORE_REL(&sh->tx_prod, prod + n);
	fuzz_push(SHUNT_CMD_SEND, &fz.conn, 0, 0, 0, 0);
}

/* The app reads everything s received (bytes, or datagram records) and says so. */
static void fuzz_app_read(const struct fuzz_sock *s)
{
	struct shunt_sock *sh = fuzz_sh(s);

	if (!s->open)
		return;
	SHUNT_STORE_REL(&sh->rx_cons, SHUNT_LOAD_ACQ(&sh->rx_prod));
	fuzz_push(SHUNT_CMD_RECVD, s, 0, 0, 0, 0);
}

void fuzz_stack_app(unsigned ops)
{
	if (ops & FUZZ_APP_READ) {
		fuzz_app_read(&fz.conn);
		fuzz_app_read(&fz.udp);
	}
	if (fz.conn.open && (ops & FUZZ_APP_WRITE))
		fuzz_app_write(FUZZ_APP_CHUNK);
	if (fz.conn.open && (ops & FUZZ_APP_SHUT_WR))
		fuzz_push(SHUNT_CMD_SHUTDOWN, &fz.conn, SHUT_WR, 0, 0, SHUNT_CMDF_SYNC);
	if (fz.conn.open && (ops & FUZZ_APP_CLOSE)) {
		fuzz_push(SHUNT_CMD_CLOSE, &fz.conn, 0, 0, 0, 0);
		fz.conn.open = false;
	}
}

/* ---- the peer's side during set-up ----------------------------------------------- */

static void fuzz_arp_reply(void)
{
	struct {
		struct rte_ether_hdr eth;
		struct rte_arp_hdr arp;
	} __rte_packed f;

	memset(&f, 0, sizeof(f));
	f.eth.dst_addr = fuzz_our_mac;
	f.eth.src_addr = fuzz_peer_mac;
	f.eth.ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	f.arp.arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	f.arp.arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	f.arp.arp_hlen = RTE_ETHER_ADDR_LEN;
	f.arp.arp_plen = 4;
	f.arp.arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	f.arp.arp_data.arp_sha = fuzz_peer_mac;
	f.arp.arp_data.arp_sip = htonl(FUZZ_PEER_IP);
	f.arp.arp_data.arp_tha = fuzz_our_mac;
	f.arp.arp_data.arp_tip = htonl(FUZZ_OUR_IP);
	fuzz_stack_rx((const uint8_t *)&f, sizeof(f), false);
}

/* The peer's SYN-ACK to our SYN (ack = iss + 1), with the options Linux offers. */
static void fuzz_syn_ack(uint32_t iss)
{
	struct tcp_hdr_out h = {
		.sport_be = htons(FUZZ_PEER_PORT), .dport_be = htons(FUZZ_CONN_PORT),
		.seq = FUZZ_IRS, .ack = iss + 1, .flags = TCP_SYN | TCP_ACK, .wnd = 65160,
		.mss = 1460, .has_ws = true, .ws = 7, .sack_ok = true,
		.has_ts = true, .tsval = FUZZ_PEER_TSVAL,
		.tsecr = (uint32_t)(FUZZ_START_US / 1000), /* our SYN's: ms of our clock */
	};
	uint8_t f[sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + TCP_HDR_MAX];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint8_t *tcp = (uint8_t *)(ip + 1);
	int hl;

	memset(f, 0, sizeof(f));
	hl = tcp_wire_build(tcp, TCP_HDR_MAX, &h);
	if (hl < 0)
		fuzz_die("SYN-ACK does not build");
	eth->dst_addr = fuzz_our_mac;
	eth->src_addr = fuzz_peer_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = htons((uint16_t)(sizeof(*ip) + (unsigned)hl));
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = htonl(FUZZ_PEER_IP);
	ip->dst_addr = htonl(FUZZ_OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	((struct rte_tcp_hdr *)tcp)->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
	fuzz_stack_rx(f, (uint32_t)(sizeof(*eth) + sizeof(*ip) + (unsigned)hl), false);
}

/* ---- the stack --------------------------------------------------------------------- */

struct dp_ctx *fuzz_stack_start(void)
{
	struct dp_ctx *ctx = &fz.ctx;
	struct dp_sock *s;
	struct tcb *tcb;

	conf_defaults(&fz.conf);
	fz.conf.ip_be = htonl(FUZZ_OUR_IP);
	fz.conf.prefix_len = FUZZ_PREFIX;
	fz.conf.has_ip = true;
	fz.conf.max_sockets = FUZZ_SOCKETS;
	fz.conf.rx_buf = fz.conf.tx_buf = FUZZ_RING;
	fz.conf.log_level = fz.dump ? DP_LOG_DEBUG : DP_LOG_ERR;

	/* main.c's context, with the port that was set up once */
	*ctx = fz.port;
	ctx->conf = &fz.conf;
	ctx->now_us = FUZZ_START_US;
	ctx->epfd = ctx->rx_fd = -1;
	ctx->ip_be = fz.conf.ip_be;
	ctx->netmask_be = htonl(~0u << (32 - FUZZ_PREFIX));
	if (arp_init(ctx) < 0 || tcp_init(ctx) < 0 || udp_init(ctx) < 0 || apps_init(ctx) < 0)
		fuzz_die("cannot initialise the stack");
	/* getrandom()'s secrets replaced by fixed ones: the same input must meet the same
	 * sequence numbers (and the corpus our ISS) */
	ctx->tcp->isn_key[0] = FUZZ_ISN_KEY0;
	ctx->tcp->isn_key[1] = FUZZ_ISN_KEY1;
	ctx->tcp->cookie_key[0][0] = 0x5eed0003;
	ctx->tcp->cookie_key[0][1] = 0x5eed0004;
	ctx->tcp->cookie_key[1][0] = 0x5eed0005;
	ctx->tcp->cookie_key[1][1] = 0x5eed0006;
	ctx->tcp->rng = 0x5eed0007;
	srand(1); /* udp.c's ephemeral port start */

	fz.seq = 0;
	fz.tx_pattern = 0;
	if (app_create(ctx, -1, getpid(), SHUNT_ABI_VERSION,
		       SHUNT_FEAT_READY | SHUNT_FEAT_LISTEN, &fz.app) < 0)
		fuzz_die("app_create failed");
	fz.app->r->chan_hint[0] = 1; /* the shim's first thread takes channel 0 */

	fuzz_arp_reply();

	fuzz_open(&fz.listener, SHUNT_SOCK_STREAM);
	fuzz_sync(SHUNT_CMD_BIND, &fz.listener, 0, htonl(FUZZ_OUR_IP), htons(FUZZ_LISTEN_PORT));
	fuzz_sync(SHUNT_CMD_LISTEN, &fz.listener, FUZZ_BACKLOG, 0, 0);

	fuzz_open(&fz.conn, SHUNT_SOCK_STREAM);
	fuzz_sync(SHUNT_CMD_BIND, &fz.conn, 0, 0, htons(FUZZ_CONN_PORT));
	fuzz_sync(SHUNT_CMD_CONNECT, &fz.conn, 0, htonl(FUZZ_PEER_IP), htons(FUZZ_PEER_PORT));
	s = &fz.app->socks[fz.conn.slot];
	tcb = s->pcb;
	if (tcb == NULL || tcb->iss != FUZZ_ISS) {
		fprintf(stderr, "fuzz_stack: our ISS is 0x%08x, FUZZ_ISS says 0x%08x: update "
			"FUZZ_ISS in fuzz_stack.h and convert the corpus again\n",
			tcb != NULL ? tcb->iss : 0, FUZZ_ISS);
		abort();
	}
	ctx->now_us += 1000; /* the peer is a millisecond away */
	fuzz_syn_ack(tcb->iss);
	if (s->state != SHUNT_SS_ESTABLISHED)
		fuzz_die("the connection did not establish");
	fuzz_app_write(FUZZ_CONN_QUEUED);

	fuzz_open(&fz.udp, SHUNT_SOCK_DGRAM);
	fuzz_sync(SHUNT_CMD_BIND, &fz.udp, 0, htonl(FUZZ_OUR_IP), htons(FUZZ_UDP_PORT));
	fuzz_stack_step();
	return ctx;
}

/* libFuzzer's once-per-process hook, the same for every target */
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_stack_init() == 0 ? 0 : -1;
}

struct dp_app *fuzz_stack_proc(void)
{
	return fz.app;
}

/* loop_run()'s body after the RX burst (see core/loop.c); the control socket and
 * housekeeping are left out: there is no control socket, and hole punching is
 * about memory, not input. */
void fuzz_stack_step(void)
{
	struct dp_ctx *ctx = &fz.ctx;

	lo_input_burst(ctx, 128);
	apps_poll(ctx);
	tcp_timer_run(ctx);
	arp_timer(ctx);
	dp_tx_flush(ctx);
	apps_wake(ctx);
}

static void fuzz_frame_free(void *addr, void *opaque)
{
	free(addr);
	free(opaque);
}

void fuzz_stack_rx(const uint8_t *frame, uint32_t len, bool csum_good)
{
	struct rte_mbuf_ext_shared_info *shinfo;
	struct rte_mbuf *m;
	uint8_t *buf;

	if (len > UINT16_MAX - RTE_PKTMBUF_HEADROOM)
		len = UINT16_MAX - RTE_PKTMBUF_HEADROOM;
	m = rte_pktmbuf_alloc(fz.ctx.pool);
	buf = malloc(RTE_PKTMBUF_HEADROOM + len);
	shinfo = malloc(sizeof(*shinfo));
	if (m == NULL || buf == NULL || shinfo == NULL)
		fuzz_die("out of mbufs or memory");
	memcpy(buf + RTE_PKTMBUF_HEADROOM, frame, len);
	shinfo->free_cb = fuzz_frame_free;
	shinfo->fcb_opaque = shinfo;
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, buf, 0, (uint16_t)(RTE_PKTMBUF_HEADROOM + len), shinfo);
	m->data_off = RTE_PKTMBUF_HEADROOM;
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->port = fz.ctx.port_id;
	/* a NIC with checksum offload vouches for both; without, ipv4.c computes them */
	if (csum_good)
		m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	eth_input(&fz.ctx, m);
	fuzz_stack_step();
}

void fuzz_stack_advance(uint64_t us)
{
	fz.ctx.now_us += us;
}

void fuzz_stack_stop(void)
{
	struct dp_ctx *ctx = &fz.ctx;

	/* SHUNT_FUZZ_DUMP=1: what an input did (counters, connections), to check that a
	 * corpus input reaches what it was captured for */
	if (fz.dump)
		loop_dump_all(ctx, stderr);
	/* main.c's order */
	apps_fini(ctx);
	dp_tx_flush(ctx);
	tcp_fini(ctx);
	udp_fini(ctx);
	dp_tx_flush(ctx);
	lo_fini(ctx);
	arp_fini(ctx);
	fz.app = NULL;
	fz.listener.open = fz.conn.open = fz.udp.open = false;
	/* LeakSanitizer does not see the pool: a lost mbuf is found here */
	if (!rte_mempool_full(ctx->pool)) {
		fprintf(stderr, "fuzz_stack: %u of %u mbufs not back in the pool\n",
			ctx->pool->size - rte_mempool_avail_count(ctx->pool), ctx->pool->size);
		abort();
	}
}
