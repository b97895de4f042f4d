/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Local delivery inside net/: the queueing half (the loop's half is in net.h).
 */
#ifndef SHUNT_NET_LO_H
#define SHUNT_NET_LO_H

struct dp_ctx;
struct rte_mbuf;

/* m: a complete IPv4 datagram (data at its header) to our own address, checksums
 * as lo.c says. Queued for lo_input_burst(), or freed and counted when the queue is
 * full. Takes ownership; never calls into any input path. */
void lo_output(struct dp_ctx *ctx, struct rte_mbuf *m);

#endif /* SHUNT_NET_LO_H */
