/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * shuntd: start-up and shutdown.
 *
 *   conf_from_args()          exit 2 on a bad configuration, naming key and line
 *   rte_eal_init(eal words)   the `eal` key, split on blanks
 *   port_init()               first available port, one queue pair
 *   arp_init(), tcp_init(), udp_init(), apps_init(), loop_init()
 *   ctl_open()                only now: the stack can serve
 *   loop_run()                until SIGINT / SIGTERM
 *   tcp_fini() (RSTs), apps_fini(), ctl_close() (unlink), port_fini(), counters
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>

#include "conf.h"
#include "core/app.h"
#include "core/ctl.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/port.h"
#include "dp.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

#define MAIN_EAL_MAX_ARGS 64

static void main_on_stop(int sig)
{
	(void)sig;
	loop_stop = 1;
}

static void main_on_dump(int sig)
{
	(void)sig;
	loop_dump = 1;
}

static void main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = main_on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = main_on_dump;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* net_tap wakes its RX with a queued real-time signal per packet (F_SETSIG on
	 * the tap fd). When the queue of pending signals (RLIMIT_SIGPENDING, shared by
	 * every process of the user) is full, the kernel sends plain SIGIO instead,
	 * whose default action would kill us in the middle of a burst; the real-time
	 * signals still queued keep the PMD's trigger moving, so nothing is lost. */
	sigaction(SIGIO, &sa, NULL);
}

/* Split the `eal` value into argv words (argv[0] = "shuntd"); buf is modified. */
static int main_eal_args(char *buf, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *w;

	argv[argc++] = "shuntd";
	for (w = strtok_r(buf, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (argc == max - 1)
			return -E2BIG;
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	return argc;
}

int main(int argc, char **argv)
{
	static struct dp_conf conf;
	static struct dp_ctx ctx;
	char err[4096], eal_buf[CONF_EAL_MAX];
	char *eal_argv[MAIN_EAL_MAX_ARGS];
	char ipbuf[INET_ADDRSTRLEN];
	char rundir[PATH_MAX];
	uint16_t port_id;
	int eal_argc, rc, status = 1;

	if (conf_from_args(&conf, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "shuntd: %s\n", err);
		return 2;
	}
	dp_log_set_level(conf.log_level);
	snprintf(eal_buf, sizeof(eal_buf), "%s", conf.eal);
	eal_argc = main_eal_args(eal_buf, eal_argv, MAIN_EAL_MAX_ARGS);
	if (eal_argc < 0) {
		fprintf(stderr, "shuntd: key 'eal': more than %d words\n", MAIN_EAL_MAX_ARGS - 2);
		return 2;
	}
	rc = rte_eal_init(eal_argc, eal_argv);
	if (rc < 0) {
		DP_ERR("EAL initialisation failed (eal = '%s'): %s", conf.eal,
		       rte_strerror(rte_errno));
		return 1;
	}
	main_signals();

	ctx.conf = &conf;
	ctx.epfd = -1;
	ctx.ip_be = conf.ip_be;
	ctx.netmask_be = conf.prefix_len ? htonl(~0u << (32 - conf.prefix_len)) : 0;
	ctx.gateway_be = conf.gateway_be;

	if (rte_eth_dev_count_avail() == 0) {
		DP_ERR("no port: give one in 'eal' (a PCI device, or --vdev=net_tap0,...)");
		goto out_eal;
	}
	if (rte_eth_dev_count_avail() > 1)
		DP_WARN("%u ports available: using the first", rte_eth_dev_count_avail());
	RTE_ETH_FOREACH_DEV(port_id)
		break;
	if (port_init(&ctx, port_id, conf.mbufs) < 0)
		goto out_eal;
	if (arp_init(&ctx) < 0 || tcp_init(&ctx) < 0 || udp_init(&ctx) < 0 || apps_init(&ctx) < 0 ||
	    loop_init(&ctx) < 0) {
		DP_ERR("cannot initialise the stack");
		goto out_port;
	}
	if (ctl_open(&ctx) < 0)
		goto out_stack;
	arp_announce(&ctx);
	dp_tx_flush(&ctx);
	inet_ntop(AF_INET, &conf.ip_be, ipbuf, sizeof(ipbuf));
	DP_INFO("ready: %s/%u on port %u, control %s, idle %s", ipbuf, conf.prefix_len,
		port_id, conf.control, conf.idle == CONF_IDLE_POLL ? "poll" : "adaptive");
	/* the namespace's sysctls or the file's keys: say which values won */
	DP_INFO("tcp: syn_retries %u, timestamps %u, sack %u, window_scaling %u, mtu_probing %u, "
		"ecn %u, ecn_fallback %u, rmem_max %u, congestion %s, slow_start_after_idle %u",
		conf.syn_retries, conf.timestamps, conf.sack, conf.window_scaling, conf.mtu_probing,
		conf.ecn, conf.ecn_fallback, conf.rmem_max,
		conf.congestion == SHUNT_CC_RENO ? "reno" : "cubic", conf.slow_start_after_idle);

	loop_run(&ctx);
	status = 0;
	DP_INFO("stopping");

	ctl_close(&ctx);
out_stack:
	apps_fini(&ctx);  /* resets every connection an app holds */
	dp_tx_flush(&ctx);
	loop_dump_all(&ctx, stderr);
	tcp_fini(&ctx);   /* and whatever TCP still has (TIME_WAIT, orphans) */
	udp_fini(&ctx);
	dp_tx_flush(&ctx);
	loop_fini(&ctx);
	arp_fini(&ctx);
out_port:
	port_fini(&ctx);
out_eal:
	/* EAL leaves its (by now empty) runtime directory behind: ours to remove */
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	(void)rmdir(rundir);
	return status;
}
