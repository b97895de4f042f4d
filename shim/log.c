/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Diagnostics on stderr, "shunt: " first, one write() per message so lines from
 * threads do not interleave. Silent unless SHUNT_LOG is set (init.c).
 *
 *   SHIM_WARN(...) -> shim_log() -> vsnprintf -> real_write(2)
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "real.h"
#include "shim.h"

void shim_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (level > shim_log_level)
		return;
	memcpy(buf, "shunt: ", 7);
	va_start(ap, fmt);
	n = vsnprintf(buf + 7, sizeof(buf) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 7;
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	buf[n++] = '\n';
	(void)!real_write(2, buf, (size_t)n);
}
