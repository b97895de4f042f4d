/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * One-time initialisation of libshunt.so.
 *
 *   constructor / first interposed call -> shim_init() -> shim_init_slow()
 *     -> pthread_once(init_once): real_resolve(), SHUNT_CONTROL, SHUNT_LOG,
 *        pthread_atfork(child handler) -> shim_ready = 1
 *
 * A call that arrives on the initialising thread while init_once runs (dlsym or
 * a malloc replacement calling back into us) sees shim_in_init and goes straight
 * to real_*(), which are raw syscalls until real_resolve() replaced them. Attaching
 * to the dataplane is not part of this: it happens lazily in attach.c.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

_Atomic int shim_ready;
int shim_log_level;
struct shim_global shim_g;

static pthread_once_t init_once_ctl = PTHREAD_ONCE_INIT;
static __thread bool shim_in_init;

static int init_log_level(const char *v)
{
	if (v == NULL || *v == '\0')
		return SHIM_LOG_OFF;
	if (strcasecmp(v, "error") == 0)
		return SHIM_LOG_ERROR;
	if (strcasecmp(v, "warn") == 0)
		return SHIM_LOG_WARN;
	if (strcasecmp(v, "info") == 0)
		return SHIM_LOG_INFO;
	if (strcasecmp(v, "debug") == 0)
		return SHIM_LOG_DEBUG;
	return SHIM_LOG_WARN; /* set to something: the user wants to hear about trouble */
}

/* The child of fork() has one thread: whatever lock another parent thread held is
 * held forever in the child. Reset them all. The child shares the parent's shunt
 * sockets as a member of its region (share.c), or, when it cannot, its copies of
 * them become plain placeholders (sock.c) and it lets go of the attachment
 * (attach.c) before it may attach on its own. (vfork children run no handler:
 * sock.c checks owner_pid instead.) */
static void init_atfork_child(void)
{
	bool shared = shim_share_forked();

	shim_g.owner_pid = getpid();
	shim_chan_atfork_child();
	shim_tx_atfork_child();
	shim_notify_atfork_child();
	shim_epoll_atfork_child();
	shim_sock_atfork_child(shared);
	shim_conn_atfork_child();
	shim_lost_atfork_child();
	shim_attach_atfork_child(shared); /* unshared: the sockets no longer name its slots */
	shim_share_child(); /* shared: a member of the parent's region */
}

static void init_once(void)
{
	const char *path;

	shim_in_init = true;
	real_resolve();
	shim_log_level = init_log_level(getenv("SHUNT_LOG"));
	path = getenv("SHUNT_CONTROL");
	if (path == NULL || *path == '\0')
		path = SHUNT_CTL_DEFAULT_PATH;
	strncpy(shim_g.ctl_path, path, sizeof(shim_g.ctl_path) - 1);
	shim_g.owner_pid = getpid();
	atomic_store(&shim_g.ctl_fd, -1);
	atomic_store(&shim_g.doorbell_fd, -1);
	atomic_store(&shim_g.lost_epfd, -1);
	(void)shim_chan_init();
	pthread_atfork(shim_share_prepare, shim_share_parent, init_atfork_child);
	shim_in_init = false;
	atomic_store_explicit(&shim_ready, 1, memory_order_release);
	shim_exec_inherit(); /* the sockets an exec left us, before main() runs */
}

bool shim_init_slow(void)
{
	if (shim_in_init)
		return false;
	pthread_once(&init_once_ctl, init_once);
	return true;
}

__attribute__((constructor)) static void init_ctor(void)
{
	(void)shim_init();
}
