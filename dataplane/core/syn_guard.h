/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The SYN guard: on a net_tap port, a token bucket in the kernel that drops SYNs
 * (SYN without ACK) beyond `syn_rate` per second before they are queued to the tap.
 * On a tap every packet costs shuntd a read(); without it a SYN flood takes the CPU
 * that established connections need (docs/design.md, "SYN floods").
 *
 *   port_init() -> syn_guard_init() ... dump: syn_guard_print() ... syn_guard_fini()
 */
#ifndef SHUNT_DP_SYN_GUARD_H
#define SHUNT_DP_SYN_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What the program keeps in its one map entry (the map's value layout). */
struct syn_guard_state {
	uint64_t stamp_ns; /* the bucket's last refill, bpf_ktime_get_ns() */
	uint64_t tokens;
	uint64_t passed;   /* SYNs let through */
	uint64_t dropped;  /* SYNs dropped: the bucket was empty */
};

struct syn_guard {
	int map_fd; /* -1: no guard */
	int ifindex;
	bool own_qdisc; /* the clsact qdisc is ours to remove */
	unsigned rate, burst;
};

/* Attach the guard to kernel interface ifindex (the tap's), rate SYNs per second
 * with a bucket of burst. 0, or -errno with why filled (the port still works). */
int syn_guard_init(struct syn_guard *g, int ifindex, unsigned rate, unsigned burst, char *why,
		   size_t whylen);
/* The counters, or -1 without a guard. */
int syn_guard_read(const struct syn_guard *g, struct syn_guard_state *st);
void syn_guard_print(const struct syn_guard *g, FILE *f);
void syn_guard_fini(struct syn_guard *g);

#endif /* SHUNT_DP_SYN_GUARD_H */
