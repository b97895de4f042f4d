/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Integration of libshunt.so with a fake dataplane: starts fake_dp on a private
 * control socket, runs shim_client once per scenario under LD_PRELOAD, and checks
 * its exit status (and, without a dataplane, its stderr).
 *
 *   suite setup: mkdtemp -> fork/exec fake_dp (stdin = a pipe we hold: it exits
 *                when we do, even if we crash) -> wait for the socket
 *   each test:   run_case(name) -> fork/exec shim_client with the environment
 *                -> wait (killed after CASE_TIMEOUT_MS)
 *   teardown:    SIGTERM fake_dp, reap it, remove every file and the directory
 *
 * Usage: test_shim_preload SHIM_CLIENT LIBSHUNT FAKE_DP
 */
#include <check.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CASE_TIMEOUT_MS 20000

static const char *client_path, *lib_path, *dp_path;
static char dir[64] = "";
static char ctl_path[128], nope_path[128], err_path[128];
static pid_t dp_pid = -1;
static int dp_stdin = -1;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void env_teardown(void)
{
	if (dp_stdin >= 0) {
		close(dp_stdin);
		dp_stdin = -1;
	}
	if (dp_pid > 0) {
		kill(dp_pid, SIGTERM);
		waitpid(dp_pid, NULL, 0);
		dp_pid = -1;
	}
	if (dir[0] != '\0') {
		unlink(ctl_path);
		unlink(err_path);
		rmdir(dir);
		dir[0] = '\0';
	}
}

static void env_setup(void)
{
	int p[2], i;

	strcpy(dir, "/tmp/shunt-shim-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", dir);
	snprintf(nope_path, sizeof(nope_path), "%s/nobody.sock", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr.txt", dir);
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	dp_pid = fork();
	if (dp_pid == 0) {
		dup2(p[0], 0);
		unsetenv("LD_PRELOAD");
		execl(dp_path, dp_path, ctl_path, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	dp_stdin = p[1];
	for (i = 0; i < 500 && access(ctl_path, F_OK) != 0; i++)
		sleep_ms(10);
	if (access(ctl_path, F_OK) != 0) {
		fprintf(stderr, "fake_dp did not start\n");
		env_teardown();
		exit(1);
	}
}

/* Run one scenario; returns its exit status (or 128 + signal, or -1 on timeout). */
static int run_case(const char *name, const char *control, const char *log, bool capture)
{
	int status, waited;
	pid_t pid = fork();

	if (pid == 0) {
		setenv("LD_PRELOAD", lib_path, 1);
		setenv("SHUNT_CONTROL", control, 1);
		if (log != NULL)
			setenv("SHUNT_LOG", log, 1);
		else
			unsetenv("SHUNT_LOG");
		if (capture) {
			int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			dup2(fd, 2);
		}
		execl(client_path, client_path, name, (char *)NULL);
		_exit(127);
	}
	for (waited = 0; waited < CASE_TIMEOUT_MS; waited += 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		sleep_ms(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

#define CASE(name) \
	START_TEST(test_##name) \
	{ \
		ck_assert_int_eq(run_case(#name, ctl_path, NULL, false), 0); \
	} \
	END_TEST

CASE(blocking_echo)
CASE(nonblock_connect)
CASE(refused_nonblock)
CASE(refused_blocking)
CASE(sndtimeo)
CASE(signal_eintr)
CASE(signal_restart)
CASE(epoll)
CASE(select)
CASE(dup)
CASE(bind_opts)
CASE(eof)
CASE(nonblock_io)
CASE(loopback)
CASE(internal_fds)
CASE(internal_epoll_fds)
CASE(udp_basic)
CASE(udp_mmsg)
CASE(udp_connect)
CASE(udp_bind)
CASE(udp_epoll)
CASE(tcp_unspec)
CASE(tcp_back_to_kernel)
CASE(tcp_bind_local)
CASE(shutdown_connecting)
CASE(nb_instant)
CASE(torn_refusal)
CASE(failed_disconnect)
CASE(errqueue)
CASE(port_held)
CASE(close_range)
CASE(closefrom)
CASE(fork_close)
CASE(vfork_close)
CASE(close_blocked)
CASE(close_race)
CASE(slotless_signal)
CASE(ep_wake)
CASE(ep_fair)
CASE(ep_dup)
CASE(recv_trunc)
CASE(select_big)
CASE(poll_noalloc)
CASE(cmd_thin)

START_TEST(test_no_dataplane_says_so_once)
{
	char expect[256];
	const char *err;

	ck_assert_int_eq(run_case("nodp", nope_path, "warn", true), 0);
	err = slurp(err_path);
	snprintf(expect, sizeof(expect), "shunt: no dataplane at %s (", nope_path);
	ck_assert_msg(count(err, expect) == 1, "stderr was: %s", err);
	ck_assert_msg(count(err, "shunt: ") == 1, "stderr was: %s", err);
	ck_assert(strstr(err, "): using the kernel\n") != NULL);
}
END_TEST

START_TEST(test_unapplied_options_said_once)
{
	const char *err;
	char want[96];

	ck_assert_int_eq(run_case("unapplied_opt", ctl_path, "warn", true), 0);
	err = slurp(err_path);
	ck_assert_msg(count(err, "kept but not applied by shunt") == 2, "stderr was: %s", err);
	snprintf(want, sizeof(want), "level %d name %d is kept", IPPROTO_IP, IP_TOS);
	ck_assert_msg(count(err, want) == 1, "stderr was: %s", err);
	snprintf(want, sizeof(want), "level %d name %d is kept", IPPROTO_IP, IP_TTL);
	ck_assert_msg(count(err, want) == 1, "stderr was: %s", err);
	/* silent without SHUNT_LOG */
	ck_assert_int_eq(run_case("unapplied_opt", ctl_path, NULL, true), 0);
	ck_assert_str_eq(slurp(err_path), "");
}
END_TEST

START_TEST(test_no_dataplane_silent_without_log)
{
	ck_assert_int_eq(run_case("nodp", nope_path, NULL, true), 0);
	ck_assert_str_eq(slurp(err_path), "");
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("shim_preload");
	TCase *tc = tcase_create("fake_dp");
	SRunner *sr;
	int failed;

	if (argc != 4) {
		fprintf(stderr, "usage: %s SHIM_CLIENT LIBSHUNT FAKE_DP\n", argv[0]);
		return 2;
	}
	client_path = argv[1];
	lib_path = argv[2];
	dp_path = argv[3];
	signal(SIGPIPE, SIG_IGN);

	tcase_set_timeout(tc, 30);
	tcase_add_unchecked_fixture(tc, env_setup, env_teardown);
	tcase_add_test(tc, test_blocking_echo);
	tcase_add_test(tc, test_nonblock_connect);
	tcase_add_test(tc, test_refused_nonblock);
	tcase_add_test(tc, test_refused_blocking);
	tcase_add_test(tc, test_sndtimeo);
	tcase_add_test(tc, test_signal_eintr);
	tcase_add_test(tc, test_signal_restart);
	tcase_add_test(tc, test_epoll);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_dup);
	tcase_add_test(tc, test_bind_opts);
	tcase_add_test(tc, test_eof);
	tcase_add_test(tc, test_nonblock_io);
	tcase_add_test(tc, test_loopback);
	tcase_add_test(tc, test_internal_fds);
	tcase_add_test(tc, test_internal_epoll_fds);
	tcase_add_test(tc, test_udp_basic);
	tcase_add_test(tc, test_udp_mmsg);
	tcase_add_test(tc, test_udp_connect);
	tcase_add_test(tc, test_udp_bind);
	tcase_add_test(tc, test_udp_epoll);
	tcase_add_test(tc, test_tcp_unspec);
	tcase_add_test(tc, test_tcp_back_to_kernel);
	tcase_add_test(tc, test_tcp_bind_local);
	tcase_add_test(tc, test_shutdown_connecting);
	tcase_add_test(tc, test_nb_instant);
	tcase_add_test(tc, test_torn_refusal);
	tcase_add_test(tc, test_failed_disconnect);
	tcase_add_test(tc, test_errqueue);
	tcase_add_test(tc, test_port_held);
	tcase_add_test(tc, test_close_range);
	tcase_add_test(tc, test_closefrom);
	tcase_add_test(tc, test_fork_close);
	tcase_add_test(tc, test_vfork_close);
	tcase_add_test(tc, test_close_blocked);
	tcase_add_test(tc, test_close_race);
	tcase_add_test(tc, test_slotless_signal);
	tcase_add_test(tc, test_ep_wake);
	tcase_add_test(tc, test_ep_fair);
	tcase_add_test(tc, test_ep_dup);
	tcase_add_test(tc, test_recv_trunc);
	tcase_add_test(tc, test_select_big);
	tcase_add_test(tc, test_poll_noalloc);
	tcase_add_test(tc, test_cmd_thin);
	tcase_add_test(tc, test_no_dataplane_says_so_once);
	tcase_add_test(tc, test_no_dataplane_silent_without_log);
	tcase_add_test(tc, test_unapplied_options_said_once);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	env_teardown(); /* also on failure: the fixture's teardown already ran */
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
