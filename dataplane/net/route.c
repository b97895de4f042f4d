/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Routing: one connected prefix plus an optional default gateway, which is all a
 * single-port stack needs.
 *
 *   ipv4_output() -> route_lookup() -> arp_output(nexthop)
 */
#include <errno.h>

#include "dp.h"
#include "net/net.h"

int
route_lookup(const struct dp_ctx *ctx, uint32_t dst_be, uint32_t *nexthop_be)
{
	/* On-link: the destination answers ARP itself. */
	if ((dst_be & ctx->netmask_be) == (ctx->ip_be & ctx->netmask_be)) {
		*nexthop_be = dst_be;
		return 0;
	}
	if (ctx->gateway_be == 0)
		return -ENETUNREACH;
	*nexthop_be = ctx->gateway_be;
	return 0;
}
