/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * Built only with -Dsanitize=true, and preloaded by the launcher right after the ASan
 * runtime (meson.build: SHUNT_SANITIZER_PRELOAD). Not instrumented itself.
 *
 * Why: in a program that is not instrumented, ASan starts lazily, on the first
 * malloc(), and that can be inside another library's constructor, since ld.so runs
 * preloaded libraries' constructors last. curl's libp11-kit calls newlocale() there,
 * which mallocs while holding glibc's setlocale lock for writing. ASan's start-up
 * ends with dlsym(RTLD_DEFAULT, "swift_demangle") then dlerror(); with the symbol
 * missing, dlerror() translates its message through gettext, which read-locks and
 * unlocks that same lock: the unlock breaks the held write lock (its reader count
 * wraps), and the program's own setlocale() later waits on it forever (GCC 12's
 * libasan, glibc 2.36; curl hung in every sanitized test that ran it).
 *
 * With swift_demangle defined, that dlsym() succeeds and dlerror() has nothing to
 * translate. ASan asks it only for Swift-mangled names; NULL means "not demangled",
 * and ASan falls back to its own demangler.
 */
#include <stddef.h>
#include <stdint.h>

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
		     uint32_t flags);

char *swift_demangle(const char *mangled, size_t mangled_len, char *out, size_t *out_len,
		     uint32_t flags)
{
	(void)mangled;
	(void)mangled_len;
	(void)out;
	(void)out_len;
	(void)flags;
	return NULL;
}
