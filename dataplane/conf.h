/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * shuntd's configuration: `key = value` lines in a file (conf/shunt.conf documents
 * every key) and `--key=value` on the command line, which wins. The TCP keys Linux
 * has as net.ipv4 sysctls start from the values of the network namespace shuntd
 * runs in, as a kernel socket there would; the file and the command line override
 * them. Parsing is DPDK-free so the launcher and the unit tests link it alone.
 *
 *   conf_defaults() -> conf_load_sysctl() -> conf_load_file() -> conf_set() per
 *   --key=value -> conf_finish()
 *
 * Errors are reported into a caller buffer as "FILE:LINE: key 'x': why" (or
 * "--x: why" for the command line) and returned as -EINVAL.
 */
#ifndef SHUNT_CONF_H
#define SHUNT_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_OFFLOAD 16
#define CONF_PATH_MAX 108 /* sizeof(sun_path) */
#define CONF_EAL_MAX 1024

enum conf_idle {
	CONF_IDLE_POLL,     /* spin always */
	CONF_IDLE_ADAPTIVE, /* sleep when idle until a packet, doorbell or timer */
};

struct conf_cidr {
	uint32_t addr_be; /* masked */
	uint32_t mask_be;
	uint8_t len;
};

struct dp_conf {
	char eal[CONF_EAL_MAX];   /* `eal`: EAL arguments, split on blanks */
	uint32_t ip_be;           /* `ip`: address/prefix (required) */
	uint8_t prefix_len;
	bool has_ip;
	uint32_t gateway_be;      /* `gateway`: 0 when none */
	char control[CONF_PATH_MAX]; /* `control`: control socket path */
	struct conf_cidr offload[CONF_MAX_OFFLOAD]; /* `offload`: default the stack's prefix */
	unsigned n_offload;
	bool offload_set;
	unsigned syn_retries;     /* `syn_retries`: default net.ipv4.tcp_syn_retries (6) */
	unsigned timestamps;      /* `timestamps`: RFC 7323 timestamps offered and
				   * accepted in SYNs, 0..2, default net.ipv4.tcp_timestamps (1);
				   * 2 (Linux: no random offset) is as 1 */
	unsigned sack;            /* `sack`: SACK-permitted offered and accepted, 0..1,
				   * default net.ipv4.tcp_sack (1) */
	unsigned window_scaling;  /* `window_scaling`: window scale offered and accepted,
				   * 0..1, default net.ipv4.tcp_window_scaling (1) */
	unsigned mtu_probing;     /* `mtu_probing`: 0 no black hole detection, 1 on
				   * repeated RTOs (2, Linux's probing from the start, is
				   * as 1), default net.ipv4.tcp_mtu_probing (0) */
	unsigned congestion;      /* `congestion`: SHUNT_CC_* a new TCP socket starts
				   * with, default net.ipv4.tcp_congestion_control (cubic;
				   * a name shunt lacks leaves cubic) */
	unsigned slow_start_after_idle; /* `slow_start_after_idle`: 0..1, default
				   * net.ipv4.tcp_slow_start_after_idle (1) */
	unsigned ecn;             /* `ecn`: RFC 3168 ECN, 0 off, 1 asked for in our SYNs
				   * and accepted, 2 accepted when the peer asks, default
				   * net.ipv4.tcp_ecn (2) */
	unsigned ecn_fallback;    /* `ecn_fallback`: a retransmitted SYN does not ask
				   * for ECN, 0..1, default net.ipv4.tcp_ecn_fallback (1) */
	unsigned rmem_max;        /* `rmem_max`: the receive buffer the window scale is
				   * chosen for, default max(net.ipv4.tcp_rmem[2],
				   * net.core.rmem_max) (6291456: scale 7) */
	unsigned invalid_ratelimit; /* `invalid_ratelimit`: ms between two answers of a
				   * connection to out-of-window segments or challenges,
				   * default net.ipv4.tcp_invalid_ratelimit (500) */
	unsigned challenge_ack_limit; /* `challenge_ack_limit`: challenge ACKs per second
				   * for all connections, INT_MAX none, default
				   * net.ipv4.tcp_challenge_ack_limit (INT_MAX) */
	unsigned time_wait_ms;    /* `time_wait_ms`: how long TIME_WAIT lasts, default
				   * 60000 (Linux's TCP_TIMEWAIT_LEN) */
	enum conf_idle idle;      /* `idle`: poll | adaptive (default adaptive) */
	unsigned idle_spin_us;    /* `idle_spin_us`: busy time before sleeping, default 200 */
	uint16_t eph_lo, eph_hi;  /* `port_range`: ephemeral ports, default 32768-60999 */
	unsigned max_sockets;     /* `max_sockets`: socket slots per process, default 65536
				   * (the region is sparse: unused slots cost address space only) */
	unsigned rx_buf;          /* `rx_buf`: receive ring bytes per socket, power of two, default 262144 */
	unsigned tx_buf;          /* `tx_buf`: send ring bytes per socket, power of two, default 262144 */
	unsigned mbufs;           /* `mbufs`: mempool size, default 8191 */
	unsigned syn_rate;        /* `syn_rate`: SYNs per second a net_tap port lets
				   * through to shuntd (core/syn_guard.c), a second's
				   * worth in a burst; 0: no guard; default 20000 */
	unsigned app_mem;         /* `app_mem`: MiB of data one process's sockets may hold
				   * in their rings; 0: no bound; default 1024 */
	int log_level;            /* `log`: error|warn|info|debug, default info */
};

/* Where conf_from_args() reads the namespace's sysctls. */
#define CONF_SYSCTL_ROOT "/proc/sys/net"

void conf_defaults(struct dp_conf *c);
/* The namespace's TCP sysctls under root ("/proc/sys/net") as defaults: ipv4/
 * tcp_syn_retries, tcp_timestamps, tcp_sack, tcp_window_scaling, tcp_mtu_probing,
 * tcp_slow_start_after_idle, tcp_congestion_control, tcp_ecn, tcp_ecn_fallback,
 * tcp_rmem and core/rmem_max. A file that cannot be read leaves the built-in default (no /proc,
 * an older kernel); -EINVAL when one holds what Linux never writes (err says which). */
int conf_load_sysctl(struct dp_conf *c, const char *root, char *err, size_t errlen);
/* Load FILE; -ENOENT/-errno if unreadable, -EINVAL on a bad line (err says which). */
int conf_load_file(struct dp_conf *c, const char *path, char *err, size_t errlen);
/* Set one key; `where` prefixes messages ("shunt.conf:12" or "--ip"). */
int conf_set(struct dp_conf *c, const char *key, const char *value, const char *where,
	     char *err, size_t errlen);
/* Check required keys and fill derived defaults (offload = the stack's prefix). */
int conf_finish(struct dp_conf *c, char *err, size_t errlen);

/* Command line: `[-c FILE] [--KEY=VALUE ...]`. Loads the file (if any) first, then
 * the --key=value pairs, then conf_finish(). Returns 0, or -EINVAL with err set. */
int conf_from_args(struct dp_conf *c, int argc, char **argv, char *err, size_t errlen);

#endif /* SHUNT_CONF_H */
