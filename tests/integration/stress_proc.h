/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * What the stress programs read about their own process: the monotonic clock, a
 * /proc/self/status field, and the memory of the shim's shared region (the
 * mappings of its "shunt-region" memfd in /proc/self/smaps).
 */
#ifndef SHUNT_STRESS_PROC_H
#define SHUNT_STRESS_PROC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A kB field of /proc/self/status (VmRSS, VmHWM...), -1 if absent. */
static inline long status_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Size, Rss and Pss (kB) summed over the mappings of the shunt-region memfd. */
static inline void region_kb(long *size, long *rss, long *pss)
{
	char line[512];
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	*size = *rss = *pss = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		long v;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ')) {
			in = strstr(line, "shunt-region") != NULL;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Size: %ld kB", &v) == 1)
			*size += v;
		else if (sscanf(line, "Rss: %ld kB", &v) == 1)
			*rss += v;
		else if (sscanf(line, "Pss: %ld kB", &v) == 1)
			*pss += v;
	}
	fclose(f);
}

#endif /* SHUNT_STRESS_PROC_H */
