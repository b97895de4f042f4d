/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The control protocol: a SOCK_SEQPACKET Unix socket (the `control` key, default
 * /run/shunt/shunt.sock). A process attaches once:
 *
 *   shim                                   shuntd
 *   connect(control) ---------------------> accept
 *   shunt_ctl_hello  ---------------------> validate magic/version
 *                    <--------------------- shunt_ctl_welcome + SCM_RIGHTS fds:
 *                                           [0] region memfd, [1] dataplane doorbell
 *                                           eventfd, [2..] one eventfd per wait slot
 *   mmap(region), check magic/version
 *
 * The connection then stays open and idle: shuntd takes its hang-up as the process
 * having gone away and resets that process's connections and frees its region.
 * Header-only, no DPDK.
 */
#ifndef SHUNT_CTL_H
#define SHUNT_CTL_H

#include <stdint.h>

#include "abi.h"

#define SHUNT_CTL_DEFAULT_PATH "/run/shunt/shunt.sock"
#define SHUNT_CTL_MAX_OFFLOAD  16

enum shunt_ctl_op {
	SHUNT_CTL_HELLO = 1,
	SHUNT_CTL_WELCOME = 2,
};

struct shunt_ctl_hello {
	uint32_t magic;   /* SHUNT_ABI_MAGIC */
	uint32_t version; /* SHUNT_ABI_VERSION */
	uint32_t op;      /* SHUNT_CTL_HELLO */
	uint32_t pid;
};
_Static_assert(sizeof(struct shunt_ctl_hello) == 16, "hello size");

/* A destination a is offloaded iff (a & mask) == addr for some entry. */
struct shunt_ctl_cidr {
	uint32_t addr; /* network order, already masked */
	uint32_t mask; /* network order */
};

struct shunt_ctl_welcome {
	uint32_t magic;   /* SHUNT_ABI_MAGIC */
	uint32_t version; /* SHUNT_ABI_VERSION */
	uint32_t op;      /* SHUNT_CTL_WELCOME */
	int32_t status;   /* 0, or -errno: the attach was refused and no fds follow */
	uint64_t region_size;
	uint32_t nfds;       /* fds sent with this message: 2 + SHUNT_WAIT_SLOTS */
	uint32_t stack_ip;   /* network order: the dataplane's own address */
	uint32_t prefix_len;
	uint32_t n_offload;
	struct shunt_ctl_cidr offload[SHUNT_CTL_MAX_OFFLOAD];
	uint16_t eph_lo; /* ephemeral port range, host order */
	uint16_t eph_hi;
	uint32_t pad;
};
_Static_assert(sizeof(struct shunt_ctl_welcome) == 40 + 8 * SHUNT_CTL_MAX_OFFLOAD + 8,
	       "welcome size");

#define SHUNT_CTL_FD_REGION   0
#define SHUNT_CTL_FD_DOORBELL 1
#define SHUNT_CTL_FD_WAIT0    2
#define SHUNT_CTL_NFDS        (2 + SHUNT_WAIT_SLOTS)

#endif /* SHUNT_CTL_H */
