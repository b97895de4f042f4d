/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Test harness for the TCP module: a dp_ctx with a fake clock, one dp_sock over
 * calloc'd rings and a calloc'd struct shunt_sock, a peer that injects crafted
 * segments through tcp_input_bytes(), and a fake tcp_xmit() that records what TCP
 * sends (tcp_fakes.c). No EAL, no mbufs.
 */
#ifndef SHUNT_TCP_TEST_H
#define SHUNT_TCP_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "dp.h"
#include "core/sock.h"
#include "tcp/tcb.h"
#include "tcp/tcp_wire.h"
#include "tcp/tcp_xmit.h"

#define FAKE_TX_MAX 512

struct fake_seg {
	struct tcp_txseg seg;
	uint8_t data[4096];
};

extern struct fake_seg fake_tx[FAKE_TX_MAX];
extern int fake_ntx;
extern int fake_route_rc;
extern int fake_released;

/* Slots dp_app_sock_spawn() hands out (a listener's children): index i is slot
 * FAKE_SLOT_BASE + i, rings of FAKE_SLOT_RING bytes. */
#define FAKE_SLOTS 8
#define FAKE_SLOT_BASE 100
#define FAKE_SLOT_RING 65536
struct fake_slot {
	struct dp_sock s;
	struct shunt_sock *sh;
	bool used;
};
extern struct fake_slot fake_slots[FAKE_SLOTS];
extern int fake_spawned;
extern bool fake_spawn_fail;
/* The spawned socket in slot idx (FAKE_SLOT_BASE + i). */
struct dp_sock *fake_slot_sock(uint32_t idx);

struct env {
	struct dp_ctx ctx;
	struct dp_conf conf;
	struct dp_sock s;
	struct shunt_sock *sh;
	uint32_t peer_be;
	uint16_t pport_be;
	uint32_t irs;      /* peer's ISS */
	uint32_t pnxt;     /* peer's next sequence number */
	uint32_t iss;      /* ours, learned from the SYN */
	bool peer_sack;    /* env_establish(): the SYN-ACK offers SACK */
	bool peer_ecn;     /* env_establish(): the SYN-ACK agrees to ECN (ECE) */
};

/* Peer segment options. */
struct popt {
	uint16_t wnd;
	bool ts;
	uint32_t tsval, tsecr;
	uint16_t mss;
	bool ws;
	uint8_t wscale;
	bool sack;         /* SACK-permitted (in a SYN) */
	uint8_t nsack;     /* SACK blocks (not in a SYN) */
	uint32_t sack_blk[TCP_SACK_MAX][2];
};

void env_init(struct env *e, uint32_t ring);
void env_fini(struct env *e);
/* Inject a segment from the peer. */
void env_peer(struct env *e, uint8_t flags, uint32_t seq, uint32_t ack, const struct popt *o,
	      const void *data, uint32_t len);
/* The same, in an IPv4 header whose ECN field is ecn (TCP_ECN_*). */
void env_peer_ecn(struct env *e, uint8_t flags, uint32_t seq, uint32_t ack,
		  const struct popt *o, const void *data, uint32_t len, uint8_t ecn);
/* connect + SYN-ACK from the peer after rtt_us: ESTABLISHED, fake_tx reset. */
void env_establish(struct env *e, uint64_t rtt_us);
/* The app writes len bytes of pattern into the tx ring and sends. */
void env_app_write(struct env *e, uint32_t len, uint8_t seed);
/* The app consumes n bytes of the rx ring. */
void env_app_read(struct env *e, uint32_t n);
void env_advance(struct env *e, uint64_t us); /* clock + tcp_timer_run */
struct tcb *env_tcb(struct env *e);
const struct fake_seg *last_tx(void);

#endif /* SHUNT_TCP_TEST_H */
