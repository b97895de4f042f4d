/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The TCP control block (RFC 9293 3.3.1 variables plus congestion control, RTT
 * estimation, timers and the out-of-order list) and the per-context TCP state.
 * Every module of tcp/ works on these; tcp_set_state() is the one place a state
 * changes (logged at debug level and published to the app).
 *
 * Lifetime: tcp_open() allocates the tcb and attaches it to its dp_sock. The tcb
 * stays attached until the app has closed the socket AND TCP no longer needs the
 * rings; then tcb_detach() calls dp_sock_pcb_done(). A tcb in TIME_WAIT lingers
 * detached (tcb->s == NULL) in the table until its timer frees it. Every use of
 * tcb->s must allow for NULL.
 */
#ifndef SHUNT_TCB_H
#define SHUNT_TCB_H

#include <stdbool.h>
#include <stdint.h>

#include <shunt/abi.h>

struct dp_ctx;
struct dp_sock;

/* Sequence space comparisons (RFC 9293 3.4: arithmetic modulo 2^32). */
#define SEQ_LT(a, b)  ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b)  SEQ_LT(b, a)
#define SEQ_GEQ(a, b) SEQ_LEQ(b, a)

/* Times in microseconds (ctx->now_us scale). */
#define TCP_RTO_INIT_US     1000000u   /* RFC 6298 2.1 */
#define TCP_RTO_MIN_US      200000u    /* Linux TCP_RTO_MIN */
#define TCP_RTO_MAX_US      120000000u /* Linux TCP_RTO_MAX */
#define TCP_RTT_G_US        1000u      /* clock granularity G: timestamps tick in ms */
#define TCP_DACK_US         40000u     /* Linux TCP_DELACK_MIN */
#define TCP_TIMEWAIT_US     60000000u  /* Linux TCP_TIMEWAIT_LEN */
#define TCP_FIN_TIMEOUT_US  60000000u  /* Linux tcp_fin_timeout */
#define TCP_RETRIES2        15         /* Linux tcp_retries2: data retransmissions */
#define TCP_ORPHAN_RETRIES  8          /* Linux tcp_orphan_retries(): after close() */
#define TCP_KEEP_IDLE_S     7200       /* Linux tcp_keepalive_time */
#define TCP_KEEP_INTVL_S    75         /* Linux tcp_keepalive_intvl */
#define TCP_KEEP_CNT        9          /* Linux tcp_keepalive_probes */
#define TCP_KEEP_MAX_S      32767      /* Linux MAX_TCP_KEEPIDLE / MAX_TCP_KEEPINTVL */
#define TCP_KEEP_MAX_CNT    127        /* Linux MAX_TCP_KEEPCNT */
#define TCP_IW_SEGS         10         /* RFC 6928 */
#define TCP_MSS_DEFAULT     536        /* RFC 9293 3.7.1: no MSS option received */
#define TCP_OOO_MAX         4          /* held out-of-order runs per connection */
#define TCP_SACKED_MAX      16         /* SACKed ranges kept per connection (tcp_sack.c) */
#define TCP_DUPTHRESH       3          /* RFC 6675 DupThresh */
#define TCP_SENT_MAX        16         /* transmit-time records per connection (tcp_rack.c) */
#define TCP_TLP_FLIGHT1_US  200000u    /* RFC 8985 7.2 WCDelAckT (Linux TCP_RTO_MIN) */
#define TCP_TLP_MIN_US      2000u      /* Linux TCP_TIMEOUT_MIN: the PTO's slack otherwise */
#define TCP_NO_TIMER        UINT64_MAX
#define TCP_SYNACK_RETRIES  5          /* Linux tcp_synack_retries */
#define TCP_RMEM_MAX_DEFAULT 6291456u  /* Linux tcp_rmem[2] (conf.h rmem_max) */
#define TCP_MIN_MSS         88         /* Linux: TCP_MAXSEG's smallest */
#define TCP_MAX_WINDOW      32767      /* Linux MAX_TCP_WINDOW: TCP_MAXSEG's largest */
#define TCP_ECN_MASK        0x03       /* Linux INET_ECN_MASK: TCP's, not IP_TOS's */
#define TCP_SOMAXCONN       4096       /* Linux net.core.somaxconn: backlog cap */
#define TCP_PORT_PERTURB    256        /* RFC 6056 3.3.4 table size (Linux: 65536) */

/* Per-connection timers; each is an absolute deadline or TCP_NO_TIMER. */
enum tcp_timer {
	TCP_T_REXMIT,  /* RTO, SYN retransmission */
	TCP_T_PERSIST, /* zero-window probe */
	TCP_T_DACK,    /* delayed ACK */
	TCP_T_WAIT,    /* TIME_WAIT, FIN_WAIT_2 timeout */
	TCP_T_KEEP,    /* keepalive (SO_KEEPALIVE) */
	TCP_T_LOSS,    /* RACK's reorder timeout, or the tail loss probe (tcb.loss_tlp) */
	TCP_T_N
};

/* A range of sequence space, [start, end): a run of out-of-order bytes already
 * written into the rx ring (tcb.ooo), a range the peer SACKed above snd_una
 * (tcb.sacked). Lists of them are sorted and disjoint (tcp_range_insert). */
struct tcp_range {
	uint32_t start;
	uint32_t end;
};

/* Insert [start, end) into the list r[*n] (room for max), merged with the ranges
 * it overlaps or touches. Returns true; false if it needs a range of its own and
 * the list is full (nothing changed), *at then the index it would take. */
/* A run of sequence space sent in one burst, at xmit_us (the low 32 bits of
 * ctx->now_us): RACK's per-segment send time (tcp_rack.c). */
enum { TCP_SENT_REXMIT = 1, TCP_SENT_LOST = 2 };
struct tcp_sent {
	uint32_t start;
	uint32_t end;
	uint32_t xmit_us;
	uint8_t flags;            /* TCP_SENT_*: a retransmission; RACK judged it lost */
};

bool tcp_range_insert(struct tcp_range *r, uint8_t *n, uint8_t max, uint32_t start,
		      uint32_t end, uint8_t *at);

struct tcb {
	struct dp_sock *s;        /* NULL once detached (TIME_WAIT after close) */
	struct tcb *hnext;        /* 4-tuple hash chain */
	struct tcb *lnext, *lprev; /* list of all tcbs (dump, fini) */
	uint32_t heap_idx;        /* position in the timer heap; UINT32_MAX if absent */
	uint32_t state;           /* enum shunt_sock_state */
	uint32_t hash;            /* of the 4-tuple, while hashed */

	/* 4-tuple, network order; laddr 0 until connect */
	uint32_t laddr_be, raddr_be;
	uint16_t lport_be, rport_be;
	bool hashed;              /* in the 4-tuple table */
	bool port_held;           /* holds lport in the port table */
	bool bound;               /* lport came from bind() */
	bool addr_bound;          /* bind() named our address: AF_UNSPEC keeps it */

	/* send sequence space */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_max;         /* highest sequence sent (snd_nxt rewinds on RTO) */
	uint32_t snd_sml;         /* end of the last segment sent shorter than the MSS
				   * (Linux tp->snd_sml, for Minshall's Nagle) */
	uint32_t snd_wnd;         /* bytes, scaled */
	uint32_t snd_wnd_max;     /* largest window the peer offered */
	uint32_t snd_wl1, snd_wl2;
	uint8_t snd_ws;           /* peer's shift */
	uint8_t rcv_ws;           /* our shift */
	bool ws_ok;
	bool ts_ok;
	bool sack_ok;             /* both SYNs had SACK-permitted: our ACKs carry SACK
				   * blocks (RFC 2018) and the peer's drive loss
				   * recovery (RFC 6675, tcp_sack.c) */
	uint32_t ts_recent;       /* RFC 7323 TS.Recent */
	uint32_t last_oow_ms;     /* our last answer to an out-of-window segment or a
				   * challenge, 0 none (Linux last_oow_ack_time) */
	uint16_t mss;             /* effective send MSS (options excluded) */
	uint16_t rcv_mss;         /* MSS we advertised */
	uint16_t mss_clamp;       /* the peer's MSS within TCP_MAXSEG (Linux
				   * rx_opt.mss_clamp); 0 until its SYN said it */
	/* path MTU (tcp_pmtu.c): what mss is for (Linux icsk_pmtu_cookie), learned
	 * from net/pmtu.c at pmtu_gen, good until pmtu_expires_us; 0 before connect */
	uint16_t pmtu;
	uint32_t pmtu_gen;
	uint64_t pmtu_expires_us;
	bool mtup_on;             /* a black hole was suspected (Linux icsk_mtup.enabled): */
	uint16_t mtup_low;        /* ... the MSS stays within this MTU (search_low) */

	/* FIN from our side */
	bool syn_acked;           /* our SYN is acknowledged: acks count data (and FIN) */
	bool fin_queued;          /* shutdown(SHUT_WR) or close: FIN after the data */
	bool fin_sent;            /* FIN at fin_seq is in flight (cleared on rewind) */
	uint32_t fin_seq;

	/* receive sequence space */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv;         /* right edge we advertised: never moves left */
	struct tcp_range ooo[TCP_OOO_MAX];
	uint8_t n_ooo;
	uint32_t ooo_recent;      /* a byte of the segment that last went into ooo[]: its
				   * run is the first SACK block (RFC 2018 4) */
	bool rx_fin_ooo;          /* a FIN beyond a gap, at rx_fin_seq */
	uint32_t rx_fin_seq;
	bool dsack;               /* the next ACK's first SACK block reports the duplicate */
	uint32_t dsack_start, dsack_end; /* ... [start, end) (RFC 2883) */
	uint32_t rcv_unacked;     /* bytes received since our last ACK */
	bool ack_now;

	/* congestion control (RFC 5681, RFC 6582) */
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t recover;
	uint8_t dupacks;
	bool in_recovery;         /* fast recovery until snd_una reaches recover: RFC 6675
				   * (pipe, NextSeg) with sack_ok, else RFC 6582 */
	/* PRR (RFC 6937) in a SACK recovery: cwnd = pipe + what the deliveries allow */
	uint32_t prr_delivered;   /* bytes the peer received since recovery began */
	uint32_t prr_out;         /* bytes sent since recovery began */
	uint32_t recover_fs;      /* FlightSize when it began */
	/* the algorithm (tcp_cc.c): what sets ssthresh at a loss and grows cwnd */
	uint8_t cc;               /* SHUNT_CC_* (TCP_CONGESTION) */
	uint32_t cc_acc;          /* bytes acked toward the next cwnd step */
	uint64_t lsnd_us;         /* when data last went out (Linux lsndtime) */
	uint64_t cc_priv[8];      /* the algorithm's own state (Linux icsk_ca_priv) */

	/* the SACK scoreboard (RFC 6675 2): sorted, disjoint, not touching, each inside
	 * (snd_una, snd_max] */
	struct tcp_range sacked[TCP_SACKED_MAX];
	uint8_t n_sacked;
	uint32_t rxt_next;        /* RFC 6675 HighRxt + 1: in recovery, what is below was
				   * retransmitted (NextSeg looks from here) */
	bool rto_recover;         /* an RTO's go-back-N runs until snd_una reaches recover:
				   * no SACK recovery starts before (RFC 6675 5.1) unless
				   * RACK sees one of its retransmissions lost */
	/* undo (tcp_undo.c): the last cwnd reduction, until the peer shows whether it
	 * was needed (Linux undo_marker, prior_cwnd, prior_ssthresh, undo_retrans,
	 * retrans_stamp) */
	bool undo_armed;          /* an episode may be undone */
	bool undo_rto;            /* ... and an RTO's go-back-N runs, up to undo_high */
	bool undo_stamped;        /* ... and it retransmitted, first with TSval undo_tsval */
	uint32_t undo_seq;        /* snd_una when it began: older D-SACKs do not count */
	uint32_t undo_high;
	uint32_t undo_cwnd;       /* cwnd and ssthresh before the reduction */
	uint32_t undo_ssthresh;
	uint32_t undo_retrans;    /* bytes it resent that no D-SACK reported yet */
	uint32_t undo_tsval;

	/* RACK-TLP (RFC 8985, tcp_rack.c): the transmit log, oldest first, and what
	 * the newest delivered transmission says */
	struct tcp_sent sent[TCP_SENT_MAX];
	uint8_t n_sent;
	bool rack_valid;          /* rack_xmit_us, rack_end, rack_rtt_us are set */
	bool rack_reord;          /* the peer reported a duplicate (D-SACK): reordering
				   * or a spurious retransmission; reo_wnd is kept */
	bool rack_relost;         /* a retransmission was lost, the first at ... */
	uint32_t rack_relost_seq; /* ... this sequence number (sack_output resends it) */
	uint32_t rack_xmit_us;    /* RACK.xmit_ts */
	uint32_t rack_end;        /* RACK.end_seq */
	uint32_t rack_rtt_us;     /* RACK.rtt */
	bool rack_lost;           /* what is not SACKed below rack_lost_end is lost */
	uint32_t rack_lost_end;
	uint32_t min_rtt_us;      /* RACK.min_RTT, from the log; 0: none yet */
	bool loss_tlp;            /* TCP_T_LOSS is the probe timeout, not reordering */
	bool tlp_out;             /* a probe is unacknowledged, up to tlp_high */
	bool tlp_rexmit;          /* ... and it was a retransmission */
	bool tlp_dsack;           /* ... which the peer reported as a duplicate */
	uint32_t tlp_high;        /* RFC 8985 TLP.end_seq */

	/* RTT (RFC 6298) */
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint32_t rto_us;
	bool rtt_valid;
	bool rtt_timing;          /* without timestamps: one segment timed */
	uint32_t rtt_seq;
	uint64_t rtt_start_us;

	/* timers */
	uint64_t timer[TCP_T_N];
	uint64_t deadline;        /* min of timer[]: the heap key */
	uint64_t info_due_us;     /* next unforced tcb_publish_info() */
	uint8_t nrexmit;          /* consecutive retransmissions of snd_una (backoff) */
	uint8_t npersist;         /* zero-window probes sent (the persist backoff) */
	uint8_t probes_out;       /* of those, sent since the peer last sent an ACK */
	uint64_t rexmit_start_us; /* first retransmission without progress (user timeout) */

	/* options */
	uint8_t syn_retries;
	bool nodelay;
	bool cork;                /* TCP_CORK: short segments wait (even with NODELAY) */
	bool more;                /* the last send had MSG_MORE: likewise, until one without */
	bool linger0;
	bool keepalive;           /* SO_KEEPALIVE */
	uint8_t keep_cnt;         /* TCP_KEEPCNT: unanswered probes before the reset */
	uint32_t keep_idle_s;     /* TCP_KEEPIDLE */
	uint32_t keep_intvl_s;    /* TCP_KEEPINTVL */
	uint64_t last_rx_us;      /* when the peer last sent us a segment (rcv_tstamp) */
	bool reuseaddr;
	bool reuseport;           /* SO_REUSEPORT, as it was when the port was taken */
	struct tcb *rpnext;       /* next listener of the same port (SO_REUSEPORT group) */
	uint32_t user_timeout_us; /* 0: off */
	uint16_t user_mss;        /* TCP_MAXSEG (Linux rx_opt.user_mss): bounds the MSS
				   * we advertise and the one we send with; 0: none */
	uint8_t tos;              /* IP_TOS of every segment, ECN bits clear */
	/* ECN (RFC 3168, tcp_ecn.c) */
	uint8_t ecn_flags;        /* TCP_ECN_* (tcp_ecn.h) */
	uint8_t ecn_quick;        /* ACKs still sent at once after a CE change */
	uint32_t ecn_high;        /* ECE's cut holds until SEG.ACK passes this */
	uint8_t ttl;              /* IP_TTL of every segment; 0: IPV4_TTL */

	int soft_err;             /* last soft ICMP error: reported if we time out */
	uint32_t retrans;         /* segments retransmitted */

	/* passive open (tcp_listen.c). A listener (state LISTEN) holds its children
	 * not yet accepted: those in SYN_RECEIVED on syn_q (unordered, syn_qlen of
	 * them), those announced by an accept record on acc_q (in record order).
	 * A child names its listener until the app takes its record (or the listener
	 * goes); then it is an ordinary connection. */
	struct tcb *listener;     /* child: the listener it came from, or NULL */
	struct tcb *cnext, *cprev; /* child: links in the listener's syn_q or acc_q */
	bool acc_queued;          /* child: on acc_q (its record is published) */
	uint32_t acc_pos;         /* child: listener's rx_prod where its record starts */
	struct tcb *syn_q;        /* listener: half-open children */
	struct tcb *acc_head, *acc_tail; /* listener: announced, maybe not yet accepted */
	uint32_t syn_qlen;        /* listener: children on syn_q */
	uint32_t backlog;         /* listener: listen()'s backlog, clamped */
	bool synq_overflowed;     /* listener: has sent SYN cookies, last at ... */
	uint64_t synq_overflow_us; /* ... (Linux tcp_synq_overflow()'s stamp) */
};

/* Per-context TCP state (ctx->tcp). */
struct tcp_stack {
	struct tcb **buckets;     /* 4-tuple hash table, chained (tcp_table.c) */
	uint32_t bucket_mask;
	uint32_t min_buckets;     /* the size it started with: it never shrinks below */
	uint32_t n_hashed;        /* tcbs in the table */
	struct tcb **old_buckets; /* during a resize: the array being emptied, or NULL */
	uint32_t old_mask;
	uint32_t migrate_pos;     /* old buckets below this one have moved */
	uint32_t n_tcbs;
	struct tcb *all;          /* every tcb, for dump and fini */
	uint16_t *port_users;     /* [port host order]: tcbs holding the local port */
	uint16_t *port_bound;     /* ... of which got it from bind() */
	uint16_t *port_excl;      /* ... of which hold it without SO_REUSEADDR */
	uint16_t *port_rp;        /* ... of which hold it with SO_REUSEPORT */
	struct tcb **heap;        /* timer min-heap on tcb->deadline */
	uint32_t heap_n, heap_cap;
	uint64_t isn_key[2];      /* RFC 6528 secret */
	uint64_t cookie_key[2][2]; /* SYN cookie secrets (Linux syncookie_secret[2]) */
	bool syncookies;          /* Linux tcp_syncookies = 1 (true) or 0 */
	/* What our SYNs offer and the peer's SYNs may negotiate: the namespace's
	 * net.ipv4.tcp_timestamps, tcp_sack and tcp_window_scaling unless shunt.conf
	 * says otherwise (conf.h); an option turned off is ignored in a received SYN,
	 * as Linux's tcp_parse_options() ignores it. */
	bool ts_on, sack_on, ws_on;
	uint8_t ecn;              /* net.ipv4.tcp_ecn (conf.h): 0, 1 ask and accept, 2 accept */
	bool ecn_fallback;        /* net.ipv4.tcp_ecn_fallback: a resent SYN does not ask */
	uint8_t mtu_probing;      /* net.ipv4.tcp_mtu_probing (conf.h): 0 none, else black
				   * hole detection on RTOs (tcp_pmtu.c) */
	uint32_t rmem_max;        /* the buffer the window scale is chosen for (conf.h) */
	uint8_t cc_default;       /* SHUNT_CC_* of a new socket (conf.h congestion) */
	bool ssai;                /* net.ipv4.tcp_slow_start_after_idle (conf.h) */
	uint64_t rng;             /* xorshift state: bind(port 0)'s search start */
	uint32_t port_perturb[TCP_PORT_PERTURB]; /* RFC 6056 3.3.4 table (tcp_port_connect) */
	struct tcb **listeners;   /* [port host order]: the listener of the port, or NULL */
	bool tw_isn_set;          /* a SYN reuses a TIME_WAIT 4-tuple: the child's ISN is */
	uint32_t tw_isn;          /* ... this one (tcp_in.c time_wait_reuse()) */
	uint32_t challenge_s;     /* tcp_challenge_ack_limit's second, and the */
	uint32_t challenge_left;  /* ... challenge ACKs left in it (tcp_in.c) */
};

/* The states that send data: the connection is open on our side. */
static inline bool tcp_state_sends_data(uint32_t state)
{
	return state == SHUNT_SS_ESTABLISHED || state == SHUNT_SS_CLOSE_WAIT ||
	       state == SHUNT_SS_FIN_WAIT_1 || state == SHUNT_SS_CLOSING ||
	       state == SHUNT_SS_LAST_ACK;
}

/* The ssthresh a loss leaves, as the connection's algorithm says (tcp_cc.c): reno
 * RFC 5681 (4) max(FlightSize / 2, 2 * SMSS), cubic RFC 9438 4.6 cwnd * 0.7. Call
 * it once per loss event: the algorithm notes the event. */
uint32_t tcp_loss_ssthresh(struct tcb *tcb);

/* The one state transition: logs, publishes to the socket, and keeps the port
 * table's SO_REUSEADDR accounting (TIME_WAIT does not block a reusing bind). */
void tcp_set_state(struct dp_ctx *ctx, struct tcb *tcb, uint32_t state);
const char *tcp_state_name(uint32_t state);

/* Refresh the TCP_INFO-style figures in the shared socket. */
/* Refresh the TCP_INFO-style figures in the shared socket. They share a cache line
 * with what the app polls, so per-ACK callers pass force = false and the figures
 * are written at most every TCB_INFO_PERIOD_US; state changes and timers force. */
#define TCB_INFO_PERIOD_US 10000
void tcb_publish_info(const struct dp_ctx *ctx, struct tcb *tcb, bool force);
/* Stage SHUNT_SF_BOUND from port_held (published with the next event). */
void tcb_stage_port(struct tcb *tcb);

/* The connection is over: stop timers, leave the table, free the port; the tcb
 * stays attached (state CLOSED) until the app closes it, or is freed now if the
 * app already did. */
void tcb_close(struct dp_ctx *ctx, struct tcb *tcb);
/* Connection failed or was reset: set error (positive errno, 0 for none) and
 * SHUNT_SF_RESET, then tcb_close(). */
void tcb_reset(struct dp_ctx *ctx, struct tcb *tcb, int err);
/* Give the rings back (dp_sock_pcb_done) and forget the socket. */
void tcb_detach(struct dp_ctx *ctx, struct tcb *tcb);
/* Unlink from all tables and free. */
void tcb_free(struct dp_ctx *ctx, struct tcb *tcb);

#endif /* SHUNT_TCB_H */
