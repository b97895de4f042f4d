/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * TCP counters, one per event or drop reason (FreeBSD's tcpstat, as X-macros).
 */
#ifndef SHUNT_TCP_STATS_H
#define SHUNT_TCP_STATS_H

#include <stdint.h>

#define TCP_STATS(X) \
	X(tcp_rx) X(tcp_tx) X(tcp_drop_short) X(tcp_drop_bad_off) X(tcp_drop_no_conn) \
	X(tcp_rst_tx) X(tcp_rst_rx) X(tcp_drop_bad_seq) X(tcp_drop_bad_ack) \
	X(tcp_conn_attempt) X(tcp_conn_established) X(tcp_conn_refused) \
	X(tcp_conn_timeout) X(tcp_rexmit) X(tcp_rexmit_timeout) X(tcp_ooo_rx) \
	X(tcp_drop_nombuf) X(tcp_persist_timeout) X(tcp_keepalive_probe) X(tcp_keepalive_timeout) X(tcp_app_broken) \
	X(tcp_drop_no_ack) X(tcp_drop_paws) X(tcp_drop_rx_full) X(tcp_drop_ooo_full) \
	X(tcp_drop_bad_state) X(tcp_drop_after_close) X(tcp_challenge_ack) \
	X(tcp_challenge_ack_skipped) X(tcp_oow_ack_skipped) \
	X(tcp_fast_rexmit) X(tcp_persist_probe) X(tcp_dup_ack_rx) X(tcp_rx_fastpath) \
	X(tcp_conn_reset) X(tcp_icmp_err) X(tcp_icmp_ignored) \
	X(tcp_listen_child) X(tcp_conn_accepted) X(tcp_synack_rexmit) X(tcp_synack_timeout) \
	X(tcp_listen_child_reset) X(tcp_listen_child_rst_rx) X(tcp_listen_child_icmp) \
	X(tcp_listen_drop_full) X(tcp_listen_drop_synq) X(tcp_listen_drop_ack_full) \
	X(tcp_listen_drop_broken) X(tcp_listen_drop_noslot) X(tcp_listen_drop_nomem) \
	X(tcp_listen_drop_synfin) X(tcp_listen_drop_bad_addr) X(tcp_listen_drop_no_syn) \
	X(tcp_syncookies_sent) X(tcp_syncookies_ok) X(tcp_syncookies_failed) \
	X(tcp_sack_blocks_rx) X(tcp_sack_ignored) X(tcp_dsack_rx) X(tcp_sack_full) \
	X(tcp_sack_reneging) X(tcp_sack_recoveries) X(tcp_sack_rexmits) \
	X(tcp_rack_lost) X(tcp_rack_relost) X(tcp_rack_rto_repair) X(tcp_tlp_probes) \
	X(tcp_tlp_repaired) X(tcp_rto_undo) X(tcp_recovery_undo) X(tcp_dsack_undo) \
	X(tcp_tw_reused) X(tcp_icmp_out_of_window) X(tcp_pmtu_lowered) \
	X(tcp_pmtu_not_lower) X(tcp_pmtu_rexmit) X(tcp_pmtu_sync) X(tcp_mtu_blackhole) \
	X(tcp_cwnd_restart) X(tcp_hystart_exit) \
	X(tcp_ecn_negotiated) X(tcp_ecn_syn_fallback) X(tcp_ecn_ce_rx) X(tcp_ecn_ece_rx) \
	X(tcp_ecn_cwnd_reduced) X(tcp_ecn_cwr_tx) X(tcp_ecn_cwr_rx)

struct tcp_stats {
#define TCP_STAT_FIELD(name) uint64_t name;
	TCP_STATS(TCP_STAT_FIELD)
#undef TCP_STAT_FIELD
};

#endif /* SHUNT_TCP_STATS_H */
