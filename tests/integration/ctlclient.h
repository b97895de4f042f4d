/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The client end of ctl.h for the test programs that attach without the shim
 * (hostile.c, appfuzz.c). Header-only.
 */
#ifndef SHUNT_TEST_CTLCLIENT_H
#define SHUNT_TEST_CTLCLIENT_H

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include <shunt/ctl.h>

/* A welcome on fd within ms, and its fds into fds[SHUNT_CTL_NFDS] if fds is not
 * NULL (left as they were if none came). Returns its bytes, or -1. */
static inline ssize_t ctlc_recv_welcome(int fd, struct shunt_ctl_welcome *w, int *fds, int ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHUNT_CTL_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = w, .iov_len = sizeof(*w)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct cmsghdr *cm;
	ssize_t n;

	memset(w, 0, sizeof(*w));
	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	cm = CMSG_FIRSTHDR(&msg);
	if (n > 0 && fds != NULL && cm != NULL && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fds, CMSG_DATA(cm), sizeof(int) * SHUNT_CTL_NFDS);
	return n;
}

#endif /* SHUNT_TEST_CTLCLIENT_H */
