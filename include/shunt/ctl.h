/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The control protocol: a SOCK_SEQPACKET Unix socket (the `control` key, default
 * /run/shunt/shunt.sock). A process attaches once:
 *
 *   shim                                   shuntd
 *   connect(control) ---------------------> accept
 *   shunt_ctl_hello  ---------------------> agree on a version and features
 *                    <--------------------- shunt_ctl_welcome (+ SCM_RIGHTS fds:
 *                                           [0] region memfd, [1] doorbell eventfd)
 *   mmap(region), check it
 *
 * Negotiation: the hello names the range of versions the shim speaks and the
 * features it offers and requires. shuntd picks the highest version both speak and
 * the features both know; if there is no common version, or a required feature is
 * missing, it answers status -EPROTONOSUPPORT with its own range and features (and
 * no fds), so the shim can say which versions met, and falls back to the kernel.
 * The first four fields of hello and welcome never change between versions.
 *
 * A process that will share the region (a fork child, an exec'd image) is given a
 * connection of its own by the process that makes it, whose first message is a
 * JOIN instead of a hello (below).
 *
 * The connection then stays open. The shim sends requests on it that carry file
 * descriptors (the only thing the region cannot carry), one at a time, each
 * answered with its status:
 *
 *   SHUNT_CTL_NOTIFY_SET   idx + SCM_RIGHTS [one end of a socketpair]: notifier idx
 *                          (abi.h) is woken by a byte sent on that socket
 *   SHUNT_CTL_NOTIFY_CLEAR idx: forget it
 *   SHUNT_CTL_RELAY        slot, gen + SCM_RIGHTS [one end of a socketpair]: shuntd
 *                          carries the socket through it (below)
 *
 * shuntd takes the connection's hang-up as that process having gone away: the
 * sockets it alone held are closed as close() would, and when the region's last
 * process is gone its region is freed once they are done.
 * Header-only, no DPDK.
 */
#ifndef SHUNT_CTL_H
#define SHUNT_CTL_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "abi.h"

#define SHUNT_CTL_DEFAULT_PATH "/run/shunt/shunt.sock"
#define SHUNT_CTL_MAX_OFFLOAD  16

enum shunt_ctl_op {
	SHUNT_CTL_HELLO = 1,
	SHUNT_CTL_WELCOME = 2,
	SHUNT_CTL_NOTIFY_SET = 3,
	SHUNT_CTL_NOTIFY_CLEAR = 4,
	SHUNT_CTL_JOIN = 5,
	SHUNT_CTL_RELAY = 6,
};

struct shunt_ctl_hello {
	uint32_t magic;       /* SHUNT_ABI_MAGIC */
	uint32_t op;          /* SHUNT_CTL_HELLO */
	uint32_t version_min; /* the versions the shim speaks */
	uint32_t version_max;
	uint32_t features;    /* SHUNT_FEAT_* the shim can use */
	uint32_t required;    /* SHUNT_FEAT_* it cannot do without (a subset of features) */
	uint32_t pid;
	uint32_t pad;
};
_Static_assert(sizeof(struct shunt_ctl_hello) == 32, "hello size");

/* A destination a is offloaded iff (a & mask) == addr for some entry. */
struct shunt_ctl_cidr {
	uint32_t addr; /* network order, already masked */
	uint32_t mask; /* network order */
};

struct shunt_ctl_welcome {
	uint32_t magic;   /* SHUNT_ABI_MAGIC */
	uint32_t op;      /* SHUNT_CTL_WELCOME */
	int32_t status;   /* 0, or -errno: the attach was refused and no fds follow */
	uint32_t version; /* agreed; on -EPROTONOSUPPORT the dataplane's newest */
	uint32_t version_min; /* the dataplane's oldest */
	uint32_t features; /* agreed; on -EPROTONOSUPPORT the dataplane's own */
	uint64_t region_size;
	uint32_t nfds;       /* fds sent with this message: SHUNT_CTL_NFDS */
	uint32_t stack_ip;   /* network order: the dataplane's own address */
	uint32_t prefix_len;
	uint32_t n_offload;
	struct shunt_ctl_cidr offload[SHUNT_CTL_MAX_OFFLOAD];
	uint16_t eph_lo; /* ephemeral port range, host order */
	uint16_t eph_hi;
	uint32_t pad;
};
_Static_assert(sizeof(struct shunt_ctl_welcome) == 48 + 8 * SHUNT_CTL_MAX_OFFLOAD + 8,
	       "welcome size");

/* JOIN (SHUNT_FEAT_SHARE), instead of a hello on a new connection: the process on
 * it becomes member `member` of the region whose join_key it shows, the bit that
 * a member already claimed in the region's `members` for it (abi.h). The
 * connection is that member's from then on (its requests, its notifiers; its
 * hang-up is that member gone). With SHUNT_JOINF_FDS the answer is a welcome with
 * the region's fds, as at attach (an exec'd image maps the region anew); without
 * it there is no answer (a fork child has the mapping). A JOIN that names no
 * region, or a member that is not claimed or already joined, is refused by
 * closing the connection. */
#define SHUNT_JOINF_FDS 0x1u

struct shunt_ctl_join {
	uint32_t magic;   /* SHUNT_ABI_MAGIC */
	uint32_t op;      /* SHUNT_CTL_JOIN */
	uint32_t member;  /* < SHUNT_MAX_MEMBERS */
	uint32_t flags;   /* SHUNT_JOINF_* */
	uint64_t key[2];  /* the region's join_key */
};
_Static_assert(sizeof(struct shunt_ctl_join) == 32, "join size");

/* RELAY (SHUNT_FEAT_SHARE) + SCM_RIGHTS [one end of a SOCK_STREAM socketpair]: from
 * now on shuntd carries the TCP socket (slot, gen) between that socket and the
 * connection: what arrives is written to it, what is written to the other end is
 * sent, the peer's FIN is a shutdown(SHUT_WR) of the other end and a
 * shutdown(SHUT_WR) there one of the connection (a close there is not: it lets
 * go), and the relay holds the socket (SHUNT_HOLDER_RELAY) until every copy of
 * the other end is closed.
 * The shim puts the other end in place of the socket's descriptors when it can
 * no longer see every call made on them (a dup2 onto 0, 1 or 2, where stdio
 * writes from inside libc). Answered with status set: 0, -EBADF (no such live
 * socket), -EINVAL (not a connected TCP socket, or relayed already). */
#define SHUNT_RELAYF_READ 0x1u /* the program reads through it (fd 0): pass on what
				 * arrives at once. Without it (a writer's relay, fd 1
				 * or 2) what arrives is passed on only while the relay
				 * is the socket's one holder: another process holding
				 * it may be the one that reads, as in Linux. */

struct shunt_ctl_relay {
	uint32_t magic;  /* SHUNT_ABI_MAGIC */
	uint32_t op;     /* SHUNT_CTL_RELAY */
	uint32_t slot;
	uint32_t gen;
	int32_t status;  /* answer: 0 or -errno */
	uint32_t flags;  /* SHUNT_RELAYF_* */
};
_Static_assert(sizeof(struct shunt_ctl_relay) == 24, "relay size");

/* Attach fds[0..n) to msg as one SCM_RIGHTS message, built in buf (at least
 * CMSG_SPACE(n * sizeof(int)) bytes, aligned as struct cmsghdr). */
static inline void shunt_ctl_put_fds(struct msghdr *msg, void *buf, size_t len, const int *fds,
				     unsigned n)
{
	struct cmsghdr *cm;

	memset(buf, 0, len);
	msg->msg_control = buf;
	msg->msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
}

#define SHUNT_CTL_FD_REGION   0
#define SHUNT_CTL_FD_DOORBELL 1
#define SHUNT_CTL_NFDS        2

/* NOTIFY_SET / NOTIFY_CLEAR request and its answer (same struct, status set). */
struct shunt_ctl_notify {
	uint32_t magic;  /* SHUNT_ABI_MAGIC */
	uint32_t op;     /* SHUNT_CTL_NOTIFY_SET or SHUNT_CTL_NOTIFY_CLEAR */
	uint32_t idx;    /* notifier index, < nnotifiers */
	int32_t status;  /* answer: 0 or -errno */
};
_Static_assert(sizeof(struct shunt_ctl_notify) == 16, "notify size");

#endif /* SHUNT_CTL_H */
