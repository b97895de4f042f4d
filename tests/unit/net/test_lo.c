/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * lo suite: local delivery. A packet ipv4_output() sends to our own address never
 * reaches ARP or dp_tx(), is not delivered from inside the sending call, and comes
 * back through ipv4_input() at the next lo_input_burst() with its bytes intact;
 * the L4 checksum is neither computed nor checked (with and without TX offloads),
 * the IPv4 and ICMP ones are right; the budget bounds one call and what a delivery
 * provokes waits for the next; a full queue drops and counts; a chain is flattened;
 * lo_fini() frees what is left. The fixture fails on any leaked mbuf.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net/icmp.h"
#include "net/net.h"
#include "net_test.h"

/* A TCP segment of plen bytes from us to us, sent as tcp/ sends one. */
static void
send_self_tcp(uint32_t plen)
{
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_OUR_IP, plen), T_OUR_IP,
				     T_OUR_IP, IPPROTO_TCP), 0);
}

START_TEST(lo_tcp_queued_then_delivered_intact)
{
	uint8_t want[64];
	uint32_t wl;

	wl = t_tcp(want, T_OUR_IP, T_OUR_IP, "abcdefghij", 10);
	want[16] = want[17] = 0; /* not computed: the packet never leaves memory */
	send_self_tcp(10);
	/* queued: no ARP request, no frame, no delivery from inside the call */
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(fk.n_tcp, 0);
	ck_assert_uint_eq(tctx.net_stats.arp_req_tx, 0);
	ck_assert(lo_pending(&tctx));
	ck_assert_uint_eq(tctx.net_stats.ip_local_out, 1);

	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert(!lo_pending(&tctx));
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(fk.tcp[0].src_be, T_OUR_IP);
	ck_assert_uint_eq(fk.tcp[0].dst_be, T_OUR_IP);
	ck_assert_uint_eq(fk.tcp[0].len, wl);
	ck_assert_mem_eq(fk.tcp[0].data, want, wl);
	ck_assert_uint_eq(tctx.net_stats.ip_local_in, 1);
	ck_assert_uint_eq(tctx.net_stats.ip_rx, 1);
	ck_assert_uint_eq(tctx.net_stats.ip_tx, 1);
	ck_assert_uint_eq(t_drops(), 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 0);
}
END_TEST

/* With every TX offload on, nothing is left for a NIC to finish: no TX flags, the
 * IPv4 checksum computed, the receive side told the L4 checksum is good. */
START_TEST(lo_offloads_not_used)
{
	struct rte_mbuf *m;
	uint32_t hdr[5];

	tctx.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
			   RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	send_self_tcp(100);
	m = tctx.loq.pkts[tctx.loq.head & (DP_LO_QUEUE - 1)];
	ck_assert_uint_eq(m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK, 0);
	ck_assert_uint_eq(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
	memcpy(hdr, rte_pktmbuf_mtod(m, void *), sizeof(hdr));
	ck_assert_uint_eq(t_fold(t_sum(hdr, sizeof(hdr), 0)), 0xffff);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(fk.tcp[0].len, 120);
	ck_assert_uint_eq(t_drops(), 0);
}
END_TEST

/* Local packets skip ARP even with an unresolved table, and need no route (a /32
 * stack with no gateway still reaches itself). */
START_TEST(lo_no_route_needed)
{
	tctx.netmask_be = T_IP(255, 255, 255, 255);
	send_self_tcp(1);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_noroute, 0);
	ck_assert_uint_eq(tctx.net_stats.arp_held, 0);
}
END_TEST

START_TEST(lo_budget_bounds_one_call)
{
	unsigned i;

	for (i = 0; i < 5; i++)
		send_self_tcp(i);
	ck_assert_uint_eq(lo_input_burst(&tctx, 2), 2);
	ck_assert_uint_eq(fk.n_tcp, 2);
	ck_assert(lo_pending(&tctx));
	ck_assert_uint_eq(lo_input_burst(&tctx, 2), 2);
	ck_assert_uint_eq(lo_input_burst(&tctx, 2), 1);
	ck_assert(!lo_pending(&tctx));
	/* in order */
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(fk.tcp[i].len, 20 + i);
}
END_TEST

/* An echo request from us to us: its reply is queued by the delivery and waits for
 * the next call (no recursion), then is delivered and counted as an echo reply. */
START_TEST(lo_answer_waits_for_next_call)
{
	uint8_t icmp[12] = { RTE_IP_ICMP_ECHO_REQUEST, 0, 0, 0, 0x12, 0x34, 0, 1,
			     'p', 'i', 'n', 'g' };
	struct rte_mbuf *m;
	uint16_t ck = (uint16_t)~t_fold(t_sum(icmp, sizeof(icmp), 0));

	icmp[2] = (uint8_t)(ck >> 8);
	icmp[3] = (uint8_t)ck;
	m = t_mbuf(icmp, sizeof(icmp));
	ck_assert_int_eq(ipv4_output(&tctx, m, T_OUR_IP, T_OUR_IP, IPPROTO_ICMP), 0);

	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);  /* the request */
	ck_assert_uint_eq(tctx.net_stats.icmp_echo_reply_tx, 1);
	ck_assert(lo_pending(&tctx));                      /* the reply waits */
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_type, 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);  /* the reply */
	ck_assert_uint_eq(tctx.net_stats.icmp_rx, 2);
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_cksum, 0); /* computed: right */
	ck_assert_uint_eq(tctx.net_stats.icmp_drop_type, 1);  /* a reply: nothing to do */
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert(!lo_pending(&tctx));
}
END_TEST

/* A datagram from us to a closed port of ours: the port unreachable comes back to
 * us and reaches udp_notify_error() with the datagram quoted. */
START_TEST(lo_udp_closed_port_refused_locally)
{
	uint8_t udp[12] = { 0x9c, 0x40, 0x27, 0x0f, 0, 12, 0, 0, 'd', 'a', 't', 'a' };
	struct rte_mbuf *m = t_mbuf(udp, sizeof(udp));

	fk.udp_closed = true;
	ck_assert_int_eq(ipv4_output(&tctx, m, T_OUR_IP, T_OUR_IP, IPPROTO_UDP), 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_udp, 1);
	ck_assert_mem_eq(fk.udp[0].data + 8, "data", 4);
	ck_assert_uint_eq(tctx.net_stats.icmp_unreach_tx, 1);
	ck_assert_uint_eq(fk.n_uerr, 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_uerr, 1);
	ck_assert_int_eq(fk.uerr[0].err, ECONNREFUSED);
	ck_assert_uint_eq(fk.uerr[0].len, 20 + sizeof(udp));
	ck_assert_mem_eq(fk.uerr[0].data + 20, udp, 8);
	ck_assert_uint_eq(fk.n_tx, 0);
	ck_assert_uint_eq(t_drops(), 0);
}
END_TEST

START_TEST(lo_full_queue_drops_and_fini_frees)
{
	unsigned i;

	for (i = 0; i < DP_LO_QUEUE + 1; i++)
		send_self_tcp(0);
	ck_assert_uint_eq(tctx.net_stats.ip_local_out, DP_LO_QUEUE);
	ck_assert_uint_eq(tctx.net_stats.ip_drop_local_full, 1);
	ck_assert_uint_eq(lo_input_burst(&tctx, 4), 4);
	lo_fini(&tctx);
	ck_assert(!lo_pending(&tctx));
	ck_assert_uint_eq(tctx.net_stats.ip_drop_local_stop, DP_LO_QUEUE - 4);
	ck_assert_uint_eq(fk.n_tcp, 4);
	/* the teardown checks every mbuf came back to the pool */
}
END_TEST

/* A two-segment segment is flattened, not delivered truncated. */
START_TEST(lo_chain_flattened)
{
	struct rte_mbuf *m = t_tcp_mbuf(T_OUR_IP, T_OUR_IP, 10);
	struct rte_mbuf *tail = t_mbuf("0123456789", 10);
	uint8_t *p;

	ck_assert_int_eq(rte_pktmbuf_chain(m, tail), 0);
	ck_assert_int_eq(ipv4_output(&tctx, m, T_OUR_IP, T_OUR_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(fk.tcp[0].len, 40);
	p = fk.tcp[0].data;
	ck_assert_mem_eq(p + 20, "abcdefghij0123456789", 20);
}
END_TEST

/* What came in from the port carries the port's RX verdicts; answered to ourselves,
 * they are replaced, not merged (a BAD verdict would drop our own packet). */
START_TEST(lo_port_flags_replaced)
{
	struct rte_mbuf *m = t_tcp_mbuf(T_OUR_IP, T_OUR_IP, 3);

	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_BAD | RTE_MBUF_F_RX_IP_CKSUM_BAD;
	ck_assert_int_eq(ipv4_output(&tctx, m, T_OUR_IP, T_OUR_IP, IPPROTO_TCP), 0);
	ck_assert_uint_eq(lo_input_burst(&tctx, 32), 1);
	ck_assert_uint_eq(fk.n_tcp, 1);
	ck_assert_uint_eq(t_drops(), 0);
}
END_TEST

/* The MTU applies as on the wire: local delivery works exactly as the network. */
START_TEST(lo_mtu_applies)
{
	ck_assert_int_eq(ipv4_output(&tctx, t_tcp_mbuf(T_OUR_IP, T_OUR_IP, 1461), T_OUR_IP,
				     T_OUR_IP, IPPROTO_TCP), -EMSGSIZE);
	ck_assert(!lo_pending(&tctx));
	ck_assert_uint_eq(tctx.net_stats.ip_drop_too_big, 1);
}
END_TEST

Suite *
lo_suite(void)
{
	Suite *s = suite_create("lo");
	TCase *tc = tcase_create("lo");

	tcase_add_checked_fixture(tc, t_setup, t_teardown);
	tcase_add_test(tc, lo_tcp_queued_then_delivered_intact);
	tcase_add_test(tc, lo_offloads_not_used);
	tcase_add_test(tc, lo_no_route_needed);
	tcase_add_test(tc, lo_budget_bounds_one_call);
	tcase_add_test(tc, lo_answer_waits_for_next_call);
	tcase_add_test(tc, lo_udp_closed_port_refused_locally);
	tcase_add_test(tc, lo_full_queue_drops_and_fini_frees);
	tcase_add_test(tc, lo_chain_flattened);
	tcase_add_test(tc, lo_port_flags_replaced);
	tcase_add_test(tc, lo_mtu_applies);
	suite_add_tcase(s, tc);
	return s;
}
