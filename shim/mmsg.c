/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * sendmmsg() and recvmmsg() (libuv, and so dig and Node, send and receive UDP
 * this way): on a shunt socket, a loop over the shim's own sendmsg()/recvmsg(),
 * with Linux's batch rules (__sys_sendmmsg, do_recvmmsg):
 *   - at most UIO_MAXIOV messages per call;
 *   - an error on the first message is the call's error; after at least one
 *     message the call returns the count and the rest is left for the next call;
 *   - recvmmsg: MSG_WAITFORONE makes every message after the first non-blocking,
 *     and the timeout is looked at only after each datagram, as Linux does.
 * Kernel fds go straight to libc.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "real.h"
#include "shim.h"

#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024
#endif

SHIM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	unsigned int i;
	ssize_t n;

	if (!shim_init() || shim_shunt_get(fd) == NULL)
		return real_sendmmsg(fd, vec, vlen, flags);
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		n = sendmsg(fd, &vec[i].msg_hdr, flags);
		if (n < 0)
			return i == 0 ? -1 : (int)i; /* errno set by sendmsg() */
		vec[i].msg_len = (unsigned int)n;
	}
	return (int)vlen;
}

static bool mmsg_past(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > end->tv_sec || (now.tv_sec == end->tv_sec && now.tv_nsec >= end->tv_nsec);
}

SHIM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
			 struct timespec *timeout)
{
	struct timespec end;
	unsigned int i;
	ssize_t n;
	int f = flags & ~MSG_WAITFORONE;

	if (!shim_init() || shim_shunt_get(fd) == NULL)
		return real_recvmmsg(fd, vec, vlen, flags, timeout);
	if (timeout != NULL) {
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000) {
			errno = EINVAL;
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += timeout->tv_sec;
		end.tv_nsec += timeout->tv_nsec;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	if (vlen > UIO_MAXIOV)
		vlen = UIO_MAXIOV;
	for (i = 0; i < vlen; i++) {
		n = recvmsg(fd, &vec[i].msg_hdr, f);
		if (n < 0)
			return i == 0 ? -1 : (int)i; /* errno set by recvmsg() */
		vec[i].msg_len = (unsigned int)n;
		if (flags & MSG_WAITFORONE)
			f |= MSG_DONTWAIT;
		if (timeout != NULL && mmsg_past(&end))
			return (int)i + 1;
	}
	return (int)vlen;
}
