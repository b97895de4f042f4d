/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The offload decision (see offload.h).
 *
 *   sock.c connect() -> shim_offload_match(welcome.offload, dst) -> shunt or kernel
 */
#include <arpa/inet.h>

#include "offload.h"

bool shim_offload_match(const struct shunt_ctl_cidr *cidr, uint32_t n, uint32_t addr_be)
{
	uint32_t host = ntohl(addr_be);
	uint32_t i;

	/* Loopback never leaves the host and 0.0.0.0 means "this host" to connect(): the
	 * kernel serves both, whatever the rules say. */
	if ((host >> 24) == 127 || host == 0)
		return false;
	if (n > SHUNT_CTL_MAX_OFFLOAD)
		n = SHUNT_CTL_MAX_OFFLOAD;
	for (i = 0; i < n; i++)
		if ((addr_be & cidr[i].mask) == cidr[i].addr)
			return true;
	return false;
}
