/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * obs: the observation helpers conncheck and servcheck share (obs.c says what the
 * printed object looks like). Each do_*() makes one call with the plain socket API
 * (libshunt.so interposes it when preloaded), prints it as one step and returns
 * what the call returned, errno kept.
 */
#ifndef SHUNT_TESTS_OBS_H
#define SHUNT_TESTS_OBS_H

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern int step_no;

/* key=value arguments from argv[first..]; -1 on a malformed one (said on stderr) */
int obs_args(int argc, char **argv, int first);
const char *opt_str(const char *key, const char *def);
long opt_int(const char *key, long def);
struct sockaddr_in addr_of(const char *ip, long port); /* exits 2 on a bad ip */

/* A case: run by name, then the object is closed. Returns main's exit code (2
 * for an unknown name). */
struct obs_case {
	const char *name;
	void (*fn)(void);
};
int obs_run(const struct obs_case *cases, size_t n, const char *name);

/* SIGALRM in ms, counted in obs_alarms, its handler installed with SA_RESTART or
 * without (the cases that test EINTR; they run without the watchdog). */
extern volatile sig_atomic_t obs_alarms;
void obs_alarm_in(long ms, bool restart);

/* A SIGALRM watchdog: a case stuck for secs prints "watchdog" and exits 4. */
void obs_watchdog(unsigned secs);

int64_t now_ms(void);
void sleep_ms(long ms);
const char *errno_name(int e);

/* One step: t0() starts its clock, step() opens it with rc/errno/ms, field() adds
 * to it, end() closes it; fin() closes the object ("end": true). */
void t0(void);
void step(const char *op, long rc, int err);
void field(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void end(void);
void fin(void);
void put_sin(const char *name, const struct sockaddr_in *a);
void put_events(const char *name, unsigned ev, bool epoll);

int do_socket(int type);                       /* exits 3 if it fails */
int do_bind(int fd, const char *ip, long port);
int do_name(int fd, bool peer);                /* returns the port, network order */
void do_names(int fd);
int do_so_error(int fd);
void do_wait(const char *mode, int fd, short events, int ms); /* poll/select/epoll */
void do_setint(const char *op, int fd, int level, int name, int v);
void do_nonblock(int fd);
void do_recv_nowait(int fd);
void do_close(int fd);

#endif
