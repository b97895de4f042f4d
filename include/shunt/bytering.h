/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Copying into and out of a power-of-two byte ring at a free-running position.
 * Shared by the shim and the dataplane; the caller owns the index arithmetic and
 * its memory ordering (see abi.h). Header-only, no DPDK.
 */
#ifndef SHUNT_BYTERING_H
#define SHUNT_BYTERING_H

#include <stdint.h>
#include <string.h>

/* Copy len bytes from src into ring (size bytes, a power of two) at position pos. */
static inline void bytering_write(uint8_t *ring, uint32_t size, uint32_t pos,
				  const void *src, uint32_t len)
{
	uint32_t off = pos & (size - 1);
	uint32_t first = size - off < len ? size - off : len;

	memcpy(ring + off, src, first);
	memcpy(ring, (const uint8_t *)src + first, len - first);
}

/* Copy len bytes out of ring (size bytes, a power of two) at position pos into dst. */
static inline void bytering_read(const uint8_t *ring, uint32_t size, uint32_t pos,
				 void *dst, uint32_t len)
{
	uint32_t off = pos & (size - 1);
	uint32_t first = size - off < len ? size - off : len;

	memcpy(dst, ring + off, first);
	memcpy((uint8_t *)dst + first, ring, len - first);
}

#endif /* SHUNT_BYTERING_H */
