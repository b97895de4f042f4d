/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Tests of the `shunt` launcher binary (launcher/shunt.c), run as a child process:
 * SHUNT_CONTROL from --control or from -c FILE, LD_PRELOAD prepended (keeping the old
 * value), the library found through SHUNT_LIB or the build-tree layout next to the
 * binary, arguments passed through, and the exit codes (127: cannot execute PROGRAM,
 * 2: usage or configuration error).
 *
 *   usage: test_launcher PATH-TO-shunt   (meson passes the built launcher)
 *
 * SHUNT_LIB points at an empty dummy file so the shim need not be built; ld.so then
 * warns on stderr that it cannot preload it and runs the program anyway.
 *
 * A -Dsanitize=true build passes the launcher's SHUNT_SANITIZER_PRELOAD here too: the
 * launcher then lists the ASan runtime and its stub before the shim (PRELOAD_FIRST) and sets
 * ASAN_OPTIONS defaults ahead of the caller's.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef SHUNT_SANITIZER_PRELOAD
#define PRELOAD_FIRST SHUNT_SANITIZER_PRELOAD ":"
#else
#define PRELOAD_FIRST ""
#endif

static const char *launcher;
static char tdir[64];
static char dummy_lib[128];
static char out[65536];

static void setup(void)
{
	int fd;

	snprintf(tdir, sizeof(tdir), "%s", "/tmp/shunt-launch-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	snprintf(dummy_lib, sizeof(dummy_lib), "%s/libdummy.so", tdir);
	fd = open(dummy_lib, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	setenv("SHUNT_LIB", dummy_lib, 1);
	unsetenv("LD_PRELOAD");
	unsetenv("SHUNT_CONTROL");
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run argv (NULL-terminated) with stdout captured into out[]; returns the exit status,
 * or -1 if the child did not exit normally. stderr goes to /dev/null. */
static int run(char *const argv[])
{
	int pfd[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pfd[1], 1);
		dup2(null, 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(99);
	}
	close(pfd[1]);
	while ((r = read(pfd[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The value of NAME in env(1) output in out[], or NULL. */
static const char *env_value(const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);
	const char *p = out;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + nl + 1, "\n"), p + nl + 1);
			return buf;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/* What the launcher should make of LD_PRELOAD when it was unset and the shim is lib. */
static const char *want_preload(const char *lib)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", PRELOAD_FIRST, lib);
	return buf;
}

START_TEST(test_control_option)
{
	char *argv[] = { (char *)launcher, "--control", "/x", "--", "/usr/bin/env", NULL };
	char v[512];

	ck_assert_int_eq(run(argv), 0);
	ck_assert_ptr_nonnull(env_value("SHUNT_CONTROL", v, sizeof(v)));
	ck_assert_str_eq(v, "/x");
	ck_assert_ptr_nonnull(env_value("LD_PRELOAD", v, sizeof(v)));
	ck_assert_str_eq(v, want_preload(dummy_lib));
}
END_TEST

START_TEST(test_control_equals)
{
	char *argv[] = { (char *)launcher, "--control=/run/y.sock", "/usr/bin/env", NULL };
	char v[512];

	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("SHUNT_CONTROL", v, sizeof(v)), "/run/y.sock");
}
END_TEST

START_TEST(test_preload_kept)
{
	char *argv[] = { (char *)launcher, "/usr/bin/env", NULL };
	char v[512], want[512];

	setenv("LD_PRELOAD", "libfoo.so", 1);
	setenv("SHUNT_CONTROL", "/pre/set", 1);
	ck_assert_int_eq(run(argv), 0);
	snprintf(want, sizeof(want), "%s%s:libfoo.so", PRELOAD_FIRST, dummy_lib);
	ck_assert_str_eq(env_value("LD_PRELOAD", v, sizeof(v)), want);
	/* no -c / --control: the caller's SHUNT_CONTROL is left alone */
	ck_assert_str_eq(env_value("SHUNT_CONTROL", v, sizeof(v)), "/pre/set");
}
END_TEST

START_TEST(test_conf_file)
{
	char conf[128];
	char *argv[] = { (char *)launcher, "-c", conf, "/usr/bin/env", NULL };
	char v[512];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/s.conf", tdir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# no ip needed here\ncontrol = /tmp/from-file.sock\nlog = debug\n", f);
	fclose(f);
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("SHUNT_CONTROL", v, sizeof(v)), "/tmp/from-file.sock");
}
END_TEST

START_TEST(test_conf_file_default_control)
{
	char conf[128];
	char *argv[] = { (char *)launcher, "-c", conf, "/usr/bin/env", NULL };
	char v[512];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/s.conf", tdir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("log = debug\n", f);
	fclose(f);
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("SHUNT_CONTROL", v, sizeof(v)), "/run/shunt/shunt.sock");
}
END_TEST

START_TEST(test_conf_file_bad)
{
	char conf[128];
	char *argv[] = { (char *)launcher, "-c", conf, "/usr/bin/env", NULL };
	char *argv2[] = { (char *)launcher, "-c", "/nonexistent.conf", "/usr/bin/env", NULL };
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/s.conf", tdir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("control = relative\n", f);
	fclose(f);
	ck_assert_int_eq(run(argv), 2);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(run(argv2), 2);
}
END_TEST

START_TEST(test_args_passed)
{
	char *argv[] = { (char *)launcher, "/bin/sh", "-c", "echo \"$0|$1|$SHUNT_CONTROL\"",
			 "a b", "--control", NULL };

	setenv("SHUNT_CONTROL", "/keep", 1);
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(out, "a b|--control|/keep\n");
}
END_TEST

START_TEST(test_path_lookup_and_status)
{
	char *argv[] = { (char *)launcher, "sh", "-c", "exit 7", NULL };

	ck_assert_int_eq(run(argv), 7); /* found on PATH, its own status comes back */
}
END_TEST

START_TEST(test_missing_program)
{
	char *argv[] = { (char *)launcher, "--", "/nonexistent/program", NULL };
	char *argv2[] = { (char *)launcher, "no-such-program-shunt-test", NULL };

	ck_assert_int_eq(run(argv), 127);
	ck_assert_int_eq(run(argv2), 127);
}
END_TEST

static char *const usage_argvs[][5] = {
	{ NULL },                            /* no program */
	{ "--", NULL },                      /* no program after -- */
	{ "--bogus", "/usr/bin/env", NULL },
	{ "-c", NULL },
	{ "--control", NULL },
	{ "--control", "relative", "/usr/bin/env", NULL },
	{ "-c", "/dev/null", "--control", "/x", NULL }, /* exclusive */
};

START_TEST(test_usage_errors)
{
	char *argv[8] = { (char *)launcher };
	int i;

	for (i = 0; usage_argvs[_i][i] != NULL; i++)
		argv[i + 1] = usage_argvs[_i][i];
	argv[i + 1] = NULL;
	ck_assert_int_eq(run(argv), 2);
}
END_TEST

START_TEST(test_help)
{
	char *argv[] = { (char *)launcher, "--help", NULL };

	ck_assert_int_eq(run(argv), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: shunt"));
}
END_TEST

START_TEST(test_shunt_lib_missing)
{
	char *argv[] = { (char *)launcher, "/usr/bin/env", NULL };

	setenv("SHUNT_LIB", "/nonexistent/libshunt.so", 1);
	ck_assert_int_eq(run(argv), 2);
	ck_assert_str_eq(out, "");
}
END_TEST

/* A relative SHUNT_LIB is made absolute: the program may chdir() and exec() children. */
START_TEST(test_shunt_lib_relative)
{
	char *argv[] = { (char *)launcher, "/usr/bin/env", NULL };
	char v[512], cwd[512];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tdir), 0);
	setenv("SHUNT_LIB", "./libdummy.so", 1);
	ck_assert_int_eq(run(argv), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(env_value("LD_PRELOAD", v, sizeof(v)), want_preload(dummy_lib));
}
END_TEST

/* Without SHUNT_LIB: a copy of the launcher at <dir>/launcher/shunt preloads
 * <dir>/shim/libshunt.so when that file exists. */
START_TEST(test_build_tree_lib)
{
	char cmd[512], copy[128], lib[128];
	char *argv[] = { copy, "/usr/bin/env", NULL };
	char v[512];
	int fd;

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/launcher' '%s/shim' && cp '%s' '%s/launcher/shunt'",
		 tdir, tdir, launcher, tdir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(copy, sizeof(copy), "%s/launcher/shunt", tdir);
	snprintf(lib, sizeof(lib), "%s/shim/libshunt.so", tdir);
	fd = open(lib, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unsetenv("SHUNT_LIB");
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("LD_PRELOAD", v, sizeof(v)), want_preload(lib));
}
END_TEST

#ifdef SHUNT_SANITIZER_PRELOAD
/* The program is not instrumented: no leak check at exit unless the caller asks. */
START_TEST(test_sanitizer_options)
{
	char *argv[] = { (char *)launcher, "/usr/bin/env", NULL };
	char v[512];

	unsetenv("ASAN_OPTIONS");
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("ASAN_OPTIONS", v, sizeof(v)), "detect_leaks=0");
	setenv("ASAN_OPTIONS", "detect_leaks=1:log_path=/x/asan", 1);
	ck_assert_int_eq(run(argv), 0);
	ck_assert_str_eq(env_value("ASAN_OPTIONS", v, sizeof(v)),
			 "detect_leaks=0:detect_leaks=1:log_path=/x/asan");
}
END_TEST
#endif

static Suite *launcher_suite(void)
{
	Suite *s = suite_create("launcher");
	TCase *t = tcase_create("launcher");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, test_control_option);
#ifdef SHUNT_SANITIZER_PRELOAD
	tcase_add_test(t, test_sanitizer_options);
#endif
	tcase_add_test(t, test_control_equals);
	tcase_add_test(t, test_preload_kept);
	tcase_add_test(t, test_conf_file);
	tcase_add_test(t, test_conf_file_default_control);
	tcase_add_test(t, test_conf_file_bad);
	tcase_add_test(t, test_args_passed);
	tcase_add_test(t, test_path_lookup_and_status);
	tcase_add_test(t, test_missing_program);
	tcase_add_loop_test(t, test_usage_errors, 0,
			    sizeof(usage_argvs) / sizeof(usage_argvs[0]));
	tcase_add_test(t, test_help);
	tcase_add_test(t, test_shunt_lib_missing);
	tcase_add_test(t, test_shunt_lib_relative);
	tcase_add_test(t, test_build_tree_lib);
	suite_add_tcase(s, t);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-shunt\n", argv[0]);
		return EXIT_FAILURE;
	}
	launcher = realpath(argv[1], NULL); /* tests chdir() */
	if (launcher == NULL) {
		perror(argv[1]);
		return EXIT_FAILURE;
	}
	sr = srunner_create(launcher_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
