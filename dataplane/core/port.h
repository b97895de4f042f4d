/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The port: one ethdev, one RX and one TX queue, checksum offloads where the device
 * has them, and its RX interrupt fd (for adaptive idle) where it has one.
 *
 *   main: port_init() ... loop: port_rx_burst() / dp_tx() / dp_tx_flush() ... port_fini()
 */
#ifndef SHUNT_DP_PORT_H
#define SHUNT_DP_PORT_H

#include <stdint.h>
#include <stdio.h>

struct dp_ctx;
struct rte_mbuf;

/* Configure and start port_id with a pool of n_mbufs; fills ctx port fields. */
int port_init(struct dp_ctx *ctx, uint16_t port_id, unsigned n_mbufs);
void port_fini(struct dp_ctx *ctx);
uint16_t port_rx_burst(struct dp_ctx *ctx, struct rte_mbuf **pkts, uint16_t n);
/* An fd that becomes readable when packets wait on the RX queue, or -1. */
int port_rx_fd(struct dp_ctx *ctx);
/* Arm / disarm RX interrupts around a sleep (no-op where unsupported). */
void port_rx_intr_arm(struct dp_ctx *ctx, int on);
void port_stats_print(const struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_DP_PORT_H */
