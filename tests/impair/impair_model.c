/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * impair_model: the per-direction decisions of the impairment tool (see the header
 * for the order of the stages). Pure: time comes in as an argument.
 */
#include "impair_model.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_PER_S 1000000000ull

double impair_uniform(struct impair_dir *d)
{
	/* xorshift64* (Vigna): plenty for loss decisions, and reproducible per seed */
	d->rng ^= d->rng >> 12;
	d->rng ^= d->rng << 25;
	d->rng ^= d->rng >> 27;
	return (double)((d->rng * 0x2545F4914F6CDD1Dull) >> 11) / (double)(1ull << 53);
}

void impair_dir_init(struct impair_dir *d, const struct impair_spec *s, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->spec = *s;
	/* splitmix64 of the seed, so that seeds 1, 2, 3 give unrelated streams */
	uint64_t z = seed + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	d->rng = (z ^ (z >> 31)) | 1;
}

void impair_decide(struct impair_dir *d, uint64_t now_ns, uint32_t len,
		   struct impair_decision *out)
{
	const struct impair_spec *s = &d->spec;
	uint64_t t = now_ns;

	memset(out, 0, sizeof(*out));
	if (s->loss > 0 && impair_uniform(d) < s->loss) {
		out->fate = IMPAIR_DROP_LOSS;
		return;
	}
	if (s->burst_p > 0) {
		/* Simple Gilbert model: every packet in the bad state is lost. The state
		 * moves first, so a burst's first packet is already lost. */
		double u = impair_uniform(d);
		d->burst_bad = d->burst_bad ? !(u < s->burst_r) : (u < s->burst_p);
		if (d->burst_bad) {
			out->fate = IMPAIR_DROP_BURST;
			return;
		}
	}
	if (s->rate_bps) {
		/* A link of rate_bps with a FIFO of buffer_bytes in front: a packet starts
		 * when the link is free and leaves once its bits are serialised. */
		uint64_t start = d->link_free_ns > now_ns ? d->link_free_ns : now_ns;
		uint64_t backlog = (uint64_t)((double)(start - now_ns) * s->rate_bps / 8 / NS_PER_S);
		if (backlog + len > s->buffer_bytes) {
			out->fate = IMPAIR_DROP_BUFFER;
			return;
		}
		d->link_free_ns = start + (uint64_t)((double)len * 8 * NS_PER_S / s->rate_bps);
		t = d->link_free_ns;
	}
	t += s->delay_ns;
	if (s->jitter_ns) {
		double j = (impair_uniform(d) * 2 - 1) * (double)s->jitter_ns;
		t = (j < 0 && (uint64_t)-j > t - now_ns) ? now_ns : (uint64_t)((double)t + j);
	}
	if (t < d->last_release_ns)
		t = d->last_release_ns; /* FIFO: jitter alone never reorders */
	d->last_release_ns = t;
	out->release_ns = t;
	out->reorder = s->reorder > 0 && impair_uniform(d) < s->reorder;
	out->dup = s->dup > 0 && impair_uniform(d) < s->dup;
}

/* ------------------------------------------------------------------ parsing */

static int parse_pct(const char *v, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || (*end && strcmp(end, "%")) || x < 0 || x > 100)
		return -1;
	*out = x / 100;
	return 0;
}

struct unit {
	const char *suffix;      /* "" is the unit of a bare number */
	double mul;
};

static const struct unit time_units[] = { { "", 1e6 }, { "ms", 1e6 }, { "us", 1e3 },
					  { "s", 1e9 }, { NULL, 0 } };
static const struct unit rate_units[] = { { "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 },
					  { "gbit", 1e9 }, { NULL, 0 } };

/* A non-negative number with one of the units' suffixes (case-insensitive). */
static int parse_scaled(const char *v, const struct unit *units, uint64_t *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (errno || end == v || x < 0)
		return -1;
	for (const struct unit *u = units; u->suffix; u++)
		if (!strcasecmp(end, u->suffix)) {
			*out = (uint64_t)(x * u->mul);
			return 0;
		}
	return -1;
}

static int parse_time(const char *v, uint64_t *out)
{
	return parse_scaled(v, time_units, out);
}

static int parse_rate(const char *v, uint64_t *out)
{
	return parse_scaled(v, rate_units, out) || !*out ? -1 : 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-')
		return -1;
	*out = x;
	return 0;
}

/* burst=PCT/LEN: stationary P(bad) = p / (p + r) = PCT and mean burst 1/r = LEN */
static int parse_burst(const char *v, struct impair_spec *s)
{
	char pct[64];
	const char *slash = strchr(v, '/');
	double loss;
	uint64_t len;
	if (!slash || (size_t)(slash - v) >= sizeof(pct))
		return -1;
	memcpy(pct, v, (size_t)(slash - v));
	pct[slash - v] = 0;
	if (parse_pct(pct, &loss) || parse_u64(slash + 1, &len) || len < 1 || loss >= 1)
		return -1;
	s->burst_r = 1.0 / (double)len;
	s->burst_p = loss * s->burst_r / (1 - loss);
	return 0;
}

enum key_kind { KEY_PCT, KEY_TIME, KEY_RATE, KEY_BURST, KEY_BUFFER, KEY_LIMIT };

struct key {
	const char *name;
	enum key_kind kind;
	size_t offset;           /* of the field in struct impair_spec */
};

static const struct key keys[] = {
	{ "loss", KEY_PCT, offsetof(struct impair_spec, loss) },
	{ "burst", KEY_BURST, 0 },
	{ "delay", KEY_TIME, offsetof(struct impair_spec, delay_ns) },
	{ "jitter", KEY_TIME, offsetof(struct impair_spec, jitter_ns) },
	{ "reorder", KEY_PCT, offsetof(struct impair_spec, reorder) },
	{ "reorder_max", KEY_TIME, offsetof(struct impair_spec, reorder_max_ns) },
	{ "dup", KEY_PCT, offsetof(struct impair_spec, dup) },
	{ "rate", KEY_RATE, offsetof(struct impair_spec, rate_bps) },
	{ "buffer", KEY_BUFFER, 0 },
	{ "limit", KEY_LIMIT, 0 },
	{ NULL, 0, 0 },
};

int impair_spec_parse(const char *text, struct impair_spec *s, char *err, size_t errlen)
{
	char buf[1024];
	char *save = NULL;

	memset(s, 0, sizeof(*s));
	s->reorder_max_ns = 10 * 1000000ull;
	s->buffer_bytes = 1500 * 1000;   /* about 1,000 full-size packets */
	s->limit = 50000;
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "spec too long");
		return -1;
	}
	strcpy(buf, text);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		uint64_t n;
		int bad;
		if (!v) {
			snprintf(err, errlen, "'%s': expected key=value", kv);
			return -1;
		}
		*v++ = 0;
		const struct key *k = keys;
		while (k->name && strcmp(k->name, kv))
			k++;
		if (!k->name) {
			snprintf(err, errlen, "unknown key '%s' (loss burst delay jitter reorder "
				 "reorder_max dup rate buffer limit)", kv);
			return -1;
		}
		void *field = (char *)s + k->offset;
		switch (k->kind) {
		case KEY_PCT:
			bad = parse_pct(v, field);
			break;
		case KEY_TIME:
			bad = parse_time(v, field);
			break;
		case KEY_RATE:
			bad = parse_rate(v, field);
			break;
		case KEY_BURST:
			bad = parse_burst(v, s);
			break;
		case KEY_BUFFER:
			bad = parse_u64(v, &s->buffer_bytes) || s->buffer_bytes < 1500;
			break;
		case KEY_LIMIT:
			bad = parse_u64(v, &n) || n < 1 || n > (1u << 20);
			s->limit = (uint32_t)n;
			break;
		}
		if (bad) {
			snprintf(err, errlen, "bad value for %s: '%s'", kv, v);
			return -1;
		}
	}
	if (s->jitter_ns > s->delay_ns) {
		snprintf(err, errlen, "jitter is larger than delay");
		return -1;
	}
	return 0;
}
