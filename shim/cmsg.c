/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Control messages on what shunt sockets receive, as Linux's ip_cmsg_recv() and
 * put_cmsg() write them.
 *
 *   recvmsg() on a shunt UDP socket (io.c) -> shim_cmsg_dgram():
 *     IP_PKTINFO set on the socket    -> SOL_IP/IP_PKTINFO: the interface that
 *                                        owns the address the datagram was sent
 *                                        to (in the program's netns), that address
 *     IP_RECVORIGDSTADDR set          -> SOL_IP/IP_ORIGDSTADDR: address and port
 *   recvmsg(MSG_ERRQUEUE) (errq.c)    -> shim_cmsg_put(IP_RECVERR)
 *
 * The options are the program's: opt.c notes them as they are set (SHIM_CMSG_*
 * in shim_sock.cmsg_want) so a receive costs no getsockopt. IP_RECVTTL, IP_RECVTOS,
 * SO_TIMESTAMP* are kept on the placeholder but give no message on shunt's
 * datagrams (said once under SHUNT_LOG, as for every option not applied).
 *
 * The interface: shuntd's port is not a kernel interface. A program that asks for
 * IP_PKTINFO (dnsmasq, named) uses the index to find the interface it answers on,
 * so the index given is the one of the kernel interface that owns the stack's
 * address in the program's netns, as with Onload, where the kernel's interface
 * keeps the address it accelerates; 0 when no interface owns it.
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>
#include <time.h>

#include "shim.h"

void shim_cmsg_put(struct msghdr *msg, size_t *used, int level, int type, const void *data,
		   size_t len, int *oflags)
{
	size_t room = *used <= msg->msg_controllen ? msg->msg_controllen - *used : 0;
	size_t cmlen = CMSG_LEN(len);
	uint8_t *at = (uint8_t *)msg->msg_control + *used;
	struct cmsghdr h;

	if (msg->msg_control == NULL || room < sizeof(struct cmsghdr)) {
		*oflags |= MSG_CTRUNC;
		return;
	}
	if (room < cmlen) {
		*oflags |= MSG_CTRUNC;
		cmlen = room;
	}
	h.cmsg_len = cmlen;
	h.cmsg_level = level;
	h.cmsg_type = type;
	memcpy(at, &h, sizeof(h));
	memcpy(at + CMSG_LEN(0), data, cmlen - CMSG_LEN(0));
	*used += CMSG_SPACE(len) < room ? CMSG_SPACE(len) : room;
}

/* The index of the interface that owns addr (network order) in our netns, or 0.
 * Looked up at most once a second per address (getifaddrs() is a netlink dump);
 * the answer is cached as one word (address, index) and its second, so a receive
 * takes no lock: racing lookups only both do the work. */
static int cmsg_ifindex(uint32_t addr)
{
	static _Atomic uint64_t cached; /* addr << 32 | index */
	static _Atomic int64_t cached_at = -1;
	struct ifaddrs *ifs, *i;
	struct timespec ts;
	uint64_t c;
	int index = 0;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	c = atomic_load(&cached);
	if (atomic_load(&cached_at) == ts.tv_sec && (uint32_t)(c >> 32) == addr)
		return (int)(uint32_t)c;
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i != NULL && index == 0; i = i->ifa_next)
			if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == addr)
				index = (int)if_nametoindex(i->ifa_name);
		freeifaddrs(ifs);
	}
	atomic_store(&cached, (uint64_t)addr << 32 | (uint32_t)index);
	atomic_store(&cached_at, ts.tv_sec);
	return index;
}

void shim_cmsg_dgram(struct shim_sock *s, struct msghdr *msg, uint32_t dst, int *oflags)
{
	unsigned want = atomic_load_explicit(&s->cmsg_want, memory_order_relaxed);
	size_t used = 0;

	if (dst == 0) /* a dataplane that does not say: the socket's own address */
		dst = s->ss->local.addr;
	if (want & SHIM_CMSG_PKTINFO) {
		struct in_pktinfo pi = { .ipi_ifindex = cmsg_ifindex(dst) };

		pi.ipi_spec_dst.s_addr = dst;
		pi.ipi_addr.s_addr = dst;
		shim_cmsg_put(msg, &used, SOL_IP, IP_PKTINFO, &pi, sizeof(pi), oflags);
	}
	if (want & SHIM_CMSG_ORIGDSTADDR) {
		struct sockaddr_in o = { .sin_family = AF_INET, .sin_port = s->ss->local.port };

		o.sin_addr.s_addr = dst;
		shim_cmsg_put(msg, &used, SOL_IP, IP_ORIGDSTADDR, &o, sizeof(o), oflags);
	}
	msg->msg_controllen = used;
}
