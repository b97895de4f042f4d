/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The SYN guard (see syn_guard.h). A classifier on the tap's egress (what the kernel
 * sends to the tap, i.e. what shuntd will read) in direct-action mode: cls_bpf is
 * all this kernel needs, no police or gact action module. The program is a handful
 * of instructions assembled here, as DPDK's net_tap embeds its RSS program, so
 * neither libbpf nor clang is needed to build or run shuntd. It reads the frame
 * with the legacy packet loads (they end the program, letting the frame pass, if
 * it is too short), and for an IPv4 first fragment whose TCP flags have SYN and
 * not ACK it takes a token from the bucket in the map or drops the frame:
 *
 *   elapsed = now - stamp (0 if another CPU moved stamp past now)
 *   add = elapsed / ns_per_token; stamp += add * ns_per_token
 *   tokens = min(tokens + add, burst); tokens ? tokens-- : drop
 *
 * One bucket for the device, updated without atomics by both CPUs: a race can
 * lose a refill or a take, which bends the rate a little and nothing else. The
 * counters are atomic adds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/syn_guard.h"

#define GUARD_NAME "shunt_syn_guard"
#define GUARD_PRIO 1

/* ------------------------------------------------------------ the program */

enum { L_PASS, L_DROP, L_TAKE, L_STORE, L_COUNT };

struct guard_asm {
	struct bpf_insn insn[64];
	unsigned n;
	int at[L_COUNT];  /* instruction index of each label */
	struct { unsigned insn; int label; } fix[16];
	unsigned nfix;
};

static void emit(struct guard_asm *a, uint8_t code, uint8_t dst, uint8_t src, int16_t off,
		 int32_t imm)
{
	struct bpf_insn *i = &a->insn[a->n++];

	memset(i, 0, sizeof(*i));
	i->code = code;
	i->dst_reg = dst;
	i->src_reg = src;
	i->off = off;
	i->imm = imm;
}

/* A conditional jump (op, BPF_K with imm or BPF_X with src) to label. */
static void jump(struct guard_asm *a, uint8_t op, uint8_t dst, uint8_t src, int32_t imm,
		 int label)
{
	a->fix[a->nfix].insn = a->n;
	a->fix[a->nfix++].label = label;
	emit(a, BPF_JMP | op, dst, src, 0, imm);
}

static void label(struct guard_asm *a, int l)
{
	a->at[l] = (int)a->n;
}

#define R0 BPF_REG_0
#define R1 BPF_REG_1
#define R2 BPF_REG_2
#define R3 BPF_REG_3
#define R4 BPF_REG_4
#define R6 BPF_REG_6
#define R7 BPF_REG_7
#define R8 BPF_REG_8
#define R10 BPF_REG_10

#define ST_OFF(f) ((int16_t)offsetof(struct syn_guard_state, f))

static unsigned guard_program(struct guard_asm *a, int map_fd, uint32_t ns_per_token,
			      uint32_t burst)
{
	unsigned i;

	memset(a, 0, sizeof(*a));
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R6, R1, 0, 0);       /* r6 = skb (LD_ABS) */
	emit(a, BPF_LD | BPF_H | BPF_ABS, 0, 0, 0, 12);           /* ethertype */
	jump(a, BPF_JNE | BPF_K, R0, 0, ETH_P_IP, L_PASS);
	emit(a, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0, ETH_HLEN + 9);  /* protocol */
	jump(a, BPF_JNE | BPF_K, R0, 0, IPPROTO_TCP, L_PASS);
	emit(a, BPF_LD | BPF_H | BPF_ABS, 0, 0, 0, ETH_HLEN + 6);  /* fragment offset */
	emit(a, BPF_ALU64 | BPF_AND | BPF_K, R0, 0, 0, 0x1fff);
	jump(a, BPF_JNE | BPF_K, R0, 0, 0, L_PASS);
	emit(a, BPF_LD | BPF_B | BPF_ABS, 0, 0, 0, ETH_HLEN);      /* version, IHL */
	emit(a, BPF_ALU64 | BPF_AND | BPF_K, R0, 0, 0, 0x0f);
	emit(a, BPF_ALU64 | BPF_LSH | BPF_K, R0, 0, 0, 2);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R7, R0, 0, 0);
	emit(a, BPF_LD | BPF_B | BPF_IND, 0, R7, 0, ETH_HLEN + 13); /* TCP flags */
	emit(a, BPF_ALU64 | BPF_AND | BPF_K, R0, 0, 0, 0x12);       /* SYN | ACK */
	jump(a, BPF_JNE | BPF_K, R0, 0, 0x02, L_PASS);

	emit(a, BPF_ST | BPF_W | BPF_MEM, R10, 0, -4, 0);         /* key 0 */
	emit(a, BPF_LD | BPF_DW | BPF_IMM, R1, BPF_PSEUDO_MAP_FD, 0, map_fd);
	emit(a, 0, 0, 0, 0, 0);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R2, R10, 0, 0);
	emit(a, BPF_ALU64 | BPF_ADD | BPF_K, R2, 0, 0, -4);
	emit(a, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
	jump(a, BPF_JEQ | BPF_K, R0, 0, 0, L_PASS);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R8, R0, 0, 0);
	emit(a, BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ktime_get_ns);
	emit(a, BPF_LDX | BPF_DW | BPF_MEM, R1, R8, ST_OFF(stamp_ns), 0);
	jump(a, BPF_JGT | BPF_X, R1, R0, 0, L_TAKE);              /* stamp > now */
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R2, R0, 0, 0);
	emit(a, BPF_ALU64 | BPF_SUB | BPF_X, R2, R1, 0, 0);
	emit(a, BPF_ALU64 | BPF_DIV | BPF_K, R2, 0, 0, (int32_t)ns_per_token);
	jump(a, BPF_JEQ | BPF_K, R2, 0, 0, L_TAKE);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_X, R3, R2, 0, 0);
	emit(a, BPF_ALU64 | BPF_MUL | BPF_K, R3, 0, 0, (int32_t)ns_per_token);
	emit(a, BPF_ALU64 | BPF_ADD | BPF_X, R1, R3, 0, 0);
	emit(a, BPF_STX | BPF_DW | BPF_MEM, R8, R1, ST_OFF(stamp_ns), 0);
	emit(a, BPF_LDX | BPF_DW | BPF_MEM, R4, R8, ST_OFF(tokens), 0);
	emit(a, BPF_ALU64 | BPF_ADD | BPF_X, R4, R2, 0, 0);
	jump(a, BPF_JLE | BPF_K, R4, 0, (int32_t)burst, L_STORE);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, R4, 0, 0, (int32_t)burst);
	label(a, L_STORE);
	emit(a, BPF_STX | BPF_DW | BPF_MEM, R8, R4, ST_OFF(tokens), 0);
	label(a, L_TAKE);
	emit(a, BPF_LDX | BPF_DW | BPF_MEM, R4, R8, ST_OFF(tokens), 0);
	jump(a, BPF_JEQ | BPF_K, R4, 0, 0, L_DROP);
	emit(a, BPF_ALU64 | BPF_SUB | BPF_K, R4, 0, 0, 1);
	emit(a, BPF_STX | BPF_DW | BPF_MEM, R8, R4, ST_OFF(tokens), 0);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 1);
	emit(a, BPF_STX | BPF_DW | BPF_ATOMIC, R8, R1, ST_OFF(passed), BPF_ADD);
	jump(a, BPF_JA, 0, 0, 0, L_PASS);
	label(a, L_DROP);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, R1, 0, 0, 1);
	emit(a, BPF_STX | BPF_DW | BPF_ATOMIC, R8, R1, ST_OFF(dropped), BPF_ADD);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TC_ACT_SHOT);
	emit(a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	label(a, L_PASS);
	emit(a, BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, TC_ACT_OK);
	emit(a, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

	for (i = 0; i < a->nfix; i++)
		a->insn[a->fix[i].insn].off = (int16_t)(a->at[a->fix[i].label] -
							  (int)a->fix[i].insn - 1);
	return a->n;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* ------------------------------------------------------------- netlink */

struct nl_req {
	struct nlmsghdr nh;
	struct tcmsg tc;
	char attrs[256];
};

static struct rtattr *nl_put(struct nl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *ra = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));

	ra->rta_type = type;
	ra->rta_len = (uint16_t)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(ra), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(ra->rta_len);
	return ra;
}

static void nl_end(struct nl_req *r, struct rtattr *nest)
{
	nest->rta_len = (uint16_t)((char *)r + r->nh.nlmsg_len - (char *)nest);
}

static void nl_init(struct nl_req *r, uint16_t type, uint16_t flags, int ifindex,
		    uint32_t parent)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->tc.tcm_family = AF_UNSPEC;
	r->tc.tcm_ifindex = ifindex;
	r->tc.tcm_parent = parent;
}

/* Send r and wait for its acknowledgement: 0 or -errno. */
static int nl_talk(struct nl_req *r)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	char buf[4096];
	int fd, rc = -EPROTO;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
	     h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			break;
		}
	}
out:
	close(fd);
	return rc;
}

static int clsact(int ifindex, uint16_t type, uint16_t flags)
{
	struct nl_req r;

	nl_init(&r, type, flags, ifindex, TC_H_CLSACT);
	r.tc.tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
	nl_put(&r, TCA_KIND, "clsact", sizeof("clsact"));
	return nl_talk(&r);
}

static int attach(int ifindex, int prog_fd)
{
	uint32_t fd = (uint32_t)prog_fd, flags = TCA_BPF_FLAG_ACT_DIRECT;
	struct rtattr *opts;
	struct nl_req r;

	nl_init(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));
	r.tc.tcm_info = TC_H_MAKE((uint32_t)GUARD_PRIO << 16, htons(ETH_P_ALL));
	nl_put(&r, TCA_KIND, "bpf", sizeof("bpf"));
	opts = nl_put(&r, TCA_OPTIONS | NLA_F_NESTED, NULL, 0);
	nl_put(&r, TCA_BPF_FD, &fd, sizeof(fd));
	nl_put(&r, TCA_BPF_NAME, GUARD_NAME, sizeof(GUARD_NAME));
	nl_put(&r, TCA_BPF_FLAGS, &flags, sizeof(flags));
	nl_end(&r, opts);
	return nl_talk(&r);
}

/* ------------------------------------------------------------- the guard */

static int err(char *why, size_t whylen, int rc, const char *what)
{
	snprintf(why, whylen, "%s: %s", what, strerror(-rc));
	return rc;
}

int syn_guard_init(struct syn_guard *g, int ifindex, unsigned rate, unsigned burst, char *why,
		   size_t whylen)
{
	static char log[4096];
	struct guard_asm a;
	union bpf_attr attr;
	int prog_fd, rc;

	g->map_fd = -1;
	g->ifindex = ifindex;
	g->rate = rate;
	g->burst = burst;
	g->own_qdisc = false;
	if (rate == 0)
		return 0;
	if (burst == 0 || burst > INT32_MAX)
		return err(why, whylen, -EINVAL, "burst");
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = sizeof(uint32_t);
	attr.value_size = sizeof(struct syn_guard_state);
	attr.max_entries = 1;
	strncpy(attr.map_name, "shunt_syn", sizeof(attr.map_name) - 1);
	g->map_fd = sys_bpf(BPF_MAP_CREATE, &attr);
	if (g->map_fd < 0)
		return err(why, whylen, -errno, "bpf map");

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	attr.insn_cnt = guard_program(&a, g->map_fd, 1000000000u / rate, burst);
	attr.insns = (uint64_t)(uintptr_t)a.insn;
	attr.license = (uint64_t)(uintptr_t)"Dual BSD/GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	memcpy(attr.prog_name, GUARD_NAME, sizeof(GUARD_NAME) <= sizeof(attr.prog_name) ? sizeof(GUARD_NAME) : sizeof(attr.prog_name) - 1);
	prog_fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog_fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "bpf program refused: %s: %.300s", strerror(-rc), log);
		goto fail;
	}
	rc = clsact(ifindex, RTM_NEWQDISC, NLM_F_CREATE);
	if (rc < 0 && rc != -EEXIST) {
		err(why, whylen, rc, "clsact qdisc");
		close(prog_fd);
		goto fail;
	}
	g->own_qdisc = rc == 0;
	rc = attach(ifindex, prog_fd);
	close(prog_fd); /* the filter holds the program */
	if (rc < 0) {
		err(why, whylen, rc, "cls_bpf filter");
		if (g->own_qdisc)
			(void)clsact(ifindex, RTM_DELQDISC, 0);
		goto fail;
	}
	return 0;
fail:
	close(g->map_fd);
	g->map_fd = -1;
	return rc;
}

int syn_guard_read(const struct syn_guard *g, struct syn_guard_state *st)
{
	union bpf_attr attr;
	uint32_t key = 0;

	if (g->map_fd < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)g->map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)st;
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0 ? -1 : 0;
}

void syn_guard_print(const struct syn_guard *g, FILE *f)
{
	struct syn_guard_state st;

	if (syn_guard_read(g, &st) < 0)
		return;
	fprintf(f, "syn guard (%u/s, burst %u):\n", g->rate, g->burst);
	fprintf(f, "  %-28s %llu\n", "syn_guard_passed", (unsigned long long)st.passed);
	fprintf(f, "  %-28s %llu\n", "syn_guard_dropped", (unsigned long long)st.dropped);
}

void syn_guard_fini(struct syn_guard *g)
{
	if (g->map_fd < 0)
		return;
	/* a tap net_tap made goes with the port; one that outlives it (persist)
	 * must not keep dropping SYNs for nobody: the qdisc takes the filter along */
	if (g->own_qdisc)
		(void)clsact(g->ifindex, RTM_DELQDISC, 0);
	close(g->map_fd);
	g->map_fd = -1;
}
