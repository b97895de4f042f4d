/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * IPv4 inside net/: the input half (ipv4_output() is in net.h).
 */
#ifndef SHUNT_NET_IPV4_H
#define SHUNT_NET_IPV4_H

struct dp_ctx;
struct rte_mbuf;

/* TTL of every packet we originate (Linux's net.ipv4.ip_default_ttl). */
#define IPV4_TTL 64

/* A frame of ethertype IPv4: m's data starts at the IPv4 header and may carry
 * Ethernet padding. Validates, then hands the L4 payload up. Takes ownership. */
void ipv4_input(struct dp_ctx *ctx, struct rte_mbuf *m);

#endif /* SHUNT_NET_IPV4_H */
