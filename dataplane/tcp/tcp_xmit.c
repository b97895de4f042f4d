/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Segment transmission: the only TX code that touches mbufs (see tcp_xmit.h).
 *
 *   tcp_xmit(): rte_pktmbuf_alloc(ctx->pool) -> data at NET_HEADROOM
 *               -> tcp_wire_build() header+options -> bytering_read() payload
 *               -> ipv4_output() (adds IPv4, checksum, queues for TX)
 */
#include <errno.h>
#include <netinet/in.h>

#include <rte_mbuf.h>

#include <shunt/bytering.h>

#include "dp.h"
#include "core/sock.h"
#include "net/net.h"
#include "tcp/tcp_xmit.h"

int tcp_xmit(struct dp_ctx *ctx, const struct tcp_txseg *seg)
{
	uint32_t hlen = tcp_wire_hdr_len(&seg->h);
	struct rte_mbuf *m;
	uint8_t *p;

	m = rte_pktmbuf_alloc(ctx->pool);
	if (m == NULL) {
		ctx->tcp_stats.tcp_drop_nombuf++;
		return -ENOBUFS;
	}
	/* ipv4_output() prepends IPv4 + Ethernet into the headroom */
	if (rte_pktmbuf_headroom(m) < NET_HEADROOM ||
	    rte_pktmbuf_tailroom(m) < hlen + seg->len) {
		rte_pktmbuf_free(m);
		ctx->tcp_stats.tcp_drop_nombuf++;
		return -ENOBUFS;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(hlen + seg->len));
	tcp_wire_build(p, hlen, &seg->h);
	if (seg->len)
		bytering_read(seg->s->tx_buf, seg->s->tx_size, seg->pos, p + hlen, seg->len);
	m->l4_len = hlen;
	return ipv4_output_tos_ttl(ctx, m, seg->src_be, seg->dst_be, IPPROTO_TCP, seg->tos,
				   seg->ttl);
}
