/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * SYN cookies, as Linux's net.ipv4.tcp_syncookies = 1 (net/ipv4/syncookies.c):
 * when a listener's SYN queue is full, the SYN is answered with a SYN-ACK whose
 * ISN is a cookie and nothing is kept; an ACK that matches no connection and whose
 * SEG.ACK - 1 is a valid cookie makes the child then.
 *
 *   listen_input() (tcp_in.c), SYN, SYN queue full -> tcp_syncookie_make()
 *     [+ tcp_syncookie_tsval()] -> tcp_send_hdr() (SYN-ACK), listener stamped
 *   listen_input(), ACK, cookies sent in the last 2 minutes
 *     -> tcp_syncookie_check() [+ tcp_syncookie_ts_ws()] -> child -> ESTABLISHED
 *
 * The cookie is Linux's secure_tcp_syn_cookie(), with SipHash-2-4 (tcp_isn.c) and
 * two 128-bit secrets drawn from getrandom() at tcp_init():
 *   H0(4-tuple) + SEG.SEQ + (count << 24) + ((H1(4-tuple, count) + mss index) & 2^24-1)
 * count = minutes of ctx->now_us; a cookie is good while count moved by less than
 * TCP_SYNCOOKIE_MAX_AGE (it was made this minute or the one before).
 * The MSS index selects msstab[] = { 536, 1300, 1440, 1460 }.
 *
 * With timestamps on the SYN, the SYN-ACK's TSval carries the peer's window shift
 * in its low 4 bits (0xf: none), as Linux's cookie_init_timestamp(); the ACK echoes
 * it in TSecr. Without timestamps the SYN-ACK offers no window scaling, and the
 * connection has none (Linux: tcp_clear_options() when !saw_tstamp).
 */
#ifndef SHUNT_TCP_SYNCOOKIE_H
#define SHUNT_TCP_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

struct tcp_stack;

#define TCP_SYNCOOKIE_PERIOD_US 60000000ull /* Linux TCP_SYNCOOKIE_PERIOD: a minute */
#define TCP_SYNCOOKIE_MAX_AGE   2           /* Linux MAX_SYNCOOKIE_AGE, in periods */
/* Linux TCP_SYNCOOKIE_VALID: ACKs are checked against cookies for this long after
 * the listener last sent one */
#define TCP_SYNCOOKIE_VALID_US  (TCP_SYNCOOKIE_MAX_AGE * TCP_SYNCOOKIE_PERIOD_US)
#define TCP_SYNCOOKIE_NO_WS     0xf         /* Linux TS_OPT_WSCALE_MASK */

/* The ISN for a SYN from saddr:sport (the peer) to daddr:dport (us) with sequence
 * number sseq, at now_us. *mss is the MSS the SYN offered (0: none, 536 is
 * assumed); the cookie carries the largest msstab[] entry not above it (536 if
 * all are), written back to *mss. */
uint32_t tcp_syncookie_make(const struct tcp_stack *ts, uint32_t saddr_be, uint16_t sport_be,
			    uint32_t daddr_be, uint16_t dport_be, uint32_t sseq, uint16_t *mss,
			    uint64_t now_us);
/* The MSS cookie carries if it was made by tcp_syncookie_make() for this 4-tuple
 * and sseq less than TCP_SYNCOOKIE_MAX_AGE minutes before now_us; 0 if not. For
 * an ACK: cookie = SEG.ACK - 1, sseq = SEG.SEQ - 1. */
uint16_t tcp_syncookie_check(const struct tcp_stack *ts, uint32_t saddr_be, uint16_t sport_be,
			     uint32_t daddr_be, uint16_t dport_be, uint32_t sseq,
			     uint32_t cookie, uint64_t now_us);
/* TSval for a cookie SYN-ACK at our ms clock now_ms, carrying the peer's shift
 * snd_ws (TCP_SYNCOOKIE_NO_WS: it offered none) and whether it offered SACK: not
 * after now_ms, its low 6 bits the options as Linux lays them out (bit 4 SACK,
 * bit 5 ECN: the SYN-ACK agreed to it). */
uint32_t tcp_syncookie_tsval(uint32_t now_ms, uint8_t snd_ws, bool sack_ok, bool ecn_ok);
/* The peer's shift an echoed cookie TSval (TSecr) carries, or TCP_SYNCOOKIE_NO_WS. */
uint8_t tcp_syncookie_ts_ws(uint32_t tsecr);
/* Whether the SYN an echoed cookie TSval answers offered SACK. */
bool tcp_syncookie_ts_sack(uint32_t tsecr);
/* Whether the cookie SYN-ACK agreed to ECN (Linux TS_OPT_ECN). */
bool tcp_syncookie_ts_ecn(uint32_t tsecr);

#endif /* SHUNT_TCP_SYNCOOKIE_H */
