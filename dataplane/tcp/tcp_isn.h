/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Initial sequence numbers, RFC 6528: ISN = M + F(localip, localport, remoteip,
 * remoteport, secretkey), M a 4 microsecond clock, F SipHash-2-4 keyed with a
 * 128-bit secret drawn from getrandom() at tcp_init().
 *
 *   tcp_connect() -> tcp_isn()
 */
#ifndef SHUNT_TCP_ISN_H
#define SHUNT_TCP_ISN_H

#include <stdint.h>

struct tcp_stack;

/* Draw fresh secrets: the ISN's and the two of SYN cookies (tcp_syncookie.c);
 * also seeds the port search. 0 or -errno. */
int tcp_isn_init(struct tcp_stack *ts);
uint32_t tcp_isn(const struct tcp_stack *ts, uint32_t laddr_be, uint16_t lport_be,
		 uint32_t raddr_be, uint16_t rport_be, uint64_t now_us);
/* SipHash-2-4 of len bytes (exposed for its test vectors). */
uint64_t tcp_isn_siphash(const uint64_t key[2], const uint8_t *in, uint32_t len);

#endif /* SHUNT_TCP_ISN_H */
