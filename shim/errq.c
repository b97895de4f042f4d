/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The socket error queue of shunt sockets: recv/recvfrom/recvmsg with MSG_ERRQUEUE,
 * as Linux's ip_recv_error(). The dataplane queues one entry, the ICMP error (or
 * failed ARP resolution, which Linux turns into an ICMP from itself) that ended a
 * connect (abi.h, eq_*); it is there while eq_seq != eq_seen and keeps POLLERR set
 * until it is read (poll.c).
 *
 *   recvmsg(fd, msg, MSG_ERRQUEUE) (io.c) -> shim_errq_recv():
 *     entry there? no: -EAGAIN (never blocks)
 *     -> snapshot it -> claim it: CAS eq_seen = eq_seq (one reader wins)
 *     -> sock_dequeue_err_skb(): the pending socket error goes too (err_seen)
 *     -> data (the quoted transport bytes) into the iovec, MSG_TRUNC if cut
 *     -> msg_name: the failed destination
 *     -> cmsg SOL_IP/IP_RECVERR: sock_extended_err + offender, put_cmsg()'s
 *        truncation rules (MSG_CTRUNC)
 *     -> msg_flags |= MSG_ERRQUEUE
 *
 * Linux adds more cmsgs when IP_PKTINFO, IP_RECVTTL... are set on the socket
 * (ip_cmsg_recv()); the shim does not, here (cmsg.c does on datagrams).
 */
#include <string.h>
#include <time.h> /* linux/errqueue.h needs struct timespec */

#include <linux/errqueue.h>

#include "shim.h"

/* Copy len bytes of buf into iov. */
static void errq_copy_out(const struct iovec *iov, size_t iovcnt, const uint8_t *buf,
			  size_t len)
{
	size_t i, k;

	for (i = 0; i < iovcnt && len > 0; i++) {
		k = iov[i].iov_len < len ? iov[i].iov_len : len;
		memcpy(iov[i].iov_base, buf, k);
		buf += k;
		len -= k;
	}
}

ssize_t shim_errq_recv(struct shim_sock *s, struct msghdr *msg)
{
	struct shunt_sock *ss = s->ss;
	struct {
		struct sock_extended_err ee;
		struct sockaddr_in offender;
	} eh;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint8_t data[SHUNT_EQ_DATA];
	uint32_t seq, seen, dlen;
	size_t len, n, used;
	int rc, oflags = MSG_ERRQUEUE;

	rc = shim_iov_len(msg->msg_iov, (int)msg->msg_iovlen, &len);
	if (rc < 0)
		return rc;
	memset(&eh, 0, sizeof(eh));
	seen = SHUNT_LOAD_RLX(&ss->eq_seen);
	do {
		(void)SHUNT_LOAD_ACQ(&ss->ev_seq); /* pairs with the dp's release */
		seq = SHUNT_LOAD_RLX(&ss->eq_seq);
		if (seq == seen)
			return -EAGAIN;
		/* The dataplane wrote the entry before eq_seq; it writes a new one only
		 * for a later connect, so the snapshot is the entry of seq. */
		eh.ee.ee_errno = (uint32_t)ss->eq_errno;
		eh.ee.ee_origin = SO_EE_ORIGIN_ICMP;
		eh.ee.ee_type = ss->eq_type;
		eh.ee.ee_code = ss->eq_code;
		eh.ee.ee_info = ss->eq_info;
		eh.offender.sin_family = AF_INET;
		eh.offender.sin_addr.s_addr = ss->eq_offender;
		dst.sin_addr.s_addr = ss->eq_dst.addr;
		dst.sin_port = ss->eq_dst.port;
		dlen = ss->eq_len < SHUNT_EQ_DATA ? ss->eq_len : SHUNT_EQ_DATA;
		memcpy(data, ss->eq_data, dlen);
		/* one reader takes it: a loser finds it gone (seen == seq) and says EAGAIN */
	} while (!__atomic_compare_exchange_n(&ss->eq_seen, &seen, seq, false, __ATOMIC_ACQ_REL,
					      __ATOMIC_RELAXED));
	/* sock_dequeue_err_skb(): reading an ICMP error clears sk_err as well */
	SHUNT_STORE_REL(&ss->err_seen, SHUNT_LOAD_ACQ(&ss->err_seq));

	n = dlen;
	if (n > len) {
		oflags |= MSG_TRUNC;
		n = len;
	}
	errq_copy_out(msg->msg_iov, msg->msg_iovlen, data, n);
	if (msg->msg_name != NULL && dst.sin_port != 0) {
		/* move_addr_to_user(): min(namelen, size) copied, the size reported */
		if ((int)msg->msg_namelen > 0)
			memcpy(msg->msg_name, &dst, msg->msg_namelen < sizeof(dst) ?
			       msg->msg_namelen : sizeof(dst));
		msg->msg_namelen = sizeof(dst);
	} else if (msg->msg_name != NULL) {
		msg->msg_namelen = 0;
	}
	used = 0;
	shim_cmsg_put(msg, &used, SOL_IP, IP_RECVERR, &eh, sizeof(eh), &oflags);
	msg->msg_controllen = used;
	msg->msg_flags = oflags;
	return (ssize_t)n;
}
