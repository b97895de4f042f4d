/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * syscall(): some libraries make socket system calls through libc's syscall()
 * instead of the named wrappers (libuv sends and receives UDP batches with
 * syscall(__NR_sendmmsg / __NR_recvmmsg), so dig and Node do). Those two numbers on
 * a shunt socket go to the shim's sendmmsg()/recvmmsg(); every other call, and
 * every kernel fd, goes on to libc's syscall() unchanged.
 *
 *   syscall(n, ...) -> n is sendmmsg/recvmmsg and a[0] a shunt fd -> mmsg.c
 *                   -> real_syscall(n, a[0..5])
 *
 * Six arguments are always read, as libc's own syscall() loads six registers
 * whatever the call takes. real_syscall is a raw system call in assembly until
 * real_resolve() runs: the shim's early stubs call syscall() themselves, so it
 * must not need libc, or dlsym(), to make one.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "real.h"
#include "shim.h"

SHIM_EXPORT long syscall(long n, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, n);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (shim_unlikely(n == SYS_sendmmsg || n == SYS_recvmmsg) &&
	    shim_shunt_get((int)a[0]) != NULL) {
		if (n == SYS_sendmmsg)
			return sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2],
					(int)a[3]);
		return recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned int)a[2], (int)a[3],
				(struct timespec *)a[4]);
	}
	return real_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
