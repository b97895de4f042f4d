/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * shuntd's configuration (conf.h): the key table, one parser per key, the file
 * reader and the command line. DPDK-free: the launcher and the unit tests link it.
 *
 *   conf_from_args() -> conf_defaults()
 *                    -> conf_load_sysctl(): the namespace's net.ipv4.tcp_* as defaults
 *                    -> conf_load_file() -> conf_line() -> conf_set() -> conf_key.set()
 *                    -> conf_set() per --key=value (or --key value)
 *                    -> conf_finish(): required keys, cross-key checks, derived defaults
 *
 * File syntax: one `key = value` per line; blank lines are ignored; `#` at the start of
 * a line or after a blank starts a comment (so `/run/a#b` stays a path). Leading and
 * trailing blanks of keys and values are dropped, CRLF line ends are accepted, the last
 * line needs no newline. There is no quoting: `eal` takes the rest of the line as is.
 * A key may appear once per file and once on the command line; the command line wins.
 *
 * `log` is stored in dp_conf.log_level as a syslog(3) priority:
 *   error = LOG_ERR (3), warn = LOG_WARNING (4), info = LOG_INFO (6), debug = LOG_DEBUG (7)
 * DPDK's RTE_LOG_* levels are these plus one (RTE_LOG_ERR = 4 ... RTE_LOG_DEBUG = 8).
 *
 * Every error is -EINVAL (or -errno when the file cannot be read) with the message in
 * the caller's buffer: "FILE:LINE: key 'k': why", "--k: why" or "FILE: why".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <shunt/ctl.h>

#include "conf.h"

/* Longest file line accepted, newline excluded: room for `eal = ` and a full value. */
#define CONF_LINE_MAX (CONF_EAL_MAX + 64)

#define CONF_LOOPBACK_BE  htonl(0x7f000000u)
#define CONF_LOOPBACK_LEN 8

#define CONF_BUF_MIN 4096u
#define CONF_BUF_MAX (16u << 20)
#define CONF_MBUFS_MIN 1024u
#define CONF_MBUFS_MAX ((1u << 24) - 1)

/* A key's parser: 0, or -EINVAL with `why` filled (the caller adds where and key).
 * It writes *c only on success, so a rejected value leaves the previous one. */
/* A key is parsed by its own function, or (set == NULL) is an unsigned number in
 * [min, max] stored in the unsigned field at off. */
struct conf_key {
	const char *name;
	int (*set)(struct dp_conf *c, const char *v, char *why, size_t whylen);
	const char *help;
	size_t off;
	unsigned long min, max;
	const char *unit; /* words after "a number" in the message, e.g. " of microseconds" */
};


#define CONF_UINT(field, lo, hi, u) \
	NULL, .off = offsetof(struct dp_conf, field), .min = (lo), .max = (hi), .unit = (u)

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t conf_mask_be(unsigned len)
{
	return len == 0 ? 0 : htonl(~0u << (32 - len));
}

/* Decimal unsigned in [min, max]: digits only, no sign, no blanks, no overflow. */
static int conf_parse_uint(const char *s, unsigned long min, unsigned long max,
			   unsigned long *out)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0')
		return -EINVAL;
	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if ((unsigned long)(*p - '0') > max || v > (max - (unsigned long)(*p - '0')) / 10)
			return -ERANGE; /* above max, and stops before overflowing */
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Dotted quad, strictly (inet_pton: four decimal parts, no leading zeros). */
static int conf_parse_ip(const char *s, uint32_t *be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*be = a.s_addr;
	return 0;
}

/* "A.B.C.D/LEN" with LEN in [minlen, 32], or a bare address (/32) when bare_ok. */
static int conf_parse_prefix(const char *s, unsigned minlen, int bare_ok, uint32_t *be,
			     uint8_t *len)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long l = 32;
	size_t n;

	if (slash == NULL) {
		if (!bare_ok)
			return -EINVAL;
		n = strlen(s);
	} else {
		n = (size_t)(slash - s);
		if (conf_parse_uint(slash + 1, minlen, 32, &l) < 0)
			return -EINVAL;
	}
	if (n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (conf_parse_ip(ip, be) < 0)
		return -EINVAL;
	*len = (uint8_t)l;
	return 0;
}

/* Two prefixes overlap iff they agree on the shorter one's bits. */
static int conf_overlap(uint32_t a_be, unsigned alen, uint32_t b_be, unsigned blen)
{
	uint32_t m = conf_mask_be(alen < blen ? alen : blen);

	return ((a_be ^ b_be) & m) == 0;
}

static void conf_fmt_ip(uint32_t be, char *buf)
{
	struct in_addr a = { .s_addr = be };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- one parser per key ------------------------------------------------------------ */

static int conf_set_eal(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (n >= sizeof(c->eal)) {
		conf_err(why, whylen, "value is %zu bytes, at most %zu allowed", n,
			 sizeof(c->eal) - 1);
		return -EINVAL;
	}
	memcpy(c->eal, v, n + 1);
	return 0;
}

static int conf_set_ip(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	uint32_t be;
	uint8_t len;
	uint32_t h;

	if (conf_parse_prefix(v, 1, 0, &be, &len) < 0) {
		conf_err(why, whylen, "'%s' is not an IPv4 address/prefix (A.B.C.D/1..32)", v);
		return -EINVAL;
	}
	h = ntohl(be);
	/* The stack answers ARP for this address and uses it as a source: it must be a
	 * unicast host address, not "this network", loopback or multicast/reserved. */
	if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) >= 0xe) {
		conf_err(why, whylen, "'%s' is not a unicast host address", v);
		return -EINVAL;
	}
	c->ip_be = be;
	c->prefix_len = len;
	c->has_ip = true;
	return 0;
}

/* The prefix check needs `ip`, which may come later or from the command line: it is
 * done in conf_finish(). */
static int conf_set_gateway(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	uint32_t be;

	if (conf_parse_ip(v, &be) < 0 || be == 0) {
		conf_err(why, whylen, "'%s' is not an IPv4 address (A.B.C.D)", v);
		return -EINVAL;
	}
	c->gateway_be = be;
	return 0;
}

static int conf_set_control(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	size_t n = strlen(v);

	if (v[0] != '/') {
		conf_err(why, whylen, "'%s' is not an absolute path", v);
		return -EINVAL;
	}
	if (n >= sizeof(c->control)) {
		conf_err(why, whylen, "path is %zu bytes, a Unix socket path holds at most %zu",
			 n, sizeof(c->control) - 1);
		return -EINVAL;
	}
	memcpy(c->control, v, n + 1);
	return 0;
}

/* Comma-separated CIDRs, blanks around commas allowed, host bits masked off. Nothing
 * that overlaps 127.0.0.0/8 (the kernel owns loopback, the shim never offloads it). */
static int conf_set_offload(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	struct conf_cidr list[CONF_MAX_OFFLOAD];
	char item[64];
	const char *p = v;
	unsigned n = 0;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		uint32_t be;
		uint8_t plen;

		while (len > 0 && isblank((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len > 0 && isblank((unsigned char)p[len - 1]))
			len--;
		if (len == 0) {
			conf_err(why, whylen, "empty entry in '%s'", v);
			return -EINVAL;
		}
		if (n == CONF_MAX_OFFLOAD) {
			conf_err(why, whylen, "more than %d entries", CONF_MAX_OFFLOAD);
			return -EINVAL;
		}
		if (len >= sizeof(item) ||
		    (memcpy(item, p, len), item[len] = '\0',
		     conf_parse_prefix(item, 0, 1, &be, &plen) < 0)) {
			conf_err(why, whylen, "'%.*s' is not an IPv4 CIDR (A.B.C.D/0..32)",
				 (int)(len < 64 ? len : 64), p);
			return -EINVAL;
		}
		if (conf_overlap(be, plen, CONF_LOOPBACK_BE, CONF_LOOPBACK_LEN)) {
			conf_err(why, whylen, "'%s' overlaps loopback 127.0.0.0/8", item);
			return -EINVAL;
		}
		list[n].mask_be = conf_mask_be(plen);
		list[n].addr_be = be & list[n].mask_be;
		list[n].len = plen;
		n++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	memcpy(c->offload, list, n * sizeof(list[0]));
	c->n_offload = n;
	c->offload_set = true;
	return 0;
}

static int conf_set_idle(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "poll") == 0) {
		c->idle = CONF_IDLE_POLL;
	} else if (strcmp(v, "adaptive") == 0) {
		c->idle = CONF_IDLE_ADAPTIVE;
	} else {
		conf_err(why, whylen, "'%s' is not one of poll, adaptive", v);
		return -EINVAL;
	}
	return 0;
}

/* SHUNT_CC_* of an algorithm's name, SHUNT_CC_NONE if shunt has none. */
static unsigned conf_cc_find(const char *v)
{
	static const char *const names[SHUNT_CC_MAX] = SHUNT_CC_NAMES;
	unsigned i;

	for (i = 0; i < SHUNT_CC_MAX; i++)
		if (names[i] != NULL && strcmp(v, names[i]) == 0)
			return i;
	return SHUNT_CC_NONE;
}

static int conf_set_congestion(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	unsigned cc = conf_cc_find(v);

	if (cc == SHUNT_CC_NONE) {
		conf_err(why, whylen, "'%s' is not one of cubic, reno", v);
		return -EINVAL;
	}
	c->congestion = cc;
	return 0;
}

static int conf_set_port_range(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	const char *dash = strchr(v, '-');
	unsigned long lo, hi;
	char buf[16];
	size_t n;

	if (dash == NULL || (n = (size_t)(dash - v)) >= sizeof(buf))
		goto bad;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (conf_parse_uint(buf, 1, 65535, &lo) < 0 || conf_parse_uint(dash + 1, 1, 65535, &hi) < 0)
		goto bad;
	if (lo > hi) {
		conf_err(why, whylen, "'%s': low port above high port", v);
		return -EINVAL;
	}
	c->eph_lo = (uint16_t)lo;
	c->eph_hi = (uint16_t)hi;
	return 0;
bad:
	conf_err(why, whylen, "'%s' is not a port range LO-HI within 1..65535", v);
	return -EINVAL;
}

/* A ring size in bytes: a power of two in 4096..16 MiB, plain or with a K/M suffix. */
static int conf_parse_buf(const char *v, unsigned *out, char *why, size_t whylen)
{
	char num[16];
	size_t n = strlen(v);
	unsigned long x, mul = 1;

	if (n > 0 && (v[n - 1] == 'K' || v[n - 1] == 'k')) {
		mul = 1024;
		n--;
	} else if (n > 0 && (v[n - 1] == 'M' || v[n - 1] == 'm')) {
		mul = 1024 * 1024;
		n--;
	}
	if (n >= sizeof(num))
		goto bad;
	memcpy(num, v, n);
	num[n] = '\0';
	if (conf_parse_uint(num, 1, CONF_BUF_MAX / mul, &x) < 0)
		goto bad;
	x *= mul;
	if (x < CONF_BUF_MIN || (x & (x - 1)) != 0)
		goto bad;
	*out = (unsigned)x;
	return 0;
bad:
	conf_err(why, whylen, "'%s' is not a power of two in 4096..16777216 (16M)", v);
	return -EINVAL;
}

static int conf_set_rx_buf(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	return conf_parse_buf(v, &c->rx_buf, why, whylen);
}

static int conf_set_tx_buf(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	return conf_parse_buf(v, &c->tx_buf, why, whylen);
}

static int conf_set_log(struct dp_conf *c, const char *v, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", LOG_ERR }, { "warn", LOG_WARNING },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(v, levels[i].name) == 0) {
			c->log_level = levels[i].level;
			return 0;
		}
	}
	conf_err(why, whylen, "'%s' is not one of error, warn, info, debug", v);
	return -EINVAL;
}

static int conf_set_uint(struct dp_conf *c, const struct conf_key *k, const char *v, char *why,
			 size_t whylen)
{
	unsigned long x;

	if (conf_parse_uint(v, k->min, k->max, &x) < 0) {
		conf_err(why, whylen, "'%s' is not a number%s in %lu..%lu", v, k->unit, k->min,
			 k->max);
		return -EINVAL;
	}
	*(unsigned *)((char *)c + k->off) = (unsigned)x;
	return 0;
}

static const struct conf_key conf_keys[] = {
	{ "eal", conf_set_eal, "EAL arguments, split on blanks" },
	{ "ip", conf_set_ip, "A.B.C.D/LEN, the stack's address (required)" },
	{ "gateway", conf_set_gateway, "A.B.C.D inside the ip prefix" },
	{ "control", conf_set_control, "control socket path (" SHUNT_CTL_DEFAULT_PATH ")" },
	{ "offload", conf_set_offload, "CIDR[,CIDR...] to offload (the ip prefix)" },
	/* Linux caps net.ipv4.tcp_syn_retries at 127 (MAX_TCP_SYNCNT) */
	{ "syn_retries", CONF_UINT(syn_retries, 0, 127, ""),
	  .help = "0..127 (net.ipv4.tcp_syn_retries)" },
	{ "timestamps", CONF_UINT(timestamps, 0, 2, ""),
	  .help = "0..2, RFC 7323 timestamps (net.ipv4.tcp_timestamps)" },
	{ "sack", CONF_UINT(sack, 0, 1, ""), .help = "0..1, SACK (net.ipv4.tcp_sack)" },
	{ "window_scaling", CONF_UINT(window_scaling, 0, 1, ""),
	  .help = "0..1, window scaling (net.ipv4.tcp_window_scaling)" },
	{ "mtu_probing", CONF_UINT(mtu_probing, 0, 2, ""),
	  .help = "0..2, black hole detection (net.ipv4.tcp_mtu_probing)" },
	{ "congestion", conf_set_congestion,
	  "cubic|reno, a new socket's (net.ipv4.tcp_congestion_control)" },
	{ "slow_start_after_idle", CONF_UINT(slow_start_after_idle, 0, 1, ""),
	  .help = "0..1, restart window after idle (net.ipv4.tcp_slow_start_after_idle)" },
	{ "ecn", CONF_UINT(ecn, 0, 2, ""),
	  .help = "0..2, ECN: 0 off, 1 ask and accept, 2 accept (net.ipv4.tcp_ecn)" },
	{ "ecn_fallback", CONF_UINT(ecn_fallback, 0, 1, ""),
	  .help = "0..1, a resent SYN does not ask for ECN (net.ipv4.tcp_ecn_fallback)" },
	{ "rmem_max", CONF_UINT(rmem_max, CONF_BUF_MIN, INT_MAX, " of bytes"),
	  .help = "buffer the window scale is chosen for (max(tcp_rmem[2], rmem_max))" },
	{ "invalid_ratelimit", CONF_UINT(invalid_ratelimit, 0, INT_MAX, " of milliseconds"),
	  .help = "ms between out-of-window answers (net.ipv4.tcp_invalid_ratelimit)" },
	{ "challenge_ack_limit", CONF_UINT(challenge_ack_limit, 0, INT_MAX, ""),
	  .help = "challenge ACKs/s (net.ipv4.tcp_challenge_ack_limit)" },
	{ "time_wait_ms", CONF_UINT(time_wait_ms, 100, 600000, " of milliseconds"),
	  .help = "100..600000, how long TIME_WAIT lasts (60000)" },
	{ "idle", conf_set_idle, "poll|adaptive (adaptive)" },
	{ "idle_spin_us", CONF_UINT(idle_spin_us, 0, 1000000, " of microseconds"),
	  .help = "0..1000000 (200)" },
	{ "port_range", conf_set_port_range, "LO-HI ephemeral ports (32768-60999)" },
	{ "max_sockets", CONF_UINT(max_sockets, 1, 65536, ""), .help = "1..65536 per process (65536)" },
	{ "rx_buf", conf_set_rx_buf, "power of two 4096..16M (262144)" },
	{ "tx_buf", conf_set_tx_buf, "power of two 4096..16M (262144)" },
	{ "mbufs", CONF_UINT(mbufs, CONF_MBUFS_MIN, CONF_MBUFS_MAX, ""), .help = ">= 1024 (8191)" },
	{ "syn_rate", CONF_UINT(syn_rate, 0, 10000000, " of SYNs per second"),
	  .help = "0..10000000, SYNs/s a tap passes to shuntd, 0 = all (20000)" },
	{ "app_mem", CONF_UINT(app_mem, 0, 1048576, " of MiB"),
	  .help = "0..1048576 MiB per process, 0 = no bound (1024)" },
	{ "log", conf_set_log, "error|warn|info|debug (info)" },
};
#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))
_Static_assert(CONF_NKEYS <= 64, "seen-key bitmasks are 64 bits");

/* Index of key, or -1. */
static int conf_key_find(const char *key)
{
	size_t i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			return (int)i;
	return -1;
}

void conf_defaults(struct dp_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->control, sizeof(c->control), "%s", SHUNT_CTL_DEFAULT_PATH);
	/* Linux's own defaults, for a namespace whose sysctls cannot be read */
	c->syn_retries = 6;
	c->timestamps = 1;
	c->sack = 1;
	c->window_scaling = 1;
	c->ecn = 2;          /* Linux's defaults */
	c->ecn_fallback = 1;
	c->rmem_max = 6291456; /* tcp_rmem[2] on a machine with memory to spare */
	c->congestion = SHUNT_CC_CUBIC;
	c->slow_start_after_idle = 1;
	c->invalid_ratelimit = 500;
	c->challenge_ack_limit = INT_MAX; /* Linux >= 6.0: no host-wide limit */
	c->time_wait_ms = 60000;
	c->idle = CONF_IDLE_ADAPTIVE;
	c->idle_spin_us = 200;
	c->eph_lo = 32768;
	c->eph_hi = 60999;
	c->max_sockets = 65536;
	c->rx_buf = 262144;
	c->tx_buf = 262144;
	c->mbufs = 8191;
	c->syn_rate = 20000;
	c->app_mem = 1024;
	c->log_level = LOG_INFO;
}

/* A `where` naming a command-line option already names the key. */
int conf_set(struct dp_conf *c, const char *key, const char *value, const char *where,
	     char *err, size_t errlen)
{
	char why[256];
	int k = conf_key_find(key);

	if (k < 0) {
		if (strncmp(where, "--", 2) == 0)
			conf_err(err, errlen, "%s: unknown option", where);
		else
			conf_err(err, errlen, "%s: unknown key '%s'", where, key);
		return -EINVAL;
	}
	if ((conf_keys[k].set != NULL ? conf_keys[k].set(c, value, why, sizeof(why)) :
	     conf_set_uint(c, &conf_keys[k], value, why, sizeof(why))) < 0) {
		if (strncmp(where, "--", 2) == 0)
			conf_err(err, errlen, "%s: %s", where, why);
		else
			conf_err(err, errlen, "%s: key '%s': %s", where, key, why);
		return -EINVAL;
	}
	return 0;
}

/* ---- the file ------------------------------------------------------------------------ */

static char *conf_trim(char *s)
{
	char *e;

	while (isblank((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isblank((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* One line (no newline, no NUL inside). *seen tracks the keys this file has set. */
static int conf_line(struct dp_conf *c, char *line, const char *where, uint64_t *seen,
		     char *err, size_t errlen)
{
	char *p, *eq, *key, *value;
	int k;

	/* Comment: '#' at the start or after a blank runs to the end of the line. */
	for (p = line; *p != '\0'; p++) {
		if (*p == '#' && (p == line || isblank((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	key = conf_trim(line);
	if (*key == '\0')
		return 0;
	eq = strchr(key, '=');
	if (eq == NULL) {
		conf_err(err, errlen, "%s: expected 'key = value', got '%.64s'", where, key);
		return -EINVAL;
	}
	*eq = '\0';
	value = conf_trim(eq + 1);
	key = conf_trim(key);
	if (*key == '\0') {
		conf_err(err, errlen, "%s: missing key before '='", where);
		return -EINVAL;
	}
	k = conf_key_find(key);
	if (k >= 0 && (*seen & (UINT64_C(1) << k))) {
		conf_err(err, errlen, "%s: key '%s': set twice in this file", where, key);
		return -EINVAL;
	}
	if (conf_set(c, key, value, where, err, errlen) < 0)
		return -EINVAL;
	*seen |= UINT64_C(1) << k;
	return 0;
}

/* Reads byte by byte so that a NUL, an overlong line or a file without a final newline
 * are each seen where they happen; config files are small. */
int conf_load_file(struct dp_conf *c, const char *path, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 1];
	char where[PATH_MAX + 16];
	uint64_t seen = 0;
	unsigned lineno = 1;
	size_t n = 0;
	int toolong = 0;
	int rc = 0;
	FILE *f;
	int ch;

	f = fopen(path, "re");
	if (f == NULL) {
		rc = -errno;
		conf_err(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		ch = getc(f);
		if (ch == EOF && ferror(f)) {
			rc = -errno;
			conf_err(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (ch == EOF && n == 0 && !toolong)
			break;
		if (ch == '\0') {
			conf_err(err, errlen, "%s:%u: NUL byte in line", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		if (ch != EOF && ch != '\n') {
			if (n < CONF_LINE_MAX)
				line[n++] = (char)ch;
			else
				toolong = 1;
			continue;
		}
		if (toolong) {
			conf_err(err, errlen, "%s:%u: line too long (more than %d bytes)", path,
				 lineno, CONF_LINE_MAX);
			rc = -EINVAL;
			goto out;
		}
		if (n > 0 && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		rc = conf_line(c, line, where, &seen, err, errlen);
		if (rc < 0)
			goto out;
		if (ch == EOF)
			break;
		n = 0;
		lineno++;
	}
out:
	fclose(f);
	return rc;
}

/* ---- the namespace's sysctls ------------------------------------------------------- */

/* The text of file root/name (its path in path), NUL-terminated; false if it
 * cannot be read. */
static bool conf_sysctl_text(const char *root, const char *name, char path[PATH_MAX],
			     char *buf, size_t size)
{
	size_t len;
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", root, name);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	len = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[len] = '\0';
	return true;
}

/* The n unsigned numbers of file root/name (blank-separated, as /proc/sys writes
 * vectors). 1 when read, 0 when the file cannot be read, -EINVAL (err set) when it
 * holds anything else. */
static int conf_sysctl_read(const char *root, const char *name, unsigned long *v, unsigned n,
			    char *err, size_t errlen)
{
	char path[PATH_MAX], buf[128], *save = NULL, *w;
	unsigned i = 0;

	if (!conf_sysctl_text(root, name, path, buf, sizeof(buf)))
		return 0;
	for (w = strtok_r(buf, " \t\n", &save); w != NULL; w = strtok_r(NULL, " \t\n", &save))
		if (i == n || conf_parse_uint(w, 0, UINT_MAX, &v[i++]) < 0)
			break;
	if (w != NULL || i != n) {
		conf_err(err, errlen, "%s: not %u unsigned number%s, as Linux writes it", path, n,
			 n > 1 ? "s" : "");
		return -EINVAL;
	}
	return 1;
}

/* net.ipv4.tcp_congestion_control: a name. One shunt lacks (bbr, a module)
 * leaves the default, cubic, as Linux falls back when it cannot load one. */
static int conf_sysctl_cc(struct dp_conf *c, const char *root)
{
	char path[PATH_MAX], buf[SHUNT_CC_NAME_MAX + 2];
	unsigned cc;

	if (!conf_sysctl_text(root, "ipv4/tcp_congestion_control", path, buf, sizeof(buf)))
		return 0;
	buf[strcspn(buf, " \t\n")] = '\0';
	cc = conf_cc_find(buf);
	if (cc != SHUNT_CC_NONE)
		c->congestion = cc;
	return 0;
}

int conf_load_sysctl(struct dp_conf *c, const char *root, char *err, size_t errlen)
{
	unsigned long v[3], rmem;
	int rc;

	/* RFC 5961's and Linux's ACK throttling (tcp_in.c) */
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_invalid_ratelimit", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->invalid_ratelimit = v[0] > INT_MAX ? INT_MAX : (unsigned)v[0];
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_challenge_ack_limit", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->challenge_ack_limit = v[0] > INT_MAX ? INT_MAX : (unsigned)v[0];
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_syn_retries", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->syn_retries = v[0] > 127 ? 127 : (unsigned)v[0];
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_timestamps", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->timestamps = v[0] > 2 ? 1 : (unsigned)v[0];
	/* Linux tests these two for non-zero only */
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_sack", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->sack = v[0] != 0;
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_window_scaling", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->window_scaling = v[0] != 0;
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_mtu_probing", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->mtu_probing = v[0] > 2 ? 2 : (unsigned)v[0];
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_slow_start_after_idle", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->slow_start_after_idle = v[0] != 0;
	if ((rc = conf_sysctl_cc(c, root)) < 0)
		return rc;
	/* values above 2 (AccECN in newer kernels) are taken as 2: accept RFC 3168
	 * ECN, never ask for it */
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_ecn", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->ecn = v[0] > 2 ? 2 : (unsigned)v[0];
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_ecn_fallback", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0)
		c->ecn_fallback = v[0] != 0;
	/* Linux tcp_select_initial_window(): the scale is chosen for
	 * max(tcp_rmem[2], rmem_max), what the socket may grow to by autotuning or
	 * SO_RCVBUF. tcp_rmem's default and tcp_wmem are not rx_buf and tx_buf: a ring
	 * has one size for its life, where Linux's buffers move between min and max. */
	if ((rc = conf_sysctl_read(root, "ipv4/tcp_rmem", v, 3, err, errlen)) < 0)
		return rc;
	rmem = rc > 0 ? v[2] : c->rmem_max;
	if ((rc = conf_sysctl_read(root, "core/rmem_max", v, 1, err, errlen)) < 0)
		return rc;
	if (rc > 0 && v[0] > rmem)
		rmem = v[0];
	c->rmem_max = rmem > INT_MAX ? INT_MAX : rmem < CONF_BUF_MIN ? CONF_BUF_MIN :
		      (unsigned)rmem;
	return 0;
}

/* ---- checks across keys ------------------------------------------------------------ */

int conf_finish(struct dp_conf *c, char *err, size_t errlen)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	uint32_t mask;

	if (!c->has_ip) {
		conf_err(err, errlen, "missing required key 'ip' (the stack's A.B.C.D/LEN)");
		return -EINVAL;
	}
	mask = conf_mask_be(c->prefix_len);
	if (c->gateway_be != 0 &&
	    ((c->gateway_be & mask) != (c->ip_be & mask) || c->gateway_be == c->ip_be)) {
		conf_fmt_ip(c->gateway_be, a);
		conf_fmt_ip(c->ip_be & mask, b);
		conf_err(err, errlen, "key 'gateway': %s is not another host in ip's prefix %s/%u",
			 a, b, c->prefix_len);
		return -EINVAL;
	}
	if (!c->offload_set) {
		if (conf_overlap(c->ip_be, c->prefix_len, CONF_LOOPBACK_BE, CONF_LOOPBACK_LEN)) {
			conf_fmt_ip(c->ip_be & mask, b);
			conf_err(err, errlen, "key 'offload': not set, and the default "
				 "(ip's prefix %s/%u) overlaps loopback 127.0.0.0/8",
				 b, c->prefix_len);
			return -EINVAL;
		}
		c->offload[0].addr_be = c->ip_be & mask;
		c->offload[0].mask_be = mask;
		c->offload[0].len = c->prefix_len;
		c->n_offload = 1;
	}
	return 0;
}

/* ---- the command line -------------------------------------------------------------- */

static void conf_usage(char *err, size_t errlen)
{
	size_t off, i;

	conf_err(err, errlen, "usage: shuntd [-c FILE] [--KEY=VALUE ...]; keys:");
	for (i = 0; i < CONF_NKEYS && err != NULL; i++) {
		off = strlen(err);
		if (off + 1 >= errlen)
			break;
		conf_err(err + off, errlen - off, "\n  --%s=  %s", conf_keys[i].name,
			 conf_keys[i].help);
	}
}

/* Two passes: the file first wherever -c is, so every --key=value overrides it.
 * `--help` also returns -EINVAL, with the usage as the message. */
int conf_from_args(struct dp_conf *c, int argc, char **argv, char *err, size_t errlen)
{
	const char *file = NULL;
	uint64_t seen = 0;
	int i, rc;

	conf_defaults(c);
	if (conf_load_sysctl(c, CONF_SYSCTL_ROOT, err, errlen) < 0)
		return -EINVAL;
	for (i = 1; i < argc; i++) {
		/* Skip the value word of `--key value`, which may well be "-c". */
		if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') == NULL &&
		    conf_key_find(argv[i] + 2) >= 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "-c") == 0) {
			if (file != NULL) {
				conf_err(err, errlen, "-c: given twice");
				return -EINVAL;
			}
			if (i + 1 >= argc) {
				conf_err(err, errlen, "-c: missing FILE");
				return -EINVAL;
			}
			file = argv[++i];
		}
	}
	if (file != NULL) {
		rc = conf_load_file(c, file, err, errlen);
		if (rc < 0)
			return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		char opt[64];
		const char *arg = argv[i], *value, *eq;
		size_t klen;
		int k;

		if (strcmp(arg, "-c") == 0) {
			i++;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			conf_usage(err, errlen);
			return -EINVAL;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0' || arg[2] == '=') {
			conf_err(err, errlen, "unexpected argument '%s' (try --help)", arg);
			return -EINVAL;
		}
		eq = strchr(arg, '=');
		klen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		if (klen >= sizeof(opt)) {
			conf_err(err, errlen, "unknown option '%.64s'", arg);
			return -EINVAL;
		}
		memcpy(opt, arg, klen);
		opt[klen] = '\0';
		k = conf_key_find(opt + 2);
		if (k < 0) {
			conf_err(err, errlen, "%s: unknown option (try --help)", opt);
			return -EINVAL;
		}
		if (seen & (UINT64_C(1) << k)) {
			conf_err(err, errlen, "%s: given twice", opt);
			return -EINVAL;
		}
		if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i]; /* `--key value` */
		} else {
			conf_err(err, errlen, "%s: missing value", opt);
			return -EINVAL;
		}
		if (conf_set(c, opt + 2, value, opt, err, errlen) < 0)
			return -EINVAL;
		seen |= UINT64_C(1) << k;
	}
	return conf_finish(c, err, errlen);
}
