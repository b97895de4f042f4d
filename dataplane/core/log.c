/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * shuntd's log (see log.h). The level is process-wide configuration set once at
 * start-up, not per-lcore state.
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

static int log_level = DP_LOG_INFO;

static const char *const log_names[] = {
	[DP_LOG_ERR] = "error", [DP_LOG_WARN] = "warn", [DP_LOG_INFO] = "info",
	[DP_LOG_DEBUG] = "debug",
};

void dp_log_set_level(int level)
{
	log_level = level;
}

void dp_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level || level < DP_LOG_ERR || level > DP_LOG_DEBUG)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "shuntd: %s: ", log_names[level] ? log_names[level] : "log");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
