/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Socket addresses at the edge of the shim, for both families a shunt socket can
 * have. Inside, a shunt socket speaks IPv4 only (struct sockaddr_in); an AF_INET6
 * TCP socket (dual-stack, IPV6_V6ONLY off: what `iperf3 -s`, Python's
 * http.server and Node.js listen on) reaches the stack through IPv4-mapped
 * addresses, as Linux's tcp_v6_connect() and inet6_bind() hand them to IPv4:
 *
 *   in:  ::ffff:a.b.c.d -> a.b.c.d      :: (any) -> 0.0.0.0
 *        any other IPv6 address -> not shunt's (the kernel serves the socket)
 *   out: a.b.c.d -> ::ffff:a.b.c.d      0.0.0.0 -> ::
 *
 * Copies to and from the program go through shim_copyin/out: a bad pointer is
 * EFAULT, not a crash.
 */
#include <netinet/in.h>
#include <string.h>

#include "real.h"
#include "shim.h"

#define ADDR_SIN6_LEN_RFC2133 24 /* linux/in6.h: a sockaddr_in6 without the scope id */

bool shim_addr_v6only(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len) == 0 && v != 0;
}

int shim_addr_in(int family, int fd, const struct sockaddr *addr, socklen_t len,
		 struct sockaddr_in *out)
{
	struct sockaddr_in6 a6;

	if ((int)len < 0 || len > sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (family == AF_INET) {
		if (len < sizeof(*out))
			return -EINVAL;
		return shim_copyin(out, addr, sizeof(*out)) < 0 ? -EFAULT : 0;
	}
	/* inet6_bind() / tcp_v6_connect(): RFC 2133's length is enough */
	if (len < ADDR_SIN6_LEN_RFC2133)
		return -EINVAL;
	memset(&a6, 0, sizeof(a6));
	if (shim_copyin(&a6, addr, ADDR_SIN6_LEN_RFC2133) < 0)
		return -EFAULT;
	if (a6.sin6_family != AF_INET6)
		return 1; /* the kernel says what it thinks of it */
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = a6.sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr))
		memcpy(&out->sin_addr, &a6.sin6_addr.s6_addr[12], 4);
	else if (!IN6_IS_ADDR_UNSPECIFIED(&a6.sin6_addr))
		return 1; /* IPv6 itself: the kernel's */
	return shim_addr_v6only(fd) ? 1 : 0; /* no IPv4 on this socket */
}

void shim_addr_form(int family, const struct sockaddr_in *a, struct sockaddr_storage *st,
		    socklen_t *size)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)st;

	memset(st, 0, sizeof(*st));
	if (family == AF_INET) {
		memcpy(st, a, sizeof(*a));
		((struct sockaddr_in *)st)->sin_family = AF_INET;
		*size = sizeof(*a);
		return;
	}
	a6->sin6_family = AF_INET6;
	a6->sin6_port = a->sin_port;
	if (a->sin_addr.s_addr != 0) {
		a6->sin6_addr.s6_addr[10] = 0xff;
		a6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&a6->sin6_addr.s6_addr[12], &a->sin_addr, 4);
	}
	*size = sizeof(*a6);
}

int shim_addr_out(int family, const struct sockaddr_in *a, struct sockaddr *addr,
		  socklen_t *alen)
{
	struct sockaddr_storage st;
	socklen_t size, len = *alen;

	if ((int)len < 0)
		return -EINVAL;
	shim_addr_form(family, a, &st, &size);
	/* move_addr_to_user(): as much as fits, and the full size */
	if (shim_copyout(addr, &st, len < size ? len : size) < 0)
		return -EFAULT;
	*alen = size;
	return 0;
}
