/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Dataplane sockets: the validated bridge between a protocol control block and the
 * shared view of one socket slot (see sock.h for the trust rules).
 *
 *   tcp/udp -> dp_sock_rx_write/commit -> rx ring + rx_prod (release) -> shim reads
 *   shim writes tx ring + tx_prod (release) -> dp_sock_tx_queued (acquire) -> tcp
 *   any change -> dp_sock_event -> ev_seq (release) -> dp_app_sock_changed (dirty list)
 *     ... end of the loop iteration: apps_wake() -> futex / notifiers
 */
#include <string.h>

#include <shunt/bytering.h>
#include <shunt/ring.h>

#include "core/sock.h"
#include "net/net.h"

/* Note that s holds rx_used and tx_used bytes now, in its process's total. */
static void sock_account(struct dp_sock *s, uint32_t rx_used, uint32_t tx_used)
{
	if (s->mem == NULL)
		return;
	s->mem->used = s->mem->used + rx_used + tx_used - s->rx_acct - s->tx_acct;
	s->rx_acct = rx_used;
	s->tx_acct = tx_used;
}

void dp_sock_mem_drop(struct dp_sock *s)
{
	sock_account(s, 0, 0);
}

uint32_t dp_sock_tx_queued(struct dp_sock *s)
{
	/* acquire: pairs with the shim's release of tx_prod after it filled the ring */
	uint32_t prod = SHUNT_LOAD_ACQ(&s->sh->tx_prod);
	uint32_t queued = prod - s->tx_cons;

	if (queued > s->tx_size) {
		s->broken = true;
		return 0;
	}
	sock_account(s, s->rx_acct, queued);
	return queued;
}

void dp_sock_tx_release(struct dp_ctx *ctx, struct dp_sock *s, uint32_t n)
{
	if (n == 0)
		return;
	s->tx_cons += n;
	sock_account(s, s->rx_acct, s->tx_acct > n ? s->tx_acct - n : 0);
	/* release: the shim may reuse the bytes once it sees the new tx_cons */
	SHUNT_STORE_REL(&s->sh->tx_cons, s->tx_cons);
	dp_sock_event(ctx, s);
}

uint32_t dp_sock_rx_room(struct dp_sock *s)
{
	/* acquire: pairs with the shim's release of rx_cons after it copied bytes out */
	uint32_t cons = SHUNT_LOAD_ACQ(&s->sh->rx_cons);
	uint32_t used = s->rx_prod - cons;
	uint32_t limit = s->rcvbuf && s->rcvbuf < s->rx_size ? s->rcvbuf : s->rx_size;

	if (used > s->rx_size) {
		s->broken = true;
		return 0;
	}
	sock_account(s, used, s->tx_acct);
	return used >= limit ? 0 : limit - used;
}

uint32_t dp_sock_rx_space(struct dp_sock *s)
{
	uint32_t room = dp_sock_rx_room(s), floor;
	uint64_t avail;

	if (s->mem == NULL || s->mem->bound == 0)
		return room;
	avail = s->mem->bound > s->mem->used ? s->mem->bound - s->mem->used : 0;
	floor = s->rx_acct < SHUNT_MEM_FLOOR ? SHUNT_MEM_FLOOR - s->rx_acct : 0;
	if (avail < floor)
		avail = floor;
	if (avail >= room)
		return room;
	s->mem->limited++;
	return (uint32_t)avail;
}

void dp_sock_rx_write(struct dp_sock *s, uint32_t off, const void *data, uint32_t len)
{
	uint32_t end = s->rx_prod + off + len;

	bytering_write(s->rx_buf, s->rx_size, s->rx_prod + off, data, len);
	if ((int32_t)(end - s->rx_hi) > 0)
		s->rx_hi = end;
}

void dp_sock_rx_commit(struct dp_ctx *ctx, struct dp_sock *s, uint32_t n)
{
	if (n == 0)
		return;
	s->rx_prod += n;
	sock_account(s, s->rx_acct + n, s->tx_acct);
	if ((int32_t)(s->rx_prod - s->rx_hi) > 0)
		s->rx_hi = s->rx_prod;
	/* release: the bytes written before are visible to a reader that acquires rx_prod */
	SHUNT_STORE_REL(&s->sh->rx_prod, s->rx_prod);
	dp_sock_event(ctx, s);
}

/* state and flags are stored with release as well as published by ev_seq: a reader
 * that acquires one of them directly (RX_EOF, CLOSED) also sees everything written
 * before it, such as the last bytes committed to the rx ring before the FIN. */
void dp_sock_set_state(struct dp_ctx *ctx, struct dp_sock *s, uint32_t state)
{
	s->state = state;
	SHUNT_STORE_REL(&s->sh->state, state);
	dp_sock_event(ctx, s);
}

void dp_sock_stage_flags(struct dp_sock *s, uint32_t set, uint32_t clear)
{
	s->flags = (s->flags & ~clear) | set;
	SHUNT_STORE_REL(&s->sh->flags, s->flags);
}

void dp_sock_set_flags(struct dp_ctx *ctx, struct dp_sock *s, uint32_t set, uint32_t clear)
{
	dp_sock_stage_flags(s, set, clear);
	dp_sock_event(ctx, s);
}

void dp_sock_stage_error(struct dp_sock *s, int err)
{
	s->sh->error = err;
	s->err_seq++;
	/* release: a shim that acquires err_seq reads the error stored above */
	SHUNT_STORE_REL(&s->sh->err_seq, s->err_seq);
}

void dp_sock_set_error(struct dp_ctx *ctx, struct dp_sock *s, int err)
{
	dp_sock_stage_error(s, err);
	dp_sock_event(ctx, s);
}

void dp_sock_queue_error(struct dp_ctx *ctx, struct dp_sock *s, int err,
			 const struct icmp_err *icmp, uint32_t dst_be, uint16_t dport_be,
			 const uint8_t *l4, uint32_t l4_len)
{
	struct shunt_sock *sh = s->sh;

	if (l4_len > SHUNT_EQ_DATA)
		l4_len = SHUNT_EQ_DATA;
	sh->eq_errno = err;
	sh->eq_type = icmp->type;
	sh->eq_code = icmp->code;
	sh->eq_len = (uint8_t)l4_len;
	sh->eq_info = icmp->info;
	sh->eq_offender = icmp->from_be;
	sh->eq_dst.addr = dst_be;
	sh->eq_dst.port = dport_be;
	memcpy(sh->eq_data, l4, l4_len);
	sh->eq_seq = ++s->eq_seq;
	dp_sock_event(ctx, s);
}

void dp_sock_set_local(struct dp_sock *s, uint32_t addr_be, uint16_t port_be)
{
	s->sh->local.addr = addr_be;
	s->sh->local.port = port_be;
}

void dp_sock_set_remote(struct dp_sock *s, uint32_t addr_be, uint16_t port_be)
{
	s->sh->remote.addr = addr_be;
	s->sh->remote.port = port_be;
}

void dp_sock_event(struct dp_ctx *ctx, struct dp_sock *s)
{
	s->ev_seq++;
	/* release: every field written above is visible to a shim that acquires ev_seq */
	SHUNT_STORE_REL(&s->sh->ev_seq, s->ev_seq);
	if (s->app != NULL)
		dp_app_sock_changed(ctx, s);
}

void dp_sock_pcb_done(struct dp_ctx *ctx, struct dp_sock *s)
{
	s->pcb = NULL;
	if (s->app_closed && s->app != NULL)
		dp_app_release_slot(ctx, s->app, s);
}
