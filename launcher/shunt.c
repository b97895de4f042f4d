/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The `shunt` launcher: runs an unmodified program with libshunt.so preloaded, like
 * Onload's `onload` script.
 *
 *   shunt [-c FILE | --control PATH] [--] PROGRAM [ARGS...]
 *
 *   main() -> shunt_args()        options; -c FILE -> conf_load_file() for `control`
 *          -> setenv(SHUNT_CONTROL) when -c or --control was given
 *          -> shunt_find_lib()    $SHUNT_LIB, else <builddir>/shim/libshunt.so next to
 *                                 this binary's <builddir>/launcher/, else the install
 *          -> LD_PRELOAD = lib[:previous LD_PRELOAD]
 *             (a -Dsanitize=true build: libasan:stub:lib[:previous], and ASAN_OPTIONS
 *             defaults for a program that is not instrumented; see shunt_preload())
 *          -> execvp(PROGRAM)
 *
 * Exit status: PROGRAM's own (we exec it), 127 when it cannot be executed, 2 on a
 * usage or configuration error (bad option, unreadable FILE, no libshunt.so found).
 * Without -c or --control SHUNT_CONTROL is left as it is (the shim's default applies).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#ifndef SHUNT_INSTALLED_LIB
#define SHUNT_INSTALLED_LIB "/usr/local/lib/libshunt.so"
#endif

#define SHUNT_EXIT_USAGE 2
#define SHUNT_EXIT_NOEXEC 127

static void shunt_usage(FILE *f)
{
	fprintf(f, "usage: shunt [-c FILE | --control PATH] [--] PROGRAM [ARGS...]\n"
		"  -c FILE          take the control socket path from FILE's `control` key\n"
		"  --control PATH   the control socket of the shuntd to use\n"
		"  environment: SHUNT_LIB overrides the libshunt.so to preload\n");
}

/* <dir of /proc/self/exe>/../shim/libshunt.so into buf if that file exists. The build
 * tree puts us at <builddir>/launcher/shunt and the shim at <builddir>/shim/. */
static int shunt_build_tree_lib(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *dir;

	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	dir = dirname(dirname(exe));
	if ((size_t)snprintf(buf, len, "%s/shim/libshunt.so", dir) >= len)
		return -ENAMETOOLONG;
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

/* The library to preload, or NULL with a message printed. */
static const char *shunt_find_lib(char *buf, size_t len)
{
	const char *env = getenv("SHUNT_LIB");

	/* Absolute, so that children that chdir() before exec() still find it. */
	if (env != NULL && env[0] != '\0') {
		if (len < PATH_MAX || realpath(env, buf) == NULL || access(buf, R_OK) != 0) {
			fprintf(stderr, "shunt: SHUNT_LIB=%s: %s\n", env, strerror(errno));
			return NULL;
		}
		return buf;
	}
	if (shunt_build_tree_lib(buf, len) == 0)
		return buf;
	if (access(SHUNT_INSTALLED_LIB, R_OK) == 0)
		return SHUNT_INSTALLED_LIB;
	fprintf(stderr, "shunt: cannot find libshunt.so (not in the build tree, not at %s); "
		"set SHUNT_LIB\n", SHUNT_INSTALLED_LIB);
	return NULL;
}

#ifdef SHUNT_SANITIZER_PRELOAD
/* A -Dsanitize=true build (meson.build): libshunt.so is instrumented and the program
 * usually is not, so the ASan runtime must come first in the initial library list (it
 * has to interpose malloc before anything allocates; ld.so would otherwise load it
 * after libc, and ASan refuses to run). SHUNT_SANITIZER_PRELOAD is that runtime and a
 * stub that keeps its lazy start safe (asan_stub.c); UBSan's runtime is inside
 * libshunt.so.
 * ASAN_OPTIONS gets defaults for a foreign program, the caller's own options after
 * them so that they win: no leak check at exit, since what such a program leaves
 * allocated is its own business (the shim's leaks are checked in shim_preload, where
 * the program is ours). */
#define SHUNT_PRELOAD_FIRST SHUNT_SANITIZER_PRELOAD ":"
#define SHUNT_ASAN_DEFAULTS "detect_leaks=0"

static int shunt_sanitizer_env(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char *v;
	int rc;

	if (old != NULL && old[0] != '\0')
		rc = asprintf(&v, "%s:%s", SHUNT_ASAN_DEFAULTS, old);
	else
		rc = asprintf(&v, "%s", SHUNT_ASAN_DEFAULTS);
	if (rc < 0)
		return -ENOMEM;
	rc = setenv("ASAN_OPTIONS", v, 1);
	free(v);
	return rc < 0 ? -errno : 0;
}
#else
#define SHUNT_PRELOAD_FIRST ""

static int shunt_sanitizer_env(void)
{
	return 0;
}
#endif

/* ld.so splits LD_PRELOAD on ':' and ' ', so a path holding either cannot be listed. */
static int shunt_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int rc;

	if (strpbrk(lib, ": ") != NULL) {
		fprintf(stderr, "shunt: %s: LD_PRELOAD cannot hold a path with ':' or ' '\n",
			lib);
		return -EINVAL;
	}
	if (old != NULL && old[0] != '\0')
		rc = asprintf(&v, "%s%s:%s", SHUNT_PRELOAD_FIRST, lib, old);
	else
		rc = asprintf(&v, "%s%s", SHUNT_PRELOAD_FIRST, lib);
	if (rc < 0)
		return -ENOMEM;
	rc = setenv("LD_PRELOAD", v, 1);
	free(v);
	if (rc < 0)
		return -errno;
	return shunt_sanitizer_env();
}

/* Options up to PROGRAM: returns PROGRAM's index in argv, 0 after --help, or -EINVAL.
 * *control is set from --control PATH, --control=PATH or -c FILE's `control` key. */
static int shunt_args(int argc, char **argv, char *control, size_t len)
{
	const char *file = NULL, *ctl = NULL;
	char err[512];
	struct dp_conf c;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			shunt_usage(stdout);
			return 0;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--control") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "shunt: %s: missing argument\n", a);
				return -EINVAL;
			}
			if (a[1] == 'c')
				file = argv[++i];
			else
				ctl = argv[++i];
		} else if (strncmp(a, "--control=", 10) == 0) {
			ctl = a + 10;
		} else if (a[0] == '-') {
			fprintf(stderr, "shunt: unknown option '%s'\n", a);
			return -EINVAL;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "shunt: no PROGRAM given\n");
		return -EINVAL;
	}
	if (file != NULL && ctl != NULL) {
		fprintf(stderr, "shunt: -c and --control exclude each other\n");
		return -EINVAL;
	}
	conf_defaults(&c);
	if (file != NULL && conf_load_file(&c, file, err, sizeof(err)) < 0) {
		fprintf(stderr, "shunt: %s\n", err);
		return -EINVAL;
	}
	if (ctl != NULL && conf_set(&c, "control", ctl, "--control", err, sizeof(err)) < 0) {
		fprintf(stderr, "shunt: %s\n", err);
		return -EINVAL;
	}
	if (file != NULL || ctl != NULL)
		snprintf(control, len, "%s", c.control);
	return i;
}

int main(int argc, char **argv)
{
	char control[CONF_PATH_MAX] = "";
	char libbuf[PATH_MAX];
	const char *lib;
	int prog;

	prog = shunt_args(argc, argv, control, sizeof(control));
	if (prog == 0)
		return 0;
	if (prog < 0) {
		shunt_usage(stderr);
		return SHUNT_EXIT_USAGE;
	}
	if (control[0] != '\0' && setenv("SHUNT_CONTROL", control, 1) < 0) {
		perror("shunt: setenv");
		return SHUNT_EXIT_USAGE;
	}
	lib = shunt_find_lib(libbuf, sizeof(libbuf));
	if (lib == NULL || shunt_preload(lib) < 0)
		return SHUNT_EXIT_USAGE;
	execvp(argv[prog], argv + prog);
	fprintf(stderr, "shunt: cannot execute %s: %s\n", argv[prog], strerror(errno));
	return SHUNT_EXIT_NOEXEC;
}
