/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The stack a fuzz input meets (fuzz_stack.c): shuntd's own modules over a net_null
 * port, rebuilt from nothing for every input so inputs are independent, with one
 * attached process holding
 *
 *   a TCP listener        FUZZ_OUR_IP:FUZZ_LISTEN_PORT
 *   a TCP connection      FUZZ_OUR_IP:FUZZ_CONN_PORT <-> FUZZ_PEER_IP:FUZZ_PEER_PORT,
 *                         ESTABLISHED (our ISS FUZZ_ISS, the peer's FUZZ_IRS), with
 *                         FUZZ_CONN_QUEUED bytes written by the app, the first
 *                         window of them in flight
 *   a UDP socket          FUZZ_OUR_IP:FUZZ_UDP_PORT
 *
 * and an ARP entry FUZZ_PEER_IP -> fuzz_peer_mac. tests/fuzz/convert.py reads the
 * numbers below from this file, so a capture rewritten to them lands on these sockets.
 */
#ifndef SHUNT_FUZZ_STACK_H
#define SHUNT_FUZZ_STACK_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#define FUZZ_OUR_IP       0x0a4d0002u /* 10.77.0.2, host order */
#define FUZZ_PEER_IP      0x0a4d0001u /* 10.77.0.1 */
#define FUZZ_PREFIX       24
#define FUZZ_LISTEN_PORT  80
#define FUZZ_CONN_PORT    40000
#define FUZZ_PEER_PORT    9000
#define FUZZ_UDP_PORT     5353
/* Our initial sequence number on the connection: RFC 6528's hash under the fixed
 * secret below, at the fixed start time. It is checked at every start: a change in
 * tcp_isn.c stops the target with the new value to put here (and the corpus to
 * convert again; convert.py computes the ISS of passive connections the same way,
 * and checks its hash against this value). */
#define FUZZ_ISS          0x08fd9235u
#define FUZZ_ISN_KEY0     0x5eed0001u /* the fixed RFC 6528 secret */
#define FUZZ_ISN_KEY1     0x5eed0002u
#define FUZZ_IRS          1000000u
#define FUZZ_PEER_TSVAL   1000u       /* the peer's timestamp in its SYN-ACK */
#define FUZZ_CONN_QUEUED  30000
#define FUZZ_START_US     1000000ull

extern const struct rte_ether_addr fuzz_our_mac, fuzz_peer_mac;

struct dp_ctx;
struct dp_app;

/* Once per process: EAL (no hugepages, no PCI, one net_null port) and the port.
 * Returns 0 or -1 (said on stderr). */
int fuzz_stack_init(void);
/* A fresh stack in the state described above; aborts if it cannot be built. */
struct dp_ctx *fuzz_stack_start(void);
/* Frame bytes received on the port: eth_input(), then the rest of one loop
 * iteration (local deliveries, commands, timers, TX). csum_good: the mbuf says the
 * port verified the IPv4 and L4 checksums (RX offload), so ipv4.c trusts them. */
void fuzz_stack_rx(const uint8_t *frame, uint32_t len, bool csum_good);
/* Advance the clock by us (timers run at the next fuzz_stack_rx or _step). */
void fuzz_stack_advance(uint64_t us);
/* What the application does between frames (FUZZ_APP_* bits). */
#define FUZZ_APP_READ     0x01u /* read what every socket received (RECVD) */
#define FUZZ_APP_WRITE    0x02u /* write 1000 more bytes on the connection */
#define FUZZ_APP_SHUT_WR  0x04u /* shutdown(SHUT_WR) the connection: our FIN */
#define FUZZ_APP_CLOSE    0x08u /* close() the connection */
void fuzz_stack_app(unsigned ops);
/* The attached process (fuzz_app.c drives its region directly). */
struct dp_app *fuzz_stack_proc(void);
/* One loop iteration without a frame. */
void fuzz_stack_step(void);
/* Tear everything down as shuntd's exit does; aborts if an mbuf was lost. */
void fuzz_stack_stop(void);

#endif /* SHUNT_FUZZ_STACK_H */
