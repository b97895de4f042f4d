/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Shared by the net/ unit tests: link-time fakes of what net/ calls outside itself
 * (dp_tx, tcp_input, tcp_notify_error, udp_input, udp_notify_error) recording what
 * they get, a fixture that gives every test a fresh context and fails on leaked
 * mbufs, and packet builders that compute checksums independently of DPDK's.
 */
#ifndef SHUNT_TEST_NET_H
#define SHUNT_TEST_NET_H

#include <stdbool.h>
#include <stdint.h>

#include <check.h>
#include <rte_byteorder.h>
#include <rte_ether.h>

#include "dp.h"
#include "net/net.h"

#define T_US 1000000ull
#define T_IP(a, b, c, d) RTE_BE32(((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define T_OUR_IP T_IP(10, 77, 0, 2)
#define T_PEER_IP T_IP(10, 77, 0, 1)
#define T_FAR_IP T_IP(10, 77, 0, 9)
#define T_MAX_TX 64
#define T_MAX_REC 32

extern const struct rte_ether_addr t_our_mac, t_peer_mac, t_far_mac;

struct t_rec {
	uint8_t data[256];
	uint32_t len;
	uint32_t src_be, dst_be;
	int err;
	struct icmp_err icmp;  /* what the ICMP error said (tcp_notify_error) */
};

struct t_fakes {
	struct rte_mbuf *tx[T_MAX_TX]; /* what dp_tx() got, owned by the test */
	unsigned n_tx;
	struct t_rec tcp[T_MAX_REC];   /* tcp_input() calls (mbuf freed) */
	unsigned n_tcp;
	struct t_rec err[T_MAX_REC];   /* tcp_notify_error() calls */
	unsigned n_err;
	struct t_rec udp[T_MAX_REC];   /* udp_input() calls (mbuf freed) */
	unsigned n_udp;
	struct t_rec uerr[T_MAX_REC];  /* udp_notify_error() calls */
	unsigned n_uerr;
	bool udp_closed;               /* udp_input() answers port unreachable, as udp/ */
};

extern struct t_fakes fk;
extern struct dp_ctx tctx;

/* Checked fixture: fresh ctx (10.77.0.2/24, no gateway, no offloads, now = 1 s),
 * arp_init(); teardown frees recorded TX mbufs, lo_fini(), arp_fini(), asserts no mbuf
 * leaked. */
void t_setup(void);
void t_teardown(void);
void t_fakes_clear(void);

struct rte_mbuf *t_mbuf(const void *bytes, uint32_t len);
/* Feed a frame to eth_input(). */
void t_rx(const void *bytes, uint32_t len);
/* Sum of every net counter named *_drop_*. */
uint64_t t_drops(void);
const uint8_t *t_tx_data(unsigned i, uint32_t *len);

/* One's-complement sum helpers (RFC 1071), independent of rte_raw_cksum. */
uint32_t t_sum(const void *p, uint32_t len, uint32_t sum);
uint16_t t_fold(uint32_t sum);

/* Builders; return the number of bytes written. */
uint32_t t_eth(uint8_t *b, const struct rte_ether_addr *dst, const struct rte_ether_addr *src,
	       uint16_t type);
/* 20-byte IPv4 header (id 0x1111, DF, TTL 64, right checksum) + l4 copied after it. */
uint32_t t_ip(uint8_t *b, uint32_t src_be, uint32_t dst_be, uint8_t proto, const void *l4,
	      uint32_t l4_len);
void t_ip_fix_cksum(uint8_t *ip);
/* TCP header (ports 40000 -> 80, SYN|ACK, window 1000) + payload, right checksum. */
uint32_t t_tcp(uint8_t *b, uint32_t src_be, uint32_t dst_be, const void *payload,
	       uint32_t plen);
/* Ethernet + IPv4 + TCP from the peer to us. */
uint32_t t_tcp_frame(uint8_t *b, const void *payload, uint32_t plen);
/* Ethernet + ARP. */
uint32_t t_arp(uint8_t *b, const struct rte_ether_addr *eth_dst, uint16_t op,
	       const struct rte_ether_addr *sha, uint32_t sip_be,
	       const struct rte_ether_addr *tha, uint32_t tip_be);
/* Make ip_be REACHABLE at mac with an unsolicited reply to us; clears the fakes. */
void t_seed_arp(uint32_t ip_be, const struct rte_ether_addr *mac);
/* An mbuf holding a TCP segment (header + plen bytes) with NET_HEADROOM, as tcp/
 * hands to ipv4_output(). */
struct rte_mbuf *t_tcp_mbuf(uint32_t src_be, uint32_t dst_be, uint32_t plen);

Suite *eth_suite(void);
Suite *arp_suite(void);
Suite *ipv4_suite(void);
Suite *icmp_suite(void);
Suite *route_suite(void);
Suite *lo_suite(void);
Suite *pmtu_suite(void);

#endif /* SHUNT_TEST_NET_H */
