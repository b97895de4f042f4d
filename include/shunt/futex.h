/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Futex calls on words of the shared region (abi.h, "Waking"). The region is a
 * MAP_SHARED memfd mapping, so these are shared futexes (no FUTEX_PRIVATE_FLAG):
 * the kernel keys them by the memfd's page, which is the same in the program and
 * in shuntd. Header-only, no DPDK.
 */
#ifndef SHUNT_FUTEX_H
#define SHUNT_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *word == expected, at most *rel if not NULL. Returns 0 (woken, or the
 * word had already changed: the caller re-checks either way), -ETIMEDOUT or -EINTR.
 * Without a timeout the kernel restarts the wait after a handler with SA_RESTART
 * and fails it with EINTR otherwise; with one it always fails with EINTR (signal(7):
 * the same rules as a blocking socket call without and with SO_RCVTIMEO). */
static inline int shunt_futex_wait(uint32_t *word, uint32_t expected, const struct timespec *rel)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT, expected, rel, NULL, 0) == 0)
		return 0;
	if (errno == EAGAIN)
		return 0;
	return -errno;
}

/* Wake every thread asleep on word. Returns how many woke, or -errno. */
static inline int shunt_futex_wake(uint32_t *word)
{
	long n = syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);

	return n < 0 ? -errno : (int)n;
}

#endif /* SHUNT_FUTEX_H */
