/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The offload decision: does a connect() to this destination go to shuntd? A pure
 * function of the welcome's CIDR list and the address, unit-tested on its own.
 */
#ifndef SHIM_OFFLOAD_H
#define SHIM_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <shunt/ctl.h>

/* True iff addr_be (network order) is inside one of the n CIDRs and is neither
 * loopback (127.0.0.0/8) nor the unspecified address (which Linux routes locally). */
bool shim_offload_match(const struct shunt_ctl_cidr *cidr, uint32_t n, uint32_t addr_be);

#endif /* SHIM_OFFLOAD_H */
