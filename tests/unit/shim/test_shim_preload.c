/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * libshunt.so against a fake dataplane, for what the real shuntd cannot be made
 * to do on demand: states that a real connection passes through too fast to
 * catch, or never shows (fake_dp.c's header lists them). Starts fake_dp on a
 * private control socket, runs shim_client once per scenario under LD_PRELOAD,
 * and checks its exit status; and without any dataplane, its stderr. Every other
 * scenario of shim_client runs against the real shuntd and kernel peers in
 * tests/integration/test_shim_semantics.py.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CASE_TIMEOUT_MS 20000
#define PEER_IP "10.77.0.1" /* any offloaded address: fake_dp scripts by port */

/* A -Dsanitize=true build: shim_client is instrumented, but a preloaded library comes
 * before the program's own NEEDED list, so the ASan runtime must be preloaded ahead of
 * libshunt.so, as the launcher does (launcher/shunt.c). */
#ifdef SHUNT_SANITIZER_PRELOAD
#define PRELOAD_FIRST SHUNT_SANITIZER_PRELOAD ":"
#else
#define PRELOAD_FIRST ""
#endif

static const char *client_path, *lib_path, *dp_path;
static char dir[64] = "";
static char ctl_path[128], nope_path[128], err_path[128];
static pid_t dp_pid = -1;
static int dp_stdin = -1;
static bool dp_failed; /* fake_dp did not exit 0 (a sanitizer's leak report, a crash) */

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
		int status = 0;

		kill(dp_pid, SIGTERM);
		waitpid(dp_pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "fake_dp ended with status 0x%x\n", status);
			dp_failed = true;
		}
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
		char preload[4096];

		snprintf(preload, sizeof(preload), "%s%s", PRELOAD_FIRST, lib_path);
		setenv("LD_PRELOAD", preload, 1);
		setenv("SHUNT_CONTROL", control, 1);
		if (log != NULL)
			setenv("SHUNT_LOG", log, 1);
		else
			unsetenv("SHUNT_LOG");
		if (capture) {
			int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			dup2(fd, 2);
		}
		execl(client_path, client_path, name, PEER_IP, (char *)NULL);
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

CASE(nb_instant)
CASE(torn_refusal)
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
	tcase_add_test(tc, test_nb_instant);
	tcase_add_test(tc, test_torn_refusal);
	tcase_add_test(tc, test_cmd_thin);
	tcase_add_test(tc, test_no_dataplane_says_so_once);
	tcase_add_test(tc, test_no_dataplane_silent_without_log);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	env_teardown(); /* also on failure: the fixture's teardown already ran */
	return failed == 0 && !dp_failed ? EXIT_SUCCESS : EXIT_FAILURE;
}
