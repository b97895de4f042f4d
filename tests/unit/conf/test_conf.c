/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Unit tests for dataplane/conf.c: every key's good and bad values, the defaults,
 * the file reader (comments, CRLF, no final newline, long lines, NUL bytes,
 * duplicates), file:line in messages, conf_finish()'s cross-key checks and
 * conf_from_args() (-c FILE, --key=value and --key value, the command line winning).
 *
 * Each test writes its files under a fresh mkdtemp() directory removed in teardown.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shunt/ctl.h>

#include "conf.h"

static char tdir[64];
static char tpath[128];
static char err[4096]; /* as main.c: --help lists every key */
static struct dp_conf c;

static void setup(void)
{
	snprintf(tdir, sizeof(tdir), "%s", "/tmp/shunt-conf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(tpath, sizeof(tpath), "%s/shunt.conf", tdir);
	err[0] = '\0';
	conf_defaults(&c);
}

static void teardown(void)
{
	unlink(tpath);
	rmdir(tdir);
}

/* Write len bytes (the text may hold NULs) to tpath. */
static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(tpath, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static int load(const char *text)
{
	write_file(text, strlen(text));
	return conf_load_file(&c, tpath, err, sizeof(err));
}

/* conf_set() from the command line, on a fresh default config. */
static int set1(const char *key, const char *value)
{
	conf_defaults(&c);
	err[0] = '\0';
	return conf_set(&c, key, value, "--x", err, sizeof(err));
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void assert_err_has(const char *needle)
{
	ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
}

/* ---- defaults ------------------------------------------------------------------------ */

START_TEST(test_defaults)
{
	conf_defaults(&c);
	ck_assert_str_eq(c.control, SHUNT_CTL_DEFAULT_PATH);
	ck_assert_str_eq(c.eal, "");
	ck_assert(!c.has_ip);
	ck_assert_uint_eq(c.gateway_be, 0);
	ck_assert(!c.offload_set);
	ck_assert_uint_eq(c.syn_retries, 6);
	ck_assert_uint_eq(c.timestamps, 1);
	ck_assert_uint_eq(c.sack, 1);
	ck_assert_uint_eq(c.window_scaling, 1);
	ck_assert_uint_eq(c.mtu_probing, 0); /* Linux's tcp_mtu_probing */
	ck_assert_uint_eq(c.congestion, SHUNT_CC_CUBIC);
	ck_assert_uint_eq(c.slow_start_after_idle, 1);
	ck_assert_uint_eq(c.ecn, 2);         /* Linux's tcp_ecn: accept when asked */
	ck_assert_uint_eq(c.ecn_fallback, 1);
	ck_assert_uint_eq(c.rmem_max, 6291456);
	ck_assert_int_eq(c.idle, CONF_IDLE_ADAPTIVE);
	ck_assert_uint_eq(c.idle_spin_us, 200);
	ck_assert_uint_eq(c.eph_lo, 32768);
	ck_assert_uint_eq(c.eph_hi, 60999);
	ck_assert_uint_eq(c.max_sockets, 65536);
	ck_assert_uint_eq(c.rx_buf, 262144);
	ck_assert_uint_eq(c.tx_buf, 262144);
	ck_assert_uint_eq(c.mbufs, 8191);
	ck_assert_int_eq(c.log_level, LOG_INFO);
}
END_TEST

/* ---- each key: good values ----------------------------------------------------------- */

START_TEST(test_key_eal)
{
	ck_assert_int_eq(set1("eal", "--no-huge -m 256 --vdev=net_tap0,iface=sht0 -l 0"), 0);
	ck_assert_str_eq(c.eal, "--no-huge -m 256 --vdev=net_tap0,iface=sht0 -l 0");
	ck_assert_int_eq(set1("eal", ""), 0);
	ck_assert_str_eq(c.eal, "");
}
END_TEST

START_TEST(test_key_eal_too_long)
{
	char big[CONF_EAL_MAX + 1];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(set1("eal", big), -EINVAL);
	big[CONF_EAL_MAX - 1] = '\0'; /* exactly fits with its NUL */
	ck_assert_int_eq(set1("eal", big), 0);
	ck_assert_uint_eq(strlen(c.eal), CONF_EAL_MAX - 1);
}
END_TEST

START_TEST(test_key_ip)
{
	ck_assert_int_eq(set1("ip", "10.77.0.2/24"), 0);
	ck_assert(c.has_ip);
	ck_assert_uint_eq(c.ip_be, ip("10.77.0.2")); /* host bits kept */
	ck_assert_uint_eq(c.prefix_len, 24);
	ck_assert_int_eq(set1("ip", "192.168.1.1/32"), 0);
	ck_assert_uint_eq(c.prefix_len, 32);
	ck_assert_int_eq(set1("ip", "10.0.0.1/1"), 0);
	ck_assert_uint_eq(c.prefix_len, 1);
}
END_TEST

static const char *const bad_ips[] = {
	"10.77.0.300/24", "10.77.0.2", "10.77.0.2/0", "10.77.0.2/33", "10.77.0.2/",
	"10.77.0/24", "10.77.0.2/24x", "10.77.0.2/-1", " 10.77.0.2/24", "a.b.c.d/8",
	"010.77.0.2/24", "10.77.0.2/2 4", "", "127.0.0.1/8", "0.0.0.0/8", "224.0.0.1/4",
	"255.255.255.255/32", "10.77.0.2/99999999999999999999",
};

START_TEST(test_key_ip_bad)
{
	const char *v = bad_ips[_i];

	ck_assert_int_eq(set1("ip", "10.1.1.1/8"), 0);
	err[0] = '\0';
	ck_assert_msg(conf_set(&c, "ip", v, "--ip", err, sizeof(err)) == -EINVAL,
		      "'%s' accepted", v);
	ck_assert_uint_eq(c.ip_be, ip("10.1.1.1")); /* a rejected value changes nothing */
	ck_assert_uint_eq(c.prefix_len, 8);
	assert_err_has("--ip: ");
	assert_err_has(v);
}
END_TEST

START_TEST(test_key_gateway)
{
	ck_assert_int_eq(set1("gateway", "10.77.0.1"), 0);
	ck_assert_uint_eq(c.gateway_be, ip("10.77.0.1"));
	ck_assert_int_eq(set1("gateway", "10.77.0.256"), -EINVAL);
	ck_assert_int_eq(set1("gateway", "10.77.0.1/24"), -EINVAL);
	ck_assert_int_eq(set1("gateway", "0.0.0.0"), -EINVAL);
	ck_assert_int_eq(set1("gateway", ""), -EINVAL);
}
END_TEST

START_TEST(test_key_control)
{
	char path[CONF_PATH_MAX + 1];

	ck_assert_int_eq(set1("control", "/tmp/s.sock"), 0);
	ck_assert_str_eq(c.control, "/tmp/s.sock");
	ck_assert_int_eq(set1("control", "relative.sock"), -EINVAL);
	assert_err_has("absolute");
	ck_assert_int_eq(set1("control", ""), -EINVAL);
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[CONF_PATH_MAX] = '\0'; /* 108 bytes: one too many for sun_path */
	ck_assert_int_eq(set1("control", path), -EINVAL);
	ck_assert_str_eq(c.control, SHUNT_CTL_DEFAULT_PATH);
	path[CONF_PATH_MAX - 1] = '\0'; /* 107 bytes fit */
	ck_assert_int_eq(set1("control", path), 0);
}
END_TEST

START_TEST(test_key_offload)
{
	ck_assert_int_eq(set1("offload", "10.77.0.0/24, 192.168.7.9/16 ,10.1.2.3"), 0);
	ck_assert(c.offload_set);
	ck_assert_uint_eq(c.n_offload, 3);
	ck_assert_uint_eq(c.offload[0].addr_be, ip("10.77.0.0"));
	ck_assert_uint_eq(c.offload[0].mask_be, ip("255.255.255.0"));
	ck_assert_uint_eq(c.offload[0].len, 24);
	ck_assert_uint_eq(c.offload[1].addr_be, ip("192.168.0.0")); /* host bits masked */
	ck_assert_uint_eq(c.offload[1].mask_be, ip("255.255.0.0"));
	ck_assert_uint_eq(c.offload[2].addr_be, ip("10.1.2.3")); /* bare address = /32 */
	ck_assert_uint_eq(c.offload[2].mask_be, 0xffffffffu);
	ck_assert_uint_eq(c.offload[2].len, 32);
}
END_TEST

START_TEST(test_key_offload_max)
{
	char v[512] = "";
	int i;

	for (i = 0; i < CONF_MAX_OFFLOAD; i++)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "%s10.%d.0.0/16", i ? "," : "", i);
	ck_assert_int_eq(set1("offload", v), 0);
	ck_assert_uint_eq(c.n_offload, CONF_MAX_OFFLOAD);
	strcat(v, ",10.99.0.0/16");
	ck_assert_int_eq(set1("offload", v), -EINVAL);
	assert_err_has("more than");
}
END_TEST

static const char *const bad_offloads[] = {
	"127.0.0.0/8", "127.1.2.3/32", "10.0.0.0/8,127.0.0.1", "0.0.0.0/0", "64.0.0.0/2",
	"126.0.0.0/7", "", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/33", "10.0.0/8",
	"10.0.0.0/8 10.1.0.0/16",
};

START_TEST(test_key_offload_bad)
{
	const char *v = bad_offloads[_i];

	ck_assert_msg(set1("offload", v) == -EINVAL, "'%s' accepted", v);
	ck_assert(!c.offload_set);
	ck_assert_uint_eq(c.n_offload, 0);
}
END_TEST

START_TEST(test_key_offload_loopback_message)
{
	ck_assert_int_eq(set1("offload", "10.0.0.0/8,127.0.0.53/32"), -EINVAL);
	assert_err_has("loopback");
	assert_err_has("127.0.0.53/32");
}
END_TEST

START_TEST(test_key_numbers)
{
	ck_assert_int_eq(set1("syn_retries", "0"), 0);
	ck_assert_uint_eq(c.syn_retries, 0);
	ck_assert_int_eq(set1("syn_retries", "127"), 0);
	ck_assert_uint_eq(c.syn_retries, 127);
	ck_assert_int_eq(set1("syn_retries", "128"), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", "-1"), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", "+3"), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", "3x"), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", "0x10"), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", ""), -EINVAL);
	ck_assert_int_eq(set1("syn_retries", "18446744073709551617"), -EINVAL);
	ck_assert_uint_eq(c.syn_retries, 6);

	ck_assert_int_eq(set1("idle_spin_us", "0"), 0);
	ck_assert_uint_eq(c.idle_spin_us, 0);
	ck_assert_int_eq(set1("idle_spin_us", "1000000"), 0);
	ck_assert_uint_eq(c.idle_spin_us, 1000000);
	ck_assert_int_eq(set1("idle_spin_us", "1000001"), -EINVAL);

	ck_assert_int_eq(set1("max_sockets", "1"), 0);
	ck_assert_uint_eq(c.max_sockets, 1);
	ck_assert_int_eq(set1("max_sockets", "65536"), 0);
	ck_assert_uint_eq(c.max_sockets, 65536);
	ck_assert_int_eq(set1("max_sockets", "0"), -EINVAL);
	ck_assert_int_eq(set1("max_sockets", "65537"), -EINVAL);

	ck_assert_int_eq(set1("mbufs", "1024"), 0);
	ck_assert_uint_eq(c.mbufs, 1024);
	ck_assert_int_eq(set1("mbufs", "65535"), 0);
	ck_assert_uint_eq(c.mbufs, 65535);
	ck_assert_int_eq(set1("mbufs", "1023"), -EINVAL);
	ck_assert_int_eq(set1("mbufs", "many"), -EINVAL);
}
END_TEST

START_TEST(test_key_idle_log)
{
	ck_assert_int_eq(set1("idle", "poll"), 0);
	ck_assert_int_eq(c.idle, CONF_IDLE_POLL);
	ck_assert_int_eq(set1("idle", "adaptive"), 0);
	ck_assert_int_eq(c.idle, CONF_IDLE_ADAPTIVE);
	ck_assert_int_eq(set1("idle", "sleep"), -EINVAL);
	ck_assert_int_eq(set1("idle", "Poll"), -EINVAL);

	ck_assert_int_eq(set1("log", "error"), 0);
	ck_assert_int_eq(c.log_level, LOG_ERR);
	ck_assert_int_eq(set1("log", "warn"), 0);
	ck_assert_int_eq(c.log_level, LOG_WARNING);
	ck_assert_int_eq(set1("log", "info"), 0);
	ck_assert_int_eq(c.log_level, LOG_INFO);
	ck_assert_int_eq(set1("log", "debug"), 0);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_int_eq(set1("log", "verbose"), -EINVAL);
	assert_err_has("error, warn, info, debug");
}
END_TEST

START_TEST(test_key_port_range)
{
	ck_assert_int_eq(set1("port_range", "1-65535"), 0);
	ck_assert_uint_eq(c.eph_lo, 1);
	ck_assert_uint_eq(c.eph_hi, 65535);
	ck_assert_int_eq(set1("port_range", "5000-5000"), 0);
	ck_assert_uint_eq(c.eph_lo, 5000);
	ck_assert_uint_eq(c.eph_hi, 5000);
	ck_assert_int_eq(set1("port_range", "6000-5000"), -EINVAL);
	assert_err_has("low port above high port");
	ck_assert_int_eq(set1("port_range", "0-100"), -EINVAL);
	ck_assert_int_eq(set1("port_range", "100-65536"), -EINVAL);
	ck_assert_int_eq(set1("port_range", "100"), -EINVAL);
	ck_assert_int_eq(set1("port_range", "100-"), -EINVAL);
	ck_assert_int_eq(set1("port_range", "-100"), -EINVAL);
	ck_assert_int_eq(set1("port_range", "1-2-3"), -EINVAL);
	ck_assert_uint_eq(c.eph_lo, 32768);
	ck_assert_uint_eq(c.eph_hi, 60999);
}
END_TEST

START_TEST(test_key_bufs)
{
	ck_assert_int_eq(set1("rx_buf", "4096"), 0);
	ck_assert_uint_eq(c.rx_buf, 4096);
	ck_assert_int_eq(set1("rx_buf", "16777216"), 0);
	ck_assert_uint_eq(c.rx_buf, 16777216);
	ck_assert_int_eq(set1("tx_buf", "64K"), 0);
	ck_assert_uint_eq(c.tx_buf, 65536);
	ck_assert_int_eq(set1("tx_buf", "16M"), 0);
	ck_assert_uint_eq(c.tx_buf, 16u << 20);
	ck_assert_int_eq(set1("rx_buf", "2048"), -EINVAL);
	ck_assert_int_eq(set1("rx_buf", "33554432"), -EINVAL);
	ck_assert_int_eq(set1("rx_buf", "32M"), -EINVAL);
	ck_assert_int_eq(set1("rx_buf", "100000"), -EINVAL);
	ck_assert_int_eq(set1("tx_buf", "K"), -EINVAL);
	ck_assert_int_eq(set1("tx_buf", "4G"), -EINVAL);
	ck_assert_int_eq(set1("tx_buf", "4294967296"), -EINVAL);
	ck_assert_uint_eq(c.tx_buf, 262144);
	assert_err_has("power of two");
}
END_TEST

START_TEST(test_unknown_key)
{
	ck_assert_int_eq(set1("ipaddr", "1.2.3.4/8"), -EINVAL);
	assert_err_has("unknown");
}
END_TEST

/* ---- conf_finish() ----------------------------------------------------------------- */

START_TEST(test_finish_missing_ip)
{
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	assert_err_has("'ip'");
}
END_TEST

START_TEST(test_finish_offload_default)
{
	ck_assert_int_eq(set1("ip", "10.77.0.2/24"), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n_offload, 1);
	ck_assert_uint_eq(c.offload[0].addr_be, ip("10.77.0.0"));
	ck_assert_uint_eq(c.offload[0].mask_be, ip("255.255.255.0"));
	ck_assert_uint_eq(c.offload[0].len, 24);
}
END_TEST

START_TEST(test_finish_offload_explicit_kept)
{
	ck_assert_int_eq(set1("ip", "10.77.0.2/24"), 0);
	ck_assert_int_eq(conf_set(&c, "offload", "192.168.0.0/16", "--offload", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.n_offload, 1);
	ck_assert_uint_eq(c.offload[0].addr_be, ip("192.168.0.0"));
}
END_TEST

/* 126.0.0.1/7 is a legal address, but its prefix covers 127/8: no silent default. */
START_TEST(test_finish_offload_default_loopback)
{
	ck_assert_int_eq(set1("ip", "126.0.0.1/7"), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	assert_err_has("loopback");
}
END_TEST

START_TEST(test_finish_gateway)
{
	ck_assert_int_eq(set1("ip", "10.77.0.2/24"), 0);
	ck_assert_int_eq(conf_set(&c, "gateway", "10.77.0.254", "--gateway", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.gateway_be, ip("10.77.0.254"));

	ck_assert_int_eq(conf_set(&c, "gateway", "10.77.1.1", "--gateway", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
	assert_err_has("'gateway'");
	assert_err_has("10.77.1.1");
	assert_err_has("10.77.0.0/24");

	/* the stack itself is no gateway */
	ck_assert_int_eq(conf_set(&c, "gateway", "10.77.0.2", "--gateway", err,
				  sizeof(err)), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), -EINVAL);
}
END_TEST

/* ---- the file -------------------------------------------------------------------- */

START_TEST(test_file_full)
{
	ck_assert_int_eq(load("# demo\n"
			      "\n"
			      "eal = --no-huge -m 256 --vdev=net_tap0,iface=sht0 -l 0\n"
			      "  ip=10.77.0.2/24   # trailing comment\n"
			      "\tgateway\t=\t10.77.0.1\t\n"
			      "control = /tmp/a#b.sock\n"
			      "offload = 10.77.0.0/24, 10.88.0.0/16\n"
			      "syn_retries = 3\n"
			      "idle = poll\n"
			      "idle_spin_us = 50\n"
			      "port_range = 40000-40100\n"
			      "max_sockets = 64\n"
			      "rx_buf = 8192\n"
			      "tx_buf = 1M\n"
			      "mbufs = 2047\n"
			      "log = debug\n"), 0);
	ck_assert_str_eq(c.eal, "--no-huge -m 256 --vdev=net_tap0,iface=sht0 -l 0");
	ck_assert_uint_eq(c.ip_be, ip("10.77.0.2"));
	ck_assert_uint_eq(c.gateway_be, ip("10.77.0.1"));
	ck_assert_str_eq(c.control, "/tmp/a#b.sock"); /* '#' inside a word is no comment */
	ck_assert_uint_eq(c.n_offload, 2);
	ck_assert_uint_eq(c.syn_retries, 3);
	ck_assert_int_eq(c.idle, CONF_IDLE_POLL);
	ck_assert_uint_eq(c.idle_spin_us, 50);
	ck_assert_uint_eq(c.eph_lo, 40000);
	ck_assert_uint_eq(c.eph_hi, 40100);
	ck_assert_uint_eq(c.max_sockets, 64);
	ck_assert_uint_eq(c.rx_buf, 8192);
	ck_assert_uint_eq(c.tx_buf, 1u << 20);
	ck_assert_uint_eq(c.mbufs, 2047);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), 0);
}
END_TEST

/* The shipped example must load and finish as is. */
START_TEST(test_file_example)
{
	ck_assert_int_eq(conf_load_file(&c, SHUNT_EXAMPLE_CONF, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_finish(&c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ip_be, ip("10.77.0.2"));
	ck_assert_uint_eq(c.prefix_len, 24);
	ck_assert_msg(strstr(c.eal, "iface=sht0") != NULL, "eal '%s'", c.eal);
}
END_TEST

START_TEST(test_file_line_in_message)
{
	char want[256];

	ck_assert_int_eq(load("# one\n\nip = 10.77.0.300/24\n"), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:3: key 'ip': '10.77.0.300/24' is not an IPv4 address/prefix", tpath);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s'", err);
}
END_TEST

START_TEST(test_file_unknown_key)
{
	char want[256];

	ck_assert_int_eq(load("ip = 10.0.0.1/8\nfrobnicate = 1\n"), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: unknown key 'frobnicate'", tpath);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_file_missing_equals)
{
	ck_assert_int_eq(load("ip 10.0.0.1/8\n"), -EINVAL);
	assert_err_has(":1: ");
	assert_err_has("key = value");
	ck_assert_int_eq(load("= 10.0.0.1/8\n"), -EINVAL);
	assert_err_has(":1: ");
}
END_TEST

START_TEST(test_file_duplicate)
{
	ck_assert_int_eq(load("ip = 10.0.0.1/8\nlog = warn\nip = 10.0.0.2/8\n"), -EINVAL);
	assert_err_has(":3: key 'ip'");
	assert_err_has("twice");
}
END_TEST

/* Two files may each set a key: duplicates are counted per file. */
START_TEST(test_file_two_loads)
{
	ck_assert_int_eq(load("ip = 10.0.0.1/8\n"), 0);
	ck_assert_int_eq(load("ip = 10.0.0.2/8\n"), 0);
	ck_assert_uint_eq(c.ip_be, ip("10.0.0.2"));
}
END_TEST

START_TEST(test_file_crlf_no_final_newline)
{
	ck_assert_int_eq(load("ip = 10.0.0.1/8\r\n\r\nlog = warn\r\nidle = poll"), 0);
	ck_assert_uint_eq(c.ip_be, ip("10.0.0.1"));
	ck_assert_int_eq(c.log_level, LOG_WARNING);
	ck_assert_int_eq(c.idle, CONF_IDLE_POLL);
	conf_defaults(&c);
	ck_assert_int_eq(load("eal = -l 0\r"), 0); /* CR as the very last byte */
	ck_assert_str_eq(c.eal, "-l 0");
}
END_TEST

START_TEST(test_file_empty)
{
	ck_assert_int_eq(load(""), 0);
	ck_assert_int_eq(load("\n\n# only comments\n   \n"), 0);
	ck_assert(!c.has_ip);
}
END_TEST

START_TEST(test_file_long_line)
{
	size_t n = 100000;
	char *text = malloc(n + 64);

	ck_assert_ptr_nonnull(text);
	strcpy(text, "ip = 10.0.0.1/8\neal = ");
	memset(text + strlen(text), 'x', n);
	text[n] = '\0';
	strcat(text, "\nlog = warn\n");
	ck_assert_int_eq(load(text), -EINVAL);
	assert_err_has(":2: line too long");
	free(text);
}
END_TEST

/* Same without a final newline: the line ends at EOF. */
START_TEST(test_file_long_last_line)
{
	char text[4096];

	memset(text, '#', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(load(text), -EINVAL);
	assert_err_has(":1: line too long");
}
END_TEST

START_TEST(test_file_nul_byte)
{
	static const char text[] = "ip = 10.0.0.1/8\nlog = in\0fo\n";

	write_file(text, sizeof(text) - 1);
	ck_assert_int_eq(conf_load_file(&c, tpath, err, sizeof(err)), -EINVAL);
	assert_err_has(":2: NUL");
}
END_TEST

START_TEST(test_file_unreadable)
{
	ck_assert_int_eq(conf_load_file(&c, "/nonexistent/shunt.conf", err, sizeof(err)),
			 -ENOENT);
	assert_err_has("/nonexistent/shunt.conf");
	ck_assert_int_eq(conf_load_file(&c, tdir, err, sizeof(err)), -EISDIR);
}
END_TEST

/* A tiny error buffer truncates, never overflows. */
START_TEST(test_small_err_buffer)
{
	char small[8];

	memset(small, 'z', sizeof(small));
	ck_assert_int_eq(conf_set(&c, "ip", "nope", "--ip", small, 5), -EINVAL);
	ck_assert_str_eq(small, "--ip");
	ck_assert_int_eq(small[5], 'z');
	ck_assert_int_eq(conf_set(&c, "ip", "nope", "--ip", NULL, 0), -EINVAL);
}
END_TEST

/* ---- conf_from_args() -------------------------------------------------------------- */

static int args(int argc, char **argv)
{
	err[0] = '\0';
	return conf_from_args(&c, argc, argv, err, sizeof(err));
}

START_TEST(test_args_only)
{
	char *argv[] = { "shuntd", "--ip=10.77.0.2/24", "--log", "debug", "--eal=-l 0 -n 1",
			 NULL };

	ck_assert_int_eq(args(5, argv), 0);
	ck_assert_uint_eq(c.ip_be, ip("10.77.0.2"));
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
	ck_assert_str_eq(c.eal, "-l 0 -n 1");
	ck_assert_uint_eq(c.n_offload, 1); /* conf_finish ran */
}
END_TEST

START_TEST(test_args_override_file)
{
	char *argv[] = { "shuntd", "--log=error", "-c", tpath, "--syn_retries", "2", NULL };

	write_file("ip = 10.77.0.2/24\nlog = debug\nsyn_retries = 9\nidle = poll\n",
		   strlen("ip = 10.77.0.2/24\nlog = debug\nsyn_retries = 9\nidle = poll\n"));
	ck_assert_int_eq(args(6, argv), 0);
	ck_assert_int_eq(c.log_level, LOG_ERR);  /* given before -c, still wins */
	ck_assert_uint_eq(c.syn_retries, 2);
	ck_assert_int_eq(c.idle, CONF_IDLE_POLL); /* from the file */
	ck_assert_uint_eq(c.ip_be, ip("10.77.0.2"));
}
END_TEST

START_TEST(test_args_ip_required)
{
	char *argv[] = { "shuntd", "--log=error", NULL };

	ck_assert_int_eq(args(2, argv), -EINVAL);
	assert_err_has("'ip'");
}
END_TEST

START_TEST(test_args_file_error)
{
	char *argv[] = { "shuntd", "-c", tpath, NULL };
	char want[256];

	write_file("ip = 10.77.0.2/24\nmbufs = 10\n", strlen("ip = 10.77.0.2/24\nmbufs = 10\n"));
	ck_assert_int_eq(args(3, argv), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: key 'mbufs': ", tpath);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got '%s'", err);
}
END_TEST

START_TEST(test_args_missing_file)
{
	char *argv[] = { "shuntd", "-c", "/nonexistent.conf", "--ip=10.0.0.1/8", NULL };

	ck_assert_int_eq(args(4, argv), -EINVAL);
	assert_err_has("/nonexistent.conf");
}
END_TEST

START_TEST(test_args_bad_value_names_option)
{
	char *argv[] = { "shuntd", "--ip=10.0.0.1/8", "--rx_buf=1000", NULL };

	ck_assert_int_eq(args(3, argv), -EINVAL);
	ck_assert_msg(strncmp(err, "--rx_buf: ", 10) == 0, "got '%s'", err);
	assert_err_has("1000");
}
END_TEST

static char *const bad_argvs[][4] = {
	{ "shuntd", "positional", NULL },
	{ "shuntd", "--ip=10.0.0.1/8", "-x", NULL },
	{ "shuntd", "--nope=1", NULL },
	{ "shuntd", "--ip", NULL },               /* no value */
	{ "shuntd", "-c", NULL },                  /* no file */
	{ "shuntd", "--", NULL },
	{ "shuntd", "--=3", NULL },
	{ "shuntd", "--ip=10.0.0.1/8", "--ip=10.0.0.2/8", NULL }, /* twice */
	{ "shuntd", "--help", NULL },
};

START_TEST(test_args_bad)
{
	char **argv = (char **)bad_argvs[_i];
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	ck_assert_int_eq(args(argc, argv), -EINVAL);
	ck_assert_msg(err[0] != '\0', "no message");
	if (argc > 1 && strcmp(argv[argc - 1], "--help") != 0 &&
	    strcmp(argv[argc - 1], "--") != 0 && strncmp(argv[argc - 1], "--ip", 4) != 0) {
		/* the message names the offending word (up to its '=') */
		char word[32];

		snprintf(word, sizeof(word), "%.*s", (int)strcspn(argv[argc - 1], "="),
			 argv[argc - 1]);
		if (word[0] != '\0')
			assert_err_has(word);
	}
}
END_TEST

START_TEST(test_args_help)
{
	char *argv[] = { "shuntd", "--help", NULL };

	ck_assert_int_eq(args(2, argv), -EINVAL);
	assert_err_has("usage");
	assert_err_has("--port_range");
}
END_TEST

/* `--eal -c`: "-c" is the value of --eal, not the file option. */
START_TEST(test_args_value_looks_like_option)
{
	char *argv[] = { "shuntd", "--ip", "10.0.0.1/8", "--eal", "-c", NULL };

	ck_assert_int_eq(args(5, argv), 0);
	ck_assert_str_eq(c.eal, "-c");
}
END_TEST

/* ---- conf_load_sysctl() ------------------------------------------------------------ */

static const char *const sysctl_files[] = {
	"ipv4/tcp_syn_retries", "ipv4/tcp_timestamps", "ipv4/tcp_sack",
	"ipv4/tcp_window_scaling", "ipv4/tcp_rmem", "core/rmem_max", "ipv4/tcp_mtu_probing",
	"ipv4/tcp_congestion_control", "ipv4/tcp_slow_start_after_idle",
	"ipv4/tcp_ecn", "ipv4/tcp_ecn_fallback",
};

/* tdir as a /proc/sys/net holding name with text (NULL: no such file). */
static void put_sysctl(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ipv4", tdir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/core", tdir);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/%s", tdir, name);
	if (text == NULL) {
		(void)unlink(path);
		return;
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void sysctl_teardown(void)
{
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(sysctl_files) / sizeof(sysctl_files[0]); i++)
		put_sysctl(sysctl_files[i], NULL);
	snprintf(path, sizeof(path), "%s/ipv4", tdir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/core", tdir);
	rmdir(path);
	teardown();
}

/* A namespace with every option off: each becomes the default. */
START_TEST(test_sysctl_read)
{
	put_sysctl("ipv4/tcp_syn_retries", "3\n");
	put_sysctl("ipv4/tcp_timestamps", "0\n");
	put_sysctl("ipv4/tcp_sack", "0\n");
	put_sysctl("ipv4/tcp_window_scaling", "0\n");
	put_sysctl("ipv4/tcp_rmem", "4096\t131072\t33554432\n");
	put_sysctl("core/rmem_max", "212992\n");
	put_sysctl("ipv4/tcp_mtu_probing", "1\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.mtu_probing, 1);
	ck_assert_uint_eq(c.syn_retries, 3);
	ck_assert_uint_eq(c.timestamps, 0);
	ck_assert_uint_eq(c.sack, 0);
	ck_assert_uint_eq(c.window_scaling, 0);
	ck_assert_uint_eq(c.rmem_max, 33554432); /* the larger of the two */
	put_sysctl("ipv4/tcp_timestamps", "2\n");
	put_sysctl("core/rmem_max", "67108864\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.timestamps, 2);
	ck_assert_uint_eq(c.rmem_max, 67108864);
	/* ECN: asked for, no fallback; AccECN's values (3..5) accept only */
	put_sysctl("ipv4/tcp_ecn", "1\n");
	put_sysctl("ipv4/tcp_ecn_fallback", "0\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ecn, 1);
	ck_assert_uint_eq(c.ecn_fallback, 0);
	put_sysctl("ipv4/tcp_ecn", "4\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.ecn, 2);
	ck_assert_int_eq(load("ecn = 0\necn_fallback = 1\n"), 0);
	ck_assert_uint_eq(c.ecn, 0);
	ck_assert_uint_eq(c.ecn_fallback, 1);
	ck_assert_int_eq(load("ecn = 3\n"), -EINVAL);
}
END_TEST

/* No /proc (or an older kernel): Linux's own defaults stay. */
START_TEST(test_sysctl_missing)
{
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.syn_retries, 6);
	ck_assert_uint_eq(c.timestamps, 1);
	ck_assert_uint_eq(c.sack, 1);
	ck_assert_uint_eq(c.window_scaling, 1);
	ck_assert_uint_eq(c.rmem_max, 6291456);
	/* rmem_max alone, below tcp_rmem[2]'s default: the default stays */
	put_sysctl("core/rmem_max", "212992\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.rmem_max, 6291456);
}
END_TEST

START_TEST(test_sysctl_bad_names_file)
{
	char want[256];

	put_sysctl("ipv4/tcp_rmem", "4096 131072\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/ipv4/tcp_rmem: not 3 unsigned numbers", tdir);
	assert_err_has(want);
	put_sysctl("ipv4/tcp_rmem", NULL);
	put_sysctl("ipv4/tcp_sack", "yes\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), -EINVAL);
	assert_err_has("tcp_sack: not 1 unsigned number");
}
END_TEST

/* The file's keys override the namespace's values; what it leaves out stays. */
START_TEST(test_sysctl_file_overrides)
{
	put_sysctl("ipv4/tcp_sack", "0\n");
	put_sysctl("ipv4/tcp_syn_retries", "2\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_int_eq(load("sack = 1\ntimestamps = 0\nrmem_max = 262144\n"), 0);
	ck_assert_uint_eq(c.sack, 1);
	ck_assert_uint_eq(c.timestamps, 0);
	ck_assert_uint_eq(c.rmem_max, 262144);
	ck_assert_uint_eq(c.syn_retries, 2);
	ck_assert_int_eq(load("window_scaling = 2\n"), -EINVAL);
	assert_err_has(":1: key 'window_scaling': '2' is not a number in 0..1");
	put_sysctl("ipv4/tcp_mtu_probing", "1\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_int_eq(load("mtu_probing = 0\n"), 0);
	ck_assert_uint_eq(c.mtu_probing, 0);
	ck_assert_int_eq(load("mtu_probing = 3\n"), -EINVAL);
}
END_TEST

/* net.ipv4.tcp_congestion_control names a new socket's algorithm; one shunt does
 * not have leaves cubic; the `congestion` key overrides it and knows only
 * shunt's names. tcp_slow_start_after_idle likewise. */
START_TEST(test_sysctl_congestion)
{
	put_sysctl("ipv4/tcp_congestion_control", "reno\n");
	put_sysctl("ipv4/tcp_slow_start_after_idle", "0\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.congestion, SHUNT_CC_RENO);
	ck_assert_uint_eq(c.slow_start_after_idle, 0);
	ck_assert_int_eq(load("congestion = cubic\nslow_start_after_idle = 1\n"), 0);
	ck_assert_uint_eq(c.congestion, SHUNT_CC_CUBIC);
	ck_assert_uint_eq(c.slow_start_after_idle, 1);
	ck_assert_int_eq(load("congestion = reno\n"), 0);
	ck_assert_uint_eq(c.congestion, SHUNT_CC_RENO);
	ck_assert_int_eq(load("congestion = bbr\n"), -EINVAL);
	assert_err_has("key 'congestion': 'bbr' is not one of cubic, reno");
	conf_defaults(&c);
	put_sysctl("ipv4/tcp_congestion_control", "bbr\n");
	ck_assert_int_eq(conf_load_sysctl(&c, tdir, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.congestion, SHUNT_CC_CUBIC);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *t = tcase_create("keys");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_defaults);
	tcase_add_test(t, test_key_eal);
	tcase_add_test(t, test_key_eal_too_long);
	tcase_add_test(t, test_key_ip);
	tcase_add_loop_test(t, test_key_ip_bad, 0, sizeof(bad_ips) / sizeof(bad_ips[0]));
	tcase_add_test(t, test_key_gateway);
	tcase_add_test(t, test_key_control);
	tcase_add_test(t, test_key_offload);
	tcase_add_test(t, test_key_offload_max);
	tcase_add_loop_test(t, test_key_offload_bad, 0,
			    sizeof(bad_offloads) / sizeof(bad_offloads[0]));
	tcase_add_test(t, test_key_offload_loopback_message);
	tcase_add_test(t, test_key_numbers);
	tcase_add_test(t, test_key_idle_log);
	tcase_add_test(t, test_key_port_range);
	tcase_add_test(t, test_key_bufs);
	tcase_add_test(t, test_unknown_key);
	tcase_add_test(t, test_small_err_buffer);
	suite_add_tcase(s, t);

	t = tcase_create("finish");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_finish_missing_ip);
	tcase_add_test(t, test_finish_offload_default);
	tcase_add_test(t, test_finish_offload_explicit_kept);
	tcase_add_test(t, test_finish_offload_default_loopback);
	tcase_add_test(t, test_finish_gateway);
	suite_add_tcase(s, t);

	t = tcase_create("file");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_file_full);
	tcase_add_test(t, test_file_example);
	tcase_add_test(t, test_file_line_in_message);
	tcase_add_test(t, test_file_unknown_key);
	tcase_add_test(t, test_file_missing_equals);
	tcase_add_test(t, test_file_duplicate);
	tcase_add_test(t, test_file_two_loads);
	tcase_add_test(t, test_file_crlf_no_final_newline);
	tcase_add_test(t, test_file_empty);
	tcase_add_test(t, test_file_long_line);
	tcase_add_test(t, test_file_long_last_line);
	tcase_add_test(t, test_file_nul_byte);
	tcase_add_test(t, test_file_unreadable);
	suite_add_tcase(s, t);

	t = tcase_create("sysctl");
	tcase_add_checked_fixture(t, setup, sysctl_teardown);
	tcase_add_test(t, test_sysctl_read);
	tcase_add_test(t, test_sysctl_missing);
	tcase_add_test(t, test_sysctl_bad_names_file);
	tcase_add_test(t, test_sysctl_file_overrides);
	tcase_add_test(t, test_sysctl_congestion);
	suite_add_tcase(s, t);

	t = tcase_create("args");
	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_args_only);
	tcase_add_test(t, test_args_override_file);
	tcase_add_test(t, test_args_ip_required);
	tcase_add_test(t, test_args_file_error);
	tcase_add_test(t, test_args_missing_file);
	tcase_add_test(t, test_args_bad_value_names_option);
	tcase_add_loop_test(t, test_args_bad, 0, sizeof(bad_argvs) / sizeof(bad_argvs[0]));
	tcase_add_test(t, test_args_help);
	tcase_add_test(t, test_args_value_looks_like_option);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
