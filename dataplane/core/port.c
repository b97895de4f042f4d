/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The port (see port.h). TX is buffered: protocols call dp_tx() per packet, the
 * loop calls dp_tx_flush() once per iteration, so packets leave in bursts as in
 * DPDK's l2fwd, and a full buffer flushes early.
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "core/log.h"
#include "core/port.h"
#include "dp.h"

#define PORT_RX_DESC 1024
#define PORT_TX_DESC 1024
#define PORT_MBUF_CACHE 256

static const uint64_t port_want_rx = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
	RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
static const uint64_t port_want_tx = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
	RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

static int port_configure(struct dp_ctx *ctx, const struct rte_eth_dev_info *info, int intr)
{
	struct rte_eth_conf conf;
	uint16_t nb_rx = PORT_RX_DESC, nb_tx = PORT_TX_DESC;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.offloads = info->rx_offload_capa & port_want_rx;
	conf.txmode.offloads = info->tx_offload_capa & port_want_tx;
	/* net_tap's TCP checksum "offload" is software in the PMD, and it writes a sum
	 * of 0 as 0xffff, RFC 768's rule for UDP (Linux takes it, RFC 1624 says a
	 * computed checksum is never 0xffff, tshark calls it bad): ours costs the
	 * same and is right (net/ipv4.c) */
	if (strcmp(info->driver_name, "net_tap") == 0)
		conf.txmode.offloads &= ~RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	conf.intr_conf.rxq = intr;
	rc = rte_eth_dev_configure(ctx->port_id, 1, 1, &conf);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(ctx->port_id, &nb_rx, &nb_tx);
	if (rc < 0)
		return rc;
	rc = rte_eth_rx_queue_setup(ctx->port_id, 0, nb_rx, rte_eth_dev_socket_id(ctx->port_id),
				    NULL, ctx->pool);
	if (rc < 0)
		return rc;
	rc = rte_eth_tx_queue_setup(ctx->port_id, 0, nb_tx, rte_eth_dev_socket_id(ctx->port_id),
				    NULL);
	if (rc < 0)
		return rc;
	ctx->rx_offloads = conf.rxmode.offloads;
	ctx->tx_offloads = conf.txmode.offloads;
	return 0;
}

/* A tap: the kernel queues every frame for our read(), floods included; give it
 * the SYN guard (no other driver has a kernel queue in front of us to guard). */
static void port_guard(struct dp_ctx *ctx, const struct rte_eth_dev_info *info)
{
	char why[400];

	ctx->syn_guard.map_fd = -1;
	if (strcmp(info->driver_name, "net_tap") != 0 || info->if_index == 0 ||
	    ctx->conf->syn_rate == 0)
		return;
	if (syn_guard_init(&ctx->syn_guard, (int)info->if_index, ctx->conf->syn_rate,
			   ctx->conf->syn_rate, why, sizeof(why)) < 0)
		DP_WARN("port %u: no SYN guard on the tap (%s): a SYN flood will take shuntd's "
			"CPU", ctx->port_id, why);
	else
		DP_INFO("port %u: SYN guard on the tap, %u SYNs/s", ctx->port_id,
			ctx->conf->syn_rate);
}

int port_init(struct dp_ctx *ctx, uint16_t port_id, unsigned n_mbufs)
{
	struct rte_eth_dev_info info;
	uint16_t mtu = RTE_ETHER_MTU;
	int rc;

	ctx->port_id = port_id;
	ctx->queue_id = 0;
	ctx->pool = rte_pktmbuf_pool_create("shunt_mbufs", n_mbufs, PORT_MBUF_CACHE, 0,
					    RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (ctx->pool == NULL) {
		DP_ERR("cannot create the mbuf pool (%u mbufs): %s", n_mbufs,
		       rte_strerror(rte_errno));
		return -rte_errno;
	}
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc < 0) {
		DP_ERR("port %u: no device info: %s", port_id, rte_strerror(-rc));
		return rc;
	}
	/* RX interrupts let an idle dataplane sleep; a device without them still works,
	 * it just wakes on a timer instead. */
	rc = port_configure(ctx, &info, 1);
	if (rc < 0) {
		DP_DEBUG("port %u: no rx interrupts (%s), configuring without", port_id,
			 rte_strerror(-rc));
		rc = port_configure(ctx, &info, 0);
	}
	if (rc < 0) {
		DP_ERR("port %u (%s): cannot configure: %s", port_id, info.driver_name,
		       rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_start(port_id);
	if (rc < 0) {
		DP_ERR("port %u: cannot start: %s", port_id, rte_strerror(-rc));
		return rc;
	}
	rte_eth_macaddr_get(port_id, &ctx->mac);
	if (rte_eth_dev_get_mtu(port_id, &mtu) < 0)
		mtu = RTE_ETHER_MTU;
	ctx->mtu = mtu;
	port_guard(ctx, &info);
	DP_INFO("port %u (%s) up: mac " RTE_ETHER_ADDR_PRT_FMT ", mtu %u, rx offloads 0x%llx, "
		"tx offloads 0x%llx, rx interrupt fd %d", port_id, info.driver_name,
		RTE_ETHER_ADDR_BYTES(&ctx->mac), mtu, (unsigned long long)ctx->rx_offloads,
		(unsigned long long)ctx->tx_offloads, port_rx_fd(ctx));
	return 0;
}

void port_fini(struct dp_ctx *ctx)
{
	syn_guard_fini(&ctx->syn_guard);
	dp_tx_flush(ctx);
	rte_eth_dev_stop(ctx->port_id);
	rte_eth_dev_close(ctx->port_id);
}

uint16_t port_rx_burst(struct dp_ctx *ctx, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t got = rte_eth_rx_burst(ctx->port_id, ctx->queue_id, pkts, n);
	uint16_t i;

	if (got == 0)
		return 0;
	ctx->port_stats.rx_bursts++;
	ctx->port_stats.rx_packets += got;
	for (i = 0; i < got; i++)
		ctx->port_stats.rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
	return got;
}

int port_rx_fd(struct dp_ctx *ctx)
{
	return rte_eth_dev_rx_intr_ctl_q_get_fd(ctx->port_id, ctx->queue_id);
}

void port_rx_intr_arm(struct dp_ctx *ctx, int on)
{
	/* Devices whose interrupt fd is the queue itself (net_tap) answer -ENOTSUP
	 * and need nothing: the fd is readable whenever packets wait. */
	if (on)
		(void)rte_eth_dev_rx_intr_enable(ctx->port_id, ctx->queue_id);
	else
		(void)rte_eth_dev_rx_intr_disable(ctx->port_id, ctx->queue_id);
}

void dp_tx_flush(struct dp_ctx *ctx)
{
	struct dp_txq *q = &ctx->txq;
	uint16_t sent, i;

	if (q->n == 0)
		return;
	sent = rte_eth_tx_burst(ctx->port_id, ctx->queue_id, q->pkts, q->n);
	for (i = 0; i < sent; i++)
		ctx->port_stats.tx_bytes += rte_pktmbuf_pkt_len(q->pkts[i]);
	ctx->port_stats.tx_packets += sent;
	if (sent < q->n) {
		/* The device is full: drop the rest and let TCP recover, as a full
		 * qdisc would. Counted, never silent. */
		ctx->port_stats.tx_drop_full += q->n - sent;
		rte_pktmbuf_free_bulk(&q->pkts[sent], q->n - sent);
	}
	q->n = 0;
}

void dp_tx(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	struct dp_txq *q = &ctx->txq;

	q->pkts[q->n++] = m;
	if (q->n == DP_TX_BURST)
		dp_tx_flush(ctx);
}

void port_stats_print(const struct dp_ctx *ctx, FILE *f)
{
	const struct port_stats *s = &ctx->port_stats;

	fprintf(f, "port %u:\n", ctx->port_id);
	PORT_STATS(DP_STAT_PRINT)
	syn_guard_print(&ctx->syn_guard, f);
}
