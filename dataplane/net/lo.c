/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Local delivery: packets whose destination is the stack's own address never reach
 * ARP or the NIC. ipv4_output() queues them here and the loop feeds them back to
 * ipv4_input() on a later pass, as Linux's loopback device does (loopback_xmit() ->
 * netif_rx() -> the backlog, drained by the next softirq):
 *
 *   tcp/udp/icmp -> ipv4_output() -> lo_output()            (queue, no input here)
 *   loop -> lo_input_burst() -> ipv4_input() -> tcp_input() | udp_input() | icmp_input()
 *
 * Why a queue and not a call: ipv4_output() runs inside the protocols' own send
 * paths (tcp_output() from tcp_input(), an RST from a lookup miss...). Delivering
 * from there would re-enter the receiving protocol while the sender is half way
 * through, and one segment answering another would recurse without bound.
 * lo_input_burst() takes at most `budget` packets, and only those queued before it
 * started: what they provoke waits for the next iteration.
 *
 * Checksums: a local packet never leaves memory, so, like Linux's loopback
 * (CHECKSUM_UNNECESSARY), the TCP/UDP checksum is neither computed nor verified:
 * ipv4_output() marks the mbuf RX_L4_CKSUM_GOOD, which ipv4_input() trusts as it
 * trusts a NIC. The IPv4 header checksum (20 bytes) and the ICMP checksum are
 * computed, so a header quoted by an ICMP error is a valid one.
 *
 * Mbufs: the queue owns what it holds; lo_input_burst() hands each to ipv4_input(),
 * which owns it from then on; a full queue frees and counts (ip_drop_local_full),
 * as a full backlog drops; lo_fini() frees what is left at shutdown.
 */
#include <rte_mbuf.h>

#include "dp.h"
#include "net/ipv4.h"
#include "net/lo.h"
#include "net/net.h"

_Static_assert((DP_LO_QUEUE & (DP_LO_QUEUE - 1)) == 0, "DP_LO_QUEUE: a power of two");

void
lo_output(struct dp_ctx *ctx, struct rte_mbuf *m)
{
	struct dp_loq *q = &ctx->loq;
	struct net_stats *st = &ctx->net_stats;

	/* ipv4_input() reads only the first segment; our builders make one, but a
	 * chain is flattened rather than delivered truncated. */
	if (m->nb_segs != 1 && rte_pktmbuf_linearize(m) != 0) {
		st->ip_drop_local_seg++;
		goto drop;
	}
	if (q->tail - q->head == DP_LO_QUEUE) {
		st->ip_drop_local_full++;
		goto drop;
	}
	q->pkts[q->tail++ & (DP_LO_QUEUE - 1)] = m;
	st->ip_local_out++;
	return;
drop:
	rte_pktmbuf_free(m);
}

unsigned
lo_input_burst(struct dp_ctx *ctx, unsigned budget)
{
	struct dp_loq *q = &ctx->loq;
	uint32_t queued = q->tail - q->head;
	unsigned n = queued < budget ? queued : budget;
	unsigned i;

	/* n is fixed before the first delivery: what ipv4_input() queues in turn
	 * (ACKs, answers) is appended behind and waits for the next call. */
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = q->pkts[q->head++ & (DP_LO_QUEUE - 1)];

		ctx->net_stats.ip_local_in++;
		ipv4_input(ctx, m);
	}
	return n;
}

bool
lo_pending(const struct dp_ctx *ctx)
{
	return ctx->loq.tail != ctx->loq.head;
}

void
lo_fini(struct dp_ctx *ctx)
{
	struct dp_loq *q = &ctx->loq;

	while (q->head != q->tail) {
		ctx->net_stats.ip_drop_local_stop++;
		rte_pktmbuf_free(q->pkts[q->head++ & (DP_LO_QUEUE - 1)]);
	}
}
