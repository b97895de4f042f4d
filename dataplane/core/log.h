/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * shuntd's log: one line per message on stderr, "shuntd: <level>: ...", filtered by
 * the `log` key. For start-up, shutdown and rare events; never per packet.
 */
#ifndef SHUNT_DP_LOG_H
#define SHUNT_DP_LOG_H

/* syslog priorities, as the `log` key stores them (conf.c) */
enum dp_log_level {
	DP_LOG_ERR = 3,
	DP_LOG_WARN = 4,
	DP_LOG_INFO = 6,
	DP_LOG_DEBUG = 7,
};

void dp_log_set_level(int level);
void dp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define DP_ERR(...)   dp_log(DP_LOG_ERR, __VA_ARGS__)
#define DP_WARN(...)  dp_log(DP_LOG_WARN, __VA_ARGS__)
#define DP_INFO(...)  dp_log(DP_LOG_INFO, __VA_ARGS__)
#define DP_DEBUG(...) dp_log(DP_LOG_DEBUG, __VA_ARGS__)

#endif /* SHUNT_DP_LOG_H */
