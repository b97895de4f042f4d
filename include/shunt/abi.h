/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The shared-memory ABI between libshunt.so (the shim, in the program) and shuntd
 * (the dataplane), version 2. Header-only, no DPDK. Both sides compile against this
 * file; the version and feature bits are agreed at attach (ctl.h).
 *
 * One region per attached process tree: a memfd created and sized by shuntd, sealed
 * against shrinking and growing, handed to the shim over the control socket (ctl.h)
 * and mapped MAP_SHARED by both. The memfd is sparse: a page costs memory only once
 * it is written, so the region reserves address space for every slot and channel
 * and the process pays for what it uses. Layout (offsets from the region's start):
 *
 *   +--------------------------+ 0
 *   | struct shunt_region      |  control block: version, features, geometry, sleep flag
 *   +--------------------------+ chan_off
 *   | struct shunt_channel[]   |  command rings app -> dp, one per thread, each with
 *   |                          |  the reply to its last synchronous command
 *   +--------------------------+ notif_off
 *   | struct shunt_notifier[]  |  wake targets of multi-socket waits (poll, select,
 *   |                          |  epoll), each with a ready ring dp -> app
 *   +--------------------------+ socks_off
 *   | struct shunt_sock[]      |  socket slots; the dataplane allocates them
 *   +--------------------------+ bufs_off
 *   | byte rings               |  each socket's rings, where its rx_off/tx_off say
 *   +--------------------------+ region_size
 *
 * Rules every field follows:
 *  - One writer side. Each field says who writes it: [dp] the dataplane, [app] the
 *    shim (any of its threads, with atomics where several may). Fields of different
 *    writers never share a cache line.
 *  - Indices are free-running uint32_t; a ring of size N (a power of two) holds
 *    prod - cons bytes or entries, masked with N - 1 on access.
 *  - Publication is release (writer) / acquire (reader) on the index or sequence
 *    that covers the data, through the SHUNT_* accessors of ring.h (GCC __atomic
 *    builtins on plain fields). Each use site comments its pairing.
 *  - The dataplane treats everything the app writes as untrusted: an index that
 *    claims more than the ring holds, a slot out of range, a stale generation, an
 *    unknown opcode or notifier are counted and break only that socket (or that
 *    process). It keeps private copies of every [dp] field and of the geometry and
 *    never reads them back.
 *  - Errors travel as positive errno values in [dp] fields, results of commands as
 *    0 / -errno.
 *
 * Waking. A thread that must block sleeps on a futex word the dataplane advances
 * when something it waits for changes (never on a process-wide object):
 *  - one socket (blocking recv, send, connect): shunt_sock.ev_seq, announced in
 *    shunt_sock.sleepers;
 *  - the reply to its synchronous command: shunt_channel.reply.seq, announced in
 *    shunt_channel.sleepers;
 *  - several sockets, maybe with kernel fds (poll, select, epoll): a notifier
 *    subscribed in each socket's notify[] (shunt_notifier).
 * The pairing is Dekker's: the app increments the sleepers count, fences (seq_cst),
 * re-checks its condition and sleeps on the value it read; the dataplane publishes,
 * fences, and only if the count is non-zero makes one wake call (FUTEX_WAKE, or a
 * byte on the notifier's socket). No sleeper, no syscall; one call per sleeping
 * target otherwise, however many threads it wakes.
 *
 * Sharing (SHUNT_FEAT_SHARE; docs/design.md, "The process model"). The processes a
 * program forks and execs share its region as members: member 0 attached, the
 * others joined (ctl.h SHUNT_CTL_JOIN) with a bit a member claimed for them in
 * `members`. Each member has its own control connection, its own channels
 * (chan_per_member of them, its chan_hint[] entry) and notifiers, so nothing
 * private to a process is ever written by two; what two processes write is in the
 * slots and written with atomics: holders (who has a descriptor: the last holder's
 * close sends CLOSE), tx_owner (one sender at a time, by tid), rx_cons (readers
 * take bytes by CAS), notify[]. A member that hangs up has its queued commands
 * done, its bit cleared in every holders (what it alone held is closed) and in
 * `members`. Bit 63 of holders is a relay's (ctl.h SHUNT_CTL_RELAY), never a
 * member's. A member can harm only its own region: the processes that map it.
 */
#ifndef SHUNT_ABI_H
#define SHUNT_ABI_H

#include <stdalign.h>
#include <stdint.h>

#define SHUNT_ABI_MAGIC   0x544e4853u /* "SHNT" in little-endian memory order */
#define SHUNT_ABI_VERSION 2u          /* the newest version this header describes */
#define SHUNT_ABI_VERSION_MIN 2u      /* the oldest one it can still speak */

/* Feature bits, agreed at attach (ctl.h): the shim offers and requires, the
 * dataplane answers with offered & its own. Version 2 needs none of them. */
#define SHUNT_FEAT_READY   (1u << 0) /* notifiers keep ready rings (epoll is O(ready)) */
#define SHUNT_FEAT_LISTEN  (1u << 1) /* passive open: SHUNT_CMD_LISTEN, accept records */
#define SHUNT_FEAT_SHARE   (1u << 2) /* one region, many processes: members, holders
				      * (fork and exec keep sockets; "Sharing" below) */
#define SHUNT_FEAT_KNOWN   (SHUNT_FEAT_READY | SHUNT_FEAT_LISTEN | SHUNT_FEAT_SHARE)

#define SHUNT_CACHE_LINE 64
#define SHUNT_ALIGNED    alignas(SHUNT_CACHE_LINE)

#define SHUNT_CMD_RING_SIZE 256 /* entries per channel, power of two */
#define SHUNT_READY_RING    256 /* entries per notifier ready ring, power of two */
#define SHUNT_SOCK_NOTIFY   4   /* notifier subscriptions held in a socket */
#define SHUNT_SOCK_NONE     0xffffffffu /* cmd.sock of OPEN: no slot yet */
#define SHUNT_MEM_FLOOR     4096 /* bytes a socket may always queue (Linux tcp_rmem[0]) */
#define SHUNT_MAX_MEMBERS   63   /* processes sharing one region (one bit each) */
#define SHUNT_HOLDER_RELAY  (1ull << 63) /* holders: a relay holds it (ctl.h RELAY) */

/* Network-order IPv4 address and port, as in struct sockaddr_in. */
struct shunt_inaddr {
	uint32_t addr; /* network order */
	uint16_t port; /* network order */
	uint16_t pad;
};
_Static_assert(sizeof(struct shunt_inaddr) == 8, "shunt_inaddr size");

/* ---- control block ------------------------------------------------------------ */

struct shunt_region {
	/* [dp] written once before the region is handed over, read-only after. */
	uint32_t magic;       /* SHUNT_ABI_MAGIC */
	uint32_t version;     /* the version agreed at attach */
	uint32_t features;    /* SHUNT_FEAT_* agreed at attach */
	uint32_t nsocks;      /* socket slots */
	uint64_t region_size; /* bytes */
	uint32_t nchannels;   /* command channels */
	uint32_t nnotifiers;  /* notifiers */
	uint32_t rx_buf_size; /* default receive ring bytes (each socket has its own) */
	uint32_t tx_buf_size; /* default send ring bytes */
	uint64_t chan_off;    /* offset of struct shunt_channel[nchannels] */
	uint64_t notif_off;   /* offset of struct shunt_notifier[nnotifiers] */
	uint64_t socks_off;   /* offset of struct shunt_sock[nsocks] */
	uint64_t bufs_off;    /* offset of the byte rings */
	/* Sharing (SHUNT_FEAT_SHARE): member m owns channels [m * chan_per_member,
	 * (m + 1) * chan_per_member) and notifiers [m * notif_per_member, ...); without
	 * the feature there is one member, 0, owning them all. */
	uint32_t chan_per_member;
	uint32_t notif_per_member;
	/* What a process shows to join the region as a new member (ctl.h,
	 * SHUNT_CTL_JOIN): only a process that maps the region can read it. */
	uint64_t join_key[2];

	/* [dp] Set while the dataplane sleeps (adaptive idle). After queueing a command
	 * the app issues a seq_cst fence and, if this is set, writes the doorbell
	 * eventfd; the dataplane sets it, fences, and re-checks every channel before it
	 * sleeps. */
	SHUNT_ALIGNED uint32_t dp_sleeping;
	uint32_t dp_epoch; /* [dp] changes when a new shuntd instance serves the region */
	/* [dp] Bytes this process's sockets may still queue in their rings before the
	 * process's bound (the `app_mem` key) is reached; UINT64_MAX: no bound. Refreshed
	 * once per loop iteration, so a sender may overshoot by what it queues in one.
	 * A socket may always hold SHUNT_MEM_FLOOR bytes whatever this says. */
	uint64_t mem_avail;
	/* [dp] One past the highest slot ever allocated: an exec'd image looks for
	 * its inherited sockets below it. */
	uint32_t slot_hwm;

	/* [app] Member bits taken: a process claims a free bit (CAS) for the process
	 * that will join as that member (a fork child, an exec'd image). [dp] clears a
	 * member's bit once its control connection has hung up and its holder bits are
	 * swept (member 0's is set at creation). */
	SHUNT_ALIGNED uint64_t members;
	/* [app] Member m's channels [base, base + chan_hint[m]) may hold commands: the
	 * dataplane polls only those (a process with four threads costs four checks).
	 * Only grows; a value above chan_per_member is taken as chan_per_member. */
	SHUNT_ALIGNED uint32_t chan_hint[SHUNT_MAX_MEMBERS];
};

/* ---- command channels (app -> dp) --------------------------------------------- */

enum shunt_cmd_op {
	SHUNT_CMD_NOP = 0,
	SHUNT_CMD_OPEN,     /* sock = SHUNT_SOCK_NONE, arg = SHUNT_SOCK_*: the dp allocates a
			     * slot and answers with it (reply.sock, reply.gen), or -ENOBUFS */
	SHUNT_CMD_BIND,     /* bind to addr (0.0.0.0 or the stack's address; port 0 = any);
			     * arg SHUNT_BINDF_UNLOCKED: the kernel chose that port */
	SHUNT_CMD_CONNECT,  /* start connecting to addr; completion via state/error */
	SHUNT_CMD_SEND,     /* tx_prod advanced (TCP) / datagrams queued (UDP) */
	SHUNT_CMD_RECVD,    /* rx_cons advanced: the window may have opened */
	SHUNT_CMD_SHUTDOWN, /* arg = SHUT_RD / SHUT_WR / SHUT_RDWR */
	SHUNT_CMD_CLOSE,    /* the app forgets the slot; the dp frees it when done */
	SHUNT_CMD_SETOPT,   /* arg = SHUNT_OPT_*, value = the option's value */
	SHUNT_CMD_DISCONNECT, /* connect(AF_UNSPEC): dissolve the association */
	SHUNT_CMD_LISTEN,   /* arg = backlog (SHUNT_FEAT_LISTEN): the bound socket listens;
			     * again: the new backlog. Connections completed on it are
			     * announced as struct shunt_accept records in its rx ring */
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
	SHUNT_OPT_CORK,         /* TCP_CORK: hold short segments until uncorked */
	SHUNT_OPT_REUSEPORT,    /* SO_REUSEPORT: listeners share a port, each gets some */
	SHUNT_OPT_MAXSEG,       /* TCP_MAXSEG: the user's MSS bound, 0 (none) or 88..32767 */
	SHUNT_OPT_TOS,          /* IP_TOS: the IPv4 TOS byte of what the socket sends */
	SHUNT_OPT_TTL,          /* IP_TTL: the IPv4 TTL of what the socket sends, 1..255 */
	SHUNT_OPT_CONGESTION,   /* TCP_CONGESTION: SHUNT_CC_* (a dataplane without it
				 * answers -ENOPROTOOPT and the shim goes on) */
	SHUNT_OPT_MAX
};

/* Congestion control algorithms: SHUNT_OPT_CONGESTION's value and shunt_sock.cc.
 * NONE (0): not said, what an older dataplane leaves in shunt_sock.cc. */
enum shunt_cc { SHUNT_CC_NONE = 0, SHUNT_CC_RENO, SHUNT_CC_CUBIC, SHUNT_CC_MAX };
/* Their names, as Linux's modules call them (TCP_CONGESTION, the sysctl). */
#define SHUNT_CC_NAMES { [SHUNT_CC_RENO] = "reno", [SHUNT_CC_CUBIC] = "cubic" }
#define SHUNT_CC_NAME_MAX 16 /* Linux TCP_CA_NAME_MAX, with the NUL */

/* BIND arg: the port is one the kernel chose for the app's bind(port 0), not one the
 * app named (Linux: SOCK_BINDPORT_LOCK unset), so dissolving a UDP association may
 * release it. */
#define SHUNT_BINDF_UNLOCKED 0x1u

/* SEND arg: the send that queued these bytes had MSG_MORE: hold a short tail, as
 * a temporary cork, until a SEND without it. */
#define SHUNT_SENDF_MORE 0x1u

/* cmd.flags */
#define SHUNT_CMDF_SYNC 0x1u /* the app waits: the dp answers in the channel's reply */

/* Every command but OPEN names its socket by slot and generation: a command whose
 * generation is not the slot's current one (the socket was closed, maybe reopened)
 * is refused and counted, and a synchronous one is answered -EBADF. */
struct shunt_cmd {
	uint16_t op;    /* enum shunt_cmd_op */
	uint16_t flags; /* SHUNT_CMDF_* */
	uint32_t sock;  /* socket slot, SHUNT_SOCK_NONE for OPEN */
	uint32_t gen;   /* the slot's generation (shunt_sock.gen when it was opened) */
	uint32_t seq;   /* with SHUNT_CMDF_SYNC: echoed in the channel's reply.seq */
	uint32_t arg;
	uint32_t pad;
	struct shunt_inaddr addr;
	uint64_t value;
	uint64_t rsvd;
};
_Static_assert(sizeof(struct shunt_cmd) == 48, "shunt_cmd size");

/* The answer to the last synchronous command of a channel. The dp writes result,
 * sock and gen, then seq with release; the app acquires seq. seq is also the futex
 * word a thread sleeps on while it waits for the answer. */
struct shunt_reply {
	uint32_t seq;   /* [dp] seq of the last SHUNT_CMDF_SYNC command answered */
	int32_t result; /* [dp] 0 or -errno */
	uint32_t sock;  /* [dp] OPEN: the slot allocated */
	uint32_t gen;   /* [dp] OPEN: its generation */
};

/* A channel is a single-producer ring: at any moment one thread of the app owns it
 * (shim-private bookkeeping decides which; a thread keeps one for its life when
 * there are enough). The ordering rule: commands of one channel are taken in the
 * order they were pushed; across channels there is no order, and none is needed,
 * because (a) a synchronous command completes before the call that issued it
 * returns, so anything the program does after it is ordered after it, and (b) the
 * asynchronous ones (SEND, RECVD, CLOSE) carry no data: they tell the dataplane to
 * look at indices published (release) before they were pushed, and it acts on the
 * socket's state when it takes them, which includes everything published before
 * any of them; a CLOSE taken first makes the later ones stale (generation). */
struct shunt_channel {
	SHUNT_ALIGNED uint32_t prod; /* [app] entries published (release) */
	uint32_t sleepers;           /* [app] threads asleep on reply.seq */
	SHUNT_ALIGNED uint32_t cons; /* [dp] entries consumed (release) */
	SHUNT_ALIGNED struct shunt_reply reply; /* [dp] */
	SHUNT_ALIGNED struct shunt_cmd ring[SHUNT_CMD_RING_SIZE];
};
_Static_assert(sizeof(struct shunt_channel) % SHUNT_CACHE_LINE == 0, "channel size");

/* ---- notifiers (dp -> app, multi-socket waits) ---------------------------------- */

/* A notifier is what a poll(), select() or epoll_wait() sleeps on: the shim takes
 * a free one (shim-private bitmap), registers a wake socket for it over the control
 * socket (ctl.h, SHUNT_CTL_NOTIFY_SET: the dataplane keeps one end of a socketpair
 * and sends a byte with MSG_DONTWAIT, which can never block it), and subscribes it
 * in the notify[] of every socket the wait covers.
 *
 * When a socket changes, the dataplane (at the end of its loop iteration, once per
 * socket) pushes the slot number into the ready ring of each subscribed notifier
 * that has SHUNT_NOTIFY_READY, bumps the notifier's seq (release), fences, and wakes
 * it: FUTEX_WAKE on seq if futex_sleepers, a byte on its wake socket if fd_sleepers.
 * A full ready ring bumps ready_lost instead: the app must then look at every
 * socket it watches once (it lost track of which changed). */
#define SHUNT_NOTIFY_READY 0x1u /* keep a ready ring (epoll); else seq only (poll) */

struct shunt_notifier {
	SHUNT_ALIGNED uint32_t seq;  /* [dp] bumped per notification (release); futex word */
	uint32_t ready_prod;         /* [dp] ready ring producer (release) */
	uint32_t ready_lost;         /* [dp] bumped when an entry did not fit */
	SHUNT_ALIGNED uint32_t futex_sleepers; /* [app] threads in FUTEX_WAIT on seq */
	uint32_t fd_sleepers;        /* [app] threads in poll() on the wake socket */
	uint32_t ready_cons;         /* [app] ready ring consumer (release) */
	uint32_t flags;              /* [app] SHUNT_NOTIFY_* */
	SHUNT_ALIGNED uint32_t ready[SHUNT_READY_RING]; /* [dp] slot numbers */
};
_Static_assert(sizeof(struct shunt_notifier) % SHUNT_CACHE_LINE == 0, "notifier size");

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
	uint32_t dst; /* rx: the address it was sent to (network order; IP_PKTINFO); tx: 0 */
	struct shunt_inaddr peer; /* rx: source; tx: destination (addr 0 = connected peer) */
};
_Static_assert(sizeof(struct shunt_dgram) == 16, "shunt_dgram size");

/* An accepted connection, as a listener announces it: a record in the listener's
 * receive ring (rx_prod advances by 8 per connection, so records never wrap). The
 * slot was allocated by the dataplane in the listener's process, fully set up
 * (state, addresses, rings; data may already be in its rx ring) before the record
 * was published with release on the listener's rx_prod. The app takes records with
 * a CAS on the listener's rx_cons, one accept() each; the dataplane keeps at most
 * backlog + 1 records queued (Linux's sk_acceptq_is_full), and when the listener is
 * closed resets the connections still queued. */
struct shunt_accept {
	uint32_t sock; /* the new socket's slot */
	uint32_t gen;  /* and generation, to name it in commands */
};
_Static_assert(sizeof(struct shunt_accept) == 8, "shunt_accept size");

/* A slot's life: FREE -> the dp allocates it (OPEN now; an accepted connection
 * later), bumps gen, initialises every [dp] field and only then names it to the
 * app (the OPEN reply, released by reply.seq) -> commands carry (slot, gen) ->
 * CLOSE -> the dp finishes the connection and frees the slot.
 *
 * The [app] fields are never reset: when the dp allocates a slot it adopts their
 * current values as the starting point (rx_prod = rx_cons, tx_cons = tx_prod,
 * err_seq = err_seen, eq_seq = eq_seen), so indices run on across reuse, and a
 * socket the dp creates by itself can receive data before the app has seen it. */
struct shunt_sock {
	/* [dp] state the app reads. ev_seq is incremented (release) after any change
	 * below, so a reader that acquires ev_seq sees everything before it. ev_seq is
	 * also the futex word that threads blocked on this socket sleep on. */
	SHUNT_ALIGNED uint32_t ev_seq;
	uint32_t state;      /* enum shunt_sock_state */
	uint32_t flags;      /* SHUNT_SF_* */
	int32_t error;       /* pending socket error (positive errno), valid if err_seq != err_seen */
	uint32_t err_seq;    /* incremented each time error is set */
	uint32_t gen;        /* bumped each time the slot is allocated; never 0 */
	uint32_t type;       /* enum shunt_sock_type, set on allocation */
	uint32_t cc;         /* TCP: enum shunt_cc, the connection's congestion control
			      * (getsockopt TCP_CONGESTION); 0 from an older dataplane */
	struct shunt_inaddr local;  /* 0.0.0.0:0 until bound */
	struct shunt_inaddr remote; /* 0.0.0.0:0 until connected */
	/* TCP_INFO-style figures, refreshed on change; informational only. */
	uint32_t mss;        /* effective send MSS */
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint32_t rto_us;
	uint32_t snd_cwnd;   /* bytes */
	uint32_t retrans;    /* total retransmitted segments */

	/* Where this socket's byte rings are, set on allocation (before the slot is
	 * named to the app) and fixed until it is freed: region offsets, sizes powers
	 * of two. */
	uint64_t rx_off;
	uint64_t tx_off;
	uint32_t rx_size;
	uint32_t tx_size;

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
	/* [dp] Non-zero while the dataplane gives an idle socket's send ring back to
	 * the system (hole punching). With tx_writing, Dekker's pairing: the dp sets
	 * tx_trim, fences, and punches only if tx_writing is 0 and the ring is empty;
	 * the app raises tx_writing, fences, and waits while tx_trim is set before it
	 * writes into the ring. */
	uint32_t tx_trim;

	/* [app] receive ring consumer. */
	SHUNT_ALIGNED uint32_t rx_cons;
	/* [app] send ring producer. */
	SHUNT_ALIGNED uint32_t tx_prod;
	uint32_t tx_writing; /* [app] writers inside the send ring now (see tx_trim) */
	/* [app] The tid filling the send ring (0: nobody), so that one sender at a
	 * time writes it, whatever process it is in (shim/tx.c). */
	uint32_t tx_owner;
	/* [app] error acknowledged: getsockopt(SO_ERROR) or a call that returned it
	 * sets err_seen = err_seq. */
	SHUNT_ALIGNED uint32_t err_seen;
	uint32_t eq_seen; /* [app] error-queue entry read: eq_seen = eq_seq */

	/* [app] Who to wake. sleepers counts threads in FUTEX_WAIT on ev_seq;
	 * notify[i] is a notifier index + 1 (0: empty), claimed by CAS; notify_all is
	 * non-zero while more notifiers watch the socket than notify[] holds, and then
	 * the dataplane notifies every registered notifier of the process (pushing
	 * the slot into each one's ready ring that keeps one). */
	SHUNT_ALIGNED uint32_t sleepers;
	uint32_t notify_all;
	uint32_t notify[SHUNT_SOCK_NOTIFY];
	/* [app] Sharing: bit m is set while member m holds a descriptor of the
	 * socket. Set by the process that gets the socket (OPEN, accept: the only
	 * holder), by a parent for its fork child and by an exec for the new image,
	 * before either can run; cleared (atomic AND) by a member whose last
	 * descriptor closed: the one that clears the last bit sends CLOSE. [dp]
	 * zeroes it when it allocates the slot, and clears a gone member's bit,
	 * closing the socket if that was the last. Bit 63 (SHUNT_HOLDER_RELAY) is
	 * no member's: shuntd sets it while a relay (ctl.h) holds the socket. */
	uint64_t holders;
	/* [app] The inode of the placeholder kernel socket, written before an exec
	 * so that the new image finds which of its fds is which slot. */
	uint64_t ph_ino;
};
_Static_assert(sizeof(struct shunt_sock) % SHUNT_CACHE_LINE == 0, "shunt_sock size");
_Static_assert(sizeof(struct shunt_sock) == 10 * SHUNT_CACHE_LINE, "shunt_sock layout");

/* ---- layout helpers ---------------------------------------------------------------- */

/* These follow the offsets in the control block and the sockets, which the app can
 * rewrite at any time. The shim uses them freely; the dataplane only while it
 * builds a region, and keeps the results (core/app.c). */

static inline struct shunt_channel *shunt_region_channel(struct shunt_region *r, uint32_t i)
{
	return (struct shunt_channel *)((char *)r + r->chan_off) + i;
}

static inline struct shunt_notifier *shunt_region_notifier(struct shunt_region *r, uint32_t i)
{
	return (struct shunt_notifier *)((char *)r + r->notif_off) + i;
}

static inline struct shunt_sock *shunt_region_sock(struct shunt_region *r, uint32_t i)
{
	return (struct shunt_sock *)((char *)r + r->socks_off) + i;
}

#endif /* SHUNT_ABI_H */
