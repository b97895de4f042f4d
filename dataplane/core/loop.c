/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The poll-mode loop (see loop.h and docs/design.md):
 *
 *   loop_run()
 *     now = clock (the only clock read in the dataplane)
 *     port_rx_burst() -> eth_input() per packet (prefetch ahead)
 *     lo_input_burst() -> ipv4_input(): packets to our own address queued by
 *       earlier iterations (at most LOOP_LO_BUDGET; net/lo.c)
 *     apps_poll()     -> commands -> tcp_*()
 *     tcp_timer_run(), arp_timer()
 *     every LOOP_HOUSEKEEP_US: loop_events(0) (control socket, notifier requests),
 *       ctl_reap(), apps_housekeep() (hole punching), SIGUSR1
 *     dp_tx_flush(), apps_wake()
 *     idle = adaptive and nothing done for idle_spin_us, nothing queued for local
 *       delivery: loop_sleep()
 *
 *   loop_sleep(): apps_prepare_sleep() (dp_sleeping + fence + re-check rings),
 *     arm RX interrupts, epoll_pwait2() until the earliest timer or housekeeping
 *     due (rings to give back), apps_end_sleep()
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "core/app.h"
#include "core/ctl.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "dp.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define LOOP_RX_BURST 32
#define LOOP_PREFETCH 3
#define LOOP_LO_BUDGET 128         /* local deliveries per iteration (Linux: weight 64) */
#define LOOP_HOUSEKEEP_US 1000     /* control socket, signals, broken apps, holes */
#define LOOP_MAX_SLEEP_US 100000   /* bound on one sleep: housekeeping still runs */
#define LOOP_EVENTS 32

volatile sig_atomic_t loop_stop;
volatile sig_atomic_t loop_dump;

struct loop_clock {
	uint64_t tsc0;
	uint64_t hz;
};


static uint64_t loop_now_us(const struct loop_clock *c)
{
	uint64_t d = rte_get_tsc_cycles() - c->tsc0;

	/* split to avoid overflow: exact for any uptime */
	return d / c->hz * 1000000 + d % c->hz * 1000000 / c->hz;
}

int loop_init(struct dp_ctx *ctx)
{
	int fd;

	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctx->epfd < 0)
		return -errno;
	ctx->rx_fd = -1;
	fd = port_rx_fd(ctx);
	if (fd >= 0) {
		/* no source: an RX event only wakes the loop, which polls the port */
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

		if (epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
			ctx->rx_fd = fd;
		else
			DP_WARN("rx interrupt fd %d not usable: idle sleeps are bounded to 1 ms", fd);
	} else if (ctx->conf->idle == CONF_IDLE_ADAPTIVE) {
		DP_WARN("port has no rx interrupt: idle sleeps are bounded to 1 ms");
	}
	return 0;
}

void loop_fini(struct dp_ctx *ctx)
{
	lo_fini(ctx); /* what shutdown's resets queued for ourselves */
	if (ctx->epfd >= 0)
		close(ctx->epfd);
	ctx->epfd = -1;
}

int loop_watch(struct dp_ctx *ctx, struct loop_src *src, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = src};

	return epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

void loop_unwatch(struct dp_ctx *ctx, struct loop_src *src)
{
	(void)epoll_ctl(ctx->epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

/* Wait up to timeout_us (0: just look) for slow-path fds; dispatch them. */
static void loop_events(struct dp_ctx *ctx, uint64_t timeout_us)
{
	struct epoll_event evs[LOOP_EVENTS];
	struct timespec ts = {
		.tv_sec = (time_t)(timeout_us / 1000000),
		.tv_nsec = (long)(timeout_us % 1000000) * 1000,
	};
	int n, i;

	n = epoll_pwait2(ctx->epfd, evs, LOOP_EVENTS, &ts, NULL);
	for (i = 0; i < n; i++) {
		struct loop_src *src = evs[i].data.ptr;

		/* RX (no source) and doorbells only wake us; the loop body does the work */
		if (src != NULL && src->kind != LOOP_SRC_DOORBELL)
			ctl_event(ctx, src, evs[i].events);
	}
}

static uint64_t loop_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* next_housekeep: when the loop next runs housekeeping, which a wake-up for work
 * of apps_housekeep() must not precede (it would find nothing to do yet). */
static void loop_sleep(struct dp_ctx *ctx, const struct loop_clock *clk, uint64_t next_housekeep)
{
	uint64_t deadline, now, timeout, hk;

	if (!apps_prepare_sleep(ctx)) {
		apps_end_sleep(ctx);
		return;
	}
	deadline = loop_min(tcp_next_deadline(ctx), arp_next_deadline(ctx));
	hk = apps_next_deadline(ctx);
	if (hk != UINT64_MAX)
		deadline = loop_min(deadline, hk > next_housekeep ? hk : next_housekeep);
	now = loop_now_us(clk);
	timeout = deadline > now ? deadline - now : 0;
	timeout = loop_min(timeout, ctx->rx_fd >= 0 ? LOOP_MAX_SLEEP_US : 1000);
	if (timeout > 0) {
		ctx->port_stats.idle_sleeps++;
		port_rx_intr_arm(ctx, 1);
		loop_events(ctx, timeout);
		port_rx_intr_arm(ctx, 0);
	}
	apps_end_sleep(ctx);
}

void loop_dump_all(struct dp_ctx *ctx, FILE *f)
{
	const struct net_stats *s = &ctx->net_stats;

	port_stats_print(ctx, f);
	fprintf(f, "net:\n");
	NET_STATS(DP_STAT_PRINT)
	tcp_dump(ctx, f);
	udp_dump(ctx, f);
	apps_dump(ctx, f);
	fflush(f);
}

void loop_run(struct dp_ctx *ctx)
{
	struct rte_mbuf *pkts[LOOP_RX_BURST];
	struct loop_clock clk = {.tsc0 = rte_get_tsc_cycles(), .hz = rte_get_tsc_hz()};
	const bool adaptive = ctx->conf->idle == CONF_IDLE_ADAPTIVE;
	uint64_t next_housekeep = 0, last_work = 0;
	uint16_t n, i;
	unsigned work;

	while (!loop_stop) {
		ctx->now_us = loop_now_us(&clk);

		n = port_rx_burst(ctx, pkts, LOOP_RX_BURST);
		for (i = 0; i < n && i < LOOP_PREFETCH; i++)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
		for (i = 0; i < n; i++) {
			if (i + LOOP_PREFETCH < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + LOOP_PREFETCH], void *));
			eth_input(ctx, pkts[i]);
		}
		work = n;
		work += lo_input_burst(ctx, LOOP_LO_BUDGET);
		work += apps_poll(ctx);
		tcp_timer_run(ctx);
		arp_timer(ctx);

		if (ctx->now_us >= next_housekeep) {
			loop_events(ctx, 0);
			ctl_reap(ctx);
			apps_housekeep(ctx);
			if (loop_dump) {
				loop_dump = 0;
				loop_dump_all(ctx, stderr);
			}
			next_housekeep = ctx->now_us + LOOP_HOUSEKEEP_US;
		}
		dp_tx_flush(ctx);
		apps_wake(ctx);

		/* Local packets queued by this iteration (commands, timers, deliveries)
		 * are work for the next one: sleeping would hold them until a timer. */
		if (work != 0 || lo_pending(ctx))
			last_work = ctx->now_us;
		else if (adaptive && ctx->now_us - last_work >= ctx->conf->idle_spin_us)
			loop_sleep(ctx, &clk, next_housekeep);
	}
}
