/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The shared-memory ABI between libshunt.so (the shim, in the program) and shuntd
 * (the dataplane). Header-only, no DPDK. Both sides compile against this file; the
 * dataplane rejects a region whose magic or version differ.
 *
 * One region per attached process: a memfd created and sized by shuntd, sealed
 * against shrinking, handed to the shim over the control socket (see ctl.h) and
 * mapped MAP_SHARED by both. Layout (all offsets from the start of the region):
 *
 *   +------------------------+ 0
 *   | struct shunt_region    |  control block: magic, version, geometry, wait slots
 *   +------------------------+ chan_off
 *   | struct shunt_channel[] |  command rings, app -> dataplane (nchannels of them)
 *   +------------------------+ free_off
 *   | struct shunt_free_ring |  free socket slot indices, dataplane -> app
 *   +------------------------+ socks_off
 *   | struct shunt_sock[]    |  per-socket state, one cache-line group per field owner
 *   +------------------------+ bufs_off
 *   | rx buf | tx buf | ...  |  per-socket byte rings, slot i at bufs_off + i*(rx+tx)
 *   +------------------------+ region_size
 *
 * Rules every field follows:
 *  - One writer. Each field says who writes it: [dp] the dataplane, [app] the shim.
 *    Fields of different writers never share a cache line.
 *  - Indices are free-running uint32_t; a ring of size N (a power of two) holds
 *    prod - cons bytes or entries, masked with N - 1 on access.
 *  - Publication is C11 release (writer) / acquire (reader) on the index or sequence
 *    that covers the data. Each use site comments its pairing.
 *  - The dataplane treats everything the app writes as untrusted: an index that
 *    claims more than the ring holds, a slot number out of range or not owned, an
 *    unknown opcode are counted and break only that socket (or that process).
 *  - Errors travel as positive errno values in [dp] fields, results of commands as
 *    0 / -errno.
 */
#ifndef SHUNT_ABI_H
#define SHUNT_ABI_H

#include <stdalign.h>
#include <stdint.h>

#define SHUNT_ABI_MAGIC   0x544e4853u /* "SHNT" in little-endian memory order */
#define SHUNT_ABI_VERSION 1u

#define SHUNT_CACHE_LINE 64
#define SHUNT_ALIGNED    alignas(SHUNT_CACHE_LINE)

/* Eventfds the shim blocks on. A thread that must sleep takes a free wait slot
 * (shim-private bitmap), arms it, re-checks its condition, and sleeps in the kernel
 * (read or poll on the slot's eventfd together with any kernel fds). The dataplane
 * wakes every armed slot of a process whenever it changes something the process can
 * wait for. More sleeping threads than slots fall back to short timed sleeps. */
#define SHUNT_WAIT_SLOTS 16

/* Command channels. The shim uses channel 0 behind a process-private lock today;
 * per-thread channels (no lock) are a later step that needs no ABI change. */
#define SHUNT_MAX_CHANNELS 8
#define SHUNT_CMD_RING_SIZE 1024 /* entries, power of two */

/* Network-order IPv4 address and port, as in struct sockaddr_in. */
struct shunt_inaddr {
	uint32_t addr; /* network order */
	uint16_t port; /* network order */
	uint16_t pad;
};
_Static_assert(sizeof(struct shunt_inaddr) == 8, "shunt_inaddr size");

/* ---- wait slots --------------------------------------------------------------- */

/* Armed while armed_seq != woken_seq. The app arms by incrementing armed_seq
 * (release, then a seq_cst fence before re-checking its condition); the dataplane,
 * after publishing an event (seq_cst fence), copies armed_seq to woken_seq and
 * writes the slot's eventfd. The fence pair is Dekker's: either the app sees the
 * event on its re-check, or the dataplane sees the slot armed. */
struct shunt_wait_slot {
	SHUNT_ALIGNED uint32_t armed_seq; /* [app] */
	SHUNT_ALIGNED uint32_t woken_seq; /* [dp] */
};
_Static_assert(sizeof(struct shunt_wait_slot) == 2 * SHUNT_CACHE_LINE, "wait slot");

/* ---- control block ------------------------------------------------------------ */

struct shunt_region {
	/* [dp] written once before the region is handed over, read-only after. */
	uint32_t magic;       /* SHUNT_ABI_MAGIC */
	uint32_t version;     /* SHUNT_ABI_VERSION */
	uint64_t region_size; /* bytes */
	uint32_t nsocks;      /* socket slots */
	uint32_t rx_buf_size; /* bytes per socket receive ring, power of two */
	uint32_t tx_buf_size; /* bytes per socket send ring, power of two */
	uint32_t nchannels;   /* command channels, 1..SHUNT_MAX_CHANNELS */
	uint32_t free_ring_size; /* entries in the free ring, power of two >= nsocks */
	uint32_t pad0;
	uint64_t chan_off;  /* offset of struct shunt_channel[nchannels] */
	uint64_t free_off;  /* offset of struct shunt_free_ring */
	uint64_t socks_off; /* offset of struct shunt_sock[nsocks] */
	uint64_t bufs_off;  /* offset of the socket byte rings */

	/* [dp] Set while the dataplane sleeps (adaptive idle). After queueing a command
	 * the app issues a seq_cst fence and, if this is set, writes the doorbell
	 * eventfd; the dataplane sets it, fences, and re-checks every ring before it
	 * sleeps. */
	SHUNT_ALIGNED uint32_t dp_sleeping;
	uint32_t dp_epoch; /* [dp] changes when a new shuntd instance serves the region */

	struct shunt_wait_slot wait[SHUNT_WAIT_SLOTS];
};

/* ---- command channels (app -> dp) --------------------------------------------- */

enum shunt_cmd_op {
	SHUNT_CMD_NOP = 0,
	SHUNT_CMD_OPEN,     /* claim slot `sock` taken from the free ring; arg = SHUNT_SOCK_*.
			     * Before sending it the app sets rx_cons = tx_prod = 0; the dp
			     * sets rx_prod = tx_cons = 0, flags = 0, addresses to 0.0.0.0:0.
			     * ev_seq, err_seq and eq_seq keep counting across reuse:
			     * after OPEN completes the app sets err_seen = err_seq and
			     * eq_seen = eq_seq. */
	SHUNT_CMD_BIND,     /* bind to addr (0.0.0.0 or the stack's address; port 0 = any);
			     * arg SHUNT_BINDF_UNLOCKED: the kernel chose that port */
	SHUNT_CMD_CONNECT,  /* start connecting to addr; completion via state/error */
	SHUNT_CMD_SEND,     /* tx_prod advanced (TCP) / datagrams queued (UDP) */
	SHUNT_CMD_RECVD,    /* rx_cons advanced: the window may have opened */
	SHUNT_CMD_SHUTDOWN, /* arg = SHUT_RD / SHUT_WR / SHUT_RDWR */
	SHUNT_CMD_CLOSE,    /* the app forgets the slot; the dp frees it when done */
	SHUNT_CMD_SETOPT,   /* arg = SHUNT_OPT_*, value = the option's value */
	SHUNT_CMD_DISCONNECT, /* connect(AF_UNSPEC): dissolve the association */
	SHUNT_CMD_MAX
};

/* Options the dataplane acts on. Everything else stays in the shim (or on the
 * placeholder kernel socket, which validates and remembers it as Linux would). */
enum shunt_opt {
	SHUNT_OPT_NODELAY = 1,  /* TCP_NODELAY */
	SHUNT_OPT_SYNCNT,       /* TCP_SYNCNT: SYN retransmissions */
	SHUNT_OPT_USER_TIMEOUT, /* TCP_USER_TIMEOUT, milliseconds */
	SHUNT_OPT_RCVBUF,       /* bytes of receive window the app allows (<= ring) */
	SHUNT_OPT_SNDBUF,       /* bytes of send buffer the app may use (<= ring) */
	SHUNT_OPT_LINGER0,      /* SO_LINGER with l_linger 0: close() resets */
	SHUNT_OPT_REUSEADDR,    /* SO_REUSEADDR */
	SHUNT_OPT_KEEPALIVE,    /* SO_KEEPALIVE */
	SHUNT_OPT_KEEPIDLE,     /* TCP_KEEPIDLE, seconds */
	SHUNT_OPT_KEEPINTVL,    /* TCP_KEEPINTVL, seconds */
	SHUNT_OPT_KEEPCNT,      /* TCP_KEEPCNT */
	SHUNT_OPT_MAX
};

/* BIND arg: the port is one the kernel chose for the app's bind(port 0), not one the
 * app named (Linux: SOCK_BINDPORT_LOCK unset), so dissolving a UDP association may
 * release it. */
#define SHUNT_BINDF_UNLOCKED 0x1u

/* cmd.flags */
#define SHUNT_CMDF_SYNC 0x1u /* the app waits: dp stores seq/result in the socket */

struct shunt_cmd {
	uint16_t op;    /* enum shunt_cmd_op */
	uint16_t flags; /* SHUNT_CMDF_* */
	uint32_t sock;  /* socket slot index */
	uint32_t seq;   /* with SHUNT_CMDF_SYNC: echoed in shunt_sock.done_seq */
	uint32_t arg;
	struct shunt_inaddr addr;
	uint64_t value;
};
_Static_assert(sizeof(struct shunt_cmd) == 32, "shunt_cmd size");

struct shunt_channel {
	SHUNT_ALIGNED uint32_t prod; /* [app] entries published (release) */
	SHUNT_ALIGNED uint32_t cons; /* [dp] entries consumed (release) */
	SHUNT_ALIGNED struct shunt_cmd ring[SHUNT_CMD_RING_SIZE];
};
_Static_assert(sizeof(struct shunt_channel) % SHUNT_CACHE_LINE == 0, "channel size");

/* ---- free socket slots (dp -> app) --------------------------------------------- */

/* The dataplane pushes every slot at region creation and again each time it is
 * done with a closed socket; the app pops one for each socket it opens. */
struct shunt_free_ring {
	SHUNT_ALIGNED uint32_t prod; /* [dp] */
	SHUNT_ALIGNED uint32_t cons; /* [app] */
	SHUNT_ALIGNED uint32_t ring[]; /* free_ring_size entries, slot indices */
};

/* ---- sockets --------------------------------------------------------------------- */

enum shunt_sock_type {
	SHUNT_SOCK_STREAM = 1,
	SHUNT_SOCK_DGRAM = 2,
};

/* Published socket state. TCP states keep RFC 9293's order so that range checks
 * work (e.g. state >= SHUNT_SS_ESTABLISHED means the handshake completed). */
enum shunt_sock_state {
	SHUNT_SS_FREE = 0,    /* slot not in use */
	SHUNT_SS_CLOSED,      /* opened, never connected, or connection over */
	SHUNT_SS_LISTEN,
	SHUNT_SS_SYN_SENT,
	SHUNT_SS_SYN_RECEIVED,
	SHUNT_SS_ESTABLISHED,
	SHUNT_SS_FIN_WAIT_1,
	SHUNT_SS_FIN_WAIT_2,
	SHUNT_SS_CLOSE_WAIT,
	SHUNT_SS_CLOSING,
	SHUNT_SS_LAST_ACK,
	SHUNT_SS_TIME_WAIT,
};

/* Transport bytes of a failed segment kept for MSG_ERRQUEUE: a SYN's whole header
 * with options (Linux quotes it all for a local error such as a failed ARP). */
#define SHUNT_EQ_DATA 40

/* shunt_sock.flags [dp] */
#define SHUNT_SF_RX_EOF    0x01u /* peer's FIN consumed: reads return 0 once rx is empty */
#define SHUNT_SF_TX_SHUT   0x02u /* our send side is shut: writes fail with EPIPE */
#define SHUNT_SF_RESET     0x04u /* connection reset or failed: error holds why */
#define SHUNT_SF_CONNECTED 0x08u /* UDP: a peer is associated (remote is valid) */
#define SHUNT_SF_BOUND     0x10u /* a local port is held (Linux: inet_num != 0), so bind()
				  * fails with EINVAL; local.port may still show a port
				  * that was released (a failed connect) */

/* Datagram record in a byte ring (UDP): header, payload, padding to 8 bytes, so
 * records start 8-byte aligned. Records never wrap: a writer whose record does not
 * fit before the ring's end skips the tail and continues at offset 0, writing a
 * header with len == SHUNT_DGRAM_WRAP at the tail if 16 bytes are left there. A
 * reader that finds fewer than 16 bytes before the end, or a WRAP header, skips
 * to offset 0. Skipped bytes count in the indices like record bytes. */
#define SHUNT_DGRAM_WRAP 0xffffffffu
struct shunt_dgram {
	uint32_t len; /* payload bytes */
	uint32_t pad;
	struct shunt_inaddr peer; /* rx: source; tx: destination (addr 0 = connected peer) */
};
_Static_assert(sizeof(struct shunt_dgram) == 16, "shunt_dgram size");

struct shunt_sock {
	/* [dp] state the app reads. ev_seq is incremented (release) after any change
	 * below, so a reader that acquires ev_seq sees everything before it. */
	SHUNT_ALIGNED uint32_t ev_seq;
	uint32_t state;      /* enum shunt_sock_state */
	uint32_t flags;      /* SHUNT_SF_* */
	int32_t error;       /* pending socket error (positive errno), valid if err_seq != err_seen */
	uint32_t err_seq;    /* incremented each time error is set */
	uint32_t done_seq;   /* seq of the last SHUNT_CMDF_SYNC command processed, stored
			      * with release after done_result; sequence numbers go on
			      * counting across slot reuse */
	int32_t done_result; /* its result, 0 or -errno */
	uint32_t type;       /* enum shunt_sock_type, set on OPEN */
	struct shunt_inaddr local;  /* 0.0.0.0:0 until bound */
	struct shunt_inaddr remote; /* 0.0.0.0:0 until connected */
	/* TCP_INFO-style figures, refreshed on change; informational only. */
	uint32_t mss;        /* effective send MSS */
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint32_t rto_us;
	uint32_t snd_cwnd;   /* bytes */
	uint32_t retrans;    /* total retransmitted segments */

	/* [dp] The ICMP error that ended a connect, as Linux 6.x queues it on the
	 * socket's error queue even without IP_RECVERR: recvmsg(MSG_ERRQUEUE) returns
	 * eq_data as data, the failed destination as msg_name and an IP_RECVERR cmsg
	 * (sock_extended_err, origin ICMP, offender = the ICMP's sender); POLLERR stays
	 * set until it is read. One entry, present while eq_seq != eq_seen; written
	 * before eq_seq is incremented, published by the ev_seq release. */
	SHUNT_ALIGNED uint32_t eq_seq;
	int32_t eq_errno;
	uint8_t eq_type;
	uint8_t eq_code;
	uint8_t eq_len;          /* bytes of eq_data */
	uint8_t eq_pad;
	uint32_t eq_info;
	uint32_t eq_offender;    /* network order: who sent the ICMP error */
	struct shunt_inaddr eq_dst;
	uint8_t eq_data[SHUNT_EQ_DATA]; /* the failed segment's first transport bytes */

	/* [dp] receive ring producer: bytes (TCP) or record bytes (UDP) written. */
	SHUNT_ALIGNED uint32_t rx_prod;
	/* [dp] send ring consumer: bytes the dp is done with (TCP: acknowledged). */
	SHUNT_ALIGNED uint32_t tx_cons;

	/* [app] receive ring consumer. */
	SHUNT_ALIGNED uint32_t rx_cons;
	/* [app] send ring producer. */
	SHUNT_ALIGNED uint32_t tx_prod;
	/* [app] error acknowledged: getsockopt(SO_ERROR) or a call that returned it
	 * sets err_seen = err_seq. */
	SHUNT_ALIGNED uint32_t err_seen;
	uint32_t eq_seen; /* [app] error-queue entry read: eq_seen = eq_seq */
};
_Static_assert(sizeof(struct shunt_sock) % SHUNT_CACHE_LINE == 0, "shunt_sock size");
_Static_assert(sizeof(struct shunt_sock) == 9 * SHUNT_CACHE_LINE, "shunt_sock layout");

/* ---- layout helpers ---------------------------------------------------------------- */

/* These follow the offsets in the control block, which the app can rewrite at any
 * time. The shim uses them freely; the dataplane only while it builds a region, and
 * keeps the results (core/app.c). */

static inline struct shunt_channel *shunt_region_channel(struct shunt_region *r, uint32_t i)
{
	return (struct shunt_channel *)((char *)r + r->chan_off) + i;
}

static inline struct shunt_free_ring *shunt_region_free(struct shunt_region *r)
{
	return (struct shunt_free_ring *)((char *)r + r->free_off);
}

static inline struct shunt_sock *shunt_region_sock(struct shunt_region *r, uint32_t i)
{
	return (struct shunt_sock *)((char *)r + r->socks_off) + i;
}

static inline uint8_t *shunt_region_rxbuf(struct shunt_region *r, uint32_t i)
{
	return (uint8_t *)r + r->bufs_off + (uint64_t)i * (r->rx_buf_size + r->tx_buf_size);
}

static inline uint8_t *shunt_region_txbuf(struct shunt_region *r, uint32_t i)
{
	return shunt_region_rxbuf(r, i) + r->rx_buf_size;
}

#endif /* SHUNT_ABI_H */
