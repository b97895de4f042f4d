/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * impair_model: what happens to one packet of one direction of an impaired path.
 * No I/O and no clock: the caller passes the time in (nanoseconds, monotonic), so
 * the model is exact and testable. impair.c owns the packets and the verdicts.
 *
 *   impair_spec_parse()   "loss=10%,delay=50ms,..." -> struct impair_spec
 *   impair_dir_init()     a direction's state from a spec and a seed
 *   impair_decide()       per packet, in arrival order: drop, or when to release it
 *                         and whether it is duplicated or held back behind the next
 *
 * Order of the stages (as netem's): random loss, burst loss, the rate limiter's
 * buffer (tail drop), the rate limiter, delay with jitter, then the flags for
 * reordering and duplication. Jitter never reorders by itself: a packet is never
 * released before the one that arrived ahead of it (netem's tfifo would reorder);
 * reordering is its own knob, so each effect can be asked for alone.
 */
#ifndef SHUNT_IMPAIR_MODEL_H
#define SHUNT_IMPAIR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct impair_spec {
	double loss;             /* random loss, probability 0..1 */
	double burst_p;          /* Gilbert: P(good -> bad) per packet; 0 = off */
	double burst_r;          /* Gilbert: P(bad -> good) per packet */
	uint64_t delay_ns;       /* fixed one-way delay */
	uint64_t jitter_ns;      /* uniform in [-jitter, +jitter] around delay */
	double reorder;          /* probability a packet goes after the next one */
	uint64_t reorder_max_ns; /* how long it waits for a next one at most */
	double dup;              /* probability a packet is sent twice */
	uint64_t rate_bps;       /* bits per second; 0 = no limit */
	uint64_t buffer_bytes;   /* the rate limiter's queue; beyond it, tail drop */
	uint32_t limit;          /* packets held at once in this direction */
};

enum impair_fate {
	IMPAIR_PASS = 0,
	IMPAIR_DROP_LOSS,   /* random loss */
	IMPAIR_DROP_BURST,  /* Gilbert bad state */
	IMPAIR_DROP_BUFFER, /* the rate limiter's buffer is full */
};

struct impair_decision {
	enum impair_fate fate;
	uint64_t release_ns; /* when to accept it (IMPAIR_PASS) */
	bool dup;            /* send a copy right after it */
	bool reorder;        /* let the next packet overtake it */
};

struct impair_dir {
	struct impair_spec spec;
	uint64_t rng;             /* xorshift64* state, never 0 */
	bool burst_bad;           /* Gilbert state */
	uint64_t link_free_ns;    /* when the rate limiter finishes its backlog */
	uint64_t last_release_ns; /* release times never go backwards */
};

/* Parse "key=value,..." into *s (defaults first). Returns 0, or -1 with a sentence
 * in err. Keys: loss=PCT burst=PCT/LEN delay=T jitter=T reorder=PCT reorder_max=T
 * dup=PCT rate=R buffer=BYTES limit=N; PCT is a percent ("10" or "10%"), T takes
 * us/ms/s (ms if bare), R takes bit/kbit/mbit/gbit. burst=PCT/LEN is a Gilbert
 * model losing PCT of packets on average in bursts of LEN on average. */
int impair_spec_parse(const char *text, struct impair_spec *s, char *err, size_t errlen);

void impair_dir_init(struct impair_dir *d, const struct impair_spec *s, uint64_t seed);

/* Decide the fate of a packet of len bytes arriving at now_ns (non-decreasing). */
void impair_decide(struct impair_dir *d, uint64_t now_ns, uint32_t len,
		   struct impair_decision *out);

/* Uniform double in [0, 1) from the direction's generator. */
double impair_uniform(struct impair_dir *d);

#endif
