/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * UDP: the interface the rest of the dataplane uses.
 *
 * Receive: ipv4_input() -> udp_input() -> lookup (connected sockets first, then
 *          bound ones) -> a record in the socket's rx ring, or ICMP port unreachable
 * Send:    SHUNT_CMD_SEND -> udp_app_send() -> records from the tx ring -> ipv4_output()
 * Errors:  icmp_input() -> udp_notify_error() -> pending error on a connected socket
 *
 * Datagrams travel through the byte rings as struct shunt_dgram records (abi.h).
 */
#ifndef SHUNT_UDP_H
#define SHUNT_UDP_H

#include <stdint.h>
#include <stdio.h>

struct dp_ctx;
struct dp_sock;
struct rte_mbuf;

#define UDP_STATS(X) \
	X(udp_rx) X(udp_tx) X(udp_drop_short) X(udp_drop_len) X(udp_drop_no_port) \
	X(udp_drop_rcvbuf) X(udp_drop_nombuf) X(udp_tx_bad_record) X(udp_tx_too_big) \
	X(udp_tx_noroute) X(udp_icmp_err) X(udp_app_broken)

int udp_init(struct dp_ctx *ctx);
void udp_fini(struct dp_ctx *ctx);

/* m's data starts at the UDP header, data_len covers header and payload (IP padding
 * trimmed), the checksum was verified. Takes ownership. */
void udp_input(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be);
/* An ICMP error quoted one of our datagrams (ip: its IPv4 header, len bytes). As
 * Linux: only a connected socket whose peer matches records the error. */
void udp_notify_error(struct dp_ctx *ctx, const uint8_t *ip, uint32_t len, int err);

int udp_open(struct dp_ctx *ctx, struct dp_sock *s);
int udp_bind(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be,
	     uint32_t flags);
int udp_connect(struct dp_ctx *ctx, struct dp_sock *s, uint32_t addr_be, uint16_t port_be);
int udp_disconnect(struct dp_ctx *ctx, struct dp_sock *s);
void udp_app_send(struct dp_ctx *ctx, struct dp_sock *s);
void udp_app_close(struct dp_ctx *ctx, struct dp_sock *s);
int udp_app_setopt(struct dp_ctx *ctx, struct dp_sock *s, uint32_t opt, uint64_t value);

void udp_dump(struct dp_ctx *ctx, FILE *f);

#endif /* SHUNT_UDP_H */
