/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * tcp_wire: header/option parser and builder on golden bytes; truncated and
 * malformed input (each truncation parsed from an exactly-sized heap copy, so ASan
 * or valgrind catch any read past the end).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/tcp_wire.h"

/* A Linux SYN: 40000 -> 80, seq 0x01020304, win 64240,
 * MSS 1460, SACK_PERM, TS 100/0, NOP, WS 7 */
static const uint8_t linux_syn[40] = {
	0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x64,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

static int parse_copy(const uint8_t *src, uint32_t len, struct tcp_seg *seg)
{
	uint8_t *p = malloc(len ? len : 1);
	int rc;

	memcpy(p, src, len);
	rc = tcp_wire_parse(p, len, seg);
	free(p);
	return rc;
}

START_TEST(parse_linux_syn)
{
	struct tcp_seg s;

	ck_assert_int_eq(tcp_wire_parse(linux_syn, sizeof(linux_syn), &s), 0);
	ck_assert_uint_eq(s.sport_be, 0x409c); /* 40000, network order in memory */
	ck_assert_uint_eq(s.dport_be, 0x5000);
	ck_assert_uint_eq(s.seq, 0x01020304);
	ck_assert_uint_eq(s.ack, 0);
	ck_assert_uint_eq(s.flags, TCP_SYN);
	ck_assert_uint_eq(s.wnd, 64240);
	ck_assert_uint_eq(s.hdr_len, 40);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_uint_eq(s.mss, 1460);
	ck_assert(s.sack_ok);
	ck_assert(s.has_ts);
	ck_assert_uint_eq(s.tsval, 100);
	ck_assert_uint_eq(s.tsecr, 0);
	ck_assert(s.has_ws);
	ck_assert_uint_eq(s.ws, 7);
}
END_TEST

START_TEST(parse_truncated)
{
	struct tcp_seg s;
	uint32_t n;

	for (n = 0; n < TCP_HDR_LEN; n++)
		ck_assert_int_eq(parse_copy(linux_syn, n, &s), -EMSGSIZE);
	for (; n < sizeof(linux_syn); n++)
		ck_assert_int_eq(parse_copy(linux_syn, n, &s), -EBADMSG);
	ck_assert_int_eq(parse_copy(linux_syn, sizeof(linux_syn), &s), 0);
}
END_TEST

START_TEST(parse_bad_offset)
{
	uint8_t b[40];
	struct tcp_seg s;

	memcpy(b, linux_syn, sizeof(b));
	b[12] = 0x40; /* 4 words < 5 */
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), -EBADMSG);
	b[12] = 0xf0; /* 60 bytes > 40 */
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), -EBADMSG);
}
END_TEST

START_TEST(parse_malformed_options)
{
	uint8_t b[40];
	struct tcp_seg s;

	/* zero option length: parsing stops, MSS before it kept, nothing after */
	memcpy(b, linux_syn, sizeof(b));
	b[25] = 0;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.mss, 1460);
	ck_assert(!s.sack_ok && !s.has_ts && !s.has_ws);

	/* TS claiming more bytes than remain */
	memcpy(b, linux_syn, sizeof(b));
	b[27] = 30;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert(s.sack_ok && !s.has_ts && !s.has_ws);

	/* window scale 15 is used as 14 (RFC 7323 2.3) */
	memcpy(b, linux_syn, sizeof(b));
	b[39] = 15;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.ws, 14);

	/* an MSS option of the wrong length is skipped by its length, not read */
	memcpy(b, linux_syn, sizeof(b));
	b[20] = TCP_OPT_NOP;
	b[21] = TCP_OPT_MSS;
	b[22] = 3;
	b[23] = 0x05;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.mss, 0);
	ck_assert(s.sack_ok && s.has_ts && s.has_ws);

	/* a kind byte as the last byte of the header, with no length */
	memcpy(b, linux_syn, sizeof(b));
	b[36] = 1;
	b[37] = 1;
	b[38] = 1;
	b[39] = TCP_OPT_WS;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert(!s.has_ws && s.has_ts);

	/* EOL ends the list */
	memcpy(b, linux_syn, sizeof(b));
	b[24] = TCP_OPT_EOL;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert(!s.sack_ok && !s.has_ts && !s.has_ws);

	/* MSS and WS outside a SYN are ignored */
	memcpy(b, linux_syn, sizeof(b));
	b[13] = TCP_ACK;
	ck_assert_int_eq(parse_copy(b, sizeof(b), &s), 0);
	ck_assert(s.mss == 0 && !s.has_ws && !s.sack_ok && s.has_ts);
}
END_TEST

START_TEST(parse_payload)
{
	uint8_t b[20 + 12 + 5] = {
		0x00, 0x50, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0x18, 0x01, 0x00, 0, 0, 0, 0,
		1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 'h', 'e', 'l', 'l', 'o',
	};
	struct tcp_seg s;

	ck_assert_int_eq(tcp_wire_parse(b, sizeof(b), &s), 0);
	ck_assert_uint_eq(s.flags, TCP_ACK | TCP_PSH);
	ck_assert_uint_eq(s.len, 5);
	ck_assert_uint_eq(s.hdr_len, 32);
	ck_assert(s.has_ts && s.tsval == 7 && s.tsecr == 9);
	ck_assert_int_eq(memcmp(s.data, "hello", 5), 0);
}
END_TEST

/* A Linux SYN (tcp_options_write()): MSS, SACK_PERM folded into the timestamp's
 * NOP NOP, NOP WS; 20 bytes of options. */
START_TEST(build_syn_golden)
{
	static const uint8_t want[40] = {
		0x9c, 0x40, 0x00, 0x50, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00,
		0xa0, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
		0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x03, 0xe8,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
	};
	struct tcp_hdr_out h = {
		.sport_be = 0x409c, .dport_be = 0x5000, .seq = 0xdeadbeef, .flags = TCP_SYN,
		.wnd = 65535, .mss = 1460, .has_ws = true, .ws = 7, .has_ts = true,
		.tsval = 1000, .sack_ok = true,
	};
	uint8_t b[60];

	ck_assert_uint_eq(tcp_wire_hdr_len(&h), 40);
	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), 40);
	ck_assert_int_eq(memcmp(b, want, 40), 0);
	ck_assert_int_eq(tcp_wire_build(b, 39, &h), -ENOSPC);
}
END_TEST

/* Linux's SYN-ACKs for what a SYN offered, options only (tcp_synack_options() then
 * tcp_options_write()): each option answered, in the order and padding Linux uses. */
static const struct {
	bool ts, sack, ws;
	uint8_t len;
	uint8_t opt[20];
} synack_golden[] = {
	/* no timestamp: mss, nop nop sackOK, nop wscale */
	{ false, true, true, 12, { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02,
				   0x01, 0x03, 0x03, 0x07 } },
	/* timestamp without SACK: mss, nop nop TS, nop wscale */
	{ true, false, true, 20, { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a,
				   0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
				   0x01, 0x03, 0x03, 0x07 } },
	/* timestamp and SACK, no wscale: mss, sackOK TS */
	{ true, true, false, 16, { 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
				   0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02 } },
	/* SACK alone: mss, nop nop sackOK */
	{ false, true, false, 8, { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02 } },
	/* nothing but the MSS */
	{ false, false, false, 4, { 0x02, 0x04, 0x05, 0xb4 } },
};

START_TEST(build_synack_golden)
{
	struct tcp_hdr_out h = {
		.flags = TCP_SYN | TCP_ACK, .mss = 1460, .has_ts = synack_golden[_i].ts,
		.tsval = 1, .tsecr = 2, .sack_ok = synack_golden[_i].sack,
		.has_ws = synack_golden[_i].ws, .ws = 7,
	};
	uint8_t b[60];

	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), TCP_HDR_LEN + synack_golden[_i].len);
	ck_assert_int_eq(memcmp(b + TCP_HDR_LEN, synack_golden[_i].opt, synack_golden[_i].len),
			 0);
}
END_TEST

START_TEST(build_ack_golden)
{
	static const uint8_t want[32] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
		0x80, 0x10, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
	};
	struct tcp_hdr_out h = {
		.sport_be = 0x5000, .dport_be = 0x409c, .seq = 1, .ack = 2, .flags = TCP_ACK,
		.wnd = 4096, .mss = 1460 /* ignored outside SYN */, .has_ts = true,
		.tsval = 5, .tsecr = 6,
	};
	uint8_t b[60];
	struct tcp_seg s;

	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), 32);
	ck_assert_int_eq(memcmp(b, want, 32), 0);
	/* and it parses back */
	ck_assert_int_eq(tcp_wire_parse(b, 32, &s), 0);
	ck_assert(s.seq == 1 && s.ack == 2 && s.wnd == 4096 && s.tsval == 5 && s.tsecr == 6);
}
END_TEST

/* An ACK with a timestamp and SACK blocks, as Linux lays it out: NOP NOP TS, NOP
 * NOP SACK len 2+8n; at most 3 blocks beside a timestamp, 4 without. */
START_TEST(build_ack_sack_golden)
{
	static const uint8_t want[52] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
		0xd0, 0x10, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
		0x01, 0x01, 0x05, 0x12,
		0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x05, 0xdc,
		0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x08, 0xfc,
	};
	struct tcp_hdr_out h = {
		.sport_be = 0x5000, .dport_be = 0x409c, .seq = 1, .ack = 2, .flags = TCP_ACK,
		.wnd = 4096, .has_ts = true, .tsval = 5, .tsecr = 6, .nsack = 2,
		.sack = { { 1000, 1500 }, { 2000, 2300 } },
	};
	uint8_t b[60];
	struct tcp_seg s;

	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), 52);
	ck_assert_int_eq(memcmp(b, want, 52), 0);
	ck_assert_int_eq(tcp_wire_parse(b, 52, &s), 0);
	ck_assert(s.tsval == 5 && s.tsecr == 6 && s.len == 0);
	ck_assert_uint_eq(s.nsack, 2);
	ck_assert(s.sack[0][0] == 1000 && s.sack[0][1] == 1500);
	ck_assert(s.sack[1][0] == 2000 && s.sack[1][1] == 2300);
	h.nsack = 4; /* a 4th does not fit beside the timestamp */
	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), 20 + 12 + 4 + 24);
	h.has_ts = false;
	ck_assert_int_eq(tcp_wire_build(b, sizeof(b), &h), 20 + 4 + 32);
	ck_assert_uint_eq(b[23], 2 + 32);
}
END_TEST

/* SACK blocks as a peer sends them (golden bytes from a Linux receiver's ACK with
 * one D-SACK and two blocks, then four blocks without a timestamp), and the
 * malformed ones: a length that is not 2 + 8n, a lone kind-5 header, a SACK that
 * runs past the options, and one in a SYN. */
START_TEST(parse_sack_blocks)
{
	static const uint8_t three[60] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10, 0x00,
		0xf0, 0x10, 0x01, 0xf5, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x30, 0x39,
		0x01, 0x01, 0x05, 0x1a,
		0x00, 0x00, 0x0b, 0xb8, 0x00, 0x00, 0x0f, 0xa0, /* 3000-4000: below ack */
		0x00, 0x00, 0x1f, 0x40, 0x00, 0x00, 0x23, 0x28, /* 8000-9000 */
		0x00, 0x00, 0x17, 0x70, 0x00, 0x00, 0x1b, 0x58, /* 6000-7000 */
	};
	static const uint8_t four[56] = {
		0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xf0,
		0xe0, 0x10, 0x01, 0xf5, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x01, 0x05, 0x22,
		0xff, 0xff, 0xff, 0xf8, 0x00, 0x00, 0x00, 0x10, /* wraps */
		0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x30,
		0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x50,
		0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x70,
	};
	uint8_t b[60];
	struct tcp_seg s;

	ck_assert_int_eq(tcp_wire_parse(three, sizeof(three), &s), 0);
	ck_assert(s.has_ts && s.tsval == 123456 && s.tsecr == 12345);
	ck_assert_uint_eq(s.ack, 4096);
	ck_assert_uint_eq(s.nsack, 3);
	ck_assert(s.sack[0][0] == 3000 && s.sack[0][1] == 4000);
	ck_assert(s.sack[1][0] == 8000 && s.sack[1][1] == 9000);
	ck_assert(s.sack[2][0] == 6000 && s.sack[2][1] == 7000);

	ck_assert_int_eq(tcp_wire_parse(four, sizeof(four), &s), 0);
	ck_assert(!s.has_ts);
	ck_assert_uint_eq(s.nsack, 4);
	ck_assert(s.sack[0][0] == 0xfffffff8u && s.sack[0][1] == 0x10);
	ck_assert(s.sack[3][0] == 0x60 && s.sack[3][1] == 0x70);

	/* length 18 - 1 = 17: not 2 + 8n, skipped; the timestamp after it still read */
	memcpy(b, three, 60);
	b[12] = 0xe0;
	memcpy(b + 20, (const uint8_t[]){ 0x05, 0x11 }, 2);
	memset(b + 22, 0, 15);
	memcpy(b + 37, (const uint8_t[]){ 0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 9, 0, 0, 0, 0,
					    0, 0, 0, 0, 0 }, 19);
	ck_assert_int_eq(tcp_wire_parse(b, 56, &s), 0);
	ck_assert_uint_eq(s.nsack, 0);
	ck_assert(s.has_ts && s.tsval == 7 && s.tsecr == 9);

	/* kind 5 length 2 (no block) */
	memcpy(b, three, 20);
	b[12] = 0x60;
	memcpy(b + 20, (const uint8_t[]){ 0x01, 0x01, 0x05, 0x02 }, 4);
	ck_assert_int_eq(tcp_wire_parse(b, 24, &s), 0);
	ck_assert_uint_eq(s.nsack, 0);

	/* a SACK of two blocks (18 bytes) in 12 option bytes: ends parsing unread */
	memcpy(b, three, 20);
	b[12] = 0x80;
	memcpy(b + 20, (const uint8_t[]){ 0x01, 0x01, 0x05, 0x12, 0, 0, 0, 1, 0, 0, 0, 2 },
	       12);
	ck_assert_int_eq(tcp_wire_parse(b, 32, &s), 0);
	ck_assert_uint_eq(s.nsack, 0);

	/* a SYN's blocks are ignored */
	memcpy(b, three, 60);
	b[13] = TCP_SYN | TCP_ACK;
	ck_assert_int_eq(tcp_wire_parse(b, 60, &s), 0);
	ck_assert_uint_eq(s.nsack, 0);
	ck_assert(s.has_ts);
}
END_TEST

START_TEST(build_syn_sack_roundtrip)
{
	struct tcp_hdr_out h = {
		.flags = TCP_SYN | TCP_ACK, .mss = 1400, .sack_ok = true, .has_ws = true,
		.ws = 9,
	};
	uint8_t b[60];
	struct tcp_seg s;
	int n = tcp_wire_build(b, sizeof(b), &h);

	ck_assert_int_eq(n, 32);
	ck_assert_int_eq(tcp_wire_parse(b, (uint32_t)n, &s), 0);
	ck_assert(s.mss == 1400 && s.sack_ok && s.has_ws && s.ws == 9 && !s.has_ts);
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("tcp_wire");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, parse_linux_syn);
	tcase_add_test(tc, parse_truncated);
	tcase_add_test(tc, parse_bad_offset);
	tcase_add_test(tc, parse_malformed_options);
	tcase_add_test(tc, parse_payload);
	tcase_add_test(tc, build_syn_golden);
	tcase_add_loop_test(tc, build_synack_golden, 0,
			    sizeof(synack_golden) / sizeof(synack_golden[0]));
	tcase_add_test(tc, build_ack_golden);
	tcase_add_test(tc, build_ack_sack_golden);
	tcase_add_test(tc, build_syn_sack_roundtrip);
	tcase_add_test(tc, parse_sack_blocks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wire_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
