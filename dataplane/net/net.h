/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Link and network layers: Ethernet, ARP, IPv4, ICMP, routing.
 *
 * Receive:  loop -> eth_input() -> arp_input()
 *                               -> ipv4_input() -> icmp_input() -> tcp_notify_error()
 *                                               -> tcp_input()
 * Transmit: tcp -> ipv4_output() -> route_lookup() -> arp_output() -> dp_tx()
 *                                                    (or held until ARP resolves)
 *                  ipv4_output() -> lo_output()   (to our own address: local delivery)
 * Local:    loop -> lo_input_burst() -> ipv4_input() ...  (a later loop iteration)
 *
 * ipv4_input() validates version, IHL, total length, checksum, fragments (dropped,
 * counted) and destination, and verifies the TCP/UDP checksum (trusting the port's
 * RX offload flags when set), so the protocols above see only well-formed packets.
 * ipv4_output() fills the IPv4 header and the L4 checksum (offloaded when the port
 * can); protocols never compute checksums.
 */
#ifndef SHUNT_NET_H
#define SHUNT_NET_H

#include <stdbool.h>
#include <stdint.h>

struct dp_ctx;
struct rte_mbuf;

/* What an ICMP error said, as the protocols need it: who sent it (our own address
 * for an error raised locally, such as a failed ARP resolution, which Linux turns
 * into an ICMP host unreachable from itself), its type, code and info (the MTU of a
 * "fragmentation needed"). */
struct icmp_err {
	uint32_t from_be;
	uint8_t type;
	uint8_t code;
	uint32_t info;
};

/* Headroom an L4 builder leaves in front of its header for IPv4 + Ethernet. */
#define NET_HEADROOM 64

/* The ol_flags that say what an mbuf's buffer is (a PMD's external buffer, another
 * mbuf's data): a received mbuf reused for an answer keeps them when its RX flags
 * go, or rte_pktmbuf_free() returns it to the pool still pointing at that buffer. */
#define NET_MBUF_BUF_FLAGS (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT)

/* Everything the port received. Takes ownership of m. Protocols above get m with
 * data at their header, data_len exact (padding trimmed), the IPv4 header still in
 * the headroom just before it and m->l3_len set. */
void eth_input(struct dp_ctx *ctx, struct rte_mbuf *m);

/* Send an L4 segment. m's data starts at the L4 header and has NET_HEADROOM bytes of
 * headroom; m->l4_len may be 0. Adds IPv4 and Ethernet headers and the L4 checksum
 * (proto IPPROTO_TCP or IPPROTO_UDP; IPPROTO_ICMP computes the ICMP checksum),
 * resolves the next hop and queues for TX; to our own address, queues it for local
 * delivery instead (lo_input_burst()). Takes ownership of m on every path.
 * Returns 0 (sent or held for ARP), -ENETUNREACH (no route), -EMSGSIZE (larger than
 * the MTU: no fragmentation) or -EINVAL (unknown protocol, L4 header not in the
 * first segment). A packet held for ARP that is never resolved is reported later,
 * from arp_timer(), never from inside this call: protocols may call it from their
 * own callbacks without re-entering themselves. */
int ipv4_output(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be, uint32_t dst_be,
		uint8_t proto);
/* The same, for a socket's packet: its IP_TOS byte and IP_TTL (0: IPV4_TTL) in the
 * header. ipv4_output() is this with 0, 0 (what the stack itself sends). */
int ipv4_output_tos_ttl(struct dp_ctx *ctx, struct rte_mbuf *m, uint32_t src_be,
			uint32_t dst_be, uint8_t proto, uint8_t tos, uint8_t ttl);

/* Local delivery (lo.c): feed up to budget of the packets ipv4_output() queued for
 * our own address to ipv4_input(); only those queued before the call (what they
 * provoke waits for the next one). Returns how many were delivered. */
unsigned lo_input_burst(struct dp_ctx *ctx, unsigned budget);
/* Packets wait for local delivery: the loop must not sleep. */
bool lo_pending(const struct dp_ctx *ctx);
/* Free whatever still waits (shutdown). */
void lo_fini(struct dp_ctx *ctx);

/* Next hop for dst: dst itself inside the stack's prefix, else the gateway.
 * Returns 0, or -ENETUNREACH when dst is outside the prefix and there is no gateway. */
int route_lookup(const struct dp_ctx *ctx, uint32_t dst_be, uint32_t *nexthop_be);

/* Path MTU per destination (pmtu.c), Linux's route exceptions. */
#define PMTU_MIN        552                    /* Linux net.ipv4.route.min_pmtu */
#define PMTU_EXPIRES_US (600ull * 1000000)     /* Linux net.ipv4.route.mtu_expires */
/* The path MTU toward dst: the one learned while it lasts, else the port's; never
 * above the port's. *expires_us (if not NULL): when it stops holding (UINT64_MAX for
 * the port's own). */
uint16_t pmtu_get(const struct dp_ctx *ctx, uint32_t dst_be, uint64_t *expires_us);
/* A validated ICMP "fragmentation needed" said the next hop toward dst takes mtu
 * bytes (0: it did not say), as Linux's __ip_rt_update_pmtu(): ignored above the
 * current path MTU or while that is locked; below PMTU_MIN the path MTU becomes
 * min(current, PMTU_MIN), locked (DF clear); lasts PMTU_EXPIRES_US. Returns the path
 * MTU now. */
uint16_t pmtu_update(struct dp_ctx *ctx, uint32_t dst_be, uint32_t mtu);
/* dst's path MTU is locked: its packets go without DF (Linux ip_dont_fragment()). */
bool pmtu_locked(const struct dp_ctx *ctx, uint32_t dst_be);

/* ARP cache: entries expire and are refreshed; unresolved next hops hold a bounded
 * queue of packets, probe again, and after the probes are exhausted (about 3 s, as
 * Linux) drop them and report EHOSTUNREACH to the protocol via tcp_notify_error(). */
int arp_init(struct dp_ctx *ctx);
void arp_fini(struct dp_ctx *ctx);
void arp_timer(struct dp_ctx *ctx);
/* Earliest time (ctx->now_us scale) arp_timer() has work; UINT64_MAX if none. */
uint64_t arp_next_deadline(const struct dp_ctx *ctx);
/* Send an ARP announcement (gratuitous ARP) for our address; used at start. */
void arp_announce(struct dp_ctx *ctx);

#endif /* SHUNT_NET_H */
